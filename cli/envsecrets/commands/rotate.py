"""`secrets rotate`: two-phase rotation by hand, its recovery forms, and bulk rotation.

One verb with forms chosen by flags (the DESIGN contract): NAME with a new value; NAME with
--rollback, --resume, --cancel or --managed; --env ENV --older-than DAYS --generate (bulk); or
--env ENV --resume/--cancel (every rotation left pending under the scope).
The steps live in `envsecrets.core.rotation*`; this module reads inputs, shows the plan, confirms,
narrates the phases and renders the outcome.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from envsecrets.commands.common import JsonOption, Workspace, YesOption, renderer, workspace
from envsecrets.completion import complete_env, complete_name
from envsecrets.core.names import SecretName, validate_env
from envsecrets.errors import CliError, ExitCode
from envsecrets.ui.render import Renderer, when

if TYPE_CHECKING:
    from envsecrets.core.passwords import PasswordRules
    from envsecrets.core.rotation import RotationOutcome, RotationStore, Verifier
    from envsecrets.core.rotation_bulk import (
        BulkFailure,
        BulkItem,
        PendingItem,
    )
    from envsecrets.core.rotation_recovery import PendingState
    from envsecrets.core.values import SecretValue

DEFAULT_VERIFY_TIMEOUT = 60.0


def register(app: typer.Typer) -> None:
    """Add this family's commands to the root app."""
    app.command("rotate")(rotate_command)


