"""`secrets rotate` for one secret: the phases, rollback, --field, --generate, the record,
--managed, and every Bad input case of issue 3.

Stage labels are read back with boto3 (`sm`) after each step, not only through our output.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from envsecrets.core.rotation import generating_store
from envsecrets.errors import CliError, ExitCode

from tests.conftest import write_config

CONFIG = "[environments.dev]\n[environments.prod]\nprotected = true\n"


def stages(sm: Any, name: str) -> dict[str, list[str]]:
    """Version id -> labels, only versions that still carry a label."""
    found = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    return {version: labels for version, labels in found.items() if labels}


def holder(sm: Any, name: str, stage: str) -> str | None:
    holders = [v for v, labels in stages(sm, name).items() if stage in labels]
    assert len(holders) <= 1, f"{stage} on {holders}"
    return holders[0] if holders else None


def value_of(sm: Any, name: str, stage: str = "AWSCURRENT") -> str:
    return str(sm.get_secret_value(SecretId=name, VersionStage=stage)["SecretString"])


def make(sm: Any, name: str, value: str) -> str:
    return str(sm.create_secret(Name=name, SecretString=value)["VersionId"])


def test_rotate_stages_then_promotes(cli, sm) -> None:
    old = make(sm, "dev/db/password", "old-password")
    run = cli("rotate", "dev/db/password", "--stdin", input="new-password\n")
    assert run.code == 0, run.stderr
    new = holder(sm, "dev/db/password", "AWSCURRENT")
    assert new != old
    assert holder(sm, "dev/db/password", "AWSPREVIOUS") == old
    assert holder(sm, "dev/db/password", "AWSPENDING") is None
    assert value_of(sm, "dev/db/password") == "new-password"
    assert value_of(sm, "dev/db/password", "AWSPREVIOUS") == "old-password"
    # Each phase is visible to the user, on stderr; the value nowhere.
    assert "1. stage the new value as AWSPENDING" in run.stderr
    assert f"staged version {new} as AWSPENDING" in run.stderr
    assert f"promoted version {new} to AWSCURRENT" in run.stderr
    assert "new-password" not in run.stdout + run.stderr


def test_rotation_record_tags_when_and_who(cli, sm) -> None:
    make(sm, "dev/api/key", "v1")
    run = cli("rotate", "dev/api/key", "--stdin", "--json", input="v2")
    assert run.code == 0, run.stderr
    out = run.json()
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId="dev/api/key")["Tags"]}
    # moto's STS answers GetCallerIdentity with its fixed user.
    assert tags["envsecrets:rotated-by"] == "arn:aws:sts::123456789012:user/moto"
    assert tags["envsecrets:rotated-at"].endswith("Z")
    assert out["rotated_by"] == tags["envsecrets:rotated-by"]
    assert out["rotated_at"] == tags["envsecrets:rotated-at"]
    assert out["action"] == "rotated"
    assert out["version_id"] == holder(sm, "dev/api/key", "AWSCURRENT")
    assert run.stderr == ""
    # `secrets show` reports the record.
    shown = cli("show", "dev/api/key", "--json").json()
    assert shown["rotated_by_hand_at"] == out["rotated_at"]
    assert shown["rotated_by_hand_by"] == out["rotated_by"]
    assert f"{out['rotated_at']} by {out['rotated_by']}" in cli("show", "dev/api/key").stdout


def test_pending_version_is_invisible_to_readers(cli, sm) -> None:
    make(sm, "dev/api/key", "old")
    run = cli("rotate", "dev/api/key", "--stdin", "--verify-cmd", "false", input="new")
    assert run.code == 1
    pending = holder(sm, "dev/api/key", "AWSPENDING")
    assert pending is not None
    assert holder(sm, "dev/api/key", "AWSCURRENT") != pending
    # A plain GetSecretValue (no stage) and `secrets get` still see the old value.
    assert sm.get_secret_value(SecretId="dev/api/key")["SecretString"] == "old"
    assert cli("get", "dev/api/key").stdout == "old"
    assert value_of(sm, "dev/api/key", "AWSPENDING") == "new"
    # `secrets show` reports the pending version.
    shown = cli("show", "dev/api/key", "--json").json()
    assert shown["pending_version_id"] == pending


def test_generate_uses_get_random_password_options(cli, sm) -> None:
    make(sm, "dev/db/password", "old")
    run = cli(
        "rotate",
        "dev/db/password",
        "--generate",
        "--length",
        "24",
        "--exclude-punctuation",
        "--exclude-characters",
        "abc",
    )
    assert run.code == 0, run.stderr
    new = value_of(sm, "dev/db/password")
    assert len(new) == 24
    assert new.isalnum()
    assert not set("abc") & set(new)
    assert new not in run.stdout + run.stderr


def test_generate_with_a_whole_class_excluded_switches_it_off(cli, sm) -> None:
    make(sm, "dev/pin", "0000")
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    run = cli(
        "rotate",
        "dev/pin",
        "--generate",
        "--length",
        "6",
        "--exclude-punctuation",
        "--exclude-characters",
        letters,
    )
    assert run.code == 0, run.stderr
    assert value_of(sm, "dev/pin").isdigit()


def test_field_rotation_keeps_other_keys(cli, sm) -> None:
    creds = {"username": "app", "password": "old", "host": "db.internal", "port": 5432}
    make(sm, "dev/db/creds", json.dumps(creds))
    run = cli("rotate", "dev/db/creds", "--field", "password", "--generate", "--length", "16")
    assert run.code == 0, run.stderr
    now = json.loads(value_of(sm, "dev/db/creds"))
    assert {k: v for k, v in now.items() if k != "password"} == {
        k: v for k, v in creds.items() if k != "password"
    }
    assert now["password"] != "old"
    assert len(now["password"]) == 16
    assert json.loads(value_of(sm, "dev/db/creds", "AWSPREVIOUS")) == creds


def test_generate_refuses_to_replace_a_json_object_whole(cli, sm) -> None:
    """Issue 18 item 14: --generate replaced a JSON object with one password, without a word."""
    creds = '{"host": "db", "password": "old"}'
    old = make(sm, "dev/db/creds", creds)
    run = cli("rotate", "dev/db/creds", "--generate")
    assert run.code == 2
    assert "holds a JSON object (host, password)" in run.stderr
    assert "--field KEY" in run.stderr and "--whole" in run.stderr
    assert stages(sm, "dev/db/creds") == {old: ["AWSCURRENT"]}
    # --whole says it on purpose.
    whole = cli("rotate", "dev/db/creds", "--generate", "--whole", "--json")
    assert whole.code == 0, whole.stderr
    assert value_of(sm, "dev/db/creds") != creds
    assert not value_of(sm, "dev/db/creds").startswith("{")


def test_generate_whole_needs_no_right_to_read_the_value(cli, sm, proxy) -> None:
    """`--generate --whole` replaces the value without looking at it: a role allowed to write
    the secret but not to read its value (GetSecretValue denied, e.g. no kms:Decrypt) rotates
    it, and the old value is never read."""
    make(sm, "dev/db/creds", '{"host": "db", "password": "old"}')
    proxy.deny("secretsmanager.GetSecretValue")
    run = cli("rotate", "dev/db/creds", "--generate", "--whole", "--json")
    assert run.code == 0, run.stderr
    assert proxy.calls["secretsmanager.GetSecretValue"] == 0
    assert not value_of(sm, "dev/db/creds").startswith("{")


def test_generate_over_a_json_object_names_its_keys_and_the_key_to_rotate(cli, sm) -> None:
    """The refusal names the first ten keys (sorted; "..." for more) and suggests --field with
    the first of them; an empty object suggests `--field password`."""
    for count in (10, 11):
        name = f"dev/db/wide{count}"
        make(sm, name, json.dumps({f"k{i:02d}": "v" for i in range(count)}))
        run = cli("rotate", name, "--generate", "--json")
        assert run.code == 2
        keys = ", ".join(f"k{i:02d}" for i in range(10)) + (", ..." if count > 10 else "")
        assert json.loads(run.stderr)["error"] == {
            "code": 2,
            "message": f"{name} holds a JSON object ({keys}): --generate would replace the "
            "whole object with one password",
            "hint": f"rotate one key with --field KEY (e.g. `secrets rotate {name} --field k00 "
            "--generate`), or add --whole to replace it all",
        }
    make(sm, "dev/db/empty", "{}")
    run = cli("rotate", "dev/db/empty", "--generate", "--json")
    assert run.code == 2
    assert (
        "(e.g. `secrets rotate dev/db/empty --field password --generate`)"
        in (json.loads(run.stderr)["error"]["hint"])
    )


def test_generate_refuses_to_replace_binary_data(cli, sm) -> None:
    old = str(sm.create_secret(Name="dev/tls/store", SecretBinary=b"\x00\x01keystore")["VersionId"])
    run = cli("rotate", "dev/tls/store", "--generate")
    assert run.code == 2
    assert "holds binary data (10 bytes)" in run.stderr
    assert (
        "error: dev/tls/store holds binary data (10 bytes): --generate would replace it with a "
        "text password" in run.stderr
    )
    assert (
        "hint: give the new data with --from-file, or add --whole to replace it with a "
        "password" in run.stderr
    )
    assert stages(sm, "dev/tls/store") == {old: ["AWSCURRENT"]}
    assert cli("rotate", "dev/tls/store", "--generate", "--whole").code == 0


def test_rollback_restores_the_old_value_and_says_which(cli, sm) -> None:
    old = make(sm, "dev/api/key", "v1")
    assert cli("rotate", "dev/api/key", "--stdin", input="v2").code == 0
    new = holder(sm, "dev/api/key", "AWSCURRENT")
    run = cli("rotate", "dev/api/key", "--rollback")
    assert run.code == 0, run.stderr
    assert f"version {old} is AWSCURRENT again" in run.stderr
    assert holder(sm, "dev/api/key", "AWSCURRENT") == old
    assert holder(sm, "dev/api/key", "AWSPREVIOUS") == new
    assert value_of(sm, "dev/api/key") == "v1"
    assert cli("get", "dev/api/key").stdout == "v1"
    # A second rollback is a no-op that says so (it re-promoted the rotated value: issue 18
    # item 14), in every output form, and writes nothing.
    before = stages(sm, "dev/api/key")
    again = cli("rotate", "dev/api/key", "--rollback", "--json")
    assert again.code == 0, again.stderr
    assert again.json()["action"] == "nothing to roll back"
    assert again.json()["version_id"] == old
    assert "already rolled back" in again.json()["reason"]
    assert "already rolled back" in cli("rotate", "dev/api/key", "--rollback").stderr
    assert stages(sm, "dev/api/key") == before
    assert value_of(sm, "dev/api/key") == "v1"


def test_rollback_after_a_new_write_rolls_that_write_back(cli, sm) -> None:
    """The rule: a rollback is done already only while AWSCURRENT and AWSPREVIOUS are the two
    versions the last rollback left; any write since moves AWSCURRENT."""
    old = make(sm, "dev/api/key", "v1")
    assert cli("rotate", "dev/api/key", "--stdin", input="v2").code == 0
    assert cli("rotate", "dev/api/key", "--rollback").code == 0
    assert cli("rotate", "dev/api/key", "--stdin", input="v3").code == 0
    newest = holder(sm, "dev/api/key", "AWSCURRENT")
    run = cli("rotate", "dev/api/key", "--rollback", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["action"] == "rolled back"
    assert holder(sm, "dev/api/key", "AWSCURRENT") == old
    assert holder(sm, "dev/api/key", "AWSPREVIOUS") == newest


def test_rollback_after_another_tool_moved_the_labels_back_rolls_that_back(cli, sm) -> None:
    """AWSCURRENT is the version the last rollback went to again, but AWSPREVIOUS is not the
    one it came from (another tool wrote, then moved AWSCURRENT back): not "already rolled
    back" - the rollback undoes that last move."""
    make(sm, "dev/api/key", "v1")
    assert cli("rotate", "dev/api/key", "--stdin", input="v2").code == 0
    assert cli("rotate", "dev/api/key", "--rollback").code == 0
    back_to = holder(sm, "dev/api/key", "AWSCURRENT")
    other = str(sm.put_secret_value(SecretId="dev/api/key", SecretString="v3")["VersionId"])
    sm.update_secret_version_stage(
        SecretId="dev/api/key",
        VersionStage="AWSCURRENT",
        MoveToVersionId=back_to,
        RemoveFromVersionId=other,
    )
    assert holder(sm, "dev/api/key", "AWSPREVIOUS") == other
    run = cli("rotate", "dev/api/key", "--rollback", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["action"] == "rolled back"
    assert holder(sm, "dev/api/key", "AWSCURRENT") == other
    assert value_of(sm, "dev/api/key") == "v3"


def test_rollback_without_its_record_warns(cli, sm, proxy) -> None:
    make(sm, "dev/api/key", "v1")
    assert cli("rotate", "dev/api/key", "--stdin", input="v2").code == 0
    proxy.deny("secretsmanager.TagResource")
    run = cli("rotate", "dev/api/key", "--rollback")
    assert run.code == 0, run.stderr
    assert "the rollback record was not written" in run.stderr
    assert value_of(sm, "dev/api/key") == "v1"


def test_rotate_refuses_while_pending_and_names_the_ways_out(cli, sm) -> None:
    make(sm, "dev/api/key", "v1")
    assert cli("rotate", "dev/api/key", "--stdin", "--verify-cmd", "false", input="v2").code == 1
    before = stages(sm, "dev/api/key")
    run = cli("rotate", "dev/api/key", "--generate")
    assert run.code == 4
    assert "pending version" in run.stderr
    for way in ("--resume", "--cancel", "--rollback"):
        assert way in run.stderr
    assert stages(sm, "dev/api/key") == before


def test_resume_and_cancel_with_nothing_pending_are_no_ops(cli, sm) -> None:
    old = make(sm, "dev/api/key", "v1")
    for flag in ("--resume", "--cancel"):
        run = cli("rotate", "dev/api/key", flag)
        assert run.code == 0, run.stderr
        assert "no pending version" in run.stderr
    assert stages(sm, "dev/api/key") == {old: ["AWSCURRENT"]}


def test_managed_without_a_lambda_is_a_clear_error(cli, sm, proxy) -> None:
    make(sm, "dev/api/key", "v1")
    before = stages(sm, "dev/api/key")
    proxy.reset_counts()
    run = cli("rotate", "dev/api/key", "--managed")
    assert run.code == 4
    assert "no rotation Lambda configured" in run.stderr
    assert run.stderr.count("error:") == 1
    # Refused before RotateSecret: moto would "rotate" without any Lambda (AWS refuses).
    assert proxy.calls["secretsmanager.RotateSecret"] == 0
    assert stages(sm, "dev/api/key") == before


def test_subprocess_rotate_and_rollback(secrets_cmd, sm) -> None:
    old = make(sm, "dev/api/key", "v1")
    run = secrets_cmd(["rotate", "dev/api/key", "--generate", "--json"])
    assert run.code == 0, run.stderr
    out = run.json()
    assert out["previous_version_id"] == old
    assert holder(sm, "dev/api/key", "AWSCURRENT") == out["version_id"]
    back = secrets_cmd(["rotate", "dev/api/key", "--rollback"])
    assert back.code == 0, back.stderr
    assert holder(sm, "dev/api/key", "AWSCURRENT") == old


# -- Bad input: a one-line error, the documented code, nothing changed ---------------------------


def assert_one_line_error(run: Any) -> None:
    lines = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, run.stderr
    assert "Traceback" not in run.stderr


def test_missing_secret_is_exit_3(cli, sm) -> None:
    run = cli("rotate", "dev/nope", "--generate")
    assert run.code == 3
    assert_one_line_error(run)
    assert sm.list_secrets()["SecretList"] == []


def test_field_on_non_json_or_missing_key_is_exit_2(cli, sm) -> None:
    make(sm, "dev/plain", "text")
    make(sm, "dev/creds", json.dumps({"username": "app", "password": "p"}))
    before = (stages(sm, "dev/plain"), stages(sm, "dev/creds"))
    run = cli("rotate", "dev/plain", "--field", "password", "--generate")
    assert run.code == 2
    assert "not a JSON object" in run.stderr
    assert_one_line_error(run)
    run = cli("rotate", "dev/creds", "--field", "token", "--generate")
    assert run.code == 2
    assert "no such key" in run.stderr
    assert_one_line_error(run)
    assert (stages(sm, "dev/plain"), stages(sm, "dev/creds")) == before


def test_rollback_without_previous_is_exit_4(cli, sm) -> None:
    old = make(sm, "dev/api/key", "v1")
    run = cli("rotate", "dev/api/key", "--rollback")
    assert run.code == 4
    assert "no AWSPREVIOUS" in run.stderr
    assert_one_line_error(run)
    assert stages(sm, "dev/api/key") == {old: ["AWSCURRENT"]}


def test_protected_without_tty_or_yes_is_exit_4(cli, sm, aws_env) -> None:
    write_config(aws_env, CONFIG)
    old = make(sm, "prod/api/key", "v1")
    for args in (["--stdin"], ["--generate"]):
        run = cli("rotate", "prod/api/key", *args, input="v2")
        assert run.code == 4, run.stderr
        assert "protected" in run.stderr
        assert_one_line_error(run)
    assert stages(sm, "prod/api/key") == {old: ["AWSCURRENT"]}
    assert len(sm.list_secret_version_ids(SecretId="prod/api/key")["Versions"]) == 1
    run = cli("rotate", "prod/api/key", "--stdin", "--yes", input="v2")
    assert run.code == 0, run.stderr
    assert "(protected environment)" in run.stderr
    assert value_of(sm, "prod/api/key") == "v2"
    after = stages(sm, "prod/api/key")
    for flag in ("--rollback", "--managed"):
        run = cli("rotate", "prod/api/key", flag)
        assert run.code == 4, run.stderr
        assert_one_line_error(run)
    assert stages(sm, "prod/api/key") == after


def test_impossible_generate_constraints_are_exit_2(cli, sm, proxy) -> None:
    old = make(sm, "dev/api/key", "v1")
    proxy.reset_counts()
    everything = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    for args in (
        ["--length", "3"],  # four kinds of character cannot fit in three
        ["--length", "5000"],
        ["--exclude-punctuation", "--exclude-characters", everything],
    ):
        run = cli("rotate", "dev/api/key", "--generate", *args)
        assert run.code == 2, (args, run.stderr)
        assert_one_line_error(run)
    assert proxy.count() == 0  # refused before any AWS call
    assert stages(sm, "dev/api/key") == {old: ["AWSCURRENT"]}


def test_same_value_is_refused(cli, sm) -> None:
    old = make(sm, "dev/api/key", "v1")
    run = cli("rotate", "dev/api/key", "--stdin", input="v1")
    assert run.code == 2
    assert_one_line_error(run)
    assert stages(sm, "dev/api/key") == {old: ["AWSCURRENT"]}


def test_flag_combinations_are_usage_errors(cli, sm) -> None:
    old = make(sm, "dev/api/key", "v1")
    for args in (
        ["dev/api/key", "--rollback", "--resume"],
        ["dev/api/key", "--rollback", "--generate"],
        ["dev/api/key", "--stdin", "--generate"],
        ["dev/api/key", "--length", "12"],
        ["dev/api/key", "--cancel", "--verify-cmd", "true"],
        ["dev/api/key", "--generate", "--verify-cmd", " "],
        ["--env", "dev", "--generate"],
        ["--env", "dev", "--older-than", "1", "--stdin"],
        ["dev/api/key", "--env", "dev", "--older-than", "1", "--generate"],
        ["dev/api/key", "--generate", "--older-than", "3"],
        ["--generate"],
        ["dev/api/key", "--verify-timeout", "0", "--generate"],
        ["dev/api/key", "--verify-timeout", "5", "--generate"],
    ):
        run = cli("rotate", *args, input="x")
        assert run.code == 2, (args, run.stderr)
        assert_one_line_error(run)
    assert stages(sm, "dev/api/key") == {old: ["AWSCURRENT"]}


def test_managed_with_a_configured_lambda_calls_rotate_secret_once(cli, sm, proxy) -> None:
    """What the emulator allows. moto runs a rotation Lambda only in Docker, and a RotateSecret
    without RotationLambdaARN makes it forget the configured ARN and promote an empty version
    by itself (AWS invokes the configured function). So here we check our side only: the
    configured Lambda is found, RotateSecret is called once, and its outcome is reported."""
    make(sm, "dev/api/key", "v1")
    arn = "arn:aws:lambda:us-east-1:123456789012:function:rotate-api-key"
    # moto records the ARN, then fails to find the function (AWS would refuse up front).
    with contextlib.suppress(sm.exceptions.ResourceNotFoundException):
        sm.rotate_secret(SecretId="dev/api/key", RotationLambdaARN=arn)
    pending = holder(sm, "dev/api/key", "AWSPENDING")
    if pending is not None and pending != holder(sm, "dev/api/key", "AWSCURRENT"):
        sm.update_secret_version_stage(
            SecretId="dev/api/key", VersionStage="AWSPENDING", RemoveFromVersionId=pending
        )
    assert sm.describe_secret(SecretId="dev/api/key")["RotationLambdaARN"] == arn
    proxy.reset_counts()
    run = cli("rotate", "dev/api/key", "--managed", "--json")
    assert run.code == 0, run.stderr
    assert proxy.calls["secretsmanager.RotateSecret"] == 1
    out = run.json()
    assert out["lambda_arn"] == arn
    assert out["status"] in {"finished", "pending"}
    assert out["version_id"]


def test_resume_and_cancel_of_a_finished_rotation_write_nothing_and_ask_nothing(
    cli, sm, proxy, aws_env
) -> None:
    """Killed between the two label moves of a promotion, a rotation leaves AWSPENDING on the
    version that is already AWSCURRENT. Readers get the new value and AWS counts the rotation
    as finished, so --resume and --cancel change nothing there: no label removal that nobody
    would notice, hence nothing to confirm even in a protected environment (no TTY, no --yes)."""
    write_config(aws_env, CONFIG)
    old = make(sm, "prod/db/password", "v1")
    new = str(sm.put_secret_value(SecretId="prod/db/password", SecretString="v2")["VersionId"])
    sm.update_secret_version_stage(
        SecretId="prod/db/password", VersionStage="AWSPENDING", MoveToVersionId=new
    )
    before = stages(sm, "prod/db/password")
    assert before == {new: ["AWSCURRENT", "AWSPENDING"], old: ["AWSPREVIOUS"]}
    for flag in ("--resume", "--cancel"):
        proxy.reset_counts()
        run = cli("rotate", "prod/db/password", flag)
        assert run.code == 0, run.stderr
        assert f"nothing to {flag[2:]}: the rotation finished: version {new} is AWSCURRENT" in (
            run.stderr
        )
        assert "confirm" not in run.stderr
        assert proxy.writes() == 0
        assert stages(sm, "prod/db/password") == before
    run = cli("rotate", "prod/db/password", "--resume", "--json")
    assert run.json()["action"] == "nothing pending"
    assert run.json()["version_id"] == new
    # Neither the bulk form nor a new rotation sees anything pending.
    assert "nothing pending under prod/" in cli("rotate", "--env", "prod", "--resume").stderr
    rotated = cli("rotate", "prod/db/password", "--stdin", "--yes", input="v3")
    assert rotated.code == 0, rotated.stderr
    assert holder(sm, "prod/db/password", "AWSPENDING") is None
    assert holder(sm, "prod/db/password", "AWSPREVIOUS") == new


def made_by(cli: Any, name: str) -> dict[str, str]:
    """The MADE BY cell of `secrets history NAME` (piped: tab-separated), by version."""
    table = cli("history", name).stdout.splitlines()
    assert table[0].split("\t")[-1] == "MADE BY"
    return {line.split("\t")[0]: line.split("\t")[-1] for line in table[1:]}


def test_history_names_a_rotation_without_an_apply_step_by_its_time_and_actor(cli, sm) -> None:
    """No "applied to none": a rotation without an apply step says when and by whom only. A
    record whose other tags were removed (by hand, another tool) still marks the version."""
    old = make(sm, "dev/db/password", "old-password")
    assert cli("rotate", "dev/db/password", "--stdin", input="new-password").code == 0
    new = holder(sm, "dev/db/password", "AWSCURRENT")
    assert new is not None
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId="dev/db/password")["Tags"]}
    assert tags["envsecrets:applied-to"] == "none"
    cells = made_by(cli, "dev/db/password")
    assert cells[new] == (
        f"rotation ({tags['envsecrets:rotated-at']}, by arn:aws:sts::123456789012:user/moto)"
    )
    assert cells[old] == ""
    sm.untag_resource(
        SecretId="dev/db/password",
        TagKeys=["envsecrets:rotated-at", "envsecrets:rotated-by", "envsecrets:applied-to"],
    )
    assert made_by(cli, "dev/db/password") == {new: "rotation", old: ""}
    run = cli("history", "dev/db/password", "--json")
    made = {row["version_id"]: row["rotation"] for row in run.json()}
    assert made == {
        new: {"latest": True, "rotated_at": None, "rotated_by": None, "applied_to": None},
        old: None,
    }


