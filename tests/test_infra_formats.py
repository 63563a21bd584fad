"""Formats recognised by content, bad input in each format, and the constructs that real
templates use: Rules-section tags, Fn::If, Serverless variables, Terraform expressions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from envsecrets.core.formats import load_infrastructure
from envsecrets.core.references import Scope, function_reads

from tests.conftest import write_config

CONFIG = """
[environments.prod]
region = "us-east-1"
account_id = "123456789012"
[environments.dev]
region = "us-east-1"
account_id = "123456789012"
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def audit(cli: Any, *args: str) -> tuple[int, dict[str, Any]]:
    run = cli("audit", *args, "--format", "json", "--fail-on", "low")
    assert run.stdout, run.stderr
    return run.code, run.json()


def rules(report: dict[str, Any]) -> set[str]:
    return {f["rule"] for f in report["findings"]}


def one_line_error(run: Any, code: int = 2) -> str:
    assert run.code == code, run.stderr
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert lines[0].startswith("error:") and all(x.startswith("hint:") for x in lines[1:])
    assert "Traceback" not in run.stderr
    return str(lines[0])


# -- recognised by content ----------------------------------------------------------------------
def test_formats_are_recognised_by_content_not_by_name(cli: Any, aws_env: Path) -> None:
    sls = write(
        aws_env,
        "deploy/config.yaml",
        "service: api\nprovider: {name: aws}\nfunctions:\n  f:\n    handler: h.f\n"
        "    environment: {DB_PASSWORD: 'Tr0ub4dor-and-3-horses'}\n",
    )
    ecs = write(
        aws_env,
        "deploy/api.json",
        json.dumps({"family": "api", "containerDefinitions": [{"name": "a", "image": "i"}]}),
    )
    terraform = write(
        aws_env,
        "deploy/lambda.hcl",
        'resource "aws_lambda_function" "f" {\n  function_name = "f"\n}\n',
    )
    _code, report = audit(cli, str(sls), str(ecs), str(terraform))
    assert [f["format"] for f in report["files"]] == ["serverless", "ecs", "terraform"]
    assert rules(report) == {"secret-in-environment"}


def test_a_file_in_no_known_format_is_a_usage_error(cli: Any, aws_env: Path) -> None:
    compose = write(aws_env, "docker-compose.yml", "services:\n  db:\n    image: postgres\n")
    line = one_line_error(cli("audit", str(compose)))
    assert "not in a format this tool reads" in line
    assert "serverless.yml" in cli("audit", str(compose)).stderr  # says what was expected
    array = write(aws_env, "numbers.json", "[1, 2, 3]\n")
    assert "not ECS container definitions" in one_line_error(cli("audit", str(array)))
    write_config(aws_env, CONFIG)
    policy = cli("policy", "--all", "--env", "prod", "--template", str(compose))
    one_line_error(policy)


def test_bad_input_in_each_format(cli: Any, aws_env: Path) -> None:
    truncated = write(aws_env, "main.tf", 'resource "aws_lambda_function" "f" {\n  role = \n')
    assert "not valid Terraform" in one_line_error(cli("audit", str(truncated)))
    tagged = write(aws_env, "t.yaml", "Resources:\n  A: !Sneaky {Type: AWS::S3::Bucket}\n")
    assert "!Sneaky" in one_line_error(cli("audit", str(tagged)))
    deep = write(aws_env, "deep.tf", "locals {\n  x = " + "[" * 500 + "]" * 500 + "\n}\n")
    assert "refused" in one_line_error(cli("audit", str(deep)))
    missing = cli("audit", str(aws_env / "nope.yaml"))
    assert "does not exist" in one_line_error(missing, 3)  # not found, as the README says


def test_a_folder_of_unrelated_files(cli: Any, aws_env: Path) -> None:
    folder = aws_env / "src"
    folder.mkdir()
    for i in range(10_000):
        (folder / f"m{i}.py").write_text("x = 1\n", encoding="utf-8")
    write(aws_env, "src/package.json", '{"name": "app", "version": "1.0.0"}\n')
    run = cli("audit", str(folder))
    assert run.code == 2 and run.stdout == "" and "Traceback" not in run.stderr
    note, error, hint = run.stderr.splitlines()
    assert "10001 file(s) in no infrastructure format skipped" in note
    assert error.startswith("error: nothing to audit") and hint.startswith("hint:")
    # pre-commit passes every changed file: unknown ones are skipped, not failed.
    ok = cli("audit", "--ignore-unknown", str(folder / "m1.py"), str(folder / "package.json"))
    assert ok.code == 0, ok.stderr


def test_folders_are_walked_and_modules_read_whole(cli: Any, aws_env: Path) -> None:
    write(
        aws_env,
        "infra/vars.tf",
        'variable "token" {\n  default = "ghp_4Xb8Qm2Lz7Rt1Vw9Kc3Nf6Jd0Hs5Yp8Ae2Ug"\n}\n',
    )
    write(
        aws_env,
        "infra/lambda.tf",
        'resource "aws_lambda_function" "f" {\n  function_name = "f"\n  environment {\n'
        "    variables = { GITHUB_TOKEN = var.token }\n  }\n}\n",
    )
    write(aws_env, "infra/node_modules/x/template.yaml", "Resources: !Broken [\n")
    write(aws_env, "infra/.aws-sam/build/template.yaml", "Resources: !Broken [\n")
    write(aws_env, "infra/helm/deployment.yaml", "image: {{ .Values.image }}\n  bad: [\n")
    run = cli("audit", str(aws_env / "infra"), "--format", "json")
    report = run.json()
    assert [f["format"] for f in report["files"]] == ["terraform"]
    found = {(f["rule"], Path(f["file"]).name) for f in report["findings"]}
    assert found == {("secret-in-environment", "lambda.tf"), ("secret-in-template", "vars.tf")}
    assert "skipped" in run.stderr and "deployment.yaml" in run.stderr  # warned, not hidden


