"""`secrets run dev/ -- true` with 50 secrets beside `secrets get` of one secret, interleaved
against one emulator so machine noise hits both alike.

Target: run <= 1.3x get. Both pay the same start-up (Python, botocore, credentials); run adds
one ListSecrets, three BatchGetSecretValue calls, 50 files in a private folder, and starting
and waiting for `true`. The API calls are counted once through the fault proxy (no faults).
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import boto3

from tests.bench.harness import (
    REGION,
    SECRETS_BIN,
    Row,
    aws_env,
    emulator,
    fault_proxy,
    interleaved,
    seconds,
)
from tests.bench.harness import run as timed

COUNT = 50
REPEATS = 15


def run() -> list[Row]:
    with (
        emulator() as url,
        tempfile.TemporaryDirectory(prefix="bench-run-") as tmp,
        contextlib.chdir(tmp),  # no secrets.toml above: both commands see the same world
    ):
        work = Path(tmp)
        home = work / "home"
        runtime = work / "runtime"
        home.mkdir()
        runtime.mkdir(mode=0o700)
        env = {**aws_env(url, home=home), "XDG_RUNTIME_DIR": str(runtime)}
        sm = boto3.client(
            "secretsmanager",
            region_name=REGION,
            endpoint_url=url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for index in range(COUNT):
            sm.create_secret(Name=f"dev/app/key-{index:02d}", SecretString=f"value-{index:02d}")
        commands = {
            "run": lambda: timed([SECRETS_BIN, "run", "dev/", "--", "true"], env),
            "get": lambda: timed([SECRETS_BIN, "get", "dev/app/key-00"], env),
        }
        for command in commands.values():  # warm the page cache and .pyc files once
            command()
        times = interleaved(commands, repeats=REPEATS)
        with fault_proxy(url) as proxy:
            timed(
                [SECRETS_BIN, "run", "dev/", "--", "true"], {**env, "AWS_ENDPOINT_URL": proxy.url}
            )
            calls = proxy.count("secretsmanager.")
    ratio = times["run"] / times["get"]
    return [
        Row("run", "secrets get (1 secret)", seconds(times["get"])),
        Row(
            "run",
            f"secrets run dev/ -- true ({COUNT} secrets)",
            seconds(times["run"]),
            "secrets get",
            f"{ratio:.2f}x",
            "<= 1.3x",
        ),
        Row("run", f"API calls for {COUNT} secrets", str(calls), "", "", "1 list + 3 batches"),
    ]
