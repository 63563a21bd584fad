"""SAM and CloudFormation templates (YAML or JSON, CDK output too): read them into the
infrastructure model (core/infra.py).

Short-form tags (`!Ref X`, `!GetAtt A.B`, `!Sub '...'`, the `Rules` section's `!Contains` ...)
become the long form (`{"Ref": "X"}`, `{"Fn::GetAtt": ["A", "B"]}`), so YAML and JSON templates
look the same to the audit. Every mapping and list remembers the line it started on, and every
mapping the lines of its keys, so that a finding can say where it is.

The text itself is read by core/template_yaml.py (tags, line marks, limits).

cfn-lint's decoder (`cfnlint.decode`) also knows every tag and keeps line marks, but it is a
30 MB dev dependency that loads the whole CloudFormation spec (seconds of start-up), and it
offers no limit on alias expansion or nesting; a SafeLoader subclass with a constructor per tag
and the limits of core/untrusted.py is what a CI gate on strangers' files needs.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from envsecrets.core.infra import (
    LAMBDA_TYPES,
    SECRET_ACCESS_TYPES,
    TASK_TYPE,
    ContainerSecret,
    DefinedParameter,
    DefinedSecret,
    EnvVar,
    Infrastructure,
    LineDict,
    LineList,
    Parameter,
    PolicyDocument,
    StoredValue,
    TemplateFunction,
    Unread,
    alternatives,
    line_of,
    listed,
    strings_in,
)
from envsecrets.core.template_yaml import TEMPLATE_HINT, load_yaml, parse_template
from envsecrets.core.untrusted import ALIAS_BUDGET, read_limited
from envsecrets.errors import CliError, ExitCode

__all__ = [
    "LAMBDA_TYPES",
    "TASK_TYPE",
    "TEMPLATE_HINT",
    "ContainerSecret",
    "EnvVar",
    "LineDict",
    "LineList",
    "PolicyDocument",
    "Template",
    "TemplateFunction",
    "attach_template_role",
    "find_functions",
    "load_template",
    "load_yaml",
    "parse_template",
    "read_cloudformation",
    "strings_in",
]

ROLE_TYPE = "AWS::IAM::Role"
POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
ROLE_POLICY_TYPE = "AWS::IAM::RolePolicy"  # one inline policy of one role, named by RoleName
SECRET_TYPE = "AWS::SecretsManager::Secret"  # noqa: S105 - a resource type, not a password
SSM_PARAMETER_TYPE = "AWS::SSM::Parameter"
# Properties that keep a credential in clear when written as a literal.
STORED_CREDENTIALS = {
    "AWS::RDS::DBInstance": "MasterUserPassword",
    "AWS::RDS::DBCluster": "MasterUserPassword",
    "AWS::DocDB::DBCluster": "MasterUserPassword",
    "AWS::Neptune::DBCluster": "MasterUserPassword",
    "AWS::Redshift::Cluster": "MasterUserPassword",
    "AWS::SecretsManager::Secret": "SecretString",
    "AWS::AmazonMQ::Broker": "Password",
}
# Attributes (`!GetAtt R.Attr`) that hold a credential.
SECRET_ATTRIBUTES = {("AWS::IAM::AccessKey", "SecretAccessKey"): "an IAM access key's secret"}


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

    @cached_property
    def resources(self) -> dict[str, Resource]:
        found: dict[str, Resource] = {}
        raw = expand_for_each(self.data.get("Resources"), self.source)
        if not isinstance(raw, dict):
            return found
        for logical_id, body in raw.items():
            if not isinstance(body, dict):
                continue
            props = body.get("Properties")
            if not isinstance(props, LineDict):
                props = LineDict(props) if isinstance(props, dict) else LineDict()
            line = raw.key_lines.get(logical_id) if isinstance(raw, LineDict) else None
            found[logical_id] = Resource(
                logical_id, str(body.get("Type", "")), props, line or line_of(body, None)
            )
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

    def globals_environment(self) -> Any:
        """SAM's `Globals: Function: Environment: Variables`, applied to every function."""
        glob = self.data.get("Globals")
        function = glob.get("Function") if isinstance(glob, dict) else None
        env = function.get("Environment") if isinstance(function, dict) else None
        return env.get("Variables") if isinstance(env, dict) else None


def load_template(path: Path) -> Template:
    """Read and parse the template at `path` (within the limits of untrusted input)."""
    text = read_limited(path, "template")
    return Template(str(path), parse_template(text, str(path)))


