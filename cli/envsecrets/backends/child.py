"""Starting the user's program for `secrets run`, and staying out of its way.

The program is started directly (no shell), in our process group, with our stdin, terminal,
working folder and open descriptors: as if the user had started it. Without `--mask` its
stdout and stderr are ours, untouched. With `--mask` they are pipes that two threads copy to
ours through a `MaskFilter`, to their end (`_Pump`).

Signals. While the program runs, the signals a user or a supervisor sends to `secrets`
(TERM, HUP, INT, QUIT, USR1, USR2, WINCH) are passed on to it, and `secrets` waits for it to
end: its exit status becomes ours (128+N when a signal N ended it, as shells report it). One
exception: a signal sent to our whole process group already reached the program, which is in
that group with us; sending it a second time would make programs such as `docker compose up`
skip their graceful stop. That is Ctrl-C and Ctrl-\\ at the terminal, `timeout(1)`, `kill --
-PGID` (CI runners cancelling a job), and systemd stopping a unit (it signals every process).
Python's handlers do not see who sent a signal, so a witness tells (`_GroupWitness`): a
process of ours in the group that blocks these signals and never takes them. A signal pending
in it too was sent to the group, and is not passed on unless the program has left our
process group. Without /proc (not Linux) only the terminal's case is recognised: INT and QUIT
are not passed on while the program is in the terminal's foreground process group.
Signals that were ignored when `secrets` started stay ignored, for the program too, as they
would be if it were started directly.

Before the program starts (files being written), INT, TERM, HUP and QUIT stop the run
(`Interrupted`), so the caller can remove what it wrote; while it is being started, signals
are held and passed on as soon as it exists.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any

from envsecrets.core.masking import MaskFilter
from envsecrets.errors import CliError, ExitCode

RELAYED = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
)
FROM_KEYBOARD = frozenset({signal.SIGINT, signal.SIGQUIT})
STOPPING = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT})
READ_SIZE = 65_536
# After the program ended, its masked output is copied to the end, however slowly our reader
# takes it; only a pipe that stays open and silent this long is given up: a process the
# program left behind holds it (and may forever).
DRAIN_SECONDS = 2.0
# How long a signal sent to `secrets` alone waits before it is passed on, to see whether the
# group gets it too: timeout(1) signals its child, then the group, a few microseconds apart.
GROUP_SIGNAL_SECONDS = 0.05
# How long arrivals of one signal count as the one that was sent to the group (the sender's
# own copy to `secrets` may be handled after it).
SAME_EVENT_SECONDS = 0.5

Sink = Callable[[bytes], None]


class Interrupted(Exception):
    """A stopping signal arrived before the program was started."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _GroupWitness:
    """A process of ours, in our process group, that blocks the relayed signals and never
    takes them: a signal pending in it was sent to our whole process group (`timeout`,
    `kill -- -PGID`, a CI runner cancelling a job, Ctrl-C at the terminal) or to every process
    (systemd stopping a unit), not to `secrets` alone. Read from /proc (Linux); elsewhere
    `active` is False and nothing can be told."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self._alive_while: int | None = None  # our end of a pipe: it exits when we do
        self._seen_at: dict[int, float] = {}  # signal -> when first seen pending in it

    @property
    def active(self) -> bool:
        return self.pid is not None

    def start(self) -> None:
        if self.pid is not None or not Path("/proc/self/status").exists():
            return
        its, ours = os.pipe()  # it reads; we hold the end that writes
        # Blocked from before the fork: no moment at which a signal could reach it unblocked.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, RELAYED)
        try:
            pid = os.fork()
        except OSError:
            pid = -1
        if pid == 0:  # the witness: wait until `secrets` ends (the pipe closes), or is killed
            try:
                os.close(ours)
                os.read(its, 1)
            finally:
                os._exit(0)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        os.close(its)
        if pid < 0:
            os.close(ours)
            return
        self.pid, self._alive_while = pid, ours

    def sent_to_the_group(self, signum: int) -> bool:
        """Whether this arrival of `signum` was sent to our process group too.

        A sender may signal `secrets` and then the group (timeout(1) does, microseconds
        apart), and we may see that as one arrival or as two: so a signal not pending in the
        witness is given GROUP_SIGNAL_SECONDS to become so, and arrivals of a signal seen
        sent to the group count as that one for SAME_EVENT_SECONDS. Once seen, the witness
        is renewed at once (a signal stays pending in it forever), so the next is told
        apart again."""
        now = time.monotonic()
        first = self._seen_at.get(signum)
        if first is not None and now - first <= SAME_EVENT_SECONDS:
            return True
        deadline = now + GROUP_SIGNAL_SECONDS
        while not self._pending(signum):
            if self._seen_at.get(signum, now - 1) >= now:
                return True  # the group's copy arrived meanwhile, and was handled (nested)
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        self.renew()
        self._seen_at[signum] = now
        return True

    def _pending(self, signum: int) -> bool:
        if self.pid is None:
            return False
        try:
            with open(f"/proc/{self.pid}/status", encoding="ascii") as status:  # noqa: PTH123
                pending = 0
                for line in status:
                    if line.startswith(("SigPnd:", "ShdPnd:")):
                        pending |= int(line.split()[1], 16)
        except (OSError, ValueError, IndexError):
            return False
        return bool(pending >> (signum - 1) & 1)

    def renew(self) -> None:
        """A fresh witness (a signal pending in this one stays pending: it cannot tell the
        next one apart)."""
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.pid is None:
            return
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        if self._alive_while is not None:
            os.close(self._alive_while)
        self.pid = self._alive_while = None


class SignalRelay:
    """Installs the signal handling described in the module docstring for its `with` block."""

    def __init__(self) -> None:
        self._state = "preparing"  # -> "starting" -> "running" -> "finished"
        self._pid: int | None = None
        self._held: list[int] = []
        self._previous: dict[int, Any] = {}
        self._terminal: int | None = None
        self._witness = _GroupWitness()

    def __enter__(self) -> SignalRelay:
        with contextlib.suppress(OSError):
            self._terminal = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY | os.O_CLOEXEC)
        for signum in RELAYED:
            current = signal.getsignal(signum)
            if current == signal.SIG_IGN:
                continue  # ignored when we started: the program inherits that
            self._previous[signum] = current
            signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._state = "finished"
        self._witness.stop()
        for signum, handler in self._previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        if self._terminal is not None:
            os.close(self._terminal)
            self._terminal = None

    # -- the program's life -----------------------------------------------------------------
    def starting(self) -> None:
        """The program is about to be started: hold signals until it exists."""
        self._state = "starting"
        self._witness.start()

    def started(self, pid: int) -> None:
        """The program exists: pass on what was held, and everything from now on."""
        self._pid = pid
        self._state = "running"
        for signum in self._held:
            self._forward(signum)
        self._held.clear()

    def not_started(self) -> None:
        """Starting failed: a stopping signal held meanwhile stops the run now."""
        self._state = "preparing"
        stopping = [s for s in self._held if s in STOPPING]
        self._held.clear()
        if stopping:
            raise Interrupted(stopping[0])

    def finished(self) -> None:
        """The program ended (and was reaped): its pid may belong to someone else now."""
        self._state = "finished"
        self._pid = None
        self._witness.stop()

    # -- handling -----------------------------------------------------------------------------
    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._state == "preparing":
            if signum in STOPPING:
                raise Interrupted(signum)
            self._held.append(signum)
        elif self._state == "starting":
            self._held.append(signum)
        elif self._state == "running":
            self._forward(signum)

    def _forward(self, signum: int) -> None:
        if self._witness.active:
            if self._witness.sent_to_the_group(signum) and self._program_in_our_group():
                return  # the program got it as well
        elif signum in FROM_KEYBOARD and self._program_in_terminal_foreground():
            return  # the terminal sent it to the program as well
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self._pid, signum)

    def _program_in_our_group(self) -> bool:
        """Whether the program is still in our process group (it may have left it)."""
        if self._pid is None:
            return False
        try:
            return os.getpgid(self._pid) == os.getpgrp()
        except OSError:
            return False

    def _program_in_terminal_foreground(self) -> bool:
        """Whether the program's process group is the terminal's foreground group, the one
        that Ctrl-C and Ctrl-\\ signal."""
        if self._terminal is None or self._pid is None:
            return False
        try:
            return os.getpgid(self._pid) == os.tcgetpgrp(self._terminal)
        except OSError:
            return False


def check_command(argv: Sequence[str], environ: Mapping[str, str]) -> None:
    """Fail before any secret is read when the program cannot be found or run."""
    if not argv:
        raise CliError(
            ExitCode.USAGE,
            "no command to run",
            "put the command after --, e.g. secrets run dev -- npm start",
        )
    program = argv[0]
    if "/" in program:
        found: str | None = program if Path(program).is_file() else None
        if found is not None and not os.access(found, os.X_OK):
            raise CliError(
                ExitCode.USAGE,
                f"cannot run '{program}': it is not executable",
                f"chmod +x {program}, or run it through its interpreter",
            )
    else:
        found = shutil.which(program, path=environ.get("PATH", os.defpath))
    if found is None:
        raise CliError(
            ExitCode.NOT_FOUND,
            f"command '{program}' not found",
            "check its name, or give its path (PATH is searched as your shell would)",
        )


def run_child(
    argv: Sequence[str],
    env: Mapping[str, str],
    relay: SignalRelay,
    *,
    mask: Sequence[bytes] | None = None,
    stdout: Sink | None = None,
    stderr: Sink | None = None,
    warn: Callable[[str], None] | None = None,
    inherit: Sequence[int] = (),
) -> int:
    """Start `argv` with `env`, wait for it, and return its exit status (128+N when signal N
    ended it). With `mask`, its stdout and stderr go through a MaskFilter to `stdout` and
    `stderr`, copied to their end (see `_Pump`); without, they are ours, untouched. An output
    of ours that fails (closed, full) raises its CliError once the program has ended.
    The descriptors in `inherit` (ours are close-on-exec) are the program's too."""
    piped = subprocess.PIPE if mask is not None else None
    # Built before the program starts (its output would wait behind it), and once for both
    # streams: with many large values building the filter is the costly part.
    shared = MaskFilter(mask) if mask is not None else None
    relay.starting()
    # Not `pass_fds`: it would close every other descriptor our parent gave us.
    for fd in inherit:
        os.set_inheritable(fd, True)
    try:
        process = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdout=piped,
            stderr=piped,
            close_fds=False,  # only descriptors our parent gave us are inheritable (PEP 446)
        )
    except OSError as exc:
        relay.not_started()
        raise _cannot_start(argv[0], exc) from None
    finally:
        for fd in inherit:
            os.set_inheritable(fd, False)
    relay.started(process.pid)
    pumps: list[_Pump] = []
    if shared is not None and process.stdout and process.stderr and stdout and stderr:
        pumps = [
            _Pump(process.stdout, stdout, shared),
            _Pump(process.stderr, stderr, shared.another()),
        ]
    status = process.wait()
    relay.finished()
    for pump in pumps:
        pump.program_ended()
    for pump in pumps:
        pump.join()
    if warn is not None and any(pump.left_behind for pump in pumps):
        warn(
            f"{argv[0]} ended but a process it started still holds its output open; "
            f"secrets stopped copying that output after {DRAIN_SECONDS:g} s of silence"
        )
    for pump in pumps:
        if pump.failure is not None:
            raise pump.failure
    return 128 - status if status < 0 else status


