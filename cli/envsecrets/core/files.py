"""Writing files: every path we write goes through one check of what is there.

- Values (`write_private_file`) and reports or generated files (`write_text_atomically` with
  `follow_links=False`) are *outputs*: a regular file (or nothing) is replaced atomically, a
  symlink to a file is replaced (not followed: a link planted in a shared folder cannot aim
  the write elsewhere), a FIFO or a character device is written through (never replaced by a
  file), and a link to one of this process's open descriptors (`/dev/stdout`, `/dev/fd/63`)
  is written through what it is open on.
- Edits (`write_text_atomically`, following links: `.env` lines removed, `secrets.toml`
  updated) change the file a symlink points to, in its own folder, and refuse anything that
  is not a file.
- A FIFO or a device is written through only when you or root own it and every link on the
  way to it is yours or root's: another user's FIFO in a sticky `/tmp` would hand them the
  value (the kernel's `fs.protected_fifos` covers only opens that may create the file).

Files that hold values are created 0600; other files keep their mode (0644 when new).
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from envsecrets.errors import CliError, ExitCode

# How long a write waits for a FIFO to get a reader before it gives up: long enough for
# `secrets get X --output pipe & reader < pipe`, short enough that a forgotten reader does
# not hang the command forever.
FIFO_READER_WAIT = 5.0


def write_private_file(path: Path, data: bytes) -> str:
    """Write a value to `path` so that no moment exposes it to others; returns how, for the
    user's note ("mode 0600", "written through the FIFO").

    - A FIFO or a character device (a pipe someone reads, `/dev/null`, a terminal) is opened
      and written through, never replaced by a file: its reader gets the value. It must be
      yours or root's, reached by links that are yours or root's (exit 2 otherwise), and a
      FIFO must get a reader within FIFO_READER_WAIT seconds (exit 1 otherwise).
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
    return _write_output(path, data, mode=0o600, keep_mode=False)


def write_text_atomically(
    path: Path, text: str, *, mode: int = 0o644, follow_links: bool = True
) -> str:
    """Write `text` to `path`, keeping the mode of a file it replaces; returns how. For
    files that hold no secret values (config, reports, `.env` files being edited).

    `follow_links=True` edits: a symlink of yours (or root's) is followed and the file it
    points to is replaced, in its own folder (where the rename is atomic), and the link stays
    a link; replacing the link instead would leave the old text where it points and the user
    believing it changed. A link someone else planted on the way (a shared folder) is never
    followed: it is replaced, as with `follow_links=False`, so it cannot aim the write at
    another file.
    A FIFO or a device (or a link to one) is written through as by `write_private_file`;
    a folder or a socket is refused with exit 2.

    `follow_links=False` writes an output that merely has a name (a report, `init`'s file),
    like `write_private_file`: a link to a file is replaced, so that one planted in a shared
    folder cannot aim the write at another file; a FIFO, a device or `/dev/stdout` is written
    through, never replaced."""
    data = text.encode("utf-8")
    if follow_links and _links_are_ours(path):
        return _edit(path, data, mode)
    return _write_output(path, data, mode=mode, keep_mode=True)


def check_output_path(path: Path) -> bool:
    """Check, before any work, that `path` can be written as the writers above would; returns
    whether it would be written through (a FIFO, a device, one of our open descriptors:
    nothing is replaced, so there is nothing to ask about). Raises CliError (exit 2) for a
    folder, a socket, or another user's FIFO."""
    place = _inspect(path)
    if place.writes_through:
        place.require_trusted(path)
        return True
    _require_replaceable(path, place)
    return False


_MISSING, _REGULAR, _LINK = "missing", "regular file", "symlink"
_FIFO, _CHAR_DEVICE, _DESCRIPTOR_FILE = "FIFO", "character device", "descriptor's file"
_REPLACEABLE = (_MISSING, _REGULAR, _LINK)
_MAX_LINK_HOPS = 40  # as the kernel's limit for following links


