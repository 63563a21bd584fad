"""Files that hold secret values: created 0600 and replaced atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cli.errors import CliError, ExitCode


def write_private_file(path: Path, data: bytes) -> None:
    """Write `data` to `path` with mode 0600, atomically (a temp file renamed into place).

    Readers see the old file or the new one, never half of either, and at no moment is the
    value in a file that others can read.
    """
    folder = path.parent if str(path.parent) else Path()
    if not folder.is_dir():
        raise CliError(ExitCode.USAGE, f"cannot write {path}: folder {folder} does not exist")
    try:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise CliError(ExitCode.USAGE, f"cannot write {path}: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o600)  # mkstemp already uses 0600; be explicit about it
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temp).replace(path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise CliError(ExitCode.USAGE, f"cannot write {path}: {exc.strerror}") from None
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
