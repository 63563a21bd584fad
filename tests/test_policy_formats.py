"""The six output formats of `secrets policy` say the same policy, each in its own tongue."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import parliament
import pytest
import yaml
from cfnlint.api import ManualArgs, lint

from tests.conftest import write_config

CONFIG = """
[environments.prod]
account_id = "123456789012"
kms_key_id = "alias/prod-secrets"

[functions.checkout-api]
secrets = ["api/stripe-key", "db/password"]

[functions.worker]
kind = "task"
secrets = ["queue/token"]
"""


@pytest.fixture
def documents(cli: Any, aws_env: Path) -> dict[str, Any]:
    write_config(aws_env, CONFIG)
    run = cli("policy", "--all", "--env", "prod", "--format", "json")
    assert run.code == 0, run.stderr
    found: dict[str, Any] = run.json()
    return found


def policy_text(cli: Any, fmt: str, *args: str) -> str:
    run = cli("policy", *args, "--env", "prod", "--format", fmt)
    assert run.code == 0, run.stderr
    assert run.stdout.endswith("\n")
    text: str = run.stdout
    return text


def cfn_lint(template: dict[str, Any]) -> list[str]:
    matches = lint(json.dumps(template), config=ManualArgs(regions=["us-east-1"]))
    return [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches]


def assert_clean(document: dict[str, Any]) -> None:
    findings = parliament.analyze_policy_string(json.dumps(document)).findings
    assert [f.issue for f in findings] == []


def test_yaml_is_the_json_document(cli: Any, documents: dict[str, Any]) -> None:
    assert yaml.safe_load(policy_text(cli, "yaml", "checkout-api")) == documents["checkout-api"]
    assert yaml.safe_load(policy_text(cli, "yaml", "--all")) == documents


def test_sam_blocks_pass_cfn_lint(cli: Any, documents: dict[str, Any]) -> None:
    single = yaml.safe_load(policy_text(cli, "sam", "checkout-api"))
    assert single == {"Policies": [documents["checkout-api"]]}
    blocks = yaml.safe_load(policy_text(cli, "sam", "--all"))
    assert blocks["checkout-api"] == single
    # A task's block is for its AWS::IAM::Role, whose Policies are named.
    (task_policy,) = blocks["worker"]["Policies"]
    assert task_policy["PolicyDocument"] == documents["worker"]
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "CheckoutApi": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Handler": "app.handler",
                    "Runtime": "python3.12",
                    "CodeUri": "s3://bucket/code.zip",
                    **single,
                },
            },
            "WorkerRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    },
                    **blocks["worker"],
                },
            },
        },
    }
    assert cfn_lint(template) == []


def test_cloudformation_resources_pass_cfn_lint(cli: Any, documents: dict[str, Any]) -> None:
    fragment = yaml.safe_load(policy_text(cli, "cloudformation", "--all"))
    resources = fragment["Resources"]
    assert set(resources) == {"CheckoutApiSecretsPolicy", "WorkerSecretsPolicy"}
    for logical_id, function in (
        ("CheckoutApiSecretsPolicy", "checkout-api"),
        ("WorkerSecretsPolicy", "worker"),
    ):
        assert resources[logical_id]["Type"] == "AWS::IAM::ManagedPolicy"
        assert resources[logical_id]["Properties"]["PolicyDocument"] == documents[function]
    assert cfn_lint({"AWSTemplateFormatVersion": "2010-09-09", **fragment}) == []


def test_terraform_data_blocks(cli: Any, documents: dict[str, Any]) -> None:
    text = policy_text(cli, "terraform", "--all")
    assert text.count("{") == text.count("}")
    labels = re.findall(r'^data "aws_iam_policy_document" "([^"]+)" \{$', text, re.MULTILINE)
    assert labels == ["checkout-api_secrets", "worker_secrets"]
    block = text.split('data "aws_iam_policy_document" "worker_secrets"')[1]
    quoted = re.findall(r"resources = (\[.*\])", block)
    assert [json.loads(q) for q in quoted] == [
        s["Resource"] for s in documents["worker"]["Statement"]
    ]
    assert 'variable = "kms:ViaService"' in block
    assert "${" not in text.replace("$${", "")


def test_serverless_statements(cli: Any, documents: dict[str, Any]) -> None:
    config = yaml.safe_load(policy_text(cli, "serverless", "--all"))
    for function, document in documents.items():
        statements = config["functions"][function]["iamRoleStatements"]
        assert statements == document["Statement"]
        assert_clean({"Version": "2012-10-17", "Statement": statements})


def test_every_format_for_one_function(cli: Any, documents: dict[str, Any]) -> None:
    for fmt in ("json", "yaml", "sam", "cloudformation", "terraform", "serverless"):
        text = policy_text(cli, fmt, "worker")
        assert "prod/queue/token-??????" in text
        assert "checkout" not in text
    assert_clean(documents["worker"])


def test_names_that_share_a_logical_id_are_refused(cli: Any, aws_env: Path) -> None:
    write_config(
        aws_env,
        '[environments.prod]\naccount_id = "123456789012"\n'
        '[functions.checkout-api]\nsecrets = ["a"]\n[functions.checkout_api]\nsecrets = ["b"]\n',
    )
    run = cli("policy", "--all", "--env", "prod", "--format", "cloudformation")
    assert run.code == 2, run.stdout
    assert "checkout-api, checkout_api" in run.stderr and "CheckoutApi" in run.stderr
    assert run.stdout == ""
    # Formats keyed by the names themselves keep both apart.
    both = cli("policy", "--all", "--env", "prod", "--format", "json").json()
    assert set(both) == {"checkout-api", "checkout_api"}
    sam = yaml.safe_load(policy_text(cli, "sam", "--all"))
    assert set(sam) == {"checkout-api", "checkout_api"}
    labels = re.findall(r'"([^"]+)_secrets"', policy_text(cli, "terraform", "--all"))
    assert labels == ["checkout-api", "checkout_api"]


@pytest.mark.parametrize(
    "name",
    [
        '"evil\\nresource \\"aws_iam_user\\" \\"x\\" {}\\n#"',
        '"checkout.api"',
        '"a\\u001b[2Jb"',
        "x" * 65,
    ],
)
def test_function_names_are_validated(cli: Any, aws_env: Path, name: str) -> None:
    write_config(aws_env, f'[environments.prod]\naccount_id = "123456789012"\n[functions.{name}]\n')
    run = cli("policy", "--all", "--env", "prod", "--format", "terraform")
    assert run.code == 2 and run.stdout == ""
    (error, hint) = run.stderr.splitlines()
    assert "not a valid" in error and "\x1b" not in run.stderr
    assert hint.startswith("hint:")


def test_task_families_may_be_longer(cli: Any, aws_env: Path) -> None:
    family = "f" * 200
    write_config(
        aws_env,
        f'[environments.prod]\naccount_id = "123456789012"\n[functions.{family}]\n'
        'kind = "task"\nsecrets = ["a"]\n',
    )
    assert cli("policy", family, "--env", "prod").code == 0


def test_a_template_function_name_cannot_inject(cli: Any, aws_env: Path) -> None:
    write_config(aws_env, '[environments.prod]\naccount_id = "123456789012"\n')
    template = aws_env / "t.yaml"
    template.write_text(
        "Resources:\n  Fn:\n    Type: AWS::Lambda::Function\n    Properties:\n"
        '      FunctionName: "evil\\nresource \\"aws_iam_user\\" \\"x\\" {}"\n'
        "      Environment: {Variables: {DB_SECRET_NAME: prod/db}}\n",
        encoding="utf-8",
    )
    run = cli("policy", "--all", "--env", "prod", "--template", str(template), "-f", "terraform")
    assert run.code == 2 and run.stdout == ""
    assert "invalid function name" in run.stderr and "\\n" in run.stderr


def test_a_long_description_stays_on_one_line(cli: Any, aws_env: Path) -> None:
    """A function name near AWS's 64-character limit makes a CloudFormation Description
    longer than 80 characters: it is printed on one line (as a reader and grep expect), not
    folded over two as YAML's default width would."""
    name = "checkout-" + "a" * 55
    write_config(
        aws_env,
        f'[environments.prod]\naccount_id = "123456789012"\n'
        f'[functions.{name}]\nsecrets = ["api/key"]\n',
    )
    text = policy_text(cli, "cloudformation", name)
    (line,) = [line for line in text.splitlines() if "Description:" in line]
    assert line.strip() == f"Description: Read the secrets of {name} (Lambda function) in prod"