def rotate_command(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(
            help="Secret to rotate: <env>/<path>. Omit it with --env (bulk).",
            autocompletion=complete_name,
        ),
    ] = None,
    generate: Annotated[
        bool, typer.Option("--generate", help="New value from Secrets Manager's GetRandomPassword.")
    ] = False,
    length: Annotated[
        int | None,
        typer.Option("--length", help="Generated password length (default 32).", min=1),
    ] = None,
    exclude_punctuation: Annotated[
        bool, typer.Option("--exclude-punctuation", help="Generate without punctuation.")
    ] = False,
    exclude_characters: Annotated[
        str | None,
        typer.Option("--exclude-characters", help="Characters the generated password avoids."),
    ] = None,
    stdin: Annotated[
        bool,
        typer.Option("--stdin", help="Read the new value from stdin (one newline stripped)."),
    ] = False,
    from_file: Annotated[
        Path | None,
        typer.Option("--from-file", help="Read the new value from a file, bytes kept exactly."),
    ] = None,
    field_key: Annotated[
        str | None,
        typer.Option("--field", help="Rotate one key of a JSON secret; other keys are kept."),
    ] = None,
    verify_cmd: Annotated[
        str | None,
        typer.Option(
            "--verify-cmd",
            help="Command that checks the new value before promotion; it gets the value on "
            "stdin only (never argv or environment). Non-zero exit stops the rotation.",
        ),
    ] = None,
    verify_timeout_option: Annotated[
        float | None,
        typer.Option(
            "--verify-timeout",
            min=0.1,
            help="Seconds before --verify-cmd is stopped, as a failure (default 60).",
        ),
    ] = None,
    rollback: Annotated[
        bool, typer.Option("--rollback", help="Move AWSCURRENT back to the AWSPREVIOUS version.")
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Finish a rotation whose promotion did not happen (with --env: every one "
            "left pending under the scope).",
        ),
    ] = False,
    cancel: Annotated[
        bool,
        typer.Option(
            "--cancel",
            help="Drop a dangling AWSPENDING version (with --env: every one under the scope).",
        ),
    ] = False,
    managed: Annotated[
        bool,
        typer.Option("--managed", help="Start the rotation Lambda configured on the secret."),
    ] = False,
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            help="Bulk: rotate (or --resume/--cancel) secrets of this environment.",
            autocompletion=complete_env,
        ),
    ] = None,
    older_than: Annotated[
        int | None,
        typer.Option(
            "--older-than", min=0, help="Bulk: only secrets unchanged for DAYS days (0: all)."
        ),
    ] = None,
    prefix: Annotated[
        str | None,
        typer.Option("--prefix", help="Bulk: only names under this path (api/ or prod/api/)."),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option("--concurrency", min=1, max=32, help="Bulk: rotations in flight at once."),
    ] = 8,
    yes: YesOption = False,
    json_output: JsonOption = False,
) -> None:
    """Rotate a secret in two phases: the new value is staged AWSPENDING (invisible to
    readers), optionally verified, then promoted to AWSCURRENT (the old one keeps AWSPREVIOUS).

    \b
    secrets rotate prod/db/password --generate --verify-cmd './check-login.sh'
    secrets rotate prod/db/creds --field password --generate
    secrets rotate prod/db/password --rollback | --resume | --cancel | --managed
    secrets rotate --env prod --older-than 90 --prefix api/ --generate
    secrets rotate --env prod --resume | --cancel    (after a bulk run was cut short)
    """
    from envsecrets.core.passwords import DEFAULT_LENGTH, PasswordRules

    ws = workspace(ctx)
    out = renderer(json_output)
    modes = [
        flag
        for flag, on in (
            ("--rollback", rollback),
            ("--resume", resume),
            ("--cancel", cancel),
            ("--managed", managed),
        )
        if on
    ]
    sources = [
        flag
        for flag, on in (
            ("--generate", generate),
            ("--stdin", stdin),
            ("--from-file", from_file is not None),
        )
        if on
    ]
    generate_options = [
        flag
        for flag, on in (
            ("--length", length is not None),
            ("--exclude-punctuation", exclude_punctuation),
            ("--exclude-characters", exclude_characters is not None),
        )
        if on
    ]
    _check_flags(
        name=name,
        env=env,
        modes=modes,
        sources=sources,
        generate_options=generate_options if not generate else [],
        field_key=field_key,
        verify_cmd=verify_cmd,
        older_than=older_than,
        prefix=prefix,
    )
    rules = PasswordRules(
        length=length if length is not None else DEFAULT_LENGTH,
        exclude_punctuation=exclude_punctuation,
        exclude_characters=exclude_characters or "",
    )
    if generate:
        rules.check()  # impossible constraints: exit 2 before any AWS call
    if verify_timeout_option is not None and verify_cmd is None:
        raise CliError(
            ExitCode.USAGE,
            "--verify-timeout only applies with --verify-cmd",
            "add --verify-cmd CMD, or drop --verify-timeout",
        )
    verify_timeout = (
        DEFAULT_VERIFY_TIMEOUT if verify_timeout_option is None else verify_timeout_option
    )
    verify = _verifier(verify_cmd, verify_timeout, out) if verify_cmd else None

    if env is not None and modes:
        _recover_bulk(
            ws,
            out,
            env=env,
            prefix=prefix,
            action="resume" if resume else "cancel",
            verify=verify,
            concurrency=concurrency,
            yes=yes,
        )
        return
    if env is not None:
        _rotate_bulk(
            ws,
            out,
            env=env,
            older_than=older_than or 0,
            prefix=prefix,
            rules=rules,
            field_key=field_key,
            verify=verify,
            concurrency=concurrency,
            yes=yes,
        )
        return
    assert name is not None  # _check_flags guarantees it
    secret = SecretName.parse(name)
    ws.environment(secret.env)
    if rollback:
        _rollback(ws, out, secret, yes=yes)
    elif resume:
        _resume(ws, out, secret, verify=verify, yes=yes)
    elif cancel:
        _cancel(ws, out, secret, yes=yes)
    elif managed:
        _managed(ws, out, secret, yes=yes)
    else:
        _rotate_one(
            ws,
            out,
            secret,
            rules=rules if generate else None,
            stdin=stdin,
            from_file=from_file,
            field_key=field_key,
            verify=verify,
            verify_cmd=verify_cmd,
            verify_timeout=verify_timeout,
            yes=yes,
        )


