"""Every `secrets policy` format, whole: the text a user pastes into a template.

The other policy tests check what each format means (parliament, cfn-lint, the policy
evaluator); these pin the exact text, comments and names included, for a Lambda function, an
ECS task with its execution role (from a template), and names that Terraform and CloudFormation
must rewrite. A changed renderer shows here as a diff to review: regenerate the files with
`WRITE_GOLDEN=1 pytest tests/test_policy_golden.py` (a test-only switch) and read
the diff before committing it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config

GOLDEN = Path(__file__).resolve().parent / "data" / "policy"
TEMPLATES = Path(__file__).resolve().parent / "data" / "templates"
WRITE = os.environ.get("WRITE_GOLDEN") == "1"  # read before the fixtures isolate the environment
FORMATS = ["json", "yaml", "sam", "cloudformation", "terraform", "serverless"]
CONFIG = """
[environments.prod]
account_id = "123456789012"
region = "eu-west-1"
kms_key_id = "alias/prod-secrets"

[functions.checkout-api]
secrets = ["api/stripe-key", "db/password"]

[functions.9-lives_fn]
secrets = ["api/cat"]

[functions.batch-worker]
kind = "task"
secrets = ["queue/token"]
"""


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if WRITE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: write it with WRITE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_from_secrets_toml(cli: Any, aws_env: Path, fmt: str) -> None:
    write_config(aws_env, CONFIG)
    run = cli("policy", "--all", "--env", "prod", "--format", fmt)
    assert run.code == 0, run.stderr
    check(f"config.{fmt}.txt", run.stdout)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("function", ["checkout-api", "batch-worker"])
def test_every_format_of_one_function(cli: Any, aws_env: Path, fmt: str, function: str) -> None:
    write_config(aws_env, CONFIG)
    run = cli("policy", function, "--env", "prod", "--format", fmt)
    assert run.code == 0, run.stderr
    check(f"one-{function}.{fmt}.txt", run.stdout)


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_ecs_task_from_a_template(cli: Any, aws_env: Path, fmt: str) -> None:
    write_config(aws_env, '[environments.prod]\naccount_id = "123456789012"\n')
    template = str(TEMPLATES / "clean.yaml")
    run = cli("policy", "Worker", "--env", "prod", "--template", template, "--format", fmt)
    assert run.code == 0, run.stderr
    check(f"one-template-task.{fmt}.txt", run.stdout)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_from_a_template_with_an_ecs_task(cli: Any, aws_env: Path, fmt: str) -> None:
    write_config(aws_env, '[environments.prod]\naccount_id = "123456789012"\n')
    template = str(TEMPLATES / "clean.yaml")
    run = cli("policy", "--all", "--env", "prod", "--template", template, "--format", fmt)
    assert run.code == 0, run.stderr
    check(f"template.{fmt}.txt", run.stdout)


TEMPLATE = """\
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: {function}
      Handler: app.handler
      Environment:
        Variables:
          DB_SECRET_NAME: prod/db/password
  Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: {family}
      ContainerDefinitions:
        - Name: app
          Image: app:latest
          Secrets:
            - Name: TOKEN
              ValueFrom: arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/queue/token
"""
LAMBDA_RULE = "names are 1-64 letters, digits, '-' or '_' (AWS's rule)"
TASK_RULE = "names are 1-255 letters, digits, '-' or '_' (AWS's rule)"


@pytest.mark.parametrize(
    ("function", "family", "bad", "hint"),
    [
        ("a" * 65, "worker", "a" * 65, LAMBDA_RULE),
        ('"bad.name"', "worker", "bad.name", LAMBDA_RULE),
        ("fn", "t" * 256, "t" * 80, TASK_RULE),
        ("fn", '"bad\\tfamily"', "bad\\tfamily", TASK_RULE),
    ],
)
def test_template_function_names_are_checked_in_words(
    cli: Any, aws_env: Path, function: str, family: str, bad: str, hint: str
) -> None:
    """Names from a template are rendered into IAM, CloudFormation and Terraform text: a name
    AWS would refuse is refused here, shown escaped and cut at 80 characters."""
    write_config(aws_env, '[environments.prod]\naccount_id = "123456789012"\n')
    template = aws_env / "template.yaml"
    template.write_text(TEMPLATE.format(function=function, family=family), encoding="utf-8")
    run = cli("policy", "--all", "--env", "prod", "--template", str(template), "--json")
    assert run.code == 2, run.stderr
    error = json.loads(run.stderr)["error"]
    assert error["message"] == f"invalid function name '{bad}' in {template}"
    assert error["hint"] == hint


def test_the_longest_template_names_are_accepted(cli: Any, aws_env: Path) -> None:
    write_config(aws_env, '[environments.prod]\naccount_id = "123456789012"\n')
    template = aws_env / "template.yaml"
    template.write_text(TEMPLATE.format(function="a" * 64, family="t" * 255), encoding="utf-8")
    run = cli("policy", "--all", "--env", "prod", "--template", str(template))
    assert run.code == 0, run.stderr
    assert set(run.json()) == {"a" * 64, "t" * 255 + "-execution-role"}
