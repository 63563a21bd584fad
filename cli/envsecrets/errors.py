"""The one error type users see, and the exit codes the README documents.

Every failure the user can act on is a `CliError`: a one-line message, an optional hint saying
what to do next, and an `ExitCode`. Messages never contain secret values: they are built from
names, flags and AWS error codes only.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum

# The most items a message lists: a hint naming 100,000 declared environments is one line of
# 800 KB that no terminal shows usefully.
LISTED_AT_MOST = 10


class ExitCode(IntEnum):
    """Process exit statuses; the README's table is generated from the same meanings."""

    OK = 0
    FAILED = 1  # a failure, or differences/findings for diff, check and audit
    USAGE = 2  # bad name, bad flag, malformed file
    NOT_FOUND = 3
    REFUSED = 4  # conflict, or confirmation needed and --yes absent without a TTY
    AUTH = 5  # credentials missing or access denied
    UNAVAILABLE = 6  # AWS unreachable or throttled after retries
    INTERRUPTED = 130


class CliError(Exception):
    """A failure explained to the user: `error: <message>` and `hint: <hint>`."""

    def __init__(self, code: ExitCode, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint

    def as_dict(self) -> dict[str, object]:
        """The JSON form printed on stderr when `--json` is in effect."""
        return {"code": int(self.code), "message": self.message, "hint": self.hint}

    def __repr__(self) -> str:
        return f"CliError({self.code.name}, {self.message!r})"


class ProgramStatus(Exception):
    """The status of a program we started for the user (`secrets run`), handed on as ours
    with no message: its exit code, or 128+N when signal N ended it (130 included, which
    otherwise means that *we* were interrupted)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def listed(items: Iterable[str], *, at_most: int = LISTED_AT_MOST, empty: str = "none") -> str:
    """`a, b, c and 97 more`: items for a one-line message, at most `at_most` of them named
    (every message that lists what it found or knows goes through here)."""
    shown: list[str] = []
    more = 0
    for item in items:
        if len(shown) < at_most:
            shown.append(item)
        else:
            more += 1
    if not shown:
        return empty
    return ", ".join(shown) + (f" and {more:,} more" if more else "")
