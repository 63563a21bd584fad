"""Two-phase rotation by hand: plan, stage pending, verify, promote; rollback, resume, cancel.

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
success, not an error. While a pending version exists a new rotation is refused: `--resume`
finishes it (reusing the staged value, even for `--generate`), `--cancel` drops it.

Pure over the `SecretStore` protocol (plus GetRandomPassword for `--generate`); no AWS, Typer
or rich here. Bulk rotation runs the same steps over a bounded thread pool.
"""

from __future__ import annotations

import string
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Protocol, TypeVar

from envsecrets.core.store import (
    CURRENT,
    PENDING,
    PREVIOUS,
    SecretMetadata,
    SecretStore,
    StoredValue,
)
from envsecrets.core.values import SecretValue, request_token
from envsecrets.errors import CliError, ExitCode

# The record each rotation leaves on the secret (read by `secrets show`).
ROTATED_AT_TAG = "envsecrets:rotated-at"
ROTATED_BY_TAG = "envsecrets:rotated-by"

DEFAULT_LENGTH = 32
MAX_LENGTH = 4096  # GetRandomPassword's limit
# GetRandomPassword's punctuation set (AWS documents exactly these characters).
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
DEFAULT_CONCURRENCY = 8
MAX_TAG_VALUE = 256
MAX_CONCURRENCY = 32
REPORT_BUG_HINT = "this is a bug in envsecrets: please report it, with the command you ran"

Narrator = Callable[[str], None]
# Raises CliError when the candidate value must not be promoted.
Verifier = Callable[[SecretValue], None]


def _quiet(message: str) -> None:
    """A narrator that says nothing (bulk rotation reports per secret instead)."""


class PasswordSource(Protocol):
    """Where generated values come from: Secrets Manager's GetRandomPassword."""

    def generate_password(
        self,
        *,
        length: int,
        exclude_characters: str = "",
        exclude_punctuation: bool = False,
        exclude_lowercase: bool = False,
        exclude_uppercase: bool = False,
        exclude_numbers: bool = False,
    ) -> SecretValue: ...


class RotationStore(SecretStore, PasswordSource, Protocol):
    """A store that can also generate passwords."""


# -- generated values ---------------------------------------------------------------------------
@dataclass(frozen=True)
class PasswordRules:
    """`--generate`'s options, checked here before any call is made."""

    length: int = DEFAULT_LENGTH
    exclude_punctuation: bool = False
    exclude_characters: str = ""

    def excluded_classes(self) -> dict[str, bool]:
        """Which character classes are switched off; a class that `--exclude-characters`
        empties entirely is switched off too (AWS would otherwise fail to include it)."""
        gone = set(self.exclude_characters)
        return {
            "lowercase": set(string.ascii_lowercase) <= gone,
            "uppercase": set(string.ascii_uppercase) <= gone,
            "numbers": set(string.digits) <= gone,
            "punctuation": self.exclude_punctuation or set(PUNCTUATION) <= gone,
        }

    def check(self) -> PasswordRules:
        """Raise a usage error for constraints no password can meet."""
        if not 1 <= self.length <= MAX_LENGTH:
            raise CliError(
                ExitCode.USAGE,
                f"--length {self.length}: must be between 1 and {MAX_LENGTH}",
                f"choose a --length from 1 to {MAX_LENGTH} (the default is {DEFAULT_LENGTH})",
            )
        classes_left = [name for name, off in self.excluded_classes().items() if not off]
        if not classes_left:
            raise CliError(
                ExitCode.USAGE,
                "--generate: the exclusions leave no characters to build a password from",
                "exclude fewer characters, or drop --exclude-punctuation",
            )
        if self.length < len(classes_left):
            raise CliError(
                ExitCode.USAGE,
                f"--length {self.length} is too short to include one character of each "
                f"kind ({', '.join(classes_left)})",
                f"use --length {max(len(classes_left), DEFAULT_LENGTH)} or more",
            )
        return self


