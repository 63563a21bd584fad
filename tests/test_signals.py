"""SIGTERM and SIGHUP stop any command as Ctrl-C does (issue 16 item 10), with real signals to
the installed `secrets`: one `error:` line and exit 130, not a silent death (143/129). A signal
ignored when `secrets` started (`nohup`) stays ignored. The rotation-specific clean-up (the
verify command's group stopped, the pending version named) is in test_rotate_faults.py.
"""

from __future__ import annotations

import signal
import subprocess
import time
from typing import Any

import pytest

from tests.conftest import SECRETS_BIN


def waiting_get(proxy: Any, *, preexec: Any = None) -> subprocess.Popen[bytes]:
    """`secrets get` stuck on an endpoint that takes a minute to answer."""
    proxy.faults.latency = 60
    process = subprocess.Popen(
        [SECRETS_BIN, "get", "dev/api/key"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=preexec,
    )
    for _ in range(600):
        if proxy.count() > 0:
            break
        time.sleep(0.05)
    assert proxy.count() > 0, "the command never reached the endpoint"
    return process


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_stop_signal_ends_any_command_with_a_message(proxy, signum: int) -> None:
    process = waiting_get(proxy)
    process.send_signal(signum)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert err.decode().startswith("error: interrupted")
    assert "Traceback" not in err.decode()


def test_a_hangup_ignored_by_nohup_stays_ignored(proxy) -> None:
    process = waiting_get(proxy, preexec=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    process.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert process.poll() is None, "SIGHUP stopped a command started under nohup"
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)
    assert process.returncode == 130
