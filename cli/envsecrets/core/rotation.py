"""Two-phase rotation of one secret by hand: plan, stage pending, verify, promote, record.

The state lives in Secrets Manager's staging labels, never in a file of ours, so that any
step can be re-run after a crash (the process killed, Ctrl-C, the network gone):

1. `stage_pending` writes the new value as a version labelled only AWSPENDING: no reader sees
   it. Its ClientRequestToken comes from the name, the value's hash and the current version,
   so a retry after a lost reply returns the same version instead of making a second one.
2. An optional verification runs with the pending value (the caller supplies it).
3. `promote_pending` moves AWSCURRENT to the pending version (AWS hands AWSPREVIOUS to the
   version that was current), then removes AWSPENDING.

Every label move is checked against the state when it fails: a retried call whose first
attempt went through is refused by AWS because the label has already moved, and that is
success, not an error (`labels.settle`). The promotion is a compare-and-swap: AWSCURRENT moves
only from the version the rotation replaced, so a `set` (or another rotation) that got there
first is refused with exit 4 and named, never overwritten. What a failure leaves is told from
the labels as they are then, never assumed. While a pending version exists a new rotation is
refused: `--resume`
finishes it (reusing the staged value, even for `--generate`), `--cancel` drops it
(`rotation_recovery`). Bulk rotation runs the same steps over many secrets (`rotation_bulk`);
generated values come from `passwords`; `rotation_managed` hands a secret to its own Lambda.

Pure over the `SecretStore` protocol (plus GetRandomPassword for `--generate`); no AWS, Typer
or rich here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from envsecrets import stopping
from envsecrets.core.labels import CurrentMoved, move_current, settle
from envsecrets.core.masking import MIN_PIECE, forms_to_mask
from envsecrets.core.passwords import PasswordSource
from envsecrets.core.rotation_lease import (
    LEASE_SECONDS,
    LEASE_TAG,
    Lease,
    is_alive,
    lease_of,
    release_lease,
    take_lease,
)
from envsecrets.core.rotation_targets import (
    RESUME,
    ROTATE,
    ApplyContext,
    ApplyStep,
    StepFailed,
)
from envsecrets.core.store import (
    CURRENT,
    PENDING,
    SecretMetadata,
    SecretStore,
    StoredValue,
)
from envsecrets.core.values import SecretValue, request_token
from envsecrets.errors import CliError, ExitCode

# The record each rotation leaves on the secret (read by `secrets show` and `history`): when,
# by whom, what the apply step told (a target such as `rds:orders-prod`, `command`, or
# `none`), and the versions recent rotations made (their first 8 characters, newest first).
ROTATED_AT_TAG = "envsecrets:rotated-at"
ROTATED_BY_TAG = "envsecrets:rotated-by"
APPLIED_TO_TAG = "envsecrets:applied-to"
ROTATIONS_TAG = "envsecrets:rotations"
NO_APPLY_STEP = "none"
VERSION_MARK = 8  # characters of a version id kept in the rotations tag

MAX_TAG_VALUE = 256
REPORT_BUG_HINT = "this is a bug in envsecrets: please report it, with the command you ran"

Narrator = Callable[[str], None]
# Raises CliError when the candidate value must not be promoted. It gets the value (for the
# command's stdin) and every other secret the rotation handles, to mask in what it shows.
Verifier = Callable[[SecretValue, Sequence[bytes]], None]


def quiet(message: str) -> None:
    """A narrator that says nothing (bulk rotation reports per secret instead)."""


class RotationStore(SecretStore, PasswordSource, Protocol):
    """A store that can also generate passwords."""


def generating_store(store: SecretStore, env: str) -> RotationStore:
    """`store` as one that generates passwords (`--generate`); refused (exit 2) for a store
    that cannot, before anything is read or written. Every store an environment opens today
    can (the OS keyring generates them locally): the refusal keeps a new kind of store from
    failing part way through instead."""
    if isinstance(store, PasswordSource):
        return store
    raise CliError(
        ExitCode.USAGE,
        f"environment '{env}' cannot generate passwords: --generate asks Secrets Manager's "
        "GetRandomPassword, and this environment's secrets are kept elsewhere",
        "give the new value with --stdin or --from-file, one secret at a time",
    )


# -- plans --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RotationPlan:
    """A secret ready to rotate: its current version, and the value when one is needed."""

    name: str
    current_version: str
    field_key: str | None = None
    current: StoredValue | None = None  # read when --field or a comparison needs it
    rotation_log: str = ""  # the rotations tag as it was (the record adds to it)


class PendingRotationError(CliError):
    """A rotation refused because a pending version exists: bulk rotation recognises it to
    point at the bulk `--resume`/`--cancel` instead of one secret's. `live` is the lease of a
    rotation still running (then neither recovery applies yet); `known_dead` says that the
    rotation which staged it is known to have ended (its lease names it and is not alive)."""

    def __init__(
        self,
        name: str,
        version: str,
        hint: str,
        *,
        live: Lease | None = None,
        known_dead: bool = False,
    ) -> None:
        if live is not None:
            message = (
                f"{name} is being rotated now ({live.describe()}): its version {version} "
                "waits AWSPENDING"
            )
        elif known_dead:
            message = (
                f"{name} has a pending version ({version}) from a rotation that did not finish"
            )
        else:
            message = (
                f"{name} has a pending version ({version}) from a rotation that is still under "
                "way elsewhere or did not finish (it left no mark of ours to tell)"
            )
        super().__init__(ExitCode.REFUSED, message, hint)
        self.name = name
        self.version = version
        self.live = live
        self.known_dead = known_dead


def pending_exists_error(
    name: str, version: str, tags: dict[str, str] | None = None
) -> PendingRotationError:
    """The refusal of a new rotation while `version` waits AWSPENDING, with the ways out;
    `tags` (the secret's) tell whether the rotation that staged it is still running."""
    lease = lease_of(tags or {}, version)
    if lease is not None and is_alive(lease):
        return PendingRotationError(name, version, _live_hint(name, lease), live=lease)
    return PendingRotationError(
        name,
        version,
        f"`secrets rotate {name} --resume` promotes it, `--cancel` drops it; "
        "`--rollback` undoes a finished rotation",
        known_dead=lease is not None,
    )


def _live_hint(name: str, lease: Lease) -> str:
    until = f"{lease.expires.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    return (
        f"wait for that rotation to end; `secrets rotate {name} --resume` or `--cancel` "
        f"work once it has (seen from another host or container: after {until}); "
        f"`secrets history {name}` shows the labels"
    )


