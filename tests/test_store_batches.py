"""Batching belongs to the store: `SecretsManagerStore.read_many` / `read_each` are the only
code that knows BatchGetSecretValue's 20 names a call, and they run their calls side by side
on the store's pool. Calls are counted (and ordered) at the fault proxy."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

BATCH = "secretsmanager.BatchGetSecretValue"


def make_store(pool: int = 8) -> Any:
    from envsecrets.backends.aws import AwsTarget
    from envsecrets.backends.secretsmanager import SecretsManagerStore

    return SecretsManagerStore(AwsTarget(label="dev"), bulk=True, pool=pool)


def create(sm: Any, names: list[str]) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: sm.create_secret(Name=n, SecretString=f"value of {n}"), names))


def test_read_many_makes_one_call_per_20_names_and_keeps_errors_per_name(sm, proxy) -> None:
    names = [f"dev/batch/s{n:02d}" for n in range(45)]
    create(sm, names[:40])
    proxy.reset_counts()
    read = make_store().read_many(names)
    assert proxy.calls[BATCH] == 3
    assert sorted(read.values) == names[:40]
    assert read.values["dev/batch/s07"].value.text() == "value of dev/batch/s07"
    assert set(read.errors) == set(names[40:])  # absent: reported per name, not raised
    proxy.reset_counts()
    assert make_store().read_many([]).values == {}
    assert proxy.calls[BATCH] == 0


def test_read_each_reads_a_stream_as_it_comes(sm, proxy) -> None:
    """Names from a generator that waits for the first batch's answer before producing the
    rest: the store must call for each 20 as soon as it has them, not after the stream ends."""
    names = [f"dev/stream/s{n:02d}" for n in range(50)]
    create(sm, names)
    first_answered = threading.Event()

    def stream() -> Iterator[str]:
        yield from names[:20]
        assert first_answered.wait(30), "the first 20 names were never read"
        yield from names[20:]

    proxy.reset_counts()
    covered: list[str] = []
    for batch in make_store().read_each(stream()):
        covered += [*batch.values, *batch.errors]
        first_answered.set()
    assert sorted(covered) == names  # every name in exactly one batch
    assert proxy.calls[BATCH] == 3


@pytest.mark.parametrize("pool", [1, 4])
def test_calls_run_side_by_side_up_to_the_pool_given_at_construction(sm, proxy, pool) -> None:
    """The first call is held until a second one has arrived: only a store that runs its
    calls side by side gets past it (with a pool of 1 the hold times out once)."""
    names = [f"dev/side/s{n:03d}" for n in range(80)]
    create(sm, names)
    proxy.hold(BATCH, after=0, until=BATCH, count=2, timeout=1 if pool == 1 else 30)
    read = make_store(pool=pool).read_many(names)
    assert len(read.values) == 80
    assert proxy.calls[BATCH] == 4
    assert proxy.hold_timeouts[BATCH] == (1 if pool == 1 else 0)


def test_a_call_that_fails_as_a_whole_stops_the_reads_and_is_raised(sm, proxy) -> None:
    from envsecrets.errors import CliError, ExitCode

    names = [f"dev/deny/s{n:03d}" for n in range(200)]
    # Credentials AWS does not recognise: the call fails as a whole. (AccessDeniedException on
    # the call itself means the batch permission alone is missing: reads then go one secret
    # at a time, tests/test_batch_denied.py.)
    proxy.script(BATCH, "fail:UnrecognizedClientException")
    with pytest.raises(CliError) as caught:
        make_store(pool=1).read_many(names)
    assert caught.value.code == ExitCode.AUTH
    assert proxy.calls[BATCH] <= 3  # the first failed; no more than the look-ahead followed
