"""Managed rotation: start the rotation Lambda configured on a secret (RotateSecret) and say
where it stands. The Lambda does the four steps itself; this module only checks that it can
start (a Lambda is configured, nothing is pending) and reads back the version it works on.
No AWS, Typer or rich here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from envsecrets.core.rotation import pending_exists_error, require_current
from envsecrets.core.store import CURRENT, SecretStore
from envsecrets.errors import CliError, ExitCode


# Not mutated (make mutation): the methods mutmut adds to a class it mutates would become
# members of this runtime-checkable protocol, and then no store would be an instance of it.
@runtime_checkable
class ManagedRotationStore(SecretStore, Protocol):  # pragma: no mutate block
    """A store that can start a secret's own rotation Lambda (RotateSecret)."""

    def rotate_managed(self, name: str) -> str | None: ...


@dataclass(frozen=True)
class ManagedRotation:
    """RotateSecret's outcome: the version the Lambda works on and where it stands now."""

    name: str
    lambda_arn: str
    version_id: str | None
    status: str  # "finished" (already AWSCURRENT), "pending" (the Lambda is at work)

    def as_dict(self) -> dict[str, Any]:
        """The documented `--json` object."""
        return {
            "name": self.name,
            "action": "managed rotation started",
            "lambda_arn": self.lambda_arn,
            "version_id": self.version_id,
            "status": self.status,
        }


def check_managed(store: SecretStore, name: str) -> str:
    """The rotation Lambda configured on `name`; refused (exit 4) when there is none or a
    rotation is pending (RotateSecret would fail on the pending version anyway)."""
    meta = store.describe(name)
    require_current(meta)
    if not meta.rotation.lambda_arn:
        raise CliError(
            ExitCode.REFUSED,
            f"{name} has no rotation Lambda configured",
            "configure one in the AWS console or with `aws secretsmanager rotate-secret "
            f"--rotation-lambda-arn ...`, or rotate by hand: `secrets rotate {name} --generate`",
        )
    pending = meta.pending_version
    if pending is not None:
        raise pending_exists_error(name, pending)
    return meta.rotation.lambda_arn


def start_managed_rotation(store: SecretStore, name: str) -> ManagedRotation:
    """Start the configured rotation Lambda (RotateSecret), then read back its progress."""
    lambda_arn = check_managed(store, name)
    if not isinstance(store, ManagedRotationStore):
        # Only Secrets Manager knows rotation Lambdas, so check_managed refuses first for any
        # other store; this keeps the promise if that ever changes.
        raise CliError(
            ExitCode.REFUSED,
            f"{name}: this environment's store cannot start a rotation Lambda",
            f"rotate by hand: `secrets rotate {name} --generate`",
        )
    try:
        version = store.rotate_managed(name)
    except CliError as exc:
        if exc.code != ExitCode.NOT_FOUND:
            raise
        # The secret was just described, so what AWS did not find is the function.
        raise CliError(
            ExitCode.FAILED,
            f"the rotation Lambda of {name} could not be started: {lambda_arn} was not found",
            "check that the function exists in this region and that Secrets Manager may "
            "invoke it (its resource policy)",
        ) from None
    meta = store.describe(name)
    finished = version is not None and meta.version_with(CURRENT) == version
    return ManagedRotation(name, lambda_arn, version, "finished" if finished else "pending")
