"""Rotation plans in secrets.toml `[rotation]` (issue 13): parsed with errors that name the
key, used by `secrets rotate NAME` with no other flag, flags over them, shown by `show`,
checked by `check`, written by `--save-plan` (comments kept), and the record `history` shows.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.leaks import assert_no_leak, text_canary
from tests.test_rotate import holder, make, value_of
from tests.test_rotate_apply import Recorder
from tests.test_rotate_iam import USER, key_secret, make_user, user_keys
from tests.test_rotate_rds import MODIFY, make_instance

ENVS = "[environments.dev]\n[environments.prod]\nprotected = true\n"


def plans(folder: Path, rotation: str, *, prefix: str = ENVS) -> Path:
    return write_config(folder, f"{prefix}\n[rotation]\n{rotation}\n")


# -- malformed entries: errors that name the key ------------------------------------------------
MISTAKES = [
    ('"db/master" = { target = "mysql:orders" }',
     "rotation.\"db/master\".target: 'mysql:orders' is not a known target"),
    ('"db/master" = { target = "rds:-bad" }', "is not a valid rds identifier"),
    ('"db/master" = { target = "rds:a--b" }', "is not a valid rds identifier"),
    ('"db/master" = { target = "iam-user:bad user" }', "is not a valid iam-user identifier"),
    ('"db/master" = { aply_cmd = "x" }', 'rotation."db/master".aply_cmd is not a known key'),
    ('"db/master" = { target = "rds:orders", apply_cmd = "x" }',
     'rotation."db/master" has both target and apply_cmd'),
    ('"ci/key" = { target = "iam-user:ci", generate = true }',
     'rotation."ci/key".generate does not apply to an iam-user target'),
    ('"db/master" = { target = "rds:orders", delete_old = true }',
     'rotation."db/master".delete_old applies to an iam-user target only'),
    ('"api/x" = { apply_cmd = "x", generate = { length = 2 } }',
     'rotation."api/x".generate is impossible: --length 2 is too short'),
    ('"api/x" = { apply_cmd = "x", generate = { size = 2 } }',
     'rotation."api/x".generate.size is not a known key'),
    ('"api/x" = { apply_cmd = "x", apply_timeout = "fast" }',
     'rotation."api/x".apply_timeout must be a number of seconds'),
    ('"api/x" = { verify_timeout = 5 }', 'rotation."api/x".verify_timeout needs a verify_cmd'),
    ('"api/x" = { apply_cmd = "" }', 'rotation."api/x".apply_cmd must be a non-empty string'),
    ('"api/x" = "rds:orders"', 'rotation."api/x" must be a table'),
    ('"../x" = { apply_cmd = "x" }', 'rotation."../x" is not a valid path'),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "message"), MISTAKES, ids=[m[0][:40] for m in MISTAKES])
def test_a_malformed_plan_is_an_error_naming_its_key(
    cli, aws_env, proxy, entry: str, message: str
) -> None:
    path = plans(aws_env, entry)
    run = cli("rotate", "dev/db/master", "--json")
    assert run.code == 2, run.stderr
    error = json.loads(run.stderr)["error"]
    assert error["message"].startswith(f"{path}: "), error
    assert message in error["message"]
    assert proxy.count() == 0


def test_rotation_must_be_a_table(cli, aws_env) -> None:
    write_config(aws_env, 'rotation = "rds:orders"\n')
    run = cli("check", "dev")
    assert run.code == 2
    assert "rotation must be a table" in run.stderr


# -- the plan used, flags over it ---------------------------------------------------------------
def test_a_declared_target_needs_no_other_flag(cli, sm, proxy, aws_env) -> None:
    plans(aws_env, '"db/master" = { target = "rds:orders-{env}" }')
    make_instance("orders-dev")
    make(sm, "dev/db/master", "old-password-1")
    proxy.record(MODIFY)
    run = cli("rotate", "dev/db/master")
    assert run.code == 0, run.stderr
    [modify] = proxy.requests(MODIFY)
    assert modify["DBInstanceIdentifier"] == "orders-dev"
    assert modify["MasterUserPassword"] == value_of(sm, "dev/db/master")
    assert f'rotation plan    {aws_env / "secrets.toml"} [rotation] "db/master"' in run.stderr


def test_a_plan_with_commands_and_generation(cli, sm, aws_env) -> None:
    recorder = Recorder(aws_env)
    marker = aws_env / "verified-{env}"
    plans(
        aws_env,
        f'"api/partner" = {{ apply_cmd = "{recorder.command}", '
        f"verify_cmd = \"sh -c 'cat >/dev/null; touch {marker}'\", "
        "generate = { length = 40, exclude_punctuation = true } }",
    )
    make(sm, "dev/api/partner", "v1")
    run = cli("rotate", "dev/api/partner")
    assert run.code == 0, run.stderr
    new = value_of(sm, "dev/api/partner")
    assert len(new) == 40 and new.isalnum()
    [payload] = recorder.payloads()
    assert payload["pending"] == new and payload["current"] == "v1"
    assert (aws_env / "verified-dev").exists()  # {env} replaced in the command


def test_flags_win_over_the_plan(cli, sm, aws_env) -> None:
    (aws_env / "planned").mkdir()
    (aws_env / "given").mkdir()
    planned, given = Recorder(aws_env / "planned"), Recorder(aws_env / "given")
    plans(
        aws_env,
        f'"api/partner" = {{ apply_cmd = "{planned.command}", verify_cmd = "false", '
        "generate = { length = 40 } }",
    )
    make(sm, "dev/api/partner", "v1")
    run = cli("rotate", "dev/api/partner", "--stdin", "--apply-cmd", given.command,
              "--verify-cmd", "true", input="typed-value")  # fmt: skip
    assert run.code == 0, run.stderr
    assert value_of(sm, "dev/api/partner") == "typed-value"
    assert planned.runs() == [] and len(given.runs()) == 1


def test_resume_and_cancel_use_the_plan(cli, sm, proxy, aws_env) -> None:
    plans(aws_env, '"db/master" = { target = "rds:orders-{env}" }')
    make_instance("orders-dev")
    old = make(sm, "dev/db/master", "old-password-1")
    proxy.record(MODIFY)
    proxy.script(MODIFY, "fail:InvalidDBInstanceState")
    run = cli("rotate", "dev/db/master")
    assert run.code == 1
    # The target comes from secrets.toml: the hint needs no --target.
    assert "`secrets rotate dev/db/master --resume` promotes it" in run.stderr
    again = cli("rotate", "dev/db/master", "--resume")
    assert again.code == 0, again.stderr
    assert len(proxy.requests(MODIFY)) == 2
    assert holder(sm, "dev/db/master", "AWSPREVIOUS") == old


def test_a_declared_command_that_does_not_exist_is_found_before_staging(
    cli, sm, proxy, aws_env
) -> None:
    path = plans(aws_env, '"api/partner" = { apply_cmd = "nosuchcmd --set" }')
    make(sm, "dev/api/partner", "v1")
    proxy.reset_counts()
    run = cli("rotate", "dev/api/partner", "--generate")
    assert run.code == 3
    assert (
        f"{path}: rotation.\"api/partner\".apply_cmd: command 'nosuchcmd' not found" in run.stderr
    )
    assert proxy.writes() == 0


def test_an_iam_plan_refuses_a_value_flag(cli, aws_env, proxy) -> None:
    plans(aws_env, '"ci/key" = { target = "iam-user:deployer-{env}" }')
    run = cli("rotate", "dev/ci/key", "--generate")
    assert run.code == 2
    assert "iam-user:deployer-dev takes its new value from IAM" in run.stderr
    assert proxy.count() == 0


# -- show, check, history -----------------------------------------------------------------------
def test_show_shows_the_declared_plan_and_the_record(cli, sm, aws_env) -> None:
    plans(aws_env, '"db/master" = { target = "rds:orders-{env}", verify_cmd = "true" }')
    make_instance("orders-dev")
    make(sm, "dev/db/master", "old-password-1")
    assert cli("rotate", "dev/db/master").code == 0
    shown = cli("show", "dev/db/master", "--json").json()
    assert shown["rotation_plan"]["target"] == "rds:orders-dev"
    assert shown["rotation_plan"]["verify_cmd"] == "true"
    assert shown["applied_to"] == "rds:orders-dev"
    text = cli("show", "dev/db/master").stdout
    assert "target rds:orders-dev; verify `true` (secrets.toml [rotation])" in text
    assert "Applied to" in text
    none = cli("show", "dev/db/master-other", "--json")
    assert none.code == 3


def test_show_names_who_stages_a_pending_version_and_hides_an_emptied_lease(
    cli, sm, aws_env
) -> None:
    """While a rotation verifies its pending version, `show` says which process staged it. A
    finished rotation empties its lease tag: `show` does not list `envsecrets:rotating=`."""
    import subprocess
    import time

    from tests.conftest import SECRETS_BIN

    make(sm, "dev/api/key", "v1")
    sm.tag_resource(SecretId="dev/api/key", Tags=[{"Key": "team", "Value": "a"}])
    started = aws_env / "verifying"
    rotation = subprocess.Popen(
        [SECRETS_BIN, "rotate", "dev/api/key", "--generate", "--verify-cmd",
         f"touch {started}; sleep 60"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(1200):
            if started.exists() or rotation.poll() is not None:
                break
            time.sleep(0.05)
        assert started.exists(), "the verify command never started"
        shown = cli("show", "dev/api/key", "--json").json()
        assert f"pid {rotation.pid} on " in shown["pending_staged_by"]
        text = cli("show", "dev/api/key").stdout
        assert f"{shown['pending_version_id']} (staged by pid {rotation.pid} on " in text
    finally:
        rotation.terminate()
        rotation.wait(timeout=60)
    # Stopped, the rotation released its lease: the pending version it left names nobody.
    assert cli("show", "dev/api/key", "--json").json()["pending_staged_by"] is None
    assert cli("rotate", "dev/api/key", "--cancel").code == 0
    assert cli("rotate", "dev/api/key", "--generate").code == 0
    text = cli("show", "dev/api/key").stdout
    assert "team=a" in text
    assert "envsecrets:rotating" not in text
    assert "staged by" not in text
    assert "envsecrets:rotating" not in cli("show", "dev/api/key", "--json").json()["tags"]
    assert "envsecrets:rotating" not in cli("list", "dev/", "--json").json()[0]["tags"]


def test_check_reports_plans_whose_target_or_secret_is_missing(cli, sm, aws_env) -> None:
    plans(
        aws_env,
        '"db/master" = { target = "rds:orders-{env}" }\n'
        '"db/gone" = { target = "rds:nothing-{env}" }\n'
        '"db/aurora" = { target = "rds-cluster:nothing-{env}" }\n'
        '"db/managed" = { target = "rds:managed-{env}" }\n'
        '"ci/key" = { target = "iam-user:nobody-{env}" }\n'
        '"ci/ok" = { target = "iam-user:deployer-dev" }\n'
        '"api/partner" = { apply_cmd = "nosuchcmd" }\n'
        '"api/absent" = { apply_cmd = "true" }\n',
    )
    make_instance("orders-dev")
    make_instance("managed-dev", ManageMasterUserPassword=True)
    make_user()
    for path in (
        "db/master",
        "db/gone",
        "db/aurora",
        "db/managed",
        "ci/key",
        "ci/ok",
        "api/partner",
    ):
        make(sm, f"dev/{path}", "x-value-1")
    run = cli("check", "dev", "--json")
    assert run.code == 1
    document = run.json()
    assert document["ok"] is False
    rows = {row["path"]: row["status"] for row in document["rotation_plans"]}
    assert rows == {
        "api/absent": "missing",
        "api/partner": "command_missing",
        "ci/key": "target_missing",
        "ci/ok": "ok",
        "db/aurora": "target_missing",
        "db/gone": "target_missing",
        "db/managed": "target_refused",
        "db/master": "ok",
    }
    error = json.loads(run.stderr)["error"]
    assert "6 of 8 rotation plan(s) cannot rotate in dev" in error["message"]
    table = cli("check", "dev")
    assert "ROTATION PLAN" in table.stdout
    assert "RDS DB instance 'nothing-dev' not found" in table.stdout


def test_check_passes_when_every_plan_can_rotate(cli, sm, aws_env) -> None:
    plans(aws_env, '"db/master" = { target = "rds:orders-{env}" }')
    make_instance("orders-dev")
    make(sm, "dev/db/master", "x-value-1")
    run = cli("check", "dev", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["rotation_plans"][0]["status"] == "ok"


def test_history_shows_which_version_each_rotation_made(cli, sm, aws_env) -> None:
    plans(aws_env, '"db/master" = { target = "rds:orders-{env}" }')
    make_instance("orders-dev")
    first = make(sm, "dev/db/master", "old-password-1")
    # A value set by hand (before the rotations: moto mislabels a PutSecretValue that follows
    # an UpdateSecretVersionStage, leaving AWSCURRENT on two versions; AWS does not).
    by_hand = str(
        sm.put_secret_value(SecretId="dev/db/master", SecretString="by-hand-1")["VersionId"]
    )
    assert cli("rotate", "dev/db/master").code == 0
    second = holder(sm, "dev/db/master", "AWSCURRENT")
    assert cli("rotate", "dev/db/master").code == 0
    third = holder(sm, "dev/db/master", "AWSCURRENT")
    run = cli("history", "dev/db/master", "--json")
    assert run.code == 0, run.stderr
    made = {row["version_id"]: row["rotation"] for row in run.json()}
    assert made[first] is None and made[by_hand] is None and second != third
    assert made[second] == {"latest": False, "rotated_at": None, "rotated_by": None,
                            "applied_to": None}  # fmt: skip
    assert made[third]["latest"] is True
    assert made[third]["applied_to"] == "rds:orders-dev"
    assert made[third]["rotated_by"] == "arn:aws:sts::123456789012:user/moto"
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId="dev/db/master")["Tags"]}
    assert made[third]["rotated_at"] == tags["envsecrets:rotated-at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", made[third]["rotated_at"])
    table = cli("history", "dev/db/master").stdout
    assert table.splitlines()[0].split("\t")[-1] == "MADE BY"
    cells = {line.split("\t")[0]: line.split("\t")[-1] for line in table.splitlines()[1:]}
    # The last rotation carries its record; an earlier one says only that a rotation made it.
    assert cells[third] == (
        f"rotation (applied to rds:orders-dev, {made[third]['rotated_at']}, "
        "by arn:aws:sts::123456789012:user/moto)"
    )
    assert cells[second] == "rotation"
    assert cells[first] == cells[by_hand] == ""


def test_the_rotations_tag_stays_within_a_tag_value() -> None:
    from envsecrets.core.rotation import MAX_TAG_VALUE, rotations_log

    log = ""
    for i in range(100):
        log = rotations_log(f"{i:08d}-aaaa-bbbb-cccc-dddddddddddd", log)
    assert len(log) <= MAX_TAG_VALUE
    assert log.split()[0] == "00000099" and "00000050" not in log.split()


# -- --save-plan ----------------------------------------------------------------------------------
def test_save_plan_records_the_rotation_with_comments_kept(cli, sm, aws_env) -> None:
    config = write_config(
        aws_env,
        "# our environments\n[environments.dev]  # the dev account\n\n"
        "[environments.prod]\nprotected = true  # ask first\n",
    )
    make_instance("orders-dev")
    make(sm, "dev/db/master", "old-password-1")
    run = cli("rotate", "dev/db/master", "--target", "rds:orders-dev", "--verify-cmd", "true",
              "--save-plan")  # fmt: skip
    assert run.code == 0, run.stderr
    text = config.read_text()
    assert "# our environments" in text and "# the dev account" in text and "# ask first" in text
    assert '"db/master" = {target = "rds:orders-{env}", verify_cmd = "true"}' in text
    assert "recorded the plan in" in run.stderr
    # The next rotation needs no flag.
    again = cli("rotate", "dev/db/master", "--json")
    assert again.code == 0, again.stderr
    assert again.json()["applied_to"] == "rds:orders-dev"


def test_save_plan_writes_the_environment_as_a_placeholder(cli, sm, aws_env) -> None:
    config = write_config(aws_env, ENVS)
    [key] = make_user()
    key_secret(sm, "dev/ci/deploy-key", key)
    run = cli("rotate", "dev/ci/deploy-key", "--target", f"iam-user:{USER}", "--delete-old",
              "--save-plan")  # fmt: skip
    assert run.code == 0, run.stderr
    assert "does not name the environment" not in run.stderr
    entry = '"ci/deploy-key" = {target = "iam-user:deployer-{env}", delete_old = true}'
    assert entry in config.read_text()
    assert len(user_keys()) == 1


def test_save_plan_warns_about_a_target_without_the_environment(cli, sm, aws_env) -> None:
    config = write_config(aws_env, ENVS)
    make_instance("orders")
    make(sm, "dev/db/master", "old-password-1")
    run = cli("rotate", "dev/db/master", "--target", "rds:orders", "--save-plan")
    assert run.code == 0, run.stderr
    assert "does not name the environment: every environment's db/master" in run.stderr
    assert '"db/master" = {target = "rds:orders"}' in config.read_text()


def test_plans_show_and_check_keep_values_out(cli, sm, aws_env) -> None:
    canary = text_canary()
    plans(aws_env, '"api/partner" = { apply_cmd = "true" }')
    make(sm, "dev/api/partner", canary)
    runs = [
        cli("rotate", "dev/api/partner", "--generate", "--json"),
        cli("show", "dev/api/partner"),
        cli("show", "dev/api/partner", "--json"),
        cli("check", "dev", "--json"),
        cli("history", "dev/api/partner"),
    ]
    assert runs[0].code == 0, runs[0].stderr
    new = value_of(sm, "dev/api/partner")
    for run in runs:
        assert_no_leak(run, canary)
        assert_no_leak(run, new)
    assert canary not in (aws_env / "secrets.toml").read_text()
