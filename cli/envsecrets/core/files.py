"""Writing files atomically: readers see the old file or the new one, never half of either.

Files that hold values are created 0600; other files (secrets.toml, reports) keep their mode.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from pathlib import Path

from envsecrets.errors import CliError, ExitCode


def write_private_file(path: Path, data: bytes) -> str:
    """Write a value to `path` so that no moment exposes it to others; returns how, for the
    user's note ("mode 0600", "written through the FIFO").

    - A FIFO or a character device (a pipe someone reads, `/dev/null`, a terminal) is opened
      and written through, never replaced by a file: its reader gets the value.
    - A symlink is looked through only to learn what it points at: at a FIFO or a character
      device it is written through; at anything else it is replaced by a regular file, not
      followed, so that a planted link cannot send the value somewhere else.
    - A link to one of this process's open descriptors (`/dev/stdout`, `>(cmd)`'s
      `/dev/fd/63`: links into /proc) is written through whatever it is open on: it names
      that descriptor, not a place to put a file. A regular file there is appended to, as the
      shell opened it (`>` already emptied it, `>>` means append).
    - A regular file (or none) is replaced atomically by a new 0600 file.
    - Anything else (a folder, a socket, a block device) is refused with exit 2.
    """
    kind = _kind_of(path)
    if kind in (_FIFO, _CHAR_DEVICE):
        _write_through(path, data)
        return f"written through the {kind}"
    if kind == _DESCRIPTOR_FILE:
        _write_through(path, data, append=True)
        return "appended to the file it is open on"
    if kind not in (_MISSING, _REGULAR, _LINK):
        raise CliError(
            ExitCode.USAGE,
            f"cannot write {path}: it is a {kind}",
            "give the path of a file (it is replaced), a FIFO or a device (written through)",
        )
    _replace(path, data, 0o600)
    return "mode 0600"


_MISSING, _REGULAR, _LINK = "missing", "regular file", "symlink"
_FIFO, _CHAR_DEVICE, _DESCRIPTOR_FILE = "FIFO", "character device", "descriptor's file"
# /proc/<pid>/fd and /proc/<pid>/task/<tid>/fd: what /dev/fd, /dev/stdout and
# /proc/self/fd resolve to.
_DESCRIPTOR_FOLDER = re.compile(r"/proc/\d+(?:/task/\d+)?/fd")
_MAX_LINK_HOPS = 40  # as the kernel's limit for following links


def _kind_of(path: Path) -> str:
    """What `path` is, for `write_private_file`: a symlink counts as what it points at when
    that is a FIFO or a character device (or when it names an open descriptor), and as a
    symlink (to be replaced) otherwise."""
    try:
        own = path.lstat().st_mode
    except FileNotFoundError:
        return _MISSING
    except OSError as exc:
        raise CliError(
            ExitCode.USAGE, f"cannot write {path}: {exc.strerror}", "check the path"
        ) from None
    if not stat.S_ISLNK(own):
        return _describe(own)
    try:
        pointed = path.stat().st_mode
    except OSError:  # dangling, a loop, or a folder we may not enter: replace the link
        return _LINK
    if _writes_through(pointed):
        return _describe(pointed)
    if _names_a_descriptor(path):
        return _DESCRIPTOR_FILE if stat.S_ISREG(pointed) else _describe(pointed)
    return _LINK


def _names_a_descriptor(path: Path) -> bool:
    """Whether following the link `path`, hop by hop, reaches an entry of a /proc/PID/fd
    folder (an open descriptor) rather than a file of the filesystem."""
    current = path.absolute()
    for _ in range(_MAX_LINK_HOPS):
        if _DESCRIPTOR_FOLDER.fullmatch(os.path.realpath(current.parent)):
            return True
        if not current.is_symlink():
            return False
        current = current.parent / current.readlink()  # an absolute target replaces all
    return False


def _writes_through(mode: int) -> bool:
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def _describe(mode: int) -> str:
    kinds = (
        (stat.S_ISREG, _REGULAR),
        (stat.S_ISFIFO, _FIFO),
        (stat.S_ISCHR, _CHAR_DEVICE),
        (stat.S_ISDIR, "folder"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISBLK, "block device"),
    )
    return next((name for test, name in kinds if test(mode)), "special file")


def _write_through(path: Path, data: bytes, *, append: bool = False) -> None:
    """Open `path` (without creating or truncating anything) and write `data` to it. What was
    opened is checked again, so a path swapped for a regular file meanwhile is not written
    into in place (it would be neither atomic nor 0600)."""
    flags = os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC | (os.O_APPEND if append else 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise CliError(
            ExitCode.USAGE, f"cannot write {path}: {exc.strerror}", "check the path"
        ) from None
    try:
        opened = os.fstat(fd).st_mode
        if not (_writes_through(opened) or (append and stat.S_ISREG(opened))):
            raise CliError(
                ExitCode.USAGE,
                f"cannot write {path}: it changed while being opened",
                "run the command again",
            )
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        raise CliError(
            ExitCode.FAILED, f"cannot write {path}: {exc.strerror}", "check what reads from it"
        ) from None
    finally:
        os.close(fd)


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


def make_private_folders(folder: Path) -> None:
    """Create `folder` and each missing folder above it with mode 0700, whatever the umask
    (`umask 000` would leave them 0777): folders we create for ourselves (the names cache,
    `~/.cache` itself if missing) are nobody else's business. Existing ones are left as
    they are."""
    missing: list[Path] = []
    for candidate in (folder, *folder.parents):
        if candidate.is_dir():
            break
        missing.append(candidate)
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            continue  # made meanwhile by someone else: theirs to keep as it is
        path.chmod(0o700)  # mkdir's mode passes through the umask


def create_text_file(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Create `path` holding `text`, refusing (exit 4) if anything exists there by then: the
    check happens at the moment of creation, not before (a file that appeared while a person
    answered questions is not replaced). The complete text appears at once: it is written to
    a temp file that is then hard-linked into place, which fails if the name is taken."""
    folder = path.parent if str(path.parent) else Path()
    try:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise CliError(
            ExitCode.USAGE, f"cannot write {path}: {exc.strerror}", "check the folder's permissions"
        ) from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            raise _appeared(path) from None
        except OSError:
            # A filesystem without hard links: create exclusively, then write.
            _create_exclusively(path, text, mode)
    except OSError as exc:
        raise CliError(
            ExitCode.USAGE, f"cannot write {path}: {exc.strerror}", "check the folder's permissions"
        ) from None
    finally:
        Path(temp).unlink(missing_ok=True)


def _create_exclusively(path: Path, text: str, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    except FileExistsError:
        raise _appeared(path) from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(text.encode("utf-8"))


def _appeared(path: Path) -> CliError:
    return CliError(
        ExitCode.REFUSED,
        f"{path} exists now (it appeared while the command ran); it was left as it is",
        "look at it, then run the command again to be asked whether to replace it",
    )


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
