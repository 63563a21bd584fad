"""`secrets audit`: secrets in environment variables, Parameter Store secrets, wildcard and
cross-environment permissions, in templates or in the live account."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from envsecrets.commands.common import JsonOption, workspace
from envsecrets.completion import complete_env
from envsecrets.errors import CliError, ExitCode

if TYPE_CHECKING:
    from collections.abc import Callable

    from envsecrets.backends.aws import AwsTarget
    from envsecrets.core.audit import Finding, LiveFunction
    from envsecrets.ui.render import Renderer

AUDIT_FORMATS = ("table", "json", "sarif")
DEFAULT_TEMPLATES = ("template.yaml", "template.yml", "template.json")


def register(app: typer.Typer) -> None:
    """Add this family's commands to the root app."""
    app.command("audit")(audit_command)


def audit_command(
    ctx: typer.Context,
    templates: Annotated[
        list[Path] | None,
        typer.Argument(
            help="SAM/CloudFormation templates (default: ./template.yaml when it exists).",
            dir_okay=False,
        ),
    ] = None,
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="Audit the deployed Lambda functions, ECS task definitions and their roles "
            "(needs --env).",
        ),
    ] = False,
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            "-e",
            help="Environment the audited functions belong to.",
            autocompletion=complete_env,
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="Output: table, json or sarif.")
    ] = "table",
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            help="Exit 1 on findings of this severity or worse: low, medium, high, critical.",
        ),
    ] = "high",
    json_output: JsonOption = False,
) -> None:
    """Find secrets in environment variables, Parameter Store secrets, and wildcard,
    cross-environment or undeclared secret permissions. Exit 1 on findings at or above
    --fail-on."""
    from envsecrets.core.audit import (
        SEVERITIES,
        AuditContext,
        audit_template,
        failing,
        sort_findings,
    )

    if json_output:
        fmt = "json"
    if fmt not in AUDIT_FORMATS:
        raise CliError(
            ExitCode.USAGE, f"unknown format '{fmt}'", f"use one of: {', '.join(AUDIT_FORMATS)}"
        )
    if fail_on not in SEVERITIES:
        raise CliError(
            ExitCode.USAGE,
            f"unknown severity '{fail_on}' for --fail-on",
            f"use one of: {', '.join(SEVERITIES)}",
        )
    if live and not env:
        raise CliError(ExitCode.USAGE, "--live needs --env", "e.g. secrets audit --live --env prod")
    out = workspace(ctx).renderer(fmt == "json")
    ws = workspace(ctx)
    if env:
        from envsecrets.core.names import validate_env

        validate_env(env)
        ws.environment(env)
    paths = list(templates or [])
    if not paths and not live:
        default = next((Path(n) for n in DEFAULT_TEMPLATES if Path(n).is_file()), None)
        if default is None:
            raise CliError(
                ExitCode.USAGE,
                "nothing to audit: no template given and no ./template.yaml",
                "pass templates (secrets audit template.yaml) or --live --env ENV",
            )
        paths = [default]
    from envsecrets.core.templates import find_functions, load_template

    # Parse everything first: a malformed template fails the run before any output.
    parsed = [load_template(p) for p in paths]
    findings: list[Finding] = []
    functions = 0
    for template in parsed:
        count = len(find_functions(template))
        functions += count
        if count == 0:
            out.note(f"{template.source}: no functions or tasks found")
        findings.extend(audit_template(template, AuditContext(config=ws.config, env=env)))
    skipped: list[dict[str, object]] = []
    if live and env:
        from envsecrets.backends.iam import RolePolicies
        from envsecrets.core.audit import audit_live

        target = ws.target(env)
        deployed, skipped = _deployed(target)
        for part in skipped:
            out.warn(f"{part['what']} not audited: {part['message']}")
        live_findings, live_count = audit_live(
            deployed,
            RolePolicies(target).policies,
            AuditContext(config=ws.config, env=env),
        )
        functions += live_count
        findings.extend(live_findings)
    findings = sort_findings(findings)
    _show(out, findings, fmt, functions, skipped)
    if failing(findings, fail_on):
        raise typer.Exit(int(ExitCode.FAILED))


def _deployed(target: AwsTarget) -> tuple[list[LiveFunction], list[dict[str, object]]]:
    """Lambda functions and ECS task definitions; a service that cannot be read (denied,
    unreachable) is skipped and reported, unless neither can be read."""
    from envsecrets.backends.ecs_list import list_task_definitions
    from envsecrets.backends.lambda_list import list_functions

    sources: list[tuple[str, str, Callable[[], list[LiveFunction]]]] = [
        ("lambda", "Lambda functions", lambda: list(list_functions(target))),
        ("ecs", "ECS task definitions", lambda: list_task_definitions(target)),
    ]
    deployed: list[LiveFunction] = []
    failures: list[tuple[str, str, CliError]] = []
    for service, what, read in sources:
        try:
            deployed.extend(read())
        except CliError as exc:
            failures.append((service, what, exc))
    if len(failures) == len(sources):
        raise failures[0][2]  # nothing audited: the first failure says why (credentials...)
    skipped: list[dict[str, object]] = [
        {"service": service, "what": what, "code": int(exc.code), "message": exc.message}
        for service, what, exc in failures
    ]
    return deployed, skipped


def _show(
    out: Renderer,
    findings: list[Finding],
    fmt: str,
    functions: int,
    skipped: list[dict[str, object]],
) -> None:
    if fmt == "json":
        counts = {
            s: sum(1 for f in findings if f.severity == s)
            for s in ("critical", "high", "medium", "low")
        }
        out.json(
            {
                "functions": functions,
                "findings": [f.as_dict() for f in findings],
                "counts": counts,
                # Parts of the account --live could not read: the report is partial.
                "skipped": skipped,
            }
        )
        return
    if fmt == "sarif":
        from envsecrets import __version__
        from envsecrets.core.audit import to_sarif

        notes = [f"{p['what']} not audited: {p['message']}" for p in skipped]
        out.json(to_sarif(findings, version=__version__, notes=notes))
        return
    if not findings:
        out.success(f"no findings in {functions} function(s)")
        return
    rows = [
        [
            f.severity.upper(),
            f.rule,
            _where(f),
            f.message,
        ]
        for f in findings
    ]
    out.table(["SEVERITY", "RULE", "WHERE", "FINDING"], rows)
    out.note(f"{len(findings)} finding(s) in {functions} function(s)")


def _where(finding: Finding) -> str:
    place = finding.file or "live"
    if finding.line:
        place += f":{finding.line}"
    if finding.resource:
        place += f" {finding.resource}"
    return place
