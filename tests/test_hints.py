"""Error messages reviewed as a newcomer reads them: every CliError says what to do next.

An AST walk over cli/ finds `CliError(code, message)` constructions without a hint. The ones that
existed when this test was written are listed in KNOWN (their owners are adding hints); the list
may only shrink: a new CliError without a hint fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# file -> how many hint-less CliError(...) it had; lower these as hints are added.
KNOWN: dict[str, int] = {
    "cli/app.py": 3,
    "cli/backends/aws.py": 4,
    "cli/backends/envfile.py": 5,
    "cli/commands/diff.py": 2,
    "cli/commands/inputs.py": 8,
    "cli/commands/migrate.py": 1,
    "cli/commands/rotate.py": 3,
    "cli/commands/secret.py": 2,
    "cli/core/config.py": 1,
    "cli/core/config_edit.py": 4,
    "cli/core/copying.py": 1,
    "cli/core/names.py": 2,
    "cli/core/policy.py": 1,
    "cli/core/rotation.py": 5,
    "cli/core/templates.py": 4,
    "cli/core/values.py": 1,
    "cli/ui/prompts.py": 2,
}


def cli_errors_without_hint() -> list[str]:
    """`CliError(code, message)` constructions in cli/ that give no hint (file:line)."""
    found: list[str] = []
    for path in sorted((ROOT / "cli").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name != "CliError":
                continue
            if any(isinstance(a, ast.Starred) for a in node.args) or any(
                k.arg is None for k in node.keywords
            ):
                continue  # built from *args/**kwargs: cannot tell statically
            hint_arg = node.args[2] if len(node.args) >= 3 else None
            hint_kw = next((k.value for k in node.keywords if k.arg == "hint"), None)
            hint = hint_arg if hint_arg is not None else hint_kw
            if hint is None or (isinstance(hint, ast.Constant) and not hint.value):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_new_cli_error_without_a_hint() -> None:
    counts: dict[str, int] = {}
    for place in cli_errors_without_hint():
        file = place.rsplit(":", 1)[0]
        counts[file] = counts.get(file, 0) + 1
    grown = {file: n for file, n in counts.items() if n > KNOWN.get(file, 0)}
    assert grown == {}, "CliError without a hint (say what to do next): " + ", ".join(
        p for p in cli_errors_without_hint() if p.rsplit(":", 1)[0] in grown
    )
