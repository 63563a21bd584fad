"""`secrets policy`: the least-privilege IAM policy of a function (or ECS task role)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from envsecrets.commands.common import Workspace, workspace
from envsecrets.completion import complete_env
from envsecrets.core.names import validate_env
from envsecrets.errors import CliError, ExitCode, listed

if TYPE_CHECKING:
    from envsecrets.core.infra import Infrastructure
    from envsecrets.core.policy import FunctionPolicy
    from envsecrets.core.references import SecretRead, Unresolved
    from envsecrets.ui.render import Renderer


class PolicyFormat(StrEnum):
    """The output formats of `secrets policy` (core/policy.py FORMATS)."""

    json = "json"
    yaml = "yaml"
    sam = "sam"
    cloudformation = "cloudformation"
    terraform = "terraform"
    serverless = "serverless"


# Formats in which a template's own secret is named by `!Ref` (its ARN).
TEMPLATE_FORMATS = ("sam", "cloudformation")


def register(app: typer.Typer) -> None:
    """Add this family's commands to the root app."""
    app.command("policy")(policy_command)


@dataclass
class _Wanted:
    """A policy to write: whose, for which role, what it reads and what it could not name."""

    name: str
    kind: str  # "lambda" or "task"
    source: str  # "secrets.toml" or the template's path
    role: str = ""  # "execution" for an ECS task's execution role
    reads: list[SecretRead] = field(default_factory=list)
    unresolved: list[Unresolved] = field(default_factory=list)


