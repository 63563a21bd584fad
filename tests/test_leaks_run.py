"""Leak checks for `secrets run`, `export` and `inject`: a canary never shows on stderr, in
--debug output, in any process's argv, in files other than those asked for, or - unless
`--env-vars` asks for it - in the environment of `secrets` or of the program it starts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SECRETS_BIN, write_config
from tests.leaks import (
    ProcessWatch,
    assert_no_leak,
    assert_no_leak_in_files,
    binary_canary,
    leaks_in,
    run_watched,
    text_canary,
)

# Reads every secret file (so the value is in the program's memory, not its environment),
# lives long enough for the watcher to sample it, prints nothing.
READER = (
    "import os, time\n"
    "for k, v in os.environ.items():\n"
    "    if k.endswith('_FILE') and v.startswith(os.environ['SECRETS_DIR']):\n"
    "        open(v, 'rb').read()\n"
    "time.sleep(0.4)\n"
)


@pytest.fixture(autouse=True)
def runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "runtime"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    return folder


def canaries(sm: Any) -> list[str | bytes]:
    text, binary, field = text_canary(), binary_canary(), text_canary()
    sm.create_secret(Name="dev/api/key", SecretString=text)
    sm.create_secret(Name="dev/blob", SecretBinary=binary)
    sm.create_secret(Name="dev/db/creds", SecretString=json.dumps({"password": field}))
    return [text, binary, field]


@pytest.mark.parametrize("flags", [[], ["--expand-json"], ["--mask"]])
def test_run_keeps_values_out_of_argv_environments_and_stderr(
    sm: Any, aws_env: Path, flags: list[str]
) -> None:
    values = canaries(sm)
    for canary in values:
        run = run_watched(
            ["--debug", "run", "dev", *flags, "--", sys.executable, "-c", READER], canary
        )
        assert run.code == 0, run.stderr
        assert_no_leak(run, canary)
    assert_no_leak_in_files(aws_env.parent, values[0])


def test_run_env_vars_puts_values_in_the_environment_only(sm: Any, aws_env: Path) -> None:
    text = text_canary()
    sm.create_secret(Name="dev/api/key", SecretString=text)
    program = "import time; time.sleep(0.4)"
    with ProcessWatch(text) as watch:
        process = subprocess.Popen(
            [
                SECRETS_BIN,
                "--debug",
                "run",
                "dev",
                "--env-vars",
                "--",
                sys.executable,
                "-c",
                program,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        watch.root_pid = process.pid
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert watch.samples >= 2
    # Where it was asked to go: the program's environment. Never an argv, never `secrets`'s own
    # environment, never its output.
    assert watch.hits and all(hit.startswith("environment of pid") for hit in watch.hits)
    assert f"environment of pid {process.pid}" not in watch.hits
    assert not leaks_in(out + err, text)


def test_mask_hides_a_value_the_program_prints(cli: Any, sm: Any, aws_env: Path) -> None:
    text, binary, field = canaries(sm)
    program = (
        "import os, sys\n"
        "for k, v in sorted(os.environ.items()):\n"
        "    if k.endswith('_FILE') and v.startswith(os.environ['SECRETS_DIR']):\n"
        "        data = open(v, 'rb').read()\n"
        "        sys.stdout.buffer.write(data + b'\\n'); sys.stderr.buffer.write(data + b'\\n')\n"
    )
    run = cli("run", "dev", "--mask", "--", sys.executable, "-c", program)
    assert run.code == 0
    for canary in (text, binary, field):
        assert_no_leak(run, canary)
    assert run.stdout.count("****") >= 3


def test_export_and_inject_keep_values_where_they_were_asked_to_go(
    cli: Any, sm: Any, aws_env: Path, proxy: Any
) -> None:
    text = text_canary()
    sm.create_secret(Name="prod/api/key", SecretString=text)
    write_config(aws_env, "[environments.prod]\nprotected = true\n")
    exported = aws_env / "out.env"
    rendered = aws_env / "out.conf"
    template = aws_env / "in.tmpl"
    template.write_text("key={{ secrets://prod/api/key }}\n")
    refused = [
        cli("--debug", "export", "prod", "-f", "dotenv", "-o", str(exported)),
        cli("--debug", "inject", "-i", str(template), "-o", str(rendered)),
    ]
    for run in refused:
        assert run.code == 4, run.stderr  # refused: protected, no terminal, no --yes
        assert_no_leak(run, text)
    done = [
        cli("--debug", "export", "prod", "-f", "dotenv", "-o", str(exported), "--yes"),
        cli("--debug", "export", "prod", "-f", "shell", "--yes"),
        cli("--debug", "inject", "-i", str(template), "-o", str(rendered), "--yes"),
        cli("--debug", "inject", "-i", str(template), "--yes"),
    ]
    for run in done:
        assert run.code == 0, run.stderr
        assert_no_leak(run, text, streams=("stderr",))
    assert leaks_in(exported.read_bytes(), text) and leaks_in(rendered.read_bytes(), text)
    assert_no_leak_in_files(aws_env.parent, text, allowed={exported, rendered})
    # As real processes, slowed down so that every argv can be sampled mid-flight.
    proxy.faults.latency = 0.2
    for args in (
        ["export", "prod", "-f", "json", "--yes"],
        ["inject", "-i", str(template), "--yes"],
    ):
        run = run_watched(args, text)
        assert run.code == 0, run.stderr
        assert_no_leak(run, text, streams=("stderr",))
