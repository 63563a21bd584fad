"""Which secrets a function or task reads, according to the file that defines it.

`secrets policy --template` grants exactly these. A reference counts whatever the secret's name
(`gateway/password` as much as `prod/api/key`): a name or an ARN (partial, full, or with an
ECS JSON-key suffix) in a variable that names a secret, a `{{resolve:secretsmanager:...}}`,
a `!Ref`/`!GetAtt` of the file's own secret, a `!Sub` over template parameters, a SAM
`AWSSecretsManagerGetSecretValuePolicy`, an exact grant the function's role already has, and an
ECS container's `secrets` (read by the execution role, not the task role).

A reference that cannot become one exact secret is returned as `Unresolved`, with the reason:
a wildcard, a parameter without a value, a value imported from another stack, a secret of
another environment. Nothing is dropped silently.

ARNs: AWS appends `-` and six random characters to a secret's name to make its ARN. Names may
end the same way (`prod/jwt-secret`), so a trailing `-XXXXXX` is taken as AWS's suffix only in
an ARN, and only when the six characters look random (a digit or a capital letter among them):
`arn:...:secret:prod/jwt-secret` names `prod/jwt-secret`; `...:secret:prod/jwt-AbC123` is the
full ARN of `prod/jwt`. Six letters without a digit may be either: both are granted.

Over 500 lines: the resolver (expressions to text, text to a secret) and the walk over a
function's variables, container secrets, event sources and policies are one piece of logic.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from envsecrets.core.infra import (
    Infrastructure,
    TemplateFunction,
    alternatives,
    listed,
    substitute,
)

AWS_SUFFIX = re.compile(r"-([A-Za-z0-9]{6})$")
SECRET_ARN = re.compile(
    r"^arn:(?P<partition>[^:]*):secretsmanager:(?P<region>[^:]*):(?P<account>[^:]*):secret:"
    r"(?P<rest>.+)$",
    re.DOTALL,
)
RESOLVE_SECRET = re.compile(r"\{\{resolve:secretsmanager:(?P<id>.+?)\}\}", re.DOTALL)
SECRET_NAME_CHARS = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
UNRESOLVED_VARIABLE = re.compile(r"\$\{([^}]*)\}")
# What ECS appends to a secret's ARN to take one JSON key: `:key:stage:version-id`.
JSON_KEY = re.compile(r":[^:]*:[^:]*:[^:]*")
OWN_WITH_JSON_KEY = re.compile(r"^\$\{([A-Za-z0-9]+)\}(?::[^:]*:[^:]*:[^:]*)?$")
PSEUDO = re.compile(r"\$\{AWS::(\w+)\}")
# Words in a variable's name that say its value points at a secret (`DB_SECRET_ARN`).
SECRET_WORDS = frozenset({"secret", "secrets", "credential", "credentials", "creds"})
READ_ACTION = "secretsmanager:getsecretvalue"
# Environment names common enough to count as environments when secrets.toml declares none.
WELL_KNOWN_ENVIRONMENTS = frozenset(
    {
        "prod",
        "production",
        "prd",
        "staging",
        "stage",
        "stg",
        "dev",
        "development",
        "test",
        "testing",
        "qa",
        "uat",
        "sandbox",
        "preprod",
        "demo",
        "local",
    }
)


# Names of one environment: `prod/...` read by a `production` stage is its own environment.
SAME_ENVIRONMENT = {
    "production": "prod",
    "prd": "prod",
    "staging": "stg",
    "stage": "stg",
    "development": "dev",
    "testing": "test",
}


def same_environment(one: str, other: str) -> bool:
    """`prod` and `production` (and `stg`/`staging`, `dev`/`development`) are one."""
    return SAME_ENVIRONMENT.get(one.lower(), one.lower()) == SAME_ENVIRONMENT.get(
        other.lower(), other.lower()
    )


def aws_suffix(name: str) -> str | None:
    """AWS's random ARN suffix at the end of `name` (the part of an ARN after `secret:`), or
    None when the last six characters look like a word (`jwt-secret`, `db-master`)."""
    found = AWS_SUFFIX.search(name)
    if found and any(c.isdigit() or c.isupper() for c in found.group(1)):
        return found.group(1)
    return None


@dataclass(frozen=True)
class ParsedArn:
    """A secret's ARN as written: the secret's name, and the ARN's other fields."""

    name: str
    partition: str
    region: str
    account: str
    full: str | None  # the ARN up to and with AWS's suffix, when it has one


