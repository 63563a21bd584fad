"""`--verify-cmd`: the pending value on stdin only; failure and timeout promote nothing.

The verification command used here is a small script that dumps what it received - stdin,
argv, environment, and the argv and environment of the `secrets` process that started it -
so the tests can assert the value went to stdin and nowhere else.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SECRETS_BIN
from tests.test_rotate import holder, make, stages, value_of

DUMP = """
import json, os, sys
out = sys.argv[1]
data = sys.stdin.buffer.read()
with open(os.path.join(out, "stdin"), "wb") as f:
    f.write(data)
with open(os.path.join(out, "seen.json"), "w") as f:
    parent = {}
    for what in ("cmdline", "environ"):
        try:
            with open(f"/proc/{os.getppid()}/{what}", "rb") as p:
                parent[what] = p.read().decode("utf-8", "replace")
        except OSError:
            parent[what] = ""
    json.dump({"argv": sys.argv, "env": dict(os.environ), "parent": parent}, f)
sys.exit(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
"""


def dump_command(work: Path, exit_code: int = 0) -> tuple[str, Path]:
    script = work / "dump_verify.py"
    script.write_text(DUMP, encoding="utf-8")
    out = work / "verify-out"
    out.mkdir(exist_ok=True)
    return f"{sys.executable} {script} {out} {exit_code}", out


def assert_only_on_stdin(out: Path, value: str) -> None:
    assert (out / "stdin").read_bytes() == value.encode()
    seen = json.loads((out / "seen.json").read_text(encoding="utf-8"))
    assert value not in json.dumps(seen["argv"])
    assert value not in json.dumps(seen["env"])
    assert value not in seen["parent"]["cmdline"]
    assert value not in seen["parent"]["environ"]


def test_verify_receives_the_value_on_stdin_only(cli, sm, aws_env) -> None:
    make(sm, "dev/db/password", "old-password")
    command, out = dump_command(aws_env)
    run = cli("rotate", "dev/db/password", "--stdin", "--verify-cmd", command, input="n3w-Pa55")
    assert run.code == 0, run.stderr
    assert_only_on_stdin(out, "n3w-Pa55")
    # Told on a line of its own, between the staging and the promotion.
    lines = run.stderr.splitlines()
    said = lines.index("verification passed")
    assert lines[said - 1].startswith("staged version ")
    assert lines[said + 1].startswith("promoted version ")
    assert value_of(sm, "dev/db/password") == "n3w-Pa55"


def test_installed_script_keeps_a_generated_value_off_argv_and_env(
    secrets_cmd, sm, aws_env
) -> None:
    make(sm, "dev/db/password", "old-password")
    command, out = dump_command(aws_env)
    run = secrets_cmd(
        ["rotate", "dev/db/password", "--generate", "--verify-cmd", command, "--json"]
    )
    assert run.code == 0, run.stderr
    assert run.json()["verified"] is True
    generated = value_of(sm, "dev/db/password")
    assert_only_on_stdin(out, generated)
    seen = json.loads((out / "seen.json").read_text(encoding="utf-8"))
    # Its parent is `secrets`, or on Linux the guard `secrets` starts it under (that stops it
    # if `secrets` dies): neither holds the value in its argv or environment.
    parent = seen["parent"]["cmdline"]
    assert "rotate" in parent or "PR_SET_PDEATHSIG" in parent
    assert generated not in parent + seen["parent"]["environ"]
    assert generated not in run.stdout + run.stderr


def test_failing_verify_promotes_nothing(cli, sm) -> None:
    old = make(sm, "dev/api/key", "v1")
    run = cli("rotate", "dev/api/key", "--stdin", "--verify-cmd", "sh -c 'exit 3'", input="v2")
    assert run.code == 1
    assert "verification failed: the command exited with 3" in run.stderr
    assert "--resume" in run.stderr and "--cancel" in run.stderr
    pending = holder(sm, "dev/api/key", "AWSPENDING")
    assert pending is not None and pending != old
    assert holder(sm, "dev/api/key", "AWSCURRENT") == old
    assert value_of(sm, "dev/api/key") == "v1"


def test_verify_that_times_out_is_stopped_with_its_children(cli, sm, aws_env) -> None:
    old = make(sm, "dev/api/key", "v1")
    pidfile = aws_env / "child.pid"
    command = f"sleep 60 & echo $! > {pidfile}; wait"
    run = cli(
        "rotate",
        "dev/api/key",
        "--stdin",
        "--verify-cmd",
        command,
        "--verify-timeout",
        "1",
        input="v2",
    )
    assert run.code == 1
    assert "timed out after 1 s" in run.stderr
    assert holder(sm, "dev/api/key", "AWSCURRENT") == old
    assert holder(sm, "dev/api/key", "AWSPENDING") is not None
    # The background `sleep` was in the command's process group: it is gone too.
    child = int(pidfile.read_text().strip())
    for _ in range(50):
        if not _alive(child):
            break
        time.sleep(0.1)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    # A zombie waiting for init to reap it is dead for our purposes.
    return not (status.exists() and "State:\tZ" in status.read_text())


def test_verify_output_is_shown_with_the_value_masked(cli, sm) -> None:
    make(sm, "dev/api/key", "v1")
    run = cli(
        "rotate",
        "dev/api/key",
        "--stdin",
        "--verify-cmd",
        "sh -c 'echo login with; cat; echo; exit 1'",
        input="s3cr3t-canary",
    )
    assert run.code == 1
    assert "verify | login with" in run.stderr
    assert "verify | ***" in run.stderr
    assert "s3cr3t-canary" not in run.stdout + run.stderr


def test_after_a_failed_verify_the_hint_names_cancel_then_a_resume_that_verifies(cli, sm) -> None:
    """The finding: the hint offered a plain `--resume` ("promotes it"), which promotes the
    value that just failed verification. It names `--cancel` first, and a `--resume` with the
    same verify command; followed, that resume fails the same way and promotes nothing."""
    old = make(sm, "dev/api/key", "v1")
    check = "sh -c 'exit 3'"
    run = cli("rotate", "dev/api/key", "--stdin", "--verify-cmd", check, input="v2")
    assert run.code == 1
    pending = holder(sm, "dev/api/key", "AWSPENDING")
    hint = next(line for line in run.stderr.splitlines() if line.startswith("hint:"))
    assert hint == (
        "hint: AWSCURRENT is unchanged; the value that failed verification waits as AWSPENDING "
        f"(version {pending}): `secrets rotate dev/api/key --cancel` drops it; "
        "`secrets rotate dev/api/key --resume --verify-cmd 'sh -c '\"'\"'exit 3'\"'\"''` "
        "verifies it again and promotes it only if it passes"
    )
    assert "--resume` promotes" not in run.stderr
    again = cli("rotate", "dev/api/key", "--resume", "--verify-cmd", check)
    assert again.code == 1, again.stderr
    assert "`secrets rotate dev/api/key --cancel` drops it;" in again.stderr
    assert hint in again.stderr  # the resume's failure offers the same two ways out
    assert holder(sm, "dev/api/key", "AWSCURRENT") == old
    assert holder(sm, "dev/api/key", "AWSPENDING") == pending


def test_a_bulk_resume_that_fails_verification_offers_a_resume_that_verifies(cli, sm) -> None:
    """Bulk `--resume --verify-cmd`: a value that fails verification is left pending, and
    its hint never offers a plain `--resume` (it would promote that value unverified)."""
    old = make(sm, "dev/api/key", "v1")
    pending = str(
        sm.put_secret_value(
            SecretId="dev/api/key", SecretString="v2", VersionStages=["AWSPENDING"]
        )["VersionId"]
    )
    run = cli("rotate", "--env", "dev", "--resume", "--yes", "--verify-cmd", "false", "--json")
    assert run.code == 1, run.stderr
    [failed] = run.json()["failed"]
    assert failed["name"] == "dev/api/key" and failed["step"] == "verify"
    assert failed["error"]["hint"].endswith(
        "`secrets rotate dev/api/key --cancel` drops it; "
        "`secrets rotate dev/api/key --resume --verify-cmd false` verifies it again and "
        "promotes it only if it passes"
    )
    assert stages(sm, "dev/api/key") == {old: ["AWSCURRENT"], pending: ["AWSPENDING"]}


def test_resume_verifies_the_staged_value_then_promotes(cli, sm, aws_env) -> None:
    old = make(sm, "dev/api/key", "v1")
    assert cli("rotate", "dev/api/key", "--generate", "--verify-cmd", "false").code == 1
    pending = holder(sm, "dev/api/key", "AWSPENDING")
    staged = value_of(sm, "dev/api/key", "AWSPENDING")
    command, out = dump_command(aws_env)
    run = cli("rotate", "dev/api/key", "--resume", "--verify-cmd", command)
    assert run.code == 0, run.stderr
    # The staged value is promoted as it is: --resume never generates a new one.
    assert (out / "stdin").read_text() == staged
    assert holder(sm, "dev/api/key", "AWSCURRENT") == pending
    assert holder(sm, "dev/api/key", "AWSPREVIOUS") == old
    assert holder(sm, "dev/api/key", "AWSPENDING") is None


def test_cancel_after_failed_verify_drops_the_pending_version(cli, sm) -> None:
    old = make(sm, "dev/api/key", "v1")
    assert cli("rotate", "dev/api/key", "--stdin", "--verify-cmd", "false", input="v2").code == 1
    run = cli("rotate", "dev/api/key", "--cancel")
    assert run.code == 0, run.stderr
    assert stages(sm, "dev/api/key") == {old: ["AWSCURRENT"]}
    assert value_of(sm, "dev/api/key") == "v1"
    # A new rotation can start again.
    assert cli("rotate", "dev/api/key", "--stdin", input="v3").code == 0
    assert value_of(sm, "dev/api/key") == "v3"


def test_json_mode_keeps_stderr_to_the_error_object(cli, sm) -> None:
    make(sm, "dev/api/key", "v1")
    run = cli(
        "rotate", "dev/api/key", "--stdin", "--json", "--verify-cmd", "sh -c 'echo no; exit 2'",
        input="v2",
    )  # fmt: skip
    assert run.code == 1
    error = json.loads(run.stderr)["error"]
    assert error["code"] == 1
    assert "exited with 2" in error["message"]
    assert "--resume" in error["hint"]
    assert run.stdout == ""


# -- what the command prints, and how long we wait for it (issue 18 items 2, 3, 4, 16) -----------
MEASURE_RSS = """
import resource, subprocess, sys
# A ceiling on the address space, so that a runner that keeps all output cannot take the
# machine down with it (the old one reached 11.6 GB): it fails instead.
limit = 2 * 1024**3
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
done = subprocess.run(sys.argv[1:], capture_output=True)
sys.stderr.buffer.write(done.stderr)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def test_verify_output_is_bounded_in_memory(sm, aws_env) -> None:
    """`--verify-cmd yes` prints gigabytes: peak memory of `secrets` grows by less than 30 MB
    over the same failed verification of a command that prints one line (a bound relative to
    that baseline, so it holds under coverage or mutation tooling too), the command is stopped
    at the timeout, and the tail is shown."""
    import subprocess

    from tests.conftest import SECRETS_BIN

    make(sm, "dev/api/key", "v1")
    measure = aws_env / "measure.py"
    measure.write_text(MEASURE_RSS, encoding="utf-8")

    def peak_of(verify_cmd: str) -> tuple[int, str]:
        run = subprocess.run(
            [sys.executable, str(measure), SECRETS_BIN, "rotate", "dev/api/key", "--generate",
             "--verify-cmd", verify_cmd, "--verify-timeout", "2"],
            capture_output=True, check=False, timeout=120,
        )  # fmt: skip
        code, peak_kib = (int(x) for x in run.stdout.split())
        assert code == 1, run.stderr.decode()
        # Each failed verification leaves its pending version: cancel it for the next run.
        assert subprocess.run(
            [SECRETS_BIN, "rotate", "dev/api/key", "--cancel"], capture_output=True, check=False
        ).returncode == 0  # fmt: skip
        return peak_kib, run.stderr.decode()

    baseline_kib, _ = peak_of("echo one line; exit 1")
    peak_kib, stderr = peak_of("yes")
    assert "timed out after 2 s" in stderr
    assert "verify | y" in stderr
    assert stderr.count("verify |") == 5
    assert peak_kib - baseline_kib < 30 * 1024, f"peak RSS {peak_kib} KiB, {baseline_kib} KiB"
    assert value_of(sm, "dev/api/key") == "v1"


def test_a_child_that_leaves_the_group_does_not_hold_the_rotation(cli, sm, aws_env) -> None:
    """The command exits 1 at once, leaving a process in its own session that holds the
    output pipe: the exit decides (it said "timed out" after the child's 40 s)."""
    make(sm, "dev/api/key", "v1")
    pidfile = aws_env / "escaped.pid"
    command = f"sh -c 'setsid sleep 60 & echo $! > {pidfile}; echo bye; exit 1'"
    try:
        run = cli(
            "rotate", "dev/api/key", "--stdin", "--verify-cmd", command,
            "--verify-timeout", "30", input="v2",
        )  # fmt: skip
        assert run.code == 1, run.stderr
        assert "the command exited with 1" in run.stderr
        assert "timed out" not in run.stderr
        assert "verify | bye" in run.stderr
    finally:
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)


