"""`secrets diff` of 1,000 vs 1,000 secrets through the fault proxy with 25 ms latency and
AWS's quotas, beside a naive boto3 script that lists both environments and calls
GetSecretValue once per secret, through the same proxy, in the same run.

Targets: at most 2 x (10 ListSecrets pages + 50 BatchGetSecretValue calls) = 120 API calls,
and at least 10x faster than the naive loop.

Most of diff's wall time here is the emulator's: moto looks each secret up by scanning all of
them (O(n) per secret), which AWS does not; the naive loop pays the same cost per secret.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3

from tests.bench.harness import REGION, SECRETS_BIN, Row, aws_env, emulator, fault_proxy, seconds
from tests.faultproxy import quota_floor

COUNT = 1_000
LATENCY = 0.025
REPEATS = 3

NAIVE = """
import hashlib, sys
import boto3
sm = boto3.client("secretsmanager")
hashes = {}
for env in sys.argv[1:]:
    for page in sm.get_paginator("list_secrets").paginate(
        Filters=[{"Key": "name", "Values": [env + "/"]}]
    ):
        for s in page["SecretList"]:
            v = sm.get_secret_value(SecretId=s["Name"])
            data = v.get("SecretBinary") or v["SecretString"].encode()
            hashes[(env, s["Name"].split("/", 1)[1])] = hashlib.sha256(data).hexdigest()
"""


def create(url: str) -> None:
    sm = boto3.client(
        "secretsmanager",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )

    def one(i: int) -> None:
        sm.create_secret(Name=f"staging/svc{i % 10}/key-{i:04d}", SecretString=f"value-{i}")
        prod = f"value-{i}" + ("-changed" if i % 25 == 0 else "")
        sm.create_secret(Name=f"prod/svc{i % 10}/key-{i:04d}", SecretString=prod)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(COUNT)))


def timed(args: list[str], env: dict[str, str], cwd: Path, ok: tuple[int, ...]) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in ok:
        raise RuntimeError(f"{args[:3]} failed ({done.returncode}): {done.stderr[-300:]!r}")
    return elapsed


def run() -> list[Row]:
    with (
        emulator() as url,
        fault_proxy(url) as proxy,
        tempfile.TemporaryDirectory() as folder,
    ):
        create(url)
        work = Path(folder)
        (work / "secrets.toml").write_text(
            '[environments.staging]\nregion = "us-east-1"\n\n'
            '[environments.prod]\nregion = "us-east-1"\n'
        )
        env = aws_env(proxy.url, work)
        proxy.faults.latency = LATENCY
        proxy.aws_quotas()

        diff_times: list[float] = []
        calls: list[int] = []
        for _ in range(REPEATS):
            proxy.reset_counts()
            # exit 1: the environments differ (every 25th value)
            diff_times.append(timed([SECRETS_BIN, "diff", "staging", "prod"], env, work, (1,)))
            calls.append(proxy.count("secretsmanager."))
            by_action = dict(proxy.calls)
        gets = proxy.calls["secretsmanager.GetSecretValue"]
        throttled = sum(proxy.throttled.values())

        proxy.reset_counts()
        naive = timed([sys.executable, "-c", NAIVE, "staging", "prod"], env, work, (0,))
        naive_calls = proxy.count("secretsmanager.")

    diff = statistics.median(diff_times)
    floor, why = quota_floor(by_action)
    return [
        Row(
            "diff",
            f"API calls, diff {COUNT} vs {COUNT} (GetSecretValue: {gets}, throttled: {throttled})",
            str(max(calls)),
            f"naive loop: {naive_calls}",
            f"{naive_calls / max(calls):.0f}x fewer",
            "<= 120",
        ),
        Row(
            "diff",
            f"wall time, diff {COUNT} vs {COUNT}, 25 ms latency (median of {REPEATS})",
            seconds(diff),
            f"naive GetSecretValue loop: {seconds(naive)}",
            f"{naive / diff:.1f}x faster",
            ">= 10x",
        ),
        Row(
            "diff",
            f"wall time, diff {COUNT} vs {COUNT}, against AWS's quotas (the emulator's O(n) "
            "lookups dominate)",
            seconds(diff),
            f"quota floor {seconds(floor)}: {why}",
            f"{diff / floor:.1f}x",
        ),
    ]
