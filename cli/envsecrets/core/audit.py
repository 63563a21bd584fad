"""The audit: where a team's secrets leak today, as findings with a severity and a place.

Rules (ids are stable; SARIF and `--fail-on` use them):
- secret-in-environment: a function's or container's variable holds a secret-looking value.
- secret-resolved-into-environment: `{{resolve:secretsmanager:...}}` in a variable (CloudFormation
  writes the plaintext into the function's configuration).
- secret-variable-from-parameter: a secret-named variable filled from a template parameter.
- ssm-secure-string: `{{resolve:ssm-secure:...}}` references; ssm-parameter-type: template
  parameters of type `AWS::SSM::Parameter::Value<...>` feeding secrets; ssm-container-secret:
  an ECS container secret whose `ValueFrom` is a Parameter Store parameter.
- wildcard-action: `secretsmanager:*` (or `*`) granted; wildcard-resource: secret reads on `*`
  or on every environment; environment-wide: reads on `<env>/*`; prefix-wildcard: reads on
  `<env>/<prefix>/*`; sibling-wildcard: `name-*`, which also matches `name-old`.
- cross-environment: a function of one environment able to read another's secrets.
- undeclared-secret: a function granted a secret that `secrets.toml` does not declare for it.

Findings never carry values: messages name variables, resources and rules only.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from envsecrets.core.config import Config
from envsecrets.core.names import ENV_PATTERN
from envsecrets.core.templates import (
    SUB_VARIABLE,
    LineDict,
    Template,
    TemplateFunction,
    find_functions,
    secret_names,
    strings_in,
)

SEVERITIES = ("low", "medium", "high", "critical")
READ_ACTION = "secretsmanager:getsecretvalue"
RESOLVE_SECRET = re.compile(r"\{\{resolve:secretsmanager:")
RESOLVE_SSM_SECURE = re.compile(r"\{\{resolve:ssm-secure:")
SECRET_ARN = re.compile(r"^arn:[^:]*:secretsmanager:[^:]*:[^:]*:(?:secret:)?(.*)$")
SSM_TYPE = "AWS::SSM::Parameter::Value<"
PSEUDO_PARAMETER = re.compile(r"\$\{AWS::(\w+)\}")
STAGE_VARIABLES = ("ENV", "ENVIRONMENT", "STAGE", "APP_ENV", "DEPLOY_ENV")
# AWS managed policies that grant every secret: by name, with what they amount to.
BROAD_MANAGED = {
    "SecretsManagerReadWrite": "secretsmanager:* on *",
    "AdministratorAccess": "* on *",
    "PowerUserAccess": "* on * (but IAM)",
}


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str
    help: str


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "secret-in-environment",
            "high",
            "Secret in an environment variable",
            "Move it to Secrets Manager (`secrets migrate lambda`) and read it at run time.",
        ),
        Rule(
            "secret-resolved-into-environment",
            "high",
            "Secret resolved into an environment variable",
            "Dynamic references copy the plaintext into the function's configuration; pass "
            "the secret's name and read it at run time.",
        ),
        Rule(
            "secret-variable-from-parameter",
            "medium",
            "Secret passed through a template parameter",
            "The value ends up in the function's configuration; pass the secret's name instead.",
        ),
        Rule(
            "ssm-secure-string",
            "high",
            "Parameter Store SecureString reference",
            "Keep secrets in Secrets Manager (`secrets migrate ssm`).",
        ),
        Rule(
            "ssm-parameter-type",
            "medium",
            "Secret from a Parameter Store template parameter",
            "Keep secrets in Secrets Manager (`secrets migrate ssm`).",
        ),
        Rule(
            "ssm-container-secret",
            "medium",
            "Container secret from Parameter Store",
            "Point ValueFrom at a Secrets Manager secret (`secrets migrate ssm`).",
        ),
        Rule(
            "wildcard-action",
            "high",
            "All Secrets Manager actions granted",
            "Grant secretsmanager:GetSecretValue only (`secrets policy FUNCTION --env ENV`).",
        ),
        Rule(
            "wildcard-resource",
            "high",
            "Secret reads granted on every secret",
            "Grant the function's own secrets only (`secrets policy FUNCTION --env ENV`).",
        ),
        Rule(
            "environment-wide",
            "high",
            "Secret reads granted on a whole environment",
            "Grant the function's own secrets only (`secrets policy FUNCTION --env ENV`).",
        ),
        Rule(
            "prefix-wildcard",
            "medium",
            "Secret reads granted on a whole prefix",
            "List the secrets the function needs (`secrets policy FUNCTION --env ENV`).",
        ),
        Rule(
            "sibling-wildcard",
            "low",
            "name-* also matches other secrets",
            "Use name-?????? (six characters: AWS's suffix) instead of name-*.",
        ),
        Rule(
            "cross-environment",
            "critical",
            "Function can read another environment's secrets",
            "Give each environment's functions their own environment's secrets only.",
        ),
        Rule(
            "undeclared-secret",
            "medium",
            "Function granted a secret it does not declare",
            "Declare it under [functions.NAME] secrets in secrets.toml, or remove the grant.",
        ),
    )
}


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Finding:
    """One problem: which rule, how bad, where, and a message that never holds a value."""

    rule: str
    severity: str
    message: str
    file: str | None = None
    resource: str | None = None
    line: int | None = None
    arn: str | None = None  # the deployed function's or task definition's ARN (--live)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "file": self.file,
            "resource": self.resource,
            "line": self.line,
            "arn": self.arn,
        }


@dataclass(frozen=True)
class Grant:
    """A secret read an Allow statement grants: the name pattern and where it was written."""

    actions: tuple[str, ...]
    resource: str  # the Resource as written, with ${...} variables kept
    name: str | None  # the secret-name part ("prod/api/key-??????", "*"), None if not a secret
    line: int | None
    origin: str


@dataclass
class AuditContext:
    """What the rules know beyond the function: the config and the environment audited."""

    config: Config = field(default_factory=Config)
    env: str | None = None  # --env: the environment the audited functions belong to
    file: str | None = None
    secret_resources: dict[str, str] = field(default_factory=dict)  # logical id -> Name


# -- reading grants out of policy documents ---------------------------------------------------
def iam_match(pattern: str, text: str) -> bool:
    """IAM's wildcard match: `*` any run of characters, `?` one character, case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, flags=re.DOTALL) is not None


