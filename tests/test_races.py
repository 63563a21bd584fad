"""Writers racing each other on one secret, with real processes (issue 16 items 6 and 7, issue
18 item 14): a change made by someone else between our read and our write is refused with
exit 4 and named, never silently reverted; what a refused run leaves is named in its hint.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import SECRETS_BIN, write_config
from tests.test_pty import answer_value, finish, recorded, spawn
from tests.test_rotate import holder, make, stages, value_of

PUT = "secretsmanager.PutSecretValue"


def start(*args: str, stdin: bytes | None = None) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [SECRETS_BIN, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
    )
    if process.stdin is not None:
        process.stdin.write(stdin or b"")
        process.stdin.close()
        process.stdin = None  # communicate() would flush it again
    return process


def results(processes: list[subprocess.Popen[bytes]]) -> list[tuple[int, str]]:
    done = []
    for process in processes:
        _, err = process.communicate(timeout=120)
        done.append((process.returncode, err.decode("utf-8", "replace")))
    return done


# -- set --field -----------------------------------------------------------------------------
def test_concurrent_set_field_loses_no_update(sm: Any, proxy: Any) -> None:
    """Four `set --field` at once, each reading before the others write (the proxy's latency
    makes their reads and writes interleave): every one that says "updated" has its key in the
    final document; the others were refused with exit 4 and wrote nothing current."""
    sm.create_secret(Name="dev/js/x", SecretString='{"keep": 1.10}')
    proxy.faults.latency = 0.4
    keys = ["a", "b", "c", "d"]
    runs = results(
        [start("set", "dev/js/x", "--field", key, "--stdin", stdin=key.encode()) for key in keys]
    )
    final = value_of(sm, "dev/js/x")
    document = json.loads(final)
    succeeded = [key for key, (code, _) in zip(keys, runs, strict=True) if code == 0]
    for key, (code, err) in zip(keys, runs, strict=True):
        assert code in (0, 4), err
        if code == 0:
            assert "updated" in err
            assert document.get(key) == key, f"{key} said updated but was lost: {final}"
        else:
            assert "changed while this command ran" in err
            assert "run the command again" in err
    assert succeeded, runs
    assert final.startswith('{"keep": 1.10')  # the other member kept as it was
    # Every refused one leaves no working label behind.
    assert all(
        labels in (["AWSCURRENT"], ["AWSPREVIOUS"]) for labels in stages(sm, "dev/js/x").values()
    )


def test_set_field_refuses_a_change_made_while_it_waited_to_confirm(aws_env: Path, sm) -> None:
    """Interactively: a colleague's change made while `set --field` waited at its
    confirmation is kept, and this one is refused."""
    write_config(aws_env, "[environments.prod]\nprotected = true\n")
    sm.create_secret(Name="prod/js/x", SecretString='{"a": "1", "b": "1"}')
    child = recorded(spawn("set", "prod/js/x", "--field", "a", cwd=aws_env))
    answer_value(child, "prod/js/x", "2", "2")
    child.expect(r"put a new version of prod/js/x\?")
    colleague = subprocess.run(
        [SECRETS_BIN, "set", "prod/js/x", "--field", "b", "--stdin", "--yes"],
        input=b"colleague",
        capture_output=True,
        check=False,
    )
    assert colleague.returncode == 0, colleague.stderr
    child.send("y")
    code, screen = finish(child)
    assert code == 4, screen
    assert "changed while this command ran" in screen
    assert json.loads(value_of(sm, "prod/js/x")) == {"a": "1", "b": "colleague"}


# -- rotation racing set ---------------------------------------------------------------------
def setting_verify(aws_env: Path, name: str, value: str) -> str:
    """A verify command that, while the rotation waits on it, has `secrets set` write the
    same secret (as a colleague would) and then passes."""
    script = aws_env / "set_meanwhile.py"
    script.write_text(
        "import subprocess, sys\n"
        "sys.stdin.buffer.read()\n"
        f"done = subprocess.run([{SECRETS_BIN!r}, 'set', {name!r}, '--stdin'], "
        f"input={value.encode()!r}, capture_output=True)\n"
        "sys.exit(done.returncode)\n",
        encoding="utf-8",
    )
    return f"{sys.executable} {script}"


def test_rotation_refuses_to_promote_over_a_set_made_meanwhile(cli, sm, aws_env) -> None:
    old = make(sm, "dev/api/key", "v1")
    command = setting_verify(aws_env, "dev/api/key", "newer")
    run = cli("rotate", "dev/api/key", "--stdin", "--verify-cmd", command, input="rotated")
    assert run.code == 4, run.stderr
    assert "changed during the rotation" in run.stderr
    assert "AWSCURRENT is unchanged" not in run.stderr
    pending = holder(sm, "dev/api/key", "AWSPENDING")
    assert pending is not None
    assert f"--cancel` drops the stale pending version {pending}" in run.stderr
    assert value_of(sm, "dev/api/key") == "newer"
    newer = holder(sm, "dev/api/key", "AWSCURRENT")
    assert newer not in (old, pending)
    # The refusal names both sides: the version set meanwhile and the one this run replaced.
    assert (
        f"version {newer} became AWSCURRENT after version {pending} was staged to replace "
        f"{old}; nothing was promoted"
    ) in " ".join(run.stderr.split())
    # --resume compares version ids: the pending version replaced `old`, which is no longer
    # AWSCURRENT, so promoting it would undo the newer value (moto gives both one date).
    resumed = cli("rotate", "dev/api/key", "--resume")
    assert resumed.code == 4, resumed.stderr
    assert f"version {newer} is AWSCURRENT now" in resumed.stderr
    assert "--cancel" in resumed.stderr
    assert value_of(sm, "dev/api/key") == "newer"
    bulk = cli("rotate", "--env", "dev", "--resume", "--json")
    assert bulk.code == 1
    assert bulk.json()["failed"][0]["error"]["code"] == 4
    assert value_of(sm, "dev/api/key") == "newer"
    assert cli("rotate", "dev/api/key", "--cancel").code == 0
    assert holder(sm, "dev/api/key", "AWSPENDING") is None


def test_resume_still_promotes_a_pending_version_over_the_version_it_replaced(cli, sm) -> None:
    make(sm, "dev/api/key", "v1")
    assert cli("rotate", "dev/api/key", "--stdin", "--verify-cmd", "false", input="v2").code == 1
    # Another secret's write does not count; neither does an unrelated tag.
    sm.tag_resource(SecretId="dev/api/key", Tags=[{"Key": "team", "Value": "x"}])
    run = cli("rotate", "dev/api/key", "--resume")
    assert run.code == 0, run.stderr
    assert value_of(sm, "dev/api/key") == "v2"


# -- another tool's label moves while a rotation verifies -------------------------------------
MEANWHILE = """
import sys
import boto3
sys.stdin.buffer.read()
name, outcome = sys.argv[1], int(sys.argv[2])
sm = boto3.client("secretsmanager")
def holder(stage):
    found = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    return next((v for v, labels in found.items() if stage in labels), None)
{action}
sys.exit(outcome)
"""
DROP_PENDING = (
    'sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPENDING", '
    'RemoveFromVersionId=holder("AWSPENDING"))'
)
STAGE_THEIRS = (
    'sm.put_secret_value(SecretId=name, SecretString="theirs", VersionStages=["AWSPENDING"])'
)
PROMOTE_PENDING = (
    'sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", '
    'MoveToVersionId=holder("AWSPENDING"), RemoveFromVersionId=holder("AWSCURRENT"))'
)
SET_BY_HAND = 'sm.put_secret_value(SecretId=name, SecretString="by hand")'


def verify_doing(aws_env: Path, name: str, action: str, *, outcome: int = 0) -> str:
    """A verify command that, while the rotation waits on it, does `action` to the secret's
    labels or values as another tool would (boto3, straight to the emulator), then exits
    with `outcome`."""
    script = aws_env / "meanwhile.py"
    script.write_text(MEANWHILE.replace("{action}", action), encoding="utf-8")
    return f"{sys.executable} {script} {name} {outcome}"


def staged_by_this_run(sm: Any, name: str, *known: str | None) -> str:
    """The version the rotation staged: the one version that is none of `known`."""
    listed = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    [staged] = {v["VersionId"] for v in listed} - set(known)
    return str(staged)


def said(run: Any) -> str:
    """stderr with its line breaks undone (rich wraps long lines)."""
    return " ".join(run.stderr.split())


def test_a_pending_version_dropped_while_verifying_is_not_promoted(cli, sm, aws_env) -> None:
    """AWSPENDING removed under a rotation (another tool's cancel) while it verifies: the
    verification passes, yet nothing is promoted, and the user is told why and that nothing
    is left pending."""
    old = make(sm, "dev/api/key", "v1")
    verify = verify_doing(aws_env, "dev/api/key", DROP_PENDING)
    run = cli("rotate", "dev/api/key", "--stdin", "--verify-cmd", verify, input="v2")
    assert run.code == 4, run.stderr
    pending = staged_by_this_run(sm, "dev/api/key", old)
    assert (
        f"dev/api/key changed during the rotation: the pending version {pending} was dropped "
        "(its AWSPENDING was removed, a cancel); nothing was promoted"
    ) in said(run)
    assert (
        f"hint: version {old} is AWSCURRENT; nothing is left pending (this run's version "
        f"{pending} holds no label)"
    ) in said(run)
    assert holder(sm, "dev/api/key", "AWSCURRENT") == old
    assert value_of(sm, "dev/api/key") == "v1"


def test_a_version_staged_over_the_rotation_s_own_is_not_promoted(cli, sm, aws_env) -> None:
    """Another tool staged its own AWSPENDING while the rotation verified: neither version is
    promoted, and the hint names the version pending now and the command that drops it."""
    old = make(sm, "dev/api/key", "v1")
    verify = verify_doing(aws_env, "dev/api/key", STAGE_THEIRS)
    run = cli("rotate", "dev/api/key", "--stdin", "--verify-cmd", verify, input="v2")
    assert run.code == 4, run.stderr
    other = holder(sm, "dev/api/key", "AWSPENDING")
    pending = staged_by_this_run(sm, "dev/api/key", old, other)
    assert (
        f"the pending version {pending} was dropped (version {other} is AWSPENDING now, "
        "staged by another rotation); nothing was promoted"
    ) in said(run)
    assert (
        f"hint: version {old} is AWSCURRENT; version {other} is AWSPENDING now (staged by "
        f"another rotation; this run's version {pending} holds no label): `secrets rotate "
        "dev/api/key --cancel` drops it"
    ) in said(run)
    assert holder(sm, "dev/api/key", "AWSCURRENT") == old


def test_a_rotation_promoted_by_another_tool_meanwhile_finishes(cli, sm, aws_env) -> None:
    """Another tool moved AWSCURRENT onto this rotation's own version while it verified: that
    is the promotion it was about to make, so the rotation finishes (AWSPENDING removed)."""
    old = make(sm, "dev/api/key", "v1")
    verify = verify_doing(aws_env, "dev/api/key", PROMOTE_PENDING)
    run = cli("rotate", "dev/api/key", "--stdin", "--verify-cmd", verify, input="v2")
    assert run.code == 0, run.stderr
    pending = staged_by_this_run(sm, "dev/api/key", old)
    assert holder(sm, "dev/api/key", "AWSCURRENT") == pending
    assert holder(sm, "dev/api/key", "AWSPREVIOUS") == old
    assert holder(sm, "dev/api/key", "AWSPENDING") is None
    assert value_of(sm, "dev/api/key") == "v2"


def test_a_failed_verification_after_another_tool_staged_names_what_is_pending(
    cli, sm, aws_env
) -> None:
    """The verification fails after another tool staged its own AWSPENDING: AWSCURRENT is
    unchanged, but the value waiting is not this run's, and the way out keeps the apply step
    given on the command line."""
    from tests.test_rotate_apply import Recorder

    old = make(sm, "dev/api/key", "v1")
    recorder = Recorder(aws_env)
    verify = verify_doing(aws_env, "dev/api/key", STAGE_THEIRS, outcome=1)
    run = cli("rotate", "dev/api/key", "--stdin", "--apply-cmd", recorder.command,
              "--verify-cmd", verify, input="v2")  # fmt: skip
    assert run.code == 1, run.stderr
    other = holder(sm, "dev/api/key", "AWSPENDING")
    pending = staged_by_this_run(sm, "dev/api/key", old, other)
    flags = f"--apply-cmd {shlex.quote(recorder.command)}"
    assert (
        f"hint: the apply command set version {pending} on the target; readers still get "
        f"version {old}; AWSCURRENT is unchanged; version {other} is AWSPENDING now (staged "
        f"by another rotation; this run's version {pending} holds no label): `secrets rotate "
        f"dev/api/key --cancel {flags}` drops it"
    ) in said(run)
    assert "the value that failed verification waits" not in said(run)
    assert holder(sm, "dev/api/key", "AWSCURRENT") == old


def test_a_failed_verification_after_a_set_by_hand_keeps_the_apply_step_in_the_way_out(
    cli, sm, aws_env
) -> None:
    """A value set by hand while the rotation verified, then the verification failed: the
    hint says AWSCURRENT moved, and the command that drops this run's version keeps the apply
    step given on the command line (the target is given the current value back)."""
    from tests.test_rotate_apply import Recorder

    make(sm, "dev/api/key", "v1")
    recorder = Recorder(aws_env)
    verify = verify_doing(aws_env, "dev/api/key", SET_BY_HAND, outcome=1)
    run = cli("rotate", "dev/api/key", "--stdin", "--apply-cmd", recorder.command,
              "--verify-cmd", verify, input="v2")  # fmt: skip
    assert run.code == 1, run.stderr
    by_hand = holder(sm, "dev/api/key", "AWSCURRENT")
    pending = holder(sm, "dev/api/key", "AWSPENDING")
    flags = f"--apply-cmd {shlex.quote(recorder.command)}"
    assert (
        f"version {by_hand} became AWSCURRENT during the rotation (another change); "
        f"`secrets rotate dev/api/key --cancel {flags}` drops the stale pending version "
        f"{pending}; then rotate again from the value as it is now"
    ) in said(run)
    assert "AWSCURRENT is unchanged" not in said(run)


DROP_CURRENT = (
    'sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", '
    'RemoveFromVersionId=holder("AWSCURRENT"))'
)


def without_awscurrent(sm: Any, name: str) -> str:
    """A secret whose AWSCURRENT label is gone and whose only pending version is `v2` (as a
    rotation Lambda leaves the first value of a secret created without one); the emulator
    gets there by removing the label. Returns the pending version."""
    first = make(sm, name, "v1")
    staged = sm.put_secret_value(SecretId=name, SecretString="v2", VersionStages=["AWSPENDING"])
    sm.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT", RemoveFromVersionId=first
    )
    return str(staged["VersionId"])


def test_a_resume_without_awscurrent_whose_pending_version_is_dropped_says_so(
    cli, sm, aws_env
) -> None:
    """A resume of a secret with no AWSCURRENT, whose AWSPENDING another tool removes while
    it verifies: nothing is promoted, and the hint says no version ("-") is AWSCURRENT and
    that nothing is left pending."""
    pending = without_awscurrent(sm, "dev/api/key")
    verify = verify_doing(aws_env, "dev/api/key", DROP_PENDING)
    run = cli("rotate", "dev/api/key", "--resume", "--yes", "--verify-cmd", verify)
    assert run.code == 4, run.stderr
    assert (
        f"hint: version - is AWSCURRENT; nothing is left pending (this run's version {pending} "
        "holds no label)"
    ) in said(run)
    assert holder(sm, "dev/api/key", "AWSCURRENT") is None


def test_a_failed_verification_after_awscurrent_was_removed_says_no_version_is_current(
    cli, sm, aws_env
) -> None:
    """Another tool removed AWSCURRENT while the rotation verified (the emulator allows it),
    then the verification failed: the hint says AWSCURRENT moved - to no version ("-") - and
    names this run's pending version to drop."""
    make(sm, "dev/api/key", "v1")
    verify = verify_doing(aws_env, "dev/api/key", DROP_CURRENT, outcome=1)
    run = cli("rotate", "dev/api/key", "--stdin", "--verify-cmd", verify, input="v2")
    assert run.code == 1, run.stderr
    pending = holder(sm, "dev/api/key", "AWSPENDING")
    assert (
        "version - became AWSCURRENT during the rotation (another change); `secrets rotate "
        f"dev/api/key --cancel` drops the stale pending version {pending}"
    ) in said(run)


def test_a_set_between_the_check_and_the_promotion_is_not_overwritten(
    cli, sm, proxy, moto_url: str
) -> None:
    """A value set by hand after the rotation looked at the labels and before it moved
    AWSCURRENT (staged with the proxy: the label move waits for the write): AWS refuses the
    move, and the refusal names the version set meanwhile and the one the rotation replaced."""
    import boto3

    from tests.conftest import REGION

    direct = boto3.client("secretsmanager", region_name=REGION, endpoint_url=moto_url)
    old = make(direct, "dev/api/key", "v1")
    move = "secretsmanager.UpdateSecretVersionStage"
    racer = proxy.meanwhile(
        move, lambda: direct.put_secret_value(SecretId="dev/api/key", SecretString="by hand")
    )
    run = cli("rotate", "dev/api/key", "--stdin", input="v2")
    racer.join(timeout=60)
    assert proxy.hold_timeouts[move] == 0
    assert run.code == 4, run.stderr
    by_hand = holder(direct, "dev/api/key", "AWSCURRENT")
    pending = holder(direct, "dev/api/key", "AWSPENDING")
    assert by_hand not in (old, pending)
    assert (
        f"dev/api/key changed during the rotation: version {by_hand} became AWSCURRENT after "
        f"version {pending} was staged to replace {old}; nothing was promoted"
    ) in said(run)
    assert value_of(direct, "dev/api/key") == "by hand"


# -- four rotations at once -------------------------------------------------------------------
BARRIER = """
import os, sys, time
sys.stdin.buffer.read()
folder = sys.argv[1]
open(os.path.join(folder, str(os.getpid())), "w").close()
deadline = time.time() + 8  # a rotation refused before staging never arrives
while len(os.listdir(folder)) < 4 and time.time() < deadline:
    time.sleep(0.05)
"""


def test_four_concurrent_rotations_say_only_what_they_know(sm, aws_env, proxy) -> None:
    """Those that stage wait for each other before promoting (the verify command is a
    barrier; the proxy's latency makes their plans overlap): one wins; the others are refused
    with exit 4, none claims "AWSCURRENT is unchanged", and a version left AWSPENDING is named
    by a hint with the command that drops it."""
    make(sm, "dev/api/key", "v0")
    proxy.faults.latency = 0.5
    barrier = aws_env / "barrier.py"
    barrier.write_text(BARRIER, encoding="utf-8")
    folder = aws_env / "arrived"
    folder.mkdir()
    verify = f"{sys.executable} {barrier} {folder}"
    runs = results(
        [
            start("rotate", "dev/api/key", "--stdin", "--verify-cmd", verify, stdin=value)
            for value in (b"v1", b"v2", b"v3", b"v4")
        ]
    )
    codes = sorted(code for code, _ in runs)
    assert codes.count(0) == 1, runs
    for code, err in runs:
        assert "AWSCURRENT is unchanged" not in err, err
        if code != 0:
            assert code == 4, err
            assert "changed during the rotation" in err or "has a pending version" in err
    left = holder(sm, "dev/api/key", "AWSPENDING")
    current = holder(sm, "dev/api/key", "AWSCURRENT")
    if left is not None and left != current:
        assert any(f"{left}" in err and "--cancel" in err for code, err in runs if code), runs