def _cannot_start(program: str, exc: OSError) -> CliError:
    if isinstance(exc, FileNotFoundError):
        return CliError(
            ExitCode.NOT_FOUND,
            f"command '{program}' not found",
            "check its name, or give its path",
        )
    return CliError(
        ExitCode.USAGE,
        f"cannot run '{program}' ({exc.strerror})",
        "check that the file is a program you may execute",
    )


class _Pump:
    """Copies one of the program's pipes to one of our outputs through a MaskFilter, in a
    thread, until the pipe's end: everything the program wrote is shown (a slow reader of our
    output only slows the copy down), and the filter's held tail at the end too.

    The only case bounded is a pipe that stays open after the program ended, silent for
    DRAIN_SECONDS: a process the program left behind holds it, and may hold it forever.
    If our own output is gone (a closed pipe), reading stops and the program meets the
    closed pipe itself, as it would have without us; any other failure of our output (a full
    disk, a closed descriptor) is kept in `failure` for the caller to report."""

    def __init__(self, source: IO[bytes], sink: Sink, mask: MaskFilter) -> None:
        self._source = source
        self._sink = sink
        self._mask = mask
        # Written to once the program has ended: wakes the thread's poll to start the clock.
        self._wake_read, self._wake_write = os.pipe()
        self.failure: CliError | None = None
        self.left_behind = False
        self._thread = threading.Thread(target=self._run, name="secrets-run-mask", daemon=True)
        self._thread.start()

    def program_ended(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"x")

    def join(self) -> None:
        self._thread.join()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _run(self) -> None:
        try:
            self._copy()
        except CliError as exc:
            self.failure = exc
        except OSError:
            pass  # our output is a closed pipe
        finally:
            self._source.close()

    def _copy(self) -> None:
        fd = self._source.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.register(self._wake_read, select.POLLIN)
        timeout: float | None = None  # no limit while the program runs
        while True:
            ready = {ready_fd for ready_fd, _ in poller.poll(timeout)}
            if self._wake_read in ready:
                poller.unregister(self._wake_read)
                timeout = DRAIN_SECONDS * 1000
            if fd in ready:
                chunk = os.read(fd, READ_SIZE)
                if not chunk:
                    break  # the pipe's end: every writer closed it
                shown = self._mask.feed(chunk)
                if shown:
                    self._sink(shown)
            elif not ready:
                self.left_behind = True  # silent since the program ended, still open
                break
        rest = self._mask.finish()
        if rest:
            self._sink(rest)
