"""Does an environment variable (name, value) look like a secret?

Used by `secrets migrate lambda` to pick what to move and by `secrets audit` to report secrets
left in environment variables. The detectors are detect-secrets' (Yelp's maintained scanner):
its keyword list for names, its vendor-specific key detectors (AWS, private keys, JWT, Stripe,
GitHub, Slack, basic-auth URLs...) and its entropy measures for values. We add only what an
*environment variable* needs and a source-code scanner does not: a few more name words
(TOKEN, DSN, CREDENTIALS...) and the rule that configuration about a secret (`SECRET_ARN`,
`TOKEN_TTL`) is not the secret.

detect-secrets costs ~200 ms to import, so it is imported on first use, never at module import:
`secrets --help` stays fast. Its global settings are never touched (we call the plugins
directly instead of `scan_line`, which rewrites them), so importing this module has no side
effects on anyone else using detect-secrets in the same process.
"""

from __future__ import annotations

import re
import string
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

# Name words detect-secrets' keyword list lacks, because in source code they are too noisy
# ("token" is every lexer's favourite word); as the whole name of an environment variable
# they mean a credential.
EXTRA_NAME_WORDS = (
    "token",
    "dsn",
    "credentials?",
    "creds",
    "auth",
    "bearer",
    "connection_?string",
    "conn_?str",
    "signing_?key",
    "encryption_?key",
    "access_?key",
    "master_?key",
    "webhook_?secret",
    "session_?key",
    "salt",
    "cookie_?secret",
    # "pass" as a word, but not "pass through" (`PASS_THROUGH`, `PassItThrough`,
    # API Gateway's `PassthroughBehavior`): a switch, not a password.
    "pass(?!_(?:it_)?(?:through|thru)(?:_|$))",
)
# Names that contain a keyword by accident: the shell's working directories ("pwd").
NOT_SECRET_NAMES = frozenset({"pwd", "oldpwd"})
# The last word of names that *describe* a secret rather than hold one: SECRET_ARN,
# TOKEN_TTL, PASSWORD_MIN_LENGTH, API_KEY_HEADER, SECRET_NAME, AUTH_URL.
DESCRIBING_SUFFIXES = frozenset(
    [
        "arn",
        "name",
        "names",
        "id",
        "ids",
        "url",
        "uri",
        "endpoint",
        "host",
        "hostname",
        "port",
        "ttl",
        "timeout",
        "expiry",
        "expires",
        "expiration",
        "length",
        "len",
        "min",
        "max",
        "size",
        "count",
        "limit",
        "file",
        "path",
        "dir",
        "region",
        "header",
        "policy",
        "type",
        "mode",
        "enabled",
        "enable",
        "disabled",
        "disable",
        "flag",
        "version",
        "format",
        "algorithm",
        "alg",
        "issuer",
        "audience",
        "scope",
        "scopes",
        "prefix",
        "suffix",
        "field",
        "param",
        "parameter",
        "parameters",
        "ssm",
        "location",
    ]
)
# Values that are switches or placeholders, never credentials.
PLACEHOLDERS = frozenset(
    [
        "true",
        "false",
        "yes",
        "no",
        "on",
        "off",
        "none",
        "null",
        "nil",
        "undefined",
        "changeme",
        "change-me",
        "todo",
        "tbd",
        "xxx",
        "secret",
        "password",
        "token",
        "redacted",
        "example",
        "dummy",
        "test",
    ]
)
# A value that points to where the secret lives is a reference, not the secret.
REFERENCE = re.compile(
    r"^(arn:aws[a-z-]*:|\{\{resolve:|ssm:|/aws/reference/|secretsmanager:)", re.IGNORECASE
)
# Values that say they stand in for the real one ("YOUR-SECRET-HERE", "AIzaXXXX",
# "KEYEXAMPLE1234", "<api-key>"): example configurations are full of them. Checked only after
# the value detectors, so AWS's documented example keys still count as keys.
PLACEHOLDER_MARKS = re.compile(
    r"x{4,}|example|your[-_ ]|replace[-_ ]?me|change[-_ ]?me|placeholder|<[^<>]+>|\.\.\.$",
    re.IGNORECASE,
)
WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+")
MIN_ENTROPY_LENGTH = 16  # shorter random-looking strings are mostly ids and hashes prefixes

Reason = Literal["name", "value"]


@dataclass(frozen=True)
class Detection:
    """Why a variable looks secret: which detector fired and on what (never the value)."""

    by: Reason  # "name": the variable's name says so; "value": the value's shape says so
    detector: str  # e.g. "Secret Keyword", "AWS Access Key", "Base64 High Entropy String"

    @property
    def reason(self) -> str:
        """A short phrase for reports: `name: Secret Keyword`."""
        return f"{self.by}: {self.detector}"


def looks_secret(name: str, value: str) -> Detection | None:
    """Decide whether environment variable `name` holding `value` looks like a secret.

    A value-shaped credential (a known key format, a private key, a URL with a password, a
    high-entropy string) wins over everything; otherwise a secret-sounding name counts unless
    the value is empty, a placeholder, a number, a reference (an ARN, `{{resolve:...}}`) or the
    name only describes a secret (`SECRET_ARN`). The returned reason never contains the value.
    """
    value = value.strip()
    if not value or _is_reference(value):
        return None
    by_value = _value_detector(value)
    if by_value is not None:
        return Detection("value", by_value)
    if _is_placeholder(value) or _describes_secret(name):
        return None
    if _name_says_secret(name):
        return Detection("name", "Secret Keyword")
    return None


