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


# Where the README documents each root command: the `###` section under "Commands" whose heading
# starts so. A new root command fails test_every_root_command_has_a_section until it is here.
SECTION_OF = {
    **dict.fromkeys(("set", "get", "list", "show", "history", "delete", "restore"), "One secret"),
    **dict.fromkeys(("run", "export", "inject"), "Running programs"),
    "rotate": "Rotation by hand",
    **dict.fromkeys(("diff", "copy", "check", "replicate"), "Environments"),
    "migrate": "Migrating",
    **dict.fromkeys(("policy", "audit"), "Least privilege"),
    **dict.fromkeys(("init", "doctor"), "Setting up"),
    "emulator": "The local emulator",
}
# Options that the Commands section's opening paragraph documents once for every command.
DOCUMENTED_FOR_ALL = {"--json", "--yes"}


def readme_sections() -> dict[str, str]:
    """`###` heading -> its text (its `####` subsections included); "" -> the text between
    "## Commands" and its first `###` (what it says of every command)."""
    found: dict[str, list[str]] = {}
    current: str | None = None
    for line in README.splitlines():
        heading = re.match(r"^(#{2,3}) (.*)", line)
        if heading:
            level, title = heading.groups()
            current = title if level == "###" else ("" if title == "Commands" else None)
            if current is not None:
                found[current] = []
            continue
        if current is not None:
            found[current].append(line)
    return {title: "\n".join(lines) for title, lines in found.items()}


SECTIONS = readme_sections()


def section_of(word: str) -> str:
    return next(text for title, text in SECTIONS.items() if title.startswith(SECTION_OF[word]))


def option_pattern(names: list[str]) -> re.Pattern[str]:
    """Any of `names` as a whole option: `--force` is not found in `--force-now`."""
    either = "|".join(re.escape(name) for name in names)
    return re.compile(rf"(?<![\w-])(?:{either})(?![\w-])")


def passages(text: str) -> list[str]:
    """Paragraphs, and each line of a code block on its own (an example is one command)."""
    found: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        found.extend(block.splitlines() if block.lstrip().startswith("```") else [block])
    return found


def test_every_root_command_has_a_section() -> None:
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    words = {name for name, command in root.commands.items() if not command.hidden}
    assert words == set(SECTION_OF)
    for title in SECTION_OF.values():
        assert any(t.startswith(title) for t in SECTIONS), f"no README section '{title}'"
    assert all(option_pattern([o]).search(SECTIONS[""]) for o in DOCUMENTED_FOR_ALL)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[label(p) for p, _ in COMMANDS])
def test_every_command_and_option_is_in_its_readme_section(
    path: tuple[str, ...], command: Command
) -> None:
    """Each option of a command is documented in that command's section: in a paragraph or an
    example line that names the command (or its group: `migrate`'s shared flags), so that an
    option of one command does not pass because another command has one of that name."""
    text = section_of(path[0]) if path else SECTIONS[""]
    if path:
        words = r"\s+".join(re.escape(w) for w in ("secrets", *path))
        assert re.search(rf"{words}\b", text), f"its section never shows `{label(path)}`"
    names = {re.compile(rf"(?<![\w-]){re.escape(word)}(?![\w-])") for word in path}
    missing = []
    for param in command.params:
        if not isinstance(param, Option):
            continue
        longs = [o for o in (*param.opts, *param.secondary_opts) if o.startswith("--")]
        if not longs or set(longs) & (GENERIC | DOCUMENTED_FOR_ALL):
            continue
        option = option_pattern(longs)
        if not any(
            option.search(passage) and (not names or any(n.search(passage) for n in names))
            for passage in passages(text)
        ):
            missing.append(longs[0])
    assert missing == [], f"its README section never shows these options of `{label(path)}`"


def test_the_section_check_tells_options_apart() -> None:
    """What the check above stands on: whole options only, and passages that name the command."""
    assert not option_pattern(["--force"]).search("`delete --force-now` confirms")
    assert option_pattern(["--force"]).search("(unless `--force`)")
    text = "```sh\nsecrets diff dev prod --prefix api/\nsecrets get prod/x\n```\n\nAbout get."
    get_lines = [p for p in passages(text) if re.search(r"(?<![\w-])get(?![\w-])", p)]
    assert get_lines and not any(option_pattern(["--prefix"]).search(p) for p in get_lines)


def test_readme_says_how_to_install_completion() -> None:
    assert "--install-completion" in README
    for script in ("completions/secrets.bash", "completions/_secrets", "completions/secrets.fish"):
        assert script in README
