"""IAM and STS for the `iam-user:` rotation target: one user's access keys.

ListAccessKeys, CreateAccessKey, UpdateAccessKey, DeleteAccessKey with the environment's
credentials; GetCallerIdentity with a client of its own built from the NEW key's explicit
credentials (a botocore session of its own, so no profile, role or cache of the environment is
involved), which is how a new key is proved to work. The secret access key goes from IAM's
reply into a `SecretValue` and from there to botocore's signer only: never a log, argv or
our output. Replies are read defensively: a missing key is an unusable reply (exit 6).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from envsecrets.backends.aws import AwsTarget, _botocore_session, aws_errors, client_config
from envsecrets.backends.aws import error_code as aws_error_code
from envsecrets.core.target_iam import AccessKey
from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_sts import STSClient


class IamAccessKeys:
    """The access keys of IAM user `user` in the environment's account."""

    def __init__(self, target: AwsTarget, user: str) -> None:
        self.target = target
        self._user = user

    @property
    def user(self) -> str:
        return self._user

    @property
    def client(self) -> IAMClient:
        return self.target.client("iam")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """`aws_errors`, with IAM's NoSuchEntity for the user said as such (exit 3)."""
        with aws_errors(side=self.target.label):
            try:
                yield
            except Exception as exc:
                if aws_error_code(exc) == "NoSuchEntity":
                    raise self.not_found() from None
                raise

    def not_found(self) -> CliError:
        return CliError(
            ExitCode.NOT_FOUND,
            f"IAM user '{self._user}' not found in {self.target.label}'s account",
            "check the target's user name (--target or secrets.toml [rotation]) and the "
            "environment's account",
        )

    def exists(self) -> bool:
        """GetUser: whether the user exists (for `secrets check`)."""
        try:
            with self._errors():
                self.client.get_user(UserName=self._user)
        except CliError as exc:
            if exc.code == ExitCode.NOT_FOUND:
                return False
            raise
        return True

    def list_keys(self) -> list[AccessKey]:
        found: list[AccessKey] = []
        with self._errors():
            pages = self.client.get_paginator("list_access_keys").paginate(UserName=self._user)
            for page in pages:
                for raw in cast("list[Any]", page.get("AccessKeyMetadata") or []):
                    key_id = raw.get("AccessKeyId") if isinstance(raw, dict) else None
                    if not isinstance(key_id, str) or not key_id:
                        raise self._unusable("ListAccessKeys")
                    found.append(
                        AccessKey(key_id, raw.get("Status") == "Active", raw.get("CreateDate"))
                    )
        return found

    def create(self) -> tuple[str, SecretValue]:
        with self._errors():
            reply: Any = self.client.create_access_key(UserName=self._user)
        key = reply.get("AccessKey") if isinstance(reply, dict) else None
        key_id = key.get("AccessKeyId") if isinstance(key, dict) else None
        secret = key.get("SecretAccessKey") if isinstance(key, dict) else None
        if not isinstance(key_id, str) or not isinstance(secret, str) or not key_id or not secret:
            raise self._unusable("CreateAccessKey")
        return key_id, SecretValue(secret)

    def set_active(self, key_id: str, active: bool) -> None:
        with self._errors():
            self.client.update_access_key(
                UserName=self._user,
                AccessKeyId=key_id,
                Status="Active" if active else "Inactive",
            )

    def delete(self, key_id: str) -> None:
        try:
            with self._errors():
                self.client.delete_access_key(UserName=self._user, AccessKeyId=key_id)
        except CliError as exc:
            # Gone already (a retry whose first attempt went through): what was wanted.
            if exc.code != ExitCode.NOT_FOUND or key_id in {k.key_id for k in self.list_keys()}:
                raise

    def identity(self, key_id: str, secret: SecretValue) -> str:
        """STS GetCallerIdentity signed with this key, through a client of its own."""
        session = _botocore_session(region=self.target.region_name)
        sts = cast(
            "STSClient",
            session.create_client(
                "sts",
                aws_access_key_id=key_id,
                aws_secret_access_key=secret.text(),
                config=client_config(bulk=False),
            ),
        )
        with aws_errors(side=self.target.label):
            reply: Any = sts.get_caller_identity()
        arn = reply.get("Arn") if isinstance(reply, dict) else None
        if not isinstance(arn, str) or not arn:
            raise self._unusable("GetCallerIdentity")
        return arn

    def _unusable(self, call: str) -> CliError:
        return CliError(
            ExitCode.UNAVAILABLE,
            f"IAM answered {call} for user {self._user} with a reply that cannot be used",
            "run the command again in a moment; `secrets doctor` checks AWS_ENDPOINT_URL",
        )
