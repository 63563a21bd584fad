"""The test harness of DESIGN.md.

One moto server per session on 127.0.0.1 and a free port, reached only through
AWS_ENDPOINT_URL (the product has no test hooks). Every test gets fake credentials, its own
HOME, AWS config files, cache dir and working directory, and an emulator reset to empty.
"""

from __future__ import annotations

import functools
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import envsecrets.app
import pytest
import typer.main
from envsecrets import stopping
from envsecrets.app import app
from envsecrets.errors import CliError
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from tests.faultproxy import FaultProxy

REGION = "us-east-1"
VENV_BIN = Path(sys.executable).parent
SECRETS_BIN = str(VENV_BIN / "secrets")


def pytest_configure(config: Any) -> None:
    """The stop signals as a terminal gives them. A test run started in the background
    (`make mutation &`, nohup, a CI step) may inherit SIGINT or SIGHUP ignored, and every
    `secrets` the tests start would inherit that too - and rightly keep ignoring it, as a
    command run under nohup must: the tests that press Ctrl-C or hang up would then time
    out instead of testing anything. Only ignored signals are inherited through exec, so
    undoing the ignore here is enough."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) == signal.SIG_IGN:
            default = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
            signal.signal(signum, default)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def emulator() -> Iterator[str]:
    """moto's server on a free loopback port, polled until it answers (like pipx's package
    server fixture); yields its URL. Used by the tests and by the benchmarks."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    # moto keeps its state in process-wide globals, not per server: without a reset, a second
    # emulator in the same process (one per benchmark) starts with everything the first one
    # held, and moto's lookups, which scan every secret, slow down with it.
    reset_emulator(url)
    try:
        yield url
    finally:
        with suppress(OSError):  # frees the memory of a big benchmark
            reset_emulator(url)
        server.stop()


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    with emulator() as url:
        yield url


def reset_emulator(url: str) -> None:
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture(autouse=True)
def aws_env(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Isolate HOME, AWS config, caches and cwd; point AWS at a freshly reset emulator.

    Yields the working directory the test runs in (where a secrets.toml may be written)."""
    reset_emulator(moto_url)
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    for name in list(os.environ):
        if name.startswith("AWS_") or name.startswith("ENVSECRETS_"):
            monkeypatch.delenv(name, raising=False)
    values = {
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "PROMPT_TOOLKIT_NO_CPR": "1",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(work)
    yield work


@pytest.fixture(autouse=True)
def no_stop_asked() -> None:
    """Each test starts as a new command does: no stop asked. A test that stops a run with a
    signal leaves the stop recorded in the process (a command never runs on after one), and
    a later test calling the runner directly would be stopped by it."""
    with stopping.stop_on_signals():  # clears what an earlier stop left, handlers put back
        pass


# -- every error that reaches the error door says what to do next ---------------------------------
# Every CliError that a test's in-process run brings to the one error door (`app._run`, which
# hands it to `render_error`) is looked at after the test: it must have printed a non-empty
# `hint:` line. A test whose run printed an error without one fails at teardown. This makes
# every error path the suite reaches a test of DESIGN's "an error says what to do next",
# whatever helper built the error (a lint of `CliError(...)` literals cannot see a helper's
# default hint). Subprocess runs are not seen (no product hook): the in-process ones are most.
ERRORS_AT_THE_DOOR: list[CliError] = []


def printed_hint(error: CliError) -> str:
    """The hint as the renderer prints it for a person ("" when it prints none)."""
    printed = io.StringIO()
    render_error(error, json_mode=False, stderr=printed)
    hints = [line for line in printed.getvalue().splitlines() if line.startswith("hint: ")]
    return hints[0].removeprefix("hint: ").strip() if hints else ""


render_error = envsecrets.app.render_error


@pytest.fixture(autouse=True)
def errors_say_what_to_do_next(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[CliError]]:
    """Records the errors that reach the error door during the test; fails the test if one
    printed no hint."""
    seen: list[CliError] = []

    def recording(error: CliError, *, json_mode: bool, stderr: Any = None) -> None:
        seen.append(error)
        render_error(error, json_mode=json_mode, stderr=stderr)

    monkeypatch.setattr(envsecrets.app, "render_error", recording)
    yield seen
    ERRORS_AT_THE_DOOR.extend(seen)
    without = [f"exit {int(e.code)}: {e.message}" for e in seen if not printed_hint(e)]
    if without:
        pytest.fail("errors printed without a hint: " + "; ".join(without), pytrace=False)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if ERRORS_AT_THE_DOOR:
        codes = sorted({int(e.code) for e in ERRORS_AT_THE_DOOR})
        without = sum(not printed_hint(e) for e in ERRORS_AT_THE_DOOR)
        terminalreporter.write_line(
            f"{len(ERRORS_AT_THE_DOOR)} errors reached the error door (exit codes "
            f"{', '.join(map(str, codes))}); {without} printed no hint"
        )


@dataclass
class Run:
    """What a command did: exit code and both streams (bytes kept for exact checks)."""

    code: int
    stdout: str
    stderr: str
    stdout_bytes: bytes

    def json(self) -> Any:
        import json

        return json.loads(self.stdout)


@functools.cache
def cli_command() -> Any:
    """The complete CLI as one click command, built once: Typer's `CliRunner.invoke` rebuilds
    the whole tree from the app on every run (about a quarter of a second, hundreds of runs
    per suite), and the tree never changes within a test session."""
    return typer.main.get_command(app)


def run_cli(*args: str, input: str | bytes | None = None, env: dict[str, str] | None = None) -> Run:
    """Run `secrets ARGS` in-process, in Typer's `CliRunner.isolation()` (what its `invoke`
    does, minus the rebuild). Exceptions that escape the command's error door propagate."""
    with CliRunner().isolation(input=input, env=env) as (stdout, stderr, _):
        try:
            code = cli_command().main(args=list(args), prog_name="secrets", standalone_mode=False)
        except SystemExit as stop:  # what CliRunner.invoke makes of sys.exit()
            code = stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        out, err = stdout.getvalue(), stderr.getvalue()
    return Run(code, _text(out), _text(err), out)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace").replace("\r\n", "\n")


