"""Running a user's command with a secret value on its stdin: `--verify-cmd` (and the one
runner for any other step that hands a value to a command of the user's).

The value goes to the child's stdin and nowhere else: not argv, not the environment (the
child inherits ours, which never holds values), not a temporary file. The child runs in its
own process group so that a timeout, Ctrl-C, SIGTERM or SIGHUP stops everything it started
(`sh -c 'psql ... | ...'` spawns several processes), not only the first one.

Shell or not: a command without shell syntax is split with `shlex` and run directly; one
that uses pipes, redirections, `&&`, `$VAR` and the like is run with `/bin/sh -c CMD`, where
CMD is the text the user typed in their own shell. Either way the value is only on stdin.

What the command prints is untrusted and unbounded (`yes` prints gigabytes a second): it is
read as it comes, masked (every value the caller names, across reads, by
`core.masking.MaskFilter`), and only a bounded tail is kept for the error message. The
command's own exit decides the outcome: once it has exited (or been stopped at the timeout),
its output is drained for at most a short grace - a process it started in a session of its
own (`setsid sleep 40 &`) can hold the pipe open for as long as it likes, and is not waited for.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from envsecrets import stopping
from envsecrets.core.masking import MaskFilter
from envsecrets.errors import CliError

# Characters that only mean something to a shell; their presence asks for `sh -c`.
SHELL_SYNTAX = frozenset("|&;<>()$`*?[]#~{}\n")
KILL_GRACE_SECONDS = 2.0
# After the command ends, how long its output may still take to arrive.
DRAIN_SECONDS = 0.5
# How often the wait looks at the clock and at a stop asked for by a signal in another thread.
TICK_SECONDS = 0.1
READ_SIZE = 65_536
TAIL_BYTES = 16_384  # the masked output kept: the end of it is what gets shown
OUTPUT_TAIL_LINES = 5
LINE_LIMIT = 200


@dataclass(frozen=True)
class VerifyOutcome:
    """How the command ended; `output_tail` holds its last lines, values masked."""

    exit_code: int | None  # None when it was stopped for taking too long
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


def check_runnable(command: str, option: str, environ: Mapping[str, str] | None = None) -> None:
    """Fail before anything is staged when `command` cannot be started (not found, not
    executable), with the same words as `secrets run`. A shell command line is checked for the
    shell only: what it runs is the shell's business."""
    from envsecrets.backends.child import check_command

    try:
        check_command(command_argv(command), os.environ if environ is None else environ)
    except CliError as exc:
        raise CliError(
            exc.code, f"{option}: {exc.message}; nothing was changed", exc.hint
        ) from None