def generate_value(source: PasswordSource, rules: PasswordRules) -> SecretValue:
    """A new password from the store's generator (AWS's, never ours)."""
    off = rules.check().excluded_classes()
    return source.generate_password(
        length=rules.length,
        exclude_characters=rules.exclude_characters,
        exclude_punctuation=off["punctuation"],
        exclude_lowercase=off["lowercase"],
        exclude_uppercase=off["uppercase"],
        exclude_numbers=off["numbers"],
    )


class PasswordPool:
    """Generated passwords for bulk rotation, cut from fewer, longer GetRandomPassword answers.

    One call returns up to 4,096 characters drawn independently by AWS; cut into `length`-sized
    pieces, each piece is a password drawn the same way. A piece lacking one of the included
    kinds of character is dropped, which is the condition RequireEachIncludedType puts on a
    single password. This turns one GetRandomPassword per secret into one per ~100 secrets
    (of 32 characters), a sixth of the calls of a bulk rotation. Thread-safe.
    """

    def __init__(self, source: PasswordSource, rules: PasswordRules) -> None:
        self.source = source
        self.rules = rules.check()
        self.per_call = max(1, MAX_LENGTH // rules.length)
        self._ready: list[str] = []
        self._lock = threading.Lock()
        off = rules.excluded_classes()
        gone = set(rules.exclude_characters)
        kinds = {
            "lowercase": string.ascii_lowercase,
            "uppercase": string.ascii_uppercase,
            "numbers": string.digits,
            "punctuation": PUNCTUATION,
        }
        self._required = [set(chars) - gone for kind, chars in kinds.items() if not off[kind]]

    def take(self) -> SecretValue:
        """The next password; calls GetRandomPassword when none is left."""
        with self._lock:
            while not self._ready:
                self._refill()
            return SecretValue(self._ready.pop())

    def _refill(self) -> None:
        if self.per_call == 1:
            self._ready.append(generate_value(self.source, self.rules).text())
            return
        length = self.rules.length
        off = self.rules.excluded_classes()
        batch = self.source.generate_password(
            length=length * self.per_call,
            exclude_characters=self.rules.exclude_characters,
            exclude_punctuation=off["punctuation"],
            exclude_lowercase=off["lowercase"],
            exclude_uppercase=off["uppercase"],
            exclude_numbers=off["numbers"],
        ).text()
        for start in range(0, len(batch) - length + 1, length):
            piece = batch[start : start + length]
            if all(kind & set(piece) for kind in self._required):
                self._ready.append(piece)


# -- plans --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RotationPlan:
    """A secret ready to rotate: its current version, and the value when one is needed."""

    name: str
    current_version: str
    previous_version: str | None = None
    field_key: str | None = None
    current: StoredValue | None = None  # read when --field or a comparison needs it


class PendingRotationError(CliError):
    """A rotation refused because an earlier one left a pending version: bulk rotation
    recognises it to point at the bulk `--resume`/`--cancel` instead of one secret's."""

    def __init__(self, name: str, version: str, hint: str) -> None:
        super().__init__(
            ExitCode.REFUSED,
            f"{name} has a pending version ({version}) from a rotation that did not finish",
            hint,
        )
        self.name = name
        self.version = version


def pending_exists_error(name: str, version: str) -> PendingRotationError:
    return PendingRotationError(
        name,
        version,
        f"`secrets rotate {name} --resume` promotes it, `--cancel` drops it; "
        "`--rollback` undoes a finished rotation",
    )


def _current_version(meta: SecretMetadata) -> str:
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
        raise pending_exists_error(name, pending)
    current_version = _current_version(meta)
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
        previous_version=meta.version_with(PREVIOUS),
        field_key=field_key,
        current=current,
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
    its version id. Idempotent: the same name, value and current version give the same token."""
    token = request_token(plan.name, value, plan.current_version)
    return store.put(plan.name, value, token=token, stages=[PENDING])


def _settle(
    store: SecretStore, name: str, move: Callable[[], None], done: Callable[[SecretMetadata], bool]
) -> None:
    """Run a label move; when it fails, look at the labels: if they already say what the move
    wanted (a retry of a call whose first attempt went through), that is success."""
    try:
        move()
    except CliError as exc:
        if exc.code in (ExitCode.AUTH, ExitCode.NOT_FOUND):
            raise
        try:
            state = store.describe(name)
        except CliError:
            raise exc from None
        if not done(state):
            raise


def promote_pending(store: SecretStore, name: str, pending: str, current: str | None) -> None:
    """AWSCURRENT to the pending version (AWS gives AWSPREVIOUS to the old one), then drop
    AWSPENDING. Each move is skipped or accepted when the labels already show it done."""
    if current is not None and current != pending:
        _settle(
            store,
            name,
            lambda: store.move_stage(name, CURRENT, to_version=pending, from_version=current),
            lambda meta: meta.version_with(CURRENT) == pending,
        )
    _settle(
        store,
        name,
        lambda: store.move_stage(name, PENDING, to_version=None, from_version=pending),
        lambda meta: PENDING not in meta.version_stages.get(pending, ()),
    )


def record_rotation(
    store: SecretStore, name: str, *, actor: str, when: datetime | None = None
) -> dict[str, str]:
    """Tag the secret with when it was last rotated by this tool and by whom."""
    moment = (when or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    tags = {
        ROTATED_AT_TAG: moment.isoformat().replace("+00:00", "Z"),
        # AWS caps tag values at 256 characters; a long session name must not fail the record.
        ROTATED_BY_TAG: actor[:MAX_TAG_VALUE],
    }
    store.tag(name, tags)
    return tags


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


def pending_hint(name: str, version: str, *, promoting: bool = False) -> str:
    if promoting:
        return (
            f"the promotion of version {version} may be half done: "
            f"`secrets rotate {name} --resume` finishes it, `--cancel` drops it if AWSCURRENT "
            "has not moved yet (`secrets history` shows the labels)"
        )
    return (
        f"AWSCURRENT is unchanged; the new value waits as AWSPENDING (version {version}): "
        f"`secrets rotate {name} --resume` promotes it, `--cancel` drops it"
    )


def _promotion_hint(store: SecretStore, name: str, pending: str) -> str:
    """After a failed promotion, look at the labels to say precisely where things stand."""
    try:
        current = store.describe(name).version_with(CURRENT)
    except CliError:
        return pending_hint(name, pending, promoting=True)
    if current == pending:
        return (
            f"version {pending} is AWSCURRENT already; only removing AWSPENDING failed: "
            f"`secrets rotate {name} --resume` finishes it"
        )
    return pending_hint(name, pending)


def finish_rotation(
    store: SecretStore,
    name: str,
    *,
    pending: str,
    current: str | None,
    actor: str,
    value: SecretValue | None = None,
    verify: Verifier | None = None,
    narrate: Narrator = _quiet,
    resumed: bool = False,
) -> RotationOutcome:
    """Verify (when asked) and promote a staged version, then leave the record. A failure or
    Ctrl-C on the way leaves the pending version for `--resume`/`--cancel` and says so."""
    verified = False
    promoting = False
    try:
        if verify is not None:
            if value is None:
                value = store.read(name, version_id=pending).value
            verify(value)
            verified = True
            narrate("verification passed")
        promoting = True
        promote_pending(store, name, pending, current)
    except CliError as exc:
        hint = _promotion_hint(store, name, pending) if promoting else pending_hint(name, pending)
        raise CliError(exc.code, exc.message, hint) from None
    except KeyboardInterrupt:
        raise CliError(
            ExitCode.INTERRUPTED,
            f"interrupted before the rotation of {name} finished",
            pending_hint(name, pending, promoting=promoting),
        ) from None
    narrate(f"promoted version {pending} to AWSCURRENT; {current or '-'} keeps AWSPREVIOUS")
    try:
        record = record_rotation(store, name, actor=actor)
    except CliError as exc:
        # The rotation itself is done and readers have the new value: a missing record
        # (e.g. no secretsmanager:TagResource permission) is worth a warning, not a failure.
        return RotationOutcome(
            name, pending, current, verified, record_error=exc.message, resumed=resumed
        )
    return RotationOutcome(name, pending, current, verified, record=record, resumed=resumed)


def rotate_secret(
    store: SecretStore,
    plan: RotationPlan,
    value: SecretValue,
    *,
    actor: str,
    verify: Verifier | None = None,
    narrate: Narrator = _quiet,
) -> RotationOutcome:
    """The whole two-phase rotation of one secret to `value` (already composed)."""
    pending = stage_pending(store, plan, value)
    narrate(f"staged version {pending} as AWSPENDING; readers still get {plan.current_version}")
    return finish_rotation(
        store,
        plan.name,
        pending=pending,
        current=plan.current_version,
        actor=actor,
        value=value,
        verify=verify,
        narrate=narrate,
    )


# -- recovery -----------------------------------------------------------------------------------
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
    narrate: Narrator = _quiet,
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
    _settle(
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
    current = _current_version(meta)
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
    _settle(
        store,
        plan.name,
        lambda: store.move_stage(
            plan.name, CURRENT, to_version=plan.previous, from_version=plan.current
        ),
        lambda meta: meta.version_with(CURRENT) == plan.previous,
    )


# -- managed rotation -------------------------------------------------------------------------
class ManagedRotationStore(SecretStore, Protocol):
    def rotate_managed(self, name: str) -> str | None: ...


@dataclass(frozen=True)
class ManagedRotation:
    """RotateSecret's outcome: the version the Lambda works on and where it stands now."""

    name: str
    lambda_arn: str
    version_id: str | None
    status: str  # "finished" (already AWSCURRENT), "pending" (the Lambda is at work)


def check_managed(store: SecretStore, name: str) -> str:
    """The rotation Lambda configured on `name`; refused (exit 4) when there is none or a
    rotation is pending (RotateSecret would fail on the pending version anyway)."""
    meta = store.describe(name)
    _current_version(meta)
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


def start_managed_rotation(store: ManagedRotationStore, name: str) -> ManagedRotation:
    """Start the configured rotation Lambda (RotateSecret), then read back its progress."""
    lambda_arn = check_managed(store, name)
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


# -- bulk ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BulkItem:
    """One secret of a bulk plan: rotated unless `skip` says why not."""

    name: str
    last_changed: datetime | None
    known: StoredValue | None = None
    skip: str | None = None


def plan_bulk(
    store: SecretStore,
    prefix: str,
    *,
    older_than_days: int,
    field_key: str | None = None,
    now: datetime | None = None,
) -> list[BulkItem]:
    """Secrets under `prefix` whose value has not changed for `older_than_days` days.

    Their current values are read in batches (BatchGetSecretValue) to keep what a plain
    password would break: JSON objects rotate only with `--field KEY`, binary never.
    """
    limit = (now or datetime.now(UTC)) - timedelta(days=older_than_days)

    def is_due(meta: SecretMetadata) -> bool:
        changed = meta.last_changed or meta.created
        # An unknown date cannot prove the secret fresh: it is due.
        return changed is None or older_than_days == 0 or changed < limit

    due = [m for m in store.list(prefix) if not m.scheduled_for_deletion and is_due(m)]
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
        items.append(BulkItem(meta.name, changed, known, _skip_reason(known.value, field_key)))
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


@dataclass(frozen=True)
class BulkFailure:
    name: str
    error: CliError


@dataclass
class BulkReport:
    """What a bulk rotation did, secret by secret."""

    rotated: list[RotationOutcome] = field(default_factory=list)
    failed: list[BulkFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


BulkResult = RotationOutcome | BulkFailure


def rotate_many(
    store: RotationStore,
    items: Sequence[BulkItem],
    *,
    rules: PasswordRules,
    actor: str,
    field_key: str | None = None,
    verify: Verifier | None = None,
    workers: int = DEFAULT_CONCURRENCY,
    on_done: Callable[[BulkResult], None] | None = None,
) -> BulkReport:
    """Rotate every item not marked `skip` to a generated value, `workers` at a time.

    One failure does not stop the others; each secret goes through the same idempotent steps
    as a single rotation, so a run cut short leaves at most pending versions for `--resume`.
    """
    passwords = PasswordPool(store, rules)
    report = BulkReport()

    def one(item: BulkItem) -> RotationOutcome:
        plan = plan_rotation(
            store,
            item.name,
            field_key=field_key,
            read_value=field_key is not None,
            known=item.known,
        )
        value = compose_value(plan, passwords.take())
        return rotate_secret(store, plan, value, actor=actor, verify=verify)

    jobs = [(item.name, partial(one, item)) for item in items if item.skip is None]
    for result in _each_in_pool(jobs, workers=workers, alone="--generate", on_done=on_done):
        if isinstance(result, BulkFailure):
            report.failed.append(result)
        else:
            report.rotated.append(result)
    report.rotated.sort(key=lambda outcome: outcome.name)
    report.failed.sort(key=lambda failure: failure.name)
    return report


_Done = TypeVar("_Done")


def _each_in_pool(
    jobs: Sequence[tuple[str, Callable[[], _Done]]],
    *,
    workers: int,
    alone: str,
    on_done: Callable[[_Done | BulkFailure], None] | None = None,
) -> Iterator[_Done | BulkFailure]:
    """Run one job per secret, `workers` at a time, yielding each result as it finishes.

    A failure becomes a `BulkFailure` so that one secret never stops the others; `alone` is
    the form of `secrets rotate NAME ...` that redoes one secret (shown for our own bugs).
    """
    with _pool(max(1, min(workers, MAX_CONCURRENCY))) as pool:
        futures = {pool.submit(job): name for name, job in jobs}
        for future in as_completed(futures):
            name = futures[future]
            result: _Done | BulkFailure
            try:
                result = future.result()
            except CliError as exc:
                result = BulkFailure(name, exc)
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
            yield result


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
class CancelledPending:
    """A pending version dropped: AWSCURRENT stayed on `current`."""

    name: str
    pending_version: str
    current_version: str | None


@dataclass(frozen=True)
class LeftAlone:
    """A planned secret with nothing left to do when its turn came, and why."""

    name: str
    reason: str


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


def recover_pending(
    store: SecretStore,
    item: PendingItem,
    *,
    action: str,
    actor: str,
    verify: Verifier | None = None,
) -> RecoveryResult:
    """Resume (promote, as `secrets rotate NAME --resume` does) or cancel one planned secret.

    The secret is looked at again first: another run may have finished it since the listing
    (left alone), it may have been set by hand after the version was staged (resume refuses,
    as for one secret), or a different version may be pending now (refused: it was not in
    the plan the user confirmed).
    """
    state = find_pending(store, item.name)
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
    if action == RESUME:
        return resume_rotation(store, state, actor=actor, verify=verify)
    removed = cancel_pending(store, state)
    return CancelledPending(item.name, removed or item.pending, state.current)


def recover_many(
    store: SecretStore,
    items: Sequence[PendingItem],
    *,
    action: str,
    actor: str = "",
    verify: Verifier | None = None,
    workers: int = DEFAULT_CONCURRENCY,
    on_done: Callable[[RecoveryResult | BulkFailure], None] | None = None,
) -> RecoveryReport:
    """Resume or cancel every planned secret, `workers` at a time; one failure does not stop
    the others. Each secret goes through the single-secret steps, which are idempotent, so a
    run cut short can be run again."""
    if action not in (RESUME, CANCEL):
        raise CliError(ExitCode.FAILED, f"internal: unknown action {action!r}", REPORT_BUG_HINT)
    report = RecoveryReport(action)
    jobs = [
        (
            item.name,
            partial(recover_pending, store, item, action=action, actor=actor, verify=verify),
        )
        for item in items
    ]
    for result in _each_in_pool(jobs, workers=workers, alone=f"--{action}", on_done=on_done):
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


@contextmanager
def _pool(workers: int) -> Iterator[ThreadPoolExecutor]:
    """A thread pool that, on Ctrl-C, drops the queued work instead of finishing all of it."""
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rotate")
    try:
        yield executor
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
