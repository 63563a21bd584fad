"""`secrets audit --live`: deployed Lambda functions and their roles' policies, on the emulator."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import aws_client, write_config

ACCOUNT = "123456789012"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
PLANTED_VALUE = "Tr0ub4dor-and-3-horses"


def _zip() -> bytes:
    # The emulator stores the code; it never runs it here.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def _grant(resource: str, action: str = "secretsmanager:GetSecretValue") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
        }
    )


def _arn(name: str) -> str:
    return f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{name}"


class Account:
    """Builds functions and roles in the emulator."""

    def __init__(self) -> None:
        self.iam = aws_client("iam")
        self.awslambda = aws_client("lambda")
        self.code = _zip()

    def role(self, name: str, inline: dict[str, str] = {}, managed: dict[str, str] = {}) -> str:  # noqa: B006 - read only
        arn = str(
            self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
        )
        for policy, document in (inline or {}).items():
            self.iam.put_role_policy(RoleName=name, PolicyName=policy, PolicyDocument=document)
        for policy, document in (managed or {}).items():
            policy_arn = self.iam.create_policy(PolicyName=policy, PolicyDocument=document)[
                "Policy"
            ]["Arn"]
            self.iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
        return arn

    def function(self, name: str, role: str, variables: dict[str, str] | None = None) -> None:
        self.awslambda.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": self.code},
            Environment={"Variables": variables or {}},
        )


@pytest.fixture
def account(aws_env: Path) -> Account:
    write_config(
        aws_env,
        '[environments.prod]\naccount_id = "123456789012"\n[environments.staging]\n'
        '[functions.checkout]\nsecrets = ["api/stripe-key"]\n',
    )
    return Account()


def test_live_findings(cli: Any, account: Account) -> None:
    clean_role = account.role(
        "checkout-role", inline={"secrets": _grant(_arn("prod/api/stripe-key-??????"))}
    )
    account.function(
        "checkout", clean_role, {"STAGE": "prod", "STRIPE_SECRET_NAME": "prod/api/stripe-key"}
    )
    leaky_role = account.role(
        "reports-role",
        inline={"everything": _grant("*", "secretsmanager:*")},
        managed={"reports-staging": _grant(_arn("staging/*"))},
    )
    account.function("reports", leaky_role, {"DB_PASSWORD": PLANTED_VALUE})
    run = cli("audit", "--live", "--env", "prod", "--format", "json")
    assert run.code == 1, run.stderr
    report = run.json()
    assert report["functions"] == 2
    found = {(f["resource"], f["rule"]) for f in report["findings"]}
    assert found == {
        ("reports", "secret-in-environment"),
        ("reports", "wildcard-action"),
        ("reports", "wildcard-resource"),
        ("reports", "environment-wide"),
        ("reports", "cross-environment"),
    }
    assert PLANTED_VALUE not in run.stdout + run.stderr
    messages = " ".join(f["message"] for f in report["findings"])
    assert "reports-staging" in messages and "everything" in messages
    table = cli("audit", "--live", "--env", "prod")
    assert "live reports" in table.stdout and PLANTED_VALUE not in table.stdout + table.stderr


def test_undeclared_secret_in_a_live_role(cli: Any, account: Account) -> None:
    role = account.role(
        "checkout-role",
        inline={
            "secrets": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["secretsmanager:GetSecretValue"],
                            "Resource": [
                                _arn("prod/api/stripe-key-??????"),
                                _arn("prod/admin/root-key-??????"),
                            ],
                        }
                    ],
                }
            )
        },
    )
    account.function("checkout", role)
    run = cli("audit", "--live", "--env", "prod", "--format", "json", "--fail-on", "medium")
    assert run.code == 1
    (finding,) = run.json()["findings"]
    assert finding["rule"] == "undeclared-secret"
    assert "prod/admin/root-key" in finding["message"]


def test_calls_per_function_are_constant(cli: Any, account: Account, proxy: Any) -> None:
    for i in range(6):
        role = account.role(
            f"fn{i}-role",
            inline={"secrets": _grant(_arn(f"prod/fn{i}/key-??????"))},
            managed={f"fn{i}-managed": _grant(_arn(f"prod/fn{i}/other-??????"))},
        )
        account.function(f"fn{i}", role, {"STAGE": "prod"})
    proxy.reset_counts()
    run = cli("audit", "--live", "--env", "prod", "--format", "json")
    assert run.code == 0, run.stderr
    assert run.json()["functions"] == 6
    # Per function: ListRolePolicies, GetRolePolicy, ListAttachedRolePolicies, GetPolicy,
    # GetPolicyVersion; plus one ListFunctions page for all six.
    assert proxy.count("lambda.") == 1
    for action in (
        "ListRolePolicies",
        "GetRolePolicy",
        "ListAttachedRolePolicies",
        "GetPolicy",
        "GetPolicyVersion",
    ):
        assert proxy.calls[f"iam.{action}"] == 6, action
    # Only reads: the ListFunctions page (a REST GET) and the five IAM reads.
    assert {a for a in proxy.calls if not a.startswith("iam.")} == {
        "lambda.GET /2015-03-31/functions"
    }


def test_shared_roles_are_read_once(cli: Any, account: Account, proxy: Any) -> None:
    role = account.role("shared-role", inline={"secrets": _grant(_arn("prod/shared/key-??????"))})
    for i in range(4):
        account.function(f"fn{i}", role)
    proxy.reset_counts()
    run = cli("audit", "--live", "--env", "prod", "--format", "json")
    assert run.code == 0, run.stderr
    assert proxy.calls["iam.ListRolePolicies"] == 1
    assert proxy.calls["iam.GetRolePolicy"] == 1


def test_live_sarif_without_files_validates(cli: Any, account: Account) -> None:
    import jsonschema

    role = account.role("r", inline={"all": _grant("*")})
    account.function("fn", role)
    run = cli("audit", "--live", "--env", "prod", "--format", "sarif")
    assert run.code == 1
    schema = json.loads(
        (Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8")
    )
    jsonschema.Draft4Validator(schema).validate(run.json())
    (result,) = run.json()["runs"][0]["results"]
    assert result["locations"][0]["logicalLocations"][0]["name"] == "fn"


def test_empty_account(cli: Any, account: Account) -> None:
    run = cli("audit", "--live", "--env", "prod")
    assert run.code == 0
    assert "no findings in 0 function(s)" in run.stderr


def test_live_needs_a_known_environment(cli: Any, account: Account) -> None:
    run = cli("audit", "--live", "--env", "qa")
    assert run.code == 2 and "qa" in run.stderr
