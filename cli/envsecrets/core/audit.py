"""The audit: where a team's secrets leak today, as findings with a severity and a place.

It reads the infrastructure model (core/infra.py), so the same rules judge SAM/CloudFormation,
serverless.yml, Terraform and ECS task definitions, and (`--live`) the deployed account. The
rules and their ids are in core/audit_rules.py; what policies grant in core/audit_grants.py;
SARIF in core/audit_sarif.py; the live account in core/audit_live.py. This module judges a
file's functions, variables, parameters and stored values, and re-exports the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from envsecrets.core.audit_grants import (
    Add,
    _grant_findings,
    _managed_grants,
    _resource_text,
    grants_in,
    iam_match,
    parameter_store_findings,
    ssm_reads,
)
from envsecrets.core.audit_rules import (
    RESOLVE_SECRET,
    RESOLVE_SSM,
    RESOLVE_SSM_SECURE,
    RULES,
    SEVERITIES,
    SSM_TYPE,
    STORED_PLACEHOLDERS,
    AuditContext,
    Finding,
    Grant,
    Rule,
    failing,
    severity_rank,
    sort_findings,
)
from envsecrets.core.infra import (
    Infrastructure,
    LineDict,
    TemplateFunction,
    alternatives,
    line_of,
    strings_in,
)
from envsecrets.core.templates import Template, read_cloudformation

__all__ = [
    "RULES",
    "SEVERITIES",
    "AuditContext",
    "Finding",
    "Grant",
    "Rule",
    "audit_function",
    "audit_infrastructure",
    "audit_template",
    "failing",
    "grants_in",
    "iam_match",
    "severity_rank",
    "sort_findings",
]


def audit_function(function: TemplateFunction, ctx: AuditContext) -> list[Finding]:
    """Every finding about one function or task: its variables and what its roles grant."""
    findings: list[Finding] = []

    file = ctx.infra.file_of(function.logical_id) if ctx.infra else ctx.file

    def add(rule: str, message: str, line: int | None) -> None:
        findings.append(
            Finding(rule, RULES[rule].severity, message, file, function.logical_id, line)
        )

    what = "task" if function.kind == "task" else "function"
    for var in function.variables:
        where = f"variable {var.name}" + (f" of container {var.container}" if var.container else "")
        _variable_findings(var, f"{where} of {what} {function.name}", ctx, add)
    for secret in function.container_secrets:
        if container_secret_store(secret.value_from, ctx.infra) == "ssm":
            add(
                "ssm-container-secret",
                f"secret {secret.name} of container {secret.container or '?'} in task "
                f"{function.name} comes from Parameter Store",
                secret.line,
            )
    for _value, line in function.environment_files:
        add(
            "environment-file",
            f"task {function.name} loads variables from an S3 environment file",
            line,
        )
    grants: list[Grant] = []
    for policy in function.policies:
        grants.extend(grants_in(policy.document, policy.origin, ctx, policy.line))
    for arn, line in function.managed_policy_arns:
        for alt in alternatives(arn):
            text = _resource_text(alt, ctx)
            if text:
                grants.extend(_managed_grants(text, "managed policy", line))
    _grant_findings(function, grants, ctx, add)
    parameter_store_findings(function, ctx, add)
    return findings


SUB_PIECES = re.compile(r"\$\{[^}]*\}")  # splits a !Sub template around its variables
JSON_KEY_END = re.compile(r":[^:/]*:[^:/]*:[^:/]*$")


def container_secret_store(value_from: Any, infra: Infrastructure | None) -> str | None:
    """Where ECS fetches a container secret: "secretsmanager", "ssm", or None if unknown.
    A bare name or a `parameter/` ARN is Parameter Store (ECS's rule); a reference to the
    file's own secret or parameter says which it is."""
    for alt in alternatives(value_from):
        if isinstance(alt, dict):
            ref = _ref_name(alt)
            attribute = alt.get("Fn::GetAtt")
            key = ref or (str(attribute[0]) if isinstance(attribute, list) and attribute else None)
            if infra is not None and key in infra.secrets:
                return "secretsmanager"
            if infra is not None and key in infra.ssm_parameters:
                return "ssm"
        texts = list(strings_in(alt))
        if isinstance(alt, dict) and not any("Fn::Sub" in k or "Fn::Join" in k for k in alt):
            continue  # a Ref to something else: unknown
        text = "".join(texts)
        if JSON_KEY_END.search(text) and not text.startswith("arn:aws:ssm"):
            # `!Join ["", [!Ref DbSecret, ":password::"]]`, `!Sub "${DbSecret}:user::"`: a
            # JSON key, which only Secrets Manager has (CDK writes container secrets so).
            return "secretsmanager"
        if ":secretsmanager:" in text:
            return "secretsmanager"
        if text and (":ssm:" in text or not text.startswith("arn:")):
            return "ssm"
    return None


def _looks_like_reference(expression: Any) -> bool:
    """An expression that builds a name or an ARN (`!Sub "${Stage}/db/user"`), not a value."""
    return any(
        "/" in text or text.startswith("arn:") or "{{resolve:" in text
        for text in strings_in(expression)
    )


def _variable_findings(var: Any, where: str, ctx: AuditContext, add: Add) -> None:
    from envsecrets.core.detect import looks_secret, looks_secret_name

    texts = [var.value] if var.value is not None else list(strings_in(var.expression))
    if any(RESOLVE_SECRET.search(t) for t in texts):
        add(
            "secret-resolved-into-environment",
            f"{where} resolves a Secrets Manager secret at deploy time: the plaintext is "
            "stored in its configuration",
            var.line,
        )
        return
    if any(RESOLVE_SSM_SECURE.search(t) for t in texts):
        add("ssm-secure-string", f"{where} resolves a Parameter Store SecureString", var.line)
        return
    plain_ssm = [m.group(1) for t in texts for m in RESOLVE_SSM.finditer(t)]
    if plain_ssm and (
        looks_secret_name(var.name) or any(looks_secret_name(_last(p)) for p in plain_ssm)
    ):
        add(
            "ssm-secure-string",
            f"{where} resolves Parameter Store parameter {plain_ssm[0]} at deploy time",
            var.line,
        )
        return
    if var.value is not None:
        detection = looks_secret(var.name, var.value)
        if detection is not None:
            add(
                "secret-in-environment",
                f"{where} looks like a secret ({detection.reason})",
                var.line,
            )
        return
    literal = _literal_in_expression(var.name, var.expression)
    if literal is not None:
        add(
            "secret-in-environment",
            f"{where} holds a secret in an expression ({literal})",
            var.line,
        )
        return
    source = _secret_source(var.expression, ctx)
    if source is not None:
        rule, said = source
        add(rule, f"{where} {said}", var.line)
    elif looks_secret_name(var.name) and not _looks_like_reference(var.expression):
        ref = _ref_name(var.expression)
        if ref is None or ref in (ctx.infra.parameters if ctx.infra else {}):
            add(
                "secret-variable-from-parameter",
                f"{where} takes a secret from " + (f"parameter {ref}" if ref else "an expression"),
                var.line,
            )


def _literal_in_expression(name: str, expression: Any) -> str | None:
    """Why a literal inside an expression is a secret: a branch of `Fn::If` judged like a
    value, or any string in `!Sub`/`!Join` shaped like a credential (`!If [IsProd,
    sk_live_..., sk_test_...]`). None when there is none."""
    from envsecrets.core.detect import looks_secret, value_detector

    for alt in alternatives(expression):
        if isinstance(alt, str):
            detection = looks_secret(name, alt)
            if detection is not None:
                return detection.reason
            continue
        for text in _literal_pieces(alt):
            if "{{resolve:" in text or text.startswith("arn:") or not text.strip():
                continue
            found = value_detector(text)
            if found is not None:
                return f"value: {found}"
    return None


def _literal_pieces(expression: Any) -> Iterator[str]:
    """The literal text of an expression: a `!Join` of literals joined, a `!Sub` template's
    pieces between its `${...}`, every other string as it is."""
    join = expression.get("Fn::Join") if isinstance(expression, dict) else None
    if (
        isinstance(join, list)
        and len(join) == 2
        and isinstance(join[0], str)
        and isinstance(join[1], list)
        and all(isinstance(p, str) for p in join[1])
    ):
        yield join[0].join(join[1])
        return
    for text in strings_in(expression):
        yield from (piece for piece in SUB_PIECES.split(text) if piece)


def _last(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _ref_name(expression: Any) -> str | None:
    if isinstance(expression, dict) and isinstance(expression.get("Ref"), str):
        return str(expression["Ref"])
    return None


def _secret_source(expression: Any, ctx: AuditContext) -> tuple[str, str] | None:
    """What makes an expression a secret whatever the variable's name: a NoEcho (sensitive)
    parameter, or a resource attribute that holds a credential."""
    infra = ctx.infra
    if infra is None:
        return None
    for alt in alternatives(expression):
        ref = _ref_name(alt)
        parameter = infra.parameters.get(ref) if ref else None
        if parameter is not None and parameter.no_echo:
            return "secret-variable-from-parameter", f"takes the secret parameter {ref}"
        attribute = alt.get("Fn::GetAtt") if isinstance(alt, dict) else None
        if isinstance(attribute, list) and len(attribute) == 2:
            what = infra.secret_attributes.get((str(attribute[0]), str(attribute[1])))
            if what:
                return "secret-in-environment", f"holds {what} ({attribute[0]}.{attribute[1]})"
    return None


def audit_template(template: Template, ctx: AuditContext) -> list[Finding]:
    """Every finding in one SAM/CloudFormation template."""
    return audit_infrastructure(read_cloudformation(template), ctx)


def audit_infrastructure(infra: Infrastructure, ctx: AuditContext) -> list[Finding]:
    """Every finding in one file's infrastructure: its functions and tasks, the parameters and
    secrets it defines, and the values it stores in clear."""
    ctx.file = infra.source
    ctx.infra = infra
    ctx.secret_resources = {
        key: secret.name for key, secret in infra.secrets.items() if isinstance(secret.name, str)
    }
    findings: list[Finding] = []
    for function in infra.functions:
        findings.extend(audit_function(function, ctx))
    findings.extend(_parameter_findings(infra))
    findings.extend(_ssm_parameter_findings(infra, ctx))
    findings.extend(_stored_value_findings(infra))
    if infra.raw_resources is not None:
        findings.extend(_resolve_elsewhere(infra.raw_resources, infra.source, findings))
    findings.extend(
        Finding(
            "not-understood",
            RULES["not-understood"].severity,
            f"{note.key}: {note.reason}",
            infra.file_of(note.key),
            note.key,
            note.line,
        )
        for note in infra.unread
    )
    return sort_findings(findings)


def _parameter_findings(infra: Infrastructure) -> Iterator[Finding]:
    from envsecrets.core.detect import looks_secret, looks_secret_name

    referenced = {
        str(var.expression["Ref"])
        for function in infra.functions
        for var in function.variables
        if isinstance(var.expression, dict) and "Ref" in var.expression
    }
    for name, parameter in infra.parameters.items():
        default = parameter.default
        if parameter.type.startswith(SSM_TYPE):
            if (
                name in referenced
                or looks_secret_name(name)
                or (isinstance(default, str) and looks_secret_name(_last(default)))
            ):
                yield Finding(
                    "ssm-parameter-type",
                    RULES["ssm-parameter-type"].severity,
                    f"parameter {name} reads a Parameter Store value ({parameter.type})",
                    infra.file_of(name),
                    name,
                    parameter.line,
                )
            continue
        if (
            isinstance(default, str)
            and default
            and (
                (parameter.no_echo and not _placeholder(default))
                or looks_secret(name, default) is not None
            )
        ):
            yield Finding(
                "secret-in-template",
                RULES["secret-in-template"].severity,
                f"parameter {name} has a secret as its default value",
                infra.file_of(name),
                name,
                parameter.line,
            )


def _ssm_parameter_findings(infra: Infrastructure, ctx: AuditContext) -> Iterator[Finding]:
    """Parameters the file defines that hold a secret and that a function reads."""
    from envsecrets.core.detect import looks_secret_name

    for key, parameter in infra.ssm_parameters.items():
        name = parameter.name if isinstance(parameter.name, str) else None
        label = name or key
        secure = parameter.type == "SecureString"
        if not (secure or looks_secret_name(_last(label)) or looks_secret_name(key)):
            continue
        readers = [f.name for f in infra.functions if _reads_parameter(f, key, name, ctx)]
        if readers:
            kind = "a SecureString" if secure else "a secret"
            yield Finding(
                "ssm-secret-parameter",
                RULES["ssm-secret-parameter"].severity,
                f"Parameter Store parameter {label} holds {kind}, read by {', '.join(readers)}",
                infra.file_of(key),
                key,
                parameter.line,
            )


def _reads_parameter(
    function: TemplateFunction, key: str, name: str | None, ctx: AuditContext
) -> bool:
    wanted = "/" + name.lstrip("/") if name else None
    for var in function.variables:
        expression = var.expression if var.value is None else var.value
        for text in strings_in(expression):
            if wanted and (text == name or text.endswith(wanted) or f":{name}}}" in text):
                return True
        if isinstance(expression, dict) and key in (
            expression.get("Ref"),
            (expression.get("Fn::GetAtt") or [None])[0],
        ):
            return True
    for secret in function.container_secrets:
        for text in strings_in(secret.value_from):
            if wanted and (text == name or text.endswith(f"parameter{wanted}")):
                return True
        if isinstance(secret.value_from, dict) and key in (secret.value_from.get("Ref"),):
            return True
    if wanted is None:
        return False
    for policy in function.policies:
        for pattern in ssm_reads(policy.document, ctx):
            if iam_match(pattern, wanted):
                return True
    return False


def _placeholder(value: str) -> bool:
    """A value that stands in for a secret (`changeme`, `<>`, `YOUR-SECRET-HERE`, `xxxx`),
    unless it is shaped like a real credential."""
    from envsecrets.core.detect import is_placeholder, value_detector

    value = value.strip()
    if value.lower() in STORED_PLACEHOLDERS:
        return True
    return is_placeholder(value) and value_detector(value) is None


def _stored_value_findings(infra: Infrastructure) -> Iterator[Finding]:
    from envsecrets.core.detect import looks_secret

    for stored in infra.stored_values:
        value = stored.value.strip()
        if not value or _placeholder(value) or value.startswith(("{{", "${")):
            continue
        if stored.always_secret or looks_secret(_last(stored.property), value) is not None:
            yield Finding(
                "secret-in-template",
                RULES["secret-in-template"].severity,
                f"{stored.resource} writes a secret in clear ({stored.property})",
                infra.file_of(stored.resource),
                stored.resource,
                stored.line,
            )


def _resolve_elsewhere(resources: Any, source: str, found: list[Finding]) -> Iterator[Finding]:
    """`{{resolve:ssm-secure:...}}` outside functions' variables (a database's password)."""
    if not isinstance(resources, dict):
        return
    seen = {(f.resource, f.line) for f in found if f.rule == "ssm-secure-string"}
    for logical_id, res in resources.items():
        for text, line in _strings_with_lines(res, line_of(res, None)):
            if RESOLVE_SSM_SECURE.search(text) and (logical_id, line) not in seen:
                seen.add((logical_id, line))
                yield Finding(
                    "ssm-secure-string",
                    RULES["ssm-secure-string"].severity,
                    f"{logical_id} references a Parameter Store SecureString",
                    source,
                    logical_id,
                    line,
                )


def _strings_with_lines(value: Any, line: int | None) -> Iterator[tuple[str, int | None]]:
    if isinstance(value, str):
        yield value, line
    elif isinstance(value, dict):
        for key, item in value.items():
            where = value.key_lines.get(key, line) if isinstance(value, LineDict) else line
            yield from _strings_with_lines(item, where)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_with_lines(item, line_of(item, line))
