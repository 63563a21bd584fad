"""`secrets copy`: one secret or a prefix, exact values, plan, conflicts, protection."""

from __future__ import annotations

import json

import pytest

from tests.conftest import aws_client, write_config

CONFIG = """
[environments.staging]
region = "us-east-1"
tags = { env = "staging" }

[environments.prod]
region = "us-east-1"
protected = true
tags = { env = "prod" }
"""

BINARY = bytes(range(256))
JSON_VALUE = json.dumps({"user": "app", "password": "pw", "nested": {"a": [1, 2]}}, indent=1)


@pytest.fixture
def staging(aws_env, sm):
    write_config(aws_env, CONFIG)
    sm.create_secret(
        Name="staging/api/stripe-key",
        SecretString="sk_test_1",
        Description="Stripe key",
        Tags=[
            {"Key": "team", "Value": "payments"},
            {"Key": "env", "Value": "staging"},
            {"Key": "envsecrets:rotated-by", "Value": "arn:aws:iam::123456789012:user/a"},
            # moto lets us set a reserved aws: tag; on AWS only CloudFormation can.
            {"Key": "aws:cloudformation:stack-name", "Value": "shop"},
        ],
    )
    sm.create_secret(Name="staging/api/creds", SecretString=JSON_VALUE)
    sm.create_secret(Name="staging/api/cert", SecretBinary=BINARY)
    sm.create_secret(Name="staging/db/password", SecretString="db-pw")
    return aws_env


def _value(sm, name: str):
    got = sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    return got.get("SecretBinary") or got["SecretString"]


def _versions(sm, name: str) -> int:
    return len(sm.list_secret_version_ids(SecretId=name)["Versions"])


def test_copy_one_secret_with_description_and_tags(cli, staging, sm) -> None:
    run = cli("copy", "staging/api/stripe-key", "prod/api/stripe-key", "--yes")
    assert run.code == 0, run.stderr
    assert _value(sm, "prod/api/stripe-key") == "sk_test_1"
    described = sm.describe_secret(SecretId="prod/api/stripe-key")
    assert described["Description"] == "Stripe key"
    tags = {t["Key"]: t["Value"] for t in described["Tags"]}
    # The source's own tags follow; the environment tag is the destination's; tags about the
    # source secret itself (reserved aws:, our envsecrets: records) stay behind.
    assert tags == {"team": "payments", "env": "prod"}
    assert "create" in run.stderr


def test_copy_to_an_environment_keeps_the_path(cli, staging, sm) -> None:
    run = cli("copy", "staging/db/password", "prod/", "--yes")
    assert run.code == 0, run.stderr
    assert _value(sm, "prod/db/password") == "db-pw"


def test_copy_prefix_json_and_binary_exactly(cli, staging, sm) -> None:
    run = cli("copy", "staging/api/", "prod/api/", "--yes", "--json")
    assert run.code == 0, run.stderr
    data = run.json()
    assert data["counts"]["create"] == 3
    assert {s["target"] for s in data["secrets"]} == {
        "prod/api/stripe-key",
        "prod/api/creds",
        "prod/api/cert",
    }
    assert all(s["done"] for s in data["secrets"])
    assert _value(sm, "prod/api/creds") == JSON_VALUE  # byte for byte, formatting kept
    assert _value(sm, "prod/api/cert") == BINARY
    assert "SecretString" not in sm.get_secret_value(SecretId="prod/api/cert")
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.describe_secret(SecretId="prod/db/password")  # outside the prefix


def test_whole_environment_and_rerun_is_unchanged(cli, staging, sm) -> None:
    assert cli("copy", "staging", "prod", "--yes").code == 0
    assert _value(sm, "prod/db/password") == "db-pw"
    again = cli("copy", "staging", "prod", "--json")  # nothing to write: no confirmation needed
    assert again.code == 0, again.stderr
    assert again.json()["counts"]["unchanged"] == 4
    assert _versions(sm, "prod/api/creds") == 1


