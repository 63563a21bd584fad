"""`--target iam-user:USER`: an IAM user's access key, rotated the way AWS advises.

The secret is `{"AccessKeyId": ..., "SecretAccessKey": ...}` (other keys are kept). The new
value is made by IAM, so the steps are: create a new access key (CreateAccessKey; before
staging, since the key is the value), stage it, check it with STS GetCallerIdentity **signed
with the new key** (a new key takes a few seconds to work everywhere: retried, bounded),
verify (the verify command, if any), promote, then deactivate the old key (`--delete-old`
deletes it; otherwise the next rotation deletes it, since IAM allows two keys per user).

A user with two keys is refused unless the one that is not the secret's is inactive: that is
the previous rotation's old key, deleted first. `--rollback` reactivates the previous key,
checks it with STS, moves AWSCURRENT back and deactivates the key rolled back from; a
previous key that was deleted cannot come back (refused before anything changes). `--cancel`
deletes the pending key. The secret access key goes from IAM's reply to the staged value and
to STS's signature: never to argv, a log or our output.

No AWS here: the calls come through `AccessKeyApi` (`backends/iam_target.py`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from envsecrets import stopping
from envsecrets.core.rotation_targets import (
    ApplyContext,
    ApplyStep,
    Narrator,
    Preparation,
)
from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode

KEY_ID = "AccessKeyId"
SECRET_KEY = "SecretAccessKey"  # noqa: S105 - the JSON key's name, not a secret
MAX_KEYS = 2  # IAM's quota of access keys per user
DEFAULT_PROPAGATION_SECONDS = 60.0
# Between two tries of a key IAM has not spread everywhere yet.
RETRY_SECONDS = (1.0, 2.0, 3.0, 5.0)


@dataclass(frozen=True)
class AccessKey:
    """One of a user's access keys, as ListAccessKeys shows it (never its secret)."""

    key_id: str
    active: bool
    created: datetime | None = None


class AccessKeyApi(Protocol):
    """IAM and STS for one user's access keys."""

    @property
    def user(self) -> str: ...

    def list_keys(self) -> list[AccessKey]:
        """ListAccessKeys; CliError NOT_FOUND when the user does not exist."""
        ...

    def create(self) -> tuple[str, SecretValue]:
        """CreateAccessKey: the new key's id and its secret access key."""
        ...

    def set_active(self, key_id: str, active: bool) -> None: ...

    def delete(self, key_id: str) -> None:
        """DeleteAccessKey; a key that is already gone is not an error."""
        ...

    def identity(self, key_id: str, secret: SecretValue) -> str:
        """The ARN STS GetCallerIdentity gives for a call signed with this key; CliError AUTH
        when STS does not accept it (yet)."""
        ...


def key_of(name: str, value: SecretValue | None) -> tuple[str, SecretValue]:
    """The access key id and secret held in `value`; a usage error when it is not one."""
    parsed = None
    if value is not None and value.kind == "json":
        parsed = json.loads(value.text())
    key_id = parsed.get(KEY_ID) if isinstance(parsed, dict) else None
    secret = parsed.get(SECRET_KEY) if isinstance(parsed, dict) else None
    if not isinstance(key_id, str) or not isinstance(secret, str) or not key_id or not secret:
        raise CliError(
            ExitCode.USAGE,
            f"{name} does not hold an access key: an iam-user target's secret is "
            f'{{"{KEY_ID}": ..., "{SECRET_KEY}": ...}}',
            f"store the user's current key first: `secrets set {name} --stdin` with "
            f'{{"{KEY_ID}": "AKIA...", "{SECRET_KEY}": "..."}}',
        )
    return key_id, SecretValue(secret)