def _action_reads(action: str) -> bool:
    return fnmatch.fnmatchcase(READ_ACTION, action.lower())


def _resource_text(value: Any, ctx: AuditContext) -> str | None:
    """A Resource entry as text: literal, `Fn::Sub` template, `Fn::Join`, or a `Ref` to one of
    the template's own secrets (its Name); None when it cannot be known."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Fn::Sub" in value:
            sub = value["Fn::Sub"]
            template = sub[0] if isinstance(sub, list) and sub else sub
            if not isinstance(template, str):
                return None
            # Pseudo parameters (${AWS::Region}) hold colons that would break ARN parsing.
            return PSEUDO_PARAMETER.sub(lambda m: m.group(1), template)
        if "Fn::Join" in value and isinstance(value["Fn::Join"], list):
            parts = value["Fn::Join"]
            if len(parts) == 2 and isinstance(parts[0], str) and isinstance(parts[1], list):
                texts = [_resource_text(p, ctx) or "${?}" for p in parts[1]]
                return parts[0].join(texts)
        if "Ref" in value and str(value["Ref"]) in ctx.secret_resources:
            return f"secret-name:{ctx.secret_resources[str(value['Ref'])]}"
    return None


def _secret_part(resource: str) -> str | None:
    if resource == "*":
        return "*"
    if resource.startswith("secret-name:"):
        return resource.removeprefix("secret-name:")
    found = SECRET_ARN.match(resource)
    if found:
        return found.group(1) or "*"
    # `arn:aws:secretsmanager:*:*:*`-style and `arn:*` wildcards reach every secret too.
    if "*" in resource and iam_match(resource, "arn:aws:secretsmanager:r:1:secret:x"):
        return "*"
    return None


def grants_in(document: Any, origin: str, ctx: AuditContext, line: int | None) -> list[Grant]:
    """Secret-reading grants of one policy document (or SAM policy template entry)."""
    found: list[Grant] = []
    if isinstance(document, str):
        # A SAM `Policies` entry naming a managed policy.
        return _managed_grants(document, origin, line)
    if not isinstance(document, dict):
        return found
    template_arg = document.get("AWSSecretsManagerGetSecretValuePolicy")
    if isinstance(template_arg, dict):
        text = _resource_text(template_arg.get("SecretArn"), ctx)
        if text:
            found.append(
                Grant((READ_ACTION,), text, _secret_part(text), _line(template_arg, line), origin)
            )
        return found
    statements = document.get("Statement")
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = tuple(str(a) for a in _listed(statement.get("Action")))
        if "NotAction" in statement:
            # Allow + NotAction grants every action not listed: all of Secrets Manager unless
            # the read is among the exceptions.
            excluded = [str(a) for a in _listed(statement["NotAction"])]
            if any(_action_reads(a) for a in excluded):
                continue
            actions = ("*",)
        if not any(_action_reads(a) for a in actions):
            continue
        where = _line(statement, line)
        # Allow + NotResource grants every resource but the listed ones.
        listed = ["*"] if "NotResource" in statement else _listed(statement.get("Resource"))
        for resource in listed:
            text = _resource_text(resource, ctx)
            if text is None:
                continue
            part = _secret_part(text)
            if part is not None:
                found.append(Grant(actions, text, part, where, origin))
    return found


def _managed_grants(arn_or_name: str, origin: str, line: int | None) -> list[Grant]:
    name = arn_or_name.rsplit("/", 1)[-1]
    if name in BROAD_MANAGED:
        actions = ("secretsmanager:*",) if name == "SecretsManagerReadWrite" else ("*",)
        return [Grant(actions, "*", "*", line, f"{origin} {name}")]
    return []


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _line(value: Any, fallback: int | None) -> int | None:
    return getattr(value, "line", None) or fallback


# -- the rules ----------------------------------------------------------------------------------
def own_environment(function: TemplateFunction, ctx: AuditContext) -> str | None:
    """The environment a function belongs to: a literal ENV/STAGE variable, then its name
    carrying a declared environment (`checkout-prod`), then --env."""
    for var in function.variables:
        if var.name.upper() in STAGE_VARIABLES and var.value and ENV_PATTERN.fullmatch(var.value):
            return var.value
    for env in ctx.config.environments:
        for name in function.names():
            lowered = name.lower()
            if lowered.startswith(f"{env}-") or lowered.endswith(f"-{env}"):
                return env
    return ctx.env


def audit_function(function: TemplateFunction, ctx: AuditContext) -> list[Finding]:
    """Every finding about one function or task: its variables and what its roles grant."""
    findings: list[Finding] = []

    def add(rule: str, message: str, line: int | None, severity: str | None = None) -> None:
        findings.append(
            Finding(
                rule,
                severity or RULES[rule].severity,
                message,
                ctx.file,
                function.logical_id,
                line,
            )
        )

    from envsecrets.core.detect import looks_secret, looks_secret_name

    what = "task" if function.kind == "task" else "function"
    for var in function.variables:
        where = f"variable {var.name}" + (f" of container {var.container}" if var.container else "")
        texts = [var.value] if var.value is not None else list(strings_in(var.expression))
        if any(RESOLVE_SECRET.search(t) for t in texts):
            add(
                "secret-resolved-into-environment",
                f"{where} of {what} {function.name} resolves a Secrets Manager secret at deploy "
                "time: the plaintext is stored in its configuration",
                var.line,
            )
            continue
        if any(RESOLVE_SSM_SECURE.search(t) for t in texts):
            add(
                "ssm-secure-string",
                f"{where} of {what} {function.name} references a Parameter Store SecureString",
                var.line,
            )
            continue
        if var.value is not None:
            detection = looks_secret(var.name, var.value)
            if detection is not None:
                add(
                    "secret-in-environment",
                    f"{where} of {what} {function.name} looks like a secret ({detection.reason})",
                    var.line,
                )
        elif looks_secret_name(var.name):
            ref = var.expression.get("Ref") if isinstance(var.expression, dict) else None
            add(
                "secret-variable-from-parameter",
                f"{where} of {what} {function.name} takes a secret from "
                + (f"parameter {ref}" if ref else "an expression"),
                var.line,
            )
    for secret in function.container_secrets:
        texts = list(strings_in(secret.value_from))
        if texts and not any(":secretsmanager:" in t for t in texts):
            add(
                "ssm-container-secret",
                f"secret {secret.name} of container {secret.container or '?'} in task "
                f"{function.name} comes from Parameter Store",
                secret.line,
            )
    grants: list[Grant] = []
    for policy in function.policies:
        grants.extend(grants_in(policy.document, policy.origin, ctx, policy.line))
    for arn, line in function.managed_policy_arns:
        if isinstance(arn, str):
            grants.extend(_managed_grants(arn, "managed policy", line))
        elif isinstance(arn, dict) and "Fn::Sub" in arn:
            text = _resource_text(arn, ctx)
            if text:
                grants.extend(_managed_grants(text, "managed policy", line))
    _grant_findings(function, grants, ctx, add)
    return findings


def _grant_findings(
    function: TemplateFunction,
    grants: Sequence[Grant],
    ctx: AuditContext,
    add: Callable[[str, str, int | None], None],
) -> None:
    envs: dict[str, int | None] = {}
    names: dict[str, int | None] = {}
    for grant in grants:
        subject = f"{function.name} ({grant.origin})"
        if any(a == "*" or a.lower() == "secretsmanager:*" for a in grant.actions):
            add("wildcard-action", f"{subject} is granted {grant.actions[0]}", grant.line)
        name = grant.name or ""
        env, _, path = SUB_VARIABLE.sub("${}", name).partition("/")
        if name == "*" or "*" in env or "?" in env or (not path and "*" in name):
            add(
                "wildcard-resource",
                f"{subject} can read every secret ({grant.resource})",
                grant.line,
            )
            continue
        if "${" in env:
            continue  # the environment is a template parameter: it cannot be judged here
        envs.setdefault(env, grant.line)
        if path in ("*", "?*") or path.startswith("*"):
            add("environment-wide", f"{subject} can read every secret of {env}/", grant.line)
            continue
        exact = _exact_name(name)
        if exact is None:
            if name.endswith("-*"):
                add(
                    "sibling-wildcard",
                    f"{subject}: {name} also matches other secrets starting with "
                    f"{name[:-1]}; use -??????",
                    grant.line,
                )
                exact = name[:-2]
            else:
                add(
                    "prefix-wildcard",
                    f"{subject} can read every secret matching {name}",
                    grant.line,
                )
                continue
        if "${" not in exact:
            names.setdefault(exact, grant.line)
    own = own_environment(function, ctx)
    others = sorted(e for e in envs if e != own) if own else sorted(envs)
    if own and others:
        add(
            "cross-environment",
            f"{function.name} ({own}) can read secrets of {', '.join(others)}",
            envs[others[0]],
        )
    elif not own and len(others) > 1:
        add(
            "cross-environment",
            f"{function.name} can read secrets of several environments: {', '.join(others)}",
            envs[others[1]],
        )
    declared = _declared(function, ctx)
    if declared is not None:
        for name, line in names.items():
            env, _, path = name.partition("/")
            if path not in declared:
                add(
                    "undeclared-secret",
                    f"{function.name} is granted {name}, which secrets.toml does not declare "
                    "for it",
                    line,
                )


def _exact_name(pattern: str) -> str | None:
    """The secret name an ARN pattern stands for, when it stands for exactly one."""
    if pattern.endswith("-??????"):
        pattern = pattern[:-7]
    elif re.search(r"-[A-Za-z0-9]{6}$", pattern) and "*" not in pattern and "?" not in pattern:
        pattern = pattern[:-7]  # a resolved ARN: drop AWS's random suffix
    if "*" in pattern or "?" in pattern:
        return None
    return pattern


def _declared(function: TemplateFunction, ctx: AuditContext) -> set[str] | None:
    for name in function.names():
        if name in ctx.config.functions:
            return set(ctx.config.functions[name].secrets)
    return None


def audit_template(template: Template, ctx: AuditContext) -> list[Finding]:
    """Every finding in one template: its functions and tasks, and its SSM parameters."""
    ctx.file = template.source
    ctx.secret_resources = secret_names(template)
    findings: list[Finding] = []
    functions = find_functions(template)
    for function in functions:
        findings.extend(audit_function(function, ctx))
    from envsecrets.core.detect import looks_secret_name

    referenced = {
        str(var.expression["Ref"])
        for function in functions
        for var in function.variables
        if isinstance(var.expression, dict) and "Ref" in var.expression
    }
    for name, parameter in template.parameters.items():
        kind = str(parameter.get("Type", ""))
        if not kind.startswith(SSM_TYPE):
            continue
        default = parameter.get("Default")
        if (
            name in referenced
            or looks_secret_name(name)
            or (isinstance(default, str) and looks_secret_name(default.rsplit("/", 1)[-1]))
        ):
            findings.append(
                Finding(
                    "ssm-parameter-type",
                    RULES["ssm-parameter-type"].severity,
                    f"parameter {name} reads a Parameter Store value ({kind})",
                    template.source,
                    name,
                    template.line_of_parameter(name),
                )
            )
    seen = {(f.resource, f.line) for f in findings if f.rule == "ssm-secure-string"}
    for logical_id, res in template.resources.items():
        for text, line in _strings_with_lines(res.properties, res.line):
            if RESOLVE_SSM_SECURE.search(text) and (logical_id, line) not in seen:
                seen.add((logical_id, line))
                findings.append(
                    Finding(
                        "ssm-secure-string",
                        RULES["ssm-secure-string"].severity,
                        f"{logical_id} references a Parameter Store SecureString",
                        template.source,
                        logical_id,
                        line,
                    )
                )
    return sort_findings(findings)


def _strings_with_lines(value: Any, line: int | None) -> Iterator[tuple[str, int | None]]:
    if isinstance(value, str):
        yield value, line
    elif isinstance(value, dict):
        for key, item in value.items():
            where = value.key_lines.get(key, line) if isinstance(value, LineDict) else line
            yield from _strings_with_lines(item, where)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_with_lines(item, _line(item, line))


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Worst first, then by place."""
    return sorted(
        findings,
        key=lambda f: (-severity_rank(f.severity), f.file or "", f.resource or "", f.line or 0),
    )


