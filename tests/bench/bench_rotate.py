"""Bulk rotation of 200 secrets through the fault proxy: 25 ms latency and AWS's quotas as
AWS meters them (tests/faultproxy.py AWS_QUOTA_TABLE): PutSecretValue and
UpdateSecretVersionStage share ONE 50/s bucket (with UpdateSecret and the replication calls),
TagResource another.

Each rotation needs one PutSecretValue and two UpdateSecretVersionStage calls (AWSCURRENT to
the new version, then AWSPENDING removed): three calls of the shared bucket, so the floor is
200 x 3 / 50 per s = 12 s (separate buckets would have allowed 8 s, which AWS throttles). The
floor is computed from the calls each round actually made, by the proxy's quota table, and
stated in the table. Target: within 1.3x of the floor, with no rotation failed.

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
from tests.faultproxy import quota_floor

SECRETS = 200
ROUNDS = 3
LATENCY = 0.025
CONCURRENCY = 16


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


Round = tuple[float, float, float, dict[str, Any], int, dict[str, int], int]


def _round(env: dict[str, str], work: Path, proxy: Any) -> Round:
    """One bulk rotation of every secret: wall time, CPU (ours, emulator's), report, exit,
    the calls it made (by action) and how many the proxy throttled."""
    proxy.reset_counts()
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
        dict(proxy.calls),
        sum(proxy.throttled.values()),
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
        work = Path(folder)
        env = aws_env(proxy.url, work)
        rounds = [_round(env, work, proxy) for _ in range(ROUNDS)]
        pending = 0
        for page in client.get_paginator("list_secrets").paginate():
            for entry in page["SecretList"]:
                labels = entry.get("SecretVersionsToStages", {}).values()
                pending += sum("AWSPENDING" in stages for stages in labels)
    throttled = sum(r[6] for r in rounds)
    times = [r[0] for r in rounds]
    median = statistics.median(times)
    middle = rounds[times.index(median)]
    floor, why = quota_floor(middle[5])
    calls = sum(
        n for r in rounds for a, n in r[5].items() if a.startswith(("secretsmanager.", "sts."))
    )
    rotated = sum(len(r[3].get("rotated", ())) for r in rounds)
    failed = sum(len(r[3].get("failed", ())) for r in rounds)
    codes = sorted({r[4] for r in rounds})
    return [
        Row(
            "rotate",
            f"bulk rotation of {SECRETS} secrets, 25 ms latency, AWS's quotas, shared "
            f"buckets (--concurrency {CONCURRENCY}; median of {ROUNDS} rounds: "
            f"{', '.join(seconds(t) for t in times)})",
            seconds(median),
            f"quota floor {seconds(floor)}: {why}",
            f"{median / floor:.2f}x",
            "<= 1.3x",
        ),
        Row(
            "rotate",
            "API calls per rotation (all actions, planning included)",
            f"{calls / (SECRETS * ROUNDS):.2f}",
            ", ".join(f"{a.split('.')[-1]} {n}" for a, n in sorted(middle[5].items())),
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
