"""Docs that cannot go stale: every command and option has help text and is in the README.

Commands are discovered from the app itself (like simonw/llm's test_docs.py), so a command or
flag added later fails here until it is documented.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from envsecrets.app import app
from typer.core import TyperCommand, TyperGroup
from typer.core import TyperOption as Option

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
# Options every command gets from Typer or from the root, documented once in the README.
GENERIC = {"--help", "-h", "--install-completion", "--show-completion"}


# What typer.main.get_command builds: groups and commands (typer.core's public classes).
Command = TyperCommand | TyperGroup


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Command]]:
    yield path, command
    if isinstance(command, TyperGroup):
        for name, sub in sorted(command.commands.items()):
            if not sub.hidden:
                yield from walk(sub, (*path, name))


COMMANDS = list(walk(typer.main.get_command(app)))


def label(path: tuple[str, ...]) -> str:
    return " ".join(("secrets", *path))


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[label(p) for p, _ in COMMANDS])
def test_every_command_and_option_has_help(path: tuple[str, ...], command: Command) -> None:
    assert (command.help or command.short_help or "").strip(), f"{label(path)} has no help"
    for param in command.params:
        if isinstance(param, Option) and set(param.opts) & GENERIC:
            continue
        text = getattr(param, "help", None)
        assert text and text.strip(), f"{label(path)}: {param.name} has no help text"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[label(p) for p, _ in COMMANDS])
def test_every_command_and_option_is_in_the_readme(path: tuple[str, ...], command: Command) -> None:
    if path:
        words = r"\s+".join(re.escape(w) for w in ("secrets", *path))
        assert re.search(rf"{words}\b", README), f"README never shows `{label(path)}`"
    missing = []
    for param in command.params:
        if not isinstance(param, Option):
            continue
        longs = [o for o in (*param.opts, *param.secondary_opts) if o.startswith("--")]
        if not longs or set(longs) & GENERIC:
            continue
        if not any(re.search(rf"{re.escape(o)}\b", README) for o in longs):
            missing.append(longs[0])
    assert missing == [], f"README never mentions these options of `{label(path)}`"


def test_readme_says_how_to_install_completion() -> None:
    assert "--install-completion" in README
    for script in ("completions/secrets.bash", "completions/_secrets", "completions/secrets.fish"):
        assert script in README
