"""AWS meters several operations together: PutSecretValue, UpdateSecret,
UpdateSecretVersionStage and the replication calls share one 50/s quota, TagResource and
UntagResource another. The client-side limiter (backends/quotas.py) and the fault proxy's
AWS quota mode (tests/faultproxy.py, written independently from AWS's table) both model the
shared buckets; the benches state their floors from them."""

from __future__ import annotations

import pytest

from tests.faultproxy import AWS_QUOTA_TABLE, FaultProxy, quota_floor

WRITES = (
    "PutSecretValue",
    "UpdateSecret",
    "UpdateSecretVersionStage",
    "ReplicateSecretToRegions",
    "RemoveRegionsFromReplication",
    "StopReplicationToReplica",
)


def fake_clock() -> tuple[list[float], object, object]:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    return now, (lambda: now[0]), sleep


def test_value_writes_label_moves_and_replication_share_one_bucket() -> None:
    """150 calls spread over the six operations take as long as 150 calls of one: a bulk
    rotation (one put and two label moves per secret) runs at 50/3 secrets a second."""
    from envsecrets.backends.quotas import RateLimiter

    now, clock, sleep = fake_clock()
    limiter = RateLimiter(clock=clock, sleep=sleep)  # type: ignore[arg-type]
    for n in range(150):
        limiter.acquire(f"secretsmanager.{WRITES[n % len(WRITES)]}")
    burst = 50 * 0.5
    assert now[0] >= (150 - burst) / 50 - 1e-9


def test_tag_and_untag_share_a_bucket_apart_from_value_writes() -> None:
    from envsecrets.backends.quotas import RateLimiter

    now, clock, sleep = fake_clock()
    limiter = RateLimiter(clock=clock, sleep=sleep)  # type: ignore[arg-type]
    for n in range(100):
        limiter.acquire(("secretsmanager.TagResource", "secretsmanager.UntagResource")[n % 2])
    assert now[0] >= (100 - 25) / 50 - 1e-9
    waited = now[0]
    for _ in range(20):  # within the writes bucket's burst: no wait for the tags' sake
        limiter.acquire("secretsmanager.PutSecretValue")
    assert now[0] == waited


def test_max_rate_raises_the_shared_write_bucket() -> None:
    from envsecrets.backends.quotas import RateLimiter, quota_of

    limiter = RateLimiter.for_writes(200)
    assert limiter._rates[quota_of("secretsmanager.PutSecretValue")] == 200
    assert limiter._rates[quota_of("secretsmanager.UpdateSecretVersionStage")] == 200
    assert limiter._rates["secretsmanager.CreateSecret"] == 200


def _quota_id(item: object) -> str:
    """A stable id (a frozenset's order changes from one process to the next: pytest-xdist's
    workers must collect the same ids)."""
    if isinstance(item, frozenset):
        return "+".join(sorted(action.split(".")[-1] for action in item))[:60]
    return str(item)


@pytest.mark.parametrize(("actions", "rate"), AWS_QUOTA_TABLE, ids=_quota_id)
def test_the_limiter_agrees_with_the_proxys_table(actions: frozenset[str], rate: float) -> None:
    """Every row of AWS's table: the limiter gives its operations one quota of that rate."""
    from envsecrets.backends.quotas import AWS_QUOTAS, quota_of

    quotas = {quota_of(action) for action in actions}
    assert len(quotas) == 1, f"{sorted(actions)} should share one quota, not {quotas}"
    assert AWS_QUOTAS[quotas.pop()] == rate


def test_the_proxy_throttles_the_shared_buckets_as_one() -> None:
    proxy = FaultProxy("http://127.0.0.1:9")
    proxy.aws_quotas()
    (put,) = proxy.buckets_of("secretsmanager.PutSecretValue")
    for operation in WRITES:
        assert proxy.buckets_of(f"secretsmanager.{operation}") == [put]
    (tag,) = proxy.buckets_of("secretsmanager.TagResource")
    assert proxy.buckets_of("secretsmanager.UntagResource") == [tag]
    assert tag is not put
    # The bucket empties for all of them: 50 label moves leave no room for a put.
    for _ in range(50):
        assert proxy.decide("secretsmanager.UpdateSecretVersionStage") == "forward"
    assert proxy.decide("secretsmanager.PutSecretValue") == "throttle"


def test_floors_add_up_the_calls_of_a_shared_bucket() -> None:
    """A bulk rotation of 200 secrets: 200 puts and 400 label moves at 50/s is 12 s, not the
    8 s that separate buckets would allow; the limiter's floor says the same."""
    from envsecrets.backends import quotas

    calls = {
        "secretsmanager.PutSecretValue": 200,
        "secretsmanager.UpdateSecretVersionStage": 400,
        "secretsmanager.TagResource": 200,
        "secretsmanager.DescribeSecret": 200,
        "secretsmanager.ListSecrets": 2,
    }
    floor, why = quota_floor(calls)
    assert floor == pytest.approx(12.0)
    assert "PutSecretValue + UpdateSecretVersionStage" in why
    assert quotas.quota_floor(calls) == (pytest.approx(12.0), "secretsmanager.writes")
    assert quota_floor({"secretsmanager.CreateSecret": 1000}) == (20.0, "1000 CreateSecret at 50/s")
