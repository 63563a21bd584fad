"""Bulk commands keep the deadline on their worker threads too (findings item 4).

A reply trickled one byte at a time never trips a socket's read timeout, and a worker thread
cannot be interrupted by a signal: before, `diff`, `run`, `export`, `copy`, `rotate --env`,
`migrate ssm` and `check` waited as long as the endpoint kept trickling (minutes) whatever
`--timeout` said. Each family's call on its workers is trickled through the fault proxy here;
the command gives up at the deadline (exit 6) and hangs up mid-reply.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import aws_client, write_config

CONFIG = """
[environments.dev]
region = "us-east-1"

[environments.staging]
region = "us-east-1"

[functions.api]
secrets = ["api/key", "db/password"]
"""
EVERY = 0.05  # s between bytes: a whole reply (2 kB of padding) takes minutes

FAMILIES: list[tuple[str, str, list[str]]] = [
    ("diff", "secretsmanager.BatchGetSecretValue", ["diff", "dev", "staging"]),
    ("run", "secretsmanager.BatchGetSecretValue", ["run", "dev", "--", sys.executable, "-c", ""]),
    ("export", "secretsmanager.BatchGetSecretValue", ["export", "dev", "--format", "dotenv"]),
    ("copy", "secretsmanager.BatchGetSecretValue", ["copy", "dev/", "staging/", "--yes"]),
    (
        "rotate --env",
        "secretsmanager.BatchGetSecretValue",
        ["rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes"],
    ),
    (
        "migrate ssm",
        "ssm.GetParametersByPath",
        ["migrate", "ssm", "/app/", "--to", "dev/app/", "--yes"],
    ),
    ("check", "secretsmanager.DescribeSecret", ["check", "dev"]),
]


@pytest.mark.parametrize(("family", "action", "args"), FAMILIES, ids=[f[0] for f in FAMILIES])
def test_a_trickled_reply_on_a_worker_is_cut_off_at_the_deadline(
    cli: Any, aws_env: Path, sm: Any, proxy: Any, family: str, action: str, args: list[str]
) -> None:
    write_config(aws_env, CONFIG)
    for path in ("api/key", "db/password"):
        sm.create_secret(Name=f"dev/{path}", SecretString="v")
    aws_client("ssm").put_parameter(Name="/app/token", Value="t", Type="SecureString")
    proxy.trickle(action, EVERY)
    run = cli("--timeout", "1", *args)
    assert run.code == 6, (run.code, run.stdout, run.stderr)
    assert "gave up waiting for AWS after 1 s" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    # Every trickled reply was hung up on, long before its end (a reply not cut off would
    # still be trickling: the proxy records it when the client leaves).
    waited = time.monotonic()
    while len(proxy.trickled) < proxy.calls[action] and time.monotonic() - waited < 20:
        time.sleep(0.05)
    assert proxy.calls[action] >= 1
    assert len(proxy.trickled) == proxy.calls[action], proxy.trickled
    assert all(sent < whole for sent, whole in proxy.trickled)


def test_a_write_cut_off_by_the_deadline_may_have_landed(
    cli: Any, aws_env: Path, sm: Any, proxy: Any
) -> None:
    """PutSecretValue was carried out; only its reply was too slow. The error says the write
    may have landed, how to check, and that running again is safe (findings item 10)."""
    write_config(aws_env, CONFIG)
    sm.create_secret(Name="dev/api/key", SecretString="old")
    proxy.trickle("secretsmanager.PutSecretValue", EVERY)
    run = cli("--timeout", "2", "set", "dev/api/key", "--stdin", input="new")
    assert run.code == 6, run.stderr
    assert "the write may have landed" in run.stderr
    assert "`secrets history dev/api/key`" in run.stderr
    assert "running the same command again is safe" in run.stderr
    assert sm.get_secret_value(SecretId="dev/api/key")["SecretString"] == "new"
    proxy.trickles.clear()
    again = cli("set", "dev/api/key", "--stdin", input="new")
    assert again.code == 0, again.stderr
    assert "unchanged" in again.stdout + again.stderr


def test_a_read_cut_off_before_any_write_says_nothing_of_one(
    cli: Any, aws_env: Path, sm: Any, proxy: Any
) -> None:
    write_config(aws_env, CONFIG)
    sm.create_secret(Name="dev/api/key", SecretString="old")
    proxy.trickle("secretsmanager.GetSecretValue", EVERY)
    run = cli("--timeout", "2", "set", "dev/api/key", "--stdin", input="new")
    assert run.code == 6, run.stderr
    assert "may have landed" not in run.stderr
    assert sm.get_secret_value(SecretId="dev/api/key")["SecretString"] == "old"
