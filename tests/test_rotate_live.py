"""A rotation under way, seen by the other forms: `--resume` and `--cancel` refuse while it is
alive (its lease, the `envsecrets:rotating` tag), a second rotation says it is under way
rather than "did not finish", and a promotion whose pending version was dropped meanwhile
does not happen. Real processes: the rotation runs as the installed `secrets` script, its
verification waits for the test to say how it ends (no timing).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from envsecrets.core.rotation_lease import (
    LEASE_MARGIN_SECONDS,
    LEASE_SECONDS,
    Lease,
    is_alive,
    lease_seconds,
    parse_lease,
    pid_namespace,
)

from tests.conftest import SECRETS_BIN
from tests.test_rotate import holder, make, value_of

NAME = "dev/cr2/a"
LEASE = "envsecrets:rotating"

# Reads the value, says it started (its pid as a file), then waits for `go` to hold its exit.
WAIT_FOR_GO = """
import os, sys, time
sys.stdin.buffer.read()
folder = sys.argv[1]
open(os.path.join(folder, "started-%d" % os.getpid()), "w").close()
go = os.path.join(folder, "go")
while not os.path.exists(go):
    time.sleep(0.02)
time.sleep(0.05)
sys.exit(int(open(go).read() or "0"))
"""


def start_rotation(folder: Path, *extra: str) -> subprocess.Popen[bytes]:
    script = folder / "wait.py"
    script.write_text(WAIT_FOR_GO, encoding="utf-8")
    process = subprocess.Popen(
        [SECRETS_BIN, "rotate", NAME, "--generate", "--yes",
         "--verify-cmd", f"{sys.executable} {script} {folder}", *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    for _ in range(1200):
        if any(p.name.startswith("started-") for p in folder.iterdir()):
            return process
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise AssertionError(process.communicate()[1].decode())


def finish(process: subprocess.Popen[bytes], folder: Path, code: int) -> tuple[int, str]:
    (folder / "go").write_text(str(code), encoding="utf-8")
    _, err = process.communicate(timeout=60)
    return process.returncode, err.decode()


def pending_of(sm: Any) -> str:
    pending = holder(sm, NAME, "AWSPENDING")
    assert pending is not None
    return pending


def test_resume_and_cancel_refuse_while_the_rotation_runs(cli, sm, aws_env) -> None:
    """The finding: `--resume` during a live rotation promoted a value whose verification
    then failed ("nothing was promoted", yet it was AWSCURRENT)."""
    original = make(sm, NAME, "old")
    process = start_rotation(aws_env)
    try:
        pending = pending_of(sm)
        for action in ("--resume", "--cancel"):
            run = cli("rotate", NAME, action, "--yes")
            assert run.code == 4, run.stderr
            assert f"{NAME} is being rotated now (pid {process.pid} on " in run.stderr
            assert f"its pending version {pending} is that rotation's" in run.stderr
            # The way out names this secret, and says when the lease ends seen from elsewhere.
            assert f"`secrets rotate {NAME} --resume` or `--cancel` work once it has" in (
                run.stderr
            )
            assert f"`secrets history {NAME}` shows the labels" in run.stderr
        again = cli("rotate", NAME, "--generate", "--yes")
        assert again.code == 4
        assert f"{NAME} is being rotated now" in again.stderr
        assert f"its version {pending} waits AWSPENDING" in again.stderr
        assert f"`secrets rotate {NAME} --resume` or `--cancel` work once it has" in again.stderr
        assert "did not finish" not in again.stderr
        # Bulk --resume and --cancel refuse it too, each saying which secret and why.
        for action, verb in (("--resume", "resume"), ("--cancel", "cancel")):
            bulk = cli("rotate", "--env", "dev", action, "--yes", "--json")
            assert bulk.code == 1, bulk.stderr
            [failed] = bulk.json()["failed"]
            assert failed["name"] == NAME and failed["error"]["code"] == 4
            assert f"{NAME} is being rotated now" in failed["error"]["message"]
            assert (
                f"its pending version {pending} is that rotation's; nothing to {verb} yet"
                in (failed["error"]["message"])
            )
            assert f"`secrets rotate {NAME} --resume`" in failed["error"]["hint"]
        assert holder(sm, NAME, "AWSCURRENT") == original
        assert holder(sm, NAME, "AWSPENDING") == pending
        code, err = finish(process, aws_env, 1)
    finally:
        process.kill()
    assert code == 1 and "verification failed" in err
    assert holder(sm, NAME, "AWSCURRENT") == original  # the failed value was never promoted
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=NAME).get("Tags", [])}
    assert tags.get(LEASE, "") == ""  # the failed rotation emptied its lease
    # The rotation has ended: its pending version can be dropped now.
    assert cli("rotate", NAME, "--cancel", "--yes").code == 0
    assert holder(sm, NAME, "AWSPENDING") is None


def test_a_resume_under_way_holds_off_a_cancel(cli, sm, aws_env) -> None:
    """A `--resume` verifying the pending version holds the lease on it: a `--cancel`
    meanwhile is refused (else the value the resume promotes would be one cancelled)."""
    original = make(sm, NAME, "old")
    staged = sm.put_secret_value(SecretId=NAME, SecretString="new", VersionStages=["AWSPENDING"])
    pending = str(staged["VersionId"])
    script = aws_env / "wait.py"
    script.write_text(WAIT_FOR_GO, encoding="utf-8")
    process = subprocess.Popen(
        [SECRETS_BIN, "rotate", NAME, "--resume", "--yes",
         "--verify-cmd", f"{sys.executable} {script} {aws_env}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        for _ in range(1200):
            if any(p.name.startswith("started-") for p in aws_env.iterdir()):
                break
            assert process.poll() is None, process.communicate()[1].decode()
            time.sleep(0.05)
        run = cli("rotate", NAME, "--cancel", "--yes")
        assert run.code == 4, run.stderr
        assert f"its pending version {pending} is that rotation's; nothing to cancel" in (
            run.stderr
        )
        code, err = finish(process, aws_env, 0)
    finally:
        process.kill()
    assert code == 0, err
    assert holder(sm, NAME, "AWSCURRENT") == pending
    assert holder(sm, NAME, "AWSPREVIOUS") == original


def test_a_version_dropped_during_the_rotation_is_not_promoted(cli, sm, aws_env) -> None:
    """AWSPENDING removed under a running rotation (a cancel by another tool, or an older
    envsecrets that knew no lease): when its verification passes, the rotation finds its
    version no longer pending and promotes nothing."""
    original = make(sm, NAME, "old")
    process = start_rotation(aws_env)
    try:
        pending = pending_of(sm)
        sm.update_secret_version_stage(
            SecretId=NAME, VersionStage="AWSPENDING", RemoveFromVersionId=pending
        )
        code, err = finish(process, aws_env, 0)
    finally:
        process.kill()
    assert code == 4, err
    assert f"{NAME} changed during the rotation: the pending version {pending} was dropped" in err
    assert "its AWSPENDING was removed, a cancel" in err
    assert "nothing was promoted" in err
    assert holder(sm, NAME, "AWSCURRENT") == original
    assert value_of(sm, NAME) == "old"


def test_a_version_staged_over_the_rotation_s_own_is_not_promoted(cli, sm, aws_env) -> None:
    """Another tool staged its own AWSPENDING under a running rotation (the label moved off
    this run's version): nothing is promoted, and the hint names the version pending now."""
    original = make(sm, NAME, "old")
    process = start_rotation(aws_env)
    try:
        pending = pending_of(sm)
        staged = sm.put_secret_value(
            SecretId=NAME, SecretString="theirs", VersionStages=["AWSPENDING"]
        )
        other = str(staged["VersionId"])
        code, err = finish(process, aws_env, 0)
    finally:
        process.kill()
    assert code == 4, err
    assert (
        f"the pending version {pending} was dropped (version {other} is AWSPENDING now, "
        "staged by another rotation); nothing was promoted"
    ) in err
    assert (
        f"hint: version {original} is AWSCURRENT; version {other} is AWSPENDING now (staged by "
        f"another rotation; this run's version {pending} holds no label): "
        f"`secrets rotate {NAME} --cancel` drops it, `secrets history {NAME}` shows the labels"
    ) in err
    assert holder(sm, NAME, "AWSCURRENT") == original


def test_a_failed_verification_after_a_change_by_hand_says_what_changed(cli, sm, aws_env) -> None:
    """A value set by hand while the rotation verified, then the verification failed: the
    hint says AWSCURRENT moved, and that this run's version is left to drop."""
    make(sm, NAME, "old")
    process = start_rotation(aws_env)
    try:
        pending = pending_of(sm)
        by_hand = str(sm.put_secret_value(SecretId=NAME, SecretString="by-hand")["VersionId"])
        code, err = finish(process, aws_env, 1)
    finally:
        process.kill()
    assert code == 1, err
    assert (
        f"hint: version {by_hand} became AWSCURRENT during the rotation (another change); "
        f"`secrets rotate {NAME} --cancel` drops the stale pending version {pending}; then "
        "rotate again from the value as it is now"
    ) in err
    assert holder(sm, NAME, "AWSCURRENT") == by_hand


def test_after_kill_9_the_rotation_is_known_dead(cli, sm, aws_env) -> None:
    """SIGKILL leaves the lease behind; its process is gone (same host: probed), so the
    refusal says "did not finish" and `--resume` promotes."""
    original = make(sm, NAME, "old")
    process = start_rotation(aws_env)
    try:
        pending = pending_of(sm)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        for marker in aws_env.glob("started-*"):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(marker.name.split("-")[1]), signal.SIGKILL)
        process.kill()
    again = cli("rotate", NAME, "--generate", "--yes")
    assert again.code == 4
    assert f"has a pending version ({pending}) from a rotation that did not finish" in again.stderr
    resumed = cli("rotate", NAME, "--resume", "--yes")
    assert resumed.code == 0, resumed.stderr
    assert holder(sm, NAME, "AWSCURRENT") == pending
    assert holder(sm, NAME, "AWSPREVIOUS") == original


