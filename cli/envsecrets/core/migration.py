"""Moving secrets out of Parameter Store, `.env` files and Lambda environment variables.

One engine for every source, in steps a caller can stop between:

    plan_migration   read the source and the targets; per item create / update / unchanged /
                     conflict / invalid. Nothing is written. (`--dry-run` stops here.)
    apply_migration  write what the plan says, with bounded concurrency and ClientRequestTokens
                     derived from name, value and replaced version, so that a retry or a re-run
                     never makes a second version. Pacing at AWS's quotas is the backends' job
                     (a RateLimiter on the AwsTarget paces every attempt, retries included).
    verify_migration read every written secret back (BatchGetSecretValue) and compare hashes.
    remove_sources   delete from the source only what verified (`--delete-source`).

A migration script uses it without the CLI:

    from envsecrets.backends.aws import AwsTarget
    from envsecrets.backends.quotas import RateLimiter
    from envsecrets.backends.secretsmanager import SecretsManagerStore
    from envsecrets.backends.ssm import SsmSource
    from envsecrets.core.migration import (
        plan_migration, apply_migration, verify_migration, target_prefix,
    )

    target = AwsTarget(label="prod", region="eu-west-1", limiter=RateLimiter())
    store = SecretsManagerStore(target, bulk=True, pool=8)
    source = SsmSource(target, "/app/prod", recursive=True)
    plan = plan_migration(source, store, target_prefix("prod/app"))
    result = verify_migration(apply_migration(plan, store, source), store)
    print(result.counts(), result.exit_code)

Re-running after a crash, a Ctrl-C or a network failure finishes the job: what already
matches is `unchanged` and costs no write. Values never appear in plans, results or reports:
only names, actions, version ids and error codes.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from envsecrets.core.config import EnvironmentConfig
from envsecrets.core.names import NamePrefix, SecretName
from envsecrets.core.operations import SetOptions, SetPlan, apply_set, read_current
from envsecrets.core.store import BatchRead, SecretStore, StoredValue
from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode

Action = Literal["create", "update", "unchanged", "conflict", "invalid"]
ACTIONS: tuple[Action, ...] = ("create", "update", "unchanged", "conflict", "invalid")
Status = Literal["created", "updated", "unchanged", "conflict", "invalid", "failed"]
STATUSES: tuple[Status, ...] = ("created", "updated", "unchanged", "conflict", "invalid", "failed")

DEFAULT_CONCURRENCY = 8
BATCH_READ = 20  # BatchGetSecretValue takes at most 20 names a call
DESCRIBE_CHUNK = 50  # descriptions are fetched this many items ahead of the writers
READ_BACK_THREADS = 2  # apply reads written secrets back on these, beside the writers
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


class MigrationSource(Protocol):
    """Parameter Store, a `.env` file or a Lambda function's environment."""

    kind: str  # "ssm", "env-file", "lambda"
    label: str  # the path, file or function, for messages and reports

    def items(self) -> Iterator[SourceItem]:
        """Everything under the source, streamed (large sources are read page by page)."""
        ...

    def descriptions(self, keys: Sequence[str]) -> dict[str, str]:
        """Descriptions of these items, for those that have one (may cost API calls)."""
        ...

    def remove(self, keys: Sequence[str]) -> dict[str, str | None]:
        """Delete these items from the source; per key None (done) or an error code."""
        ...


