"""Serverless Framework `serverless.yml` (v1 to v4), read into the infrastructure model.

Understood: `provider.environment` and `functions.*.environment`; `${ssm:...}` in its old
(`~true`, `ssm.REGION:`) and new forms (`ssm(REGION, raw):`, v4 resolvers `${name:ssm:...}`),
`${ssm:/aws/reference/secretsmanager/...}`; `${env:X}`, `${opt:X}` and `${param:X}` as
parameters; `${self:...}`, `${sls:stage}`, `${opt:stage, 'dev'}` and `params:` resolved where
the file says; `provider.iam.role.statements`, `provider.iamRoleStatements`,
`provider.iam.role.managedPolicies`, per-function `iamRoleStatements` (the
serverless-iam-roles-per-function plugin); the `resources:` CloudFormation section.
Not understood (their values are unknown, never taken for literals): `${file(...)}`, `${cf:...}`,
`${s3:...}`, plugins' own variables, and TypeScript/JavaScript configurations.

Each Serverless reference becomes the CloudFormation expression that means the same: a value
resolved at deploy time from Secrets Manager is `{{resolve:secretsmanager:NAME}}`, a decrypted
SecureString is `{{resolve:ssm-secure:NAME}}`; so the audit's rules apply unchanged.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envsecrets.core.infra import (
    EnvVar,
    Infrastructure,
    LineDict,
    Parameter,
    PolicyDocument,
    TemplateFunction,
    Unread,
    line_of,
    listed,
)
from envsecrets.core.untrusted import ALIAS_BYTES
from envsecrets.errors import CliError, ExitCode

if TYPE_CHECKING:
    from envsecrets.core.templates import Template

VARIABLE = re.compile(r"\$\{((?:[^${}]|\$(?!\{))*)\}")  # an innermost ${...}
WHOLE = re.compile(r"^\$\{(.*)\}$", re.DOTALL)
SSM = re.compile(r"^(?:[A-Za-z0-9_-]+:)?ssm(?:\(([^)]*)\)|\.[a-z0-9-]+)?:(.*)$", re.DOTALL)
SECRETS_REFERENCE = "/aws/reference/secretsmanager/"
MAX_PASSES = 10  # nested ${...} resolved from the inside out, at most this deep
# Serverless variable sources (v1 to v4, `name:ssm:` being a v4 resolver); anything else in
# `${...}` belongs to CloudFormation (`${AWS::Region}`, `${Stage}` in a !Sub).
SOURCE = re.compile(
    r"^(self|sls|opt|env|param|ssm|file|cf|s3|aws|strToBool|git|[A-Za-z0-9_-]+:ssm)"
    r"[:(.]"
)
KEEP_OPEN = "\x00{"  # stands for a `${` left as written while passes run
UNKNOWN_MARK = "\x01"


# Not `plugins` alone: ecspresso's config has `service` and `plugins` too.
SERVERLESS_KEYS = ("provider", "functions", "frameworkVersion", "custom")
FILE_VARIABLE = re.compile(r"^\$\{file\(([^()${}]+)\)\}$")


def looks_like_serverless(data: Any) -> bool:
    """A serverless.yml: `service` with `provider`, `functions`, `frameworkVersion` or
    `custom` (a service whose functions are elsewhere is still one)."""
    return (
        isinstance(data, dict)
        and isinstance(data.get("service"), str | dict)
        and any(key in data for key in SERVERLESS_KEYS)
    )


def _functions(data: dict[str, Any], source: str, infra: Infrastructure) -> Any:
    """`functions:`, with `${file(functions.yml)}` (whole, or one a list item) read from the
    service's folder (never outside it); what cannot be read is noted, never "no
    functions"."""
    raw = data.get("functions")
    items = raw if isinstance(raw, list) else [raw]
    if not any(isinstance(i, str) for i in items):
        return raw
    merged = LineDict()
    merged.line = line_of(raw, None)
    for item in items:
        if isinstance(item, dict):
            merged.update(item)
            continue
        loaded, path = _local_yaml(item, source) if isinstance(item, str) else (None, None)
        if isinstance(loaded, dict):
            merged.update(loaded)
            infra.files.update({str(key): str(path) for key in loaded})
        elif item is not None:
            infra.unread.append(
                Unread("functions", "functions", f"functions from {item} could not be read")
            )
    return merged


def _local_yaml(text: str, source: str) -> tuple[Any, Path | None]:
    """The YAML of `${file(x.yml)}`, read from the service's folder only."""
    from envsecrets.core.templates import load_yaml
    from envsecrets.core.untrusted import read_limited

    found = FILE_VARIABLE.match(text.strip())
    if not found or not source:
        return None, None
    relative = found.group(1).strip().strip("'\"")
    folder = Path(source).parent
    path = folder / relative
    if relative.startswith("/") or not path.resolve().is_relative_to(folder.resolve()):
        return None, None
    if not path.is_file():
        return None, None
    return load_yaml(read_limited(path, "file"), str(path)), path


