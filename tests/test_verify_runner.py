"""backends/verify.py directly: how a user's verify or apply command is run.

The rotate tests drive it through `--verify-cmd`; here each promise of the runner is stated
on its own: the value on stdin only, stdout and stderr read together, nothing of ours
inherited, a command that cannot start, a timeout that stops the whole group.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from envsecrets.backends.verify import VerifyOutcome, command_argv, run_verify


@pytest.fixture(autouse=True)
def aws_env() -> None:
    """No AWS here (overrides conftest's)."""


def test_the_value_arrives_on_stdin_and_both_streams_come_back_masked() -> None:
    outcome = run_verify(
        'sh -c \'v=$(cat); echo "out $v"; echo "err $v" >&2; exit 3\'', b"s3cret", timeout=30
    )
    assert outcome == VerifyOutcome(3, False, ("out ****", "err ****"))
    assert not outcome.passed
    assert run_verify("cat >/dev/null", b"v", timeout=30).passed


def test_the_command_inherits_none_of_our_open_files(tmp_path: Path) -> None:
    kept = (tmp_path / "ours").open("wb")
    os.set_inheritable(kept.fileno(), True)  # even one marked inheritable
    try:
        outcome = run_verify("ls /proc/self/fd", b"", timeout=30)
    finally:
        kept.close()
    # 0, 1, 2, and the one ls opens to read the folder
    assert sorted(int(fd) for fd in outcome.output_tail) == [0, 1, 2, 3]


def test_a_command_that_cannot_start_says_so() -> None:
    outcome = run_verify("/nonexistent/verify --now", b"v", timeout=30)
    assert outcome == VerifyOutcome(127, False, ("cannot start: No such file or directory",))
    assert not outcome.passed


def test_a_command_past_its_time_is_stopped_with_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    outcome = run_verify(f"sh -c 'sleep 60 & echo $! > {pidfile}; wait'", b"v", timeout=1)
    assert outcome.timed_out and outcome.exit_code is None and not outcome.passed
    child = int(pidfile.read_text())
    status = Path(f"/proc/{child}/status")
    assert not status.exists() or "State:\tZ" in status.read_text()  # the group went too


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("check-db --host db", ["check-db", "--host", "db"]),
        ("psql -c 'select 1'", ["psql", "-c", "select 1"]),
        ("a | b", ["/bin/sh", "-c", "a | b"]),
        ("echo $HOME", ["/bin/sh", "-c", "echo $HOME"]),
        ("say 'unclosed", ["/bin/sh", "-c", "say 'unclosed"]),
    ],
)
def test_shell_syntax_asks_for_a_shell(command: str, argv: list[str]) -> None:
    assert command_argv(command) == argv