def _check_flags(
    *,
    name: str | None,
    env: str | None,
    modes: list[str],
    sources: list[str],
    generate_options: list[str],
    field_key: str | None,
    verify_cmd: str | None,
    older_than: int | None,
    prefix: str | None,
) -> None:
    """Refuse combinations that make no sense, before anything is read or changed."""

    def usage(message: str, hint: str = "see `secrets rotate --help`") -> CliError:
        return CliError(ExitCode.USAGE, message, hint)

    if len(modes) > 1:
        raise usage(f"{' and '.join(modes)} cannot be used together")
    if len(sources) > 1:
        raise usage(f"{' and '.join(sources)} cannot be used together: pick one source")
    if generate_options:
        raise usage(f"{', '.join(generate_options)} only apply with --generate")
    if verify_cmd is not None and not verify_cmd.strip():
        raise usage("--verify-cmd is empty")
    if env is not None:
        validate_env(env)
        if name is not None:
            raise usage("give either NAME or --env (bulk rotation), not both")
        if modes:
            if modes[0] not in ("--resume", "--cancel"):
                raise usage(f"{modes[0]} works on one secret: give NAME instead of --env")
            _check_recovery_flags(
                modes[0], sources=sources, field_key=field_key, verify_cmd=verify_cmd
            )
            if older_than is not None:
                raise usage(
                    f"--older-than does not apply to --env ... {modes[0]}: every rotation left "
                    "pending under the scope is taken, whatever its age"
                )
            return
        if sources != ["--generate"]:
            raise usage(
                "bulk rotation needs --generate",
                "each secret gets its own value from GetRandomPassword",
            )
        if older_than is None:
            raise usage("bulk rotation needs --older-than DAYS (0 rotates every secret)")
        return
    if older_than is not None or prefix is not None:
        raise usage("--older-than and --prefix apply to bulk rotation (with --env ENV)")
    if name is None:
        raise usage("give the secret to rotate (NAME), or --env ENV for bulk rotation")
    if modes:
        _check_recovery_flags(modes[0], sources=sources, field_key=field_key, verify_cmd=verify_cmd)


def _check_recovery_flags(
    mode: str, *, sources: list[str], field_key: str | None, verify_cmd: str | None
) -> None:
    """--rollback/--resume/--cancel/--managed take no new value; only --resume verifies."""
    if sources or field_key is not None:
        raise CliError(
            ExitCode.USAGE,
            f"{mode} takes no new value: drop {', '.join(sources) or '--field'}",
            "see `secrets rotate --help`",
        )
    if verify_cmd is not None and mode != "--resume":
        raise CliError(
            ExitCode.USAGE,
            f"--verify-cmd does not apply to {mode}",
            "see `secrets rotate --help`",
        )


def _verifier(command: str, timeout: float, out: Renderer) -> Verifier:
    """Run `command` with the candidate value on stdin; raise CliError when it fails."""

    def verify(value: SecretValue) -> None:
        from envsecrets.backends.verify import run_verify

        outcome = run_verify(command, value.data(), timeout=timeout)
        if outcome.passed:
            return
        if not out.json_mode:  # with --json, stderr carries only the error object
            for line in outcome.output_tail:
                out.note(f"  verify | {line}")
        if outcome.timed_out:
            raise CliError(
                ExitCode.FAILED,
                f"verification timed out after {timeout:g} s (the command was stopped); "
                "nothing was promoted",
                "raise --verify-timeout if the check needs longer, or find out why it hangs",
            )
        raise CliError(
            ExitCode.FAILED,
            f"verification failed: the command exited with {outcome.exit_code}; "
            "nothing was promoted",
            "the `verify |` lines show the command's output: fix what it reports, or the command",
        )

    return verify