@dataclass(frozen=True)
class _Place:
    """What a path names, for the writers: its kind (a symlink counts as what it points at
    when that is written through), and why writing through it is not safe, if it is not."""

    kind: str
    descriptor: int | None = None  # the open descriptor a /proc/self/fd link names
    stranger: str | None = None  # "it is owned by uid 1000", "the link ... is owned by ..."

    @property
    def writes_through(self) -> bool:
        return self.kind in (_FIFO, _CHAR_DEVICE, _DESCRIPTOR_FILE)

    def require_trusted(self, path: Path) -> None:
        if self.stranger is not None:
            raise CliError(
                ExitCode.USAGE,
                f"refusing to write {shown_path(path)}: {self.stranger}, not by you or root",
                "write to a file or FIFO of your own: whoever owns a FIFO or device reads "
                "what is written through it",
            )
        if self.descriptor is not None and not _open_for_writing(self.descriptor):
            raise CliError(
                ExitCode.USAGE,
                f"cannot write {shown_path(path)}: descriptor {self.descriptor} is open for "
                "reading only",
                "give a path, or a descriptor the shell opened for writing (`>`, `>>`, `>(...)`)",
            )


def _write_output(path: Path, data: bytes, *, mode: int, keep_mode: bool) -> str:
    place = _inspect(path)
    if place.writes_through:
        place.require_trusted(path)
        if place.kind == _DESCRIPTOR_FILE:
            _write_through(path, data, place, append=True)
            return "appended to the file it is open on"
        _write_through(path, data, place, append=False)
        return f"written through the {place.kind}"
    _require_replaceable(path, place)
    if keep_mode and place.kind == _REGULAR:
        mode = stat.S_IMODE(path.stat().st_mode)
    _replace(path, data, mode)
    return f"mode {mode:04o}"


def _edit(path: Path, data: bytes, mode: int) -> str:
    """Replace the file that `path` names once links are followed, keeping its mode; a FIFO
    or a device (or a link to one) is written through like an output."""
    place = _inspect(path)
    if place.writes_through:
        return _write_output(path, data, mode=mode, keep_mode=True)
    _require_replaceable(path, place)
    target = link_target(path)
    kind = _inspect(target).kind
    if kind not in (_MISSING, _REGULAR):
        raise CliError(
            ExitCode.USAGE,
            f"cannot edit {shown_path(target)}: it is a {kind}, not a file",
            "give the path of a file",
        )
    if kind == _REGULAR:
        mode = stat.S_IMODE(target.stat().st_mode)
    _replace(target, data, mode)
    return f"mode {mode:04o}"


def _require_replaceable(path: Path, place: _Place) -> None:
    if place.kind not in _REPLACEABLE:
        raise CliError(
            ExitCode.USAGE,
            f"cannot write {shown_path(path)}: it is a {place.kind}",
            "give the path of a file (it is replaced), a FIFO or a device (written through)",
        )


def _inspect(path: Path) -> _Place:
    """What `path` is: a symlink counts as what it points at when that is a FIFO or a
    character device (or when it names one of our open descriptors), and as a symlink (to
    be replaced) otherwise."""
    try:
        own = path.lstat()
    except FileNotFoundError:
        return _Place(_MISSING)
    except OSError as exc:
        raise CliError(
            ExitCode.USAGE, f"cannot write {shown_path(path)}: {exc.strerror}", "check the path"
        ) from None
    if not stat.S_ISLNK(own.st_mode):
        return _Place(_describe(own.st_mode), stranger=_node_stranger(own))
    try:
        pointed = path.stat()
    except OSError:  # dangling, a loop, or a folder we may not enter: replace the link
        return _Place(_LINK)
    descriptor, link_stranger = _follow(path)
    if descriptor is not None:
        kind = _DESCRIPTOR_FILE if stat.S_ISREG(pointed.st_mode) else _describe(pointed.st_mode)
        return _Place(kind, descriptor, link_stranger)
    if _writes_through(pointed.st_mode):
        return _Place(_describe(pointed.st_mode), stranger=link_stranger or _node_stranger(pointed))
    return _Place(_LINK)


def _links_are_ours(path: Path) -> bool:
    """Whether every symlink on the way to `path` is yours or root's (true for a path that is
    no link): a link someone else planted must be replaced, never followed, by a write that
    would otherwise edit the file it points to."""
    _, stranger = _follow(path)
    return stranger is None


def _node_stranger(info: os.stat_result) -> str | None:
    if not _writes_through(info.st_mode) or _trusted_owner(info.st_uid):
        return None
    return f"it is a {_describe(info.st_mode)} owned by {_user(info.st_uid)}"


