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
# sequences, CR rewrites the line), DEL, the C1 controls (0x9b is CSI too) and the
# bidirectional overrides and isolates, which reorder what is shown. AWS data (descriptions,
# tags, error messages) reaches the screen through here: DESIGN.md's "shown inert".
_ACTIVE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# The same less C0, which JSON escapes by itself (DEL and C1 it leaves as they are).
_ACTIVE_IN_JSON = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def inert(text: str) -> str:
    """`text` with every character a terminal would act on written out (`\\x1b`, `\\r`,
    `\\u202e`), so that what is shown is what is there."""
    return _ACTIVE.sub(lambda found: repr(found.group())[1:-1], text)


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
        """A rich table on a terminal; tab-separated lines (with a header) when piped. With no
        rows a terminal gets nothing (an empty frame says nothing: the caller's note says why
        there is nothing, e.g. "nothing to rotate"); a pipe still gets the header."""
        if self.stdout_is_tty and not rows:
            return
        if self.stdout_is_tty:
            from rich.table import Table

            table = Table(
                *columns,
                title=_shown(title) if title else None,
                show_lines=False,
                header_style="bold",
            )
            for row in rows:
                table.add_row(*(_shown(cell) for cell in row))
            self._console(stderr=False).print(table)
            return
        out = self.streams.stdout
        out.write("\t".join(columns) + "\n")
        for row in rows:
            out.write("\t".join(row) + "\n")
        out.flush()

    @_delivering
    def fields(self, pairs: Sequence[tuple[str, str]], *, title: str | None = None) -> None:
        """`key: value` lines, aligned; the value column holds metadata, never secrets."""
        if self.stdout_is_tty:
            from rich.table import Table

            table = Table.grid(padding=(0, 2))
            table.add_column(style="bold")
            table.add_column()
            for key, value in pairs:
                table.add_row(_shown(key), _shown(value))
            console = self._console(stderr=False)
            if title:
                console.print(_shown(title, "bold"))
            console.print(table)
            return
        width = max((len(k) for k, _ in pairs), default=0)
        out = self.streams.stdout
        for key, value in pairs:
            out.write(f"{key + ':':<{width + 1}} {value}\n")
        out.flush()

    @_delivering
    def lines(self, lines: Sequence[str]) -> None:
        out = self.streams.stdout
        for line in lines:
            out.write((inert(line) if self.stdout_is_tty else line) + "\n")
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
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self._console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task(label, total=total)

            def advance(n: int = 1) -> None:
                bar.advance(task, n)

            yield advance


def _shown(text: str, style: str = "") -> Text:
    """`text` for rich to draw as it is: never read as markup (`[link=...]` in a description
    stays text), with the characters a terminal acts on written out."""
    from rich.text import Text

    return Text(inert(text), style=style)


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