# -- AWS::LanguageExtensions: Fn::ForEach -----------------------------------------------------
def expand_for_each(resources: Any, source: str) -> Any:
    """`Resources` with every `Fn::ForEach::Name: [Id, [values], {template}]` expanded (its
    collection must be a literal list; a loop over a parameter is left out, as its values
    are unknown here). Expansion is budgeted like YAML aliases: loops inside loops multiply."""
    if not isinstance(resources, dict) or not any(k.startswith("Fn::ForEach::") for k in resources):
        return resources
    out = LineDict()
    out.line = getattr(resources, "line", None)
    _expand_into(out, resources, _Budget(source))
    return out


class _Budget:
    """Nodes a Fn::ForEach expansion may copy before the template is refused."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.left = ALIAS_BUDGET

    def spend(self, nodes: int = 1) -> None:
        self.left -= nodes
        if self.left < 0:
            raise CliError(
                ExitCode.USAGE,
                f"{self.source}: refused: Fn::ForEach expands to more than {ALIAS_BUDGET:,} nodes",
                TEMPLATE_HINT,
            )


def _expand_into(out: LineDict, fragment: dict[str, Any], budget: _Budget) -> None:
    lines = fragment.key_lines if isinstance(fragment, LineDict) else {}
    for key, body in fragment.items():
        if not key.startswith("Fn::ForEach::"):
            budget.spend()
            out[key] = body
            if key in lines:
                out.key_lines[key] = lines[key]
            continue
        if not (isinstance(body, list) and len(body) == 3 and isinstance(body[2], dict)):
            continue
        identifier, collection, template = body
        if not isinstance(identifier, str) or not isinstance(collection, list):
            continue
        for item in collection:
            if isinstance(item, str | int | float):
                replaced = _replace_identifier(template, identifier, str(item), budget)
                _expand_into(out, replaced, budget)


def _replace_identifier(value: Any, identifier: str, text: str, budget: _Budget) -> Any:
    budget.spend()
    if isinstance(value, str):
        return value.replace("${" + identifier + "}", text).replace("&{" + identifier + "}", text)
    if isinstance(value, dict):
        if value == {"Ref": identifier}:
            return text
        result = LineDict()
        result.line = getattr(value, "line", None)
        for key, item in value.items():
            new_key = _replace_identifier(key, identifier, text, budget)
            result[new_key] = _replace_identifier(item, identifier, text, budget)
            if isinstance(value, LineDict) and key in value.key_lines:
                result.key_lines[new_key] = value.key_lines[key]
        return result
    if isinstance(value, list):
        replaced = LineList(_replace_identifier(v, identifier, text, budget) for v in value)
        replaced.line = getattr(value, "line", None)
        return replaced
    return copy.copy(value)


# -- functions, tasks and their roles -----------------------------------------------------------
def _env_vars(variables: Any, container: str | None = None) -> Iterator[EnvVar]:
    for mapping in alternatives(variables):
        if not isinstance(mapping, dict):
            continue
        lines = mapping.key_lines if isinstance(mapping, LineDict) else {}
        for name, value in mapping.items():
            literal = value if isinstance(value, str) else None
            if isinstance(value, bool | int | float):
                literal = str(value)
            yield EnvVar(str(name), literal, lines.get(name), None if literal else value, container)


def role_ref(value: Any) -> str | None:
    """The logical id a `Role`/`TaskRoleArn` points at (`!GetAtt R.Arn`, `!Ref R`)."""
    if isinstance(value, dict):
        if "Fn::GetAtt" in value and isinstance(value["Fn::GetAtt"], list):
            return str(value["Fn::GetAtt"][0])
        if "Ref" in value:
            return str(value["Ref"])
    return None


def _literal_or(value: Any, fallback: str) -> str:
    return value if isinstance(value, str) and value else fallback


def _lambda_function(template: Template, res: Resource) -> tuple[TemplateFunction, list[Any]]:
    props = res.properties
    function = TemplateFunction(
        res.logical_id, res.type, res.line, _literal_or(props.get("FunctionName"), res.logical_id)
    )
    own: list[EnvVar] = []
    for env in alternatives(props.get("Environment")):
        if isinstance(env, dict):
            own.extend(_env_vars(env.get("Variables")))
    if res.type == "AWS::Serverless::Function":
        overridden = {v.name for v in own}
        function.variables = [
            v for v in _env_vars(template.globals_environment()) if v.name not in overridden
        ]
    function.variables.extend(own)
    for entry in listed(props.get("Policies")):
        function.policies.append(
            PolicyDocument(entry, line_of(entry, props.line_of("Policies")), "Policies")
        )
    events = props.get("Events")
    for name, event in events.items() if isinstance(events, dict) else ():
        if isinstance(event, dict) and isinstance(event.get("Properties"), dict):
            configurations = event["Properties"].get("SourceAccessConfigurations")
            function.event_secrets.extend(_access_secrets(configurations, f"{name}"))
    return function, [(props.get("Role"), "function")]


def _access_secrets(configurations: Any, what: str) -> list[tuple[Any, int | None, str]]:
    """The secrets among an event source's `SourceAccessConfigurations` (BASIC_AUTH, SASL
    SCRAM, client certificates: the URI is a Secrets Manager secret)."""
    found: list[tuple[Any, int | None, str]] = []
    for entry in listed(configurations):
        if isinstance(entry, dict) and str(entry.get("Type", "")) in SECRET_ACCESS_TYPES:
            found.append((entry.get("URI"), line_of(entry, None), f"{what} ({entry['Type']})"))
    return found


def _event_source_mappings(resources: dict[str, Resource], found: list[TemplateFunction]) -> None:
    """`AWS::Lambda::EventSourceMapping` resources: their secrets go to the function they
    invoke (by `!Ref`, `!GetAtt`, or its literal name)."""
    for res in resources.values():
        if res.type != "AWS::Lambda::EventSourceMapping":
            continue
        target = res.properties.get("FunctionName")
        key = role_ref(target)
        for function in found:
            if key == function.logical_id or (isinstance(target, str) and target == function.name):
                function.event_secrets.extend(
                    _access_secrets(
                        res.properties.get("SourceAccessConfigurations"), res.logical_id
                    )
                )


def _task_definition(res: Resource) -> tuple[TemplateFunction, list[Any]]:
    props = res.properties
    function = TemplateFunction(
        res.logical_id, res.type, res.line, _literal_or(props.get("Family"), res.logical_id)
    )
    for container in listed(props.get("ContainerDefinitions")):
        if not isinstance(container, dict):
            continue
        cname = container.get("Name") if isinstance(container.get("Name"), str) else None
        for entry in listed(container.get("Environment")):
            if isinstance(entry, dict) and isinstance(entry.get("Name"), str):
                value = entry.get("Value")
                literal = value if isinstance(value, str) else None
                if isinstance(value, bool | int | float):
                    literal = str(value)
                function.variables.append(
                    EnvVar(
                        entry["Name"],
                        literal,
                        line_of(entry, None),
                        None if literal else value,
                        cname,
                    )
                )
        for entry in listed(container.get("Secrets")):
            if isinstance(entry, dict) and isinstance(entry.get("Name"), str):
                function.container_secrets.append(
                    ContainerSecret(
                        entry["Name"], entry.get("ValueFrom"), line_of(entry, None), cname
                    )
                )
        function.container_secrets.extend(_more_container_secrets(container, cname))
        for entry in listed(container.get("EnvironmentFiles")):
            if isinstance(entry, dict):
                function.environment_files.append((entry.get("Value"), line_of(entry, None)))
    roles = [(props.get("TaskRoleArn"), "task"), (props.get("ExecutionRoleArn"), "execution")]
    return function, roles


def _more_container_secrets(container: dict[str, Any], cname: str | None) -> list[ContainerSecret]:
    """What the execution role also fetches: the registry's credentials, and the log
    driver's secret options."""
    found: list[ContainerSecret] = []
    for credentials in listed(container.get("RepositoryCredentials")):
        if isinstance(credentials, dict) and "CredentialsParameter" in credentials:
            found.append(
                ContainerSecret(
                    "RepositoryCredentials",
                    credentials["CredentialsParameter"],
                    line_of(credentials, None),
                    cname,
                )
            )
    for logging in listed(container.get("LogConfiguration")):
        if not isinstance(logging, dict):
            continue
        for entry in listed(logging.get("SecretOptions")):
            if isinstance(entry, dict) and isinstance(entry.get("Name"), str):
                found.append(
                    ContainerSecret(
                        f"log option {entry['Name']}",
                        entry.get("ValueFrom"),
                        line_of(entry, None),
                        cname,
                    )
                )
    return found


