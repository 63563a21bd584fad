"""Writing one secret: plan (compare with what is there) then apply (create or put).

Split in two so that the command can show the plan and ask for confirmation in between, and
so that an unchanged value never needs confirmation nor creates a version.

Every write ends with AWSCURRENT checked (`labels.make_current`): AWS can accept a write and do
nothing (a token that matches an existing version), and a report of "updated" must mean that
readers get the new value. A value built from the version read (`--field`, a merge) is written
as a compare-and-swap: staged under a working label, then AWSCURRENT moved from the version that
was read; a change made since the read is refused (exit 4), never silently reverted.
"""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass, field
from typing import Literal

from envsecrets.core.config import EnvironmentConfig
from envsecrets.core.labels import CurrentMoved, drop_label, make_current, move_current
from envsecrets.core.names import SecretName
from envsecrets.core.store import CURRENT, SecretStore, StoredValue
from envsecrets.core.values import SecretValue, request_token
from envsecrets.errors import CliError, ExitCode
from envsecrets.stopping import Stopped

SetAction = Literal["create", "update", "unchanged"]
# The label that holds a version staged by a compare-and-swap write until AWSCURRENT moves to
# it (a version without any label may be removed by AWS); removed right after.
WRITING_LABEL = "envsecrets-writing"


@dataclass(frozen=True)
class SetPlan:
    """What `set` will do to one secret."""

    name: SecretName
    action: SetAction
    value: SecretValue
    current_version: str | None = None
    # `--field KEY`: the value is the version read with one member changed, so it may only
    # replace that version (a compare-and-swap).
    field_key: str | None = None


@dataclass(frozen=True)
class SetOptions:
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    kms_key_id: str | None = None
    force: bool = False


@dataclass(frozen=True)
class SetOutcome:
    """What a write did: `action` is create, update or unchanged (nothing written);
    `version_id` is the version now current, `previous_version` the one it replaced;
    `stored` the value now current (for a `field` write, the whole JSON document)."""

    name: SecretName
    action: SetAction
    version_id: str | None
    previous_version: str | None
    stored: SecretValue | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, str | None]:
        """The outcome for `--json` (never the value; `kind` says what it was stored as:
        text, json or binary)."""
        done = {"create": "created", "update": "updated", "unchanged": "unchanged"}
        return {
            "name": str(self.name),
            "action": done[self.action],
            "version_id": self.version_id,
            "previous_version_id": self.previous_version,
            "kind": self.stored.kind if self.stored is not None else None,
        }


def read_current(store: SecretStore, name: SecretName) -> StoredValue | None:
    """The current version, or None when the secret does not exist."""
    try:
        return store.read(str(name))
    except CliError as exc:
        if exc.code == ExitCode.NOT_FOUND:
            return None
        raise


def plan_set(
    store: SecretStore,
    name: SecretName,
    value: SecretValue,
    *,
    field_key: str | None = None,
    force: bool = False,
) -> SetPlan:
    """Compare `value` (or one JSON field of it) with the current version."""
    current = read_current(store, name)
    same_field = False
    if field_key is not None:
        base = current.value if current else SecretValue("{}")
        merged = base.with_field(field_key, value, create=True)
        # Compare the field itself: re-encoding the document (other spacing or key order
        # than the tool that stored it) is not a change and must not make a version.
        same_field = current is not None and json.loads(base.text()).get(field_key) == value.text()
        value = merged
    value.validate()
    if current is None:
        return SetPlan(name, "create", value, field_key=field_key)
    if (current.value == value or same_field) and not force:
        return SetPlan(name, "unchanged", current.value, current.version_id, field_key)
    return SetPlan(name, "update", value, current.version_id, field_key)


class WriteInterrupted(Stopped):
    """A stop (Ctrl-C, SIGTERM, SIGHUP) that came while `apply_set` was writing `name`: the
    write may have landed all the same, and the command can say so instead of a bare "run
    again". It is the same stop (its signal kept), with the name added."""

    def __init__(self, name: str, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)
        self.name = name


