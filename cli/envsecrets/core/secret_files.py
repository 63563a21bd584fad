"""The private folder that `secrets run` delivers values in: one 0600 file per variable.

Where: `$XDG_RUNTIME_DIR/envsecrets/` (a per-user tmpfs on systemd machines), else
`/dev/shm/envsecrets-<uid>/` (tmpfs on Linux), else `<temp folder>/envsecrets-<uid>/` on disk,
with a note saying so. That parent is created 0700 and refused if it is anything else (a
symlink, another user's folder, group- or world-readable): `/dev/shm` and `/tmp` are shared,
and someone could have prepared the name.

Each run makes `run-XXXXXXXX/` (0700) in it and holds an exclusive `flock` on the file
`run-XXXXXXXX.lock` next to it for as long as it lives. The kernel drops the lock when the
process ends in any way, SIGKILL included, so the next run can tell a folder whose owner is
gone (its lock can be taken) from a live one, and removes it. Creating and sweeping both
happen under a lock on the parent, so a sweep never takes a folder that is being made. The
lock files are next to the folders, not in them: the program sees only its secrets in
`$SECRETS_DIR`. The program inherits the lock's descriptor (`lock_fd`): if `secrets` is
killed with SIGKILL, the orphaned program still holds the lock, and its folder is not swept
from under it; the lock is released, and the folder swept, once the program (and whatever it
started that kept the descriptor) has ended.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from envsecrets.core.scopes import Variable
from envsecrets.errors import CliError, ExitCode

RUN_PREFIX = "run-"
LOCK_SUFFIX = ".lock"
OPEN_FLAGS = os.O_CLOEXEC | os.O_NOFOLLOW


@dataclass(frozen=True)
class FolderPlace:
    """The parent folder for this user's runs, and whether it lives in memory."""

    parent: Path
    memory_backed: bool


# Shared by every user, but only used through a parent that _ensure_private_parent checks.
SHARED_MEMORY = Path("/dev/shm")  # noqa: S108


def folder_place(
    environ: Mapping[str, str] | None = None, *, shm: Path = SHARED_MEMORY
) -> FolderPlace:
    """`$XDG_RUNTIME_DIR/envsecrets`, else `/dev/shm/envsecrets-<uid>`, else the temp
    folder's `envsecrets-<uid>` (on disk)."""
    environ = os.environ if environ is None else environ
    uid = os.getuid()
    runtime = environ.get("XDG_RUNTIME_DIR", "")
    if runtime and Path(runtime).is_absolute() and _private_folder_of_mine(Path(runtime)):
        return FolderPlace(Path(runtime) / "envsecrets", True)
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return FolderPlace(shm / f"envsecrets-{uid}", True)
    return FolderPlace(Path(tempfile.gettempdir()) / f"envsecrets-{uid}", False)


def _private_folder_of_mine(path: Path) -> bool:
    try:
        info = path.lstat()
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.getuid()
        and not info.st_mode & 0o077
        and os.access(path, os.W_OK | os.X_OK)
    )


def _ensure_private_parent(parent: Path) -> None:
    try:
        parent.mkdir(mode=0o700)
        parent.chmod(0o700)  # whatever the umask left
    except FileExistsError:
        pass
    except OSError as exc:
        raise CliError(
            ExitCode.FAILED,
            f"cannot create {parent} for the secret files ({exc.strerror})",
            "set XDG_RUNTIME_DIR to a private folder of yours (mode 0700)",
        ) from None
    if not _private_folder_of_mine(parent):
        raise CliError(
            ExitCode.REFUSED,
            f"refusing to write secret files in {parent}: it is not a private folder of yours "
            "(a folder you own, mode 0700, not a symlink)",
            f"remove {parent} if you do not know it, or set XDG_RUNTIME_DIR to a private folder",
        )


@contextlib.contextmanager
def _parent_locked(parent: Path) -> Iterator[None]:
    fd = os.open(parent / LOCK_SUFFIX, os.O_RDWR | os.O_CREAT | OPEN_FLAGS, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _abandoned(lock: Path) -> bool:
    """Whether nobody holds `lock` (its run ended, however it ended)."""
    try:
        fd = os.open(lock, os.O_RDWR | OPEN_FLAGS)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def sweep_abandoned(parent: Path) -> list[Path]:
    """Remove the run folders (and their lock files) of runs that ended without cleaning up,
    e.g. killed with SIGKILL; returns what was removed. Call with the parent locked."""
    removed: list[Path] = []
    for entry in sorted(parent.iterdir()):
        if not entry.name.startswith(RUN_PREFIX):
            continue
        if entry.name.endswith(LOCK_SUFFIX):
            folder = entry.with_name(entry.name[: -len(LOCK_SUFFIX)])
            if not folder.exists() and _abandoned(entry):
                entry.unlink(missing_ok=True)
            continue
        lock = entry.with_name(entry.name + LOCK_SUFFIX)
        if _abandoned(lock):
            shutil.rmtree(entry, ignore_errors=True)
            lock.unlink(missing_ok=True)
            removed.append(entry)
    return removed


@dataclass
class SecretFolder:
    """One run's private folder; `remove()` (idempotent) deletes it and its lock."""

    path: Path
    memory_backed: bool
    _lock_fd: int | None
    files: dict[str, Path] = field(default_factory=dict)

    def write(self, variables: Sequence[Variable]) -> dict[str, Path]:
        """One 0600 file per variable, named after it, holding the value's exact bytes."""
        for variable in variables:
            target = self.path / variable.name
            try:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | OPEN_FLAGS, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(variable.value.data())
            except OSError as exc:
                raise CliError(
                    ExitCode.FAILED,
                    f"cannot write the secret files in {self.path} ({exc.strerror})",
                    "free some space there, or set XDG_RUNTIME_DIR to another private folder",
                ) from None
            self.files[variable.name] = target
        return dict(self.files)

    @property
    def lock_fd(self) -> int | None:
        """The descriptor holding the folder's lock: a program that inherits it keeps the
        folder alive for as long as it (or a process it started) lives, even if `secrets`
        itself is killed with SIGKILL."""
        return self._lock_fd

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        if self._lock_fd is not None:
            Path(f"{self.path}{LOCK_SUFFIX}").unlink(missing_ok=True)
            os.close(self._lock_fd)  # last: the lock is what marks the folder as alive
            self._lock_fd = None


def open_secret_folder(place: FolderPlace | None = None) -> SecretFolder:
    """A new private folder for one run (abandoned ones of earlier runs are removed first)."""
    place = place or folder_place()
    _ensure_private_parent(place.parent)
    try:
        with _parent_locked(place.parent):
            sweep_abandoned(place.parent)
            path = Path(tempfile.mkdtemp(prefix=RUN_PREFIX, dir=place.parent))
            lock_fd = os.open(
                f"{path}{LOCK_SUFFIX}", os.O_RDWR | os.O_CREAT | os.O_EXCL | OPEN_FLAGS, 0o600
            )
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        raise CliError(
            ExitCode.FAILED,
            f"cannot create a private folder in {place.parent} ({exc.strerror})",
            "set XDG_RUNTIME_DIR to a private folder of yours (mode 0700)",
        ) from None
    return SecretFolder(path, place.memory_backed, lock_fd)
