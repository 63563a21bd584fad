"""`secrets migrate ssm | env-file | lambda`: move secrets out of the places that leak them.

(Over 500 lines on purpose, for now: the three commands' flags vs running a migration and
reporting it are its seams, but the rotation branch is editing `_migrate` (interrupted runs)
while this is written; split it there once that is merged.)

Each command opens a `Migration` through the public API (`envsecrets.api`: what a migration
script calls), then runs it: plan (shown first; `--dry-run` stops there), confirmation for
protected environments and for deleting sources, apply and verify, and optionally remove
what verified from the source.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from envsecrets.commands.common import JsonOption, Workspace, YesOption, workspace
from envsecrets.completion import complete_env, complete_prefix
from envsecrets.errors import CliError, ExitCode
from envsecrets.ui.render import Renderer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from envsecrets.api import Migration
    from envsecrets.backends.lambda_env import LambdaEnvSource
    from envsecrets.core.migration import MigrationPlan, MigrationResult, MigrationSource

PLAN_ROWS_SHOWN = 100  # larger plans list only the items that are not unchanged

ToOption = Annotated[
    str,
    typer.Option(
        "--to",
        help="Target prefix <env>/<path>, e.g. prod/api/.",
        show_default=False,
        autocompletion=complete_prefix,
    ),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Show the plan and stop; nothing is written.")
]
OverwriteOption = Annotated[
    bool,
    typer.Option("--overwrite", help="Put a new version where a target holds a different value."),
]
DeleteSourceOption = Annotated[
    bool,
    typer.Option(
        "--delete-source",
        help="After verification, delete the migrated items from the source (confirmed).",
    ),
]
ConcurrencyOption = Annotated[
    int, typer.Option("--concurrency", min=1, max=64, help="Writes in flight at once.")
]
ReportOption = Annotated[
    Path | None,
    typer.Option(
        "--report",
        help="Write the outcome per item as JSON to FILE (never values).",
        dir_okay=False,
        readable=False,
    ),
]
MaxRateOption = Annotated[
    float,
    typer.Option(
        "--max-rate",
        min=1,
        help="Secrets Manager writes per second (AWS's default quota is 50; raise this only "
        "if your account's CreateSecret/PutSecretValue quotas are higher).",
    ),
]
KeepCaseOption = Annotated[
    bool,
    typer.Option(
        "--keep-case", help="Keep variable names as they are (default: STRIPE_KEY -> stripe-key)."
    ),
]


@dataclass(frozen=True)
class Flags:
    dry_run: bool
    overwrite: bool
    concurrency: int
    report: Path | None
    yes: bool
    json_output: bool


def register(app: typer.Typer) -> None:
    """Add the `migrate` group to the root app."""
    group = typer.Typer(
        name="migrate",
        help="Move secrets out of Parameter Store, .env files and Lambda environment variables.",
        no_args_is_help=True,
    )
    group.command("ssm")(migrate_ssm)
    group.command("env-file")(migrate_env_file)
    group.command("lambda")(migrate_lambda)
    app.add_typer(group, name="migrate")


def migrate_ssm(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="Parameter path such as /app/prod (or one name).")],
    to: ToOption,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Include parameters in sub-paths.")
    ] = False,
    dry_run: DryRunOption = False,
    overwrite: OverwriteOption = False,
    delete_source: DeleteSourceOption = False,
    concurrency: ConcurrencyOption = 8,
    max_rate: MaxRateOption = 50.0,
    report: ReportOption = None,
    yes: YesOption = False,
    json_output: JsonOption = False,
) -> None:
    """Parameter Store -> Secrets Manager.

    PATH/<rest> becomes PREFIX/<rest>; descriptions are kept and each secret is tagged
    migrated-from=ssm:<name>."""
    from envsecrets.core.migration import target_prefix

    ws = workspace(ctx)
    flags = Flags(dry_run, overwrite, concurrency, report, yes, json_output)
    prefix = target_prefix(to)
    migration = ws.open(prefix.env).migrate_ssm(
        path,
        to=str(prefix),
        recursive=recursive,
        overwrite=overwrite,
        concurrency=concurrency,
        max_write_rate=max_rate,
    )
    _migrate(
        ws,
        ws.renderer(json_output),
        migration,
        flags,
        delete_source=delete_source,
        remove_question=f"delete the migrated parameters under {path} from Parameter Store?",
    )


def migrate_env_file(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The .env file.", dir_okay=False)],
    to: ToOption,
    keep_case: KeepCaseOption = False,
    dry_run: DryRunOption = False,
    overwrite: OverwriteOption = False,
    delete_source: DeleteSourceOption = False,
    concurrency: ConcurrencyOption = 8,
    max_rate: MaxRateOption = 50.0,
    report: ReportOption = None,
    yes: YesOption = False,
    json_output: JsonOption = False,
) -> None:
    """.env file -> Secrets Manager.

    STRIPE_SECRET_KEY becomes PREFIX/stripe-secret-key (parsed by python-dotenv, no
    interpolation). --delete-source removes the migrated lines from the file."""
    from envsecrets.core.migration import target_prefix

    ws = workspace(ctx)
    flags = Flags(dry_run, overwrite, concurrency, report, yes, json_output)
    prefix = target_prefix(to)
    migration = ws.open(prefix.env).migrate_env_file(
        file,
        to=str(prefix),
        keep_case=keep_case,
        overwrite=overwrite,
        concurrency=concurrency,
        max_write_rate=max_rate,
    )
    _migrate(
        ws,
        ws.renderer(json_output),
        migration,
        flags,
        delete_source=delete_source,
        remove_question=f"remove the migrated variables' lines from {migration.source.label}?",
    )


def migrate_lambda(
    ctx: typer.Context,
    function: Annotated[str, typer.Argument(help="The Lambda function's name or ARN.")],
    env: Annotated[
        str,
        typer.Option(
            "--env",
            help="Environment to store the secrets in.",
            show_default=False,
            autocompletion=complete_env,
        ),
    ],
    keys: Annotated[
        str | None,
        typer.Option("--keys", help="Exactly these variables (K1,K2), not the detected ones."),
    ] = None,
    keep_case: KeepCaseOption = False,
    remove_from_function: Annotated[
        bool,
        typer.Option(
            "--remove-from-function",
            help="After every secret verified, remove the variables from the function.",
        ),
    ] = False,
    dry_run: DryRunOption = False,
    overwrite: OverwriteOption = False,
    concurrency: ConcurrencyOption = 8,
    max_rate: MaxRateOption = 50.0,
    report: ReportOption = None,
    yes: YesOption = False,
    json_output: JsonOption = False,
) -> None:
    """Lambda environment variables -> Secrets Manager.

    The function's secret-looking variables (or exactly --keys) become ENV/FUNCTION/<key>,
    are recorded in secrets.toml, and the IAM policy and code change the function needs
    are printed."""
    from envsecrets.backends.lambda_env import function_name
    from envsecrets.core.names import validate_env

    ws = workspace(ctx)
    out = ws.renderer(json_output)
    flags = Flags(dry_run, overwrite, concurrency, report, yes, json_output)
    validate_env(env)
    wanted = [k.strip() for k in keys.split(",") if k.strip()] if keys is not None else None
    if wanted is not None and not wanted:
        raise CliError(ExitCode.USAGE, "--keys is empty", "list variables: --keys K1,K2")
    migration = ws.open(env).migrate_lambda(
        function,
        keys=wanted,
        keep_case=keep_case,
        overwrite=overwrite,
        concurrency=concurrency,
        max_write_rate=max_rate,
    )
    source = migration.source
    if source.kept and not json_output:
        out.note(
            f"kept in the function ({len(source.kept)}, not secret-looking"
            f"{' or not in --keys' if wanted is not None else ''}): {', '.join(source.kept)}"
        )
    if not source.selected:
        out.note(f"{function_name(function)}: no secret-looking variables; nothing to migrate")
    plan, result = _migrate(
        ws,
        out,
        migration,
        flags,
        delete_source=remove_from_function,
        remove_question=f"remove the migrated variables from function {source.info.name}?",
        finish=False,
    )
    extra: dict[str, Any] = {}
    if result is not None:
        extra = _after_lambda(ws, out, source, migration.environment.settings.kms_key_id, result)
        if remove_from_function:
            extra.update(_published_copies(out, source, result))
    try:
        _finish(out, plan, result, flags, extra)
    except CliError:
        # The function refused the removal (412, 409): that is why the variables are still
        # there, so it is the error (exit 4), rather than "still in the source".
        if source.refusal is not None:
            raise source.refusal from None
        raise
    if source.refusal is not None:
        raise source.refusal


# -- the shared flow --------------------------------------------------------------------------
def _migrate(
    ws: Workspace,
    out: Renderer,
    migration: Migration[Any],
    flags: Flags,
    *,
    delete_source: bool,
    remove_question: str,
    finish: bool = True,
) -> tuple[MigrationPlan, MigrationResult | None]:
    """Run a migration the way the command line does: show, ask, apply, verify, remove."""
    env = migration.environment
    if flags.report is not None:
        _check_report_path(ws, flags.report, migration.source)
    if not flags.json_output:
        source = migration.source
        out.note(
            f"reading {source.kind} {source.label} and what exists under {migration.prefix} ..."
        )
    # A plan that someone must see before anything is written (a dry run, or a question about
    # a protected environment or about deleting sources) is made first; otherwise each item is
    # written as soon as it is planned, while the source is still being listed.
    asks = env.protected or delete_source
    if flags.dry_run or (asks and not flags.yes):
        plan = migration.plan()
        if not flags.json_output:
            _show_plan(out, plan, dry_run=flags.dry_run)
        if flags.dry_run:
            if finish:
                _finish(out, plan, None, flags, {})
            return plan, None
        _confirm(ws, migration, plan, remove_question if delete_source else None, flags.yes)
        with (
            _told_if_interrupted(out, flags),
            out.progress(len(plan.writes), "migrating") as advance,
        ):
            result = migration.apply(yes=True, progress=advance)  # confirmed just above
    else:
        from envsecrets.core.migration import IncompleteMigration

        # How many items will be written is known only once the source has been listed.
        try:
            with _told_if_interrupted(out, flags), out.progress(None, "migrating") as advance:
                result = migration.apply(yes=flags.yes, progress=advance)
        except IncompleteMigration as stopped:
            # What was written before the failure is recorded (--report, --json) first.
            # (In text, the error says how many were written: a summary line before it would
            # read as a finished run.)
            _record(out, stopped.result.plan, stopped.result, flags, {}, show=False)
            raise
        plan = result.plan
        if not flags.json_output:  # the plan afterwards, as a record of what was done
            _show_plan(out, plan, dry_run=False)
    if delete_source:
        result = migration.remove_sources()
    if finish:
        _finish(out, plan, result, flags, {})
    return plan, result


@contextmanager
def _told_if_interrupted(out: Renderer, flags: Flags) -> Iterator[None]:
    """Ctrl-C, SIGTERM or SIGHUP while writing: say what was written before the stop (counts,
    the report file and `--json` with each item done), that the source is untouched, and that
    the same command finishes the job (exit 130)."""
    from envsecrets.core.files import shown_path
    from envsecrets.core.migration import MigrationInterrupted

    try:
        yield
    except MigrationInterrupted as stop:
        counts = stop.counts()
        document: dict[str, Any] = {
            "dry_run": False,
            "interrupted": stop.cause,
            "result": {"counts": counts, "items": [o.as_dict() for o in stop.done]},
        }
        if flags.report is not None:
            from envsecrets.core.files import write_text_atomically
            from envsecrets.ui.render import to_json

            write_text_atomically(flags.report, to_json(document) + "\n", follow_links=False)
        if flags.json_output:
            out.json(document)
        done = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing"
        report = f"; {shown_path(flags.report)} lists them" if flags.report is not None else ""
        raise CliError(
            ExitCode.INTERRUPTED,
            f"interrupted ({stop.cause}) after {len(stop.done)} items: {done}{report}; "
            "writes under way at the stop may have landed too; nothing was removed from the "
            "source",
            "run the same command again to finish: what was written is found unchanged and "
            "not written twice",
        ) from None


def _check_report_path(ws: Workspace, report: Path, source: MigrationSource) -> None:
    """Refuse, before anything is written, a report that would replace one of the
    command's inputs (the source file, secrets.toml): the report is written even by a dry
    run, and the input may be the only copy of the secrets. Compared by resolved path and by
    inode, so neither a symlink nor a hard link gets around it."""
    from envsecrets.core.config import CONFIG_FILENAME
    from envsecrets.core.files import check_output_path, same_file, shown_path

    shown = shown_path(report)
    check_output_path(report)  # a folder, a socket, another user's FIFO: refused up front
    if not (report.parent or Path()).is_dir():
        raise CliError(
            ExitCode.USAGE,
            f"--report {shown}: folder {shown_path(report.parent)} does not exist",
            "create the folder first, or give --report a path in an existing folder",
        )
    inputs = [*source.files, ws.config.path or Path.cwd() / CONFIG_FILENAME]
    for path in inputs:
        if same_file(report, path):
            raise CliError(
                ExitCode.USAGE,
                f"--report {shown} is {shown_path(path)}, an input of this command; "
                "the report would replace it",
                "give --report a new file name, e.g. --report migration-report.json",
            )


def _confirm(
    ws: Workspace,
    migration: Migration[Any],
    plan: MigrationPlan,
    remove_question: str | None,
    yes: bool,
) -> None:
    """Ask what must be asked, after the plan was shown and before anything is written."""
    if plan.writes:
        ws.confirm_if_protected(
            migration.environment.name,
            f"write {len(plan.writes)} secrets under {migration.prefix}?",
            yes=yes,
        )
    if remove_question is not None:
        from envsecrets.ui.prompts import confirm

        confirm(
            remove_question,
            yes=yes,
            why="removing migrated items from the source",
            streams=ws.streams,
        )


def _show_plan(out: Renderer, plan: MigrationPlan, *, dry_run: bool) -> None:
    items = list(plan.items)
    shown = items
    if len(items) > PLAN_ROWS_SHOWN and not dry_run:
        shown = [i for i in items if i.action != "unchanged"]
    if shown:
        out.table(
            ["ACTION", "SOURCE", "TARGET", "NOTE"],
            [[i.action, i.source.key, i.target or "-", i.reason or ""] for i in shown],
        )
    counts = plan.counts()
    summary = ", ".join(f"{n} {action}" for action, n in counts.items() if n)
    out.note(
        f"plan for {plan.source_kind} {plan.source_label} -> {plan.prefix}: "
        f"{summary or 'nothing to migrate'}" + (" (dry run: nothing written)" if dry_run else "")
    )


def _finish(
    out: Renderer,
    plan: MigrationPlan,
    result: MigrationResult | None,
    flags: Flags,
    extra: dict[str, Any],
) -> None:
    """Print the outcome, write the report, and exit with the code the outcome deserves."""
    _record(out, plan, result, flags, extra)
    if result is None:
        _dry_run_verdict(plan)
        return
    code = result.exit_code
    if code != ExitCode.OK:
        counts = result.counts()
        problems = ", ".join(
            f"{counts[k]} {k}" for k in ("failed", "unverified", "conflict", "invalid") if counts[k]
        )
        if result.kept_in_source:
            raise _kept_in_source(result, problems)
        hints = {
            ExitCode.REFUSED: "--overwrite replaces differing targets; the rest were migrated",
            ExitCode.USAGE: "invalid items were not migrated; rename them at the source",
        }
        raise CliError(
            code,
            f"migration incomplete: {problems}",
            hints.get(code, "run the same command again to finish; what is done stays done"),
        )


def _record(
    out: Renderer,
    plan: MigrationPlan,
    result: MigrationResult | None,
    flags: Flags,
    extra: dict[str, Any],
    *,
    show: bool = True,
) -> None:
    """Print the outcome (the JSON document, or with `show` the result's warnings and
    summary), then write the report."""
    document: dict[str, Any] = {"dry_run": flags.dry_run, "plan": plan.as_dict()}
    if result is not None:
        document["result"] = result.as_dict()
    document.update(extra)
    if flags.json_output:
        out.json(document)
    elif result is not None and show:
        _show_result(out, result, extra)
    if flags.report is not None:
        # After the outcome is shown: a report that cannot be written (a FIFO nobody reads)
        # must not hide what the migration did.
        from envsecrets.core.files import write_text_atomically
        from envsecrets.ui.render import to_json

        write_text_atomically(flags.report, to_json(document) + "\n", follow_links=False)


def _dry_run_verdict(plan: MigrationPlan) -> None:
    """A dry run ends with the code the real run would give for what the plan shows
    (conflicts 4, invalid items 2), so that a script can ask first."""
    code = plan.exit_code
    if code == ExitCode.OK:
        return
    counts = plan.counts()
    problems = ", ".join(f"{counts[k]} {k}" for k in ("conflict", "invalid") if counts[k])
    hint = (
        "--overwrite replaces differing targets"
        if code == ExitCode.REFUSED
        else "invalid items would not be migrated; rename them at the source"
    )
    raise CliError(code, f"dry run: the migration would not be complete: {problems}", hint)


def _kept_in_source(result: MigrationResult, problems: str) -> CliError:
    """Items to be removed from the source that are still there: their plaintext is."""
    kept = [o.item.source.key for o in result.kept_in_source]
    shown = ", ".join(kept[:10]) + (f" and {len(kept) - 10} more" if len(kept) > 10 else "")
    reasons = " ".join(o.error or "" for o in result.kept_in_source)
    # The hint answers the reasons found: --overwrite helps a changed value, not a hard link.
    hints = ["the reason for each is above"]
    if "since it was migrated" in reasons:
        hints.append(
            "a value changed since it was migrated needs the same command again with "
            "--overwrite, and --delete-source then removes it"
        )
    if "hard links" in reasons:
        hints.append(
            "a file with other hard links is never edited (the other names would keep the "
            "values): remove the other links, then run the same command again"
        )
    return CliError(
        result.exit_code,
        f"migration incomplete: {problems + ', ' if problems else ''}{len(kept)} still in "
        f"the source {result.plan.source_label} ({shown})",
        "; ".join(hints),
    )


def _show_result(out: Renderer, result: MigrationResult, extra: dict[str, Any]) -> None:
    for outcome in result.outcomes:
        if outcome.status in ("failed", "conflict", "invalid") or outcome.verified is False:
            out.warn(f"{outcome.item.source.key}: {outcome.status}: {outcome.error or '-'}")
        elif outcome.error:  # settled, but the source could not be removed
            out.warn(f"{outcome.item.source.key}: {outcome.error}")
    for note in result.notes:
        out.warn(note)
    counts = result.counts()
    line = (
        f"{counts['created']} created, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged, {counts['verified']} verified"
    )
    if counts["source_removed"]:
        line += f", {counts['source_removed']} removed from the source"
    out.success(line)
    if "policy" in extra:
        from envsecrets.ui.render import to_json

        out.lines(["", "# IAM policy the function's role now needs:", to_json(extra["policy"])])
    if "code" in extra:
        out.lines(
            [
                "",
                "# Code change: read the secrets at runtime, through a cache with a TTL "
                f"({extra['code_for']['reader']}; {extra['code_for']['setup']}):",
                extra["code"],
            ]
        )
    if extra.get("config"):
        out.note(f"recorded {len(extra['secrets'])} secrets in {extra['config']}")


# -- lambda: config, policy and code ----------------------------------------------------------
def _after_lambda(
    ws: Workspace,
    out: Renderer,
    source: LambdaEnvSource,
    kms_key_id: str | None,
    result: MigrationResult,
) -> dict[str, Any]:
    from envsecrets.core.config import CONFIG_FILENAME
    from envsecrets.core.config_edit import record_function_secrets
    from envsecrets.core.migration import settled_targets

    names = settled_targets(result)
    if not names:
        return {}
    function = source.info.name
    paths = [name.split("/", 1)[1] for name in names]
    config_path = ws.config.path or Path.cwd() / CONFIG_FILENAME
    record_function_secrets(config_path, function, paths)
    from envsecrets.core.config import load_config

    recorded = load_config(config_path).functions[function].secrets
    keys = {o.item.target: o.item.source.key for o in result.outcomes if o.settled}
    extra: dict[str, Any] = {"config": str(config_path), "secrets": names}
    try:
        env = result.plan.prefix.split("/", 1)[0]
        extra["policy"] = _policy(
            source.info.region, source.info.account, env, recorded, kms_key_id
        )
    except CliError as exc:  # the migration is done; a policy we cannot build is a note
        out.warn(f"no IAM policy printed: {exc.message} (see `secrets policy {function}`)")
    from envsecrets.core.runtime_snippets import snippet_for

    snippet = snippet_for(source.info.runtime, keys)
    extra["code"] = snippet.code
    extra["code_for"] = snippet.as_dict()
    return extra


def _published_copies(out: Renderer, source: Any, result: MigrationResult) -> dict[str, Any]:
    """Published versions are immutable: the variables just removed from $LATEST stay in
    every version published with them, and aliases serve those. Say which, and the way out."""
    copies = source.published_copies([o.item.source.key for o in result.outcomes if o.settled])
    if copies and not out.json_mode:
        name = source.info.name
        for copy in copies:
            served = f", served by alias {', '.join(copy.aliases)}" if copy.aliases else ""
            out.warn(
                f"published version {copy.version} of {name}{served} still holds "
                f"{', '.join(copy.keys)}"
            )
        out.note(
            "published versions cannot be changed: publish a new version "
            f"(`aws lambda publish-version --function-name {name}`), point each alias at it "
            f"(`aws lambda update-alias --function-name {name} --name ALIAS --function-version "
            f"NEW`), then delete the old versions (`aws lambda delete-function --function-name "
            f"{name} --qualifier VERSION`)"
        )
    return {"published_versions": [copy.as_dict() for copy in copies]}


def _policy(
    region: str, account: str, env: str, paths: tuple[str, ...], kms_key_id: str | None
) -> dict[str, Any]:
    from envsecrets.core.policy import build_policy

    return build_policy(region=region, account=account, env=env, paths=paths, kms_key_id=kms_key_id)
