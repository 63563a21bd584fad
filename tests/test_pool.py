"""The one bounded-pool helper (core/pool.py): bounded concurrency, per-item outcomes, and the
one way of stopping (first fatal error or Ctrl-C: nothing new starts, running work is given
a grace period and then abandoned, the error is raised again)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from envsecrets.core.pool import Channel, PoolStopped, WorkPool, chunked, run_all
from envsecrets.errors import CliError, ExitCode

GRACE = 0.05  # how long a stopped pool waits for running work here (the product waits 2 s)
WAIT = 30  # generous bound for events that must happen; a hang fails the test


class Boom(Exception):
    pass


class Recorder:
    """Work that records what started and how many ran at once; items listed in `block`
    wait for `gate`, items in `fail` raise."""

    def __init__(self, *, block: set[int] | None = None, fail: set[int] | None = None) -> None:
        self.lock = threading.Lock()
        self.started: list[int] = []
        self.running = 0
        self.peak = 0
        self.gate = threading.Event()
        self.block = block
        self.fail = fail or set()

    def __call__(self, item: int) -> int:
        with self.lock:
            self.started.append(item)
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            if item in self.fail:
                raise Boom(f"item {item}")
            if self.block is None or item in self.block:
                assert self.gate.wait(WAIT), "never released"
            return item * 10
        finally:
            with self.lock:
                self.running -= 1


def counted(n: int, pulled: list[int]) -> Iterator[int]:
    """0..n-1, noting each item as the pool takes it from the input."""
    for item in range(n):
        pulled.append(item)
        yield item


def join_pool_threads(name: str) -> None:
    """Wait for the abandoned threads of pool `name` to end (they were released first)."""
    for thread in threading.enumerate():
        if thread.name.startswith(f"{name}-"):
            thread.join(WAIT)
            assert not thread.is_alive(), thread.name


def test_at_most_workers_run_at_once_and_that_many_do() -> None:
    workers = 3
    barrier = threading.Barrier(workers, timeout=WAIT)
    lock = threading.Lock()
    running = peak = 0

    def work(item: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            barrier.wait()  # breaks (and fails the test) unless `workers` items run together
        finally:
            with lock:
                running -= 1
        return item

    outcomes = run_all(work, range(30), workers=workers)
    assert [done.result() for done in outcomes] == list(range(30))
    assert peak == workers


def test_outcomes_are_reported_per_item_when_errors_are_not_fatal() -> None:
    recorder = Recorder(block=set(), fail={1, 4, 7})
    outcomes = run_all(recorder, range(10), workers=4, fatal=lambda exc: not isinstance(exc, Boom))
    assert [done.item for done in outcomes] == list(range(10))  # run_all keeps input order
    assert [done.item for done in outcomes if done.error is not None] == [1, 4, 7]
    assert all(isinstance(done.error, Boom) for done in outcomes if done.error is not None)
    assert [done.value for done in outcomes if done.error is None] == [
        0, 20, 30, 50, 60, 80, 90,
    ]  # fmt: skip
    with pytest.raises(Boom):
        outcomes[1].result()


def test_a_fatal_error_stops_new_work_and_is_raised() -> None:
    recorder = Recorder(block={1}, fail={0})  # 0 fails at once while 1 is still running
    pulled: list[int] = []
    with pytest.raises(Boom), WorkPool(2, name="fatal", grace=GRACE) as pool:
        for _ in pool.each(recorder, counted(100, pulled), ahead=2):
            pass
    recorder.gate.set()  # release the running item only now: the pool did not wait for it
    join_pool_threads("fatal")
    # The input was not read beyond the `ahead` items already taken; nothing queued ran.
    assert pulled == [0, 1]
    assert set(recorder.started) <= {0, 1}


def test_keyboard_interrupt_in_the_caller_stops_the_pool_and_is_raised() -> None:
    recorder = Recorder(block=set(range(1, 100)))  # item 0 finishes, the others wait
    pulled: list[int] = []
    closed = threading.Event()

    def source() -> Iterator[int]:
        try:
            yield from counted(100, pulled)
        finally:
            closed.set()

    stream = source()  # held here too: only the pool's closing it can run its `finally`
    with pytest.raises(KeyboardInterrupt), WorkPool(2, name="ctrl-c", grace=GRACE) as pool:
        for done in pool.each(recorder, stream, ahead=2):
            assert done.item == 0
            raise KeyboardInterrupt
    # Running work was abandoned after the grace period (it is still blocked right now), so
    # the pool did not hang. Item 0 made room for one more, which the feeder may have taken
    # before the interrupt reached the pool (then it is running too, or was cancelled).
    with recorder.lock:
        assert recorder.running >= 1
        started = list(recorder.started)
    assert set(started) <= {0, 1, 2}
    recorder.gate.set()
    join_pool_threads("ctrl-c")
    assert recorder.started == started  # nothing that waited in the queue ever started
    assert closed.wait(WAIT), "the input stream was not closed"
    assert len(pulled) <= 3


def test_an_exception_in_the_caller_cancels_submitted_work() -> None:
    recorder = Recorder()
    with pytest.raises(KeyboardInterrupt), WorkPool(1, name="submitted", grace=GRACE) as pool:
        futures = [pool.submit(lambda n=n: recorder(n)) for n in range(5)]
        raise KeyboardInterrupt
    recorder.gate.set()
    join_pool_threads("submitted")
    assert recorder.started in ([], [0])  # the first may have started; the rest never did
    assert all(future.cancelled() for future in futures[1:])


def test_leaving_the_loop_early_stops_the_pool() -> None:
    recorder = Recorder(block=set(range(2, 50)))
    with WorkPool(2, name="early", grace=GRACE) as pool:
        for _ in pool.each(recorder, range(50)):
            break
        assert pool.stopping.is_set()
        with pytest.raises(PoolStopped):
            pool.submit(lambda: 1)
    recorder.gate.set()
    join_pool_threads("early")
    assert len(recorder.started) <= 4


def test_outcomes_arrive_while_the_input_is_still_being_read() -> None:
    """A stream that waits for the caller (as a listing waits for the network) does not hold
    back the outcomes of the items already taken."""
    first_done = threading.Event()

    def stream() -> Iterator[int]:
        yield 0
        assert first_done.wait(WAIT), "the first outcome never reached the caller"
        yield 1

    seen = []
    with WorkPool(2, name="stream") as pool:
        for done in pool.each(lambda n: n, stream()):
            seen.append(done.result())
            first_done.set()
    assert seen == [0, 1]


def test_an_error_in_the_input_stream_stops_the_pool_and_is_raised() -> None:
    def stream() -> Iterator[int]:
        yield 0
        yield 1
        raise CliError(ExitCode.UNAVAILABLE, "listing failed")

    with pytest.raises(CliError, match="listing failed"), WorkPool(2, grace=GRACE) as pool:
        for _ in pool.each(lambda n: n, stream()):
            pass


def test_leaving_normally_waits_for_submitted_work() -> None:
    release = threading.Event()
    finished = []

    def slow() -> None:
        assert release.wait(WAIT)
        finished.append(True)

    with WorkPool(1, name="normal") as pool:
        pool.submit(slow)
        release.set()
    assert finished == [True]


def test_channel_hands_items_over_and_the_producers_failure_to_the_consumer() -> None:
    channel: Channel[int] = Channel()
    channel.put(1)
    channel.put(2)
    channel.fail(Boom("producer"))
    received = []
    with pytest.raises(Boom):
        for item in channel:
            received.append(item)
    assert received == [1, 2]

    cancelled: Channel[int] = Channel()
    cancelled.cancel()
    with pytest.raises(PoolStopped):
        cancelled.put(1)
    assert list(cancelled) == []


def test_chunked_and_empty_inputs() -> None:
    assert list(chunked(iter(range(5)), 2)) == [[0, 1], [2, 3], [4]]
    assert list(chunked([], 3)) == []
    assert run_all(lambda n: n, [], workers=4) == []
