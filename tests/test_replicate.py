"""`secrets replicate`: add and remove replica regions.

moto replicates for real across its regions: the replica shows up in the other region's
ListSecrets with PrimaryRegion set, and DescribeSecret reports it `InSync` at once (AWS reports
`InProgress` for a moment first). moto also accepts any region string; AWS refuses unknown ones.
"""

from __future__ import annotations

import pytest

from tests.conftest import aws_client, write_config

CONFIG = """
[environments.dev]
region = "us-east-1"
replica_regions = ["us-west-2"]

[environments.prod]
region = "us-east-1"
"""


@pytest.fixture
def secret(aws_env, sm):
    write_config(aws_env, CONFIG)
    sm.create_secret(Name="dev/api/key", SecretString="v")
    return "dev/api/key"


def _replicas(sm, name: str) -> list[str]:
    status = sm.describe_secret(SecretId=name).get("ReplicationStatus", [])
    return sorted(r["Region"] for r in status)


def test_add_then_remove(cli, secret, sm) -> None:
    run = cli("replicate", secret, "--region", "us-west-2")
    assert run.code == 0, run.stderr
    assert _replicas(sm, secret) == ["us-west-2"]
    west = aws_client("secretsmanager", "us-west-2")
    listed = west.list_secrets()["SecretList"]
    assert [(s["Name"], s.get("PrimaryRegion")) for s in listed] == [(secret, "us-east-1")]
    assert "added" in run.stderr
    # Matches secrets.toml now: no drift warning, and check agrees.
    assert "drift" not in run.stderr

    again = cli("replicate", secret, "--region", "us-west-2", "--json")
    assert again.code == 0
    assert again.json()["action"] == "unchanged"

    removed = cli("replicate", secret, "--region", "us-west-2", "--remove")
    assert removed.code == 0, removed.stderr
    assert _replicas(sm, secret) == []
    assert "drifting" in removed.stderr  # dev's replica_regions still name us-west-2


def test_extra_region_warns_about_drift(cli, secret, sm) -> None:
    run = cli("replicate", secret, "--region", "eu-west-1", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["replicas"] == ["eu-west-1"]
    assert run.json()["replica_regions_configured"] == ["us-west-2"]
    assert _replicas(sm, secret) == ["eu-west-1"]


def test_remove_when_absent_is_unchanged(cli, secret) -> None:
    run = cli("replicate", secret, "--region", "eu-west-1", "--remove", "--json")
    assert run.code == 0
    assert run.json()["action"] == "unchanged"


def test_protected_environment_needs_yes(cli, aws_env, sm, proxy) -> None:
    write_config(aws_env, CONFIG)
    sm.create_secret(Name="prod/api/key", SecretString="v")
    proxy.reset_counts()
    run = cli("replicate", "prod/api/key", "--region", "us-west-2")
    assert run.code == 4
    assert proxy.writes() == 0
    assert cli("replicate", "prod/api/key", "--region", "us-west-2", "--yes").code == 0
    assert _replicas(sm, "prod/api/key") == ["us-west-2"]


def test_bad_input(cli, secret, sm) -> None:
    assert cli("replicate", secret, "--region", "mars-1").code == 2
    primary = cli("replicate", secret, "--region", "us-east-1")
    assert primary.code == 2 and "primary" in primary.stderr
    assert cli("replicate", "dev/api/missing", "--region", "us-west-2").code == 3
    assert cli("replicate", "prdo/api/key", "--region", "us-west-2").code == 2
    assert cli("replicate", secret).code == 2  # --region is required
    sm.delete_secret(SecretId=secret, RecoveryWindowInDays=7)
    deleting = cli("replicate", secret, "--region", "us-west-2")
    assert deleting.code == 4 and "secrets restore" in deleting.stderr