def rotation_in_progress_error(name: str, version: str, lease: Lease, action: str) -> CliError:
    """The refusal of `--resume`/`--cancel` (`action`) while the rotation that staged
    `version` is still running: promoting or dropping its value under it would promote a
    value its verification may still fail, or let a cancelled value go live."""
    return CliError(
        ExitCode.REFUSED,
        f"{name} is being rotated now ({lease.describe()}): its pending version {version} "
        f"is that rotation's; nothing to {action} yet",
        _live_hint(name, lease),
    )


def refuse_if_live(name: str, version: str | None, tags: dict[str, str], action: str) -> None:
    """Raise `rotation_in_progress_error` when a live rotation holds `version`."""
    lease = lease_of(tags, version)
    if lease is not None and version is not None and is_alive(lease):
        raise rotation_in_progress_error(name, version, lease, action)


def require_current(meta: SecretMetadata) -> str:
    """The AWSCURRENT version of `meta`; refused (exit 4) when the secret is scheduled for
    deletion or has no current version."""
    current = meta.version_with(CURRENT)
    if meta.scheduled_for_deletion:
        raise CliError(
            ExitCode.REFUSED,
            f"{meta.name} is scheduled for deletion",
            f"`secrets restore {meta.name}` cancels the deletion",
        )
    if current is None:
        raise CliError(
            ExitCode.REFUSED,
            f"{meta.name} has no AWSCURRENT version to rotate",
            f"`secrets set {meta.name}` gives it a first value; "
            f"`secrets history {meta.name}` shows its versions",
        )
    return current


