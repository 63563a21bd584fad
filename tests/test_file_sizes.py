"""Issue 11's rule: no module in cli/ over about 500 lines without a reason in its docstring."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cli" / "envsecrets"
LIMIT = 500
# Left for later, each with why (the lead's list): other branches edit these today, and a split
# while they are being merged would turn their merges into conflicts.
LEFT_FOR_LATER = {
    "core/audit.py": "being split by the audit engineer",
    "core/terraform.py": "the audit engineer's",
    "backends/aws.py": "edited by other branches; split after today's merges",
    "core/diffing.py": "edited by other branches; split after today's merges",
    "commands/diff.py": "edited by other branches; split after today's merges",
    "backends/secretsmanager.py": "edited by other branches; split after today's merges",
    "core/migration.py": "the AWS engineer's (verify/report)",
    "core/rotation.py": "the rotation engineer's",
    "core/rotation_bulk.py": "the rotation engineer's",
    "core/templates.py": "the audit engineer's (templates readers)",
    "backends/replies.py": "grew past 500 lines in today's merges (identity checks)",
    "commands/run.py": "grew past 500 lines in today's merges (run/export/inject fixes)",
    "commands/rotate_bulk.py": "grew past 500 lines in today's merges (per-failure hints)",
}


@pytest.fixture(autouse=True)
def aws_env() -> None:
    """Reads files only: no emulator (overrides conftest's)."""


def long_modules() -> list[Path]:
    return sorted(
        path
        for path in PACKAGE.rglob("*.py")
        if len(path.read_text(encoding="utf-8").splitlines()) > LIMIT
    )


def test_a_long_module_says_why_in_its_docstring() -> None:
    unexplained = []
    for path in long_modules():
        name = path.relative_to(PACKAGE).as_posix()
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if name not in LEFT_FOR_LATER and "500 lines" not in docstring:
            unexplained.append(name)
    assert unexplained == [], "split these, or say in the docstring why they are over 500 lines"
