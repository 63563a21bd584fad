"""What AWS's dates mean: a value's age is its AWSCURRENT version's CreatedDate (not
LastChangedDate, which any tag moves); LastAccessedDate is a date, per region; listings lag.

moto dates every secret "now", keeps no LastAccessedDate, dates every version "now" in
ListSecretVersionIds, and its listings never lag. The fault proxy answers those calls with
the dates AWS would give instead (scripted replies in AWS's shapes).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.test_rotate import holder, make, stages

DAY = 86_400
LIST = "secretsmanager.ListSecrets"
VERSIONS = "secretsmanager.ListSecretVersionIds"
BATCH = "secretsmanager.BatchGetSecretValue"
DESCRIBE = "secretsmanager.DescribeSecret"


def listed(run: Any) -> list[str]:
    assert run.code == 0, run.stderr
    return sorted(row["name"] for row in run.json())


def versions_reply(version: str, created: float) -> bytes:
    return json.dumps(
        {
            "Versions": [
                {"VersionId": version, "VersionStages": ["AWSCURRENT"], "CreatedDate": created}
            ]
        }
    ).encode()


def midnight(days_ago: int) -> float:
    """A LastAccessedDate as AWS gives it: a day, at midnight UTC."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (today - timedelta(days=days_ago)).timestamp()


# -- list --stale: the value's age ------------------------------------------------------------


def test_a_retagged_old_value_is_stale(cli, sm, proxy) -> None:
    """The value was written 400 days ago; a tag put yesterday moved LastChangedDate."""
    version = make(sm, "dev/api/key", "old-value")
    sm.tag_resource(SecretId="dev/api/key", Tags=[{"Key": "owner", "Value": "payments"}])
    proxy.answer(VERSIONS, versions_reply(version, time.time() - 400 * DAY))
    proxy.reset_counts()
    assert listed(cli("list", "dev/", "--stale", "365", "--json")) == ["dev/api/key"]
    # Dates only: listing stale secrets reads no value (and so marks none as accessed).
    assert proxy.count("secretsmanager.GetSecretValue") == proxy.count(BATCH) == 0
    assert proxy.calls[VERSIONS] == 1


def test_a_fresh_value_is_not_stale_and_an_old_listing_date_settles_it_for_free(
    cli, sm, proxy
) -> None:
    make(sm, "dev/new", "v")
    make(sm, "dev/old", "v")
    old = time.time() - 400 * DAY
    proxy.answer(
        LIST,
        json.dumps(
            {
                "SecretList": [
                    {"Name": "dev/new", "LastChangedDate": time.time()},
                    {"Name": "dev/old", "LastChangedDate": old},
                ]
            }
        ).encode(),
    )
    proxy.reset_counts()
    # dev/new: moto dates its version now (fresh); dev/old: a value cannot be newer than the
    # last change of any kind, so its listing date proves it old without another call.
    assert listed(cli("list", "dev/", "--stale", "30", "--json")) == ["dev/old"]
    assert proxy.calls[VERSIONS] == 1


# -- list --unused: whole days, every region ----------------------------------------------------


def test_read_yesterday_is_not_unused_for_one_day(cli, sm, proxy) -> None:
    """LastAccessedDate says only the day: read yesterday may be an hour ago."""
    make(sm, "dev/a", "v")
    entry = {"Name": "dev/a", "LastChangedDate": time.time(), "LastAccessedDate": midnight(1)}
    proxy.answer(LIST, json.dumps({"SecretList": [entry]}).encode())
    assert listed(cli("list", "dev/", "--unused", "1", "--json")) == []
    assert listed(cli("list", "dev/", "--unused", "0", "--json")) == ["dev/a"]
    entry["LastAccessedDate"] = midnight(2)
    proxy.answer(LIST, json.dumps({"SecretList": [entry]}).encode())
    assert listed(cli("list", "dev/", "--unused", "1", "--json")) == ["dev/a"]


