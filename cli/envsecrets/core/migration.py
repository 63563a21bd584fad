"""Moving secrets out of Parameter Store, `.env` files and Lambda environment variables.

One engine for every source, in steps a caller can stop between:

    plan_migration   read the source and the targets; per item create / update / unchanged /
                     conflict / invalid. Nothing is written. (`--dry-run` stops here.)
    apply_migration  write what the plan says, with bounded concurrency and ClientRequestTokens
                     derived from name, value and replaced version, so that a retry or a re-run
                     never makes a second version. Pacing at AWS's quotas is the backends' job
                     (a RateLimiter on the AwsTarget paces every attempt, retries included).
    verify_migration read every written secret back (BatchGetSecretValue) and compare hashes.
    remove_sources   delete from the source only what verified (`--delete-source`), and of
                     that only what still holds the value that was migrated: each source
                     looks again right before deleting (a `.env` line's value, an SSM
                     parameter's version, a Lambda variable's value) and keeps what changed.

When nobody has to see the plan before the writes, `migrate_streaming` does the first two
steps at once: each item is written as soon as its target has been read, while the source is
still being listed, so that a large migration runs at the write quota from its first second.
All concurrency runs on `core/pool.py`'s helper, and batch sizes are the store's business.

Scripts reach it through the public API (`envsecrets.api`: `Environment.migrate_ssm(...)`
returns a `Migration` whose `plan`, `apply` and `remove_sources` call these steps), as the
`secrets migrate` commands do.

Re-running after a crash, a Ctrl-C or a network failure finishes the job: what already
matches is `unchanged` and costs no write. Values never appear in plans, results or reports:
only names, actions, version ids and error codes.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal, Protocol

from envsecrets import stopping
from envsecrets.core.config import EnvironmentConfig
from envsecrets.core.names import NamePrefix, SecretName
from envsecrets.core.operations import SetOptions, SetPlan, apply_set, read_current
from envsecrets.core.pool import Channel, WorkPool, chunked
from envsecrets.core.store import NO_VALUE, SecretStore, StoredValue
from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode

Action = Literal["create", "update", "unchanged", "conflict", "invalid"]
ACTIONS: tuple[Action, ...] = ("create", "update", "unchanged", "conflict", "invalid")
Status = Literal["created", "updated", "unchanged", "conflict", "invalid", "failed"]
STATUSES: tuple[Status, ...] = ("created", "updated", "unchanged", "conflict", "invalid", "failed")

DEFAULT_CONCURRENCY = 8
DESCRIBE_CHUNK = 50  # descriptions are asked for this many writes at a time, just ahead of them
WRITES: tuple[Action, ...] = ("create", "update")
WRITTEN: tuple[Status, ...] = ("created", "updated")
TAG_KEY = "migrated-from"
TAG_VALUE_MAX = 256
# Characters AWS accepts in tag values; anything else in a file path becomes "_".
TAG_VALUE_UNSAFE = re.compile(r"[^\w\s.:/=+\-@]", re.UNICODE)


# -- what sources give us --------------------------------------------------------------------
@dataclass(frozen=True)
class SourceItem:
    """One thing to migrate, as the source sees it."""

    key: str  # the source's own name: "/app/prod/db/password", "STRIPE_KEY"
    relative: str  # the path below the target prefix it becomes: "db/password"
    value: SecretValue | None  # None when the source holds no usable value (see `problem`)
    origin: str  # where it came from, for the `migrated-from` tag: "ssm:/app/prod/db/password"
    problem: str | None = None  # why it cannot be migrated (unparseable line, empty value)
    description: str | None = None
    version: str | None = None  # the source's own version of it, where it has one (SSM)


class MigrationSource(Protocol):
    """Parameter Store, a `.env` file or a Lambda function's environment."""

    kind: str  # "ssm", "env-file", "lambda"
    label: str  # the path, file or function, for messages and reports (printable text)
    files: tuple[Path, ...]  # local files it reads (a report must never replace one)

    def items(self) -> Iterator[SourceItem]:
        """Everything under the source, streamed (large sources are read page by page)."""
        ...

    def descriptions(self, keys: Sequence[str]) -> dict[str, str]:
        """Descriptions of these items, for those that have one (may cost API calls)."""
        ...

    def remove(self, items: Sequence[SourceItem]) -> dict[str, str | None]:
        """Delete these items from the source, each only if it still holds the value it had
        when it was read (looked at again right before deleting); per key None (removed, or
        already gone) or why it is still there."""
        ...


