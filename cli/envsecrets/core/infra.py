"""One model of the infrastructure a file describes, whatever its format.

Each reader (CloudFormation/SAM in templates.py, serverless.py, ecs.py, terraform.py) turns its
format into an `Infrastructure`: the functions and tasks, their variables, the policy documents
their roles carry, the secrets and Parameter Store parameters the file defines, its parameters,
and the values it stores in clear. `audit` and `policy --template` read only this model.

Expressions keep CloudFormation's long form as the one expression language: `{"Ref": X}`,
`{"Fn::Sub": "..."}`, `{"Fn::GetAtt": [X, attr]}`, `{"Fn::If": [c, a, b]}`, and the
`{{resolve:...}}` dynamic references inside strings. The other readers translate into it
(Terraform's `var.x` is `{"Ref": "var.x"}`, Serverless's `${ssm:/x~true}` is
`{{resolve:ssm-secure:/x}}`), so every rule is written once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

LAMBDA_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
TASK_TYPE = "AWS::ECS::TaskDefinition"
NO_VALUE = "AWS::NoValue"
# Event source access configurations whose URI is a Secrets Manager secret.
SECRET_ACCESS_TYPES = frozenset(
    {
        "BASIC_AUTH",
        "SASL_SCRAM_256_AUTH",
        "SASL_SCRAM_512_AUTH",
        "CLIENT_CERTIFICATE_TLS_AUTH",
        "SERVER_ROOT_CA_CERTIFICATE",
    }
)


class LineDict(dict[str, Any]):
    """A mapping from a file, with the line it starts on and the line of each key."""

    line: int | None = None
    key_lines: dict[str, int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines = {}

    def line_of(self, key: str) -> int | None:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A sequence from a file, with the line it starts on."""

    line: int | None = None


@dataclass(frozen=True)
class EnvVar:
    """One environment variable of a function or container. `value` is None when it is an
    expression (a `!Ref`, a `!Sub`, a Terraform reference ...); `expression` holds it."""

    name: str
    value: str | None
    line: int | None
    expression: Any = None
    container: str | None = None


@dataclass(frozen=True)
class ContainerSecret:
    """An ECS container's `secrets` entry: a variable ECS fills from Secrets Manager or SSM,
    with the task's execution role."""

    name: str
    value_from: Any
    line: int | None
    container: str | None


@dataclass(frozen=True)
class PolicyDocument:
    """A policy document attached (directly or through a role) to a function, and where.

    `role` says whose it is: "function" (a Lambda function's role), "task" (an ECS task role:
    what the code calls) or "execution" (the ECS execution role: what ECS itself reads to
    start the task, such as the containers' `secrets`)."""

    document: Any  # the Statement-holding mapping, or a SAM policy template entry
    line: int | None
    origin: str  # "Policies", "role MyRole", "AWS::IAM::Policy P", ...
    role: str = "function"