def _attach_role(
    function: TemplateFunction,
    role: str | None,
    kind: str,
    resources: dict[str, Resource],
    role_policies: dict[str, list[PolicyDocument]],
) -> None:
    if not role or role not in resources or resources[role].type != ROLE_TYPE:
        return
    role_props = resources[role].properties
    for entry in listed(role_props.get("Policies")):
        if isinstance(entry, dict):
            for doc in alternatives(entry.get("PolicyDocument")):
                where = line_of(doc, line_of(entry, None))
                function.policies.append(
                    PolicyDocument(json_document(doc)[0], where, f"role {role}", kind)
                )
    for arn in listed(role_props.get("ManagedPolicyArns")):
        ref = role_ref(arn)
        if ref and ref in resources and resources[ref].type in POLICY_TYPES:
            continue  # a policy of this template: counted through role_policies
        function.managed_policy_arns.append((arn, role_props.line_of("ManagedPolicyArns")))
    for policy in role_policies.get(role, ()):
        function.policies.append(PolicyDocument(policy.document, policy.line, policy.origin, kind))


def attach_template_role(function: TemplateFunction, role: str, template: Template) -> bool:
    """Give `function` the policies of the template's role `role` (its inline policies,
    managed policies and the policy resources attached to it); False when the template has
    no such role."""
    resources = template.resources
    if role not in resources or resources[role].type != ROLE_TYPE:
        return False
    _attach_role(function, role, "function", resources, _policies_by_role(resources))
    return True


