"""Sessions per environment, client configuration, and the ONE translation of AWS errors.

Every other backend module gets its clients from `AwsTarget.client()` and wraps its calls in
`aws_errors()`, so retries, timeouts, the user agent and the mapping of failures to exit codes
are decided here and only here.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast, overload

# botocore, not boto3: we only make clients, and boto3's resources and s3transfer add ~25 ms to
# every start-up (`secrets get` is measured against a bare boto3 script: tests/bench).
import botocore.exceptions as bx
from botocore.config import Config

from envsecrets import __version__
from envsecrets.backends.deadline import AwsDeadline
from envsecrets.backends.quotas import RateLimiter, pace_client
from envsecrets.backends.replies import MalformedReply, check_replies
from envsecrets.errors import CliError, ExitCode

if TYPE_CHECKING:
    # Type stubs (boto3-stubs' extras, a dev dependency): never imported at run time. Each
    # service's client class types every operation's parameters and reply, so a misspelt
    # parameter or a wrong type in any `client.xxx(...)` call is a mypy error.
    from botocore.client import BaseClient
    from botocore.loaders import Loader
    from botocore.session import Session
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_sts import STSClient
    from mypy_boto3_sts.type_defs import AssumeRoleRequestTypeDef, CredentialsTypeDef

CONNECT_TIMEOUT = 5
READ_TIMEOUT = 30
# Interactive commands give up sooner than bulk ones; AWS_MAX_ATTEMPTS / AWS_RETRY_MODE (the
# standard AWS variables) override both, e.g. to fail fast in scripts.
INTERACTIVE_ATTEMPTS = 5
BULK_ATTEMPTS = 10
# A wrong MFA code is asked for again, this many times in all, before giving up (exit 5).
MFA_ATTEMPTS = 3
# What STS accepts as TokenCode: six digits. Anything else is asked again without asking STS.
MFA_CODE = re.compile(r"[0-9]{6}")

# Asked for an MFA code when an environment has mfa_serial; the CLI passes a prompt.
MfaCodeProvider = Callable[[str], str]

# The services we make clients for: `AwsTarget.client` has one typed overload per name, so a
# new one needs its overload here and its extra in pyproject's `boto3-stubs[...]`.
ServiceName = Literal["ecs", "iam", "kms", "lambda", "rds", "secretsmanager", "ssm", "sts"]


@dataclass
class AwsTarget:
    """How to reach one environment: profile, region, optional role to assume."""

    label: str  # the environment's name, used in messages ("side" of a diff)
    region: str | None = None
    profile: str | None = None
    role_arn: str | None = None
    mfa_serial: str | None = None
    mfa_code: MfaCodeProvider | None = None
    # Set for bulk work: every attempt of every call of this target's clients waits its turn
    # under AWS's quotas (backends/quotas.py), retries included.
    limiter: RateLimiter | None = None
    # How long calls may wait for AWS (backends/deadline.py); None: botocore's timeouts only.
    deadline: AwsDeadline | None = None
    _session: Session | None = field(default=None, repr=False)
    _clients: dict[tuple[str, str | None, bool, int], BaseClient] = field(
        default_factory=dict, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def session(self) -> Session:
        """A botocore session for this target, assuming `role_arn` once if one is set."""
        with self._lock:
            if self._session is None:
                self._session = self._make_session()
            return self._session

    def _make_session(self) -> Session:
        with aws_errors(side=self.label):
            try:
                base = _botocore_session(profile=self.profile, region=self.region)
                # Reading the region reads the profile: a missing profile fails here.
                if not base.get_config_variable("region") and os.environ.get("AWS_REGION"):
                    # Other SDKs and the AWS CLI v2 read AWS_REGION; botocore only reads
                    # AWS_DEFAULT_REGION. Accept both.
                    base.set_config_variable("region", os.environ["AWS_REGION"])
                _check_session_region(base.get_config_variable("region"), self.region)
            except bx.ProfileNotFound:
                raise CliError(
                    ExitCode.AUTH,
                    f"AWS profile '{self.profile}' not found",
                    "check ~/.aws/config, --profile, or the environment's profile in secrets.toml",
                ) from None
            if not self.role_arn:
                return base
            return self._assume_role(base)

    def _assume_role(self, base: Session) -> Session:
        args: AssumeRoleRequestTypeDef = {
            "RoleArn": str(self.role_arn),
            "RoleSessionName": f"envsecrets-{self.label}",
        }
        sts = cast("STSClient", base.create_client("sts", config=self._config(bulk=False)))
        self._watch(sts)
        creds: CredentialsTypeDef
        if self.mfa_serial:
            creds = self._assume_role_with_mfa(sts, args, self.mfa_serial)
        else:
            creds = sts.assume_role(**args)["Credentials"]
        session = _botocore_session(region=self.region or base.get_config_variable("region"))
        session.set_credentials(
            creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
        )
        return session

    def _assume_role_with_mfa(
        self, sts: STSClient, args: AssumeRoleRequestTypeDef, serial: str
    ) -> CredentialsTypeDef:
        """Reuse the session cached in the OS keyring, else ask for the code (again after a
        wrong one, up to MFA_ATTEMPTS times) and cache the session until it expires."""
        from envsecrets.backends import mfa_cache

        role = str(self.role_arn)
        cached = mfa_cache.load(role, serial, self.profile)
        if cached is not None:
            return {
                "AccessKeyId": cached.access_key_id,
                "SecretAccessKey": cached.secret_access_key,
                "SessionToken": cached.session_token,
                "Expiration": cached.expiration,
            }
        if self.mfa_code is None:
            raise CliError(
                ExitCode.AUTH,
                f"environment '{self.label}' needs an MFA code and none can be asked for",
                "run the command in a terminal",
            )
        for attempt in range(1, MFA_ATTEMPTS + 1):
            # Refuses (exit 2) without a terminal. Authenticator apps show "123 456".
            code = "".join(self.mfa_code(serial).split())
            if not MFA_CODE.fullmatch(code):
                if attempt < MFA_ATTEMPTS:
                    continue  # STS would refuse it (ValidationError): ask again first
                raise CliError(
                    ExitCode.USAGE,
                    f"an MFA code is six digits; got {len(code)} characters {MFA_ATTEMPTS} times",
                    f"type the 6-digit code your MFA device ({serial}) shows now",
                )
            with_code: AssumeRoleRequestTypeDef = {
                **args,
                "SerialNumber": serial,
                "TokenCode": code,
            }
            try:
                creds = sts.assume_role(**with_code)["Credentials"]
            except bx.ClientError as exc:
                if error_code(exc) in AUTH_CODES and attempt < MFA_ATTEMPTS:
                    continue  # most often a mistyped or expired code: ask again
                raise
            mfa_cache.save(role, serial, self.profile, mfa_cache.SessionCredentials.from_sts(creds))
            return creds
        raise AssertionError("unreachable")  # the loop returns or raises

    # One overload per service: the caller gets that service's typed client (boto3-stubs).
    @overload
    def client(
        self,
        service: Literal["ecs"],
        *,
        region: str | None = ...,
        bulk: bool = ...,
        pool: int = ...,
    ) -> ECSClient: ...
    @overload
    def client(
        self,
        service: Literal["iam"],
        *,
        region: str | None = ...,
        bulk: bool = ...,
        pool: int = ...,
    ) -> IAMClient: ...
    @overload
    def client(
        self,
        service: Literal["kms"],
        *,
        region: str | None = ...,
        bulk: bool = ...,
        pool: int = ...,
    ) -> KMSClient: ...
    @overload
    def client(
        self,
        service: Literal["lambda"],
        *,
        region: str | None = ...,
        bulk: bool = ...,
        pool: int = ...,
    ) -> LambdaClient: ...
    @overload
    def client(
        self,
        service: Literal["rds"],
        *,
        region: str | None = ...,
        bulk: bool = ...,
        pool: int = ...,
    ) -> RDSClient: ...
    @overload
    def client(
        self,
        service: Literal["secretsmanager"],
        *,
        region: str | None = ...,
        bulk: bool = ...,
        pool: int = ...,
    ) -> SecretsManagerClient: ...
    @overload
    def client(
        self,
        service: Literal["ssm"],
        *,
        region: str | None = ...,
        bulk: bool = ...,
        pool: int = ...,
    ) -> SSMClient: ...
    @overload
    def client(
        self,
        service: Literal["sts"],
        *,
        region: str | None = ...,
        bulk: bool = ...,
        pool: int = ...,
    ) -> STSClient: ...
    def client(
        self, service: ServiceName, *, region: str | None = None, bulk: bool = False, pool: int = 10
    ) -> BaseClient:
        """A cached client; `bulk` allows more retry attempts. Its calls are paced by
        `limiter` whenever one is set."""
        key = (service, region, bulk, pool)
        session = self.session()
        with self._lock:
            if key not in self._clients:
                with aws_errors(side=self.label):
                    _resolve_credentials(session)
                    client = session.create_client(
                        service,
                        region_name=region,
                        config=self._config(bulk=bulk, pool=pool),
                    )
                self._watch(client)
                pace_client(client, lambda: self.limiter)
                self._clients[key] = client
            return self._clients[key]

    def _config(self, *, bulk: bool, pool: int = 10) -> Config:
        seconds = self.deadline.seconds if self.deadline is not None else None
        return client_config(bulk=bulk, pool=pool, timeout=seconds)

    def _watch(self, client: BaseClient) -> None:
        """Every call of `client` held to the deadline and every reply checked. The deadline's
        hooks go first: a reply check that raises stops the hooks after it."""
        if self.deadline is not None:
            self.deadline.watch(client)
        check_replies(client)
        _no_retries_for(client, QUOTA_CODES)

    @property
    def region_name(self) -> str:
        name = self.session().get_config_variable("region")
        if not name:
            raise no_region_error(self.label)
        return str(name)


def _resolve_credentials(session: Session) -> None:
    """Resolve the session's credentials now, before any call. A profile that assumes a role
    does it on first use, inside the first call, and may ask for its MFA code there (botocore's
    own prompt): done here, neither the prompt nor that role assumption counts against a
    call's deadline, and the deadline's timer can never interrupt a person typing."""
    credentials = session.get_credentials()
    if credentials is not None:
        credentials.get_frozen_credentials()


def _no_retries_for(client: BaseClient, codes: set[str]) -> None:
    """Make `client` give up at once on an error reply with one of `codes`, which botocore's
    standard mode retries as throttling (LimitExceededException is a quota on resources in
    Secrets Manager: ten attempts cannot succeed). Registered first, so it decides before the
    retry handler sleeps."""
    service = client.meta.service_model.service_id.hyphenize()

    def give_up(response: Any = None, operation: Any = None, **_: Any) -> None:
        if response is None or operation is None:
            return
        _, parsed = response
        if parsed.get("Error", {}).get("Code") in codes:
            raise bx.ClientError(parsed, operation.name)

    client.meta.events.register_first(f"needs-retry.{service}", give_up)


_loader_lock = threading.Lock()
_shared_loader: Loader | None = None


def _botocore_session(*, profile: str | None = None, region: str | None = None) -> Session:
    """A botocore session that shares one data loader with the others of this process, so
    the service models (megabytes of JSON) are parsed once, not once per environment (a diff
    or a copy has two sessions; a test run has hundreds)."""
    import botocore.session

    session = botocore.session.get_session()
    if profile is not None:
        session.set_config_variable("profile", profile)
    if region is not None:
        session.set_config_variable("region", region)
    global _shared_loader
    with _loader_lock:
        if _shared_loader is None:
            _shared_loader = session.get_component("data_loader")
        else:
            session.register_component("data_loader", _shared_loader)
    return session


def client_config(*, bulk: bool, pool: int = 10, timeout: float | None = None) -> Config:
    """Retries, timeouts, pool size and user agent for every client we make. No single wait
    on a socket is longer than `timeout`, the deadline of a whole call (backends/deadline.py)."""
    # Standard mode for bulk work too: botocore's adaptive mode throttles the client itself
    # after a few ThrottlingExceptions and recovers slowly; measured on bulk rotation of 200
    # secrets at AWS's quotas it took 13.5 s against standard's 9.4 s (floor 8 s). Bulk
    # commands pace their writes to the quotas and rely on standard retries for the rest.
    mode = os.environ.get("AWS_RETRY_MODE") or "standard"
    attempts_env = os.environ.get("AWS_MAX_ATTEMPTS", "")
    attempts = (
        int(attempts_env)
        if attempts_env.isdigit()
        else (BULK_ATTEMPTS if bulk else INTERACTIVE_ATTEMPTS)
    )
    retries: Any = {"mode": mode, "total_max_attempts": attempts}
    return Config(
        retries=retries,
        connect_timeout=min(CONNECT_TIMEOUT, timeout or CONNECT_TIMEOUT),
        read_timeout=min(READ_TIMEOUT, timeout or READ_TIMEOUT),
        max_pool_connections=max(pool, 10),
        user_agent_extra=f"envsecrets/{__version__}",
    )


def _check_session_region(region: object, given: str | None) -> None:
    """A region from AWS's own settings (AWS_REGION, AWS_DEFAULT_REGION, the profile) is
    checked as --region and secrets.toml's are (those were checked where they were read)."""
    if region and region != given:  # empty: no region, said when one is needed
        from envsecrets.core.config import validate_region

        validate_region(
            str(region), "the AWS region of AWS_REGION, AWS_DEFAULT_REGION or the profile"
        )


