"""What the domain needs from a secret store, and the records it gets back.

`backends/secretsmanager.py` implements `SecretStore` against AWS; `backends/keyring_store.py`
may implement it against the OS keychain. The domain code depends only on this protocol.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from envsecrets.core.values import SecretValue

CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"
PENDING = "AWSPENDING"


@dataclass(frozen=True)
class StoredValue:
    """One version's value as read from the store."""

    name: str
    value: SecretValue
    version_id: str
    stages: tuple[str, ...] = ()
    created: datetime | None = None


@dataclass(frozen=True)
class SecretVersion:
    """A version's identity and labels, never its value."""

    version_id: str
    stages: tuple[str, ...]
    created: datetime | None = None
    last_accessed: datetime | None = None


@dataclass(frozen=True)
class Rotation:
    """Managed-rotation settings as Secrets Manager reports them."""

    enabled: bool = False
    lambda_arn: str | None = None
    schedule: str | None = None  # "every 30 days" or a cron/rate expression
    last_rotated: datetime | None = None
    next_rotation: datetime | None = None


# A replica's status as DescribeSecret reports it; only InSync means the secret is there.
IN_SYNC = "InSync"


@dataclass(frozen=True)
class Replica:
    """One replica region of a secret: `status` InSync, InProgress, Failed ("the replica was
    not created"), ...; `message` says why ("Secret with this name already exists in this
    region"); `last_accessed` is that region's own LastAccessedDate."""

    region: str
    status: str | None = None
    kms_key_id: str | None = None
    message: str | None = None
    last_accessed: datetime | None = None

    @property
    def healthy(self) -> bool:
        """Whether the secret is there, up to date: a failed or unfinished replica is not."""
        return self.status == IN_SYNC


@dataclass(frozen=True)
class SecretMetadata:
    """Everything about a secret except its value."""

    name: str
    arn: str | None = None
    description: str | None = None
    kms_key_id: str | None = None
    created: datetime | None = None
    last_changed: datetime | None = None
    last_accessed: datetime | None = None
    deleted_on: datetime | None = None  # set when deletion is scheduled
    rotation: Rotation = field(default_factory=Rotation)
    tags: dict[str, str] = field(default_factory=dict)
    replicas: tuple[Replica, ...] = ()
    version_stages: dict[str, tuple[str, ...]] = field(default_factory=dict)
    primary_region: str | None = None

    @property
    def scheduled_for_deletion(self) -> bool:
        return self.deleted_on is not None

    @property
    def pending_version(self) -> str | None:
        """The version labelled AWSPENDING but not AWSCURRENT, if any."""
        for version, stages in self.version_stages.items():
            if PENDING in stages and CURRENT not in stages:
                return version
        return None

    def version_with(self, stage: str) -> str | None:
        for version, stages in self.version_stages.items():
            if stage in stages:
                return version
        return None


# A code of `BatchRead.errors` of the store's own: the secret exists but has no AWSCURRENT
# version, so there is no value to read (CreateSecret without one, as Terraform's
# aws_secretsmanager_secret without a _version does). AWS says ResourceNotFoundException.
NO_VALUE = "NoCurrentValue"


@dataclass(frozen=True)
class BatchRead:
    """The outcome of reading many secrets: values by name, and per-name errors (codes only)."""

    values: dict[str, StoredValue] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


class SecretStore(Protocol):
    """A place secrets live. Names are full `<env>/<path>` strings."""

    def read(
        self, name: str, *, stage: str | None = CURRENT, version_id: str | None = None
    ) -> StoredValue:
        """One version's value; raises CliError(NOT_FOUND) when absent."""
        ...

    def read_many(self, names: Sequence[str]) -> BatchRead:
        """Current values of many secrets, in as few calls as the store allows. The store
        knows its batch limits and runs its calls side by side: callers never chunk."""
        ...

    def read_each(self, names: Iterable[str]) -> Iterator[BatchRead]:
        """`read_many` handed over a call at a time, as each arrives (in no set order), so
        that a caller can use values and drop them as it goes, or read names from a stream
        that is still being produced. Every name ends up in exactly one BatchRead, in its
        `values` or its `errors`."""
        ...

    def create(
        self,
        name: str,
        value: SecretValue,
        *,
        token: str,
        description: str | None = None,
        kms_key_id: str | None = None,
        tags: dict[str, str] | None = None,
        replica_regions: Sequence[str] = (),
    ) -> str:
        """Create the secret with its first version; returns the version id."""
        ...

    def put(
        self, name: str, value: SecretValue, *, token: str, stages: Sequence[str] | None = None
    ) -> SecretVersion:
        """Add a version (AWSCURRENT unless `stages` says otherwise); returns its id and the
        labels it carries now, as the store's reply says. A token that is an existing version's
        id, with the same value, changes nothing: that version comes back with its labels as
        they are (`labels.make_current` checks for it)."""
        ...

    def describe(self, name: str) -> SecretMetadata: ...

    def versions(self, name: str) -> list[SecretVersion]: ...

    def list(self, prefix: str = "", *, include_deleted: bool = False) -> Iterator[SecretMetadata]:
        """Secrets whose names start with `prefix`."""
        ...

    def update(
        self, name: str, *, description: str | None = None, kms_key_id: str | None = None
    ) -> None: ...

    def tag(self, name: str, tags: dict[str, str]) -> None: ...

    def untag(self, name: str, keys: Iterable[str]) -> None: ...

    def move_stage(
        self, name: str, stage: str, *, to_version: str | None, from_version: str | None
    ) -> None:
        """Attach `stage` to `to_version` (removing it from `from_version`), or detach it."""
        ...

    def delete(
        self, name: str, *, recovery_days: int | None = 30, force: bool = False
    ) -> datetime | None:
        """Schedule deletion (or delete now with `force`); returns the deletion date."""
        ...

    def restore(self, name: str) -> None: ...
