"""What a rotation says when it stops, and what it masks: the pure parts of core/rotation*.py.

A person reads these messages in the middle of an incident: each one says what happened to
AWSCURRENT and AWSPENDING and names the command that clears it. Masking decides what a
verification command's output may show: every value the rotation handles, in every form a
program prints it (whole, each changed JSON member, JSON-escaped).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from envsecrets.core.labels import CurrentMoved, drop_label, make_current, move_current, settle
from envsecrets.core.rotation import (
    changed_during_rotation,
    pending_exists_error,
    pending_hint,
    sensitive_values,
    where_it_stands,
)
from envsecrets.core.rotation_recovery import PendingState, cancel_pending, overtaken_error
from envsecrets.core.store import SecretMetadata, SecretVersion
from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode


@pytest.fixture(autouse=True)
def aws_env() -> None:
    """Pure unit tests: no emulator to reset (overrides conftest's)."""


def labels(**versions: tuple[str, ...]) -> SecretMetadata:
    return SecretMetadata(name="dev/db", version_stages=dict(versions))


def test_masked_values_of_a_whole_value_rotation() -> None:
    assert sensitive_values(SecretValue("new"), SecretValue("old")) == [b"new", b"old"]
    assert sensitive_values(SecretValue("new"), None) == [b"new"]
    # each value in the forms a program may print it: as stored, JSON- and repr-escaped
    assert sensitive_values(SecretValue(b"\x00b"), SecretValue("t")) == [
        b"\x00b",
        b"\\\\u0000b",  # escaped twice: a JSON document holding it, logged as a string
        b"\\u0000b",
        b"\\x00b",
        b"t",
    ]
    # a top-level key with a dot and a nested member of the same path are two members
    dotted = SecretValue(json.dumps({"a.b": "TopLevelDot", "a": {"b": "Nested-b"}, "p": "old1"}))
    moved = SecretValue(json.dumps({"a.b": "TopLevelDot", "a": {"b": "Nested-b"}, "p": "new1"}))
    assert {b"TopLevelDot", b"Nested-b"} <= set(sensitive_values(moved, dotted))


def test_masked_values_of_a_field_rotation() -> None:
    old = SecretValue(json.dumps({"user": "app", "password": "old", "port": 5432, "gone": 1}))
    new = SecretValue(json.dumps({"user": "app", "password": 'n\u00e9w"1', "port": 5433}))
    found = sensitive_values(new, old)
    assert {new.data(), old.data()} <= set(found)  # the whole documents
    assert {
        'n\u00e9w"1'.encode(),  # the new member as a program would print it
        'n\u00e9w\\"1'.encode(),  # JSON-escaped, UTF-8 kept
        b'n\\u00e9w\\"1',  # JSON-escaped, ASCII only
        b"old",
    } <= set(found)
    assert b"app" not in found  # an unchanged member shorter than 4 bytes stays readable
    # members that are not strings are not masked on their own (a `1` would mask every 1)
    assert not {b"5433", b"5432", b"1"} & set(found)
    assert len(found) == len(set(found)) and all(found)
    # an unchanged member of 4 bytes or more is masked: a command may print it beside the new
    token = SecretValue(json.dumps({"password": "old1", "api_token": "tok-unchanged"}))
    rotated = SecretValue(json.dumps({"password": "new1", "api_token": "tok-unchanged"}))
    assert b"tok-unchanged" in sensitive_values(rotated, token)
    # a new member, not in the current value
    added = sensitive_values(SecretValue('{"a": "x", "k": "v"}'), SecretValue('{"a": "x"}'))
    assert b"v" in added and b"x" not in added


class _Labels:
    """A store whose only answer is the labels given (or an error)."""

    def __init__(self, meta: SecretMetadata | None) -> None:
        self.meta = meta

    def describe(self, name: str) -> SecretMetadata:
        if self.meta is None:
            raise CliError(ExitCode.UNAVAILABLE, "AWS is gone")
        return self.meta


def test_what_to_do_after_a_failed_verification() -> None:
    """Never a plain `--resume` (it promotes the value that failed): `--cancel` first, and a
    `--resume` that verifies again with the same command."""
    store: Any = _Labels(labels(v1=("AWSCURRENT",), v2=("AWSPENDING",)))
    again = " --verify-cmd ./check.sh"
    assert where_it_stands(store, "dev/db", "v2", "v1", failed_verification=again) == (
        "AWSCURRENT is unchanged; the value that failed verification waits as AWSPENDING "
        "(version v2): `secrets rotate dev/db --cancel` drops it; `secrets rotate dev/db "
        "--resume --verify-cmd ./check.sh` verifies it again and promotes it only if it passes"
    )
    # an apply step given on the command line is needed again by both
    flags = " --apply-cmd ./set.sh"
    assert where_it_stands(store, "dev/db", "v2", "v1", flags, failed_verification="") == (
        "AWSCURRENT is unchanged; the value that failed verification waits as AWSPENDING "
        "(version v2): `secrets rotate dev/db --cancel --apply-cmd ./set.sh` drops it; "
        "`secrets rotate dev/db --resume --apply-cmd ./set.sh` verifies it again and promotes "
        "it only if it passes"
    )
    unreadable: Any = _Labels(None)
    assert where_it_stands(unreadable, "dev/db", "v2", "v1", failed_verification=again) == (
        "the secret's state could not be read: `secrets history dev/db` shows the labels; "
        "`secrets rotate dev/db --cancel` drops the value that failed verification, "
        "`secrets rotate dev/db --resume --verify-cmd ./check.sh` verifies it again and "
        "promotes it only if it passes"
    )
    # any other failure (a promotion that failed) keeps its wording
    assert "`secrets rotate dev/db --resume` promotes it" in where_it_stands(
        store, "dev/db", "v2", "v1"
    )


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
        "dev/db has a pending version (v2) from a rotation that is still under way elsewhere "
        "or did not finish (it left no mark of ours to tell)",
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


# -- labels: a move that may have happened already -------------------------------------------------
class Labels:
    """A store of one secret's staging labels, moved as AWS moves them (a compare-and-swap on
    `from_version`). `fail` makes the next moves fail with that error - after doing the move
    when `done` (a lost reply), before it otherwise; `describes` counts the reads."""

    def __init__(self, **versions: tuple[str, ...]) -> None:
        self.stages = {v: list(s) for v, s in versions.items()}
        self.fail: list[tuple[CliError, bool]] = []
        self.describes = 0
        self.moves: list[tuple[str, str | None, str | None]] = []

    def describe(self, name: str) -> SecretMetadata:
        self.describes += 1
        return SecretMetadata(
            name=name, version_stages={v: tuple(s) for v, s in self.stages.items()}
        )

    def move_stage(
        self, name: str, stage: str, *, to_version: str | None, from_version: str | None
    ) -> None:
        self.moves.append((stage, to_version, from_version))
        failure = self.fail.pop(0) if self.fail else None
        if failure and not failure[1]:
            raise failure[0]
        holder = next((v for v, s in self.stages.items() if stage in s), None)
        if from_version is not None and holder != from_version:
            raise CliError(ExitCode.USAGE, "InvalidParameterException", "-")
        if holder is not None:
            self.stages[holder].remove(stage)
        if to_version is not None:
            self.stages.setdefault(to_version, []).append(stage)
        if failure:
            raise failure[0]


UNAVAILABLE = CliError(ExitCode.UNAVAILABLE, "AWS could not be reached", "-")


def test_a_move_whose_reply_was_lost_is_success() -> None:
    store: Any = Labels(v1=("AWSCURRENT",), v2=())
    store.fail = [(UNAVAILABLE, True)]
    move_current(store, "dev/db", to_version="v2", from_version="v1")
    assert store.stages == {"v1": [], "v2": ["AWSCURRENT"]}


def test_a_move_that_did_not_happen_is_raised_as_it_was() -> None:
    store: Any = Labels(v1=("AWSCURRENT",), v2=())
    store.fail = [(UNAVAILABLE, False)]
    with pytest.raises(CliError) as failed:
        move_current(store, "dev/db", to_version="v2", from_version="v1")
    assert failed.value is UNAVAILABLE
    denied = CliError(ExitCode.AUTH, "access denied", "-")
    store.fail = [(denied, True)]
    with pytest.raises(CliError) as refused:  # a denial is never taken for success
        move_current(store, "dev/db", to_version="v2", from_version="v1")
    assert refused.value is denied and store.describes == 1


def test_a_move_over_a_third_version_is_current_moved() -> None:
    store: Any = Labels(v1=("AWSPREVIOUS",), v3=("AWSCURRENT",), v2=())
    with pytest.raises(CurrentMoved) as moved:
        move_current(store, "dev/db", to_version="v2", from_version="v1")
    assert (moved.value.expected, moved.value.found) == ("v1", "v3")
    assert moved.value.state.version_with("AWSCURRENT") == "v3"
    assert store.stages["v3"] == ["AWSCURRENT"]  # nothing was changed


def test_make_current_moves_the_label_only_when_aws_did_not() -> None:
    store: Any = Labels(v1=("AWSCURRENT",), v2=())
    make_current(store, "dev/db", SecretVersion("v2", ("AWSCURRENT",)), "v1")
    assert store.moves == [] and store.describes == 0  # the reply says it is current
    make_current(store, "dev/db", SecretVersion("v2", ()), "v1")  # AWS did nothing
    assert store.stages == {"v1": [], "v2": ["AWSCURRENT"]}
    make_current(store, "dev/db", SecretVersion("v2", ()), "v1")  # already there: nothing
    assert len(store.moves) == 1
    other: Any = Labels(v1=(), v3=("AWSCURRENT",), v2=())
    with pytest.raises(CurrentMoved) as moved:
        make_current(other, "dev/db", SecretVersion("v2", ()), "v1")
    assert (moved.value.name, moved.value.expected, moved.value.found) == ("dev/db", "v1", "v3")
    assert moved.value.state.version_with("AWSCURRENT") == "v3" and other.moves == []


def test_settle_takes_a_done_move_for_success_and_keeps_other_failures() -> None:
    store: Any = Labels(v1=("AWSCURRENT", "AWSPENDING"))
    store.fail = [(UNAVAILABLE, True)]

    def drop() -> None:
        store.move_stage("dev/db", "AWSPENDING", to_version=None, from_version="v1")

    settle(store, "dev/db", drop, lambda meta: "AWSPENDING" not in meta.version_stages["v1"])
    store.stages["v1"].append("AWSPENDING")
    store.fail = [(UNAVAILABLE, False)]
    with pytest.raises(CliError) as failed:
        settle(store, "dev/db", drop, lambda meta: "AWSPENDING" not in meta.version_stages["v1"])
    assert failed.value is UNAVAILABLE


def test_dropping_a_working_label_never_fails_a_finished_write() -> None:
    store: Any = Labels(v1=("AWSCURRENT", "envsecrets-writing"))
    drop_label(store, "dev/db", "envsecrets-writing", "v1")
    assert store.stages == {"v1": ["AWSCURRENT"]}
    store.fail = [(UNAVAILABLE, False)]
    drop_label(store, "dev/db", "envsecrets-writing", "v1")  # swallowed: a label nobody reads
    assert store.moves[-1] == ("envsecrets-writing", None, "v1")


def test_cancel_drops_the_pending_label_once_even_after_a_lost_reply() -> None:
    store: Any = Labels(v1=("AWSCURRENT",), v2=("AWSPENDING",))
    store.fail = [(UNAVAILABLE, True)]
    cancelled = cancel_pending(store, PendingState("dev/db", "v2", "v1"))
    assert (cancelled.pending_version, cancelled.current_version) == ("v2", "v1")
    assert store.stages == {"v1": ["AWSCURRENT"], "v2": []}
    for state in (PendingState("dev/db", None, "v1"), PendingState("dev/db", "v1", "v1", True)):
        with pytest.raises(CliError) as internal:
            cancel_pending(store, state)
        assert (internal.value.code, internal.value.message, internal.value.hint) == (
            ExitCode.FAILED,
            "internal: nothing pending to cancel",
            "this is a bug in envsecrets: please report it, with the command you ran",
        )
