"""Help screens that read as a user expects, through Typer's public API only.

Typer (0.29) prints every parameter's Python annotation: `--stdin <bool>` (a flag takes no
value), `--tag <list[str]>` (a list is a Python type, not what to type) and `{name}` for a
required argument in the usage line. The command and group classes below (passed to Typer as
`cls=`; app.py gives them to every command it registers, so a command module needs nothing)
fix it in one place:

- a flag shows no value (its metavar is empty);
- a repeatable option shows one item: its own `metavar=` when it has one (`--tag KEY=VALUE`),
  else its name (`--only ONLY`), never `list[...]`;
- an argument is named in capitals (`NAME`, `[PREFIX]`, `[TEMPLATES]...`) in the usage line
  and in its panel, where its Python type is not repeated beside it.

Everything here is click's documented surface as Typer ships it: `metavar`, `is_flag`,
`multiple`, `nargs`, `required`, `opts`, and the overridable `get_params`,
`collect_usage_pieces`, `format_help` and `parse_args` of `typer.core`'s public classes.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from envsecrets.errors import ExitCode


def _name_in_capitals(param: TyperArgument | TyperOption) -> str:
    """`--only` -> ONLY, `env_a` -> ENV_A: click's own convention for an unnamed value."""
    longest = max(param.opts, key=len, default=param.name or "value")
    return longest.lstrip("-").replace("-", "_").upper()


def _with_readable_metavar(param: Any) -> Any:
    """Give a parameter a metavar a user can read, unless its command set one."""
    if param.metavar is not None:
        return param
    if isinstance(param, TyperArgument):
        param.metavar = _name_in_capitals(param)
    elif isinstance(param, TyperOption) and param.is_flag:
        param.metavar = ""
    elif isinstance(param, TyperOption) and param.multiple:
        param.metavar = _name_in_capitals(param)
    return param


def _no_type_column(ctx: Any = None) -> None:
    return None


def _argument_usage(argument: TyperArgument) -> str:
    name = argument.metavar or _name_in_capitals(argument)
    shown = name if argument.required else f"[{name}]"
    return f"{shown}..." if argument.nargs != 1 else shown


def _show_help_instead_of_nothing(ctx: Any) -> None:
    """A bare group (`secrets`, `secrets migrate`): its help is the answer, exit 2, and no
    error line. Typer's own signal for this is an exception class it keeps private."""
    text = ctx.get_help()  # Typer's rich help prints itself and returns ""
    if text:
        typer.echo(text, err=True)
    raise typer.Exit(int(ExitCode.USAGE))


def one_sentence(help_text: str | None) -> str | None:
    """A command's summary for its group's list: the first sentence of its help, on one line.
    Typer's rich help keeps the docstring's own line breaks in that list, so summaries broke
    at the source's column 92 and again at the terminal's edge (ragged at 80 and 100)."""
    if not help_text:
        return None
    first = " ".join(inspect.cleandoc(help_text).split("\n\n")[0].split())
    # The first '.', '!' or '?' that ends a sentence: followed by a space or the end, so that
    # `[ARGS]...)` or `e.g.` inside the sentence do not end it.
    end = re.search(r"[.!?](?=\s+[A-Z`(]|$)", first)
    return first[: end.end()] if end else first


class ReadableCommand(TyperCommand):
    """A command whose `--help` shows no Python types (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.short_help is None:
            self.short_help = one_sentence(self.help)

    def get_params(self, ctx: Any) -> list[Any]:
        # Every use goes through here (parsing, errors, help), help option included, so an
        # argument is called NAME in a "Missing argument 'NAME'" error as in its usage line.
        return [_with_readable_metavar(param) for param in super().get_params(ctx)]

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                pieces.append(_argument_usage(param))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    def format_help(self, ctx: Any, formatter: Any) -> None:
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                # Typer prints an argument's annotation (`<str>`, `<list[Path]>`) beside its
                # name and offers no public setting for it (metavar renames the name column
                # only); the name in capitals already says what to type.
                param.display_type_rich = _no_type_column  # type: ignore[method-assign]
        super().format_help(ctx, formatter)


class ReadableGroup(TyperGroup):
    """A group of commands (the root, `migrate`): flags without values in its help, and its
    help as the answer when it is called with nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.short_help is None:
            self.short_help = one_sentence(self.help)

    def get_params(self, ctx: Any) -> list[Any]:
        # The root's completion options are appended after the group is built: this sees them.
        return [_with_readable_metavar(param) for param in super().get_params(ctx)]

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            _show_help_instead_of_nothing(ctx)
        return super().parse_args(ctx, args)
