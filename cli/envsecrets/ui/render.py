"""The only module that writes to stdout and stderr.

Data goes to stdout (a rich table on a terminal, plain lines when piped, JSON with --json);
everything else - progress, notes, warnings, errors - goes to stderr. rich is imported only
when a terminal will see its output, so piped and JSON runs stay fast. The streams, and
whether each is a terminal, come from a `Streams` (ui/streams.py): the process's by default.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, ParamSpec, TextIO, TypeVar

from envsecrets.errors import CliError, ExitCode
from envsecrets.ui.streams import Streams

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text


Params = ParamSpec("Params")
Returned = TypeVar("Returned")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return obj.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, set | frozenset | tuple):
        return sorted(obj) if isinstance(obj, set | frozenset) else list(obj)
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


# What a terminal acts on instead of showing: C0 controls but tab and newline (ESC starts escape
# sequences, CR rewrites the line), DEL, the C1 controls (0x9b is CSI too), the bidirectional
# marks, overrides and isolates, which reorder what is shown, and the Unicode line and paragraph
# separators. AWS data (names, descriptions, tags, error messages) and what files hold reach
# the screen through here: DESIGN.md's "shown inert".
_MOVERS = "\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"
_ACTIVE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_MOVERS}]")
# The same less C0, which JSON escapes by itself (DEL and C1 it leaves as they are).
_ACTIVE_IN_JSON = re.compile(f"[\x7f-\x9f{_MOVERS}]")
# A data cell (a table's, a field's value) is one line: tab and newline are written out too,
# so a cell can neither split a tab-separated line nor fake a line of its own.
_ACTIVE_IN_CELL = re.compile(f"[\x00-\x1f\x7f-\x9f{_MOVERS}]")
# Tables on a terminal: other columns are left out before the first one (the name) is wrapped;
# each column kept needs room for its longest word (at most this many cells) and its borders.
NARROWEST_COLUMN = 16


def _written_out(found: re.Match[str]) -> str:
    return repr(found.group())[1:-1]


def inert(text: str) -> str:
    """`text` with every character a terminal would act on written out (`\\x1b`, `\\r`,
    `\\u202e`), so that what is shown is what is there."""
    return _ACTIVE.sub(_written_out, text)


def cell(text: str) -> str:
    """`inert(text)` on one line: tabs and newlines written out too (`\\t`, `\\n`)."""
    return _ACTIVE_IN_CELL.sub(_written_out, text)


def to_json(data: Any) -> str:
    """Stable JSON: sorted keys, ISO-8601 UTC dates. Characters a terminal would act on are
    \\u escapes (JSON escapes C0 itself), so the document means the same and shows inert."""
    text = json.dumps(data, default=_json_default, indent=2, sort_keys=True, ensure_ascii=False)
    return _ACTIVE_IN_JSON.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def when(moment: datetime | None) -> str:
    """A date for humans: `2026-11-28 19:30` in UTC, or `-`."""
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _delivering(method: Callable[Params, Returned]) -> Callable[Params, Returned]:
    """For the methods that write data to stdout: a stdout that cannot take it (closed, a
    full disk, an I/O error) ends the command with exit 1 and one line, not a traceback. A
    closed pipe (`| head`) stays BrokenPipeError, for the error door to decide."""

    @functools.wraps(method)
    def delivered(*args: Params.args, **kwargs: Params.kwargs) -> Returned:
        try:
            return method(*args, **kwargs)
        except BrokenPipeError:
            raise
        except OSError as exc:
            _quiet_stdout()
            raise CliError(
                ExitCode.FAILED,
                f"cannot write the output: {exc.strerror or exc}",
                "check where stdout goes (a closed descriptor, a full disk)",
            ) from None

    return delivered


def _quiet_stdout() -> None:
    """Point a failed stdout at /dev/null, so that Python's own flush at exit cannot fail
    again (which would print "Exception ignored" and make the exit code 120)."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass  # no descriptor (closed at start, or a stand-in): nothing will flush