def policy_command(
    ctx: typer.Context,
    function: Annotated[
        str | None,
        typer.Argument(
            help="Function (or ECS task) declared in secrets.toml or the template.",
            metavar="FUNCTION",
        ),
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
            "--template",
            "-t",
            help="Template to list functions from: SAM/CloudFormation, serverless.yml, "
            "Terraform (.tf or a module folder, or a plan's JSON), or an ECS task definition.",
        ),
    ] = None,
    parameters: Annotated[
        list[str] | None,
        typer.Option(
            "--parameter",
            "-p",
            help="A template parameter's value, KEY=VALUE (repeatable; like sam deploy "
            "--parameter-overrides). Parameters not given take their defaults.",
            metavar="KEY=VALUE",
        ),
    ] = None,
    fmt: Annotated[
        PolicyFormat,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",  # the choices joined by | wrapped mid-word ("terraf/orm")
            help=f"Output format: {', '.join(PolicyFormat)}.",
        ),
    ] = PolicyFormat.json,
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
    secrets it reads in ENV (name-?????? patterns, or exact ARNs with --resolve). Exit 1 when
    a reference in the template names no single secret (listed with the reason)."""
    fmt_name = "json" if json_output else PolicyFormat(fmt).value
    out = workspace(ctx).renderer(json_output)
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
    values = parameter_values(parameters or [])
    unread: list[str] = []
    wanted = _functions(ws, env, function, template, values, out, unread)
    if not wanted:
        where = f"template {template}" if template else (ws.config.path or "secrets.toml")
        out.note(f"no functions found in {where}: nothing to write")
        if unread:
            raise typer.Exit(int(ExitCode.FAILED))
        return
    incomplete = _report_unresolved(out, wanted) or bool(unread)
    with_secrets = [w for w in wanted if w.reads]
    for w in wanted:
        if not w.reads and not w.unresolved:
            out.warn(f"{w.name} reads no secrets of {env} ({w.source}): it needs no policy")
    if not with_secrets:
        if function and not incomplete:
            raise CliError(
                ExitCode.USAGE,
                f"function '{function}' declares no secrets",
                f'add secrets = ["api/key", ...] under [functions.{function}] in secrets.toml',
            )
        if incomplete:
            raise typer.Exit(int(ExitCode.FAILED))
        return
    policies, unnamed = _policies(ws, env, settings, with_secrets, fmt_name, resolve, describe, out)
    from envsecrets.core.policy import render_policies

    if policies:
        many = all_functions or len(policies) > 1
        out.lines(render_policies(policies, fmt_name, many=many).rstrip("\n").split("\n"))
    if policies and not json_output and any(w.kind == "lambda" for w in with_secrets):
        from envsecrets.core.runtime_snippets import EXTENSION_PERMISSIONS

        out.note(f"note: {EXTENSION_PERMISSIONS}")
    if incomplete or unnamed:
        raise typer.Exit(int(ExitCode.FAILED))


def parameter_values(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CliError(
                ExitCode.USAGE,
                f"--parameter wants KEY=VALUE, not '{pair}'",
                "e.g. --parameter Stage=prod",
            )
        values[key.strip()] = value
    return values


def _report_unresolved(out: Renderer, wanted: list[_Wanted]) -> bool:
    """Warn about each reference left out; True when any was (the output is incomplete)."""
    from envsecrets.core.names import printable

    incomplete = False
    for w in wanted:
        for item in w.unresolved:
            incomplete = True
            out.warn(
                f"{w.name}: {item.source}: {printable(item.reference)} left out: {item.reason}"
            )
    return incomplete


def _policies(
    ws: Workspace,
    env: str,
    settings: Any,
    wanted: list[_Wanted],
    fmt: str,
    resolve: bool,
    describe: bool,
    out: Renderer,
) -> tuple[list[FunctionPolicy], bool]:
    """The policies, and whether a read secret could not be named in this format."""
    from envsecrets.core.policy import FunctionPolicy, partition_for, read_policy

    region = ws.target(env).region_name
    account = settings.account_id or _caller_account(ws, env)
    exact = _resolve(ws, env, wanted) if resolve else {}
    kms_key_id = settings.kms_key_id
    if resolve and kms_key_id and _names_an_alias(kms_key_id):
        from envsecrets.backends.kms import key_arn

        kms_key_id = key_arn(ws.target(env), kms_key_id)
    partition = partition_for(region)
    policies: list[FunctionPolicy] = []
    unnamed = False
    for w in wanted:
        resources = []
        for read in w.reads:
            resource = _resource(read, fmt, partition, region, account, exact)
            if resource is None:
                unnamed = True
                out.warn(
                    f"{w.name}: {read.source}: secret {read.own} left out: its name is chosen "
                    "by CloudFormation; --format sam or cloudformation names it by !Ref"
                )
            else:
                resources.append(resource)
        if not resources:
            continue
        document = read_policy(
            resources,
            region=region,
            account=account,
            kms_key_id=kms_key_id,
            describe=describe,
            partition=partition,
        )
        names = tuple(r.name or r.own or "" for r in w.reads)
        policies.append(FunctionPolicy(w.name, env, document, w.kind, names, w.role))
    return policies, unnamed


def _resource(
    read: SecretRead, fmt: str, partition: str, region: str, account: str, exact: dict[str, str]
) -> Any:
    """The IAM resource for one read: `!Ref` of the template's own secret in template formats,
    a full ARN as written, the ARN `--resolve` found, else the name's `-??????` pattern."""
    from envsecrets.core.policy import secret_arn_pattern

    if read.own and fmt in TEMPLATE_FORMATS:
        return {"Ref": read.own}
    if read.arn:
        return read.arn
    if read.name is None:
        return None
    if read.name in exact and read.partition is None and read.account is None:
        return exact[read.name]
    return secret_arn_pattern(
        read.partition or partition, read.region or region, read.account or account, read.name
    )


