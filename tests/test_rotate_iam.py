"""`--target iam-user:USER` against the emulator's IAM and STS APIs (issue 13).

Which key signed STS GetCallerIdentity is read from the fault proxy's record of the request
(SigV4's `Credential=`). Where moto differs from AWS's documentation (botocore's iam and sts
service-2.json), the test says so:

- moto's STS answers GetCallerIdentity for any key, inactive or unknown (as a user named
  "moto"); AWS refuses an inactive or unknown key (InvalidClientTokenId), and a new key for a
  few seconds while IAM spreads it. That refusal is scripted through the proxy.
"""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import aws_client, write_config
from tests.faultproxy import SIGNED_BY
from tests.leaks import assert_no_leak, run_watched
from tests.test_rotate import holder, make, stages, value_of

STS = "sts.GetCallerIdentity"
CREATE_KEY = "iam.CreateAccessKey"
PUT = "secretsmanager.PutSecretValue"
USER = "deployer-dev"


def make_user(keys: int = 1) -> list[dict[str, Any]]:
    iam = aws_client("iam")
    iam.create_user(UserName=USER)
    return [iam.create_access_key(UserName=USER)["AccessKey"] for _ in range(keys)]


def key_secret(sm: Any, name: str, key: dict[str, Any], **extra: str) -> str:
    document = {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}
    return make(sm, name, json.dumps({**document, **extra}))


def user_keys() -> dict[str, str]:
    listed = aws_client("iam").list_access_keys(UserName=USER)["AccessKeyMetadata"]
    return {key["AccessKeyId"]: key["Status"] for key in listed}


def held(sm: Any, name: str, stage: str = "AWSCURRENT") -> dict[str, str]:
    return dict(json.loads(value_of(sm, name, stage)))


def test_new_key_active_old_inactive_and_sts_accepted_the_new_one(cli, sm, proxy) -> None:
    [old_key] = make_user()
    old = key_secret(sm, "dev/ci/deploy-key", old_key, region="eu-west-1")
    proxy.record(STS)
    run = cli("rotate", "dev/ci/deploy-key", "--target", f"iam-user:{USER}", "--json")
    assert run.code == 0, run.stderr
    now = held(sm, "dev/ci/deploy-key")
    new_id = now["AccessKeyId"]
    assert new_id != old_key["AccessKeyId"]
    assert now["region"] == "eu-west-1"  # other keys of the JSON object are kept
    assert user_keys() == {old_key["AccessKeyId"]: "Inactive", new_id: "Active"}
    assert holder(sm, "dev/ci/deploy-key", "AWSPREVIOUS") == old
    assert held(sm, "dev/ci/deploy-key", "AWSPREVIOUS")["AccessKeyId"] == old_key["AccessKeyId"]
    # STS was called signed with the NEW key (and only it proved the key).
    signers = [request[SIGNED_BY] for request in proxy.requests(STS)]
    assert new_id in signers
    assert run.json()["applied_to"] == f"iam-user:{USER}"
    assert_no_leak(run, now["SecretAccessKey"])
    assert_no_leak(run, old_key["SecretAccessKey"])


def test_plan_is_shown_and_the_key_is_made_only_after_confirmation(cli, sm, proxy, aws_env) -> None:
    write_config(aws_env, "[environments.prod]\nprotected = true\n")
    iam = aws_client("iam")
    iam.create_user(UserName="deployer")
    key = iam.create_access_key(UserName="deployer")["AccessKey"]
    key_secret(sm, "prod/ci/deploy-key", key)
    proxy.reset_counts()
    run = cli("rotate", "prod/ci/deploy-key", "--target", "iam-user:deployer")
    assert run.code == 4  # a protected environment, no terminal, no --yes
    assert "a new access key, made by IAM (CreateAccessKey) after you confirm" in run.stderr
    assert "deactivate the old key" in run.stderr
    assert proxy.calls[CREATE_KEY] == 0 and proxy.calls[PUT] == 0


def test_delete_old_deletes_the_old_key(cli, sm) -> None:
    [old_key] = make_user()
    key_secret(sm, "dev/ci/deploy-key", old_key)
    run = cli("rotate", "dev/ci/deploy-key", "--target", f"iam-user:{USER}", "--delete-old")
    assert run.code == 0, run.stderr
    assert user_keys() == {held(sm, "dev/ci/deploy-key")["AccessKeyId"]: "Active"}
    assert "deleted access key" in run.stderr


