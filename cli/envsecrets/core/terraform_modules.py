"""Terraform module calls (`module "x" { source = ... }`), read for what they put in the
model: the inputs of the common public modules, and literal secrets passed to any module.

Understood (terraform-aws-modules, from the registry or from git):
- `lambda/aws`: `function_name`, `environment_variables`, `policy_statements` (with
  `attach_policy_statements`), `policy_json`/`policy_jsons` (with `attach_policy_json(s)`),
  `policy`/`policies` (managed policy ARNs, with `attach_policy`/`attach_policies`);
- `ecs/aws` (`services = { NAME = {...} }`), `ecs/aws//modules/service` and
  `//modules/container-definition`: `container_definitions` (camelCase, as the module takes
  them), `tasks_iam_role_statements` / `tasks_iam_role_policies` (the task role) and
  `task_exec_iam_statements` / `task_exec_iam_role_policies` (the execution role).

Any module: an argument holding a secret-looking literal (`db_password = "..."`) is a
secret written in the file. A module the audit does not know that may create functions,
tasks or roles is reported as not read (`not-understood`); a local module (`./modules/x`) is
read where its own folder is audited.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from envsecrets.core.ecs import add_container
from envsecrets.core.infra import (
    LineDict,
    PolicyDocument,
    StoredValue,
    TemplateFunction,
    Unread,
)

if TYPE_CHECKING:
    from pathlib import Path

    from envsecrets.core.terraform import _Builder

LAMBDA_MODULE = re.compile(r"terraform-aws-modules/(?:terraform-aws-)?lambda(?:/aws|\.git|$|//|\?)")
ECS_MODULE = re.compile(r"terraform-aws-modules/(?:terraform-aws-)?ecs(?:/aws|\.git|$|//|\?)")
# A module that may make functions, tasks or roles: not reading it could hide a finding.
RELEVANT = re.compile(r"lambda|ecs|fargate|iam|function|task|container|secret|ssm", re.I)
RELEVANT_ARGUMENTS = re.compile(r"environment|container|polic|statement|secret|password", re.I)
# Arguments a known module consumes itself (judged as variables or grants, not as literals).
CONSUMED = frozenset({"environment_variables", "container_definitions", "services"})


def read_module_calls(builder: _Builder) -> None:
    """Every module call of the builder's module into its model."""
    for name, (arguments, path, line) in builder.module.calls.items():
        source = builder.value(arguments.get("source"))
        source = source if isinstance(source, str) else ""
        address = f"module.{name}"
        if path is not None:
            builder.infra.files[address] = str(path)
        known = True
        if LAMBDA_MODULE.search(source):
            _lambda_module(builder, address, arguments, line, path)
        elif ECS_MODULE.search(source):
            _ecs_module(builder, address, arguments, line)
        else:
            known = False
        _literal_secrets(builder, address, arguments, line, path, known)
        local = source.startswith(("./", "../"))
        if not known and not local and _relevant(source, arguments):
            builder.infra.unread.append(
                Unread(
                    address,
                    "module",
                    f"module {source or '?'} is not one the audit reads: its resources are "
                    "not audited (audit the module's own folder)",
                    line,
                )
            )


def _relevant(source: str, arguments: dict[str, Any]) -> bool:
    return bool(RELEVANT.search(source)) or any(RELEVANT_ARGUMENTS.search(k) for k in arguments)


def _literal_secrets(
    builder: _Builder,
    address: str,
    arguments: dict[str, Any],
    line: int | None,
    path: Path | None,
    known: bool,
) -> None:
    """Literal arguments (and literal values of map arguments) that hold a secret."""
    for key, raw in arguments.items():
        if key in ("source", "version") or (known and key in CONSUMED):
            continue
        value = builder.value(raw)
        items = value.items() if isinstance(value, dict) else [(key, value)]
        for name, item in items:
            if isinstance(item, str) and item:
                where = builder.attribute_line(path, line, str(key))
                builder.infra.stored_values.append(
                    StoredValue(address, f"{key}.{name}" if name != key else key, item, where)
                )


def _flag(builder: _Builder, arguments: dict[str, Any], key: str) -> bool:
    """A module's `attach_*` switch: on unless written false (an expression may be true)."""
    if key not in arguments:
        return False
    return builder.value(arguments[key]) is not False


