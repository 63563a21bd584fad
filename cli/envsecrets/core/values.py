"""Secret values that cannot leak by accident.

`SecretValue` holds text or bytes. Its `repr`/`str`/`format` show only a short SHA-256 and the
length, so an f-string, a log line or a traceback never carries the value. Reading the value
is explicit: `.text()` or `.data()`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from envsecrets.errors import CliError, ExitCode

MAX_VALUE_BYTES = 65_536  # Secrets Manager's limit for SecretString and SecretBinary


def _looks_like_text(data: bytes) -> bool:
    """UTF-8 without NUL or other control characters (tab, CR and LF are fine)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(ord(c) < 32 and c not in "\t\r\n" for c in text)


class SecretValue:
    """An immutable secret value: text (SecretString) or bytes (SecretBinary)."""

    __slots__ = ("_data", "_is_binary", "_sha256")

    def __init__(self, data: str | bytes) -> None:
        if isinstance(data, str):
            raw = data.encode("utf-8")
            self._is_binary = False
        else:
            raw = bytes(data)
            self._is_binary = True
        self._data = raw
        self._sha256 = hashlib.sha256(raw).hexdigest()

    @classmethod
    def from_bytes(cls, data: bytes) -> SecretValue:
        """Bytes from a file or stdin: stored as text when they are clean UTF-8, else binary."""
        return cls(data.decode("utf-8")) if _looks_like_text(data) else cls(data)

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
        """One key of a JSON object value; strings come back as-is, others JSON-encoded."""
        obj = self._require_json(key)
        if key not in obj:
            raise CliError(
                ExitCode.USAGE,
                f"--field {key}: no such key in the JSON secret",
                f"keys present: {', '.join(sorted(obj)) or '(none)'}",
            )
        item = obj[key]
        return SecretValue(item if isinstance(item, str) else json.dumps(item))

    def with_field(self, key: str, new: SecretValue, *, create: bool = False) -> SecretValue:
        """A copy of this JSON object with `key` set to `new` (as a string); other keys kept."""
        obj = self._require_json(key)
        if key not in obj and not create:
            raise CliError(
                ExitCode.USAGE,
                f"--field {key}: no such key in the JSON secret",
                f"keys present: {', '.join(sorted(obj)) or '(none)'}",
            )
        obj[key] = new.text()
        return SecretValue(json.dumps(obj, ensure_ascii=False))

    # -- safety -----------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"SecretValue(sha256={self._sha256[:8]}…, len={self.size})"

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


def request_token(name: str, value: SecretValue, after_version: str | None) -> str:
    """A ClientRequestToken that makes a write idempotent.

    Derived from the name, the value's hash and the version the write replaces, so a retry
    after a lost reply reuses the token (and AWS creates no second version), while setting a
    value back to an older one later still gets a fresh token.
    """
    seed = f"envsecrets\0{name}\0{value.sha256}\0{after_version or ''}".encode()
    return str(uuid.UUID(bytes=hashlib.sha256(seed).digest()[:16], version=4))
