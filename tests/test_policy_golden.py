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
        ("'bad\\name'", "fn", "bad\\name", LAMBDA_RULE),  # a backslash is shown as it is
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


# -- the pure rules under the renderers -----------------------------------------------------------
def test_region_and_account_checks_in_words() -> None:
    from envsecrets.core.policy import check_account, check_region, read_policy
    from envsecrets.errors import CliError, ExitCode

    for call, message, hint in [
        (lambda: check_region("mars-1"), "'mars-1' is not an AWS region name",
         "use a region such as us-east-1, cn-north-1 or us-gov-west-1"),
        (lambda: check_account("1234"), "'1234' is not a 12-digit AWS account id",
         "set account_id for the environment in secrets.toml"),
        (lambda: read_policy([], region="eu-west-1", account="x"),
         "'x' is not a 12-digit AWS account id",
         "set account_id for the environment in secrets.toml"),
    ]:  # fmt: skip
        with pytest.raises(CliError) as caught:
            call()
        assert (caught.value.code, caught.value.message, caught.value.hint) == (
            ExitCode.USAGE,
            message,
            hint,
        )
    assert check_region("cn-north-1") == "cn-north-1"
    assert check_account("123456789012") == "123456789012"


@pytest.mark.parametrize(
    ("region", "partition"),
    [("us-east-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")],
)
def test_the_partition_follows_the_region(region: str, partition: str) -> None:
    from envsecrets.core.policy import read_policy

    document = read_policy(["x"], region=region, account="123456789012", kms_key_id="alias/k")
    assert document["Statement"][1]["Resource"] == [
        f"arn:{partition}:kms:{region}:123456789012:key/*"
    ]
    other = read_policy(
        ["x"], region=region, account="123456789012", kms_key_id="k1", partition="p"
    )
    assert other["Statement"][1]["Resource"] == [f"arn:p:kms:{region}:123456789012:key/k1"]
    assert [s["Sid"] for s in document["Statement"]] == ["ReadSecrets", "DecryptSecrets"]
    assert document["Statement"][0]["Action"] == ["secretsmanager:GetSecretValue"]
    described = read_policy(["x"], region=region, account="123456789012", describe=True)
    assert described["Statement"][0]["Action"] == [
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
    ]


@pytest.mark.parametrize(
    ("key_id", "resource"),
    [
        ("alias/aws/secretsmanager", None),
        ("arn:aws:kms:eu-west-1:111122223333:alias/aws/secretsmanager", None),
        (
            "arn:aws:kms:eu-west-1:111122223333:alias/team",
            "arn:aws:kms:eu-west-1:111122223333:key/*",
        ),
        ("arn:aws:kms:eu-west-1:111122223333:key/k1", "arn:aws:kms:eu-west-1:111122223333:key/k1"),
        ("alias/team", "arn:aws:kms:us-east-1:123456789012:key/*"),
        ("k1", "arn:aws:kms:us-east-1:123456789012:key/k1"),
    ],
)
def test_kms_resource_for_each_way_of_naming_a_key(key_id: str, resource: str | None) -> None:
    from envsecrets.core.policy import kms_resource

    assert kms_resource("aws", "us-east-1", "123456789012", key_id) == resource


@pytest.mark.parametrize(
    ("function", "logical", "label"),
    [
        ("checkout-api", "CheckoutApi", "checkout-api"),
        ("9-lives_fn", "Fn9LivesFn", "fn_9-lives_fn"),
        ("__", "Fn", "function"),
        ("a.b", "AB", "a_b"),
        ("x1.y", "X1Y", "x1_y"),
        ("Xray_", "Xray", "Xray"),
    ],
)
def test_names_for_cloudformation_and_terraform(function: str, logical: str, label: str) -> None:
    from envsecrets.core.policy import logical_id, terraform_label

    assert (logical_id(function), terraform_label(function)) == (logical, label)


