"""A piped value at a real terminal: stdin is the pipe, so a question goes to the controlling
terminal (`/dev/tty`), as sudo, ssh and git ask; exit 4 only when there is none.

`pbpaste | secrets set prod/api/stripe-key --stdin` is run as a shell pipeline inside a real
pseudo-terminal (pexpect): the shell gives `secrets` the pipe as stdin and the terminal as
stderr and controlling terminal. Helpers and notes on driving questionary: tests/test_pty.py.
"""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests.conftest import SECRETS_BIN
from tests.test_pty import CONFIG, TIMEOUT, finish, missing, recorded
from tests.test_rotate import make, value_of

PIPED = "Piped-Value-7Qx2"


@pytest.fixture
def config(aws_env: Path) -> Path:
    from tests.conftest import write_config

    return write_config(aws_env, CONFIG)


def spawn_piped(*args: str, cwd: Path) -> pexpect.spawn:
    """`printf %s "$PIPED" | secrets ARGS` in a pseudo-terminal."""
    env = {**os.environ, "TERM": "xterm-256color", "PIPED": PIPED, "SECRETS": SECRETS_BIN}
    command = 'printf %s "$PIPED" | "$SECRETS" ' + " ".join(args)
    return recorded(
        pexpect.spawn(
            "sh",
            ["-c", command],
            cwd=str(cwd),
            env=env,
            encoding="utf-8",
            codec_errors="replace",
            timeout=TIMEOUT,
            dimensions=(24, 120),
        )
    )


def test_set_stdin_confirms_a_protected_write_on_the_terminal(config: Path, sm: Any) -> None:
    child = spawn_piped("set", "prod/api/key", "--stdin", cwd=config.parent)
    child.expect(r"create prod/api/key\?")
    child.send("y")
    code, screen = finish(child)
    assert code == 0, screen
    assert PIPED not in screen
    assert sm.get_secret_value(SecretId="prod/api/key")["SecretString"] == PIPED


def test_set_stdin_declined_on_the_terminal_creates_nothing(config: Path, sm: Any) -> None:
    child = spawn_piped("set", "prod/api/key", "--stdin", cwd=config.parent)
    child.expect(r"create prod/api/key\?")
    child.send("n")
    code, screen = finish(child)
    assert code == 4, screen
    assert "not confirmed; nothing was changed" in screen
    assert missing(sm, "prod/api/key")


def test_rotate_stdin_confirms_on_the_terminal(config: Path, sm: Any) -> None:
    make(sm, "prod/db/password", "old-password")
    child = spawn_piped("rotate", "prod/db/password", "--stdin", cwd=config.parent)
    child.expect(r"rotate prod/db/password\?")
    child.send("y")
    code, screen = finish(child)
    assert code == 0, screen
    assert value_of(sm, "prod/db/password") == PIPED


def test_without_a_controlling_terminal_it_refuses_with_exit_4(config: Path, sm: Any) -> None:
    """stderr is a terminal, but the process has no controlling terminal (a new session
    that never opened one): nobody can be asked."""
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [SECRETS_BIN, "set", "prod/api/key", "--stdin"],
            input=PIPED.encode(),
            stdout=subprocess.PIPE,
            stderr=follower,
            cwd=config.parent,
            start_new_session=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
        if b"hint:" in screen:
            break
    os.close(leader)
    assert done.returncode == 4, screen
    assert b"no terminal to ask" in screen
    assert missing(sm, "prod/api/key")
