"""The mark a rotation under way leaves on its secret, so that `--resume` and `--cancel` (and a
second rotation) can tell a live rotation's pending version from one a crash left behind.

Before a rotation stages its value it tags the secret with a lease: the version it is about to
stage (its id is known before the write), the host, the process id and that process's start
time, the PID namespace it runs in on this boot, and an expiry. The record written when the
rotation finishes empties it; a failure empties it too when it can. A lease is alive while its
process runs (on this host: the process id is probed and its start time compared, so a reused
id does not count) or, seen from another host, until it expires.

The host name alone does not say "this host": containers sharing a host name (Kubernetes
hostNetwork pods, `docker --uts=host`, CI runners with a fixed name) do not see each other's
processes, so a rotation in another one would look dead and `--resume` would promote a value
still being verified. The process is probed only where the lease's PID namespace (boot id and
namespace inode) is ours; elsewhere the lease holds until it expires. A lease written before
the namespace was recorded is probed by host name, as it was then.

Only a lease naming the pending version counts: one left by a rotation that failed before its
write names a version that never existed.

A pending version with no lease at all was staged by another tool or an older envsecrets, or
its lease could not be written (no TagResource permission): nobody can know whether that
rotation still runs, and the wording says so.

No AWS, Typer or rich here.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from envsecrets.core.store import SecretStore
from envsecrets.errors import CliError

LEASE_TAG = "envsecrets:rotating"
# Seen from another host, a lease is trusted at least this long: longer than a rotation's own
# limits allow it to run with their defaults (the verify and apply commands' timeouts, an RDS
# database's wait); longer limits lengthen it (`lease_seconds`).
LEASE_SECONDS = 3600
# Added to a rotation's own limits: its AWS calls and their retries, the steps around them.
LEASE_MARGIN_SECONDS = 600
# Before the namespace in a tag value (`ns=1a2b3c4d.4026531836`): a host name never starts so.
NAMESPACE_MARK = "ns="


@dataclass(frozen=True)
class Lease:
    """A rotation under way: the version it stages, where it runs, and until when it is
    trusted from another host."""

    version: str
    host: str
    pid: int
    started: str  # the process's start time (Linux: clock ticks after boot), or "-"
    since: datetime
    expires: datetime
    # Where `pid` means that process: `<boot id, 8 hex>.<PID namespace inode>`, "-" without
    # /proc; None in a lease written before it was recorded.
    namespace: str | None = None

    def tag_value(self) -> str:
        """The tag value (AWS: at most 256 characters); the host name is cut to fit."""
        moment = self.since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        until = self.expires.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        # The namespace goes before the host (the last field, which may be cut): a lease
        # without it still reads as before. At most 36+7+20+20+20+35+100+5 characters.
        space = f"{NAMESPACE_MARK}{self.namespace[:32]} " if self.namespace is not None else ""
        return f"{self.version} {self.pid} {self.started} {moment} {until} {space}{self.host[:100]}"

    def describe(self) -> str:
        """`pid 1234 on HOST since 2026-11-30 14:35 UTC`."""
        return (
            f"pid {self.pid} on {self.host} since {self.since.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        )


def parse_lease(value: str | None) -> Lease | None:
    """The lease in a tag value, or None (empty: no rotation under way; unreadable: ignored)."""
    parts = (value or "").split(" ", 5)
    if len(parts) != 6:
        return None
    version, pid, started, since, expires, host = parts
    namespace: str | None = None
    if host.startswith(NAMESPACE_MARK) and " " in host:
        namespace, host = host.removeprefix(NAMESPACE_MARK).split(" ", 1)
    try:
        return Lease(
            version,
            host,
            int(pid),
            started,
            datetime.fromisoformat(since.replace("Z", "+00:00")),
            datetime.fromisoformat(expires.replace("Z", "+00:00")),
            namespace,
        )
    except ValueError:
        return None


def without_released_lease(tags: dict[str, str]) -> dict[str, str]:
    """A secret's tags as shown to users: a released lease (the tag emptied, which needs no
    UntagResource right) says nothing and is left out."""
    return {k: v for k, v in tags.items() if not (k == LEASE_TAG and not v)}


def lease_of(tags: dict[str, str], version: str | None) -> Lease | None:
    """The lease in a secret's tags that names `version` (the pending one), else None."""
    lease = parse_lease(tags.get(LEASE_TAG))
    if lease is None or version is None or lease.version != version:
        return None
    return lease


def is_alive(lease: Lease, now: datetime | None = None) -> bool:
    """Whether the rotation that took `lease` may still be running: where its process id
    means the same process as here (this host, this boot, this PID namespace), whether that
    process runs (by its start time); from anywhere else, until the lease expires."""
    same_namespace = lease.namespace is None or lease.namespace == pid_namespace()
    if lease.host == socket.gethostname() and same_namespace:
        return lease.pid == os.getpid() or _process_start(lease.pid) == lease.started
    return (now or datetime.now(UTC)) < lease.expires


def lease_seconds(*limits: float | None) -> int:
    """How long a rotation's lease is trusted from elsewhere: LEASE_SECONDS, or longer when the
    rotation's own limits in seconds (its apply and verify timeouts; None: not used) add up
    to more, with a margin: a lease that expired under a rotation still running would let
    `--resume` promote what it has not verified yet."""
    own = math.ceil(sum(limit for limit in limits if limit is not None)) + LEASE_MARGIN_SECONDS
    return max(LEASE_SECONDS, own)


def take_lease(
    store: SecretStore, name: str, version: str, *, seconds: int = LEASE_SECONDS
) -> bool:
    """Tag `name` with this process's lease on `version`; False when the tag could not be
    written (the rotation goes on without one: the lease helps recovery, it is not a lock)."""
    now = datetime.now(UTC).replace(microsecond=0)
    lease = Lease(
        version,
        socket.gethostname(),
        os.getpid(),
        _process_start(os.getpid()) or "-",
        now,
        now + timedelta(seconds=seconds),
        pid_namespace(),
    )
    try:
        store.tag(name, {LEASE_TAG: lease.tag_value()})
    except CliError:
        return False
    return True


def release_lease(store: SecretStore, name: str) -> None:
    """Empty the lease after a failure, when that can be done (the process ending makes it
    dead anyway on this host; from another host, an emptied lease saves waiting for it to
    expire)."""
    with contextlib.suppress(CliError):
        store.tag(name, {LEASE_TAG: ""})


def pid_namespace() -> str:
    """Where this process's ids mean something: the boot (the first 8 hex digits of
    /proc/sys/kernel/random/boot_id: ids restart at each boot) and the PID namespace (the
    inode of /proc/self/ns/pid: containers sharing a host name may each have their own).
    "-" where either cannot be read (no /proc): the host name alone decides, as it did."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
        inode = Path("/proc/self/ns/pid").stat().st_ino
    except (OSError, UnicodeDecodeError):
        return "-"
    return f"{boot.replace('-', '')[:8]}.{inode}"


def _process_start(pid: int) -> str | None:
    """The start time of process `pid` (field 22 of /proc/PID/stat), "-" where /proc is
    missing and the process exists, None when it does not exist."""
    if not Path("/proc/self/stat").exists():  # no /proc (macOS): the process id alone
        return "-" if _exists(pid) else None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return None
    except OSError:
        return "-" if _exists(pid) else None
    # The command name (field 2) is in parentheses and may hold spaces: count after it.
    fields = stat.rsplit(")", 1)[-1].split()
    if len(fields) > 19 and fields[0] != "Z":
        return fields[19]
    return None  # a zombie has ended: its rotation is not running


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
