"""`--apply-cmd`: the apply step between staging and verification (issue 13).

The apply command used here is a small script that appends what it received - stdin (the
JSON payload), argv, environment, and the argv and environment of the `secrets` process that
started it - to a JSON-lines file, one line per run, so that the tests can assert what each
run got, in which order, and that no value went anywhere but stdin.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from envsecrets.commands.rotate_request import RotateFlags, RotateMode, parse_request
from envsecrets.errors import CliError, ExitCode

from tests.conftest import write_config
from tests.leaks import assert_no_leak, run_watched, text_canary
from tests.test_rotate import holder, make, stages, value_of

RECORD = """
import json, os, sys
out, code = sys.argv[1], int(sys.argv[2])
data = sys.stdin.buffer.read()
parent = {}
for what in ("cmdline", "environ"):
    try:
        with open(f"/proc/{os.getppid()}/{what}", "rb") as p:
            parent[what] = p.read().decode("utf-8", "replace")
    except OSError:
        parent[what] = ""
with open(out, "a") as f:
    f.write(json.dumps({"stdin": data.decode("utf-8", "replace"), "argv": sys.argv,
                        "env": dict(os.environ), "parent": parent}) + "\\n")
flag = out + ".fail"
if os.path.exists(flag):
    print("target says: no")
    sys.exit(int(open(flag).read() or "1"))
sys.exit(code)
"""


class Recorder:
    """The recording apply command: `.command` to pass, `.runs()` what each run received,
    `.fail(code)` / `.succeed()` to switch its outcome between runs."""

    def __init__(self, folder: Path, exit_code: int = 0) -> None:
        script = folder / "record_apply.py"
        script.write_text(RECORD, encoding="utf-8")
        self.log = folder / "apply-runs.jsonl"
        self.command = f"{sys.executable} {script} {self.log} {exit_code}"

    def runs(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(run["stdin"]) for run in self.runs()]

    def fail(self, code: int = 1) -> None:
        Path(f"{self.log}.fail").write_text(str(code), encoding="utf-8")

    def succeed(self) -> None:
        Path(f"{self.log}.fail").unlink(missing_ok=True)


@pytest.fixture
def direct(moto_url: str) -> Any:
    """A Secrets Manager client on the emulator itself, not through the proxy: the write
    someone else makes while the proxy holds one of the command's requests."""
    import boto3

    from tests.conftest import REGION

    return boto3.client("secretsmanager", region_name=REGION, endpoint_url=moto_url)


def assert_values_only_on_stdin(run: dict[str, Any], *values: str) -> None:
    for value in values:
        assert value not in json.dumps(run["argv"])
        assert value not in json.dumps(run["env"])
        assert value not in run["parent"]["cmdline"]
        assert value not in run["parent"]["environ"]


def test_apply_gets_both_values_on_stdin_then_promotes(cli, sm, aws_env) -> None:
    old = make(sm, "dev/api/partner", "old-Partner-key")
    recorder = Recorder(aws_env)
    run = cli(
        "rotate", "dev/api/partner", "--stdin", "--apply-cmd", recorder.command, "--json",
        input="new-Partner-key",
    )  # fmt: skip
    assert run.code == 0, run.stderr
    new = holder(sm, "dev/api/partner", "AWSCURRENT")
    assert new != old and holder(sm, "dev/api/partner", "AWSPREVIOUS") == old
    [payload] = recorder.payloads()
    assert payload == {
        "name": "dev/api/partner",
        "version_id": new,
        "current": "old-Partner-key",
        "pending": "new-Partner-key",
        "action": "rotate",
        "encoding": "text",
    }
    assert_values_only_on_stdin(recorder.runs()[0], "old-Partner-key", "new-Partner-key")
    row = run.json()
    assert row["applied_to"] == "command" and row["cleanup_error"] is None
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId="dev/api/partner")["Tags"]}
    assert tags["envsecrets:applied-to"] == "command"
    assert tags["envsecrets:rotations"].split()[0] == str(new)[:8]


