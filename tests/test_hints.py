"""Error messages reviewed as a newcomer reads them: every CliError says what to do next.

Two checks. The behaviour: every error that a test's run brings to the error door must print a
non-empty `hint:` line (conftest's `errors_say_what_to_do_next`, around every test; its tally
is the last line of a pytest run). The source: an AST walk over cli/envsecrets/ finds
`CliError(code, message)` constructions without a hint - there must be none (a hint is the
third argument or `hint=`, and not empty) - and it must find at least as many constructions
as the code has, so that a walk that silently reads nothing cannot pass.
"""

from __future__ import annotations

import ast
from pathlib import Path

from envsecrets.errors import CliError, ExitCode

from tests.conftest import printed_hint

ROOT = Path(__file__).resolve().parent.parent


# `CliError(` constructions in cli/envsecrets/ when this was written (234): the walk must find
# at least this many. Lower it only when constructions were really removed.
AT_LEAST = 220


def cli_errors_without_hint() -> list[str]:
    """`CliError(code, message)` constructions in cli/envsecrets/ that give no hint (file:line)."""
    return _walk()[1]


def _walk() -> tuple[int, list[str]]:
    """How many `CliError(...)` constructions there are, and those without a hint."""
    constructions = 0
    found: list[str] = []
    for path in sorted((ROOT / "cli" / "envsecrets").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name != "CliError":
                continue
            constructions += 1
            if any(isinstance(a, ast.Starred) for a in node.args) or any(
                k.arg is None for k in node.keywords
            ):
                continue  # built from *args/**kwargs: cannot tell statically
            hint_arg = node.args[2] if len(node.args) >= 3 else None
            hint_kw = next((k.value for k in node.keywords if k.arg == "hint"), None)
            hint = hint_arg if hint_arg is not None else hint_kw
            if hint is None or (isinstance(hint, ast.Constant) and not hint.value):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return constructions, found


def test_every_cli_error_has_a_hint() -> None:
    missing = cli_errors_without_hint()
    assert missing == [], "CliError without a hint (say what to do next): " + ", ".join(missing)


def test_the_walk_reads_every_construction() -> None:
    constructions, _ = _walk()
    assert constructions >= AT_LEAST, f"the walk found {constructions} CliError constructions"


def test_an_error_at_the_door_without_a_hint_is_caught(cli, errors_say_what_to_do_next) -> None:
    """The behavioural check sees what the door prints: an error that reaches it is recorded,
    and one without a hint would print none (so the check would fail the test)."""
    run = cli("get", "dev/../x")
    assert run.code == 2
    (error,) = errors_say_what_to_do_next
    assert printed_hint(error) and printed_hint(error) in run.stderr
    assert printed_hint(CliError(ExitCode.USAGE, "no hint")) == ""
    assert printed_hint(CliError(ExitCode.USAGE, "empty hint", "")) == ""
