"""Secret values that cannot leak by accident.

`SecretValue` holds text or bytes. Its `repr`/`str`/`format` show only a short tag and the
length, so an f-string, a log line or a traceback never carries the value. The tag is an HMAC
under a key made at random when this module is imported: equal values show equal tags within
one run, but a tag cannot be looked up (an unsalted SHA-256 prefix of a 4-digit PIN is found
by trying all 10,000). Reading the value is explicit: `.text()` or `.data()`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import uuid
from dataclasses import dataclass
from typing import Any

from envsecrets.errors import CliError, ExitCode, listed

MAX_VALUE_BYTES = 65_536  # Secrets Manager's limit for SecretString and SecretBinary
_REPR_KEY = os.urandom(32)  # per process: a repr's tag means nothing outside this run


# What a terminal acts on rather than shows: C0 controls but tab, LF and CR; DEL; C1 controls.
_TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _raw(data: object) -> tuple[bytes, bool]:
    """A value's bytes and whether it is binary. Typed `object`: scripts calling the public
    API are not type-checked, and `bytes(5432)` would be 5,432 NUL bytes stored as the value."""
    if isinstance(data, str):
        try:
            return data.encode("utf-8"), False
        except UnicodeEncodeError:
            # A lone surrogate (`"\\ud800"` in JSON text is valid JSON): no UTF-8 holds it.
            # The codec's own message would name the character and where it is.
            raise CliError(
                ExitCode.USAGE,
                "the text is not valid Unicode: it holds a lone surrogate (half of a UTF-16 "
                "pair), which no UTF-8 text can hold",
                "a JSON member written as `\\ud800` alone is the usual cause: read the whole "
                "secret without --field, or store the text with its pair complete",
            ) from None
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data), True
    raise CliError(
        ExitCode.USAGE,
        f"a secret value is text (str) or bytes, not {type(data).__name__}",
        "convert it first: str(5432) stores a number as text, json.dumps(obj) a dict or list "
        "as a JSON secret",
    )


class SecretValue:
    """An immutable secret value: text (SecretString) or bytes (SecretBinary)."""

    __slots__ = ("_data", "_is_binary", "_sha256")

    def __init__(self, data: str | bytes) -> None:
        raw, self._is_binary = _raw(data)
        self._data = raw
        self._sha256 = hashlib.sha256(raw).hexdigest()

    @classmethod
    def from_bytes(cls, data: bytes) -> SecretValue:
        """Bytes from a file or stdin: text (SecretString) when they are valid UTF-8, control
        characters included, else binary (SecretBinary). `kind` says which was made."""
        text = _utf8(data)
        return cls(data) if text is None else cls(text)

    # -- reading the value (explicit on purpose) -------------------------------------------
    def data(self) -> bytes:
        """The value's bytes (UTF-8 for text)."""
        return self._data

    def text(self) -> str:
        """The value as text; raises for binary values."""
        if self._is_binary:
            raise CliError(
                ExitCode.USAGE,
                "the value is binary, not text",
                "a JSON field holds text only: drop --field to store binary data as a whole secret",
            )
        return self._data.decode("utf-8")

    # -- facts that are safe to show ------------------------------------------------------
    @property
    def is_binary(self) -> bool:
        """Whether the value is bytes (SecretBinary) rather than text (SecretString)."""
        return self._is_binary

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the bytes: how values are compared and reported."""
        return self._sha256

    @property
    def size(self) -> int:
        """The value's length in bytes (UTF-8 for text)."""
        return len(self._data)

    @property
    def kind(self) -> str:
        """`binary`, `json` (a JSON object) or `text`."""
        if self._is_binary:
            return "binary"
        return "json" if self._json_object() is not None else "text"

    @property
    def has_terminal_controls(self) -> bool:
        """Whether the value holds characters a terminal would act on (escape sequences,
        backspaces...): such a value is not written to a terminal, like binary."""
        text = _utf8(self._data)
        return text is None or _TERMINAL_CONTROLS.search(text) is not None

    def validate(self) -> SecretValue:
        """Raise a usage error when the value is empty or over the Secrets Manager limit."""
        if self.size == 0:
            raise CliError(ExitCode.USAGE, "the value is empty", "a secret needs a non-empty value")
        if self.size > MAX_VALUE_BYTES:
            raise CliError(
                ExitCode.USAGE,
                f"the value is {self.size} bytes; Secrets Manager allows at most {MAX_VALUE_BYTES}",
                "store large files elsewhere (e.g. S3 with KMS) and keep only a key here",
            )
        return self

    # -- JSON fields ------------------------------------------------------------------------
    def _json_object(self) -> dict[str, Any] | None:
        if self._is_binary or not self._data.lstrip().startswith(b"{"):
            return None
        try:
            parsed = json.loads(self._data)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None

    def _require_json(self, key: str) -> dict[str, Any]:
        obj = self._json_object()
        if obj is None:
            raise CliError(
                ExitCode.USAGE,
                f"--field {key}: the secret is not a JSON object",
                "drop --field to work with the whole value",
            )
        return obj

    def field(self, key: str) -> SecretValue:
        """One key of a JSON object value; strings come back as-is, others as their exact
        text in the document (`1.10` stays `1.10`, `1e400` stays `1e400`, a nested object
        keeps its spacing): re-encoding a parsed number would change it."""
        obj = self._require_json(key)
        if key not in obj:
            raise CliError(
                ExitCode.USAGE,
                f"--field {key}: no such key in the JSON secret",
                f"keys present: {listed(sorted(obj), empty='(none)')}",
            )
        item = obj[key]
        if isinstance(item, str):
            return SecretValue(item)
        return SecretValue(member_text(self.text(), key) or json.dumps(item))

    def with_field(self, key: str, new: SecretValue, *, create: bool = False) -> SecretValue:
        """A copy of this JSON object with `key` set to `new` (as a string).

        Only that member's value changes: every other byte of the document is kept as it was
        (numbers such as `1e400` or `1.10`, spacing, key order, escapes), so that no tool that
        reads the secret sees a change it did not ask for. A document that cannot be edited
        faithfully (not strict JSON, or the key given twice) is refused (exit 2).
        """
        obj = self._require_json(key)
        if key not in obj and not create:
            raise CliError(
                ExitCode.USAGE,
                f"--field {key}: no such key in the JSON secret",
                f"keys present: {', '.join(sorted(obj)) or '(none)'}",
            )
        edited = set_member(self.text(), key, json.dumps(new.text(), ensure_ascii=False))
        return SecretValue(edited)

    # -- safety -----------------------------------------------------------------------------
    def __repr__(self) -> str:
        # For people reading a log or a traceback: which values are equal, never which value.
        tag = hmac.new(_REPR_KEY, self._data, hashlib.sha256).hexdigest()[:8]
        return f"SecretValue(tag={tag}…, len={self.size})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue):
            return NotImplemented
        return self._is_binary == other._is_binary and self._sha256 == other._sha256

    def __hash__(self) -> int:
        return hash((self._is_binary, self._sha256))

    def __reduce__(self) -> Any:
        # Pickling would write the value to wherever the pickle goes (a cache, a queue).
        raise TypeError("SecretValue cannot be pickled")