def parse_secret_arn(text: str) -> ParsedArn | None:
    """Split `arn:<p>:secretsmanager:<r>:<a>:secret:<name>[-SUFFIX][:json-key:stage:id]`."""
    found = SECRET_ARN.match(text)
    if not found:
        return None
    name = found.group("rest").split(":", 1)[0]
    suffix = aws_suffix(name)
    full = None
    if suffix:
        full = text[: found.start("rest")] + name
        name = name[: -len(suffix) - 1]
    return ParsedArn(
        name, found.group("partition"), found.group("region"), found.group("account"), full
    )


def resolve_id(text: str) -> str:
    """The secret id of a `{{resolve:secretsmanager:ID:SecretString:key:stage:version}}`."""
    if text.startswith("arn:"):
        return ":".join(text.split(":")[:7])
    return text.split(":", 1)[0]


@dataclass(frozen=True)
class SecretRead:
    """One secret a function or task reads: by exact name, by full ARN, or the file's own."""

    role: str  # "function", "task" or "execution"
    source: str  # where it was found: "variable DB_SECRET", "container secret X" ...
    name: str | None = None
    own: str | None = None  # the key of the file's own secret (named by `!Ref` in templates)
    arn: str | None = None  # a full ARN, exactly as the resource
    partition: str | None = None
    region: str | None = None
    account: str | None = None


@dataclass(frozen=True)
class Unresolved:
    """A reference that names no single secret, and why."""

    role: str
    source: str
    reference: str
    reason: str


@dataclass
class Reads:
    """What `function_reads` found."""

    reads: list[SecretRead] = field(default_factory=list)
    unresolved: list[Unresolved] = field(default_factory=list)

    def add(self, item: SecretRead | Unresolved) -> None:
        """Keep the first of each secret (or reason) per role, wherever else it is found."""
        target: list[Any] = self.reads if isinstance(item, SecretRead) else self.unresolved
        if not any(_same(item, known) for known in target):
            target.append(item)


def _same(one: SecretRead | Unresolved, other: SecretRead | Unresolved) -> bool:
    return replace(one, source="") == replace(other, source="")


@dataclass(frozen=True)
class Scope:
    """What the references are resolved against: the environment the policy is for, known
    environments, parameter values (`--parameter`, else defaults) and pseudo parameters."""

    env: str
    environments: frozenset[str] = frozenset()
    values: dict[str, str] = field(default_factory=dict)