def _trusted_owner(uid: int) -> bool:
    """Yours, or root's (`/dev/null`, `/dev/tty`, `/dev/stdout`)."""
    return uid in (os.geteuid(), 0)


def _user(uid: int) -> str:
    import pwd

    try:
        return f"user '{pwd.getpwuid(uid).pw_name}' (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _follow(path: Path) -> tuple[int | None, str | None]:
    """Follow the link `path` hop by hop: the descriptor number when it reaches an entry of
    this process's /proc/PID/fd folder (an open descriptor of ours, not a file of the
    filesystem), and the first link on the way that someone else owns, if any."""
    ours = re.compile(rf"/proc/{os.getpid()}(?:/task/\d+)?/fd")
    stranger: str | None = None
    current = path.absolute()
    for _ in range(_MAX_LINK_HOPS):
        if ours.fullmatch(os.path.realpath(current.parent)) and current.name.isdigit():
            return int(current.name), stranger
        try:
            info = current.lstat()
        except OSError:
            break
        if not stat.S_ISLNK(info.st_mode):
            break
        if stranger is None and not _trusted_owner(info.st_uid):
            stranger = f"the link {shown_path(current)} is owned by {_user(info.st_uid)}"
        current = current.parent / current.readlink()  # an absolute target replaces all
    return None, stranger


def _open_for_writing(descriptor: int) -> bool:
    import fcntl  # POSIX only, and only for a /proc/self/fd link: not at import

    try:
        access = fcntl.fcntl(descriptor, fcntl.F_GETFL) & os.O_ACCMODE
    except OSError:  # closed meanwhile: the open below says so
        return True
    return access in (os.O_WRONLY, os.O_RDWR)


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


def _write_through(path: Path, data: bytes, place: _Place, *, append: bool) -> None:
    """Open `path` (without creating or truncating anything) and write `data` to it. What was
    opened is checked again, so a path swapped meanwhile for a regular file (neither atomic
    nor 0600) or for someone else's FIFO is not written into; one of this process's own
    descriptors is written whoever owns what it is open on."""
    flags = os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC | (os.O_APPEND if append else 0)
    fd = _open_when_read(path, flags, wait=place.kind == _FIFO)
    try:
        opened = os.fstat(fd)
        kind_ok = _writes_through(opened.st_mode) or (append and stat.S_ISREG(opened.st_mode))
        ours = place.descriptor is not None
        if not kind_ok or not (ours or _trusted_owner(opened.st_uid)):
            raise CliError(
                ExitCode.USAGE,
                f"cannot write {shown_path(path)}: it changed while being opened",
                "run the command again",
            )
        os.set_blocking(fd, True)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        raise CliError(
            ExitCode.FAILED,
            f"cannot write {shown_path(path)}: {exc.strerror}",
            "check what reads from it",
        ) from None
    finally:
        os.close(fd)


def _open_when_read(path: Path, flags: int, *, wait: bool) -> int:
    """Open `path` without blocking: a FIFO nobody reads fails at once (ENXIO) instead of
    waiting forever, and (`wait`) is tried again until FIFO_READER_WAIT has passed."""
    give_up = time.monotonic() + (FIFO_READER_WAIT if wait else 0.0)
    while True:
        try:
            return os.open(path, flags | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno == errno.ENXIO and time.monotonic() < give_up:
                time.sleep(0.05)
                continue
            if exc.errno == errno.ENXIO and wait:
                raise CliError(
                    ExitCode.FAILED,
                    f"cannot write {shown_path(path)}: nothing read from the FIFO within "
                    f"{FIFO_READER_WAIT:.0f} s",
                    "start the program that reads it first, then run the command again",
                ) from None
            raise CliError(
                ExitCode.USAGE,
                f"cannot write {shown_path(path)}: {exc.strerror}",
                "check the path",
            ) from None


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
        raise _no_folder(path, folder)
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


def _no_folder(path: Path, folder: Path) -> CliError:
    return CliError(
        ExitCode.USAGE,
        f"cannot write {shown_path(path)}: folder {shown_path(folder)} does not exist",
        "create the folder first, or choose another path",
    )


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
