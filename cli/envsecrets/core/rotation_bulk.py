"""Bulk rotation: plan the secrets of a scope, rotate them to generated values, and finish or
drop what an interrupted run left pending, each secret through the single-secret steps on the
shared bounded pool (`core/pool.py`).

One secret's failure never stops the others; each is reported. No AWS, Typer or rich here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, as_completed
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Generic, TypeVar

from envsecrets import stopping
from envsecrets.core.passwords import PasswordPool, PasswordRules
from envsecrets.core.pool import WorkPool
from envsecrets.core.rotation import (
    REPORT_BUG_HINT,
    RotationOutcome,
    RotationStore,
    Verifier,
    compose_value,
    plan_rotation,
    rotate_secret,
)
from envsecrets.core.rotation_lease import LEASE_SECONDS
from envsecrets.core.rotation_recovery import (
    CancelledPending,
    cancel_pending,
    find_pending,
    finished_already,
    resume_rotation,
)
from envsecrets.core.rotation_targets import ApplyStep, Preparation, step_of
from envsecrets.core.store import CURRENT, SecretStore, StoredValue
from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode

DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 32
# At most this many secrets of one target kind are applied at once (each kind on a pool of
# its own): RDS's API allows 12 calls a second per account (a burst of 300) and each
# database polled while it applies its password takes a share; IAM's write API is slower
# still. Secrets without a target, or with an apply command, use --concurrency.
KIND_CONCURRENCY = {"rds": 8, "rds-cluster": 8, "iam-user": 4}
NO_STEP = "none"


# -- bulk rotation ------------------------------------------------------------------------------
@dataclass(frozen=True)
class BulkItem:
    """One secret of a bulk plan: rotated unless `skip` says why not. `last_changed` is when
    its current value was written; `set_before` the limit it was planned against (None:
    every secret is due), which is checked again right before the secret is rotated."""

    name: str
    last_changed: datetime | None
    known: StoredValue | None = None
    skip: str | None = None
    set_before: datetime | None = None


def plan_bulk(
    store: SecretStore,
    prefix: str,
    *,
    older_than_days: int,
    field_key: str | None = None,
    now: datetime | None = None,
) -> list[BulkItem]:
    """Secrets under `prefix` whose value is older than `older_than_days` days.

    A value's age is its AWSCURRENT version's CreatedDate, not LastChangedDate, which any tag
    or description moves (`core/ages.py`). The listing narrows the search; the values of the
    secrets found are read in batches (BatchGetSecretValue), which gives each one's date as
    it is now: the listing may lag by minutes, and a secret rotated a moment ago must not be
    rotated again. The values keep what a plain password would break: JSON objects rotate
    only with `--field KEY`, binary never.
    """
    from envsecrets.core.ages import values_set_before

    limit = (
        None
        if older_than_days == 0
        else (now or datetime.now(UTC)) - timedelta(days=older_than_days)
    )
    listed = [meta for meta in store.list(prefix) if not meta.scheduled_for_deletion]
    due = listed if limit is None else values_set_before(store, listed, limit)
    due.sort(key=lambda meta: meta.name)
    reads = store.read_many([meta.name for meta in due]) if due else None
    items: list[BulkItem] = []
    for meta in due:
        changed = meta.last_changed or meta.created
        known = reads.values.get(meta.name) if reads else None
        if known is None:
            error = reads.errors.get(meta.name, "Missing") if reads else "Missing"
            items.append(BulkItem(meta.name, changed, skip=f"could not read it ({error})"))
            continue
        if limit is not None and known.created is not None and known.created >= limit:
            continue  # written since the listing was made: not due after all
        reason = _skip_reason(known.value, field_key)
        items.append(BulkItem(meta.name, known.created or changed, known, reason, limit))
    return items


def _skip_reason(value: SecretValue, field_key: str | None) -> str | None:
    if field_key is not None:
        try:
            value.field(field_key)
        except CliError as exc:
            return exc.message
        return None
    if value.kind == "json":
        return "a JSON object: rotate one key with --field KEY"
    if value.kind == "binary":
        return "binary: a generated password would replace it"
    return None


# What a failed rotation left, from its labels read again after the run (`BulkFailure.left`):
UNCHANGED = "unchanged"  # AWSCURRENT where it was, nothing of this run pending: safe to retry
PENDING_LEFT = "pending"  # the new value waits AWSPENDING: `--resume` / `--cancel`
PROMOTED = "promoted"  # the new value IS AWSCURRENT despite the error: nothing to redo
CHANGED = "changed"  # another writer moved AWSCURRENT meanwhile
UNKNOWN = "unknown"  # the labels could not be read: AWSCURRENT may have moved


@dataclass(frozen=True)
class BulkFailure:
    """One secret of a bulk run that failed, and why (the error the secret alone would give).

    `left` says what the failure left (UNCHANGED, PENDING_LEFT, PROMOTED, CHANGED or
    UNKNOWN), from the labels read again after the run; None when not read (a rotation
    refused before it began, or one stopped by a signal, which says so itself)."""

    name: str
    error: CliError
    left: str | None = None
    version: str | None = None  # the version this rotation staged (or was staging)

    @property
    def step(self) -> str:
        """The step the secret stopped in: plan, stage, apply, test, verify, promote."""
        return step_of(self.error)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "step": self.step,
            "error": self.error.as_dict(),
            "state": self.left,
            # Nothing of this run staged (or what was staged is gone): no version to name.
            "version_id": None if self.left == UNCHANGED else self.version,
        }


def what_failures_left(store: SecretStore, failures: Sequence[BulkFailure]) -> list[BulkFailure]:
    """Each failure with what it left, from the secret's labels read again now.

    A step that failed after retries may still have happened at AWS (a lost reply, a
    timeout after the write went through): under heavy faults a "failed" promotion can have
    moved AWSCURRENT. So a failure is never reported as "nothing changed" from the error
    alone. Failures before staging (plan) changed nothing; those whose labels cannot be read
    are UNKNOWN, and must not be retried blindly."""
    return [_what_left(store, failure) for failure in failures]


def _stopped_version(failure: BulkFailure) -> BulkFailure:
    """A rotation stopped by a signal with the version it staged (or was staging), from its
    error: its labels are not read again, and its message says that it was stopped."""
    version = getattr(failure.error, "version", None)
    if failure.error.code != ExitCode.INTERRUPTED or not isinstance(version, str):
        return failure
    return replace(failure, version=version)


def _what_left(store: SecretStore, failure: BulkFailure) -> BulkFailure:
    error = failure.error
    version, replaced = getattr(error, "version", None), getattr(error, "replaced", None)
    if failure.step == "plan" or not isinstance(version, str):
        return replace(failure, left=UNCHANGED) if failure.step == "plan" else failure
    if error.code == ExitCode.INTERRUPTED:
        return _stopped_version(failure)
    try:
        state = store.describe(failure.name)
    except CliError:
        return replace(failure, left=UNKNOWN, version=version)
    current = state.version_with(CURRENT)
    if current == version:
        left = PROMOTED
    elif state.pending_version == version:
        left = PENDING_LEFT
    elif current == replaced:
        left = UNCHANGED
    else:
        left = CHANGED
    return replace(failure, left=left, version=version)


@dataclass
class BulkReport:
    """What a bulk rotation did, secret by secret; `skipped` are the plan's items not due."""

    rotated: list[RotationOutcome] = field(default_factory=list)
    failed: list[BulkFailure] = field(default_factory=list)
    skipped: list[BulkItem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict[str, Any]:
        """The documented `--json` document of bulk rotation (README "Rotation")."""
        return {
            "rotated": [outcome.as_dict() for outcome in self.rotated],
            "failed": [failure.as_dict() for failure in self.failed],
            "skipped": [{"name": item.name, "reason": item.skip} for item in self.skipped],
        }


BulkResult = RotationOutcome | BulkFailure | BulkItem


class BulkInterrupted(KeyboardInterrupt):
    """A bulk rotation stopped by Ctrl-C, SIGTERM or SIGHUP: what it did before it stopped
    (`report`; a rotation stopped half-way is a failure whose error names its pending version),
    and the secrets it had not started (`not_started`), untouched."""

    def __init__(self, report: BulkReport, not_started: list[str], cause: str) -> None:
        super().__init__(cause)
        self.report = report
        self.not_started = not_started
        self.cause = cause

    @property
    def left_pending(self) -> list[BulkFailure]:
        """The rotations stopped between staging and promotion."""
        return [f for f in self.report.failed if f.error.code == ExitCode.INTERRUPTED]


@dataclass(frozen=True)
class Recipe:
    """How one secret of a bulk run rotates (its plan in secrets.toml, flags over it): the
    rules of its generated value (None when its apply step makes the value), its JSON key,
    its verification, and a maker of its apply step (one per secret: a step looks at its
    target before the value is made). `kind` groups the secrets whose targets share a pool."""

    rules: PasswordRules | None = None
    field_key: str | None = None
    verify: Verifier | None = None
    make_step: Callable[[], ApplyStep] | None = None
    kind: str = NO_STEP
    label: str | None = None  # the target as the plan table shows it
    lease_seconds: int = LEASE_SECONDS  # how long its lease holds (its own limits)


def replan(items: Sequence[BulkItem], decide: Callable[[BulkItem], str | None]) -> list[BulkItem]:
    """The bulk plan with each item's skip reason decided again by `decide` (from the
    secret's own rotation plan: an RDS target's JSON shape or an IAM key is not skipped)."""
    return [item if item.known is None else replace(item, skip=decide(item)) for item in items]


def plan_skip_reason(item: BulkItem, recipe: Recipe) -> str | None:
    """Why a due secret with a rotation plan is left alone: a generated value would break
    its JSON object or binary value (as without a plan), unless its apply step takes the
    value as it is (an IAM key, RDS's JSON shape, which the step checks itself)."""
    if recipe.kind in ("iam-user", "rds", "rds-cluster") or item.known is None:
        return None
    return _skip_reason(item.known.value, recipe.field_key)


def rotate_many(
    store: RotationStore,
    items: Sequence[BulkItem],
    *,
    rules: PasswordRules | None,
    actor: str,
    field_key: str | None = None,
    verify: Verifier | None = None,
    workers: int = DEFAULT_CONCURRENCY,
    on_done: Callable[[BulkResult], None] | None = None,
    recipes: Mapping[str, Recipe] | None = None,
    verify_flags: str = "",
    lease_seconds: int = LEASE_SECONDS,
) -> BulkReport:
    """Rotate every item not marked `skip`, `workers` at a time (and at most
    KIND_CONCURRENCY[kind] of one target kind): to a generated value by `rules`, or as its
    recipe says (its plan in secrets.toml). `verify_flags`: what a secret's `--resume` needs
    to verify again after its verification failed (see `rotation.Finishing`); `lease_seconds`:
    how long the lease of a secret without a recipe holds.

    One failure does not stop the others; each secret goes through the same idempotent steps
    as a single rotation, so a run cut short leaves at most pending versions for `--resume`.
    Stopped by a signal, it finishes or stops the rotations under way, starts no other, and
    raises `BulkInterrupted` with what was done.
    """
    default = Recipe(rules=rules, field_key=field_key, verify=verify, lease_seconds=lease_seconds)
    passwords = _Passwords(store)
    report = BulkReport(skipped=[item for item in items if item.skip is not None])

    def one(item: BulkItem, recipe: Recipe) -> RotationOutcome | BulkItem:
        step = recipe.make_step() if recipe.make_step is not None else None
        # The plan's value is reused while it is still the current version (no extra call);
        # if the secret has a new value since the plan, that value is read and its date
        # checked again: another run (or a person) may have rotated it meanwhile.
        plan = plan_rotation(store, item.name, field_key=recipe.field_key, known=item.known)
        fresh = _written_since_plan(item, plan.current)
        if fresh is not None:
            return fresh
        prep = Preparation()
        if step is not None:
            prep = step.prepare(item.name, plan.current.value if plan.current else None)
            if prep.field_key is not None and plan.field_key is None:
                plan = replace(plan, field_key=prep.field_key)
        value = None
        if not prep.makes_value:
            wanted = step.generation_rules(recipe.rules) if step is not None else recipe.rules
            value = compose_value(plan, passwords.take(item.name, wanted))
            if step is not None:
                step.check_value(item.name, value)
        if stopping.requested():
            raise _NotStarted()  # stopped before this secret was changed
        if value is None and step is not None:
            value = step.make_value(item.name, plan.current.value if plan.current else None)
        if value is None:
            raise CliError(ExitCode.FAILED, f"internal: no value for {item.name}", REPORT_BUG_HINT)
        return rotate_secret(
            store,
            plan,
            value,
            actor=actor,
            verify=recipe.verify,
            step=step,
            made=prep.makes_value,
            verify_flags=verify_flags,
            lease_seconds=recipe.lease_seconds,
        )

    chosen = recipes or {}
    jobs = [
        _Job(
            item.name,
            partial(one, item, chosen.get(item.name, default)),
            chosen.get(item.name, default).kind,
        )
        for item in items
        if item.skip is None
    ]
    run = _run_in_pool(jobs, workers=workers, alone="--generate", on_done=on_done)
    for result in run.results:
        if isinstance(result, BulkFailure):
            report.failed.append(result)
        elif isinstance(result, BulkItem):
            report.skipped.append(result)
        else:
            report.rotated.append(result)
    report.rotated.sort(key=lambda outcome: outcome.name)
    report.failed.sort(key=lambda failure: failure.name)
    report.skipped.sort(key=lambda item: item.name)
    if run.stopped_by is not None:
        # No label is read after a stop; a rotation stopped half-way names its version itself.
        report.failed = [_stopped_version(failure) for failure in report.failed]
        raise BulkInterrupted(report, sorted(run.not_started), stopping.cause(run.stopped_by))
    report.failed = what_failures_left(store, report.failed)
    return report


def _written_since_plan(item: BulkItem, current: StoredValue | None) -> BulkItem | None:
    """The item, skipped, when its current value is not the planned one and was written
    after the plan's limit; None when it is still due."""
    if item.set_before is None or current is None or item.known is None:
        return None
    if current.version_id == item.known.version_id:
        return None
    if current.created is None or current.created < item.set_before:
        return None
    return BulkItem(
        item.name,
        current.created,
        current,
        skip=f"its value changed since the plan (version {current.version_id}, written "
        f"{current.created.astimezone(UTC):%Y-%m-%d %H:%M} UTC): not rotated again",
        set_before=item.set_before,
    )


class _Passwords:
    """One PasswordPool per set of rules (secrets of different engines need different ones),
    made as they are first needed."""

    def __init__(self, store: RotationStore) -> None:
        self.store = store
        self.pools: dict[PasswordRules, PasswordPool] = {}
        self.lock = threading.Lock()

    def take(self, name: str, rules: PasswordRules | None) -> SecretValue:
        if rules is None:
            raise CliError(
                ExitCode.USAGE,
                f"{name} has no value to rotate to: no --generate and no generate in its "
                "rotation plan",
                "add --generate, or declare generate (or a target) in secrets.toml [rotation]",
            )
        with self.lock:
            pool = self.pools.get(rules)
            if pool is None:
                pool = self.pools[rules] = PasswordPool(self.store, rules)
        return pool.take()


# -- bulk recovery: finish or drop what an interrupted run left pending -------------------------
RESUME = "resume"
CANCEL = "cancel"


@dataclass(frozen=True)
class PendingItem:
    """A secret whose listing shows a rotation left pending: AWSPENDING on `pending`, a
    version other than the AWSCURRENT one (`current`)."""

    name: str
    pending: str
    current: str | None


def plan_pending(store: SecretStore, prefix: str) -> list[PendingItem]:
    """Every secret under `prefix` with a dangling AWSPENDING, sorted by name.

    Found from the listing alone: ListSecrets pages carry each secret's staging labels, so
    this costs one call per 100 secrets, not a DescribeSecret each. The listing is eventually
    consistent; `recover_pending` looks at each secret again before it changes anything.
    """
    found = [
        PendingItem(meta.name, pending, meta.version_with(CURRENT))
        for meta in store.list(prefix)
        if not meta.scheduled_for_deletion and (pending := meta.pending_version) is not None
    ]
    return sorted(found, key=lambda item: item.name)


@dataclass(frozen=True)
class LeftAlone:
    """A planned secret with nothing left to do when its turn came, and why."""

    name: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "reason": self.reason}