def no_region_error(label: str | None = None) -> CliError:
    where = f" for environment '{label}'" if label else ""
    return CliError(
        ExitCode.USAGE,
        f"no AWS region configured{where}",
        "pass --region, set AWS_REGION, or set region in secrets.toml",
    )


AUTH_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidAccessKeyId",
    "KMSAccessDeniedException",
}
THROTTLE_CODES = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RateExceeded",
    "SlowDown",
    "ProvisionedThroughputExceededException",
}
UNAVAILABLE_CODES = {
    "InternalServiceError",
    "InternalFailure",
    "ServiceUnavailable",
    "InternalError",
}
# Secrets Manager could not use the secret's KMS key: its state or its key policy (exit 5).
KMS_CODES = {"EncryptionFailure", "DecryptionFailure"}
# The request's signature is outside AWS's 5 minute window: the machine's clock is off.
CLOCK_SKEW_CODES = {"RequestTimeTooSkewed", "RequestExpired"}
SIGNATURE_CODES = {"SignatureDoesNotMatch", "InvalidSignatureException"}
_SKEW_MESSAGE = re.compile(r"signature (expired|not yet current)|time.?skew|too skewed", re.I)
# A quota on resources (secrets per region, versions per secret): waiting does not help, so
# botocore's standard mode must not retry it as if it were throttling.
QUOTA_CODES = {"LimitExceededException"}
NOT_FOUND_CODES = {"ResourceNotFoundException", "ParameterNotFound", "NoSuchEntity"}
CONFLICT_CODES = {"ResourceExistsException", "PreconditionNotMetException", "ConflictException"}
USAGE_CODES = {
    "InvalidParameterException",
    "ValidationException",
    "MalformedPolicyDocumentException",
}


