"""`secrets replicate`: add and remove replica regions.

moto replicates for real across its regions: the replica shows up in the other region's
ListSecrets with PrimaryRegion set, and DescribeSecret reports it `InSync` at once (AWS reports
`InProgress` for a moment first). moto also accepts any region string; AWS refuses unknown ones.
"""

from __future__ import annotations

import json

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


# -- replicas that are listed but not there: Failed, InProgress ----------------------------------
# DescribeSecret lists a region whose replica failed ("the replica was not created"), e.g.
# because a secret of that name already exists there. moto reproduces that case for real.

FAILED_CONFIG = """
[environments.dev]
region = "us-east-1"
replica_regions = ["us-west-2"]

[functions.checkout]
secrets = ["api/key"]
"""


@pytest.fixture
def failed_replica(aws_env, sm):
    """dev/api/key, whose us-west-2 replica failed: an unrelated secret holds the name there."""
    write_config(aws_env, FAILED_CONFIG)
    aws_client("secretsmanager", "us-west-2").create_secret(
        Name="dev/api/key", SecretString="someone-elses-value"
    )
    sm.create_secret(
        Name="dev/api/key", SecretString="v", AddReplicaRegions=[{"Region": "us-west-2"}]
    )
    (status,) = sm.describe_secret(SecretId="dev/api/key")["ReplicationStatus"]
    assert status["Status"] == "Failed"
    return "dev/api/key"


def test_check_reports_a_failed_replica_as_drift_with_its_message(cli, failed_replica) -> None:
    run = cli("check", "dev", "--json")
    assert run.code == 1, run.stderr
    (item,) = run.json()["secrets"]
    assert item["status"] == "replica_drift"
    drift = item["replica_drift"]
    assert drift["missing"] == ["us-west-2"]
    (unhealthy,) = drift["unhealthy"]
    assert unhealthy["status"] == "Failed"
    assert "already exists" in unhealthy["message"]
    plain = cli("check", "dev")
    assert "us-west-2 Failed" in plain.stdout and "already exists" in plain.stdout
    assert "--force-overwrite-replica" in plain.stderr


def test_diff_metadata_reports_a_failed_replica(cli, failed_replica, sm, aws_env) -> None:
    write_config(aws_env, FAILED_CONFIG + '\n[environments.staging]\nregion = "us-east-1"\n')
    sm.create_secret(Name="staging/api/key", SecretString="v")
    run = cli("diff", "staging", "dev", "--metadata", "--json")
    assert run.code == 1, run.stderr
    (drift,) = run.json()["replica_drift"]
    assert (drift["key"], drift["env"], drift["missing"]) == ("api/key", "dev", ["us-west-2"])
    assert drift["unhealthy"][0]["status"] == "Failed"


def test_replicate_refuses_to_overwrite_the_secret_in_the_way(cli, failed_replica, proxy) -> None:
    proxy.reset_counts()
    run = cli("replicate", failed_replica, "--region", "us-west-2")
    assert run.code == 4, run.stderr
    assert "different secret of the same name" in run.stderr
    assert "--force-overwrite-replica" in run.stderr
    assert proxy.writes() == 0
    west = aws_client("secretsmanager", "us-west-2")
    value = west.get_secret_value(SecretId=failed_replica)["SecretString"]
    assert value == "someone-elses-value"


def test_force_overwrite_replica_replaces_it_and_check_passes(cli, failed_replica, sm) -> None:
    run = cli(
        "replicate", failed_replica, "--region", "us-west-2", "--force-overwrite-replica",
        "--json",
    )  # fmt: skip
    assert run.code == 0, run.stderr
    out = run.json()
    assert (out["action"], out["status"], out["unhealthy"]) == ("retried", "InSync", [])
    (status,) = sm.describe_secret(SecretId=failed_replica)["ReplicationStatus"]
    assert status["Status"] == "InSync"
    west = aws_client("secretsmanager", "us-west-2").describe_secret(SecretId=failed_replica)
    assert west["PrimaryRegion"] == "us-east-1"
    assert cli("check", "dev").code == 0


def test_a_failed_replica_whose_cause_is_gone_is_retried(cli, failed_replica, sm) -> None:
    west = aws_client("secretsmanager", "us-west-2")
    west.delete_secret(SecretId=failed_replica, ForceDeleteWithoutRecovery=True)
    run = cli("replicate", failed_replica, "--region", "us-west-2", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["action"] == "retried"
    (status,) = sm.describe_secret(SecretId=failed_replica)["ReplicationStatus"]
    assert status["Status"] == "InSync"


def test_adding_a_region_where_the_name_is_taken_says_so(cli, secret, sm) -> None:
    aws_client("secretsmanager", "eu-west-1").create_secret(Name=secret, SecretString="x")
    run = cli("replicate", secret, "--region", "eu-west-1")
    assert run.code == 4, run.stderr
    assert "--force-overwrite-replica" in run.stderr
    forced = cli("replicate", secret, "--region", "eu-west-1", "--force-overwrite-replica")
    assert forced.code == 0, forced.stderr
    assert [r["Status"] for r in sm.describe_secret(SecretId=secret)["ReplicationStatus"]] == [
        "InSync"
    ]


def test_a_replica_in_progress_is_drift_and_left_alone(cli, secret, sm, proxy) -> None:
    """AWS reports a new replica InProgress for a while (moto: InSync at once): scripted."""
    described = sm.describe_secret(SecretId=secret)
    described.pop("ResponseMetadata")
    described["ReplicationStatus"] = [
        {"Region": "us-west-2", "Status": "InProgress", "StatusMessage": "Replication started"}
    ]
    proxy.answer("secretsmanager.DescribeSecret", json.dumps(described, default=_epoch).encode())
    proxy.reset_counts()
    run = cli("replicate", secret, "--region", "us-west-2", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["action"] == "in_progress"
    assert proxy.writes() == 0
    diff = cli("diff", "prod", "dev", "--metadata", "--json")
    assert diff.code == 1, diff.stderr
    (drift,) = diff.json()["replica_drift"]
    assert drift["missing"] == ["us-west-2"]  # listed, but no copy there yet
    shown = cli("show", secret, "--json").json()
    assert shown["replicas"] == [
        {"region": "us-west-2", "status": "InProgress", "message": "Replication started"}
    ]


def _epoch(value: object) -> float:
    import datetime

    assert isinstance(value, datetime.datetime)
    return value.timestamp()