def _statements(builder: _Builder, raw: Any) -> list[dict[str, Any]]:
    """The modules' statement objects (`{effect, actions, resources ...}`, a map or a list)
    as IAM statements."""
    value = builder.value(raw)
    entries = value.values() if isinstance(value, dict) else value
    statements = []
    for entry in entries if isinstance(entries, list | type({}.values())) else []:
        if not isinstance(entry, dict):
            continue
        statement: dict[str, Any] = {"Effect": entry.get("effect") or "Allow"}
        for key, name in (
            ("actions", "Action"),
            ("not_actions", "NotAction"),
            ("resources", "Resource"),
            ("not_resources", "NotResource"),
        ):
            if key in entry:
                statement[name] = entry[key]
        statements.append(statement)
    return statements


def _document(statements: list[dict[str, Any]], line: int | None) -> LineDict:
    document = LineDict({"Version": "2012-10-17", "Statement": statements})
    document.line = line
    return document


def _lambda_module(
    builder: _Builder,
    address: str,
    arguments: dict[str, Any],
    line: int | None,
    path: Path | None,
) -> None:
    name = builder.value(arguments.get("function_name"))
    function = TemplateFunction(
        address, "AWS::Lambda::Function", line, name if isinstance(name, str) and name else address
    )
    variables = builder.value(arguments.get("environment_variables"))
    if isinstance(variables, dict):
        builder.add_variables(function, variables, path, line)
    elif arguments.get("environment_variables") is not None:
        builder.infra.unread.append(
            Unread(address, "variables", "its environment_variables could not be read", line)
        )
    origin = f"{address} policy_statements"
    if _flag(builder, arguments, "attach_policy_statements"):
        statements = _statements(builder, arguments.get("policy_statements"))
        function.policies.append(PolicyDocument(_document(statements, line), line, origin))
    documents = []
    if _flag(builder, arguments, "attach_policy_json"):
        documents.append(arguments.get("policy_json"))
    if _flag(builder, arguments, "attach_policy_jsons"):
        listed = builder.value(arguments.get("policy_jsons"))
        documents.extend(listed if isinstance(listed, list) else [arguments.get("policy_jsons")])
    for raw in documents:
        document = builder.json_document(raw)
        if document is None:
            builder.infra.unread.append(
                Unread(address, "policy", "a policy_json(s) document could not be read", line)
            )
        else:
            function.policies.append(PolicyDocument(document, line, f"{address} policy_json"))
    if _flag(builder, arguments, "attach_policy"):
        function.managed_policy_arns.append((builder.value(arguments.get("policy")), line))
    if _flag(builder, arguments, "attach_policies"):
        arns = builder.value(arguments.get("policies"))
        for arn in arns if isinstance(arns, list) else [arns]:
            function.managed_policy_arns.append((arn, line))
    builder.infra.functions.append(function)


def _ecs_module(
    builder: _Builder, address: str, arguments: dict[str, Any], line: int | None
) -> None:
    services = builder.value(arguments.get("services"))
    if isinstance(services, dict):
        for service, body in services.items():
            if isinstance(body, dict):
                _ecs_service(builder, f"{address}.{service}", body, line)
        return
    if "container_definitions" in arguments or "tasks_iam_role_statements" in arguments:
        _ecs_service(builder, address, {k: builder.value(v) for k, v in arguments.items()}, line)
    elif "image" in arguments:  # //modules/container-definition: one container
        container = {k: builder.value(v) for k, v in arguments.items()}
        task = TemplateFunction(address, "AWS::ECS::TaskDefinition", line, address)
        container.setdefault("name", address)
        add_container(task, container, line)
        builder.infra.functions.append(task)


def _ecs_service(builder: _Builder, address: str, body: dict[str, Any], line: int | None) -> None:
    family = body.get("family") or body.get("name")
    task = TemplateFunction(
        address,
        "AWS::ECS::TaskDefinition",
        line,
        family if isinstance(family, str) and family else address,
    )
    containers = body.get("container_definitions")
    if isinstance(containers, dict):
        for name, container in containers.items():
            if isinstance(container, dict):
                add_container(task, {"name": name, **container}, line)
    elif containers is not None:
        builder.infra.unread.append(
            Unread(address, "containers", "its container_definitions could not be read", line)
        )
    for key, role in (
        ("tasks_iam_role_statements", "task"),
        ("task_exec_iam_statements", "execution"),
    ):
        if key in body:
            document = _document(_statements(builder, body[key]), line)
            task.policies.append(PolicyDocument(document, line, f"{address} {key}", role))
    for key in ("tasks_iam_role_policies", "task_exec_iam_role_policies"):
        policies = body.get(key)
        for arn in policies.values() if isinstance(policies, dict) else ():
            task.managed_policy_arns.append((arn, line))
    builder.infra.functions.append(task)
