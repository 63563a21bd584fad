"""Reading SAM/CloudFormation templates: intrinsic tags, line numbers, functions and tasks."""

from __future__ import annotations

from pathlib import Path

import pytest
from envsecrets.core.references import Scope, function_reads, known_environments
from envsecrets.core.templates import (
    LineDict,
    Template,
    TemplateFunction,
    find_functions,
    load_template,
    parse_template,
    read_cloudformation,
)
from envsecrets.errors import CliError, ExitCode

DATA = Path(__file__).parent / "data" / "templates"


def test_short_form_tags_become_the_long_form() -> None:
    data = parse_template(
        "\n".join(
            [
                "Conditions:",
                "  IsProd: !Equals [!Ref Stage, prod]",
                "Resources:",
                "  Fn:",
                "    Type: AWS::Lambda::Function",
                "    Properties:",
                "      Role: !GetAtt FnRole.Arn",
                "      Name: !Sub '${Stage}-fn'",
                "      Other: !Join ['-', [a, !Ref B]]",
                "      Maybe: !If [IsProd, !Select [0, !Split [',', x]], !Ref AWS::NoValue]",
                "      Code: !Base64 |",
                "        hello",
                "      Az: !GetAZs ''",
                "      Map: !FindInMap [M, K, V]",
                "      Import: !ImportValue shared-arn",
                "      Not: !Not [!Condition IsProd]",
            ]
        )
    )
    props = data["Resources"]["Fn"]["Properties"]
    assert props["Role"] == {"Fn::GetAtt": ["FnRole", "Arn"]}
    assert props["Name"] == {"Fn::Sub": "${Stage}-fn"}
    assert props["Other"] == {"Fn::Join": ["-", ["a", {"Ref": "B"}]]}
    assert props["Maybe"]["Fn::If"][0] == "IsProd"
    assert props["Maybe"]["Fn::If"][1] == {"Fn::Select": [0, {"Fn::Split": [",", "x"]}]}
    assert props["Code"] == {"Fn::Base64": "hello\n"}
    assert props["Map"] == {"Fn::FindInMap": ["M", "K", "V"]}
    assert props["Import"] == {"Fn::ImportValue": "shared-arn"}
    assert props["Not"] == {"Fn::Not": [{"Condition": "IsProd"}]}
    assert data["Conditions"]["IsProd"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}


def test_mappings_remember_their_lines() -> None:
    data = parse_template("a: 1\nResources:\n  Fn:\n    Type: X\n    Properties: {}\n")
    assert isinstance(data, LineDict)
    assert data.key_lines["Resources"] == 2
    assert data["Resources"].key_lines["Fn"] == 3
    assert data["Resources"]["Fn"].line == 4


def test_json_templates_parse_like_yaml() -> None:
    template = load_template(DATA / "clean.json")
    (function,) = find_functions(template)
    assert function.name == "api" and function.logical_id == "Api"
    assert {v.name for v in function.variables} == {"NODE_ENV", "API_KEY_SECRET_NAME"}
    assert function.variables[0].line is not None
    # The role's AWS::IAM::Policy (attached through Roles: [!Ref ApiRole]) is found.
    assert [p.origin for p in function.policies] == ["AWS::IAM::Policy ApiSecrets"]


def test_json_indented_with_tabs_is_still_read() -> None:
    # YAML refuses tabs for indentation; JSON allows them.
    text = (
        '{\n\t"Resources": {\n\t\t"Fn": {"Type": "AWS::Lambda::Function", "Properties": {}}\n\t}\n}'
    )
    data = parse_template(text)
    assert data["Resources"]["Fn"]["Type"] == "AWS::Lambda::Function"


def test_a_malformed_template_is_a_usage_error_with_its_line() -> None:
    with pytest.raises(CliError) as caught:
        load_template(DATA / "malformed.yaml")
    assert caught.value.code == ExitCode.USAGE
    assert "line 6" in caught.value.message
    with pytest.raises(CliError) as not_a_mapping:
        parse_template("- just\n- a list\n", "list.yaml")
    assert not_a_mapping.value.code == ExitCode.USAGE
    with pytest.raises(CliError) as missing:
        load_template(DATA / "does-not-exist.yaml")
    assert missing.value.code == ExitCode.NOT_FOUND


def test_functions_tasks_globals_and_role_policies() -> None:
    template = load_template(DATA / "clean.yaml")
    functions = {f.logical_id: f for f in find_functions(template)}
    assert set(functions) == {"Checkout", "Worker"}
    checkout, worker = functions["Checkout"], functions["Worker"]
    assert checkout.kind == "lambda" and worker.kind == "task"
    assert worker.name == "worker"  # the task's Family
    names = [v.name for v in checkout.variables]
    assert names[0] == "LOG_LEVEL"  # from Globals
    assert "STRIPE_SECRET_ARN" in names
    assert [p.origin for p in checkout.policies] == ["Policies", "Policies"]
    assert [p.origin for p in worker.policies] == ["role WorkerRole"]
    assert [(s.name, s.container) for s in worker.container_secrets] == [("QUEUE_TOKEN", "app")]
    assert {v.name for v in worker.variables} == {"QUEUE_URL", "STAGE"}


def test_a_function_overrides_a_global_variable() -> None:
    data = parse_template(
        "Globals: {Function: {Environment: {Variables: {LEVEL: info}}}}\n"
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {Environment: {Variables: {LEVEL: debug}}}\n"
    )
    (function,) = find_functions(Template("t.yaml", data))
    assert [(v.name, v.value) for v in function.variables] == [("LEVEL", "debug")]


def referenced(function: TemplateFunction, template: Template, env: str) -> list[str | None]:
    infra = read_cloudformation(template)
    found = function_reads(function, infra, Scope(env, known_environments(())))
    return [r.name for r in found.reads]


def test_secrets_a_template_function_points_at() -> None:
    template = load_template(DATA / "clean.yaml")
    functions = {f.logical_id: f for f in find_functions(template)}
    assert referenced(functions["Checkout"], template, "prod") == [
        "prod/api/stripe-key",
        "prod/db/password",
    ]
    # The container's secret is read by ECS with the execution role; the task role's grant
    # says what the code reads.
    infra = read_cloudformation(template)
    reads = function_reads(functions["Worker"], infra, Scope("prod")).reads
    assert [(r.role, r.name) for r in reads] == [
        ("execution", "prod/queue/token"),
        ("task", "prod/queue/token"),
    ]
    # prod's secrets are not read by a dev function: they are left out, with the reason.
    assert referenced(functions["Checkout"], template, "dev") == []


def test_no_functions() -> None:
    assert find_functions(load_template(DATA / "no-functions.yaml")) == []
