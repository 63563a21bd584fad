"""A retried label move refused, and the labels unreadable (findings, smaller).

botocore retries UpdateSecretVersionStage after a lost reply; AWS refuses the retry because
the label has moved already (InvalidParameterException). `settle` reads the labels to tell.
When that read fails too, the outcome is unknown: before, AWS's refusal was reported (exit 2,
"was refused: InvalidParameterException") though the move had happened. Now the command says
it cannot tell, with the read's exit code, and how to look.
"""

from __future__ import annotations

from typing import Any

import pytest
from envsecrets.core.labels import settle
from envsecrets.errors import CliError, ExitCode

REFUSED = CliError(
    ExitCode.USAGE,
    "UpdateSecretVersionStage 'dev/x' was refused: InvalidParameterException: the label is "
    "already attached",
)


class Unreadable:
    def __init__(self, failure: CliError) -> None:
        self.failure = failure

    def describe(self, name: str) -> Any:
        raise self.failure


def refused() -> None:
    raise REFUSED


def test_a_refused_move_whose_labels_cannot_be_read_is_not_called_refused() -> None:
    store = Unreadable(CliError(ExitCode.UNAVAILABLE, "AWS kept throttling DescribeSecret"))
    with pytest.raises(CliError) as caught:
        settle(store, "dev/x", refused, lambda state: True)  # type: ignore[arg-type]
    assert caught.value.code == ExitCode.UNAVAILABLE
    assert "could not tell whether the label moved" in caught.value.message
    assert "secrets history dev/x" in str(caught.value.hint)
    # The move is idempotent: the user learns that trying again cannot do harm.
    assert str(caught.value.hint).endswith("; running the command again is safe")


def test_a_secret_that_is_gone_keeps_aws_s_refusal() -> None:
    store = Unreadable(CliError(ExitCode.NOT_FOUND, "secret 'dev/x' not found"))
    with pytest.raises(CliError) as caught:
        settle(store, "dev/x", refused, lambda state: True)  # type: ignore[arg-type]
    assert caught.value is REFUSED
