"""Copying secrets between environments: plan (compare both sides), then apply (write).

Split like `set` so that the command can show the plan and ask before anything is written,
and so that a conflict stops the whole copy before the first write. Values are read in
batches (BatchGetSecretValue) and compared by SHA-256; writes reuse `apply_set`, whose
ClientRequestTokens make a retried copy create no second version.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from envsecrets.core.config import EnvironmentConfig
from envsecrets.core.diffing import (
    DEFAULT_WORKERS,
    RECORD_TAG_PREFIXES,
    Fingerprint,
    describe_many,
    on_side,
    read_values,
)
from envsecrets.core.names import NamePrefix, SecretName
from envsecrets.core.operations import SetAction, SetOptions, SetPlan, apply_set
from envsecrets.core.pool import run_all
from envsecrets.core.store import SecretMetadata, SecretStore, StoredValue
from envsecrets.errors import CliError, ExitCode

CopyAction = Literal["create", "overwrite", "unchanged", "conflict", "skip"]
# CreateSecret/PutSecretValue allow about 50/s; the bulk client's retries do the rest.
WRITE_WORKERS = 4


@dataclass(frozen=True)
class CopyScope:
    """One secret (`staging/api/key`) or everything under a prefix (`staging/api/`)."""

    env: str
    path: str  # the secret's path, or a prefix path ("" or ending with "/")
    single: bool

    @classmethod
    def parse_pair(cls, src: str, dst: str) -> tuple[CopyScope, CopyScope]:
        """Read SRC and DST as the user typed them.

        SRC is a prefix when it ends with `/` or names only an environment; DST is then a
        prefix too. A single SRC secret goes to the DST name, or, when DST ends with `/` or
        names only an environment, to the same path under it (`copy staging/api/key prod/`).
        """
        if src.endswith("/") or "/" not in src.strip("/"):
            source_prefix = NamePrefix.parse(src)
            target_prefix = NamePrefix.parse(dst)
            pair = (
                cls(source_prefix.env, source_prefix.path, single=False),
                cls(target_prefix.env, target_prefix.path, single=False),
            )
        else:
            source = SecretName.parse(src)
            if dst.endswith("/") or "/" not in dst.strip("/"):
                under = NamePrefix.parse(dst)
                target = SecretName.join(under.env, under.path + source.path)
            else:
                target = SecretName.parse(dst)
            pair = (
                cls(source.env, source.path, single=True),
                cls(target.env, target.path, single=True),
            )
        pair[0].check_against(pair[1])
        return pair

    def __str__(self) -> str:
        return f"{self.env}/{self.path}"

    def check_against(self, dst: CopyScope) -> None:
        """Refuse a copy onto itself, or between prefixes that contain one another."""
        if str(self) == str(dst):
            raise CliError(
                ExitCode.USAGE,
                f"source and destination are the same ({self})",
                "copy to another environment, e.g. `secrets copy staging/api/ prod/api/`",
            )
        if not self.single and (str(dst).startswith(str(self)) or str(self).startswith(str(dst))):
            raise CliError(
                ExitCode.USAGE,
                f"{self} and {dst} overlap: one contains the other",
                "copy between prefixes that do not contain each other",
            )

    def target_of(self, name: str, dst: CopyScope) -> str:
        """Where the source secret `name` goes under `dst`."""
        if self.single:
            return str(dst)
        return str(dst) + name[len(str(self)) :]


@dataclass(frozen=True)
class CopyItem:
    """One secret of the plan: where it comes from, where it goes, and what will happen."""

    source: str
    target: str
    action: CopyAction
    reason: str = ""

    @property
    def writes(self) -> bool:
        return self.action in ("create", "overwrite")

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "action": self.action,
            "reason": self.reason or None,
        }


@dataclass
class CopyPlan:
    """What `copy` will do. Values to write are held as SecretValue (never printable)."""

    src: CopyScope
    dst: CopyScope
    items: list[CopyItem]
    _values: dict[str, StoredValue] = field(default_factory=dict, repr=False)
    _source_meta: dict[str, SecretMetadata] = field(default_factory=dict, repr=False)
    _target_versions: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def conflicts(self) -> list[CopyItem]:
        return [item for item in self.items if item.action == "conflict"]

    @property
    def writes(self) -> list[CopyItem]:
        return [item for item in self.items if item.writes]

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(
            ("create", "overwrite", "unchanged", "conflict", "skip"), 0
        )
        for item in self.items:
            counts[item.action] += 1
        return counts


def _source_side(
    store: SecretStore, scope: CopyScope, workers: int
) -> tuple[dict[str, SecretMetadata], list[str]]:
    """Source secrets (metadata by name) and the names skipped because they are being deleted."""
    if scope.single:
        found = describe_many(store, [str(scope)], side=scope.env, workers=workers, missing_ok=True)
        if not found:
            raise CliError(
                ExitCode.NOT_FOUND,
                f"[{scope.env}] secret '{scope}' not found",
                f"`secrets list {scope.env}/` shows what exists",
            )
    else:
        with on_side(scope.env):
            found = {m.name: m for m in store.list(str(scope), include_deleted=True)}
    deleting = sorted(n for n, m in found.items() if m.scheduled_for_deletion)
    live = {n: m for n, m in found.items() if not m.scheduled_for_deletion}
    return live, deleting


def _target_side(
    store: SecretStore, dst: CopyScope, names: Sequence[str], workers: int
) -> dict[str, SecretMetadata]:
    """What already exists at the destination names (deleted ones included: their names are
    taken until the recovery window ends)."""
    if dst.single:
        return describe_many(store, list(names), side=dst.env, missing_ok=True)
    with on_side(dst.env):
        return {m.name: m for m in store.list(str(dst), include_deleted=True)}


def plan_copy(
    src_store: SecretStore,
    dst_store: SecretStore,
    src: CopyScope,
    dst: CopyScope,
    *,
    missing_only: bool = False,
    overwrite: bool = False,
    workers: int = DEFAULT_WORKERS,
) -> CopyPlan:
    """Compare source and destination and decide, per secret: create, overwrite, unchanged,
    skip (`--missing-only` leaves differing secrets alone) or conflict (differs and neither
    flag says what to do, or the destination name is scheduled for deletion)."""
    if missing_only and overwrite:
        raise CliError(
            ExitCode.USAGE,
            "--missing-only and --overwrite contradict each other",
            "use --missing-only to leave existing secrets alone, or --overwrite to replace them",
        )
    sources, deleting = _source_side(src_store, src, workers)
    targets = {name: src.target_of(name, dst) for name in sources}
    existing = _target_side(dst_store, dst, list(targets.values()), workers)
    live_targets = [t for t in targets.values() if t in existing]
    live_targets = [t for t in live_targets if not existing[t].scheduled_for_deletion]

    def as_read(stored: StoredValue) -> StoredValue | None:
        return stored

    # A source secret without a value (no AWSCURRENT version) is skipped, saying so.
    values = read_values(
        src_store, sorted(sources), side=src.env, keep=as_read, no_value=lambda: None
    )
    # A destination secret without a value (created with none, or its versions removed) is
    # there but holds nothing to compare with: it differs from any value (None).
    current: dict[str, tuple[Fingerprint, str] | None] = read_values(
        dst_store,
        live_targets,
        side=dst.env,
        keep=lambda s: (Fingerprint.of(s), s.version_id),
        no_value=lambda: None,
    )
    items: list[CopyItem] = []
    versions: dict[str, str] = {}
    for name in sorted(sources):
        target = targets[name]
        if name not in values:  # deleted between listing and reading
            continue
        value = values[name]
        if value is None:
            items.append(CopyItem(name, target, "skip", f"{name} has no value"))
            continue
        here = Fingerprint.of(value)
        if target in existing and existing[target].scheduled_for_deletion:
            items.append(CopyItem(name, target, "conflict", f"{target} is scheduled for deletion"))
        elif target not in current:
            items.append(CopyItem(name, target, "create"))
        elif (there := current[target]) is not None and there[0].same_as(here):
            items.append(CopyItem(name, target, "unchanged"))
        elif overwrite:
            if there is not None:
                versions[target] = there[1]
            items.append(CopyItem(name, target, "overwrite"))
        else:
            differs = "exists with another value" if there is not None else "exists without a value"
            items.append(CopyItem(name, target, "skip" if missing_only else "conflict", differs))
    for name in deleting:
        items.append(
            CopyItem(name, src.target_of(name, dst), "skip", f"{name} is scheduled for deletion")
        )
    wanted = {i.source for i in items if i.writes}
    return CopyPlan(
        src,
        dst,
        items,
        _values={n: v for n, v in values.items() if n in wanted and v is not None},
        _source_meta={n: m for n, m in sources.items() if n in wanted},
        _target_versions=versions,
    )


@dataclass(frozen=True)
class CopyOutcome:
    written: list[CopyItem]
    failed: list[tuple[CopyItem, CliError]]


def apply_copy(
    dst_store: SecretStore,
    plan: CopyPlan,
    *,
    src_env: EnvironmentConfig,
    dst_env: EnvironmentConfig,
    workers: int = WRITE_WORKERS,
    advance: Callable[[int], None] | None = None,
) -> CopyOutcome:
    """Write every create/overwrite of the plan (a plan with conflicts is refused).

    The value is copied exactly (text stays text, binary stays binary); the description and
    tags follow, except tags that either environment sets for all its secrets in secrets.toml
    (those belong to the environment, so DST's own apply on create) and `RECORD_TAG_PREFIXES`
    tags. A new secret gets DST's KMS key and replica regions from its environment, never the
    source's.
    """
    if plan.conflicts:
        raise CliError(
            ExitCode.REFUSED,
            f"{len(plan.conflicts)} conflict(s); nothing was written",
            "--overwrite replaces differing secrets, --missing-only leaves them alone",
        )
    env_tags = set(src_env.tags) | set(dst_env.tags)

    def write(item: CopyItem) -> CopyItem:
        meta = plan._source_meta[item.source]
        tags = {
            k: v
            for k, v in meta.tags.items()
            if k not in env_tags and not k.startswith(RECORD_TAG_PREFIXES)
        }
        action: SetAction = "create" if item.action == "create" else "update"
        set_plan = SetPlan(
            SecretName.parse(item.target),
            action,
            plan._values[item.source].value,
            plan._target_versions.get(item.target),
        )
        options = SetOptions(description=meta.description, tags=tags)
        try:
            with on_side(dst_env.name):
                apply_set(dst_store, set_plan, dst_env, options)
        finally:
            if advance is not None:
                advance(1)
        return item

    # One secret's failure (a CliError) is reported with the others; anything else is our
    # bug and stops the copy.
    outcomes = run_all(
        write,
        plan.writes,
        workers=workers,
        name="copy",
        fatal=lambda exc: not isinstance(exc, CliError),
    )
    return CopyOutcome(
        [done.item for done in outcomes if done.error is None],
        [(done.item, done.error) for done in outcomes if isinstance(done.error, CliError)],
    )
