"""Deleting a replicated secret, and what "scheduled for deletion" is decided from.

AWS: "You can't delete a primary secret that is replicated to other Regions. You must first
delete the replicas using RemoveRegionsFromReplication" (moto refuses the same way). And
InvalidRequestException means "a parameter value is not valid for the current state of the
resource", of which being scheduled for deletion is one case among several: the secret's
state tells which, not a word in AWS's message.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import aws_client

NAME = "dev/api/key"
DELETE = "secretsmanager.DeleteSecret"
REMOVE = "secretsmanager.RemoveRegionsFromReplication"


@pytest.fixture
def replicated(sm: Any) -> str:
    sm.create_secret(
        Name=NAME,
        SecretString="v",
        AddReplicaRegions=[{"Region": "us-west-2"}, {"Region": "eu-west-1"}],
    )
    return NAME


def test_without_a_terminal_it_says_how_and_changes_nothing(cli, replicated, sm, proxy) -> None:
    proxy.reset_counts()
    run = cli("delete", replicated)
    assert run.code == 4, run.stderr
    assert run.stderr.count("error:") == 1
    assert "replicated to eu-west-1, us-west-2" in run.stderr
    assert f"secrets replicate {NAME} --region REGION --remove" in run.stderr
    assert proxy.writes() == 0
    assert "DeletedDate" not in sm.describe_secret(SecretId=NAME)


def test_with_yes_the_replicas_go_first_then_the_deletion_is_scheduled(
    cli, replicated, sm, proxy
) -> None:
    proxy.reset_counts()
    run = cli("delete", replicated, "--yes", "--json")
    assert run.code == 0, run.stderr
    out = run.json()
    assert out["replicas_removed"] == ["eu-west-1", "us-west-2"]
    assert out["recoverable"] is True
    described = sm.describe_secret(SecretId=NAME)
    assert "DeletedDate" in described and not described.get("ReplicationStatus")
    assert aws_client("secretsmanager", "us-west-2").list_secrets()["SecretList"] == []
    assert proxy.calls[REMOVE] == 1 and proxy.calls[DELETE] == 1


def test_force_now_asks_once_and_removes_the_replicas(cli, replicated, sm) -> None:
    refused = cli("delete", replicated, "--force-now")
    assert refused.code == 4
    run = cli("delete", replicated, "--force-now", "--yes")
    assert run.code == 0, run.stderr
    assert sm.list_secrets(IncludePlannedDeletion=True)["SecretList"] == []


def test_scheduled_for_deletion_is_read_from_the_state_not_the_message(cli, sm, proxy) -> None:
    """A secret scheduled for deletion, whose refusal does not mention deletion at all."""
    sm.create_secret(Name=NAME, SecretString="v")
    sm.delete_secret(SecretId=NAME, RecoveryWindowInDays=7)
    proxy.script(
        "secretsmanager.GetSecretValue",
        "fail:InvalidRequestException:400:The request is not valid for the current state.",
    )
    run = cli("get", NAME)
    assert run.code == 4, run.stderr
    assert "scheduled for deletion" in run.stderr
    assert f"secrets restore {NAME}" in run.stderr


def test_a_live_secret_refused_with_a_message_about_deleting_is_not_called_deleted(
    cli, sm, proxy
) -> None:
    sm.create_secret(Name=NAME, SecretString="v")
    proxy.script(
        "secretsmanager.GetSecretValue",
        "fail:InvalidRequestException:400:You can't delete a primary secret that is "
        "replicated to other Regions.",
    )
    run = cli("get", NAME)
    assert run.code == 4, run.stderr  # refused in its state (not a usage error)
    assert "scheduled for deletion" not in run.stderr
    assert "secrets restore" not in run.stderr
    assert "replicated to other Regions" in run.stderr