def test_a_resumed_rotation_keeps_the_record_of_earlier_ones(cli, sm) -> None:
    """The rotations tag lists every version a rotation made, a resumed one included: history
    still says which versions rotations made."""
    old = make(sm, "dev/db/password", "v1")
    assert cli("rotate", "dev/db/password", "--stdin", input="v2").code == 0
    second = holder(sm, "dev/db/password", "AWSCURRENT")
    assert second is not None
    failed = cli("rotate", "dev/db/password", "--stdin", "--verify-cmd", "false", input="v3")
    assert failed.code == 1
    third = holder(sm, "dev/db/password", "AWSPENDING")
    assert third is not None
    assert cli("rotate", "dev/db/password", "--resume").code == 0
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId="dev/db/password")["Tags"]}
    assert tags["envsecrets:rotations"].split() == [third[:8], second[:8]]
    cells = made_by(cli, "dev/db/password")
    assert cells[second] == "rotation" and cells[third].startswith("rotation (")
    assert cells[old] == ""


def test_the_rotations_record_fills_the_256_characters_a_tag_holds(cli, sm) -> None:
    """The rotations tag keeps as many earlier marks as AWS's 256 characters hold: a record
    that fits exactly is kept whole, and the next rotation drops the oldest mark first."""
    name = "dev/api/key"
    make(sm, name, "v1")
    # 26 marks and a longer one (edited by hand): with the next mark, exactly 256 characters.
    earlier = [f"{n:08x}" for n in range(26)] + ["a" * 13]
    sm.tag_resource(
        SecretId=name, Tags=[{"Key": "envsecrets:rotations", "Value": " ".join(earlier)}]
    )

    def record() -> str:
        tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=name)["Tags"]}
        return tags["envsecrets:rotations"]

    assert cli("rotate", name, "--stdin", input="v2").code == 0
    first = holder(sm, name, "AWSCURRENT")
    assert first is not None
    assert record() == " ".join([first[:8], *earlier])
    assert len(record()) == 256
    assert cli("rotate", name, "--stdin", input="v3").code == 0
    second = holder(sm, name, "AWSCURRENT")
    assert second is not None
    assert record() == " ".join([second[:8], first[:8], *earlier[:-1]])