def _rotation_store(ws: Workspace, env: str, *, bulk: bool = False, pool: int = 10) -> Any:
    """The environment's store; typed loosely because rotation also needs GetRandomPassword
    and RotateSecret, which `SecretsManagerStore` has beyond the `SecretStore` protocol.

    A bulk store is paced: every attempt waits its turn under AWS's quotas
    (backends/quotas.py), and bulk retries absorb what throttling remains."""
    if bulk:
        from envsecrets.backends.quotas import RateLimiter

        ws.target(env).limiter = RateLimiter()
    return ws.store(env, bulk=bulk, pool=pool)


def _actor(ws: Workspace, env: str) -> str:
    from envsecrets.backends.identity import caller_arn

    return caller_arn(ws.target(env))


def _narrator(out: Renderer) -> Any:
    if out.json_mode:
        return lambda message: None
    return out.note


def _protected_note(ws: Workspace, env: str) -> str:
    return " (protected environment)" if ws.environment(env).protected else ""


def _rotate_one(
    ws: Workspace,
    out: Renderer,
    secret: SecretName,
    *,
    rules: PasswordRules | None,
    stdin: bool,
    from_file: Path | None,
    field_key: str | None,
    verify: Verifier | None,
    verify_cmd: str | None,
    verify_timeout: float,
    yes: bool,
) -> None:
    from envsecrets.commands.inputs import read_new_value
    from envsecrets.core.passwords import generate_value
    from envsecrets.core.rotation import compose_value, plan_rotation, rotate_secret

    name = str(secret)
    store: RotationStore = _rotation_store(ws, secret.env)
    # A generated whole value cannot equal the current one: no need to read it.
    plan = plan_rotation(store, name, field_key=field_key, read_value=rules is None)
    if rules is not None:
        new = generate_value(store, rules)
        source = f"generated by AWS GetRandomPassword ({rules.length} characters)"
    else:
        new = read_new_value(stdin=stdin, from_file=from_file, label=f"new value of {name}")
        source = "from --stdin" if stdin else f"from {from_file}" if from_file else "typed"
    value = compose_value(plan, new)
    if field_key is not None:
        source = f"key '{field_key}' of the JSON object {source}; other keys kept"
    narrate = _narrator(out)
    steps = [
        f"plan for {name}{_protected_note(ws, secret.env)}:",
        f"  current version  {plan.current_version} (readers keep it until step 3)",
        f"  new value        {source}",
        "  1. stage the new value as AWSPENDING (invisible to readers)",
        (
            f"  2. verify: `{verify_cmd}` with the value on stdin (timeout {verify_timeout:g} s)"
            if verify_cmd
            else "  2. no verification (--verify-cmd not given)"
        ),
        f"  3. promote to AWSCURRENT; {plan.current_version} keeps AWSPREVIOUS",
    ]
    for line in steps:
        narrate(line)
    ws.confirm_if_protected(secret.env, f"rotate {name}?", yes=yes)
    actor = _actor(ws, secret.env)
    outcome = rotate_secret(store, plan, value, actor=actor, verify=verify, narrate=narrate)
    _render_outcome(out, outcome)


def _render_outcome(out: Renderer, outcome: RotationOutcome) -> None:
    if out.json_mode:
        out.json(outcome.as_dict())
        return
    if outcome.record_error:
        out.warn(f"the rotation record was not written: {outcome.record_error}")
    previous = f"; {outcome.previous_version} is AWSPREVIOUS" if outcome.previous_version else ""
    out.success(
        f"{outcome.name}: {outcome.action}; version {outcome.version_id} is AWSCURRENT{previous}"
    )