PRINTS_WHAT_IT_TRIED = """
import json, pathlib, sys
document = json.load(sys.stdin)
old = pathlib.Path(sys.argv[1]).read_text()
print("tried", document["password"])
print("user", document["user"])
print("old", old)
print("escaped", json.dumps(old)[1:-1])
sys.exit(1)
"""


def test_every_value_of_a_field_rotation_is_masked(cli, sm, aws_env) -> None:
    """With --field, a verify command that prints the password it tried (and the old one)
    showed them in clear: only the whole JSON text was masked."""
    old = 'old-Pa55"w'
    make(sm, "dev/db/creds", json.dumps({"user": "app", "password": old}))
    (aws_env / "old.txt").write_text(old, encoding="utf-8")
    script = aws_env / "tried.py"
    script.write_text(PRINTS_WHAT_IT_TRIED, encoding="utf-8")
    run = cli(
        "rotate", "dev/db/creds", "--field", "password", "--stdin", "--verify-cmd",
        f"{sys.executable} {script} {aws_env / 'old.txt'}", input="n3w-canary-Pa55",
    )  # fmt: skip
    assert run.code == 1, run.stderr
    assert "verify | tried ****" in run.stderr
    assert "verify | old ****" in run.stderr
    assert "verify | escaped ****" in run.stderr
    # An unchanged member under 4 bytes stays readable (masking every "app" would hide all).
    assert "verify | user app" in run.stderr
    assert "n3w-canary-Pa55" not in run.stdout + run.stderr
    assert "old-Pa55" not in run.stdout + run.stderr


