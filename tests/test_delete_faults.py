"""`delete` under faults (findings items 8 and 9).

A DeleteSecret applied and its reply lost is retried by botocore; AWS refuses the retry ("You
can't perform this operation on the secret because it was marked for deletion", or not found
after a deletion without recovery). The deletion asked for happened: that is a success, not
exit 4 "scheduled for deletion, restore it".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

DELETE = "secretsmanager.DeleteSecret"


@pytest.mark.parametrize("force", [False, True], ids=["scheduled", "force-now"])
def test_a_deletion_whose_reply_was_lost_is_reported_done(
    cli: Any, aws_env: Path, sm: Any, proxy: Any, force: bool
) -> None:
    sm.create_secret(Name="dev/api/key", SecretString="v")
    if force:  # AWS answers a deletion of a secret deleted already so; the emulator, 200
        proxy.script(
            DELETE, "lose", "fail:ResourceNotFoundException:400:Secrets Manager can't find it"
        )
    else:
        proxy.lose_first(DELETE)
    run = cli("delete", "dev/api/key", "--yes", *(["--force-now"] if force else []))
    assert proxy.calls[DELETE] == 2  # applied with its reply lost, then the retry's refusal
    assert run.code == 0, run.stderr
    assert "error:" not in run.stderr
    if force:
        assert "dev/api/key: deleted" in run.stdout + run.stderr
    else:
        said = run.stdout + run.stderr
        assert "scheduled for deletion on 20" in said  # a date, never "-"
        assert sm.describe_secret(SecretId="dev/api/key").get("DeletedDate") is not None


def test_a_secret_scheduled_before_is_still_refused(
    cli: Any, aws_env: Path, sm: Any, proxy: Any
) -> None:
    sm.create_secret(Name="dev/api/key", SecretString="v")
    sm.delete_secret(SecretId="dev/api/key", RecoveryWindowInDays=7)
    run = cli("delete", "dev/api/key", "--yes")
    assert run.code == 4, run.stderr
    assert "scheduled for deletion" in run.stderr


def test_a_refused_deletion_after_the_replicas_went_says_how_to_put_them_back(
    cli: Any, aws_env: Path, sm: Any, proxy: Any
) -> None:
    """AWS has no dry run for DeleteSecret: the replicas must go first, and the deletion may
    still be refused (here: denied). The error says they are gone and how to restore each."""
    sm.create_secret(
        Name="dev/api/key",
        SecretString="v",
        AddReplicaRegions=[{"Region": "us-west-2"}, {"Region": "eu-west-1"}],
    )
    proxy.deny(DELETE)
    run = cli("delete", "dev/api/key", "--yes")
    assert run.code == 5, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "replicas in eu-west-1, us-west-2 were removed" in errors[0]
    for region in ("eu-west-1", "us-west-2"):
        assert f"`secrets replicate dev/api/key --region {region}`" in run.stderr
    assert not sm.describe_secret(SecretId="dev/api/key").get("ReplicationStatus")
