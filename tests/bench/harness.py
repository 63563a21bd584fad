"""Shared pieces for benchmarks: an emulator, the fault proxy, timed runs, a results table.

Every figure is measured side by side in one run (machines here are shared and noisy), and
reported as a ratio or a count, never checked against a wall-clock threshold in tests.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import emulator as emulator  # re-exported for the bench modules
from tests.conftest import reset_emulator
from tests.faultproxy import FaultProxy

VENV_BIN = Path(sys.executable).parent
SECRETS_BIN = str(VENV_BIN / "secrets")
REGION = "us-east-1"


@dataclass
class Row:
    """One line of the bench table."""

    bench: str
    measure: str
    value: str
    compared_to: str = ""
    ratio: str = ""
    target: str = ""


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream).start()
    try:
        yield proxy
    finally:
        proxy.stop()


def aws_env(endpoint: str, home: Path | None = None) -> dict[str, str]:
    """An environment for subprocesses: fake credentials, the given endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE="/nonexistent/config",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/credentials",
    )
    if home is not None:
        env["HOME"] = str(home)
    return env


def use_env(env: dict[str, str]) -> None:
    """Make this process use `env` for in-process boto3 calls too."""
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_") or k == "HOME"})


def run(args: Sequence[str], env: dict[str, str], stdin: bytes | None = None) -> float:
    """Wall time of one subprocess run, in seconds; raises if it fails."""
    start = time.perf_counter()
    done = subprocess.run(list(args), input=stdin, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{args[:3]} failed ({done.returncode}): {done.stderr[-300:]!r}")
    return elapsed


def interleaved(commands: dict[str, Callable[[], float]], repeats: int = 7) -> dict[str, float]:
    """Median time of each command, running them in turn so noise hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            samples[name].append(command())
    return {name: statistics.median(values) for name, values in samples.items()}


def reset(url: str) -> None:
    reset_emulator(url)


def print_table(rows: Sequence[Row]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("bench", "measure", "value", "compared to", "ratio", "target")
    for row in rows:
        table.add_row(row.bench, row.measure, row.value, row.compared_to, row.ratio, row.target)
    Console(width=200).print(table)


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s"