def test_a_verify_command_that_does_not_exist_is_found_before_staging(cli, sm, proxy) -> None:
    old = make(sm, "dev/api/key", "v1")
    proxy.reset_counts()
    run = cli("rotate", "dev/api/key", "--generate", "--verify-cmd", "nosuchcmd --check")
    assert run.code == 3
    assert "--verify-cmd: command 'nosuchcmd' not found; nothing was changed" in run.stderr
    assert proxy.count() == 0
    assert stages(sm, "dev/api/key") == {old: ["AWSCURRENT"]}


PRINTS_EVERY_FORM = """
import json, sys
data = sys.stdin.read()
try:
    d = json.loads(data)
except ValueError:
    d = None
if isinstance(d, dict):
    print("members", d["password"], d["api_token"], d["nested"]["key"])
    print("json", json.dumps(d["password"]), json.dumps(d["api_token"]))
    print("repr", repr(d["password"]), repr(d["api_token"]))
else:
    print("stripped", data.strip())
    for line in data.splitlines():
        print("line >", line)
    print("json", json.dumps(data), "repr", repr(data))
sys.exit(1)
"""


def test_verify_output_masks_unchanged_members_and_escaped_forms(cli, sm, aws_env) -> None:
    """The finding: an unchanged member (`api_token`) was shown in clear next to the masked
    password, and so was the new password JSON-escaped (GetRandomPassword's punctuation
    includes `"` and `\\`)."""
    current = {
        "user": "app",
        "password": "oldPw-CANARY1",
        "api_token": "UnchangedTokCANARY",
        "nested": {"key": "NestedKeyCANARY"},
    }
    make(sm, "dev/rv/creds", json.dumps(current))
    script = aws_env / "forms.py"
    script.write_text(PRINTS_EVERY_FORM, encoding="utf-8")
    run = cli(
        "rotate", "dev/rv/creds", "--field", "password", "--stdin",
        "--verify-cmd", f"{sys.executable} {script}", input='Pa"ss\\word-CANARY',
    )  # fmt: skip
    assert run.code == 1, run.stderr
    assert "verify | members **** **** ****" in run.stderr
    assert "verify | json " in run.stderr and "verify | repr " in run.stderr
    assert "CANARY" not in run.stdout + run.stderr


