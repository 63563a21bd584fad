"""`secrets check`: every secret the functions declare exists in the environment."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from tests.conftest import aws_client, write_config

CONFIG = """
[environments.staging]
region = "us-east-1"

[environments.prod]
region = "us-east-1"
replica_regions = ["us-west-2"]

[functions.checkout]
secrets = ["api/stripe-key", "db/password"]

[functions.billing]
secrets = ["db/password", "api/invoice-key"]
"""


@pytest.fixture
def config(aws_env):
    write_config(aws_env, CONFIG)
    return aws_env


def test_all_present_exits_zero(cli, config, sm) -> None:
    for path in ("api/stripe-key", "db/password", "api/invoice-key"):
        sm.create_secret(Name=f"staging/{path}", SecretString="v")
    run = cli("check", "staging", "--json")
    assert run.code == 0, run.stderr
    data = run.json()
    assert data["env"] == "staging"
    assert data["ok"] is True
    assert data["functions"] == ["billing", "checkout"]
    assert data["counts"] == {
        "ok": 3,
        "missing": 0,
        "pending_deletion": 0,
        "no_value": 0,
        "replica_drift": 0,
    }
    shared = next(s for s in data["secrets"] if s["key"] == "db/password")
    assert shared["functions"] == ["billing", "checkout"]
    assert shared["name"] == "staging/db/password"


def test_missing_and_pending_deletion_exit_one(cli, config, sm) -> None:
    sm.create_secret(Name="staging/api/stripe-key", SecretString="v")
    sm.create_secret(Name="staging/db/password", SecretString="v")
    sm.delete_secret(SecretId="staging/db/password", RecoveryWindowInDays=7)
    run = cli("check", "staging")
    assert run.code == 1
    lines = run.stdout.splitlines()
    assert lines[0].split("\t") == ["SECRET", "STATUS", "FUNCTIONS", "DETAIL"]
    rows = {line.split("\t")[0]: line.split("\t")[1] for line in lines[1:]}
    assert rows == {
        "staging/api/invoice-key": "missing",
        "staging/api/stripe-key": "ok",
        "staging/db/password": "pending deletion",
    }
    assert "2 of 3" in run.stderr
    assert "api/invoice-key" in run.stderr and "db/password" in run.stderr


def test_one_function(cli, config, sm) -> None:
    sm.create_secret(Name="staging/api/stripe-key", SecretString="v")
    sm.create_secret(Name="staging/db/password", SecretString="v")
    assert cli("check", "staging", "--function", "checkout").code == 0
    run = cli("check", "staging", "--function", "billing", "--json")
    assert run.code == 1
    assert [s["key"] for s in run.json()["secrets"]] == ["api/invoice-key", "db/password"]
    assert run.json()["functions"] == ["billing"]
    assert "error" in run.stderr


def test_replica_drift_is_reported(cli, config, sm) -> None:
    for path in ("api/stripe-key", "db/password"):
        sm.create_secret(
            Name=f"prod/{path}", SecretString="v", AddReplicaRegions=[{"Region": "us-west-2"}]
        )
    sm.create_secret(Name="prod/api/invoice-key", SecretString="v")  # no replica
    run = cli("check", "prod", "--json")
    assert run.code == 1
    bad = [s for s in run.json()["secrets"] if s["status"] != "ok"]
    assert [(s["key"], s["status"]) for s in bad] == [("api/invoice-key", "replica_drift")]
    assert bad[0]["replica_drift"]["missing"] == ["us-west-2"]


def test_bad_input(cli, config, aws_env) -> None:
    assert cli("check", "prdo").code == 2
    assert cli("check", "Prod").code == 2
    unknown = cli("check", "staging", "--function", "nope")
    assert unknown.code == 3 and "checkout" in unknown.stderr
    write_config(aws_env, "[environments.staging]\n")
    none = cli("check", "staging")
    assert none.code == 2 and "no functions" in none.stderr


# Replicas listed in DescribeSecret but holding no usable copy. moto makes a Failed one for real
# (a secret of that name already in the region); it reports a new replica InSync at once where
# AWS says InProgress for a while, so that answer is scripted through the fault proxy, as is a
# replica without a Status (every member of AWS's ReplicationStatusType is optional).
UNSYNCED_CONFIG = """
[environments.prod]
region = "us-east-1"
replica_regions = ["ap-south-1", "eu-west-1", "us-west-2"]

[functions.checkout]
secrets = ["api/key"]
"""


def _epoch(value: object) -> float:
    assert isinstance(value, datetime)
    return value.timestamp()


def test_each_replica_not_in_sync_is_named_with_its_status_and_message(
    cli, aws_env, sm, proxy
) -> None:
    """Replicas in exactly the regions secrets.toml lists are still drift when they are not
    InSync: JSON and text name each such region with AWS's status and message, and say
    "unknown status" where AWS gave none."""
    write_config(aws_env, UNSYNCED_CONFIG)
    aws_client("secretsmanager", "us-west-2").create_secret(
        Name="prod/api/key", SecretString="someone-elses-value"
    )
    sm.create_secret(
        Name="prod/api/key", SecretString="v", AddReplicaRegions=[{"Region": "us-west-2"}]
    )
    described = sm.describe_secret(SecretId="prod/api/key")
    described.pop("ResponseMetadata")
    (failed,) = described["ReplicationStatus"]
    assert failed["Status"] == "Failed" and failed["StatusMessage"]
    described["ReplicationStatus"] = [
        failed,
        {"Region": "eu-west-1", "Status": "InProgress"},
        {"Region": "ap-south-1"},
    ]
    proxy.answer("secretsmanager.DescribeSecret", json.dumps(described, default=_epoch).encode())

    run = cli("check", "prod", "--json")
    assert run.code == 1, run.stderr
    (item,) = run.json()["secrets"]
    assert item["status"] == "replica_drift"
    drift = item["replica_drift"]
    assert drift["missing"] == ["ap-south-1", "eu-west-1", "us-west-2"]
    assert drift["extra"] == []
    assert drift["unhealthy"] == [
        {"region": "ap-south-1", "status": None, "message": None},
        {"region": "eu-west-1", "status": "InProgress", "message": None},
        {"region": "us-west-2", "status": "Failed", "message": failed["StatusMessage"]},
    ]

    text = cli("check", "prod")
    assert text.code == 1, text.stderr
    (line,) = [row for row in text.stdout.splitlines() if row.startswith("prod/api/key\t")]
    assert line.endswith(
        "not in sync: ap-south-1 unknown status; eu-west-1 InProgress; "
        f"us-west-2 Failed: {failed['StatusMessage']}"
    )