def looks_secret_name(name: str) -> bool:
    """True when the name alone says "secret" (for sources where the value is not at hand)."""
    return not _describes_secret(name) and _name_says_secret(name)


# -- the pieces ------------------------------------------------------------------------------
def _is_reference(value: str) -> bool:
    return bool(REFERENCE.match(value))


def _is_placeholder(value: str) -> bool:
    from detect_secrets.filters.heuristic import (
        is_not_alphanumeric_string,
        is_templated_secret,
    )

    if value.lower() in PLACEHOLDERS or PLACEHOLDER_MARKS.search(value):
        return True
    if is_templated_secret(value) and not _is_json_object(value):  # "<password>", "${X}"
        return True
    if is_not_alphanumeric_string(value):  # "****", "12345", "-"
        return True
    return value.startswith("$")  # "$DB_PASSWORD": a shell reference to another variable


def _is_json_object(value: str) -> bool:
    import json

    try:
        return isinstance(json.loads(value), dict)
    except ValueError:
        return False


def _describes_secret(name: str) -> bool:
    words = _name_words(name)
    return bool(words) and words[-1] in DESCRIBING_SUFFIXES


def _name_words(name: str) -> list[str]:
    """`dbPassword`, `DB_PASSWORD` and `db-password` all become ["db", "password"]."""
    camel_split = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return [w for w in WORD_SPLIT.split(camel_split.lower()) if w]


def _name_says_secret(name: str) -> bool:
    words = _name_words(name)
    if not words or "_".join(words) in NOT_SECRET_NAMES:
        return False
    anywhere, whole_word = _name_keywords()
    normalized = "_".join(words)
    return bool(anywhere.search(normalized) or whole_word.search(normalized))


@lru_cache(maxsize=1)
def _name_keywords() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """detect-secrets' keywords (matched anywhere, as it does) and ours (whole words only:
    "auth" must not fire on "author")."""
    from detect_secrets.plugins.keyword import DENYLIST

    anywhere = re.compile("|".join(DENYLIST), re.IGNORECASE)
    whole_word = re.compile(rf"(?:^|_)(?:{'|'.join(EXTRA_NAME_WORDS)})(?:_|$)", re.IGNORECASE)
    return anywhere, whole_word


_plugins_lock = threading.Lock()
LARGE_VALUE = 64 * 1024


@lru_cache(maxsize=1)
def _value_plugins() -> tuple[list[Any], list[Any]]:
    """(vendor/format detectors, entropy detectors), instantiated once."""
    with _plugins_lock:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.plugins.base import RegexBasedDetector
        from detect_secrets.plugins.high_entropy_strings import (
            Base64HighEntropyString,
            HexHighEntropyString,
        )
        from detect_secrets.plugins.ip_public import IPPublicDetector

        classes: list[Any] = list(get_mapping_from_secret_type_to_class().values())
        regex_plugins = [
            cls()
            for cls in classes
            # A public IP address is configuration, not a credential.
            if issubclass(cls, RegexBasedDetector) and cls is not IPPublicDetector
        ]
        regex_plugins.sort(key=lambda p: str(p.secret_type))
        return regex_plugins, [Base64HighEntropyString(), HexHighEntropyString()]


def _value_detector(value: str) -> str | None:
    """The detector that recognises `value` as a credential, if any. Remembered per value:
    a file that repeats one large value (YAML aliases, a shared default) is scanned once. Few
    large values are remembered, so that a walk over many files holds little memory."""
    if len(value) > LARGE_VALUE:
        return _large_value_detector(value)
    return _small_value_detector(value)


@lru_cache(maxsize=4096)
def _small_value_detector(value: str) -> str | None:
    return _scan_value(value)


@lru_cache(maxsize=8)
def _large_value_detector(value: str) -> str | None:
    return _scan_value(value)


# Formats detect-secrets does not know: Laravel's APP_KEY (`base64:` and 32 random bytes).
OWN_VALUE_PATTERNS = ((re.compile(r"^base64:[A-Za-z0-9+/]{43}=$"), "Laravel App Key"),)


def _scan_value(value: str) -> str | None:
    for pattern, detector in OWN_VALUE_PATTERNS:
        if pattern.match(value):
            return detector
    regex_plugins, entropy_plugins = _value_plugins()
    for plugin in regex_plugins:
        for _match in plugin.analyze_string(value):
            return str(plugin.secret_type)
    if len(value) < MIN_ENTROPY_LENGTH or any(c in string.whitespace for c in value):
        return None
    from detect_secrets.filters.heuristic import is_potential_uuid, is_sequential_string

    if is_sequential_string(value) or is_potential_uuid(value):
        return None
    for plugin in entropy_plugins:
        # The plugins want the string quoted (they scan source code); the whole value must be
        # made of the plugin's alphabet.
        for candidate in plugin.analyze_string(f'"{value}"'):
            if candidate == value and plugin.calculate_shannon_entropy(value) > (
                plugin.entropy_limit
            ):
                return str(plugin.secret_type)
    return None


def is_placeholder(value: str) -> bool:
    """A value that stands in for a secret: `changeme`, `<api-key>`, `YOUR-SECRET-HERE`."""
    return _is_placeholder(value.strip())


def value_detector(value: str) -> str | None:
    """The detector that recognises `value` as a credential by its shape, if any."""
    return _value_detector(value.strip())
