"""set, get, list, show, history, delete, restore: one secret at a time.

Over 500 lines on purpose, for now: its seams are value commands (set, get), browsing (list,
show, history) and lifecycle (delete, restore), but two branches (the AWS and run fixes) are
editing set, get and delete while this is written, and moving them would turn their merges
into conflicts. Split it along those seams once they are merged.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from envsecrets.api import MAX_DESCRIPTION
from envsecrets.commands.common import JsonOption, Workspace, YesOption, workspace
from envsecrets.completion import complete_name, complete_prefix
from envsecrets.core.names import NamePrefix, SecretName
from envsecrets.core.store import SecretMetadata, SecretStore
from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode
from envsecrets.ui.render import when

if TYPE_CHECKING:
    from envsecrets.backends.deadline import DeadlineExceeded

NameArgument = Annotated[
    str,
    typer.Argument(
        help="Secret name: <env>/<path>, e.g. prod/api/stripe-key.", autocompletion=complete_name
    ),
]
FieldOption = Annotated[
    str | None, typer.Option("--field", help="Work on one key of a JSON object secret.")
]


def register(app: typer.Typer) -> None:
    from envsecrets.commands.interrupted import saying_what_a_stop_left

    app.command("set")(saying_what_a_stop_left(set_secret))
    app.command("get")(get_secret)
    app.command("list")(list_secrets)
    app.command("show")(show_secret)
    app.command("history")(secret_history)
    app.command("delete")(delete_secret)
    app.command("restore")(restore_secret)


def set_secret(
    ctx: typer.Context,
    name: NameArgument,
    stdin: Annotated[
        bool,
        typer.Option(
            "--stdin", help="Read the value from stdin (one trailing newline is stripped)."
        ),
    ] = False,
    from_file: Annotated[
        Path | None,
        typer.Option("--from-file", help="Read the value from a file, bytes kept exactly."),
    ] = None,
    field_key: FieldOption = None,
    description: Annotated[
        str | None, typer.Option("--description", help="Description shown by `secrets show`.")
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", metavar="KEY=VALUE", help="Tag the secret (repeatable)."),
    ] = None,
    kms_key: Annotated[
        str | None,
        typer.Option("--kms-key", help="KMS key id, ARN or alias for a new secret."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Write a new version even when the value is unchanged.")
    ] = False,
    yes: YesOption = False,
    json_output: JsonOption = False,
) -> None:
    """Create a secret or put a new version. The value comes from a hidden prompt (asked
    twice), --stdin or --from-file: never from the command line."""
    from envsecrets.commands.inputs import parse_tags, read_new_value

    ws = workspace(ctx)
    ws.one_secret_command()
    out = ws.renderer(json_output)
    secret = SecretName.parse(name)
    env = ws.open(secret.env)
    tags = parse_tags(tag or [])
    if description is not None and len(description) > MAX_DESCRIPTION:
        # Before the value is asked for: nobody types a value twice to be refused after.
        raise CliError(
            ExitCode.USAGE,
            f"--description is {len(description)} characters; AWS allows {MAX_DESCRIPTION}",
            f"shorten --description to at most {MAX_DESCRIPTION} characters",
        )
    value = read_new_value(stdin=stdin, from_file=from_file, label=str(secret))
    from envsecrets.backends.deadline import DeadlineExceeded

    try:
        outcome = env.set(
            str(secret),
            value,
            field=field_key,
            description=description,
            tags=tags,
            kms_key_id=kms_key,
            force=force,
            confirm=partial(ws.confirm_if_protected, secret.env, yes=yes),
        )
    except DeadlineExceeded as exc:
        raise _write_cut_off(exc, str(secret)) from None
    if kms_key and outcome.action != "create":
        out.warn(f"--kms-key applies to new secrets only; {secret} keeps its KMS key")
    result = outcome.as_dict()
    stored = _stored_as(outcome.stored or value)
    if json_output:
        out.json(result)
    elif outcome.action == "unchanged":
        out.success(f"{secret}: unchanged (same value as version {outcome.version_id}; {stored})")
    else:
        out.success(f"{secret}: {result['action']} (version {outcome.version_id}; {stored})")


def _write_cut_off(exc: DeadlineExceeded, name: str) -> CliError:
    """The deadline passed while a write was waited for: AWS may have carried it out all the
    same (the request was sent; only its answer was not read in time)."""
    if exc.operation.startswith(("Describe", "Get", "List", "BatchGet")):
        return exc  # cut off while reading, before anything was written
    return CliError(
        exc.code,
        f"{exc.message}; the write may have landed",
        f"`secrets history {name}` shows whether AWSCURRENT holds the new value; running the "
        "same command again is safe (its request token makes AWS write the value at most "
        "once); --timeout SECONDS waits longer",
    )


def _stored_as(value: SecretValue) -> str:
    """`text, 12 bytes`: what the value was stored as, so nobody is surprised by binary."""
    kinds = {"text": "text", "json": "JSON object", "binary": "binary, not UTF-8 text"}
    return f"{kinds[value.kind]}, {value.size} bytes"


def get_secret(
    ctx: typer.Context,
    name: NameArgument,
    field_key: FieldOption = None,
    version_stage: Annotated[
        str | None, typer.Option("--version-stage", help="Stage to read (default AWSCURRENT).")
    ] = None,
    version_id: Annotated[
        str | None, typer.Option("--version-id", help="Exact version to read.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the value to FILE (atomically, mode 0600; a FIFO or device is "
            "written through).",
            readable=False,  # an output: a write-only (0200) file is fine
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Print a secret's value exactly (a newline is added only on a terminal)."""
    if version_stage and version_id:
        raise CliError(
            ExitCode.USAGE,
            "--version-stage and --version-id cannot be used together",
            "keep one: --version-id picks a version, --version-stage a label such as "
            "AWSPREVIOUS (`secrets history NAME` lists both)",
        )
    ws = workspace(ctx)
    ws.one_secret_command()
    out = ws.renderer(json_output)
    secret = SecretName.parse(name)
    if version_id is not None:
        _check_version_id(version_id, secret)
    stored = ws.open(secret.env).get(
        str(secret), field=field_key, stage=version_stage, version_id=version_id
    )
    value = stored.value
    if output is not None:
        from envsecrets.core.files import write_private_file
        from envsecrets.ui.streams import names_a_terminal

        if names_a_terminal(output):  # `--output /dev/tty`: the terminal rule of stdout
            _refuse_controls_on_a_terminal(secret, value)
        how = write_private_file(output, value.data())
        out.note(f"wrote {value.size} bytes of {secret} to {output} ({how})")
        return
    if json_output:
        payload: dict[str, Any] = {
            "name": str(secret),
            "version_id": stored.version_id,
            "stages": list(stored.stages),
            "created": stored.created,
            "encoding": "base64" if value.is_binary else "text",
            "value": base64.b64encode(value.data()).decode() if value.is_binary else value.text(),
        }
        if field_key:
            payload["field"] = field_key
        out.json(payload)
        return
    if out.stdout_is_tty:
        _refuse_controls_on_a_terminal(secret, value)
    out.value(value.data())