def key_to_path(key: str, *, keep_case: bool) -> str:
    """An environment variable name as a secret path: `STRIPE_SECRET_KEY` -> `stripe-secret-key`."""
    return key if keep_case else key.lower().replace("_", "-")


def tag_value(origin: str) -> str:
    """`origin` made acceptable as an AWS tag value (allowed characters, at most 256)."""
    safe = TAG_VALUE_UNSAFE.sub("_", origin)
    return safe if len(safe) <= TAG_VALUE_MAX else "..." + safe[-(TAG_VALUE_MAX - 3) :]


def target_prefix(text: str) -> NamePrefix:
    """Parse `--to`: `<env>/` or `<env>/<path>/`; anything else is a usage error."""
    if not text or text.startswith("/"):
        raise CliError(
            ExitCode.USAGE,
            f"--to '{text}' is not a secret prefix",
            "use <env>/<path>, e.g. --to prod/api/",
        )
    return NamePrefix.parse(text)


# -- the plan --------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlanItem:
    """What will happen to one source item."""

    source: SourceItem
    target: str  # the full secret name ("" when the relative path cannot become one)
    action: Action
    reason: str | None = None
    current_version: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source.key,
            "target": self.target or None,
            "action": self.action,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class MigrationPlan:
    """The plan for a whole source; `items` are in source order."""

    source_kind: str
    source_label: str
    prefix: str
    items: tuple[PlanItem, ...]
    overwrite: bool
    seconds: float  # how long planning took (listing the source, reading targets)

    def counts(self) -> dict[str, int]:
        """How many items get each action: `{"create": 120, "unchanged": 3, ...}`."""
        found = Counter(item.action for item in self.items)
        return {action: found.get(action, 0) for action in ACTIONS}

    @property
    def writes(self) -> list[PlanItem]:
        """The items to be written (create and update), in source order."""
        return [item for item in self.items if item.action in WRITES]

    @property
    def exit_code(self) -> ExitCode:
        """The code a run of this plan would end with for what the plan already knows: 4 for
        conflicts, 2 for invalid items, else 0. A dry run exits with it, so that it answers
        "would this work?" the way the real run will."""
        if any(item.action == "conflict" for item in self.items):
            return ExitCode.REFUSED
        if any(item.action == "invalid" for item in self.items):
            return ExitCode.USAGE
        return ExitCode.OK

    def as_dict(self) -> dict[str, Any]:
        """The plan for `--json` and reports (names and actions only, never values)."""
        return {
            "source": {"kind": self.source_kind, "label": self.source_label},
            "to": self.prefix,
            "overwrite": self.overwrite,
            "counts": self.counts(),
            "seconds": round(self.seconds, 3),
            "items": [item.as_dict() for item in self.items],
        }


def plan_migration(
    source: MigrationSource,
    store: SecretStore,
    prefix: NamePrefix,
    *,
    overwrite: bool,
) -> MigrationPlan:
    """Compare every source item with its target; nothing is written.

    Targets are read in batches (the store's BatchGetSecretValue calls) while the source is
    still being listed. A target holding the same value is `unchanged`; a different value is
    a `conflict` unless `overwrite` (then `update`). Items whose path cannot become a secret
    name, or that two source items would both write, are `invalid` and reported, never
    renamed.
    """
    planner = _Planner(source, store, prefix, overwrite=overwrite)
    for _ in planner.run():
        pass
    return planner.plan()


