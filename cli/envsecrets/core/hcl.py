"""Terraform's HCL read with python-hcl2 (a maintained HCL2 parser), within the limits of
untrusted input, into plain values: literal strings, numbers, lists, mappings, and `Expr` for
everything that is not a literal (`var.x`, `aws_x.y.arn`, a function call).

Why python-hcl2 7.x: 8.x installs a top-level `cli` package next to ours in site-packages
(issue 11 item 1 forbids that). 7.x returns expressions as `${...}` strings, keeps `$${` as
written, and marks each block with the lines it spans (`with_meta`), which gives every block
its line without searching the text for it.

What the parser does not accept and Terraform does is mended first: blanks after a heredoc's
closing marker (python-hcl2 issue #343) and Windows line endings.

python-hcl2 (with lark) is imported only when a Terraform file is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from envsecrets.core.untrusted import MAX_HCL_BYTES, UntrustedInputError, check_bracket_depth
from envsecrets.errors import CliError, ExitCode

TERRAFORM_HINT = "check the file with `terraform validate`"
META_KEYS = ("__start_line__", "__end_line__")
HEREDOC_OPENER = re.compile(r"<<-?([A-Za-z][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class Expr:
    """A Terraform expression that is not a literal (`var.x`, `aws_x.y.arn`, a call)."""

    text: str


def mend(text: str) -> str:
    """`text` with what Terraform accepts and python-hcl2 refuses put right: CRLF line
    endings, and blanks after a heredoc's closing marker (`EOF  `). Line numbers stay."""
    text = text.replace("\r\n", "\n")
    markers = set(HEREDOC_OPENER.findall(text))
    if not markers:
        return text
    alternation = "|".join(re.escape(m) for m in sorted(markers))
    return re.sub(rf"^([ \t]*(?:{alternation}))[ \t\r]+$", r"\1", text, flags=re.MULTILINE)


def whole_interpolation(text: str) -> bool:
    """True when `text` is one `${...}` from start to end (an expression), not a template
    such as `${a}-${b}`."""
    if not (text.startswith("${") and text.endswith("}")):
        return False
    depth = 0
    for index, char in enumerate(text):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index == len(text) - 1
    return False


def normal(value: Any) -> Any:
    """python-hcl2's output as plain values: `${expr}` -> Expr(expr), `$${` -> `${` (a
    literal that later reads as a template, as Terraform's would after escaping), blocks and
    objects as dicts without the line marks."""
    if isinstance(value, str):
        if whole_interpolation(value):
            return Expr(value[2:-1].strip())
        return value.replace("$${", "${").replace("%%{", "%{")
    if isinstance(value, dict):
        return {
            normal(k) if isinstance(k, str) else k: normal(v)
            for k, v in value.items()
            if k not in META_KEYS
        }
    if isinstance(value, list):
        return [normal(v) for v in value]
    return value


def parse_hcl(text: str, source: str) -> dict[str, Any]:
    """One file's HCL as python-hcl2 gives it (line marks kept on blocks); a file over the
    limits or that does not parse is a usage error naming the file."""
    from hcl2.api import loads
    from lark.exceptions import LarkError

    try:
        if len(text.encode("utf-8")) > MAX_HCL_BYTES:
            raise UntrustedInputError(f"larger than {MAX_HCL_BYTES // 1024} KiB of Terraform")
        check_bracket_depth(text)
    except UntrustedInputError as exc:
        raise CliError(ExitCode.USAGE, f"{source}: refused: {exc}", TERRAFORM_HINT) from None
    try:
        raw = loads(mend(text), with_meta=True)
    except LarkError as exc:
        line = getattr(exc, "line", None)
        where = f" line {line}" if isinstance(line, int) and line > 0 else ""
        raise CliError(
            ExitCode.USAGE,
            f"{source}:{where}: not valid Terraform ({type(exc).__name__})",
            TERRAFORM_HINT,
        ) from None
    except (RecursionError, ValueError, RuntimeError, KeyError, IndexError) as exc:
        raise CliError(
            ExitCode.USAGE,
            f"{source}: not valid Terraform ({type(exc).__name__})",
            TERRAFORM_HINT,
        ) from None
    return raw if isinstance(raw, dict) else {}


def parse_expression(text: str) -> Any:
    """One HCL expression's text (`[a, {b = 1}]`) as plain values; None when it does not
    parse (the caller keeps it as an unknown expression)."""
    from hcl2.api import loads
    from lark.exceptions import LarkError

    try:
        parsed = loads(mend(f"value = {text}\n"))
    except (LarkError, RecursionError, ValueError, RuntimeError, KeyError, IndexError):
        return None
    return normal(parsed.get("value")) if isinstance(parsed, dict) else None


def start_line(body: Any) -> int | None:
    """The line a block starts on (python-hcl2's line marks)."""
    line = body.get("__start_line__") if isinstance(body, dict) else None
    return line if isinstance(line, int) else None


def _interpolation_end(text: str, start: int) -> int:
    """The index just past the `}` closing the `${` or `%{` at `start`, or -1."""
    depth = 0
    for index in range(start + 1, len(text)):
        char = text[index]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index + 1
    return -1


def template_json(text: str, rewrite: Any = None) -> Any:
    """JSON text written as a Terraform template (a heredoc, a string, a `templatefile`)
    parsed with each `${...}` kept as an opaque expression: inside a JSON string it stays
    `${...}` (escaped for JSON), a bare one becomes the string `"${...}"`. `%{...}`
    directives are dropped. `rewrite(expression)` may give what an interpolation stands for
    (a templatefile variable): a literal string, or an `Expr`. None when the result is not
    JSON.

    Why: one interpolation anywhere (`"${aws_s3_bucket.b.arn}/*"`) must not hide the rest
    of a policy document (a `secretsmanager:*` on `*` next to it)."""
    import json

    out: list[str] = []
    in_string = False
    index = 0
    while index < len(text):
        char = text[index]
        if char in "$%" and text.startswith("{", index + 1):
            if index > 0 and text[index - 1] == char:  # `$${` is a literal `${`
                out.append(char)
                index += 1
                continue
            end = _interpolation_end(text, index)
            if end < 0:
                return None
            if char == "$":
                expression = text[index + 2 : end - 1].strip()
                replaced = rewrite(expression) if rewrite else None
                if isinstance(replaced, Expr):
                    replaced = "${" + replaced.text + "}"
                piece = replaced if isinstance(replaced, str) else "${" + expression + "}"
                encoded = json.dumps(piece)
                out.append(encoded[1:-1] if in_string else encoded)
            index = end
            continue
        if char == "\\" and in_string:
            out.append(text[index : index + 2])
            index += 2
            continue
        if char == '"':
            in_string = not in_string
        out.append(char)
        index += 1
    try:
        return json.loads("".join(out))
    except (ValueError, RecursionError):
        return None