class _Variables:
    """Serverless's `${...}` variables, resolved where the file itself says the value."""

    def __init__(self, data: dict[str, Any], values: dict[str, str], source: str = "") -> None:
        self.data = data
        self.values = values
        provider = _mapping(data.get("provider"))
        self.stage = values.get("stage") or self._stage(provider.get("stage"))
        self.parameters: dict[str, Parameter] = {}
        self._depth = 0
        self._expanded = 0
        self.source = source

    def _stage(self, raw: Any) -> str:
        if isinstance(raw, str) and "${" not in raw:
            return raw
        if isinstance(raw, str):
            # `${opt:stage, 'dev'}`: the default of the fallback is the stage when none is given.
            fallback = re.search(r",\s*['\"]?([A-Za-z0-9_-]+)['\"]?\s*\}", raw)
            if fallback:
                return fallback.group(1)
        return "dev"

    def value(self, raw: Any, *, wrap: bool = True) -> Any:
        """A value with its variables resolved: a literal, or an expression. Inside a
        CloudFormation intrinsic (`!Sub`), unknown `${...}` stay text: they are its own."""
        if isinstance(raw, str) and "${" in raw:
            return self.text(raw, wrap=wrap)
        if isinstance(raw, dict):
            inner = wrap and not any(str(k).startswith(("Fn::", "Ref")) for k in raw)
            resolved = LineDict({k: self.value(v, wrap=inner) for k, v in raw.items()})
            resolved.line = getattr(raw, "line", None)
            resolved.key_lines = dict(getattr(raw, "key_lines", {}))
            return resolved
        if isinstance(raw, list):
            return [self.value(v, wrap=wrap) for v in raw]
        return raw

    def text(self, raw: str, *, wrap: bool = True) -> Any:
        current: Any = raw
        for _ in range(MAX_PASSES):
            if not isinstance(current, str):
                break
            whole = WHOLE.match(current)
            if whole and not VARIABLE.search(whole.group(1)):
                resolved = self.one(whole.group(1))
                if resolved is None:
                    break
                return resolved if wrap or isinstance(resolved, str) else current
            replaced = VARIABLE.sub(lambda m: self._inline(m.group(1)), current)
            if replaced == current:
                break
            current = replaced
        current = current.replace(KEEP_OPEN, "${") if isinstance(current, str) else current
        if wrap and isinstance(current, str) and UNKNOWN_MARK in current:
            return {"Fn::Sub": current.replace(UNKNOWN_MARK, "")}
        return current.replace(UNKNOWN_MARK, "") if isinstance(current, str) else current

    def _inline(self, body: str) -> str:
        resolved = self.one(body)
        if isinstance(resolved, str):
            return resolved
        if resolved is None:
            return KEEP_OPEN + body + "}"  # not ours (`${AWS::Region}`): left as written
        if isinstance(resolved, dict) and "Ref" in resolved:
            # An unknown value inside a longer string, marked so that no pass reads it again.
            return UNKNOWN_MARK + KEEP_OPEN + str(resolved["Ref"]).replace("$", "") + "}"
        return UNKNOWN_MARK + KEEP_OPEN + "unknown}"

    def one(self, body: str) -> Any:
        """One variable's value (`self:...`, `ssm:...`, `env:X` ...), with `, fallback`; None
        when `${body}` is not a Serverless variable at all (CloudFormation's `${AWS::Region}`)."""
        options = _split_fallbacks(body)
        first = options[0].strip()
        if not SOURCE.match(first):
            return None
        for option in options:
            resolved = self._source(option.strip())
            if resolved is not None:
                return resolved
        literal = options[-1].strip() if len(options) > 1 else None
        if literal and literal[:1] in "'\"" and literal[-1:] == literal[:1]:
            return literal[1:-1]
        return {"Ref": first}

    def _source(self, option: str) -> Any:
        if option.startswith("self:"):
            return self._self(option[5:])
        if option in ("sls:stage", "opt:stage", "self:provider.stage"):
            return self.stage
        if option.startswith(("env:", "opt:", "param:")):
            return self._parameter(option)
        ssm = SSM.match(option)
        if ssm:
            return _ssm(ssm.group(1) or "", ssm.group(2).strip())
        return None

    def _self(self, path: str) -> Any:
        current: Any = self.data
        for part in path.split("."):
            if not isinstance(current, dict) or part not in current:
                return None
            current = current[part]
        if self._depth >= MAX_PASSES:
            return None  # `a: ${self:b}`, `b: ${self:a}`: a loop has no value
        self._depth += 1
        try:
            resolved = self.value(current)
        finally:
            self._depth -= 1
        if isinstance(resolved, str):
            # Each `${self:...}` copies its value: a large one copied thousands of times is
            # an expansion bomb, like YAML aliases.
            self._expanded += len(resolved)
            if self._expanded > ALIAS_BYTES:
                raise CliError(
                    ExitCode.USAGE,
                    f"{self.source}: refused: Serverless variables expand to more than "
                    f"{ALIAS_BYTES // 2**20} MiB (an expansion bomb?)",
                    "fix the file, or check it with `serverless print`",
                )
        return resolved

    def _parameter(self, option: str) -> Any:
        kind, _, name = option.partition(":")
        if kind == "param":
            found = self._param(name)
            if found is not None:
                return found
        if option in self.values:
            return self.values[option]
        if name in self.values:
            return self.values[name]
        self.parameters.setdefault(option, Parameter(option))
        return None

    def _param(self, name: str) -> Any:
        params = self.data.get("params")
        if not isinstance(params, dict):
            return None
        for stage in (self.stage, "default"):
            scope = params.get(stage)
            if isinstance(scope, dict) and name in scope:
                return self.value(scope[name])
        return None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _split_fallbacks(body: str) -> list[str]:
    """`a, b, 'c'` -> ["a", "b", "'c'"] (commas inside quotes or parentheses are kept)."""
    parts, depth, quote, start = [], 0, "", 0
    for index, char in enumerate(body):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(body[start:index])
            start = index + 1
    parts.append(body[start:])
    return parts