def _words(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    return [w for w in re.split(r"[^a-z0-9]+", spaced) if w]


REFERENCE_WORDS = frozenset({"arn", "arns", "name", "names", "id", "ids"})


def names_a_secret(variable: str) -> bool:
    """A variable whose name is about a secret (`DB_SECRET_ARN`, `DB_USER_SECRET`,
    `STRIPE_SECRET_KEY`): its value may be a secret's name, or the secret itself."""
    return bool(SECRET_WORDS.intersection(_words(variable)))


def names_a_reference(variable: str) -> bool:
    """A variable whose name says its value is a secret's name or ARN (`DB_SECRET_ARN`,
    `STRIPE_SECRET_NAME`, `SECRET_ID`), never the secret itself."""
    words = _words(variable)
    return bool(SECRET_WORDS.intersection(words)) and bool(words) and words[-1] in REFERENCE_WORDS


class _Resolver:
    def __init__(self, function: TemplateFunction, infra: Infrastructure, scope: Scope) -> None:
        self.function, self.infra, self.scope = function, infra, scope
        self._depth = 0
        self.values = dict(scope.values)
        for name, parameter in infra.parameters.items():
            if parameter.no_echo:
                continue  # a secret's default is a value, never a name to print or grant
            if name not in self.values and isinstance(parameter.default, str | int):
                self.values[name] = str(parameter.default)

    # -- expressions to text -----------------------------------------------------------------
    def texts(self, value: Any) -> Iterator[str | SecretRead | Unresolved | None]:
        """Each alternative of an expression as text (None when it is not about a secret)."""
        for alt in alternatives(value):
            yield self._text(alt)

    def _text(self, value: Any) -> str | SecretRead | Unresolved | None:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, dict) or len(value) != 1:
            return None
        ((key, arg),) = value.items()
        if key == "Ref":
            return self._ref(str(arg))
        if key == "Fn::GetAtt" and isinstance(arg, list) and arg:
            return self._own(str(arg[0]))
        if key == "Fn::Sub":
            return self._sub(arg)
        if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
            return self._join(arg[0], arg[1])
        if key == "Fn::ImportValue":
            return Unresolved(
                "", "", _short(arg), "imported from another stack: its value is not in this file"
            )
        return None

    def _own(self, key: str) -> SecretRead | None:
        secret = self.infra.secrets.get(key)
        if secret is None:
            return None
        name = secret.name if isinstance(secret.name, str) else None
        if secret.name is not None and name is None and self._depth < 3:
            # `Name: !Sub "${Stage}/orders/stripe"`: known once the parameters are.
            self._depth += 1
            try:
                text = self._text(secret.name)
            finally:
                self._depth -= 1
            name = text if isinstance(text, str) and "${" not in text else None
        return SecretRead("", "", name=name, own=key)

    def _ref(self, name: str) -> str | SecretRead | Unresolved | None:
        own = self._own(name)
        if own is not None:
            return own
        if name in self.values:
            return self.values[name]
        if name in self.infra.parameters:
            return Unresolved(
                "", "", name, f"parameter {name} has no value: pass --parameter {name}=VALUE"
            )
        return None

    def _sub(self, arg: Any) -> str | SecretRead | None:
        template, variables = (
            (arg[0], arg[1])
            if isinstance(arg, list) and len(arg) == 2
            else (
                arg,
                {},
            )
        )
        if not isinstance(template, str):
            return None
        own = OWN_WITH_JSON_KEY.match(template)
        if own and own.group(1) in self.infra.secrets:
            # `!Sub "${DbSecret}:username::"`: the own secret's ARN with an ECS JSON key.
            return self._own(own.group(1))
        values = dict(self.values)
        if isinstance(variables, dict):
            for name, item in variables.items():
                text = self._text(item)
                if isinstance(text, str):
                    values[name] = text
        # `${Secret}` of the file's own secret is its ARN: keep the name where we know it.
        for key in self.infra.secrets:
            name = self.infra.secret_name_of(key)
            if name and key not in values:
                values[key] = name
        # Unknown pseudo parameters (${AWS::Region}) hold colons that would break the ARN.
        return PSEUDO.sub(r"${\1}", substitute(template, values))

    def _join(self, separator: Any, parts: Any) -> str | SecretRead | None:
        if not isinstance(separator, str) or not isinstance(parts, list):
            return None
        first = self._text(parts[0]) if parts else None
        if isinstance(first, SecretRead) and all(isinstance(p, str) for p in parts[1:]):
            rest = "".join(separator + p for p in parts[1:])
            if not rest or JSON_KEY.fullmatch(rest):
                # `!Join ["", [!Ref DbSecret, ":password::"]]` (CDK): the own secret, one key.
                return first
        texts = []
        for part in parts:
            text = self._text(part)
            if isinstance(part, dict) and str(part.get("Ref", "")).startswith("AWS::"):
                text = self.values.get(part["Ref"], "${" + part["Ref"][5:] + "}")
            texts.append(text if isinstance(text, str) else "${?}")
        return separator.join(texts)

    # -- text to a secret ----------------------------------------------------------------------
    def own_read(self, read: SecretRead, role: str, source: str) -> SecretRead | Unresolved:
        """The file's own secret, unless its literal name belongs to another environment."""
        problem = self._problem(read.name) if read.name else None
        if problem:
            return Unresolved(role, source, read.name or "", problem)
        return SecretRead(role, source, name=read.name, own=read.own)

    def read(
        self, text: str, role: str, source: str, *, bare_names: bool, paths: bool = False
    ) -> Any:
        """A SecretRead or Unresolved for one reference's text; None when the text is not a
        reference to a secret (a plain value, an SSM parameter name). `bare_names`: any text
        is a name; `paths`: a text with a `/` is."""
        text = text.strip()
        resolved = RESOLVE_SECRET.search(text)
        if resolved:
            text = resolve_id(resolved.group("id").strip())
        elif text.startswith("/aws/reference/secretsmanager/"):
            text = text.removeprefix("/aws/reference/secretsmanager/")
        elif "{{resolve:" in text:
            return None
        arn = parse_secret_arn(text) if text.startswith("arn:") else None
        if text.startswith("arn:") and arn is None:
            return None  # another service's ARN
        if (
            arn is None
            and not bare_names
            and not self._env_name(text)
            and not (paths and "/" in text)
        ):
            return None
        name = arn.name if arn else text
        problem = self._problem(name)
        if problem:
            return Unresolved(role, source, text, problem)
        if arn is None:
            return SecretRead(role, source, name=name)
        fixed = [
            value if pattern.fullmatch(value) else None
            for value, pattern in zip(
                (arn.partition, arn.region, arn.account), ARN_FIELDS, strict=True
            )
        ]
        read = SecretRead(
            role,
            source,
            name=name,
            arn=arn.full if arn.full and None not in fixed else None,
            partition=fixed[0],
            region=fixed[1],
            account=fixed[2],
        )
        suffix = aws_suffix(arn.full.rsplit(":", 1)[-1]) if read.arn and arn.full else None
        if suffix and not any(c.isdigit() for c in suffix):
            # `...:secret:prod/api-OpenAI`: AWS's suffix, or a name that ends so? Both are
            # granted, each naming one secret: the ARN as written, and `prod/api-OpenAI-??????`.
            return [read, replace(read, name=f"{name}-{suffix}", arn=None)]
        return read

    def _env_name(self, text: str) -> bool:
        env, sep, path = text.partition("/")
        return bool(sep and path) and env == self.scope.env

    def _problem(self, name: str) -> str | None:
        variable = UNRESOLVED_VARIABLE.search(name)
        if variable:
            needed = variable.group(1)
            if needed in self.infra.parameters:
                return f"parameter {needed} has no value: pass --parameter {needed}=VALUE"
            return f"depends on {needed}, whose value is not in this file"
        if "*" in name or "?" in name:
            return "a wildcard: a least-privilege policy names each secret"
        if not SECRET_NAME_CHARS.fullmatch(name):
            return "not a valid secret name (letters, digits and /_+=.@- only)"
        env = name.partition("/")[0]
        if (
            "/" in name
            and not same_environment(env, self.scope.env)
            and env in self.scope.environments
        ):
            return f"a secret of environment {env}, not {self.scope.env}"
        return None


