"""SAM and CloudFormation templates: read them (YAML or JSON, with the intrinsic-function tags)
and find their functions, tasks, environment variables and the policies their roles carry.

Short-form tags (`!Ref X`, `!GetAtt A.B`, `!Sub '...'`) become the long form (`{"Ref": "X"}`,
`{"Fn::GetAtt": ["A", "B"]}`), so YAML and JSON templates look the same to the audit. Every
mapping and list remembers the line it started on, and every mapping the lines of its keys,
so that a finding can say where it is.

cfn-lint also parses templates with line marks, but it is a 30 MB dev tool that pulls in the
whole CloudFormation spec; a SafeLoader subclass with a constructor per tag is all we need.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from envsecrets.errors import CliError, ExitCode

LAMBDA_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
TASK_TYPE = "AWS::ECS::TaskDefinition"
ROLE_TYPE = "AWS::IAM::Role"
POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
SECRET_TYPE = "AWS::SecretsManager::Secret"  # noqa: S105 - a resource type, not a password

# The short forms CloudFormation accepts; `!GetAtt` and `!Ref`/`!Condition` are special-cased.
INTRINSICS = (
    "Base64",
    "Cidr",
    "FindInMap",
    "GetAZs",
    "ImportValue",
    "Join",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "And",
    "Equals",
    "If",
    "Not",
    "Or",
    "ToJsonString",
    "Length",
)


class LineDict(dict[str, Any]):
    """A mapping from a template, with the line it starts on and the line of each key."""

    line: int | None = None
    key_lines: dict[str, int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines = {}

    def line_of(self, key: str) -> int | None:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A sequence from a template, with the line it starts on."""

    line: int | None = None


class _TemplateLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's tags and line marks (1-based)."""


def _construct_mapping(loader: _TemplateLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[str(key)] = loader.construct_object(value_node, deep=True)
        result.key_lines[str(key)] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _TemplateLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    return result


def _construct_value(loader: _TemplateLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return _construct_sequence(loader, node)
    if isinstance(node, yaml.MappingNode):
        return _construct_mapping(loader, node)
    raise yaml.constructor.ConstructorError(None, None, "unexpected node", node.start_mark)


def _intrinsic(long_name: str) -> Any:
    def construct(loader: _TemplateLoader, node: yaml.Node) -> LineDict:
        value = _construct_value(loader, node)
        if long_name == "Fn::GetAtt" and isinstance(value, str):
            # `!GetAtt Role.Arn` is `{"Fn::GetAtt": ["Role", "Arn"]}`.
            value = LineList(value.split(".", 1))
        result = LineDict({long_name: value})
        result.line = node.start_mark.line + 1
        result.key_lines[long_name] = result.line
        return result

    return construct


_TemplateLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)
_TemplateLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG,
    _construct_sequence,
)
_TemplateLoader.add_constructor("!Ref", _intrinsic("Ref"))
_TemplateLoader.add_constructor("!Condition", _intrinsic("Condition"))
_TemplateLoader.add_constructor("!GetAtt", _intrinsic("Fn::GetAtt"))
for _name in INTRINSICS:
    _TemplateLoader.add_constructor(f"!{_name}", _intrinsic(f"Fn::{_name}"))


