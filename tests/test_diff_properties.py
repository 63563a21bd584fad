"""Properties of diff and copy.

The pure ones run many examples on in-memory sides; the end-to-end ones hit the emulator and
keep to a few examples, each in its own pair of fresh environments (the emulator is reset per
test, not per example)."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from envsecrets.core.config import EnvironmentConfig
from envsecrets.core.diffing import Fingerprint, Side, SideEntry, compare
from envsecrets.core.store import Replica, Rotation, SecretMetadata, StoredValue
from envsecrets.core.values import SecretValue
from hypothesis import HealthCheck, example, given, settings
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


# -- what the statuses mean -------------------------------------------------------------------
# The properties above would pass a diff that always says "same". These pin the meaning against
# an oracle written from the documented contract, not from the implementation: a key is `same`
# exactly when both values are the same bytes stored the same way (SecretString or
# SecretBinary), `differs` otherwise; `changed_fields` (JSON objects on both sides) is exactly
# the set of top-level keys whose values differ or exist on one side only; `only_in_a` /
# `only_in_b` exactly when the other side has no such secret; `pending_deletion` when either
# side is being deleted.
Stored = tuple[str, bytes]  # ("text" | "binary", the bytes AWS holds)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.sampled_from([0.5, 1.0]),
    st.text("ab", max_size=2),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from("xy"), inner),
    max_leaves=4,
)
JSON_OBJECTS = st.dictionaries(st.sampled_from(["u", "p", "host"]), JSON_VALUES, max_size=3)


@st.composite
def stored_values(draw: st.DrawFn) -> Stored:
    """Text, binary (sometimes the same bytes as some text) or a JSON object, printed in one of
    several layouts (so that equal objects in different bytes happen)."""
    kind = draw(st.sampled_from(["text", "binary", "json"]))
    if kind == "json":
        obj = draw(JSON_OBJECTS)
        indent = draw(st.sampled_from([None, 2]))
        keys_sorted = draw(st.booleans())
        return "text", json.dumps(obj, indent=indent, sort_keys=keys_sorted).encode()
    data = draw(st.sampled_from([b"v1", b"v2", b"\x00\x01", b'{"u": 1}']))
    if kind == "text":
        data = data.replace(b"\x00", b"0")  # text: valid UTF-8 without NUL
    return kind, data


STORED_SLOT = st.one_of(st.none(), st.just("deleted"), stored_values())
STORED_WORLD = st.dictionaries(KEYS, st.tuples(STORED_SLOT, STORED_SLOT), max_size=6)


# Every status and its edges in one world, tried first by the end-to-end properties (their few
# random examples may not meet them all).
EVERY_CASE: dict[str, tuple[Any, Any]] = {
    "api/key": (("text", b"v1"), ("text", b"v1")),
    "api/token": (("text", b"v1"), ("text", b"v2")),
    "tls/cert": (("binary", b"v1"), ("text", b"v1")),  # same bytes, stored differently
    "db/url": (("text", b'{"u": 1, "p": 2}'), ("text", b'{"p": 2, "u": 1}')),  # layout only
    "db/creds": (("text", b'{"u": 1, "p": true}'), ("text", b'{"u": 1.0, "p": true, "h": 2}')),
    "x": (("binary", b"\x00\x01"), None),
}


def _same_json(x: Any, y: Any) -> bool:
    """JSON values equal as JSON: same type (true is not 1, 1 is not 1.0), same members."""
    if type(x) is not type(y):
        return False
    if isinstance(x, dict):
        return x.keys() == y.keys() and all(_same_json(x[k], y[k]) for k in x)
    if isinstance(x, list):
        return len(x) == len(y) and all(_same_json(i, j) for i, j in zip(x, y, strict=True))
    return bool(x == y)


def _json_object(stored: Stored) -> dict[str, Any] | None:
    if stored[0] != "text":
        return None
    try:
        parsed = json.loads(stored[1])
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def expected_row(a: Any, b: Any) -> tuple[str, set[str] | None]:
    """The documented status of a key (and its changed fields) from the raw values."""
    if "deleted" in (a, b):
        return "pending_deletion", None
    if b is None:
        return "only_in_a", None
    if a is None:
        return "only_in_b", None
    if a == b:
        return "same", None
    obj_a, obj_b = _json_object(a), _json_object(b)
    if obj_a is None or obj_b is None:
        return "differs", None
    keys = obj_a.keys() | obj_b.keys()
    changed = {
        k for k in keys if k not in obj_a or k not in obj_b or not _same_json(obj_a[k], obj_b[k])
    }
    return "differs", changed


def _stored_side(env: str, world: dict[str, tuple[Any, Any]], index: int) -> Side:
    from datetime import UTC, datetime

    entries: dict[str, SideEntry] = {}
    for key, slots in world.items():
        slot = slots[index]
        name = f"{env}/{key}"
        if slot is None:
            continue
        if slot == "deleted":
            meta = SecretMetadata(name=name, deleted_on=datetime(2030, 1, 1, tzinfo=UTC))
            entries[key] = SideEntry(key, meta)
            continue
        kind, data = slot
        value = SecretValue(data if kind == "binary" else data.decode())
        stored = StoredValue(name=name, value=value, version_id="v")
        entries[key] = SideEntry(key, SecretMetadata(name=name), Fingerprint.of(stored))
    return Side(env, "", entries)


@settings(max_examples=300)
@given(STORED_WORLD)
@example(EVERY_CASE)
@example(
    {"db/creds": (("text", b'{"u": {"x": 1, "y": [2]}}'), ("text", b'{"u": {"y": [2], "x": 1}}'))}
)
def test_statuses_mean_what_the_contract_says(world: dict[str, tuple[Any, Any]]) -> None:
    result = compare(_stored_side("a", world, 0), _stored_side("b", world, 1))
    got = {
        row.key: (row.status, None if row.changed_fields is None else set(row.changed_fields))
        for row in result.rows
    }
    wanted = {key: expected_row(a, b) for key, (a, b) in world.items() if (a, b) != (None, None)}
    assert got == wanted
    assert (result.a_env, result.b_env, result.prefix) == ("a", "b", "")
    assert result.metadata is None and result.drift is None  # settings only with --metadata
    assert "metadata" not in result.as_dict() and "replica_drift" not in result.as_dict()
    # and the verdict: equal exactly when nothing but "same" (or deleting on both sides)
    both_deleting = {k for k, (a, b) in world.items() if a == b == "deleted"}
    assert result.equal == all(
        status == "same" or key in both_deleting for key, (status, _) in wanted.items()
    )


def _create(sm, name: str, slot: Any) -> None:
    if slot == "deleted":
        sm.create_secret(Name=name, SecretString="gone")
        sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
        return
    kind, data = slot
    if kind == "binary":
        sm.create_secret(Name=name, SecretBinary=data)
    else:
        sm.create_secret(Name=name, SecretString=data.decode())


def _stored_now(sm, name: str) -> tuple[Stored, str] | None:
    """AWSCURRENT's kind, bytes and version id, or None when there is no such secret."""
    try:
        got = sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    except sm.exceptions.ResourceNotFoundException:
        return None
    if "SecretBinary" in got:
        return ("binary", got["SecretBinary"]), got["VersionId"]
    return ("text", got["SecretString"].encode()), got["VersionId"]


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(STORED_WORLD)
@example(EVERY_CASE)
@example({"api/key": (None, ("text", b"v1")), "db/url": ("deleted", ("text", b"v1"))})
def test_cli_diff_statuses_mean_what_the_contract_says(
    cli, sm, world: dict[str, tuple[Any, Any]]
) -> None:
    n = next(_pairs)
    a, b = f"meaning-a{n}", f"meaning-b{n}"
    for key, (slot_a, slot_b) in world.items():
        for env, slot in ((a, slot_a), (b, slot_b)):
            if slot is not None:
                _create(sm, f"{env}/{key}", slot)
    run = cli("diff", a, b, "--json")
    assert (run.json()["a"], run.json()["b"], run.json()["prefix"]) == (a, b, "")
    wanted = {k: expected_row(x, y) for k, (x, y) in world.items() if (x, y) != (None, None)}
    alike = all(
        status == "same" or world[key] == ("deleted", "deleted")
        for key, (status, _) in wanted.items()
    )
    assert run.code == (0 if alike else 1), run.stderr
    got = {
        row["key"]: (
            row["status"],
            None if row["changed_fields"] is None else set(row["changed_fields"]),
        )
        for row in run.json()["secrets"]
    }
    assert got == wanted
    for row in run.json()["secrets"]:  # each side names its secret (or is null: absent)
        for side, env in (("a", a), ("b", b)):
            present = world[row["key"]][0 if side == "a" else 1] is not None
            assert row[side] == (
                None if not present else {**row[side], "name": f"{env}/{row['key']}"}
            )


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.dictionaries(KEYS, st.tuples(STORED_SLOT, st.one_of(st.none(), stored_values()))))
@example({**EVERY_CASE, "api/new": (("text", b"n"), None), "db/gone": ("deleted", None)})
def test_copy_missing_only_adds_a_only_and_leaves_b_untouched(
    cli, sm, world: dict[str, tuple[Any, Any]]
) -> None:
    n = next(_pairs)
    a, b = f"fill-a{n}", f"fill-b{n}"
    for key, (slot_a, slot_b) in world.items():
        for env, slot in ((a, slot_a), (b, slot_b)):
            if slot is not None:
                _create(sm, f"{env}/{key}", slot)
    before = {key: _stored_now(sm, f"{b}/{key}") for key in world}
    copied = cli("copy", f"{a}/", f"{b}/", "--missing-only", "--yes")
    assert copied.code == 0, copied.stderr
    for key, (slot_a, slot_b) in world.items():
        after = _stored_now(sm, f"{b}/{key}")
        if slot_b is not None:
            assert after == before[key], key  # same bytes, same kind, same version: untouched
        elif slot_a not in (None, "deleted"):
            assert after is not None and after[0] == slot_a, key  # A's value, exactly
        else:
            assert after is None, key  # nothing to copy (absent, or being deleted in A)