def failing(findings: Iterable[Finding], fail_on: str) -> list[Finding]:
    """The findings at or above `fail_on`."""
    floor = severity_rank(fail_on)
    return [f for f in findings if severity_rank(f.severity) >= floor]


# -- SARIF ----------------------------------------------------------------------------------------
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.0", "low": "2.0"}


def to_sarif(
    findings: Sequence[Finding], *, version: str, notes: Sequence[str] = ()
) -> dict[str, Any]:
    """A SARIF 2.1.0 log, the form GitHub code scanning reads. `notes` are warnings about the
    run itself (a part of the account that could not be audited)."""
    rules = list(RULES.values())
    index = {r.id: i for i, r in enumerate(rules)}
    results: list[dict[str, Any]] = []
    for finding in findings:
        location: dict[str, Any] = {}
        if finding.file:
            physical: dict[str, Any] = {"artifactLocation": {"uri": finding.file}}
            if finding.line:
                physical["region"] = {"startLine": finding.line}
            location["physicalLocation"] = physical
        if finding.resource:
            logical: dict[str, Any] = {"name": finding.resource, "kind": "resource"}
            if finding.arn:
                # Live findings have no file: the ARN is what locates them in the account.
                logical["fullyQualifiedName"] = finding.arn
            location["logicalLocations"] = [logical]
        result: dict[str, Any] = {
            "ruleId": finding.rule,
            "ruleIndex": index[finding.rule],
            "level": SARIF_LEVEL[finding.severity],
            "message": {"text": finding.message},
            "properties": {"severity": finding.severity},
        }
        if location:
            result["locations"] = [location]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "envsecrets",
                        "version": version,
                        "informationUri": "https://github.com/envsecrets/envsecrets",
                        "rules": [
                            {
                                "id": r.id,
                                "name": "".join(w.title() for w in r.id.split("-")),
                                "shortDescription": {"text": r.title},
                                "help": {"text": r.help},
                                "defaultConfiguration": {"level": SARIF_LEVEL[r.severity]},
                                "properties": {
                                    "security-severity": SECURITY_SEVERITY[r.severity],
                                    "tags": ["security"],
                                },
                            }
                            for r in rules
                        ],
                    }
                },
                "results": results,
                **(
                    {
                        "invocations": [
                            {
                                "executionSuccessful": True,
                                "toolExecutionNotifications": [
                                    {"level": "warning", "message": {"text": note}}
                                    for note in notes
                                ],
                            }
                        ]
                    }
                    if notes
                    else {}
                ),
            }
        ],
    }