# -- CloudFormation -------------------------------------------------------------------------------
RULES_SECTION = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Env: {Type: String, AllowedValues: [dev, prod]}
  Subnets: {Type: "List<AWS::EC2::Subnet::Id>"}
Rules:
  Checks:
    RuleCondition: !Equals [!Ref Env, prod]
    Assertions:
      - Assert: !Contains [[prod], !Ref Env]
      - Assert: !EachMemberEquals [!ValueOfAll ["AWS::EC2::Subnet::Id", VpcId], vpc-1]
      - Assert: !EachMemberIn [!ValueOfAll ["AWS::EC2::Subnet::Id", VpcId], [vpc-1]]
      - Assert: !Not [!Equals [!ValueOf [Subnets, VpcId], ""]]
      - Assert: !Equals [!Join [",", !RefAll "AWS::EC2::VPC::Id"], vpc-1]
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Environment: {Variables: {API_KEY: "sk_live_4eC39HqLyjWDarjtT1zdp7dc"}}
"""


def test_rules_section_tags_do_not_hide_findings(cli: Any, aws_env: Path) -> None:
    path = write(aws_env, "rules.yaml", RULES_SECTION)
    code, report = audit(cli, str(path))
    assert code == 1 and rules(report) == {"secret-in-environment"}


CONDITIONAL = """
Conditions:
  Sandbox: !Equals [!Ref Env, sandbox]
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - !If
          - Sandbox
          - PolicyName: open
            PolicyDocument:
              Statement:
                - {Effect: Allow, Action: "secretsmanager:*", Resource: "*"}
          - !Ref AWS::NoValue
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Role: !GetAtt Role.Arn
"""


def test_a_policy_behind_fn_if_is_audited_in_both_branches(cli: Any, aws_env: Path) -> None:
    path = write(aws_env, "cond.yaml", CONDITIONAL)
    _code, report = audit(cli, str(path))
    assert rules(report) == {"wildcard-action", "wildcard-resource"}


GRANT = """
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment: {{Variables: {{STAGE: prod}}}}
      Policies:
        - Statement:
            - Effect: Allow
              Action: secretsmanager:GetSecretValue
              Resource: {resource}
"""
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (f"{ARN}gateway/password-??????", set()),  # a name without an env is not another env
        (f"{ARN}gateway-*", {"sibling-wildcard"}),  # not "every secret"
        (f"{ARN}staging/api/key-??????", {"cross-environment"}),
        (f"{ARN}prod/jwt-secret", set()),  # `-secret` is part of the name, not AWS's suffix
        (f"{ARN}prod/api-*", {"sibling-wildcard"}),
        (f"{ARN}prod/*", {"environment-wide"}),
        (f"{ARN}gateway/*", {"prefix-wildcard"}),
        (
            "!Sub 'arn:aws:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${Stage}/*'",
            {"environment-wide"},
        ),
    ],
)
def test_names_real_teams_use(cli: Any, aws_env: Path, resource: str, expected: set[str]) -> None:
    path = write(aws_env, "t.yaml", GRANT.format(resource=resource))
    _code, report = audit(cli, str(path))
    assert rules(report) == expected


def test_declared_environments_decide_what_is_an_environment(cli: Any, aws_env: Path) -> None:
    path = write(aws_env, "t.yaml", GRANT.format(resource=f"{ARN}gateway/password-??????"))
    write_config(aws_env, "[environments.prod]\n[environments.gateway]\n")
    _code, report = audit(cli, str(path))
    assert rules(report) == {"cross-environment"}


# -- Serverless -----------------------------------------------------------------------------------
SERVERLESS = """
service: bot
custom:
  tokens: ${ssm:/bot/${sls:stage}/tokens}
provider:
  name: aws
  stage: ${opt:stage, 'dev'}
  environment:
    V1_SECRET: ${ssm:/bot/v1-secret~true}
    REGIONAL_PASSWORD: ${ssm(eu-west-1):/bot/db-password}
    RAW_API_KEY: ${ssm(eu-west-1, raw):/bot/api-key}
    V4_TOKEN: ${prodAccount:ssm:/bot/token}
    FROM_SM: ${ssm:/aws/reference/secretsmanager/${sls:stage}/bot/jwt}
    GITHUB_TOKEN: ${env:GITHUB_TOKEN, ''}
    TABLE: bot-${sls:stage}
    CUSTOM_TOKENS: ${self:custom.tokens}
    LOOP: ${self:custom.loop}
    REGION: ${aws:region}
  iamRoleStatements:
    - Effect: Allow
      Action: secretsmanager:GetSecretValue
      Resource: !Sub "SECRETS_ARN${sls:stage}/bot/jwt-??????"
functions:
  reply:
    handler: h.reply