# -- --metadata: what differs in settings, from either side --------------------------------------
KMS = st.sampled_from([None, "alias/aws/secretsmanager", "alias/team", "arn:aws:kms:k2"])
TAGS = st.dictionaries(
    st.sampled_from(["team", "owner", "aws:cloudformation:stack-name", "envsecrets:rotated-by"]),
    st.sampled_from(["a", "b"]),
    max_size=3,
)
REGIONS = st.lists(st.sampled_from(["eu-west-1", "us-west-2"]), unique=True, max_size=2)


@st.composite
def settings_of(draw: st.DrawFn, name: str) -> SecretMetadata:
    return SecretMetadata(
        name=name,
        kms_key_id=draw(KMS),
        rotation=Rotation(enabled=draw(st.booleans())),
        tags=draw(TAGS),
        replicas=tuple(Replica(r) for r in draw(REGIONS)),
    )


def _expected_metadata(
    a: SecretMetadata, b: SecretMetadata, ignored: set[str]
) -> list[tuple[str, Any, Any]]:
    """The documented comparison: the AWS managed key is no key; tags that either environment
    sets for all its secrets, and `aws:`/`envsecrets:` records, are not compared."""

    def kms(key: str | None) -> str | None:
        return None if key == "alias/aws/secretsmanager" else key

    def tags(meta: SecretMetadata) -> dict[str, str]:
        return {
            k: v
            for k, v in meta.tags.items()
            if k not in ignored and not k.startswith(("aws:", "envsecrets:"))
        }

    found: list[tuple[str, Any, Any]] = []
    if kms(a.kms_key_id) != kms(b.kms_key_id):
        found.append(("kms_key_id", kms(a.kms_key_id), kms(b.kms_key_id)))
    if a.rotation.enabled != b.rotation.enabled:
        found.append(("rotation_enabled", a.rotation.enabled, b.rotation.enabled))
    if tags(a) != tags(b):
        found.append(("tags", tags(a), tags(b)))
    return found


