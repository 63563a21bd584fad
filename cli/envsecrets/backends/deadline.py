"""How long a command waits for AWS before it gives up (exit 6).

botocore's timeouts are per socket operation: an endpoint that accepts and never answers holds
each attempt for the read timeout, and retries multiply it (5 attempts of 30 s); one that
trickles a byte every few seconds never times out at all. So a deadline is kept here, in
wall-clock time, on every client we make (`AwsTarget.client`):

- every AWS call, retries and back-off included, gives up after `seconds`;
- a command that works on one secret (`set`, `get`, `show`, ...) calls `whole_command()`: its
  calls then share one budget of `seconds`. Only time spent inside AWS calls counts, never the
  time a person takes to answer a prompt.

On the main thread an interval timer (SIGALRM) interrupts whatever the call is blocked on, so
the deadline holds against a trickling endpoint too; it also says, once, that the command is
waiting (`on_wait`, shown on a terminal). Calls on worker threads (bulk commands) cannot be
interrupted by a signal: they stop retrying once past the deadline, and every read of a reply
is bounded by the time the call has left (`_BoundedSocket`: the socket's timeout shrinks with
it, so a reply trickled a byte at a time is cut off at the deadline, as on the main thread).
Without SIGALRM (Windows) the main thread is bounded like a worker.

`seconds` comes from `--timeout` or `ENVSECRETS_TIMEOUT` (default 30).
"""

from __future__ import annotations

import functools
import http.client
import io
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

from envsecrets.errors import CliError, ExitCode

if TYPE_CHECKING:
    from botocore.client import BaseClient

DEFAULT_TIMEOUT = 30.0
TIMEOUT_ENV = "ENVSECRETS_TIMEOUT"
# A person at a terminal is told that the command is waiting after this long.
NOTICE_AFTER = 3.0

# Called once per run, when a call has waited NOTICE_AFTER seconds: (endpoint, seconds left).
WaitNotice = Callable[[str, float], None]


def timeout_from(option: float | None, environ: dict[str, str] | None = None) -> float:
    """The deadline in seconds: `--timeout`, else ENVSECRETS_TIMEOUT, else 30; a value that is
    not a positive number of seconds is a usage error naming where it came from."""
    env = os.environ if environ is None else environ
    if option is not None:
        raw, where = str(option), "--timeout"
    elif env.get(TIMEOUT_ENV, "").strip():
        raw, where = env[TIMEOUT_ENV].strip(), TIMEOUT_ENV
    else:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < 86400:  # also refuses nan and inf
        raise CliError(
            ExitCode.USAGE,
            f"{where} must be a number of seconds between 0 and 86400, not '{raw}'",
            f"e.g. {where}{' ' if where.startswith('-') else '='}60",
        )
    return seconds


class DeadlineExceeded(CliError):
    """AWS did not answer in time. A CliError (exit 6), so that whatever catches errors per
    item or per check reports it like any other unavailability."""

    def __init__(self, seconds: float, endpoint: str, operation: str, *, whole: bool) -> None:
        # `whole`: the budget was the command's, shared by its calls; else this call's.
        spent = "in all" if whole else "for one call"
        self.operation = operation  # the call that was waited for (a write may have landed)
        super().__init__(
            ExitCode.UNAVAILABLE,
            f"gave up waiting for AWS after {seconds:g} s {spent} ({operation} at {endpoint})",
            f"check the network and that {endpoint} is a working AWS endpoint; "
            f"--timeout SECONDS (or {TIMEOUT_ENV}) waits longer",
        )


@dataclass
class _Call:
    """The call the main thread is in, while the timer watches it."""

    started: float
    budget: float
    endpoint: str
    operation: str
    # The repeat of an interval timer someone else had armed: kept, not only its next ring.
    previous_interval: float = 0.0
    previous_handler: Any = None
    # An interval timer someone else had armed (a program embedding the CLI): put back after.
    previous_timer: float = 0.0
    # The deadline that watches this call, and the call this one was made inside (a worker's).
    deadline: AwsDeadline | None = None
    outer: _Call | None = None

    def left(self) -> float:
        return self.budget - (time.monotonic() - self.started)


