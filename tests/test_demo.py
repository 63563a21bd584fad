"""`make demo` prints each command before running it: the printed line must paste back."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

DEMO = Path(__file__).parent / "demo.sh"


@pytest.fixture(autouse=True)
def aws_env() -> None:
    """No emulator needed (overrides conftest's)."""


def as_typed_function() -> str:
    found = re.search(r"^as_typed\(\) \{\n.*?^\}\n", DEMO.read_text(), re.MULTILINE | re.DOTALL)
    assert found, "demo.sh defines as_typed()"
    return found.group(0)


@pytest.mark.parametrize(
    "words",
    [
        ["secrets", "rotate", "dev/db/password", "--verify-cmd", 'sh -c "exit 1"'],
        ["secrets", "set", "dev/x", "--description", "it's a key"],
        ["printf", "", "$HOME", "a;b", "*"],
    ],
)
def test_a_printed_command_pastes_back_to_the_same_words(words: list[str]) -> None:
    script = as_typed_function() + 'as_typed "$@"'
    printed = subprocess.run(
        ["bash", "-c", script, "demo", *words], capture_output=True, text=True, check=True
    ).stdout
    pasted = subprocess.run(
        ["bash", "-c", f"printf '%s\\0' {printed}"], capture_output=True, text=True, check=True
    ).stdout
    assert pasted.split("\0")[:-1] == words
    if words[-1] == 'sh -c "exit 1"':
        assert printed.endswith("""--verify-cmd 'sh -c "exit 1"'""")