@settings(max_examples=300)
@given(
    data=st.data(),
    a_tags=TAGS,
    b_tags=TAGS,
    a_regions=REGIONS,
    b_regions=REGIONS,
)
def test_metadata_differences_mean_what_they_say(
    data: st.DataObject, a_tags, b_tags, a_regions, b_regions
) -> None:
    a_env = EnvironmentConfig("a", tags=a_tags, replica_regions=tuple(a_regions))
    b_env = EnvironmentConfig("b", tags=b_tags, replica_regions=tuple(b_regions))
    meta_a, meta_b = data.draw(settings_of("a/k")), data.draw(settings_of("b/k"))
    fingerprint = Fingerprint("0" * 64, "text")
    side_a = Side("a", "", {"k": SideEntry("k", meta_a, fingerprint)})
    side_b = Side("b", "", {"k": SideEntry("k", meta_b, fingerprint)})
    result = compare(side_a, side_b, metadata=True, a_env=a_env, b_env=b_env)
    wanted = _expected_metadata(meta_a, meta_b, set(a_tags) | set(b_tags))
    assert [(m.key, m.field, m.a, m.b) for m in result.metadata or ()] == [
        ("k", *w) for w in wanted
    ]
    drift = {(d.env, d.actual) for d in result.drift or ()}
    for env, meta in (("a", meta_a), ("b", meta_b)):
        expected = set(a_regions if env == "a" else b_regions)
        actual = tuple(sorted(r.region for r in meta.replicas))
        # a replica that is not InSync holds no usable copy: drift whatever its region
        unhealthy = any(not replica.healthy for replica in meta.replicas)
        assert ((env, actual) in drift) == (set(actual) != expected or unhealthy)
    assert result.equal == (not wanted and not drift)
    # seen from the other side: the same findings, a and b swapped
    backward = compare(side_b, side_a, metadata=True, a_env=b_env, b_env=a_env)
    assert result.mirrored().metadata == backward.metadata
    assert result.mirrored() == replace(backward, drift=result.drift)
    as_json = result.as_dict()
    assert as_json["metadata"] == [{"key": "k", "field": f, "a": x, "b": y} for f, x, y in wanted]
    for item in as_json["replica_drift"]:
        assert set(item) == {"key", "env", "expected", "actual", "missing", "extra", "unhealthy"}
        broken = {replica["region"] for replica in item["unhealthy"]}
        usable = set(item["actual"]) - broken
        assert item["missing"] == sorted(set(item["expected"]) - usable)
        assert item["extra"] == sorted(set(item["actual"]) - set(item["expected"]))


