"""Writers racing each other on one secret, with real processes (issue 16 items 6 and 7, issue
18 item 14): a change made by someone else between our read and our write is refused with
exit 4 and named, never silently reverted; what a refused run leaves is named in its hint.
"""

from __future__ import annotations

import json
import os
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