class IamKeyStep(ApplyStep):
    """The apply step for an IAM user's access key (see the module docstring)."""

    kind = "iam-user"

    def __init__(
        self,
        api: AccessKeyApi,
        *,
        delete_old: bool = False,
        propagation_seconds: float = DEFAULT_PROPAGATION_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api = api
        self.delete_old = delete_old
        self.propagation_seconds = propagation_seconds
        self.clock = clock
        self.sleep = sleep
        self.to_delete: str | None = None  # the previous rotation's inactive key

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.api.user}"

    def describe(self) -> str:
        retire = "delete" if self.delete_old else "deactivate"
        return (
            f"apply: a new access key of IAM user {self.api.user} (CreateAccessKey, made "
            f"before step 1: it is the new value), checked with STS GetCallerIdentity signed "
            f"with it; after promotion, {retire} the old key"
        )

    # -- before anything is staged --------------------------------------------------------------
    def prepare(self, name: str, current: SecretValue | None) -> Preparation:
        old, _ = key_of(name, current)
        keys = self.api.list_keys()
        if old not in {key.key_id for key in keys}:
            raise CliError(
                ExitCode.REFUSED,
                f"{name}'s access key {old} is not a key of IAM user {self.api.user}",
                "check the target (--target or secrets.toml [rotation]): it names the user "
                "whose key this secret holds",
            )
        others = [key for key in keys if key.key_id != old]
        notes = [f"  target           IAM user {self.api.user}, current key {old}"]
        if len(keys) >= MAX_KEYS:
            active = [key.key_id for key in others if key.active]
            if active:
                raise CliError(
                    ExitCode.REFUSED,
                    f"IAM user {self.api.user} already has {len(keys)} access keys and "
                    f"{', '.join(active)} (not {name}'s) is active: IAM allows {MAX_KEYS} keys "
                    "per user",
                    f"if nothing uses it, deactivate it (`aws iam update-access-key "
                    f"--user-name {self.api.user} --access-key-id {active[0]} --status "
                    "Inactive`), then rotate again; an inactive one is deleted by the rotation",
                )
            self.to_delete = others[0].key_id
            notes.append(
                f"  first            delete the inactive key {self.to_delete} (IAM allows "
                f"{MAX_KEYS} keys per user)"
            )
        return Preparation(makes_value=True, notes=tuple(notes))

    def make_value(self, name: str, current: SecretValue | None) -> SecretValue:
        """Delete the previous rotation's inactive key (if any), create the new key, and put
        it in the secret's JSON object in place of the old one (other keys kept)."""
        if self.to_delete is not None:
            self.api.delete(self.to_delete)
            self.to_delete = None
        try:
            key_id, secret = self.api.create()
        except CliError as exc:
            raise CliError(
                exc.code, exc.message, self._after_failed_create(name, current)
            ) from None
        if current is None or current.kind != "json":
            raise CliError(
                ExitCode.FAILED,
                f"internal: {name} has no JSON value to put the new key in",
                "this is a bug in envsecrets: please report it, with the command you ran",
            )
        value = current.with_field(KEY_ID, SecretValue(key_id))
        return value.with_field(SECRET_KEY, secret)

    def _after_failed_create(self, name: str, current: SecretValue | None) -> str:
        """CreateAccessKey failed: if a key appeared anyway (a reply lost on the way back and
        the call retried), nothing holds its secret and it must go."""
        old = key_of(name, current)[0] if current is not None else None
        try:
            strangers = [key.key_id for key in self.api.list_keys() if key.key_id != old]
        except CliError:
            strangers = []
        if not strangers:
            return f"nothing was changed; `secrets rotate {name}` tries again"
        return (
            f"IAM user {self.api.user} has a key that nothing holds the secret of "
            f"({', '.join(strangers)}: its reply may have been lost): delete it (`aws iam "
            f"delete-access-key --user-name {self.api.user} --access-key-id {strangers[0]}`), "
            "then rotate again"
        )

    def abandon(self, name: str, made: SecretValue) -> str:
        key_id, _ = key_of(name, made)
        try:
            self.api.delete(key_id)
        except CliError:
            return (
                f"the new access key {key_id} could not be deleted: once `secrets history "
                f"{name}` shows no pending version, delete it (`aws iam delete-access-key "
                f"--user-name {self.api.user} --access-key-id {key_id}`)"
            )
        return f"the new access key {key_id} was deleted again"

    # -- the step ---------------------------------------------------------------------------------
    def apply(self, ctx: ApplyContext, narrate: Narrator) -> None:
        """The key of `ctx.pending` must be one of the user's, active: created by this
        rotation already; after a crash or for a rollback, reactivated if it is not."""
        key_id, _ = key_of(ctx.name, ctx.pending)
        found = {key.key_id: key for key in self.api.list_keys()}.get(key_id)
        if found is None:
            raise CliError(
                ExitCode.REFUSED,
                f"access key {key_id} of version {ctx.version_id} is no longer a key of IAM "
                f"user {self.api.user} (deleted by --delete-old, by a later rotation or by hand)",
                f"a deleted key cannot come back: `secrets history {ctx.name}` shows the "
                "versions; rotate to a new key instead",
            )
        if not found.active:
            self.api.set_active(key_id, True)
            narrate(f"reactivated access key {key_id} of IAM user {self.api.user}")

    def test(self, ctx: ApplyContext, narrate: Narrator) -> None:
        """STS GetCallerIdentity signed with the key of `ctx.pending`, retried while IAM
        spreads the new key (bounded); it must answer as this user."""
        key_id, secret = key_of(ctx.name, ctx.pending)
        start = self.clock()
        delays = iter(RETRY_SECONDS)
        while True:
            try:
                arn = self.api.identity(key_id, secret)
                break
            except CliError as exc:
                waited = self.clock() - start
                if exc.code != ExitCode.AUTH or waited >= self.propagation_seconds:
                    raise CliError(
                        exc.code,
                        f"STS did not accept access key {key_id} of IAM user {self.api.user} "
                        f"after {waited:.0f} s ({exc.message})",
                        "a new key can take a while to work everywhere: raise --apply-timeout; "
                        "an inactive key, or a policy denying the user, is refused for good",
                    ) from None
                left = self.propagation_seconds - waited
                self._pause(min(next(delays, RETRY_SECONDS[-1]), left))
        user = arn.rsplit("/", 1)[-1]
        if ":user/" not in arn or user != self.api.user:
            raise CliError(
                ExitCode.FAILED,
                f"access key {key_id} signs as {arn}, not as IAM user {self.api.user}",
                "check the target's user name (--target or secrets.toml [rotation])",
            )
        narrate(f"STS accepted access key {key_id} ({arn})")

    def _pause(self, seconds: float) -> None:
        until = self.clock() + seconds
        while (left := until - self.clock()) > 0:
            stopping.raise_if_stopped()
            self.sleep(min(left, 0.2))
        stopping.raise_if_stopped()

    def finish(self, ctx: ApplyContext, narrate: Narrator) -> None:
        """Deactivate (or with --delete-old, delete) the key of `ctx.current`: the old key
        after a rotation, the key rolled back from after a rollback."""
        if ctx.current is None:
            return
        old, _ = key_of(ctx.name, ctx.current)
        new, _ = key_of(ctx.name, ctx.pending)
        if old == new:
            return
        keys = {key.key_id: key for key in self.api.list_keys()}
        if old not in keys:
            narrate(f"access key {old} is no longer a key of IAM user {self.api.user}")
        elif self.delete_old:
            self.api.delete(old)
            narrate(f"deleted access key {old} of IAM user {self.api.user}")
        elif keys[old].active:
            self.api.set_active(old, False)
            narrate(f"deactivated access key {old} of IAM user {self.api.user}")

    def discard(self, ctx: ApplyContext, narrate: Narrator) -> None:
        """A cancel: delete the pending key (the current one was never touched)."""
        pending, _ = key_of(ctx.name, ctx.pending)
        current = key_of(ctx.name, ctx.current)[0] if ctx.current is not None else None
        if pending == current:
            return
        self.api.delete(pending)
        narrate(f"deleted access key {pending} of IAM user {self.api.user}")

    def stands(self, ctx: ApplyContext, step: str) -> str:
        new, _ = key_of(ctx.name, ctx.pending)
        old = key_of(ctx.name, ctx.current)[0] if ctx.current is not None else "-"
        return (
            f"IAM user {self.api.user} keeps its current key {old} (AWSCURRENT, version "
            f"{ctx.current_version or '-'}, still active) and has the new key {new} (version "
            f"{ctx.version_id})"
        )