def plan_rotation(
    store: SecretStore,
    name: str,
    *,
    field_key: str | None = None,
    read_value: bool = True,
    known: StoredValue | None = None,
) -> RotationPlan:
    """Check that `name` can rotate now: it exists (else exit 3), no rotation is pending
    (else exit 4), and with `field_key` its value is a JSON object holding that key (else 2).

    `known` is a value already read (bulk planning); it is reused when it is still current.
    """
    meta = store.describe(name)
    pending = meta.pending_version
    if pending is not None:
        raise pending_exists_error(name, pending, meta.tags)
    current_version = require_current(meta)
    current: StoredValue | None = None
    if read_value or field_key is not None:
        if known is not None and known.version_id == current_version:
            current = known
        else:
            current = store.read(name, version_id=current_version)
        if field_key is not None:
            current.value.field(field_key)  # not JSON, or no such key: a usage error
    return RotationPlan(
        name=name,
        current_version=current_version,
        field_key=field_key,
        current=current,
        rotation_log=meta.tags.get(ROTATIONS_TAG, ""),
    )


def refuse_generated_over_structure(plan: RotationPlan) -> None:
    """`--generate` without `--field` over a JSON object or a binary value would replace all
    of it with one password (the other keys, the file), silently: refused (exit 2) unless the
    caller asked for the whole value (`--whole`, which skips this check)."""
    current = plan.current
    if current is None or plan.field_key is not None:
        return
    if current.value.kind == "json":
        keys = sorted(json.loads(current.value.text()))
        shown = ", ".join(keys[:10]) + (", ..." if len(keys) > 10 else "")
        raise CliError(
            ExitCode.USAGE,
            f"{plan.name} holds a JSON object ({shown}): --generate would replace the whole "
            "object with one password",
            f"rotate one key with --field KEY (e.g. `secrets rotate {plan.name} --field "
            f"{keys[0] if keys else 'password'} --generate`), or add --whole to replace it all",
        )
    if current.value.kind == "binary":
        raise CliError(
            ExitCode.USAGE,
            f"{plan.name} holds binary data ({current.value.size} bytes): --generate would "
            "replace it with a text password",
            "give the new data with --from-file, or add --whole to replace it with a password",
        )


def compose_value(plan: RotationPlan, new: SecretValue) -> SecretValue:
    """The full value to stage: `new` itself, or the JSON secret with one field replaced
    (other keys kept as they are). Refuses a value equal to the current one."""
    if plan.field_key is not None:
        if plan.current is None:
            raise CliError(
                ExitCode.FAILED, "internal: --field needs the current value", REPORT_BUG_HINT
            )
        value = plan.current.value.with_field(plan.field_key, new)
    else:
        value = new
    value.validate()
    if plan.current is not None and plan.current.value == value:
        raise CliError(
            ExitCode.USAGE,
            f"the new value of {plan.name} is the same as the current one; nothing to rotate",
            "give a different value, or use --generate",
        )
    return value


# -- the steps ----------------------------------------------------------------------------------
def stage_pending(store: SecretStore, plan: RotationPlan, value: SecretValue) -> str:
    """Write `value` as a version labelled only AWSPENDING (invisible to readers); returns
    its version id. Idempotent: the same name, value and current version give the same token.

    That token can be an older version's id (the same value rotated again after a rollback):
    AWS then changes nothing, so the label is moved onto that version here.
    """
    token = request_token(plan.name, value, plan.current_version)
    staged = store.put(plan.name, value, token=token, stages=[PENDING])
    if PENDING not in staged.stages:
        version = staged.version_id
        settle(
            store,
            plan.name,
            lambda: store.move_stage(plan.name, PENDING, to_version=version, from_version=None),
            lambda meta: meta.version_with(PENDING) == version,
        )
    return staged.version_id


class RotationChanged(CliError):
    """The secret's AWSCURRENT moved to another version while a rotation was under way (a
    `set`, another rotation): nothing was promoted, and the staged value must not be."""

    step = "promote"


def changed_during_rotation(
    name: str, pending: str, replaced: str | None, state: SecretMetadata
) -> RotationChanged:
    """The refusal to promote `pending` over a version that is no longer AWSCURRENT."""
    found = state.version_with(CURRENT)
    return RotationChanged(
        ExitCode.REFUSED,
        f"{name} changed during the rotation: version {found or '-'} became AWSCURRENT after "
        f"version {pending} was staged to replace {replaced or '-'}; nothing was promoted",
        _pending_left(name, pending, state),
    )


