"""Questions to a person at a terminal. Without a terminal we refuse instead of hanging.

Whether there is one is read from a `Streams` (ui/streams.py): the caller's, else the
process's. When stdin carries a piped value (`pbpaste | secrets set prod/x --stdin`), a
confirmation or an MFA code is asked on the controlling terminal (`/dev/tty`), as sudo, ssh
and git do; the value itself is only ever typed at a terminal on stdin.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode
from envsecrets.ui.streams import Streams


def can_prompt(streams: Streams | None = None) -> bool:
    """A person can answer: stdin and stderr are terminals."""
    facts = streams if streams is not None else Streams.of_process()
    return facts.stdin_isatty and facts.stderr_isatty


def _ask_password(message: str, terminal: dict[str, Any]) -> str:
    import questionary

    # unsafe_ask lets Ctrl-C raise KeyboardInterrupt (exit 130) instead of returning None.
    answer = questionary.password(message, **terminal).unsafe_ask()
    return str(answer or "")


def ask_new_value(label: str, *, streams: Streams | None = None) -> SecretValue:
    """A value typed twice at a hidden prompt; a mismatch is refused."""
    if not can_prompt(streams):
        raise CliError(
            ExitCode.USAGE,
            "no value given and no terminal to ask for one",
            "pipe the value with --stdin, or use --from-file PATH",
        )
    with _answering_terminal(streams) as terminal:
        first = _ask_password(f"Value for {label}:", terminal or {})
        if not first:
            raise CliError(ExitCode.USAGE, "the value is empty", "a secret needs a non-empty value")
        second = _ask_password("Again, to confirm:", terminal or {})
    if first != second:
        raise CliError(ExitCode.USAGE, "the two values differ; nothing was written", "run again")
    return SecretValue(first)


def ask_text(message: str, *, default: str = "", streams: Streams | None = None) -> str:
    """A plain (visible) answer, such as an MFA code: on the controlling terminal when stdin
    carries a piped value; refused without a terminal."""
    with _answering_terminal(streams) as terminal:
        if terminal is None:
            raise CliError(
                ExitCode.USAGE,
                f"cannot ask '{message}' without a terminal",
                "run the command from a terminal to answer it",
            )
        import questionary

        return str(questionary.text(message, default=default, **terminal).unsafe_ask() or "")


def confirm(question: str, *, yes: bool, why: str = "", streams: Streams | None = None) -> None:
    """Go ahead if `yes`, or if the person says yes; otherwise raise CliError(REFUSED).

    With stdin busy (a piped value) the question goes to the controlling terminal. Without
    any terminal to ask, and without --yes, this refuses at once (exit 4) instead of waiting
    for an answer that cannot come.
    """
    if yes:
        return
    with _answering_terminal(streams) as terminal:
        if terminal is None:
            reason = f" ({why})" if why else ""
            raise CliError(
                ExitCode.REFUSED,
                f"confirmation needed{reason} and there is no terminal to ask",
                "pass --yes to confirm non-interactively",
            )
        import questionary

        if not questionary.confirm(question, default=False, **terminal).unsafe_ask():
            raise CliError(
                ExitCode.REFUSED,
                "not confirmed; nothing was changed",
                "run the command again and answer yes to go ahead",
            )


@contextmanager
def _answering_terminal(streams: Streams | None) -> Iterator[dict[str, Any] | None]:
    """Where a question can be answered, as prompt_toolkit's session arguments: stdin, with
    the question drawn on stderr, when both are terminals; the controlling terminal when
    stdin is not one (it carries a piped value) but stderr is (someone is watching); None
    when there is nobody to ask. A run whose stderr goes to a file or a pipe is taken as
    unattended and never asks: a background job reading the terminal would be stopped.

    Never stdout (prompt_toolkit's default): it carries the command's data, and may be a
    file (`export ... > prod.env`) or a capture (`eval "$(secrets export ...)"`)."""
    facts = streams if streams is not None else Streams.of_process()
    if facts.stdin_isatty and facts.stderr_isatty:
        from prompt_toolkit.output import create_output

        yield {"output": create_output(stdout=facts.stderr)}
        return
    if not facts.stderr_isatty or facts.controlling_terminal is None:
        yield None
        return
    with ExitStack() as stack:
        try:
            # Opens only when this process has a controlling terminal (ENXIO otherwise). Two
            # handles: a terminal cannot seek, which a single read-write text file needs.
            keys = stack.enter_context(open(facts.controlling_terminal, encoding="utf-8"))  # noqa: PTH123
            screen = stack.enter_context(
                open(facts.controlling_terminal, "w", encoding="utf-8")  # noqa: PTH123
            )
        except OSError:
            yield None
            return
        from prompt_toolkit.input import create_input
        from prompt_toolkit.output import create_output

        yield {"input": create_input(stdin=keys), "output": create_output(stdout=screen)}