# On Linux the command runs under this guard, the leader of its process group: it asks the
# kernel for SIGUSR1 when we die (PR_SET_PDEATHSIG, even by SIGKILL), and then kills the whole
# group, so that no command is left running with the value after `kill -9 secrets`. The
# kernel's signal reaches only a direct child (it is not inherited across fork): a guard that
# outlives nothing of its own is what makes `sh -c 'a | b'` and its grandchildren go too.
# It ignores the stop signals, which our own stop sends to the whole group: the command gets
# them as before, and the guard ends with the command's own status.
_GUARD = """
import ctypes, os, signal, subprocess, sys
def stop_all(*_):
    os.killpg(0, signal.SIGKILL)
signal.signal(signal.SIGUSR1, stop_all)
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGUSR1, 0, 0, 0)  # PR_SET_PDEATHSIG
if os.getppid() != int(sys.argv[1]):
    stop_all()  # we died before the kernel was asked
for stop in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(stop, signal.SIG_IGN)
try:
    child = subprocess.Popen(sys.argv[2:], restore_signals=True,
                             preexec_fn=lambda: [signal.signal(s, signal.SIG_DFL)
                                                 for s in (signal.SIGTERM, signal.SIGINT,
                                                           signal.SIGHUP, signal.SIGUSR1)])
except OSError as exc:
    print("cannot start: %s" % exc.strerror, file=sys.stderr)
    sys.exit(127)
code = child.wait()
if code < 0:
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


def guarded_argv(argv: list[str]) -> list[str]:
    """`argv` under the guard that stops it when we die (Linux); as it is elsewhere."""
    if not sys.platform.startswith("linux"):
        return argv
    return [sys.executable, "-I", "-c", _GUARD, str(os.getpid()), *argv]


def run_verify(
    command: str, value: bytes, *, timeout: float, mask: Sequence[bytes] = ()
) -> VerifyOutcome:
    """Run `command` with `value` on stdin; stop it (and its process group) after `timeout`
    seconds. Its stdout and stderr are read together (our stdout carries data only); the last
    lines come back with `value` and every one of `mask` replaced by `****`.

    Ctrl-C, SIGTERM or SIGHUP (`stopping`) stop the command's group and raise `Stopped`.
    """
    process: subprocess.Popen[bytes] | None = None
    try:
        # A stop arriving while the child starts is held until its handle is kept (then
        # raised here, inside the try): else the child would outlive us, value and all.
        with stopping.deferred():
            try:
                process = subprocess.Popen(
                    guarded_argv(command_argv(command)),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group, stopped as a whole
                    close_fds=True,
                )
            except OSError as exc:
                return VerifyOutcome(
                    exit_code=127, timed_out=False, output_tail=(f"cannot start: {exc.strerror}",)
                )
        return _Supervisor(process, value, MaskFilter([value, *mask])).run(timeout)
    except BaseException:
        # Ctrl-C, a stopping signal, or anything else: leave nothing running behind us.
        if process is not None:
            _kill_group(process)
        raise
    finally:
        if process is not None:
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()


class _Supervisor:
    """Feeds the value in, reads the output out (masked, bounded), and watches the clock,
    all in one loop on one thread: nothing here can block on the command for long."""

    def __init__(self, process: subprocess.Popen[bytes], value: bytes, mask: MaskFilter):
        self.process = process
        self.mask = mask
        self.tail = bytearray()
        self.selector = selectors.DefaultSelector()
        self.unsent = memoryview(value)
        if process.stdin is None or process.stdout is None:  # started with both as pipes
            raise RuntimeError("the command's stdin and stdout must be pipes")
        self.stdin = process.stdin
        self.stdout = process.stdout
        os.set_blocking(self.stdout.fileno(), False)
        self.selector.register(self.stdout.fileno(), selectors.EVENT_READ)
        if self.unsent:
            os.set_blocking(self.stdin.fileno(), False)
            self.selector.register(self.stdin.fileno(), selectors.EVENT_WRITE)
        else:
            self._close_stdin()

    def run(self, timeout: float) -> VerifyOutcome:
        deadline = time.monotonic() + timeout
        timed_out = False
        while self.process.poll() is None:
            stopping.raise_if_stopped()
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                _kill_group(self.process)
                break
            self._pump(min(left, TICK_SECONDS))
        if not timed_out:
            # A finished leader may leave background children in its group: they hold the
            # value and must not outlive the verification.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self._close_stdin()
        self._drain(time.monotonic() + DRAIN_SECONDS)
        return VerifyOutcome(
            exit_code=None if timed_out else self.process.returncode,
            timed_out=timed_out,
            output_tail=self._tail_lines(),
        )

    # -- the pipes -----------------------------------------------------------------------------
    def _pump(self, wait: float) -> None:
        """Move what the pipes allow, waiting at most `wait` seconds for them."""
        if not self.selector.get_map():
            # Both pipes closed, the command still running: just wait for its end.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=wait)
            return
        for key, _ in self.selector.select(wait):
            if key.fileobj == self.stdout.fileno():
                self._read()
            else:
                self._write()

    def _read(self) -> None:
        try:
            chunk = os.read(self.stdout.fileno(), READ_SIZE)
        except BlockingIOError:
            return
        if not chunk:
            self.selector.unregister(self.stdout.fileno())
            self._keep(self.mask.finish())
            return
        self._keep(self.mask.feed(chunk))

    def _write(self) -> None:
        try:
            sent = os.write(self.stdin.fileno(), self.unsent)
        except BlockingIOError:
            return
        except OSError:  # the command closed its stdin (or exited) without reading it all
            self._close_stdin()
            return
        self.unsent = self.unsent[sent:]
        if not self.unsent:
            self._close_stdin()  # end of input: the command sees EOF

    def _close_stdin(self) -> None:
        fd = None if self.stdin.closed else self.stdin.fileno()
        if fd is not None and fd in self.selector.get_map():
            self.selector.unregister(fd)
        with contextlib.suppress(OSError):
            self.stdin.close()
        self.unsent = memoryview(b"")

    def _drain(self, until: float) -> None:
        """What is left in the output pipe, for at most the grace period; what is already
        there is read however late we get to it (a process starved of CPU for longer than
        the grace would otherwise show none of what the command printed before it ended)."""
        while self.stdout.fileno() in self.selector.get_map():
            stopping.raise_if_stopped()
            left = until - time.monotonic()
            self._pump(min(max(left, 0.0), TICK_SECONDS))
            if left <= 0:
                break
        self.selector.close()

    def _keep(self, shown: bytes) -> None:
        """Keep the end of the masked output only: memory stays bounded whatever it prints."""
        self.tail += shown
        if len(self.tail) > 2 * TAIL_BYTES:
            del self.tail[:-TAIL_BYTES]

    def _tail_lines(self) -> tuple[str, ...]:
        text = bytes(self.tail[-TAIL_BYTES:]).decode("utf-8", "replace")
        lines = text.splitlines()[-OUTPUT_TAIL_LINES:]
        return tuple(line[:LINE_LIMIT] for line in lines)


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