def test_plan_lists_the_four_steps(cli, sm, aws_env) -> None:
    make(sm, "dev/api/partner", "v1")
    recorder = Recorder(aws_env)
    run = cli("rotate", "dev/api/partner", "--stdin", "--apply-cmd", recorder.command,
              "--verify-cmd", "true", input="v2")  # fmt: skip
    assert run.code == 0, run.stderr
    steps = [line.strip()[:2] for line in run.stderr.splitlines() if line.strip()[:2] in
             ("1.", "2.", "3.", "4.")]  # fmt: skip
    assert steps == ["1.", "2.", "3.", "4."]
    assert f"2. apply: `{recorder.command}` with the current and new values" in run.stderr
    assert "3. verify: `true`" in run.stderr
    assert "4. promote to AWSCURRENT" in run.stderr
    assert "apply command done for version" in run.stderr


def test_apply_runs_before_verification(cli, sm, aws_env) -> None:
    """The verify command sees what the apply step did: it runs after it."""
    make(sm, "dev/api/partner", "v1")
    marker = aws_env / "applied"
    run = cli(
        "rotate", "dev/api/partner", "--stdin",
        "--apply-cmd", f"sh -c 'cat >/dev/null; touch {marker}'",
        "--verify-cmd", f"test -f {marker}", input="v2",
    )  # fmt: skip
    assert run.code == 0, run.stderr
    assert value_of(sm, "dev/api/partner") == "v2"


def test_failed_apply_stops_before_promotion_and_resume_runs_it_again(cli, sm, aws_env) -> None:
    old = make(sm, "dev/api/partner", "v1")
    recorder = Recorder(aws_env)
    recorder.fail(3)
    verify_marker = aws_env / "verified"
    run = cli(
        "rotate", "dev/api/partner", "--stdin", "--apply-cmd", recorder.command,
        "--verify-cmd", f"sh -c 'cat >/dev/null; touch {verify_marker}'", input="v2",
    )  # fmt: skip
    assert run.code == 1, run.stderr
    assert "the apply command failed: the command exited with 3; nothing was promoted" in (
        run.stderr
    )
    assert "apply | target says: no" in run.stderr
    assert not verify_marker.exists()  # verification never ran
    pending = holder(sm, "dev/api/partner", "AWSPENDING")
    assert pending is not None and holder(sm, "dev/api/partner", "AWSCURRENT") == old
    assert value_of(sm, "dev/api/partner") == "v1"
    # The hint names the resume with the same apply command (it came from the command line).
    assert "--resume --apply-cmd" in run.stderr
    # A resume that fails the same way names the apply command again in its hint.
    failed_again = cli("rotate", "dev/api/partner", "--resume", "--apply-cmd", recorder.command)
    assert failed_again.code == 1
    assert "--resume --apply-cmd" in failed_again.stderr
    # A new rotation is refused; --resume runs the apply step again, then promotes.
    recorder.succeed()
    again = cli("rotate", "dev/api/partner", "--resume", "--apply-cmd", recorder.command)
    assert again.code == 0, again.stderr
    first, _, second = recorder.payloads()
    assert first["action"] == "rotate" and second["action"] == "resume"
    assert first["pending"] == second["pending"] == "v2"
    assert second["version_id"] == pending and second["current"] == "v1"
    assert stages(sm, "dev/api/partner") == {pending: ["AWSCURRENT"], old: ["AWSPREVIOUS"]}


def test_apply_that_times_out_is_stopped_with_its_group(cli, sm, aws_env) -> None:
    old = make(sm, "dev/api/partner", "v1")
    pidfile = aws_env / "child.pid"
    run = cli(
        "rotate", "dev/api/partner", "--stdin",
        "--apply-cmd", f"sleep 60 & echo $! > {pidfile}; wait", "--apply-timeout", "1",
        input="v2",
    )  # fmt: skip
    assert run.code == 1
    assert "the apply command timed out after 1 s (the command was stopped)" in run.stderr
    assert holder(sm, "dev/api/partner", "AWSCURRENT") == old
    assert holder(sm, "dev/api/partner", "AWSPENDING") is not None
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
    return not (status.exists() and "State:\tZ" in status.read_text())


def test_cancel_puts_the_current_value_back_through_the_apply_command(cli, sm, aws_env) -> None:
    old = make(sm, "dev/api/partner", "v1")
    recorder = Recorder(aws_env)
    assert cli("rotate", "dev/api/partner", "--stdin", "--apply-cmd", recorder.command,
               "--verify-cmd", "false", input="v2").code == 1  # fmt: skip
    pending = holder(sm, "dev/api/partner", "AWSPENDING")
    run = cli("rotate", "dev/api/partner", "--cancel", "--apply-cmd", recorder.command)
    assert run.code == 0, run.stderr
    _, cancel = recorder.payloads()
    assert cancel == {
        "name": "dev/api/partner",
        "version_id": old,
        "current": "v2",
        "pending": "v1",
        "action": "cancel",
        "encoding": "text",
    }
    assert pending is not None
    assert stages(sm, "dev/api/partner") == {old: ["AWSCURRENT"]}


