"""Questions to a person at a terminal. Without a terminal we refuse instead of hanging.

Whether there is one is read from a `Streams` (ui/streams.py): the caller's, else the
process's.
"""

from __future__ import annotations

from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode
from envsecrets.ui.streams import Streams


def can_prompt(streams: Streams | None = None) -> bool:
    """A person can answer: stdin and stderr are terminals."""
    facts = streams if streams is not None else Streams.of_process()
    return facts.stdin_isatty and facts.stderr_isatty


def _ask_password(message: str) -> str:
    import questionary

    # unsafe_ask lets Ctrl-C raise KeyboardInterrupt (exit 130) instead of returning None.
    answer = questionary.password(message).unsafe_ask()
    return str(answer or "")


def ask_new_value(label: str, *, streams: Streams | None = None) -> SecretValue:
    """A value typed twice at a hidden prompt; a mismatch is refused."""
    if not can_prompt(streams):
        raise CliError(
            ExitCode.USAGE,
            "no value given and no terminal to ask for one",
            "pipe the value with --stdin, or use --from-file PATH",
        )
    first = _ask_password(f"Value for {label}:")
    if not first:
        raise CliError(ExitCode.USAGE, "the value is empty", "a secret needs a non-empty value")
    second = _ask_password("Again, to confirm:")
    if first != second:
        raise CliError(ExitCode.USAGE, "the two values differ; nothing was written", "run again")
    return SecretValue(first)


def ask_text(message: str, *, default: str = "", streams: Streams | None = None) -> str:
    """A plain (visible) answer; refuses without a terminal."""
    if not can_prompt(streams):
        raise CliError(
            ExitCode.USAGE,
            f"cannot ask '{message}' without a terminal",
            "run the command from a terminal to answer it",
        )
    import questionary

    return str(questionary.text(message, default=default).unsafe_ask() or "")


def confirm(question: str, *, yes: bool, why: str = "", streams: Streams | None = None) -> None:
    """Go ahead if `yes`, or if the person says yes; otherwise raise CliError(REFUSED).

    Without a terminal and without --yes this refuses at once (exit 4) instead of waiting
    for an answer that cannot come.
    """
    if yes:
        return
    if not can_prompt(streams):
        reason = f" ({why})" if why else ""
        raise CliError(
            ExitCode.REFUSED,
            f"confirmation needed{reason} and there is no terminal to ask",
            "pass --yes to confirm non-interactively",
        )
    import questionary

    if not questionary.confirm(question, default=False).unsafe_ask():
        raise CliError(
            ExitCode.REFUSED,
            "not confirmed; nothing was changed",
            "run the command again and answer yes to go ahead",
        )