""".replace("SECRETS_ARN", "arn:aws:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:")


def test_serverless_references(aws_env: Path) -> None:
    path = write(aws_env, "serverless.yml", SERVERLESS.replace("${self:custom.loop}", "x"))
    infra = load_infrastructure(path, {"stage": "prod"})
    (function,) = infra.functions
    variables = {
        v.name: v.value if v.value is not None else v.expression for v in function.variables
    }
    assert variables["V1_SECRET"] == "{{resolve:ssm-secure:/bot/v1-secret}}"
    assert variables["REGIONAL_PASSWORD"] == "{{resolve:ssm:/bot/db-password}}"
    assert variables["RAW_API_KEY"] == "{{resolve:ssm:/bot/api-key}}"
    assert variables["V4_TOKEN"] == "{{resolve:ssm:/bot/token}}"
    assert variables["FROM_SM"] == "{{resolve:secretsmanager:prod/bot/jwt}}"
    assert variables["TABLE"] == "bot-prod"
    assert variables["CUSTOM_TOKENS"] == "{{resolve:ssm:/bot/prod/tokens}}"
    assert variables["REGION"] == {"Ref": "aws:region"}
    assert variables["GITHUB_TOKEN"] == ""  # the fallback: a literal empty string
    # CloudFormation's own ${...} inside !Sub are left alone; Serverless's are resolved.
    (policy,) = function.policies
    resource = policy.document["Statement"][0]["Resource"]
    prefix = "arn:aws:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
    assert resource == {"Fn::Sub": prefix + "prod/bot/jwt-??????"}


def test_serverless_findings_and_loops(cli: Any, aws_env: Path) -> None:
    path = write(
        aws_env,
        "serverless.yml",
        SERVERLESS.replace("tokens: ${ssm", "loop: ${self:custom.loop}\n  tokens: ${ssm"),
    )
    code, report = audit(cli, str(path))
    assert code == 1
    found = {(f["rule"], f["message"].split(" of ")[0]) for f in report["findings"]}
    assert ("ssm-secure-string", "variable V1_SECRET") in found
    assert ("ssm-secure-string", "variable REGIONAL_PASSWORD") in found
    assert ("ssm-secure-string", "variable V4_TOKEN") in found
    assert ("secret-resolved-into-environment", "variable FROM_SM") in found
    assert not any(name == "variable TABLE" for _rule, name in found)


# -- Terraform ------------------------------------------------------------------------------------
TASK = """
resource "aws_ecs_task_definition" "heredoc" {
  family                = "heredoc"
  container_definitions = <<EOF
[{"name": "app", "image": "app:1",
  "environment": [{"name": "STRIPE_SECRET_KEY", "value": "sk_live_4eC39HqLyjWDarjtT1zdp7dc"}],
  "secrets": [{"name": "DB", "valueFrom": "/app/db-password"}]}]
EOF
}

resource "aws_ecs_task_definition" "from_file" {
  family                = "from-file"
  container_definitions = file("${path.module}/containers.json")
}

resource "aws_ecs_task_definition" "escape" {
  family                = "escape"
  container_definitions = file("../../etc/passwd")
}
"""


def test_terraform_container_definitions_in_every_form(cli: Any, aws_env: Path) -> None:
    write(aws_env, "tf/task.tf", TASK)
    write(
        aws_env,
        "tf/containers.json",
        json.dumps([{"name": "w", "image": "w:1", "environmentFiles": [{"value": "arn:s3"}]}]),
    )
    _code, report = audit(cli, str(aws_env / "tf"))
    found = {(f["rule"], f["resource"]) for f in report["findings"]}
    assert found == {
        ("secret-in-environment", "aws_ecs_task_definition.heredoc"),
        ("ssm-container-secret", "aws_ecs_task_definition.heredoc"),
        ("environment-file", "aws_ecs_task_definition.from_file"),
        ("environment-file", "containers"),  # the walk reads containers.json on its own too
        # A file outside the module is not read: the task is not called clean.
        ("not-understood", "aws_ecs_task_definition.escape"),
    }


def test_policy_document_data_source_with_not_actions(cli: Any, aws_env: Path) -> None:
    write(
        aws_env,
        "tf/main.tf",
        'data "aws_iam_policy_document" "p" {\n  statement {\n    not_actions = ["iam:*"]\n'
        '    resources   = ["*"]\n  }\n}\n'
        'resource "aws_iam_role" "r" {\n  name = "r"\n  inline_policy {\n    name = "p"\n'
        "    policy = data.aws_iam_policy_document.p.json\n  }\n}\n"
        'resource "aws_lambda_function" "f" {\n  function_name = "f"\n'
        "  role = aws_iam_role.r.arn\n}\n",
    )
    _code, report = audit(cli, str(aws_env / "tf"))
    assert rules(report) == {"wildcard-action", "wildcard-resource"}


# -- policy --template ----------------------------------------------------------------------------
def test_references_of_every_kind(aws_env: Path) -> None:
    path = write(
        aws_env,
        "t.yaml",
        """
Parameters:
  Stage: {Type: String}
  SharedArn:
    Type: String
    Default: arn:aws:secretsmanager:eu-west-1:210987654321:secret:shared/key-Zx81Qp
