"""Bulk rotation of 200 secrets through the fault proxy: 25 ms latency and AWS's write quotas
(PutSecretValue and UpdateSecretVersionStage 50/s each, TagResource too).

Each rotation needs one PutSecretValue and two UpdateSecretVersionStage calls (AWSCURRENT to
the new version, then AWSPENDING removed), so the floor is the stage-move quota:
200 x 2 / 50 per s = 8 s. Target: within 1.3x of the floor, with no rotation failed.

The same 200 secrets are rotated in three rounds (each round is a full, real rotation of all
of them); the median round is reported, since this machine is shared and noisy. CPU seconds
of the `secrets` process and of this process (emulator and proxy) say whether a slow round
was ours or the machine's.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

from tests.bench.harness import (
    REGION,
    SECRETS_BIN,
    Row,
    aws_env,
    emulator,
    fault_proxy,
    seconds,
)

SECRETS = 200
ROUNDS = 3
QUOTA = 50.0  # per second, PutSecretValue and UpdateSecretVersionStage each
LATENCY = 0.025
CONCURRENCY = 16
FLOOR = SECRETS * 2 / QUOTA


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _round(env: dict[str, str], work: Path) -> tuple[float, float, float, dict[str, Any], int]:
    """One bulk rotation of every secret: wall time, CPU (ours, emulator's), report, exit."""
    emulator_cpu = _cpu(resource.RUSAGE_SELF)
    cli_cpu = _cpu(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    command = "rotate --env bench --older-than 0 --generate --yes --json --concurrency"
    done = subprocess.run(
        [SECRETS_BIN, *command.split(), str(CONCURRENCY)],
        env=env,
        cwd=work,
        capture_output=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    report = json.loads(done.stdout or b"{}")
    return (
        elapsed,
        _cpu(resource.RUSAGE_CHILDREN) - cli_cpu,
        _cpu(resource.RUSAGE_SELF) - emulator_cpu,
        report,
        done.returncode,
    )


def run() -> list[Row]:
    with emulator() as url, fault_proxy(url) as proxy, tempfile.TemporaryDirectory() as folder:
        client = boto3.client(
            "secretsmanager",
            region_name=REGION,
            endpoint_url=url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for i in range(SECRETS):
            client.create_secret(Name=f"bench/app/key-{i:03d}", SecretString=f"old-{i}")
        proxy.aws_quotas()
        proxy.faults.latency = LATENCY
        proxy.reset_counts()
        work = Path(folder)
        env = aws_env(proxy.url, work)
        rounds = [_round(env, work) for _ in range(ROUNDS)]
        pending = 0
        for page in client.get_paginator("list_secrets").paginate():
            for entry in page["SecretList"]:
                labels = entry.get("SecretVersionsToStages", {}).values()
                pending += sum("AWSPENDING" in stages for stages in labels)
        calls = proxy.count("secretsmanager.") + proxy.count("sts.")
        throttled = sum(proxy.throttled.values())
    times = [r[0] for r in rounds]
    median = statistics.median(times)
    middle = rounds[times.index(median)]
    rotated = sum(len(r[3].get("rotated", ())) for r in rounds)
    failed = sum(len(r[3].get("failed", ())) for r in rounds)
    codes = sorted({r[4] for r in rounds})
    return [
        Row(
            "rotate",
            f"bulk rotation of {SECRETS} secrets, 25 ms latency, 50/s write quotas "
            f"(--concurrency {CONCURRENCY}; median of {ROUNDS} rounds: "
            f"{', '.join(seconds(t) for t in times)})",
            seconds(median),
            f"quota floor {seconds(FLOOR)}",
            f"{median / FLOOR:.2f}x",
            "<= 1.3x",
        ),
        Row(
            "rotate",
            "API calls per rotation (all actions, planning included)",
            f"{calls / (SECRETS * ROUNDS):.2f}",
            "Describe 1, Put 1, UpdateSecretVersionStage 2, Tag 1, shared: List, "
            "BatchGet, GetRandomPassword, STS",
        ),
        Row(
            "rotate",
            "CPU in the median round: secrets process / emulator + proxy",
            f"{middle[1]:.1f} s / {middle[2]:.1f} s",
            "its wall time",
            f"{(middle[1] + middle[2]) / median:.2f} cores busy",
        ),
        Row(
            "rotate",
            "rotations done / failed to the user / left pending (all rounds)",
            f"{rotated} / {failed} / {pending}",
            f"exit {', '.join(map(str, codes))}; {throttled} throttled answers retried",
            "",
            f"{SECRETS * ROUNDS} / 0 / 0",
        ),
    ]
