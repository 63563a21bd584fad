"""Moving staging labels so that a retry, a lost reply or another writer is seen for what it is.

Secrets Manager keeps a secret's state in its staging labels; every write of ours ends with
AWSCURRENT on a chosen version. Three things can stand between a call and that outcome:

- A retry of a call whose first attempt went through (botocore retries after a lost reply):
  AWS refuses it because the label has already moved (InvalidParameterException, or
  ResourceNotFoundException for a label no longer on the version named). `settle` looks at the
  labels and takes that as success.
- Another writer moved AWSCURRENT since we read it. UpdateSecretVersionStage with
  `RemoveFromVersionId` is a compare-and-swap: AWS refuses the move when the label is no longer
  on that version. `move_current` turns that refusal into `CurrentMoved`, naming the version
  that is current now, so that the caller refuses (exit 4) instead of overwriting it.
- A write that AWS accepted but did not carry out: PutSecretValue with a ClientRequestToken that
  is an existing version's id and the same data "succeeds but does nothing" (a value set back
  after a rollback derives the same token). `make_current` checks the reply and moves the label.

No AWS, Typer or rich here: pure over the `SecretStore` protocol.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from envsecrets.core.store import CURRENT, SecretMetadata, SecretStore, SecretVersion
from envsecrets.errors import CliError, ExitCode


def settle(
    store: SecretStore, name: str, move: Callable[[], None], done: Callable[[SecretMetadata], bool]
) -> None:
    """Run a label move; when it fails, look at the labels: if they already say what the move
    wanted (a retry of a call whose first attempt went through), that is success."""
    try:
        move()
    except CliError as exc:
        if exc.code == ExitCode.AUTH:
            raise
        # Not found included: AWS answers a retried removal of a label that is already gone
        # with ResourceNotFoundException. The secret itself missing fails the describe too.
        try:
            state = store.describe(name)
        except CliError as unread:
            if unread.code == ExitCode.NOT_FOUND:
                raise exc from None
            # The refusal may be a retry's, of a move that happened: that cannot be told
            # without the labels, so neither success nor AWS's refusal is said.
            raise CliError(
                unread.code,
                f"{name}: could not tell whether the label moved: the move was refused "
                f"({exc.message}) and reading the labels failed ({unread.message})",
                f"`secrets history {name}` shows where the labels are; running the command "
                "again is safe",
            ) from None
        if not done(state):
            raise


class CurrentMoved(CliError):
    """AWSCURRENT is on `found`, not on the version a write was made over: someone else wrote
    in between. Callers catch it to say what that means for them."""

    def __init__(self, name: str, expected: str | None, found: str | None, state: SecretMetadata):
        super().__init__(
            ExitCode.REFUSED,
            f"{name} changed meanwhile: version {found or '-'} is AWSCURRENT now, not "
            f"{expected or '-'}",
            f"`secrets history {name}` shows its versions; run the command again",
        )
        self.name = name
        self.expected = expected
        self.found = found
        self.state = state


def move_current(
    store: SecretStore, name: str, *, to_version: str, from_version: str | None
) -> None:
    """Move AWSCURRENT from `from_version` to `to_version`, only if it is still there.

    A retried move that went through the first time is success; AWSCURRENT found on a third
    version raises `CurrentMoved` (nothing was changed); any other refusal is raised as is.
    """
    try:
        store.move_stage(name, CURRENT, to_version=to_version, from_version=from_version)
    except CliError as exc:
        if exc.code == ExitCode.AUTH:
            raise
        try:
            state = store.describe(name)
        except CliError:
            raise exc from None
        found = state.version_with(CURRENT)
        if found == to_version:
            return
        if found != from_version:
            raise CurrentMoved(name, from_version, found, state) from None
        raise


def make_current(
    store: SecretStore, name: str, written: SecretVersion, replaced: str | None
) -> None:
    """After a write meant to become AWSCURRENT (PutSecretValue without stages), make sure it
    did: AWS does nothing for a token that is an existing version's id with the same data, and
    then AWSCURRENT stays where it was. The label is moved from `replaced` (the version the
    write was planned over); found on any other version, `CurrentMoved` is raised."""
    if CURRENT in written.stages:
        return
    state = store.describe(name)
    found = state.version_with(CURRENT)
    if found == written.version_id:
        return
    if found != replaced:
        raise CurrentMoved(name, replaced, found, state)
    move_current(store, name, to_version=written.version_id, from_version=replaced)


def drop_label(store: SecretStore, name: str, label: str, version: str) -> None:
    """Remove our own working label from `version`; a failure leaves only a label that no
    reader looks at, so it is not worth failing a write that is done."""
    with contextlib.suppress(CliError):
        store.move_stage(name, label, to_version=None, from_version=version)