def _refuse_controls_on_a_terminal(secret: SecretName, value: SecretValue) -> None:
    if value.has_terminal_controls:
        # Binary, or text with escape sequences or other controls: on a terminal they would
        # act (clear the screen, retitle the window, fake a line) instead of showing.
        what = "binary" if value.is_binary else "text with terminal control characters"
        raise CliError(
            ExitCode.USAGE,
            f"{secret} is {what} ({value.size} bytes); refusing to write it to a terminal",
            "use --output FILE, or pipe stdout to a file or program",
        )


def _check_version_id(version_id: str, secret: SecretName) -> None:
    """A version id is 32 to 64 characters (Secrets Manager's rule); say so naming the id,
    before any call."""
    if 32 <= len(version_id) <= 64:
        return
    shown = version_id if len(version_id) <= 70 else version_id[:69] + "…"
    raise CliError(
        ExitCode.USAGE,
        f"invalid --version-id '{shown}': a version id has 32 to 64 characters, this one has "
        f"{len(version_id)}",
        f"`secrets history {secret}` lists its versions and their ids",
    )


def _metadata_row(meta: SecretMetadata) -> dict[str, Any]:
    from envsecrets.core.rotation_lease import without_released_lease

    return {
        "name": meta.name,
        "arn": meta.arn,
        "description": meta.description,
        "last_changed": meta.last_changed,
        "last_accessed": meta.last_accessed,
        "created": meta.created,
        "rotation_enabled": meta.rotation.enabled,
        "rotation_schedule": meta.rotation.schedule,
        "last_rotated": meta.rotation.last_rotated,
        "deletion_date": meta.deleted_on,
        "tags": without_released_lease(meta.tags),
    }