Resources:
  Own:
    Type: AWS::SecretsManager::Secret
    Properties: {Name: !Sub "${Stage}/api/own"}
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Environment:
        Variables:
          OWN_SECRET_ARN: !Ref Own
          BY_NAME_SECRET_NAME: gateway/password
          PARTIAL_ARN: arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/api/partial
          JSON_KEY: "{{resolve:secretsmanager:prod/api/db:SecretString:password}}"
          SHARED_SECRET_ARN: !Ref SharedArn
          IMPORTED_SECRET_ARN: !ImportValue other-stack-secret
          WILD_SECRET_ARN: arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/api/*
          ODD_SECRET_NAME: "prod/db/pass?word"
          OTHER_ENV_SECRET_NAME: dev/api/key
          LOG_LEVEL: info
""",
    )
    infra = load_infrastructure(path)
    (function,) = infra.functions
    found = function_reads(
        function, infra, Scope("prod", frozenset({"prod", "dev"}), {"Stage": "prod"})
    )
    reads = {(r.name, r.own, r.arn, r.region, r.account) for r in found.reads}
    assert reads == {
        ("prod/api/own", "Own", None, None, None),
        ("gateway/password", None, None, None, None),
        ("prod/api/partial", None, None, "us-east-1", "123456789012"),
        ("prod/api/db", None, None, None, None),
        (
            "shared/key",
            None,
            "arn:aws:secretsmanager:eu-west-1:210987654321:secret:shared/key-Zx81Qp",
            "eu-west-1",
            "210987654321",
        ),
    }
    reasons = {u.source: u.reason for u in found.unresolved}
    assert "another stack" in reasons["variable IMPORTED_SECRET_ARN"]
    assert "wildcard" in reasons["variable WILD_SECRET_ARN"]
    assert "wildcard" in reasons["variable ODD_SECRET_NAME"]
    assert "environment dev" in reasons["variable OTHER_ENV_SECRET_NAME"]
    # Without --parameter Stage=..., the own secret's name is not known: listed, not guessed.
    missing = function_reads(function, infra, Scope("prod", frozenset({"prod"})))
    assert any(r.own == "Own" and r.name is None for r in missing.reads)


def test_own_secrets_are_named_by_ref_in_template_formats(cli: Any, aws_env: Path) -> None:
    write_config(aws_env, CONFIG)
    path = write(
        aws_env,
        "t.yaml",
        "Resources:\n  Generated:\n    Type: AWS::SecretsManager::Secret\n"
        "    Properties: {GenerateSecretString: {}}\n"
        "  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      Environment: {Variables: {DB_SECRET_ARN: !Ref Generated}}\n",
    )
    sam = cli("policy", "Fn", "--env", "prod", "--template", str(path), "--format", "sam")
    assert sam.code == 0, sam.stderr
    assert "Ref: Generated" in sam.stdout
    cfn = cli("policy", "Fn", "--env", "prod", "--template", str(path), "-f", "cloudformation")
    assert cfn.code == 0 and "Ref: Generated" in cfn.stdout
    # JSON cannot name a secret whose name CloudFormation chooses: left out, said, exit 1.
    plain = cli("policy", "Fn", "--env", "prod", "--template", str(path))
    assert plain.code == 1
    assert "Generated left out" in plain.stderr and "--format sam" in plain.stderr


def test_bad_parameters(cli: Any, aws_env: Path) -> None:
    write_config(aws_env, CONFIG)
    path = write(aws_env, "t.yaml", "Resources: {}\n")
    run = cli("policy", "--all", "--env", "prod", "--template", str(path), "--parameter", "Stage")
    assert "KEY=VALUE" in one_line_error(run)


# -- start-up ------------------------------------------------------------------------------------
PROBE = """
import json, sys
from contextlib import redirect_stderr, redirect_stdout
import io
sys.argv = ["secrets", *json.loads(sys.argv[1])]
with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
    try:
        from envsecrets.app import main
        main()
    except SystemExit:
        pass
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def imported_by(*argv: str) -> set[str]:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(argv))],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return set(json.loads(done.stdout))


def test_heavy_parsers_are_imported_only_for_their_formats(aws_env: Path) -> None:
    heavy = {"hcl2", "lark", "detect_secrets", "yaml"}
    assert not imported_by("audit", "--help") & heavy
    assert not imported_by("policy", "--help") & heavy
    template = write(aws_env, "t.yaml", "Resources: {}\n")
    assert not imported_by("audit", str(template)) & {"hcl2", "lark"}
    terraform = write(aws_env, "m/main.tf", 'locals {\n  a = "b"\n}\n')
    assert {"hcl2", "lark"} <= imported_by("audit", str(terraform))


def test_terraform_variables_take_parameters(cli: Any, aws_env: Path) -> None:
    write_config(aws_env, CONFIG.replace("[environments.dev]", "[environments.staging]"))
    module = Path(__file__).parent / "data" / "infra" / "terraform" / "clean-module"
    run = cli(
        "policy",
        "--all",
        "--env",
        "staging",
        "--template",
        str(module),
        "-p",
        "environment=staging",
    )
    assert run.code == 0, run.stderr
    (document,) = run.json().values()
    assert document["Statement"][0]["Resource"] == [
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:staging/mailer/smtp-??????"
    ]


def test_terraform_managed_policy_attachments(cli: Any, aws_env: Path) -> None:
    write(
        aws_env,
        "tf/main.tf",
        'resource "aws_iam_role" "r" {\n  name = "r"\n}\n'
        'resource "aws_iam_role_policy_attachment" "a" {\n  role = aws_iam_role.r.name\n'
        '  policy_arn = "arn:aws:iam::aws:policy/SecretsManagerReadWrite"\n}\n'
        'resource "aws_lambda_function" "f" {\n  function_name = "f"\n'
        "  role = aws_iam_role.r.arn\n}\n",
    )
    _code, report = audit(cli, str(aws_env / "tf"))
    assert rules(report) == {"wildcard-action", "wildcard-resource"}


def test_terraform_policies_attached_in_every_way(cli: Any, aws_env: Path) -> None:
    wide = (
        'resource "aws_iam_policy" "wide" {\n  name = "wide"\n  policy = jsonencode({\n'
        '    Statement = [{ Effect = "Allow", Action = "secretsmanager:GetSecretValue",\n'
        '                   Resource = "arn:aws:secretsmanager:*:*:secret:prod/*" }]\n  })\n}\n'
    )
    function = (
        'resource "aws_lambda_function" "f" {\n  function_name = "f"\n'
        '  role = aws_iam_role.r.arn\n  environment {\n    variables = { STAGE = "prod" }\n'
        "  }\n}\n"
    )
    ways = {
        "managed_policy_arns": 'resource "aws_iam_role" "r" {\n  name = "r"\n'
        "  managed_policy_arns = [aws_iam_policy.wide.arn]\n}\n",
        "policy_attachment": 'resource "aws_iam_role" "r" {\n  name = "r"\n}\n'
        'resource "aws_iam_policy_attachment" "a" {\n  name = "a"\n'
        "  roles = [aws_iam_role.r.name]\n  policy_arn = aws_iam_policy.wide.arn\n}\n",
    }
    for way, role in ways.items():
        write(aws_env, f"{way}/main.tf", wide + role + function)
        _code, report = audit(cli, str(aws_env / way))
        assert rules(report) == {"environment-wide"}, way


WILDCARD_MODULE = (
    'resource "aws_iam_role" "fn" {\n  name = "r"\n  assume_role_policy = "{}"\n}\n'
    'resource "aws_iam_role_policy" "p" {\n  role = aws_iam_role.fn.id\n  policy = <<EOF\n'
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
    '"Action": "secretsmanager:*", "Resource": "*"}]}\nEOF  \n}\n'
    'resource "aws_lambda_function" "f" {\n  function_name = "orders"\n'
    '  role = aws_iam_role.fn.arn\n  handler = "h"\n  runtime = "python3.12"\n}\n'
)


def test_a_module_that_does_not_parse_does_not_end_a_walk(cli: Any, aws_env: Path) -> None:
    """A heredoc closing marker with trailing blanks (and CRLF) parses, as in Terraform; a
    module that really does not parse is reported with the others, and the run exits 2."""
    repo = aws_env / "repo"
    write(repo, "a-good/main.tf", WILDCARD_MODULE)
    (repo / "b-crlf").mkdir()
    (repo / "b-crlf" / "main.tf").write_bytes(WILDCARD_MODULE.replace("\n", "\r\n").encode())
    write(repo, "c-broken/main.tf", 'resource "aws_lambda_function" "f" {\n  handler =\n')
    run = cli("audit", str(repo), "--format", "json")
    assert run.code == 2, run.stderr
    report = run.json()
    assert report["functions"] == 2
    assert {f["file"].split("/")[-2] for f in report["findings"]} == {"a-good", "b-crlf"}
    assert [e.split(":")[0] for e in report["errors"]] == [str(repo / "c-broken" / "main.tf")]
    assert "not audited" in run.stderr and "the report is partial" in run.stderr
    # Given alone, the broken module is the usual one-line error.
    assert "not valid Terraform" in one_line_error(cli("audit", str(repo / "c-broken")))


def test_the_execution_role_fetches_registry_credentials_and_log_secrets(
    cli: Any, aws_env: Path
) -> None:
    """ECS fetches `repositoryCredentials` and the log driver's `secretOptions` with the
    execution role, like `secrets`; a Parameter Store `valueFrom` is named as left out (its
    grant is ssm:GetParameters), never "needs no policy"."""
    write_config(aws_env, CONFIG)
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/{}"
    task = {
        "family": "api",
        "containerDefinitions": [
            {
                "name": "api",
                "image": "acme/api",
                "repositoryCredentials": {"credentialsParameter": arn.format("hub-AbC123")},
                "logConfiguration": {
                    "logDriver": "awsfirelens",
                    "secretOptions": [{"name": "apikey", "valueFrom": arn.format("dd-XyZ789")}],
                },
                "secrets": [{"name": "TOKEN", "valueFrom": "/prod/api/token"}],
            }
        ],
    }
    path = write(aws_env, "task.json", json.dumps(task))
    run = cli("policy", "--all", "--env", "prod", "--template", str(path))
    assert run.code == 1, run.stderr
    (document,) = run.json().values()
    assert document["Statement"][0]["Resource"] == [
        arn.format("hub-AbC123"),
        arn.format("dd-XyZ789"),
    ]
    assert "/prod/api/token left out: a Parameter Store parameter" in run.stderr


CONDITIONAL_GRANT = """
Parameters:
  Stage: {Type: String, AllowedValues: [prod, staging]}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  IsStaging: !Not [!Condition IsProd]
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
      Policies:
        - AWSSecretsManagerGetSecretValuePolicy:
            SecretArn: !If
              - IsProd
              - arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbC123
              - arn:aws:secretsmanager:us-east-1:123456789012:secret:staging/db-XyZ789
        - !If
          - IsStaging
          - Statement:
              - {Effect: Allow, Action: secretsmanager:GetSecretValue, Resource: "*"}
          - !Ref AWS::NoValue
"""


def test_fn_if_branches_are_not_granted_together(cli: Any, aws_env: Path) -> None:
    """Each branch of an Fn::If is one stack: the parameters that decide it are honoured,
    and an undecided branch that reaches another environment is low, naming its condition."""
    write_config(aws_env, CONFIG.replace("[environments.dev]", "[environments.staging]"))
    path = write(aws_env, "template.yaml", CONDITIONAL_GRANT)
    code, report = audit(cli, str(path), "--env", "prod")
    found = {(f["severity"], f["rule"]) for f in report["findings"]}
    assert ("critical", "cross-environment") not in found
    assert ("low", "conditional-cross-environment") in found
    message = next(
        f["message"] for f in report["findings"] if f["rule"] == "conditional-cross-environment"
    )
    assert "staging when IsProd is false" in message
    # Decided by --parameter: only the prod stack's grants are audited.
    code, report = audit(cli, str(path), "--env", "prod", "--parameter", "Stage=prod")
    assert report["findings"] == [] and code == 0
    code, report = audit(cli, str(path), "--env", "prod", "--parameter", "Stage=staging")
    assert {f["rule"] for f in report["findings"]} >= {"cross-environment", "wildcard-resource"}
    run = cli("policy", "--all", "--env", "prod", "--template", str(path), "-p", "Stage=prod")
    assert run.code == 0, run.stderr
    assert run.json()["Fn"]["Statement"][0]["Resource"] == [
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbC123"
    ]


def test_production_and_prod_are_one_environment(cli: Any, aws_env: Path) -> None:
    path = write(
        aws_env,
        "serverless.yml",
        "service: orders\nprovider:\n  name: aws\n  stage: ${opt:stage, 'production'}\n"
        "  environment: {STAGE: '${self:provider.stage}'}\n  iam:\n    role:\n"
        "      statements:\n        - Effect: Allow\n"
        "          Action: secretsmanager:GetSecretValue\n"
        "          Resource: arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbC123\n"
        "functions:\n  api: {handler: h.api}\n",
    )
    code, report = audit(cli, str(path))
    assert report["findings"] == [] and code == 0


def test_noecho_placeholders_are_not_secrets(cli: Any, aws_env: Path) -> None:
    """The README's placeholder rule holds for NoEcho defaults and stored values too."""
    defaults = ["<>", "<your-api-key>", "YOUR-SECRET-HERE", "REPLACE_ME", "xxxxxxxx", "-"]
    parameters = "".join(
        f'  P{i}: {{Type: String, NoEcho: true, Default: "{d}"}}\n' for i, d in enumerate(defaults)
    )
    path = write(
        aws_env,
        "template.yaml",
        f"Parameters:\n{parameters}  Real: {{Type: String, NoEcho: true, Default: Tr0ub4dor3x}}\n"
        "Resources:\n  S:\n    Type: AWS::SSM::Parameter\n"
        "    Properties: {Type: String, Name: /app/db-password, Value: YOUR-PASSWORD-HERE}\n",
    )
    _code, report = audit(cli, str(path))
    assert [f["resource"] for f in report["findings"]] == ["Real"]


def test_grants_by_action_pattern_and_the_docs_suffix_idiom(cli: Any, aws_env: Path) -> None:
    """`secretsmanager:Get*` on an exact ARN reads it; `name-*` (AWS's documented idiom) is
    that secret, written as `name-??????`."""
    write_config(aws_env, CONFIG)
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
    path = write(
        aws_env,
        "template.yaml",
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties:\n      Handler: h\n      Runtime: python3.12\n      Policies:\n"
        "        - Statement:\n"
        f"            - {{Effect: Allow, Action: 'secretsmanager:Get*', "
        f"Resource: '{arn}prod/api-AbC123'}}\n"
        f"            - {{Effect: Allow, Action: secretsmanager:GetSecretValue, "
        f"Resource: '{arn}gateway/password-*'}}\n",
    )
    run = cli("policy", "--all", "--env", "prod", "--template", str(path))
    assert run.code == 0, run.stderr
    assert run.json()["Fn"]["Statement"][0]["Resource"] == [
        f"{arn}prod/api-AbC123",
        f"{arn}gateway/password-??????",
    ]


def test_serverless_functions_from_a_local_file(cli: Any, aws_env: Path) -> None:
    """`functions: ${file(functions.yml)}` (whole, or per list item) is read from the
    service's folder; a file outside it is not read, and said so (never "no functions")."""
    service = aws_env / "svc"
    write(
        service,
        "functions.yml",
        "api:\n  handler: h.api\n  environment:\n"
        "    GITHUB_TOKEN: ghp_4Xb8Qm2Lz7Rt1Vw9Kc3Nf6Jd0Hs5Yp8Ae2Ug\n",
    )
    write(aws_env, "outside.yml", "leak:\n  handler: h.leak\n")
    path = write(
        service,
        "serverless.yml",
        "service: orders\nprovider: {name: aws}\nfunctions:\n"
        "  - ${file(../outside.yml)}\n  - ${file(functions.yml)}\n",
    )
    _code, report = audit(cli, str(path))
    assert report["functions"] == 1
    found = {(f["rule"], f["resource"], f["file"].rsplit("/", 1)[-1]) for f in report["findings"]}
    assert found == {
        ("secret-in-environment", "api", "functions.yml"),
        ("not-understood", "functions", "serverless.yml"),
    }
    # A service whose functions are all elsewhere is still a serverless.yml: a note, exit 0.
    write(service, "serverless.yml", 'service: orders\nframeworkVersion: "3"\n')
    run = cli("audit", str(service / "serverless.yml"))
    assert run.code == 0 and "no functions or tasks found (serverless)" in run.stderr


def test_literal_secrets_inside_intrinsics_and_laravel_keys(cli: Any, aws_env: Path) -> None:
    stripe = "sk_live_51HxYzAbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    app_key = "base64:q3Jx9bT2mV8kL0pZ4wN7cR1sY6uH5gF3dA2eB9iK0oM="
    path = write(
        aws_env,
        "template.yaml",
        "Conditions:\n  IsProd: !Equals [!Ref 'AWS::Region', us-east-1]\n"
        "Resources:\n  F:\n    Type: AWS::Lambda::Function\n    Properties:\n"
        "      Environment:\n        Variables:\n"
        f"          PAYMENTS: !If [IsProd, {stripe}, '']\n"
        "          KEYS: !Sub 'AKIAIOSFODNN7EXAMPLE:${AWS::Region}'\n"
        f"          JOINED: !Join ['', ['{stripe[:20]}', '{stripe[20:]}']]\n"
        f"          APP_KEY: '{app_key}'\n"
        "          TABLE: !Sub '${AWS::StackName}-orders'\n",
    )
    run = cli("audit", str(path), "--format", "json")
    found = {(f["rule"], f["message"].split()[1]) for f in run.json()["findings"]}
    assert found == {
        ("secret-in-environment", name) for name in ("PAYMENTS", "KEYS", "JOINED", "APP_KEY")
    }
    assert stripe not in run.stdout and app_key not in run.stdout


def test_parameter_store_grants(cli: Any, aws_env: Path) -> None:
    """`ssm:*` on `*` reads every parameter; a read grant on a secret-named parameter the
    file does not define is a secret kept in Parameter Store."""
    path = write(
        aws_env,
        "template.yaml",
        "Resources:\n"
        "  Reader:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      Handler: h\n      Runtime: python3.12\n      Policies:\n"
        "        - SSMParameterReadPolicy: {ParameterName: orders/prod/db-password}\n"
        "        - SSMParameterReadPolicy: {ParameterName: orders/prod/table-name}\n"
        "  Admin:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      Handler: h\n      Runtime: python3.12\n      Policies:\n"
        "        - Statement: [{Effect: Allow, Action: 'ssm:*', Resource: '*'}]\n",
    )
    _code, report = audit(cli, str(path))
    found = {(f["rule"], f["resource"]) for f in report["findings"]}
    assert found == {("ssm-secret-parameter", "Reader"), ("wildcard-resource", "Admin")}
    (secret,) = (f for f in report["findings"] if f["rule"] == "ssm-secret-parameter")
    assert "orders/prod/db-password" in secret["message"]


def test_arns_that_are_ambiguous_or_templated(cli: Any, aws_env: Path) -> None:
    """`...:secret:prod/api-OpenAI` may be a full ARN or a name ending in six letters: both
    are granted, each one secret. An ARN whose region or account is a placeholder
    (`{{must_env ...}}`, ecspresso's) takes the environment's, never the placeholder."""
    write_config(aws_env, CONFIG)
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
    templated = "arn:aws:secretsmanager:{{must_env `AWS_REGION`}}:{{must_env `ACCOUNT`}}:secret:"
    task = {
        "family": "app",
        "containerDefinitions": [
            {
                "name": "app",
                "image": "acme/app",
                "secrets": [
                    {"name": "OPENAI", "valueFrom": f"{arn}prod/api-OpenAI"},
                    {"name": "DB", "valueFrom": f"{templated}prod/db-Xy7Zq2"},
                ],
            }
        ],
    }
    path = write(aws_env, "task.json", json.dumps(task))
    run = cli("policy", "--all", "--env", "prod", "--template", str(path))
    assert run.code == 0, run.stderr
    (document,) = run.json().values()
    resources = document["Statement"][0]["Resource"]
    assert resources[:2] == [f"{arn}prod/api-OpenAI", f"{arn}prod/api-OpenAI-??????"]
    assert resources[2] == f"{arn}prod/db-??????"
    assert "must_env" not in run.stdout


def test_an_own_secret_read_by_name_too_is_named_by_ref_alone(cli: Any, aws_env: Path) -> None:
    write_config(aws_env, CONFIG)
    path = write(
        aws_env,
        "template.yaml",
        "Resources:\n  Db:\n    Type: AWS::SecretsManager::Secret\n"
        "    Properties: {Name: prod/orders/db}\n  F:\n    Type: AWS::Serverless::Function\n"
        "    Properties:\n      Handler: h\n      Runtime: python3.12\n      Environment:\n"
        "        Variables: {DB_SECRET_ARN: !Ref Db, DB_SECRET_NAME: prod/orders/db}\n",
    )
    run = cli("policy", "--all", "--env", "prod", "--template", str(path), "--format", "sam")
    assert run.code == 0, run.stderr
    assert "Ref: Db" in run.stdout and "prod/orders/db-??????" not in run.stdout


ROLE_POLICY = """
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties: {Role: !GetAtt Role.Arn, Handler: h.h, Runtime: python3.12}
  Role:
    Type: AWS::IAM::Role
    Properties: {RoleName: jobs-role, AssumeRolePolicyDocument: {}}
  Pol:
    Type: AWS::IAM::RolePolicy
    Properties:
      RoleName: ROLE_NAME
      PolicyName: p
      PolicyDocument: DOCUMENT
"""
OBJECT_DOCUMENT = '{Statement: [{Effect: Allow, Action: "secretsmanager:*", Resource: "*"}]}'
JSON_DOCUMENT = (
    '|\n        {"Statement": [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}]}'
)
SUB_DOCUMENT = (
    "!Sub |\n        "
    '{"Statement": [{"Effect": "Allow", "Action": "secretsmanager:*",\n        '
    '"Resource": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}'
    ':secret:*"}]}'
)


@pytest.mark.parametrize("kind", ["AWS::IAM::RolePolicy", "AWS::IAM::Policy"])
@pytest.mark.parametrize("role", ["!Ref Role", "jobs-role"])
@pytest.mark.parametrize(
    "document", [OBJECT_DOCUMENT, JSON_DOCUMENT, SUB_DOCUMENT], ids=["object", "json", "sub-json"]
)
def test_a_role_policy_resource_in_any_document_form(
    cli: Any, aws_env: Path, kind: str, role: str, document: str
) -> None:
    text = ROLE_POLICY.replace("ROLE_NAME", role).replace("DOCUMENT", document)
    if kind == "AWS::IAM::Policy":  # the older resource names its roles in a list
        text = text.replace("AWS::IAM::RolePolicy", kind)
        text = text.replace(f"\n      RoleName: {role}", f"\n      Roles: [{role}]")
    code, report = audit(cli, str(write(aws_env, "template.yaml", text)))
    assert code == 1
    assert {(f["rule"], f["resource"]) for f in report["findings"]} == {
        ("wildcard-action", "Fn"),
        ("wildcard-resource", "Fn"),
    }
    assert cli("audit", str(aws_env / "template.yaml")).code == 1  # the default gate


@pytest.mark.parametrize(
    "document",
    [
        '!Sub |\n        {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": ${B}}]}',
        "|\n        Statement: not json",
        '"[1, 2]"',
        '"' + "[" * 100_000 + '"',  # deeper than Python's JSON parser goes
        '"{\\"Version\\": ' + "9" * 5000 + '}"',  # more digits than int() takes
    ],
    ids=["sub-of-a-list", "yaml-text", "an-array", "too-deep", "too-many-digits"],
)
def test_a_policy_document_string_that_is_not_json_is_not_understood(
    cli: Any, aws_env: Path, document: str
) -> None:
    text = ROLE_POLICY.replace("ROLE_NAME", "!Ref Role").replace("DOCUMENT", document)
    _code, report = audit(cli, str(write(aws_env, "template.yaml", text)))
    assert [(f["rule"], f["resource"]) for f in report["findings"]] == [("not-understood", "Pol")]


SERVERLESS_OWN_ROLE = """
service: orders
provider: {name: aws, runtime: python3.12PROVIDER}
functions:
  other: {handler: h.otherFUNCTION}
resources:
  Resources:
    OwnRole:
      Type: AWS::IAM::Role
      Properties:
        AssumeRolePolicyDocument: {}
        Policies:
          - PolicyName: p
            PolicyDocument:
              Statement: [{Effect: Allow, Action: "secretsmanager:*", Resource: "*"}]
"""


@pytest.mark.parametrize(
    ("provider", "function"),
    [
        ("", ", role: OwnRole"),
        ("", ", role: !GetAtt OwnRole.Arn"),
        ("", ", role: {Fn::GetAtt: [OwnRole, Arn]}"),
        (", iam: {role: OwnRole}", ""),
        (", iam: {role: !GetAtt OwnRole.Arn}", ""),
        (", role: OwnRole", ""),  # v1/v2
        (", iam: {role: Other}", ", role: OwnRole"),  # the function's own role wins
    ],
)
def test_a_serverless_function_with_a_role_of_its_resources(
    cli: Any, aws_env: Path, provider: str, function: str
) -> None:
    text = SERVERLESS_OWN_ROLE.replace("PROVIDER", provider).replace("FUNCTION", function)
    code, report = audit(cli, str(write(aws_env, "serverless.yml", text)))
    assert code == 1
    assert {(f["rule"], f["resource"]) for f in report["findings"]} == {
        ("wildcard-action", "other"),
        ("wildcard-resource", "other"),
    }
    assert cli("audit", str(aws_env / "serverless.yml")).code == 1  # the default gate


def test_a_serverless_role_the_file_does_not_define(cli: Any, aws_env: Path) -> None:
    # A name that is not among `resources:` (here they come from another file): not
    # understood, never clean; an ARN is a role made elsewhere, not this file's to judge.
    text = (
        SERVERLESS_OWN_ROLE.replace("PROVIDER", "")
        .replace("FUNCTION", ", role: SharedRole")
        .replace("  other:", "  byarn: {handler: h.a, role: 'arn:aws:iam::1:role/r'}\n  other:")
    )
    _code, report = audit(cli, str(write(aws_env, "serverless.yml", text)))
    assert [(f["rule"], f["resource"]) for f in report["findings"]] == [("not-understood", "other")]
    assert "SharedRole" in report["findings"][0]["message"]


MERGED = """
resource "aws_lambda_function" "f" {
  function_name = "f"
  role          = aws_iam_role.fn.arn
}
resource "aws_iam_role" "fn" {
  name = "fn"
}
resource "aws_iam_role_policy" "p" {
  role   = aws_iam_role.fn.id
  policy = data.aws_iam_policy_document.p.json
}
data "aws_iam_policy_document" "broad" {
  statement {
    sid       = "Secrets"
    actions   = ["secretsmanager:*"]
    resources = ["*"]
  }
}
data "aws_iam_policy_document" "narrow" {
  statement {
    sid       = "Secrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/f/key-??????"]
  }
}
data "aws_iam_policy_document" "p" {
BODY
}
"""
BROAD_JSON = (
    '<<EOT\n{"Statement": [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}]}'
    "\nEOT"
)
WILDCARDS = {"wildcard-action", "wildcard-resource"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("source_policy_documents = [data.aws_iam_policy_document.broad.json]", WILDCARDS),
        ("override_policy_documents = [data.aws_iam_policy_document.broad.json]", WILDCARDS),
        ("source_json = data.aws_iam_policy_document.broad.json", WILDCARDS),
        ("override_json = data.aws_iam_policy_document.broad.json", WILDCARDS),
        (f"source_json = {BROAD_JSON}", WILDCARDS),
        (f"override_policy_documents = [\n{BROAD_JSON}\n]", WILDCARDS),
        # A later statement of the same sid replaces the earlier one, as Terraform merges.
        (
            "source_policy_documents = [data.aws_iam_policy_document.broad.json]\n"
            "override_policy_documents = [data.aws_iam_policy_document.narrow.json]",
            set(),
        ),
        (
            "source_policy_documents = [data.aws_iam_policy_document.narrow.json]\n"
            'statement {\n  sid = "Secrets"\n  actions = ["secretsmanager:*"]\n'
            '  resources = ["*"]\n}',
            WILDCARDS,
        ),
        # What cannot be followed is said, never taken for nothing.
        ("source_policy_documents = [var.extra]", {"not-understood"}),
        ("source_policy_documents = concat(var.a, var.b)", {"not-understood"}),
        ("source_json = var.extra_json", {"not-understood"}),
        ('override_json = "not json"', {"not-understood"}),
        ("override_policy_documents = [aws_iam_policy.other.policy]", {"not-understood"}),
        (
            'dynamic "statement" {\n  for_each = var.statements\n  content {\n'
            "    actions = statement.value.actions\n    resources = statement.value.resources\n"
            "  }\n}",
            {"not-understood"},
        ),
        ("source_policy_documents = [data.aws_iam_policy_document.p.json]", {"not-understood"}),
    ],
)
def test_terraform_policy_documents_merged_from_others(
    cli: Any, aws_env: Path, body: str, expected: set[str]
) -> None:
    write(aws_env, "tf/main.tf", MERGED.replace("BODY", body))
    code, report = audit(cli, str(aws_env / "tf"))
    assert rules(report) == expected
    assert code == (1 if expected else 0)
    gate = cli("audit", str(aws_env / "tf"))
    assert gate.code == (1 if expected == WILDCARDS else 0), gate.stderr
    for finding in report["findings"]:
        if finding["rule"] == "not-understood":
            assert finding["resource"] == "data.aws_iam_policy_document.p"


def test_a_policy_document_merged_into_itself_over_and_over_is_bounded(
    cli: Any, aws_env: Path
) -> None:
    # Each document merges the one before twice: 2**30 statements if merged naively.
    blocks = [
        'data "aws_iam_policy_document" "d0" {\n  statement {\n    actions = ["s3:GetObject"]\n'
        '    resources = ["*"]\n  }\n}\n'
    ]
    for i in range(1, 31):
        previous = f"data.aws_iam_policy_document.d{i - 1}.json"
        blocks.append(
            f'data "aws_iam_policy_document" "d{i}" {{\n'
            f"  source_policy_documents = [{previous}, {previous}]\n}}\n"
        )
    text = MERGED.replace(
        "BODY", "source_policy_documents = [data.aws_iam_policy_document.d30.json]"
    )
    write(aws_env, "tf/main.tf", text + "".join(blocks))
    _code, report = audit(cli, str(aws_env / "tf"))
    assert rules(report) == {"not-understood"}
    assert any("more than 1,000 statements" in f["message"] for f in report["findings"])
