"""`secrets rotate`: two-phase rotation by hand, its recovery forms, and bulk rotation.

One verb with forms chosen by flags (the DESIGN contract): NAME with a new value; NAME with
--rollback, --resume, --cancel or --managed; --env ENV --older-than DAYS --generate (bulk); or
--env ENV --resume/--cancel (every rotation left pending under the scope).

This module keeps the Typer signature, has the flags parsed once into a `RotateRequest`
(`rotate_request`: one `RotateMode`, and which flags each mode takes as data) and dispatches
on the mode: one secret in `rotate_one`, many in `rotate_bulk`. The steps live in
`envsecrets.core` (`rotation`, `rotation_recovery`, `rotation_bulk`, `passwords`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from envsecrets.commands.common import JsonOption, Workspace, YesOption, workspace
from envsecrets.commands.rotate_request import MODES, RotateFlags, RotateMode, parse_request
from envsecrets.completion import complete_env, complete_name, complete_target
from envsecrets.ui.render import Renderer

if TYPE_CHECKING:
    from collections.abc import Callable

    from envsecrets.commands.rotate_request import RotateRequest

    # One handler per mode; each reads what it needs from the request (and from each
    # secret's rotation plan in secrets.toml).
    Handler = Callable[[Workspace, Renderer, RotateRequest], None]


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
    whole: Annotated[
        bool,
        typer.Option(
            "--whole",
            help="With --generate: replace the whole value even when it is a JSON object or "
            "binary (refused without --field or --whole).",
        ),
    ] = False,
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
    apply_cmd: Annotated[
        str | None,
        typer.Option(
            "--apply-cmd",
            help="Command that tells the target (a database, an API) the new value, after "
            "staging and before verification; it gets {name, version_id, current, pending} "
            "as JSON on stdin only. Non-zero exit stops before promotion. It must be "
            "idempotent: --resume runs it again.",
        ),
    ] = None,
    apply_timeout: Annotated[
        float | None,
        typer.Option(
            "--apply-timeout",
            min=0.1,
            help="Seconds the apply step may take (default 120 for --apply-cmd; 900 for RDS "
            "to apply a new master password; 60 for STS to accept a new IAM key).",
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            help="Built-in apply step: rds:INSTANCE or rds-cluster:CLUSTER (the master "
            "password, through RDS), iam-user:USER (a new access key, checked with STS).",
            autocompletion=complete_target,
        ),
    ] = None,
    delete_old: Annotated[
        bool,
        typer.Option(
            "--delete-old",
            help="iam-user target: delete the old access key after promotion (default: "
            "deactivate it; the next rotation deletes it).",
        ),
    ] = False,
    save_plan: Annotated[
        bool,
        typer.Option(
            "--save-plan",
            help="After a successful rotation, record its apply step, verification and "
            "generation in secrets.toml [rotation] (comments kept).",
        ),
    ] = False,
    yes: YesOption = False,
    json_output: JsonOption = False,
) -> None:
    """Rotate a secret: the new value is staged AWSPENDING (invisible to readers), applied
    to its target (--apply-cmd, --target, or its plan in secrets.toml [rotation]), optionally
    verified, then promoted to AWSCURRENT (the old one keeps AWSPREVIOUS).

    \b
    secrets rotate prod/db/password --generate --verify-cmd './check-login.sh'
    secrets rotate prod/db/master --target rds:orders-prod
    secrets rotate prod/ci/deploy-key --target iam-user:deployer
    secrets rotate prod/api/partner --generate --apply-cmd './set-partner-key.sh'
    secrets rotate prod/db/creds --field password --generate
    secrets rotate prod/tls/keystore --generate --whole   (a JSON or binary value, replaced)
    secrets rotate prod/db/password --rollback | --resume | --cancel | --managed
    secrets rotate --env prod --older-than 90 --prefix api/ --generate
    secrets rotate --env prod --resume | --cancel    (after a bulk run was cut short)
    """
    request = parse_request(
        RotateFlags(
            name=name,
            generate=generate,
            length=length,
            exclude_punctuation=exclude_punctuation,
            exclude_characters=exclude_characters,
            stdin=stdin,
            from_file=from_file,
            field_key=field_key,
            whole=whole,
            verify_cmd=verify_cmd,
            verify_timeout=verify_timeout_option,
            rollback=rollback,
            resume=resume,
            cancel=cancel,
            managed=managed,
            env=env,
            older_than=older_than,
            prefix=prefix,
            concurrency=concurrency,
            yes=yes,
            apply_cmd=apply_cmd,
            apply_timeout=apply_timeout,
            target=target,
            delete_old=delete_old,
            save_plan=save_plan,
        )
    )
    ws = workspace(ctx)
    dispatch(ws, ws.renderer(json_output), request)


# -- dispatch -----------------------------------------------------------------------------------
def dispatch(ws: Workspace, out: Renderer, request: RotateRequest) -> None:
    """Run the request's mode; its module is imported only now, so `--help` stays light."""
    if not MODES[request.mode].bulk:
        ws.one_secret_command()
    from envsecrets.backends.verify import check_runnable

    # A command that cannot start is found now, not after a value was staged (those a plan
    # in secrets.toml names are checked once the plan is read).
    for command, option in (
        (request.verify_cmd, "--verify-cmd"),
        (request.apply_cmd, "--apply-cmd"),
    ):
        if command is not None:
            check_runnable(command, option)
    _handler(request.mode)(ws, out, request)


def _handler(mode: RotateMode) -> Handler:
    handlers: dict[RotateMode, Handler]
    if MODES[mode].bulk:
        from envsecrets.commands import rotate_bulk

        handlers = {
            RotateMode.BULK: rotate_bulk.rotate_scope,
            RotateMode.BULK_RESUME: rotate_bulk.recover_scope,
            RotateMode.BULK_CANCEL: rotate_bulk.recover_scope,
        }
    else:
        from envsecrets.commands import rotate_one

        handlers = {
            RotateMode.ROTATE: rotate_one.rotate,
            RotateMode.ROLLBACK: rotate_one.rollback,
            RotateMode.RESUME: rotate_one.resume,
            RotateMode.CANCEL: rotate_one.cancel,
            RotateMode.MANAGED: rotate_one.managed,
        }
    return handlers[mode]
