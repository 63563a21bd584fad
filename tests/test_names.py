"""SecretName and NamePrefix: every rule of DESIGN.md's "Names" section, one by one."""

from __future__ import annotations

import pytest
from envsecrets.core.names import NamePrefix, SecretName, validate_env
from envsecrets.errors import CliError, ExitCode


@pytest.fixture(autouse=True)
def aws_env() -> None:
    """Pure unit tests: no emulator to reset, nothing to isolate (overrides conftest's)."""


GOOD = [
    "a/b",
    "prod/api/stripe-key",
    "dev-alice/api/key",
    "0env/x",
    "e" * 32 + "/x",
    "dev/A_b+c=d.e@f-g",
    "dev/a/b/c/d/e",
    "dev/key12345",  # six characters without the '-' are fine
    "dev/db-secret/value",
    "dev/ab-cdefghi",  # '-' plus seven characters
    "dev/ab-cdefg",  # '-' plus five characters
    # '-' plus six characters: names real teams use (DESIGN.md: Names)
    "dev/jwt-secret",
    "prod/api/client-secret",
    "prod/db-master",
    "dev/x-ABCDEF",
    "dev/a/b-123456",
    # dots inside a segment are characters like any other
    "dev/.env",
    "dev/a..b",
    "dev/...",
    "dev/a./.b",
]

BAD = [
    ("", "empty"),
    ("/dev/x", "starts or ends with '/'"),
    ("dev/x/", "starts or ends with '/'"),
    ("dev//x", "'//'"),
    ("dev", "no environment part"),
    ("Dev/x", "environment 'Dev'"),
    ("-dev/x", "environment '-dev'"),
    ("e" * 33 + "/x", "environment"),
    ("dev_x/y", "environment"),
    ("dev/a b", "segment 'a b'"),
    ("dev/a*b", "segment"),
    ("dev/a:b", "segment"),
    ("dev/ключ", "segment"),
    ("dev/../prod/key", "segment '..'"),
    ("dev/a/../b", "segment '..'"),
    ("dev/.", "segment '.'"),
    ("dev/./key", "segment '.'"),
    ("dev/..", "segment '..'"),
    ("dev/" + "a" * 509, "at most 512"),
]


@pytest.mark.parametrize("text", GOOD)
def test_valid_names_parse_and_round_trip(text: str) -> None:
    name = SecretName.parse(text)
    assert str(name) == text
    assert name.env == text.split("/", 1)[0]
    assert name.path == text.split("/", 1)[1]


@pytest.mark.parametrize(("text", "why"), BAD)
def test_invalid_names_are_usage_errors(text: str, why: str) -> None:
    with pytest.raises(CliError) as caught:
        SecretName.parse(text)
    assert caught.value.code == ExitCode.USAGE
    assert why in caught.value.message
    assert "\n" not in caught.value.message


def test_length_limit_is_512_characters_inclusive() -> None:
    exact = "dev/" + "a" * 508
    assert len(exact) == 512
    assert str(SecretName.parse(exact)) == exact
    with pytest.raises(CliError):
        SecretName.parse(exact + "a")


def test_long_names_are_shortened_in_the_message() -> None:
    with pytest.raises(CliError) as caught:
        SecretName.parse("dev/" + "a" * 600)
    assert len(caught.value.message) < 200


def test_dot_segment_hint_says_names_are_not_paths() -> None:
    with pytest.raises(CliError) as caught:
        SecretName.parse("dev/../prod/key")
    assert caught.value.hint and "not file paths" in caught.value.hint


def test_join_and_in_env() -> None:
    name = SecretName.join("staging", "api/key")
    assert str(name) == "staging/api/key"
    assert str(name.in_env("prod")) == "prod/api/key"
    with pytest.raises(CliError):
        SecretName.join("Prod", "api/key")
    with pytest.raises(CliError):
        name.in_env("bad env")


def test_names_compare_and_sort() -> None:
    names = [SecretName.parse(t) for t in ("prod/b", "dev/z", "prod/a")]
    assert [str(n) for n in sorted(names)] == ["dev/z", "prod/a", "prod/b"]
    assert SecretName.parse("dev/x") == SecretName("dev", "x")
    assert len({SecretName.parse("dev/x"), SecretName.parse("dev/x")}) == 1


@pytest.mark.parametrize("env", ["prod", "dev-alice", "0", "a" * 32])
def test_validate_env_accepts(env: str) -> None:
    assert validate_env(env) == env


@pytest.mark.parametrize("env", ["", "Prod", "-x", "a" * 33, "a/b", "a_b"])
def test_validate_env_refuses(env: str) -> None:
    with pytest.raises(CliError) as caught:
        validate_env(env)
    assert caught.value.code == ExitCode.USAGE


@pytest.mark.parametrize(
    ("text", "env", "path"),
    [
        ("prod", "prod", ""),
        ("prod/", "prod", ""),
        ("prod/api", "prod", "api/"),
        ("prod/api/", "prod", "api/"),
        ("prod/api/v1/", "prod", "api/v1/"),
    ],
)
def test_prefix_parse(text: str, env: str, path: str) -> None:
    prefix = NamePrefix.parse(text)
    assert (prefix.env, prefix.path) == (env, path)
    assert str(prefix) == f"{env}/{path}"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "/",
        "Prod/",
        "prod/a b/",
        "prod/api//x/",
        "prod/a*",
        "dev/../prod/",
        "dev/./",
        "dev/a/..",
    ],
)
def test_prefix_parse_refuses(text: str) -> None:
    with pytest.raises(CliError) as caught:
        NamePrefix.parse(text)
    assert caught.value.code == ExitCode.USAGE


def test_prefix_contains_and_relative() -> None:
    prefix = NamePrefix.parse("prod/api/")
    assert prefix.contains("prod/api/key")
    assert prefix.contains("prod/api/v1/key")
    assert not prefix.contains("prod/apiary/key")  # whole segments only
    assert not prefix.contains("staging/api/key")
    assert prefix.relative("prod/api/v1/key") == "v1/key"
    assert NamePrefix.parse("prod").contains("prod/x")
    assert not NamePrefix.parse("prod").contains("production/x")
