"""Comparing two environments without ever showing a value.

Each side is listed once (ListSecrets pages, scheduled deletions included) and its values are
read in batches (BatchGetSecretValue) that the store runs side by side. A value lives only as
long as it takes to hash it (each batch is hashed as it arrives): what is kept is a
`Fingerprint` (SHA-256 of the bytes, the kind, and per-key hashes for JSON objects), so two
sides can be compared, and the JSON keys that differ named, without a value staying in memory
or reaching any output.

Hashes are compared, never shown: a SHA-256 of a short password can be brute-forced offline,
so neither the table nor `--json` prints them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from envsecrets.core.config import EnvironmentConfig, FunctionConfig
from envsecrets.core.pool import run_all
from envsecrets.core.store import (
    CURRENT,
    NO_VALUE,
    BatchRead,
    Replica,
    SecretMetadata,
    SecretStore,
    StoredValue,
)
from envsecrets.errors import CliError, ExitCode

# Calls in flight per side (the store's batch reads, DescribeSecret): enough to hide network
# latency. Bursts past the BatchGetSecretValue quota (100/s per account and region) are
# absorbed by the bulk client's retries (standard mode, 10 attempts with backoff).
DEFAULT_WORKERS = 8

# Per-secret error codes of BatchGetSecretValue that mean "you may not read this".
DENIED_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "DecryptionFailure",
        "KMSAccessDeniedException",
        "UnrecognizedClientException",
    }
)
# The secret disappeared (or was scheduled for deletion) between listing and reading.
GONE_CODES = frozenset({"ResourceNotFoundException", "InvalidRequestException"})

# Tags that describe one secret's own history, not its value or settings: reserved `aws:`
# tags (CloudFormation's stack tags) and this tool's `envsecrets:` records (who rotated it,
# when). They naturally differ between environments and never travel with a copy.
RECORD_TAG_PREFIXES = ("aws:", "envsecrets:")

T = TypeVar("T")
Advance = Callable[[int], None]
# The kind of a secret that has no value (no AWSCURRENT version) in a diff.
NO_VALUE_KIND = "none"
Status = Literal["only_in_a", "only_in_b", "differs", "same", "pending_deletion"]
STATUSES: tuple[Status, ...] = ("only_in_a", "only_in_b", "differs", "same", "pending_deletion")


def _no_progress(n: int) -> None:
    """Progress callback for callers that draw nothing."""


@contextmanager
def on_side(side: str) -> Iterator[None]:
    """Make every error raised inside name the environment it came from (`[prod] ...`)."""
    try:
        yield
    except CliError as exc:
        prefix = f"[{side}] "
        if exc.message.startswith(prefix):
            raise
        raise CliError(exc.code, prefix + exc.message, exc.hint) from None


# -- fingerprints -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Fingerprint:
    """What is kept of a value: enough to compare it, nothing that shows it."""

    sha256: str
    kind: str  # text, json or binary
    fields: dict[str, str] | None = None  # JSON key -> SHA-256 of its canonical JSON

    @classmethod
    def of(cls, stored: StoredValue) -> Fingerprint:
        """Hash a value read from a store; the caller drops the value right after."""
        value = stored.value
        fields: dict[str, str] | None = None
        if value.kind == "json":
            parsed: dict[str, Any] = json.loads(value.data())
            fields = {
                key: hashlib.sha256(
                    # ASCII escapes: a member holding a lone surrogate hashes too
                    json.dumps(item, sort_keys=True).encode()
                ).hexdigest()
                for key, item in parsed.items()
            }
        return cls(value.sha256, value.kind, fields)

    @classmethod
    def no_value(cls) -> Fingerprint:
        """A secret without an AWSCURRENT version: kind `none`, equal only to another such."""
        return cls("", NO_VALUE_KIND)

    def same_as(self, other: Fingerprint) -> bool:
        """Exactly the same bytes, and both text or both binary."""
        return self.sha256 == other.sha256 and (self.kind == "binary") == (other.kind == "binary")

    def changed_fields(self, other: Fingerprint) -> tuple[str, ...] | None:
        """The JSON keys whose values differ (or exist on one side only); None unless both
        values are JSON objects."""
        if self.fields is None or other.fields is None:
            return None
        keys = set(self.fields) | set(other.fields)
        return tuple(sorted(k for k in keys if self.fields.get(k) != other.fields.get(k)))


# -- reading a side -----------------------------------------------------------------------------
def read_values(
    store: SecretStore,
    names: Sequence[str],
    *,
    side: str,
    keep: Callable[[StoredValue], T],
    no_value: Callable[[], T],
    advance: Advance = _no_progress,
) -> dict[str, T]:
    """Read the current value of every name (the store batches and parallelises the calls).

    `keep` turns each value into what the caller needs (a fingerprint for diff, the value
    itself for copy) as soon as its batch arrives, so that values need not all be in memory
    at once. Names that vanished since they were listed are left out; a denied read is an
    AUTH error naming `side`; any other per-secret failure is an error too, so a diff never
    reports "same" for something it could not read. The first failure stops the reading.
    A secret without a current value is kept as `no_value()` (diff shows it, copy skips it).
    """
    kept: dict[str, T] = {}
    if not names:
        return kept
    with on_side(side):
        for batch in store.read_each(names):
            empty = [name for name, code in batch.errors.items() if code == NO_VALUE]
            kept.update((name, no_value()) for name in empty)
            batch = BatchRead(
                batch.values, {n: c for n, c in batch.errors.items() if c != NO_VALUE}
            )
            _refuse_unread(batch, side)
            kept.update((name, keep(stored)) for name, stored in batch.values.items())
            advance(len(batch.values) + len(batch.errors))
    return kept


def _refuse_unread(batch: BatchRead, side: str) -> None:
    """Raise for the names of `batch` that could not be read (other than vanished ones)."""
    problems = {n: code for n, code in batch.errors.items() if code not in GONE_CODES}
    if not problems:
        return
    denied = sorted(n for n, code in problems.items() if code in DENIED_CODES)
    if denied:
        raise CliError(
            ExitCode.AUTH,
            f"[{side}] access denied reading {len(denied)} secret(s), e.g. '{denied[0]}'"
            f" ({problems[denied[0]]})",
            "check secretsmanager:BatchGetSecretValue, GetSecretValue and kms:Decrypt "
            "for this environment's role",
        )
    first = sorted(problems)[0]
    raise CliError(
        ExitCode.FAILED,
        f"[{side}] could not read {len(problems)} secret(s), e.g. '{first}' ({problems[first]})",
        "run the command again",
    )


def describe_many(
    store: SecretStore,
    names: Sequence[str],
    *,
    side: str,
    workers: int = DEFAULT_WORKERS,
    missing_ok: bool = False,
) -> dict[str, SecretMetadata]:
    """DescribeSecret for each name on a bounded pool. ListSecrets does not report replication,
    so this is the one way to see replicas. With `missing_ok`, absent names are left out; any
    other failure stops the rest."""

    def describe(name: str) -> SecretMetadata | None:
        with on_side(side):
            try:
                return store.describe(name)
            except CliError as exc:
                if missing_ok and exc.code == ExitCode.NOT_FOUND:
                    return None
                raise

    described = run_all(describe, names, workers=workers, name="describe")
    return {done.item: meta for done in described if (meta := done.result()) is not None}


@dataclass(frozen=True)
class SideEntry:
    """One secret on one side: its metadata and (unless it is being deleted) its fingerprint."""

    key: str  # the path relative to the environment: api/stripe-key
    meta: SecretMetadata
    fingerprint: Fingerprint | None = None

    @property
    def pending_deletion(self) -> bool:
        return self.meta.scheduled_for_deletion


@dataclass(frozen=True)
class Side:
    """Everything known about one environment under the compared prefix."""

    env: str
    prefix: str  # path prefix inside the environment: "" or "api/"
    entries: dict[str, SideEntry] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        return f"{self.env}/{self.prefix}"


def list_side(store: SecretStore, env: str, prefix: str = "") -> Side:
    """List `env/prefix*` including secrets scheduled for deletion (ListSecrets hides them
    otherwise, and a diff must not call them missing)."""
    scope = f"{env}/{prefix}"
    entries: dict[str, SideEntry] = {}
    with on_side(env):
        for meta in store.list(scope, include_deleted=True):
            key = meta.name[len(env) + 1 :]
            entries[key] = SideEntry(key, meta)
    return Side(env, prefix, entries)


def fingerprint_side(store: SecretStore, side: Side, *, advance: Advance = _no_progress) -> Side:
    """Read and hash every live secret of `side` (deleted ones cannot be read and are not)."""
    live = [e.meta.name for e in side.entries.values() if not e.pending_deletion]
    prints = read_values(
        store,
        live,
        side=side.env,
        keep=Fingerprint.of,
        advance=advance,
        no_value=Fingerprint.no_value,
    )
    entries: dict[str, SideEntry] = {}
    for key, entry in side.entries.items():
        if entry.pending_deletion:
            entries[key] = entry
        elif entry.meta.name in prints:
            entries[key] = replace(entry, fingerprint=prints[entry.meta.name])
        # else: deleted between listing and reading; it is no longer there to compare
    return replace(side, entries=entries)


def describe_side(store: SecretStore, side: Side, *, workers: int = DEFAULT_WORKERS) -> Side:
    """Replace listed metadata with DescribeSecret's (adds replication), for `--metadata`."""
    live = [e.meta.name for e in side.entries.values() if not e.pending_deletion]
    described = describe_many(store, live, side=side.env, workers=workers, missing_ok=True)
    entries = {
        key: replace(entry, meta=described.get(entry.meta.name, entry.meta))
        for key, entry in side.entries.items()
    }
    return replace(side, entries=entries)


