"""SecretValue never shows itself; request_token is stable; the 65,536-byte limit holds."""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import traceback
import uuid

import pytest
from envsecrets.core.values import (
    MAX_VALUE_BYTES,
    SecretValue,
    member_text,
    request_token,
    set_member,
)
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


# -- editing one member: every other byte kept, whatever the layout ----------------------------
GAPS = st.text(alphabet=" \t\n\r", max_size=3)  # JSON's four whitespace characters
MEMBER_VALUES = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["1.10", "1e400", "-0.0", "true", "false", "null", '"\\u00e9"', "[1, {}]"]),
    st.text(max_size=6).map(lambda t: json.dumps(t)),
    st.just('{"nested": {"a": [1, 2]}}'),
)


@st.composite
def laid_out_objects(draw: st.DrawFn) -> tuple[str, dict[str, tuple[int, int]], int]:
    """A JSON object with arbitrary whitespace between its tokens; returns its text, each
    member's value span, and where the closing brace is."""
    keys = draw(st.lists(st.text(max_size=5), unique=True, max_size=4))
    text = draw(GAPS) + "{" + draw(GAPS)
    spans: dict[str, tuple[int, int]] = {}
    for index, key in enumerate(keys):
        if index:
            text += "," + draw(GAPS)
        text += json.dumps(key) + draw(GAPS) + ":" + draw(GAPS)
        value = draw(MEMBER_VALUES)
        spans[key] = (len(text), len(text) + len(value))
        text += value + draw(GAPS)
    close = len(text)
    return text + "}" + draw(GAPS), spans, close


@settings(max_examples=300, deadline=None)
@given(document=laid_out_objects(), key=st.text(max_size=5), new=st.text(min_size=1, max_size=6))
def test_set_member_changes_exactly_that_member(document, key: str, new: str) -> None:
    text, spans, close = document
    new_json = json.dumps(new, ensure_ascii=False)
    edited = set_member(text, key, new_json)
    assert json.loads(edited) == {**json.loads(text), key: new}
    if key in spans:
        start, end = spans[key]
        assert edited == text[:start] + new_json + text[end:]
    else:
        kept = max((end for _, end in spans.values()), default=close)
        assert edited.startswith(text[:kept]) and edited.endswith(text[kept:])
        assert f"{json.dumps(key, ensure_ascii=False)}" in edited[kept:]
    assert SecretValue(text).kind == "json"  # leading whitespace and all


@pytest.mark.parametrize(
    ("document", "why"),
    [
        ('{"a": 1} x', "it is not strict JSON: NaN, Infinity or a syntax error"),
        ('{"a": 1 "b": 2}', "it is not strict JSON: NaN, Infinity or a syntax error"),
        ('{"a" 1}', "it is not strict JSON: NaN, Infinity or a syntax error"),
        ("{a: 1}", "it is not strict JSON: NaN, Infinity or a syntax error"),
        ('{"a": Infinity}', "it is not strict JSON: NaN, Infinity or a syntax error"),
        ('{"a": "\x01"}', "it is not strict JSON: NaN, Infinity or a syntax error"),
        ('[{"a": 1}]', "it is not strict JSON: NaN, Infinity or a syntax error"),
        ('{"k": 1, "k": 2, "k": 3}', "the key appears 3 times"),
        ('{"a": 1}x', "it is not strict JSON: NaN, Infinity or a syntax error"),
        ('{"a": 1}X', "it is not strict JSON: NaN, Infinity or a syntax error"),
        ('{"a": 1}\x0c', "it is not strict JSON: NaN, Infinity or a syntax error"),  # not JSON's
    ],
)
def test_set_member_refuses_in_words(document: str, why: str) -> None:
    with pytest.raises(CliError) as refused:
        set_member(document, "k", '"v"')
    assert refused.value.code == ExitCode.USAGE
    assert (
        refused.value.message == f"--field k: the JSON secret cannot be edited faithfully ({why})"
    )
    assert refused.value.hint == (
        "fix the document (`secrets get NAME` shows it) and store it whole with --stdin or "
        "--from-file, then use --field again"
    )


