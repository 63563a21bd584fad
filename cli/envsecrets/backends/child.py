"""Starting the user's program for `secrets run`, and staying out of its way.

The program is started directly (no shell), in our process group, with our stdin, terminal,
working folder and open descriptors: as if the user had started it. Without `--mask` its
stdout and stderr are ours, untouched. With `--mask` they are pipes that two threads copy to
ours through a `MaskFilter`, to their end (`_Pump`).

Signals. While the program runs, the signals a user or a supervisor sends to `secrets`
(TERM, HUP, INT, QUIT, USR1, USR2, WINCH) are passed on to it, and `secrets` waits for it to
end: its exit status becomes ours (128+N when a signal N ended it, as shells report it). One
exception: Ctrl-C and Ctrl-\\ at the terminal already reach the program, which is in the
terminal's foreground process group with us; sending INT or QUIT a second time would make
programs such as `docker compose up` skip their graceful stop. So INT and QUIT are passed on
only when the program's process group is not the terminal's foreground group (no terminal,
or a program that moved to a group of its own). Signals that were ignored when `secrets` started
stay ignored, for the program too, as they would be if it were started directly.

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

Sink = Callable[[bytes], None]


class Interrupted(Exception):
    """A stopping signal arrived before the program was started."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class SignalRelay:
    """Installs the signal handling described in the module docstring for its `with` block."""

    def __init__(self) -> None:
        self._state = "preparing"  # -> "starting" -> "running" -> "finished"
        self._pid: int | None = None
        self._held: list[int] = []
        self._previous: dict[int, Any] = {}
        self._terminal: int | None = None

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
        for signum, handler in self._previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        if self._terminal is not None:
            os.close(self._terminal)
            self._terminal = None

    # -- the program's life -----------------------------------------------------------------
    def starting(self) -> None:
        """The program is about to be started: hold signals until it exists."""
        self._state = "starting"

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
        if signum in FROM_KEYBOARD and self._program_in_terminal_foreground():
            return  # the terminal sent it to the program as well
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self._pid, signum)

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
    if mask is not None and process.stdout and process.stderr and stdout and stderr:
        pumps = [
            _Pump(process.stdout, stdout, MaskFilter(mask)),
            _Pump(process.stderr, stderr, MaskFilter(mask)),
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