# -- comparing ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DiffRow:
    """One key and how the two sides compare on it."""

    key: str
    status: Status
    a: SideEntry | None
    b: SideEntry | None
    changed_fields: tuple[str, ...] | None = None

    @property
    def pending_in(self) -> tuple[str, ...]:
        """`a`, `b` or both: the sides where the secret is scheduled for deletion."""
        return tuple(
            name
            for name, entry in (("a", self.a), ("b", self.b))
            if entry is not None and entry.pending_deletion
        )

    @property
    def is_difference(self) -> bool:
        """Everything but `same` is a difference, except a secret being deleted on both
        sides: both environments are losing it alike."""
        if self.status == "pending_deletion":
            return not (
                self.a is not None
                and self.b is not None
                and self.a.pending_deletion
                and self.b.pending_deletion
            )
        return self.status != "same"


@dataclass(frozen=True)
class MetadataDifference:
    """A secret present on both sides whose settings differ."""

    key: str
    field: str  # kms_key_id, rotation_enabled, tags
    a: Any
    b: Any


@dataclass(frozen=True)
class ReplicaDrift:
    """A secret whose replicas are not what its environment's `replica_regions` says: a
    region missing or extra, or a listed replica that is not InSync (`unhealthy`: Failed,
    "the replica was not created", or still InProgress), which holds no usable copy."""

    key: str
    env: str
    expected: tuple[str, ...]
    actual: tuple[str, ...]  # every region AWS lists, whatever its status
    unhealthy: tuple[Replica, ...] = ()

    @property
    def missing(self) -> list[str]:
        """Expected regions without a usable replica (absent, failed or unfinished)."""
        broken = {replica.region for replica in self.unhealthy}
        return sorted(r for r in self.expected if r not in self.actual or r in broken)

    @property
    def extra(self) -> list[str]:
        return sorted(set(self.actual) - set(self.expected))

    def problems(self) -> list[str]:
        """One line per unhealthy replica: region, status and AWS's message."""
        return [
            f"{r.region} {r.status or 'unknown status'}" + (f": {r.message}" if r.message else "")
            for r in self.unhealthy
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "env": self.env,
            "expected": list(self.expected),
            "actual": list(self.actual),
            "missing": self.missing,
            "extra": self.extra,
            "unhealthy": [
                {"region": r.region, "status": r.status, "message": r.message}
                for r in self.unhealthy
            ],
        }