class _Planner:
    """Plans a source while it is being listed: the listing feeds the store's batch reads
    (`read_each`), and each batch's items are planned as soon as it arrives, so that a
    streamed migration can write the first items while later pages are still being read.

    `_names` runs in the store's feeder thread (it reads the source); `run` and `plan` in
    the caller's. They share `staged` and `waiting`: an entry is made before its name goes to
    the store, so it is there when the batch holding that name comes back.
    """

    # Declared here, not in __init__: `make mutation` copies __init__ once per mutant, and mypy
    # would refuse every copy for declaring them again (tests/mutation.py).
    staged: list[tuple[SourceItem, str | None, str | None]]  # item, target, problem
    waiting: dict[str, int]  # target name -> its index in `staged`
    planned: dict[int, PlanItem]
    owners: dict[str, str]  # target name -> the source key that claimed it

    def __init__(
        self, source: MigrationSource, store: SecretStore, prefix: NamePrefix, *, overwrite: bool
    ) -> None:
        self.source = source
        self.store = store
        self.prefix = prefix
        self.overwrite = overwrite
        self.staged = []
        self.waiting = {}
        self.planned = {}
        self.owners = {}
        self.started = time.monotonic()
        self.seconds = 0.0

    def _names(self) -> Iterator[str]:
        for item in self.source.items():
            target, problem = _target_of(item, self.prefix, self.owners)
            self.staged.append((item, target, problem))
            if target and not problem:
                self.waiting[target] = len(self.staged) - 1
                yield target

    def run(self) -> Iterator[PlanItem]:
        """Plan the items whose targets were read, batch by batch as the reads come back
        (items that cannot be migrated need no read: `plan` adds them). The plan's seconds
        are taken however it ends: a migration stopped by a failed listing reports them too."""
        try:
            for batch in self.store.read_each(self._names()):
                for name in (*batch.values, *batch.errors):
                    index = self.waiting.pop(name, None)
                    if index is None:
                        continue
                    item, target, problem = self.staged[index]
                    planned = _plan_item(
                        item, target, problem, batch.values, batch.errors, self.overwrite
                    )
                    self.planned[index] = planned
                    yield planned
        finally:
            self.seconds = time.monotonic() - self.started

    def plan(self) -> MigrationPlan:
        """The whole plan in source order (once `run` is exhausted)."""
        items = tuple(
            self.planned.get(index) or _plan_item(item, target, problem, {}, {}, self.overwrite)
            for index, (item, target, problem) in enumerate(self.staged)
        )
        return MigrationPlan(
            self.source.kind,
            self.source.label,
            str(self.prefix),
            items,
            self.overwrite,
            self.seconds,
        )


def _target_of(
    item: SourceItem, prefix: NamePrefix, owners: dict[str, str]
) -> tuple[str | None, str | None]:
    if item.problem:
        return None, item.problem
    try:
        name = str(SecretName.join(prefix.env, prefix.path + item.relative))
    except CliError as exc:
        return None, exc.message.replace("invalid secret name", "cannot become secret name")
    if item.value is None:
        return name, "no value"
    try:
        item.value.validate()
    except CliError as exc:
        return name, exc.message
    if name in owners:
        return name, f"{owners[name]} is also migrated to {name}"
    owners[name] = item.key
    return name, None


def _plan_item(
    item: SourceItem,
    target: str | None,
    problem: str | None,
    current: Mapping[str, StoredValue],
    errors: Mapping[str, str],
    overwrite: bool,
) -> PlanItem:
    if problem or not target or item.value is None:
        return PlanItem(item, target or "", "invalid", problem)
    existing = current.get(target)
    if existing is None:
        code = errors.get(target, "ResourceNotFoundException")
        # A target that exists without a value (NO_VALUE) gets its first one: `apply_set`
        # writes it when CreateSecret finds the secret there already.
        if code in ("ResourceNotFoundException", NO_VALUE):
            return PlanItem(item, target, "create")
        if code == "InvalidRequestException":
            return PlanItem(
                item, target, "conflict", "the secret is scheduled for deletion (secrets restore)"
            )
        return PlanItem(item, target, "conflict", f"cannot read the existing secret ({code})")
    if existing.value == item.value:
        return PlanItem(item, target, "unchanged", None, existing.version_id)
    if overwrite:
        return PlanItem(item, target, "update", "different value", existing.version_id)
    # A conflict is never written: no version is kept for it.
    return PlanItem(item, target, "conflict", "exists with a different value")


# -- applying it -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ItemOutcome:
    """What happened to one item."""

    item: PlanItem
    status: Status
    version_id: str | None = None
    error: str | None = None  # a CliError message (names and AWS codes, never values)
    # A failed item's exit code when it is not FAILED (1): `exit_code` gives their common one.
    error_code: int | None = None
    verified: bool | None = None  # None: not checked (nothing written)
    source_removed: bool | None = None
    # Written without the source's description, which could not be read: why.
    description_unread: str | None = None

    @property
    def settled(self) -> bool:
        """The target holds the source's value: written and verified, or already there."""
        return self.status == "unchanged" or (
            self.status in ("created", "updated") and self.verified is True
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.item.as_dict(),
            "status": self.status,
            "version_id": self.version_id,
            "error": self.error,
            "verified": self.verified,
            "source_removed": self.source_removed,
            "description_unread": self.description_unread,
        }


