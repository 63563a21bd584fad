"""Client-side pacing at AWS's request quotas, applied to every attempt a client sends.

AWS throttles each API per account and region (DESIGN.md lists the quotas). Bulk work that
sends faster than a quota is throttled and retried, which wastes calls and time. A
`RateLimiter` set on an `AwsTarget` (`AwsTarget.limiter`) makes every client of that target
wait for a token before each attempt, retries included: the pacing hangs on botocore's
`before-sign` event, which fires once per attempt, so a retry of a 5xx or of a lost reply
takes its turn under the quota like the first attempt did. Waiting before signing keeps the
signature's timestamp fresh.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.client import BaseClient

# Calls per second per quota. A quota is named after the one operation it covers
# ("<endpoint prefix>.<Operation>") or, where AWS meters several operations together, after
# the bucket they share (SHARED_QUOTAS). From Secrets Manager's quota table ("Combined rate of
# PutSecretValue, RemoveRegionsFromReplication, ReplicateSecretToRegion, StopReplicationToReplica,
# UpdateSecret, and UpdateSecretVersionStage API requests: 50 per second", and so on) and SSM's.
# DescribeParameters has no published quota and is throttled hard, hence a low one.
AWS_QUOTAS: dict[str, float] = {
    "secretsmanager.CreateSecret": 50,
    "secretsmanager.writes": 50,  # PutSecretValue, UpdateSecret, labels and replication
    "secretsmanager.tags": 50,  # TagResource, UntagResource
    "secretsmanager.rotation": 50,  # RotateSecret, CancelRotateSecret
    "secretsmanager.resource-policy": 50,
    "secretsmanager.reads": 10_000,  # GetSecretValue, DescribeSecret
    "secretsmanager.DeleteSecret": 50,
    "secretsmanager.RestoreSecret": 50,
    "secretsmanager.ListSecrets": 100,
    "secretsmanager.ListSecretVersionIds": 50,
    "secretsmanager.BatchGetSecretValue": 100,
    "secretsmanager.GetRandomPassword": 50,
    "ssm.read": 40,
    "ssm.DescribeParameters": 10,
    "ssm.DeleteParameters": 5,
}
# Operations that share one quota: operation -> the quota's name in AWS_QUOTAS.
SHARED_QUOTAS: dict[str, str] = {
    **dict.fromkeys(
        (
            "secretsmanager.PutSecretValue",
            "secretsmanager.UpdateSecret",
            "secretsmanager.UpdateSecretVersionStage",
            "secretsmanager.ReplicateSecretToRegions",
            "secretsmanager.RemoveRegionsFromReplication",
            "secretsmanager.StopReplicationToReplica",
        ),
        "secretsmanager.writes",
    ),
    "secretsmanager.TagResource": "secretsmanager.tags",
    "secretsmanager.UntagResource": "secretsmanager.tags",
    "secretsmanager.RotateSecret": "secretsmanager.rotation",
    "secretsmanager.CancelRotateSecret": "secretsmanager.rotation",
    **dict.fromkeys(
        (
            "secretsmanager.DeleteResourcePolicy",
            "secretsmanager.GetResourcePolicy",
            "secretsmanager.PutResourcePolicy",
            "secretsmanager.ValidateResourcePolicy",
        ),
        "secretsmanager.resource-policy",
    ),
    "secretsmanager.GetSecretValue": "secretsmanager.reads",
    "secretsmanager.DescribeSecret": "secretsmanager.reads",
    "ssm.GetParameter": "ssm.read",
    "ssm.GetParameters": "ssm.read",
    "ssm.GetParametersByPath": "ssm.read",
}
# The quotas an account may have raised, which `--max-rate` sets (CreateSecret and the
# combined value-write bucket; tags follow so that they never become the bottleneck).
WRITE_QUOTAS = (
    "secretsmanager.CreateSecret",
    "secretsmanager.writes",
    "secretsmanager.tags",
)
DEFAULT_WRITE_RATE = 50.0


class RateLimiter:
    """Token buckets, one per quota, shared by every thread of a run.

    A caller that finds the bucket empty reserves the next token (the count goes negative) and
    sleeps until it is due, so waiting threads are served in order and the long-run rate never
    exceeds the quota. The bucket holds `burst_seconds` of calls. AWS meters its quotas with
    token buckets that refill at the quota and hold a burst; we use half a second's worth
    (the first 25 creates go out at once, which saves 0.3 s of a 1,000-secret migration) and
    leave the rest of AWS's bucket to absorb network jitter that bunches our calls: a call is
    throttled only if it arrives over half a second behind its turn.
    """

    def __init__(
        self,
        rates: Mapping[str, float] | None = None,
        *,
        burst_seconds: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rates = dict(AWS_QUOTAS if rates is None else rates)
        self._burst_seconds = burst_seconds
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._buckets: dict[str, list[float]] = {}  # quota -> [tokens, stamp]

    @classmethod
    def for_writes(cls, write_rate: float = DEFAULT_WRITE_RATE) -> RateLimiter:
        """AWS's default quotas, with Secrets Manager writes at `write_rate` per second (for
        accounts whose CreateSecret and combined PutSecretValue/UpdateSecret/... quotas
        were raised)."""
        return cls({**AWS_QUOTAS, **dict.fromkeys(WRITE_QUOTAS, write_rate)})

    def acquire(self, name: str) -> None:
        """Wait until one call of `name` is allowed; names without a quota pass at once.
        Operations that AWS meters together (SHARED_QUOTAS) draw from one bucket."""
        quota = quota_of(name)
        rate = self._rates.get(quota)
        if not rate:
            return
        capacity = max(1.0, rate * self._burst_seconds)
        with self._lock:
            now = self._clock()
            bucket = self._buckets.setdefault(quota, [capacity, now])
            bucket[0] = min(capacity, bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
            bucket[0] -= 1
            wait = -bucket[0] / rate if bucket[0] < 0 else 0.0
        if wait > 0:
            self._sleep(wait)


def quota_of(operation: str) -> str:
    """The name of the quota that `operation` ("secretsmanager.PutSecretValue") draws from."""
    return SHARED_QUOTAS.get(operation, operation)


def quota_floor(
    calls: Mapping[str, int], rates: Mapping[str, float] | None = None
) -> tuple[float, str | None]:
    """The least time AWS's quotas allow for `calls` (operation -> count): the busiest quota's
    calls over its rate, and that quota's name (None when no call has a quota). Calls of
    operations that share a quota add up: a rotation's PutSecretValue and its two
    UpdateSecretVersionStage calls are three calls of one 50/s bucket."""
    rates = AWS_QUOTAS if rates is None else rates
    per_quota: dict[str, int] = {}
    for operation, count in calls.items():
        quota = quota_of(operation)
        if rates.get(quota):
            per_quota[quota] = per_quota.get(quota, 0) + count
    if not per_quota:
        return 0.0, None
    busiest = max(per_quota, key=lambda quota: per_quota[quota] / rates[quota])
    return per_quota[busiest] / rates[busiest], busiest


def pace_client(client: BaseClient, limiter: Callable[[], RateLimiter | None]) -> None:
    """Make `client` wait for `limiter()` (looked up on each attempt; None: no pacing)
    before it signs and sends any attempt of any operation."""
    model = client.meta.service_model
    prefix = model.endpoint_prefix  # "secretsmanager", "ssm": the keys of AWS_QUOTAS

    def before_sign(operation_name: str = "", **_: Any) -> None:
        found = limiter()
        if found is not None:
            found.acquire(f"{prefix}.{operation_name}")

    client.meta.events.register(f"before-sign.{model.service_id.hyphenize()}", before_sign)