# What a full ARN's partition, region and account must look like to be copied into a policy
# (`{{must_env ...}}`, `${AWS::Region}`, `*` are not: the environment's are used instead).
ARN_FIELDS = (
    re.compile(r"aws(?:-[a-z]+)*"),
    re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d+"),
    re.compile(r"\d{12}"),
)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else type(value).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def function_reads(function: TemplateFunction, infra: Infrastructure, scope: Scope) -> Reads:
    """Every secret `function` reads, and every reference that names no single secret."""
    resolver = _Resolver(function, infra, scope)
    found = Reads()
    runtime = "task" if function.kind == "task" else "function"
    from envsecrets.core.detect import looks_secret

    for var in function.variables:
        where = f"variable {var.name}"
        if var.value is not None and looks_secret(var.name, var.value) is not None:
            continue  # a secret value (`AWS_SECRET_ACCESS_KEY=wJal.../K7...`) is no name
        value = var.value if var.value is not None else var.expression
        _collect(
            found,
            resolver,
            value,
            runtime,
            where,
            bare_names=names_a_reference(var.name),
            paths=names_a_secret(var.name),
        )
    for secret in function.container_secrets:
        where = f"container secret {secret.name}"
        _collect(found, resolver, secret.value_from, "execution", where, bare_names=False)
        for parameter in _parameters_read(resolver, secret.value_from, infra):
            # The execution role needs ssm:GetParameters on it: never "needs no policy".
            found.add(Unresolved("execution", where, parameter, PARAMETER_STORE))
    for uri, _line, what in function.event_secrets:
        _collect(found, resolver, uri, runtime, f"event source {what}", bare_names=True)
    for policy in function.policies:
        for document in alternatives(policy.document):
            _policy_reads(found, resolver, document, policy.role)
    _merge_names(found)
    return found


