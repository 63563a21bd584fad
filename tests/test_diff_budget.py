"""The API-call budget of `diff`: ListSecrets pages of 100 and BatchGetSecretValue calls of 20
per side, and never one GetSecretValue per secret. Counted by the fault proxy."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import write_config

N = 300

pytestmark = pytest.mark.slow


def _create_many(sm, env: str, n: int, differ_every: int = 0) -> None:
    def create(i: int) -> None:
        value = f"value-{i}" + (f"-{env}" if differ_every and i % differ_every == 0 else "")
        sm.create_secret(Name=f"{env}/svc/key-{i:04d}", SecretString=value)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(n)))


def test_diff_300_vs_300_stays_in_budget(cli, aws_env, sm, proxy) -> None:
    write_config(
        aws_env,
        """
[environments.staging]
region = "us-east-1"

[environments.prod]
region = "us-east-1"
""",
    )
    # Set up with boto3 straight to the emulator (sm was made before the proxy took over).
    _create_many(sm, "staging", N)
    _create_many(sm, "prod", N, differ_every=10)
    proxy.reset_counts()

    run = cli("diff", "staging", "prod", "--json")

    assert run.code == 1, run.stderr
    counts = run.json()["counts"]
    assert counts["same"] == N - N // 10
    assert counts["differs"] == N // 10
    pages = math.ceil(N / 100)
    batches = math.ceil(N / 20)
    assert proxy.calls["secretsmanager.ListSecrets"] <= 2 * pages
    assert proxy.calls["secretsmanager.BatchGetSecretValue"] <= 2 * batches
    assert proxy.calls["secretsmanager.GetSecretValue"] == 0
    assert proxy.calls["secretsmanager.DescribeSecret"] == 0
    assert proxy.writes() == 0


def test_each_side_reads_only_its_own_share(cli, aws_env, sm, proxy) -> None:
    """With 300 in A and 40 in B, B costs one page and two batches, A three and fifteen."""
    write_config(aws_env, "[environments.a]\n[environments.b]\n")
    _create_many(sm, "a", N)
    _create_many(sm, "b", 40)
    proxy.reset_counts()
    run = cli("diff", "a", "b", "--json")
    assert run.code == 1
    assert run.json()["counts"]["only_in_a"] == N - 40
    assert proxy.calls["secretsmanager.ListSecrets"] <= math.ceil(N / 100) + 1
    assert proxy.calls["secretsmanager.BatchGetSecretValue"] <= math.ceil(N / 20) + 2
    assert proxy.calls["secretsmanager.GetSecretValue"] == 0


def test_diff_under_faults_gives_the_same_answer(cli, aws_env, sm, proxy) -> None:
    """Throttled at AWS's quotas (and tighter for BatchGetSecretValue), with 5xx answers and
    dropped connections: the bulk client's retries absorb them and the result is the same."""
    write_config(aws_env, "[environments.a]\n[environments.b]\n")
    _create_many(sm, "a", 120)
    _create_many(sm, "b", 100, differ_every=7)
    calm = cli("diff", "a", "b", "--json")
    assert calm.code == 1
    proxy.aws_quotas()
    proxy.throttle("secretsmanager.BatchGetSecretValue", 4)
    proxy.faults.error_rate = 0.1
    proxy.faults.drop_rate = 0.05
    # The random faults may miss a short run; these happen whatever the machine's load.
    proxy.script("secretsmanager.BatchGetSecretValue", "throttle", "error", "drop")
    proxy.reset_counts()
    stormy = cli("diff", "a", "b", "--json")
    assert stormy.code == 1, stormy.stderr
    assert stormy.json() == calm.json()
    assert proxy.throttled["secretsmanager.BatchGetSecretValue"] >= 1
    assert proxy.injected["error secretsmanager.BatchGetSecretValue"] >= 1
    assert proxy.injected["drop secretsmanager.BatchGetSecretValue"] >= 1
