"""init, doctor, emulator: getting set up."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from envsecrets.commands.common import JsonOption, YesOption, renderer, workspace
from envsecrets.completion import complete_env
from envsecrets.errors import CliError, ExitCode

if TYPE_CHECKING:
    from envsecrets.core.init import EnvironmentChoice, InitSettings
    from envsecrets.ui.render import Renderer


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("doctor")(doctor)
    app.command("emulator")(emulator)


# Keys `--set ENV.KEY=VALUE` may give; the others have their own flags.
SETTABLE = ("region", "profile", "role_arn", "mfa_serial", "account_id", "kms_key_id", "backend")


def init(
    ctx: typer.Context,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            metavar="NAME",
            help="Declare environment NAME (repeatable); skips the questions.",
        ),
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="AWS region of every --env.")
    ] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", help="AWS profile of every --env.")
    ] = None,
    protected: Annotated[
        list[str] | None,
        typer.Option(
            "--protected",
            metavar="ENV",
            help="Protect environment ENV (default: prod, prod-*).",
        ),
    ] = None,
    unprotected: Annotated[
        list[str] | None,
        typer.Option("--unprotected", metavar="ENV", help="Do not protect environment ENV."),
    ] = None,
    keyring: Annotated[
        list[str] | None,
        typer.Option(
            "--keyring", metavar="ENV", help="Keep environment ENV's secrets in the OS keychain."
        ),
    ] = None,
    kms_key: Annotated[
        list[str] | None,
        typer.Option(
            "--kms-key", metavar="ENV=KEY", help="KMS key for new secrets of ENV (repeatable)."
        ),
    ] = None,
    setting: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="ENV.KEY=VALUE",
            help="Set KEY of ENV: region, profile, role_arn, mfa_serial, account_id, "
            "kms_key_id, backend (repeatable).",
        ),
    ] = None,
    function: Annotated[
        list[str] | None,
        typer.Option(
            "--function",
            metavar="NAME=PATH,...",
            help="A function and the secret paths it reads (repeatable).",
        ),
    ] = None,
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Where to write (default ./secrets.toml).", readable=False
        ),
    ] = Path("secrets.toml"),
    yes: YesOption = False,
    json_output: JsonOption = False,
) -> None:
    """Write secrets.toml: environments, regions, profiles, protection, KMS keys, functions.
    Asks questions on a terminal; --env (and the other flags) answer them in scripts."""
    from envsecrets.core.files import check_output_path, create_text_file, write_text_atomically
    from envsecrets.core.init import render_config
    from envsecrets.ui.prompts import confirm

    ws = workspace(ctx)
    out = ws.renderer(json_output)
    target = output if output.is_absolute() else Path.cwd() / output
    # A FIFO, a device or /dev/stdout is written through: nothing to replace, nothing to ask.
    through = check_output_path(target)
    replacing = not through and os.path.lexists(target)
    if replacing:
        # Ask before the questions, so nobody answers ten of them to be refused at the end.
        confirm(f"{output} exists; replace it?", yes=yes, why=f"{output} already exists")
    # Any flag that names an environment answers the questions (and declares it).
    if env or protected or unprotected or keyring or kms_key or setting:
        settings = _settings_from_flags(
            env or [],
            region=region or ws.options.region,
            profile=profile or ws.options.profile,
            protected=protected or [],
            unprotected=unprotected or [],
            keyring=keyring or [],
            kms_key=kms_key or [],
            setting=setting or [],
            functions=function or [],
        )
    else:
        from envsecrets.ui.wizard import ask_init_settings

        settings = ask_init_settings()
    text = render_config(settings)
    _make_folder(target.parent, out)
    # Atomic (an interrupted init leaves the old file or the new one); 0644 for a new file:
    # secrets.toml holds no secrets and is meant for git. A new file is created exclusively:
    # one that appeared during the questions is not replaced without being asked about.
    if replacing or through:
        # Your own link (a dotfiles repository) is followed; one someone else planted in a
        # shared folder is replaced (write_text_atomically's rule for every edit).
        write_text_atomically(target, text)
    else:
        create_text_file(target, text)
    if json_output:
        out.json(
            {
                "path": str(target),
                "environments": [e.name for e in settings.environments],
                "functions": [f.name for f in settings.functions],
            }
        )
        return
    out.success(
        f"wrote {output}: environments {', '.join(e.name for e in settings.environments)}"
        + (
            f"; functions {', '.join(f.name for f in settings.functions)}"
            if settings.functions
            else ""
        )
    )
    out.note("next: `secrets doctor` checks that each environment is reachable")


def _make_folder(folder: Path, out: Renderer) -> None:
    """`init --output other/secrets.toml`: the folder is made if it is missing."""
    if folder.is_dir():
        return
    try:
        folder.mkdir(parents=True)
    except OSError as exc:
        raise CliError(
            ExitCode.USAGE,
            f"cannot create folder {folder}: {exc.strerror}",
            "choose another --output, or create the folder first",
        ) from None
    out.note(f"created folder {folder}")


def _settings_from_flags(
    envs: list[str],
    *,
    region: str | None,
    profile: str | None,
    protected: list[str],
    unprotected: list[str],
    keyring: list[str],
    kms_key: list[str],
    setting: list[str],
    functions: list[str],
) -> InitSettings:
    from dataclasses import replace

    from envsecrets.core.init import EnvironmentChoice, InitSettings, parse_function_spec

    choices: dict[str, EnvironmentChoice] = {}
    for name in envs:
        if name in choices:
            raise CliError(ExitCode.USAGE, f"--env {name} is given twice", "give each --env once")
        choices[name] = EnvironmentChoice(name, region=region, profile=profile)

    def known(name: str) -> EnvironmentChoice:
        # `--protected qa` declares qa when no --env did (the summary names every one).
        if name not in choices:
            choices[name] = EnvironmentChoice(name, region=region, profile=profile)
        return choices[name]

    for name in protected:
        choices[name] = replace(known(name), protected=True)
    for name in unprotected:
        choices[name] = replace(known(name), protected=False)
    for name in keyring:
        choices[name] = replace(known(name), backend="keyring", region=None, profile=None)
    for spec in kms_key:
        name, sep, key = spec.partition("=")
        if not sep or not key:
            raise CliError(
                ExitCode.USAGE, f"invalid --kms-key '{spec}'", "use --kms-key ENV=KEY_ID_OR_ALIAS"
            )
        choices[name] = replace(known(name), kms_key_id=key)
    for spec in setting:
        where, sep, value = spec.partition("=")
        name, dot, key = where.partition(".")
        if not sep or not dot or key not in SETTABLE:
            raise CliError(
                ExitCode.USAGE,
                f"invalid --set '{spec}'",
                f"use --set ENV.KEY=VALUE with KEY one of {', '.join(SETTABLE)}",
            )
        changes: dict[str, Any] = {key: value or ("aws" if key == "backend" else None)}
        choices[name] = replace(known(name), **changes)
    return InitSettings(
        tuple(choices.values()), tuple(parse_function_spec(spec) for spec in functions)
    )


def doctor(
    ctx: typer.Context,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            metavar="ENV",
            help="Check only environment ENV (repeatable; default: all declared).",
            autocompletion=complete_env,
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Check each environment: who you are (STS), region, profile/role, KMS key, whether you
    may list, read and write (probed without writing), and that declared secrets exist.
    Exit 1 if anything is broken."""
    from envsecrets.backends.doctor import FAIL, check_aws_environment, check_keyring_environment

    ws = workspace(ctx)
    out = ws.renderer(json_output)
    config = ws.config
    names = list(env or sorted(config.environments) or ["default"])
    functions = list(config.functions.values())
    checks = []
    for name in names:
        settings = config.environment(name) if name != "default" or config.environments else None
        if settings is not None and settings.backend == "keyring":
            checks.extend(check_keyring_environment(settings))
            continue
        if settings is None:
            from envsecrets.core.config import EnvironmentConfig

            settings = EnvironmentConfig.default(name)
        checks.extend(check_aws_environment(ws.target(name), settings, functions))
    broken = [c for c in checks if c.status == FAIL]
    if json_output:
        out.json(
            {
                "ok": not broken,
                "config": str(config.path) if config.path else None,
                "checks": [
                    {"env": c.env, "check": c.check, "status": c.status, "detail": c.detail}
                    for c in checks
                ],
            }
        )
    else:
        out.note(f"config: {config.path or 'none (default AWS session)'}")
        out.table(
            ["ENV", "CHECK", "STATUS", "DETAIL"],
            [[c.env, c.check, c.status.upper(), c.detail] for c in checks],
        )
        if broken:
            out.warn(f"{len(broken)} problem(s) found")
        else:
            out.success("everything checked is working")
    if broken:
        # AWS unavailable (no answer, or answers that are not AWS's): the checks could not be
        # made, which a retry may fix; any other failure is a problem found (exit 1).
        unavailable = any(c.code == ExitCode.UNAVAILABLE for c in broken)
        raise typer.Exit(int(ExitCode.UNAVAILABLE if unavailable else ExitCode.FAILED))


def emulator(
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")
    ] = 4566,
) -> None:
    """Run a local AWS emulator (moto) on 127.0.0.1 until Ctrl-C; needs the `emulator` extra."""
    from envsecrets.backends import emulator as local

    out = renderer()
    url = f"http://127.0.0.1:{port}"
    server = local.start("127.0.0.1", port)
    out.lines(
        [
            f"export AWS_ENDPOINT_URL={url}",
            "export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
            "export AWS_REGION=us-east-1",
        ]
    )
    out.note(
        f"emulator listening on {url}; paste the lines above into another shell. Ctrl-C stops it."
    )
    try:
        _wait_for_stop()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        out.note("emulator stopped")


def _wait_for_stop() -> None:
    import signal
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