def _pending_left(name: str, pending: str, state: SecretMetadata, flags: str = "") -> str:
    """What is left AWSPENDING, from the labels, and the command that clears it."""
    waiting = state.pending_version
    if waiting == pending:
        return (
            f"`secrets rotate {name} --cancel{flags}` drops the stale pending version "
            f"{pending}; then rotate again from the value as it is now"
        )
    if waiting is not None:
        return (
            f"version {waiting} is AWSPENDING now (staged by another rotation; this run's "
            f"version {pending} holds no label): `secrets rotate {name} --cancel{flags}` drops "
            f"it, `secrets history {name}` shows the labels"
        )
    return (
        f"nothing is left pending (this run's version {pending} holds no label); "
        f"`secrets history {name}` shows the versions"
    )


def promote_pending(store: SecretStore, name: str, pending: str, current: str | None) -> None:
    """AWSCURRENT to the pending version, only from `current` (AWS gives AWSPREVIOUS to it),
    then drop AWSPENDING. Each move is skipped or accepted when the labels already show it
    done; AWSCURRENT found on a third version raises `RotationChanged`.

    The labels are read first: a version whose AWSPENDING was removed meanwhile (a `--cancel`)
    is not promoted. AWS has no condition on another label, so this check and the move are
    two calls; the lease (`rotation_lease`) keeps envsecrets' own `--cancel` away meanwhile."""
    state = store.describe(name)
    found = state.version_with(CURRENT)
    if found != pending and PENDING not in state.version_stages.get(pending, ()):
        other = state.pending_version
        why = (
            f"version {other} is AWSPENDING now, staged by another rotation"
            if other is not None
            else "its AWSPENDING was removed, a cancel"
        )
        raise RotationChanged(
            ExitCode.REFUSED,
            f"{name} changed during the rotation: the pending version {pending} was dropped "
            f"({why}); nothing was promoted",
            f"version {found or '-'} is AWSCURRENT; " + _pending_left(name, pending, state),
        )
    if found != current and found != pending:
        raise changed_during_rotation(name, pending, current, state)
    # No AWSCURRENT when staged (`current` None: a first value staged by another tool) is
    # moved too: AWS adds the label where none is, and refuses once someone else set one.
    if current != pending and found != pending:
        try:
            move_current(store, name, to_version=pending, from_version=current)
        except CurrentMoved as moved:
            raise changed_during_rotation(name, pending, current, moved.state) from None
    settle(
        store,
        name,
        lambda: store.move_stage(name, PENDING, to_version=None, from_version=pending),
        lambda meta: PENDING not in meta.version_stages.get(pending, ()),
    )


