"""The standard streams a run talks through, and the facts about them that change what it does.

Whether stdout is a terminal decides between a rich table and tab-separated lines, whether `get`
adds a newline and whether it refuses binary; whether stderr is one decides progress bars; a
prompt needs stdin and stderr to be terminals. The renderer and the prompts read these facts
from a `Streams` instead of from `sys`, so that another one can stand in (httpie's
`Environment`): a program embedding the CLI, or a test that renders for a terminal without a
pseudo-terminal. The default, `Streams.of_process()`, is the real process's.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO


@dataclass(frozen=True)
class Streams:
    """stdin, stdout and stderr, whether each is a terminal, and how to draw on one."""

    stdin: TextIO
    stdout: TextIO  # `get` writes a value's bytes to its `.buffer`
    stderr: TextIO
    stdin_isatty: bool
    stdout_isatty: bool
    stderr_isatty: bool
    # Columns of the terminal; None: rich measures it (COLUMNS, else the terminal's size).
    width: int | None = None
    # None: rich decides (NO_COLOR, FORCE_COLOR, TERM); False: never colour; True: always.
    colour: bool | None = None
    # The controlling terminal, where a question goes when stdin is busy with a piped value
    # (`pbpaste | secrets set prod/x --stdin`), as sudo and ssh ask. None: there is none to
    # use (a stand-in's default, so that a test never asks the real terminal).
    controlling_terminal: str | None = None

    @classmethod
    def of_process(cls) -> Streams:
        """This process's streams as they are now (a test runner may have replaced them)."""
        return cls(
            stdin=sys.stdin,
            stdout=sys.stdout,
            stderr=sys.stderr,
            stdin_isatty=_isatty(sys.stdin),
            stdout_isatty=_isatty(sys.stdout),
            stderr_isatty=_isatty(sys.stderr),
            controlling_terminal="/dev/tty",
        )


def names_a_terminal(path: Path) -> bool:
    """Whether writing to `path` writes to a terminal (`/dev/tty`, `/dev/pts/3`, or
    `/dev/stdout` while stdout is one): what it IS once opened, not what it is called."""
    try:
        if not stat.S_ISCHR(path.stat().st_mode):
            return False  # a file, a FIFO, nothing yet: never a terminal
        fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return os.isatty(fd)
    finally:
        os.close(fd)


def _isatty(stream: TextIO | None) -> bool:
    # A stream can be missing (a closed descriptor at start-up leaves sys.stdin None) or
    # closed: neither is a terminal.
    if stream is None:
        return False
    try:
        return stream.isatty()
    except ValueError:
        return False


class _ClosedOutput(io.TextIOBase):
    """Stands for a stdout that was closed when we started (`secrets list >&-`): writing data
    to it fails as writing to a closed descriptor does, so the command ends with exit 1 at
    the error door; a command that writes nothing there is unaffected."""

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "stdout is closed")

    def isatty(self) -> bool:
        return False

    @property
    def buffer(self) -> _ClosedBinaryOutput:
        return _ClosedBinaryOutput()


class _ClosedBinaryOutput(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        raise OSError(errno.EBADF, "stdout is closed")


def prepare_standard_streams() -> None:
    """Make the process's standard streams safe to use, once at start-up.

    A stream closed when the process started (Python leaves it None, and every write would be
    an AttributeError) gets a stand-in:

    - stdin: /dev/null, read as "no input" (`--stdin` says nothing was piped in; no prompt);
    - stderr: /dev/null, so that messages vanish but exit codes stay what they are;
    - stdout: a stand-in whose writes fail, so that data that cannot be delivered is exit 1.

    In a locale whose encoding is not UTF-8 (`LC_ALL=C` with `PYTHONUTF8=0`), text the
    encoding cannot hold (a description in another script) is written as `\\xe9`-style
    escapes instead of stopping the output halfway with UnicodeEncodeError. (JSON is written
    as UTF-8 bytes by the renderer.)
    """
    # Opened for the rest of the run, like the streams they stand for.
    if sys.stdin is None:
        sys.stdin = Path(os.devnull).open(encoding="utf-8")  # noqa: SIM115
    if sys.stderr is None:
        sys.stderr = Path(os.devnull).open("w", encoding="utf-8")  # noqa: SIM115
    if sys.stdout is None:
        sys.stdout = _ClosedOutput()
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and not _is_utf8(stream.encoding):
            stream.reconfigure(errors="backslashreplace")


def _is_utf8(encoding: str | None) -> bool:
    import codecs

    try:
        return codecs.lookup(encoding or "ascii").name == "utf-8"
    except LookupError:
        return False
