"""Interactive flows in a real pseudo-terminal: the installed `secrets`, driven by pexpect.

The prompts are questionary (prompt_toolkit). Driving them reliably from pexpect comes down to:
- wait for the prompt's text before typing (`expect("Value for ...")`), so the keys reach the
  prompt's own input loop rather than racing its start;
- Enter is "\r" (the terminal is in raw mode: prompt_toolkit reads carriage returns);
- a confirmation takes one key, `y` or `n`, and answers at once (no Enter needed);
- Ctrl-C is the byte 0x03, read by prompt_toolkit as a key (raw mode, no SIGINT);
- PROMPT_TOOLKIT_NO_CPR=1 (set by the aws_env fixture) stops prompt_toolkit from asking the
  terminal for its cursor position, an answer pexpect would never send; TERM is set so that
  prompt_toolkit draws the same way wherever the suite runs.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests.conftest import SECRETS_BIN, write_config

TIMEOUT = 30  # generous: start-up on a loaded 2-core machine
CONFIG = """\
[environments.dev]
region = "us-east-1"

[environments.prod]
region = "us-east-1"
protected = true
"""
ANSI = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-_])")


def spawn(*args: str, cwd: Path) -> pexpect.spawn:
    env = {**os.environ, "TERM": "xterm-256color"}
    return pexpect.spawn(
        SECRETS_BIN,
        list(args),
        cwd=str(cwd),
        env=env,
        encoding="utf-8",
        codec_errors="replace",
        timeout=TIMEOUT,
        dimensions=(24, 120),
    )


def finish(child: pexpect.spawn) -> tuple[int, str]:
    """Wait for the end; return the exit code and everything the terminal showed (recorded
    from the start by `recorded`), without escape sequences."""
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus is not None, f"killed by signal {child.signalstatus}"
    return int(child.exitstatus), plain(child.logfile_read.getvalue())


def plain(text: str) -> str:
    return ANSI.sub("", text)


def recorded(child: pexpect.spawn) -> pexpect.spawn:
    """Keep everything the terminal receives, to check later that a value never showed."""
    child.logfile_read = io.StringIO()
    return child


def answer_value(child: pexpect.spawn, name: str, first: str, second: str) -> None:
    child.expect(f"Value for {re.escape(name)}")
    child.send(first + "\r")
    child.expect("Again, to confirm")
    child.send(second + "\r")


def missing(sm: Any, name: str) -> bool:
    try:
        sm.describe_secret(SecretId=name)
    except sm.exceptions.ResourceNotFoundException:
        return True
    return False


@pytest.fixture
def config(aws_env: Path) -> Path:
    return write_config(aws_env, CONFIG)


def test_hidden_prompt_asks_twice_never_echoes_and_stores(config: Path, sm: Any) -> None:
    typed = "Typed-Pty-Value-93c1"
    child = recorded(spawn("set", "dev/api/key", cwd=config.parent))
    answer_value(child, "dev/api/key", typed, typed)
    code, screen = finish(child)
    assert code == 0, screen
    assert "Value for dev/api/key" in screen
    assert "Again, to confirm" in screen
    assert typed not in screen  # hidden: the terminal showed masks only
    assert "*" * len(typed) in screen
    assert "dev/api/key: created" in screen
    assert sm.get_secret_value(SecretId="dev/api/key")["SecretString"] == typed


def test_two_different_entries_are_refused(config: Path, sm: Any) -> None:
    child = recorded(spawn("set", "dev/api/key", cwd=config.parent))
    answer_value(child, "dev/api/key", "first-entry-1", "second-entry-2")
    code, screen = finish(child)
    assert code == 2, screen
    assert "error: the two values differ; nothing was written" in screen
    assert "first-entry-1" not in screen and "second-entry-2" not in screen
    assert missing(sm, "dev/api/key")


def test_protected_environment_answered_no_creates_nothing(config: Path, sm: Any) -> None:
    child = recorded(spawn("set", "prod/api/key", cwd=config.parent))
    answer_value(child, "prod/api/key", "prod-value-1", "prod-value-1")
    child.expect(r"create prod/api/key\?")
    child.send("n")
    code, screen = finish(child)
    assert code == 4, screen
    assert "not confirmed; nothing was changed" in screen
    assert missing(sm, "prod/api/key")


def test_protected_environment_answered_yes_creates(config: Path, sm: Any) -> None:
    child = recorded(spawn("set", "prod/api/key", cwd=config.parent))
    answer_value(child, "prod/api/key", "prod-value-2", "prod-value-2")
    child.expect(r"create prod/api/key\?")
    child.send("y")
    code, screen = finish(child)
    assert code == 0, screen
    assert "prod-value-2" not in screen
    assert sm.get_secret_value(SecretId="prod/api/key")["SecretString"] == "prod-value-2"


def test_ctrl_c_at_the_prompt_exits_130_and_creates_nothing(config: Path, sm: Any) -> None:
    child = recorded(spawn("set", "dev/api/key", cwd=config.parent))
    child.expect("Value for dev/api/key")
    child.send("half-typed")
    child.sendcontrol("c")
    code, screen = finish(child)
    assert code == 130, screen
    assert "error: interrupted" in screen
    assert "Traceback" not in screen
    assert "half-typed" not in screen
    assert missing(sm, "dev/api/key")


def test_ctrl_c_at_the_confirmation_exits_130_and_creates_nothing(config: Path, sm: Any) -> None:
    child = recorded(spawn("set", "prod/api/key", cwd=config.parent))
    answer_value(child, "prod/api/key", "prod-value-3", "prod-value-3")
    child.expect(r"create prod/api/key\?")
    child.sendcontrol("c")
    code, screen = finish(child)
    assert code == 130, screen
    assert missing(sm, "prod/api/key")


def test_get_of_text_on_a_terminal_adds_one_newline(aws_env: Path, sm: Any) -> None:
    sm.create_secret(Name="dev/api/key", SecretString="plain-text-value")
    child = recorded(spawn("get", "dev/api/key", cwd=aws_env))
    code, screen = finish(child)
    assert code == 0, screen
    # The terminal turns "\n" into "\r\n"; the value itself has no newline.
    assert child.logfile_read.getvalue() == "plain-text-value\r\n"


def test_get_of_a_text_value_ending_in_newline_adds_none(aws_env: Path, sm: Any) -> None:
    sm.create_secret(Name="dev/api/key", SecretString="line\n")
    child = recorded(spawn("get", "dev/api/key", cwd=aws_env))
    code, _ = finish(child)
    assert code == 0
    assert child.logfile_read.getvalue() == "line\r\n"


def test_get_of_binary_on_a_terminal_is_refused(aws_env: Path, sm: Any) -> None:
    sm.create_secret(Name="dev/tls/key", SecretBinary=b"\x00\x01\xffBINARY\x1b[2J")
    child = recorded(spawn("get", "dev/tls/key", cwd=aws_env))
    code, screen = finish(child)
    assert code == 2, screen
    assert "refusing to write it to a terminal" in screen
    assert "BINARY" not in child.logfile_read.getvalue()


def in_shell(command: str, *, cwd: Path) -> pexpect.spawn:
    """`sh -c COMMAND` at a terminal, `$0` being secrets: for redirections of stdout."""
    return pexpect.spawn(
        "sh",
        ["-c", command, SECRETS_BIN],
        cwd=str(cwd),
        env={**os.environ, "TERM": "xterm-256color"},
        encoding="utf-8",
        codec_errors="replace",
        timeout=TIMEOUT,
        dimensions=(24, 120),
    )


def test_questions_are_asked_on_stderr_never_into_a_redirected_stdout(
    config: Path, sm: Any
) -> None:
    """`secrets export prod ... > prod.env` at a terminal: the question shows (it looked
    hung), and prod.env holds the values only, not "? export ... (y/N)" and escape codes.
    The hidden value prompt and a protected set's confirmation alike."""
    sm.create_secret(Name="prod/p/a", SecretString="prod-value-a")
    child = recorded(in_shell('"$0" export prod/p --format dotenv > prod.env', cwd=config.parent))
    child.expect(r"export 1 secret value\(s\) of prod/p/ to stdout\?")
    child.send("y")
    code, screen = finish(child)
    assert code == 0, screen
    assert (config.parent / "prod.env").read_bytes() == b"A='prod-value-a'\n"

    child = recorded(in_shell('"$0" set prod/p/b > set.out', cwd=config.parent))
    answer_value(child, "prod/p/b", "typed-value-b", "typed-value-b")
    child.expect(r"create prod/p/b\?")
    child.send("y")
    code, screen = finish(child)
    assert code == 0, screen
    assert "?" not in (config.parent / "set.out").read_text()
    assert "\x1b" not in (config.parent / "set.out").read_text()
    assert sm.get_secret_value(SecretId="prod/p/b")["SecretString"] == "typed-value-b"
