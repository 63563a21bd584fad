"""Every write ends with AWSCURRENT where the command says it is (issue 15, items 1 and 12).

AWS documents that PutSecretValue with a ClientRequestToken equal to an existing version's id
and the same data "succeeds but does nothing". Our tokens come from the name, the value and the
version replaced, so setting B again after a rollback (back to A) reuses the first write's token:
AWSCURRENT stayed on A while `set` said "updated". moto behaves as AWS documents here, so these
run against the emulator; the lost-reply cases script AWS's documented answers with the proxy.
`copy --overwrite` and `migrate --overwrite` write through the same `apply_set`; the copy is
tested with a scripted reply rather than after a rollback, because moto's BatchGetSecretValue
(its planning read) returns the version that was current before a label move.
"""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import write_config
from tests.test_rotate import holder, make, stages, value_of

UVS = "secretsmanager.UpdateSecretVersionStage"
PUT = "secretsmanager.PutSecretValue"


def set_then_roll_back(cli: Any, sm: Any, name: str) -> tuple[str, str]:
    """A at first, B set, rolled back to A: returns (A's version, B's version)."""
    first = make(sm, name, "A")
    assert cli("set", name, "--stdin", input="B").code == 0
    second = holder(sm, name, "AWSCURRENT")
    assert cli("rotate", name, "--rollback").code == 0
    assert value_of(sm, name) == "A"
    assert second is not None
    return first, second


def test_set_after_a_rollback_really_sets(cli, sm) -> None:
    first, second = set_then_roll_back(cli, sm, "dev/api/key")
    run = cli("set", "dev/api/key", "--stdin", "--json", input="B")
    assert run.code == 0, run.stderr
    assert run.json()["action"] == "updated"
    # AWS kept the first write's version (same token, same data): it is made current again.
    assert run.json()["version_id"] == second
    assert value_of(sm, "dev/api/key") == "B"
    assert stages(sm, "dev/api/key") == {second: ["AWSCURRENT"], first: ["AWSPREVIOUS"]}
    assert cli("get", "dev/api/key").stdout == "B"


def test_rotate_to_a_value_rolled_back_from(cli, sm) -> None:
    """The same token again for rotation: the staged version is the old one, and it must be
    AWSPENDING for `--resume` to find it after a failed verification."""
    first = make(sm, "dev/api/key", "A")
    assert cli("rotate", "dev/api/key", "--stdin", input="B").code == 0
    second = holder(sm, "dev/api/key", "AWSCURRENT")
    assert cli("rotate", "dev/api/key", "--rollback").code == 0
    failed = cli("rotate", "dev/api/key", "--stdin", "--verify-cmd", "false", input="B")
    assert failed.code == 1, failed.stderr
    assert holder(sm, "dev/api/key", "AWSPENDING") == second
    assert f"waits as AWSPENDING (version {second})" in failed.stderr
    run = cli("rotate", "dev/api/key", "--resume", "--verify-cmd", "grep -qx B")
    assert run.code == 0, run.stderr
    assert value_of(sm, "dev/api/key") == "B"
    assert stages(sm, "dev/api/key") == {second: ["AWSCURRENT"], first: ["AWSPREVIOUS"]}


