"""The audit: where a team's secrets leak today, as findings with a severity and a place.

It reads the infrastructure model (core/infra.py), so the same rules judge SAM/CloudFormation,
serverless.yml, Terraform and ECS task definitions, and (`--live`) the deployed account.

Rules (ids are stable; SARIF and `--fail-on` use them):
- secret-in-environment: a function's or container's variable holds a secret: a secret-looking
  literal, or a credential attribute of another resource (an IAM access key's secret).
- secret-resolved-into-environment: `{{resolve:secretsmanager:...}}` (or Serverless's
  `${ssm:/aws/reference/secretsmanager/...}`) in a variable: the plaintext is written into the
  function's configuration at deploy time.
- secret-variable-from-parameter: a variable filled from a parameter that holds a secret (a
  NoEcho/sensitive parameter, or a secret-named variable or parameter).
- ssm-secure-string: a Parameter Store SecureString (or a secret-named parameter) resolved into
  the configuration (`{{resolve:ssm-secure:...}}`, `${ssm:/x~true}`); ssm-parameter-type:
  template parameters of type `AWS::SSM::Parameter::Value<...>` feeding secrets;
  ssm-container-secret: an ECS container secret whose `valueFrom` is a Parameter Store
  parameter; ssm-secret-parameter: a parameter the file defines that holds a secret
  (SecureString, or a secret-named one) and that a function reads.
- secret-in-template: a secret value written in clear in the file itself (a parameter's value,
  a secret's SecretString, a database's master password, a variable's default).
- environment-file: an ECS container loads variables from an S3 `.env` file (values in clear).
- environment-unreadable (`--live`): Lambda reports an `Environment.Error` (the variables could
  not be decrypted), so the function cannot be shown free of secrets. `--live` audits each
  function's `$LATEST` and every published version an alias serves.
- wildcard-action: `secretsmanager:*` (or `*`) granted; wildcard-resource: secret reads on `*`
  or on every environment; environment-wide: reads on `<env>/*`; prefix-wildcard: reads on
  `<prefix>*`; sibling-wildcard: `name-*`, which also matches `name-old`.
- cross-environment: a function of one environment able to read another's secrets (only when
  both are environments: declared in `secrets.toml`, or common environment names).
- undeclared-secret: a function granted a secret that `secrets.toml` does not declare for it.

Every `Fn::If` is audited in both branches. Findings never carry values: messages name
variables, resources and rules only.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from envsecrets.core.config import Config
from envsecrets.core.infra import (
    SUB_VARIABLE,
    Infrastructure,
    LineDict,
    TemplateFunction,
    alternatives,
    line_of,
    listed,
    strings_in,
)
from envsecrets.core.names import ENV_PATTERN
from envsecrets.core.references import aws_suffix, known_environments
from envsecrets.core.templates import Template, read_cloudformation

SEVERITIES = ("low", "medium", "high", "critical")
READ_ACTION = "secretsmanager:getsecretvalue"
SSM_READ_ACTIONS = ("ssm:getparameter", "ssm:getparameters", "ssm:getparametersbypath")
RESOLVE_SECRET = re.compile(r"\{\{resolve:secretsmanager:")
RESOLVE_SSM_SECURE = re.compile(r"\{\{resolve:ssm-secure:")
RESOLVE_SSM = re.compile(r"\{\{resolve:ssm:([^}]+)\}\}")
SECRET_ARN = re.compile(r"^arn:[^:]*:secretsmanager:[^:]*:[^:]*:(?:secret:)?(.*)$")
SSM_ARN = re.compile(r"^arn:[^:]*:ssm:[^:]*:[^:]*:parameter(/.*)$")
SSM_TYPE = "AWS::SSM::Parameter::Value<"
PSEUDO_PARAMETER = re.compile(r"\$\{AWS::(\w+)\}")
STAGE_VARIABLES = ("ENV", "ENVIRONMENT", "STAGE", "APP_ENV", "DEPLOY_ENV")
# AWS managed policies that grant every secret: by name, with what they amount to.
BROAD_MANAGED = {
    "SecretsManagerReadWrite": "secretsmanager:* on *",
    "AdministratorAccess": "* on *",
    "PowerUserAccess": "* on * (but IAM)",
}
# Values that stand in for a secret in a file (placeholders, not credentials).
STORED_PLACEHOLDERS = frozenset({"", "changeme", "change-me", "placeholder", "todo", "none"})


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
            "environment-unreadable",
            "high",
            "Environment variables that could not be read",
            "Lambda could not decrypt them (Environment.Error, e.g. KMSAccessDeniedException): "
            "grant kms:Decrypt on the function's KMS key to whoever audits, and audit again.",
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
            "high",
            "Secret passed through a template parameter",
            "The value ends up in the function's configuration; pass the secret's name instead.",
        ),
        Rule(
            "ssm-secure-string",
            "high",
            "Parameter Store secret resolved into the configuration",
            "Keep secrets in Secrets Manager (`secrets migrate ssm`) and read them at run time.",
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
            "Point valueFrom at a Secrets Manager secret (`secrets migrate ssm`).",
        ),
        Rule(
            "ssm-secret-parameter",
            "medium",
            "Secret kept in Parameter Store",
            "Keep secrets in Secrets Manager (`secrets migrate ssm`).",
        ),
        Rule(
            "secret-in-template",
            "high",
            "Secret written in the file",
            "Remove it from the file (and from its history), rotate it, and keep it in Secrets "
            "Manager (`secrets set`).",
        ),
        Rule(
            "environment-file",
            "low",
            "Variables loaded from an S3 environment file",
            "Values in an S3 .env file are plaintext; use container secrets from Secrets Manager.",
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
    infra: Infrastructure | None = None

    @property
    def environments(self) -> frozenset[str]:
        """Names that count as environments (declared ones, else common ones, plus --env)."""
        known = known_environments(self.config.environments)
        return known | {self.env} if self.env else known


# -- reading grants out of policy documents ---------------------------------------------------
def iam_match(pattern: str, text: str) -> bool:
    """IAM's wildcard match: `*` any run of characters, `?` one character, case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, flags=re.DOTALL) is not None


