"""Secret names: `<env>/<path>`, validated before anything reaches AWS.

Secrets Manager itself accepts almost anything (and the emulator accepts everything), so the
rules of DESIGN.md are enforced here: a bad name is a usage error and nothing is created.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from envsecrets.errors import CliError, ExitCode

ENV_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
SEGMENT_PATTERN = re.compile(r"[A-Za-z0-9_+=.@-]+")
# `.` and `..` are allowed characters but not whole segments: `dev/../prod/key` reads like a
# path that leaves `dev/`, while Secrets Manager would store it as it is, under `dev`.
DOT_SEGMENTS = (".", "..")
# Names ending in "-" plus six characters (`jwt-secret`, `db-master`) are accepted: AWS's advice
# against them concerns lookups by partial ARN, which this tool never makes, and the policies'
# `name-??????` stays exact for them (core/policy.py).
MAX_NAME_LENGTH = 512


_DOT_SEGMENT_WHY = "segment '{segment}' is a path step, not a name"
_DOT_SEGMENT_HINT = (
    "names are not file paths: write the name in full, e.g. prod/api/key rather than "
    "dev/../prod/api/key"
)


def printable(text: str) -> str:
    """`text` with control characters escaped, so an error stays one line and cannot fake a
    `hint:` line of its own."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _bad_name(text: str, why: str, hint: str | None = None) -> CliError:
    shown = printable(text if len(text) <= 80 else text[:77] + "...")
    return CliError(
        ExitCode.USAGE,
        f"invalid secret name '{shown}': {printable(why)}",
        hint or "names look like <env>/<path>, e.g. prod/api/stripe-key",
    )


def validate_env(env: str) -> str:
    """Return `env` if it is a valid environment name, else raise a usage error."""
    if not ENV_PATTERN.fullmatch(env):
        raise CliError(
            ExitCode.USAGE,
            f"invalid environment '{printable(env)}': use 1-32 lowercase letters, digits or '-', "
            "starting with a letter or digit",
            "for example: prod, staging, dev-alice",
        )
    return env


@dataclass(frozen=True, order=True)
class SecretName:
    """A validated `<env>/<path>` name. `str()` gives the full name."""

    env: str
    path: str

    @classmethod
    def parse(cls, text: str) -> SecretName:
        """Parse and validate a full name; raise CliError(USAGE) on any broken rule."""
        if not text:
            raise _bad_name(text, "it is empty")
        if len(text) > MAX_NAME_LENGTH:
            raise _bad_name(text, f"it is {len(text)} characters long (at most {MAX_NAME_LENGTH})")
        if text.startswith("/") or text.endswith("/"):
            raise _bad_name(text, "it starts or ends with '/'")
        if "//" in text:
            raise _bad_name(text, "it contains an empty segment ('//')")
        env, sep, path = text.partition("/")
        if not sep:
            raise _bad_name(text, "it has no environment part")
        if not ENV_PATTERN.fullmatch(env):
            raise _bad_name(
                text,
                f"environment '{env}' must be 1-32 lowercase letters, digits or '-' "
                "(starting with a letter or digit)",
            )
        for segment in path.split("/"):
            if not SEGMENT_PATTERN.fullmatch(segment):
                bad = sorted({c for c in segment if not SEGMENT_PATTERN.fullmatch(c)})
                raise _bad_name(
                    text,
                    f"segment '{segment}' contains {''.join(bad)!r}; "
                    "allowed are letters, digits and _+=.@-",
                )
            if segment in DOT_SEGMENTS:
                raise _bad_name(text, _DOT_SEGMENT_WHY.format(segment=segment), _DOT_SEGMENT_HINT)
        return cls(env, path)

    @classmethod
    def join(cls, env: str, path: str) -> SecretName:
        """Build and validate a name from an environment and a relative path."""
        return cls.parse(f"{env}/{path}")

    def in_env(self, env: str) -> SecretName:
        """The same path in another environment (for copy and diff)."""
        return SecretName.join(env, self.path)

    def __str__(self) -> str:
        return f"{self.env}/{self.path}"


@dataclass(frozen=True)
class NamePrefix:
    """A prefix such as `prod/` or `prod/api/`: an environment and a path prefix."""

    env: str
    path: str  # "" or ends with "/"

    @classmethod
    def parse(cls, text: str) -> NamePrefix:
        """Parse `prod`, `prod/` or `prod/api/` (the trailing '/' is implied)."""
        cleaned = text.strip("/")
        if not cleaned:
            raise CliError(
                ExitCode.USAGE, "empty prefix", "use a prefix such as prod/ or prod/api/"
            )
        env, _, path = cleaned.partition("/")
        validate_env(env)
        if path:
            if "//" in cleaned:  # `prod//x/` too: the doubled '/' right after the environment
                raise CliError(
                    ExitCode.USAGE,
                    f"invalid prefix '{printable(text)}': empty segment ('//')",
                    "remove the doubled '/': prefixes look like prod/ or prod/api/",
                )
            for segment in path.split("/"):
                if not SEGMENT_PATTERN.fullmatch(segment):
                    raise CliError(
                        ExitCode.USAGE,
                        f"invalid prefix '{printable(text)}': segment "
                        f"'{printable(segment)}' has characters outside letters, digits "
                        "and _+=.@-",
                        "prefixes look like prod/ or prod/api/",
                    )
                if segment in DOT_SEGMENTS:
                    raise CliError(
                        ExitCode.USAGE,
                        f"invalid prefix '{printable(text)}': "
                        + _DOT_SEGMENT_WHY.format(segment=segment),
                        _DOT_SEGMENT_HINT,
                    )
            path += "/"
        return cls(env, path)

    def __str__(self) -> str:
        return f"{self.env}/{self.path}"

    def contains(self, name: str) -> bool:
        """True when the full secret name `name` lies under this prefix."""
        return name.startswith(str(self))

    def relative(self, name: str) -> str:
        """The part of `name` below this prefix."""
        return name[len(str(self)) :]