def test_destination_kms_key_and_replicas(cli, aws_env, sm) -> None:
    key = aws_client("kms").create_key()["KeyMetadata"]["Arn"]
    write_config(
        aws_env,
        f"""
[environments.staging]
region = "us-east-1"

[environments.prod]
region = "us-east-1"
kms_key_id = "{key}"
replica_regions = ["us-west-2"]
""",
    )
    sm.create_secret(Name="staging/api/key", SecretString="v")
    run = cli("copy", "staging/api/key", "prod/api/key", "--yes")
    assert run.code == 0, run.stderr
    described = sm.describe_secret(SecretId="prod/api/key")
    assert described["KmsKeyId"] == key
    assert [r["Region"] for r in described["ReplicationStatus"]] == ["us-west-2"]
    assert "KmsKeyId" not in sm.describe_secret(SecretId="staging/api/key")


def test_conflict_without_overwrite_writes_nothing(cli, staging, sm, proxy) -> None:
    sm.create_secret(Name="prod/api/stripe-key", SecretString="sk_live_other")
    proxy.reset_counts()
    run = cli("copy", "staging/api/", "prod/api/", "--yes")
    assert run.code == 4
    assert "conflict" in run.stderr and "nothing was written" in run.stderr
    assert "prod/api/stripe-key" in run.stderr
    assert proxy.writes() == 0
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.describe_secret(SecretId="prod/api/cert")


def test_missing_only_leaves_differing_alone(cli, staging, sm) -> None:
    sm.create_secret(Name="prod/api/stripe-key", SecretString="sk_live_other")
    run = cli("copy", "staging/api/", "prod/api/", "--missing-only", "--yes", "--json")
    assert run.code == 0, run.stderr
    counts = run.json()["counts"]
    assert counts["create"] == 2 and counts["skip"] == 1
    assert _value(sm, "prod/api/stripe-key") == "sk_live_other"
    assert _value(sm, "prod/api/cert") == BINARY


def test_overwrite_puts_one_new_version(cli, staging, sm) -> None:
    sm.create_secret(Name="prod/api/stripe-key", SecretString="sk_live_other")
    run = cli("copy", "staging/api/stripe-key", "prod/api/stripe-key", "--overwrite", "--yes")
    assert run.code == 0, run.stderr
    assert _value(sm, "prod/api/stripe-key") == "sk_test_1"
    assert _versions(sm, "prod/api/stripe-key") == 2
    assert sm.describe_secret(SecretId="prod/api/stripe-key")["Description"] == "Stripe key"
    again = cli("copy", "staging/api/stripe-key", "prod/api/stripe-key", "--overwrite", "--yes")
    assert again.code == 0
    assert _versions(sm, "prod/api/stripe-key") == 2


def test_copy_survives_lost_replies_without_duplicates(cli, staging, sm, proxy) -> None:
    proxy.faults.lose_reply_rate = 0.5
    proxy.faults.lose_reply_actions = {"secretsmanager.CreateSecret"}
    run = cli("copy", "staging/api/", "prod/api/", "--yes")
    assert run.code == 0, run.stderr
    assert sum(proxy.injected.values()) > 0  # some replies were lost and retried
    for name in ("prod/api/stripe-key", "prod/api/creds", "prod/api/cert"):
        assert _versions(sm, name) == 1


def test_source_pending_deletion_is_skipped(cli, staging, sm) -> None:
    sm.delete_secret(SecretId="staging/db/password", RecoveryWindowInDays=7)
    run = cli("copy", "staging/", "prod/", "--yes", "--json")
    assert run.code == 0, run.stderr
    skipped = [s for s in run.json()["secrets"] if s["action"] == "skip"]
    assert [s["source"] for s in skipped] == ["staging/db/password"]
    assert "scheduled for deletion" in skipped[0]["reason"]