def test_a_failed_cancel_keeps_the_pending_version(cli, sm, aws_env) -> None:
    old = make(sm, "dev/api/partner", "v1")
    recorder = Recorder(aws_env)
    assert cli("rotate", "dev/api/partner", "--stdin", "--apply-cmd", recorder.command,
               "--verify-cmd", "false", input="v2").code == 1  # fmt: skip
    pending = holder(sm, "dev/api/partner", "AWSPENDING")
    recorder.fail(1)
    run = cli("rotate", "dev/api/partner", "--cancel", "--apply-cmd", recorder.command)
    assert run.code == 1
    assert f"the pending version {pending} was kept" in run.stderr
    assert stages(sm, "dev/api/partner") == {old: ["AWSCURRENT"], str(pending): ["AWSPENDING"]}


def test_cancel_without_a_current_version_refuses_to_apply_nothing(cli, sm, aws_env) -> None:
    """A pending version while no version is AWSCURRENT (the emulator lets another tool
    remove the label; whether AWS does is not documented): there is no value to give the
    target back, so the cancel is refused (exit 4), with nothing run or moved."""
    old = make(sm, "dev/api/partner", "v1")
    staged = sm.put_secret_value(
        SecretId="dev/api/partner", SecretString="v2", VersionStages=["AWSPENDING"]
    )
    sm.update_secret_version_stage(
        SecretId="dev/api/partner", VersionStage="AWSCURRENT", RemoveFromVersionId=old
    )
    assert holder(sm, "dev/api/partner", "AWSCURRENT") is None
    before = stages(sm, "dev/api/partner")
    recorder = Recorder(aws_env)
    run = cli("rotate", "dev/api/partner", "--cancel", "--apply-cmd", recorder.command, "--json")
    assert run.code == 4, run.stderr
    error = json.loads(run.stderr)["error"]
    assert error["message"] == "dev/api/partner has no AWSCURRENT version to put back on command"
    assert error["hint"] == "`secrets history dev/api/partner` shows its versions"
    assert recorder.runs() == []
    assert stages(sm, "dev/api/partner") == before
    assert holder(sm, "dev/api/partner", "AWSPENDING") == staged["VersionId"]


def test_a_bulk_cancel_whose_apply_command_fails_keeps_the_pending_version(
    cli, sm, aws_env
) -> None:
    """Bulk --cancel runs each plan's apply step (secrets.toml); a failure is told as the
    apply step's, for that secret, and its pending version stays for a later --cancel."""
    recorder = Recorder(aws_env)
    plan = f'"api/partner" = {{ apply_cmd = "{recorder.command}" }}'
    write_config(aws_env, f"[environments.dev]\n\n[rotation]\n{plan}\n")
    old = make(sm, "dev/api/partner", "v1")
    pending = str(
        sm.put_secret_value(
            SecretId="dev/api/partner", SecretString="v2", VersionStages=["AWSPENDING"]
        )["VersionId"]
    )
    recorder.fail(1)
    run = cli("rotate", "--env", "dev", "--cancel", "--yes", "--json")
    assert run.code == 1, run.stderr
    [failed] = run.json()["failed"]
    assert failed["name"] == "dev/api/partner" and failed["step"] == "apply"
    assert f"the pending version {pending} was kept" in failed["error"]["message"]
    assert f"`--resume` to promote version {pending} instead" in failed["error"]["hint"]
    [payload] = recorder.payloads()
    assert (payload["action"], payload["version_id"], payload["pending"]) == ("cancel", old, "v1")
    assert stages(sm, "dev/api/partner") == {old: ["AWSCURRENT"], pending: ["AWSPENDING"]}


