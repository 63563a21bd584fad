"""`secrets rotate` at a real terminal (pexpect): the hidden prompt and the confirmation of a
protected environment, and bulk rotation's plan table, single confirmation, progress bar and
summary. Helpers (and the notes on driving questionary) are in tests/test_pty.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import write_config
from tests.test_pty import CONFIG, answer_value, finish, recorded, spawn
from tests.test_rotate import holder, make, stages, value_of


def test_protected_rotation_prompts_for_the_value_then_confirms(sm, aws_env: Path) -> None:
    write_config(aws_env, CONFIG)
    old = make(sm, "prod/db/password", "old-password")
    child = recorded(spawn("rotate", "prod/db/password", cwd=aws_env))
    answer_value(child, "new value of prod/db/password", "Typed-N3w", "Typed-N3w")
    child.expect("rotate prod/db/password\\?")
    child.send("y")
    code, screen = finish(child)
    assert code == 0, screen
    assert "(protected environment)" in screen
    assert "Typed-N3w" not in screen  # hidden input, and never echoed by us
    assert value_of(sm, "prod/db/password") == "Typed-N3w"
    assert holder(sm, "prod/db/password", "AWSPREVIOUS") == old


def test_protected_rotation_declined_changes_nothing(sm, aws_env: Path) -> None:
    write_config(aws_env, CONFIG)
    old = make(sm, "prod/db/password", "old-password")
    child = recorded(spawn("rotate", "prod/db/password", "--generate", cwd=aws_env))
    child.expect("rotate prod/db/password\\?")
    child.send("n")
    code, screen = finish(child)
    assert code == 4, screen
    assert stages(sm, "prod/db/password") == {old: ["AWSCURRENT"]}


def test_bulk_at_a_terminal_confirms_once_and_summarises(sm, aws_env: Path) -> None:
    write_config(aws_env, CONFIG)
    originals: dict[str, Any] = {
        f"dev/api/key-{i}": make(sm, f"dev/api/key-{i}", "x") for i in range(3)
    }
    child = recorded(
        spawn("rotate", "--env", "dev", "--older-than", "0", "--generate", cwd=aws_env)
    )
    child.expect("rotate 3 secrets under dev/\\?")
    child.send("y")
    code, screen = finish(child)
    assert code == 0, screen
    for name in originals:
        assert name in screen  # the plan table
        assert holder(sm, name, "AWSPREVIOUS") == originals[name]
    assert "3 rotated, 0 failed, 0 skipped under dev/" in screen
