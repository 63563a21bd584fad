"""Completion latency: a TAB after `secrets get prod/` with a warm names cache, beside
`secrets --version`, run interleaved in one process tree so noise hits both alike.

Target: the TAB costs no more than 1.5x start-up (the cache answers; boto3 is not imported).
The TAB is driven through the environment protocol the bash script in completions/ uses.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import boto3

from tests.bench.harness import (
    REGION,
    SECRETS_BIN,
    Row,
    aws_env,
    emulator,
    interleaved,
    seconds,
    use_env,
)
from tests.bench.harness import run as timed

SECRETS = 50
REPEATS = 15


def run() -> list[Row]:
    with emulator() as url, tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        work = home / "work"
        work.mkdir()
        (work / "secrets.toml").write_text("[environments.prod]\n[environments.dev]\n")
        env = aws_env(url, home)
        env["XDG_CACHE_HOME"] = str(home / ".cache")
        use_env(env)
        client = boto3.client("secretsmanager", region_name=REGION)
        for i in range(SECRETS):
            client.create_secret(Name=f"prod/app/key-{i:03d}", SecretString="v")
        # `secrets list` fills the names cache, as it does for a user.
        subprocess.run([SECRETS_BIN, "list"], env=env, cwd=work, check=True, capture_output=True)
        tab_env = {
            **env,
            "_SECRETS_COMPLETE": "complete_bash",
            "COMP_WORDS": "secrets get prod/",
            "COMP_CWORD": "2",
        }
        check = subprocess.run(
            [SECRETS_BIN], env=tab_env, cwd=work, capture_output=True, text=True, check=True
        )
        offered = len(check.stdout.split())
        assert offered == SECRETS, f"the TAB offered {offered} names, expected {SECRETS}"

        def version() -> float:
            return timed([SECRETS_BIN, "--version"], env)

        def tab() -> float:
            return timed([SECRETS_BIN], tab_env)

        # timed() runs in the current folder; the TAB must find secrets.toml, so run from work.
        here = Path.cwd()
        os.chdir(work)
        try:
            medians = interleaved({"version": version, "tab": tab}, repeats=REPEATS)
        finally:
            os.chdir(here)
    ratio = medians["tab"] / medians["version"]
    return [
        Row("completion", "secrets --version", seconds(medians["version"])),
        Row(
            "completion",
            f"TAB after `secrets get prod/` (warm cache, {SECRETS} names)",
            seconds(medians["tab"]),
            "secrets --version",
            f"{ratio:.2f}x",
            "< 1.5x",
        ),
    ]