def test_the_next_rotation_deletes_the_inactive_old_key(cli, sm) -> None:
    [first] = make_user()
    key_secret(sm, "dev/ci/deploy-key", first)
    assert cli("rotate", "dev/ci/deploy-key", "--target", f"iam-user:{USER}").code == 0
    second = held(sm, "dev/ci/deploy-key")["AccessKeyId"]
    run = cli("rotate", "dev/ci/deploy-key", "--target", f"iam-user:{USER}")
    assert run.code == 0, run.stderr
    assert f"delete the inactive key {first['AccessKeyId']}" in run.stderr
    third = held(sm, "dev/ci/deploy-key")["AccessKeyId"]
    assert user_keys() == {second: "Inactive", third: "Active"}


def test_a_user_with_two_active_keys_is_refused_with_nothing_changed(cli, sm, proxy) -> None:
    mine, other = make_user(keys=2)
    old = key_secret(sm, "dev/ci/deploy-key", mine)
    proxy.reset_counts()
    run = cli("rotate", "dev/ci/deploy-key", "--target", f"iam-user:{USER}")
    assert run.code == 4
    assert f"{other['AccessKeyId']} (not dev/ci/deploy-key's) is active" in run.stderr
    assert "aws iam update-access-key" in run.stderr
    assert proxy.writes() == 0
    assert user_keys() == {mine["AccessKeyId"]: "Active", other["AccessKeyId"]: "Active"}
    assert stages(sm, "dev/ci/deploy-key") == {old: ["AWSCURRENT"]}


def test_rollback_restores_the_old_key(cli, sm, proxy) -> None:
    [old_key] = make_user()
    old = key_secret(sm, "dev/ci/deploy-key", old_key)
    assert cli("rotate", "dev/ci/deploy-key", "--target", f"iam-user:{USER}").code == 0
    new = holder(sm, "dev/ci/deploy-key", "AWSCURRENT")
    new_id = held(sm, "dev/ci/deploy-key")["AccessKeyId"]
    proxy.record(STS)
    run = cli("rotate", "dev/ci/deploy-key", "--rollback", "--target", f"iam-user:{USER}",
              "--json")  # fmt: skip
    assert run.code == 0, run.stderr
    assert holder(sm, "dev/ci/deploy-key", "AWSCURRENT") == old
    assert holder(sm, "dev/ci/deploy-key", "AWSPREVIOUS") == new
    assert user_keys() == {old_key["AccessKeyId"]: "Active", new_id: "Inactive"}
    # The reactivated key was proved with STS before AWSCURRENT moved back to it.
    assert [r[SIGNED_BY] for r in proxy.requests(STS)] == [old_key["AccessKeyId"]]
    assert run.json()["applied_to"] == f"iam-user:{USER}"


def test_a_rollback_whose_key_cannot_be_deactivated_is_done_and_says_so(cli, sm, proxy) -> None:
    """The rollback moved AWSCURRENT back and the old key works again; the rolled-back key
    stays active because IAM refused to deactivate it: reported (cleanup_error), not hidden."""
    [old_key] = make_user()
    old = key_secret(sm, "dev/ci/deploy-key", old_key)
    assert cli("rotate", "dev/ci/deploy-key", "--target", f"iam-user:{USER}").code == 0
    new_id = held(sm, "dev/ci/deploy-key")["AccessKeyId"]
    # The first UpdateAccessKey reactivates the old key; the second would deactivate the new.
    proxy.script("iam.UpdateAccessKey", "forward", "fail:AccessDenied")
    run = cli("rotate", "dev/ci/deploy-key", "--rollback", "--target", f"iam-user:{USER}",
              "--json")  # fmt: skip
    assert run.code == 0, run.stderr
    assert holder(sm, "dev/ci/deploy-key", "AWSCURRENT") == old
    assert user_keys() == {old_key["AccessKeyId"]: "Active", new_id: "Active"}
    row = run.json()
    assert row["action"] == "rolled back" and row["version_id"] == old
    assert "access denied to UpdateAccessKey" in row["cleanup_error"]


def test_rollback_to_a_deleted_key_is_refused_with_nothing_changed(cli, sm, proxy) -> None:
    [old_key] = make_user()
    key_secret(sm, "dev/ci/deploy-key", old_key)
    assert cli("rotate", "dev/ci/deploy-key", "--target", f"iam-user:{USER}",
               "--delete-old").code == 0  # fmt: skip
    new = holder(sm, "dev/ci/deploy-key", "AWSCURRENT")
    proxy.reset_counts()
    run = cli("rotate", "dev/ci/deploy-key", "--rollback", "--target", f"iam-user:{USER}")
    assert run.code == 4
    assert "is no longer a key of IAM user" in run.stderr
    assert "nothing was rolled back" in run.stderr
    assert holder(sm, "dev/ci/deploy-key", "AWSCURRENT") == new
    assert proxy.writes() == 0


