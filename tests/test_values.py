"""SecretValue never shows itself; request_token is stable; the 65,536-byte limit holds."""

from __future__ import annotations

import json
import pickle
import traceback
import uuid

import pytest
from envsecrets.core.values import MAX_VALUE_BYTES, SecretValue, request_token
from envsecrets.errors import CliError, ExitCode
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.fixture(autouse=True)
def aws_env() -> None:
    """Pure unit tests: no emulator to reset, nothing to isolate (overrides conftest's)."""


CANARY = "canary-5f0e9c1d-do-not-print"


def test_repr_str_format_never_show_the_value() -> None:
    value = SecretValue(CANARY)
    shown = [repr(value), str(value), f"{value}", f"{value!r}", f"{value:>40}", "%s" % value]  # noqa: UP031 - the old style must be safe too
    shown.append(repr([value, {"v": value}]))
    for text in shown:
        assert CANARY not in text
        assert "SecretValue(tag=" in text
        assert f"len={len(CANARY)}" in text


def test_the_repr_of_a_short_value_cannot_be_looked_up() -> None:
    """The repr showed an unsalted SHA-256 prefix: a 4-digit PIN was found by trying all
    10,000. The tag is keyed per process: same within a run, unrelated across runs."""
    import hashlib  # here, not at the top: another branch adds imports there today
    import subprocess
    import sys

    pin = "4821"
    shown = repr(SecretValue(pin))
    assert hashlib.sha256(pin.encode()).hexdigest()[:8] not in shown
    assert shown == repr(SecretValue(pin)) and shown != repr(SecretValue("4822"))
    script = "from envsecrets.core.values import SecretValue; print(repr(SecretValue('4821')))"
    other_run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert other_run.startswith("SecretValue(tag=") and other_run != shown


def test_a_traceback_does_not_carry_the_value() -> None:
    value = SecretValue(CANARY)
    try:
        raise RuntimeError(f"failed with {value}")
    except RuntimeError as exc:
        rendered = "".join(traceback.format_exception(exc))
    assert CANARY not in rendered


def test_cannot_be_pickled() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(SecretValue(CANARY))


def test_equality_is_by_sha256_and_kind() -> None:
    assert SecretValue("abc") == SecretValue("abc")
    assert SecretValue("abc") != SecretValue("abd")
    assert SecretValue("abc").sha256 == SecretValue("abc").sha256
    # the same bytes as text and as binary are different secrets to AWS
    assert SecretValue("abc") != SecretValue(b"abc")
    assert SecretValue(b"\x00\x01") == SecretValue(b"\x00\x01")
    assert len({SecretValue("a"), SecretValue("a"), SecretValue("b")}) == 2
    assert SecretValue("abc") != "abc"


def test_sha256_is_the_hex_digest_of_the_bytes() -> None:
    import hashlib

    assert SecretValue("héllo").sha256 == hashlib.sha256("héllo".encode()).hexdigest()


@pytest.mark.parametrize(
    ("data", "binary"),
    [
        (b"hello", False),
        (b"line one\nline two\r\n\ttabbed", False),
        ("ünïcødé ✓".encode(), False),
        (b'{"a": 1}', False),
        # Valid UTF-8 is text, control characters included (they were stored as binary).
        (b"\x00abc", False),
        (b"ab\x1bcd", False),
        (b"\x7f\xc2\x9b", False),  # DEL and the C1 control CSI, both valid UTF-8
        (b"\xff\xfe\x00", True),
        (b"\xc3", True),  # a cut multi-byte sequence
        (bytes(range(256)), True),
    ],
)
def test_text_or_binary_from_bytes(data: bytes, binary: bool) -> None:
    value = SecretValue.from_bytes(data)
    assert value.is_binary is binary
    assert value.data() == data
    assert value.kind == ("binary" if binary else ("json" if data.startswith(b"{") else "text"))


@pytest.mark.parametrize(
    ("data", "controls"),
    [
        (b"plain", False),
        (b"two\nlines\r\n\ttab", False),
        ("ünïcødé".encode(), False),
        (b"ab\x1bcd", True),
        (b"\x00", True),
        (b"bell\x07", True),
        (b"\x7f", True),
        ("csi\u009b".encode(), True),
        (b"\xff", True),  # binary
    ],
)
def test_terminal_controls_are_noticed(data: bytes, controls: bool) -> None:
    assert SecretValue.from_bytes(data).has_terminal_controls is controls


def test_text_of_binary_is_refused() -> None:
    with pytest.raises(CliError) as caught:
        SecretValue(b"\x00").text()
    assert caught.value.code == ExitCode.USAGE


def test_kind() -> None:
    assert SecretValue("plain").kind == "text"
    assert SecretValue('{"user": "u"}').kind == "json"
    assert SecretValue("[1, 2]").kind == "text"  # only objects have fields
    assert SecretValue("{not json").kind == "text"
    assert SecretValue(b"\x00").kind == "binary"


def test_field_reads_one_key() -> None:
    value = SecretValue(json.dumps({"user": "app", "port": 5432, "tls": {"on": True}}))
    assert value.field("user").text() == "app"
    assert value.field("port").text() == "5432"
    assert json.loads(value.field("tls").text()) == {"on": True}