@dataclass
class TemplateFunction:
    """A Lambda function or an ECS task definition."""

    logical_id: str
    type: str
    line: int | None
    name: str  # FunctionName/Family when literal, else the logical id
    variables: list[EnvVar] = field(default_factory=list)
    container_secrets: list[ContainerSecret] = field(default_factory=list)
    policies: list[PolicyDocument] = field(default_factory=list)
    managed_policy_arns: list[tuple[Any, int | None]] = field(default_factory=list)
    environment_files: list[tuple[Any, int | None]] = field(default_factory=list)
    # Secrets of its event sources (MQ, Kafka, DocumentDB `SourceAccessConfigurations`):
    # Lambda reads them with the function's role. (URI expression, line, what).
    event_secrets: list[tuple[Any, int | None, str]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "task" if self.type == TASK_TYPE else "lambda"

    def names(self) -> tuple[str, ...]:
        """The names a user may call it by: its literal name and its logical id."""
        return tuple(dict.fromkeys((self.name, self.logical_id)))


@dataclass(frozen=True)
class Parameter:
    """A template parameter (CloudFormation `Parameters`, Terraform `variable`)."""

    name: str
    type: str = "String"
    default: Any = None
    no_echo: bool = False  # NoEcho / sensitive: the value is a secret by the author's word
    line: int | None = None


@dataclass(frozen=True)
class DefinedSecret:
    """A Secrets Manager secret the file creates; `name` is None when AWS generates it."""

    key: str  # the logical id or Terraform address other resources refer to it by
    name: Any
    line: int | None


@dataclass(frozen=True)
class DefinedParameter:
    """A Parameter Store parameter the file creates (or, for Terraform, reads as data)."""

    key: str
    name: Any
    type: str  # String, StringList, SecureString ("" when unknown)
    line: int | None


@dataclass(frozen=True)
class StoredValue:
    """A value the file writes in clear into something that keeps it (a parameter's Value, a
    secret's SecretString, a database's master password). The audit judges it; it is never
    shown."""

    resource: str
    property: str
    value: str = field(repr=False)
    line: int | None
    always_secret: bool = False  # the property holds a credential whatever its name


@dataclass(frozen=True)
class Unread:
    """A part of the file that could not be read (a module call, a task's containers, a
    policy document): the audit reports it instead of calling it clean."""

    key: str  # the resource, module call or function it belongs to
    what: str  # "module", "containers", "policy", "functions" ...
    reason: str
    line: int | None = None


@dataclass
class Infrastructure:
    """What one file (or one Terraform module folder) describes."""

    source: str
    format: str  # cloudformation, serverless, terraform, terraform-plan, ecs
    functions: list[TemplateFunction] = field(default_factory=list)
    secrets: dict[str, DefinedSecret] = field(default_factory=dict)
    parameters: dict[str, Parameter] = field(default_factory=dict)
    ssm_parameters: dict[str, DefinedParameter] = field(default_factory=dict)
    stored_values: list[StoredValue] = field(default_factory=list)
    # Attributes of resources that hold a credential: (key, attribute) -> what it is.
    secret_attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    unread: list[Unread] = field(default_factory=list)
    # CloudFormation's raw `Resources` (dynamic references anywhere in them are audited).
    raw_resources: Any = None
    # For a folder read as one (a Terraform module): the file each key is written in.
    files: dict[str, str] = field(default_factory=dict)

    def file_of(self, key: str | None) -> str:
        """The file that holds `key` (a function, resource or parameter)."""
        return self.files.get(key or "", self.source)

    def secret_name_of(self, key: str) -> str | None:
        """The literal name of the file's own secret `key`, if it has one."""
        secret = self.secrets.get(key)
        return secret.name if secret and isinstance(secret.name, str) else None


# -- walking expressions --------------------------------------------------------------------------
def alternatives(value: Any) -> Iterator[Any]:
    """The values `value` may take: both branches of every `Fn::If` (a statement or policy
    behind a condition is still granted in one of the stacks), none for `AWS::NoValue`."""
    if isinstance(value, dict) and len(value) == 1:
        if "Fn::If" in value:
            branches = value["Fn::If"]
            if isinstance(branches, list) and len(branches) == 3:
                yield from alternatives(branches[1])
                yield from alternatives(branches[2])
                return
        if value.get("Ref") == NO_VALUE:
            return
    yield value


def branches(value: Any, condition: str | None = None) -> Iterator[tuple[Any, str | None]]:
    """Like `alternatives`, with the condition under which each value holds ("when IsProd
    is false"; None when it always does)."""
    if isinstance(value, dict) and len(value) == 1:
        if "Fn::If" in value:
            arms = value["Fn::If"]
            if isinstance(arms, list) and len(arms) == 3:
                for arm, truth in ((arms[1], "true"), (arms[2], "false")):
                    inner = f"{arms[0]} is {truth}"
                    yield from branches(arm, f"{condition} and {inner}" if condition else inner)
                return
        if value.get("Ref") == NO_VALUE:
            return
    yield value, condition


def listed_branches(value: Any, condition: str | None = None) -> list[tuple[Any, str | None]]:
    """`listed`, with each item's condition."""
    found: list[tuple[Any, str | None]] = []
    for item, holds in branches(value, condition):
        if item is None:
            continue
        for entry in item if isinstance(item, list) else [item]:
            found.extend(branches(entry, holds))
    return found


def listed(value: Any) -> list[Any]:
    """A value that may be one item or a list, as a list, with `Fn::If` branches spread."""
    found: list[Any] = []
    for item in alternatives(value):
        if item is None:
            continue
        for entry in item if isinstance(item, list) else [item]:
            found.extend(alternatives(entry))
    return found


def strings_in(value: Any) -> Iterator[str]:
    """Every string inside a value, including the templates of `Fn::Sub`."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def line_of(value: Any, fallback: int | None) -> int | None:
    return getattr(value, "line", None) or fallback


SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
PSEUDO_PARAMETERS = {
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}


def substitute(text: str, values: dict[str, str]) -> str:
    """`text` with each `${Name}` that `values` knows replaced; `${!Literal}` is CloudFormation's
    escape for a literal `${Literal}`. Unknown variables stay as they are."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        return values.get(name.strip(), match.group(0))

    return SUB_VARIABLE.sub(one, text)