def in_own_pid_namespace(*args: str) -> subprocess.CompletedProcess[bytes]:
    """`secrets ARGS` in a PID namespace of its own (same host name, its own /proc): what a
    container sharing the host's name (hostNetwork pod, `docker --uts=host`) runs."""
    command = ["unshare", "-p", "-f", "--mount-proc", SECRETS_BIN, *args]
    try:
        return subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    except FileNotFoundError:
        pytest.skip("no unshare(1) here")


def test_a_rotation_in_another_pid_namespace_with_our_host_name_is_not_dead(
    cli, sm, aws_env
) -> None:
    """The finding: with the same host name, the lease's process was probed in our /proc,
    where a rotation running in another PID namespace cannot be seen: `--resume` promoted
    the value its verification then failed. The lease records its PID namespace; from
    another one it holds until it expires."""
    original = make(sm, NAME, "old")
    probe = in_own_pid_namespace("--version")
    if probe.returncode != 0:
        pytest.skip(f"the kernel refuses a new PID namespace: {probe.stderr.decode()[:200]}")
    process = start_rotation(aws_env)
    try:
        pending = pending_of(sm)
        for action in ("--resume", "--cancel"):
            run = in_own_pid_namespace("rotate", NAME, action, "--yes")
            err = run.stderr.decode()
            assert run.returncode == 4, err
            assert f"{NAME} is being rotated now (pid {process.pid} on " in err
        assert holder(sm, NAME, "AWSCURRENT") == original
        assert holder(sm, NAME, "AWSPENDING") == pending
        code, err = finish(process, aws_env, 1)
    finally:
        process.kill()
    assert code == 1 and "verification failed" in err
    assert holder(sm, NAME, "AWSCURRENT") == original


