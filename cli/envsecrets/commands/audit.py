"""`secrets audit`: secrets in environment variables, Parameter Store secrets, wildcard and
cross-environment permissions, in templates or in the live account."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from envsecrets.commands.common import JsonOption, workspace
from envsecrets.completion import complete_env
from envsecrets.errors import CliError, ExitCode

if TYPE_CHECKING:
    from collections.abc import Callable

    from envsecrets.backends.aws import AwsTarget
    from envsecrets.core.audit import Finding
    from envsecrets.core.audit_live import LiveFunction
    from envsecrets.core.formats import Discovery
    from envsecrets.ui.render import Renderer

DEFAULT_TEMPLATES = (
    "template.yaml",
    "template.yml",
    "template.json",
    "serverless.yml",
    "serverless.yaml",
)


class AuditFormat(StrEnum):
    """How `secrets audit` reports."""

    table = "table"
    json = "json"
    sarif = "sarif"


class Severity(StrEnum):
    """`--fail-on`: the least severity that fails the run (core/audit.py SEVERITIES)."""

    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


def register(app: typer.Typer) -> None:
    """Add this family's commands to the root app."""
    app.command("audit")(audit_command)


def audit_command(
    ctx: typer.Context,
    templates: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files or folders: SAM/CloudFormation templates, serverless.yml, Terraform "
            "(.tf, module folders, `terraform show -json`), ECS task definitions (default: "
            "./template.yaml or ./serverless.yml when one exists).",
            metavar="PATH",
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
    fmt: Annotated[AuditFormat, typer.Option("--format", "-f", help="Output.")] = (
        AuditFormat.table
    ),
    fail_on: Annotated[
        Severity,
        typer.Option(
            "--fail-on",
            metavar="SEVERITY",  # the choices joined by | wrapped mid-word
            help=f"Exit 1 on findings of this severity or worse: {', '.join(Severity)}.",
        ),
    ] = Severity.high,
    parameters: Annotated[
        list[str] | None,
        typer.Option(
            "--parameter",
            "-p",
            help="A template parameter's value, KEY=VALUE (repeatable): a CloudFormation "
            "parameter, or stage=NAME for serverless.yml.",
            metavar="KEY=VALUE",
        ),
    ] = None,
    ignore_unknown: Annotated[
        bool,
        typer.Option(
            "--ignore-unknown",
            help="Skip files in no infrastructure format (with a note) instead of failing: "
            "for pre-commit, which passes every changed file.",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Find secrets in environment variables, Parameter Store secrets, and wildcard,
    cross-environment or undeclared secret permissions. Exit 1 on findings at or above
    --fail-on."""
    from envsecrets.commands.policy import parameter_values
    from envsecrets.core.audit import AuditContext, audit_infrastructure, failing, sort_findings

    fmt_name = "json" if json_output else AuditFormat(fmt).value
    values = parameter_values(parameters or [])
    if live and not env:
        raise CliError(ExitCode.USAGE, "--live needs --env", "e.g. secrets audit --live --env prod")
    out = workspace(ctx).renderer(fmt_name == "json")
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
                "nothing to audit: no path given, and no ./template.yaml or ./serverless.yml",
                "pass files or folders (secrets audit template.yaml infra/) or --live --env ENV",
            )
        paths = [default]
    # Read everything first: a malformed file fails the run before any output.
    found = _discover(out, paths, values, ignore_unknown=ignore_unknown, live=live)
    findings: list[Finding] = []
    functions = 0
    for infra in found.found:
        functions += len(infra.functions)
        if not infra.functions:
            out.note(f"{infra.source}: no functions or tasks found ({infra.format})")
        findings.extend(audit_infrastructure(infra, AuditContext(config=ws.config, env=env)))
    skipped: list[dict[str, object]] = []
    incomplete: CliError | None = None
    if live and env:
        from envsecrets.backends.iam import RolePolicies
        from envsecrets.core.audit_live import audit_live

        target = ws.target(env)
        deployed, skipped = _deployed(target)
        for part in skipped:
            out.warn(f"{part['what']} not audited: {part['message']}")
        incomplete = _incomplete(skipped)
        skipped = [{k: v for k, v in part.items() if k != "error"} for part in skipped]
        live_findings, live_count = audit_live(
            deployed,
            RolePolicies(target).policies,
            AuditContext(config=ws.config, env=env),
        )
        functions += live_count
        findings.extend(live_findings)
    findings = sort_findings(findings)
    files = [
        {"path": i.source, "format": i.format, "functions": len(i.functions)} for i in found.found
    ]
    errors = [e.message for e in found.errors]
    _show(out, findings, fmt_name, functions, skipped, files, errors)
    if live and incomplete is not None:
        raise incomplete
    if found.errors:
        # Infrastructure that was not read: the report above is partial, never a pass.
        for error in errors:
            out.warn(f"not audited: {error}")
        raise CliError(
            ExitCode.USAGE,
            f"{len(errors)} Terraform module(s) could not be read (listed above): the report "
            "is partial",
            "fix them (check with `terraform validate`) and run the audit again",
        )
    if failing(findings, Severity(fail_on).value):
        raise typer.Exit(int(ExitCode.FAILED))


def _discover(
    out: Renderer, paths: list[Path], values: dict[str, str], *, ignore_unknown: bool, live: bool
) -> Discovery:
    """What the paths hold; warnings for what was skipped."""
    from envsecrets.core.formats import discover

    found = discover(paths, values, ignore_unknown=ignore_unknown)
    for problem in found.unreadable:
        out.warn(f"skipped {problem}")
    if found.skipped:
        out.note(f"{found.skipped} file(s) in no infrastructure format skipped")
    if not found.found and found.errors and not live:
        raise found.errors[0]
    if not found.found and not live and not ignore_unknown:
        # A gate pointed at the wrong folder must not pass in silence.
        raise CliError(
            ExitCode.USAGE,
            "nothing to audit: no infrastructure file under "
            + ", ".join(str(p) for p in paths[:3])
            + (" ..." if len(paths) > 3 else ""),
            "point at templates, serverless.yml, Terraform or task definitions",
        )
    return found


# AWS's answers for a service that this account or region has not turned on: nothing runs
# there, so there is nothing to audit (a warning says so). Any other failure leaves the audit
# incomplete, and a security gate must not pass on an incomplete audit.
NOT_ENABLED_CODES = frozenset({"SubscriptionRequiredException", "OptInRequired"})


def _deployed(target: AwsTarget) -> tuple[list[LiveFunction], list[dict[str, object]]]:
    """Lambda functions and ECS task definitions, and the services that were skipped because
    the account does not use them. A service that cannot be read (denied, throttled or
    failing for good, an answer that breaks the API) is not "nothing found": the first such
    failure is raised (exit 5 or 6), after the parts that were read are shown."""
    from envsecrets.backends.ecs_list import list_task_definitions
    from envsecrets.backends.lambda_list import list_functions

    sources: list[tuple[str, str, Callable[[], list[LiveFunction]]]] = [
        ("lambda", "Lambda functions", lambda: list(list_functions(target))),
        ("ecs", "ECS task definitions", lambda: list_task_definitions(target)),
    ]
    deployed: list[LiveFunction] = []
    skipped: list[dict[str, object]] = []
    for service, what, read in sources:
        try:
            deployed.extend(read())
        except CliError as exc:
            skipped.append(
                {
                    "service": service,
                    "what": what,
                    "code": int(exc.code),
                    "message": exc.message,
                    "not_enabled": _not_enabled(exc),
                    "error": exc,
                }
            )
    if skipped and len(skipped) == len(sources) and not any(p["not_enabled"] for p in skipped):
        error = skipped[0]["error"]
        assert isinstance(error, CliError)
        raise error  # nothing audited: the first failure says why (credentials...)
    return deployed, skipped


def _not_enabled(exc: CliError) -> bool:
    """Whether AWS refused because the service is not turned on for this account or region.
    The AWS error code is read from the botocore error that the one translation replaced
    (backends/aws.py raises its CliError from inside the `except`)."""
    from envsecrets.backends.aws import error_code

    return error_code(exc.__context__) in NOT_ENABLED_CODES if exc.__context__ else False


def _incomplete(skipped: list[dict[str, object]]) -> CliError | None:
    """The failure that makes the audit incomplete (the first), said as one error whose hint
    names every part that was not read; None when only services not in use were skipped."""
    failed = [part for part in skipped if not part["not_enabled"]]
    if not failed:
        return None
    first = failed[0]["error"]
    assert isinstance(first, CliError)
    parts = " and ".join(str(part["what"]) for part in failed)
    return CliError(
        first.code,
        f"the live audit is incomplete: {parts} could not be read ({first.message})",
        (first.hint + "; " if first.hint else "")
        + "the findings above cover only what could be read, so the audit does not pass",
    )


def _show(
    out: Renderer,
    findings: list[Finding],
    fmt: str,
    functions: int,
    skipped: list[dict[str, object]],
    files: list[dict[str, object]],
    errors: list[str],
) -> None:
    if fmt == "json":
        counts = {
            s: sum(1 for f in findings if f.severity == s)
            for s in ("critical", "high", "medium", "low")
        }
        out.json(
            {
                "functions": functions,
                # What was read: each file (or Terraform module folder) and its format.
                "files": files,
                "findings": [f.as_dict() for f in findings],
                "counts": counts,
                # Parts of the account --live could not read: the report is partial.
                "skipped": skipped,
                # Files (Terraform modules) that could not be parsed: not audited, exit 2.
                "errors": errors,
            }
        )
        return
    if fmt == "sarif":
        from envsecrets import __version__
        from envsecrets.core.audit_sarif import to_sarif

        notes = [f"{p['what']} not audited: {p['message']}" for p in skipped]
        notes += [f"not audited: {e}" for e in errors]
        out.json(to_sarif(findings, version=__version__, notes=notes))
        return
    if not findings:
        if any(not part["not_enabled"] for part in skipped):
            # Not a pass: the error that follows says what could not be read.
            out.note(f"no findings in the {functions} function(s) that could be read")
        else:
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
