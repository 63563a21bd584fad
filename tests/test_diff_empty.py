"""`diff` with nothing on either side (findings, smaller): exit 0, but with a warning, in
text and JSON alike: both sides empty is also what a wrong region, account or prefix gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config


@pytest.mark.parametrize("json_output", [False, True], ids=["text", "json"])
def test_both_sides_empty_is_warned_about(cli: Any, aws_env: Path, json_output: bool) -> None:
    write_config(aws_env, "[environments.dev]\n[environments.staging]\n")
    run = cli("diff", "dev", "staging", *(["--json"] if json_output else []))
    assert run.code == 0, run.stderr
    assert "warning: no secrets in dev or staging: both are empty" in run.stderr
    assert "wrong region, account or prefix" in run.stderr