def record_rotation(
    store: SecretStore,
    name: str,
    *,
    actor: str,
    log: str,
    when: datetime | None = None,
    version: str | None = None,
    applied_to: str | None = None,
) -> dict[str, str]:
    """Tag the secret with when it was last rotated by this tool, by whom, what its apply
    step told, and (with `version`) add the version it made to `log`, the rotations tag as it
    was, keeping what fits in a tag value (newest first)."""
    moment = (when or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    tags = {
        ROTATED_AT_TAG: moment.isoformat().replace("+00:00", "Z"),
        # AWS caps tag values at 256 characters; a long session name must not fail the record.
        ROTATED_BY_TAG: actor[:MAX_TAG_VALUE],
        APPLIED_TO_TAG: (applied_to or NO_APPLY_STEP)[:MAX_TAG_VALUE],
        LEASE_TAG: "",  # the rotation is over: its lease is emptied in the same call
    }
    if version is not None:
        tags[ROTATIONS_TAG] = rotations_log(version, log)
    store.tag(name, tags)
    return tags


def rotations_log(version: str, log: str) -> str:
    """The rotations tag with `version` added first, older entries dropped to fit."""
    marks = [version[:VERSION_MARK]] + [m for m in log.split() if m != version[:VERSION_MARK]]
    kept: list[str] = []
    for mark in marks:
        if len(" ".join([*kept, mark])) > MAX_TAG_VALUE:
            break
        kept.append(mark)
    return " ".join(kept)


@dataclass(frozen=True)
class RotationRecord:
    """What a secret's tags say about the rotations made of it, for `secrets history`: the
    versions they made (newest first), and the last one's time, actor and apply step."""

    versions: tuple[str, ...] = ()
    rotated_at: str | None = None
    rotated_by: str | None = None
    applied_to: str | None = None

    def of(self, version: str) -> dict[str, Any] | None:
        """How `version` was made by a rotation (None: not by one that left a record); the
        last rotation carries its record."""
        mark = version[:VERSION_MARK]
        if mark not in self.versions:
            return None
        latest = mark == self.versions[0]
        return {
            "latest": latest,
            "rotated_at": self.rotated_at if latest else None,
            "rotated_by": self.rotated_by if latest else None,
            "applied_to": self.applied_to if latest else None,
        }

    def shown(self, version: str) -> str:
        """The MADE BY cell of `secrets history`."""
        made = self.of(version)
        if made is None:
            return ""
        if not made["latest"]:
            return "rotation"
        details = [
            f"applied to {made['applied_to']}"
            if made["applied_to"] not in (None, NO_APPLY_STEP)
            else "",
            f"{made['rotated_at']}" if made["rotated_at"] else "",
            f"by {made['rotated_by']}" if made["rotated_by"] else "",
        ]
        shown = ", ".join(part for part in details if part)
        return f"rotation ({shown})" if shown else "rotation"


def rotation_record(tags: dict[str, str]) -> RotationRecord:
    """The rotation record in a secret's tags (`record_rotation` wrote it)."""
    return RotationRecord(
        versions=tuple(tags.get(ROTATIONS_TAG, "").split()),
        rotated_at=tags.get(ROTATED_AT_TAG),
        rotated_by=tags.get(ROTATED_BY_TAG),
        applied_to=tags.get(APPLIED_TO_TAG),
    )


@dataclass(frozen=True)
class RotationOutcome:
    """A finished rotation (or resume): which version is current now, and the record."""

    name: str
    version_id: str
    previous_version: str | None
    verified: bool = False
    record: dict[str, str] = field(default_factory=dict)
    record_error: str | None = None
    resumed: bool = False
    applied_to: str | None = None  # the apply step's target (`rds:orders`, `command`), if any
    cleanup_error: str | None = None  # the step after promotion failed (an old key left active)

    @property
    def action(self) -> str:
        return "resumed" if self.resumed else "rotated"

    def as_dict(self) -> dict[str, Any]:
        """The documented `--json` object (also a row of bulk rotation and bulk `--resume`)."""
        return {
            "name": self.name,
            "action": self.action,
            "version_id": self.version_id,
            "previous_version_id": self.previous_version,
            "verified": self.verified,
            "rotated_at": self.record.get(ROTATED_AT_TAG),
            "rotated_by": self.record.get(ROTATED_BY_TAG),
            "record_error": self.record_error,
            "applied_to": self.applied_to,
            "cleanup_error": self.cleanup_error,
        }


def sensitive_values(new: SecretValue, current: SecretValue | None) -> list[bytes]:
    """Every value a rotation handles, in every form a verify or apply command may print it
    (`masking.forms_to_mask`: as stored, stripped of surrounding whitespace, line by line,
    JSON- and repr-escaped): the whole new and current values and, for JSON objects, every
    string member of either (nested ones too), changed or not: a command that prints the
    unchanged `api_token` next to the new password leaks it as surely.

    An unchanged member shorter than MIN_PIECE bytes (`"port": "5432"` is not, `"db": "a"`
    is) is left visible: masking every `a` would leave nothing readable, and it reveals next
    to nothing. A member that changed is masked whatever its length."""
    values: list[bytes] = []
    new_members = _string_members(new)
    old_members = _string_members(current) if current is not None else {}
    for value in (new, current):
        if value is not None:
            values += forms_to_mask(value.data())
    for key in set(new_members) | set(old_members):
        changed = new_members.get(key) != old_members.get(key)
        for member in (new_members.get(key), old_members.get(key)):
            if member is not None and (changed or len(member.encode()) >= MIN_PIECE):
                values += forms_to_mask(member)
    return [value for value in dict.fromkeys(values) if value]


def _string_members(value: SecretValue) -> dict[tuple[str | int, ...], str]:
    """The string members of a JSON object, nested ones too, by their path of keys and
    indexes: a tuple, so that a top-level key `"a.b"` and the member `b` of `a` stay two."""
    if value.kind != "json":
        return {}
    found: dict[tuple[str | int, ...], str] = {}

    def walk(node: Any, path: tuple[str | int, ...]) -> None:
        if isinstance(node, str):
            found[path] = node
        elif isinstance(node, dict):
            for key, child in node.items():
                walk(child, (*path, str(key)))
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, (*path, index))

    walk(json.loads(value.text()), ())
    return found