def _rollback(ws: Workspace, out: Renderer, secret: SecretName, *, yes: bool) -> None:
    from envsecrets.core.rotation_recovery import plan_rollback, rollback

    name = str(secret)
    store = ws.store(secret.env)
    plan = plan_rollback(store, name)
    _narrator(out)(
        f"plan for {name}{_protected_note(ws, secret.env)}: AWSCURRENT {plan.current} -> "
        f"{plan.previous}; {plan.current} becomes AWSPREVIOUS"
    )
    ws.confirm_if_protected(secret.env, f"roll {name} back to version {plan.previous}?", yes=yes)
    rolled_back = rollback(store, plan)
    if out.json_mode:
        out.json(rolled_back.as_dict())
    else:
        out.success(
            f"{name}: rolled back; version {plan.previous} is AWSCURRENT again "
            f"({plan.current} is AWSPREVIOUS)"
        )


def _resume(
    ws: Workspace, out: Renderer, secret: SecretName, *, verify: Verifier | None, yes: bool
) -> None:
    from envsecrets.core.rotation_recovery import find_pending, overtaken_error, resume_rotation

    name = str(secret)
    store = ws.store(secret.env)
    state = find_pending(store, name)
    # A promoted version still labelled AWSPENDING is a finished rotation: nothing is written
    # (not even the label's removal, which no reader would notice), so there is nothing to
    # confirm, in a protected environment or not. Every path that writes confirms below.
    if _nothing(out, name, "resume", state):
        return
    if state.overtaken:
        raise overtaken_error(state)
    narrate = _narrator(out)
    narrate(
        f"plan for {name}{_protected_note(ws, secret.env)}: promote pending version "
        f"{state.pending} to AWSCURRENT; {state.current or '-'} keeps AWSPREVIOUS"
        + (" (after verification)" if verify else "")
    )
    ws.confirm_if_protected(secret.env, f"promote the pending version of {name}?", yes=yes)
    actor = _actor(ws, secret.env)
    outcome = resume_rotation(store, state, actor=actor, verify=verify, narrate=narrate)
    _render_outcome(out, outcome)


def _cancel(ws: Workspace, out: Renderer, secret: SecretName, *, yes: bool) -> None:
    from envsecrets.core.rotation_recovery import cancel_pending, find_pending

    name = str(secret)
    store = ws.store(secret.env)
    state = find_pending(store, name)
    # As for --resume: a finished rotation's leftover label is left alone, unasked.
    if _nothing(out, name, "cancel", state):
        return
    _narrator(out)(
        f"plan for {name}{_protected_note(ws, secret.env)}: remove AWSPENDING from "
        f"{state.pending}; AWSCURRENT stays on {state.current or '-'}"
    )
    ws.confirm_if_protected(secret.env, f"drop the pending version of {name}?", yes=yes)
    cancelled = cancel_pending(store, state)
    if out.json_mode:
        out.json(cancelled.as_dict())
    else:
        out.success(
            f"{name}: pending version {cancelled.pending_version} dropped; version "
            f"{cancelled.current_version} is still AWSCURRENT"
        )


def _nothing(out: Renderer, name: str, action: str, state: PendingState) -> bool:
    """Resume/cancel with nothing pending (or a finished rotation): say so, write nothing,
    and return True; return False when there is work to do. Safe to re-run."""
    from envsecrets.core.rotation_recovery import nothing_pending

    nothing = nothing_pending(state)
    if nothing is None:
        return False
    if out.json_mode:
        out.json(nothing.as_dict())
    else:
        out.success(f"{name}: nothing to {action}: {nothing.reason}")
    return True


def _managed(ws: Workspace, out: Renderer, secret: SecretName, *, yes: bool) -> None:
    from envsecrets.core.rotation_managed import check_managed, start_managed_rotation

    name = str(secret)
    store = _rotation_store(ws, secret.env)
    lambda_arn = check_managed(store, name)
    _narrator(out)(
        f"plan for {name}{_protected_note(ws, secret.env)}: start its rotation Lambda "
        f"{lambda_arn} (RotateSecret)"
    )
    ws.confirm_if_protected(secret.env, f"start the rotation of {name}?", yes=yes)
    started = start_managed_rotation(store, name)
    if out.json_mode:
        out.json(started.as_dict())
    elif started.status == "finished":
        out.success(f"{name}: rotated by {lambda_arn}; version {started.version_id} is AWSCURRENT")
    else:
        out.success(
            f"{name}: rotation started by {lambda_arn} (version {started.version_id} is "
            f"AWSPENDING until the Lambda finishes); `secrets show {name}` reports progress"
        )