def test_a_secret_read_from_a_replica_is_not_unused(cli, sm, proxy) -> None:
    """The primary region has not seen a read for a year; the replica did yesterday."""
    make(sm, "dev/a", "v")
    make(sm, "dev/b", "v")
    # dev/a only: one canned DescribeSecret answer is dev/a's (the reply checks refuse a
    # reply about dev/a to a request about dev/b).
    listing = [{"Name": "dev/a", "LastChangedDate": time.time(), "LastAccessedDate": midnight(365)}]
    proxy.answer(LIST, json.dumps({"SecretList": listing}).encode())
    described = {
        "ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:dev/a-AbCdEf",
        "Name": "dev/a",
        "LastAccessedDate": midnight(365),
        "ReplicationStatus": [
            {"Region": "us-west-2", "Status": "InSync", "LastAccessedDate": midnight(1)},
            {"Region": "eu-west-1", "Status": "InSync", "LastAccessedDate": midnight(40)},
        ],
    }
    proxy.answer(DESCRIBE, json.dumps(described).encode())
    rows = cli("list", "dev/", "--unused", "30", "--json").json()
    # dev/a is described; the answer shows a read yesterday in us-west-2.
    assert rows == []
    proxy.canned.clear()
    proxy.answer(LIST, json.dumps({"SecretList": listing}).encode())
    described["ReplicationStatus"][0]["LastAccessedDate"] = midnight(60)
    proxy.answer(DESCRIBE, json.dumps(described).encode())
    rows = cli("list", "dev/", "--unused", "30", "--json").json()
    # Unused everywhere; the date shown is the latest across regions (eu-west-1's).
    assert [(row["name"], row["last_accessed"][:10]) for row in rows] == [
        ("dev/a", datetime.fromtimestamp(midnight(40), UTC).date().isoformat()),
    ]


# -- rotate --older-than: value age, listings that lag, a re-check before each rotation --------


def test_bulk_rotation_rotates_an_old_value_that_was_retagged(cli, sm, proxy) -> None:
    version = make(sm, "dev/api/key", "old-value")
    sm.tag_resource(SecretId="dev/api/key", Tags=[{"Key": "owner", "Value": "payments"}])
    written = time.time() - 400 * DAY
    proxy.answer(VERSIONS, versions_reply(version, written))
    batch = {
        "SecretValues": [
            {
                "ARN": sm.describe_secret(SecretId="dev/api/key")["ARN"],
                "Name": "dev/api/key",
                "VersionId": version,
                "SecretString": "old-value",
                "VersionStages": ["AWSCURRENT"],
                "CreatedDate": written,
            }
        ],
        "Errors": [],
    }
    proxy.answer(BATCH, json.dumps(batch).encode())
    run = cli("rotate", "--env", "dev", "--older-than", "90", "--generate", "--yes", "--json")
    assert run.code == 0, run.stderr
    assert [row["name"] for row in run.json()["rotated"]] == ["dev/api/key"]
    assert holder(sm, "dev/api/key", "AWSPREVIOUS") == version


