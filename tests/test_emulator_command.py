"""`secrets emulator`: a local moto server in a real process, stopped cleanly by signals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import SECRETS_BIN, free_port, run_subprocess


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(f"{url}/moto-api/", timeout=2).close()
    except OSError:
        return False
    return True


@contextmanager
def emulator(port: int) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Start `secrets emulator --port PORT`; yield the process and the URL it printed."""
    process = subprocess.Popen(
        [SECRETS_BIN, "emulator", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().decode()  # printed once the server listens
        assert first.startswith("export AWS_ENDPOINT_URL="), first
        yield process, first.strip().split("=", 1)[1]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_emulator_serves_and_stops_on_signal(sig: signal.Signals) -> None:
    port = free_port()
    with emulator(port) as (process, url):
        assert url == f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while not answers(url):
            assert time.monotonic() < deadline, "the emulator never answered"
            time.sleep(0.05)
        if sig == signal.SIGTERM:  # serving once is enough; SIGINT only checks the stop
            env = {"AWS_ENDPOINT_URL": url}
            created = run_subprocess(["set", "dev/x", "--stdin"], input="hello", env=env)
            assert created.code == 0, created.stderr
            got = run_subprocess(["get", "dev/x"], env=env)
            assert got.stdout_bytes == b"hello"
        process.send_signal(sig)
        assert process.wait(timeout=20) == 0
        assert process.stderr is not None
        assert "emulator stopped" in process.stderr.read().decode()
    # nothing listens any more
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_emulator_on_a_busy_port_is_refused() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = run_subprocess(["emulator", "--port", str(port)], timeout=30)
    assert run.code == 4
    assert run.stdout == ""
    assert run.stderr.startswith(f"error: port {port} on 127.0.0.1 is already in use")


def test_without_the_extra_the_hint_is_the_readme_s_install_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from envsecrets.backends import emulator as local
    from envsecrets.errors import CliError

    monkeypatch.setitem(sys.modules, "moto.server", None)  # import fails as without moto
    with pytest.raises(CliError) as caught:
        local.start("127.0.0.1", free_port())
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert caught.value.hint is not None
    assert "'.[emulator]'" in caught.value.hint
    assert "'.[emulator]'" in readme
    assert "envsecrets[emulator]" not in caught.value.hint
