"""Bulk rotation: `secrets rotate --env ENV --older-than DAYS [--prefix P] --generate`.

Through the fault proxy with AWS's write quotas and injected 5xx: every secret rotated exactly
once, none left pending. Secrets are made with boto3 straight to the emulator (the `sm`
client is created before the proxy), so set-up calls are not counted.
"""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import write_config
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
    # Tighter than AWS's 50/s so that throttling certainly happens at the emulator's pace.
    proxy.throttle(UVS, 20)
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
    assert proxy.forwarded[TAG] == 50
    assert sum(proxy.injected.values()) > 0
    assert sum(proxy.throttled.values()) > 0
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
