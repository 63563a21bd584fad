"""`secrets policy`: the least-privilege IAM policy of a function (or ECS task role)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from envsecrets.commands.common import Workspace, workspace
from envsecrets.completion import complete_env
from envsecrets.core.names import validate_env
from envsecrets.errors import CliError, ExitCode, listed

if TYPE_CHECKING:
    from envsecrets.core.policy import FunctionPolicy

FORMAT_HELP = "Output format: json, yaml, sam, cloudformation, terraform or serverless."


def register(app: typer.Typer) -> None:
    """Add this family's commands to the root app."""
    app.command("policy")(policy_command)


@dataclass(frozen=True)
class _Wanted:
    """A function to write a policy for, and where its list of secrets came from."""

    name: str
    secrets: tuple[str, ...]
    kind: str
    source: str  # "secrets.toml" or the template's path


def policy_command(
    ctx: typer.Context,
    function: Annotated[
        str | None,
        typer.Argument(help="Function (or ECS task) declared in secrets.toml or the template."),
    ] = None,
    env: Annotated[
        str,
        typer.Option(
            "--env",
            "-e",
            help="Environment whose secrets the function reads.",
            autocompletion=complete_env,
        ),
    ] = "",
    all_functions: Annotated[
        bool, typer.Option("--all", help="One policy per function (secrets.toml and template).")
    ] = False,
    template: Annotated[
        Path | None,
        typer.Option(
            "--template", "-t", help="SAM/CloudFormation template to list functions from."
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)] = "json",
    resolve: Annotated[
        bool,
        typer.Option(
            "--resolve",
            help="Use each secret's exact ARN (and the KMS key's, for an alias), looked up in AWS.",
        ),
    ] = False,
    describe: Annotated[
        bool,
        typer.Option("--describe", help="Also allow secretsmanager:DescribeSecret."),
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Same as --format json (errors as JSON too).")
    ] = False,
) -> None:
    """Print the least-privilege IAM policy of a function: GetSecretValue on exactly the
    secrets it declares in ENV (name-?????? patterns, or exact ARNs with --resolve)."""
    from envsecrets.core.policy import FORMATS, FunctionPolicy, build_policy

    if json_output:
        fmt = "json"
    out = workspace(ctx).renderer(json_output)
    if fmt not in FORMATS:
        raise CliError(
            ExitCode.USAGE, f"unknown format '{fmt}'", f"use one of: {', '.join(FORMATS)}"
        )
    if not env:
        raise CliError(
            ExitCode.USAGE, "--env is required", "e.g. secrets policy checkout --env prod"
        )
    if bool(function) == all_functions:
        raise CliError(
            ExitCode.USAGE,
            "name one function, or pass --all"
            if not function
            else "a FUNCTION and --all cannot be used together",
            "e.g. secrets policy checkout --env prod, or secrets policy --all --env prod",
        )
    ws = workspace(ctx)
    validate_env(env)
    settings = ws.environment(env)
    wanted = _functions(ws, env, function, template)
    if not wanted:
        where = f"template {template}" if template else (ws.config.path or "secrets.toml")
        out.note(f"no functions found in {where}: nothing to write")
        return
    with_secrets = [w for w in wanted if w.secrets]
    for w in wanted:
        if not w.secrets:
            out.warn(f"{w.name} reads no secrets of {env} ({w.source}): it needs no policy")
    if not with_secrets:
        if function:
            raise CliError(
                ExitCode.USAGE,
                f"function '{function}' declares no secrets",
                f'add secrets = ["api/key", ...] under [functions.{function}] in secrets.toml',
            )
        return
    region = ws.target(env).region_name
    account = settings.account_id or _caller_account(ws, env)
    exact: dict[str, str] = _resolve(ws, env, with_secrets) if resolve else {}
    kms_key_id = settings.kms_key_id
    if resolve and kms_key_id and _names_an_alias(kms_key_id):
        from envsecrets.backends.kms import key_arn

        kms_key_id = key_arn(ws.target(env), kms_key_id)
    policies: list[FunctionPolicy] = [
        FunctionPolicy(
            function=w.name,
            env=env,
            kind=w.kind,
            secrets=w.secrets,
            document=build_policy(
                region=region,
                account=account,
                env=env,
                paths=w.secrets,
                kms_key_id=kms_key_id,
                describe=describe,
                exact_arns=exact,
            ),
        )
        for w in with_secrets
    ]
    from envsecrets.core.policy import render_policies

    out.lines(render_policies(policies, fmt, many=all_functions).rstrip("\n").split("\n"))
    if not json_output and any(w.kind == "lambda" for w in with_secrets):
        from envsecrets.core.runtime_snippets import EXTENSION_PERMISSIONS

        out.note(f"note: {EXTENSION_PERMISSIONS}")