# -- editing one member of a JSON object in place -------------------------------------------------
@dataclass(frozen=True)
class _Member:
    """One `"key": value` of a JSON object: where its key starts and its value's span."""

    key: str
    key_start: int
    key_end: int
    value_start: int
    value_end: int


@dataclass(frozen=True)
class _ObjectLayout:
    """The members of a top-level JSON object, and where its closing brace is."""

    members: tuple[_Member, ...]
    close: int


def _not_json_constant(name: str) -> Any:
    # json accepts NaN and Infinity, which are not JSON: a document holding them is refused
    # rather than stored again as something other tools cannot read.
    raise ValueError(f"{name} is not JSON")


# Numbers are kept as their text (never turned into floats or big ints), so any number that
# JSON's grammar allows parses, whatever its size.
_STRICT = json.JSONDecoder(
    parse_float=str, parse_int=str, parse_constant=_not_json_constant, strict=True
)


_WHITESPACE = re.compile(r"[ \t\n\r]*")  # JSON's four whitespace characters


def _skip(text: str, at: int) -> int:
    """The index of the first non-whitespace character at or after `at`."""
    found = _WHITESPACE.match(text, at)
    return found.end() if found else at


def _layout(text: str) -> _ObjectLayout:
    """The members of the JSON object `text`, with their spans; ValueError if `text` is not
    one strict JSON object (trailing data, NaN, control characters in strings...)."""
    at = _skip(text, 0)
    if text[at : at + 1] != "{":
        raise ValueError("not an object")
    at = _skip(text, at + 1)
    members: list[_Member] = []
    while text[at : at + 1] != "}":
        if members:
            if text[at : at + 1] != ",":
                raise ValueError("expected ','")
            at = _skip(text, at + 1)
        if text[at : at + 1] != '"':
            raise ValueError("expected a key")
        key, key_end = _STRICT.raw_decode(text, at)
        colon = _skip(text, key_end)
        if text[colon : colon + 1] != ":":
            raise ValueError("expected ':'")
        value_start = _skip(text, colon + 1)
        _, value_end = _STRICT.raw_decode(text, value_start)
        members.append(_Member(key, at, key_end, value_start, value_end))
        at = _skip(text, value_end)
    if text[at + 1 :].strip(" \t\n\r"):
        raise ValueError("data after the object")
    return _ObjectLayout(tuple(members), at)