def test_verify_output_masks_a_file_value_stripped_and_line_by_line(cli, sm, aws_env) -> None:
    """A value from a file ends with a newline; a command prints it stripped, or a line at a
    time behind a prefix (a PEM key), or escaped: every form is masked."""
    make(sm, "dev/rv/key", "old")
    key = "-----BEGIN KEY-----\nFirstLineCANARYaaaa\nSecondLineCANARYbbbb\n-----END KEY-----\n"
    (aws_env / "key.pem").write_text(key, encoding="utf-8")
    script = aws_env / "forms.py"
    script.write_text(PRINTS_EVERY_FORM, encoding="utf-8")
    run = cli(
        "rotate", "dev/rv/key", "--from-file", str(aws_env / "key.pem"),
        "--verify-cmd", f"{sys.executable} {script}",
    )  # fmt: skip
    assert run.code == 1, run.stderr
    assert "verify | stripped ****" in run.stderr
    assert "verify | line > ****" in run.stderr
    assert "CANARY" not in run.stdout + run.stderr


HOLDS_THE_VALUE = """
import os, sys, time
sys.stdin.buffer.read()
open(os.path.join(sys.argv[1], str(os.getpid())), "w").close()
time.sleep(120)
"""


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" in status.read_text()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_kill_9_of_secrets_takes_the_verify_command_with_it(sm, aws_env) -> None:
    """The finding: after `kill -9` of `secrets rotate`, the verify command (in a session of
    its own) kept running with the value. Here it is a grandchild (`sh -c "...; exit 1"`), the
    case a signal to the direct child alone would miss."""
    make(sm, "dev/k9/a", "old")
    script = aws_env / "holds.py"
    script.write_text(HOLDS_THE_VALUE, encoding="utf-8")
    folder = aws_env / "pids"
    folder.mkdir()
    process = subprocess.Popen(
        [SECRETS_BIN, "rotate", "dev/k9/a", "--generate", "--yes", "--verify-cmd",
         f'sh -c "{sys.executable} {script} {folder}; exit 1"'],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    pid = None
    try:
        for _ in range(1200):
            found = list(folder.iterdir())
            if found:
                pid = int(found[0].name)
                break
            time.sleep(0.05)
        assert pid is not None, "the verify command never started"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        for _ in range(400):  # the kernel's signal, then the guard's SIGKILL to the group
            if _gone(pid):
                break
            time.sleep(0.05)
        assert _gone(pid), "the verify command outlived secrets"
    finally:
        process.kill()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


PRINTS_MEMBERS = """
import json, sys
d = json.load(sys.stdin)
print("hosts", *d["hosts"])
print("pin", d["pin"])
sys.exit(1)
"""


def test_verify_output_masks_unchanged_list_members_and_four_byte_ones(cli, sm, aws_env) -> None:
    """Unchanged members are masked wherever they sit (in a list too), down to MIN_PIECE
    bytes: a four-character PIN printed by the verify command is not shown."""
    current = {"password": "old-pw-1", "hosts": ["h1-SECRETHOSTA", "h2-SECRETHOSTB"], "pin": "7391"}
    make(sm, "dev/rv/list", json.dumps(current))
    script = aws_env / "members.py"
    script.write_text(PRINTS_MEMBERS, encoding="utf-8")
    run = cli(
        "rotate", "dev/rv/list", "--field", "password", "--stdin",
        "--verify-cmd", f"{sys.executable} {script}", input="new-pw-2",
    )  # fmt: skip
    assert run.code == 1, run.stderr
    assert "verify | hosts **** ****" in run.stderr
    assert "verify | pin ****" in run.stderr
    assert "SECRETHOST" not in run.stderr and "7391" not in run.stderr


def test_resume_promotes_a_value_staged_on_a_secret_without_awscurrent(
    cli, sm, proxy, aws_env
) -> None:
    """A secret whose AWSCURRENT label is gone (a rotation Lambda that stages the first value
    of a secret created without one leaves only AWSPENDING; the emulator gets there by
    removing the label): `--resume` verifies the staged value, then moves AWSCURRENT onto it
    and keeps the rotations record. Before, it said "promoted" and left the version with no
    label at all. The move names no version to take the label from (there is none); the
    emulator fails such a move with a 500 (moto issue 9451), so the proxy gives AWS's
    documented answer to it and the test reads the request."""
    name = "dev/db/password"
    first = make(sm, name, "first")
    staged = sm.put_secret_value(SecretId=name, SecretString="second", VersionStages=["AWSPENDING"])
    pending = str(staged["VersionId"])
    sm.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT", RemoveFromVersionId=first
    )
    assert holder(sm, name, "AWSCURRENT") is None
    sm.tag_resource(SecretId=name, Tags=[{"Key": "envsecrets:rotations", "Value": "abcdef12"}])
    move = "secretsmanager.UpdateSecretVersionStage"
    proxy.record(move)
    reply = {"ARN": sm.describe_secret(SecretId=name)["ARN"], "Name": name}
    proxy.answer(move, json.dumps(reply).encode(), times=1)
    command, out = dump_command(aws_env)
    run = cli("rotate", name, "--resume", "--yes", "--verify-cmd", command)
    assert run.code == 0, run.stderr
    assert_only_on_stdin(out, "second")
    # No version was AWSCURRENT, so none keeps AWSPREVIOUS: "-", as everywhere a version is none.
    assert f"promoted version {pending} to AWSCURRENT; - keeps AWSPREVIOUS" in run.stderr
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=name)["Tags"]}
    assert tags["envsecrets:rotations"] == f"{pending[:8]} abcdef12"
    promoted, *_ = proxy.requests(move)
    assert promoted["VersionStage"] == "AWSCURRENT"
    assert promoted["MoveToVersionId"] == pending
    assert "RemoveFromVersionId" not in promoted


