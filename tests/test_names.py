"""SecretName and NamePrefix: every rule of DESIGN.md's "Names" section, one by one."""

from __future__ import annotations

import pytest
from envsecrets.core.names import NamePrefix, SecretName, printable, validate_env
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


# -- the messages, as a user reads them -------------------------------------------------------
# The words of an error are what a user acts on: each rule's message and hint, letter for letter.
NAME_HINT = "names look like <env>/<path>, e.g. prod/api/stripe-key"
PATH_HINT = (
    "names are not file paths: write the name in full, e.g. prod/api/key rather than "
    "dev/../prod/api/key"
)
SEGMENTS = "allowed are letters, digits and _+=.@-"
NAME_MESSAGES = [
    ("", "it is empty", NAME_HINT),
    ("/dev/x", "it starts or ends with '/'", NAME_HINT),
    ("dev/x/", "it starts or ends with '/'", NAME_HINT),
    ("dev//x", "it contains an empty segment ('//')", NAME_HINT),
    ("dev", "it has no environment part", NAME_HINT),
    (
        "Dev/x",
        "environment 'Dev' must be 1-32 lowercase letters, digits or '-' (starting with a "
        "letter or digit)",
        NAME_HINT,
    ),
    ("dev/a b", f"segment 'a b' contains ' '; {SEGMENTS}", NAME_HINT),
    ("dev/a b!c", f"segment 'a b!c' contains ' !'; {SEGMENTS}", NAME_HINT),
    ("dev/./x", "segment '.' is a path step, not a name", PATH_HINT),
    ("dev/x/..", "segment '..' is a path step, not a name", PATH_HINT),
    ("dev/\x1b[31mred", f"segment '\\x1b[31mred' contains '\\x1b['; {SEGMENTS}", NAME_HINT),
]


@pytest.mark.parametrize(("text", "why", "hint"), NAME_MESSAGES)
def test_each_name_rule_says_so_in_words(text: str, why: str, hint: str) -> None:
    with pytest.raises(CliError) as caught:
        SecretName.parse(text)
    shown = text.replace("\x1b", "\\x1b")  # control characters are shown escaped
    assert caught.value.message == f"invalid secret name '{shown}': {why}"
    assert caught.value.hint == hint


def test_a_long_name_is_shown_cut_at_77_characters() -> None:
    for length in (79, 80):  # with the space: 80 characters (shown whole) and 81 (cut)
        text = "dev/" + "a" * (length - 4)
        with pytest.raises(CliError) as caught:
            SecretName.parse(text + " ")  # one character too many, and a space
        shown = text + " " if len(text) + 1 <= 80 else text[:77] + "..."
        assert caught.value.message.startswith(f"invalid secret name '{shown}': ")
    with pytest.raises(CliError) as caught:
        SecretName.parse("dev/" + "a" * 600)
    assert caught.value.message == (
        f"invalid secret name 'dev/{'a' * 73}...': it is 604 characters long (at most 512)"
    )


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("/", "empty prefix", "use a prefix such as prod/ or prod/api/"),
        (
            "prod/a//b/",
            "invalid prefix 'prod/a//b/': empty segment ('//')",
            "remove the doubled '/': prefixes look like prod/ or prod/api/",
        ),
        (
            "prod//x/",
            "invalid prefix 'prod//x/': empty segment ('//')",
            "remove the doubled '/': prefixes look like prod/ or prod/api/",
        ),
        (
            "prod/a b/",
            "invalid prefix 'prod/a b/': segment 'a b' has characters outside letters, digits "
            "and _+=.@-",
            "prefixes look like prod/ or prod/api/",
        ),
        (
            "prod/\x07/",
            "invalid prefix 'prod/\\x07/': segment '\\x07' has characters outside letters, "
            "digits and _+=.@-",
            "prefixes look like prod/ or prod/api/",
        ),
        (
            "prod/../",
            "invalid prefix 'prod/../': segment '..' is a path step, not a name",
            PATH_HINT,
        ),
        (
            "Prod/",
            "invalid environment 'Prod': use 1-32 lowercase letters, digits or '-', starting "
            "with a letter or digit",
            "for example: prod, staging, dev-alice",
        ),
    ],
)
def test_each_prefix_rule_says_so_in_words(text: str, message: str, hint: str) -> None:
    with pytest.raises(CliError) as caught:
        NamePrefix.parse(text)
    assert caught.value.code == ExitCode.USAGE
    assert (caught.value.message, caught.value.hint) == (message, hint)


def test_printable_escapes_exactly_what_a_terminal_would_act_on() -> None:
    assert printable("a\x1b[0m\tb\n\u200b\u00e9") == "a\\x1b[0m\\tb\\n\\u200b\u00e9"
    assert printable("plain/name-1") == "plain/name-1"


def test_prefix_strips_slashes_and_keeps_its_parts() -> None:
    assert (NamePrefix.parse("/prod/api/").env, NamePrefix.parse("/prod/api/").path) == (
        "prod",
        "api/",
    )
    assert str(NamePrefix.parse("prod")) == "prod/"
    assert str(NamePrefix.parse("prod/API-X")) == "prod/API-X/"  # only '/' is stripped
    assert NamePrefix.parse("prod/api").relative("prod/api/key") == "key"
    assert NamePrefix.parse("prod/api").contains("prod/api/key")
    assert not NamePrefix.parse("prod/api").contains("prod/apiary/key")
