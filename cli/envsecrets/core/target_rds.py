"""`--target rds:INSTANCE` and `rds-cluster:CLUSTER`: a database's master password, changed
through RDS (ModifyDBInstance / ModifyDBCluster with `MasterUserPassword` and
`ApplyImmediately`) between staging and promotion.

The secret is the password itself, or AWS's RDS JSON shape (`username`, `password`, `engine`,
`host`, `port`, `dbname`, ...), of which only `password` changes. RDS applies a new master
password asynchronously: until it has, DescribeDB* shows `MasterUserPassword` under
`PendingModifiedValues` (and the status `resetting-master-credentials`), so the step waits,
bounded and with progress, until neither is shown. ModifyDB* with the same password again is
harmless, so `--resume` simply applies again.

Refused before anything is staged: a database whose master password RDS manages itself
(`ManageMasterUserPassword`: AWS rotates that one), an Aurora instance (its password belongs
to the cluster), a secret whose `username` or identifier names another database, and a
password RDS would refuse (`/`, `"`, `@`, a space, or a length outside the engine's range).

No AWS here: the calls come through `DatabaseApi` (`backends/rds_target.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from envsecrets import stopping
from envsecrets.core.passwords import DEFAULT_LENGTH, PasswordRules
from envsecrets.core.rotation_targets import (
    ApplyContext,
    ApplyStep,
    Narrator,
    Preparation,
)
from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode

PASSWORD_KEY = "password"  # noqa: S105 - the JSON key's name, not a password
# Never accepted in a master password (RDS's documented rule; a space is refused too: it does
# not survive most connection strings).
FORBIDDEN = '/"@ '
# Engine families whose passwords may not hold these as well (RDS for Oracle).
EXTRA_FORBIDDEN = {"oracle": "&'"}
MIN_LENGTH = 8
# The longest master password each engine family takes (ModifyDBInstance's documentation);
# Aurora and Multi-AZ clusters take 8-41 (ModifyDBCluster's).
MAX_LENGTH = {
    "mysql": 41,
    "mariadb": 41,
    "aurora": 41,
    "postgres": 128,
    "sqlserver": 128,
    "oracle": 30,
    "db2": 255,
}
UNKNOWN_MAX = 41  # the strictest common bound, for an engine we do not know
DEFAULT_WAIT_SECONDS = 900.0
# How long to wait between two looks while RDS applies the password: soon at first, then no
# more often than every 10 s (RDS's API allows 12 calls a second per account, shared).
POLL_SECONDS = (1.0, 2.0, 4.0, 8.0, 10.0)
# Told at most this often while waiting, unless the status changes.
PROGRESS_SECONDS = 30.0
APPLYING = "resetting-master-credentials"
# States in which RDS refuses a modification, or that no modification can bring back.
UNMODIFIABLE = (
    "stopped",
    "stopping",
    "starting",
    "creating",
    "deleting",
    "failed",
    "inaccessible-encryption-credentials",
    "incompatible-",
    "storage-full",
)


@dataclass(frozen=True)
class DatabaseState:
    """What DescribeDB* (or ModifyDB*'s reply) says about the database, never a password."""

    identifier: str
    status: str | None = None
    engine: str | None = None
    master_username: str | None = None
    managed_password: bool = False  # ManageMasterUserPassword: RDS keeps it in its own secret
    password_pending: bool = False  # PendingModifiedValues.MasterUserPassword is shown
    cluster: str | None = None  # an instance's DBClusterIdentifier (an Aurora member)

    @property
    def applying(self) -> bool:
        """Whether RDS is still applying a new master password."""
        return self.password_pending or self.status == APPLYING


class DatabaseApi(Protocol):
    """RDS for one database (an instance or a cluster)."""

    @property
    def kind(self) -> str:
        """`rds` or `rds-cluster`."""
        ...

    @property
    def identifier(self) -> str: ...

    def describe(self) -> DatabaseState:
        """DescribeDBInstances/DescribeDBClusters; CliError NOT_FOUND when it does not exist."""
        ...

    def set_master_password(self, password: SecretValue) -> DatabaseState:
        """ModifyDB* with `MasterUserPassword` and `ApplyImmediately`; the reply's state."""
        ...


def engine_family(engine: str | None) -> str | None:
    """`aurora-postgresql` -> `aurora`, `oracle-ee` -> `oracle`, `sqlserver-se` -> `sqlserver`."""
    if not engine:
        return None
    engine = engine.lower()
    return next((family for family in MAX_LENGTH if engine.startswith(family)), None)


def password_rules(kind: str, engine: str | None) -> tuple[int, str]:
    """The longest password and the characters refused, for a database of `kind`/`engine`."""
    family = engine_family(engine)
    longest = MAX_LENGTH["aurora"] if kind == "rds-cluster" else MAX_LENGTH.get(family or "", 0)
    refused = FORBIDDEN + EXTRA_FORBIDDEN.get(family or "", "")
    return longest or UNKNOWN_MAX, refused


class RdsStep(ApplyStep):
    """The apply step for an RDS DB instance or cluster (see the module docstring)."""

    def __init__(
        self,
        api: DatabaseApi,
        *,
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api = api
        self.kind = api.kind
        self.wait_seconds = wait_seconds
        self.clock = clock
        self.sleep = sleep
        self.state: DatabaseState | None = None
        self.told: str | None = None  # the version whose password RDS accepted to set

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.api.identifier}"

    @property
    def what(self) -> str:
        noun = "DB instance" if self.kind == "rds" else "DB cluster"
        return f"RDS {noun} {self.api.identifier}"

    def describe(self) -> str:
        call = "ModifyDBInstance" if self.kind == "rds" else "ModifyDBCluster"
        return (
            f"apply: {call} {self.api.identifier} with the new master password "
            f"(ApplyImmediately), then wait until RDS has applied it "
            f"(at most {self.wait_seconds:g} s)"
        )

    # -- before anything is staged --------------------------------------------------------------
    def prepare(self, name: str, current: SecretValue | None) -> Preparation:
        state = self.api.describe()
        self.state = state
        self._refuse_state(state)
        field_key = None
        if current is not None and current.kind == "json":
            field_key = PASSWORD_KEY
            self._check_shape(name, current, state)
        elif current is not None and current.kind == "binary":
            raise CliError(
                ExitCode.USAGE,
                f"{name} holds binary data, not a password for {self.label}",
                "an RDS target's secret is the master password, or RDS's JSON shape "
                '({"username", "password", "engine", "host", ...})',
            )
        facts = ", ".join(
            part
            for part in (
                state.engine,
                f"master user {state.master_username}" if state.master_username else "",
                f"status {state.status}" if state.status else "",
            )
            if part
        )
        return Preparation(
            field_key=field_key,
            notes=(f"  target           {self.what} ({facts or 'no details given'})",),
        )

    def _refuse_state(self, state: DatabaseState) -> None:
        if state.managed_password:
            raise CliError(
                ExitCode.REFUSED,
                f"{self.what} has its master password managed by RDS "
                "(ManageMasterUserPassword): RDS keeps and rotates it in a secret of its own",
                "AWS rotates that one: `aws rds modify-db-instance --db-instance-identifier "
                f"{self.api.identifier} --rotate-master-user-password --apply-immediately` "
                "(modify-db-cluster for a cluster); drop the target for this secret",
            )
        if self.kind == "rds" and state.cluster:
            raise CliError(
                ExitCode.USAGE,
                f"{self.what} belongs to the DB cluster {state.cluster}: its master password "
                "is the cluster's",
                f"use --target rds-cluster:{state.cluster}",
            )
        status = (state.status or "").lower()
        if any(status.startswith(bad) for bad in UNMODIFIABLE) or status == APPLYING:
            raise CliError(
                ExitCode.REFUSED,
                f"{self.what} is {state.status}: RDS cannot change its master password now",
                "wait until it is available (`aws rds describe-db-instances` shows its status), "
                "then rotate again",
            )

    def _check_shape(self, name: str, current: SecretValue, state: DatabaseState) -> None:
        """RDS's JSON shape: a `password` key; a `username` or identifier, when present, must
        be this database's master user and name (else the target points at another one)."""
        try:
            current.field(PASSWORD_KEY)
        except CliError:
            raise CliError(
                ExitCode.USAGE,
                f"{name} holds a JSON object without a 'password' key: it is not RDS's JSON shape",
                'an RDS target\'s secret is the master password, or {"username", "password", '
                '"engine", "host", ...} of which only "password" changes',
            ) from None
        username = _member(current, "username")
        if username is not None and state.master_username and username != state.master_username:
            raise CliError(
                ExitCode.USAGE,
                f"{name}'s username '{username}' is not the master user "
                f"'{state.master_username}' of {self.what}: the target changes the master "
                "password only",
                "check the target in --target or secrets.toml [rotation], or rotate this "
                "secret with --apply-cmd (a command that changes that user's password)",
            )
        key = "dbInstanceIdentifier" if self.kind == "rds" else "dbClusterIdentifier"
        named = _member(current, key)
        if named is not None and named.lower() != self.api.identifier.lower():
            raise CliError(
                ExitCode.USAGE,
                f"{name} says it belongs to {named} ({key}), not to {self.api.identifier}",
                "check the target in --target or secrets.toml [rotation]",
            )

    def generation_rules(self, wanted: PasswordRules | None) -> PasswordRules:
        """What a generated password must obey: the user's rules (if any) within this
        engine's range, without the characters RDS refuses."""
        longest, refused = password_rules(self.kind, self.state.engine if self.state else None)
        if wanted is None:
            return PasswordRules(
                length=min(DEFAULT_LENGTH, longest), exclude_characters=refused
            ).check()
        if not MIN_LENGTH <= wanted.length <= longest:
            raise CliError(
                ExitCode.USAGE,
                f"--length {wanted.length}: {self.what} takes master passwords of "
                f"{MIN_LENGTH}-{longest} characters",
                f"choose a --length from {MIN_LENGTH} to {longest}",
            )
        excluded = "".join(dict.fromkeys(wanted.exclude_characters + refused))
        return PasswordRules(
            length=wanted.length,
            exclude_punctuation=wanted.exclude_punctuation,
            exclude_characters=excluded,
        ).check()

    def check_value(self, name: str, value: SecretValue) -> None:
        """A password given with --stdin/--from-file that RDS would refuse: exit 2 now."""
        self._check_password(self.password_of(name, value))

    def _check_password(self, password: str) -> None:
        longest, refused = password_rules(self.kind, self.state.engine if self.state else None)
        bad = sorted({c for c in password if c in refused or not " " <= c <= "~"})
        if bad:
            shown = ", ".join(repr(c) if c.isprintable() else f"U+{ord(c):04X}" for c in bad[:5])
            raise CliError(
                ExitCode.USAGE,
                f"the new password holds characters {self.what} refuses ({shown})",
                'RDS takes printable ASCII without / " @ or spaces; use --generate, which '
                "avoids them",
            )
        if not MIN_LENGTH <= len(password) <= longest:
            raise CliError(
                ExitCode.USAGE,
                f"the new password is {len(password)} characters; {self.what} takes "
                f"{MIN_LENGTH}-{longest}",
                "use --generate, which picks a length the engine takes",
            )

    @staticmethod
    def password_of(name: str, value: SecretValue) -> str:
        """The password in `value`: the JSON shape's `password`, or the whole text."""
        if value.kind == "json":
            return value.field(PASSWORD_KEY).text()
        if value.is_binary:
            raise CliError(
                ExitCode.USAGE,
                f"{name}'s value is binary, not a password",
                "an RDS target's secret is the master password, or RDS's JSON shape",
            )
        return value.text()

    # -- the step ---------------------------------------------------------------------------------
    def apply(self, ctx: ApplyContext, narrate: Narrator) -> None:
        password = self.password_of(ctx.name, ctx.pending)
        self._check_password(password)  # a resumed or rolled-back value, checked as well
        state = self.api.set_master_password(SecretValue(password))
        self.told = ctx.version_id
        narrate(f"{self.what} was given the password of version {ctx.version_id}")
        self._wait(state, narrate)

    def _wait(self, state: DatabaseState, narrate: Narrator) -> None:
        """Until RDS shows no pending master password, looking again at growing intervals;
        a failure (exit 1) after `wait_seconds`."""
        start = self.clock()
        told_at, told_status = start, state.status
        polls = iter(POLL_SECONDS)
        while state.applying:
            waited = self.clock() - start
            if waited >= self.wait_seconds:
                raise CliError(
                    ExitCode.FAILED,
                    f"{self.what} had not applied the new master password after "
                    f"{self.wait_seconds:g} s (status {state.status or 'unknown'})",
                    "raise --apply-timeout if RDS needs longer; the RDS console shows the "
                    "database's events",
                )
            if state.status != told_status or self.clock() - told_at >= PROGRESS_SECONDS:
                narrate(f"waiting for {self.what} to apply it ({state.status}, {waited:.0f} s)")
                told_at, told_status = self.clock(), state.status
            self._pause(min(next(polls, POLL_SECONDS[-1]), self.wait_seconds - waited))
            state = self.api.describe()
        narrate(f"{self.what} has applied the new master password")

    def _pause(self, seconds: float) -> None:
        """Sleep in short ticks, so that Ctrl-C, SIGTERM or SIGHUP stop the wait in any thread."""
        until = self.clock() + seconds
        while (left := until - self.clock()) > 0:
            stopping.raise_if_stopped()
            self.sleep(min(left, 0.2))
        stopping.raise_if_stopped()

    def stands(self, ctx: ApplyContext, step: str) -> str:
        current = f"the current password (AWSCURRENT, version {ctx.current_version or '-'})"
        new = f"the new password (AWSPENDING, version {ctx.version_id})"
        if step == "apply" and self.told != ctx.version_id:
            return f"{self.what} still has {current}; {new} was not set on it"
        if step == "apply":
            return (
                f"{self.what} was given {new} and may not have applied it yet; readers still "
                f"get {current}, which it stops accepting once it has: resume soon"
            )
        return (
            f"{self.what} has {new}; readers still get {current}, which it no longer "
            "accepts: resume soon"
        )


def _member(value: SecretValue, key: str) -> str | None:
    try:
        member = value.field(key)
    except CliError:
        return None
    return None if member.is_binary else member.text()