class Renderer:
    """Output for one command run. `json_mode` makes stdout machine-readable; `streams` are
    where it goes and what they are connected to (the process's own by default)."""

    def __init__(self, *, json_mode: bool = False, streams: Streams | None = None) -> None:
        self.json_mode = json_mode
        self.streams = streams if streams is not None else Streams.of_process()
        self._out: Console | None = None
        self._err: Console | None = None

    # -- terminals ---------------------------------------------------------------------------
    @property
    def stdout_is_tty(self) -> bool:
        return self.streams.stdout_isatty

    @property
    def stderr_is_tty(self) -> bool:
        return self.streams.stderr_isatty

    def _console(self, *, stderr: bool) -> Console:
        if stderr:
            if self._err is None:
                self._err = self._make_console(self.streams.stderr, self.stderr_is_tty)
            return self._err
        if self._out is None:
            self._out = self._make_console(self.streams.stdout, self.stdout_is_tty)
        return self._out

    def _make_console(self, file: TextIO, is_terminal: bool) -> Console:
        from rich.console import Console

        # rich is asked to draw only for a terminal; it takes our word for what the stream
        # is rather than asking the stream (which a stand-in for a terminal cannot answer).
        colour = self.streams.colour
        return Console(
            file=file,
            force_terminal=is_terminal,
            width=self.streams.width,
            color_system=None if colour is False else ("standard" if colour else "auto"),
            no_color=False if colour else None,
            # Nothing printed is read as markup or emoji codes (`[bold]`, `:secret:` in an
            # ARN): what we print is built as Text, and this is the second line of defence.
            markup=False,
            emoji=False,
            highlight=False,
        )

    # -- data on stdout ----------------------------------------------------------------------
    @_delivering
    def json(self, data: Any) -> None:
        """The document in UTF-8 whatever the locale's encoding (JSON between programs is
        UTF-8, RFC 8259): written as bytes, so `LC_ALL=C` cannot fail halfway or change it."""
        out = self.streams.stdout
        out.flush()
        out.buffer.write((to_json(data) + "\n").encode("utf-8"))
        out.buffer.flush()

    @_delivering
    def table(
        self, columns: Sequence[str], rows: Sequence[Sequence[str]], *, title: str | None = None
    ) -> None:
        """A rich table on a terminal; tab-separated lines (with a header) when piped. Cells
        are shown inert and on one line (`cell`) either way; only --json carries them exact.
        With no rows a terminal gets nothing (an empty frame says nothing: the caller's note says
        why there is nothing, e.g. "nothing to rotate"); a pipe still gets the header."""
        if self.stdout_is_tty and not rows:
            return
        if self.stdout_is_tty:
            self._draw_table(columns, [[cell(text) for text in row] for row in rows], title)
            return
        out = self.streams.stdout
        out.write("\t".join(columns) + "\n")
        for row in rows:
            out.write("\t".join(cell(text) for text in row) + "\n")
        out.flush()

    def _draw_table(
        self, columns: Sequence[str], rows: Sequence[Sequence[str]], title: str | None
    ) -> None:
        """The rich table. The first column (a name) is never cut: the columns after it that
        do not fit are left out, with a note saying which; a name wider than the terminal
        wraps. Other cells wrap; none is truncated."""
        from rich.table import Table

        console = self._console(stderr=False)
        kept, first_whole = _columns_that_fit(columns, rows, console.width)
        table = Table(title=_shown(title) if title else None, show_lines=False)
        for index in kept:
            whole = index == 0 and first_whole
            table.add_column(_shown(columns[index], "bold"), no_wrap=whole, overflow="fold")
        for row in rows:
            table.add_row(*(_shown(row[index]) for index in kept))
        console.print(table)
        left_out = [columns[index] for index in range(len(columns)) if index not in kept]
        if left_out:
            self.note(
                f"left out for want of room: {', '.join(left_out)} (a wider terminal, a pipe "
                "or --json shows every column)"
            )

    @_delivering
    def fields(self, pairs: Sequence[tuple[str, str]], *, title: str | None = None) -> None:
        """`key: value` lines, aligned; the value column holds metadata, never secrets."""
        if self.stdout_is_tty:
            from rich.table import Table

            table = Table.grid(padding=(0, 2))
            table.add_column(style="bold", no_wrap=True)
            table.add_column(overflow="fold")  # an ARN wraps; it is never cut
            for key, value in pairs:
                table.add_row(_shown(key), _shown(cell(value)))
            console = self._console(stderr=False)
            if title:
                console.print(_shown(title, "bold"))
            console.print(table)
            return
        width = max((len(k) for k, _ in pairs), default=0)
        out = self.streams.stdout
        for key, value in pairs:
            out.write(f"{key + ':':<{width + 1}} {cell(value)}\n")
        out.flush()

    @_delivering
    def lines(self, lines: Sequence[str]) -> None:
        out = self.streams.stdout
        for line in lines:
            out.write(inert(line) + "\n")
        out.flush()

    @_delivering
    def value(self, data: bytes) -> None:
        """A secret's bytes exactly; a newline is added only for a terminal."""
        out = self.streams.stdout.buffer
        out.write(data)
        if self.stdout_is_tty and not data.endswith(b"\n"):
            out.write(b"\n")
        out.flush()

    @_delivering
    def passthrough(self, data: bytes, *, stderr: bool = False) -> None:
        """A program's own output, relayed as it is (`secrets run --mask` filters it first)."""
        stream = (sys.stderr if stderr else sys.stdout).buffer
        stream.write(data)
        stream.flush()

    # -- messages on stderr --------------------------------------------------------------------
    def _say(self, text: str, style: str | None = None) -> None:
        if self.stderr_is_tty:
            self._console(stderr=True).print(_shown(text, style or ""))
        else:
            self.streams.stderr.write(inert(text) + "\n")
            self.streams.stderr.flush()

    def note(self, message: str) -> None:
        """Progress narration: what is happening."""
        self._say(message, "dim")

    def success(self, message: str) -> None:
        self._say(message, "green")

    def warn(self, message: str) -> None:
        self._say(f"warning: {message}", "yellow")

    def error(self, error: CliError) -> None:
        render_error(error, json_mode=self.json_mode, stderr=self.streams.stderr)

    @contextmanager
    def progress(self, total: int | None, label: str) -> Iterator[Callable[[int], None]]:
        """A progress bar on a terminal (and nothing otherwise); yields `advance(n)`. A total
        of None (not known yet) draws a bar that counts without an end."""
        if not self.stderr_is_tty or (total is not None and total <= 1):
            yield _ignore_progress
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        with Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self._console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task(inert(label), total=total)

            def advance(n: int = 1) -> None:
                bar.advance(task, n)

            yield advance