def test_a_lease_without_a_namespace_is_probed_on_this_host_as_before(cli, sm) -> None:
    """A lease written before the namespace was recorded (host name only) still reads, and
    on this host its process is probed: here it is gone, so `--resume` goes ahead."""
    make(sm, NAME, "old")
    pending = str(
        sm.put_secret_value(SecretId=NAME, SecretString="new", VersionStages=["AWSPENDING"])[
            "VersionId"
        ]
    )
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    later = now + timedelta(hours=1)
    old_format = f"{pending} 999999 12345 {now:{stamp}} {later:{stamp}} {socket.gethostname()}"
    sm.tag_resource(SecretId=NAME, Tags=[{"Key": LEASE, "Value": old_format}])
    lease = parse_lease(old_format)
    assert lease is not None and lease.namespace is None and lease.pid == 999999
    assert cli("rotate", NAME, "--resume", "--yes").code == 0
    assert value_of(sm, NAME) == "new"


def test_a_lease_from_our_host_name_in_another_namespace_holds_until_it_expires() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    here = pid_namespace()
    elsewhere = Lease("v", socket.gethostname(), 999999, "1", now, now + timedelta(hours=1), "x.1")
    assert parse_lease(elsewhere.tag_value()) == elsewhere
    assert is_alive(elsewhere)
    assert not is_alive(elsewhere, now + timedelta(hours=2))
    gone_here = Lease("v", socket.gethostname(), 999999, "1", now, now + timedelta(hours=1), here)
    assert not is_alive(gone_here)
    assert len(Lease("v" * 36, "h" * 300, 2**22, "9" * 20, now, now, "n" * 300).tag_value()) <= 256


