"""`secrets migrate ssm` when the network and AWS misbehave: throttling at AWS's quotas, 5xx,
dropped connections, lost replies, a SIGKILL mid-run. Nothing lost, nothing duplicated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from tests.conftest import REGION, SECRETS_BIN, write_config

CANARY = "canary-Fk2mQ7wRz9"
CREATE = "secretsmanager.CreateSecret"
PUT = "secretsmanager.PutSecretValue"


def direct(service: str, moto_url: str) -> Any:
    """A client that bypasses the proxy: set-up and checks are not under test."""
    return boto3.client(service, region_name=REGION, endpoint_url=moto_url)  # type: ignore[call-overload]


def put_tree(moto_url: str, root: str, count: int) -> dict[str, str]:
    ssm = direct("ssm", moto_url)
    values = {
        f"{root}/group{n % 7}/param-{n:04d}": f"{CANARY}-{n}-" + "v" * (n % 50)
        for n in range(count)
    }

    def put(name: str) -> None:
        ssm.put_parameter(Name=name, Value=values[name], Type="SecureString")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(put, values))
    return values


def check_targets(moto_url: str, root: str, prefix: str, values: dict[str, str]) -> None:
    """Every value correct and exactly one version per secret."""
    sm = direct("secretsmanager", moto_url)
    expected = {prefix + name.removeprefix(root + "/"): value for name, value in values.items()}
    names = sorted(expected)
    for start in range(0, len(names), 20):
        chunk = names[start : start + 20]
        got = sm.batch_get_secret_value(SecretIdList=chunk)
        assert not got.get("Errors"), got.get("Errors")
        for entry in got["SecretValues"]:
            assert entry["SecretString"] == expected[entry["Name"]]
    paginator = sm.get_paginator("list_secrets")
    listed = [s for page in paginator.paginate() for s in page["SecretList"]]
    assert sorted(s["Name"] for s in listed) == names
    for secret in listed:
        # VersionIdsToStages lists every version that still carries a label; a second
        # version (even one that only ended up AWSPREVIOUS) would show here.
        assert len(secret["SecretVersionsToStages"]) == 1, secret["Name"]


def migrate_planned_first(path: str, to: str) -> dict[str, Any]:
    """The plan-then-apply order (what a confirmation gets) through the Python API, set up as
    the command sets it up: paced at AWS's quotas, 8 writers, 8 connections."""
    from envsecrets.backends.aws import AwsTarget
    from envsecrets.backends.quotas import RateLimiter
    from envsecrets.backends.secretsmanager import SecretsManagerStore
    from envsecrets.backends.ssm import SsmSource
    from envsecrets.core.migration import (
        apply_migration,
        plan_migration,
        target_prefix,
        verify_migration,
    )

    target = AwsTarget(label="dev", limiter=RateLimiter.for_writes())
    store = SecretsManagerStore(target, bulk=True, pool=8)
    source = SsmSource(target, path, recursive=True, pool=8)
    plan = plan_migration(source, store, target_prefix(to), overwrite=False)
    result = verify_migration(apply_migration(plan, store, source), store)
    return {"plan": plan.as_dict(), "result": result.as_dict()}