@dataclass(frozen=True)
class MigrationResult:
    """The outcome of a migration, item by item, in source order."""

    plan: MigrationPlan
    outcomes: tuple[ItemOutcome, ...]
    notes: tuple[str, ...] = field(default=())
    seconds: dict[str, float] = field(default_factory=dict)  # per step: apply, verify, remove

    def counts(self) -> dict[str, int]:
        """How many items ended in each status, and how many verified, did not verify,
        were removed from the source, or stayed there."""
        found = Counter(o.status for o in self.outcomes)
        counts: dict[str, int] = {status: found.get(status, 0) for status in STATUSES}
        counts["verified"] = sum(1 for o in self.outcomes if o.verified)
        counts["unverified"] = sum(1 for o in self.outcomes if o.verified is False)
        counts["source_removed"] = sum(1 for o in self.outcomes if o.source_removed)
        counts["source_kept"] = len(self.kept_in_source)
        return counts

    @property
    def kept_in_source(self) -> list[ItemOutcome]:
        """Items that were to be removed from the source and are still there."""
        return [o for o in self.outcomes if o.source_removed is False]

    @property
    def exit_code(self) -> ExitCode:
        """1 (or the failures' common code) when anything failed or did not verify, 1 when
        an item to be removed from the source is still there (its plaintext is), 4 for
        conflicts, 2 for invalid items, else 0."""
        failed = [o for o in self.outcomes if o.status == "failed" or o.verified is False]
        if failed:
            codes = {o.error_code for o in failed}
            only = codes.pop() if len(codes) == 1 else None
            return ExitCode(only) if only else ExitCode.FAILED
        if self.kept_in_source:
            return ExitCode.FAILED
        if any(o.status == "conflict" for o in self.outcomes):
            return ExitCode.REFUSED
        if any(o.status == "invalid" for o in self.outcomes):
            return ExitCode.USAGE
        return ExitCode.OK

    def as_dict(self) -> dict[str, Any]:
        """The outcome for `--json` and `--report` (never values)."""
        return {
            "source": {"kind": self.plan.source_kind, "label": self.plan.source_label},
            "to": self.plan.prefix,
            "counts": self.counts(),
            "exit_code": int(self.exit_code),
            "notes": list(self.notes),
            "seconds": {"plan": round(self.plan.seconds, 3)}
            | {step: round(took, 3) for step, took in self.seconds.items()},
            "items": [o.as_dict() for o in self.outcomes],
        }


class MigrationInterrupted(KeyboardInterrupt):
    """A migration stopped by Ctrl-C, SIGTERM or SIGHUP while writing: the outcomes of the
    writes that finished before the stop (`done`, created secrets among them). Writes under
    way when the signal came may have landed too. Nothing is removed from the source, and the
    same command run again finishes the job: what was written is found `unchanged`."""

    def __init__(self, done: list[ItemOutcome], cause: str) -> None:
        super().__init__(cause)
        self.done = done
        self.cause = cause

    def counts(self) -> dict[str, int]:
        """How many items ended in each status before the stop."""
        found: dict[str, int] = {}
        for outcome in self.done:
            found[outcome.status] = found.get(outcome.status, 0) + 1
        return found


def apply_migration(
    plan: MigrationPlan,
    store: SecretStore,
    source: MigrationSource,
    env: EnvironmentConfig | None = None,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Callable[[int], None] | None = None,
) -> MigrationResult:
    """Write the plan's creates and updates; one failure does not stop the others.

    Each write goes through `apply_set` (the same path as `secrets set`), tagged
    `migrated-from=<origin>` and keeping the source's description (asked for
    `DESCRIBE_CHUNK` writes at a time, just ahead of them). A CreateSecret refused because
    the secret now exists (a lost reply that AWS did act on, or a concurrent run) is re-read:
    the same value counts as created, another value as a conflict. Ctrl-C stops the writes
    (see `core/pool.py`) and is raised again.

    Written secrets are read back while later writes are still waiting for their turn under
    the write quota; those that hold their value are marked verified. `verify_migration`
    reads the others.
    """
    started = time.monotonic()
    env = env or EnvironmentConfig.default(plan.prefix.split("/", 1)[0])
    written: dict[int, ItemOutcome] = {}
    matched = _write_all(
        plan.writes,
        store,
        source,
        env,
        concurrency=concurrency,
        progress=progress,
        outcomes=written,
    )
    return _result(plan, written, matched, {"apply": time.monotonic() - started})