def test_rollback_applies_the_previous_value_first(cli, sm, aws_env) -> None:
    old = make(sm, "dev/api/partner", "v1")
    recorder = Recorder(aws_env)
    assert cli("rotate", "dev/api/partner", "--stdin", "--apply-cmd", recorder.command,
               input="v2").code == 0  # fmt: skip
    new = holder(sm, "dev/api/partner", "AWSCURRENT")
    run = cli("rotate", "dev/api/partner", "--rollback", "--apply-cmd", recorder.command, "--json")
    assert run.code == 0, run.stderr
    assert run.json()["applied_to"] == "command"
    _, rollback = recorder.payloads()
    # The command is told which secret it rolls back, to which version and value, from which.
    assert rollback == {
        "name": "dev/api/partner",
        "version_id": old,
        "current": "v2",
        "pending": "v1",
        "action": "rollback",
        "encoding": "text",
    }
    assert holder(sm, "dev/api/partner", "AWSCURRENT") == old
    assert holder(sm, "dev/api/partner", "AWSPREVIOUS") == new


def test_a_failed_rollback_apply_moves_nothing(cli, sm, aws_env) -> None:
    make(sm, "dev/api/partner", "v1")
    recorder = Recorder(aws_env)
    assert cli("rotate", "dev/api/partner", "--stdin", "--apply-cmd", recorder.command,
               input="v2").code == 0  # fmt: skip
    new = holder(sm, "dev/api/partner", "AWSCURRENT")
    recorder.fail(2)
    run = cli("rotate", "dev/api/partner", "--rollback", "--apply-cmd", recorder.command)
    assert run.code == 1
    assert "nothing was rolled back" in run.stderr
    assert f"version {new} is still AWSCURRENT" in run.stderr
    assert "may hold either value: fix what stopped it and run --rollback again\n" in run.stderr
    assert holder(sm, "dev/api/partner", "AWSCURRENT") == new


def test_binary_values_go_as_base64(cli, sm, aws_env) -> None:
    sm.create_secret(Name="dev/tls/key", SecretBinary=b"\x00old\xff")
    recorder = Recorder(aws_env)
    new_file = aws_env / "new.bin"
    new_file.write_bytes(b"\x00new\xfe")
    run = cli("rotate", "dev/tls/key", "--from-file", str(new_file), "--apply-cmd",
              recorder.command)  # fmt: skip
    assert run.code == 0, run.stderr
    [payload] = recorder.payloads()
    assert payload["encoding"] == "base64"
    assert base64.b64decode(payload["pending"]) == b"\x00new\xfe"
    assert base64.b64decode(payload["current"]) == b"\x00old\xff"


def test_apply_output_is_masked(cli, sm) -> None:
    make(sm, "dev/api/partner", "old-canary-1")
    run = cli(
        "--debug", "rotate", "dev/api/partner", "--stdin", "--apply-cmd", "sh -c 'cat; exit 1'",
        input="new-canary-2",
    )  # fmt: skip
    assert run.code == 1
    assert "apply | " in run.stderr
    assert "new-canary-2" not in run.stdout + run.stderr
    assert "old-canary-1" not in run.stdout + run.stderr


def test_an_apply_command_that_does_not_exist_is_found_before_staging(cli, sm, proxy) -> None:
    old = make(sm, "dev/api/key", "v1")
    proxy.reset_counts()
    run = cli("rotate", "dev/api/key", "--generate", "--apply-cmd", "nosuchcmd --set")
    assert run.code == 3
    assert "--apply-cmd: command 'nosuchcmd' not found; nothing was changed" in run.stderr
    assert proxy.count() == 0
    assert stages(sm, "dev/api/key") == {old: ["AWSCURRENT"]}


def test_installed_script_keeps_values_off_every_argv_and_environment(sm, proxy, aws_env) -> None:
    """Leak canary, as a user runs it: the apply command and `secrets` never hold either
    value in argv or environment, and nothing we print shows them."""
    old, new = text_canary(), text_canary()
    make(sm, "dev/api/partner", old)
    recorder = Recorder(aws_env)
    proxy.faults.latency = 0.05  # long enough for the watcher to sample every process
    run = run_watched(
        ["rotate", "dev/api/partner", "--stdin", "--apply-cmd", recorder.command],
        new,
        input=new,
    )
    assert run.code == 0, run.stderr
    assert_no_leak(run, new)
    assert_no_leak(run, old)
    [record] = recorder.runs()
    assert json.loads(record["stdin"])["pending"] == new
    # Its parent is `secrets`, or on Linux the guard `secrets` starts it under (that stops it
    # if `secrets` dies), whose argv holds the command line, never a value.
    assert "rotate" in record["parent"]["cmdline"] or (
        "PR_SET_PDEATHSIG" in record["parent"]["cmdline"]
    )
    assert_values_only_on_stdin(record, old, new)
    assert value_of(sm, "dev/api/partner") == new