def find_functions(template: Template) -> list[TemplateFunction]:
    """Every Lambda function and ECS task definition, with variables and granted policies
    (a task's policies say whether the task role or the execution role holds them)."""
    resources = template.resources
    role_policies = _policies_by_role(resources)
    found: list[TemplateFunction] = []
    for res in resources.values():
        if res.type in LAMBDA_TYPES:
            function, roles = _lambda_function(template, res)
        elif res.type == TASK_TYPE:
            function, roles = _task_definition(res)
        else:
            continue
        attached: set[tuple[str, str]] = set()
        for value, kind in roles:
            role = role_ref(value)
            if role and (role, kind) not in attached:
                attached.add((role, kind))
                _attach_role(function, role, kind, resources, role_policies)
        found.append(function)
    _event_source_mappings(resources, found)
    return found


def _policies_by_role(resources: dict[str, Resource]) -> dict[str, list[PolicyDocument]]:
    """AWS::IAM::Policy / ManagedPolicy resources, by the roles they attach to."""
    attached: dict[str, list[PolicyDocument]] = {}
    managed_by_role: dict[str, set[str]] = {}
    for other in resources.values():
        if other.type == ROLE_TYPE:
            for arn in listed(other.properties.get("ManagedPolicyArns")):
                ref = role_ref(arn)
                if ref:
                    managed_by_role.setdefault(ref, set()).add(other.logical_id)
    for res in resources.values():
        if res.type == ROLE_POLICY_TYPE:
            roles = {_role_named(res.properties.get("RoleName"), resources)}
        elif res.type in POLICY_TYPES:
            roles = {_role_named(r, resources) for r in listed(res.properties.get("Roles"))}
            # A managed policy can also be attached from the role's ManagedPolicyArns.
            roles |= managed_by_role.get(res.logical_id, set())
        else:
            continue
        for doc in alternatives(res.properties.get("PolicyDocument")):
            document = json_document(doc)[0]
            for role in roles:
                if role:
                    attached.setdefault(role, []).append(
                        PolicyDocument(
                            document, line_of(doc, res.line), f"{res.type} {res.logical_id}"
                        )
                    )
    return attached


def _role_named(value: Any, resources: dict[str, Resource]) -> str | None:
    """The role a `RoleName` (or an entry of `Roles`) means: `!Ref Role` (a role's Ref is
    its name), or the literal `RoleName` of one of the template's roles."""
    ref = role_ref(value)
    if ref is not None or not isinstance(value, str):
        return ref
    for res in resources.values():
        if res.type == ROLE_TYPE and res.properties.get("RoleName") == value:
            return res.logical_id
    return None


def json_document(document: Any) -> tuple[Any, str | None]:
    """A policy document as a mapping: a JSON string (`PolicyDocument: |`, or `!Sub |` whose
    `${AWS::Region}`, `${Param}` ... stay in the strings as they would in an `Fn::Sub`
    resource) is parsed; anything else is returned as it is. The reason is not None when the
    text is not a JSON object (the document is then None: nothing of it can be judged)."""
    text = document
    others: dict[str, Any] = {}  # a `!Sub [text, {Var: !Ref X}]`'s variables that are not text
    if isinstance(document, dict) and len(document) == 1 and "Fn::Sub" in document:
        sub = document["Fn::Sub"]
        text = sub[0] if isinstance(sub, list) and sub else sub
        if not isinstance(text, str):
            return document, None
        if isinstance(sub, list) and len(sub) == 2 and isinstance(sub[1], dict):
            literals = {str(k): v for k, v in sub[1].items() if isinstance(v, str)}
            others = {str(k): v for k, v in sub[1].items() if not isinstance(v, str)}
            text = SUB_VARIABLE.sub(lambda m: literals.get(m.group(0)[2:-1].strip(), m[0]), text)
    if not isinstance(text, str):
        return document, None
    parsed, reason = _parsed_json(text)
    if reason is not None:
        return None, reason
    if text is not document:
        # Each string still holding `${...}` is an `Fn::Sub` of its own, read as the object
        # form's would be (`${AWS::Region}`, `${Stage}` resolved by whoever reads it).
        parsed = _sub_strings(parsed, others)
    return parsed, None