def migrate_streaming(
    source: MigrationSource,
    store: SecretStore,
    prefix: NamePrefix,
    env: EnvironmentConfig | None = None,
    *,
    overwrite: bool,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Callable[[int], None] | None = None,
) -> MigrationResult:
    """`plan_migration` and `apply_migration` at once, for runs that need no confirmation:
    each item is written as soon as its target has been read, while the source is still
    being listed, so that the listing (Parameter Store's pages come one after another) costs
    no time of its own beside the write quota.

    The outcome is the same as planning first and applying after: the full plan (in source
    order) is in `result.plan`, conflicts and invalid items are reported and not written,
    and a failure while listing stops the writes and is raised (what was written stays
    written; a re-run finds it `unchanged`). The plan's `seconds` is the time the listing
    and planning took; `apply`'s overlaps it.
    """
    started = time.monotonic()
    env = env or EnvironmentConfig.default(prefix.env)
    planner = _Planner(source, store, prefix, overwrite=overwrite)
    planned: Channel[PlanItem] = Channel()
    written: dict[int, ItemOutcome] = {}
    with WorkPool(1, name="plan") as planning:
        listing = planning.submit(partial(_plan_into, planner, planned))
        try:
            matched = _write_all(
                planned,
                store,
                source,
                env,
                concurrency=concurrency,
                progress=progress,
                outcomes=written,
            )
        except CliError as exc:
            planned.cancel()  # the planner stops at its next item
            with suppress(BaseException):
                listing.result()  # it has stopped: its plan can be read
            took = {"apply": time.monotonic() - started}
            raise IncompleteMigration(exc, _result(planner.plan(), written, set(), took)) from exc
        except BaseException:
            planned.cancel()
            raise
        listing.result()
    return _result(planner.plan(), written, matched, {"apply": time.monotonic() - started})


class IncompleteMigration(CliError):
    """A streamed migration stopped by a failure (the source's listing failed, say) after
    some items were written: the failure's code and words, and `result`, what was done
    (items not reached are "not written"), for the report."""

    def __init__(self, failure: CliError, result: MigrationResult) -> None:
        done = sum(o.status in WRITTEN for o in result.outcomes)
        written = f" ({done} item(s) were written before it)" if done else ""
        super().__init__(failure.code, failure.message + written, failure.hint)
        self.result = result


def _plan_into(planner: _Planner, writes: Channel[PlanItem]) -> None:
    """Run the planner, handing each item to be written on to the writers."""
    try:
        for item in planner.run():
            if item.action in WRITES:
                writes.put(item)
    except BaseException as exc:
        writes.fail(exc)
        raise
    writes.close()


def _write_all(
    writes: Iterable[PlanItem],
    store: SecretStore,
    source: MigrationSource,
    env: EnvironmentConfig,
    *,
    concurrency: int,
    progress: Callable[[int], None] | None,
    outcomes: dict[int, ItemOutcome],
) -> set[str]:
    """Write every item of `writes` (a list, or a stream still being planned), `concurrency`
    at a time; read back what landed meanwhile. Puts the outcomes in `outcomes` by `id` of
    their plan item as they come (the caller keeps them if a failure stops the rest);
    returns the targets read back holding their value."""
    landed: Channel[ItemOutcome] = Channel()

    def write(pair: tuple[PlanItem, str | None, str | None]) -> ItemOutcome:
        item, description, unread = pair
        assert item.source.value is not None
        outcome = _write_one(store, env, item, item.source.value, description)
        if unread is not None and outcome.status in WRITTEN:
            outcome = replace(outcome, description_unread=unread)
        # Kept here, on the writer's thread: a failure that stops the feed leaves the writes
        # in flight to finish (the pool's grace), and their outcomes must be recorded too.
        outcomes[id(item)] = outcome
        return outcome

    with WorkPool(1, name="read-back") as checking:
        matches = checking.submit(partial(_read_back, store, landed))
        try:
            with WorkPool(concurrency, name="migrate") as writing:
                for done in writing.each(write, _with_descriptions(source, writes)):
                    outcome = done.result()  # _write_one reports every failure as an outcome
                    outcomes[id(outcome.item)] = outcome
                    if outcome.status in WRITTEN:
                        landed.put(outcome)
                    if progress:
                        progress(1)
        except BaseException as exc:
            landed.cancel()
            if isinstance(exc, KeyboardInterrupt) and not isinstance(exc, MigrationInterrupted):
                # What was done is told, not lost with the stack (issue 16: say what is left).
                raise MigrationInterrupted(list(outcomes.values()), stopping.cause(exc)) from None
            raise
        landed.close()
        matched = matches.result()
    return matched