@dataclass(frozen=True)
class DiffResult:
    """The comparison of two sides; `as_dict()` is the documented `--json` shape."""

    a_env: str
    b_env: str
    prefix: str
    rows: tuple[DiffRow, ...]
    metadata: tuple[MetadataDifference, ...] | None = None  # None unless --metadata
    drift: tuple[ReplicaDrift, ...] | None = None  # None unless --metadata

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for row in self.rows:
            counts[row.status] += 1
        return counts

    @property
    def equal(self) -> bool:
        """True when nothing differs: values, and with --metadata, settings and replicas."""
        return (
            not any(row.is_difference for row in self.rows) and not self.metadata and not self.drift
        )

    def mirrored(self) -> DiffResult:
        """The same comparison seen from the other side (what diff(B, A) reports)."""
        flip: dict[Status, Status] = {"only_in_a": "only_in_b", "only_in_b": "only_in_a"}
        return DiffResult(
            self.b_env,
            self.a_env,
            self.prefix,
            tuple(
                DiffRow(r.key, flip.get(r.status, r.status), r.b, r.a, r.changed_fields)
                for r in self.rows
            ),
            None
            if self.metadata is None
            else tuple(MetadataDifference(m.key, m.field, m.b, m.a) for m in self.metadata),
            self.drift,
        )

    def as_dict(self) -> dict[str, Any]:
        def side(entry: SideEntry | None) -> dict[str, Any] | None:
            if entry is None:
                return None
            return {
                "name": entry.meta.name,
                "kind": entry.fingerprint.kind if entry.fingerprint else None,
                "pending_deletion": entry.pending_deletion,
                "deletion_date": entry.meta.deleted_on,
            }

        data: dict[str, Any] = {
            "a": self.a_env,
            "b": self.b_env,
            "prefix": self.prefix,
            "equal": self.equal,
            "counts": self.counts,
            "secrets": [
                {
                    "key": r.key,
                    "status": r.status,
                    "a": side(r.a),
                    "b": side(r.b),
                    "changed_fields": list(r.changed_fields)
                    if r.changed_fields is not None
                    else None,
                }
                for r in self.rows
            ],
        }
        if self.metadata is not None:
            data["metadata"] = [
                {"key": m.key, "field": m.field, "a": m.a, "b": m.b} for m in self.metadata
            ]
        if self.drift is not None:
            data["replica_drift"] = [d.as_dict() for d in self.drift]
        return data


