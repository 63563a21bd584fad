"""Error messages reviewed as a newcomer reads them: every CliError says what to do next.

An AST walk over cli/envsecrets/ finds `CliError(code, message)` constructions without a hint:
there must be none. A hint is the third argument or `hint=`, and not empty.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cli_errors_without_hint() -> list[str]:
    """`CliError(code, message)` constructions in cli/envsecrets/ that give no hint (file:line)."""
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


def test_every_cli_error_has_a_hint() -> None:
    missing = cli_errors_without_hint()
    assert missing == [], "CliError without a hint (say what to do next): " + ", ".join(missing)
