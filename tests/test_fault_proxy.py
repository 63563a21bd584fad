"""The fault proxy itself: what a test leaves held in it must not outlive the test.

Each xdist worker (and a serial run) keeps one emulator for the session, reset before every
test; a request the proxy held or delayed past the end of its test (a `hold` waiting for an
arrival that never comes, a long `latency`) would otherwise reach the emulator during the next
test and show up there as a secret nobody made.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import boto3
from botocore.config import Config

from tests.faultproxy import FaultProxy

HELD = 2.0  # seconds a request is held or delayed (the test ends first)


def _client(url: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        "secretsmanager",
        region_name="us-east-1",
        endpoint_url=url,
        config=Config(retries={"max_attempts": 1}, read_timeout=30, connect_timeout=5),
    )


def _send_in_background(url: str, name: str) -> threading.Thread:
    def send() -> None:
        # the proxy hangs up on it: that is the point
        with contextlib.suppress(Exception):
            _client(url).create_secret(Name=name, SecretString="v")

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def test_a_request_held_when_the_proxy_stops_never_reaches_the_emulator(moto_url: str) -> None:
    proxy = FaultProxy(moto_url).start()
    proxy.hold("secretsmanager.CreateSecret", after=0, until="never.Arrives", timeout=HELD)
    sender = _send_in_background(proxy.url, "dev/held")
    for _ in range(600):  # waits on the proxy's count, not on a clock
        if proxy.count("secretsmanager.CreateSecret"):
            break
        time.sleep(0.01)
    assert proxy.count("secretsmanager.CreateSecret") == 1
    proxy.stop()
    sender.join(timeout=30)
    time.sleep(HELD + 1)  # past the moment the old proxy forwarded it anyway
    assert _client(moto_url).list_secrets()["SecretList"] == []


def test_a_request_delayed_when_the_proxy_stops_never_reaches_the_emulator(moto_url: str) -> None:
    proxy = FaultProxy(moto_url).start()
    proxy.faults.latency = HELD
    sender = _send_in_background(proxy.url, "dev/late")
    for _ in range(600):
        if proxy.count("secretsmanager.CreateSecret"):
            break
        time.sleep(0.01)
    proxy.stop()
    sender.join(timeout=30)
    time.sleep(HELD + 1)  # past the moment the old proxy forwarded it anyway
    assert _client(moto_url).list_secrets()["SecretList"] == []