def compare_entries(key: str, a: SideEntry | None, b: SideEntry | None) -> DiffRow:
    """Classify one key. Pending deletion wins over every other status: the value of a secret
    being deleted cannot be read, and it is about to be missing."""
    if (a is not None and a.pending_deletion) or (b is not None and b.pending_deletion):
        return DiffRow(key, "pending_deletion", a, b)
    if b is None:
        return DiffRow(key, "only_in_a", a, None)
    if a is None:
        return DiffRow(key, "only_in_b", None, b)
    assert a.fingerprint is not None and b.fingerprint is not None
    if a.fingerprint.same_as(b.fingerprint):
        return DiffRow(key, "same", a, b)
    return DiffRow(key, "differs", a, b, a.fingerprint.changed_fields(b.fingerprint))


def _default_kms(key: str | None) -> str | None:
    # No key and the AWS managed key are the same thing, reported differently by AWS.
    return None if key in (None, "alias/aws/secretsmanager") else key


def replica_drift(entry: SideEntry, env: EnvironmentConfig) -> ReplicaDrift | None:
    """The drift between a secret's replicas and `env.replica_regions`, if any. A region
    AWS lists is not a replica yet: only an InSync one holds the secret."""
    expected = tuple(sorted(set(env.replica_regions)))
    actual = tuple(sorted({r.region for r in entry.meta.replicas}))
    unhealthy = tuple(
        sorted((r for r in entry.meta.replicas if not r.healthy), key=lambda r: r.region)
    )
    if expected == actual and not unhealthy:
        return None
    return ReplicaDrift(entry.key, env.name, expected, actual, unhealthy)