def _rotate_bulk(
    ws: Workspace,
    out: Renderer,
    *,
    env: str,
    older_than: int,
    prefix: str | None,
    rules: PasswordRules,
    field_key: str | None,
    verify: Verifier | None,
    concurrency: int,
    yes: bool,
) -> None:
    from envsecrets.core.rotation_bulk import BulkReport, plan_bulk, rotate_many
    from envsecrets.ui.prompts import confirm

    settings = ws.environment(env)
    scope = _bulk_scope(env, prefix)
    store: RotationStore = _rotation_store(ws, env, bulk=True, pool=concurrency)
    items = plan_bulk(store, scope, older_than_days=older_than, field_key=field_key)
    todo = [item for item in items if item.skip is None]
    skipped = [item for item in items if item.skip is not None]
    if not out.json_mode:
        _plan_table(out, items)
    if not todo:
        if out.json_mode:
            out.json(BulkReport(skipped=skipped).as_dict())
        else:
            out.note(f"nothing to rotate under {scope} (older than {older_than} days)")
        return
    why = f"'{env}' is a protected environment" if settings.protected else "bulk rotation"
    confirm(f"rotate {len(todo)} secrets under {scope}?", yes=yes, why=why)
    actor = _actor(ws, env)
    with out.progress(len(todo), f"rotating {scope}") as advance:
        report = rotate_many(
            store,
            items,
            rules=rules,
            actor=actor,
            field_key=field_key,
            verify=verify,
            workers=concurrency,
            on_done=lambda result: advance(1),
        )
    # A secret refused because an earlier run left it pending is finished by the bulk form,
    # for all of them at once, rather than by one `secrets rotate NAME --resume` each.
    recover = _recover_command(env, prefix)
    report.failed = [_point_at_bulk_recovery(failure, recover) for failure in report.failed]
    pending_left = any(_is_pending_failure(failure) for failure in report.failed)
    if out.json_mode:
        out.json(report.as_dict())
    else:
        for failure in report.failed:
            out.warn(f"{failure.name}: {failure.error.message}")
        for item in skipped:
            out.note(f"skipped {item.name}: {item.skip}")
        out.success(
            f"{len(report.rotated)} rotated, {len(report.failed)} failed, "
            f"{len(skipped)} skipped under {scope}"
        )
    if report.failed:
        raise CliError(
            ExitCode.FAILED,
            f"{len(report.failed)} of {len(todo)} rotations failed",
            (
                f"`{recover} --resume` finishes the rotations left pending (`--cancel` drops "
                "them); then run the same command again to rotate the rest"
                if pending_left
                else "run the same command again to retry them; any left AWSPENDING: "
                f"`{recover} --resume` finishes them, `--cancel` drops them"
            ),
        )


def _bulk_scope(env: str, prefix: str | None) -> str:
    """`ENV/` or `ENV/PREFIX/`: --prefix may be given with or without the environment."""
    from envsecrets.core.names import NamePrefix

    scope = f"{env}/"
    if prefix:
        wanted = prefix if prefix.startswith(scope) else scope + prefix.lstrip("/")
        scope = str(NamePrefix.parse(wanted if wanted.endswith("/") else wanted + "/"))
    return scope


def _recover_command(env: str, prefix: str | None) -> str:
    """The bulk recovery command for the same scope, as the user would type it."""
    import shlex

    return f"secrets rotate --env {env}" + (f" --prefix {shlex.quote(prefix)}" if prefix else "")


def _is_pending_failure(failure: BulkFailure) -> bool:
    from envsecrets.core.rotation import PendingRotationError

    return isinstance(failure.error, PendingRotationError)


