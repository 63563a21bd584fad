"""Properties of diff and copy.

The pure ones run many examples on in-memory sides; the end-to-end ones hit the emulator and
keep to a few examples, each in its own pair of fresh environments (the emulator is reset per
test, not per example)."""

from __future__ import annotations

import itertools
from typing import Any

from envsecrets.core.diffing import Fingerprint, Side, SideEntry, compare
from envsecrets.core.store import SecretMetadata, StoredValue
from envsecrets.core.values import SecretValue
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

KEYS = st.sampled_from(["api/key", "api/token", "db/creds", "db/url", "tls/cert", "x"])
# A few values so that "same" happens often; text, binary and JSON objects.
VALUES = st.sampled_from(
    ["v1", "v2", b"\x00\x01", b"\x00\x02", '{"u": "a", "p": "1"}', '{"u": "a", "p": "2"}']
)
SLOT = st.one_of(st.none(), st.just("deleted"), VALUES)  # absent, pending deletion, a value
WORLD = st.dictionaries(KEYS, st.tuples(SLOT, SLOT), max_size=6)


def _side(env: str, world: dict[str, tuple[Any, Any]], index: int) -> Side:
    entries: dict[str, SideEntry] = {}
    for key, slots in world.items():
        slot = slots[index]
        if slot is None:
            continue
        name = f"{env}/{key}"
        if slot == "deleted":
            from datetime import UTC, datetime

            meta = SecretMetadata(name=name, deleted_on=datetime(2030, 1, 1, tzinfo=UTC))
            entries[key] = SideEntry(key, meta)
        else:
            stored = StoredValue(name=name, value=SecretValue(slot), version_id="v")
            entries[key] = SideEntry(key, SecretMetadata(name=name), Fingerprint.of(stored))
    return Side(env, "", entries)


@given(WORLD)
def test_compare_mirrors(world: dict[str, tuple[Any, Any]]) -> None:
    a, b = _side("a", world, 0), _side("b", world, 1)
    forward, backward = compare(a, b), compare(b, a)
    assert forward.mirrored() == backward
    assert forward.equal == backward.equal
    assert forward.counts["only_in_a"] == backward.counts["only_in_b"]
    assert forward.counts["differs"] == backward.counts["differs"]


@given(WORLD)
def test_compare_with_itself_is_equal_unless_deleting(world: dict[str, tuple[Any, Any]]) -> None:
    a = _side("a", world, 0)
    result = compare(a, _side("b", {k: (v[0], v[0]) for k, v in world.items()}, 1))
    assert result.equal
    assert result.counts["only_in_a"] == result.counts["only_in_b"] == 0


# -- end to end, against the emulator ----------------------------------------------------------
_pairs = itertools.count()


def _mirror_json(data: dict[str, Any]) -> dict[str, Any]:
    flip = {"only_in_a": "only_in_b", "only_in_b": "only_in_a"}
    counts = {flip.get(k, k): v for k, v in data["counts"].items()}
    rows = [
        {**r, "status": flip.get(r["status"], r["status"]), "a": r["b"], "b": r["a"]}
        for r in data["secrets"]
    ]
    return {**data, "a": data["b"], "b": data["a"], "counts": counts, "secrets": rows}


def _populate(sm, env: str, world: dict[str, tuple[Any, Any]], index: int) -> None:
    for key, slots in world.items():
        slot = slots[index]
        if slot is None:
            continue
        name = f"{env}/{key}"
        if isinstance(slot, bytes):
            sm.create_secret(Name=name, SecretBinary=slot)
        else:
            sm.create_secret(Name=name, SecretString="gone" if slot == "deleted" else slot)
        if slot == "deleted":
            sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(WORLD)
def test_cli_diff_mirrors(cli, sm, world: dict[str, tuple[Any, Any]]) -> None:
    n = next(_pairs)
    a, b = f"mirror-a{n}", f"mirror-b{n}"  # no secrets.toml here: any environment works
    _populate(sm, a, world, 0)
    _populate(sm, b, world, 1)
    forward, backward = cli("diff", a, b, "--json"), cli("diff", b, a, "--json")
    assert forward.code == backward.code
    assert forward.code in (0, 1), forward.stderr
    assert _mirror_json(forward.json()) == backward.json()


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.dictionaries(KEYS, st.tuples(SLOT, st.one_of(st.none(), VALUES)), max_size=6))
def test_copy_missing_only_leaves_nothing_only_in_a(
    cli, sm, world: dict[str, tuple[Any, Any]]
) -> None:
    n = next(_pairs)
    a, b = f"copy-a{n}", f"copy-b{n}"
    _populate(sm, a, world, 0)
    _populate(sm, b, world, 1)
    copied = cli("copy", f"{a}/", f"{b}/", "--missing-only", "--yes")
    assert copied.code == 0, copied.stderr
    after = cli("diff", a, b, "--json").json()
    assert after["counts"]["only_in_a"] == 0
    # Nothing that was already in B changed.
    for key, (_, before) in world.items():
        if before is not None:
            row = next(r for r in after["secrets"] if r["key"] == key)
            assert row["status"] != "only_in_a"
            assert row["b"] is not None
