"""The recovery forms of a rotation: finish one whose promotion did not happen (resume), drop
a dangling AWSPENDING (cancel), and move AWSCURRENT back to AWSPREVIOUS (rollback).

Each reads the staging labels first and writes only what is still missing, so each can be
re-run; `finished_already` says when there is nothing to do. Bulk `--resume`/`--cancel`
(`rotation_bulk`) runs these same steps per secret. No AWS, Typer or rich here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from envsecrets.core.labels import CurrentMoved, move_current, settle
from envsecrets.core.rotation import (
    REPORT_BUG_HINT,
    ROTATIONS_TAG,
    Finishing,
    Narrator,
    RotationOutcome,
    Verifier,
    finish_rotation,
    quiet,
    refuse_if_live,
    require_current,
)
from envsecrets.core.rotation_lease import LEASE_SECONDS, take_lease
from envsecrets.core.rotation_targets import (
    CANCEL,
    ROLLBACK,
    ApplyContext,
    ApplyStep,
    StepFailed,
)
from envsecrets.core.store import CURRENT, PENDING, PREVIOUS, SecretStore
from envsecrets.core.values import SecretValue, request_token
from envsecrets.errors import CliError, ExitCode


@dataclass(frozen=True)
class PendingState:
    """What a crashed rotation left: the pending version, and whether it was promoted
    already (AWSPENDING still sits on the current version: only the clean-up is missing), or
    overtaken (AWSCURRENT is no longer the version it was staged to replace). `value` is the
    pending value, when it was read to find that out."""

    name: str
    pending: str | None
    current: str | None
    promoted: bool = False
    overtaken: bool = False
    value: SecretValue | None = None
    rotation_log: str = ""  # the rotations tag, for the record a resume leaves
    tags: dict[str, str] = field(default_factory=dict)  # the secret's (its lease among them)


def find_pending(store: SecretStore, name: str, *, for_resume: bool = False) -> PendingState:
    """The pending version of `name`, if any (exit 3 when the secret does not exist).

    `for_resume` also finds out whether the pending version was overtaken (`staged_over`),
    which reads its value: a cancel needs neither.
    """
    meta = store.describe(name)
    current = meta.version_with(CURRENT)
    pending = meta.pending_version
    log = meta.tags.get(ROTATIONS_TAG, "")
    if pending is not None:
        if not for_resume or current is None:
            return PendingState(name, pending, current, rotation_log=log, tags=meta.tags)
        value = store.read(name, version_id=pending).value
        overtaken = _overtaken(store, name, pending, value, current)
        return PendingState(
            name,
            pending,
            current,
            overtaken=overtaken,
            value=value,
            rotation_log=log,
            tags=meta.tags,
        )
    if current is not None and PENDING in meta.version_stages.get(current, ()):
        return PendingState(name, current, current, promoted=True)
    return PendingState(name, None, current)


def _overtaken(
    store: SecretStore, name: str, pending: str, value: SecretValue, current: str
) -> bool:
    """Whether AWSCURRENT moved after `pending` was staged: promoting it would silently undo
    the newer value (`secrets set` moves AWSCURRENT and leaves AWSPENDING where it was).

    The rule compares version ids: a version staged by envsecrets has the id
    `request_token(name, value, V)`, V being the version it was staged to replace. So it is
    current-safe exactly when that V is `current`; staged over any other version, it is
    overtaken. A version staged by another tool (a rotation Lambda, the AWS CLI) matches no V:
    then creation dates decide where they differ, and it is promoted when they cannot tell
    (moto gives every version of a second the same date; AWS's are precise).
    """
    if request_token(name, value, current) == pending:
        return False
    versions = store.versions(name)
    if any(request_token(name, value, v.version_id) == pending for v in versions):
        return True
    created = {v.version_id: v.created for v in versions}
    staged, now = created.get(pending), created.get(current)
    return staged is not None and now is not None and now > staged


def overtaken_error(state: PendingState) -> CliError:
    """The refusal to promote a pending version that a newer AWSCURRENT has overtaken."""
    return CliError(
        ExitCode.REFUSED,
        f"{state.name} changed after the pending version {state.pending} was staged: "
        f"version {state.current} is AWSCURRENT now, not the version {state.pending} was "
        "staged to replace; promoting it would undo that change",
        f"`secrets rotate {state.name} --cancel` drops the stale pending version; "
        "then rotate again",
    )


def resume_rotation(
    store: SecretStore,
    state: PendingState,
    *,
    actor: str,
    verify: Verifier | None = None,
    narrate: Narrator = quiet,
    step: ApplyStep | None = None,
    flags: str = "",
    verify_flags: str = "",
    lease_seconds: int = LEASE_SECONDS,
) -> RotationOutcome:
    """Finish what `state` describes: promote the staged value as it is (never a fresh one),
    after running the apply `step` again (apply steps are idempotent) and verifying.
    `verify_flags`: see `Finishing`; `lease_seconds`: how long its lease holds."""
    if state.pending is None:
        raise CliError(ExitCode.FAILED, "internal: nothing pending to resume", REPORT_BUG_HINT)
    refuse_if_live(state.name, state.pending, state.tags, "resume")
    if state.overtaken:
        raise overtaken_error(state)
    if state.promoted:
        # The promotion happened; the AWSPENDING left on the current version is harmless and
        # stays (`finished_already` says why): nothing to write.
        narrate(f"version {state.pending} was already AWSCURRENT; nothing to resume")
        meta = store.describe(state.name)
        return RotationOutcome(state.name, state.pending, meta.version_with(PREVIOUS), resumed=True)
    # A resume runs the apply step and the verification again: it holds the lease meanwhile.
    take_lease(store, state.name, state.pending, seconds=lease_seconds)
    return finish_rotation(
        store,
        state.name,
        pending=state.pending,
        current=state.current,
        actor=actor,
        value=state.value,
        verify=verify,
        narrate=narrate,
        how=Finishing(
            step=step,
            flags=flags,
            log=state.rotation_log,
            resumed=True,
            verify_flags=verify_flags,
        ),
    )


@dataclass(frozen=True)
class NothingPending:
    """`--resume` or `--cancel` of one secret with nothing to do, and why."""

    name: str
    current_version: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """The documented `--json` object."""
        return {
            "name": self.name,
            "action": "nothing pending",
            "version_id": self.current_version,
            "reason": self.reason,
        }


def finished_already(state: PendingState) -> str | None:
    """Why there is nothing to resume or cancel in `state`, or None when there is.

    A version that is AWSCURRENT and still labelled AWSPENDING (a crash between the two label
    moves of a promotion) counts as finished: readers already get it, and AWS treats the
    pair as a completed rotation (RotateSecret refuses only when AWSPENDING sits on another
    version, and the next PutSecretValue with AWSPENDING moves the label). Removing it would
    be a write to the environment that no reader could notice, so none is made.
    """
    if state.pending is None:
        return f"no pending version; version {state.current or '-'} is AWSCURRENT"
    if state.promoted:
        return (
            f"the rotation finished: version {state.pending} is AWSCURRENT already (its "
            "leftover AWSPENDING label is harmless and left as it is)"
        )
    return None


def nothing_pending(state: PendingState) -> NothingPending | None:
    """The no-op result for `state` when `finished_already` finds nothing to do, else None."""
    reason = finished_already(state)
    return None if reason is None else NothingPending(state.name, state.current, reason)


@dataclass(frozen=True)
class CancelledPending:
    """A pending version dropped: AWSCURRENT stayed on `current_version`."""

    name: str
    pending_version: str
    current_version: str | None

    def as_dict(self) -> dict[str, Any]:
        """The documented `--json` object (also a row of bulk `--cancel`)."""
        return {
            "name": self.name,
            "action": "cancelled",
            "pending_version_id": self.pending_version,
            "version_id": self.current_version,
        }


def cancel_pending(
    store: SecretStore,
    state: PendingState,
    *,
    step: ApplyStep | None = None,
    narrate: Narrator = quiet,
) -> CancelledPending:
    """Remove AWSPENDING from a dangling version (AWS deprecates the unlabelled version);
    AWSCURRENT is untouched. With an apply `step`, the target is first made to hold the
    current value again (it may hold the pending one if the apply step ran): its `discard`.
    Callers check `finished_already` first: with nothing pending, or a finished rotation's
    label on the current version, there is nothing to cancel."""
    if state.pending is None or state.promoted:
        raise CliError(ExitCode.FAILED, "internal: nothing pending to cancel", REPORT_BUG_HINT)
    refuse_if_live(state.name, state.pending, state.tags, "cancel")
    pending = state.pending
    if step is not None:
        _discard(store, state, pending, step, narrate)
    settle(
        store,
        state.name,
        lambda: store.move_stage(state.name, PENDING, to_version=None, from_version=pending),
        lambda meta: PENDING not in meta.version_stages.get(pending, ()),
    )
    if step is not None:
        _require_still_current(store, state, pending, step)
    return CancelledPending(state.name, pending, state.current)


def _require_still_current(
    store: SecretStore, state: PendingState, pending: str, step: ApplyStep
) -> None:
    """After the target was given the current value back: a write made meanwhile by someone
    else leaves the target holding a value that is no longer AWSCURRENT. Told, never hidden
    behind "still AWSCURRENT"."""
    meta = store.describe(state.name)
    found = meta.version_with(CURRENT)
    if found != state.current:
        raise _target_left_behind(
            CurrentMoved(state.name, state.current, found, meta),
            f"the pending version {pending} was dropped, but {step.label} was given version "
            f"{state.current} back and may hold that value now",
            step,
        )


def _target_left_behind(
    moved: CurrentMoved, what: str, step: ApplyStep, then: str = ""
) -> CliError:
    """A recovery whose apply step ran, then found that someone else wrote meanwhile: the
    target holds a value that is not AWSCURRENT, and the way out says how to mend it."""
    return CliError(
        ExitCode.REFUSED,
        f"{moved.message}; {what}",
        f"give {step.label} the AWSCURRENT value again (`secrets history {moved.name}` shows "
        f"the versions){then}",
    )


def _discard(
    store: SecretStore, state: PendingState, pending: str, step: ApplyStep, narrate: Narrator
) -> None:
    if state.current is None:
        raise CliError(
            ExitCode.REFUSED,
            f"{state.name} has no AWSCURRENT version to put back on {step.label}",
            f"`secrets history {state.name}` shows its versions",
        )
    value = state.value or store.read(state.name, version_id=pending).value
    current = store.read(state.name, version_id=state.current).value
    ctx = ApplyContext(state.name, pending, value, current, state.current, CANCEL)
    try:
        step.discard(ctx, narrate)
    except CliError as exc:
        raise StepFailed(
            "apply",
            exc.code,
            f"{exc.message}; the pending version {pending} was kept",
            f"fix what stopped it, then run `--cancel` again (or `--resume` to promote "
            f"version {pending} instead)",
        ) from None


# A rollback records which versions it moved AWSCURRENT between, so that a second `--rollback`
# can tell that it would only re-promote the value just rolled back.
ROLLED_BACK_FROM_TAG = "envsecrets:rolled-back-from"
ROLLED_BACK_TO_TAG = "envsecrets:rolled-back-to"


@dataclass(frozen=True)
class RollbackPlan:
    """A rollback about to happen: AWSCURRENT moves from `current` back to `previous`."""

    name: str
    current: str
    previous: str


@dataclass(frozen=True)
class RolledBack:
    """A finished rollback: `version_id` is AWSCURRENT again, `previous_version` AWSPREVIOUS.
    `record_error` says why the rollback's record (its tags) could not be written."""

    name: str
    version_id: str
    previous_version: str
    record_error: str | None = None
    applied_to: str | None = None  # the apply step's target, given the previous value
    cleanup_error: str | None = None  # retiring the rolled-back value failed

    def as_dict(self) -> dict[str, Any]:
        """The documented `--json` object."""
        return {
            "name": self.name,
            "action": "rolled back",
            "version_id": self.version_id,
            "previous_version_id": self.previous_version,
            "record_error": self.record_error,
            "applied_to": self.applied_to,
            "cleanup_error": self.cleanup_error,
        }


@dataclass(frozen=True)
class RolledBackAlready:
    """`--rollback` with nothing to do: the last rollback's state is still in place."""

    name: str
    version_id: str
    previous_version: str

    @property
    def reason(self) -> str:
        return (
            f"already rolled back: version {self.version_id} is AWSCURRENT again since a "
            f"rollback from version {self.previous_version} (AWSPREVIOUS); rolling back again "
            "would promote the value that was rolled back"
        )

    def as_dict(self) -> dict[str, Any]:
        """The documented `--json` object."""
        return {
            "name": self.name,
            "action": "nothing to roll back",
            "version_id": self.version_id,
            "previous_version_id": self.previous_version,
            "reason": self.reason,
        }


def plan_rollback(store: SecretStore, name: str) -> RollbackPlan | RolledBackAlready:
    """AWSCURRENT and AWSPREVIOUS of `name`; refused (exit 4) without a previous version.

    The rule for "already rolled back": the secret's rollback tags name AWSCURRENT's version as
    the one rolled back to and AWSPREVIOUS's as the one rolled back from. That is exactly the
    state a rollback leaves; any later write (`set`, a rotation, another tool's put) moves
    AWSCURRENT, so the rule stops holding and the next `--rollback` rolls that write back.
    Dates cannot decide it: a write may bring back an older version (the same value set again
    after a rollback reuses its version), and the emulator gives versions equal dates.
    """
    meta = store.describe(name)
    current = require_current(meta)
    previous = meta.version_with(PREVIOUS)
    if previous is None or previous == current:
        raise CliError(
            ExitCode.REFUSED,
            f"{name} has no AWSPREVIOUS version to roll back to",
            f"`secrets history {name}` lists its versions",
        )
    if meta.tags.get(ROLLED_BACK_TO_TAG) == current and (
        meta.tags.get(ROLLED_BACK_FROM_TAG) == previous
    ):
        return RolledBackAlready(name, current, previous)
    return RollbackPlan(name, current, previous)


def rollback(
    store: SecretStore,
    plan: RollbackPlan,
    *,
    step: ApplyStep | None = None,
    narrate: Narrator = quiet,
) -> RolledBack:
    """Move AWSCURRENT back to the AWSPREVIOUS version, only from the version planned (a change
    made since is refused with exit 4), and record the rollback in the secret's tags.

    With an apply `step`, the target is given the previous value first (and checked), as a
    rotation to it would: a database must take its old password back, an IAM user's previous
    key must be active again. Any failure there moves nothing. After the move, the step
    retires what the rolled-back value was (IAM: that key is deactivated)."""
    ctx = None
    if step is not None:
        ctx = ApplyContext(
            plan.name,
            plan.previous,
            store.read(plan.name, version_id=plan.previous).value,
            store.read(plan.name, version_id=plan.current).value,
            plan.current,
            ROLLBACK,
        )
        try:
            step.apply(ctx, narrate)
            step.test(ctx, narrate)
        except CliError as exc:
            raise StepFailed(
                "apply",
                exc.code,
                f"{exc.message}; nothing was rolled back",
                f"version {plan.current} is still AWSCURRENT; {step.label} may hold either "
                "value: fix what stopped it and run --rollback again",
            ) from None
    try:
        move_current(store, plan.name, to_version=plan.previous, from_version=plan.current)
    except CurrentMoved as moved:
        if step is None:
            raise
        # Someone wrote after the plan: the target was given the previous value already and
        # now disagrees with the secret. Say so; the rule "nothing is half-done silently".
        raise _target_left_behind(
            moved,
            f"nothing was rolled back, but {step.label} was given version {plan.previous} "
            "first and may hold that value now",
            step,
            then=", then run --rollback again if it is still wanted",
        ) from None
    cleanup_error = None
    if step is not None and ctx is not None:
        try:
            step.finish(ctx, narrate)
        except CliError as exc:
            cleanup_error = exc.message
    rolled_back = RolledBack(
        plan.name,
        plan.previous,
        plan.current,
        applied_to=step.label if step is not None else None,
        cleanup_error=cleanup_error,
    )
    try:
        store.tag(
            plan.name, {ROLLED_BACK_FROM_TAG: plan.current, ROLLED_BACK_TO_TAG: plan.previous}
        )
    except CliError as exc:
        # The rollback is done; without its record a second --rollback cannot tell and would
        # re-promote the rolled-back value. Worth a warning, not a failure.
        return replace(rolled_back, record_error=exc.message)
    return rolled_back