def test_metadata_without_environment_settings_uses_the_defaults() -> None:
    """No secrets.toml: no tags to ignore, no replica regions expected."""
    fingerprint = Fingerprint("0" * 64, "text")
    meta = SecretMetadata(name="a/k", tags={"team": "x"}, replicas=(Replica("eu-west-1"),))
    a = Side("a", "", {"k": SideEntry("k", meta, fingerprint)})
    b = Side("b", "", {"k": SideEntry("k", SecretMetadata(name="b/k"), fingerprint)})
    result = compare(a, b, metadata=True)
    assert [(m.field, m.a, m.b) for m in result.metadata or ()] == [("tags", {"team": "x"}, {})]
    assert [(d.env, d.actual) for d in result.drift or ()] == [("a", ("eu-west-1",))]
    # a secret only on one side has no settings to compare, but its replicas are checked
    only = compare(a, Side("b", "", {}), metadata=True)
    assert only.metadata == () and [d.key for d in only.drift or ()] == ["k"]


class _Batches:
    """A store that answers reads in batches of two, some names gone since they were listed."""

    def __init__(self, values: dict[str, str], gone: set[str]) -> None:
        self.values, self.gone = values, gone

    def read_each(self, names: Any) -> Any:
        from envsecrets.core.store import BatchRead

        names = list(names)
        for start in range(0, len(names), 2):
            batch = names[start : start + 2]
            yield BatchRead(
                values={
                    n: StoredValue(n, SecretValue(self.values[n]), "v")
                    for n in batch
                    if n not in self.gone
                },
                errors={n: "ResourceNotFoundException" for n in batch if n in self.gone},
            )