def apply_set(
    store: SecretStore, plan: SetPlan, env: EnvironmentConfig, options: SetOptions
) -> SetOutcome:
    """Carry out a plan. Tokens come from name, value and the replaced version, so a retry
    after a lost reply never makes a second version. A stop while it runs is raised as
    WriteInterrupted."""
    try:
        return _apply_set(store, plan, env, options)
    except WriteInterrupted:
        raise
    except KeyboardInterrupt as stop:
        signum = stop.signum if isinstance(stop, Stopped) else signal.SIGINT
        raise WriteInterrupted(str(plan.name), signum) from stop


def _apply_set(
    store: SecretStore, plan: SetPlan, env: EnvironmentConfig, options: SetOptions
) -> SetOutcome:
    name = str(plan.name)
    token = request_token(name, plan.value, plan.current_version)
    if plan.action == "create":
        try:
            created = store.create(
                name,
                plan.value,
                token=token,
                description=options.description,
                kms_key_id=options.kms_key_id or env.kms_key_id,
                tags={**env.tags, **options.tags},
                replica_regions=env.replica_regions,
            )
        except CliError as exc:
            # A retry after a lost reply can meet the secret its own first attempt created
            # (ResourceExistsException). The token is the version id: if the current version
            # carries it, the write happened exactly once and is ours.
            if exc.code != ExitCode.REFUSED:
                raise
            mine = read_current(store, plan.name)
            if mine is not None and mine.version_id == token:
                return SetOutcome(plan.name, "create", mine.version_id, None)
            if mine is not None:
                raise
            try:
                has_value = store.describe(name).version_with(CURRENT) is not None
            except CliError:
                raise exc from None
            if has_value:
                raise
            # The secret exists without any value (created empty, e.g. by
            # `aws secretsmanager create-secret --name`): this write gives it its first one.
            _describe_and_tag(store, name, options.description, {**env.tags, **options.tags})
            created = _write_current(store, plan, token)
        return SetOutcome(plan.name, "create", created, None)
    # Description and tags go first: if either is refused (say TagResource is denied), the
    # value is not written either and the error says so, so that a second run finds the old
    # value and does all of it again. Writing the value first would leave it without the
    # tags for good: a re-run would find the value in place and report "unchanged".
    _describe_and_tag(store, name, options.description, options.tags)
    version: str | None = None
    if plan.action == "update":
        version = _write_current(store, plan, token)
    return SetOutcome(plan.name, plan.action, version or plan.current_version, plan.current_version)


def _write_current(store: SecretStore, plan: SetPlan, token: str) -> str:
    """Put the plan's value as the new AWSCURRENT and make sure it is; returns its version."""
    name = str(plan.name)
    try:
        if plan.field_key is not None and plan.current_version is not None:
            return _swap_in(store, plan, token)
        written = store.put(name, plan.value, token=token)
        make_current(store, name, written, plan.current_version)
    except CurrentMoved as moved:
        raise _changed_since_read(plan, moved) from None
    return written.version_id


def _swap_in(store: SecretStore, plan: SetPlan, token: str) -> str:
    """Stage the value under a working label, then move AWSCURRENT to it from the version it
    was made from; refused (CurrentMoved) when AWSCURRENT has moved since it was read."""
    name = str(plan.name)
    staged = store.put(name, plan.value, token=token, stages=[WRITING_LABEL])
    try:
        if CURRENT not in staged.stages:  # else: a retry of a write that finished
            move_current(
                store, name, to_version=staged.version_id, from_version=plan.current_version
            )
    finally:
        drop_label(store, name, WRITING_LABEL, staged.version_id)
    return staged.version_id


def _changed_since_read(plan: SetPlan, moved: CurrentMoved) -> CliError:
    """The refusal of a write planned over a version that is no longer AWSCURRENT."""
    change = f"--field {plan.field_key}" if plan.field_key else "the new value"
    return CliError(
        ExitCode.REFUSED,
        f"{plan.name} changed while this command ran: version {moved.found or '-'} is "
        f"AWSCURRENT now, not version {plan.current_version} that {change} was planned over; "
        "AWSCURRENT was not moved",
        f"run the command again to apply {change} to the value as it is now "
        f"(`secrets history {plan.name}` lists the versions)",
    )


def _describe_and_tag(
    store: SecretStore, name: str, description: str | None, tags: dict[str, str]
) -> None:
    if description is not None:
        store.update(name, description=description)
    if tags:
        store.tag(name, tags)
