"""Bulk rotation of a mixed set declared in secrets.toml `[rotation]` (issue 13): RDS
instances and a cluster, IAM users' keys, apply commands, and plain secrets rotated with
--generate; each with its own apply step, targets of one kind on a bounded pool, each
failure reported with its step, and, under throttling, 5xx answers and lost replies, nothing
lost: every secret ends rotated or in a state that `--env ENV --resume` finishes, with the
target holding exactly the value AWSCURRENT holds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.conftest import aws_client, write_config
from tests.test_rotate import make, stages, value_of
from tests.test_rotate_rds import MODIFY, MODIFY_CLUSTER, make_cluster, make_instance

APPLY = """
import json, os, sys
log, fail = sys.argv[1], sys.argv[2]
payload = json.load(sys.stdin)
with open(log, "a") as f:
    f.write(json.dumps(payload) + "\\n")
failing = open(fail).read().split() if os.path.exists(fail) else []
sys.exit(1 if payload["name"] in failing else 0)
"""

RDS = ["db/orders-a", "db/orders-b", "db/orders-c"]
IAM = ["ci/deployer-a", "ci/deployer-b"]
COMMANDS = ["api/partner-a", "api/partner-b"]
PLAIN = ["plain/key-a", "plain/key-b"]
CLUSTER = "db/aurora"


class Mixed:
    """The mixed set: its secrets, targets and the apply command's log."""

    def __init__(self, work: Path, sm: Any) -> None:
        script = work / "apply.py"
        script.write_text(APPLY, encoding="utf-8")
        self.log = work / "applied.jsonl"
        self.fail_file = work / "fail-these"
        command = f"{sys.executable} {script} {self.log} {self.fail_file}"
        entries = [f'"{path}" = {{ target = "rds:{path[3:]}-{{env}}" }}' for path in RDS]
        entries.append(f'"{CLUSTER}" = {{ target = "rds-cluster:aurora-{{env}}" }}')
        entries += [f'"{path}" = {{ target = "iam-user:{path[3:]}-{{env}}" }}' for path in IAM]
        entries += [
            f'"{path}" = {{ apply_cmd = "{command}", generate = {{ length = 24 }} }}'
            for path in COMMANDS
        ]
        write_config(work, "[environments.dev]\n\n[rotation]\n" + "\n".join(entries) + "\n")
        for path in RDS:
            make_instance(f"{path[3:]}-dev")
            make(sm, f"dev/{path}", json.dumps({"username": "admin", "password": "old-pass-1"}))
        make_cluster("aurora-dev")
        make(sm, f"dev/{CLUSTER}", "old-pass-1")
        iam = aws_client("iam")
        for path in IAM:
            user = f"{path[3:]}-dev"
            iam.create_user(UserName=user)
            key = iam.create_access_key(UserName=user)["AccessKey"]
            make(
                sm,
                f"dev/{path}",
                json.dumps({k: key[k] for k in ("AccessKeyId", "SecretAccessKey")}),
            )
        for path in COMMANDS + PLAIN:
            make(sm, f"dev/{path}", "old-value-1")

    def names(self) -> list[str]:
        return sorted(f"dev/{p}" for p in [*RDS, CLUSTER, *IAM, *COMMANDS, *PLAIN])

    def applied(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def fail(self, *names: str) -> None:
        self.fail_file.write_text(" ".join(names), encoding="utf-8")


def assert_targets_hold_current(sm: Any, proxy: Any, mixed: Mixed) -> None:
    """Each target was last given exactly the value AWSCURRENT holds; nothing is pending."""
    modified: dict[str, Any] = {}
    for request in proxy.requests(MODIFY):
        modified[request["DBInstanceIdentifier"]] = request["MasterUserPassword"]
    for path in RDS:
        password = json.loads(value_of(sm, f"dev/{path}"))["password"]
        assert modified[f"{path[3:]}-dev"] == password, path
    cluster = [r["MasterUserPassword"] for r in proxy.requests(MODIFY_CLUSTER)]
    assert cluster[-1] == value_of(sm, f"dev/{CLUSTER}")
    iam = aws_client("iam")
    for path in IAM:
        current = json.loads(value_of(sm, f"dev/{path}"))["AccessKeyId"]
        keys = iam.list_access_keys(UserName=f"{path[3:]}-dev")["AccessKeyMetadata"]
        status = {key["AccessKeyId"]: key["Status"] for key in keys}
        assert status[current] == "Active", path
        assert len(status) <= 2
        assert sum(s == "Active" for s in status.values()) == 1, path
    last: dict[str, str] = {}
    for payload in mixed.applied():
        last[payload["name"]] = payload["pending"]
    for path in COMMANDS:
        assert last[f"dev/{path}"] == value_of(sm, f"dev/{path}"), path
    for name in mixed.names():
        assert all("AWSPENDING" not in labels for labels in stages(sm, name).values()), name


def test_each_secret_rotates_as_its_plan_says(cli, sm, proxy, aws_env) -> None:
    mixed = Mixed(aws_env, sm)
    proxy.record(MODIFY, MODIFY_CLUSTER)
    run = cli("rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes", "--json")
    assert run.code == 0, run.stderr
    report = run.json()
    applied = {row["name"]: row["applied_to"] for row in report["rotated"]}
    assert sorted(applied) == mixed.names()
    assert applied["dev/db/orders-a"] == "rds:orders-a-dev"
    assert applied["dev/db/aurora"] == "rds-cluster:aurora-dev"
    assert applied["dev/ci/deployer-b"] == "iam-user:deployer-b-dev"
    assert applied["dev/api/partner-a"] == "command"
    assert applied["dev/plain/key-a"] is None
    assert report["failed"] == [] and report["skipped"] == []
    assert len(value_of(sm, "dev/api/partner-a")) == 24  # the plan's generate
    assert len(value_of(sm, "dev/plain/key-a")) == 32  # --generate's default
    assert_targets_hold_current(sm, proxy, mixed)


def test_plan_table_names_each_target(cli, sm, aws_env) -> None:
    Mixed(aws_env, sm)
    run = cli("rotate", "--env", "dev", "--older-than", "0")  # no --generate, no terminal
    assert run.code == 4  # confirmation needed
    lines = [line.split("\t") for line in run.stdout.splitlines()]
    assert lines[0] == ["NAME", "LAST CHANGED", "APPLY TO", "PLAN"]
    rows = {line[0]: (line[2], line[3]) for line in lines[1:]}
    assert rows["dev/db/orders-a"] == ("rds:orders-a-dev", "rotate")
    assert rows["dev/ci/deployer-a"] == ("iam-user:deployer-a-dev", "rotate")
    assert rows["dev/api/partner-b"] == ("command", "rotate")
    # Without --generate, a secret with no plan has nothing to rotate to.
    assert rows["dev/plain/key-a"] == (
        "-",
        "skip: no rotation plan in secrets.toml, and no --generate",
    )


def test_failures_name_their_step_and_resume_finishes_them(cli, sm, proxy, aws_env) -> None:
    mixed = Mixed(aws_env, sm)
    proxy.record(MODIFY, MODIFY_CLUSTER)
    proxy.script(MODIFY, "fail:InvalidDBInstanceState")  # the first RDS instance's apply
    mixed.fail("dev/api/partner-b")
    run = cli("rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes", "--json")
    assert run.code == 1
    report = run.json()
    failed = {row["name"]: row["step"] for row in report["failed"]}
    assert list(failed.values()) == ["apply", "apply"]
    assert "dev/api/partner-b" in failed
    assert len(report["rotated"]) == len(mixed.names()) - 2
    for name in failed:
        current = stages(sm, name)
        assert any("AWSPENDING" in labels for labels in current.values()), name
    # The bulk resume finishes them, each with its plan's apply step.
    mixed.fail()
    resumed = cli("rotate", "--env", "dev", "--resume")  # dev is not protected: no question
    assert resumed.code == 0, resumed.stderr
    header = resumed.stdout.splitlines()[0].split("\t")
    assert header == ["NAME", "PENDING VERSION", "CURRENT VERSION", "APPLY TO", "PLAN"]
    rows = {line.split("\t")[0]: line.split("\t")[3] for line in resumed.stdout.splitlines()[1:]}
    [database] = [name for name in failed if name.startswith("dev/db/")]  # whichever was first
    assert rows == {"dev/api/partner-b": "command", database: f"rds:{database[7:]}-dev"}
    assert "2 resumed, 0 failed" in resumed.stderr
    assert_targets_hold_current(sm, proxy, mixed)


def test_the_failed_step_is_told(cli, sm, aws_env) -> None:
    mixed = Mixed(aws_env, sm)
    mixed.fail("dev/api/partner-a")
    run = cli("rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes")
    assert run.code == 1
    assert "dev/api/partner-a: apply failed: the apply command failed" in run.stderr


def test_under_throttling_5xx_and_lost_replies_nothing_is_lost(cli, sm, proxy, aws_env) -> None:
    mixed = Mixed(aws_env, sm)
    before = {name: len(sm.list_secret_version_ids(SecretId=name)["Versions"]) for name in
              mixed.names()}  # fmt: skip
    proxy.record(MODIFY, MODIFY_CLUSTER)
    proxy.aws_quotas()
    proxy.throttle_shared({MODIFY, MODIFY_CLUSTER, "rds.DescribeDBInstances",
                           "rds.DescribeDBClusters"}, 12, burst=300)  # fmt: skip
    proxy.faults.error_rate = 0.15
    proxy.faults.lose_reply_rate = 0.15
    # Lost replies where a retry is safe by AWS's rules: idempotent writes (client tokens,
    # label moves that are checked). A lost CreateAccessKey reply makes a key whose secret
    # nobody has (IAM's own rule), which the next rotation refuses with a hint.
    proxy.faults.lose_reply_actions = {
        "secretsmanager.PutSecretValue",
        "secretsmanager.UpdateSecretVersionStage",
        "secretsmanager.TagResource",
        MODIFY,
        MODIFY_CLUSTER,
    }
    run = cli("rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes", "--json",
              "--concurrency", "6")  # fmt: skip
    assert run.code in (0, 1), run.stderr
    report = run.json()
    done = {row["name"] for row in report["rotated"]} | {row["name"] for row in report["failed"]}
    assert done == set(mixed.names())  # every secret reported, once
    assert sum(proxy.injected.values()) > 0 and sum(proxy.throttled.values()) >= 0
    # Whatever failed is finished by the bulk resume (faults still on; run until settled).
    for _ in range(3):
        resumed = cli("rotate", "--env", "dev", "--resume", "--yes", "--json")
        if resumed.code == 0:
            break
    assert resumed.code == 0, resumed.stderr
    proxy.faults.error_rate = proxy.faults.lose_reply_rate = 0
    for name in mixed.names():
        versions = sm.list_secret_version_ids(SecretId=name)["Versions"]
        assert len(versions) == before[name] + 1, f"{name}: one new version, none lost or doubled"
    assert_targets_hold_current(sm, proxy, mixed)


def test_targets_of_one_kind_run_on_a_bounded_pool(cli, sm, proxy, aws_env) -> None:
    """Ten RDS secrets, --concurrency 16: at most 8 ModifyDBInstance calls are under way at
    once. The proxy holds each call until a ninth arrives; with the bound, none ever does, so
    the held calls are released by the hold's timeout (counted), not by a ninth arrival."""
    from envsecrets.core.rotation_bulk import KIND_CONCURRENCY

    bound = KIND_CONCURRENCY["rds"]
    paths = [f"db/orders-{i}" for i in range(bound + 2)]
    write_config(aws_env, "[environments.dev]\n[rotation]\n" + "\n".join(
        f'"{p}" = {{ target = "rds:{p[3:]}-{{env}}" }}' for p in paths) + "\n")  # fmt: skip
    for path in paths:
        make_instance(f"{path[3:]}-dev")
        make(sm, f"dev/{path}", "old-pass-1")
    proxy.hold(MODIFY, after=0, until=MODIFY, count=bound + 1, timeout=5)
    run = cli("rotate", "--env", "dev", "--older-than", "0", "--yes", "--json",
              "--concurrency", "16")  # fmt: skip
    assert run.code == 0, run.stderr
    assert len(run.json()["rotated"]) == len(paths)
    # The first calls waited for a ninth that the pool did not let start while they were
    # under way (without the bound, all ten start at once and none waits out the hold).
    assert proxy.hold_timeouts[MODIFY] >= 1