def test_set_member_adds_after_the_last_member_spaced_alike() -> None:
    assert set_member("{}", "k", '"v"') == '{"k": "v"}'
    assert set_member('{"a": 1}', "é", '"v"') == '{"a": 1, "é": "v"}'
    assert set_member('{"a":1,"b":2}', "k", '"v"') == '{"a":1,"b":2,"k":"v"}'
    assert set_member('{\n\t"a": 1\n}', "k", '"v"') == '{\n\t"a": 1,\n\t"k": "v"\n}'
    # commas and braces inside values are not the object's own
    assert set_member('{"a": 1, "b": "x,y"}', "k", '"v"') == '{"a": 1, "b": "x,y", "k": "v"}'
    assert set_member('{\n  "a": {"n": 1}\n}', "k", '"v"') == '{\n  "a": {"n": 1},\n  "k": "v"\n}'
    assert set_member('{ "a" : 1 ,\n  "b" : 2 }', "k", '"v"') == (
        '{ "a" : 1 ,\n  "b" : 2,\n  "k" : "v" }'
    )


# -- what a user reads -----------------------------------------------------------------------------
def test_value_errors_in_words() -> None:
    cases = [
        (lambda: SecretValue(b"\xff").text(), "the value is binary, not text",
         "a JSON field holds text only: drop --field to store binary data as a whole secret"),
        (lambda: SecretValue("").validate(), "the value is empty",
         "a secret needs a non-empty value"),
        (lambda: SecretValue("a" * 65_537).validate(),
         "the value is 65537 bytes; Secrets Manager allows at most 65536",
         "store large files elsewhere (e.g. S3 with KMS) and keep only a key here"),
        (lambda: SecretValue("plain").field("k"), "--field k: the secret is not a JSON object",
         "drop --field to work with the whole value"),
        (lambda: SecretValue("{}").field("k"), "--field k: no such key in the JSON secret",
         "keys present: (none)"),
        (lambda: SecretValue('{"b": 1, "a": 2}').field("k"),
         "--field k: no such key in the JSON secret", "keys present: a, b"),
        (lambda: SecretValue('{"b": 1, "a": 2}').with_field("k", SecretValue("v")),
         "--field k: no such key in the JSON secret", "keys present: a, b"),
        (lambda: SecretValue("plain").with_field("k", SecretValue("v"), create=True),
         "--field k: the secret is not a JSON object", "drop --field to work with the whole value"),
        (lambda: SecretValue(b'{"k": "v"}').field("k"),  # binary, however it looks
         "--field k: the secret is not a JSON object", "drop --field to work with the whole value"),
        (lambda: SecretValue("{}").with_field("k", SecretValue("v")),
         "--field k: no such key in the JSON secret", "keys present: (none)"),
    ]  # fmt: skip
    for action, message, hint in cases:
        with pytest.raises(CliError) as caught:
            action()
        assert (caught.value.code, caught.value.message, caught.value.hint) == (
            ExitCode.USAGE,
            message,
            hint,
        )


def test_what_a_value_shows_of_itself() -> None:
    value = SecretValue("hunter2")
    digest = hashlib.sha256(b"hunter2").hexdigest()
    shown = repr(value)
    assert shown == str(value) == f"{value}" == repr(SecretValue("hunter2"))  # equal: same tag
    assert re.fullmatch(r"SecretValue\(tag=[0-9a-f]{8}…, len=7\)", shown)
    # keyed per process: not the value's plain digest, which could be looked up
    assert digest[:8] not in shown and repr(SecretValue("hunter3")) != shown
    with pytest.raises(TypeError, match=r"^SecretValue cannot be pickled$"):
        pickle.dumps(value)
    assert SecretValue("é").data() == "é".encode() and SecretValue("é").size == 2
    assert SecretValue("[1]").kind == "text" and SecretValue(' \n{"a": 1}').kind == "json"
    assert SecretValue('{"a": 1').kind == "text" and SecretValue(b"{}").kind == "binary"
    assert {SecretValue("x"), SecretValue("x"), SecretValue(b"x")} == {
        SecretValue("x"),
        SecretValue(b"x"),
    }


