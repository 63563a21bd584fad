"""Where a new value comes from (commands/inputs.py): bounded reads, closed stdin, and what the
value is stored as (valid UTF-8 is text, control characters included)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from envsecrets.core.values import MAX_VALUE_BYTES

from tests.conftest import SECRETS_BIN


def test_from_file_dev_zero_is_refused_without_reading_it_whole(cli: Any, sm: Any) -> None:
    # Before: path.read_bytes() of an endless file ended in MemoryError.
    run = cli("set", "dev/zero", "--from-file", "/dev/zero")
    assert run.code == 2, run.stderr
    assert f"over {MAX_VALUE_BYTES} bytes" in run.stderr
    assert sm.list_secrets()["SecretList"] == []


class CountingStream:
    """A bytes stdin that counts what was read from it and never ends."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        assert size > 0, "the whole stream was asked for"
        chunk = min(size, 8192)
        self.read_bytes += chunk
        return b"a" * chunk


def test_stdin_reads_at_most_the_limit_and_a_little(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--stdin` stops reading as soon as the value is known to be too big (before: 300 MB
    were read before the refusal)."""
    import sys
    from types import SimpleNamespace

    from envsecrets.commands.inputs import read_stdin_value
    from envsecrets.errors import CliError

    endless = CountingStream()
    fake = SimpleNamespace(buffer=endless, closed=False, isatty=lambda: False)
    monkeypatch.setattr(sys, "stdin", fake)
    with pytest.raises(CliError) as caught:
        read_stdin_value()
    assert caught.value.code == 2
    assert endless.read_bytes <= MAX_VALUE_BYTES + 3


def test_stdin_value_at_the_limit_with_a_crlf_is_accepted(cli: Any, sm: Any) -> None:
    value = b"b" * MAX_VALUE_BYTES
    run = cli("set", "dev/full", "--stdin", input=value + b"\r\n")
    assert run.code == 0, run.stderr
    assert sm.get_secret_value(SecretId="dev/full")["SecretString"] == value.decode()
    over = cli("set", "dev/over", "--stdin", input=value + b"bb\n")
    assert over.code == 2


def test_stdin_of_a_huge_pipe_is_refused_quickly(secrets_cmd: Any, sm: Any) -> None:
    """The installed script, fed by `yes`: it stops reading and refuses."""
    with subprocess.Popen(["yes", "a-long-line-of-text"], stdout=subprocess.PIPE) as producer:
        done = subprocess.run(
            [SECRETS_BIN, "set", "dev/yes", "--stdin"],
            stdin=producer.stdout,
            capture_output=True,
            timeout=60,
            check=False,
        )
        producer.kill()
    assert done.returncode == 2, done.stderr
    assert b"over 65536 bytes" in done.stderr
    assert sm.list_secrets()["SecretList"] == []


@pytest.mark.parametrize("closed_stdin", [["--stdin"], []])
def test_closed_stdin_is_no_input(aws_env: Path, sm: Any, closed_stdin: list[str]) -> None:
    """`secrets set X --stdin <&-`: no input (exit 2), not AttributeError."""
    done = subprocess.run(
        ["sh", "-c", f'exec "$0" set dev/closed {" ".join(closed_stdin)} <&-', SECRETS_BIN],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert b"Traceback" not in done.stderr and b"internal error" not in done.stderr
    assert sm.list_secrets()["SecretList"] == []


def test_text_with_a_control_character_is_stored_as_text_and_said_so(cli: Any, sm: Any) -> None:
    run = cli("set", "dev/esc", "--stdin", input=b"ab\x1bcd")
    assert run.code == 0, run.stderr
    assert "text, 5 bytes" in run.stderr
    stored = sm.get_secret_value(SecretId="dev/esc")
    assert stored["SecretString"] == "ab\x1bcd"
    assert "SecretBinary" not in stored
    assert cli("get", "dev/esc").stdout_bytes == b"ab\x1bcd"  # exactly, when not a terminal


def test_what_was_stored_is_said(cli: Any, sm: Any, aws_env: Path) -> None:
    binary = aws_env / "key.der"
    binary.write_bytes(b"\x30\x82\xff\x00")
    said = cli("set", "dev/bin", "--from-file", str(binary))
    assert "binary, not UTF-8 text, 4 bytes" in said.stderr
    assert "SecretBinary" in sm.get_secret_value(SecretId="dev/bin")
    json_value = cli("set", "dev/js", "--stdin", "--json", input='{"a": "b"}')
    assert json_value.json()["kind"] == "json"
    assert "JSON object" in cli("set", "dev/js2", "--stdin", input='{"a": "b"}').stderr
