"""Crash recovery: a rotation cut between the write and the promotion (the promotion call
failing, the process killed) ends consistent with --resume or --cancel, and a lost reply on
the pending write never leaves a second pending version.

Faults come from the proxy; AWS_MAX_ATTEMPTS keeps botocore's retries short.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SECRETS_BIN
from tests.test_rotate import holder, make, stages, value_of

UVS = "secretsmanager.UpdateSecretVersionStage"
PUT = "secretsmanager.PutSecretValue"
FEW_RETRIES = {"AWS_MAX_ATTEMPTS": "2"}


def versions(sm: Any, name: str) -> list[dict[str, Any]]:
    return list(sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"])


def fail_promotion(cli: Any, sm: Any, proxy: Any) -> tuple[str, str, str]:
    """Rotate with every UpdateSecretVersionStage answered 500: exit 6 before promotion."""
    old = make(sm, "dev/db/password", "old")
    proxy.faults.error_rate = 1.0
    proxy.faults.only = {UVS}
    run = cli("rotate", "dev/db/password", "--generate", env=FEW_RETRIES)
    assert run.code == 6, run.stderr
    assert "--resume" in run.stderr and "--cancel" in run.stderr
    assert run.stderr.count("error:") == 1
    proxy.faults.error_rate = 0.0
    pending = holder(sm, "dev/db/password", "AWSPENDING")
    assert pending is not None
    assert holder(sm, "dev/db/password", "AWSCURRENT") == old
    assert value_of(sm, "dev/db/password") == "old"
    return old, pending, value_of(sm, "dev/db/password", "AWSPENDING")


def test_failed_promotion_then_resume(cli, sm, proxy) -> None:
    old, pending, staged = fail_promotion(cli, sm, proxy)
    # `secrets show` and a new rotate both see the pending version.
    assert cli("show", "dev/db/password", "--json").json()["pending_version_id"] == pending
    assert cli("rotate", "dev/db/password", "--generate").code == 4
    run = cli("rotate", "dev/db/password", "--resume")
    assert run.code == 0, run.stderr
    assert f"promoted version {pending} to AWSCURRENT; {old} keeps AWSPREVIOUS" in run.stderr
    # The record names the version the resume promoted, the first rotation of this secret.
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId="dev/db/password")["Tags"]}
    assert tags["envsecrets:rotations"] == pending[:8]
    assert stages(sm, "dev/db/password") == {pending: ["AWSCURRENT"], old: ["AWSPREVIOUS"]}
    assert value_of(sm, "dev/db/password") == staged
    assert len(versions(sm, "dev/db/password")) == 2
    # Resuming again is harmless.
    again = cli("rotate", "dev/db/password", "--resume")
    assert again.code == 0
    assert "no pending version" in again.stderr


def test_failed_promotion_then_cancel(cli, sm, proxy) -> None:
    old, _, _ = fail_promotion(cli, sm, proxy)
    run = cli("rotate", "dev/db/password", "--cancel")
    assert run.code == 0, run.stderr
    assert stages(sm, "dev/db/password") == {old: ["AWSCURRENT"]}
    assert value_of(sm, "dev/db/password") == "old"
    assert cli("rotate", "dev/db/password", "--cancel").code == 0  # safe to re-run


def test_lost_replies_on_the_pending_write_make_one_version(cli, sm, proxy) -> None:
    old = make(sm, "dev/db/password", "old")
    proxy.faults.lose_reply_rate = 1.0
    proxy.faults.lose_reply_actions = {PUT}
    run = cli("rotate", "dev/db/password", "--generate", env={"AWS_MAX_ATTEMPTS": "3"})
    assert run.code == 6, run.stderr
    # Three writes reached the emulator, all with the same token: one version.
    assert proxy.forwarded[PUT] == 3
    assert len(versions(sm, "dev/db/password")) == 2
    pending = holder(sm, "dev/db/password", "AWSPENDING")
    assert pending is not None
    assert holder(sm, "dev/db/password", "AWSCURRENT") == old
    proxy.faults.lose_reply_rate = 0.0
    # Running rotate again refuses rather than generating (and staging) another value.
    assert cli("rotate", "dev/db/password", "--generate").code == 4
    assert cli("rotate", "dev/db/password", "--resume").code == 0
    assert len(versions(sm, "dev/db/password")) == 2
    assert holder(sm, "dev/db/password", "AWSCURRENT") == pending


def test_a_lost_reply_then_a_retry_succeeds_with_one_version(cli, sm, proxy) -> None:
    old = make(sm, "dev/db/password", "old")
    proxy.faults.lose_reply_rate = 0.5
    proxy.faults.lose_reply_actions = {PUT}
    proxy.random.seed(1)  # first PutSecretValue reply lost, the retry answered
    run = cli("rotate", "dev/db/password", "--generate")
    assert run.code == 0, run.stderr
    assert proxy.forwarded[PUT] == 2
    assert len(versions(sm, "dev/db/password")) == 2
    assert holder(sm, "dev/db/password", "AWSPREVIOUS") == old
    assert holder(sm, "dev/db/password", "AWSPENDING") is None


def test_lost_replies_on_every_label_move_still_finish(cli, sm, proxy) -> None:
    old = make(sm, "dev/db/password", "old")
    proxy.faults.lose_reply_rate = 1.0
    proxy.faults.lose_reply_actions = {UVS}
    run = cli("rotate", "dev/db/password", "--stdin", env=FEW_RETRIES, input="new")
    # Every move reached the emulator; the retries were refused because the label had
    # already moved, and the state check saw that the move was done.
    assert run.code == 0, run.stderr
    assert proxy.forwarded[UVS] >= 2
    new = holder(sm, "dev/db/password", "AWSCURRENT")
    assert stages(sm, "dev/db/password") == {new: ["AWSCURRENT"], old: ["AWSPREVIOUS"]}
    assert value_of(sm, "dev/db/password") == "new"


def verify_command_pid(pidfile: Path, process: subprocess.Popen[bytes]) -> int:
    """The pid the verify command wrote, once it wrote it. Waits on the process, not on a
    clock: a loaded machine only makes this slower (the ceiling is for a process that hangs
    without ever starting the command, and sits far above any start-up time)."""
    for _ in range(2400):
        if pidfile.exists() and pidfile.read_text().strip():
            return int(pidfile.read_text().strip())
        assert process.poll() is None, "secrets ended before the verify command started"
        time.sleep(0.05)
    raise AssertionError("the verify command never started")


def test_killed_during_verification_then_resume(sm, aws_env) -> None:
    old = make(sm, "dev/db/password", "old")
    pidfile = aws_env / "verify.pid"
    command = f"echo $$ > {pidfile}; sleep 600"
    process = subprocess.Popen(
        [SECRETS_BIN, "rotate", "dev/db/password", "--generate", "--verify-cmd", command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        verify_command_pid(pidfile, process)
    finally:
        process.send_signal(signal.SIGKILL)  # a crash: no clean-up code runs
        process.wait()
        # The orphaned verify command is ours to stop (its own process group).
        with contextlib.suppress(ProcessLookupError, ValueError, FileNotFoundError):
            os.killpg(int(pidfile.read_text().strip()), signal.SIGKILL)
    pending = holder(sm, "dev/db/password", "AWSPENDING")
    assert pending is not None
    assert holder(sm, "dev/db/password", "AWSCURRENT") == old
    from tests.conftest import run_subprocess

    run = run_subprocess(["rotate", "dev/db/password", "--resume"])
    assert run.code == 0, run.stderr
    assert stages(sm, "dev/db/password") == {pending: ["AWSCURRENT"], old: ["AWSPREVIOUS"]}


@pytest.mark.parametrize(
    ("signum", "cause"),
    [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM"), (signal.SIGHUP, "SIGHUP")],
)
def test_a_stop_signal_during_verification_stops_it_and_says_how_to_resume(
    sm, aws_env, signum: int, cause: str
) -> None:
    """Ctrl-C, and SIGTERM and SIGHUP like it (issue 16 item 10: they exited 143/129 with no
    word and left the verify command running with the pending value)."""
    old = make(sm, "dev/db/password", "old")
    pidfile = aws_env / "verify.pid"
    process = subprocess.Popen(
        [
            SECRETS_BIN, "rotate", "dev/db/password", "--generate", "--verify-cmd",
            f"echo $$ > {pidfile}; sleep 600",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    verify_pid = verify_command_pid(pidfile, process)
    process.send_signal(signum)  # SIGINT: what Ctrl-C sends to the foreground `secrets`
    # The verify command sleeps far longer than this wait: a `secrets` that did not stop it
    # cannot pass by waiting for it to end on its own. The wait itself is only a ceiling.
    try:
        _, err = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(verify_pid, signal.SIGKILL)
        raise AssertionError(f"secrets did not stop after {cause}") from None
    assert process.returncode == 130
    stderr = err.decode()
    assert f"interrupted ({cause}) before the rotation of dev/db/password finished" in stderr
    assert stderr.count("error:") == 1
    assert "--resume" in stderr and "--cancel" in stderr
    with contextlib.suppress(ProcessLookupError):  # the verify command was stopped with us
        os.kill(verify_pid, 0)
        status = Path(f"/proc/{verify_pid}/status").read_text()
        assert "State:\tZ" in status, "the verify command outlived the interrupt"
    assert holder(sm, "dev/db/password", "AWSCURRENT") == old
    assert holder(sm, "dev/db/password", "AWSPENDING") is not None
    resumed = subprocess.run(
        [SECRETS_BIN, "rotate", "dev/db/password", "--resume"], capture_output=True, check=False
    )
    assert resumed.returncode == 0, resumed.stderr


# -- the deadline (--timeout) during a rotation -------------------------------------------------
NEVER = "never.Arrives"


def test_a_deadline_while_staging_names_the_pending_version_it_left(cli, sm, proxy) -> None:
    """The write went through but its reply was lost, and its retry hangs past --timeout:
    exit 6, and the message says (from the labels read again on a budget of their own) that
    the new value waits AWSPENDING, with the commands that finish or drop it."""
    make(sm, "dev/t/a", "old")
    proxy.script(PUT, "lose")
    proxy.hold(PUT, after=1, until=NEVER, timeout=8)
    run = cli("--timeout", "2", "rotate", "dev/t/a", "--generate")
    assert run.code == 6, run.stderr
    pending = holder(sm, "dev/t/a", "AWSPENDING")
    assert pending is not None
    assert (
        "error: gave up waiting for AWS after 2 s in all (PutSecretValue at "
        in run.stderr.splitlines()[-2]
    )
    assert run.stderr.splitlines()[-2].endswith(
        f"; version {pending} was staged and waits AWSPENDING"
    )
    assert "`secrets rotate dev/t/a --resume` promotes it, `--cancel` drops it" in run.stderr


def test_a_deadline_whose_labels_cannot_be_read_again_names_this_runs_version(
    cli, sm, proxy
) -> None:
    """As above, and the labels cannot be read afterwards either (DescribeSecret refused):
    exit 6 still, and the message says what is unknown and names the version this run
    staged, with the commands that finish or drop it."""
    make(sm, "dev/t/a", "old")
    proxy.script(PUT, "lose")
    proxy.hold(PUT, after=1, until=NEVER, timeout=8)
    # The plan's DescribeSecret is answered; the one after the deadline is refused.
    proxy.script("secretsmanager.DescribeSecret", "forward", "fail:AccessDeniedException")
    run = cli("--timeout", "2", "rotate", "dev/t/a", "--generate", "--json")
    assert run.code == 6, run.stderr
    pending = holder(sm, "dev/t/a", "AWSPENDING")
    assert pending is not None
    error = json.loads(run.stderr.splitlines()[-1])["error"]
    assert error["code"] == 6
    assert error["message"].startswith("gave up waiting for AWS after 2 s in all (PutSecretValue")
    assert error["message"].endswith(
        "; what the rotation left is unknown (the labels could not be read)"
    )
    assert error["hint"] == (
        f"`secrets history dev/t/a` shows them: version {pending} is this run's; "
        "`secrets rotate dev/t/a --resume` finishes it if AWSPENDING, `--cancel` drops it"
    )


def test_a_deadline_after_the_promotion_says_it_went_through(cli, sm, proxy) -> None:
    """AWSCURRENT moved; the removal of AWSPENDING hangs past --timeout: the message says
    the rotation went through rather than only "gave up"."""
    original = make(sm, "dev/t/b", "old")
    proxy.hold(UVS, after=1, until=NEVER, timeout=8)
    run = cli("--timeout", "2", "rotate", "dev/t/b", "--generate")
    assert run.code == 6, run.stderr
    current = holder(sm, "dev/t/b", "AWSCURRENT")
    assert current != original
    assert f"yet the rotation went through: version {current} is AWSCURRENT" in run.stderr
    assert "error: dev/t/b: could not tell whether the label moved: " in run.stderr


# -- --cancel when its label move fails -----------------------------------------------------------
DESCRIBE = "secretsmanager.DescribeSecret"


def pending_over(sm: Any, name: str) -> tuple[str, str]:
    old = make(sm, name, "old")
    staged = sm.put_secret_value(SecretId=name, SecretString="new", VersionStages=["AWSPENDING"])
    return old, str(staged["VersionId"])


def test_a_cancel_whose_label_move_is_refused_says_so(cli, sm, proxy) -> None:
    """AWS refuses the removal of AWSPENDING: the cancel fails, and does not claim the pending
    version was dropped (it still waits)."""
    old, pending = pending_over(sm, "dev/c/a")
    proxy.script(UVS, "fail:InvalidRequestException")
    run = cli("rotate", "dev/c/a", "--cancel", "--yes")
    assert run.code != 0
    assert "dropped" not in run.stderr
    assert stages(sm, "dev/c/a") == {old: ["AWSCURRENT"], pending: ["AWSPENDING"]}


def test_a_cancel_whose_reply_is_lost_is_a_cancel(cli, sm, proxy) -> None:
    """The removal of AWSPENDING went through but its reply was lost: the labels read then
    show it done, which is success. AWS's DescribeSecret leaves the now unlabelled version out
    of VersionIdsToStages (moto keeps it with no labels): that answer is given by the proxy."""
    old, pending = pending_over(sm, "dev/c/b")
    described = sm.describe_secret(SecretId="dev/c/b")
    described.pop("ResponseMetadata")
    described["VersionIdsToStages"] = {old: ["AWSCURRENT"]}
    # The cancel's first DescribeSecret finds the pending version; the one after the lost
    # reply gets AWS's answer.
    proxy.answer(DESCRIBE, json.dumps(described, default=str).encode(), times=1, after=1)
    proxy.script(UVS, "lose")
    run = cli("rotate", "dev/c/b", "--cancel", "--yes", env={"AWS_MAX_ATTEMPTS": "1"})
    assert run.code == 0, run.stderr
    assert f"pending version {pending} dropped" in run.stderr
    assert stages(sm, "dev/c/b") == {old: ["AWSCURRENT"]}


def test_a_failed_promotion_whose_labels_cannot_be_read_names_both_ways_out(cli, sm, proxy) -> None:
    """The promotion is refused and the labels cannot be read afterwards (DescribeSecret
    refused): what the rotation left is not guessed; the hint names history, --resume and
    --cancel."""
    old = make(sm, "dev/d/a", "old")
    proxy.script(UVS, "fail:InvalidRequestException")
    # The plan's and the promotion's own look at the labels are answered; the later ones not.
    proxy.script(DESCRIBE, "forward", "forward", *["fail:AccessDeniedException"] * 4)
    run = cli("rotate", "dev/d/a", "--stdin", "--json", input="new")
    assert run.code != 0
    error = json.loads(run.stderr)["error"]
    assert error["hint"] == (
        "the secret's state could not be read: `secrets history dev/d/a` shows the labels; "
        "`secrets rotate dev/d/a --resume` finishes a rotation left pending, `--cancel` drops it"
    )
    assert holder(sm, "dev/d/a", "AWSCURRENT") == old


def test_a_cancel_needs_no_right_to_read_the_value(cli, sm, proxy) -> None:
    """`--cancel` only moves a label: a role allowed to manage the labels but not to read
    the secret's value (GetSecretValue denied, e.g. no kms:Decrypt) still drops the pending
    version, and reads no value trying."""
    old = make(sm, "dev/t/a", "v1")
    sm.put_secret_value(SecretId="dev/t/a", SecretString="v2", VersionStages=["AWSPENDING"])
    proxy.deny("secretsmanager.GetSecretValue")
    run = cli("rotate", "dev/t/a", "--cancel", "--yes")
    assert run.code == 0, run.stderr
    assert proxy.calls["secretsmanager.GetSecretValue"] == 0
    assert stages(sm, "dev/t/a") == {old: ["AWSCURRENT"]}


def test_ctrl_c_during_the_promotion_says_it_may_be_half_done(cli, sm, proxy, aws_env) -> None:
    """Ctrl-C while the label move is on its way (the proxy holds it): the run cannot know
    whether AWS moved AWSCURRENT, so it says the promotion may be half done and gives the
    `--resume` that finishes it, with the apply step given on the command line."""
    import shlex
    import threading

    from tests.test_rotate_apply import Recorder

    old = make(sm, "dev/t/a", "v1")
    recorder = Recorder(aws_env)
    proxy.hold(UVS, after=0, until=NEVER, timeout=60)

    def interrupt() -> None:
        deadline = time.monotonic() + 60
        while proxy.arrivals[UVS] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends; the run is in the main thread

    thread = threading.Thread(target=interrupt, daemon=True)
    thread.start()
    run = cli("rotate", "dev/t/a", "--stdin", "--apply-cmd", recorder.command, input="v2")
    thread.join(timeout=60)
    assert run.code == 130, run.stderr
    pending = holder(sm, "dev/t/a", "AWSPENDING")
    assert pending is not None
    said = " ".join(run.stderr.split())
    assert "interrupted (Ctrl-C) before the rotation of dev/t/a finished" in said
    # What the target holds comes first: the apply command already set the new value on it.
    assert (
        f"hint: the apply command set version {pending} on the target; readers still get "
        f"version {old}; the promotion of version {pending} may be half done: "
        "`secrets rotate dev/t/a --resume "
        f"--apply-cmd {shlex.quote(recorder.command)}` finishes it"
    ) in said
    assert "this run did not move AWSCURRENT" not in said
    assert holder(sm, "dev/t/a", "AWSCURRENT") == old  # the held move never reached AWS


@pytest.mark.parametrize("reply", ["answered", "lost, then refused"])
def test_the_same_value_rotated_again_after_a_rollback_is_staged_on_its_old_version(
    cli, sm, proxy, reply: str
) -> None:
    """Rotating to a value, rolling back, then rotating to the same value again gives the
    same request token: AWS ignores the write and answers with the version that holds the
    value already, so AWSPENDING is moved onto that version. When the move's first reply is
    lost and its retry refused, the labels read afterwards show the move done: that is
    success, not the refusal."""
    old = make(sm, "dev/r/a", "v1")
    first = cli("rotate", "dev/r/a", "--stdin", "--json", input="v2")
    assert first.code == 0, first.stderr
    staged = first.json()["version_id"]
    assert cli("rotate", "dev/r/a", "--rollback", "--yes").code == 0
    assert holder(sm, "dev/r/a", "AWSCURRENT") == old
    if reply != "answered":
        proxy.script(UVS, "lose", "fail:InvalidRequestException")
    again = cli("rotate", "dev/r/a", "--stdin", "--json", input="v2", env=FEW_RETRIES)
    assert again.code == 0, again.stderr
    assert again.json()["version_id"] == staged
    assert holder(sm, "dev/r/a", "AWSCURRENT") == staged
    assert holder(sm, "dev/r/a", "AWSPREVIOUS") == old
    assert holder(sm, "dev/r/a", "AWSPENDING") is None
    assert value_of(sm, "dev/r/a") == "v2"


def test_a_promotion_another_tool_made_meanwhile_is_not_made_again(cli, sm, proxy) -> None:
    """Another tool moves AWSCURRENT onto the staged version while the rotation looks at the
    labels before promoting (its DescribeSecret held): the rotation finds the promotion done,
    does not move AWSCURRENT again, and only drops AWSPENDING - one label call in all."""
    old = make(sm, "dev/r/b", "v1")

    def promote() -> None:
        (pending,) = [v for v, labels in stages(sm, "dev/r/b").items() if "AWSPENDING" in labels]
        sm.update_secret_version_stage(
            SecretId="dev/r/b",
            VersionStage="AWSCURRENT",
            MoveToVersionId=pending,
            RemoveFromVersionId=old,
        )

    # The plan's look at the labels goes through; the promotion's is held.
    racer = proxy.meanwhile(DESCRIBE, promote, after=1)
    run = cli("rotate", "dev/r/b", "--stdin", input="v2")
    racer.join()
    assert proxy.hold_timeouts[DESCRIBE] == 0
    assert run.code == 0, run.stderr
    assert proxy.count(UVS) == 1
    staged = holder(sm, "dev/r/b", "AWSCURRENT")
    assert staged != old and value_of(sm, "dev/r/b") == "v2"
    assert holder(sm, "dev/r/b", "AWSPENDING") is None