def _action_reads(action: str, read: str = READ_ACTION) -> bool:
    return fnmatch.fnmatchcase(read, action.lower())


def _resource_text(value: Any, ctx: AuditContext) -> str | None:
    """A Resource entry as text: literal, `Fn::Sub` template, `Fn::Join`, or a `Ref` to one of
    the file's own secrets (its Name); None when it cannot be known."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        return None
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
    ref = value.get("Ref")
    if isinstance(ref, str):
        if ref in ctx.secret_resources:
            return f"secret-name:{ctx.secret_resources[ref]}"
        if ref.startswith("AWS::"):
            return ref.removeprefix("AWS::")
        return "${" + ref + "}"
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


def _statement_actions(statement: dict[str, Any]) -> tuple[str, ...] | None:
    """The actions an Allow statement grants, `("*",)` for NotAction; None if no secret read."""
    actions = tuple(str(a) for a in listed(statement.get("Action")))
    if "NotAction" in statement:
        # Allow + NotAction grants every action not listed: all of Secrets Manager unless
        # the read is among the exceptions.
        excluded = [str(a) for a in listed(statement["NotAction"])]
        if any(_action_reads(a) for a in excluded):
            return None
        actions = ("*",)
    if not any(_action_reads(a) for a in actions):
        return None
    return actions


def grants_in(document: Any, origin: str, ctx: AuditContext, line: int | None) -> list[Grant]:
    """Secret-reading grants of one policy document (or SAM policy template entry); each
    branch of an `Fn::If` counts."""
    found: list[Grant] = []
    for doc in alternatives(document):
        if isinstance(doc, str):
            # A SAM `Policies` entry naming a managed policy.
            found.extend(_managed_grants(doc, origin, line))
        elif isinstance(doc, dict):
            found.extend(_document_grants(doc, origin, ctx, line))
    return found


def _document_grants(
    document: dict[str, Any], origin: str, ctx: AuditContext, line: int | None
) -> list[Grant]:
    found: list[Grant] = []
    template_arg = document.get("AWSSecretsManagerGetSecretValuePolicy")
    if isinstance(template_arg, dict):
        for arn in listed(template_arg.get("SecretArn")):
            text = _resource_text(arn, ctx)
            if text:
                where = line_of(template_arg, line)
                found.append(Grant((READ_ACTION,), text, _secret_part(text), where, origin))
        return found
    for statement in listed(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = _statement_actions(statement)
        if actions is None:
            continue
        where = line_of(statement, line)
        # Allow + NotResource grants every resource but the listed ones.
        resources = ["*"] if "NotResource" in statement else listed(statement.get("Resource"))
        for resource in resources:
            text = _resource_text(resource, ctx)
            part = _secret_part(text) if text is not None else None
            if text is not None and part is not None:
                found.append(Grant(actions, text, part, where, origin))
    return found


def _managed_grants(arn_or_name: str, origin: str, line: int | None) -> list[Grant]:
    name = arn_or_name.rsplit("/", 1)[-1]
    if name in BROAD_MANAGED:
        actions = ("secretsmanager:*",) if name == "SecretsManagerReadWrite" else ("*",)
        return [Grant(actions, "*", "*", line, f"{origin} {name}")]
    return []


def ssm_reads(document: Any, ctx: AuditContext) -> list[str]:
    """Parameter Store names (or patterns) a policy document lets its role read."""
    found: list[str] = []
    for doc in alternatives(document):
        if not isinstance(doc, dict):
            continue
        for key in ("SSMParameterReadPolicy", "SSMParameterWithSlashPrefixReadPolicy"):
            arg = doc.get(key)
            if isinstance(arg, dict) and isinstance(arg.get("ParameterName"), str):
                found.append("/" + arg["ParameterName"].lstrip("/"))
        for statement in listed(doc.get("Statement")):
            if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                continue
            actions = [str(a) for a in listed(statement.get("Action"))]
            if not any(_action_reads(a, r) for a in actions for r in SSM_READ_ACTIONS):
                continue
            for resource in listed(statement.get("Resource")):
                text = _resource_text(resource, ctx)
                arn = SSM_ARN.match(text or "")
                if arn:
                    found.append(arn.group(1))
    return found


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


Add = Callable[[str, str, int | None], None]


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
    return findings


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


def _classify(name: str, environments: frozenset[str]) -> tuple[str, str | None]:
    """What a granted name pattern reaches: ("every", None), ("every-env", None),
    ("environment", env), ("sibling", exact), ("prefix", None) or ("exact", name)."""
    head, slash, rest = SUB_VARIABLE.sub("${}", name).partition("/")
    if name in ("*", "?*") or name.startswith("*"):
        return "every", None
    if slash and ("*" in head or "?" in head):
        return "every-env", None  # `*/api/key`: that secret of every environment
    # `${Stage}/*` is a whole environment too, whichever the stage.
    whole_env = head in environments or head == "${}"
    if slash and whole_env and (rest in ("*", "?*") or rest.startswith("*")):
        return "environment", head
    exact = _exact_name(name)
    if exact is not None:
        return "exact", exact
    if name.endswith("-*"):
        return "sibling", name[:-2]
    return "prefix", None


def _grant_findings(
    function: TemplateFunction, grants: Sequence[Grant], ctx: AuditContext, add: Add
) -> None:
    environments = ctx.environments
    envs: dict[str, int | None] = {}
    names: dict[str, int | None] = {}
    for grant in grants:
        subject = f"{function.name} ({grant.origin})"
        if any(a == "*" or a.lower() == "secretsmanager:*" for a in grant.actions):
            add("wildcard-action", f"{subject} is granted {grant.actions[0]}", grant.line)
        name = grant.name or ""
        kind, exact = _classify(name, environments)
        if kind in ("every", "every-env"):
            add(
                "wildcard-resource",
                f"{subject} can read every secret ({grant.resource})",
                grant.line,
            )
            continue
        head = name.partition("/")[0]
        if "/" in name and head in environments:
            envs.setdefault(head, grant.line)
        if kind == "environment":
            add("environment-wide", f"{subject} can read every secret of {head}/", grant.line)
        elif kind == "prefix":
            add("prefix-wildcard", f"{subject} can read every secret matching {name}", grant.line)
        elif kind == "sibling" and exact is not None:
            add(
                "sibling-wildcard",
                f"{subject}: {name} also matches other secrets starting with {name[:-1]}; use "
                "-??????",
                grant.line,
            )
        if kind in ("exact", "sibling") and exact and "${" not in exact:
            names.setdefault(exact, grant.line)
    _environment_findings(function, envs, ctx, add)
    declared = _declared(function, ctx)
    if declared is not None:
        for name, line in names.items():
            path = name.partition("/")[2]
            if path not in declared:
                add(
                    "undeclared-secret",
                    f"{function.name} is granted {name}, which secrets.toml does not declare "
                    "for it",
                    line,
                )


def _environment_findings(
    function: TemplateFunction, envs: dict[str, int | None], ctx: AuditContext, add: Add
) -> None:
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


def _exact_name(pattern: str) -> str | None:
    """The secret name an ARN pattern stands for, when it stands for exactly one."""
    if pattern.endswith("-??????"):
        pattern = pattern[:-7]
    elif "*" not in pattern and "?" not in pattern:
        suffix = aws_suffix(pattern)
        if suffix:
            pattern = pattern[: -len(suffix) - 1]  # a resolved ARN: drop AWS's random suffix
    if "*" in pattern or "?" in pattern:
        return None
    return pattern


def _declared(function: TemplateFunction, ctx: AuditContext) -> set[str] | None:
    for name in function.names():
        if name in ctx.config.functions:
            return set(ctx.config.functions[name].secrets)
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
                (parameter.no_echo and default.lower() not in STORED_PLACEHOLDERS)
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


def _stored_value_findings(infra: Infrastructure) -> Iterator[Finding]:
    from envsecrets.core.detect import looks_secret

    for stored in infra.stored_values:
        value = stored.value.strip()
        if not value or value.lower() in STORED_PLACEHOLDERS or value.startswith(("{{", "${")):
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
    # A published Lambda version (None: $LATEST) and the aliases that serve it.
    version: str | None = None
    aliases: tuple[str, ...] = ()
    # Lambda could not decrypt the variables (Environment.Error): none are known.
    environment_error: str | None = None

    @property
    def resource(self) -> str:
        """How findings name it: the function's name (`name:VERSION (alias A)` for a
        published version), or `family:revision`, which `aws ecs describe-task-definition
        --task-definition` and the console accept."""
        if self.kind == "task" and self.revision is not None:
            return f"{self.name}:{self.revision}"
        if self.version is not None:
            served = f" (alias {', '.join(self.aliases)})" if self.aliases else ""
            return f"{self.name}:{self.version}{served}"
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
                    kind = "execution" if role == "execution role" else function.kind
                    kind = "function" if kind == "lambda" else kind
                    function.policies.append(PolicyDocument(attached.document, None, origin, kind))
        found = audit_function(function, ctx)
        if live.environment_error:
            found.append(_unreadable(live))
        findings.extend(replace(f, arn=live.arn or None) for f in found)
    return sort_findings(findings), count


def _unreadable(live: LiveFunction) -> Finding:
    """A function whose variables Lambda could not decrypt for us: not clean, unknown."""
    return Finding(
        "environment-unreadable",
        RULES["environment-unreadable"].severity,
        f"the environment variables of function {live.resource} could not be read "
        f"({live.environment_error}): they may hold secrets the audit cannot see",
        None,
        live.resource,
    )