@lru_cache(maxsize=64)
def _parsed_json(text: str) -> tuple[Any, str | None]:
    """The JSON object `text` holds, or why not. Cached: a role's document is read again for
    each function that uses the role (never changed by its readers)."""
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"policy document is not JSON ({exc.msg}, its line {exc.lineno})"
    except (ValueError, RecursionError):  # digits beyond Python's limit, nesting too deep
        return None, "policy document is not JSON that can be read"
    if not isinstance(parsed, dict):
        return None, "policy document is not a JSON object"
    return parsed, None


def _sub_strings(value: Any, others: dict[str, Any]) -> Any:
    if isinstance(value, str):
        if not SUB_VARIABLE.search(value):
            return value
        return {"Fn::Sub": [value, others] if others else value}
    if isinstance(value, dict):
        return {key: _sub_strings(item, others) for key, item in value.items()}
    if isinstance(value, list):
        return [_sub_strings(item, others) for item in value]
    return value


def _unreadable_documents(resources: dict[str, Resource]) -> Iterator[Unread]:
    """Policy documents of roles and policies that are strings but not JSON: noted once
    each, whether or not a function uses them (never taken for an empty policy)."""
    for res in resources.values():
        if res.type == ROLE_TYPE:
            entries = [e for e in listed(res.properties.get("Policies")) if isinstance(e, dict)]
            documents = [d for e in entries for d in alternatives(e.get("PolicyDocument"))]
        elif res.type in POLICY_TYPES or res.type == ROLE_POLICY_TYPE:
            documents = list(alternatives(res.properties.get("PolicyDocument")))
        else:
            continue
        for doc in documents:
            reason = json_document(doc)[1]
            if reason:
                yield Unread(res.logical_id, "policy", reason, line_of(doc, res.line))


# -- the model -----------------------------------------------------------------------------------
def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def read_cloudformation(template: Template) -> Infrastructure:
    """The infrastructure model of a SAM/CloudFormation template (or CDK output)."""
    infra = Infrastructure(template.source, "cloudformation", find_functions(template))
    infra.unread.extend(_unreadable_documents(template.resources))
    infra.raw_resources = expand_for_each(template.data.get("Resources"), template.source)
    for name, body in template.parameters.items():
        infra.parameters[name] = Parameter(
            name,
            str(body.get("Type", "String")),
            body.get("Default"),
            _truthy(body.get("NoEcho")),
            template.line_of_parameter(name),
        )
    for res in template.resources.values():
        props = res.properties
        if res.type == SECRET_TYPE:
            infra.secrets[res.logical_id] = DefinedSecret(
                res.logical_id, props.get("Name"), res.line
            )
        elif res.type == SSM_PARAMETER_TYPE:
            infra.ssm_parameters[res.logical_id] = DefinedParameter(
                res.logical_id, props.get("Name"), str(props.get("Type", "")), res.line
            )
            value = props.get("Value")
            if isinstance(value, str):
                label = props.get("Name") if isinstance(props.get("Name"), str) else res.logical_id
                infra.stored_values.append(
                    StoredValue(res.logical_id, str(label), value, props.line_of("Value"))
                )
        stored = STORED_CREDENTIALS.get(res.type)
        if stored and isinstance(props.get(stored), str):
            infra.stored_values.append(
                StoredValue(res.logical_id, stored, props[stored], props.line_of(stored), True)
            )
        for (kind, attribute), what in SECRET_ATTRIBUTES.items():
            if res.type == kind:
                infra.secret_attributes[(res.logical_id, attribute)] = what
    return infra


def secret_names(template: Template) -> dict[str, str]:
    """Literal `Name`s of the template's own AWS::SecretsManager::Secret resources."""
    names: dict[str, str] = {}
    for res in template.resources.values():
        if res.type == SECRET_TYPE and isinstance(res.properties.get("Name"), str):
            names[res.logical_id] = res.properties["Name"]
    return names


SUB_VARIABLE = re.compile(r"\$\{[^}]*\}")