def test_sts_is_retried_while_iam_spreads_the_new_key(cli, sm, proxy) -> None:
    """AWS refuses a brand-new key for a few seconds (scripted: moto accepts it at once)."""
    [old_key] = make_user()
    key_secret(sm, "dev/ci/deploy-key", old_key)
    proxy.script(STS, "forward", "fail:InvalidClientTokenId", "fail:InvalidClientTokenId")
    proxy.reset_counts()
    run = cli("rotate", "dev/ci/deploy-key", "--target", f"iam-user:{USER}")
    assert run.code == 0, run.stderr
    # One for the record's caller identity, three for the new key (two refused).
    assert proxy.calls[STS] == 4
    assert "STS accepted access key" in run.stderr


def test_a_key_sts_never_accepts_stops_before_promotion_and_cancel_deletes_it(
    cli, sm, proxy
) -> None:
    [old_key] = make_user()
    old = key_secret(sm, "dev/ci/deploy-key", old_key)
    proxy.script(STS, "forward", *["fail:InvalidClientTokenId"] * 30)
    run = cli("rotate", "dev/ci/deploy-key", "--target", f"iam-user:{USER}",
              "--apply-timeout", "2")  # fmt: skip
    assert run.code == 5
    assert "STS did not accept access key" in run.stderr
    assert "keeps its current key" in run.stderr
    assert holder(sm, "dev/ci/deploy-key", "AWSCURRENT") == old
    pending_id = held(sm, "dev/ci/deploy-key", "AWSPENDING")["AccessKeyId"]
    assert user_keys() == {old_key["AccessKeyId"]: "Active", pending_id: "Active"}
    proxy.scripted.clear()
    cancel = cli("rotate", "dev/ci/deploy-key", "--cancel", "--target", f"iam-user:{USER}")
    assert cancel.code == 0, cancel.stderr
    assert user_keys() == {old_key["AccessKeyId"]: "Active"}
    assert stages(sm, "dev/ci/deploy-key") == {old: ["AWSCURRENT"]}


def test_a_bulk_rotation_names_sts_s_refusal_as_the_test_step(cli, sm, proxy, aws_env) -> None:
    """In a bulk rotation, a new key STS never accepts fails the test step (the built-in
    check between apply and promotion): the failure row says so, and the key is pending."""
    [old_key] = make_user()
    old = key_secret(sm, "dev/ci/deploy-key", old_key)
    write_config(
        aws_env,
        "[environments.dev]\n\n[rotation]\n"
        f'"ci/deploy-key" = {{ target = "iam-user:{USER}", apply_timeout = 2 }}\n',
    )
    proxy.script(STS, "forward", *["fail:InvalidClientTokenId"] * 30)
    run = cli("rotate", "--env", "dev", "--older-than", "0", "--yes", "--json")
    assert run.code == 1, run.stderr
    [failure] = run.json()["failed"]
    assert failure["name"] == "dev/ci/deploy-key"
    assert failure["step"] == "test" and failure["state"] == "pending"
    assert "STS did not accept access key" in failure["error"]["message"]
    assert holder(sm, "dev/ci/deploy-key", "AWSCURRENT") == old


def test_resume_proves_the_staged_key_then_promotes(cli, sm, proxy) -> None:
    [old_key] = make_user()
    old = key_secret(sm, "dev/ci/deploy-key", old_key)
    assert cli("rotate", "dev/ci/deploy-key", "--target", f"iam-user:{USER}",
               "--verify-cmd", "false").code == 1  # fmt: skip
    pending = holder(sm, "dev/ci/deploy-key", "AWSPENDING")
    pending_id = held(sm, "dev/ci/deploy-key", "AWSPENDING")["AccessKeyId"]
    proxy.record(STS)
    run = cli("rotate", "dev/ci/deploy-key", "--resume", "--target", f"iam-user:{USER}")
    assert run.code == 0, run.stderr
    assert pending_id in [r[SIGNED_BY] for r in proxy.requests(STS)]
    assert stages(sm, "dev/ci/deploy-key") == {str(pending): ["AWSCURRENT"], old: ["AWSPREVIOUS"]}
    assert user_keys() == {old_key["AccessKeyId"]: "Inactive", pending_id: "Active"}


def test_a_secret_that_is_not_the_users_key_is_refused(cli, sm, proxy) -> None:
    make_user()
    iam = aws_client("iam")
    iam.create_user(UserName="someone-else")
    theirs = iam.create_access_key(UserName="someone-else")["AccessKey"]
    key_secret(sm, "dev/ci/deploy-key", theirs)
    proxy.reset_counts()
    run = cli("rotate", "dev/ci/deploy-key", "--target", f"iam-user:{USER}")
    assert run.code == 4
    assert f"is not a key of IAM user {USER}" in run.stderr
    assert proxy.writes() == 0
    make(sm, "dev/ci/plain", "not-a-key")
    plain = cli("rotate", "dev/ci/plain", "--target", f"iam-user:{USER}")
    assert plain.code == 2
    assert "does not hold an access key" in plain.stderr