def translate(exc: Exception, *, subject: str | None = None, side: str | None = None) -> CliError:
    """Turn any botocore failure into a CliError with the documented exit code.

    `subject` names what was being worked on (a secret name); `side` names the environment,
    so that a diff or copy can say which side was denied. AWS's own messages are kept where
    they help: AWS never echoes secret values in them. Anything else is raised again.
    """
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, bx.ClientError):
        return _refused(AwsRefusal.of(exc), subject=subject, side=side)
    if isinstance(exc, bx.BotoCoreError):
        return _sdk_failure(exc, subject=subject, side=side)
    raise exc


# The SDK's own failures to connect: nothing reached AWS, or no reply came back.
_CONNECTION_ERRORS = (
    bx.EndpointConnectionError
    | bx.ConnectTimeoutError
    | bx.ReadTimeoutError
    | bx.ConnectionClosedError
    | bx.HTTPClientError
)


def _sdk_failure(exc: bx.BotoCoreError, *, subject: str | None, side: str | None) -> CliError:
    """A failure of the SDK itself, before or without a reply from AWS."""
    prefix = f"[{side}] " if side else ""
    if isinstance(exc, bx.NoRegionError):
        return no_region_error(side)
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return CliError(
            ExitCode.AUTH,
            f"{prefix}no AWS credentials found",
            "run `aws configure` or `aws sso login`, set AWS_PROFILE, or pass --profile",
        )
    if isinstance(exc, bx.ProfileNotFound):
        return CliError(ExitCode.AUTH, f"{prefix}{exc}", "check --profile and ~/.aws/config")
    if isinstance(exc, _CONNECTION_ERRORS):
        return CliError(
            ExitCode.UNAVAILABLE,
            f"{prefix}AWS could not be reached after retries ({type(exc).__name__})",
            "check the network, AWS_ENDPOINT_URL and the region, then run the command again",
        )
    if isinstance(exc, bx.ParamValidationError):
        return _invalid_parameters(exc, prefix=prefix, subject=subject)
    if isinstance(exc, MalformedReply):
        return _malformed(exc, prefix=prefix)
    return CliError(
        ExitCode.FAILED,
        f"{prefix}AWS SDK error: {type(exc).__name__}",
        "`secrets doctor` checks the AWS setup (profile, region, AWS_ENDPOINT_URL); "
        "then run the command again",
    )


