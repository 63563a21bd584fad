"""How old a secret's value is, and when it was last read: what AWS's dates really say.

- A value's age is its AWSCURRENT version's `CreatedDate`. `LastChangedDate` moves on any
  change ("modified in any way": a tag, a description, our own `migrated-from` and
  `rotated-*` tags), so it only bounds the value's age from above: a secret whose
  LastChangedDate is older than a limit certainly holds a value older than that limit, while
  one changed since may still hold an old value (re-tagged, or rolled back to an old version).
  Only the second kind costs a call (ListSecretVersionIds: dates, never values).
- `LastAccessedDate` is a date ("the resolution of this field is at the date level") and
  belongs to one region: a replica has its own. "Not read for N days" is decided on whole
  days, and on the latest date across the primary and its replicas.
- Listings are eventually consistent (up to five minutes): dates from ListSecrets may lag,
  which is why bulk rotation checks the date of the value it read, and looks again right
  before it rotates.

No AWS, Typer or rich here: the store protocol only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from envsecrets.core.pool import run_all
from envsecrets.core.store import CURRENT, SecretMetadata, SecretStore
from envsecrets.errors import CliError, ExitCode

DEFAULT_WORKERS = 8
# How far ListSecrets may lag behind writes ("eventually consistent", up to five minutes).
LISTING_LAG = timedelta(minutes=5)


def value_set_at(store: SecretStore, name: str) -> datetime | None:
    """When the value `name` holds now was written: its AWSCURRENT version's CreatedDate
    (ListSecretVersionIds, which reads no value). None when no version is current."""
    for version in store.versions(name):
        if CURRENT in version.stages:
            return version.created
    return None


def _keep_found(error: Exception) -> bool:
    """A secret gone since the listing is left out; any other failure stops the run."""
    return not (isinstance(error, CliError) and error.code == ExitCode.NOT_FOUND)


def values_set_before(
    store: SecretStore,
    listed: Sequence[SecretMetadata],
    limit: datetime,
    *,
    workers: int = DEFAULT_WORKERS,
) -> list[SecretMetadata]:
    """Those of `listed` whose current value was written before `limit`, in their order.

    A LastChangedDate before the limit settles it at no cost; for the others the current
    version's CreatedDate is asked, on a pool of `workers`. A secret deleted since the listing
    is left out; an unknown date cannot prove a value fresh, so it counts as old. A secret
    scheduled for deletion is judged by its listing alone (AWS refuses to list its versions)."""
    unsure = [
        meta
        for meta in listed
        # A secret scheduled for deletion refuses version calls: its listing date decides.
        if (meta.last_changed is None or meta.last_changed >= limit)
        and not meta.scheduled_for_deletion
    ]
    asked = run_all(
        lambda meta: value_set_at(store, meta.name),
        unsure,
        workers=workers,
        name="value-dates",
        fatal=_keep_found,
    )
    fresh: set[str] = set()
    for done in asked:
        if done.error is not None:
            fresh.add(done.item.name)  # gone since the listing: nothing to report or rotate
            continue
        when = done.value
        if when is not None and when >= limit:
            fresh.add(done.item.name)
    return [meta for meta in listed if meta.name not in fresh]


def read_within(last_read: datetime | None, days: int, today: date) -> bool:
    """Whether a secret whose LastAccessedDate is `last_read` may have been read in the last
    `days` days. The date says only which day (UTC) the last read happened on, so a secret
    counts as unused for N days only when that day is more than N whole days before today:
    read yesterday is within one day, read today within zero."""
    if last_read is None:
        return False
    day = _as_utc(last_read).date()
    return (today - day).days <= days


def latest_read(*dates: datetime | None) -> datetime | None:
    """The latest of some LastAccessedDates (None when none is known)."""
    known = [when for when in dates if when is not None]
    return max(known, key=_as_utc) if known else None


def _as_utc(when: datetime) -> datetime:
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def unused_for(
    store: SecretStore,
    listed: Sequence[SecretMetadata],
    days: int,
    *,
    today: date | None = None,
    workers: int = DEFAULT_WORKERS,
) -> list[SecretMetadata]:
    """Those of `listed` that nobody has read for more than `days` whole days in any region,
    each with its latest read across regions as `last_accessed`.

    The listing gives the primary region's date only; a secret that looks unused there is
    described (DescribeSecret reports each replica's LastAccessedDate) before it is called
    unused: an application may read it from a replica."""
    today = today or datetime.now(UTC).date()
    candidates = [meta for meta in listed if not read_within(meta.last_accessed, days, today)]
    described = run_all(
        store.describe,
        [meta.name for meta in candidates],
        workers=workers,
        name="last-read",
        fatal=_keep_found,
    )
    found: list[SecretMetadata] = []
    for meta, done in zip(candidates, described, strict=True):
        if done.error is not None:
            continue  # deleted since the listing
        described_meta = done.result()
        latest = latest_read(
            meta.last_accessed,
            described_meta.last_accessed,
            *(replica.last_accessed for replica in described_meta.replicas),
        )
        if not read_within(latest, days, today):
            found.append(replace(meta, last_accessed=latest))
    return found


def listing_may_lag(listed: Sequence[SecretMetadata], now: datetime | None = None) -> bool:
    """Whether any of `listed` changed within the listing's lag: writes that recent (a copy
    a moment ago) may be missing from the same listing, so a comparison built on it may be
    incomplete."""
    since = (now or datetime.now(UTC)) - LISTING_LAG
    return any(
        when is not None and _as_utc(when) >= since
        for meta in listed
        for when in (meta.last_changed, meta.created)
    )
