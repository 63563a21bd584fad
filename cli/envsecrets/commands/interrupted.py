"""What a command stopped mid-write says: the write may have landed."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec

from envsecrets.errors import CliError, ExitCode

P = ParamSpec("P")


def saying_what_a_stop_left(command: Callable[P, None]) -> Callable[P, None]:
    """`set` stopped (Ctrl-C, SIGTERM, SIGHUP) while it wrote: the new value may be stored
    already, which the generic "run the same command again" does not say. A stop before the
    write (at the prompt, while reading) keeps the generic message."""

    @wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        from envsecrets.core.operations import WriteInterrupted
        from envsecrets.stopping import cause

        try:
            command(*args, **kwargs)
        except WriteInterrupted as stop:
            raise CliError(
                ExitCode.INTERRUPTED,
                f"interrupted ({cause(stop)}) while writing {stop.name}: the new value may "
                "already be stored",
                f"`secrets history {stop.name}` shows whether it is; running the same command "
                "again is safe (the same value writes nothing)",
            ) from None

    return run
