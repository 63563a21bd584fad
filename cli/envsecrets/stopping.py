"""One way to stop: Ctrl-C, SIGTERM and SIGHUP all interrupt a command the same way.

Python turns SIGINT into KeyboardInterrupt, which every command already handles (a rotation
says what it left pending and how to resume; a child process is stopped with its group). TERM
and HUP - what a supervisor, `kill` or a closed terminal send - ended the process at once with
no word, leaving a verify command running with the pending value. While a command runs, the
three signals raise `Stopped` (a KeyboardInterrupt) in the main thread, and set a flag that
work in other threads (bulk rotation's workers) polls with `raise_if_stopped`.

A signal that was ignored when `secrets` started (`nohup` ignores HUP) stays ignored. `secrets
run` replaces these handlers with its own relay while its program runs, and restores them.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_stop = threading.Event()
# While `deferred()` holds them (main thread only), the stops that arrived, in order.
_held: list[int] = []
_deferring = False


class Stopped(KeyboardInterrupt):
    """A stopping signal arrived (`signum`), or another thread saw that one did."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def cause(interrupt: KeyboardInterrupt) -> str:
    """How the user stopped us, in their words: "Ctrl-C", "SIGTERM" or "SIGHUP"."""
    if isinstance(interrupt, Stopped) and interrupt.signum != signal.SIGINT:
        return signal.Signals(interrupt.signum).name
    return "Ctrl-C"


def requested() -> bool:
    """Whether a stopping signal arrived during this command."""
    return _stop.is_set()


def raise_if_stopped() -> None:
    """For loops in any thread: stop (raise `Stopped`) once a stopping signal arrived."""
    if _stop.is_set():
        raise Stopped()


def _handle(signum: int, frame: FrameType | None) -> None:
    _stop.set()
    if _deferring:
        _held.append(signum)
        return
    raise Stopped(signum)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold a stopping signal's `Stopped` until the end of the block, then raise it there:
    for a few lines that must not be cut in the middle (a child started but its handle not
    yet kept, which would leave it running with a value on its stdin). Other threads, which
    never get signals, are unaffected."""
    global _deferring
    if threading.current_thread() is not threading.main_thread() or _deferring:
        yield
        return
    _deferring = True
    try:
        yield
    finally:
        _deferring = False
    if _held:
        signum = _held[0]
        _held.clear()
        raise Stopped(signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Make INT, TERM and HUP stop the command for the `with` block (main thread only; a
    command run from another thread, as in an embedding program, keeps the signals as they
    are). The previous handlers come back on the way out."""
    _stop.clear()
    _held.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}
    for signum in STOP_SIGNALS:
        current = signal.getsignal(signum)
        if current == signal.SIG_IGN:
            continue  # ignored on purpose by whoever started us (nohup)
        previous[signum] = current
        signal.signal(signum, _handle)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)
