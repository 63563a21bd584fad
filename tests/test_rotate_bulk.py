"""Bulk rotation: `secrets rotate --env ENV --older-than DAYS [--prefix P] --generate`.

Through the fault proxy with AWS's write quotas and injected 5xx: every secret rotated exactly
once, none left pending. Secrets are made with boto3 straight to the emulator (the `sm`
client is created before the proxy), so set-up calls are not counted.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SECRETS_BIN, write_config
from tests.test_rotate import holder, make, stages, value_of

PUT = "secretsmanager.PutSecretValue"
UVS = "secretsmanager.UpdateSecretVersionStage"
TAG = "secretsmanager.TagResource"


def seed(sm: Any, count: int, prefix: str = "dev/api") -> dict[str, str]:
    return {
        f"{prefix}/key-{i:02d}": make(sm, f"{prefix}/key-{i:02d}", f"old-{i}") for i in range(count)
    }


def assert_rotated_once(sm: Any, name: str, original: str) -> None:
    versions = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert len(versions) == 2, name
    current = holder(sm, name, "AWSCURRENT")
    assert current != original
    assert stages(sm, name) == {current: ["AWSCURRENT"], original: ["AWSPREVIOUS"]}


def test_fifty_secrets_through_throttling_and_5xx(cli, sm, proxy) -> None:
    originals = seed(sm, 50)
    proxy.aws_quotas()
    # Tighter than AWS's 50/s, so that throttling is likely at the emulator's pace; and the
    # first label moves throttled for certain, whatever the machine's load.
    proxy.throttle(UVS, 20)
    proxy.script(UVS, "throttle", "throttle", "throttle")
    proxy.faults.latency = 0.002
    proxy.faults.error_rate = 0.05
    proxy.faults.only = {PUT, UVS, TAG, "secretsmanager.DescribeSecret"}
    proxy.reset_counts()
    run = cli(
        "rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes", "--json",
        "--concurrency", "8",
    )  # fmt: skip
    assert run.code == 0, run.stderr
    out = run.json()
    assert sorted(r["name"] for r in out["rotated"]) == sorted(originals)
    assert out["failed"] == [] and out["skipped"] == []
    for name, original in originals.items():
        assert_rotated_once(sm, name, original)
    # 5xx answers are not forwarded: exactly one write of each value reached the emulator.
    assert proxy.forwarded[PUT] == 50
    # Two tag writes per secret: the lease taken before staging, the record (which empties it).
    assert proxy.forwarded[TAG] == 100
    assert sum(proxy.injected.values()) > 0
    assert proxy.throttled[UVS] >= 3
    # One identity lookup for the whole run, not one per secret.
    assert proxy.calls["sts.GetCallerIdentity"] == 1
    # Passwords are cut from one long GetRandomPassword answer, not fetched one by one.
    assert proxy.calls["secretsmanager.GetRandomPassword"] <= 2
    new_values = {value_of(sm, name) for name in originals}
    assert len(new_values) == 50
    assert all(len(value) == 32 for value in new_values)


def test_plan_table_then_summary(cli, sm) -> None:
    seed(sm, 3)
    make(sm, "dev/other/key", "x")
    run = cli(
        "rotate", "--env", "dev", "--prefix", "api/", "--older-than", "0", "--generate", "--yes"
    )
    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split("\t") == ["NAME", "LAST CHANGED", "PLAN"]
    assert [line.split("\t")[0] for line in lines[1:]] == [
        "dev/api/key-00",
        "dev/api/key-01",
        "dev/api/key-02",
    ]
    assert "3 rotated, 0 failed, 0 skipped under dev/api/" in run.stderr
    assert value_of(sm, "dev/other/key") == "x"  # outside the prefix


def test_one_failure_does_not_stop_the_rest_and_sets_the_exit_code(cli, sm) -> None:
    plain = make(sm, "dev/a", "text")
    make(sm, "dev/b", json.dumps({"user": "u", "password": "p"}))
    sm.create_secret(Name="dev/c", SecretBinary=b"\x00\x01binary")
    make(sm, "dev/d", "text")
    sm.put_secret_value(SecretId="dev/d", SecretString="half", VersionStages=["AWSPENDING"])
    d_before = stages(sm, "dev/d")
    run = cli("rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes", "--json")
    assert run.code == 1
    out = run.json()
    assert [r["name"] for r in out["rotated"]] == ["dev/a"]
    assert [f["name"] for f in out["failed"]] == ["dev/d"]
    assert "pending version" in out["failed"][0]["error"]["message"]
    assert {s["name"] for s in out["skipped"]} == {"dev/b", "dev/c"}
    assert_rotated_once(sm, "dev/a", plain)
    assert stages(sm, "dev/d") == d_before
    assert json.loads(value_of(sm, "dev/b")) == {"user": "u", "password": "p"}
    assert "1 of 2 rotations failed" in run.stderr


def test_bulk_field_rotates_one_key_of_each_json_secret(cli, sm) -> None:
    for i in range(3):
        make(sm, f"dev/db/creds-{i}", json.dumps({"username": f"app{i}", "password": "old"}))
    run = cli(
        "rotate", "--env", "dev", "--older-than", "0", "--generate", "--field", "password",
        "--yes",
    )  # fmt: skip
    assert run.code == 0, run.stderr
    for i in range(3):
        now = json.loads(value_of(sm, f"dev/db/creds-{i}"))
        assert now["username"] == f"app{i}"
        assert now["password"] != "old"


def test_older_than_leaves_fresh_secrets_alone(cli, sm) -> None:
    originals = seed(sm, 2)
    run = cli("rotate", "--env", "dev", "--older-than", "1", "--generate", "--yes")
    assert run.code == 0, run.stderr
    assert "nothing to rotate" in run.stderr
    for name, original in originals.items():
        assert stages(sm, name) == {original: ["AWSCURRENT"]}


def test_bulk_needs_confirmation(cli, sm, aws_env) -> None:
    write_config(aws_env, "[environments.dev]\n[environments.prod]\n")
    originals = {**seed(sm, 2, "prod/api"), **seed(sm, 2, "dev/api")}
    for env in ("prod", "dev"):  # protected or not, a bulk rotation confirms once
        run = cli("rotate", "--env", env, "--older-than", "0", "--generate")
        assert run.code == 4, run.stderr
        assert run.stderr.count("error:") == 1
    for name, original in originals.items():
        assert stages(sm, name) == {original: ["AWSCURRENT"]}


def test_bulk_passwords_meet_the_rules_each(cli, sm, proxy) -> None:
    seed(sm, 20)
    proxy.reset_counts()
    run = cli(
        "rotate", "--env", "dev", "--older-than", "0", "--generate", "--length", "6",
        "--exclude-punctuation", "--exclude-characters", "0Oo1lI", "--yes",
    )  # fmt: skip
    assert run.code == 0, run.stderr
    values = [value_of(sm, f"dev/api/key-{i:02d}") for i in range(20)]
    assert len(set(values)) == 20
    for value in values:
        assert len(value) == 6
        assert value.isalnum() and not set("0Oo1lI") & set(value)
        # each included kind at least once, as RequireEachIncludedType asks of one password
        assert any(c.islower() for c in value)
        assert any(c.isupper() for c in value)
        assert any(c.isdigit() for c in value)
    assert proxy.calls["secretsmanager.GetRandomPassword"] <= 3


# -- bulk --resume / --cancel: finishing what an interrupted run left pending -------------------
DESCRIBE = "secretsmanager.DescribeSecret"
LIST = "secretsmanager.ListSecrets"
PROTECTED = "[environments.dev]\n[environments.prod]\nprotected = true\n"


def leave_pending(sm: Any, name: str, value: str) -> str:
    """What a run cut between the write and the promotion leaves: a version staged only
    AWSPENDING, AWSCURRENT where it was."""
    return str(
        sm.put_secret_value(SecretId=name, SecretString=value, VersionStages=["AWSPENDING"])[
            "VersionId"
        ]
    )


def half_done(sm: Any, count: int, pending: int, prefix: str = "dev/api") -> dict[str, Any]:
    """`count` secrets, the first `pending` of them left with a dangling AWSPENDING."""
    originals = seed(sm, count, prefix)
    staged = {
        name: leave_pending(sm, name, f"staged-{i}")
        for i, name in enumerate(sorted(originals)[:pending])
    }
    return {"originals": originals, "staged": staged}


def version_count(sm: Any, name: str) -> int:
    return len(sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"])


def assert_resumed(sm: Any, name: str, original: str, staged: str) -> None:
    """The staged version is AWSCURRENT, the old one AWSPREVIOUS, nothing pending, and no
    version was added on the way."""
    assert stages(sm, name) == {staged: ["AWSCURRENT"], original: ["AWSPREVIOUS"]}, name
    assert version_count(sm, name) == 2, name


def test_bulk_resume_promotes_every_pending_version_once(cli, sm, proxy) -> None:
    state = half_done(sm, 10, 4)
    originals, staged = state["originals"], state["staged"]
    proxy.reset_counts()
    run = cli("rotate", "--env", "dev", "--resume", "--json")
    assert run.code == 0, run.stderr
    out = run.json()
    assert [r["name"] for r in out["resumed"]] == sorted(staged)
    assert out["failed"] == [] and out["left_alone"] == []
    for row in out["resumed"]:
        assert row["action"] == "resumed"
        assert row["version_id"] == staged[row["name"]]
        assert row["previous_version_id"] == originals[row["name"]]
        assert row["rotated_by"] == "arn:aws:sts::123456789012:user/moto"
    assert run.stderr == ""
    for i, name in enumerate(sorted(staged)):
        assert_resumed(sm, name, originals[name], staged[name])
        assert value_of(sm, name) == f"staged-{i}"  # the staged value, never a fresh one
    for name in set(originals) - set(staged):
        assert stages(sm, name) == {originals[name]: ["AWSCURRENT"]}
    # Found from one listing page; only the pending secrets are described again, and once
    # more right before each promotion (its AWSPENDING must still be there: not cancelled).
    assert proxy.calls[LIST] == 1
    assert proxy.calls[DESCRIBE] == 8
    assert proxy.calls[UVS] == 8  # AWSCURRENT moved, AWSPENDING removed: two per secret
    assert proxy.calls[TAG] == 8  # each resume's lease, then its record
    assert proxy.calls[PUT] == 0 and proxy.calls["secretsmanager.CreateSecret"] == 0
    assert proxy.calls["sts.GetCallerIdentity"] == 1
    # A second run finds nothing.
    proxy.reset_counts()
    again = cli("rotate", "--env", "dev", "--resume")
    assert again.code == 0, again.stderr
    assert "nothing pending under dev/: no rotation to resume" in again.stderr
    assert proxy.writes() == 0


def test_bulk_resume_keeps_the_previous_version_right_after_earlier_rotations(cli, sm) -> None:
    first = make(sm, "dev/db/password", "v1")
    second = str(sm.put_secret_value(SecretId="dev/db/password", SecretString="v2")["VersionId"])
    staged = leave_pending(sm, "dev/db/password", "v3")
    run = cli("rotate", "--env", "dev", "--resume")
    assert run.code == 0, run.stderr
    assert stages(sm, "dev/db/password") == {staged: ["AWSCURRENT"], second: ["AWSPREVIOUS"]}
    assert first not in stages(sm, "dev/db/password")  # unlabelled, as after any rotation
    assert version_count(sm, "dev/db/password") == 3
    assert value_of(sm, "dev/db/password") == "v3"
    assert "1 resumed, 0 failed, 0 left alone under dev/" in run.stderr


def test_bulk_cancel_drops_the_pending_labels_and_keeps_current(cli, sm, proxy) -> None:
    state = half_done(sm, 6, 3)
    originals, staged = state["originals"], state["staged"]
    proxy.reset_counts()
    run = cli("rotate", "--env", "dev", "--cancel", "--json")
    assert run.code == 0, run.stderr
    out = run.json()
    assert out == {
        "cancelled": [
            {
                "name": name,
                "action": "cancelled",
                "pending_version_id": staged[name],
                "version_id": originals[name],
            }
            for name in sorted(staged)
        ],
        "failed": [],
        "left_alone": [],
    }
    for name, original in originals.items():
        assert stages(sm, name) == {original: ["AWSCURRENT"]}
        assert value_of(sm, name) == f"old-{int(name[-2:])}"
    assert proxy.calls[UVS] == 3
    # A cancel changes no value: no record, so no identity lookup and no tag.
    assert proxy.calls[TAG] == 0 and proxy.calls["sts.GetCallerIdentity"] == 0
    assert proxy.calls[PUT] == 0


def test_plan_table_shows_versions_and_action(cli, sm) -> None:
    state = half_done(sm, 3, 2)
    run = cli("rotate", "--env", "dev", "--cancel")
    assert run.code == 0, run.stderr
    lines = [line.split("\t") for line in run.stdout.splitlines()]
    assert lines[0] == ["NAME", "PENDING VERSION", "CURRENT VERSION", "PLAN"]
    assert lines[1:] == [
        [name, state["staged"][name], state["originals"][name], "cancel: drop AWSPENDING"]
        for name in sorted(state["staged"])
    ]
    assert "2 cancelled, 0 failed, 0 left alone under dev/" in run.stderr


def test_bulk_recovery_in_a_protected_environment_needs_yes(cli, sm, proxy, aws_env) -> None:
    write_config(aws_env, PROTECTED)
    state = half_done(sm, 3, 2, "prod/api")
    before = {name: stages(sm, name) for name in state["originals"]}
    for flag in ("--resume", "--cancel"):
        proxy.reset_counts()
        run = cli("rotate", "--env", "prod", flag)
        assert run.code == 4, run.stderr
        errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "'prod' is a protected environment" in errors[0]
        assert "--yes" in run.stderr
        # The plan was shown; not one label moved.
        assert [line.split("\t")[0] for line in run.stdout.splitlines()[1:]] == sorted(
            state["staged"]
        )
        assert proxy.calls[UVS] == 0 and proxy.writes() == 0
        assert {name: stages(sm, name) for name in state["originals"]} == before
    run = cli("rotate", "--env", "prod", "--resume", "--yes")
    assert run.code == 0, run.stderr
    for name, pending in state["staged"].items():
        assert_resumed(sm, name, state["originals"][name], pending)


def test_prefix_scopes_bulk_recovery(cli, sm) -> None:
    api = half_done(sm, 3, 2, "dev/api")
    db = half_done(sm, 2, 2, "dev/db")
    db_before = {name: stages(sm, name) for name in db["originals"]}
    run = cli("rotate", "--env", "dev", "--prefix", "api/", "--cancel", "--json")
    assert run.code == 0, run.stderr
    assert [c["name"] for c in run.json()["cancelled"]] == sorted(api["staged"])
    assert {name: stages(sm, name) for name in db["originals"]} == db_before
    # The environment may be repeated in --prefix.
    run = cli("rotate", "--env", "dev", "--prefix", "dev/db", "--resume", "--json")
    assert run.code == 0, run.stderr
    assert [r["name"] for r in run.json()["resumed"]] == sorted(db["staged"])


def test_nothing_pending_says_so_and_writes_nothing(cli, sm, proxy) -> None:
    seed(sm, 3)
    for flag in ("--resume", "--cancel"):
        proxy.reset_counts()
        run = cli("rotate", "--env", "dev", flag)
        assert run.code == 0, run.stderr
        assert f"nothing pending under dev/: no rotation to {flag[2:]}" in run.stderr
        assert run.stdout == ""
        assert proxy.writes() == 0
    run = cli("rotate", "--env", "dev", "--resume", "--json")
    assert run.json() == {"resumed": [], "failed": [], "left_alone": []}


def test_bulk_resume_through_5xx_finishes_each_exactly_once(cli, sm, proxy) -> None:
    state = half_done(sm, 30, 20)
    proxy.aws_quotas()
    proxy.faults.latency = 0.002
    proxy.faults.error_rate = 0.05
    proxy.faults.only = {UVS, TAG, DESCRIBE, LIST, "secretsmanager.ListSecretVersionIds"}
    proxy.reset_counts()
    run = cli("rotate", "--env", "dev", "--resume", "--json", "--concurrency", "8")
    assert run.code == 0, run.stderr
    out = run.json()
    assert [r["name"] for r in out["resumed"]] == sorted(state["staged"])
    assert out["failed"] == []
    for name, pending in state["staged"].items():
        assert_resumed(sm, name, state["originals"][name], pending)
    # 5xx answers are not forwarded: each label move and each record reached AWS once.
    assert proxy.forwarded[UVS] == 40
    assert proxy.forwarded[TAG] == 40  # each resume's lease, then its record
    assert proxy.forwarded[PUT] == 0
    assert sum(proxy.injected.values()) > 0


def test_bulk_cancel_through_5xx_and_lost_replies_ends_clean(cli, sm, proxy) -> None:
    state = half_done(sm, 20, 12)
    proxy.faults.error_rate = 0.05
    proxy.faults.lose_reply_rate = 0.2
    proxy.faults.only = {UVS, DESCRIBE}
    proxy.faults.lose_reply_actions = {UVS}
    proxy.reset_counts()
    run = cli("rotate", "--env", "dev", "--cancel", "--json")
    assert run.code == 0, run.stderr
    assert len(run.json()["cancelled"]) == 12
    # A retried removal whose first attempt went through is recognised from the labels.
    assert proxy.injected[f"lose {UVS}"] > 0
    for name, original in state["originals"].items():
        assert stages(sm, name) == {original: ["AWSCURRENT"]}


def test_bulk_resume_verifies_each_and_one_failure_does_not_stop_the_rest(cli, sm) -> None:
    originals = seed(sm, 4)
    names = sorted(originals)
    staged = {
        name: leave_pending(sm, name, "good" if i % 2 else "bad") for i, name in enumerate(names)
    }
    run = cli("rotate", "--env", "dev", "--resume", "--verify-cmd", "grep -qx good", "--json")
    assert run.code == 1
    out = run.json()
    assert [r["name"] for r in out["resumed"]] == names[1::2]
    assert all(r["verified"] for r in out["resumed"])
    assert [f["name"] for f in out["failed"]] == names[0::2]
    assert all("verification failed" in f["error"]["message"] for f in out["failed"])
    for name in names[1::2]:
        assert_resumed(sm, name, originals[name], staged[name])
    for name in names[0::2]:  # still pending, AWSCURRENT untouched: ready for --cancel
        assert stages(sm, name) == {originals[name]: ["AWSCURRENT"], staged[name]: ["AWSPENDING"]}
    assert '"error"' in run.stderr and "2 of 4 resumes failed" in run.stderr


def test_a_secret_set_by_hand_after_the_crash_is_refused_like_one_resume(cli, sm, proxy) -> None:
    """`secrets set` after the crash moved AWSCURRENT past the pending version: promoting the
    older staged value would undo the newer one. moto dates every version "now" in
    ListSecretVersionIds, so the proxy answers with the dates AWS would give."""
    first = make(sm, "dev/api/a", "old")
    stale = leave_pending(sm, "dev/api/a", "staged")
    newer = str(sm.put_secret_value(SecretId="dev/api/a", SecretString="by-hand")["VersionId"])
    b_old = make(sm, "dev/api/b", "old")
    b_staged = leave_pending(sm, "dev/api/b", "staged-b")
    a_before = stages(sm, "dev/api/a")
    versions = [
        {"VersionId": stale, "VersionStages": ["AWSPENDING"], "CreatedDate": 1_700_000_000},
        {"VersionId": newer, "VersionStages": ["AWSCURRENT"], "CreatedDate": 1_700_000_600},
    ]
    # Every ListSecretVersionIds gets this answer; b's versions are not in it, so b's dates
    # are unknown and b resumes as usual. (No Name: a reply naming dev/api/a to a request
    # about dev/api/b is refused by the reply checks.)
    proxy.answer("secretsmanager.ListSecretVersionIds", json.dumps({"Versions": versions}).encode())
    run = cli("rotate", "--env", "dev", "--resume", "--json")
    assert run.code == 1
    out = run.json()
    assert [r["name"] for r in out["resumed"]] == ["dev/api/b"]
    [failure] = out["failed"]
    assert failure["name"] == "dev/api/a"
    assert failure["error"]["code"] == 4
    assert f"version {newer} is AWSCURRENT now" in failure["error"]["message"]
    assert "secrets rotate dev/api/a --cancel" in failure["error"]["hint"]
    assert stages(sm, "dev/api/a") == a_before
    assert value_of(sm, "dev/api/a") == "by-hand"
    assert_resumed(sm, "dev/api/b", b_old, b_staged)
    # The one failure's hint is the summary's hint.
    assert "secrets rotate dev/api/a --cancel" in json.loads(run.stderr)["error"]["hint"]
    # Cancel drops the stale version and keeps the newer value.
    proxy.canned.clear()
    assert cli("rotate", "--env", "dev", "--cancel").code == 0
    assert stages(sm, "dev/api/a") == {newer: ["AWSCURRENT"], first: ["AWSPREVIOUS"]}


def test_the_listing_is_checked_again_before_each_change(cli, sm, proxy) -> None:
    """ListSecrets is eventually consistent: a secret it still shows pending may have been
    finished meanwhile (left alone), or have another version pending (refused: not the plan
    that was confirmed). The proxy answers the listing as a lagging AWS would."""
    done_old = make(sm, "dev/api/done", "old")
    moved_old = make(sm, "dev/api/moved", "old")
    moved_now = leave_pending(sm, "dev/api/moved", "newer staged")
    listing = {
        "SecretList": [
            {"Name": "dev/api/done", "SecretVersionsToStages": {
                done_old: ["AWSCURRENT"], "11111111-1111-1111-1111-111111111111": ["AWSPENDING"]}},
            {"Name": "dev/api/moved", "SecretVersionsToStages": {
                moved_old: ["AWSCURRENT"], "22222222-2222-2222-2222-222222222222": ["AWSPENDING"]}},
        ]
    }  # fmt: skip
    proxy.answer(LIST, json.dumps(listing).encode())
    proxy.reset_counts()
    run = cli("rotate", "--env", "dev", "--resume", "--json")
    assert run.code == 1
    out = run.json()
    assert out["resumed"] == []
    assert out["left_alone"] == [
        {"name": "dev/api/done", "reason": f"no pending version; version {done_old} is AWSCURRENT"}
    ]
    [failure] = out["failed"]
    assert failure["name"] == "dev/api/moved"
    assert f"version {moved_now} is pending now" in failure["error"]["message"]
    assert proxy.calls[UVS] == 0
    assert stages(sm, "dev/api/moved") == {moved_old: ["AWSCURRENT"], moved_now: ["AWSPENDING"]}


def test_bulk_rotation_points_pending_failures_at_the_bulk_resume(cli, sm) -> None:
    make(sm, "dev/api/a", "text")
    make(sm, "dev/api/b", "text")
    leave_pending(sm, "dev/api/b", "half")
    run = cli("rotate", "--env", "dev", "--prefix", "api", "--older-than", "0", "--generate",
              "--yes", "--json")  # fmt: skip
    assert run.code == 1
    [failure] = run.json()["failed"]
    assert failure["error"]["code"] == 4
    assert "`secrets rotate --env dev --prefix api --resume`" in failure["error"]["hint"]
    plain = cli("rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes")
    assert plain.code == 1
    hint = next(line for line in plain.stderr.splitlines() if line.startswith("hint:"))
    assert "`secrets rotate --env dev --resume` finishes the rotations left pending" in hint
    # ... and that command does finish it.
    assert cli("rotate", "--env", "dev", "--resume").code == 0
    assert value_of(sm, "dev/api/b") == "half"


def test_bulk_recovery_flag_mistakes_are_usage_errors(cli, sm, proxy) -> None:
    half_done(sm, 2, 1)
    proxy.reset_counts()
    for args in (
        ["--resume", "--older-than", "3"],
        ["--cancel", "--verify-cmd", "true"],
        ["--resume", "--generate"],
        ["--cancel", "--field", "password"],
        ["--rollback"],
        ["--managed"],
        ["--resume", "--cancel"],
    ):
        run = cli("rotate", "--env", "dev", *args)
        assert run.code == 2, (args, run.stderr)
        assert run.stderr.count("error:") == 1, args
    assert proxy.count() == 0


def test_subprocess_bulk_resume(secrets_cmd, sm) -> None:
    state = half_done(sm, 2, 1)
    run = secrets_cmd(["rotate", "--env", "dev", "--resume", "--json"])
    assert run.code == 0, run.stderr
    [name] = state["staged"]
    assert [r["name"] for r in run.json()["resumed"]] == [name]
    assert_resumed(sm, name, state["originals"][name], state["staged"][name])


# -- a bulk run stopped by a signal (issue 18 item 16) ------------------------------------------
TWO_PASS_THEN_HANG = """
import os, sys, time
sys.stdin.buffer.read()
folder = sys.argv[1]
open(os.path.join(folder, str(os.getpid())), "w").close()
if len(os.listdir(folder)) <= 2:
    sys.exit(0)
