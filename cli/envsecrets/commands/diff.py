"""diff, copy, check, replicate: environments side by side, values never shown."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated

import typer

from envsecrets.commands.common import JsonOption, Workspace, YesOption, workspace
from envsecrets.completion import complete_env, complete_name
from envsecrets.errors import CliError, ExitCode
from envsecrets.ui.render import Renderer, when

if TYPE_CHECKING:
    from envsecrets.core.copying import CopyPlan
    from envsecrets.core.diffing import CheckResult, DiffResult, DiffRow, ReplicaDrift, Side
    from envsecrets.core.rotation_plans import PlanCheck

# A region name such as us-east-1, eu-central-2, us-gov-west-1, ap-southeast-5.
REGION_PATTERN = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


def register(app: typer.Typer) -> None:
    """Add this family's commands to the root app."""
    app.command("diff")(diff_environments)
    app.command("copy")(copy_secrets)
    app.command("check")(check_environment)
    app.command("replicate")(replicate_secret)


# -- diff -------------------------------------------------------------------------------------
def diff_environments(
    ctx: typer.Context,
    env_a: Annotated[
        str,
        typer.Argument(
            help="The first environment (A), e.g. staging.", autocompletion=complete_env
        ),
    ],
    env_b: Annotated[
        str,
        typer.Argument(help="The second environment (B), e.g. prod.", autocompletion=complete_env),
    ],
    prefix: Annotated[
        str | None,
        typer.Option("--prefix", help="Only paths under this prefix inside both, e.g. api/."),
    ] = None,
    metadata: Annotated[
        bool,
        typer.Option(
            "--metadata",
            help="Also compare KMS key, rotation and tags, and report replica drift from "
            "secrets.toml (one DescribeSecret per secret).",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Compare two environments: keys only in A, only in B, differing, same, and pending
    deletion. Values are compared by SHA-256, never shown. Exit 0 when equal, 1 when not."""
    from envsecrets.core.diffing import (
        DEFAULT_WORKERS,
        compare,
        describe_side,
        fingerprint_side,
        in_parallel,
        list_side,
    )
    from envsecrets.core.names import NamePrefix, validate_env

    ws = workspace(ctx)
    out = ws.renderer(json_output)
    validate_env(env_a)
    validate_env(env_b)
    if env_a == env_b:
        raise CliError(
            ExitCode.USAGE,
            f"both sides are '{env_a}'; compare two different environments",
            "for example: secrets diff staging prod",
        )
    settings_a, settings_b = ws.environment(env_a), ws.environment(env_b)
    path = NamePrefix.parse(f"{env_a}/{prefix.strip('/')}").path if prefix else ""
    store_a = ws.store(env_a, bulk=True, pool=DEFAULT_WORKERS)
    store_b = ws.store(env_b, bulk=True, pool=DEFAULT_WORKERS)
    side_a, side_b = in_parallel(
        lambda: list_side(store_a, env_a, path), lambda: list_side(store_b, env_b, path)
    )
    total = sum(not e.pending_deletion for s in (side_a, side_b) for e in s.entries.values())
    with out.progress(total, "comparing values") as advance:
        side_a, side_b = in_parallel(
            lambda: fingerprint_side(store_a, side_a, advance=advance),
            lambda: fingerprint_side(store_b, side_b, advance=advance),
        )
    if metadata:
        side_a, side_b = in_parallel(
            lambda: describe_side(store_a, side_a), lambda: describe_side(store_b, side_b)
        )
    result = compare(side_a, side_b, metadata=metadata, a_env=settings_a, b_env=settings_b)
    if json_output:
        out.json(result.as_dict())
    else:
        _show_diff(out, result)
    if not result.rows:
        scope = f" under {result.prefix}" if result.prefix else ""
        out.warn(
            f"no secrets{scope} in {result.a_env} or {result.b_env}: both are empty, which is "
            "also what a wrong region, account or prefix looks like (`secrets doctor` shows "
            "where the tool looks)"
        )
    if _recently_written(side_a, side_b):
        out.note(
            "some of these secrets changed in the last five minutes, and ListSecrets is "
            "eventually consistent: secrets written a moment ago (by `secrets copy`, say) may "
            "not be listed yet; run the diff again in a few minutes if one seems missing"
        )
    if not result.equal:
        raise typer.Exit(int(ExitCode.FAILED))


def _recently_written(*sides: Side) -> bool:
    from envsecrets.core.ages import listing_may_lag

    return any(listing_may_lag([e.meta for e in side.entries.values()]) for side in sides)


def _status_text(row: DiffRow, a: str, b: str) -> tuple[str, str, str]:
    """(sign, status, detail) of one row, for lines and the table."""
    if row.status == "only_in_a":
        return "-", f"only in {a}", ""
    if row.status == "only_in_b":
        return "+", f"only in {b}", ""
    if row.status == "same":
        return "=", "same", ""
    if row.status == "pending_deletion":
        sides = [
            f"{env} on {when(entry.meta.deleted_on)}"
            for env, entry in ((a, row.a), (b, row.b))
            if entry is not None and entry.pending_deletion
        ]
        return "!", "pending deletion", "deleted in " + ", ".join(sides)
    detail = ""
    kinds = (
        row.a.fingerprint.kind if row.a and row.a.fingerprint else None,
        row.b.fingerprint.kind if row.b and row.b.fingerprint else None,
    )
    if row.changed_fields:
        detail = "fields: " + ", ".join(row.changed_fields)
    elif row.changed_fields is not None:
        detail = "same JSON, different formatting"
    elif kinds[0] != kinds[1]:
        from envsecrets.core.diffing import NO_VALUE_KIND

        shown = ["no value" if kind == NO_VALUE_KIND else kind for kind in kinds]
        detail = f"{shown[0]} in {a}, {shown[1]} in {b}"
    return "~", "differs", detail


def _show_diff(out: Renderer, result: DiffResult) -> None:
    a, b = result.a_env, result.b_env
    scope = f" under {result.prefix}" if result.prefix else ""
    if not result.rows:
        return  # said by a warning, in every output format
    rows = [(row.key, *_status_text(row, a, b)) for row in result.rows]
    meta_lines: list[tuple[str, str, str]] = []
    for m in result.metadata or ():
        meta_lines.append((m.key, m.field, f"{a}: {_shown(m.a)} · {b}: {_shown(m.b)}"))
    for d in result.drift or ():
        meta_lines.append((d.key, "replicas", _drift_text(d)))
    if out.stdout_is_tty:
        out.table(
            ["KEY", "STATUS", "DETAIL"],
            [[key, status, detail] for key, _, status, detail in rows],
            title=f"{a} (A) vs {b} (B){scope}",
        )
        if meta_lines:
            out.table(["KEY", "SETTING", "DIFFERENCE"], [list(m) for m in meta_lines])
    else:
        lines = [
            f"{sign} {key}" + (f"  ({detail})" if detail else "") for key, sign, _, detail in rows
        ]
        lines += [f"* {key}: {what} ({detail})" for key, what, detail in meta_lines]
        out.lines(lines)
    counts = result.counts
    parts = [
        f"{counts['same']} same",
        f"{counts['differs']} differ",
        f"{counts['only_in_a']} only in {a}",
        f"{counts['only_in_b']} only in {b}",
        f"{counts['pending_deletion']} pending deletion",
    ]
    if result.metadata is not None:
        parts.append(f"{len(result.metadata)} setting difference(s)")
        parts.append(f"{len(result.drift or ())} replica drift(s)")
    verdict = "equal" if result.equal else "different"
    out.note(f"{a} vs {b}{scope}: {verdict}: " + " · ".join(parts))


def _shown(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items())) or "(none)"
    return str(value)


def _regions(regions: tuple[str, ...]) -> str:
    return ", ".join(regions) if regions else "no replicas"


def _drift_text(drift: ReplicaDrift) -> str:
    """Where the replicas are, where secrets.toml wants them, and each one not InSync with
    AWS's reason (a failed replica holds no copy of the secret)."""
    text = f"{drift.env} has {_regions(drift.actual)}; secrets.toml says {_regions(drift.expected)}"
    problems = drift.problems()
    return text + (f"; not in sync: {'; '.join(problems)}" if problems else "")


# -- copy -------------------------------------------------------------------------------------
def copy_secrets(
    ctx: typer.Context,
    src: Annotated[
        str,
        typer.Argument(
            help="A secret (staging/api/key) or a prefix (staging/api/, staging).",
            autocompletion=complete_name,
        ),
    ],
    dst: Annotated[
        str,
        typer.Argument(
            help="The target name, or prefix (prod/api/) when SRC is a prefix.",
            autocompletion=complete_name,
        ),
    ],
    missing_only: Annotated[
        bool,
        typer.Option("--missing-only", help="Copy only what DST lacks; leave the rest alone."),
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace DST secrets whose values differ."),
    ] = False,
    yes: YesOption = False,
    json_output: JsonOption = False,
) -> None:
    """Copy one secret, or every secret under a prefix, to another environment. Values are
    copied exactly; description and tags follow; DST's own KMS key and replicas apply."""
    from envsecrets.core.copying import CopyScope, apply_copy, plan_copy
    from envsecrets.core.diffing import DEFAULT_WORKERS

    ws = workspace(ctx)
    out = ws.renderer(json_output)
    source, target = CopyScope.parse_pair(src, dst)
    src_env, dst_env = ws.environment(source.env), ws.environment(target.env)
    src_store = ws.store(source.env, bulk=True, pool=DEFAULT_WORKERS)
    dst_store = (
        src_store
        if source.env == target.env
        else ws.store(target.env, bulk=True, pool=DEFAULT_WORKERS)
    )
    plan = plan_copy(
        src_store, dst_store, source, target, missing_only=missing_only, overwrite=overwrite
    )
    if not json_output:
        _show_plan(out, plan)
    if plan.conflicts:
        first = plan.conflicts[0]
        raise CliError(
            ExitCode.REFUSED,
            f"{len(plan.conflicts)} conflict(s), e.g. {first.target}: {first.reason}; "
            "nothing was written",
            "--overwrite replaces differing secrets, --missing-only leaves them alone"
            + ("; `secrets restore` cancels a deletion" if "deletion" in first.reason else ""),
        )
    if plan.writes:
        counts = plan.counts
        _confirm_copy(
            ws,
            source.env,
            target.env,
            f"copy into {target}: create {counts['create']}, overwrite {counts['overwrite']}?",
            yes=yes,
        )
    with out.progress(len(plan.writes), f"copying into {target}") as advance:
        outcome = apply_copy(dst_store, plan, src_env=src_env, dst_env=dst_env, advance=advance)
    failed = {item.target: error for item, error in outcome.failed}
    if json_output:
        out.json(
            {
                "source": str(source),
                "target": str(target),
                "counts": plan.counts,
                "secrets": [
                    {
                        **item.as_dict(),
                        "done": item.writes and item.target not in failed,
                        "error": failed[item.target].message if item.target in failed else None,
                    }
                    for item in plan.items
                ],
            }
        )
    if outcome.failed:
        item, error = outcome.failed[0]
        raise CliError(
            error.code,
            f"copied {len(outcome.written)} of {len(plan.writes)}; {len(outcome.failed)} "
            f"failed, e.g. {item.target}: {error.message}",
            "run the same command again: writes are idempotent and finished ones show as unchanged",
        )
    if not json_output:
        if plan.writes:
            out.success(f"copied {len(outcome.written)} secret(s) into {target}")
        else:
            out.success(f"nothing to copy into {target}")
    if outcome.written:
        out.note(
            "ListSecrets is eventually consistent: for a few minutes, `secrets list` and "
            "`secrets diff` may not show every secret just written"
        )


def _confirm_copy(ws: Workspace, src_env: str, dst_env: str, question: str, *, yes: bool) -> None:
    """A write into a protected environment confirms; so does reading a protected
    environment's values into another one, where its protection no longer covers them
    (`copy prod dev/x/`). Without a terminal, --yes; exit 4 otherwise."""
    reasons = []
    if ws.environment(dst_env).protected:
        reasons.append(f"'{dst_env}' is a protected environment")
    if src_env != dst_env and ws.environment(src_env).protected:
        reasons.append(f"the values come out of protected environment '{src_env}'")
    if reasons:
        from envsecrets.ui.prompts import confirm

        confirm(question, yes=yes, why="; ".join(reasons), streams=ws.streams)


def _show_plan(out: Renderer, plan: CopyPlan) -> None:
    """The plan goes to stderr: it is narration for the person about to confirm."""
    if not plan.items:
        out.warn(f"no secrets under {plan.src}")
        return
    for item in plan.items:
        reason = f" ({item.reason})" if item.reason else ""
        out.note(f"{item.action:<9} {item.source} -> {item.target}{reason}")
    counts = plan.counts
    out.note(
        "plan: "
        + ", ".join(f"{counts[a]} {a}" for a in ("create", "overwrite", "unchanged", "skip"))
        + f", {counts['conflict']} conflict"
    )


# -- check ------------------------------------------------------------------------------------
def check_environment(
    ctx: typer.Context,
    env: Annotated[
        str,
        typer.Argument(help="The environment to check, e.g. prod.", autocompletion=complete_env),
    ],
    function: Annotated[
        str | None,
        typer.Option("--function", help="Only the secrets this function declares."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Check that every secret the functions in secrets.toml declare exists in ENV (and is not
    being deleted, and is replicated as the environment says), and that each rotation plan's
    secret, target and commands are there. Exit 1 if not."""
    from envsecrets.commands.rotate_plan import check_rotation_plans
    from envsecrets.core.diffing import DEFAULT_WORKERS, CheckResult, check_functions
    from envsecrets.core.names import validate_env

    ws = workspace(ctx)
    out = ws.renderer(json_output)
    validate_env(env)
    if ws.config.path is None:
        raise CliError(
            ExitCode.USAGE,
            "no secrets.toml found (looked in this folder and every folder above it), so no "
            "function declares secrets to check",
            "run `secrets init`, or pass --config PATH to a secrets.toml with [functions.NAME] "
            'secrets = ["api/key", ...]',
        )
    settings = ws.environment(env)
    if function is not None:
        functions = [ws.config.function(function)]
    else:
        functions = [ws.config.functions[name] for name in sorted(ws.config.functions)]
    # The rotation plans are checked with the whole environment, not for one function.
    plans_checked = function is None and bool(ws.config.rotation)
    if not functions and not plans_checked:
        raise CliError(
            ExitCode.USAGE,
            "no functions are declared in secrets.toml, so there is nothing to check",
            'add [functions.NAME] with secrets = ["api/key", ...]',
        )
    store = ws.store(env, bulk=True, pool=DEFAULT_WORKERS)
    result = check_functions(store, settings, functions) if functions else CheckResult(env, (), ())
    plans = check_rotation_plans(ws, env, store) if plans_checked else []
    if json_output:
        document = result.as_dict()
        if plans_checked:
            document["rotation_plans"] = [check.as_dict(env) for check in plans]
            document["ok"] = document["ok"] and all(check.ok for check in plans)
        out.json(document)
    else:
        if functions:
            _show_check(out, result)
        if plans:
            _show_plans(out, env, plans)
    bad_plans = [check for check in plans if not check.ok]
    if not result.ok:
        bad = [item for item in result.items if item.status != "ok"]
        raise CliError(
            ExitCode.FAILED,
            f"{len(bad)} of {len(result.items)} secret(s) in {env} are not as secrets.toml "
            f"declares: {', '.join(item.key for item in bad[:5])}"
            + (", ..." if len(bad) > 5 else ""),
            f"`secrets set {env}/PATH` or `secrets copy OTHER/ {env}/ --missing-only` creates "
            "missing ones (`secrets set` gives a value to one that has none); `secrets "
            "restore` cancels a deletion; `secrets replicate NAME --region R` adds or retries "
            "a replica (`--force-overwrite-replica` when another secret of that name is in the "
            "way)",
        )
    if bad_plans:
        raise CliError(
            ExitCode.FAILED,
            f"{len(bad_plans)} of {len(plans)} rotation plan(s) cannot rotate in {env}: "
            + ", ".join(
                f"{check.plan.path} ({check.status.replace('_', ' ')})" for check in bad_plans[:5]
            )
            + (", ..." if len(bad_plans) > 5 else ""),
            "each row's DETAIL says what is missing; fix the target or command in secrets.toml "
            "[rotation], or create the secret",
        )


def _show_plans(out: Renderer, env: str, plans: list[PlanCheck]) -> None:
    out.table(
        ["ROTATION PLAN", "STATUS", "PLAN", "DETAIL"],
        [
            [check.name, check.status.replace("_", " "), check.plan.summary(env), check.detail]
            for check in plans
        ],
    )
    problems = sum(not check.ok for check in plans)
    out.note(f"{env}: {len(plans) - problems} rotation plan(s) ok · {problems} with a problem")


def _show_check(out: Renderer, result: CheckResult) -> None:
    if not result.items:
        out.note("the declared functions list no secrets")
        return
    rows = []
    for item in result.items:
        detail = ""
        if item.drift is not None:
            detail = _drift_text(item.drift)
        rows.append([item.name, item.status.replace("_", " "), ", ".join(item.functions), detail])
    out.table(["SECRET", "STATUS", "FUNCTIONS", "DETAIL"], rows)
    counts = result.counts
    out.note(
        f"{result.env}: {counts['ok']} ok · {counts['missing']} missing · "
        f"{counts['pending_deletion']} pending deletion · {counts['no_value']} without a value · "
        f"{counts['replica_drift']} replica drift"
    )


# -- replicate ----------------------------------------------------------------------------------
def replicate_secret(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(help="Secret name: <env>/<path>.", autocompletion=complete_name)
    ],
    region: Annotated[str, typer.Option("--region", help="The replica region, e.g. eu-west-1.")],
    remove: Annotated[
        bool, typer.Option("--remove", help="Remove the replica in that region instead.")
    ] = False,
    force_overwrite_replica: Annotated[
        bool,
        typer.Option(
            "--force-overwrite-replica",
            help="Replace a different secret of the same name in that region with the replica "
            "(its value there is lost).",
        ),
    ] = False,
    yes: YesOption = False,
    json_output: JsonOption = False,
) -> None:
    """Add (or with --remove, delete) a read-only replica of a secret in another region. A
    replica that failed is retried."""
    from envsecrets.core.diffing import ReplicatingStore
    from envsecrets.core.names import SecretName
    from envsecrets.core.replication import apply_replica, plan_replica

    ws = workspace(ctx)
    ws.one_secret_command()
    out = ws.renderer(json_output)
    secret = SecretName.parse(name)
    if not REGION_PATTERN.fullmatch(region):
        raise CliError(
            ExitCode.USAGE,
            f"'{region}' is not an AWS region name",
            "for example: eu-west-1, us-east-2, ap-southeast-1",
        )
    if remove and force_overwrite_replica:
        raise CliError(
            ExitCode.USAGE,
            "--force-overwrite-replica applies when adding a replica, not with --remove",
            f"keep one: `secrets replicate {secret} --region {region} --remove`",
        )
    settings = ws.environment(secret.env)
    store = ws.store(secret.env)
    if not isinstance(store, ReplicatingStore):
        raise CliError(
            ExitCode.USAGE,
            f"the store of '{secret.env}' cannot replicate secrets",
            "replica regions are an AWS Secrets Manager feature: replicate secrets of an "
            'environment whose backend is "aws" in secrets.toml',
        )
    meta = store.describe(str(secret))
    if meta.scheduled_for_deletion:
        raise CliError(
            ExitCode.REFUSED,
            f"{secret} is scheduled for deletion",
            f"`secrets restore {secret}` cancels the deletion",
        )
    primary = meta.primary_region or ws.target(secret.env).region_name
    if region == primary:
        raise CliError(
            ExitCode.USAGE,
            f"{region} is where {secret} lives (its primary region), not a replica",
            f"give --region another region; `secrets show {secret}` lists its replicas",
        )
    plan = plan_replica(meta, region, remove=remove)
    if plan.writes:
        verb = {
            "add": "replicate",
            "retry": "retry the failed replica of",
            "remove": "remove the replica of",
        }[plan.action]
        ws.confirm_if_protected(secret.env, f"{verb} {secret} in {region}?", yes=yes)
    outcome = apply_replica(
        store, plan, meta.replicas, primary=primary, force_overwrite=force_overwrite_replica
    )
    expected = tuple(settings.replica_regions)
    declared = ws.config.path is not None
    if json_output:
        out.json(outcome.as_dict(expected))
        return
    messages = {
        "add": f"replica added in {region}",
        "retry": f"failed replica in {region} created again",
        "remove": f"replica removed from {region}",
        "in_progress": f"unchanged (replication to {region} is in progress)",
        "unchanged": f"unchanged ({'has no replica' if remove else 'is already replicated'} "
        f"in {region})",
    }
    out.success(f"{secret}: {messages[plan.action]}")
    if outcome.status == "InProgress" and plan.writes:
        out.note(f"AWS is still creating it: `secrets show {secret}` shows when it is InSync")
    listed = {r.region for r in outcome.replicas}
    failed = [r for r in outcome.replicas if not r.healthy and r.status != "InProgress"]
    drifting = listed != set(expected) or bool(failed)
    if drifting and declared:
        out.warn(
            f"{secret.env}'s replica_regions in secrets.toml: {_regions(tuple(sorted(expected)))}"
            "; `secrets check` and `secrets diff --metadata` will report this secret as drifting"
        )
    elif drifting:
        out.warn(
            f"no secrets.toml declares replica_regions for {secret.env}: `secrets diff "
            "--metadata` will report this secret's replicas as drift"
        )