def _with_descriptions(
    source: MigrationSource, writes: Iterable[PlanItem]
) -> Iterator[tuple[PlanItem, str | None, str | None]]:
    """Each write with its source's description, asked for `DESCRIBE_CHUNK` writes at a time
    (one DescribeParameters call on AWS) as the writers need them, and why it could not be
    read (None when it was, or was not needed)."""
    for chunk in chunked(writes, DESCRIBE_CHUNK):
        asking = [item.source.key for item in chunk if item.source.description is None]
        found: dict[str, str] = {}
        unread: str | None = None
        if asking:
            # A description is worth having, not worth failing the item for: it is written
            # without, and the outcome says so (never silently: a re-run finds it unchanged).
            try:
                found = source.descriptions(asking)
            except CliError as exc:
                unread = exc.message
        for item in chunk:
            known = item.source.description
            if known is not None:
                yield item, known, None
            else:
                yield item, found.get(item.source.key), unread


def _read_back(store: SecretStore, landed: Channel[ItemOutcome]) -> set[str]:
    """Read written secrets back (the store batches them as they land), while the later
    writes are still paced by the write quota, so that verification adds little time of its
    own. Only matches are kept: anything else (not readable yet, a read that failed, another
    value) is read again by `verify_migration`, which decides."""
    expected: dict[str, SecretValue | None] = {}

    def names() -> Iterator[str]:
        for outcome in landed:
            expected[outcome.item.target] = outcome.item.source.value
            yield outcome.item.target

    matched: set[str] = set()
    try:
        for batch in store.read_each(names()):
            matched.update(
                name for name, stored in batch.values.items() if stored.value == expected[name]
            )
    except CliError:
        pass
    return matched


def _result(
    plan: MigrationPlan,
    written: dict[int, ItemOutcome],
    matched: set[str],
    seconds: dict[str, float],
) -> MigrationResult:
    """The outcome of every plan item, in plan order."""
    outcomes = []
    for item in plan.items:
        outcome = written.get(id(item)) or _not_written(item)
        if outcome.status in WRITTEN and item.target in matched:
            outcome = replace(outcome, verified=True)
        outcomes.append(outcome)
    unread = [o for o in outcomes if o.description_unread]
    notes: tuple[str, ...] = ()
    if unread:
        # Each chunk of descriptions is asked for on its own and may fail for its own reason
        # (denied, then throttled): every distinct reason is given, once, in plan order.
        reasons = "; ".join(dict.fromkeys(str(o.description_unread) for o in unread))
        notes = (
            f"{len(unread)} secret(s) were written without their source's description, which "
            f"could not be read ({reasons}): "
            + ", ".join(o.item.target for o in unread[:5])
            + (", ..." if len(unread) > 5 else "")
            + " (each item's description_unread in --json / --report)",
        )
    return MigrationResult(plan, tuple(outcomes), notes=notes, seconds=seconds)


def _not_written(item: PlanItem) -> ItemOutcome:
    if item.action == "unchanged":
        return ItemOutcome(item, "unchanged", item.current_version)
    if item.action == "conflict":
        return ItemOutcome(item, "conflict", error=item.reason)
    if item.action == "invalid":
        return ItemOutcome(item, "invalid", error=item.reason)
    # A write that has no outcome: cannot happen (every write reports one); never call it done.
    return ItemOutcome(item, "failed", error="not written")


