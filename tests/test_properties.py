"""Property tests (hypothesis): names agree with an independent reading of DESIGN.md's rules,
and every kind of value round-trips byte for byte.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import re
import string
from pathlib import Path
from typing import Any

import pytest
from envsecrets.core.names import SecretName
from envsecrets.core.values import MAX_VALUE_BYTES, SecretValue
from envsecrets.errors import CliError, ExitCode
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

# -- the oracle: DESIGN.md's name rules, transcribed on their own --------------------------------
# "A name is <env>/<path>: env is [a-z0-9][a-z0-9-]{0,31}; path segments are non-empty, made of
#  A-Za-z0-9_+=.@-; no leading/trailing /, no //, no . or .. segment; total length 1-512. Names
#  ending in - plus six characters (jwt-secret, db-master) are accepted."
ORACLE_ENV = r"[a-z0-9][a-z0-9\-]{0,31}"
ORACLE_SEGMENT = r"[A-Za-z0-9_+=.@\-]+"
ORACLE_SHAPE = re.compile(rf"{ORACLE_ENV}/{ORACLE_SEGMENT}(?:/{ORACLE_SEGMENT})*")


def oracle_allows(text: str) -> bool:
    if not (1 <= len(text) <= 512 and ORACLE_SHAPE.fullmatch(text)):
        return False
    path_segments = text.split("/")[1:]
    return "." not in path_segments and ".." not in path_segments


def parser_allows(text: str) -> bool:
    try:
        parsed = SecretName.parse(text)
    except CliError as error:
        assert error.code == ExitCode.USAGE
        assert "\n" not in error.message and "\r" not in error.message
        return False
    assert str(parsed) == text
    assert f"{parsed.env}/{parsed.path}" == text
    return True


# -- strategies ----------------------------------------------------------------------------------
SEGMENT_CHARS = string.ascii_letters + string.digits + "_+=.@-"
envs = st.from_regex(re.compile(r"[a-z0-9][a-z0-9-]{0,31}"), fullmatch=True)
segments = st.text(alphabet=SEGMENT_CHARS, min_size=1, max_size=40)
suffix_like = st.text(alphabet=SEGMENT_CHARS, min_size=6, max_size=6).map(lambda s: "-" + s)
# Segments are often the path steps `.` and `..`, to test that rule.
segments_or_dots = st.one_of(segments, st.sampled_from([".", ".."]))
valid_shaped = st.builds(
    lambda env, parts, tail: f"{env}/{'/'.join(parts)}{tail}",
    envs,
    st.lists(segments_or_dots, min_size=1, max_size=6),
    st.one_of(st.just(""), suffix_like),  # often ends like AWS's suffix: accepted
)
# Names near the 512 limit: one long segment.
long_names = st.builds(
    lambda env, size: f"{env}/{'k' * max(1, size - len(env) - 1)}",
    envs,
    st.integers(min_value=500, max_value=520),
)
# Near misses: valid-shaped names with one character replaced, inserted or a '/' doubled.
NOISE = "/ -_A\t\n\x00é€😀?*:,"


@st.composite
def near_misses(draw: st.DrawFn) -> str:
    base = draw(valid_shaped)
    where = draw(st.integers(min_value=0, max_value=len(base)))
    noise = draw(st.sampled_from(NOISE))
    how = draw(st.sampled_from(["replace", "insert", "prefix", "suffix"]))
    if how == "replace":
        return base[:where] + noise + base[where + 1 :]
    if how == "insert":
        return base[:where] + noise + base[where:]
    return noise + base if how == "prefix" else base + noise


arbitrary = st.text(
    alphabet=st.one_of(st.sampled_from("abcdz09-/_+=.@AZ"), st.characters()), max_size=60
)
any_name = st.one_of(valid_shaped, near_misses(), long_names, arbitrary)


@settings(max_examples=400, deadline=None)
@given(any_name)
@example("dev/api/stripe-key")
@example("dev/db-secret")  # '-' plus six: accepted
@example("dev/../prod/key")  # a path step: refused
@example("dev/.")
@example("dev/a..b")
@example("dev/key12345")
@example("a/b")
@example("dev//key")
@example("/dev/key")
@example("dev/key/")
@example("Dev/key")
@example("dev")
@example("")
@example("-dev/key")
@example("d" * 32 + "/key")
@example("d" * 33 + "/key")
@example("dev/" + "k" * 508)  # 512 characters
@example("dev/" + "k" * 509)  # 513 characters
def test_name_parser_agrees_with_the_rules(text: str) -> None:
    allowed = oracle_allows(text)
    event("allowed" if allowed else "refused")
    assert parser_allows(text) == allowed


@pytest.mark.parametrize(
    ("text", "allowed"),
    [
        ("dev/x-ab-cde", True),
        ("dev/jwt-secret", True),
        ("dev/ab-c/defg", True),
        ("dev/a/../b", False),
        ("dev/./b", False),
        ("dev/.hidden", True),
    ],
)
def test_names_ending_like_aws_suffix_are_accepted_and_dot_segments_refused(
    text: str, allowed: bool
) -> None:
    assert parser_allows(text) == oracle_allows(text) == allowed


@pytest.mark.parametrize("text", ["dev/x\nhint: run rm", "dev\r/x", "\n"])
def test_name_error_is_one_line_even_with_line_breaks(text: str) -> None:
    with pytest.raises(CliError) as caught:
        SecretName.parse(text)
    assert "\n" not in caught.value.message and "\r" not in caught.value.message


# -- values ---------------------------------------------------------------------------------------
def sized_bytes(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def sized_text(seed: int, size: int) -> bytes:
    """UTF-8 text of at most `size` bytes, mixing ASCII, accents, CJK, emoji and newlines."""
    rng = random.Random(seed)
    pools = ["abcXYZ019 ", "\n\t\r", "éüßñ", "日本語中文", "😀🔑", '{}":,[]']
    out: list[str] = []
    used = 0
    while True:
        char = rng.choice(rng.choice(pools))
        width = len(char.encode())
        if used + width > size:
            break
        out.append(char)
        used += width
    return "".join(out).encode() or b"x"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
sizes = st.one_of(
    st.sampled_from([1, 2, 4096, MAX_VALUE_BYTES - 1, MAX_VALUE_BYTES]),
    st.integers(min_value=1, max_value=MAX_VALUE_BYTES),
)
seeds = st.integers(min_value=0, max_value=2**32)
values = st.one_of(
    st.text(min_size=1, max_size=200).map(str.encode),  # any unicode, control characters too
    st.binary(min_size=1, max_size=200),
    st.dictionaries(st.text(max_size=10), json_values, min_size=1).map(
        lambda d: json.dumps(d, ensure_ascii=False).encode()
    ),
    st.builds(sized_bytes, seeds, sizes),
    st.builds(sized_text, seeds, sizes),
).filter(lambda data: 0 < len(data) <= MAX_VALUE_BYTES)

NAMES = itertools.count()


# Examples share the function-scoped emulator and work dir; each uses a fresh secret name and
# file, so nothing carries over from one example to the next.
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=values)
@example(data=b"\x00")
@example(data=b"trailing newline kept\n")
@example(data=b"\r\n")
@example(data=b"\xff" * MAX_VALUE_BYTES)
def test_any_value_round_trips_set_from_file_then_get(
    cli: Any, sm: Any, aws_env: Path, data: bytes
) -> None:
    number = next(NAMES)
    name = f"dev/prop/v{number}"
    source = aws_env / f"value{number}.bin"
    source.write_bytes(data)
    created = cli("set", name, "--from-file", str(source))
    assert created.code == 0, created.stderr
    got = cli("get", name)
    assert got.code == 0, got.stderr
    assert got.stdout_bytes == data
    stored = sm.get_secret_value(SecretId=name)
    kept = stored["SecretBinary"] if "SecretBinary" in stored else stored["SecretString"].encode()
    assert hashlib.sha256(kept).digest() == hashlib.sha256(data).digest()


def test_one_byte_over_the_limit_is_refused_and_nothing_created(
    cli: Any, sm: Any, aws_env: Path
) -> None:
    source = aws_env / "big.bin"
    source.write_bytes(b"a" * (MAX_VALUE_BYTES + 1))
    refused = cli("set", "dev/prop/big", "--from-file", str(source))
    assert refused.code == 2
    assert sm.list_secrets()["SecretList"] == []


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=512), st.text(max_size=256).map(str.encode)))
def test_secret_value_keeps_bytes_exactly(data: bytes) -> None:
    value = SecretValue.from_bytes(data)
    assert value.data() == data
    assert value.size == len(data)
    assert value.sha256 == hashlib.sha256(data).hexdigest()
    assert data.hex() not in repr(value) or len(data) < 4  # never the value in repr
    if not value.is_binary:
        assert value.text().encode() == data


@settings(max_examples=50, deadline=None)
@given(seeds, sizes)
def test_secret_value_keeps_large_bytes_exactly(seed: int, size: int) -> None:
    data = sized_bytes(seed, size)
    assert SecretValue.from_bytes(data).data() == data
    text = sized_text(seed, size)
    assert SecretValue.from_bytes(text).data() == text
