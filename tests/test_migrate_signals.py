"""SIGTERM and SIGHUP during `migrate env-file ... --report FILE`: the count of what was
written before the stop, the report file with each item done, exit 130, the source untouched,
and the same command run again finishes the job (issue 16: say what state is left).

`sm` is created before the proxy, so the checks go straight to the emulator.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import SECRETS_BIN

COUNT = 60


def listed(sm: Any) -> list[str]:
    return [
        s["Name"]
        for page in sm.get_paginator("list_secrets").paginate()
        for s in page["SecretList"]
    ]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_a_migration_says_what_was_written(
    sm, aws_env: Path, proxy, signum: int
) -> None:
    env_file = aws_env / "app.env"
    env_file.write_text(
        "".join(f"KEY_{n:03d}=value-{n}-canary\n" for n in range(COUNT)), encoding="utf-8"
    )
    report = aws_env / "r.json"
    proxy.faults.latency = 0.05  # slow enough to be caught half-way
    args = [SECRETS_BIN, "migrate", "env-file", str(env_file), "--to", "dev/m", "--yes",
            "--report", str(report)]  # fmt: skip
    victim = subprocess.Popen(
        [*args, "--concurrency", "2"],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    for _ in range(1200):
        if len(listed(sm)) >= 10:
            break
        time.sleep(0.05)
    victim.send_signal(signum)
    _, raw = victim.communicate(timeout=60)
    err = raw.decode()
    assert victim.returncode == 130, err[-800:]
    written = listed(sm)
    assert 10 <= len(written) < COUNT, "stopped half-way"
    cause = signal.Signals(signum).name
    line = next(line for line in err.splitlines() if line.startswith("error:"))
    assert f"interrupted ({cause}) after " in line and " created" in line
    assert "nothing was removed from the source" in line
    assert "run the same command again to finish" in err
    assert "canary" not in err
    document = json.loads(report.read_text(encoding="utf-8"))
    assert document["interrupted"] == cause
    done = {item["target"] for item in document["result"]["items"] if item["status"] == "created"}
    assert done and done <= set(written)  # each item reported created was written
    created = document["result"]["counts"]["created"]
    assert f"{created} created" in line
    assert env_file.read_text(encoding="utf-8").count("canary") == COUNT

    proxy.faults.latency = 0
    again = subprocess.run(
        [*args, "--json"], env=dict(os.environ), capture_output=True, timeout=120
    )
    assert again.returncode == 0, again.stderr[-500:]
    assert len(listed(sm)) == COUNT


CREATE = "secretsmanager.CreateSecret"
RELEASE = "secretsmanager.ListSecrets"  # a call the migration never makes


def test_a_stop_in_process_reports_exactly_the_writes_that_finished(
    cli: Any, sm: Any, aws_env: Path, proxy: Any
) -> None:
    """The same stop, in this process (where the test sees the migration's own accounting):
    three writes finish, the next two are held in flight, SIGTERM comes. The report and the
    error count exactly those three, each as created with its version; the two in flight
    land afterwards, and the same command then finishes the job."""
    env_file = aws_env / "app.env"
    env_file.write_text("".join(f"KEY_{n}=value-{n}-canary\n" for n in range(10)), encoding="utf-8")
    report = aws_env / "r.json"
    proxy.hold(CREATE, after=3, until=RELEASE, timeout=120)

    def stop_when_held() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            # Two writers: the 4th and 5th requests arrive once both have finished the first
            # three writes (and recorded them).
            if proxy.arrivals[CREATE] >= 5:
                os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(0.02)

    stopper = threading.Thread(target=stop_when_held, daemon=True)
    stopper.start()
    run = cli("migrate", "env-file", str(env_file), "--to", "dev/m", "--yes", "--concurrency",
              "2", "--report", str(report))  # fmt: skip
    stopper.join(timeout=60)
    assert run.code == 130, run.stderr
    line = next(line for line in run.stderr.splitlines() if line.startswith("error:"))
    assert "interrupted (SIGTERM) after 3 items: 3 created; " in line, line
    assert "r.json lists them" in line
    assert "canary" not in run.stdout + run.stderr
    document = json.loads(report.read_text(encoding="utf-8"))
    assert document["interrupted"] == "SIGTERM"
    assert document["result"]["counts"] == {"created": 3}
    done = document["result"]["items"]
    assert [item["status"] for item in done] == ["created"] * 3
    for item in done:  # the version each was written as: the one the secret holds
        assert item["version_id"] == sm.get_secret_value(SecretId=item["target"])["VersionId"]
    assert env_file.read_text(encoding="utf-8").count("canary") == 10

    # Released, the two writes under way at the stop land (the error said they may).
    boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=proxy.url).list_secrets()
    for _ in range(600):
        if len(listed(sm)) == 5:
            break
        time.sleep(0.05)
    assert len(listed(sm)) == 5
    again = cli("migrate", "env-file", str(env_file), "--to", "dev/m", "--yes", "--json")
    assert again.code == 0, again.stderr
    assert again.json()["plan"]["counts"] == {
        "create": 5, "update": 0, "unchanged": 5, "conflict": 0, "invalid": 0
    }  # fmt: skip
    assert len(listed(sm)) == 10


def test_a_script_stopped_while_migrating_is_told_how(aws_env: Path, sm: Any) -> None:
    """Ctrl-C in a script that migrates through the API lands in whatever its main thread
    runs: here its progress callback. What reaches the script is a KeyboardInterrupt that
    says how it was stopped, and only writes that were made are in the emulator."""
    import envsecrets

    source = aws_env / "app.env"
    source.write_text("".join(f"KEY_{n}=value-{n}\n" for n in range(10)), encoding="utf-8")
    migration = envsecrets.open_environment("dev").migrate_env_file(
        source, to="dev/m/", concurrency=1
    )
    migration.plan()
    finished: list[int] = []

    def progress(step: int) -> None:
        finished.append(step)
        if len(finished) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as stopped:
        migration.apply(progress=progress)
    assert str(stopped.value) == "Ctrl-C"
    assert 3 <= len(listed(sm)) < 10