def _functions(
    ws: Workspace, env: str, function: str | None, template: Path | None
) -> list[_Wanted]:
    config = ws.config
    found: dict[str, _Wanted] = {
        name: _Wanted(name, f.secrets, f.kind, str(config.path or "secrets.toml"))
        for name, f in config.functions.items()
    }
    if template is not None:
        from envsecrets.core.templates import find_functions, load_template, referenced_secrets

        parsed = load_template(template)
        in_template = find_functions(parsed)
        if not in_template and not function:
            return []
        for f in in_template:
            if any(n in found for n in f.names()):
                continue  # secrets.toml is the declaration; the template only adds functions
            found[f.name] = _Wanted(
                f.name, tuple(referenced_secrets(f, parsed, env)), f.kind, str(template)
            )
            if f.logical_id != f.name and function == f.logical_id:
                found[f.logical_id] = found[f.name]
    if function is None:
        return sorted(found.values(), key=lambda w: w.name)
    if function in found:
        return [found[function]]
    where = f"{config.path or 'secrets.toml'}" + (f" or template {template}" if template else "")
    known = listed(sorted({w.name for w in found.values()}))
    raise CliError(
        ExitCode.NOT_FOUND,
        f"function '{function}' is not declared in {where}",
        f"known functions: {known} (add [functions.{function}] with secrets = [...])",
    )


def _caller_account(ws: Workspace, env: str) -> str:
    """The account of the environment's credentials (STS), or a usage error saying how to
    set it: a policy cannot be written without the account."""
    from envsecrets.backends.identity import caller_arn

    try:
        arn = caller_arn(ws.target(env))
    except CliError as exc:
        raise CliError(
            ExitCode.USAGE,
            f"cannot determine the AWS account of '{env}' ({exc.message})",
            f"set account_id under [environments.{env}] in secrets.toml",
        ) from None
    parts = arn.split(":")
    if len(parts) < 5 or not parts[4].isdigit():
        raise CliError(
            ExitCode.USAGE,
            f"cannot determine the AWS account of '{env}'",
            f"set account_id under [environments.{env}] in secrets.toml",
        )
    return parts[4]


def _names_an_alias(key_id: str) -> bool:
    """A customer-managed alias (`alias/app`, or its ARN): --resolve turns it into the key's
    ARN. AWS-managed aliases need no kms statement at all (core/policy.py)."""
    from envsecrets.core.policy import AWS_MANAGED_KEY_ALIASES

    alias = "alias/" + key_id.split(":alias/", 1)[1] if ":alias/" in key_id else key_id
    return alias.startswith("alias/") and alias not in AWS_MANAGED_KEY_ALIASES


def _resolve(ws: Workspace, env: str, wanted: list[_Wanted]) -> dict[str, str]:
    """Exact ARNs of the secrets (DescribeSecret each, once)."""
    store = ws.store(env)
    exact: dict[str, str] = {}
    for w in wanted:
        for path in w.secrets:
            name = f"{env}/{path}"
            if name not in exact:
                arn = store.describe(name).arn
                if arn:
                    exact[name] = arn
    return exact