@pytest.mark.parametrize(
    ("fmt", "names", "shared"),
    [("terraform", ["a.b", "a_b"], "a_b"), ("cloudformation", ["a-b", "a_b"], "AB")],
)
def test_functions_that_would_share_a_name_are_refused(
    fmt: str, names: list[str], shared: str
) -> None:
    from envsecrets.core.policy import FunctionPolicy, check_unique_ids, render_policies
    from envsecrets.errors import CliError, ExitCode

    policies = [
        FunctionPolicy(n, "prod", {"Version": "2012-10-17", "Statement": []}) for n in names
    ]
    with pytest.raises(CliError) as refused:
        render_policies(policies, fmt, many=True)
    assert (refused.value.code, refused.value.message, refused.value.hint) == (
        ExitCode.USAGE,
        f"functions {', '.join(names)} would share the {fmt} name {shared}",
        "rename one of them, or write their policies one at a time",
    )
    for other in ("json", "yaml", "sam", "serverless"):
        check_unique_ids(policies, other)  # keyed by the names themselves: no clash
    with pytest.raises(CliError) as unknown:
        render_policies(policies, "toml")
    assert (unknown.value.message, unknown.value.hint) == (
        "unknown format 'toml'",
        "use one of: json, yaml, sam, cloudformation, terraform, serverless",
    )


def test_build_policy_grants_exactly_what_it_is_given() -> None:
    from envsecrets.core.policy import build_policy, read_policy
    from envsecrets.errors import CliError, ExitCode

    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:dev/db-AbCdEf"
    built = build_policy(
        region="eu-west-1",
        account="123456789012",
        env="dev",
        paths=["db", "api/key"],
        kms_key_id="k1",
        describe=True,
        partition="p",
        exact_arns={"dev/db": arn},
    )
    assert built == read_policy(
        [arn, "arn:p:secretsmanager:eu-west-1:123456789012:secret:dev/api/key-??????"],
        region="eu-west-1",
        account="123456789012",
        kms_key_id="k1",
        describe=True,
        partition="p",
    )
    plain = build_policy(region="eu-west-1", account="123456789012", env="dev", paths=["db"])
    assert plain["Statement"] == [
        {
            "Sid": "ReadSecrets",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:dev/db-??????"],
        }
    ]
    with pytest.raises(CliError) as nothing:
        build_policy(region="eu-west-1", account="123456789012", env="dev", paths=[])
    assert (nothing.value.code, nothing.value.message, nothing.value.hint) == (
        ExitCode.USAGE,
        "no secrets to grant in 'dev'",
        'list the function\'s secrets as secrets = ["api/key", ...] under [functions.NAME] '
        "in secrets.toml",
    )


def test_text_that_reaches_a_comment_or_a_terraform_string_stays_inert() -> None:
    from envsecrets.core.policy import _comment, _hcl_string, _yaml

    assert _comment("# a\x1b[2Jb\nc\\d 'e'") == "# a\\x1b[2Jb\\nc\\d 'e'"
    assert _hcl_string('a${b}%{c}"') == '"a$${b}%%{c}\\""'
    long = "x" * 300
    assert _yaml({"k": long, "l": ["a", "b"]}) == f"k: {long}\nl:\n- a\n- b\n"  # no wrapping
    shared = ["arn"]  # one list in two places: written twice, never as a YAML alias
    assert _yaml({"x": shared, "y": shared}) == "x:\n- arn\ny:\n- arn\n"


def test_one_policy_alone_and_several_without_all() -> None:
    from envsecrets.core.policy import FunctionPolicy, render_policies
    from envsecrets.errors import CliError, ExitCode

    doc = {"Version": "2012-10-17", "Statement": []}
    execution = FunctionPolicy("worker", "prod", doc, kind="task", role="execution")
    assert render_policies([execution], "sam").splitlines()[:2] == [
        "# worker (ECS execution role) in prod: least-privilege access to its secrets",
        "# paste under the execution role's AWS::IAM::Role Properties",
    ]
    two = [FunctionPolicy("a", "prod", doc), FunctionPolicy("b", "prod", doc)]
    assert json.loads(render_policies(two, "json")) == {"a": doc, "b": doc}
    assert json.loads(render_policies(two[:1], "json")) == doc
    assert json.loads(render_policies(two[:1], "json", many=True)) == {"a": doc}
    with pytest.raises(CliError) as unknown:
        render_policies(two, "toml")
    assert unknown.value.code == ExitCode.USAGE