@dataclass
class AwsDeadline:
    """The deadline of one run, shared by all its clients."""

    seconds: float = DEFAULT_TIMEOUT
    on_wait: WaitNotice | None = None
    whole: bool = False  # one budget for all the command's calls
    spent: float = 0.0  # time inside calls so far (counted in whole-command mode)
    _noticed: bool = False
    _call: _Call | None = None
    _depth: int = 0

    def whole_command(self) -> None:
        """Give all the calls of this command one budget (commands on one secret)."""
        self.whole = True

    @contextmanager
    def grace(self, seconds: float) -> Iterator[None]:
        """A budget of its own for the calls inside, whatever the command spent: after the
        deadline, one short look at what it left (a rotation's labels) is still worth making."""
        saved = (self.seconds, self.spent)
        self.seconds, self.spent = seconds, 0.0
        try:
            yield
        finally:
            self.seconds, self.spent = saved

    def watch(self, client: BaseClient) -> None:
        """Hold every call of `client` to the deadline. Register before any other after-call
        hook: a hook that raises stops those after it."""
        service = client.meta.service_model.service_id.hyphenize()
        endpoint = str(client.meta.endpoint_url)

        def before_call(model: Any, **_: Any) -> None:
            self._begin(endpoint, str(model.name))

        def after_call(**_: Any) -> None:
            self._end()

        def needs_retry(caught_exception: BaseException | None = None, **_: Any) -> None:
            self._check_between_attempts(caught_exception)

        _bound_reads_of(client)
        events = client.meta.events
        events.register(f"before-call.{service}", before_call)
        events.register(f"after-call.{service}", after_call)
        events.register(f"after-call-error.{service}", after_call)
        events.register(f"needs-retry.{service}", needs_retry)

    # -- the calls' lifecycle ------------------------------------------------------------------
    def _budget(self) -> float:
        return self.seconds - self.spent if self.whole else self.seconds

    def _begin(self, endpoint: str, operation: str) -> None:
        budget = self._budget()
        if budget <= 0:
            raise DeadlineExceeded(self.seconds, endpoint, operation, whole=self.whole)
        call = _Call(time.monotonic(), budget, endpoint, operation, deadline=self)
        if not _can_interrupt():
            call.outer = getattr(_WORKER, "call", None)
            _WORKER.call = call  # its replies' reads are bounded by what it has left
            return
        self._depth += 1
        if self._depth > 1:
            return  # a call made inside a call (credentials): the outer one is watched
        self._call = call
        call.previous_handler = signal.signal(signal.SIGALRM, self._ring)
        call.previous_timer, call.previous_interval = signal.getitimer(signal.ITIMER_REAL)
        self._arm(call)

    def _end(self) -> None:
        if not _can_interrupt():
            call = getattr(_WORKER, "call", None)
            if call is None:
                return  # ended already (a hook raised, then botocore's after-call-error)
            if self.whole:
                self.spent += time.monotonic() - call.started
            _WORKER.call = call.outer
            return
        if self._depth == 0:
            return
        self._depth -= 1
        if self._depth == 0:
            self._disarm()

    def _check_between_attempts(self, caught: BaseException | None) -> None:
        """After each attempt: a deadline that rang inside the HTTP library comes back wrapped
        in botocore's HTTPClientError; and a call past its deadline is not retried."""
        found = getattr(caught, "kwargs", {}).get("error") if caught is not None else None
        for exc in (caught, found):
            if isinstance(exc, DeadlineExceeded):
                self._disarm_after_raise()
                raise exc
        call = self._call if _can_interrupt() else getattr(_WORKER, "call", None)
        if call is not None and time.monotonic() - call.started >= call.budget:
            self._disarm_after_raise()
            raise self._exceeded(call)

    # -- the timer (main thread) ---------------------------------------------------------------
    def _arm(self, call: _Call) -> None:
        left = call.budget - (time.monotonic() - call.started)
        notice_in = NOTICE_AFTER - (time.monotonic() - call.started)
        ring_in = left
        if self.on_wait is not None and not self._noticed and 0 < notice_in < left:
            ring_in = notice_in
        signal.setitimer(signal.ITIMER_REAL, max(ring_in, 0.001))

    def _ring(self, signum: int, frame: FrameType | None) -> None:
        call = self._call
        if call is None:
            return  # the call ended as the timer rang
        left = call.budget - (time.monotonic() - call.started)
        if left > 0.01:
            if self.on_wait is not None and not self._noticed:
                self._noticed = True
                self.on_wait(call.endpoint, left)
            self._arm(call)
            return
        self._disarm_after_raise()
        raise self._exceeded(call)

    def _exceeded(self, call: _Call) -> DeadlineExceeded:
        return DeadlineExceeded(self.seconds, call.endpoint, call.operation, whole=self.whole)

    def _disarm(self) -> None:
        call, self._call = self._call, None
        if call is None:
            return
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, call.previous_handler or signal.SIG_DFL)
        took = time.monotonic() - call.started
        if call.previous_timer:  # theirs rings when it would have (at once if it is overdue)
            left = max(call.previous_timer - took, 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, call.previous_interval)
        if self.whole:
            self.spent += took

    def _disarm_after_raise(self) -> None:
        """The call ends with the exception about to be raised: no after-call hook may follow
        (botocore emits none for an exception raised by a hook), so end the watch here."""
        if _can_interrupt():
            self._depth = 0
            self._disarm()
        else:
            self._end()

    def close(self) -> None:
        """Stop any watch still running (the run is over)."""
        if _can_interrupt():
            self._depth = 0
            self._disarm()


