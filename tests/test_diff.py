"""`secrets diff`: every category on hand-made environments, over HTTP to the emulator."""

from __future__ import annotations

import json

import pytest

from tests.conftest import aws_client, write_config

CONFIG = """
[environments.dev]
region = "us-east-1"

[environments.staging]
region = "us-east-1"

[environments.prod]
region = "us-east-1"
"""


@pytest.fixture
def envs(aws_env, sm):
    """dev and staging with one secret in every category."""
    write_config(aws_env, CONFIG)
    for env in ("dev", "staging"):
        sm.create_secret(Name=f"{env}/api/same", SecretString="same-value")
        sm.create_secret(Name=f"{env}/api/bin", SecretBinary=b"\x00\x01\xff")
        sm.create_secret(Name=f"{env}/db/creds", SecretString=json.dumps(
            {"user": "app", "password": f"pw-{env}", "host": "db"}))
        sm.create_secret(Name=f"{env}/api/doomed", SecretString="soon gone")
    sm.create_secret(Name="dev/api/token", SecretString="dev-token")
    sm.create_secret(Name="staging/api/token", SecretString="staging-token")
    sm.create_secret(Name="dev/api/only-dev", SecretString="x")
    sm.create_secret(Name="staging/api/only-staging", SecretString="y")
    sm.create_secret(Name="staging/other/x", SecretString="z")
    sm.delete_secret(SecretId="staging/api/doomed", RecoveryWindowInDays=7)
    return aws_env


def test_every_category_in_json(cli, envs) -> None:
    run = cli("diff", "dev", "staging", "--json")
    assert run.code == 1, run.stderr
    data = run.json()
    status = {row["key"]: row["status"] for row in data["secrets"]}
    assert status == {
        "api/bin": "same",
        "api/doomed": "pending_deletion",
        "api/only-dev": "only_in_a",
        "api/only-staging": "only_in_b",
        "api/same": "same",
        "api/token": "differs",
        "db/creds": "differs",
        "other/x": "only_in_b",
    }
    assert data["equal"] is False
    assert data["counts"] == {
        "same": 2, "differs": 2, "only_in_a": 1, "only_in_b": 2, "pending_deletion": 1
    }
    creds = next(r for r in data["secrets"] if r["key"] == "db/creds")
    assert creds["changed_fields"] == ["password"]
    assert creds["a"]["kind"] == "json"
    doomed = next(r for r in data["secrets"] if r["key"] == "api/doomed")
    assert doomed["b"]["pending_deletion"] is True and doomed["b"]["deletion_date"]
    assert doomed["a"]["pending_deletion"] is False


def test_piped_lines(cli, envs) -> None:
    run = cli("diff", "dev", "staging")
    assert run.code == 1
    print(run.stdout)
    print(run.stderr)
    assert "- api/only-dev" in run.stdout.splitlines()
    assert "~ db/creds  (fields: password)" in run.stdout.splitlines()
