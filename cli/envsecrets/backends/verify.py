"""Running the user's `--verify-cmd` with a candidate secret value on its stdin.

The value goes to the child's stdin and nowhere else: not argv, not the environment (the
child inherits ours, which never holds values), not a temporary file. The child runs in its
own process group so that a timeout kills everything it started (`sh -c 'psql ... | ...'`
spawns several processes), not only the first one.

Shell or not: a command without shell syntax is split with `shlex` and run directly; one
that uses pipes, redirections, `&&`, `$VAR` and the like is run with `/bin/sh -c CMD`, where
CMD is the text the user typed in their own shell. Either way the value is only on stdin.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
from dataclasses import dataclass

# Characters that only mean something to a shell; their presence asks for `sh -c`.
SHELL_SYNTAX = frozenset("|&;<>()$`*?[]#~{}\n")
KILL_GRACE_SECONDS = 2.0
OUTPUT_TAIL_LINES = 5


@dataclass(frozen=True)
class VerifyOutcome:
    """How the verification command ended; `output_tail` has the value masked out."""

    exit_code: int | None  # None when it was killed for taking too long
    timed_out: bool
    output_tail: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.timed_out and self.exit_code == 0


def command_argv(command: str) -> list[str]:
    """The argv we start for `command` (see the module docstring for the rule)."""
    if any(c in SHELL_SYNTAX for c in command):
        return ["/bin/sh", "-c", command]
    try:
        return shlex.split(command)
    except ValueError:
        return ["/bin/sh", "-c", command]


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the whole process group, then SIGKILL whatever is still in it."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=KILL_GRACE_SECONDS)
    # Children may outlive the leader (or ignore SIGTERM): the group goes, whatever it holds.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _tail(output: bytes, value: bytes) -> tuple[str, ...]:
    """The last lines of the command's output, with the value masked if it echoed it."""
    if value:
        output = output.replace(value, b"***")
    lines = output.decode("utf-8", "replace").splitlines()
    return tuple(line[:200] for line in lines[-OUTPUT_TAIL_LINES:])


def run_verify(command: str, value: bytes, *, timeout: float) -> VerifyOutcome:
    """Run `command` with `value` on stdin; wait at most `timeout` seconds.

    The command's stdout and stderr are captured (our stdout carries data only), and the
    last lines are returned for the error message, with the value masked.
    """
    argv = command_argv(command)
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as a whole on timeout
            close_fds=True,
        )
    except OSError as exc:
        return VerifyOutcome(
            exit_code=127, timed_out=False, output_tail=(f"cannot start: {exc.strerror}",)
        )
    try:
        output, _ = process.communicate(input=value, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        output, _ = process.communicate()
        return VerifyOutcome(exit_code=None, timed_out=True, output_tail=_tail(output, value))
    except BaseException:
        # Ctrl-C or anything else: leave nothing running behind us.
        _kill_group(process)
        raise
    # A finished leader may leave background children in its group; they must not outlive us.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    return VerifyOutcome(
        exit_code=process.returncode, timed_out=False, output_tail=_tail(output, value)
    )