def _invalid_parameters(
    exc: bx.ParamValidationError, *, prefix: str, subject: str | None
) -> CliError:
    """The SDK refused the request before sending it: bad input. Its report can quote a
    parameter's value (a SecretString of the wrong type), so only the parameters' names and
    what is wrong with them are kept."""
    about = f" for '{subject}'" if subject else ""
    problems = [_parameter_problem(line) for line in str(exc).splitlines() if "parameter" in line]
    said = "; ".join(dict.fromkeys(p for p in problems if p)) or "a parameter is invalid"
    hint = (
        "--version-id takes a version id of 32 to 64 characters; `secrets history NAME` lists them"
        if "VersionId" in said
        else "check the option's format (`secrets COMMAND --help` describes each option)"
    )
    message = f"{prefix}the request{about} is invalid: {said} (checked before sending)"
    return CliError(ExitCode.USAGE, message, hint)


def _parameter_problem(line: str) -> str | None:
    """One line of botocore's report as `<Parameter>: <what>`, without the value it quotes."""
    name = re.search(r'parameter(?: in input)?:? "?(\w+)', line)
    if name is None:
        return None
    length = re.search(r"value: (\d+), valid (min|max) length: (\d+)", line)
    if line.startswith("Invalid length") and length:
        bound = "at least" if length.group(2) == "min" else "at most"
        return f"{name.group(1)} has {length.group(1)} characters, {bound} {length.group(3)}"
    for start, what in (
        ("Missing required", "is missing"),
        ("Unknown parameter", "is not a parameter of this call"),
        ("Invalid type", "has the wrong type"),
        ("Invalid range", "is out of range"),
    ):
        if line.startswith(start):
            return f"{name.group(1)} {what}"
    return f"{name.group(1)} is invalid"