def _write_one(
    store: SecretStore,
    env: EnvironmentConfig,
    item: PlanItem,
    value: SecretValue,
    description: str | None,
) -> ItemOutcome:
    name = SecretName.parse(item.target)
    action: Literal["create", "update"] = "create" if item.action == "create" else "update"
    set_plan = SetPlan(name, action, value, item.current_version)
    options = SetOptions(description=description, tags={TAG_KEY: tag_value(item.source.origin)})
    try:
        done = apply_set(store, set_plan, env, options)
    except CliError as exc:
        if action == "create" and exc.code == ExitCode.REFUSED:
            return _created_meanwhile(store, item, name, value, exc)
        return ItemOutcome(item, "failed", error=exc.message, error_code=int(exc.code))
    except Exception as exc:  # our bug, or the SDK's: keep going, report the type only
        return ItemOutcome(item, "failed", error=f"unexpected {type(exc).__name__}")
    status: Status = "created" if action == "create" else "updated"
    return ItemOutcome(item, status, done.version_id)


def _created_meanwhile(
    store: SecretStore, item: PlanItem, name: SecretName, value: SecretValue, exc: CliError
) -> ItemOutcome:
    try:
        current = read_current(store, name)
    except CliError as again:
        return ItemOutcome(item, "failed", error=again.message, error_code=int(again.code))
    if current is not None and current.value == value:
        return ItemOutcome(item, "created", current.version_id)
    return ItemOutcome(item, "conflict", error="created by someone else with a different value")


# -- verifying and cleaning up ---------------------------------------------------------------
# Seconds between the read-backs of written items not readable (or not as written) yet.
VISIBILITY_WAITS = (0.5, 1.0, 2.0)


def verify_migration(result: MigrationResult, store: SecretStore) -> MigrationResult:
    """Read every written secret back (the store's batch reads) and compare hashes.

    `unchanged` items were compared when planned and need no second read; written items
    that apply already read back with their value (`verified` True) need none either.
    """
    started = time.monotonic()
    expected = {
        o.item.target: o.item.source.value
        for o in result.outcomes
        if o.status in WRITTEN and o.verified is not True
    }
    found: dict[str, StoredValue] = {}
    pending = list(expected)
    # A value just written may not be readable yet, or still read as the one it replaced
    # (read-after-write lag): such items are read again, with back-off, before they count
    # as unverified.
    for wait in (0.0, *VISIBILITY_WAITS):
        if not pending:
            break
        time.sleep(wait)
        found.update(store.read_many(pending).values)
        pending = [n for n in pending if n not in found or found[n].value != expected[n]]
    outcomes = []
    for outcome in result.outcomes:
        if outcome.status in WRITTEN and outcome.verified is not True:
            stored = found.get(outcome.item.target)
            ok = stored is not None and stored.value == outcome.item.source.value
            error = None
            if not ok:
                error = (
                    "not visible yet: written, but not readable after a few seconds "
                    "(`secrets get` it in a moment)"
                    if stored is None
                    else "read back a different value"
                )
            outcome = replace(outcome, verified=ok, error=error)
        outcomes.append(outcome)
    took = {**result.seconds, "verify": time.monotonic() - started}
    return replace(result, outcomes=tuple(outcomes), seconds=took)


def remove_sources(
    result: MigrationResult, source: MigrationSource, *, all_or_nothing: bool
) -> MigrationResult:
    """Delete from the source the items whose secret is settled (verified or unchanged).

    The source looks at each item again right before deleting it and keeps any that changed
    since it was read (the secret holds the old value); those, and any it could not delete
    (a full disk, a refused call), have `source_removed` False and make the exit code 1:
    their plaintext is still in the source. With `all_or_nothing` (Lambda: the function must
    keep working) nothing is removed unless every item settled.
    """
    settled = [o for o in result.outcomes if o.settled]
    if all_or_nothing and len(settled) != len(result.outcomes):
        note = "nothing removed from the source: not every item was migrated and verified"
        return replace(result, notes=(*result.notes, note))
    if not settled:
        return result
    try:
        errors = source.remove([o.item.source for o in settled])
    except CliError as exc:  # the source could not even be looked at again: nothing removed
        errors = {o.item.source.key: exc.message for o in settled}
    outcomes = []
    for outcome in result.outcomes:
        if outcome.settled:
            # A key the source did not answer for was not removed: never claim it was.
            error = errors.get(outcome.item.source.key, "no answer from the source")
            outcome = replace(outcome, source_removed=error is None)
            if error is not None:
                outcome = replace(outcome, error=f"source not removed ({error})")
        outcomes.append(outcome)
    return replace(result, outcomes=tuple(outcomes))


def settled_targets(result: MigrationResult) -> list[str]:
    """Full names of the secrets that now hold their source's value."""
    return [o.item.target for o in result.outcomes if o.settled]
