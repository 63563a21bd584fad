"""The only module that writes to stdout and stderr.

Data goes to stdout (a rich table on a terminal, plain lines when piped, JSON with --json);
everything else - progress, notes, warnings, errors - goes to stderr. rich is imported only
when a terminal will see its output, so piped and JSON runs stay fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from envsecrets.errors import CliError, ExitCode

if TYPE_CHECKING:
    from rich.console import Console


def _json_default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return obj.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, set | frozenset | tuple):
        return sorted(obj) if isinstance(obj, set | frozenset) else list(obj)
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


def to_json(data: Any) -> str:
    """Stable JSON: sorted keys, ISO-8601 UTC dates."""
    return json.dumps(data, default=_json_default, indent=2, sort_keys=True, ensure_ascii=False)


def when(moment: datetime | None) -> str:
    """A date for humans: `2026-11-28 19:30` in UTC, or `-`."""
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


class Renderer:
    """Output for one command run. `json_mode` makes stdout machine-readable."""

    def __init__(self, *, json_mode: bool = False) -> None:
        self.json_mode = json_mode
        self._out: Console | None = None
        self._err: Console | None = None

    # -- terminals ---------------------------------------------------------------------------
    @property
    def stdout_is_tty(self) -> bool:
        return sys.stdout.isatty()

    @property
    def stderr_is_tty(self) -> bool:
        return sys.stderr.isatty()

    def _console(self, *, stderr: bool) -> Console:
        from rich.console import Console

        if stderr:
            if self._err is None:
                self._err = Console(stderr=True, highlight=False)
            return self._err
        if self._out is None:
            self._out = Console(highlight=False)
        return self._out

    # -- data on stdout ----------------------------------------------------------------------
    def json(self, data: Any) -> None:
        sys.stdout.write(to_json(data) + "\n")
        sys.stdout.flush()

    def table(
        self, columns: Sequence[str], rows: Sequence[Sequence[str]], *, title: str | None = None
    ) -> None:
        """A rich table on a terminal; tab-separated lines (with a header) when piped."""
        if self.stdout_is_tty:
            from rich.table import Table

            table = Table(*columns, title=title, show_lines=False, header_style="bold")
            for row in rows:
                table.add_row(*row)
            self._console(stderr=False).print(table)
            return
        sys.stdout.write("\t".join(columns) + "\n")
        for row in rows:
            sys.stdout.write("\t".join(row) + "\n")
        sys.stdout.flush()

    def fields(self, pairs: Sequence[tuple[str, str]], *, title: str | None = None) -> None:
        """`key: value` lines, aligned; the value column holds metadata, never secrets."""
        if self.stdout_is_tty:
            from rich.table import Table

            table = Table.grid(padding=(0, 2))
            table.add_column(style="bold")
            table.add_column()
            for key, value in pairs:
                table.add_row(key, value)
            console = self._console(stderr=False)
            if title:
                console.print(f"[bold]{title}[/bold]")
            console.print(table)
            return
        width = max((len(k) for k, _ in pairs), default=0)
        for key, value in pairs:
            sys.stdout.write(f"{key + ':':<{width + 1}} {value}\n")
        sys.stdout.flush()

    def lines(self, lines: Sequence[str]) -> None:
        for line in lines:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def value(self, data: bytes) -> None:
        """A secret's bytes exactly; a newline is added only for a terminal."""
        out = sys.stdout.buffer
        out.write(data)
        if self.stdout_is_tty and not data.endswith(b"\n"):
            out.write(b"\n")
        out.flush()

    # -- messages on stderr --------------------------------------------------------------------
    def _say(self, text: str, style: str | None = None) -> None:
        if self.stderr_is_tty:
            self._console(stderr=True).print(text, style=style, markup=False)
        else:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def note(self, message: str) -> None:
        """Progress narration: what is happening."""
        self._say(message, "dim")

    def success(self, message: str) -> None:
        self._say(message, "green")

    def warn(self, message: str) -> None:
        self._say(f"warning: {message}", "yellow")

    def error(self, error: CliError) -> None:
        render_error(error, json_mode=self.json_mode)

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


def _ignore_progress(n: int = 1) -> None:
    """Progress on a non-terminal: nothing to draw."""


def render_error(error: CliError, *, json_mode: bool) -> None:
    """`error: ...` / `hint: ...` on stderr, or `{"error": {...}}` with --json."""
    if json_mode:
        sys.stderr.write(json.dumps({"error": error.as_dict()}, sort_keys=True) + "\n")
    else:
        sys.stderr.write(f"error: {error.message}\n")
        if error.hint:
            sys.stderr.write(f"hint: {error.hint}\n")
    sys.stderr.flush()


def render_crash(exc: BaseException, *, debug: bool, json_mode: bool = False) -> None:
    """An unexpected exception: our bug. The traceback only with --debug (no locals, ever)."""
    if debug:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__)
        sys.stderr.flush()
    # A script reading --json output gets the error object it expects, crash or not.
    render_error(
        CliError(
            ExitCode.FAILED,
            f"unexpected internal error ({type(exc).__name__})",
            "run again with --debug for the traceback, and report it as a bug",
        ),
        json_mode=json_mode,
    )