def parse_template(text: str, source: str = "<template>") -> LineDict:
    """Parse a template's text; a malformed one is a usage error naming the line."""
    try:
        data = yaml.load(text, Loader=_TemplateLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        data = _json_fallback(text)
        if data is None:
            mark = exc.problem_mark or exc.context_mark
            line = f" line {mark.line + 1}" if mark else ""
            problem = exc.problem or exc.context or "malformed"
            raise CliError(
                ExitCode.USAGE,
                f"{source}:{line}: not valid YAML or JSON ({problem})",
                "fix the template, or check it with `sam validate` / `cfn-lint`",
            ) from None
    except yaml.YAMLError as exc:
        raise CliError(
            ExitCode.USAGE,
            f"{source}: not valid YAML or JSON ({type(exc).__name__})",
            "fix the template, or check it with `sam validate` / `cfn-lint`",
        ) from None
    if data is None:
        data = LineDict()
    if not isinstance(data, dict):
        raise CliError(
            ExitCode.USAGE,
            f"{source}: not a CloudFormation template (the top level is not a mapping)",
            "give the SAM or CloudFormation template itself (a mapping with Resources:)",
        )
    if not isinstance(data, LineDict):
        data = LineDict(data)
    return data


def _json_fallback(text: str) -> LineDict | None:
    """JSON that YAML refuses (tabs for indentation): parsed without line numbers."""
    if not text.lstrip().startswith("{"):
        return None
    try:
        return json.loads(text, object_pairs_hook=lambda pairs: LineDict(pairs))  # type: ignore[no-any-return]
    except json.JSONDecodeError:
        return None


@dataclass(frozen=True)
class Resource:
    """One entry of `Resources`."""

    logical_id: str
    type: str
    properties: LineDict
    line: int | None


@dataclass
class Template:
    """A parsed template and where it came from."""

    source: str  # the path as the user gave it
    data: LineDict

    @property
    def resources(self) -> dict[str, Resource]:
        found: dict[str, Resource] = {}
        raw = self.data.get("Resources")
        if not isinstance(raw, dict):
            return found
        for logical_id, body in raw.items():
            if not isinstance(body, dict):
                continue
            props = body.get("Properties")
            if not isinstance(props, LineDict):
                props = LineDict(props) if isinstance(props, dict) else LineDict()
            line = raw.key_lines.get(logical_id) if isinstance(raw, LineDict) else None
            found[logical_id] = Resource(logical_id, str(body.get("Type", "")), props, line)
        return found

    @property
    def parameters(self) -> dict[str, LineDict]:
        raw = self.data.get("Parameters")
        if not isinstance(raw, dict):
            return {}
        return {k: v for k, v in raw.items() if isinstance(v, LineDict)}

    def line_of_parameter(self, name: str) -> int | None:
        raw = self.data.get("Parameters")
        return raw.line_of(name) if isinstance(raw, LineDict) else None

    def globals_environment(self) -> LineDict | None:
        """SAM's `Globals: Function: Environment: Variables`, applied to every function."""
        glob = self.data.get("Globals")
        function = glob.get("Function") if isinstance(glob, dict) else None
        env = function.get("Environment") if isinstance(function, dict) else None
        variables = env.get("Variables") if isinstance(env, dict) else None
        return variables if isinstance(variables, LineDict) else None


def load_template(path: Path) -> Template:
    """Read and parse the template at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(
            ExitCode.USAGE,
            f"template {path} does not exist",
            "check the path (a relative path starts from the current folder)",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(
            ExitCode.USAGE,
            f"template {path}: cannot read ({exc})",
            "check that the file is readable UTF-8 text (its permissions and encoding)",
        ) from None
    return Template(str(path), parse_template(text, str(path)))


@dataclass(frozen=True)
class EnvVar:
    """One environment variable of a function or container. `value` is None when it is an
    intrinsic function (a `!Ref`, a `!Sub` ...); `expression` holds that intrinsic."""

    name: str
    value: str | None
    line: int | None
    expression: Any = None
    container: str | None = None


@dataclass(frozen=True)
class ContainerSecret:
    """An ECS container's `Secrets` entry: a variable filled from Secrets Manager or SSM."""

    name: str
    value_from: Any
    line: int | None
    container: str | None


@dataclass(frozen=True)
class PolicyDocument:
    """A policy document attached (directly or through a role) to a function, and where."""

    document: Any  # the Statement-holding mapping, or a SAM policy template entry
    line: int | None
    origin: str  # "Policies", "Role MyRole", "AWS::IAM::Policy P", "managed ARN"


@dataclass
class TemplateFunction:
    """A Lambda function or an ECS task definition found in a template."""

    logical_id: str
    type: str
    line: int | None
    name: str  # FunctionName/Family when literal, else the logical id
    variables: list[EnvVar] = field(default_factory=list)
    container_secrets: list[ContainerSecret] = field(default_factory=list)
    policies: list[PolicyDocument] = field(default_factory=list)
    managed_policy_arns: list[tuple[Any, int | None]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "task" if self.type == TASK_TYPE else "lambda"

    def names(self) -> tuple[str, ...]:
        """The names a user may call it by: its logical id and its literal name."""
        return tuple(dict.fromkeys((self.name, self.logical_id)))


def _env_vars(variables: Any, container: str | None = None) -> Iterator[EnvVar]:
    if not isinstance(variables, dict):
        return
    lines = variables.key_lines if isinstance(variables, LineDict) else {}
    for name, value in variables.items():
        literal = value if isinstance(value, str) else None
        if isinstance(value, bool | int | float):
            literal = str(value)
        yield EnvVar(str(name), literal, lines.get(name), None if literal else value, container)


def _role_ref(value: Any) -> str | None:
    """The logical id a `Role`/`TaskRoleArn` points at (`!GetAtt R.Arn`, `!Ref R`)."""
    if isinstance(value, dict):
        if "Fn::GetAtt" in value and isinstance(value["Fn::GetAtt"], list):
            return str(value["Fn::GetAtt"][0])
        if "Ref" in value:
            return str(value["Ref"])
    return None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _line(value: Any, fallback: int | None) -> int | None:
    return getattr(value, "line", None) or fallback


def find_functions(template: Template) -> list[TemplateFunction]:
    """Every Lambda function and ECS task definition, with variables and granted policies."""
    resources = template.resources
    role_policies = _policies_by_role(resources)
    found: list[TemplateFunction] = []
    for res in resources.values():
        props = res.properties
        if res.type in LAMBDA_TYPES:
            name = props.get("FunctionName")
            function = TemplateFunction(
                res.logical_id,
                res.type,
                res.line,
                name if isinstance(name, str) else res.logical_id,
            )
            if res.type == "AWS::Serverless::Function":
                function.variables.extend(_env_vars(template.globals_environment()))
            env = props.get("Environment")
            if isinstance(env, dict):
                overridden = {v.name for v in _env_vars(env.get("Variables"))}
                function.variables = [v for v in function.variables if v.name not in overridden]
                function.variables.extend(_env_vars(env.get("Variables")))
            for entry in _as_list(props.get("Policies")):
                function.policies.append(
                    PolicyDocument(entry, _line(entry, props.line_of("Policies")), "Policies")
                )
            role = _role_ref(props.get("Role"))
        elif res.type == TASK_TYPE:
            family = props.get("Family")
            function = TemplateFunction(
                res.logical_id,
                res.type,
                res.line,
                family if isinstance(family, str) else res.logical_id,
            )
            for container in _as_list(props.get("ContainerDefinitions")):
                if not isinstance(container, dict):
                    continue
                cname = container.get("Name") if isinstance(container.get("Name"), str) else None
                for entry in _as_list(container.get("Environment")):
                    if isinstance(entry, dict) and isinstance(entry.get("Name"), str):
                        value = entry.get("Value")
                        literal = value if isinstance(value, str) else None
                        function.variables.append(
                            EnvVar(
                                entry["Name"],
                                literal,
                                _line(entry, None),
                                None if literal else value,
                                cname,
                            )
                        )
                for entry in _as_list(container.get("Secrets")):
                    if isinstance(entry, dict) and isinstance(entry.get("Name"), str):
                        function.container_secrets.append(
                            ContainerSecret(
                                entry["Name"], entry.get("ValueFrom"), _line(entry, None), cname
                            )
                        )
            role = _role_ref(props.get("TaskRoleArn"))
        else:
            continue
        if role and role in resources and resources[role].type == ROLE_TYPE:
            role_props = resources[role].properties
            for entry in _as_list(role_props.get("Policies")):
                if isinstance(entry, dict):
                    doc = entry.get("PolicyDocument")
                    function.policies.append(
                        PolicyDocument(doc, _line(doc, _line(entry, None)), f"role {role}")
                    )
            for arn in _as_list(role_props.get("ManagedPolicyArns")):
                ref = _role_ref(arn)
                if ref and ref in resources and resources[ref].type in POLICY_TYPES:
                    continue  # a policy of this template: counted through role_policies
                function.managed_policy_arns.append((arn, role_props.line_of("ManagedPolicyArns")))
            function.policies.extend(role_policies.get(role, ()))
        found.append(function)
    return found


def _policies_by_role(resources: dict[str, Resource]) -> dict[str, list[PolicyDocument]]:
    """AWS::IAM::Policy / ManagedPolicy resources, by the roles they attach to."""
    attached: dict[str, list[PolicyDocument]] = {}
    for res in resources.values():
        if res.type not in POLICY_TYPES:
            continue
        doc = res.properties.get("PolicyDocument")
        roles = {_role_ref(r) for r in _as_list(res.properties.get("Roles"))}
        # A managed policy can also be attached from the role's ManagedPolicyArns.
        for other in resources.values():
            if other.type == ROLE_TYPE:
                for arn in _as_list(other.properties.get("ManagedPolicyArns")):
                    if _role_ref(arn) == res.logical_id:
                        roles.add(other.logical_id)
        for role in roles:
            if role:
                attached.setdefault(role, []).append(
                    PolicyDocument(doc, _line(doc, res.line), f"{res.type} {res.logical_id}")
                )
    return attached


def secret_names(template: Template) -> dict[str, str]:
    """Literal `Name`s of the template's own AWS::SecretsManager::Secret resources."""
    names: dict[str, str] = {}
    for res in template.resources.values():
        if res.type == SECRET_TYPE and isinstance(res.properties.get("Name"), str):
            names[res.logical_id] = res.properties["Name"]
    return names


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


SUB_VARIABLE = re.compile(r"\$\{[^}]*\}")


RESOLVE_NAME = re.compile(r"\{\{resolve:secretsmanager:(.+?)(?::SecretString|:[^:}]*)*\}\}")
SECRET_ARN_NAME = re.compile(r"arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:(.+)$")
ARN_RANDOM_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")


def referenced_secrets(function: TemplateFunction, template: Template, env: str) -> list[str]:
    """Secret paths of `env` that a template function points at: `{{resolve:secretsmanager:}}`
    references, secret ARNs or names in its variables, ECS container secrets, and `!Ref`s to
    the template's own secrets. A leading `${Stage}/` (any parameter) stands for `env`.

    This lets `secrets policy --template` work for a project without `[functions]`.
    """
    from envsecrets.core.names import SecretName

    own = secret_names(template)
    candidates: list[str] = []
    sources: list[Any] = [
        v.value if v.value is not None else v.expression for v in function.variables
    ]
    sources.extend(s.value_from for s in function.container_secrets)
    for source in sources:
        if isinstance(source, dict) and str(source.get("Ref")) in own:
            candidates.append(own[str(source["Ref"])])
            continue
        for text in strings_in(source):
            # Pseudo parameters (${AWS::Region}) hold colons that would break ARN parsing.
            text = re.sub(r"\$\{AWS::(\w+)\}", r"\1", text.strip())
            resolved = RESOLVE_NAME.search(text)
            if resolved:
                text = resolved.group(1)
            arn = SECRET_ARN_NAME.match(text)
            if arn:
                text = arn.group(1).split(":", 1)[0]
                text = ARN_RANDOM_SUFFIX.sub("", text) if "/" in text else text
            candidates.append(re.sub(r"^\$\{[^}]*\}/", f"{env}/", text))
    paths: list[str] = []
    for candidate in candidates:
        try:
            name = SecretName.parse(candidate)
        except CliError:
            continue
        if name.env == env and name.path not in paths:
            paths.append(name.path)
    return paths