def test_a_user_that_does_not_exist_is_not_found(cli, sm, proxy) -> None:
    key_secret(sm, "dev/ci/deploy-key", {"AccessKeyId": "AKIAEXAMPLE", "SecretAccessKey": "x"})
    proxy.reset_counts()
    run = cli("rotate", "dev/ci/deploy-key", "--target", f"iam-user:{USER}")
    assert run.code == 3
    assert f"IAM user '{USER}' not found" in run.stderr
    assert proxy.writes() == 0


def test_value_flags_do_not_apply_to_an_iam_target(cli, proxy) -> None:
    for flag in (["--generate"], ["--stdin"], ["--field", "AccessKeyId", "--stdin"]):
        run = cli("rotate", "dev/ci/deploy-key", "--target", f"iam-user:{USER}", *flag, input="x")
        assert run.code == 2, run.stderr
        assert "takes its new value from IAM (CreateAccessKey)" in run.stderr
    assert proxy.count() == 0


def test_the_new_secret_key_reaches_no_argv_and_no_output(sm, proxy) -> None:
    [old_key] = make_user()
    key_secret(sm, "dev/ci/deploy-key", old_key)
    proxy.faults.latency = 0.05  # long enough for the watcher to sample every process
    # The new secret is unknown in advance: watch for the old one (in every run) and check
    # the new one in what was printed afterwards.
    run = run_watched(
        ["rotate", "dev/ci/deploy-key", "--target", f"iam-user:{USER}", "--verify-cmd", "cat"],
        old_key["SecretAccessKey"],
    )
    assert run.code == 0, run.stderr
    new_secret = held(sm, "dev/ci/deploy-key")["SecretAccessKey"]
    assert_no_leak(run, new_secret)
    assert_no_leak(run, old_key["SecretAccessKey"])


def test_a_lost_create_reply_names_the_key_nobody_holds(cli, sm, proxy) -> None:
    """CreateAccessKey went through but its reply was lost; the SDK's retry meets IAM's
    two-key quota. Nothing is staged, and the hint names the key to delete."""
    [old_key] = make_user()
    old = key_secret(sm, "dev/ci/deploy-key", old_key)
    proxy.lose_first(CREATE_KEY)
    run = cli("rotate", "dev/ci/deploy-key", "--target", f"iam-user:{USER}")
    assert run.code != 0
    orphan = next(k for k in user_keys() if k != old_key["AccessKeyId"])
    assert f"has a key that nothing holds the secret of ({orphan}" in run.stderr
    assert "aws iam delete-access-key" in run.stderr
    assert stages(sm, "dev/ci/deploy-key") == {old: ["AWSCURRENT"]}
    assert proxy.calls[PUT] == 0


def test_a_key_that_cannot_be_staged_is_deleted_again_and_the_hint_says_so(cli, sm, proxy) -> None:
    """The new key is made before it is staged: when staging is refused, the key is deleted
    again (the user keeps one key), and the hint says so before AWS's own advice; nothing is
    pending. When it cannot be deleted either, the hint gives the command that deletes it."""
    [old_key] = make_user()
    old = key_secret(sm, "dev/ci/deploy-key", old_key)
    proxy.deny("secretsmanager.PutSecretValue")
    run = cli("rotate", "dev/ci/deploy-key", "--target", f"iam-user:{USER}", "--json")
    assert run.code == 5, run.stderr  # access denied
    error = json.loads(run.stderr)["error"]
    assert error["hint"].startswith("the new access key ")
    assert " was deleted again; " in error["hint"]
    assert user_keys() == {old_key["AccessKeyId"]: "Active"}
    assert stages(sm, "dev/ci/deploy-key") == {old: ["AWSCURRENT"]}
    proxy.deny("iam.DeleteAccessKey")
    run = cli("rotate", "dev/ci/deploy-key", "--target", f"iam-user:{USER}", "--json")
    hint = json.loads(run.stderr)["error"]["hint"]
    [made] = [k for k in user_keys() if k != old_key["AccessKeyId"]]
    assert hint.startswith(
        f"the new access key {made} could not be deleted: once `secrets history "
        f"dev/ci/deploy-key` shows no pending version, delete it (`aws iam delete-access-key "
        f"--user-name {USER} --access-key-id {made}`); "
    )