def test_progress_counts_every_secret_read_or_gone() -> None:
    """The progress bar of a diff advances once per secret, read or vanished, to its total."""
    from envsecrets.core.diffing import fingerprint_side

    names = {f"dev/k{i}": f"v{i}" for i in range(5)}
    side = Side("dev", "", {n[4:]: SideEntry(n[4:], SecretMetadata(name=n)) for n in names})
    steps: list[int] = []
    store: Any = _Batches(names, gone={"dev/k3"})
    done = fingerprint_side(store, side, advance=steps.append)
    assert sorted(steps) == [1, 2, 2] and sum(steps) == 5
    assert sorted(done.entries) == ["k0", "k1", "k2", "k4"]  # the vanished one is left out
    assert done.entries["k0"].fingerprint == Fingerprint.of(
        StoredValue("dev/k0", SecretValue("v0"), "v")
    )


class _Described:
    """A store that describes some names, lost others since they were listed, and may refuse."""

    def __init__(self, known: dict[str, SecretMetadata], denied: bool = False) -> None:
        self.known, self.denied = known, denied

    def describe(self, name: str) -> SecretMetadata:
        from envsecrets.errors import CliError, ExitCode

        if self.denied:
            raise CliError(ExitCode.AUTH, "access denied to DescribeSecret", "check the role")
        if name not in self.known:
            raise CliError(ExitCode.NOT_FOUND, f"{name} not found", "-")
        return self.known[name]


def test_describing_a_side_keeps_what_vanished_and_names_the_side() -> None:
    from envsecrets.core.diffing import describe_many, describe_side
    from envsecrets.errors import CliError, ExitCode

    listed = SecretMetadata(name="dev/gone", tags={"listed": "yes"})
    described = SecretMetadata(name="dev/here", replicas=(Replica("eu-west-1"),))
    side = Side(
        "dev",
        "",
        {
            "here": SideEntry("here", SecretMetadata(name="dev/here")),
            "gone": SideEntry("gone", listed),
        },
    )
    store: Any = _Described({"dev/here": described})
    done = describe_side(store, side, workers=2)
    assert done.entries["here"].meta == described  # DescribeSecret's, replicas and all
    assert done.entries["gone"].meta == listed  # vanished since the listing: as listed
    with pytest.raises(CliError) as missing:
        describe_many(store, ["dev/gone"], side="dev")  # by default, missing is an error
    assert (missing.value.code, missing.value.message) == (
        ExitCode.NOT_FOUND,
        "[dev] dev/gone not found",
    )
    with pytest.raises(CliError) as denied:
        describe_side(_Described({}, denied=True), side)  # type: ignore[arg-type]
    assert denied.value.code == ExitCode.AUTH
    assert denied.value.message == "[dev] access denied to DescribeSecret"


def test_check_names_the_environment_a_refusal_came_from() -> None:
    from envsecrets.core.config import FunctionConfig
    from envsecrets.core.diffing import check_functions
    from envsecrets.errors import CliError

    env = EnvironmentConfig("prod", replica_regions=("eu-west-1",))
    functions = [FunctionConfig("api", secrets=("db/password",))]
    with pytest.raises(CliError) as denied:
        check_functions(_Described({}, denied=True), env, functions)  # type: ignore[arg-type]
    assert denied.value.message == "[prod] access denied to DescribeSecret"
    described = SecretMetadata(name="prod/db/password", version_stages={"v1": ("AWSCURRENT",)})
    store: Any = _Described({"prod/db/password": described})
    (item,) = check_functions(store, env, functions).items
    assert item.drift is not None and item.drift.key == "db/password"


def test_a_secret_being_deleted_on_one_side_has_no_settings_compared() -> None:
    fingerprint = Fingerprint("0" * 64, "text")
    deleting = SecretMetadata(
        name="a/k", tags={"team": "x"}, deleted_on=datetime(2030, 1, 1, tzinfo=UTC)
    )
    a = Side("a", "api/", {"k": SideEntry("k", deleting)})
    b = Side("b", "api/", {"k": SideEntry("k", SecretMetadata(name="b/k"), fingerprint)})
    result = compare(a, b, metadata=True)
    assert result.metadata == () and result.prefix == "api/"