def pending_hint(name: str, version: str, *, promoting: bool = False, flags: str = "") -> str:
    """What to do after a rotation stopped with `version` staged (or half promoted), said from
    what this run did, without looking at the labels (after Ctrl-C, or when AWS is gone).
    `flags` are those the recovery needs again (an apply step given on the command line)."""
    if promoting:
        return (
            f"the promotion of version {version} may be half done: "
            f"`secrets rotate {name} --resume{flags}` finishes it, `--cancel` drops it if "
            "AWSCURRENT has not moved yet (`secrets history` shows the labels)"
        )
    return (
        f"this run did not move AWSCURRENT; its new value was staged as AWSPENDING (version "
        f"{version}): `secrets rotate {name} --resume{flags}` promotes it (after checking that "
        "nothing changed meanwhile), `--cancel` drops it"
    )


def where_it_stands(
    store: SecretStore,
    name: str,
    pending: str,
    replaced: str | None,
    flags: str = "",
    *,
    failed_verification: str | None = None,
) -> str:
    """After a failed verification or promotion, look at the labels to say precisely what is
    left and what clears it; say that the state is unknown when it cannot be read.
    `failed_verification`: the pending value failed its verification, and these are the
    flags (` --verify-cmd '...'`, or "" when a plan in secrets.toml verifies by itself) that
    verify it again: `--cancel` comes first, and `--resume` is never offered without them (it
    would promote the value that just failed)."""
    try:
        state = store.describe(name)
    except CliError:
        if failed_verification is not None:
            return (
                f"the secret's state could not be read: `secrets history {name}` shows the "
                f"labels; `secrets rotate {name} --cancel{flags}` drops the value that failed "
                f"verification, `secrets rotate {name} --resume{flags}{failed_verification}` "
                "verifies it again and promotes it only if it passes"
            )
        return (
            f"the secret's state could not be read: `secrets history {name}` shows the labels; "
            f"`secrets rotate {name} --resume{flags}` finishes a rotation left pending, "
            "`--cancel` drops it"
        )
    unchanged = state.version_with(CURRENT) == replaced and state.pending_version == pending
    if failed_verification is not None and unchanged:
        return (
            f"AWSCURRENT is unchanged; the value that failed verification waits as "
            f"AWSPENDING (version {pending}): `secrets rotate {name} --cancel{flags}` "
            f"drops it; `secrets rotate {name} --resume{flags}{failed_verification}` "
            "verifies it again and promotes it only if it passes"
        )
    return _stands(state, name, pending, replaced, flags)


def told_after_timeout(
    store: SecretStore, name: str, failed: StepFailed, flags: str = ""
) -> CliError:
    """A rotation that ran out of time (exit 6) told again from its labels, read now (the
    caller gives that read a budget of its own): what is left pending and the commands that
    clear it, and, when the promotion went through before the time ran out, that it did."""
    version, replaced = failed.version, failed.replaced
    if version is None:
        return failed
    try:
        state = store.describe(name)
    except CliError:
        return StepFailed(
            failed.step,
            failed.code,
            f"{failed.message}; what the rotation left is unknown (the labels could not be read)",
            f"`secrets history {name}` shows them: version {version} is this run's; "
            f"`secrets rotate {name} --resume{flags}` finishes it if AWSPENDING, `--cancel` "
            "drops it",
            version=version,
            replaced=replaced,
        )
    message = failed.message
    if state.version_with(CURRENT) == version:
        message += f"; yet the rotation went through: version {version} is AWSCURRENT"
    elif state.pending_version == version:
        message += f"; version {version} was staged and waits AWSPENDING"
    hint = _stands(state, name, version, replaced, flags)
    return StepFailed(failed.step, failed.code, message, hint, version=version, replaced=replaced)