def metadata_differences(
    a: SideEntry, b: SideEntry, a_env: EnvironmentConfig, b_env: EnvironmentConfig
) -> list[MetadataDifference]:
    """KMS key, rotation and tags of a secret present on both sides.

    Tag keys that either environment sets for all its secrets in secrets.toml (`tags`) are
    expected to differ and are left out, as are `RECORD_TAG_PREFIXES` tags. Replicas are
    compared with each environment's own `replica_regions` instead (see `replica_drift`),
    since environments may live in different regions."""
    found: list[MetadataDifference] = []
    kms_a, kms_b = _default_kms(a.meta.kms_key_id), _default_kms(b.meta.kms_key_id)
    if kms_a != kms_b:
        found.append(MetadataDifference(a.key, "kms_key_id", kms_a, kms_b))
    if a.meta.rotation.enabled != b.meta.rotation.enabled:
        found.append(
            MetadataDifference(
                a.key, "rotation_enabled", a.meta.rotation.enabled, b.meta.rotation.enabled
            )
        )
    ignored = set(a_env.tags) | set(b_env.tags)
    tags_a = {
        k: v
        for k, v in a.meta.tags.items()
        if k not in ignored and not k.startswith(RECORD_TAG_PREFIXES)
    }
    tags_b = {
        k: v
        for k, v in b.meta.tags.items()
        if k not in ignored and not k.startswith(RECORD_TAG_PREFIXES)
    }
    if tags_a != tags_b:
        found.append(MetadataDifference(a.key, "tags", tags_a, tags_b))
    return found


def compare(
    a: Side,
    b: Side,
    *,
    metadata: bool = False,
    a_env: EnvironmentConfig | None = None,
    b_env: EnvironmentConfig | None = None,
) -> DiffResult:
    """Compare two fingerprinted sides key by key (and their settings with `metadata`)."""
    keys = sorted(set(a.entries) | set(b.entries))
    rows = tuple(compare_entries(k, a.entries.get(k), b.entries.get(k)) for k in keys)
    if not metadata:
        return DiffResult(a.env, b.env, a.prefix, rows)
    a_cfg = a_env or EnvironmentConfig.default(a.env)
    b_cfg = b_env or EnvironmentConfig.default(b.env)
    differences: list[MetadataDifference] = []
    drift: list[ReplicaDrift] = []
    for row in rows:
        live = [
            (entry, cfg)
            for entry, cfg in ((row.a, a_cfg), (row.b, b_cfg))
            if entry is not None and not entry.pending_deletion
        ]
        for entry, cfg in live:
            found = replica_drift(entry, cfg)
            if found is not None:
                drift.append(found)
        if row.a is not None and row.b is not None and len(live) == 2:
            differences.extend(metadata_differences(row.a, row.b, a_cfg, b_cfg))
    return DiffResult(a.env, b.env, a.prefix, rows, tuple(differences), tuple(drift))