def test_field_errors() -> None:
    with pytest.raises(CliError) as missing:
        SecretValue('{"user": "app"}').field("password")
    assert missing.value.code == ExitCode.USAGE
    assert "user" in (missing.value.hint or "")
    with pytest.raises(CliError) as not_json:
        SecretValue("plain text").field("user")
    assert "not a JSON object" in not_json.value.message
    with pytest.raises(CliError):
        SecretValue(b"\x00{}").field("user")


def test_with_field_keeps_other_keys() -> None:
    base = SecretValue('{"user": "app", "password": "old"}')
    updated = base.with_field("password", SecretValue("new"))
    assert json.loads(updated.text()) == {"user": "app", "password": "new"}
    assert json.loads(base.text())["password"] == "old"  # immutable
    with pytest.raises(CliError):
        base.with_field("host", SecretValue("db"))
    created = base.with_field("host", SecretValue("db"), create=True)
    assert json.loads(created.text())["host"] == "db"
    assert json.loads(SecretValue("{}").with_field("k", SecretValue("v"), create=True).text()) == {
        "k": "v"
    }


def test_with_field_keeps_every_other_byte() -> None:
    """Issue 18 item 13: `{"n": 1e400, "f": 1.10}` became `{"n": Infinity, "f": 1.1}`."""
    text = (
        '{"n": 1e400,  "f": 1.10, "big": 123456789012345678901234567890,\n'
        ' "u": "\\u00e9",\n "password": "old"}'
    )
    updated = SecretValue(text).with_field("password", SecretValue('n"ew'))
    assert updated.text() == text.replace('"old"', '"n\\"ew"')
    json.loads(updated.text(), parse_constant=_refuse)  # still JSON
    added = SecretValue('{\n  "a": 1.10\n}').with_field("b", SecretValue("v"), create=True)
    assert added.text() == '{\n  "a": 1.10,\n  "b": "v"\n}'


def _refuse(name: str) -> None:
    raise AssertionError(f"{name} is not JSON")


@pytest.mark.parametrize(
    ("document", "why"),
    [
        ('{"n": NaN, "password": "old"}', "not strict JSON"),
        ('{"n": -Infinity, "password": "old"}', "not strict JSON"),
        ('{"password": "a", "password": "b"}', "appears 2 times"),
    ],
)
def test_with_field_refuses_what_it_cannot_edit_faithfully(document: str, why: str) -> None:
    with pytest.raises(CliError) as refused:
        SecretValue(document).with_field("password", SecretValue("new"), create=True)
    assert refused.value.code == ExitCode.USAGE
    assert why in refused.value.message


@settings(max_examples=200, deadline=None)
@given(
    members=st.dictionaries(
        st.text(max_size=8),
        st.one_of(
            st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(), st.none()
        ),
        max_size=6,
    ),
    key=st.text(max_size=8),
    new=st.text(min_size=1, max_size=20),
    indent=st.sampled_from([None, 2]),
)
def test_with_field_changes_that_member_only(members, key, new, indent) -> None:
    text = json.dumps(members, indent=indent)
    edited = SecretValue(text).with_field(key, SecretValue(new), create=True).text()
    assert json.loads(edited, parse_constant=_refuse) == {**members, key: new}
    # Every other member is the same text as before.
    for other, value in members.items():
        if other != key:
            assert f"{json.dumps(other)}: {json.dumps(value)}" in edited


def test_with_field_refuses_non_json() -> None:
    with pytest.raises(CliError):
        SecretValue("plain").with_field("k", SecretValue("v"), create=True)


def test_limit_is_65536_bytes() -> None:
    assert MAX_VALUE_BYTES == 65_536
    SecretValue("a" * 65_536).validate()
    SecretValue(b"\x00" * 65_536).validate()
    with pytest.raises(CliError) as caught:
        SecretValue("a" * 65_537).validate()
    assert caught.value.code == ExitCode.USAGE
    assert "65537" in caught.value.message
    # bytes, not characters: 32,769 two-byte characters are 65,538 bytes
    with pytest.raises(CliError):
        SecretValue("é" * 32_769).validate()


def test_empty_is_refused() -> None:
    for empty in ("", b""):
        with pytest.raises(CliError) as caught:
            SecretValue(empty).validate()
        assert caught.value.code == ExitCode.USAGE
        assert "empty" in caught.value.message


def test_request_token_is_stable_and_specific() -> None:
    value = SecretValue("v1")
    token = request_token("dev/x", value, None)
    assert token == request_token("dev/x", SecretValue("v1"), None)
    assert uuid.UUID(token).version == 4
    assert 32 <= len(token) <= 64  # ClientRequestToken's length limits
    assert token != request_token("dev/y", value, None)
    assert token != request_token("dev/x", SecretValue("v2"), None)
    assert token != request_token("dev/x", value, "some-version")
    assert CANARY not in request_token("dev/x", SecretValue(CANARY), None)


def test_missing_field_hint_lists_at_most_ten_keys() -> None:
    import json

    value = SecretValue(json.dumps({f"key{i:03}": "v" for i in range(5000)}))
    with pytest.raises(CliError) as caught:
        value.field("nope")
    assert caught.value.hint is not None
    assert caught.value.hint.endswith("and 4,990 more")
    assert len(caught.value.hint) < 200
