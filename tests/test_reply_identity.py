"""A Secrets Manager reply is about the secret asked for (findings item 3 and "smaller").

AWS answers DescribeSecret, GetSecretValue, DeleteSecret... with the `Name` and `ARN` of the
secret the request named; BatchGetSecretValue with the secrets of its SecretIdList only; a value
is at most 65,536 bytes; DeleteSecret without ForceDeleteWithoutRecovery says when the deletion
will happen (`DeletionDate`). A reply that breaks one of these (a lying or misrouted endpoint) is
an AWS-side failure, exit 6 (backends/replies.py), never "ok", a printed value or "scheduled for
deletion on -". And `check` wants a current value: a secret made by CreateSecret without one
(Terraform's aws_secretsmanager_secret without a _version) is "without a value", exit 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from envsecrets.backends.replies import secret_reply_problems

from tests.conftest import write_config

CONFIG = """
[environments.dev]
region = "us-east-1"

[environments.staging]
region = "us-east-1"

[functions.api]
secrets = ["api/key", "db/password"]
"""
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:{}-AbCdEf"
CANARY = "s3cr3t-canary-identity"


@pytest.fixture
def workdir(aws_env: Path) -> Path:
    write_config(aws_env, CONFIG)
    return aws_env


def reply(**members: Any) -> bytes:
    return json.dumps(members).encode()


def assert_exit_6(run: Any, says: str) -> None:
    assert run.code == 6, (run.code, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    assert says in run.stderr, run.stderr
    assert CANARY not in run.stdout + run.stderr
    assert " ok" not in run.stdout


def test_a_secret_without_a_current_value_is_not_ok(cli: Any, workdir: Path, sm: Any) -> None:
    sm.create_secret(Name="dev/api/key")  # no value: no version at all
    sm.create_secret(Name="dev/db/password", SecretString="v")
    run = cli("check", "dev", "--json")
    assert run.code == 1, run.stderr
    statuses = {item["key"]: item["status"] for item in run.json()["secrets"]}
    assert statuses == {"api/key": "no_value", "db/password": "ok"}
    assert run.json()["counts"]["no_value"] == 1
    text = cli("check", "dev")
    assert text.code == 1
    assert "dev/api/key\tno value" in text.stdout
    assert "1 without a value" in text.stdout + text.stderr
    assert "gives a value to one that has none" in text.stderr


def test_check_does_not_trust_a_describe_about_another_secret(
    cli: Any, workdir: Path, proxy: Any
) -> None:
    proxy.answer(
        "secretsmanager.DescribeSecret", reply(ARN=ARN.format("unrelated"), Name="unrelated")
    )
    run = cli("check", "dev")
    assert_exit_6(run, "is about another secret than the one asked for (Name)")


def test_get_does_not_print_a_value_of_another_secret(cli: Any, workdir: Path, proxy: Any) -> None:
    proxy.answer(
        "secretsmanager.GetSecretValue",
        reply(
            ARN=ARN.format("dev/other"), Name="dev/other", VersionId="v" * 32, SecretString=CANARY
        ),
    )
    assert_exit_6(cli("get", "dev/api/key"), "is about another secret than the one asked for")


def test_get_does_not_print_a_value_larger_than_aws_holds(
    cli: Any, workdir: Path, proxy: Any
) -> None:
    proxy.answer(
        "secretsmanager.GetSecretValue",
        reply(
            ARN=ARN.format("dev/api/key"),
            Name="dev/api/key",
            VersionId="v" * 32,
            SecretString=CANARY + "x" * 65_536,
        ),
    )
    assert_exit_6(cli("get", "dev/api/key"), "holds a value over 65,536 bytes")


def test_delete_needs_a_deletion_date_from_aws(
    cli: Any, workdir: Path, sm: Any, proxy: Any
) -> None:
    sm.create_secret(Name="dev/api/key", SecretString="v")
    proxy.answer(
        "secretsmanager.DeleteSecret", reply(ARN=ARN.format("dev/api/key"), Name="dev/api/key")
    )
    run = cli("delete", "dev/api/key", "--yes")
    assert_exit_6(run, "lacks DeletionDate")
    assert "scheduled for deletion on -" not in run.stdout + run.stderr


def test_delete_does_not_trust_a_reply_about_another_secret(
    cli: Any, workdir: Path, sm: Any, proxy: Any
) -> None:
    sm.create_secret(Name="dev/api/key", SecretString="v")
    proxy.answer(
        "secretsmanager.DeleteSecret",
        reply(ARN=ARN.format("unrelated"), Name="unrelated", DeletionDate=1_900_000_000),
    )
    assert_exit_6(cli("delete", "dev/api/key", "--yes"), "is about another secret")


def test_a_batch_read_that_returns_a_secret_not_asked_for_is_exit_6(
    cli: Any, workdir: Path, sm: Any, proxy: Any
) -> None:
    for env in ("dev", "staging"):
        sm.create_secret(Name=f"{env}/api/key", SecretString="v")
    entry = {"ARN": ARN.format("prod/x"), "Name": "prod/x", "VersionId": "v" * 32}
    proxy.answer(
        "secretsmanager.BatchGetSecretValue",
        reply(SecretValues=[dict(entry, SecretString=CANARY)], Errors=[]),
    )
    assert_exit_6(cli("diff", "dev", "staging"), "returns a secret it was not asked for")


@pytest.mark.parametrize(
    ("secret_id", "members", "fine"),
    [
        ("dev/a", {"Name": "dev/a", "ARN": ARN.format("dev/a")}, True),
        ("dev/a", {"Name": "dev/a", "ARN": ARN.format("dev/a-b")}, False),
        ("dev/a", {"Name": "dev/a-b"}, False),
        (ARN.format("dev/a"), {"Name": "dev/a", "ARN": ARN.format("dev/a")}, True),
        # A partial ARN (no random suffix) names the secret too.
        (ARN.format("dev/my-secret")[:-7], {"Name": "dev/my-secret"}, True),
        (ARN.format("dev/my-secret")[:-7], {"ARN": ARN.format("dev/my-secret")}, True),
        (ARN.format("dev/my-secret")[:-7], {"Name": "dev/other"}, False),
        (ARN.format("dev/a"), {"ARN": ARN.format("dev/b")}, False),
    ],
)
def test_which_replies_name_the_secret_asked_for(
    secret_id: str, members: dict[str, Any], fine: bool
) -> None:
    problems = secret_reply_problems("DescribeSecret", {"SecretId": secret_id}, members)
    assert (problems == []) is fine, problems


def test_a_forced_deletion_has_no_date_to_give() -> None:
    asked = {"SecretId": "dev/a", "ForceDeleteWithoutRecovery": True}
    assert secret_reply_problems("DeleteSecret", asked, {"Name": "dev/a"}) == []
    assert secret_reply_problems("DeleteSecret", {"SecretId": "dev/a"}, {"Name": "dev/a"}) == [
        "lacks DeletionDate"
    ]


def test_migrate_ssm_refuses_a_listing_of_parameters_outside_the_path(
    cli: Any, workdir: Path, proxy: Any
) -> None:
    """A GetParametersByPath page naming `/other/prodpw` under `/app/er`: before, the name was
    cut by length and `/other/prodpw` migrated as `dev/app/er/prodpw`."""
    page = {
        "Parameters": [
            {"Name": "/other/prodpw", "Type": "SecureString", "Value": CANARY, "Version": 1}
        ]
    }
    proxy.answer("ssm.GetParametersByPath", json.dumps(page).encode())
    run = cli("migrate", "ssm", "/app/er", "--to", "dev/app/er/", "--yes")
    assert run.code == 6, run.stderr
    assert "outside the path asked for" in run.stderr
    assert CANARY not in run.stdout + run.stderr
    assert proxy.count("secretsmanager.CreateSecret") == 0
