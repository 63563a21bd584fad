"""The recovery forms of a rotation: finish one whose promotion did not happen (resume), drop
a dangling AWSPENDING (cancel), and move AWSCURRENT back to AWSPREVIOUS (rollback).

Each reads the staging labels first and writes only what is still missing, so each can be
re-run; `finished_already` says when there is nothing to do. Bulk `--resume`/`--cancel`
(`rotation_bulk`) runs these same steps per secret. No AWS, Typer or rich here.
"""

from __future__ import annotations

from dataclasses import dataclass

from envsecrets.core.rotation import (
    REPORT_BUG_HINT,
    Narrator,
    RotationOutcome,
    Verifier,
    finish_rotation,
    quiet,
    require_current,
    settle,
)
from envsecrets.core.store import CURRENT, PENDING, PREVIOUS, SecretStore
from envsecrets.errors import CliError, ExitCode


@dataclass(frozen=True)
class PendingState:
    """What a crashed rotation left: the pending version, and whether it was promoted
    already (AWSPENDING still sits on the current version: only the clean-up is missing), or
    overtaken (a newer value was set as AWSCURRENT after it was staged)."""

    name: str
    pending: str | None
    current: str | None
    promoted: bool = False
    overtaken: bool = False


def find_pending(store: SecretStore, name: str) -> PendingState:
    """The pending version of `name`, if any (exit 3 when the secret does not exist)."""
    meta = store.describe(name)
    current = meta.version_with(CURRENT)
    pending = meta.pending_version
    if pending is not None:
        created = {v.version_id: v.created for v in store.versions(name)}
        staged, now = created.get(pending), created.get(current or "")
        # `secrets set` after a crash moves AWSCURRENT and leaves AWSPENDING where it was:
        # promoting that older value would silently undo the newer one. (moto reports one
        # CreatedDate for every version, so this cannot be exercised against the emulator.)
        overtaken = staged is not None and now is not None and now > staged
        return PendingState(name, pending, current, overtaken=overtaken)
    if current is not None and PENDING in meta.version_stages.get(current, ()):
        return PendingState(name, current, current, promoted=True)
    return PendingState(name, None, current)


def overtaken_error(state: PendingState) -> CliError:
    """The refusal to promote a pending version that a newer AWSCURRENT has overtaken."""
    return CliError(
        ExitCode.REFUSED,
        f"{state.name} changed after the pending version {state.pending} was staged: "
        f"version {state.current} (AWSCURRENT) is newer",
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
) -> RotationOutcome:
    """Finish what `state` describes: promote the staged value as it is (never a fresh one)."""
    if state.pending is None:
        raise CliError(ExitCode.FAILED, "internal: nothing pending to resume", REPORT_BUG_HINT)
    if state.overtaken:
        raise overtaken_error(state)
    if state.promoted:
        # The promotion happened; the AWSPENDING left on the current version is harmless and
        # stays (`finished_already` says why): nothing to write.
        narrate(f"version {state.pending} was already AWSCURRENT; nothing to resume")
        meta = store.describe(state.name)
        return RotationOutcome(state.name, state.pending, meta.version_with(PREVIOUS), resumed=True)
    return finish_rotation(
        store,
        state.name,
        pending=state.pending,
        current=state.current,
        actor=actor,
        verify=verify,
        narrate=narrate,
        resumed=True,
    )


def cancel_pending(store: SecretStore, state: PendingState) -> str | None:
    """Remove AWSPENDING from a dangling version (AWS deprecates the unlabelled version);
    AWSCURRENT is untouched. Returns the version it was removed from, or None (nothing
    pending, or a finished rotation's label on the current version: see `finished_already`)."""
    if state.pending is None or state.promoted:
        return None
    pending = state.pending
    settle(
        store,
        state.name,
        lambda: store.move_stage(state.name, PENDING, to_version=None, from_version=pending),
        lambda meta: PENDING not in meta.version_stages.get(pending, ()),
    )
    return pending


@dataclass(frozen=True)
class RollbackPlan:
    name: str
    current: str
    previous: str


def plan_rollback(store: SecretStore, name: str) -> RollbackPlan:
    """AWSCURRENT and AWSPREVIOUS of `name`; refused (exit 4) without a previous version."""
    meta = store.describe(name)
    current = require_current(meta)
    previous = meta.version_with(PREVIOUS)
    if previous is None or previous == current:
        raise CliError(
            ExitCode.REFUSED,
            f"{name} has no AWSPREVIOUS version to roll back to",
            f"`secrets history {name}` lists its versions",
        )
    return RollbackPlan(name, current, previous)


def rollback(store: SecretStore, plan: RollbackPlan) -> None:
    """Move AWSCURRENT back to the AWSPREVIOUS version (AWS gives AWSPREVIOUS to the version
    that was current, so a second rollback undoes the first)."""
    settle(
        store,
        plan.name,
        lambda: store.move_stage(
            plan.name, CURRENT, to_version=plan.previous, from_version=plan.current
        ),
        lambda meta: meta.version_with(CURRENT) == plan.previous,
    )


@dataclass(frozen=True)
class CancelledPending:
    """A pending version dropped: AWSCURRENT stayed on `current`."""

    name: str
    pending_version: str
    current_version: str | None


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