def test_destination_pending_deletion_is_a_conflict(cli, staging, sm) -> None:
    sm.create_secret(Name="prod/db/password", SecretString="old")
    sm.delete_secret(SecretId="prod/db/password", RecoveryWindowInDays=7)
    run = cli("copy", "staging/db/password", "prod/db/password", "--yes", "--overwrite")
    assert run.code == 4
    assert "scheduled for deletion" in run.stderr and "secrets restore" in run.stderr


# -- bad input ------------------------------------------------------------------------------
def test_protected_destination_needs_yes(cli, staging, sm, proxy) -> None:
    proxy.reset_counts()
    run = cli("copy", "staging/api/", "prod/api/")
    assert run.code == 4
    assert "protected" in run.stderr and "--yes" in run.stderr
    assert proxy.writes() == 0


def test_copy_onto_itself(cli, staging) -> None:
    assert cli("copy", "staging/api/key", "staging/api/key").code == 2
    assert cli("copy", "staging/api/", "staging/api").code == 2
    assert cli("copy", "staging", "staging/").code == 2
    overlapping = cli("copy", "staging/api/", "staging/api/v2/")
    assert overlapping.code == 2 and "overlap" in overlapping.stderr


def test_flags_that_contradict(cli, staging) -> None:
    run = cli("copy", "staging/api/", "prod/api/", "--missing-only", "--overwrite", "--yes")
    assert run.code == 2


def test_unknown_environment_and_bad_names(cli, staging) -> None:
    assert cli("copy", "staging/api/", "prdo/api/", "--yes").code == 2
    assert cli("copy", "staging/api//x", "prod/api/x", "--yes").code == 2
    assert cli("copy", "staging/api/x", "prod/api/../x", "--yes").code == 2


def test_missing_source_is_not_found(cli, staging) -> None:
    run = cli("copy", "staging/api/nope", "prod/api/nope", "--yes")
    assert run.code == 3
    assert "staging/api/nope" in run.stderr


def test_empty_prefix_copies_nothing(cli, staging) -> None:
    run = cli("copy", "staging/nothing/", "prod/nothing/", "--yes")
    assert run.code == 0
    assert "no secrets under staging/nothing/" in run.stderr


def test_copy_between_regions(cli, aws_env) -> None:
    write_config(
        aws_env,
        """
[environments.staging]
region = "us-east-1"

[environments.prod]
region = "eu-west-1"
protected = false
""",
    )
    east = aws_client("secretsmanager", "us-east-1")
    west = aws_client("secretsmanager", "eu-west-1")
    east.create_secret(Name="staging/api/key", SecretBinary=BINARY)
    run = cli("copy", "staging/", "prod/")
    assert run.code == 0, run.stderr
    assert west.get_secret_value(SecretId="prod/api/key")["SecretBinary"] == BINARY
    with pytest.raises(east.exceptions.ResourceNotFoundException):
        east.describe_secret(SecretId="prod/api/key")


def test_copying_out_of_a_protected_environment_confirms(cli, aws_env, sm, proxy) -> None:
    """`copy prod dev/x/` copied 80 production values into an unprotected environment
    without a word: reading a protected environment's values into another one confirms like
    a write to it."""
    write_config(aws_env, CONFIG)
    for n in range(3):
        sm.create_secret(Name=f"prod/api/key-{n}", SecretString=f"prod-value-{n}")
    proxy.reset_counts()
    run = cli("copy", "prod/", "staging/x/")
    assert run.code == 4
    assert "protected environment 'prod'" in run.stderr and "--yes" in run.stderr
    assert proxy.writes() == 0
    one = cli("copy", "prod/api/key-0", "staging/api/key-0")
    assert one.code == 4
    assert cli("copy", "prod/", "staging/x/", "--yes").code == 0
    assert _value(sm, "staging/x/api/key-2") == "prod-value-2"
    # Within the protected environment, the write's own confirmation is the one asked.
    within = cli("copy", "prod/api/key-0", "prod/api/key-copy")
    assert within.code == 4 and "'prod' is a protected environment" in within.stderr