def test_a_no_op_write_over_a_newer_value_is_refused(cli, sm, proxy) -> None:
    """If AWS kept the label elsewhere and AWSCURRENT is on neither the version written nor
    the one read, someone else wrote meanwhile: refuse (exit 4) rather than move it back.

    Scripted with the proxy (moto's PutSecretValue trusts a stale "default version" after a
    label move): `set` reads C as current; as its write arrives, another writer makes A
    current; AWS answers the write as it answers a known token (B's version, labels as they
    are, nothing done)."""
    first = make(sm, "dev/api/key", "A")
    second = str(sm.put_secret_value(SecretId="dev/api/key", SecretString="B")["VersionId"])
    third = str(sm.put_secret_value(SecretId="dev/api/key", SecretString="C")["VersionId"])
    proxy.answer(
        PUT,
        json.dumps({"ARN": "arn", "Name": "dev/api/key", "VersionId": second}).encode(),
    )
    decide = proxy.decide

    def another_writer_first(action: str) -> str:
        if action == PUT:
            sm.update_secret_version_stage(
                SecretId="dev/api/key", VersionStage="AWSCURRENT", MoveToVersionId=first,
                RemoveFromVersionId=third,
            )  # fmt: skip
        return decide(action)

    proxy.decide = another_writer_first
    run = cli("set", "dev/api/key", "--stdin", input="B")
    assert run.code == 4, run.stderr
    assert f"version {first} is AWSCURRENT now, not version {third}" in run.stderr
    assert "updated" not in run.stderr
    assert holder(sm, "dev/api/key", "AWSCURRENT") == first
    assert proxy.calls[UVS] == 0


def test_label_move_retried_after_a_lost_reply_accepts_not_found(cli, sm, proxy) -> None:
    """A lost reply to the removal of AWSPENDING, retried by botocore, meets AWS's
    ResourceNotFoundException (the label is gone already): the labels show it done."""
    old = make(sm, "dev/api/key", "v1")
    proxy.script(UVS, "forward", "lose", "fail:ResourceNotFoundException")
    run = cli("rotate", "dev/api/key", "--stdin", input="v2")
    assert run.code == 0, run.stderr
    new = holder(sm, "dev/api/key", "AWSCURRENT")
    assert stages(sm, "dev/api/key") == {new: ["AWSCURRENT"], old: ["AWSPREVIOUS"]}
    assert proxy.calls[UVS] == 3


def test_promotion_retried_after_a_lost_reply_accepts_not_found(cli, sm, proxy) -> None:
    old = make(sm, "dev/api/key", "v1")
    proxy.script(UVS, "lose", "fail:ResourceNotFoundException")
    run = cli("rotate", "dev/api/key", "--stdin", input="v2")
    assert run.code == 0, run.stderr
    new = holder(sm, "dev/api/key", "AWSCURRENT")
    assert new != old
    assert stages(sm, "dev/api/key") == {new: ["AWSCURRENT"], old: ["AWSPREVIOUS"]}


def test_not_found_is_not_success_when_the_labels_disagree(cli, sm, proxy) -> None:
    old = make(sm, "dev/api/key", "v1")
    proxy.script(UVS, "fail:ResourceNotFoundException")
    run = cli("rotate", "dev/api/key", "--stdin", input="v2")
    assert run.code == 3, run.stderr
    assert holder(sm, "dev/api/key", "AWSCURRENT") == old
    assert "AWSCURRENT is unchanged" in run.stderr


def test_copy_overwrite_that_aws_did_not_carry_out_is_completed(cli, sm, proxy, aws_env) -> None:
    """`copy --overwrite` writes through the same path: AWS's "succeeds but does nothing"
    answer (scripted: the token of an existing version with the same data) is seen, and the
    label moved, rather than reported as copied while readers still get the old value."""
    write_config(aws_env, "[environments.dev]\n[environments.staging]\n")
    sm.create_secret(Name="staging/api/key", SecretString="B")
    make(sm, "dev/api/key", "A")
    second = str(sm.put_secret_value(SecretId="dev/api/key", SecretString="B")["VersionId"])
    third = str(sm.put_secret_value(SecretId="dev/api/key", SecretString="C")["VersionId"])
    proxy.answer(
        PUT,
        json.dumps(
            {"ARN": "arn", "Name": "dev/api/key", "VersionId": second, "VersionStages": []}
        ).encode(),
    )
    run = cli("copy", "staging/api/key", "dev/api/key", "--overwrite", "--yes")
    assert run.code == 0, run.stderr
    assert value_of(sm, "dev/api/key") == "B"
    assert stages(sm, "dev/api/key") == {second: ["AWSCURRENT"], third: ["AWSPREVIOUS"]}
