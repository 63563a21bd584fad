"""RDS for the `rds:` and `rds-cluster:` rotation targets: the only code that speaks the rds API.

DescribeDBInstances / DescribeDBClusters to look at the database, ModifyDBInstance /
ModifyDBCluster with `MasterUserPassword` and `ApplyImmediately` to change its master password.
Replies are read defensively: a missing key is an unusable reply (exit 6), not a KeyError.
The password reaches botocore as a request parameter only: never a log, argv or our output.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from envsecrets.backends.aws import AwsTarget, aws_errors, error_code
from envsecrets.core.target_rds import DatabaseState
from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mypy_boto3_rds import RDSClient

# The error codes RDS gives for a database that does not exist (the shapes' `error.code`).
NOT_FOUND = {"DBInstanceNotFound", "DBInstanceNotFoundFault", "DBClusterNotFoundFault"}


class RdsDatabase:
    """One RDS DB instance (`kind` "rds") or DB cluster ("rds-cluster") of an environment."""

    def __init__(self, target: AwsTarget, kind: str, identifier: str) -> None:
        self.target = target
        self._kind = kind
        self._identifier = identifier

    @property
    def kind(self) -> str:
        return self._kind

    @property
    def identifier(self) -> str:
        return self._identifier

    @property
    def client(self) -> RDSClient:
        return self.target.client("rds")

    @property
    def noun(self) -> str:
        return "DB instance" if self._kind == "rds" else "DB cluster"

    def describe(self) -> DatabaseState:
        with self._errors():
            if self._kind == "rds":
                reply: Any = self.client.describe_db_instances(
                    DBInstanceIdentifier=self._identifier
                )
                found = reply.get("DBInstances")
            else:
                reply = self.client.describe_db_clusters(DBClusterIdentifier=self._identifier)
                found = reply.get("DBClusters")
        if not isinstance(found, list) or len(found) != 1 or not isinstance(found[0], dict):
            raise self._unusable("Describe")
        return self._state(found[0])

    def set_master_password(self, password: SecretValue) -> DatabaseState:
        with self._errors():
            if self._kind == "rds":
                reply: Any = self.client.modify_db_instance(
                    DBInstanceIdentifier=self._identifier,
                    MasterUserPassword=password.text(),
                    ApplyImmediately=True,
                )
                found = reply.get("DBInstance")
            else:
                reply = self.client.modify_db_cluster(
                    DBClusterIdentifier=self._identifier,
                    MasterUserPassword=password.text(),
                    ApplyImmediately=True,
                )
                found = reply.get("DBCluster")
        if not isinstance(found, dict):
            raise self._unusable("Modify")
        return self._state(found)

    def _state(self, raw: Mapping[str, Any]) -> DatabaseState:
        status_key = "DBInstanceStatus" if self._kind == "rds" else "Status"
        pending = raw.get("PendingModifiedValues")
        secret = raw.get("MasterUserSecret")
        return DatabaseState(
            identifier=self._identifier,
            status=_text(raw.get(status_key)),
            engine=_text(raw.get("Engine")),
            master_username=_text(raw.get("MasterUsername")),
            # AWS shows MasterUserSecret only for a password it manages; moto also keeps the
            # flag it was created with.
            managed_password=isinstance(secret, dict) and bool(secret),
            password_pending=isinstance(pending, dict) and "MasterUserPassword" in pending,
            cluster=_text(raw.get("DBClusterIdentifier")) if self._kind == "rds" else None,
        )

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """`aws_errors`, with RDS's "no such database" said as such (exit 3)."""
        with aws_errors(side=self.target.label):
            try:
                yield
            except Exception as exc:
                if error_code(exc) in NOT_FOUND:
                    raise self.not_found() from None
                raise

    def _unusable(self, call: str) -> CliError:
        return CliError(
            ExitCode.UNAVAILABLE,
            f"RDS answered {call} for {self.noun} {self._identifier} with a reply that does not "
            "describe it",
            "run the command again in a moment; `secrets doctor` checks AWS_ENDPOINT_URL and "
            "the region",
        )

    def not_found(self) -> CliError:
        return CliError(
            ExitCode.NOT_FOUND,
            f"RDS {self.noun} '{self._identifier}' not found in {self.target.label}'s region",
            "check the target's ID (--target or secrets.toml [rotation]) and the "
            "environment's account and region",
        )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