def key_to_path(key: str, *, keep_case: bool = False) -> str:
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
    # The source was already asked for the description (found while planning; then
    # `source.description` holds it, None meaning it has none): apply need not ask again.
    described: bool = False

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
    overwrite: bool = False
    seconds: float = 0.0  # how long planning took (listing the source, reading targets)

    def counts(self) -> dict[str, int]:
        found = Counter(item.action for item in self.items)
        return {action: found.get(action, 0) for action in ACTIONS}

    @property
    def writes(self) -> list[PlanItem]:
        return [item for item in self.items if item.action in ("create", "update")]

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
    overwrite: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    describe_ahead: int = DESCRIBE_CHUNK,
) -> MigrationPlan:
    """Compare every source item with its target; nothing is written.

    Targets are read with BatchGetSecretValue (20 a call) while the source is still being
    listed. A target holding the same value is `unchanged`; a different value is a `conflict`
    unless `overwrite` (then `update`). Items whose path cannot become a secret name, or that
    two source items would both write, are `invalid` and reported, never renamed.

    The plan does not need descriptions, but the first writes of `apply_migration` do: the
    descriptions of the first `describe_ahead` items to be written (one DescribeParameters
    call on AWS) are fetched while the listing goes on, if it is still going on when they are
    known, so that apply can start writing at once. 0 turns this off (`--dry-run`).
    """
    started = time.monotonic()
    staged: list[tuple[SourceItem, str | None, str | None]] = []  # item, target, problem
    owners: dict[str, str] = {}
    reads: list[tuple[Future[BatchRead], list[int]]] = []  # the read, indexes into `staged`
    chunk: list[int] = []
    checked = 0  # reads whose items were looked at for `ahead`
    ahead: list[str] = []  # source keys of the first items that will be written
    describing: Future[dict[str, str]] | None = None

    def submit_read(pool: ThreadPoolExecutor) -> None:
        names = [str(staged[i][1]) for i in chunk]
        reads.append((pool.submit(store.read_many, names), list(chunk)))
        chunk.clear()

    def look_ahead(pool: ThreadPoolExecutor) -> None:
        """Note the writes among targets read so far (in order); describe the first ones."""
        nonlocal checked, describing
        while describing is None and checked < len(reads) and reads[checked][0].done():
            future, members = reads[checked]
            checked += 1
            if future.exception() is not None:
                return  # raised again below, where every read is waited for
            batch = future.result()
            for i in members:
                item, target, problem = staged[i]
                planned = _plan_item(item, target, problem, batch.values, batch.errors, overwrite)
                if planned.action in ("create", "update") and item.description is None:
                    ahead.append(item.key)
            if len(ahead) >= describe_ahead:
                describing = pool.submit(source.descriptions, ahead[:describe_ahead])

    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="plan") as pool:
        try:
            for item in source.items():
                target, problem = _target_of(item, prefix, owners)
                staged.append((item, target, problem))
                if target and not problem:
                    chunk.append(len(staged) - 1)
                    if len(chunk) == BATCH_READ:
                        submit_read(pool)
                if describe_ahead > 0:
                    look_ahead(pool)
            if chunk:
                submit_read(pool)
            current: dict[str, StoredValue] = {}
            errors: dict[str, str] = {}
            for future, _ in reads:
                batch = future.result()
                current.update(batch.values)
                errors.update(batch.errors)
            described: dict[str, str] | None = None
            if describing is not None:
                try:
                    described = describing.result()
                except CliError:
                    described = None  # apply asks again
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    items = tuple(
        _plan_item(item, target, problem, current, errors, overwrite)
        for item, target, problem in staged
    )
    if described is not None:
        asked = set(ahead[:describe_ahead])
        items = tuple(
            replace(
                planned,
                source=replace(planned.source, description=described.get(planned.source.key)),
                described=True,
            )
            if planned.source.key in asked and planned.action in ("create", "update")
            else planned
            for planned in items
        )
    return MigrationPlan(
        source.kind, source.label, str(prefix), items, overwrite, time.monotonic() - started
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
        if code in ("ResourceNotFoundException", "Missing"):
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
    return PlanItem(item, target, "conflict", "exists with a different value", existing.version_id)


# -- applying it -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ItemOutcome:
    """What happened to one item."""

    item: PlanItem
    status: Status
    version_id: str | None = None
    error: str | None = None  # a CliError message (names and AWS codes, never values)
    error_code: int | None = None
    verified: bool | None = None  # None: not checked (nothing written)
    source_removed: bool | None = None

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
        }


@dataclass(frozen=True)
class MigrationResult:
    """The outcome of a migration, item by item, in source order."""

    plan: MigrationPlan
    outcomes: tuple[ItemOutcome, ...]
    notes: tuple[str, ...] = field(default=())
    seconds: dict[str, float] = field(default_factory=dict)  # per step: apply, verify, remove

    def counts(self) -> dict[str, int]:
        found = Counter(o.status for o in self.outcomes)
        counts: dict[str, int] = {status: found.get(status, 0) for status in STATUSES}
        counts["verified"] = sum(1 for o in self.outcomes if o.verified)
        counts["unverified"] = sum(1 for o in self.outcomes if o.verified is False)
        counts["source_removed"] = sum(1 for o in self.outcomes if o.source_removed)
        return counts

    @property
    def exit_code(self) -> ExitCode:
        """1 (or the failures' common code) when anything failed or did not verify, 4 for
        conflicts, 2 for invalid items, else 0."""
        failed = [o for o in self.outcomes if o.status == "failed" or o.verified is False]
        if failed:
            codes = {o.error_code for o in failed}
            only = codes.pop() if len(codes) == 1 else None
            return ExitCode(only) if only else ExitCode.FAILED
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


