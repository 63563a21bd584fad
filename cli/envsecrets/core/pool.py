"""Running work on a bounded pool of threads, with one way of stopping.

Everything that makes AWS calls side by side (the store's batch reads, diff's describes, copy's
writes, a migration's writes and read-backs, the ECS audit) runs on `WorkPool`, so that every
bulk command stops the same way:

- At most `workers` items run at once. `WorkPool.each` reads its input lazily, at most `ahead`
  items beyond those it has handed back, so the input may be a stream that is still being
  listed (a migration writes while Parameter Store is still being read).
- Each item's outcome is reported on its own (`Done`: the result, or the error). An error is
  *fatal* unless the caller's `fatal` says it belongs to the item alone (a conflict on one
  secret must not stop the others; an unreadable environment must stop a diff).
- The first fatal error, or any exception in the caller (Ctrl-C's KeyboardInterrupt above all),
  stops the pool: (1) nothing new starts: queued items are cancelled and the input is no longer
  read; (2) work already running gets `STOP_GRACE` seconds to finish and is then abandoned;
  (3) the error is raised again in the caller.

Abandoning is deliberate. A running AWS call cannot be interrupted, and one stuck in a network
timeout may retry for minutes; waiting for it would turn Ctrl-C into a hang. Workers are daemon
threads, so an abandoned call cannot keep the process alive, and every write this tool makes
is idempotent (ClientRequestTokens derived from name and value), so a re-run settles whatever
an abandoned write did or did not do. `concurrent.futures.ThreadPoolExecutor` is not used for
this reason: its workers are joined at interpreter exit, whatever `shutdown()` was told. Its
`Future` is used as it is.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Generic, TypeVar, cast

T = TypeVar("T")
R = TypeVar("R")

STOP_GRACE = 2.0  # seconds running work may take to finish once the pool stops


def every_error(error: BaseException) -> bool:
    """The default `fatal`: any error stops the pool."""
    return True


@dataclass(frozen=True)
class Done(Generic[T, R]):
    """One item's outcome: `value` when its work returned, `error` when it raised."""

    item: T
    value: R | None = None
    error: Exception | None = None

    def result(self) -> R:
        """The value, or the error raised again."""
        if self.error is not None:
            raise self.error
        return cast(R, self.value)


@dataclass(frozen=True)
class _Job:
    future: Future[object]
    work: Callable[[], object]


@dataclass(frozen=True)
class _Fed:
    """What a feeder reports when the input ends: how many items it submitted, or the error
    the input raised."""

    count: int
    error: BaseException | None = None


class PoolStopped(RuntimeError):
    """Work was submitted to a pool that has stopped or closed."""