def _shown(text: str, style: str = "") -> Text:
    """`text` for rich to draw as it is: never read as markup (`[link=...]` in a description
    stays text) or emoji codes (`:secret:` in an ARN), with the characters a terminal acts on
    written out, and folded rather than cut where it must wrap."""
    from rich.text import Text

    return Text(inert(text), style=style, overflow="fold")


def _columns_that_fit(
    columns: Sequence[str], rows: Sequence[Sequence[str]], width: int
) -> tuple[list[int], bool]:
    """The columns of a table to draw on a terminal `width` cells wide, and whether the first
    one is whole: the first one, then each next one while it still fits at the width of its
    longest word (capped at NARROWEST_COLUMN); the first one alone, wrapped, when even it does
    not fit."""
    from rich.cells import cell_len

    def texts(index: int) -> list[str]:
        return [columns[index], *(row[index] for row in rows if index < len(row))]

    first = max(cell_len(text) for text in texts(0))
    used = first + 4  # "│ " before, " │" after
    if used > width:
        return [0], False  # the name alone wraps: any other column would squeeze it more
    kept = [0]
    for index in range(1, len(columns)):
        words = [word for text in texts(index) for word in text.split()]
        narrowest = min(max((cell_len(word) for word in words), default=1), NARROWEST_COLUMN)
        if used + narrowest + 3 > width:
            break
        used += narrowest + 3
        kept.append(index)
    return kept, True


def _ignore_progress(n: int = 1) -> None:
    """Progress on a non-terminal: nothing to draw."""


def render_error(error: CliError, *, json_mode: bool, stderr: TextIO | None = None) -> None:
    """`error: ...` / `hint: ...` on stderr (the process's unless given), or
    `{"error": {...}}` with --json."""
    err = stderr if stderr is not None else sys.stderr
    if json_mode:
        text = json.dumps({"error": error.as_dict()}, sort_keys=True) + "\n"
    else:
        text = f"error: {inert(error.message)}\n" + (
            f"hint: {inert(error.hint)}\n" if error.hint else ""
        )
    try:
        err.write(text)
        err.flush()
    except (OSError, ValueError):
        pass  # stderr closed or gone: the exit code still says what happened


def render_crash(
    exc: BaseException, *, debug: bool, json_mode: bool = False, stderr: TextIO | None = None
) -> None:
    """An unexpected exception: our bug. The traceback only with --debug (no locals, ever)."""
    err = stderr if stderr is not None else sys.stderr
    if debug:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=err)
        err.flush()
    # A script reading --json output gets the error object it expects, crash or not.
    render_error(
        CliError(
            ExitCode.FAILED,
            f"unexpected internal error ({type(exc).__name__})",
            "run again with --debug for the traceback, and report it as a bug",
        ),
        json_mode=json_mode,
        stderr=err,
    )
