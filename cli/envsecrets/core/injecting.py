"""`secrets inject`: a template whose `{{ secrets://ENV/PATH }}` and `{{ secrets://ENV/PATH#KEY }}`
references become values.

The template is handled as bytes: everything outside a reference comes out byte for byte
(encodings, line endings, a missing final newline). A reference is `{{`, optional blanks,
`secrets://`, a secret name, optionally `#` and a top-level key of a JSON object secret,
optional blanks, `}}`. Text that starts like a reference (`{{ secrets:`) but is not a valid
one is an error naming its line, not left in place for the program to trip over later.

Rendering is all or nothing: every reference is parsed, read and checked first; only then is
the result built, so an unknown secret or key means no output at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from envsecrets.core.names import SecretName
from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode

# A reference, strictly; and anything that starts like one (to refuse it when malformed).
REFERENCE = re.compile(rb"\{\{[ \t]*secrets://([^\s{}#]+)(?:#([^\s{}]+))?[ \t]*\}\}")
# Blanks of any kind, newlines too: a reference split across lines is not left in place.
LOOKS_LIKE_REFERENCE = re.compile(rb"\{\{\s*secrets:")
MAX_TEMPLATE_BYTES = 16 * 1024 * 1024  # a template is configuration, not a data set


@dataclass(frozen=True)
class Reference:
    """One `{{ secrets://... }}` in a template."""

    name: SecretName
    key: str | None
    line: int
    start: int
    end: int


class _LineCounter:
    """The line of an offset, for offsets asked in increasing order: each byte of the
    template is counted once (counting from the start for every reference made a template
    of many references quadratic)."""

    def __init__(self, template: bytes) -> None:
        self._template = template
        self._offset = 0
        self._line = 1

    def line_of(self, offset: int) -> int:
        self._line += self._template.count(b"\n", self._offset, offset)
        self._offset = offset
        return self._line


def find_references(template: bytes, source: str) -> list[Reference]:
    """Every reference in `template`, in order; a malformed one is a usage error naming
    `source` and its line."""
    if len(template) > MAX_TEMPLATE_BYTES:
        raise CliError(
            ExitCode.USAGE,
            f"{source} is {len(template)} bytes; templates are limited to {MAX_TEMPLATE_BYTES}",
            "split the template, or inject into smaller files",
        )
    found: list[Reference] = []
    strict = {m.start(): m for m in REFERENCE.finditer(template)}
    lines = _LineCounter(template)
    for loose in LOOKS_LIKE_REFERENCE.finditer(template):
        line = lines.line_of(loose.start())
        match = strict.get(loose.start())
        if match is None:
            raise CliError(
                ExitCode.USAGE,
                f"{source}:{line}: malformed reference (expected {{{{ secrets://ENV/PATH }}}} "
                "or {{ secrets://ENV/PATH#KEY }})",
                "write the secret's full name after secrets://, e.g. "
                "{{ secrets://prod/db/password }}",
            )
        try:
            name = SecretName.parse(match.group(1).decode("ascii"))
        except (CliError, UnicodeDecodeError) as exc:
            why = exc.message if isinstance(exc, CliError) else "it is not ASCII"
            raise CliError(
                ExitCode.USAGE, f"{source}:{line}: {why}", "names look like prod/db/password"
            ) from None
        key = match.group(2).decode("utf-8", "replace") if match.group(2) else None
        found.append(Reference(name, key, line, match.start(), match.end()))
    return found


def first_lines(references: Sequence[Reference], source: str) -> dict[str, str]:
    """For each secret referenced, how an error names it: `source:LINE: prod/db/password`."""
    lines: dict[str, str] = {}
    for ref in references:
        lines.setdefault(str(ref.name), f"{source}:{ref.line}: {ref.name}")
    return lines


def render_template(
    template: bytes, references: Sequence[Reference], values: Mapping[str, SecretValue], source: str
) -> bytes:
    """The template with every reference replaced by its value (or its JSON key's value).
    Every reference is checked before anything is built."""
    pieces = [resolve(ref, values, source) for ref in references]
    out = bytearray()
    position = 0
    for ref, piece in zip(references, pieces, strict=True):
        out += template[position : ref.start]
        out += piece
        position = ref.end
    out += template[position:]
    return bytes(out)


def resolve(ref: Reference, values: Mapping[str, SecretValue], source: str) -> bytes:
    """What `ref` becomes: its secret's value, or its JSON key's; a CliError naming the line
    when either is missing."""
    value = values.get(str(ref.name))
    where = f"{source}:{ref.line}"
    if value is None:
        raise CliError(
            ExitCode.NOT_FOUND,
            f"{where}: secret {ref.name} not found",
            f"`secrets list {ref.name.env}/` shows what exists",
        )
    if ref.key is None:
        return value.data()
    if value.kind != "json":
        raise CliError(
            ExitCode.USAGE,
            f"{where}: {ref.name} is not a JSON object, so it has no key '{ref.key}'",
            f"drop #{ref.key} to insert the whole value",
        )
    try:
        return value.field(ref.key).data()
    except CliError as exc:
        raise CliError(
            ExitCode.NOT_FOUND, f"{where}: {ref.name} has no key '{ref.key}'", exc.hint
        ) from None