def _malformed(exc: MalformedReply, *, prefix: str) -> CliError:
    """A reply that is not what the API promises: the endpoint failed, not the user."""
    return CliError(
        ExitCode.UNAVAILABLE,
        f"{prefix}{exc.endpoint} answered {exc.operation} with a reply that {exc.problem} "
        "(not what AWS's API promises)",
        f"check that {exc.endpoint} is an AWS endpoint (AWS_ENDPOINT_URL, the profile's "
        "endpoint_url, or a proxy in between), then run the command again",
    )


@dataclass(frozen=True)
class AwsRefusal:
    """What an AWS error reply says: its code, its message made one bounded line, the
    operation refused and the HTTP status."""

    code: str
    message: str
    operation: str
    status: int

    @classmethod
    def of(cls, exc: bx.ClientError) -> AwsRefusal:
        error = exc.response.get("Error", {})
        # One line, bounded: a misbehaving endpoint can answer with a whole HTML page.
        message = " ".join(str(error.get("Message", "")).split())
        if len(message) > 200:
            message = message[:197] + "..."
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return cls(
            code=str(error.get("Code", "Unknown")),
            message=message,
            operation=exc.operation_name,
            status=int(status or 0),
        )

    @property
    def detail(self) -> str:
        """`Code: message`, or the code alone when AWS gave no message."""
        return f"{self.code}: {self.message}" if self.message else self.code


