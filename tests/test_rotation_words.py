"""What a rotation says when it stops, and what it masks: the pure parts of core/rotation*.py.

A person reads these messages in the middle of an incident: each one says what happened to
AWSCURRENT and AWSPENDING and names the command that clears it. Masking decides what a
verification command's output may show: every value the rotation handles, in every form a
program prints it (whole, each changed JSON member, JSON-escaped).
"""

from __future__ import annotations

import json

import pytest
from envsecrets.core.labels import CurrentMoved
from envsecrets.core.rotation import (
    changed_during_rotation,
    pending_exists_error,
    pending_hint,
    sensitive_values,
)
from envsecrets.core.rotation_recovery import PendingState, overtaken_error
from envsecrets.core.store import SecretMetadata
from envsecrets.core.values import SecretValue
from envsecrets.errors import ExitCode


@pytest.fixture(autouse=True)
def aws_env() -> None:
    """Pure unit tests: no emulator to reset (overrides conftest's)."""


def labels(**versions: tuple[str, ...]) -> SecretMetadata:
    return SecretMetadata(name="dev/db", version_stages=dict(versions))


def test_masked_values_of_a_whole_value_rotation() -> None:
    assert sensitive_values(SecretValue("new"), SecretValue("old")) == [b"new", b"old"]
    assert sensitive_values(SecretValue("new"), None) == [b"new"]
    assert sensitive_values(SecretValue(b"\x00b"), SecretValue("t")) == [b"\x00b", b"t"]


def test_masked_values_of_a_field_rotation() -> None:
    old = SecretValue(json.dumps({"user": "app", "password": "old", "port": 5432, "gone": 1}))
    new = SecretValue(json.dumps({"user": "app", "password": 'n\u00e9w"1', "port": 5433}))
    found = sensitive_values(new, old)
    assert found[:2] == [new.data(), old.data()]  # the whole documents first
    assert set(found[2:]) == {
        'n\u00e9w"1'.encode(),  # the new member as a program would print it
        'n\u00e9w\\"1'.encode(),  # JSON-escaped, UTF-8 kept
        b'n\\u00e9w\\"1',  # JSON-escaped, ASCII only
        b"old",
        b"5433",  # members that are not strings, as JSON
        b"5432",
        b"1",  # a member only the old value has
    }
    assert b"app" not in found  # what did not change is not a secret of this rotation
    assert len(found) == len(set(found)) and all(found)
    # a new member, not in the current value
    added = sensitive_values(SecretValue('{"a": "x", "k": "v"}'), SecretValue('{"a": "x"}'))
    assert set(added[2:]) == {b"v"}


def test_what_to_do_after_a_stopped_rotation() -> None:
    assert pending_hint("dev/db", "v2") == (
        "this run did not move AWSCURRENT; its new value was staged as AWSPENDING (version v2): "
        "`secrets rotate dev/db --resume` promotes it (after checking that nothing changed "
        "meanwhile), `--cancel` drops it"
    )
    assert pending_hint("dev/db", "v2", promoting=True) == (
        "the promotion of version v2 may be half done: `secrets rotate dev/db --resume` "
        "finishes it, `--cancel` drops it if AWSCURRENT has not moved yet (`secrets history` "
        "shows the labels)"
    )


@pytest.mark.parametrize(
    ("state", "hint"),
    [
        (
            labels(v1=("AWSPREVIOUS",), v3=("AWSCURRENT",), v2=("AWSPENDING",)),
            "`secrets rotate dev/db --cancel` drops the stale pending version v2; then rotate "
            "again from the value as it is now",
        ),
        (
            labels(v3=("AWSCURRENT",), v4=("AWSPENDING",)),
            "version v4 is AWSPENDING now (staged by another rotation; this run's version v2 "
            "holds no label): `secrets rotate dev/db --cancel` drops it, `secrets history "
            "dev/db` shows the labels",
        ),
        (
            labels(v3=("AWSCURRENT",)),
            "nothing is left pending (this run's version v2 holds no label); `secrets history "
            "dev/db` shows the versions",
        ),
    ],
)
def test_a_rotation_overtaken_by_another_change(state: SecretMetadata, hint: str) -> None:
    error = changed_during_rotation("dev/db", "v2", "v1", state)
    assert (error.code, error.message, error.hint) == (
        ExitCode.REFUSED,
        "dev/db changed during the rotation: version v3 became AWSCURRENT after version v2 "
        "was staged to replace v1; nothing was promoted",
        hint,
    )
    nothing = changed_during_rotation("dev/db", "v2", None, labels())
    assert nothing.message == (
        "dev/db changed during the rotation: version - became AWSCURRENT after version v2 "
        "was staged to replace -; nothing was promoted"
    )


def test_refusals_in_words() -> None:
    overtaken = overtaken_error(PendingState("dev/db", "v2", "v3"))
    assert (overtaken.code, overtaken.message, overtaken.hint) == (
        ExitCode.REFUSED,
        "dev/db changed after the pending version v2 was staged: version v3 is AWSCURRENT "
        "now, not the version v2 was staged to replace; promoting it would undo that change",
        "`secrets rotate dev/db --cancel` drops the stale pending version; then rotate again",
    )
    pending = pending_exists_error("dev/db", "v2")
    assert (pending.code, pending.message, pending.hint) == (
        ExitCode.REFUSED,
        "dev/db has a pending version (v2) from a rotation that did not finish",
        "`secrets rotate dev/db --resume` promotes it, `--cancel` drops it; `--rollback` "
        "undoes a finished rotation",
    )
    moved = CurrentMoved("dev/db", "v1", "v3", labels())
    assert (moved.code, moved.message, moved.hint) == (
        ExitCode.REFUSED,
        "dev/db changed meanwhile: version v3 is AWSCURRENT now, not v1",
        "`secrets history dev/db` shows its versions; run the command again",
    )
    assert (moved.name, moved.expected, moved.found) == ("dev/db", "v1", "v3")
    assert CurrentMoved("dev/db", None, None, labels()).message == (
        "dev/db changed meanwhile: version - is AWSCURRENT now, not -"
    )