# -- the flags: completion, and which mode takes them ---------------------------------------------
def test_target_kinds_complete() -> None:
    from tests.test_completion import suggestions, tab

    done = tab("secrets rotate dev/db/master --target ")
    assert (done.returncode, done.stderr) == (0, "")
    assert suggestions(done) == ["rds:", "rds-cluster:", "iam-user:"]
    assert suggestions(tab("secrets rotate dev/db/master --target rds")) == ["rds:", "rds-cluster:"]
    assert suggestions(tab("secrets rotate dev/db/master --target i")) == ["iam-user:"]


APPLY_MISTAKES = [
    (["dev/a", "--apply-cmd", "x", "--target", "rds:orders"],
     "--apply-cmd and --target cannot be used together: a rotation has one apply step"),
    (["dev/a", "--apply-cmd", " "], "--apply-cmd is empty"),
    (["dev/a", "--target", "mysql:orders"], "--target: 'mysql:orders' is not a known target"),
    (["dev/a", "--target", "rds"], "--target: 'rds' is not a known target"),
    (["dev/a", "--target", "rds:1orders"], "--target: 'rds:1orders' is not a valid rds "
     "identifier (1-63 letters, digits or '-', starting with a letter)"),
    (["dev/a", "--managed", "--target", "rds:orders"], "--target does not apply to --managed"),
    (["dev/a", "--cancel", "--delete-old"], "--delete-old does not apply to --cancel"),
    (["dev/a", "--resume", "--save-plan"], "--save-plan does not apply to --resume"),
    (["--env", "dev", "--older-than", "1", "--target", "rds:orders"],
     "--target does not apply to bulk rotation"),
    (["--env", "dev", "--resume", "--apply-cmd", "x"],
     "--apply-cmd does not apply to --env ... --resume"),
    (["--env", "dev", "--older-than", "1"], "bulk rotation needs --generate"),
    (["dev/a", "--generate", "--delete-old"], "--delete-old applies to an iam-user target only"),
    (["dev/a", "--generate", "--apply-timeout", "5"],
     "--apply-timeout: this rotation has no apply step"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"), APPLY_MISTAKES, ids=[" ".join(m[0]) for m in APPLY_MISTAKES]
)
def test_apply_flag_mistakes_are_refused_before_any_call(
    cli, proxy, args: list[str], message: str
) -> None:
    run = cli("rotate", *args, "--json")
    assert run.code == 2, run.stderr
    assert json.loads(run.stderr)["error"]["message"] == message
    assert proxy.count() == 0


# Which new flags each mode takes (the contract, written out on its own).
TAKES_APPLY = {
    RotateMode.ROTATE: {
        "--apply-cmd",
        "--target",
        "--apply-timeout",
        "--delete-old",
        "--save-plan",
    },
    RotateMode.ROLLBACK: {"--apply-cmd", "--target", "--apply-timeout", "--delete-old"},
    RotateMode.RESUME: {"--apply-cmd", "--target", "--apply-timeout", "--delete-old"},
    RotateMode.CANCEL: {"--apply-cmd", "--target", "--apply-timeout"},
    RotateMode.MANAGED: set(),
    RotateMode.BULK: {"--apply-timeout", "--delete-old"},
    RotateMode.BULK_RESUME: {"--apply-timeout", "--delete-old"},
    RotateMode.BULK_CANCEL: {"--apply-timeout"},
}
FLAG_VALUES: dict[str, dict[str, Any]] = {
    "--apply-cmd": {"apply_cmd": "./set.sh"},
    "--target": {"target": "rds:orders"},
    "--apply-timeout": {"apply_timeout": 30.0},
    "--delete-old": {"delete_old": True},
    "--save-plan": {"save_plan": True},
}


@pytest.mark.parametrize("mode", list(RotateMode), ids=lambda mode: mode.name)
@pytest.mark.parametrize("flag", list(FLAG_VALUES))
def test_which_apply_flags_each_mode_takes(mode: RotateMode, flag: str) -> None:
    from tests.test_rotate_contract import BASE

    flags = RotateFlags(**{**BASE[mode], **FLAG_VALUES[flag]})
    if flag in TAKES_APPLY[mode]:
        request = parse_request(flags)
        assert request.mode is mode
        assert request.flags is not None
    else:
        with pytest.raises(CliError) as refused:
            parse_request(flags)
        assert refused.value.code == ExitCode.USAGE


PRINTS_VALUES = """
import base64, json, sys
payload = json.load(sys.stdin)
print("pending", payload["pending"])
print("current", payload["current"])
sys.exit(1)
"""


def test_each_value_the_apply_command_prints_is_masked(cli, sm, aws_env) -> None:
    """A command that prints the values it read from the payload (not the payload whole)."""
    script = aws_env / "prints.py"
    script.write_text(PRINTS_VALUES, encoding="utf-8")
    make(sm, "dev/api/partner", "old-canary-1")
    run = cli("rotate", "dev/api/partner", "--stdin", "--apply-cmd",
              f"{sys.executable} {script}", input="new-canary-2")  # fmt: skip
    assert run.code == 1
    assert "apply | pending ****" in run.stderr
    assert "apply | current ****" in run.stderr
    assert "new-canary-2" not in run.stdout + run.stderr
    assert "old-canary-1" not in run.stdout + run.stderr
    sm.create_secret(Name="dev/tls/key", SecretBinary=b"\x00old\xff")
    new_file = aws_env / "new.bin"
    new_file.write_bytes(b"\x00new\xfe")
    binary = cli("rotate", "dev/tls/key", "--from-file", str(new_file), "--apply-cmd",
                 f"{sys.executable} {script}")  # fmt: skip
    assert binary.code == 1
    assert "apply | pending ****" in binary.stderr  # its base64 form is masked too
    assert base64.b64encode(b"\x00new\xfe").decode() not in binary.stderr


def test_a_stop_while_a_command_starts_is_raised_once_it_is_kept() -> None:
    """The runner starts a verify or apply command under `stopping.deferred()`: a signal that
    arrives while the child starts no longer escapes before the runner keeps its handle
    (which left the command running, value on its stdin, after `secrets` had gone)."""
    import signal

    from envsecrets import stopping

    reached = False
    with stopping.stop_on_signals():
        with pytest.raises(stopping.Stopped) as stopped, stopping.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # the handler has run by now: it held the stop
            reached = True
        assert stopped.value.signum == signal.SIGTERM
    assert reached


def test_a_rollback_that_loses_a_race_tells_the_command_the_value_it_planned_to_replace(
    cli, proxy, direct, aws_env
) -> None:
    """Someone writes a new value after the rollback was planned (its versions read) and before
    it reads their values: the apply command is told the value the plan replaces - the one
    that was AWSCURRENT when planned - never the later write; and the move that follows is
    refused (exit 4), the later write left AWSCURRENT."""

    name = "dev/api/partner"
    old = make(direct, name, "v1")
    direct.put_secret_value(SecretId=name, SecretString="v2")
    planned = holder(direct, name, "AWSCURRENT")
    recorder = Recorder(aws_env)
    get = "secretsmanager.GetSecretValue"
    racer = proxy.meanwhile(
        get, lambda: direct.put_secret_value(SecretId=name, SecretString="v3 written meanwhile")
    )
    run = cli("rotate", name, "--rollback", "--apply-cmd", recorder.command)
    racer.join(timeout=60)
    assert proxy.hold_timeouts[get] == 0
    [payload] = recorder.payloads()
    assert (payload["version_id"], payload["pending"], payload["current"]) == (old, "v1", "v2")
    assert run.code == 4, run.stderr
    error = run.stderr
    assert f"{name} changed meanwhile" in error
    # The user learns the target got the previous value although nothing was rolled back.
    assert f"command was given version {old} first and may hold that value now" in error
    assert error.rstrip().endswith(
        "give command the AWSCURRENT value again (`secrets history dev/api/partner` shows the "
        "versions), then run --rollback again if it is still wanted"
    )
    assert value_of(direct, name) == "v3 written meanwhile"
    assert holder(direct, name, "AWSCURRENT") not in (old, planned)


def test_a_rotation_that_loses_a_race_tells_the_command_the_value_it_replaces(
    cli, proxy, direct, aws_env
) -> None:
    """Someone writes a new value after the rotation looked at the labels and before it read
    the current value: the apply command is told, as the value the target may hold now, that
    of the version the rotation replaces (AWSCURRENT when it looked), never the later write;
    and the promotion that follows is refused (exit 4), the later write left AWSCURRENT."""

    name = "dev/api/partner"
    old = make(direct, name, "v1")
    recorder = Recorder(aws_env)
    get = "secretsmanager.GetSecretValue"
    racer = proxy.meanwhile(
        get, lambda: direct.put_secret_value(SecretId=name, SecretString="v3 written meanwhile")
    )
    run = cli("rotate", name, "--stdin", "--apply-cmd", recorder.command, input="v2")
    racer.join(timeout=60)
    assert proxy.hold_timeouts[get] == 0
    [payload] = recorder.payloads()
    pending = holder(direct, name, "AWSPENDING")
    assert (payload["version_id"], payload["pending"], payload["current"]) == (pending, "v2", "v1")
    assert run.code == 4, run.stderr
    assert f"was staged to replace {old}" in " ".join(run.stderr.split())
    assert value_of(direct, name) == "v3 written meanwhile"


def test_a_cancel_that_races_a_write_gives_back_the_value_of_the_version_it_names(
    cli, proxy, direct, aws_env
) -> None:
    """Someone writes a new value after the cancel read the secret's versions and before it
    read their values: the apply command is told to put back the version the cancel named
    together with that version's value, never a value from a later version."""

    name = "dev/api/partner"
    old = make(direct, name, "v1")
    direct.put_secret_value(SecretId=name, SecretString="v2", VersionStages=["AWSPENDING"])
    recorder = Recorder(aws_env)
    get = "secretsmanager.GetSecretValue"
    racer = proxy.meanwhile(
        get, lambda: direct.put_secret_value(SecretId=name, SecretString="v3 written meanwhile")
    )
    run = cli("rotate", name, "--cancel", "--apply-cmd", recorder.command)
    racer.join(timeout=60)
    assert proxy.hold_timeouts[get] == 0
    [payload] = recorder.payloads()
    assert (payload["action"], payload["version_id"], payload["pending"]) == ("cancel", old, "v1")
    # Not "still AWSCURRENT": the user learns the target holds a value that no longer is.
    assert run.code == 4, run.stderr
    assert f"{name} changed meanwhile" in run.stderr
    assert f"command was given version {old} back and may hold that value now" in run.stderr
    written = holder(direct, name, "AWSCURRENT")
    assert f"version {written} is AWSCURRENT now, not {old}" in run.stderr
    assert run.stderr.rstrip().endswith(
        "hint: give command the AWSCURRENT value again (`secrets history dev/api/partner` shows "
        "the versions)"
    )
    assert "still AWSCURRENT" not in run.stdout + run.stderr
    assert value_of(direct, name) == "v3 written meanwhile"


def test_a_resume_that_loses_a_race_tells_the_command_the_value_it_replaces(
    cli, proxy, direct, aws_env
) -> None:
    """Someone writes a new value after a `--resume` found the pending version and before it
    read the current value for the apply command: the command is told the value of the
    version the pending one replaces (AWSCURRENT when the resume looked), never the later
    write; and the promotion that follows is refused (exit 4), the later write left current."""

    name = "dev/api/partner"
    old = make(direct, name, "v1")
    staged = direct.put_secret_value(SecretId=name, SecretString="v2", VersionStages=["AWSPENDING"])
    pending = str(staged["VersionId"])
    recorder = Recorder(aws_env)
    get = "secretsmanager.GetSecretValue"
    # The resume reads the pending value first (is it overtaken?), then the current one.
    racer = proxy.meanwhile(
        get,
        lambda: direct.put_secret_value(SecretId=name, SecretString="v3 written meanwhile"),
        after=1,
    )
    run = cli("rotate", name, "--resume", "--yes", "--apply-cmd", recorder.command)
    racer.join(timeout=60)
    assert proxy.hold_timeouts[get] == 0
    [payload] = recorder.payloads()
    assert (payload["version_id"], payload["pending"], payload["current"]) == (pending, "v2", "v1")
    assert run.code == 4, run.stderr
    assert f"was staged to replace {old}" in " ".join(run.stderr.split())
    assert value_of(direct, name) == "v3 written meanwhile"
