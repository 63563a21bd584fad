"""The ClientRequestToken across processes: what our own token adds to botocore's.

botocore fills in an idempotency token per API call and reuses it for that call's retries, so
"one version under lost replies" holds within one process without ours. Ours, derived from the
name, the value and the version a write replaces, is what makes a write idempotent across
calls and processes: a crashed `set` run again, or a request still on its way when its process
died that lands after the re-run. Each test here kills a real `secrets` process (SIGKILL: no
clean-up runs) and runs the command again as a new process, as a user or a retrying script
would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Any

from envsecrets.core.values import SecretValue, request_token

from tests.conftest import SECRETS_BIN, run_subprocess

PUT = "secretsmanager.PutSecretValue"
NAME = "dev/api/key"


def versions(sm: Any, name: str) -> dict[str, list[str]]:
    """Every version of `name` (deprecated ones too) and its staging labels."""
    found = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    return {v["VersionId"]: sorted(v.get("VersionStages", [])) for v in found}


def current(sm: Any, name: str) -> tuple[str, str]:
    """AWSCURRENT's version id and value (asked by stage: moto's plain read can lag)."""
    got = sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    return got["VersionId"], got["SecretString"]


def start(args: list[str], value: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [SECRETS_BIN, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    assert process.stdin is not None
    process.stdin.write(value.encode())
    process.stdin.close()
    return process


def kill_once(process: subprocess.Popen[bytes], reached: Any) -> None:
    """SIGKILL `process` as soon as `reached()` is true (it is waiting on the proxy then)."""
    try:
        for _ in range(1200):  # the process waits on the proxy: this loop is not a timer
            if reached():
                break
            assert process.poll() is None, "the process ended before its write was held"
            time.sleep(0.05)
        assert reached(), "the write never reached the proxy"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


def test_a_set_killed_after_its_write_then_run_again_leaves_one_version(sm, proxy) -> None:
    """The reply of PutSecretValue never comes (the write happened); the process is killed
    while waiting; a new process runs the same command: one new version, whose id is the
    token derived from the name, the value and the version it replaced."""
    old = sm.create_secret(Name=NAME, SecretString="v1")["VersionId"]
    proxy.script(PUT, "hang")
    first = start(["set", NAME, "--stdin"], "v2")
    kill_once(first, lambda: proxy.forwarded[PUT] == 1)
    assert first.returncode == -signal.SIGKILL
    assert current(sm, NAME)[1] == "v2"  # the killed process's write did happen
    proxy.release_hung()

    again = run_subprocess(["set", NAME, "--stdin", "--json"], input="v2")
    assert again.code == 0, again.stderr
    token = request_token(NAME, SecretValue("v2"), old)
    assert versions(sm, NAME) == {old: ["AWSPREVIOUS"], token: ["AWSCURRENT"]}
    assert again.json()["version_id"] == token


def test_a_write_in_flight_when_its_process_died_lands_after_the_rerun(sm, proxy) -> None:
    """The first process's PutSecretValue is still in the network when the process is killed;
    the re-run writes the value; then the first request lands. AWS takes it as the same write
    (same token, same value): still one new version, AWSCURRENT unchanged."""
    old = sm.create_secret(Name=NAME, SecretString="v1")["VersionId"]
    # The first PutSecretValue waits in the proxy until a second one arrives; then both go on.
    proxy.hold(PUT, after=0, until=PUT, count=2, timeout=120)
    first = start(["set", NAME, "--stdin"], "v2")
    kill_once(first, lambda: proxy.arrivals[PUT] == 1)
    assert current(sm, NAME) == (old, "v1")  # nothing written yet

    again = run_subprocess(["set", NAME, "--stdin", "--json"], input="v2")
    assert again.code == 0, again.stderr
    for _ in range(1200):  # the held request is forwarded once the second one arrived
        if proxy.forwarded[PUT] == 2:
            break
        time.sleep(0.05)
    assert proxy.forwarded[PUT] == 2
    assert proxy.hold_timeouts[PUT] == 0
    written = again.json()["version_id"]
    assert versions(sm, NAME) == {old: ["AWSPREVIOUS"], written: ["AWSCURRENT"]}
    assert current(sm, NAME) == (written, "v2")
    assert written == request_token(NAME, SecretValue("v2"), old)


def test_a_field_write_killed_after_staging_then_run_again_leaves_one_version(sm, proxy) -> None:
    """`set --field` stages the new document under a working label, then moves AWSCURRENT to
    it. Killed after staging (the reply lost), AWSCURRENT has not moved; the re-run stages the
    same document with the same token - AWS's "succeeds but does nothing" - and finishes."""
    old = sm.create_secret(Name="dev/db", SecretString='{"user": "app", "password": "p1"}')[
        "VersionId"
    ]
    proxy.script(PUT, "hang")
    first = start(["set", "dev/db", "--field", "password", "--stdin"], "p2")
    kill_once(first, lambda: proxy.forwarded[PUT] == 1)
    proxy.release_hung()
    staged = versions(sm, "dev/db")
    assert len(staged) == 2 and current(sm, "dev/db")[0] == old  # staged, not promoted

    again = run_subprocess(
        ["set", "dev/db", "--field", "password", "--stdin", "--json"], input="p2"
    )
    assert again.code == 0, again.stderr
    written = again.json()["version_id"]
    assert versions(sm, "dev/db") == {old: ["AWSPREVIOUS"], written: ["AWSCURRENT"]}
    assert current(sm, "dev/db") == (written, '{"user": "app", "password": "p2"}')


def test_a_create_killed_after_its_write_then_run_again_leaves_one_version(sm, proxy) -> None:
    """The same for a new secret: CreateSecret went through, the process died waiting."""
    proxy.script("secretsmanager.CreateSecret", "hang")
    first = start(["set", NAME, "--stdin"], "v1")
    kill_once(first, lambda: proxy.forwarded["secretsmanager.CreateSecret"] == 1)
    proxy.release_hung()

    again = run_subprocess(["set", NAME, "--stdin", "--json"], input="v1")
    assert again.code == 0, again.stderr
    assert again.json()["action"] == "unchanged"
    token = request_token(NAME, SecretValue("v1"), None)
    assert versions(sm, NAME) == {token: ["AWSCURRENT"]}