def _stands(
    state: SecretMetadata, name: str, pending: str, replaced: str | None, flags: str
) -> str:
    """What the labels in `state` leave of a rotation that staged `pending` over `replaced`."""
    current = state.version_with(CURRENT)
    if current == pending:
        return (
            f"version {pending} is AWSCURRENT already; only removing AWSPENDING failed: "
            f"`secrets rotate {name} --resume{flags}` finishes it"
        )
    if current != replaced:
        return (
            f"version {current or '-'} became AWSCURRENT during the rotation (another change); "
            + _pending_left(name, pending, state, flags)
        )
    if state.pending_version == pending:
        return (
            f"AWSCURRENT is unchanged; the new value waits as AWSPENDING (version {pending}): "
            f"`secrets rotate {name} --resume{flags}` promotes it, `--cancel{flags}` drops it"
        )
    return "AWSCURRENT is unchanged; " + _pending_left(name, pending, state, flags)


@dataclass(frozen=True)
class Finishing:
    """How a staged version is finished, besides the store and its name: the apply step (if
    any) and what the recovery commands need again (`flags`), the record's rotations tag as
    it was (`log`), and whether this is a `--resume`."""

    step: ApplyStep | None = None
    flags: str = ""
    log: str = ""
    resumed: bool = False
    # What verifies a value again in the recovery commands: ` --verify-cmd '...'` when the
    # verify command was given on the command line ("" when a plan verifies by itself).
    verify_flags: str = ""


def finish_rotation(
    store: SecretStore,
    name: str,
    *,
    pending: str,
    current: str | None,
    actor: str,
    value: SecretValue | None = None,
    current_value: SecretValue | None = None,
    verify: Verifier | None = None,
    narrate: Narrator = quiet,
    how: Finishing,
) -> RotationOutcome:
    """Apply (with an apply step), verify (when asked) and promote a staged version, then
    retire what the old value was (the step's `finish`) and leave the record. A failure or
    Ctrl-C (or SIGTERM, SIGHUP) on the way leaves the pending version for `--resume`/`--cancel`
    and says so, from the labels when they can be read, and what the target holds; the
    error is a `StepFailed` naming the step."""
    step, flags = how.step, how.flags
    verified = False
    under_way = "apply" if step is not None else "verify"
    ctx: ApplyContext | None = None
    try:
        if step is not None or verify is not None:
            value, current_value, masked = _rotation_values(
                store, name, pending, value, current, current_value
            )
            if step is not None:
                ctx = ApplyContext(
                    name, pending, value, current_value, current, RESUME if how.resumed else ROTATE
                )
                step.apply(ctx, narrate)
                under_way = "test"
                step.test(ctx, narrate)
            if verify is not None:
                under_way = "verify"
                verify(value, masked)
                verified = True
                narrate("verification passed")
        under_way = "promote"
        promote_pending(store, name, pending, current)
    except RotationChanged:
        release_lease(store, name)
        raise
    except (CliError, KeyboardInterrupt) as stop:
        if isinstance(stop, CliError):
            code, message = stop.code, stop.message
            hint = where_it_stands(
                store,
                name,
                pending,
                current,
                flags,
                failed_verification=how.verify_flags if under_way == "verify" else None,
            )
        else:
            code = ExitCode.INTERRUPTED
            message = f"interrupted ({stopping.cause(stop)}) before the rotation of {name} finished"
            hint = pending_hint(name, pending, promoting=under_way == "promote", flags=flags)
        release_lease(store, name)
        # Either way what the target holds comes first, and the versions let bulk rotation
        # name what the secret was left with.
        raise StepFailed(
            under_way,
            code,
            message,
            _with_target(step, ctx, under_way, hint),
            version=pending,
            replaced=current,
        ) from None
    narrate(f"promoted version {pending} to AWSCURRENT; {current or '-'} keeps AWSPREVIOUS")
    outcome = RotationOutcome(
        name,
        pending,
        current,
        verified,
        resumed=how.resumed,
        applied_to=step.label if step is not None else None,
        cleanup_error=_finish_step(step, ctx, narrate),
    )
    try:
        record = record_rotation(
            store,
            name,
            actor=actor,
            version=pending,
            applied_to=outcome.applied_to,
            log=how.log,
        )
    except CliError as exc:
        # The rotation itself is done and readers have the new value: a missing record
        # (e.g. no secretsmanager:TagResource permission) is worth a warning, not a failure.
        return replace(outcome, record_error=exc.message)
    return replace(outcome, record=record)


