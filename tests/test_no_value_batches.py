"""One secret without a value among others (findings item 11).

A secret made by CreateSecret without a value (Terraform's aws_secretsmanager_secret without a
_version) has no AWSCURRENT version. AWS lists it in BatchGetSecretValue's `Errors`
(ResourceNotFoundException); the emulator refuses the whole call. Either way the command
names the secret and says it has no value, instead of "ResourceNotFoundException ... for
VersionId: AWSCURRENT" about nothing in particular.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config

CONFIG = """
[environments.dev]
region = "us-east-1"

[environments.staging]
region = "us-east-1"

[environments.qa]
region = "us-east-1"
"""
BATCH = "secretsmanager.BatchGetSecretValue"


@pytest.fixture
def with_empty(aws_env: Path, sm: Any) -> Any:
    write_config(aws_env, CONFIG)
    sm.create_secret(Name="dev/app/a", SecretString="alpha")
    sm.create_secret(Name="dev/app/empty")  # no value
    sm.create_secret(Name="staging/app/a", SecretString="alpha")
    return sm


@pytest.mark.parametrize(
    "args",
    [
        ("export", "dev", "--format", "dotenv"),
    ],
    ids=["export"],
)
def test_a_secret_without_a_value_is_named(cli: Any, with_empty: Any, args: tuple[str]) -> None:
    run = cli(*args)
    assert run.code == 3, run.stderr
    assert "dev/app/empty" in run.stderr
    assert "no value" in run.stderr
    assert "ResourceNotFoundException" not in run.stderr


def test_aws_s_answer_in_errors_is_named_too(cli: Any, with_empty: Any, proxy: Any) -> None:
    sm = with_empty
    alpha = sm.get_secret_value(SecretId="dev/app/a")
    entry = {k: alpha[k] for k in ("ARN", "Name", "VersionId", "SecretString")}
    entry["VersionStages"] = ["AWSCURRENT"]
    failure = {
        "SecretId": "dev/app/empty",
        "ErrorCode": "ResourceNotFoundException",
        "Message": "Secrets Manager can't find the specified secret value for VersionId: "
        "AWSCURRENT",
    }
    proxy.answer(BATCH, json.dumps({"SecretValues": [entry], "Errors": [failure]}).encode())
    run = cli("export", "dev", "--format", "dotenv")
    assert run.code == 3, run.stderr
    assert "dev/app/empty has no value" in run.stderr


def test_diff_shows_a_secret_without_a_value(cli: Any, with_empty: Any) -> None:
    with_empty.create_secret(Name="staging/app/empty", SecretString="filled")
    run = cli("diff", "dev", "staging", "--json")
    assert run.code == 1, run.stderr  # a difference
    rows = {row["key"]: row for row in run.json()["secrets"]}
    assert rows["app/a"]["status"] == "same"
    assert rows["app/empty"]["status"] == "differs"
    assert rows["app/empty"]["a"]["kind"] == "none"
    text = cli("diff", "dev", "staging")
    assert "no value in dev, text in staging" in text.stdout


def test_copy_skips_a_secret_without_a_value_saying_why(
    cli: Any, with_empty: Any, proxy: Any
) -> None:
    run = cli("copy", "dev/", "qa/", "--yes", "--json")
    assert run.code == 0, run.stderr
    items = {item["source"]: item for item in run.json()["secrets"]}
    assert items["dev/app/empty"]["action"] == "skip"
    assert items["dev/app/empty"]["reason"] == "dev/app/empty has no value"
    assert items["dev/app/a"]["action"] == "create"
    assert proxy.calls["secretsmanager.CreateSecret"] == 1


def test_a_migration_gives_a_target_without_a_value_its_first_one(
    cli: Any, with_empty: Any, aws_env: Path
) -> None:
    (aws_env / "app.env").write_text("EMPTY=now-filled\nA=alpha\n", encoding="utf-8")
    run = cli("migrate", "env-file", "app.env", "--to", "dev/app/", "--yes", "--json")
    assert run.code == 0, run.stderr
    statuses = {i["target"]: i["status"] for i in run.json()["result"]["items"]}
    assert statuses == {"dev/app/empty": "created", "dev/app/a": "unchanged"}
    assert with_empty.get_secret_value(SecretId="dev/app/empty")["SecretString"] == "now-filled"


def test_copy_into_a_secret_without_a_value_never_stops_the_copy(
    cli: Any, with_empty: Any, proxy: Any
) -> None:
    """The destination's secret exists but holds no value: no flag makes it a conflict (exit
    4, nothing written), `--missing-only` leaves it alone and copies the rest, `--overwrite`
    gives it its first value. None of them stops at reading it (exit 3)."""
    sm = with_empty
    sm.create_secret(Name="qa/app/a")  # no value
    sm.create_secret(Name="dev/app/b", SecretString="bravo")
    refused = cli("copy", "dev/", "qa/", "--yes", "--json")
    assert refused.code == 4, refused.stderr
    assert "qa/app/a" in refused.stdout + refused.stderr
    assert proxy.writes() == 0

    missing = cli("copy", "dev/", "qa/", "--missing-only", "--yes", "--json")
    assert missing.code == 0, missing.stderr
    items = {item["source"]: item for item in missing.json()["secrets"]}
    assert (items["dev/app/a"]["action"], items["dev/app/a"]["reason"]) == (
        "skip",
        "exists without a value",
    )
    assert items["dev/app/b"]["action"] == "create"
    assert sm.get_secret_value(SecretId="qa/app/b")["SecretString"] == "bravo"
    assert "VersionIdsToStages" not in sm.describe_secret(SecretId="qa/app/a")

    filled = cli("copy", "dev/", "qa/", "--overwrite", "--yes", "--json")
    assert filled.code == 0, filled.stderr
    assert sm.get_secret_value(SecretId="qa/app/a")["SecretString"] == "alpha"