PARAMETER_STORE = (
    "a Parameter Store parameter: grant the execution role ssm:GetParameters on "
    "arn:aws:ssm:REGION:ACCOUNT:parameter/NAME (and kms:Decrypt for a customer-managed key); "
    "this policy covers Secrets Manager only"
)


def _parameters_read(resolver: _Resolver, value_from: Any, infra: Infrastructure) -> list[str]:
    """The Parameter Store parameters an ECS `valueFrom` names (ECS's rule: a `parameter/`
    ARN, or a bare name), or the file's own parameter by reference."""
    found: list[str] = []
    for alt in alternatives(value_from):
        ref = alt.get("Ref") if isinstance(alt, dict) else None
        if isinstance(ref, str) and ref in infra.ssm_parameters:
            name = infra.ssm_parameters[ref].name
            found.append(name if isinstance(name, str) else ref)
            continue
        text = resolver._text(alt)
        if not isinstance(text, str) or "{{resolve:" in text:
            continue
        if text.startswith("arn:"):
            if ":ssm:" in text and ":parameter" in text:
                found.append(text)
        elif text.strip() and not JSON_KEY.search(text):
            found.append(text.strip())
    return found


def _merge_names(found: Reads) -> None:
    """A secret read by bare name and also granted by an ARN that names its region or account
    is that ARN's secret: one statement, in the ARN's region. One read by name that is also
    the file's own secret is that secret (named by `!Ref` in template formats, never also by
    a guessed pattern)."""
    placed = {(r.role, r.name) for r in found.reads if r.region or r.account or r.arn or r.own}
    found.reads = [
        r
        for r in found.reads
        if r.region or r.account or r.arn or r.own or (r.role, r.name) not in placed
    ]


def _collect(
    found: Reads,
    resolver: _Resolver,
    value: Any,
    role: str,
    where: str,
    *,
    bare_names: bool,
    paths: bool = False,
) -> None:
    for text in resolver.texts(value):
        if isinstance(text, SecretRead):
            found.add(resolver.own_read(text, role, where))
        elif isinstance(text, Unresolved):
            if bare_names:
                found.add(Unresolved(role, where, text.reference, text.reason))
        elif isinstance(text, str):
            item = resolver.read(text, role, where, bare_names=bare_names, paths=paths)
            for one in item if isinstance(item, list) else [item] if item else []:
                found.add(one)


def _policy_reads(found: Reads, resolver: _Resolver, document: Any, role: str) -> None:
    """Exact secrets the role is already granted (a SAM policy template or a statement)."""
    if not isinstance(document, dict):
        return
    template = document.get("AWSSecretsManagerGetSecretValuePolicy")
    if isinstance(template, dict):
        _resources(found, resolver, template.get("SecretArn"), role, "SAM policy template")
        return
    for statement in listed(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = [str(a).lower() for a in listed(statement.get("Action"))]
        if not any(fnmatch.fnmatchcase(READ_ACTION, a) for a in actions):
            # `secretsmanager:Get*` reads too; wildcard resources are the audit's business.
            continue
        for resource in listed(statement.get("Resource")):
            _resources(found, resolver, resource, role, "a statement of its role")


def _resources(found: Reads, resolver: _Resolver, value: Any, role: str, where: str) -> None:
    for text in resolver.texts(value):
        if isinstance(text, SecretRead):
            found.add(resolver.own_read(text, role, where))
        elif isinstance(text, Unresolved):
            found.add(Unresolved(role, where, text.reference, text.reason))
        elif isinstance(text, str) and text.startswith("arn:"):
            if text.endswith("-??????"):
                text = text[:-7]
            elif text.endswith("-*") and "*" not in text[:-2] and "?" not in text[:-2]:
                # `...:secret:gateway/password-*`, AWS's documented idiom for one secret
                # whatever its suffix: that secret, granted as `-??????`.
                text = text[:-2]
            item = resolver.read(text, role, where, bare_names=False)
            for one in item if isinstance(item, list) else [item] if item else []:
                found.add(one)


def known_environments(declared: Iterable[str]) -> frozenset[str]:
    """The words that count as environments: those `secrets.toml` declares, else common
    environment names (so `gateway/password` is never "another environment")."""
    names = frozenset(declared)
    return names or WELL_KNOWN_ENVIRONMENTS