# The call each worker thread is in (`_Call`), for the reads of its reply.
_WORKER = threading.local()


class _BoundedSocket:
    """A connection's socket as a reply is read from it on a worker thread: each read waits at
    most the time the thread's call has left, then raises the call's DeadlineExceeded (the main
    thread's timer raises the same). Only reading goes through here (http.client reads a reply
    through `makefile`); anything else is the socket's own."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._timeout = sock.gettimeout()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def makefile(self, mode: str = "rb", buffering: int | None = None, **_: Any) -> Any:
        self._sock._io_refs += 1  # type: ignore[attr-defined]  # as socket.makefile counts
        raw = socket.SocketIO(self, "rb")  # type: ignore[arg-type]  # it reads recv_into only
        return io.BufferedReader(raw, buffering or io.DEFAULT_BUFFER_SIZE)

    def settimeout(self, value: float | None) -> None:
        self._timeout = value
        self._sock.settimeout(value)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        call: _Call | None = getattr(_WORKER, "call", None)
        if call is None or call.deadline is None:
            return self._sock.recv_into(buffer, nbytes, flags)
        left = call.left()
        if left <= 0:
            raise call.deadline._exceeded(call)
        wait = left if self._timeout is None else min(left, self._timeout)
        self._sock.settimeout(wait)
        try:
            return self._sock.recv_into(buffer, nbytes, flags)
        except TimeoutError:
            if call.left() <= 0:
                raise call.deadline._exceeded(call) from None
            raise
        finally:
            self._sock.settimeout(self._timeout)


class _BoundedResponse(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(_BoundedSocket(sock), *args, **kwargs)  # type: ignore[arg-type]


@functools.cache
def _bounded_pools() -> dict[str, type]:
    """botocore's connection pools, whose connections read replies through `_BoundedSocket`
    (made on first use: botocore is imported only by commands that call AWS)."""
    from botocore.awsrequest import (
        AWSHTTPConnection,
        AWSHTTPConnectionPool,
        AWSHTTPSConnection,
        AWSHTTPSConnectionPool,
    )

    class BoundedHTTPConnection(AWSHTTPConnection):
        response_class = _BoundedResponse  # type: ignore[assignment]  # http.client's at run time

    class BoundedHTTPSConnection(AWSHTTPSConnection):
        response_class = _BoundedResponse  # type: ignore[assignment]  # http.client's at run time

    class BoundedHTTPConnectionPool(AWSHTTPConnectionPool):
        ConnectionCls = BoundedHTTPConnection

    class BoundedHTTPSConnectionPool(AWSHTTPSConnectionPool):
        ConnectionCls = BoundedHTTPSConnection

    return {"http": BoundedHTTPConnectionPool, "https": BoundedHTTPSConnectionPool}


def _bound_reads_of(client: BaseClient) -> None:
    """Make `client`'s connections read replies through `_BoundedSocket`. botocore has no
    setting for its connection classes: they are swapped on the client's HTTP session (before
    its first call, so no connection of the old kind exists). A botocore without these
    attributes leaves the client as it is: workers are then bounded between attempts only."""
    session = getattr(getattr(client, "_endpoint", None), "http_session", None)
    manager = getattr(session, "_manager", None)
    if session is None or manager is None or not hasattr(session, "_pool_classes_by_scheme"):
        return
    classes = _bounded_pools()
    session._pool_classes_by_scheme = classes
    manager.pool_classes_by_scheme = classes


def _can_interrupt() -> bool:
    """Whether a timer signal can interrupt this thread's calls: only the main thread gets
    Python's signal handlers, and only POSIX has interval timers."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
