"""Help screens that read as a user expects, through Typer's public API only.

Everything here is click's documented surface as Typer ships it: the overridable
`parse_args` of `typer.core`'s public classes, `typer.Exit`, the context's `get_help`.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from envsecrets.errors import ExitCode


def _show_help_instead_of_nothing(ctx: Any) -> None:
    """A bare group (`secrets`, `secrets migrate`): its help is the answer, exit 2, and no
    error line. Typer's own signal for this is an exception class it keeps private."""
    text = ctx.get_help()  # Typer's rich help prints itself and returns ""
    if text:
        typer.echo(text, err=True)
    raise typer.Exit(int(ExitCode.USAGE))


class ReadableGroup(TyperGroup):
    """A group of commands (the root, `migrate`): its help as the answer when it is called
    with nothing."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            _show_help_instead_of_nothing(ctx)
        return super().parse_args(ctx, args)