def _ssm(options: str, path: str) -> str:
    """A Serverless SSM reference as the CloudFormation dynamic reference it amounts to."""
    decrypt = path.endswith("~true")
    path = path.removesuffix("~true").removesuffix("~false").strip()
    if path.startswith(SECRETS_REFERENCE):
        return "{{resolve:secretsmanager:" + path.removeprefix(SECRETS_REFERENCE) + "}}"
    # v1 needed `~true` to decrypt; since v3 SecureStrings are decrypted unless `noDecrypt`.
    if decrypt:
        return "{{resolve:ssm-secure:" + path + "}}"
    if "noDecrypt" in options:
        return "{{resolve:ssm:" + path + "}}"
    return "{{resolve:ssm:" + path + "}}"


def read_serverless(data: dict[str, Any], source: str, values: dict[str, str]) -> Infrastructure:
    """The model of a serverless.yml (`values`: --parameter KEY=VALUE, e.g. stage=prod)."""
    from envsecrets.core.templates import Template, read_cloudformation

    variables = _Variables(data, values, source)
    infra = Infrastructure(source, "serverless")
    provider = _mapping(data.get("provider"))
    shared_env = variables.value(provider.get("environment"))
    shared = _statements(provider, variables)
    managed = _managed(provider, variables)
    functions = _functions(data, source, infra)
    provider_role = _role_value(provider, variables)
    custom_roles: list[tuple[TemplateFunction, Any]] = []
    for key, body in functions.items() if isinstance(functions, dict) else ():
        if not isinstance(body, dict):
            continue
        function = _function(str(key), body, functions, shared_env, shared, managed, variables)
        infra.functions.append(function)
        own_role = variables.value(body.get("role"))
        custom_roles.append((function, provider_role if own_role is None else own_role))
    resources = data.get("resources")
    template = Template(source, LineDict())
    if isinstance(resources, dict) and isinstance(resources.get("Resources"), dict):
        fragment = LineDict({"Resources": variables.value(resources["Resources"])})
        if isinstance(resources.get("Parameters"), dict):
            fragment["Parameters"] = resources["Parameters"]
        template = Template(source, fragment)
        defined = read_cloudformation(template)
        infra.functions.extend(defined.functions)
        infra.secrets.update(defined.secrets)
        infra.ssm_parameters.update(defined.ssm_parameters)
        infra.stored_values.extend(defined.stored_values)
        infra.secret_attributes.update(defined.secret_attributes)
        infra.parameters.update(defined.parameters)
        infra.unread.extend(defined.unread)
    for function, role in custom_roles:
        _custom_role(function, role, template, infra)
    infra.parameters.update(variables.parameters)
    return infra


def _role_value(provider: dict[str, Any], variables: _Variables) -> Any:
    """The service's custom role: `provider.iam.role: Name` (v3+, a name or `!GetAtt`, not
    the mapping of statements) or `provider.role` (v1/v2); None for the role Serverless
    makes."""
    from envsecrets.core.templates import role_ref

    role = _mapping(provider.get("iam")).get("role")
    if role is None or (isinstance(role, dict) and not role_ref(role)):
        role = provider.get("role")
    return variables.value(role)