def _functions(
    ws: Workspace,
    env: str,
    function: str | None,
    template: Path | None,
    values: dict[str, str],
    out: Renderer,
    incomplete: list[str],
) -> list[_Wanted]:
    """The policies to write; a template with parts that could not be read is added to
    `incomplete`."""
    from envsecrets.core.references import SecretRead

    config = ws.config
    source = str(config.path or "secrets.toml")
    found: dict[str, list[_Wanted]] = {
        name: [
            _Wanted(
                name,
                f.kind,
                source,
                reads=[SecretRead("", source, name=f"{env}/{path}") for path in f.secrets],
            )
        ]
        for name, f in config.functions.items()
    }
    if template is not None:
        from envsecrets.core.formats import load_infrastructure

        infra = load_infrastructure(template, values)
        if _unread_elsewhere(out, infra):
            incomplete.append(str(template))
        if not infra.functions and not function:
            return []
        _template_functions(found, infra, ws, env, function, values)
    if function is None:
        return [w for key in sorted(found) for w in found[key]]
    if function in found:
        return found[function]
    where = f"{config.path or 'secrets.toml'}" + (f" or template {template}" if template else "")
    known = listed(sorted(found))
    raise CliError(
        ExitCode.NOT_FOUND,
        f"function '{function}' is not declared in {where}",
        f"known functions: {known} (add [functions.{function}] with secrets = [...])",
    )


def _template_functions(
    found: dict[str, list[_Wanted]],
    infra: Infrastructure,
    ws: Workspace,
    env: str,
    function: str | None,
    values: dict[str, str],
) -> None:
    from envsecrets.core.policy import check_function_name
    from envsecrets.core.references import (
        Scope,
        Unresolved,
        function_reads,
        known_environments,
    )

    target = ws.target(env) if ws.config.environments else None
    pseudo = {"AWS::Region": target.region_name} if target and target.region_name else {}
    environments = known_environments(ws.config.environments) | {env}
    scope = Scope(env, environments, {**pseudo, **values})
    for f in infra.functions:
        if any(n in found for n in f.names()):
            continue  # secrets.toml is the declaration; the template only adds functions
        check_function_name(f.name, f.kind, infra.source)
        reads = function_reads(f, infra, scope)
        # What could not be read may hold reads: the policy is then incomplete, never "none".
        runtime_role = "task" if f.kind == "task" else "function"
        reads.unresolved.extend(
            Unresolved(runtime_role, note.what, note.key, note.reason)
            for note in infra.unread
            if note.key == f.logical_id
        )
        # What the code reads goes to its own role; an ECS task's container secrets go to
        # the execution role, which ECS uses to fetch them.
        runtime = "task" if f.kind == "task" else "function"
        policies = []
        for role in (runtime, "execution"):
            mine = [r for r in reads.reads if r.role == role]
            missing = [u for u in reads.unresolved if u.role == role]
            nothing = not reads.reads and not reads.unresolved
            if mine or missing or (role == runtime and nothing):
                kind = "execution" if role == "execution" else ""
                policies.append(_Wanted(f.name, f.kind, infra.source, kind, mine, missing))
        found[f.name] = policies
        if f.logical_id != f.name and function == f.logical_id:
            found[f.logical_id] = policies


def _unread_elsewhere(out: Renderer, infra: Infrastructure) -> bool:
    """Parts of the template that belong to no function (a module call the reader does not
    know) and could not be read: warned about; True when any (the output is incomplete)."""
    functions = {f.logical_id for f in infra.functions}
    unread = [note for note in infra.unread if note.key not in functions]
    for note in unread:
        out.warn(f"{note.key}: not read: {note.reason}")
    return bool(unread)


def _caller_account(ws: Workspace, env: str) -> str:
    """The account of the environment's credentials (STS), or a usage error saying how to
    set it: a policy cannot be written without the account."""
    from envsecrets.backends.identity import caller_arn

    try:
        arn = caller_arn(ws.target(env))
    except CliError as exc:
        # STS's own failure keeps its code (5 denied, 6 unavailable): the account is not
        # wrong, it could not be asked for.
        raise CliError(
            exc.code,
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
    """Exact ARNs of the secrets named by name (DescribeSecret each, once)."""
    store = ws.store(env)
    exact: dict[str, str] = {}
    for w in wanted:
        for read in w.reads:
            name = read.name
            if name and not read.arn and not read.own and name not in exact:
                arn = store.describe(name).arn
                if arn:
                    exact[name] = arn
    return exact