def test_rotations_that_cannot_start_say_why_and_what_to_run(cli, sm) -> None:
    """Refused before anything is written, each naming the secret and the command that
    clears the way: the same value again, a secret scheduled for deletion, one with no value."""
    old = make(sm, "dev/api/key", "v1")
    same = cli("rotate", "dev/api/key", "--stdin", "--json", input="v1")
    assert same.code == 2
    assert json.loads(same.stderr)["error"] == {
        "code": 2,
        "message": "the new value of dev/api/key is the same as the current one; nothing to rotate",
        "hint": "give a different value, or use --generate",
    }
    assert stages(sm, "dev/api/key") == {old: ["AWSCURRENT"]}
    make(sm, "dev/api/gone", "v1")
    sm.delete_secret(SecretId="dev/api/gone", RecoveryWindowInDays=7)
    gone = cli("rotate", "dev/api/gone", "--stdin", "--json", input="v2")
    assert gone.code == 4
    assert json.loads(gone.stderr)["error"] == {
        "code": 4,
        "message": "dev/api/gone is scheduled for deletion",
        "hint": "`secrets restore dev/api/gone` cancels the deletion",
    }
    sm.create_secret(Name="dev/api/empty")
    empty = cli("rotate", "dev/api/empty", "--stdin", "--json", input="v2")
    assert empty.code == 4
    assert json.loads(empty.stderr)["error"] == {
        "code": 4,
        "message": "dev/api/empty has no AWSCURRENT version to rotate",
        "hint": "`secrets set dev/api/empty` gives it a first value; "
        "`secrets history dev/api/empty` shows its versions",
    }