def _refused(refusal: AwsRefusal, *, subject: str | None, side: str | None) -> CliError:
    """An error reply from AWS, by the family its code belongs to."""
    prefix = f"[{side}] " if side else ""
    about = f" '{subject}'" if subject else ""
    code, operation, detail = refusal.code, refusal.operation, refusal.detail
    special = _refused_for_a_reason(refusal, prefix=prefix, about=about)
    if special is not None:
        return special
    if code in AUTH_CODES:
        return CliError(
            ExitCode.AUTH,
            f"{prefix}access denied to {operation}{about} ({code})",
            "check the IAM permissions of the role or user (`secrets doctor` shows them)",
        )
    if code in NOT_FOUND_CODES:
        return CliError(
            ExitCode.NOT_FOUND,
            f"{prefix}secret{about} not found" if subject else f"{prefix}{detail}",
            f"`secrets list {subject.split('/')[0]}/` shows what exists"
            if subject and "/" in subject
            else "`secrets list` shows what exists",
        )
    if code in THROTTLE_CODES:
        return CliError(
            ExitCode.UNAVAILABLE,
            f"{prefix}AWS kept throttling {operation} after retries ({code})",
            "wait a moment and run again, or lower --concurrency",
        )
    if code in UNAVAILABLE_CODES or refusal.status >= 500:
        return CliError(
            ExitCode.UNAVAILABLE,
            f"{prefix}AWS failed {operation} after retries ({detail})",
            "run the command again in a moment",
        )
    if code in CONFLICT_CODES:
        return _conflict(refusal, prefix=prefix, subject=subject)
    # "Scheduled for deletion" is decided where the secret's state can be read (the store,
    # backends/secretsmanager.py), not from words in a message. Any other InvalidRequest is
    # still "not valid for the current state of the resource" (a rotation or replication in
    # progress, a secret another service manages, replicas in the way): refused in that
    # state, not a mistyped option.
    if code == "InvalidRequestException":
        return CliError(
            ExitCode.REFUSED,
            f"{prefix}{operation}{about} was refused in the secret's current state: {detail}",
            (f"`secrets show {subject}` shows its state; " if subject else "")
            + "AWS's reason says what is in the way (a deletion scheduled, a rotation or "
            "replication in progress, a secret managed by another service); run the command "
            "again once that has changed",
        )
    if code in USAGE_CODES:
        return CliError(
            ExitCode.USAGE,
            f"{prefix}{operation}{about} was refused: {detail}",
            "correct the name or option that AWS's reason points to, then run again "
            "(`secrets COMMAND --help` lists the options)",
        )
    return CliError(
        ExitCode.FAILED,
        f"{prefix}{operation}{about} failed: {detail}",
        "AWS's error code says why; `secrets doctor` checks identity, region and permissions",
    )


def _refused_for_a_reason(refusal: AwsRefusal, *, prefix: str, about: str) -> CliError | None:
    """Refusals whose cause is known and is not what their code family says: a KMS key that
    cannot be used, a clock that is off, a quota reached."""
    code, operation = refusal.code, refusal.operation
    if code in KMS_CODES:
        return CliError(
            ExitCode.AUTH,
            f"{prefix}{operation}{about}: Secrets Manager could not use the secret's KMS key "
            f"({refusal.detail})",
            "the key must be enabled (not disabled or pending deletion) and its key policy must "
            "let you use it: check kms_key_id in secrets.toml or --kms-key "
            "(`aws kms describe-key --key-id KEY` shows its state)",
        )
    if code in CLOCK_SKEW_CODES or (
        code in SIGNATURE_CODES and _SKEW_MESSAGE.search(refusal.message)
    ):
        return CliError(
            ExitCode.AUTH,
            f"{prefix}AWS refused the request's signature: this machine's clock is off by more "
            f"than 5 minutes ({code})",
            "set the clock right (e.g. `timedatectl set-ntp true`, or the system's date and time "
            "settings), then run the command again",
        )
    if code in QUOTA_CODES:
        return CliError(
            ExitCode.FAILED,
            f"{prefix}{operation}{about} would exceed an AWS quota ({refusal.detail})",
            "waiting does not help: delete what is no longer used (secrets, old versions), or "
            "ask for a higher quota in the Service Quotas console",
        )
    return None


def _conflict(refusal: AwsRefusal, *, prefix: str, subject: str | None) -> CliError:
    """Another change got there first (the secret exists, a precondition no longer holds)."""
    about = f" '{subject}'" if subject else ""
    return CliError(
        ExitCode.REFUSED,
        f"{prefix}{refusal.operation}{about}: {refusal.detail}",
        f"another change got there first: `secrets show {subject}` shows the secret as "
        "it is now; run the command again once that change is done"
        if subject
        else "another change got there first: run the command again once it is done",
    )


@contextmanager
def aws_errors(*, subject: str | None = None, side: str | None = None) -> Iterator[None]:
    """Translate botocore exceptions raised inside the block into CliError."""
    try:
        yield
    except (bx.BotoCoreError, bx.ClientError) as exc:
        raise translate(exc, subject=subject, side=side) from None


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a ClientError, else None."""
    if isinstance(exc, bx.ClientError):
        return str(exc.response.get("Error", {}).get("Code"))
    return None
