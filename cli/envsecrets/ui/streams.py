"""The standard streams a run talks through, and the facts about them that change what it does.

Whether stdout is a terminal decides between a rich table and tab-separated lines, whether `get`
adds a newline and whether it refuses binary; whether stderr is one decides progress bars; a
prompt needs stdin and stderr to be terminals. The renderer and the prompts read these facts
from a `Streams` instead of from `sys`, so that another one can stand in (httpie's
`Environment`): a program embedding the CLI, or a test that renders for a terminal without a
pseudo-terminal. The default, `Streams.of_process()`, is the real process's.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
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


def _isatty(stream: TextIO | None) -> bool:
    # A stream can be missing (a closed descriptor at start-up leaves sys.stdin None) or
    # closed: neither is a terminal.
    if stream is None:
        return False
    try:
        return stream.isatty()
    except ValueError:
        return False