def test_resume_of_a_finished_rotation_or_of_no_value_says_there_is_nothing(cli, sm) -> None:
    """AWSPENDING left on the version that is AWSCURRENT (a crash between the two label moves)
    is a finished rotation; a secret with no version at all has nothing pending either."""
    old = make(sm, "dev/api/key", "v1")
    staged = sm.put_secret_value(SecretId="dev/api/key", SecretString="v2",
                                 VersionStages=["AWSPENDING"])  # fmt: skip
    new = str(staged["VersionId"])
    sm.update_secret_version_stage(
        SecretId="dev/api/key", VersionStage="AWSCURRENT", MoveToVersionId=new,
        RemoveFromVersionId=old,
    )  # fmt: skip
    run = cli("rotate", "dev/api/key", "--resume", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["reason"] == (
        f"the rotation finished: version {new} is AWSCURRENT already (its leftover AWSPENDING "
        "label is harmless and left as it is)"
    )
    sm.create_secret(Name="dev/api/empty")
    empty = cli("rotate", "dev/api/empty", "--resume", "--json")
    assert empty.code == 0, empty.stderr
    assert empty.json()["reason"] == "no pending version; version - is AWSCURRENT"


def test_a_store_that_cannot_generate_passwords_is_refused_before_anything_is_read() -> None:
    """`--generate` needs a store that makes passwords (Secrets Manager's GetRandomPassword,
    the keyring's local generator): any other kind is refused with exit 2, saying what to use
    instead, before it is asked for anything (a store with no methods at all is enough)."""
    with pytest.raises(CliError) as refused:
        generating_store(object(), "dev")  # type: ignore[arg-type]
    assert refused.value.code == ExitCode.USAGE
    assert refused.value.message == (
        "environment 'dev' cannot generate passwords: --generate asks Secrets Manager's "
        "GetRandomPassword, and this environment's secrets are kept elsewhere"
    )
    assert (
        refused.value.hint == "give the new value with --stdin or --from-file, one secret at a time"
    )