def _with_target(
    step: ApplyStep | None, ctx: ApplyContext | None, under_way: str, hint: str
) -> str:
    """The hint after a failure, preceded by what the target holds when there is one."""
    if step is None or ctx is None:
        return hint
    return f"{step.stands(ctx, under_way)}; {hint}"


def _finish_step(step: ApplyStep | None, ctx: ApplyContext | None, narrate: Narrator) -> str | None:
    """The step after promotion (IAM: the old key deactivated). The rotation is done and
    readers have the new value whatever happens here: a failure is reported, not raised."""
    if step is None or ctx is None:
        return None
    try:
        step.finish(ctx, narrate)
    except CliError as exc:
        return exc.message
    return None


def _rotation_values(
    store: SecretStore,
    name: str,
    pending: str,
    value: SecretValue | None,
    current: str | None,
    current_value: SecretValue | None,
) -> tuple[SecretValue, SecretValue | None, list[bytes]]:
    """The staged value (for the apply step and the verify command's stdin), the current
    value (for the apply step to log in with), and every value to mask in their output."""
    if value is None:
        value = store.read(name, version_id=pending).value
    if current_value is None and current is not None and current != pending:
        current_value = store.read(name, version_id=current).value
    return value, current_value, sensitive_values(value, current_value)


def rotate_secret(
    store: SecretStore,
    plan: RotationPlan,
    value: SecretValue,
    *,
    actor: str,
    made: bool,
    verify_flags: str,
    verify: Verifier | None = None,
    narrate: Narrator = quiet,
    step: ApplyStep | None = None,
    flags: str = "",
    lease_seconds: int = LEASE_SECONDS,
) -> RotationOutcome:
    """The whole rotation of one secret to `value` (already composed): stage, apply (with an
    apply `step`), verify, promote, record. `made`: the step made `value` (an IAM key), so a
    staging failure asks it to undo that. `verify_flags`: see `Finishing`. `lease_seconds`:
    how long its lease holds from elsewhere (`rotation_lease.lease_seconds`)."""
    # The lease names the version before it exists: a `--resume`/`--cancel` that sees it
    # pending while this process runs refuses (exit 4) instead of racing this rotation.
    take_lease(
        store,
        plan.name,
        request_token(plan.name, value, plan.current_version),
        seconds=lease_seconds,
    )
    try:
        pending = stage_pending(store, plan, value)
    except CliError as exc:
        hint = exc.hint
        if made and step is not None:
            hint = "; ".join(part for part in (step.abandon(plan.name, value), hint) if part)
        release_lease(store, plan.name)
        # The write may have gone through (a lost reply, retries given up): the version it
        # makes has a known id, so what it left can be read again (`rotation_bulk`).
        raise StepFailed(
            "stage",
            exc.code,
            exc.message,
            hint,
            version=request_token(plan.name, value, plan.current_version),
            replaced=plan.current_version,
        ) from None
    narrate(f"staged version {pending} as AWSPENDING; readers still get {plan.current_version}")
    return finish_rotation(
        store,
        plan.name,
        pending=pending,
        current=plan.current_version,
        actor=actor,
        value=value,
        current_value=plan.current.value if plan.current is not None else None,
        verify=verify,
        narrate=narrate,
        how=Finishing(step=step, flags=flags, log=plan.rotation_log, verify_flags=verify_flags),
    )