RecoveryResult = RotationOutcome | CancelledPending | LeftAlone


@dataclass
class RecoveryReport:
    """What a bulk `--resume` or `--cancel` did, secret by secret."""

    action: str
    resumed: list[RotationOutcome] = field(default_factory=list)
    cancelled: list[CancelledPending] = field(default_factory=list)
    left_alone: list[LeftAlone] = field(default_factory=list)
    failed: list[BulkFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict[str, Any]:
        """The documented `--json` document of bulk `--resume`/`--cancel`: the rows done are
        under "resumed" or "cancelled", as the action was."""
        done = self.resumed if self.action == RESUME else self.cancelled
        return {
            "resumed" if self.action == RESUME else "cancelled": [row.as_dict() for row in done],
            "failed": [failure.as_dict() for failure in self.failed],
            "left_alone": [left.as_dict() for left in self.left_alone],
        }


def recover_pending(
    store: SecretStore,
    item: PendingItem,
    *,
    action: str,
    actor: str,
    verify: Verifier | None = None,
    recipe: Recipe | None = None,
    lease_seconds: int = LEASE_SECONDS,
    verify_flags: str = "",
) -> RecoveryResult:
    """Resume (promote, as `secrets rotate NAME --resume` does) or cancel one planned secret.
    `verify_flags`: what verifies `verify` again in a later `--resume` (see
    `rotation.Finishing`); a plan in secrets.toml verifies by itself.

    The secret is looked at again first: another run may have finished it since the listing
    (left alone), it may have been set by hand after the version was staged (resume refuses,
    as for one secret), or a different version may be pending now (refused: it was not in
    the plan the user confirmed).
    """
    state = find_pending(store, item.name, for_resume=action == RESUME)
    reason = finished_already(state)
    if reason is not None:
        return LeftAlone(item.name, reason)
    if state.pending != item.pending:
        raise CliError(
            ExitCode.REFUSED,
            f"{item.name}: version {state.pending} is pending now, not {item.pending} as "
            "planned; left as it is",
            "run the same command again to see the new plan",
        )
    step = recipe.make_step() if recipe is not None and recipe.make_step is not None else None
    if recipe is not None and recipe.verify is not None:
        verify, verify_flags = recipe.verify, ""
    if recipe is not None:
        lease_seconds = recipe.lease_seconds
    if action == RESUME:
        return resume_rotation(
            store,
            state,
            actor=actor,
            verify=verify,
            step=step,
            lease_seconds=lease_seconds,
            verify_flags=verify_flags,
        )
    return cancel_pending(store, state, step=step)


def recover_many(
    store: SecretStore,
    items: Sequence[PendingItem],
    *,
    action: str,
    actor: str = "",
    verify: Verifier | None = None,
    workers: int = DEFAULT_CONCURRENCY,
    on_done: Callable[[RecoveryResult | BulkFailure], None] | None = None,
    recipes: Mapping[str, Recipe] | None = None,
    lease_seconds: int = LEASE_SECONDS,
    verify_flags: str = "",
) -> RecoveryReport:
    """Resume or cancel every planned secret, `workers` at a time; one failure does not stop
    the others. Each secret goes through the single-secret steps, which are idempotent, so a
    run cut short can be run again. `verify_flags`: see `recover_pending`."""
    if action not in (RESUME, CANCEL):
        raise CliError(ExitCode.FAILED, f"internal: unknown action {action!r}", REPORT_BUG_HINT)
    report = RecoveryReport(action)
    chosen = recipes or {}
    jobs = [
        _Job(
            item.name,
            partial(
                recover_pending,
                store,
                item,
                action=action,
                actor=actor,
                verify=verify,
                recipe=chosen.get(item.name),
                lease_seconds=lease_seconds,
                verify_flags=verify_flags,
            ),
            chosen[item.name].kind if item.name in chosen else NO_STEP,
        )
        for item in items
    ]
    run = _run_in_pool(jobs, workers=workers, alone=f"--{action}", on_done=on_done)
    if run.stopped_by is not None:
        # Every step of a resume or cancel can be run again: the usual interruption.
        raise run.stopped_by
    for result in run.results:
        if isinstance(result, BulkFailure):
            report.failed.append(result)
        elif isinstance(result, LeftAlone):
            report.left_alone.append(result)
        elif isinstance(result, CancelledPending):
            report.cancelled.append(result)
        else:
            report.resumed.append(result)
    for found in (report.resumed, report.cancelled, report.left_alone, report.failed):
        found.sort(key=lambda entry: entry.name)
    return report


# -- the pool: one job per secret, a bounded number at a time -------------------------------
_Done = TypeVar("_Done")


class _NotStarted(Exception):
    """A job that saw the stop before it changed anything."""


@dataclass
class PoolRun(Generic[_Done]):
    """The results of the jobs that ran; with a stop, the names not started and the stop."""

    results: list[_Done | BulkFailure] = field(default_factory=list)
    not_started: list[str] = field(default_factory=list)
    stopped_by: KeyboardInterrupt | None = None


@dataclass(frozen=True)
class _Job(Generic[_Done]):
    """One secret's work, and the kind of target it applies to (its pool)."""

    name: str
    work: Callable[[], _Done]
    kind: str = NO_STEP


def _run_in_pool(
    jobs: Sequence[_Job[_Done]],
    *,
    workers: int,
    alone: str,
    on_done: Callable[[_Done | BulkFailure], None] | None = None,
) -> PoolRun[_Done]:
    """Run one job per secret, `workers` at a time, collecting each result as it finishes;
    the jobs of one target kind run on a pool of their own, at most KIND_CONCURRENCY[kind]
    at a time.

    A failure becomes a `BulkFailure` so that one secret never stops the others; `alone` is
    the form of `secrets rotate NAME ...` that redoes one secret (shown for our own bugs).
    Ctrl-C, SIGTERM or SIGHUP: the jobs not started are dropped, those under way finish or
    stop their step (a verification stops with the same signal), and their results are kept.
    """
    run: PoolRun[_Done] = PoolRun()
    workers = max(1, min(workers, MAX_CONCURRENCY))
    with ExitStack() as stack:
        pools: dict[str, WorkPool] = {}
        for kind in dict.fromkeys(job.kind for job in jobs):
            size = min(workers, KIND_CONCURRENCY.get(kind, workers))
            # grace=None: a step under way is never abandoned half done; a signal reaches
            # its verification (or its wait for RDS) too, so it ends soon, and a second
            # signal stops at once.
            pools[kind] = stack.enter_context(WorkPool(size, name=f"rotate-{kind}", grace=None))
        futures = {pools[job.kind].submit(job.work): job.name for job in jobs}
        waiting = set(futures)
        try:
            for future in as_completed(futures):
                waiting.discard(future)
                _collect(run, futures[future], future, alone, on_done)
        except KeyboardInterrupt as stop:
            run.stopped_by = stop
            for pool in pools.values():
                pool.stop()  # drops the jobs not started, waits for those under way
            for future in waiting:
                if future.cancelled():
                    run.not_started.append(futures[future])
                else:
                    _collect(run, futures[future], future, alone, on_done)
    return run


def _collect(
    run: PoolRun[_Done],
    name: str,
    future: Future[_Done],
    alone: str,
    on_done: Callable[[_Done | BulkFailure], None] | None,
) -> None:
    result: _Done | BulkFailure
    try:
        result = future.result()
    except CliError as exc:
        result = BulkFailure(name, exc)
    except (_NotStarted, KeyboardInterrupt):
        run.not_started.append(name)
        return
    except Exception as exc:  # our bug in one secret must not abandon the others
        result = BulkFailure(
            name,
            CliError(
                ExitCode.FAILED,
                f"unexpected internal error ({type(exc).__name__})",
                f"run it alone (`secrets --debug rotate {name} {alone}`) to see the "
                "traceback, and report it as a bug",
            ),
        )
    if on_done is not None:
        on_done(result)
    run.results.append(result)