# -- the live account -----------------------------------------------------------------------------
@dataclass(frozen=True)
class LiveContainer:
    """One container of a deployed task definition: its plain variables (values: never shown)
    and its `secrets`, which name where ECS reads each value (`valueFrom`), not the value."""

    name: str
    variables: dict[str, str] = field(default_factory=dict, repr=False)
    secrets: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LiveFunction:
    """A deployed Lambda function (`kind` "lambda", as ListFunctions reports it) or the latest
    ACTIVE revision of an ECS task definition family (`kind` "task")."""

    name: str  # the function's name, or the task definition's family
    arn: str
    role_arn: str | None  # the function's execution role, or the task role
    variables: dict[str, str] = field(default_factory=dict, repr=False)  # values: never shown
    kind: str = "lambda"
    revision: int | None = None
    # The role ECS itself uses to start the task: it reads the containers' `secrets`.
    execution_role_arn: str | None = None
    containers: tuple[LiveContainer, ...] = ()

    @property
    def resource(self) -> str:
        """How findings name it: the function's name, or `family:revision`, which
        `aws ecs describe-task-definition --task-definition` and the console accept."""
        if self.kind == "task" and self.revision is not None:
            return f"{self.name}:{self.revision}"
        return self.name

    def roles(self) -> list[tuple[str, str | None]]:
        """Each distinct role with what it is to this task (None for a Lambda function)."""
        if self.kind != "task":
            return [(self.role_arn, None)] if self.role_arn else []
        if self.role_arn and self.role_arn == self.execution_role_arn:
            return [(self.role_arn, "task and execution role")]
        found: list[tuple[str, str | None]] = []
        if self.role_arn:
            found.append((self.role_arn, "task role"))
        if self.execution_role_arn:
            found.append((self.execution_role_arn, "execution role"))
        return found