@pytest.mark.parametrize("order", ["streamed", "planned first"])
def test_500_parameters_through_quotas_5xx_drops_and_lost_replies(
    cli, proxy, moto_url: str, order: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from envsecrets.backends.quotas import RateLimiter

    # Every attempt the proxy sees must have waited its turn at the limiter (a spy: it counts
    # and waits as before). Counting is what a loaded machine cannot change; how many
    # attempts AWS's quota throttles depends on how the threads were scheduled.
    asked: Counter[str] = Counter()
    acquire = RateLimiter.acquire

    def counted(self: RateLimiter, name: str) -> None:
        asked[name] += 1
        acquire(self, name)

    monkeypatch.setattr(RateLimiter, "acquire", counted)
    values = put_tree(moto_url, "/big", 500)
    proxy.aws_quotas()
    proxy.faults.error_rate = 0.05
    proxy.faults.drop_rate = 0.02
    proxy.faults.lose_reply_rate = 0.02
    if order == "streamed":  # dev is not protected: nothing to confirm, so the command streams
        run = cli("migrate", "ssm", "/big", "--to", "dev/big", "--recursive", "--json")
        assert run.code == 0, run.stderr
        assert CANARY not in run.stdout + run.stderr
        document = run.json()
    else:
        document = migrate_planned_first("/big", "dev/big")
    assert CANARY not in json.dumps(document)
    assert sorted(item["source"] for item in document["plan"]["items"]) == sorted(values)
    counts = document["result"]["counts"]
    assert counts["created"] == 500 and counts["verified"] == 500
    assert sum(n for key, n in proxy.injected.items() if key.startswith("lose")) > 0
    assert sum(n for key, n in proxy.injected.items() if key.startswith("error")) > 0
    check_targets(moto_url, "/big", "dev/big/", values)
    # The limiter paces every attempt, retries of the injected faults (~9% of writes)
    # included: without it 8 workers would send ~180/s and be throttled hundreds of times.
    # None of it would reach the user (asserted above), but it would waste calls and time.
    # That it keeps to the rate is test_rate_limiter_keeps_calls_under_the_quota's (a fake
    # clock); here, that every CreateSecret attempt went through it.
    assert asked[CREATE] == proxy.calls[CREATE] > 500

    proxy.faults.error_rate = proxy.faults.drop_rate = proxy.faults.lose_reply_rate = 0
    proxy.reset_counts()
    again = cli("migrate", "ssm", "/big", "--to", "dev/big", "--recursive", "--json")
    assert again.code == 0, again.stderr
    assert again.json()["plan"]["counts"]["unchanged"] == 500
    assert proxy.writes() == 0
    assert proxy.count("secretsmanager.BatchGetSecretValue") == 25  # 500 / 20


def test_overwrite_with_lost_put_replies_makes_one_new_version_each(
    cli, proxy, moto_url: str
) -> None:
    values = put_tree(moto_url, "/ow", 20)
    sm = direct("secretsmanager", moto_url)
    for name in values:
        sm.create_secret(Name="dev/ow/" + name.removeprefix("/ow/"), SecretString="old")
    proxy.lose_first(PUT, 10)
    run = cli("migrate", "ssm", "/ow", "--to", "dev/ow", "-r", "--overwrite", "--json")
    assert run.code == 0, run.stderr
    assert proxy.injected[f"lose {PUT}"] == 10
    for name, value in values.items():
        target = "dev/ow/" + name.removeprefix("/ow/")
        versions = sm.list_secret_version_ids(SecretId=target)["Versions"]
        assert len(versions) == 2, target  # "old" and exactly one new one
        got = sm.get_secret_value(SecretId=target, VersionStage="AWSCURRENT")
        assert got["SecretString"] == value


def test_sigkill_mid_migration_then_run_again(proxy, moto_url: str) -> None:
    values = put_tree(moto_url, "/kill", 80)
    sm = direct("secretsmanager", moto_url)
    proxy.faults.latency = 0.05  # slow enough to be caught half-way
    args = [SECRETS_BIN, "migrate", "ssm", "/kill", "--to", "dev/kill", "-r"]
    env = dict(os.environ)
    victim = subprocess.Popen(
        [*args, "--concurrency", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len(sm.list_secrets(MaxResults=100)["SecretList"]) >= 20:
                break
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
    finally:
        victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    created = sum(len(page["SecretList"]) for page in sm.get_paginator("list_secrets").paginate())
    assert 0 < created < 80  # killed half-way

    proxy.faults.latency = 0
    again = subprocess.run([*args, "--json"], env=env, capture_output=True, timeout=120)
    assert again.returncode == 0, again.stderr[-500:]
    assert CANARY.encode() not in again.stdout + again.stderr
    check_targets(moto_url, "/kill", "dev/kill/", values)


def test_streamed_migration_writes_while_the_listing_goes_on(
    cli, proxy, moto_url: str, aws_env
) -> None:
    """`--yes` on a protected environment needs no question, so the command streams: the
    proxy holds every listing page after the 6th until a CreateSecret has arrived. Six pages
    (60 items) fill three batch reads and one chunk of descriptions, after which the writes
    begin; a migration that lists everything first would wait out the hold."""
    write_config(aws_env, '[environments.prod]\nregion = "us-east-1"\nprotected = true\n')
    values = put_tree(moto_url, "/held", 120)
    proxy.reset_counts()
    proxy.hold("ssm.GetParametersByPath", after=6, until=CREATE)
    report = aws_env / "report.json"
    run = cli(
        "migrate", "ssm", "/held", "--to", "prod/held", "-r", "--yes", "--json",
        "--report", str(report),
    )  # fmt: skip
    assert run.code == 0, run.stderr
    assert proxy.hold_timeouts["ssm.GetParametersByPath"] == 0
    # 120 / 10: every page once (the emulator may end with an empty page, as AWS may)
    assert proxy.count("ssm.GetParametersByPath") <= 13
    document = run.json()
    assert json.loads(report.read_text()) == document  # the full plan and result, as before
    assert sorted(item["source"] for item in document["plan"]["items"]) == sorted(values)
    assert document["plan"]["counts"]["create"] == 120
    assert document["result"]["counts"]["verified"] == 120
    check_targets(moto_url, "/held", "prod/held/", values)
    # Calls as when the plan came first: a BatchGetSecretValue per 20 targets read, and per
    # 20 written secrets read back; each write once.
    assert proxy.count("secretsmanager.BatchGetSecretValue") == 6 + 6
    assert proxy.calls[CREATE] == 120


def test_ctrl_c_during_a_streamed_migration_then_run_again(proxy, moto_url: str) -> None:
    """SIGINT while items are being listed, planned and written at once: exit 130 (no hang,
    no traceback), and a second run settles everything, one version each."""
    values = put_tree(moto_url, "/int", 80)
    sm = direct("secretsmanager", moto_url)
    proxy.faults.latency = 0.05  # slow enough to be caught half-way
    args = [SECRETS_BIN, "migrate", "ssm", "/int", "--to", "dev/int", "-r"]
    victim = subprocess.Popen(
        [*args, "--concurrency", "2"],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(sm.list_secrets(MaxResults=100)["SecretList"]) >= 10:
            break
        time.sleep(0.05)
    victim.send_signal(signal.SIGINT)
    _, err = victim.communicate(timeout=60)
    assert victim.returncode == 130, err[-500:]
    assert b"Traceback" not in err and b"interrupted" in err
    created = sum(len(page["SecretList"]) for page in sm.get_paginator("list_secrets").paginate())
    assert 0 < created < 80  # stopped half-way

    proxy.faults.latency = 0
    again = subprocess.run(
        [*args, "--json"], env=dict(os.environ), capture_output=True, timeout=120
    )
    assert again.returncode == 0, again.stderr[-500:]
    assert CANARY.encode() not in again.stdout + again.stderr
    check_targets(moto_url, "/int", "dev/int/", values)


def test_a_listing_that_fails_half_way_stops_a_streamed_migration(
    cli, proxy, moto_url: str, aws_env
) -> None:
    """Access to Parameter Store denied on the 7th page, after writes have begun: the error
    and its exit code are what they were when the plan came first (5), labelled with the
    source (not the target's environment), nothing is half-written, what was written is in
    the --report and the --json document (findings item 14), and a re-run with access back
    finishes the job."""
    values = put_tree(moto_url, "/deny", 100)
    pages = "ssm.GetParametersByPath"
    proxy.hold(pages, after=6, until=CREATE)  # the 7th page waits for a write to begin
    proxy.script(pages, *["forward"] * 6, "fail:AccessDeniedException")
    report = aws_env / "report.json"
    run = cli(
        "migrate", "ssm", "/deny", "--to", "dev/deny", "-r", "--json", "--report", str(report)
    )  # fmt: skip
    assert run.code == 5, run.stderr
    message = json.loads(run.stderr)["error"]["message"]
    assert "denied" in message.lower()
    assert message.startswith("[ssm /deny]"), message
    assert "item(s) were written before it" in message
    assert proxy.hold_timeouts[pages] == 0
    sm = direct("secretsmanager", moto_url)
    listed = [s for page in sm.get_paginator("list_secrets").paginate() for s in page["SecretList"]]
    assert 0 < len(listed) <= 60
    document = run.json()  # what was done, as a finished run would say it
    assert json.loads(report.read_text()) == document
    # The planning took time (seven pages, and a wait for the first write): reported, not 0.
    assert document["plan"]["seconds"] > 0
    written = [i["target"] for i in document["result"]["items"] if i["status"] == "created"]
    assert sorted(written) == sorted(s["Name"] for s in listed)
    for secret in listed:  # what was written is whole: its value, one version
        assert len(secret["SecretVersionsToStages"]) == 1

    again = cli("migrate", "ssm", "/deny", "--to", "dev/deny", "-r", "--json")
    assert again.code == 0, again.stderr
    assert again.json()["plan"]["counts"]["unchanged"] == len(listed)
    check_targets(moto_url, "/deny", "dev/deny/", values)


def test_rate_limiter_keeps_calls_under_the_quota() -> None:
    """A fake clock: 200 calls at 50/s take at least (200 - burst) / 50 seconds."""
    from envsecrets.backends.quotas import RateLimiter

    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter({"x": 50}, clock=lambda: now[0], sleep=sleep)
    for _ in range(200):
        limiter.acquire("x")
    burst = 50 * 0.5
    assert now[0] >= (200 - burst) / 50 - 1e-9
    assert now[0] <= 200 / 50
    limiter.acquire("no quota")  # names without a quota never wait
    assert RateLimiter.for_writes(200)._rates["secretsmanager.CreateSecret"] == 200


def test_ssm_reads_share_one_quota() -> None:
    """GetParameter, GetParameters and GetParametersByPath draw from one 40/s bucket."""
    from envsecrets.backends.quotas import RateLimiter

    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter(clock=lambda: now[0], sleep=sleep)
    for n in range(120):
        limiter.acquire(("ssm.GetParameter", "ssm.GetParameters", "ssm.GetParametersByPath")[n % 3])
    assert now[0] >= (120 - 40 * 0.5) / 40 - 1e-9


def test_every_attempt_waits_its_turn_retries_included(proxy) -> None:
    """The limiter hangs on botocore's per-attempt hook: a create whose first two attempts
    meet a 5xx and a lost reply asks the limiter three times."""
    from collections import Counter

    from envsecrets.backends.aws import AwsTarget
    from envsecrets.backends.quotas import RateLimiter
    from envsecrets.backends.secretsmanager import SecretsManagerStore
    from envsecrets.core.values import SecretValue, request_token

    class Counting(RateLimiter):
        def __init__(self) -> None:
            super().__init__()
            self.asked: Counter[str] = Counter()

        def acquire(self, name: str) -> None:
            self.asked[name] += 1
            super().acquire(name)

    limiter = Counting()
    store = SecretsManagerStore(AwsTarget(label="dev", limiter=limiter), bulk=True)
    value = SecretValue("paced-value")
    proxy.script(CREATE, "error", "lose")
    store.create("dev/paced", value, token=request_token("dev/paced", value, None))
    assert proxy.calls[CREATE] == 3
    assert limiter.asked[CREATE] == 3
    assert store.read_many(["dev/paced"]).values["dev/paced"].value == value
    assert limiter.asked["secretsmanager.BatchGetSecretValue"] == 1


def test_overwrite_with_tagging_denied_is_finished_by_a_second_run(
    cli, proxy, moto_url: str
) -> None:
    """An update whose TagResource is refused writes no value, so the re-run (permissions
    fixed) updates and tags it rather than finding it "unchanged" and untagged."""
    values = put_tree(moto_url, "/tag", 6)
    sm = direct("secretsmanager", moto_url)
    for name in values:
        sm.create_secret(Name="dev/tag/" + name.removeprefix("/tag/"), SecretString="old")
    proxy.deny("secretsmanager.TagResource")
    run = cli("migrate", "ssm", "/tag", "--to", "dev/tag", "-r", "--overwrite", "--json")
    assert run.code == 5, run.stderr
    assert run.json()["result"]["counts"]["failed"] == 6
    assert proxy.calls[PUT] == 0
    proxy.denied.clear()
    again = cli("migrate", "ssm", "/tag", "--to", "dev/tag", "-r", "--overwrite", "--json")
    assert again.code == 0, again.stderr
    assert again.json()["result"]["counts"]["verified"] == 6
    for name, value in values.items():
        target = "dev/tag/" + name.removeprefix("/tag/")
        assert sm.get_secret_value(SecretId=target)["SecretString"] == value
        tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=target)["Tags"]}
        assert tags["migrated-from"] == f"ssm:{name}"


# -- a secret created by someone else between our read and our write ---------------------------
GET = "secretsmanager.GetSecretValue"
RELEASE = "secretsmanager.ListSecrets"  # a call the migration never makes: the racer's signal


def race(
    proxy: Any, moto_url: str, writes: int, created: dict[str, str]
) -> tuple[threading.Thread, dict[str, str]]:
    """Hold the migration's CreateSecret calls until `writes` of them have arrived (so every
    target has been read as missing), create `created` directly in the emulator meanwhile, then
    let the held calls go on. Returns the racer (join it) and the version id of each secret it
    will have created."""
    proxy.hold(CREATE, after=0, until=RELEASE, timeout=120)
    versions: dict[str, str] = {}

    def racer() -> None:
        deadline = time.monotonic() + 60
        while proxy.arrivals[CREATE] < writes and time.monotonic() < deadline:
            time.sleep(0.02)
        sm = direct("secretsmanager", moto_url)
        for name, value in created.items():
            versions[name] = sm.create_secret(Name=name, SecretString=value)["VersionId"]
        # Through the proxy: its arrival releases the held writes.
        boto3.client("secretsmanager", region_name=REGION, endpoint_url=proxy.url).list_secrets()

    thread = threading.Thread(target=racer, daemon=True)
    thread.start()
    return thread, versions


def test_a_secret_created_meanwhile_with_the_same_value_counts_created_another_is_a_conflict(
    cli, proxy, moto_url: str, aws_env
) -> None:
    """Between the read that planned `create` and the CreateSecret, someone else creates two
    of the targets: the one holding the migrated value is done (counted created, with the
    version that holds it, verified); the other is a conflict named in the output, left as
    the other writer made it, exit 4. Nothing is written over it."""
    env_file = aws_env / "app.env"
    env_file.write_text(f"SAME_KEY={CANARY}-same\nOTHER_KEY={CANARY}-mine\n", encoding="utf-8")
    report = aws_env / "report.json"
    racer, versions = race(
        proxy,
        moto_url,
        2,
        {"dev/race/same-key": f"{CANARY}-same", "dev/race/other-key": "theirs"},
    )
    run = cli("migrate", "env-file", str(env_file), "--to", "dev/race", "--report", str(report))
    racer.join(timeout=60)
    assert proxy.hold_timeouts[CREATE] == 0
    assert run.code == 4, run.stderr
    assert "OTHER_KEY: conflict: created by someone else with a different value" in run.stderr
    assert "SAME_KEY" not in run.stderr
    assert CANARY not in run.stdout + run.stderr
    document = json.loads(report.read_text(encoding="utf-8"))
    items = {item["target"]: item for item in document["result"]["items"]}
    same, other = items["dev/race/same-key"], items["dev/race/other-key"]
    assert (same["status"], same["version_id"], same["verified"], same["error"]) == (
        "created",
        versions["dev/race/same-key"],
        True,
        None,
    )
    assert other["status"] == "conflict"
    assert other["error"] == "created by someone else with a different value"
    counts = document["result"]["counts"]
    assert (counts["created"], counts["conflict"], counts["verified"]) == (1, 1, 1)
    assert document["result"]["exit_code"] == 4
    sm = direct("secretsmanager", moto_url)
    assert sm.get_secret_value(SecretId="dev/race/other-key")["SecretString"] == "theirs"
    for name in versions:  # the other writer's version only: nothing written over either
        assert len(sm.list_secret_version_ids(SecretId=name)["Versions"]) == 1


def test_a_secret_created_meanwhile_that_cannot_be_read_fails_with_the_reads_error(
    cli, proxy, moto_url: str, aws_env
) -> None:
    """The CreateSecret is refused (the secret exists now), and reading what it holds is
    refused too: the item failed with that error and its exit code (5), never counted done."""
    env_file = aws_env / "app.env"
    env_file.write_text(f"RACED_KEY={CANARY}-raced\n", encoding="utf-8")
    report = aws_env / "report.json"
    racer, _ = race(proxy, moto_url, 1, {"dev/race/raced-key": f"{CANARY}-raced"})
    # The write's own look (was it ours?) reads it; the second look, at what it holds, is denied.
    proxy.script(GET, "forward", "fail:AccessDeniedException")
    run = cli("migrate", "env-file", str(env_file), "--to", "dev/race", "--report", str(report))
    racer.join(timeout=60)
    assert proxy.calls[GET] == 2
    assert run.code == 5, run.stderr
    assert "RACED_KEY: failed: " in run.stderr
    document = json.loads(report.read_text(encoding="utf-8"))
    (item,) = document["result"]["items"]
    assert item["status"] == "failed" and item["verified"] is None
    assert "AccessDenied" in item["error"] or "denied" in item["error"].lower()
    assert document["result"]["counts"]["failed"] == 1
    assert document["result"]["counts"]["created"] == 0


def test_items_a_failed_listing_kept_from_being_written_are_not_written(
    cli, proxy, moto_url: str, aws_env
) -> None:
    """The listing is refused on its 8th page, after writes have begun. Targets are read 20
    at a time: the 7th page's ten items were listed but never read, so never planned for a
    write. The report has them as failed, "not written" (never as done), beside the ones
    written, and the error counts those written; a re-run finishes the job."""
    values = put_tree(moto_url, "/nw", 80)
    pages = "ssm.GetParametersByPath"
    proxy.hold(pages, after=7, until=CREATE)  # the 8th page waits for the first write
    proxy.script(pages, *["forward"] * 7, "fail:AccessDeniedException")
    report = aws_env / "report.json"
    started = time.monotonic()
    run = cli("migrate", "ssm", "/nw", "--to", "dev/nw", "-r", "--report", str(report))
    took = time.monotonic() - started
    assert run.code == 5, run.stderr
    assert proxy.hold_timeouts[pages] == 0
    document = json.loads(report.read_text(encoding="utf-8"))
    items = document["result"]["items"]
    assert len(items) == 70  # the seven pages listed before the refusal
    created = [item for item in items if item["status"] == "created"]
    left = [item for item in items if item["status"] != "created"]
    assert len(left) >= 10  # at least the 7th page's
    assert {(item["status"], item["error"]) for item in left} == {("failed", "not written")}
    assert document["result"]["counts"]["failed"] == len(left)
    assert document["result"]["exit_code"] == 1
    assert 0 <= document["result"]["seconds"]["apply"] <= took + 0.001  # what it did take
    assert f"({len(created)} item(s) were written before it)" in run.stderr

    again = cli("migrate", "ssm", "/nw", "--to", "dev/nw", "-r", "--json")
    assert again.code == 0, again.stderr
    assert again.json()["plan"]["counts"]["unchanged"] == len(created)
    check_targets(moto_url, "/nw", "dev/nw/", values)


def test_a_listing_refused_before_any_write_says_just_the_refusal(
    cli, proxy, moto_url: str
) -> None:
    """Nothing written before the failure: the streamed run's error is the plan-first run's
    (a dry run's), word for word, with nothing about items written."""
    put_tree(moto_url, "/none", 5)
    pages = "ssm.GetParametersByPath"
    proxy.script(pages, "fail:AccessDeniedException")
    streamed = cli("migrate", "ssm", "/none", "--to", "dev/none", "-r", "--json")
    proxy.script(pages, "fail:AccessDeniedException")
    planned = cli("migrate", "ssm", "/none", "--to", "dev/none", "-r", "--json", "--dry-run")
    assert (streamed.code, planned.code) == (5, 5), streamed.stderr
    message = json.loads(streamed.stderr)["error"]["message"]
    assert message == json.loads(planned.stderr)["error"]["message"]
    assert "written" not in message


def test_a_refused_create_is_failed_with_its_error_not_taken_for_a_race(
    cli, proxy, moto_url: str
) -> None:
    """CreateSecret denied: the item failed with AWS's refusal and exit 5, never reported as
    a secret "created by someone else"."""
    put_tree(moto_url, "/denied", 2)
    proxy.deny(CREATE)
    run = cli("migrate", "ssm", "/denied", "--to", "dev/denied", "-r", "--json")
    assert run.code == 5, run.stderr
    items = run.json()["result"]["items"]
    assert [item["status"] for item in items] == ["failed", "failed"]
    for item in items:
        assert "denied" in item["error"].lower() and "someone else" not in item["error"]
    # Nothing was written, so nothing is read back: the one read is the plan's.
    assert proxy.count("secretsmanager.BatchGetSecretValue") == 1
