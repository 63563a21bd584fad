"""Terraform: `.tf` files and whole module folders (python-hcl2, a maintained HCL2 parser),
and `terraform show -json` plan or state files, read into the infrastructure model.

What is understood: `aws_lambda_function` environment variables; `aws_ecs_task_definition`
container definitions (`jsonencode(...)`, heredoc JSON, or `file(...)` of a file inside the
module); `aws_iam_role` inline policies and managed policy ARNs, `aws_iam_role_policy`,
`aws_iam_policy` with `aws_iam_role_policy_attachment`, `data "aws_iam_policy_document"`;
`aws_secretsmanager_secret` (and its data source), `aws_secretsmanager_secret_version` with a
literal `secret_string`, `aws_ssm_parameter` (SecureString, or a literal value),
`aws_db_instance`/`aws_rds_cluster` with a literal password. `var.x` with a literal default is
that literal; without one, it is a parameter (secret when `sensitive = true`). `local.x` is
followed. Other references are expressions, never literals. Heredoc and template JSON keeps
`${...}` interpolations as opaque expressions; `templatefile()` and `data "template_file"` of a
template inside the module are rendered; `aws_lambda_event_source_mapping` secrets go to the
function they invoke. Module calls: core/terraform_modules.py (terraform-aws-modules lambda and
ecs read; others reported as not understood).

python-hcl2 (with lark) is imported only when a Terraform file is read; core/hcl.py holds the
parser's side (mending, marks, expressions). Over 500 lines: the rest is one `_Builder` whose
methods share the module's blocks, values and roles; splitting it would pass that state around.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envsecrets.core.ecs import add_container
from envsecrets.core.hcl import (
    Expr,
    normal,
    parse_expression,
    parse_hcl,
    start_line,
    template_json,
    whole_interpolation,
)
from envsecrets.core.infra import (
    SECRET_ACCESS_TYPES,
    DefinedParameter,
    DefinedSecret,
    EnvVar,
    Infrastructure,
    LineDict,
    Parameter,
    PolicyDocument,
    StoredValue,
    TemplateFunction,
    Unread,
)
from envsecrets.core.untrusted import read_limited

__all__ = ["Expr", "read_terraform_files", "read_terraform_plan", "read_terraform_text"]
# Attributes that hold a credential: (resource type, attribute) -> what it is.
SECRET_ATTRIBUTES = {
    ("random_password", "result"): "a generated password",
    ("aws_iam_access_key", "secret"): "an IAM access key's secret",
    ("aws_iam_access_key", "ses_smtp_password_v4"): "an SES SMTP password",
    ("aws_db_instance", "password"): "a database password",
    ("aws_rds_cluster", "master_password"): "a database password",
    ("tls_private_key", "private_key_pem"): "a private key",
}
STORED_CREDENTIALS = {
    "aws_db_instance": "password",
    "aws_rds_cluster": "master_password",
    "aws_docdb_cluster": "master_password",
    "aws_redshift_cluster": "master_password",
    "aws_secretsmanager_secret_version": "secret_string",
}
REFERENCE = re.compile(r"^(data\.)?([a-z0-9_]+)\.([A-Za-z0-9_-]+)(?:\[[^\]]*\])?\.([a-z0-9_]+)")
JSONDECODE = re.compile(r"^jsondecode\((.*)\)(?:\[[^\]]*\]|\.[A-Za-z0-9_]+)*$", re.DOTALL)
JSONENCODE = re.compile(r"^jsonencode\((.*)\)$", re.DOTALL)
TEMPLATEFILE = re.compile(r"^templatefile\((.*)\)$", re.DOTALL)
RENDERED = re.compile(r"^data\.template_file\.([A-Za-z0-9_-]+)\.rendered$")
NOT_READ = object()  # an attribute's JSON that could not be read
FILE_CALL = re.compile(r'^file\("(?:\$\{path\.module\}/)?([^"$]+)"\)$')
MAX_FOLLOW = 10  # local.a -> local.b -> ...: a loop is cut here
MAX_STATEMENTS = 1000  # in one merged policy document (IAM's size limits allow far fewer)


@dataclass
class _Block:
    kind: str  # "resource" or "data"
    type: str
    name: str
    body: dict[str, Any]
    file: Path | None
    line: int | None
    # From a plan's `configuration`: attribute -> the addresses its expression refers to.
    references: dict[str, list[str]] = field(default_factory=dict)
    full_address: str | None = None  # a plan's address, with its `module.x.` path

    @property
    def address(self) -> str:
        if self.full_address:
            return self.full_address
        prefix = "data." if self.kind == "data" else ""
        return f"{prefix}{self.type}.{self.name}"


@dataclass
class _Module:
    source: str
    folder: Path | None
    blocks: dict[str, _Block] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    variable_lines: dict[str, int | None] = field(default_factory=dict)
    variable_files: dict[str, Path | None] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    texts: dict[Path, str] = field(default_factory=dict)
    # `module "x" { source = ... }` calls: name -> (arguments, file, line).
    calls: dict[str, tuple[dict[str, Any], Path | None, int | None]] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)  # -var style overrides


# -- parsing -------------------------------------------------------------------------------------
def _blocks(items: Any) -> list[dict[str, Any]]:
    return [b for b in items if isinstance(b, dict)] if isinstance(items, list) else []


def _collect(module: _Module, parsed: dict[str, Any], path: Path | None) -> None:
    for kind in ("resource", "data"):
        for entry in _blocks(parsed.get(kind)):
            for rtype, named in entry.items():
                for name, body in named.items() if isinstance(named, dict) else ():
                    block = _Block(
                        kind,
                        rtype,
                        name,
                        normal(body) if isinstance(body, dict) else {},
                        path,
                        start_line(body),
                    )
                    module.blocks[block.address] = block
    for entry in _blocks(parsed.get("variable")):
        for name, body in entry.items():
            module.variables[name] = normal(body) if isinstance(body, dict) else {}
            module.variable_lines[name] = start_line(body)
            module.variable_files[name] = path
    for entry in _blocks(parsed.get("locals")):
        module.locals.update(normal(entry))
    for entry in _blocks(parsed.get("module")):
        for name, body in entry.items():
            if isinstance(body, dict):
                module.calls[name] = (normal(body), path, start_line(body))


def read_terraform_files(
    paths: list[Path], source: str, values: dict[str, str] | None = None
) -> Infrastructure:
    """A module: the given `.tf` files (one folder's), read as one. `values` set variables
    (`--parameter environment=prod`, like `terraform plan -var`)."""
    module = _Module(source, paths[0].parent if paths else None, values=dict(values or {}))
    for path in paths:
        text = read_limited(path, "Terraform file")
        module.texts[path] = text
        _collect(module, parse_hcl(text, str(path)), path)
    return _Builder(module).build()


def read_terraform_text(text: str, source: str) -> Infrastructure:
    """One Terraform file's text (a file whose name does not end in .tf)."""
    module = _Module(source, None)
    module.texts[Path(source)] = text
    _collect(module, parse_hcl(text, source), Path(source))
    return _Builder(module).build()


def read_terraform_plan(data: dict[str, Any], source: str) -> Infrastructure:
    """`terraform show -json` output (a plan's `planned_values`, or a state's `values`)."""
    module = _Module(source, None)
    root = (data.get("planned_values") or data.get("values") or {}).get("root_module") or {}
    pending = [root]
    while pending:
        current = pending.pop()
        if not isinstance(current, dict):
            continue
        pending.extend(current.get("child_modules") or [])
        for res in current.get("resources") or []:
            if not isinstance(res, dict) or not isinstance(res.get("type"), str):
                continue
            kind = "data" if res.get("mode") == "data" else "resource"
            address = str(res.get("address") or f"{res['type']}.{res.get('name')}")
            values: dict[str, Any] = res["values"] if isinstance(res.get("values"), dict) else {}
            block = _Block(kind, res["type"], str(res.get("name", "")), values, None, None)
            block.full_address = address
            module.blocks[address.removeprefix("data.") if kind == "resource" else address] = block
    _plan_references(module, (data.get("configuration") or {}).get("root_module") or {})
    return _Builder(module).build(plan=True)


def _plan_references(module: _Module, config: dict[str, Any], prefix: str = "") -> None:
    """Which role a function or policy refers to: a plan's values hold ARNs that are not known
    yet, its `configuration` holds the expressions (`aws_iam_role.api.arn`), per module."""
    for res in config.get("resources") or []:
        if not isinstance(res, dict):
            continue
        block = module.blocks.get(prefix + str(res.get("address", "")))
        expressions = res.get("expressions")
        if block is None or not isinstance(expressions, dict):
            continue
        for key, expression in expressions.items():
            if isinstance(expression, dict) and isinstance(expression.get("references"), list):
                block.references[key] = [prefix + str(r) for r in expression["references"]]
    calls = config.get("module_calls")
    for name, call in calls.items() if isinstance(calls, dict) else ():
        inner = call.get("module") if isinstance(call, dict) else None
        if isinstance(inner, dict) and prefix.count("module.") < MAX_FOLLOW:
            _plan_references(module, inner, f"{prefix}module.{name}.")


# -- expressions ---------------------------------------------------------------------------------
class _Builder:
    def __init__(self, module: _Module) -> None:
        self.module = module
        self.infra = Infrastructure(module.source, "terraform")
        self.role_policies: dict[str, list[PolicyDocument]] = {}
        self.role_managed: dict[str, list[Any]] = {}
        self._lines: dict[Path, list[str]] = {}
        # Policy document data sources already built: a document merged from many places
        # (or a diamond of them) is built once.
        self._documents: dict[str, dict[str, Any]] = {}

    def value(self, raw: Any, depth: int = 0) -> Any:
        """A normalised HCL value in the model's expression language."""
        if isinstance(raw, Expr):
            return self.expression(raw.text, depth)
        if isinstance(raw, str) and "${" in raw:
            return self._template(raw, depth)
        if isinstance(raw, dict):
            return {k: self.value(v, depth) for k, v in raw.items()}
        if isinstance(raw, list):
            return [self.value(v, depth) for v in raw]
        return raw

    def _template(self, text: str, depth: int) -> Any:
        """A string with `${...}` interpolations: literal parts kept, each interpolation
        replaced by its literal value when it has one; one interpolation alone is that
        expression."""
        if whole_interpolation(text):
            return self.expression(text[2:-1].strip(), depth)
        unknown = False

        def one(match: re.Match[str]) -> str:
            nonlocal unknown
            resolved = self.expression(match.group(1).strip(), depth)
            if isinstance(resolved, str):
                return resolved
            unknown = True
            return match.group(0)

        result = re.sub(r"\$\{([^{}]*)\}", one, text)
        return {"Fn::Sub": result} if unknown else result

    def expression(self, text: str, depth: int = 0) -> Any:
        if depth > MAX_FOLLOW:
            return {"Ref": text}
        decoded = JSONDECODE.match(text)
        if decoded:
            return self.expression(decoded.group(1).strip(), depth + 1)
        encoded = JSONENCODE.match(text)
        if encoded:
            return self._jsonencode(encoded.group(1), depth)
        read = FILE_CALL.match(text)
        if read:
            return self._module_file(read.group(1))
        if text.startswith("var."):
            return self._variable(text[4:].split(".", 1)[0].split("[", 1)[0], depth)
        if text.startswith("local."):
            name = text[6:].split(".", 1)[0].split("[", 1)[0]
            if name in self.module.locals:
                return self.value(self.module.locals[name], depth + 1)
            return {"Ref": text}
        return self._reference(text)

    def _variable(self, name: str, depth: int) -> Any:
        if name in self.module.values:
            return self.module.values[name]
        body = self.module.variables.get(name)
        if body is None:
            return {"Ref": f"var.{name}"}
        default = body.get("default")
        if isinstance(default, str | int | float) and not isinstance(default, bool):
            return self.value(default, depth + 1)
        return {"Ref": f"var.{name}"}

    def _jsonencode(self, argument: str, depth: int) -> Any:
        """`jsonencode(EXPR)`: EXPR read with the HCL parser, then turned into values."""
        parsed = parse_expression(argument)
        if parsed is None:
            return {"Ref": f"jsonencode({argument[:60]})"}
        return self.value(parsed, depth + 1)

    def _module_file(self, relative: str) -> Any:
        folder = self.module.folder
        if folder is None or relative.startswith("/") or ".." in Path(relative).parts:
            return {"Ref": f"file({relative})"}
        path = folder / relative
        inside = path.resolve().is_relative_to(folder.resolve())
        if not inside or not path.is_file():
            return {"Ref": f"file({relative})"}  # a link out of the module is not followed
        return read_limited(path, "file")

    def _reference(self, text: str) -> Any:
        found = REFERENCE.match(text)
        if not found:
            return {"Ref": text}
        is_data, rtype, name, attribute = found.groups()
        address = f"{'data.' if is_data else ''}{rtype}.{name}"
        block = self.module.blocks.get(address)
        if rtype in ("aws_secretsmanager_secret_version",) and attribute in (
            "secret_string",
            "secret_binary",
        ):
            return "{{resolve:secretsmanager:" + self._secret_id(block, address) + "}}"
        if rtype == "aws_secretsmanager_secret" and attribute in ("arn", "id", "name"):
            return {"Ref": address}
        if rtype == "aws_ssm_parameter":
            return self._ssm_reference(block, address, attribute, is_data is not None)
        if (rtype, attribute) in SECRET_ATTRIBUTES:
            self.infra.secret_attributes[(address, attribute)] = SECRET_ATTRIBUTES[
                (rtype, attribute)
            ]
            return {"Fn::GetAtt": [address, attribute]}
        return {"Ref": text}

    def _secret_id(self, block: _Block | None, address: str) -> str:
        if block is None:
            return f"${{{address}}}"
        target = self.value(block.body.get("secret_id"))
        if isinstance(target, str):
            return target
        if isinstance(target, dict) and isinstance(target.get("Ref"), str):
            name = self.infra.secret_name_of(target["Ref"]) or self._secret_name(target["Ref"])
            if name:
                return name
        return f"${{{address}}}"

    def _secret_name(self, address: str) -> str | None:
        block = self.module.blocks.get(address)
        if block is None:
            return None
        name = self.value(block.body.get("name"))
        return name if isinstance(name, str) else None

    def _ssm_reference(self, block: _Block | None, address: str, attribute: str, data: bool) -> Any:
        name = self.value(block.body.get("name")) if block else None
        label = name if isinstance(name, str) else f"${{{address}}}"
        if attribute in ("arn", "name", "id"):
            return f"arn:aws:ssm:::parameter/{label.lstrip('/')}"
        secure = block is not None and self.value(block.body.get("type")) == "SecureString"
        kind = "ssm-secure" if secure else "ssm"
        return "{{resolve:" + kind + ":" + label + "}}"

    # -- building the model ------------------------------------------------------------------------
    def build(self, *, plan: bool = False) -> Infrastructure:
        if plan:
            self.infra.format = "terraform-plan"
        self._parameters()
        blocks = list(self.module.blocks.values())
        for block in blocks:
            if block.file is not None:
                self.infra.files[block.address] = str(block.file)
        for name, path in self.module.variable_files.items():
            if path is not None:
                self.infra.files[f"var.{name}"] = str(path)
        for block in blocks:
            self._definitions(block)
        for block in blocks:
            self._role_policies(block)
        for block in blocks:
            if block.kind != "resource":
                continue
            if block.type == "aws_lambda_function":
                self.infra.functions.append(self._lambda(block))
            elif block.type == "aws_ecs_task_definition":
                self.infra.functions.append(self._task(block))
        self._event_source_mappings(blocks)
        from envsecrets.core.terraform_modules import read_module_calls

        read_module_calls(self)
        return self.infra

    def _event_source_mappings(self, blocks: list[_Block]) -> None:
        """`aws_lambda_event_source_mapping`'s `source_access_configuration` secrets go to the
        function it invokes (Lambda reads them with the function's role)."""
        for block in blocks:
            if block.kind != "resource" or block.type != "aws_lambda_event_source_mapping":
                continue
            raw = block.body.get("function_name")
            texts = (
                [raw.text] if isinstance(raw, Expr) else block.references.get("function_name", [])
            )
            name = self.value(raw)
            target = next(
                (
                    f
                    for f in self.infra.functions
                    if any(t.startswith(f.logical_id + ".") for t in texts)
                    or (isinstance(name, str) and name == f.name)
                ),
                None,
            )
            if target is None:
                continue
            for entry in _blocks(block.body.get("source_access_configuration")):
                kind = self.value(entry.get("type"))
                if isinstance(kind, str) and kind in SECRET_ACCESS_TYPES:
                    target.event_secrets.append(
                        (self.value(entry.get("uri")), block.line, f"{block.address} ({kind})")
                    )

    def _parameters(self) -> None:
        for name, body in self.module.variables.items():
            default = body.get("default")
            self.infra.parameters[f"var.{name}"] = Parameter(
                f"var.{name}",
                "String",
                default if isinstance(default, str | int | float) else None,
                body.get("sensitive") is True,
                self.module.variable_lines.get(name),
            )

    def _definitions(self, block: _Block) -> None:
        body = block.body
        if block.type == "aws_secretsmanager_secret":
            name = self.value(body.get("name"))
            self.infra.secrets[block.address] = DefinedSecret(block.address, name, block.line)
        elif block.type == "aws_ssm_parameter":
            name = self.value(body.get("name"))
            kind = self.value(body.get("type"))
            self.infra.ssm_parameters[block.address] = DefinedParameter(
                block.address, name, kind if isinstance(kind, str) else "", block.line
            )
            value = self.value(body.get("value"))
            if isinstance(value, str) and block.kind == "resource":
                label = name if isinstance(name, str) else block.address
                self.infra.stored_values.append(
                    StoredValue(
                        block.address,
                        str(label),
                        value,
                        self._attribute_line(block, "value"),
                        kind == "SecureString",
                    )
                )
        stored = STORED_CREDENTIALS.get(block.type)
        # Only a literal written here: a variable's literal default is reported at the variable.
        if stored and block.kind == "resource" and not isinstance(body.get(stored), Expr):
            value = self.value(body.get(stored))
            if isinstance(value, str):
                self.infra.stored_values.append(
                    StoredValue(
                        block.address, stored, value, self._attribute_line(block, stored), True
                    )
                )

    def _attribute_line(self, block: _Block, key: str) -> int | None:
        return self.attribute_line(block.file, block.line, key)

    def attribute_line(self, file: Path | None, start: int | None, key: str) -> int | None:
        """The line of attribute `key` in the block starting at `start`: searched in its first
        400 lines (the file's lines are split once per file: a large file stays linear)."""
        if file is None or start is None:
            return start
        lines = self._lines.get(file)
        if lines is None:
            lines = self._lines[file] = self.module.texts.get(file, "").splitlines()
        wanted = re.compile(rf'^\s*"?{re.escape(key)}"?\s*=')
        for number in range(start, min(len(lines), start + 400)):
            if wanted.match(lines[number]):
                return number + 1
        return start

    def json_document(self, raw: Any) -> Any:
        """A policy document held by an attribute (see `_json`), or None."""
        value = self._json(raw)
        return value if isinstance(value, dict) and "Statement" in value else None

    def _document(self, raw: Any, owner: _Block | None = None) -> Any:
        """A policy document from `jsonencode({...})`, heredoc JSON or a policy document data
        source's `.json`. One that cannot be read is said (an unread note), never dropped in
        silence."""
        if isinstance(raw, Expr) and raw.text.endswith(".json"):
            block = self.module.blocks.get(raw.text[: -len(".json")])
            if block is not None and block.type == "aws_iam_policy_document":
                return self._policy_document(block)
        value = self._json(raw)
        if isinstance(value, dict) and "Statement" in value:
            return value
        if owner is not None and raw is not None:
            self._unread(owner, "policy", "its policy document could not be read")
        return None

    def _json(self, raw: Any) -> Any:
        """The JSON an attribute holds: a heredoc or string (a template: each interpolation
        kept as an expression), `jsonencode(...)`, `file(...)`, `templatefile(...)` or a
        `template_file`'s `rendered`; NOT_READ when it cannot be read."""
        if isinstance(raw, str):
            parsed = template_json(raw)
            return NOT_READ if parsed is None else self.value(parsed)
        if isinstance(raw, Expr):
            call = TEMPLATEFILE.match(raw.text)
            if call:
                return self._templatefile(call.group(1))
            rendered = RENDERED.match(raw.text)
            if rendered:
                return self._rendered(rendered.group(1))
        value = self.value(raw)
        if isinstance(value, str):
            parsed = template_json(value)
            return NOT_READ if parsed is None else self.value(parsed)
        if isinstance(value, dict | list) and not _unknown(value):
            return value
        return NOT_READ

    def _templatefile(self, arguments: str) -> Any:
        """`templatefile("${path.module}/x.json.tpl", { a = var.b })`: the module's own file,
        each `${name}` replaced by its variable (a literal, or the expression it is)."""
        parsed = parse_expression(f"[{arguments}]")
        if not isinstance(parsed, list) or not parsed or not isinstance(parsed[0], str):
            return NOT_READ
        variables = parsed[1] if len(parsed) > 1 and isinstance(parsed[1], dict) else {}
        relative = re.sub(r"^\$\{path\.(?:module|root)\}/", "", parsed[0]).removeprefix("./")
        return self._render(self._module_file(relative), variables)

    def _rendered(self, name: str) -> Any:
        """`data.template_file.NAME.rendered` (the template provider's older way)."""
        block = self.module.blocks.get(f"data.template_file.{name}")
        if block is None:
            return NOT_READ
        variables = block.body.get("vars")
        return self._render(
            self.value(block.body.get("template")),
            variables if isinstance(variables, dict) else {},
        )

    def _render(self, template: Any, variables: dict[str, Any]) -> Any:
        if not isinstance(template, str):
            return NOT_READ

        def rewrite(expression: str) -> Any:
            if expression not in variables:
                return None
            given = variables[expression]
            if isinstance(given, Expr):
                return given
            resolved = self.value(given)
            return resolved if isinstance(resolved, str) else None

        parsed = template_json(template, rewrite)
        return NOT_READ if parsed is None else self.value(parsed)

    def _unread(self, block: _Block, what: str, reason: str) -> None:
        note = Unread(block.address, what, reason, block.line)
        if note not in self.infra.unread:
            self.infra.unread.append(note)

    def _policy_document(self, block: _Block, seen: frozenset[str] = frozenset()) -> dict[str, Any]:
        """A `data "aws_iam_policy_document"` as Terraform builds it: the statements of its
        `source_policy_documents` (and `source_json`), then its own `statement`s, then those
        of its `override_policy_documents` (and `override_json`), a later statement replacing
        an earlier one of the same `sid`. A source that is not this module's policy document
        data source or readable JSON, and a `dynamic "statement"`, are noted as not read."""
        if block.address in self._documents:
            return self._documents[block.address]
        seen = seen | {block.address}
        merged = _Merged()
        for key, raw in self._sources(block, "source_json", "source_policy_documents"):
            merged.add(self._statements_of(block, key, raw, seen))
        own = []
        for raw in _blocks(block.body.get("statement")):
            statement: dict[str, Any] = {"Effect": self.value(raw.get("effect")) or "Allow"}
            for key, name in (
                ("sid", "Sid"),
                ("actions", "Action"),
                ("not_actions", "NotAction"),
                ("resources", "Resource"),
                ("not_resources", "NotResource"),
            ):
                if key in raw:
                    statement[name] = self.value(raw[key])
            own.append(statement)
        merged.add(own)
        for key, raw in self._sources(block, "override_json", "override_policy_documents"):
            merged.add(self._statements_of(block, key, raw, seen))
        for dynamic in _blocks(block.body.get("dynamic")):
            if "statement" in dynamic:
                self._unread(
                    block,
                    "policy",
                    'a dynamic "statement" block: the statements it makes are not read',
                )
        if merged.full:
            self._unread(block, "policy", f"more than {MAX_STATEMENTS:,} statements merged")
        document = LineDict({"Version": "2012-10-17", "Statement": merged.statements})
        document.line = block.line
        self._documents[block.address] = document
        return document

    def _sources(self, block: _Block, single: str, many: str) -> list[tuple[str, Any]]:
        """The documents `block` merges from `single` (`source_json`/`override_json`) and
        `many` (`source_policy_documents`/`override_policy_documents`, a list)."""
        found = [(single, block.body[single])] if block.body.get(single) is not None else []
        documents = block.body.get(many)
        if isinstance(documents, list):
            found.extend((f"{many}[{i}]", raw) for i, raw in enumerate(documents))
        elif documents is not None:
            self._unread(block, "policy", f"{many} is an expression whose documents are not read")
        return found

    def _statements_of(self, block: _Block, key: str, raw: Any, seen: frozenset[str]) -> list[Any]:
        """The statements of one document `block` merges: this module's
        `data.aws_iam_policy_document.X.json`, or JSON the audit can read (a heredoc,
        `jsonencode(...)`); anything else is noted and gives none."""
        if isinstance(raw, Expr) and raw.text.endswith(".json"):
            other = self.module.blocks.get(raw.text[: -len(".json")])
            if other is not None and other.type == "aws_iam_policy_document":
                if other.address in seen:
                    self._unread(block, "policy", f"{other.address} merges itself")
                    return []
                return list(self._policy_document(other, seen)["Statement"])
        value = self._json(raw)
        if isinstance(value, dict) and "Statement" in value:
            statement = value["Statement"]
            return list(statement) if isinstance(statement, list) else [statement]
        self._unread(
            block,
            "policy",
            f"{key} is not a document the audit can read (only this module's "
            "aws_iam_policy_document data sources and JSON are)",
        )
        return []

    def _role_of(self, block: _Block, key: str) -> str | None:
        """`aws_iam_role.x.arn` / `.name` / `.id` -> `aws_iam_role.x`."""
        raw = block.body.get(key)
        texts = [raw.text] if isinstance(raw, Expr) else block.references.get(key, [])
        for text in texts:
            found = re.match(
                r"^((?:module\.[A-Za-z0-9_-]+\.)*aws_iam_role\.[A-Za-z0-9_-]+)(\.|$)", text
            )
            if found:
                return found.group(1)
        return None

    def _policy_of(self, block: _Block, key: str) -> _Block | None:
        raw = block.body.get(key)
        texts = [raw.text] if isinstance(raw, Expr) else block.references.get(key, [])
        for text in texts:
            found = re.match(
                r"^((?:module\.[A-Za-z0-9_-]+\.)*aws_iam_policy\.[A-Za-z0-9_-]+)(\.|$)", text
            )
            if found and found.group(1) in self.module.blocks:
                return self.module.blocks[found.group(1)]
        return None

    def _role_policies(self, block: _Block) -> None:
        body = block.body
        if block.kind != "resource":
            return
        if block.type == "aws_iam_role":
            for inline in _blocks(body.get("inline_policy")):
                self._add_policy(block.address, inline.get("policy"), f"role {block.name}", block)
            for raw in _as_list(body.get("managed_policy_arns")):
                self._attach_policy(block.address, raw)
        elif block.type == "aws_iam_policy_attachment":
            for raw in _as_list(body.get("roles")):
                role = self._role_in(raw)
                if role:
                    self._attach_policy(role, body.get("policy_arn"))
        elif block.type == "aws_iam_role_policy":
            role = self._role_of(block, "role")
            if role:
                self._add_policy(role, body.get("policy"), block.address, block)
        elif block.type == "aws_iam_role_policy_attachment":
            role = self._role_of(block, "role")
            if role is None:
                return
            attached = self._policy_of(block, "policy_arn")
            if attached is not None:
                self._add_policy(role, attached.body.get("policy"), attached.address, attached)
            else:
                self.role_managed.setdefault(role, []).append(self.value(body.get("policy_arn")))

    def _role_in(self, raw: Any) -> str | None:
        """`aws_iam_role.x.name` in a list of roles -> `aws_iam_role.x`."""
        text = raw.text if isinstance(raw, Expr) else ""
        found = re.match(r"^((?:module\.[A-Za-z0-9_-]+\.)*aws_iam_role\.[A-Za-z0-9_-]+)", text)
        return found.group(1) if found else None

    def _attach_policy(self, role: str, raw: Any) -> None:
        """A managed policy attached to `role`: this module's `aws_iam_policy` (its document is
        read), or an ARN (AWS's broad managed policies are judged by name)."""
        text = raw.text if isinstance(raw, Expr) else ""
        found = re.match(r"^((?:module\.[A-Za-z0-9_-]+\.)*aws_iam_policy\.[A-Za-z0-9_-]+)", text)
        policy = self.module.blocks.get(found.group(1)) if found else None
        if policy is not None:
            self._add_policy(role, policy.body.get("policy"), policy.address, policy)
        else:
            self.role_managed.setdefault(role, []).append(self.value(raw))

    def _add_policy(self, role: str, raw: Any, origin: str, owner: _Block) -> None:
        document = self._document(raw, owner)
        if document is not None:
            self.role_policies.setdefault(role, []).append(
                PolicyDocument(document, owner.line, origin)
            )

    def _attach(self, function: TemplateFunction, block: _Block, key: str, kind: str) -> None:
        role = self._role_of(block, key)
        if role is None:
            return
        for policy in self.role_policies.get(role, ()):
            function.policies.append(
                PolicyDocument(policy.document, policy.line, policy.origin, kind)
            )
        for arn in self.role_managed.get(role, ()):
            function.managed_policy_arns.append((arn, None))

    def _name(self, block: _Block, key: str) -> str:
        value = self.value(block.body.get(key))
        return value if isinstance(value, str) and value else block.name

    def _lambda(self, block: _Block) -> TemplateFunction:
        function = TemplateFunction(
            block.address, "AWS::Lambda::Function", block.line, self._name(block, "function_name")
        )
        for environment in _blocks(block.body.get("environment")):
            raw = environment.get("variables")
            variables = self.value(raw) if isinstance(raw, Expr) else raw
            if isinstance(variables, dict):
                self.add_variables(function, variables, block.file, block.line)
            elif raw is not None:
                self._unread(block, "variables", "its environment variables could not be read")
        self._attach(function, block, "role", "function")
        return function

    def add_variables(
        self,
        function: TemplateFunction,
        variables: dict[str, Any],
        file: Path | None,
        line: int | None,
    ) -> None:
        """A map of environment variables (names to HCL values) into `function`."""
        for key, raw in variables.items():
            value = self.value(raw)
            literal = value if isinstance(value, str) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                literal = str(value)
            function.variables.append(
                EnvVar(
                    str(key),
                    literal,
                    self.attribute_line(file, line, str(key)),
                    None if literal is not None else value,
                )
            )

    def _task(self, block: _Block) -> TemplateFunction:
        function = TemplateFunction(
            block.address, "AWS::ECS::TaskDefinition", block.line, self._name(block, "family")
        )
        raw = block.body.get("container_definitions")
        definitions = self._json(raw) if raw is not None else []
        if not isinstance(definitions, list):
            # Containers nobody can see are not clean containers: say so.
            self._unread(block, "containers", "its container definitions could not be read")
        line = self._attribute_line(block, "container_definitions")
        for container in definitions if isinstance(definitions, list) else []:
            if isinstance(container, dict):
                add_container(function, container, line)
        self._attach(function, block, "task_role_arn", "task")
        self._attach(function, block, "execution_role_arn", "execution")
        return function


class _Merged:
    """Terraform's merge of policy documents: a statement whose `Sid` is already there
    replaces it; any other is added. At most MAX_STATEMENTS are kept: IAM allows a few kB per
    policy, so a document merged into itself over and over is a bomb, not a policy (what is
    kept is judged, and `full` says the rest was not)."""

    def __init__(self) -> None:
        self.statements: list[Any] = []
        self.by_sid: dict[str, int] = {}
        self.full = False

    def add(self, more: list[Any]) -> None:
        for statement in more:
            sid = statement.get("Sid") if isinstance(statement, dict) else None
            known = self.by_sid.get(sid) if isinstance(sid, str) and sid else None
            if known is not None:
                self.statements[known] = statement
                continue
            if len(self.statements) >= MAX_STATEMENTS:
                self.full = True
                return
            if isinstance(sid, str) and sid:
                self.by_sid[sid] = len(self.statements)
            self.statements.append(statement)


def _unknown(value: Any) -> bool:
    """An expression whose value is not in the files (`{"Ref": ...}`, `{"Fn::Sub": ...}`)."""
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("Ref", "Fn::Sub")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