@dataclass(frozen=True)
class AttachedPolicy:
    """A policy document attached to a role, and what it is (for the message)."""

    origin: str
    document: Any
    arn: str | None = None


def audit_live(
    functions: Iterable[LiveFunction],
    policies: Callable[[str], Sequence[AttachedPolicy]],
    ctx: AuditContext,
) -> tuple[list[Finding], int]:
    """Findings for deployed functions and task definitions: their variables, their
    containers' secret references, and their roles' policies (for a task, the task role's and
    the execution role's: the same checks as a function's role).

    `policies(role_arn)` returns the documents attached to a role (the IAM backend caches
    them). Returns the findings and how many functions and tasks were audited.
    """
    from envsecrets.core.templates import (
        TASK_TYPE,
        ContainerSecret,
        EnvVar,
        PolicyDocument,
        TemplateFunction,
    )

    ctx.file = None
    findings: list[Finding] = []
    count = 0
    for live in functions:
        count += 1
        kind = TASK_TYPE if live.kind == "task" else "AWS::Lambda::Function"
        # name = the function or family, so `[functions.NAME]` and `checkout-prod` match it.
        function = TemplateFunction(live.resource, kind, None, live.name)
        function.variables = [EnvVar(k, v, None) for k, v in live.variables.items()]
        for container in live.containers:
            function.variables.extend(
                EnvVar(k, v, None, None, container.name) for k, v in container.variables.items()
            )
            function.container_secrets.extend(
                ContainerSecret(k, v, None, container.name) for k, v in container.secrets.items()
            )
        for role_arn, role in live.roles():
            for attached in policies(role_arn):
                if attached.document is None and attached.arn:
                    function.managed_policy_arns.append((attached.arn, None))
                else:
                    origin = f"{attached.origin}, its {role}" if role else attached.origin
                    function.policies.append(PolicyDocument(attached.document, None, origin))
        findings.extend(replace(f, arn=live.arn or None) for f in audit_function(function, ctx))
    return sort_findings(findings), count