@pytest.fixture
def cli() -> Any:
    """`cli("get", "dev/x")` runs the command in-process and returns a `Run`."""
    return run_cli


def run_subprocess(
    args: Sequence[str],
    *,
    input: str | bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> Run:
    """Run the installed `secrets` script as a user would."""
    data = input.encode() if isinstance(input, str) else input
    completed = subprocess.run(
        [SECRETS_BIN, *args],
        input=data,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )
    return Run(
        completed.returncode,
        completed.stdout.decode("utf-8", "replace"),
        completed.stderr.decode("utf-8", "replace"),
        completed.stdout,
    )


@pytest.fixture
def secrets_cmd() -> Any:
    """`secrets_cmd(["get", "dev/x"])` runs the installed script in a subprocess."""
    assert shutil.which(SECRETS_BIN), "the package must be installed into the venv"
    return run_subprocess


@pytest.fixture
def sm() -> Any:
    """A plain boto3 Secrets Manager client on the emulator, for setting up and checking."""
    return boto3.client("secretsmanager", region_name=REGION)


def aws_client(service: str, region: str = REGION) -> Any:
    return boto3.client(service, region_name=region)  # type: ignore[call-overload]


@pytest.fixture
def proxy(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """A fault proxy in front of the emulator; AWS_ENDPOINT_URL points at it.

    Configure `proxy.faults`, `proxy.throttle(...)` / `proxy.aws_quotas()`; read
    `proxy.calls`. Set-up calls made through it count too: call `proxy.reset_counts()`."""
    fault_proxy = FaultProxy(moto_url).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", fault_proxy.url)
    yield fault_proxy
    fault_proxy.stop()


def write_config(folder: Path, text: str) -> Path:
    """Write a secrets.toml into `folder` (usually the test's working directory)."""
    path = folder / "secrets.toml"
    path.write_text(text, encoding="utf-8")
    return path