# -- check: what the functions need ---------------------------------------------------------------
# `no_value`: the secret exists without an AWSCURRENT version (CreateSecret without a value,
# as Terraform's aws_secretsmanager_secret without a _version makes it): nothing can read it.
CheckStatus = Literal["ok", "missing", "pending_deletion", "no_value", "replica_drift"]


@dataclass(frozen=True)
class CheckItem:
    """One secret declared for one or more functions, and what was found in the environment."""

    key: str
    name: str
    functions: tuple[str, ...]
    status: CheckStatus
    drift: ReplicaDrift | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "functions": list(self.functions),
            "status": self.status,
            "replica_drift": self.drift.as_dict() if self.drift else None,
        }


@dataclass(frozen=True)
class CheckResult:
    """The outcome of `secrets check`; `as_dict()` is the documented `--json` shape."""

    env: str
    functions: tuple[str, ...]
    items: tuple[CheckItem, ...]

    @property
    def ok(self) -> bool:
        return all(item.status == "ok" for item in self.items)

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(
            ("ok", "missing", "pending_deletion", "no_value", "replica_drift"), 0
        )
        for item in self.items:
            counts[item.status] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "functions": list(self.functions),
            "ok": self.ok,
            "counts": self.counts,
            "secrets": [item.as_dict() for item in self.items],
        }


def check_functions(
    store: SecretStore,
    env: EnvironmentConfig,
    functions: Sequence[FunctionConfig],
    *,
    workers: int = DEFAULT_WORKERS,
) -> CheckResult:
    """Does every secret the functions declare exist in `env` with a current value, not
    scheduled for deletion, replicated where `env.replica_regions` says?

    Uses DescribeSecret per declared secret rather than ListSecrets: declared secrets are few,
    and ListSecrets is eventually consistent (a secret created a moment ago may not be listed).
    """
    users: dict[str, list[str]] = {}
    for function in functions:
        for key in function.secrets:
            users.setdefault(key, []).append(function.name)
    keys = sorted(users)
    names = [f"{env.name}/{key}" for key in keys]
    found = describe_many(store, names, side=env.name, workers=workers, missing_ok=True)
    items: list[CheckItem] = []
    for key, name in zip(keys, names, strict=True):
        meta = found.get(name)
        status: CheckStatus
        drift: ReplicaDrift | None = None
        if meta is None:
            status = "missing"
        elif meta.scheduled_for_deletion:
            status = "pending_deletion"
        elif meta.version_with(CURRENT) is None:
            status = "no_value"
        else:
            drift = replica_drift(SideEntry(key, meta), env)
            status = "ok" if drift is None else "replica_drift"
        items.append(CheckItem(key, name, tuple(users[key]), status, drift))
    return CheckResult(env.name, tuple(f.name for f in functions), tuple(items))


def in_parallel(first: Callable[[], T], second: Callable[[], T]) -> tuple[T, T]:
    """Run the two sides' work at once: each side has its own session and connection pool,
    often in another account or region, so neither should wait for the other."""
    a, b = run_all(lambda side: side(), (first, second), workers=2, name="sides")
    return a.result(), b.result()


# Not mutated (make mutation): the methods mutmut adds to a class it mutates would become
# members of this runtime-checkable protocol, and then no store would be an instance of it.
@runtime_checkable
class ReplicatingStore(Protocol):  # pragma: no mutate block
    """A store that can replicate a secret to other regions (Secrets Manager can)."""

    def add_replicas(
        self,
        name: str,
        regions: Sequence[str],
        kms_key_id: str | None = None,
        *,
        force_overwrite: bool = False,
    ) -> tuple[Replica, ...]:
        """Replicate `name` to `regions`; with `force_overwrite`, a secret of the same name
        there is replaced. Returns every replica's status after the call."""
        ...

    def remove_replicas(self, name: str, regions: Sequence[str]) -> None: ...

    def describe_in(self, name: str, region: str) -> SecretMetadata | None:
        """The secret called `name` in another region (a replica or an unrelated secret of
        the same name), or None."""
        ...