def _point_at_bulk_recovery(failure: BulkFailure, recover: str) -> BulkFailure:
    from envsecrets.core.rotation import PendingRotationError
    from envsecrets.core.rotation_bulk import BulkFailure

    error = failure.error
    if not isinstance(error, PendingRotationError):
        return failure
    return BulkFailure(
        failure.name,
        PendingRotationError(
            error.name,
            error.version,
            f"`{recover} --resume` promotes every version left pending under this scope, "
            f"`--cancel` drops them (one secret: `secrets rotate {failure.name} --resume`)",
        ),
    )


def _plan_table(out: Renderer, items: list[BulkItem]) -> None:
    out.table(
        ["NAME", "LAST CHANGED", "PLAN"],
        [
            [
                item.name,
                when(item.last_changed),
                "rotate" if item.skip is None else f"skip: {item.skip}",
            ]
            for item in items
        ],
    )


def _recover_bulk(
    ws: Workspace,
    out: Renderer,
    *,
    env: str,
    prefix: str | None,
    action: str,
    verify: Verifier | None,
    concurrency: int,
    yes: bool,
) -> None:
    """`--env ENV --resume|--cancel`: every rotation left pending under the scope, found from
    the listing, shown as a plan, confirmed in a protected environment, then resumed or
    cancelled secret by secret with the single-secret steps."""
    from envsecrets.core.rotation_bulk import RecoveryReport, plan_pending, recover_many

    scope = _bulk_scope(env, prefix)
    ws.environment(env)
    store = _rotation_store(ws, env, bulk=True, pool=concurrency)
    items = plan_pending(store, scope)
    if not items:
        if out.json_mode:
            out.json(RecoveryReport(action).as_dict())
        else:
            out.success(f"nothing pending under {scope}: no rotation to {action}")
        return
    if not out.json_mode:
        _recovery_table(out, items, action)
    what = "rotation" if len(items) == 1 else "rotations"
    ws.confirm_if_protected(env, f"{action} {len(items)} pending {what} under {scope}?", yes=yes)
    # The record of who rotated is written on resume only; a cancel changes no value.
    actor = _actor(ws, env) if action == "resume" else ""
    with out.progress(len(items), f"{action} under {scope}") as advance:
        report = recover_many(
            store,
            items,
            action=action,
            actor=actor,
            verify=verify,
            workers=concurrency,
            on_done=lambda result: advance(1),
        )
    done = len(report.resumed) + len(report.cancelled)
    if out.json_mode:
        out.json(report.as_dict())
    else:
        for outcome in report.resumed:
            if outcome.record_error:
                out.warn(
                    f"{outcome.name}: the rotation record was not written: {outcome.record_error}"
                )
        for failure in report.failed:
            out.warn(f"{failure.name}: {failure.error.message}")
        for left in report.left_alone:
            out.note(f"left alone {left.name}: {left.reason}")
        past = "resumed" if action == "resume" else "cancelled"
        out.success(
            f"{done} {past}, {len(report.failed)} failed, {len(report.left_alone)} left alone "
            f"under {scope}"
        )
    if report.failed:
        hints = {failure.error.hint for failure in report.failed if failure.error.hint}
        raise CliError(
            ExitCode.FAILED,
            f"{len(report.failed)} of {len(items)} {action}s failed",
            next(iter(hints))
            if len(hints) == 1
            else "run the same command again to retry them (each failure above says why; "
            "`--json` gives each one's hint)",
        )


def _recovery_table(out: Renderer, items: list[PendingItem], action: str) -> None:
    out.table(
        ["NAME", "PENDING VERSION", "CURRENT VERSION", "PLAN"],
        [
            [
                item.name,
                item.pending,
                item.current or "-",
                "resume: promote to AWSCURRENT"
                if action == "resume"
                else "cancel: drop AWSPENDING",
            ]
            for item in items
        ],
    )