def list_secrets(
    ctx: typer.Context,
    prefix: Annotated[
        str | None,
        typer.Argument(
            help="Only names under this prefix: prod/ or prod/api/.",
            autocompletion=complete_prefix,
        ),
    ] = None,
    stale: Annotated[
        int | None,
        typer.Option(
            "--stale",
            min=0,
            max=36_500,  # a century; more overflows the date arithmetic
            help="Only secrets whose value has not changed for DAYS days.",
        ),
    ] = None,
    unused: Annotated[
        int | None,
        typer.Option(
            "--unused", min=0, max=36_500, help="Only secrets nobody has read for DAYS days."
        ),
    ] = None,
    include_deleted: Annotated[
        bool, typer.Option("--include-deleted", help="Also show secrets scheduled for deletion.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """List names and metadata (never values)."""
    ws = workspace(ctx)
    out = ws.renderer(json_output)
    if prefix:
        parsed = NamePrefix.parse(prefix)
        ws.environment(parsed.env)
        scopes = [(parsed.env, str(parsed))]
    elif ws.config.environments:
        scopes = [(env, f"{env}/") for env in sorted(ws.config.environments)]
    else:
        scopes = [("default", "")]
    found: list[SecretMetadata] = []
    now = datetime.now(UTC)
    for env, scope in scopes:
        store = ws.default_store() if env == "default" else ws.store(env)
        listed = list(store.list(scope, include_deleted=include_deleted))
        _remember_for_completion(ws, env, scope, listed)
        found.extend(_filter_by_age(store, listed, stale=stale, unused=unused, now=now))
    found.sort(key=lambda m: m.name)
    if json_output:
        out.json([_metadata_row(m) for m in found])
        return
    if not found:
        out.note("no secrets found" + (f" under {prefix}" if prefix else ""))
        return
    rows = [
        [
            m.name + (" (deleting)" if m.scheduled_for_deletion else ""),
            when(m.last_changed or m.created),
            when(m.last_accessed),
            (m.rotation.schedule or "on") if m.rotation.enabled else "off",
        ]
        for m in found
    ]
    out.table(["NAME", "LAST CHANGED", "LAST ACCESSED", "ROTATION"], rows)


def _filter_by_age(
    store: SecretStore,
    listed: list[SecretMetadata],
    *,
    stale: int | None,
    unused: int | None,
    now: datetime,
) -> list[SecretMetadata]:
    """`--stale`: the value (AWSCURRENT's CreatedDate, not LastChangedDate, which any tag
    moves) is older than DAYS days. `--unused`: not read for DAYS whole days in any region."""
    from envsecrets.core.ages import unused_for, values_set_before

    if stale or unused is not None:
        _pace(store)
    found = listed
    if stale:  # --stale 0: every value is older than now
        found = values_set_before(store, found, now - timedelta(days=stale))
    if unused is not None:
        found = unused_for(store, found, unused, today=now.date())
    return found


def _pace(store: SecretStore) -> None:
    """The per-secret date checks run side by side: pace them at AWS's quotas
    (ListSecretVersionIds is 50/s) so that a large listing is not throttled."""
    from envsecrets.backends.quotas import RateLimiter
    from envsecrets.backends.secretsmanager import SecretsManagerStore

    if isinstance(store, SecretsManagerStore) and store.target.limiter is None:
        store.target.limiter = RateLimiter()


def _remember_for_completion(
    ws: Workspace, env: str, scope: str, listed: list[SecretMetadata]
) -> None:
    """A full listing of an environment refreshes the names-only cache that TAB reads."""
    from envsecrets.completion import remember_names

    names = [m.name for m in listed if not m.scheduled_for_deletion]
    envs = {n.partition("/")[0] for n in names} if env == "default" else {env}
    if env != "default" and scope != f"{env}/":
        return  # a partial listing (prod/api/) says nothing about the rest of prod/
    for each in envs:
        remember_names(ws.config.path, each, ws.options.profile, ws.options.region, names)


def show_secret(ctx: typer.Context, name: NameArgument, json_output: JsonOption = False) -> None:
    """Describe a secret: ARN, KMS key, tags, rotation and its declared plan, replication
    (never its value)."""
    from envsecrets.core.rotation import APPLIED_TO_TAG, ROTATED_AT_TAG, ROTATED_BY_TAG
    from envsecrets.core.rotation_lease import lease_of, without_released_lease

    ws = workspace(ctx)
    ws.one_secret_command()
    out = ws.renderer(json_output)
    secret = SecretName.parse(name)
    ws.environment(secret.env)
    meta = ws.store(secret.env).describe(str(secret))
    pending = meta.pending_version
    plan = ws.config.rotation_plan(secret.path)
    # The rotation that staged the pending version, when it left its lease (who and since when).
    lease = lease_of(meta.tags, pending)
    if json_output:
        row = _metadata_row(meta)
        row.update(
            kms_key_id=meta.kms_key_id,
            rotation_lambda_arn=meta.rotation.lambda_arn,
            next_rotation=meta.rotation.next_rotation,
            pending_version_id=pending,
            pending_staged_by=None if lease is None else lease.describe(),
            current_version_id=meta.version_with("AWSCURRENT"),
            rotated_by_hand_at=meta.tags.get(ROTATED_AT_TAG),
            rotated_by_hand_by=meta.tags.get(ROTATED_BY_TAG),
            applied_to=meta.tags.get(APPLIED_TO_TAG),
            rotation_plan=None if plan is None else plan.as_dict(secret.env),
            replicas=[
                {"region": r.region, "status": r.status, "message": r.message}
                for r in meta.replicas
            ],
            primary_region=meta.primary_region,
        )
        out.json(row)
        return
    rotation = "enabled" if meta.rotation.enabled else "disabled (rotate by hand: secrets rotate)"
    pairs = [
        ("Name", meta.name),
        ("ARN", meta.arn or "-"),
        ("Description", meta.description or "-"),
        ("KMS key", meta.kms_key_id or "aws/secretsmanager (AWS managed)"),
        ("Created", when(meta.created)),
        ("Last changed", when(meta.last_changed)),
        ("Last accessed", when(meta.last_accessed)),
        ("Current version", meta.version_with("AWSCURRENT") or "-"),
        ("Rotation", rotation),
        ("Schedule", meta.rotation.schedule or "-"),
        ("Rotation Lambda", meta.rotation.lambda_arn or "-"),
        ("Last rotated", when(meta.rotation.last_rotated)),
        (
            "Rotated by hand",
            f"{meta.tags[ROTATED_AT_TAG]} by {meta.tags.get(ROTATED_BY_TAG, '?')}"
            if ROTATED_AT_TAG in meta.tags
            else "-",
        ),
        ("Applied to", meta.tags.get(APPLIED_TO_TAG, "-")),
        (
            "Rotation plan",
            f"{plan.summary(secret.env)} (secrets.toml [rotation])" if plan is not None else "-",
        ),
        ("Next rotation", when(meta.rotation.next_rotation)),
        (
            "Pending version",
            "none"
            if pending is None
            else pending + ("" if lease is None else f" (staged by {lease.describe()})"),
        ),
        (
            "Replicas",
            ", ".join(
                f"{r.region} ({r.status or '?'}"
                + (f": {r.message}" if r.message and not r.healthy else "")
                + ")"
                for r in meta.replicas
            )
            or "none",
        ),
        (
            "Tags",
            ", ".join(f"{k}={v}" for k, v in sorted(without_released_lease(meta.tags).items()))
            or "none",
        ),
    ]
    if meta.deleted_on:
        pairs.append(("Deletion", f"scheduled for {when(meta.deleted_on)} (undo: secrets restore)"))
    out.fields(pairs)


def secret_history(ctx: typer.Context, name: NameArgument, json_output: JsonOption = False) -> None:
    """List a secret's versions with their stages and dates, and which of them a rotation
    made (never values)."""
    from envsecrets.core.rotation import rotation_record

    ws = workspace(ctx)
    ws.one_secret_command()
    out = ws.renderer(json_output)
    secret = SecretName.parse(name)
    ws.environment(secret.env)
    store = ws.store(secret.env)
    versions = store.versions(str(secret))
    made = rotation_record(store.describe(str(secret)).tags)
    if json_output:
        out.json(
            [
                {
                    "version_id": v.version_id,
                    "stages": list(v.stages),
                    "created": v.created,
                    "last_accessed": v.last_accessed,
                    "rotation": made.of(v.version_id),
                }
                for v in versions
            ]
        )
        return
    out.table(
        ["VERSION", "STAGES", "CREATED", "LAST ACCESSED", "MADE BY"],
        [
            [
                v.version_id,
                ", ".join(v.stages) or "(deprecated)",
                when(v.created),
                when(v.last_accessed),
                made.shown(v.version_id),
            ]
            for v in versions
        ],
    )


def delete_secret(
    ctx: typer.Context,
    name: NameArgument,
    recovery_days: Annotated[
        int,
        typer.Option(
            "--recovery-days", min=7, max=30, help="Days before deletion is final (7-30)."
        ),
    ] = 30,
    force_now: Annotated[
        bool,
        typer.Option("--force-now", help="Delete at once, without any recovery window."),
    ] = False,
    yes: YesOption = False,
    json_output: JsonOption = False,
) -> None:
    """Schedule a secret's deletion (undo with `secrets restore`), or delete it now."""
    from envsecrets.ui.prompts import confirm

    ws = workspace(ctx)
    ws.one_secret_command()
    out = ws.renderer(json_output)
    secret = SecretName.parse(name)
    ws.environment(secret.env)
    store = ws.store(secret.env)
    meta = store.describe(str(secret))  # not found -> exit 3 before any question
    replicas = sorted(r.region for r in meta.replicas)
    if force_now:
        confirm(
            f"delete {secret} now, with no way to restore it?",
            yes=yes,
            why="--force-now cannot be undone",
        )
    elif not replicas:
        ws.confirm_if_protected(
            secret.env, f"schedule {secret} for deletion in {recovery_days} days?", yes=yes
        )
    if replicas:
        _remove_replicas_first(ws, store, str(secret), replicas, yes=yes, asked=force_now)
        out.note(f"{secret}: replicas removed from {', '.join(replicas)}")
    try:
        deletion = store.delete(str(secret), recovery_days=recovery_days, force=force_now)
    except CliError as exc:
        try:
            if meta.scheduled_for_deletion:
                raise  # it was so before: AWS's refusal stands
            deletion = _deleted_all_the_same(
                store, str(secret), exc, recovery_days, force=force_now
            )
        except CliError as failure:
            if not replicas:
                raise
            raise _replicas_gone_all_the_same(failure, str(secret), replicas) from None
    if json_output:
        out.json(
            {
                "name": str(secret),
                "deletion_date": deletion,
                "recoverable": not force_now,
                "replicas_removed": replicas,
            }
        )
    elif force_now:
        out.success(f"{secret}: deleted")
    else:
        out.success(
            f"{secret}: scheduled for deletion on {when(deletion)}; "
            f"undo with `secrets restore {secret}`"
        )


def _deleted_all_the_same(
    store: SecretStore, name: str, failure: CliError, recovery_days: int, *, force: bool
) -> datetime | None:
    """A DeleteSecret applied but its reply lost is retried by botocore, and the retry is
    refused: "scheduled for deletion" (or, after --force-now, not found). The secret was not
    scheduled when this command described it, so if it is scheduled (or gone) now, the
    deletion asked for happened: its date (None when deleted at once). Else `failure`."""
    if failure.code not in (ExitCode.REFUSED, ExitCode.NOT_FOUND):
        raise failure
    try:
        now = store.describe(name)
    except CliError as exc:
        if force and exc.code == ExitCode.NOT_FOUND:
            return None
        raise failure from None
    if now.deleted_on is None:
        raise failure
    return None if force else now.deleted_on + timedelta(days=recovery_days)


def _replicas_gone_all_the_same(failure: CliError, name: str, regions: list[str]) -> CliError:
    """The deletion failed after the replicas were removed (AWS has no dry run to ask first):
    say that they are gone, and how to put each back."""
    again = "; ".join(f"`secrets replicate {name} --region {region}`" for region in regions)
    return CliError(
        failure.code,
        f"{failure.message}; its replicas in {', '.join(regions)} were removed before the "
        "deletion was refused, and are gone",
        f"{failure.hint + '; ' if failure.hint else ''}to put them back: {again}",
    )


def _remove_replicas_first(
    ws: Workspace, store: SecretStore, name: str, regions: list[str], *, yes: bool, asked: bool
) -> None:
    """AWS refuses to delete a primary secret that is replicated to other regions. Its
    replicas go first, at once and for good (a replica has no recovery window): that is
    confirmed even outside protected environments, unless --force-now was just confirmed."""
    from envsecrets.core.diffing import ReplicatingStore
    from envsecrets.ui.prompts import confirm

    where = ", ".join(regions)
    how = (
        f"remove them first: `secrets replicate {name} --region REGION --remove` for each of "
        f"{where}; or run `secrets delete {name} --yes` to remove them and delete"
    )
    if not isinstance(store, ReplicatingStore):  # only Secrets Manager has replicas
        raise CliError(ExitCode.REFUSED, f"{name} is replicated to {where}", how)
    if not asked:
        try:
            confirm(
                f"{name} is replicated to {where}; AWS deletes a replicated secret only once its "
                "replicas are gone. Remove the replicas now (at once, with no recovery window) "
                "and then schedule the deletion?",
                yes=yes,
                why=f"{name} is replicated to {where}; its replicas would be deleted first, "
                "at once",
                streams=ws.streams,
            )
        except CliError as exc:
            raise CliError(exc.code, exc.message, how) from None
    store.remove_replicas(name, regions)


def restore_secret(
    ctx: typer.Context, name: NameArgument, yes: YesOption = False, json_output: JsonOption = False
) -> None:
    """Cancel a scheduled deletion."""
    ws = workspace(ctx)
    ws.one_secret_command()
    out = ws.renderer(json_output)
    secret = SecretName.parse(name)
    ws.environment(secret.env)
    store = ws.store(secret.env)
    meta = store.describe(str(secret))  # not found -> exit 3 before any question
    if not meta.scheduled_for_deletion:
        # Nothing to undo: no question and no write (RestoreSecret would be a no-op).
        if json_output:
            out.json({"name": str(secret), "restored": False})
        else:
            out.success(f"{secret}: not scheduled for deletion; nothing to restore")
        return
    # A restore is a write like any other: it undoes someone's decision to delete, and the
    # secret's readers start to succeed again.
    ws.confirm_if_protected(secret.env, f"restore {secret} (cancel its deletion)?", yes=yes)
    store.restore(str(secret))
    if json_output:
        out.json({"name": str(secret), "restored": True})
    else:
        out.success(f"{secret}: restored")