def _custom_role(
    function: TemplateFunction, role: Any, template: Template, infra: Infrastructure
) -> None:
    """A function that runs with a role of the `resources:` section (`role: OwnRole`,
    `role: !GetAtt OwnRole.Arn`, or the provider's) carries that role's policies, read as
    a CloudFormation role's. A role named that the file does not define is noted: its
    policies are unknown. An ARN (a role made elsewhere) is not this file's to judge."""
    from envsecrets.core.templates import attach_template_role, role_ref

    if role is None or (isinstance(role, str) and (role.startswith("arn:") or "${" in role)):
        return
    name = role if isinstance(role, str) else role_ref(role)
    if name is None:
        return
    if not attach_template_role(function, name, template):
        infra.unread.append(
            Unread(
                function.logical_id,
                "policy",
                f"its role {name} is not a role of the file's resources: its policies are unknown",
                function.line,
            )
        )


def _function(
    key: str,
    body: dict[str, Any],
    functions: Any,
    shared_env: Any,
    shared: list[PolicyDocument],
    managed: list[tuple[Any, int | None]],
    variables: _Variables,
) -> TemplateFunction:
    line = functions.key_lines.get(key) if isinstance(functions, LineDict) else None
    function = TemplateFunction(key, "AWS::Lambda::Function", line or line_of(body, None), key)
    own = variables.value(body.get("environment"))
    names = set(own) if isinstance(own, dict) else set()
    for source in (shared_env, own):
        if not isinstance(source, dict):
            continue
        lines = getattr(source, "key_lines", {})
        for name, value in source.items():
            if source is shared_env and name in names:
                continue  # the function's own value wins
            literal = value if isinstance(value, str) else None
            if isinstance(value, bool | int | float):
                literal = str(value)
            function.variables.append(
                EnvVar(str(name), literal, lines.get(name), None if literal else value)
            )
    statements = body.get("iamRoleStatements")
    if statements is not None:
        document = LineDict({"Statement": variables.value(statements)})
        document.line = line_of(statements, function.line)
        function.policies.append(PolicyDocument(document, document.line, "iamRoleStatements"))
    # A function with its own `role:` runs with that role: the provider's statements and
    # managed policies belong to the service role, which it does not use.
    if body.get("role") is None and (
        statements is None or body.get("iamRoleStatementsInherit") is True
    ):
        function.policies.extend(shared)
        function.managed_policy_arns.extend(managed)
    function.event_secrets.extend(_event_secrets(body, variables))
    return function


# Event sources whose credentials Lambda reads from Secrets Manager with the function's role.
KAFKA_SECRETS = (
    "saslPlainAuth",
    "saslScram256Auth",
    "saslScram512Auth",
    "clientCertificateTlsAuth",
    "serverRootCaCertificate",
)


def _event_secrets(
    body: dict[str, Any], variables: _Variables
) -> list[tuple[Any, int | None, str]]:
    """`activemq`/`rabbitmq` `basicAuthArn`, `kafka` `accessConfigurations`, `msk`
    `saslScram512`."""
    found: list[tuple[Any, int | None, str]] = []
    for event in listed(body.get("events")):
        if not isinstance(event, dict):
            continue
        for kind, raw in event.items():
            spec = _mapping(variables.value(raw))
            line = line_of(raw, line_of(event, None))
            wanted: list[tuple[str, Any]] = []
            if kind in ("activemq", "rabbitmq"):
                wanted.append(("basicAuthArn", spec.get("basicAuthArn")))
            elif kind == "msk":
                wanted.append(("saslScram512", spec.get("saslScram512")))
            elif kind == "kafka":
                access = _mapping(spec.get("accessConfigurations"))
                wanted.extend((key, access.get(key)) for key in KAFKA_SECRETS)
            for key, value in wanted:
                found.extend((item, line, f"{kind} {key}") for item in listed(value))
    return found


def _statements(provider: dict[str, Any], variables: _Variables) -> list[PolicyDocument]:
    """The service role's statements: `provider.iam.role.statements` (v3+) or
    `provider.iamRoleStatements` (v1/v2)."""
    found: list[PolicyDocument] = []
    role = _mapping(_mapping(provider.get("iam")).get("role"))
    for raw, origin in (
        (role.get("statements"), "provider.iam.role.statements"),
        (provider.get("iamRoleStatements"), "provider.iamRoleStatements"),
    ):
        if raw is not None:
            document = LineDict({"Statement": variables.value(raw)})
            document.line = line_of(raw, None)
            found.append(PolicyDocument(document, document.line, origin))
    return found


def _managed(provider: dict[str, Any], variables: _Variables) -> list[tuple[Any, int | None]]:
    role = _mapping(_mapping(provider.get("iam")).get("role"))
    found: list[tuple[Any, int | None]] = []
    for raw in (role.get("managedPolicies"), provider.get("iamManagedPolicies")):
        for arn in listed(raw):
            found.append((variables.value(arn), line_of(raw, None)))
    return found
