"""`--help` reads as a user expects (issue 18.18): a flag shows no value, a repeatable option
shows one item, an argument is NAME in the usage line, and no Python type name shows anywhere.

Every command of the complete CLI is walked, so a command added later is checked too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Any

import pytest
import typer
import typer.main
from envsecrets.app import SecretsGroup, app
from envsecrets.readable_help import ReadableCommand, ReadableGroup
from typer.core import TyperArgument, TyperGroup, TyperOption

from tests.conftest import Run

# Python's spelling of types, as Typer prints an annotation: `<list[str]>`, `<list[Path]>`,
# `tuple[int, int]`, `<Path>`, `NoneType`, `Optional[...]`.
PYTHON_TYPE = re.compile(
    r"\b(?:list|tuple|dict|set|frozenset|Optional|Union|Literal)\[|NoneType|<[A-Z]\w*>"
)


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    if isinstance(command, TyperGroup):
        for name, sub in sorted(command.commands.items()):
            yield from walk(sub, (*path, name))


COMMANDS = list(walk(typer.main.get_command(app)))


def label(path: tuple[str, ...]) -> str:
    return " ".join(("secrets", *path))


def rows_of(text: str, option: str) -> list[str]:
    """The help table's lines that start with `option` (its first line, where the value is)."""
    return [line for line in text.splitlines() if re.match(rf"[│\s*]*{re.escape(option)}\b", line)]


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[label(p) for p, _ in COMMANDS])
def test_help_shows_no_python_types_and_no_values_for_flags(
    cli: Any, path: tuple[str, ...], command: Any
) -> None:
    shown: Run = cli(*path, "--help")
    assert shown.code == 0, shown.stderr
    text = shown.stdout
    assert "<bool>" not in text
    assert not PYTHON_TYPE.search(text), PYTHON_TYPE.search(text)
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage and "}" not in usage, usage
    for param in command.params:
        if isinstance(param, TyperArgument):
            # NAME, [PREFIX] or [PATH]...: its metavar, else its name, in capitals, in the usage
            # line and its panel.
            shown_as = param.metavar or param.name.upper()
            assert shown_as.isupper(), (param.name, shown_as)
            assert re.search(rf"(?<![\w-]){shown_as}\b", usage), (param.name, usage)
            assert re.search(rf"│\s*\*?\s+{shown_as}\s", text), param.name
        elif isinstance(param, TyperOption) and param.is_flag and param.opts:
            for row in rows_of(text, max(param.opts, key=len)):
                # The flag's names (long, short), then straight its help: no value between.
                assert not any(re.fullmatch(r"<.*>", cell) for cell in cells(row)), row
        elif isinstance(param, TyperOption) and param.multiple:
            for row in rows_of(text, max(param.opts, key=len)):
                assert param.metavar and param.metavar in cells(row), row


def cells(row: str) -> list[str]:
    """A help table row's cells: what two or more spaces separate."""
    return re.split(r"\s{2,}", row.strip("│ *"))


def test_the_readable_forms_read_as_the_readme_writes_them(cli: Any) -> None:
    """A sample of what users see, as the command contract writes it."""
    set_help = cli("set", "--help").stdout
    assert "Usage: secrets set [OPTIONS] NAME" in set_help
    assert re.search(r"--tag\s+KEY=VALUE\s", set_help)
    assert re.search(r"--stdin\s+Read the value", set_help)  # a flag: straight to its help
    assert re.search(r"--help\s+-h\s+Show this message", set_help)
    assert "Usage: secrets diff [OPTIONS] ENV_A ENV_B" in cli("diff", "--help").stdout
    assert "Usage: secrets list [OPTIONS] [PREFIX]" in cli("list", "--help").stdout
    assert "Usage: secrets audit [OPTIONS] [PATH]..." in cli("audit", "--help").stdout
    root = cli("--help").stdout
    assert re.search(r"--debug\s+Show tracebacks", root)
    assert re.search(r"--install-completion\s+Install", root)


def test_an_argument_is_named_the_same_in_errors(cli: Any) -> None:
    missing = cli("diff", "dev")
    assert missing.code == 2
    assert missing.stderr.startswith("error: Missing argument 'ENV_B'.")
    assert "hint: see `secrets diff --help`" in missing.stderr


def test_a_bare_group_answers_with_its_help_and_exit_2(cli: Any) -> None:
    for path in ((), ("migrate",)):
        shown = cli(*path)
        assert shown.code == 2
        assert "Usage: " + label(path) in shown.stdout + shown.stderr
        assert "error:" not in shown.stderr


# -- the pattern for options that take one of a fixed set of words --------------------------


class Format(StrEnum):
    """How a command with fixed choices declares them: a StrEnum (values are plain strings,
    so the command passes `fmt` on as a str; core keeps its own tuple of the same words)."""

    TABLE = "table"
    JSON = "json"
    SARIF = "sarif"


def choices_app() -> typer.Typer:
    toy = typer.Typer(
        cls=SecretsGroup, name="secrets", context_settings={"help_option_names": ["-h", "--help"]}
    )

    @toy.callback()
    def root() -> None:
        """A stand-in root."""

    @toy.command("report", cls=ReadableCommand)
    def report(
        fmt: Annotated[
            Format, typer.Option("--format", "-f", help="Output format.", case_sensitive=False)
        ] = Format.TABLE,
        only: Annotated[list[str] | None, typer.Option("--only", help="Only PATH.")] = None,
    ) -> None:
        typer.echo(f"{fmt.value} {type(fmt).__name__} {only}")

    # A sub-group left to Typer's own class (app.py gives ours to every group it registers).
    plain = typer.Typer(name="plain", help="A group of Typer's own class.", no_args_is_help=True)
    plain.command("one")(lambda: None)
    plain.command("two")(lambda: None)
    toy.add_typer(plain)
    return toy


def run_toy(*args: str) -> Run:
    from typer.testing import CliRunner

    with CliRunner().isolation() as (stdout, stderr, _):
        command = typer.main.get_command(choices_app())
        code = command.main(args=list(args), prog_name="secrets", standalone_mode=False)
        out, err = stdout.getvalue(), stderr.getvalue()
    return Run(code, out.decode(), err.decode(), out)


def test_a_choice_lists_its_words_in_help_and_refuses_others_with_exit_2() -> None:
    shown = run_toy("report", "--help")
    assert re.search(r"--format\s+-f\s+<table\|json\|sarif>", shown.stdout), shown.stdout
    assert re.search(r"--only\s+ONLY\s", shown.stdout)  # a list without a metavar: its name
    assert run_toy("report", "--format", "JSON").stdout == "json Format None\n"
    wrong = run_toy("report", "--format", "xml")
    assert wrong.code == 2
    assert wrong.stdout == ""
    assert wrong.stderr.startswith("error: Invalid value for '--format'")
    assert "'table', 'json', 'sarif'" in wrong.stderr
    assert wrong.stderr.splitlines()[-1] == "hint: see `secrets report --help`"


def test_groups_and_commands_of_the_cli_are_the_readable_ones() -> None:
    for path, command in COMMANDS:
        expected = ReadableGroup if isinstance(command, TyperGroup) else ReadableCommand
        assert isinstance(command, expected), label(path)


def test_a_bare_group_of_typers_own_class_still_answers_with_help_and_exit_2() -> None:
    shown = run_toy("plain")
    assert shown.code == 2
    assert "Usage: secrets plain" in shown.stdout + shown.stderr
    assert "error:" not in shown.stderr
