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


def write_text_atomically(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Replace `path` with `text`, keeping its mode if it exists. For files that hold no
    secret values (config, reports)."""
    if path.exists():
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