def test_a_listing_that_lags_does_not_rotate_a_fresh_value_again(cli, sm, proxy) -> None:
    """A re-run a minute after a rotation: ListSecrets (eventually consistent) still shows
    the old LastChangedDate; the value read says when it was written, and wins."""
    first = make(sm, "dev/api/key", "v1")
    done = cli("rotate", "dev/api/key", "--generate", "--yes")
    assert done.code == 0, done.stderr
    rotated = holder(sm, "dev/api/key", "AWSCURRENT")
    stale = {
        "Name": "dev/api/key",
        "LastChangedDate": time.time() - 400 * DAY,
        "SecretVersionsToStages": {first: ["AWSCURRENT"]},
    }
    proxy.answer(LIST, json.dumps({"SecretList": [stale]}).encode())
    run = cli("rotate", "--env", "dev", "--older-than", "90", "--generate", "--yes", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["rotated"] == []
    # The original value is still one step back, not pushed out by a second rotation.
    assert stages(sm, "dev/api/key") == {rotated: ["AWSCURRENT"], first: ["AWSPREVIOUS"]}


def test_a_value_written_after_the_plan_is_not_rotated_again(sm) -> None:
    """Between the plan (and its confirmation) and a secret's turn, someone rotates it: the
    secret is looked at again right before its rotation and left alone."""
    from envsecrets.backends.aws import AwsTarget
    from envsecrets.backends.secretsmanager import SecretsManagerStore
    from envsecrets.core.passwords import PasswordRules
    from envsecrets.core.rotation_bulk import plan_bulk, rotate_many

    make(sm, "dev/a", "old-a")
    make(sm, "dev/b", "old-b")
    store = SecretsManagerStore(AwsTarget(label="dev"), bulk=True)
    # Planned as if a day had passed: the limit ("written before") is a moment from now.
    soon = datetime.now(UTC) + timedelta(days=1, seconds=1)
    items = plan_bulk(store, "dev/", older_than_days=1, now=soon)
    assert [item.name for item in items if item.skip is None] == ["dev/a", "dev/b"]
    time.sleep(2.1)  # moto dates versions to the whole second: step past the limit
    put = sm.put_secret_value(SecretId="dev/b", SecretString="set-by-someone-else")
    report = rotate_many(store, items, rules=PasswordRules(), actor="test", workers=2)
    assert [outcome.name for outcome in report.rotated] == ["dev/a"]
    assert [item.name for item in report.skipped] == ["dev/b"]
    assert "changed since the plan" in str(report.skipped[0].skip)
    assert holder(sm, "dev/b", "AWSCURRENT") == put["VersionId"]


# -- listings that lag: copy, then diff ----------------------------------------------------------


def test_diff_right_after_copy_says_listings_may_lag(cli, sm, aws_env) -> None:
    from tests.conftest import write_config

    write_config(aws_env, "[environments.staging]\n[environments.dev]\n")
    make(sm, "staging/api/key", "v")
    copied = cli("copy", "staging/api/", "dev/api/", "--yes")
    assert copied.code == 0, copied.stderr
    assert "eventually consistent" in copied.stderr
    run = cli("diff", "staging", "dev", "--json")
    assert run.code == 0, run.stderr
    assert "eventually consistent" in run.stderr


def test_a_diff_of_settled_secrets_says_nothing_about_lag(cli, sm, proxy, aws_env) -> None:
    from tests.conftest import write_config

    write_config(aws_env, "[environments.staging]\n[environments.dev]\n")
    make(sm, "staging/api/key", "v")
    make(sm, "dev/api/key", "v")
    old = time.time() - 30 * DAY
    listing = [
        {"Name": name, "LastChangedDate": old, "CreatedDate": old}
        for name in ("staging/api/key", "dev/api/key")
    ]
    proxy.answer(LIST, json.dumps({"SecretList": listing}).encode())
    run = cli("diff", "staging", "dev")
    assert run.code == 0, run.stderr
    assert "eventually consistent" not in run.stderr


def test_the_date_checks_of_list_stale_are_paced(cli, sm, monkeypatch) -> None:
    """ListSecretVersionIds is 50/s: the checks run side by side, each waiting its turn."""
    from collections import Counter

    from envsecrets.backends import quotas

    asked: Counter[str] = Counter()
    acquire = quotas.RateLimiter.acquire

    def counting(self: Any, name: str) -> None:
        asked[name] += 1
        acquire(self, name)

    monkeypatch.setattr(quotas.RateLimiter, "acquire", counting)
    for n in range(3):
        make(sm, f"dev/k{n}", "v")
    assert listed(cli("list", "dev/", "--stale", "30", "--json")) == []
    assert asked[VERSIONS] == 3