class WorkPool:
    """A bounded pool of daemon threads; use it as a context manager.

    `grace` is how long running work may take once the pool stops; None waits for it (for
    work that must not be abandoned half done and that sees the stop itself, as a rotation's
    verification does: the signal that stopped the pool reaches it too).

    Leaving the `with` block normally waits for every submitted item; leaving it with an
    exception stops the pool (see the module's docstring) and lets the exception go on.
    """

    def __init__(
        self, workers: int, *, name: str = "work", grace: float | None = STOP_GRACE
    ) -> None:
        self.workers = max(1, workers)
        self.name = name
        self.grace = grace
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False
        self.stopping = threading.Event()  # set once the pool stops: cooperative work may look
        self._rooms: list[threading.Semaphore] = []  # feeders' look-ahead, released on stop

    def __enter__(self) -> WorkPool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is not None or self.stopping.is_set():  # stopped: running work had its grace
            self.stop()
            return
        try:
            self._close()
        except BaseException:
            self.stop()
            raise

    # -- submitting -------------------------------------------------------------------------
    def submit(self, work: Callable[[], R]) -> Future[R]:
        """Run `work` on the pool; its future holds the result or the error."""
        future: Future[R] = Future()
        with self._lock:
            if self._closed or self.stopping.is_set():
                raise PoolStopped(f"{self.name}: the pool has stopped")
            self._jobs.put(_Job(cast("Future[object]", future), work))
            if len(self._threads) < self.workers:
                thread = threading.Thread(
                    target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if not job.future.set_running_or_notify_cancel():
                continue  # cancelled while queued
            try:
                result = job.work()
            except BaseException as exc:  # reported to whoever waits for the future
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)

    def each(
        self,
        work: Callable[[T], R],
        items: Iterable[T],
        *,
        fatal: Callable[[Exception], bool] = every_error,
        ahead: int | None = None,
    ) -> Iterator[Done[T, R]]:
        """Run `work` on every item; yield each outcome as it finishes (in no set order).

        `items` is read by a feeder thread, at most `ahead` (default: twice the workers)
        items beyond those already handed back, so a slow or endless stream is read as the
        pool makes room, and the caller receives outcomes while the input is still being
        read. An error that `fatal` accepts, an error while reading `items`, or the caller
        leaving the loop early, stops the pool.
        """
        room = threading.Semaphore(ahead or 2 * self.workers)
        with self._lock:
            self._rooms.append(room)
        finished: queue.SimpleQueue[tuple[T, Future[R]] | _Fed] = queue.SimpleQueue()
        feeder = threading.Thread(
            target=self._feed,
            args=(work, items, room, finished),
            name=f"{self.name}-feed",
            daemon=True,
        )
        feeder.start()
        try:
            yield from self._collect(finished, room, fatal)
        except BaseException:
            self.stop()
            raise

    def _feed(
        self,
        work: Callable[[T], R],
        items: Iterable[T],
        room: threading.Semaphore,
        finished: queue.SimpleQueue[tuple[T, Future[R]] | _Fed],
    ) -> None:
        """Submit the items one by one as room frees; report the count (or the input's error)."""
        source = iter(items)
        count = 0
        try:
            while True:
                room.acquire()
                if self.stopping.is_set():
                    break
                try:
                    item = next(source)
                except StopIteration:
                    break
                future = self.submit(partial(work, item))
                future.add_done_callback(partial(_report, finished, item))
                count += 1
        except PoolStopped:
            pass
        except BaseException as exc:  # the input failed: the caller raises it
            finished.put(_Fed(count, exc))
            return
        finally:
            close = getattr(source, "close", None)
            if close is not None:  # a generator: let it clean up (its own pools stop)
                close()
        finished.put(_Fed(count))

    @staticmethod
    def _collect(
        finished: queue.SimpleQueue[tuple[T, Future[R]] | _Fed],
        room: threading.Semaphore,
        fatal: Callable[[Exception], bool],
    ) -> Iterator[Done[T, R]]:
        submitted: int | None = None
        received = 0
        while submitted is None or received < submitted:
            entry = finished.get()
            if isinstance(entry, _Fed):
                if entry.error is not None:
                    raise entry.error
                submitted = entry.count
                continue
            item, future = entry
            received += 1
            error = future.exception()
            if error is not None and (not isinstance(error, Exception) or fatal(error)):
                raise error  # before making room: the input is not read any further
            room.release()
            yield Done(item, future.result()) if error is None else Done(item, error=error)

    # -- stopping ---------------------------------------------------------------------------
    def stop(self) -> None:
        """Start nothing more, cancel what waits, give running work `grace` seconds (or
        wait for it when `grace` is None)."""
        with self._lock:
            first = not self.stopping.is_set()
            self.stopping.set()
            threads = list(self._threads)
            rooms = list(self._rooms)
        if not first:
            return
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.future.cancel()
        for room in rooms:
            room.release(len(threads) + 1)  # wake a feeder waiting for room: it sees `stopping`
        self._join(threads, deadline=None if self.grace is None else time.monotonic() + self.grace)

    def _close(self) -> None:
        """Wait for everything submitted, then let the workers go."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        self._join(threads, deadline=None)

    def _join(self, threads: list[threading.Thread], *, deadline: float | None) -> None:
        for _ in threads:
            self._jobs.put(None)
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))


def _report(
    finished: queue.SimpleQueue[tuple[T, Future[R]] | _Fed], item: T, future: Future[R]
) -> None:
    finished.put((item, future))


def run_all(
    work: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int,
    name: str = "work",
    fatal: Callable[[Exception], bool] = every_error,
) -> list[Done[T, R]]:
    """`work` on every item, at most `workers` at once; the outcomes in the items' order."""
    indexed = list(enumerate(items))
    if not indexed:
        return []
    outcomes: dict[int, Done[T, R]] = {}

    def one(pair: tuple[int, T]) -> R:
        return work(pair[1])

    with WorkPool(min(workers, len(indexed)), name=name) as pool:
        for done in pool.each(one, indexed, fatal=fatal):
            index, item = done.item
            outcomes[index] = Done(item, done.value, done.error)
    return [outcomes[index] for index in range(len(indexed))]


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of at most `size`, read lazily (a list is handed on when full)."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class Channel(Generic[T]):
    """A stream between threads: a producer puts and then closes (or fails); a consumer
    iterates until the end, and may cancel, after which the producer's `put` raises."""

    _END = object()

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._cancelled = threading.Event()

    def put(self, item: T) -> None:
        if self._cancelled.is_set():
            raise PoolStopped("the consumer has stopped")
        self._queue.put(item)

    def close(self) -> None:
        """The producer is done."""
        self._queue.put(self._END)

    def fail(self, error: BaseException) -> None:
        """The producer failed: the consumer raises `error`."""
        self._queue.put(_Failure(error))

    def cancel(self) -> None:
        """The consumer stops listening: the producer's next `put` raises PoolStopped."""
        self._cancelled.set()
        self._queue.put(self._END)  # wake a consumer thread still waiting (a feeder)

    def __iter__(self) -> Iterator[T]:
        while True:
            entry = self._queue.get()
            if entry is self._END:
                return
            if isinstance(entry, _Failure):
                raise entry.error
            yield cast(T, entry)


@dataclass(frozen=True)
class _Failure:
    error: BaseException