time.sleep(60)
"""


@pytest.mark.parametrize(
    ("signum", "cause"), [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "Ctrl-C")]
)
def test_a_stopped_bulk_run_says_what_it_did_and_names_the_bulk_resume(
    sm, aws_env, signum: int, cause: str
) -> None:
    """Two verifications pass, the next two hang, the signal comes: two rotated, two left
    pending (their verify commands stopped), six not started; the hint names the bulk
    --resume and never "run the same command again", which with --older-than 0 would rotate
    the first two again."""
    originals = seed(sm, 10)
    folder = aws_env / "verifications"
    folder.mkdir()
    script = aws_env / "two_pass.py"
    script.write_text(TWO_PASS_THEN_HANG, encoding="utf-8")
    process = subprocess.Popen(
        [SECRETS_BIN, "rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes",
         "--concurrency", "2", "--verify-cmd", f"{sys.executable} {script} {folder}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        for _ in range(600):
            if len(list(folder.iterdir())) >= 4:
                break
            time.sleep(0.05)
        assert len(list(folder.iterdir())) == 4
        time.sleep(0.3)  # both hanging commands are past their start
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        for pidfile in folder.iterdir():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(pidfile.name), signal.SIGKILL)
        process.kill()
    stderr = err.decode()
    assert process.returncode == 130, stderr
    assert (
        f"interrupted ({cause}) under dev/: 2 rotated, 2 left pending, 0 failed, 6 not started"
        in stderr
    )
    assert "`secrets rotate --env dev --resume` finishes the 2 left pending" in stderr
    assert "--older-than 1" in stderr
    assert "run the same command again" not in stderr
    for pidfile in folder.iterdir():  # the hanging verify commands were stopped with us
        assert not _alive(int(pidfile.name))
    rotated = [n for n, v in originals.items() if holder(sm, n, "AWSCURRENT") != v]
    pending = [n for n in originals if holder(sm, n, "AWSPENDING") is not None]
    assert len(rotated) == 2 and len(pending) == 2
    assert f"rotated {rotated[0]}" in stderr
    resumed = subprocess.run(
        [SECRETS_BIN, "rotate", "--env", "dev", "--resume", "--json"],
        capture_output=True, check=False,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(r["name"] for r in json.loads(resumed.stdout)["resumed"]) == sorted(pending)


def test_a_stopped_bulk_run_names_in_json_the_version_each_rotation_left_pending(
    cli, sm, aws_env
) -> None:
    """Ctrl-C while a secret's verification runs: the `--json` row of that secret names the
    version it left AWSPENDING (`version_id`), the one `--resume` promotes or `--cancel`
    drops, as the rows of a run that was not stopped do."""
    import threading

    make(sm, "dev/api/key", "old")
    pidfile = aws_env / "verify.pid"

    def interrupt() -> None:
        for _ in range(2400):  # a ceiling for a run that never starts the command
            if pidfile.exists() and pidfile.read_text().strip():
                break
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends; the run is in the main thread

    thread = threading.Thread(target=interrupt, daemon=True)
    thread.start()
    run = cli("rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes", "--json",
              "--verify-cmd", f"echo $$ > {pidfile}; sleep 600")  # fmt: skip
    thread.join(timeout=120)
    with contextlib.suppress(ProcessLookupError, ValueError):
        os.killpg(int(pidfile.read_text().strip()), signal.SIGKILL)
    assert run.code == 130, run.stderr
    pending = holder(sm, "dev/api/key", "AWSPENDING")
    assert pending is not None
    [row] = json.loads(run.stdout)["failed"]
    assert (row["name"], row["step"], row["version_id"]) == ("dev/api/key", "verify", pending)
    assert row["error"]["code"] == 130


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


DESCRIBE = "secretsmanager.DescribeSecret"
FAIL_500 = "fail:InternalServiceError:500:boom"


def test_after_a_failure_the_hint_retries_only_the_failed_secret(cli, sm, proxy) -> None:
    """One secret's PutSecretValue keeps failing: the hint names that secret's own command,
    never "run the same command again" (with --older-than 0 that rotated every secret again,
    and the originals lost their AWSPREVIOUS). Following the hint rotates that one alone."""
    originals = seed(sm, 4)
    proxy.script(PUT, *[FAIL_500] * 2)  # the first secret's write, both attempts
    bulk = ("rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes")
    run = cli(*bulk, "--concurrency", "1", env={"AWS_MAX_ATTEMPTS": "2"})
    assert run.code == 1, run.stderr
    assert "run the same command again" not in run.stderr
    failed = "dev/api/key-00"
    assert f"{failed}: stage failed" in run.stderr and "(nothing changed)" in run.stderr
    hint = next(line for line in run.stderr.splitlines() if line.startswith("hint:"))
    assert f"`secrets rotate {failed} --generate`" in hint
    for other in ("key-01", "key-02", "key-03"):
        assert other not in hint
    assert cli("rotate", failed, "--generate").code == 0
    for name, original in originals.items():
        assert_rotated_once(sm, name, original)  # each AWSPREVIOUS still the original


def test_each_failure_in_the_json_report_names_its_own_command(cli, sm, proxy) -> None:
    """The finding: `failed[].error.hint` kept the generic "run the command again" (a script
    following it rotates again every secret that succeeded), and `version_id` named the
    version the failed write would have made, which does not exist."""
    seed(sm, 3)
    proxy.script(PUT, *[FAIL_500] * 2)  # the first secret's write, both attempts
    bulk = ("rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes", "--json")
    run = cli(*bulk, "--concurrency", "1", env={"AWS_MAX_ATTEMPTS": "2"})
    assert run.code == 1 and run.stdout, run.stderr + run.stdout
    [failure] = run.json()["failed"]
    assert failure["name"] == "dev/api/key-00" and failure["state"] == "unchanged"
    assert failure["version_id"] is None
    versions = sm.list_secret_version_ids(SecretId="dev/api/key-00")["Versions"]
    assert len(versions) == 1
    hint = failure["error"]["hint"]
    assert "command again" not in hint
    assert "retry this secret alone: `secrets rotate dev/api/key-00 --generate`" in hint
    assert "key-01" not in hint and "key-02" not in hint, hint


def test_after_failed_verifications_the_bulk_hint_names_cancel_then_a_verified_resume(
    cli, sm
) -> None:
    """The finding: a bulk rotation whose verifications failed pointed at a plain
    `--resume`, which promotes the values that failed. The summary and each failure name
    `--cancel` first and a `--resume` with the same verify command."""
    seed(sm, 2)
    run = cli("rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes", "--json",
              "--verify-cmd", "false")  # fmt: skip
    assert run.code == 1
    summary = json.loads(run.stderr.strip().splitlines()[-1])["error"]["hint"]
    assert summary == (
        "`secrets rotate --env dev --cancel` drops the values left pending (dev/api/key-00, "
        "dev/api/key-01 failed verification); `secrets rotate --env dev --resume --verify-cmd "
        "false` verifies them again and promotes only those that pass"
    )
    for failure in run.json()["failed"]:
        name, hint = failure["name"], failure["error"]["hint"]
        assert failure["state"] == "pending" and failure["step"] == "verify"
        assert f"`secrets rotate {name} --cancel` drops it; " in hint
        assert f"`secrets rotate {name} --resume --verify-cmd false` verifies it again" in hint
        assert "--resume` promotes" not in hint
    again = cli("rotate", "--env", "dev", "--resume", "--verify-cmd", "false", "--yes")
    assert again.code == 1
    assert holder(sm, "dev/api/key-00", "AWSPENDING") is not None


def test_a_failed_promotion_that_did_move_current_is_reported_as_such(cli, sm, proxy) -> None:
    """The promotion's reply is lost, its retry fails and the labels cannot be read at that
    moment: the rotation fails, yet AWSCURRENT moved. The labels are read again after the
    run: the failure says the new value IS current, and no retry is offered for it."""
    original = make(sm, "dev/p", "old")
    proxy.script(UVS, "lose", FAIL_500)
    # The plan and the promotion's own check read; the checks after the lost move fail.
    proxy.script(DESCRIBE, "forward", "forward", *[FAIL_500] * 4)
    run = cli("rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes", "--json",
              env={"AWS_MAX_ATTEMPTS": "2"})  # fmt: skip
    assert run.code == 1
    [failure] = run.json()["failed"]
    now = holder(sm, "dev/p", "AWSCURRENT")
    assert now != original
    assert failure["state"] == "promoted" and failure["version_id"] == now
    assert failure["step"] == "promote"  # the step that failed, though its move went through
    error = json.loads(run.stderr.strip().splitlines()[-1])["error"]
    assert "dev/p did rotate" in error["hint"] and "secrets rotate dev/p" not in error["hint"]


def test_a_failure_whose_labels_cannot_be_read_is_unknown_not_failed(cli, sm, proxy) -> None:
    make(sm, "dev/p", "old")
    proxy.script(UVS, "lose", FAIL_500)
    proxy.script(DESCRIBE, "forward", "forward", *[FAIL_500] * 6)  # the check after the run too
    run = cli("rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes",
              env={"AWS_MAX_ATTEMPTS": "2"})  # fmt: skip
    assert run.code == 1
    assert "state unknown" in run.stderr
    hint = next(line for line in run.stderr.splitlines() if line.startswith("hint:"))
    assert "the state of dev/p is unknown" in hint
    assert "secrets rotate dev/p --generate" not in hint
