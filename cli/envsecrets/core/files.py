"""Writing files atomically: readers see the old file or the new one, never half of either.

Files that hold values are created 0600; other files (secrets.toml, reports) keep their mode.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from envsecrets.errors import CliError, ExitCode


def write_private_file(path: Path, data: bytes) -> None:
    """Write `data` to `path` with mode 0600, atomically: at no moment is the value in a file
    that others can read. A symlink is followed (the file it points to is replaced, the link
    stays); a FIFO or a character device (`/dev/stdout`, `>(cmd)`) is written through, never
    replaced by a file."""
    try:
        mode: int | None = path.stat().st_mode  # through any symlink
    except OSError:
        mode = None
    if mode is not None and (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
        _write_through(path, data)
        return
    _replace(Path(os.path.realpath(path)) if path.is_symlink() else path, data, 0o600)


def _write_through(path: Path, data: bytes) -> None:
    try:
        with path.open("wb") as handle:
            handle.write(data)
    except OSError as exc:
        raise CliError(
            ExitCode.USAGE, f"cannot write {path}: {exc.strerror}", "check the path"
        ) from None


def write_text_atomically(
    path: Path, text: str, *, mode: int = 0o644, follow_links: bool = True
) -> None:
    """Replace `path` with `text`, keeping its mode if it exists. For files that hold no
    secret values (config, reports) and for files being edited (`.env` lines removed).

    A symlink is followed: the file it points to is replaced, in its own folder (where the
    rename is atomic), and the link stays a link; replacing the link instead would leave the
    old text where it points and the user believing it changed. A new file that merely has
    a name (a report) passes `follow_links=False`: a link found there is replaced, so that
    one planted in a shared folder cannot aim the write at another file."""
    if follow_links:
        path = link_target(path)
    if path.exists() and not path.is_symlink():  # a link's target lends it no mode
        mode = stat.S_IMODE(path.stat().st_mode)
    _replace(path, text.encode("utf-8"), mode)


def _replace(path: Path, data: bytes, mode: int) -> None:
    """A temp file in the same folder (so the rename is atomic), fsynced, renamed into place."""
    folder = path.parent if str(path.parent) else Path()
    if not folder.is_dir():
        raise CliError(
            ExitCode.USAGE,
            f"cannot write {path}: folder {folder} does not exist",
            "create the folder first, or choose another path",
        )
    try:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise CliError(
            ExitCode.USAGE, f"cannot write {path}: {exc.strerror}", "check the folder's permissions"
        ) from None
    try:
        os.fchmod(fd, mode)  # mkstemp creates 0600; widen only for files without values
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temp).replace(path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise CliError(
            ExitCode.USAGE, f"cannot write {path}: {exc.strerror}", "check the folder's permissions"
        ) from None
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def link_target(path: Path) -> Path:
    """The file that `path` names once symlinks are followed (`path` itself when it is not a
    symlink); a link that loops is refused (exit 2)."""
    if not path.is_symlink():
        return path
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop, on Python 3.11 and 3.12
        raise CliError(
            ExitCode.USAGE,
            f"cannot write {shown_path(path)}: it is a symlink that leads nowhere (a loop)",
            "point the link at a file, or give the file's own path",
        ) from None


def shown_path(path: Path) -> str:
    """`path` as printable text: bytes of a file name that are not UTF-8 (which Python keeps
    as lone surrogates, and which no UTF-8 output can hold) become `\\xNN`."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def same_file(path: Path, other: Path) -> bool:
    """Whether two paths name one file: the same path once symlinks are followed, or the same
    inode (a hard link, a bind mount)."""
    try:
        if path.resolve() == other.resolve():
            return True
    except (OSError, RuntimeError):
        pass
    try:
        return path.samefile(other)
    except OSError:  # one of them does not exist
        return False