def test_a_resume_that_cannot_read_the_values_to_verify_never_offers_a_plain_resume(
    cli, sm, proxy, aws_env
) -> None:
    """`--resume --verify-cmd` whose read of the current value (to mask it in the verify
    command's output) is refused: nothing was verified, so the way out is `--cancel` or a
    `--resume` that verifies, never a plain `--resume` that would promote it unverified."""
    name = "dev/db/password"
    make(sm, name, "v1")
    staged = sm.put_secret_value(SecretId=name, SecretString="v2", VersionStages=["AWSPENDING"])
    pending = str(staged["VersionId"])
    command, out = dump_command(aws_env)
    # The resume reads the pending value (is it overtaken?), then the current one.
    proxy.script("secretsmanager.GetSecretValue", "forward", "fail:AccessDeniedException")
    run = cli("rotate", name, "--resume", "--yes", "--verify-cmd", command)
    assert run.code == 5, run.stderr
    assert not (out / "stdin").exists()  # the verify command never ran
    said = " ".join(run.stderr.split())
    assert f"`secrets rotate {name} --cancel` drops it" in said
    assert (
        f"`secrets rotate {name} --resume --verify-cmd {shlex.quote(command)}` verifies it" in said
    )
    assert "--resume` promotes it" not in said
    assert holder(sm, name, "AWSPENDING") == pending


GET = "secretsmanager.GetSecretValue"


def test_each_value_a_verified_rotation_needs_is_read_once(cli, sm, proxy) -> None:
    """Verification needs the new value (for the command's stdin) and the current one (to
    mask it in the command's output). A rotation was given the new value and read the current
    one when it planned: one GetSecretValue in all. A `--resume` reads the staged value and the
    current one: two. Neither reads a value twice (each read is a billed call, and a value
    read again could be another one)."""
    make(sm, "dev/api/key", "v1")
    proxy.reset_counts()
    rotated = cli("rotate", "dev/api/key", "--stdin", "--verify-cmd", "true", input="v2")
    assert rotated.code == 0, rotated.stderr
    assert proxy.count(GET) == 1
    assert proxy.count("secretsmanager.BatchGetSecretValue") == 0

    failed = cli("rotate", "dev/api/key", "--stdin", "--verify-cmd", "false", input="v3")
    assert failed.code == 1, failed.stderr
    proxy.reset_counts()
    resumed = cli("rotate", "dev/api/key", "--resume", "--verify-cmd", "true")
    assert resumed.code == 0, resumed.stderr
    assert proxy.count(GET) == 2
    assert value_of(sm, "dev/api/key") == "v3"
