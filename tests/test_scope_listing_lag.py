"""`run`/`export` while ListSecrets still lists a secret deleted a moment ago (findings item 7).

AWS's ListSecrets is eventually consistent: a secret deleted (or scheduled for deletion) is
still listed for up to five minutes. Before, every `run` and `export` of the scope failed
meanwhile (exit 3, "not found" / "scheduled for deletion"). A secret that only the listing
found is now left out with a note (as `diff` and `copy` do); one the user named with `--only`
is still an error. The emulator's listing never lags: the stale listing is scripted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config

CONFIG = """
[environments.dev]
region = "us-east-1"
"""
LIST = "secretsmanager.ListSecrets"


@pytest.fixture
def stale(aws_env: Path, sm: Any, proxy: Any) -> Any:
    """dev/app/a, and dev/app/gone, listed still after it was deleted (returned: a function
    that deletes it one way or the other)."""
    write_config(aws_env, CONFIG)
    sm.create_secret(Name="dev/app/a", SecretString="alpha")
    sm.create_secret(Name="dev/app/gone", SecretString="old")
    listed = sm.list_secrets()["SecretList"]
    body = {"SecretList": [{"Name": s["Name"], "ARN": s["ARN"]} for s in listed]}
    proxy.answer(LIST, json.dumps(body).encode())

    def delete(*, force: bool) -> None:
        if force:
            sm.delete_secret(SecretId="dev/app/gone", ForceDeleteWithoutRecovery=True)
        else:
            sm.delete_secret(SecretId="dev/app/gone", RecoveryWindowInDays=7)

    return delete


@pytest.mark.parametrize("force", [True, False], ids=["deleted", "scheduled"])
def test_a_listed_secret_deleted_since_is_left_out(
    cli: Any, aws_env: Path, stale: Any, force: bool
) -> None:
    stale(force=force)
    run = cli("export", "dev", "--format", "dotenv")
    assert run.code == 0, run.stderr
    assert "APP_A" in run.stdout
    assert "APP_GONE" not in run.stdout
    assert "dev/app/gone was deleted after it was listed; left out" in run.stderr
    seen = aws_env / "seen"
    program = "import os, sys; open(sys.argv[1], 'w').write(' '.join(sorted(os.environ)))"
    started = cli("run", "dev", "--", sys.executable, "-c", program, str(seen))
    assert started.code == 0, started.stderr
    assert "APP_A_FILE" in seen.read_text() and "APP_GONE" not in seen.read_text()


def test_a_secret_named_with_only_is_still_an_error(cli: Any, stale: Any) -> None:
    stale(force=True)
    run = cli("export", "dev", "--only", "app/gone", "--format", "dotenv")
    assert run.code == 3, run.stderr
    assert "not found" in run.stderr
    assert run.stdout == ""


def test_a_scope_whose_listed_secrets_are_all_gone_starts_nothing(
    cli: Any, sm: Any, stale: Any
) -> None:
    stale(force=True)
    sm.delete_secret(SecretId="dev/app/a", ForceDeleteWithoutRecovery=True)
    run = cli("export", "dev", "--format", "dotenv")
    assert run.code == 3, run.stderr
    assert "no secrets under dev/" in run.stderr
    assert run.stdout == ""
