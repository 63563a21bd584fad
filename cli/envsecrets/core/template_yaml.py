"""Reading template text: YAML or JSON with CloudFormation's tags, within the limits of
untrusted input (core/untrusted.py), into mappings and lists that remember their lines.

Short-form tags (`!Ref X`, `!GetAtt A.B`, `!Sub '...'`, the `Rules` section's `!Contains` ...)
become the long form (`{"Ref": "X"}`, `{"Fn::GetAtt": ["A", "B"]}`), so YAML and JSON templates
look the same to the audit. Every mapping and list remembers the line it started on, and every
mapping the lines of its keys, so that a finding can say where it is. core/templates.py reads
the result into the model; serverless.yml and ECS task definitions are loaded here too.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from envsecrets.core.infra import LineDict, LineList
from envsecrets.core.untrusted import (
    MAX_DEPTH,
    MAX_YAML_BYTES,
    BudgetedLoader,
    UntrustedInputError,
    check_bracket_depth,
    check_size_of_document,
)
from envsecrets.errors import CliError, ExitCode

# The short forms CloudFormation accepts, Rules-section functions included; `!GetAtt` is
# special-cased. Any other tag is refused: a tag we do not know may hide anything.
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
    "Contains",
    "EachMemberEquals",
    "EachMemberIn",
    "RefAll",
    "ValueOf",
    "ValueOfAll",
)


class _TemplateLoader(BudgetedLoader):
    """The budgeted safe loader plus CloudFormation's tags and line marks (1-based)."""


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


_TemplateLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_TemplateLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence
)
_TemplateLoader.add_constructor("!Ref", _intrinsic("Ref"))
_TemplateLoader.add_constructor("!Condition", _intrinsic("Condition"))
_TemplateLoader.add_constructor("!GetAtt", _intrinsic("Fn::GetAtt"))
for _name in INTRINSICS:
    _TemplateLoader.add_constructor(f"!{_name}", _intrinsic(f"Fn::{_name}"))

TEMPLATE_HINT = "fix the file, or check it with `sam validate` / `cfn-lint`"
# JSON up to this size is read as YAML, for the line numbers of findings; larger JSON (plans,
# generated templates) by the json module.
JSON_WITH_LINES = 256 * 1024


def load_yaml(text: str, source: str) -> Any:
    """Parse YAML or JSON text with CloudFormation's tags, within the limits of untrusted
    input; a malformed document is a usage error naming the line. Large JSON (a Terraform
    plan, CDK output) is read by the json module, which is fast at any size; YAML over
    MAX_YAML_BYTES is refused before parsing."""
    try:
        check_size_of_document(text)
        if len(text) > JSON_WITH_LINES and text.lstrip()[:1] in ("{", "["):
            return _large_json(text, source)
        if len(text.encode("utf-8")) > MAX_YAML_BYTES:
            raise UntrustedInputError(f"larger than {MAX_YAML_BYTES // 1024} KiB of YAML")
        return yaml.load(text, Loader=_TemplateLoader)  # noqa: S506 - a SafeLoader subclass
    except UntrustedInputError as exc:
        raise CliError(ExitCode.USAGE, f"{source}: refused: {exc}", TEMPLATE_HINT) from None
    except yaml.MarkedYAMLError as exc:
        data = _json_fallback(text, source)
        if data is not None:
            return data
        mark = exc.problem_mark or exc.context_mark
        line = f" line {mark.line + 1}" if mark else ""
        problem = (exc.problem or exc.context or "malformed").replace("\n", " ")
        raise CliError(
            ExitCode.USAGE, f"{source}:{line}: not valid YAML or JSON ({problem})", TEMPLATE_HINT
        ) from None
    except yaml.YAMLError as exc:
        raise CliError(
            ExitCode.USAGE,
            f"{source}: not valid YAML or JSON ({type(exc).__name__})",
            TEMPLATE_HINT,
        ) from None


def _large_json(text: str, source: str) -> Any:
    check_bracket_depth(text)
    try:
        return json.loads(text, object_pairs_hook=lambda pairs: LineDict(pairs))
    except json.JSONDecodeError as exc:
        raise CliError(
            ExitCode.USAGE,
            f"{source}: line {exc.lineno}: not valid JSON ({exc.msg})",
            TEMPLATE_HINT,
        ) from None
    except RecursionError:
        raise UntrustedInputError(f"nested more than {MAX_DEPTH} levels deep") from None


def _json_fallback(text: str, source: str) -> Any:
    """JSON that YAML refuses (tabs for indentation): parsed without line numbers."""
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        check_bracket_depth(text)
    except UntrustedInputError as exc:
        raise CliError(ExitCode.USAGE, f"{source}: refused: {exc}", TEMPLATE_HINT) from None
    try:
        return json.loads(text, object_pairs_hook=lambda pairs: LineDict(pairs))
    except (json.JSONDecodeError, RecursionError):
        return None


def parse_template(text: str, source: str = "<template>") -> LineDict:
    """Parse a template's text; a malformed one is a usage error naming the line."""
    data = load_yaml(text, source)
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