def test_the_lease_lasts_at_least_the_rotations_own_limits(cli, sm, aws_env) -> None:
    """--verify-timeout has no maximum: a lease of a fixed hour would expire under a
    verification still running, and from elsewhere `--resume` would then promote."""
    make(sm, NAME, "old")
    process = start_rotation(aws_env, "--verify-timeout", "7200")
    try:
        tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=NAME)["Tags"]}
        lease = parse_lease(tags[LEASE])
        assert lease is not None
        assert lease.expires - lease.since >= timedelta(seconds=7200 + LEASE_MARGIN_SECONDS)
        finish(process, aws_env, 0)
    finally:
        process.kill()
    assert lease_seconds(None, 60.0) == LEASE_SECONDS  # the defaults keep the hour
    assert lease_seconds(5000.0, 7200.5) == 12201 + LEASE_MARGIN_SECONDS


# A verify command that writes the lease it sees on the secret (argv[2]) to a file (argv[1]).
WRITE_LEASE = """
import sys, boto3
sys.stdin.buffer.read()
tags = boto3.client("secretsmanager").describe_secret(SecretId=sys.argv[2])["Tags"]
open(sys.argv[1], "w").write({t["Key"]: t["Value"] for t in tags}["envsecrets:rotating"])
"""


def test_bulk_rotation_and_resume_leases_last_their_own_limits(cli, sm, aws_env) -> None:
    make(sm, NAME, "old")
    script, seen = aws_env / "lease.py", aws_env / "lease"
    script.write_text(WRITE_LEASE, encoding="utf-8")
    check = f"{sys.executable} {script} {seen} {NAME}"
    bulk = cli("rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes",
               "--verify-cmd", check, "--verify-timeout", "9000")  # fmt: skip
    assert bulk.code == 0, bulk.stderr
    lease = parse_lease(seen.read_text())
    assert lease is not None and lease.expires - lease.since >= timedelta(seconds=9600)
    sm.put_secret_value(SecretId=NAME, SecretString="new", VersionStages=["AWSPENDING"])
    seen.unlink()
    resumed = cli("rotate", "--env", "dev", "--resume", "--yes",
                  "--verify-cmd", check, "--verify-timeout", "8000")  # fmt: skip
    assert resumed.code == 0, resumed.stderr
    lease = parse_lease(seen.read_text())
    assert lease is not None and lease.expires - lease.since >= timedelta(seconds=8600)