def test_a_field_is_stored_as_typed_not_escaped() -> None:
    edited = SecretValue('{"a": 1}').with_field("k", SecretValue("pässwörd ✓"), create=True)
    assert edited.text() == '{"a": 1, "k": "pässwörd ✓"}'


def test_request_tokens_are_stable_across_releases() -> None:
    """A run that crashed after its write is often retried by a newer release of the tool (an
    upgrade in between): the token must come out the same, or the retry makes a second
    version. These are the tokens every release derives."""
    assert request_token("dev/x", SecretValue("v1"), None) == "48e40b30-ab62-485e-a2c8-36fc0dafd55c"
    assert request_token("dev/x", SecretValue(b"v1"), "a1b2") == (
        "896df600-f506-437f-9ca3-7aa07d7dca5b"
    )
    # each replaced version gives its own token (a value set back after a rollback is new)
    assert request_token("dev/x", SecretValue("v1"), "a") != request_token(
        "dev/x", SecretValue("v1"), "b"
    )


def test_text_with_a_lone_surrogate_is_a_usage_error_that_names_no_character() -> None:
    """`{"a": "x\\ud800y"}` is valid JSON; its member cannot be UTF-8 text."""
    from envsecrets.errors import CliError

    with pytest.raises(CliError) as refused:
        SecretValue("x\ud800y")
    assert refused.value.code == 2
    assert "lone surrogate" in refused.value.message and "ud800" not in refused.value.message
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


def test_the_lone_surrogate_error_says_why_and_what_to_do() -> None:
    """The words a user reads when `--field` picked a member that holds half a UTF-16 pair:
    what is wrong (Unicode, UTF-16, UTF-8 named as such) and the two ways out."""
    from envsecrets.errors import CliError

    with pytest.raises(CliError) as refused:
        SecretValue("x\ud800y")
    assert refused.value.message == (
        "the text is not valid Unicode: it holds a lone surrogate (half of a UTF-16 pair), "
        "which no UTF-8 text can hold"
    )
    assert refused.value.hint == (
        "a JSON member written as `\\ud800` alone is the usual cause: read the whole secret "
        "without --field, or store the text with its pair complete"
    )


def test_a_value_that_is_neither_text_nor_bytes_is_refused_saying_how_to_convert_it() -> None:
    """A script calling the API unchecked: a number is not silently stored (`bytes(5432)` would
    be 5,432 NUL bytes); the error names the type and how to store it."""
    from envsecrets.errors import CliError

    with pytest.raises(CliError) as refused:
        SecretValue(5432)  # type: ignore[arg-type]
    assert refused.value.code == 2
    assert refused.value.message == "a secret value is text (str) or bytes, not int"
    assert refused.value.hint == (
        "convert it first: str(5432) stores a number as text, json.dumps(obj) a dict or list "
        "as a JSON secret"
    )


def test_a_non_string_field_comes_back_as_its_exact_text_in_the_document() -> None:
    """`1.10` stays `1.10` (re-encoding the parsed number would give `1.1`), a nested object
    keeps its spacing, and null stays null."""
    document = SecretValue('{"f": 1.10, "o": {"a":  [1,2]}, "n": null}')
    assert document.field("f").text() == "1.10"
    assert document.field("o").text() == '{"a":  [1,2]}'
    assert document.field("n").text() == "null"


def test_a_field_of_a_document_with_nan_comes_back_as_python_wrote_it() -> None:
    """Python's json.dumps writes NaN and Infinity, and such secrets exist: their fields are
    read (not edited, see above) and come back as the document spells them, never as null."""
    document = SecretValue('{"rate": NaN, "limits": [1, Infinity], "ok": -Infinity}')
    assert document.field("rate").text() == "NaN"
    assert document.field("limits").text() == "[1, Infinity]"
    assert document.field("ok").text() == "-Infinity"


def test_member_text_is_none_for_a_key_the_document_does_not_have() -> None:
    assert member_text('{"a": 1, "b": {"c": 2}}', "c") is None
    assert member_text('{"a": 1}', "b") is None
    assert member_text('{"a": 1, "a": 2.50}', "a") == "2.50"  # the last one, as parsers take
