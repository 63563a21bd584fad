"""Bulk rotation of 200 secrets through the fault proxy: 25 ms latency and AWS's write quotas
(PutSecretValue and UpdateSecretVersionStage 50/s each, TagResource too).

Each rotation needs one PutSecretValue and two UpdateSecretVersionStage calls (AWSCURRENT to
the new version, then AWSPENDING removed), so the floor is the stage-move quota:
200 x 2 / 50 per s = 8 s. Target: within 1.3x of the floor, with no rotation failed.
"""

from __future__ import annotations

import json
import resource
import subprocess
import tempfile
import time
from pathlib import Path

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
QUOTA = 50.0  # per second, PutSecretValue and UpdateSecretVersionStage each
LATENCY = 0.025
CONCURRENCY = 16
FLOOR = SECRETS * 2 / QUOTA


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
        emulator_cpu = _cpu(resource.RUSAGE_SELF)
        cli_cpu = _cpu(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(
            [
                SECRETS_BIN,
                "rotate",
                "--env",
                "bench",
                "--older-than",
                "0",
                "--generate",
                "--yes",
                "--json",
                "--concurrency",
                str(CONCURRENCY),
            ],
            env=aws_env(proxy.url, work),
            cwd=work,
            capture_output=True,
            check=False,
        )
        elapsed = time.perf_counter() - start
        # The emulator and the proxy run in this process; the CLI is the child.
        emulator_cpu = _cpu(resource.RUSAGE_SELF) - emulator_cpu
        cli_cpu = _cpu(resource.RUSAGE_CHILDREN) - cli_cpu
        report = json.loads(done.stdout or b"{}")
        rotated = len(report.get("rotated", ()))
        failed = len(report.get("failed", ()))
        pending = 0
        for page in client.get_paginator("list_secrets").paginate():
            for entry in page["SecretList"]:
                labels = entry.get("SecretVersionsToStages", {}).values()
                pending += sum("AWSPENDING" in stages for stages in labels)
        calls = proxy.count("secretsmanager.") + proxy.count("sts.")
        throttled = sum(proxy.throttled.values())
    ratio = elapsed / FLOOR
    return [
        Row(
            "rotate",
            f"bulk rotation of {SECRETS} secrets, 25 ms latency, 50/s write quotas "
            f"(--concurrency {CONCURRENCY})",
            seconds(elapsed),
            f"quota floor {seconds(FLOOR)}",
            f"{ratio:.2f}x",
            "<= 1.3x",
        ),
        Row(
            "rotate",
            "API calls per rotation (all actions, incl. planning)",
            f"{calls / SECRETS:.2f}",
            "Put 1 + UpdateSecretVersionStage 2 + Describe, GetRandomPassword, Tag",
        ),
        Row(
            "rotate",
            "CPU: secrets process / emulator + proxy process",
            f"{cli_cpu:.1f} s / {emulator_cpu:.1f} s",
            "wall time",
            f"{(cli_cpu + emulator_cpu) / elapsed:.2f} cores busy",
            "(context: 2 shared cores)",
        ),
        Row(
            "rotate",
            "rotated / failed to the user / left pending",
            f"{rotated} / {failed} / {pending}",
            f"exit {done.returncode}; {throttled} throttled answers retried",
            "",
            f"{SECRETS} / 0 / 0",
        ),
    ]


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime
