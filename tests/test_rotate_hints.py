"""The recovery a failed rotation offers runs as the first run did: the hint's `--resume`
carries the run's own `--verify-timeout` and `--apply-timeout` (a command that needed longer
than the default needs it again), and the command it names is accepted as written."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

from tests.test_rotate import make, value_of


def hinted(hint: str, mode: str) -> list[str]:
    """The arguments of the first `secrets rotate ... MODE...` command the hint names."""
    found = re.search(rf"`secrets (rotate [^`]* {mode}[^`]*)`", hint)
    assert found, hint
    return shlex.split(found.group(1))


def test_a_failed_verification_offers_a_resume_with_its_own_timeout(cli: Any, sm: Any) -> None:
    make(sm, "dev/api/key", "v1")
    run = cli(
        "rotate", "dev/api/key", "--generate", "--verify-cmd", "false",
        "--verify-timeout", "300", "--json",
    )  # fmt: skip
    assert run.code == 1, run.stderr
    hint = json.loads(run.stderr)["error"]["hint"]
    resume = hinted(hint, "--resume")
    assert resume[resume.index("--verify-timeout") + 1] == "300"
    assert cli(*hinted(hint, "--cancel")).code == 0
    assert value_of(sm, "dev/api/key") == "v1"


def test_a_failed_apply_offers_its_recovery_with_its_own_timeout(
    cli: Any, sm: Any, aws_env: Path
) -> None:
    make(sm, "dev/api/partner", "v1")
    flag = aws_env / "fail-once"
    flag.write_text("", encoding="utf-8")
    apply_cmd = f"test ! -e {flag} || {{ rm {flag}; exit 2; }}"
    run = cli(
        "rotate", "dev/api/partner", "--generate", "--apply-cmd", apply_cmd,
        "--apply-timeout", "200", "--json",
    )  # fmt: skip
    assert run.code == 1, run.stderr
    hint = json.loads(run.stderr)["error"]["hint"]
    resume = hinted(hint, "--resume")
    assert resume[resume.index("--apply-timeout") + 1] == "200"
    assert resume[resume.index("--apply-cmd") + 1] == apply_cmd
    # The command the hint names runs as written: the apply passes now, the value promotes.
    again = cli(*resume)
    assert again.code == 0, again.stderr
    assert value_of(sm, "dev/api/partner") != "v1"
