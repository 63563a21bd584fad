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
import time
from pathlib import Path
from typing import Any

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