class _Descriptions:
    """Descriptions fetched by a background thread, a chunk ahead of the writers (those the
    plan already found are not asked for again)."""

    def __init__(self, source: MigrationSource, items: Sequence[PlanItem]) -> None:
        self._source = source
        items = [i for i in items if not i.described and i.source.description is None]
        self._chunks = [items[i : i + DESCRIBE_CHUNK] for i in range(0, len(items), DESCRIBE_CHUNK)]
        self._chunk_of = {id(item): n for n, chunk in enumerate(self._chunks) for item in chunk}
        self._ready = [threading.Event() for _ in self._chunks]
        self._found: dict[str, str] = {}
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="describe", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for n, chunk in enumerate(self._chunks):
            if self._stop:
                break
            try:
                self._found.update(self._source.descriptions([i.source.key for i in chunk]))
            except CliError:
                pass  # a description is worth having, not worth failing the item for
            finally:
                self._ready[n].set()
        for event in self._ready:
            event.set()

    def get(self, item: PlanItem) -> str | None:
        if item.described or item.source.description is not None:
            return item.source.description
        n = self._chunk_of.get(id(item))
        if n is None:
            return None
        self._ready[n].wait()
        return self._found.get(item.source.key)

    def close(self) -> None:
        self._stop = True


class _ReadBack:
    """Written secrets read back (BatchGetSecretValue, 20 a call) as soon as 20 have landed,
    while the later writes are still paced by the write quota, so that verification adds
    little time of its own. Only matches are kept: anything else (not readable yet, a read
    that failed, another value) is read again by `verify_migration`, which decides."""

    def __init__(self, store: SecretStore) -> None:
        self._store = store
        self._pending: list[ItemOutcome] = []
        self._reads: list[Future[set[str]]] = []
        self._pool = ThreadPoolExecutor(
            max_workers=READ_BACK_THREADS, thread_name_prefix="read-back"
        )

    def add(self, outcome: ItemOutcome) -> None:
        if outcome.status in ("created", "updated"):
            self._pending.append(outcome)
            if len(self._pending) == BATCH_READ:
                self._submit()

    def _submit(self) -> None:
        batch, self._pending = self._pending, []
        self._reads.append(self._pool.submit(self._read, batch))

    def _read(self, batch: list[ItemOutcome]) -> set[str]:
        try:
            found = self._store.read_many([o.item.target for o in batch]).values
        except CliError:
            return set()
        return {
            o.item.target
            for o in batch
            if (stored := found.get(o.item.target)) is not None
            and stored.value == o.item.source.value
        }

    def matched(self) -> set[str]:
        """Read what is left, wait for every read; the targets that hold their value."""
        if self._pending:
            self._submit()
        matched: set[str] = set()
        for future in self._reads:
            matched |= future.result()
        self._pool.shutdown(wait=True)
        return matched

    def cancel(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


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
    `migrated-from=<origin>` and keeping the source's description. A CreateSecret refused
    because the secret now exists (a lost reply that AWS did act on, or a concurrent run) is
    re-read: the same value counts as created, another value as a conflict. Ctrl-C cancels
    what has not started and re-raises.

    Written secrets are read back while later writes are still waiting for their turn under
    the write quota; those that hold their value are marked verified. `verify_migration`
    reads the others.
    """
    started = time.monotonic()
    env = env or EnvironmentConfig.default(plan.prefix.split("/", 1)[0])
    writes = plan.writes
    descriptions = _Descriptions(source, writes) if writes else None
    outcomes: dict[int, ItemOutcome] = {}
    for index, item in enumerate(plan.items):
        if item.action in ("unchanged", "conflict", "invalid"):
            outcomes[index] = ItemOutcome(
                item,
                item.action,
                item.current_version if item.action == "unchanged" else None,
                error=item.reason if item.action != "unchanged" else None,
                error_code=int(ExitCode.REFUSED) if item.action == "conflict" else None,
            )

    def write(item: PlanItem) -> ItemOutcome:
        assert item.source.value is not None
        description = descriptions.get(item) if descriptions else None
        return _write_one(store, env, item, item.source.value, description)

    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="migrate")
    read_back = _ReadBack(store)
    try:
        futures = {
            pool.submit(write, item): index
            for index, item in enumerate(plan.items)
            if item.action in ("create", "update")
        }
        for future in as_completed(futures):
            outcome = future.result()
            outcomes[futures[future]] = outcome
            read_back.add(outcome)
            if progress:
                progress(1)
        pool.shutdown(wait=True)
        matched = read_back.matched()
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        read_back.cancel()
        raise
    finally:
        if descriptions:
            descriptions.close()
    return MigrationResult(
        plan,
        tuple(
            replace(outcomes[i], verified=True)
            if outcomes[i].item.target in matched
            # only written items are read back, so `matched` holds no other target
            and outcomes[i].status in ("created", "updated")
            else outcomes[i]
            for i in range(len(plan.items))
        ),
        seconds={"apply": time.monotonic() - started},
    )


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
        return ItemOutcome(item, "failed", error=f"unexpected {type(exc).__name__}", error_code=1)
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
    return ItemOutcome(
        item,
        "conflict",
        error="created by someone else with a different value",
        error_code=int(ExitCode.REFUSED),
    )


# -- verifying and cleaning up ---------------------------------------------------------------
def verify_migration(
    result: MigrationResult,
    store: SecretStore,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> MigrationResult:
    """Read every written secret back (BatchGetSecretValue, 20 a call) and compare hashes.

    `unchanged` items were compared when planned and need no second read; written items
    that apply already read back with their value (`verified` True) need none either.
    """
    started = time.monotonic()
    written = [
        o for o in result.outcomes if o.status in ("created", "updated") and o.verified is not True
    ]
    names = [o.item.target for o in written]

    found: dict[str, StoredValue] = {}
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="verify") as pool:
        chunks = [names[i : i + BATCH_READ] for i in range(0, len(names), BATCH_READ)]
        for batch in pool.map(store.read_many, chunks):
            found.update(batch.values)
    outcomes = []
    for outcome in result.outcomes:
        if outcome.status in ("created", "updated") and outcome.verified is not True:
            stored = found.get(outcome.item.target)
            ok = stored is not None and stored.value == outcome.item.source.value
            outcome = replace(
                outcome,
                verified=ok,
                error=None if ok else "read back a different value (or none)",
                error_code=None if ok else int(ExitCode.FAILED),
            )
        outcomes.append(outcome)
    took = {**result.seconds, "verify": time.monotonic() - started}
    return replace(result, outcomes=tuple(outcomes), seconds=took)


def remove_sources(
    result: MigrationResult, source: MigrationSource, *, all_or_nothing: bool = False
) -> MigrationResult:
    """Delete from the source the items whose secret is settled (verified or unchanged).

    With `all_or_nothing` (Lambda: the function must keep working) nothing is removed unless
    every item settled.
    """
    settled = [o for o in result.outcomes if o.settled]
    if all_or_nothing and len(settled) != len(result.outcomes):
        note = "nothing removed from the source: not every item was migrated and verified"
        return replace(result, notes=(*result.notes, note))
    if not settled:
        return result
    errors = source.remove([o.item.source.key for o in settled])
    outcomes = []
    for outcome in result.outcomes:
        if outcome.settled:
            error = errors.get(outcome.item.source.key)
            outcome = replace(outcome, source_removed=error is None)
            if error is not None:
                outcome = replace(outcome, error=f"source not removed ({error})")
        outcomes.append(outcome)
    return replace(result, outcomes=tuple(outcomes))


def settled_targets(result: MigrationResult) -> list[str]:
    """Full names of the secrets that now hold their source's value."""
    return [o.item.target for o in result.outcomes if o.settled]


def chunked(items: Iterable[str], size: int) -> Iterator[list[str]]:
    """`items` in lists of at most `size` (DeleteParameters takes 10, GetParameters 10)."""
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