def lease_from_elsewhere(pending: str, *, expires_in: timedelta) -> str:
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    return f"{pending} 4242 - {now:{stamp}} {now + expires_in:{stamp}} build-host-7"


@pytest.fixture
def far_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A local time zone 5:30 ahead of UTC (a POSIX TZ rule: no zone files needed)."""
    monkeypatch.setenv("TZ", "IST-5:30")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_lease_from_another_host_holds_until_it_expires(cli, sm, far_from_utc) -> None:
    make(sm, NAME, "old")
    pending = str(
        sm.put_secret_value(SecretId=NAME, SecretString="new", VersionStages=["AWSPENDING"])[
            "VersionId"
        ]
    )
    live = lease_from_elsewhere(pending, expires_in=timedelta(minutes=30))
    sm.tag_resource(SecretId=NAME, Tags=[{"Key": LEASE, "Value": live}])
    run = cli("rotate", NAME, "--resume", "--yes")
    assert run.code == 4
    assert "is being rotated now (pid 4242 on build-host-7" in run.stderr
    # When it ends is said in UTC, whatever the local time zone: hosts compare it so.
    lease = parse_lease(live)
    assert lease is not None
    assert f"(seen from another host or container: after {lease.expires:%Y-%m-%d %H:%M} UTC)" in (
        run.stderr.replace("\n", " ")
    )
    expired = lease_from_elsewhere(pending, expires_in=timedelta(minutes=-1))
    sm.tag_resource(SecretId=NAME, Tags=[{"Key": LEASE, "Value": expired}])
    assert cli("rotate", NAME, "--resume", "--yes").code == 0
    assert value_of(sm, NAME) == "new"
    # The record says when in UTC too (ISO 8601 with Z), whatever the local time zone.
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=NAME)["Tags"]}
    rotated_at = tags["envsecrets:rotated-at"]
    assert rotated_at.endswith("Z"), rotated_at
    moment = datetime.fromisoformat(rotated_at.replace("Z", "+00:00"))
    assert abs(moment - datetime.now(UTC)) < timedelta(minutes=10)


def test_a_lease_naming_another_version_does_not_count(cli, sm) -> None:
    """A lease left by a rotation that failed before its write names a version that never
    existed: the pending version found is not that rotation's."""
    make(sm, NAME, "old")
    pending = str(
        sm.put_secret_value(SecretId=NAME, SecretString="new", VersionStages=["AWSPENDING"])[
            "VersionId"
        ]
    )
    other = lease_from_elsewhere(
        "00000000-0000-4000-8000-000000000000", expires_in=timedelta(hours=1)
    )
    sm.tag_resource(SecretId=NAME, Tags=[{"Key": LEASE, "Value": other}])
    assert cli("rotate", NAME, "--cancel", "--yes").code == 0
    assert holder(sm, NAME, "AWSPENDING") is None and pending


def test_bulk_rotation_leaves_a_live_rotation_to_itself(cli, sm, aws_env) -> None:
    """Bulk rotation meets a secret being rotated now: refused for that one, and the hint
    says so instead of pointing at the bulk `--resume` (which would refuse too)."""
    make(sm, NAME, "old")
    make(sm, "dev/cr2/b", "other")
    process = start_rotation(aws_env)
    try:
        run = cli("rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes")
        code, _ = finish(process, aws_env, 1)
    finally:
        process.kill()
    assert code == 1
    assert run.code == 1, run.stderr
    assert f"{NAME}: plan failed: {NAME} is being rotated now" in run.stderr
    hint = next(line for line in run.stderr.splitlines() if line.startswith("hint:"))
    assert f"{NAME}: being rotated by another run now, left to it" in hint
    assert "--resume" not in hint and f"secrets rotate {NAME} --generate" not in hint
    assert holder(sm, "dev/cr2/b", "AWSCURRENT") is not None
    assert value_of(sm, "dev/cr2/b") != "other"