def member_text(text: str, key: str) -> str | None:
    """The exact text of member `key`'s value in the JSON object `text` (the last one, as
    parsers take, if the key is given twice); None if `text` is not strict JSON or has no
    such key."""
    try:
        layout = _layout(text)
    except (ValueError, RecursionError):
        return None
    found = [m for m in layout.members if m.key == key]
    return text[found[-1].value_start : found[-1].value_end] if found else None


def _cannot_edit(key: str, why: str) -> CliError:
    return CliError(
        ExitCode.USAGE,
        f"--field {key}: the JSON secret cannot be edited faithfully ({why})",
        "fix the document (`secrets get NAME` shows it) and store it whole with --stdin or "
        "--from-file, then use --field again",
    )


def set_member(text: str, key: str, value_json: str) -> str:
    """`text` (a JSON object) with member `key` set to `value_json` (JSON text), or added
    after the last member; every other byte is kept. The result is parsed again to check that
    only that member changed."""
    try:
        layout = _layout(text)
    except (ValueError, RecursionError):
        raise _cannot_edit(key, "it is not strict JSON: NaN, Infinity or a syntax error") from None
    found = [m for m in layout.members if m.key == key]
    if len(found) > 1:
        raise _cannot_edit(key, f"the key appears {len(found)} times")
    if found:
        member = found[0]
        edited = text[: member.value_start] + value_json + text[member.value_end :]
    else:
        edited = _with_member_added(text, layout, json.dumps(key, ensure_ascii=False), value_json)
    _check_only_member_changed(text, edited, key, value_json)
    return edited


def _with_member_added(text: str, layout: _ObjectLayout, key_json: str, value_json: str) -> str:
    """`text` with `"key": value` after its last member, spaced like the last member."""
    if not layout.members:
        return text[: layout.close] + f"{key_json}: {value_json}" + text[layout.close :]
    last = layout.members[-1]
    if len(layout.members) > 1:
        before = layout.members[-2]
        comma = text.index(",", before.value_end)
        gap = text[comma + 1 : last.key_start]
    else:
        # One member: a pretty-printed object gives its indentation, a one-line one a space.
        opening = text[text.index("{") + 1 : last.key_start]
        gap = opening if "\n" in opening else " "
    colon = text[last.key_end : last.value_start]
    addition = f",{gap}{key_json}{colon}{value_json}"
    return text[: last.value_end] + addition + text[last.value_end :]


def _check_only_member_changed(old: str, new: str, key: str, value_json: str) -> None:
    before, after = _layout(old), _layout(new)
    kept_before = [(m.key, old[m.key_start : m.value_end]) for m in before.members if m.key != key]
    kept_after = [(m.key, new[m.key_start : m.value_end]) for m in after.members if m.key != key]
    changed = [new[m.value_start : m.value_end] for m in after.members if m.key == key]
    if kept_before != kept_after or changed != [value_json]:
        raise _cannot_edit(key, "the edit would change other members")


def request_token(name: str, value: SecretValue, after_version: str | None) -> str:
    """A ClientRequestToken that makes a write idempotent.

    Derived from the name, the value's hash and the version the write replaces, so a retry
    after a lost reply reuses the token (and AWS creates no second version), while setting a
    value back to an older one later still gets a fresh token.
    """
    seed = f"envsecrets\0{name}\0{value.sha256}\0{after_version or ''}".encode()
    return str(uuid.UUID(bytes=hashlib.sha256(seed).digest()[:16], version=4))
