"""Start-up: `secrets --help`/`--version`, and `secrets get` against the AWS CLI and bare boto3.

All five commands run interleaved against one emulator, so machine noise hits them alike; the
figures that matter are the ratios:
- `secrets get` <= 0.75x `aws secretsmanager get-secret-value`,
- `secrets get` <= 1.10x a five-line boto3 script (the floor: boto3's own import and client).

The AWS CLI lives in its own venv under `.bench/awscli` (gitignored), installed from PyPI on
first use: it pins its own botocore, which must not fight ours in `.venv`. When it cannot be
installed (no network), its row says so instead of failing the bench.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from tests.bench.harness import (
    SECRETS_BIN,
    Row,
    aws_env,
    emulator,
    interleaved,
    seconds,
)
from tests.bench.harness import run as timed

REPO = Path(__file__).resolve().parents[2]
AWSCLI_VENV = REPO / ".bench" / "awscli"
NAME = "dev/bench/startup-key"
VALUE = "s3cr3t-value-for-the-startup-bench"
REPEATS = 15  # interleaved runs per command; the median of each is reported

# What a user would write to read one secret without us (kept to five lines on purpose).
BOTO3_SCRIPT = """\
import sys
import boto3
client = boto3.client("secretsmanager")
value = client.get_secret_value(SecretId=sys.argv[1])["SecretString"]
sys.stdout.write(value)
"""


def aws_cli() -> Path | None:
    """The AWS CLI (v1, from PyPI) in its own venv; installed on first use, None if it can't be."""
    aws = AWSCLI_VENV / "bin" / "aws"
    if aws.exists():
        return aws
    print("installing the AWS CLI into .bench/awscli (first run only)...", file=sys.stderr)
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", "--clear", str(AWSCLI_VENV)],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [str(AWSCLI_VENV / "bin" / "pip"), "install", "--quiet", "awscli"],
            check=True,
            capture_output=True,
            timeout=600,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"could not install the AWS CLI: {exc}", file=sys.stderr)
        return None
    return aws if aws.exists() else None


def run() -> list[Row]:
    with (
        emulator() as url,
        tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp,
        # No secrets.toml above the working directory: every command sees the same world.
        contextlib.chdir(tmp),
    ):
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        env = aws_env(url, home=home)
        # A user's Python keeps compiled modules; with this set (some shells and CI do), every
        # run would compile its modules again and the warm-up below would warm nothing.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        script = work / "get_secret.py"
        script.write_text(BOTO3_SCRIPT, encoding="utf-8")
        timed([SECRETS_BIN, "set", NAME, "--stdin"], env, stdin=VALUE.encode())

        commands: dict[str, Callable[[], float]] = {
            "secrets --help": lambda: timed([SECRETS_BIN, "--help"], env),
            "secrets --version": lambda: timed([SECRETS_BIN, "--version"], env),
            "secrets get": lambda: timed([SECRETS_BIN, "get", NAME], env),
            "boto3 script": lambda: timed([sys.executable, str(script), NAME], env),
        }
        aws = aws_cli()
        if aws is not None:
            aws_args = [str(aws), "secretsmanager", "get-secret-value", "--secret-id", NAME]
            commands["aws CLI"] = lambda: timed(aws_args, env)
        for command in commands.values():  # warm the page cache and .pyc files once
            command()
        times = interleaved(commands, repeats=REPEATS)

    get = times["secrets get"]
    rows = [
        Row("startup", "secrets --help", seconds(times["secrets --help"])),
        Row("startup", "secrets --version", seconds(times["secrets --version"])),
        Row("startup", "boto3 script (5 lines)", seconds(times["boto3 script"])),
    ]
    if "aws CLI" in times:
        rows.append(
            Row("startup", "aws secretsmanager get-secret-value", seconds(times["aws CLI"]))
        )
    rows.append(
        Row(
            "startup",
            "secrets get",
            seconds(get),
            "boto3 script",
            f"{get / times['boto3 script']:.2f}x",
            "<= 1.10x",
        )
    )
    if "aws CLI" in times:
        rows.append(
            Row(
                "startup",
                "secrets get",
                seconds(get),
                "aws CLI",
                f"{get / times['aws CLI']:.2f}x",
                "<= 0.75x",
            )
        )
    else:
        rows.append(
            Row("startup", "secrets get", seconds(get), "aws CLI", "unavailable", "<= 0.75x")
        )
    rows.append(
        Row(
            "startup",
            "secrets --help",
            seconds(times["secrets --help"]),
            "boto3 script",
            f"{times['secrets --help'] / times['boto3 script']:.2f}x",
        )
    )
    return rows
