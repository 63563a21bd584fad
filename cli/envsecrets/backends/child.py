"""Starting the user's program for `secrets run`, and staying out of its way.

The program is started directly (no shell), in our process group, with our stdin, terminal,
working folder and open descriptors: as if the user had started it. Without `--mask` its
stdout and stderr are ours, untouched. With `--mask` they are pipes that two threads copy to
ours through a `MaskFilter`.

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
# After the program ends, how long its masked output may still take to drain (a process it
# left behind can hold the pipes open forever; we do not wait for it).
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
) -> int:
    """Start `argv` with `env`, wait for it, and return its exit status (128+N when signal N
    ended it). With `mask`, its stdout and stderr go through a MaskFilter to `stdout` and
    `stderr`; without, they are ours, untouched."""
    piped = subprocess.PIPE if mask is not None else None
    relay.starting()
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
    relay.started(process.pid)
    pumps: list[threading.Thread] = []
    if mask is not None and process.stdout and process.stderr and stdout and stderr:
        pumps = [
            _start_pump(process.stdout, stdout, MaskFilter(mask)),
            _start_pump(process.stderr, stderr, MaskFilter(mask)),
        ]
    status = process.wait()
    relay.finished()
    for pump in pumps:
        pump.join(DRAIN_SECONDS)
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


def _start_pump(source: IO[bytes], sink: Sink, mask: MaskFilter) -> threading.Thread:
    thread = threading.Thread(
        target=_pump, args=(source, sink, mask), name="secrets-run-mask", daemon=True
    )
    thread.start()
    return thread


def _pump(source: IO[bytes], sink: Sink, mask: MaskFilter) -> None:
    """Copy `source` to `sink` through `mask` until the program closes it. If our own
    output is gone (a closed pipe), stop reading: the program then meets the closed pipe
    itself, as it would have without us."""
    fd = source.fileno()
    try:
        while chunk := os.read(fd, READ_SIZE):
            shown = mask.feed(chunk)
            if shown:
                sink(shown)
        rest = mask.finish()
        if rest:
            sink(rest)
    except OSError:
        pass
    finally:
        source.close()
