"""Typer wiring only: the root app, global options, command registration, and the one place
that turns exceptions into messages and exit codes.

Importing this module must stay cheap: command modules import boto3, questionary and keyring
inside their functions, so `secrets --help` and shell completion never load them.

Start-up is measured (tests/bench/bench_startup.py): the console script builds only the
everyday commands of secret.py; the other families are imported and built when the command
line names one of them, or asks for the list (help, completion). `from cli.app import app`
gives the complete CLI, every family registered.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cli import __version__
from cli.commands import secret
from cli.commands.common import Globals, Workspace
from cli.errors import CliError, ExitCode
from cli.ui.render import render_crash, render_error


class SecretsGroup(TyperGroup):
    """The root command: runs everything in non-standalone mode and maps every outcome to
    one line on stderr and a documented exit code."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Built by the console script before the other families were registered: they are
        # merged in from the complete CLI when first needed.
        self._partial = not _families_registered

    def _load_every_family(self) -> None:
        if self._partial:
            self._partial = False
            for name, command in _complete_group().commands.items():
                self.commands.setdefault(name, command)

    def list_commands(self, ctx: Any) -> list[str]:
        self._load_every_family()
        return super().list_commands(ctx)

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        _defer_type_adapters(self.params)
        json_mode = "--json" in argv
        debug = "--debug" in argv
        code = _run(self, argv, prog_name, complete_var, json_mode, debug, extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        _defer_type_adapters([option])
        return option

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is None and self._partial:
            self._load_every_family()
            command = super().get_command(ctx, cmd_name)
        if command is not None:
            # Typer makes --help lazily; make it now (its names come from this context, as the
            # command's own context inherits them) so that it gets the deferred coercion too.
            _defer_type_adapters([*command.params, command.get_help_option(ctx)])
        return command


def _defer_type_adapters(params: Sequence[Any]) -> None:
    """Build Typer's pydantic coercion only for parameters that need it.

    Typer (0.2x) coerces every parameter through a pydantic TypeAdapter, built on first use even
    for options left at their default. Importing pydantic and building a dozen adapters costs
    about 0.15 s of every run - a third of `secrets get`. Absent values and plain strings need
    no coercion (argv is already str), so they skip it; anything else (paths, numbers with
    ranges, lists) still gets Typer's own adapter, built when such a value arrives. With a Typer
    that lacks this machinery, nothing changes.
    """
    deferred = _deferred_coercion()
    if deferred is None:
        return
    from typer.core import _TyperParameter

    for param in params:
        if isinstance(param, _TyperParameter) and param._runtime_param is None:
            descriptor = param.type_descriptor
            param._runtime_param = deferred(
                parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
            )


@cache
def _deferred_coercion() -> Any:
    try:
        from typer._coercion import RuntimeParam, build_runtime_param
        from typer.core import _TyperParameter
    except ImportError:
        return None

    class DeferredCoercion(RuntimeParam):
        def coerce(self, value: Any, param: _TyperParameter, ctx: Any) -> Any:
            plain = isinstance(value, str) and self.annotation is str
            if value is None or (plain and self.parameter_info.parser is None):
                return super().coerce(value, param=param, ctx=ctx)
            param._runtime_param = build_runtime_param(param.type_descriptor)
            return param._runtime_param.coerce(value, param=param, ctx=ctx)

        def _coerce_value(self, value: Any, param: _TyperParameter, ctx: Any) -> Any:
            return value

    return DeferredCoercion


# Writes are idempotent (a second run finds what the first finished); an interrupted rotation
# raises its own error, naming --resume / --cancel.
RERUN_HINT = "run the same command again to finish what it started"


def _run(
    group: TyperGroup,
    argv: list[str],
    prog_name: str | None,
    complete_var: str | None,
    json_mode: bool,
    debug: bool,
    extra: dict[str, Any],
) -> int:
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

    try:
        result = TyperGroup.main(
            group,
            args=argv,
            prog_name=prog_name or "secrets",
            complete_var=complete_var,
            standalone_mode=False,
            **extra,
        )
    except CliError as error:
        render_error(error, json_mode=json_mode)
        return int(error.code)
    except NoArgsIsHelpError as exc:
        # A bare group (`secrets`, `secrets migrate`): the help is the answer, with no error line.
        # Typer's rich help prints itself while the message is built, leaving it empty.
        if exc.format_message():
            exc.show()
        return int(ExitCode.USAGE)
    except UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "secrets"
        render_error(
            CliError(ExitCode.USAGE, exc.format_message(), f"see `{command} --help`"),
            json_mode=json_mode,
        )
        return int(ExitCode.USAGE)
    except ClickException as exc:
        render_error(
            CliError(ExitCode.USAGE, exc.format_message(), "see `secrets --help`"),
            json_mode=json_mode,
        )
        return int(ExitCode.USAGE)
    except (KeyboardInterrupt, typer.Abort):
        render_error(CliError(ExitCode.INTERRUPTED, "interrupted", RERUN_HINT), json_mode=json_mode)
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        return int(ExitCode.FAILED)
    except Exception as exc:
        render_crash(exc, debug=debug, json_mode=json_mode)
        return int(ExitCode.FAILED)
    if result == 130:
        render_error(CliError(ExitCode.INTERRUPTED, "interrupted", RERUN_HINT), json_mode=json_mode)
    return result if isinstance(result, int) else int(ExitCode.OK)


_app = typer.Typer(
    cls=SecretsGroup,
    name="secrets",
    help="Keep application secrets in AWS Secrets Manager, namespaced by environment.",
    no_args_is_help=True,
    add_completion=True,
    # Locals hold secret values: never print them in a traceback.
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"secrets (envsecrets) {__version__}\n")
        raise typer.Exit(0)


@_app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Path to secrets.toml (default: the nearest one at or above the current folder).",
            dir_okay=False,
        ),
    ] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", help="AWS profile for every environment.")
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="AWS region for every environment.")
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of unexpected errors (never values).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Keep application secrets in AWS Secrets Manager, namespaced by environment
    (`prod/api/stripe-key`)."""
    ctx.obj = Workspace(Globals(config=config, profile=profile, region=region, debug=debug))


secret.register(_app)
_families_registered = False


def _register_families() -> typer.Typer:
    """The complete CLI: every command family registered on the root app (once)."""
    global _families_registered
    if not _families_registered:
        from cli.commands import audit, diff, migrate, policy, rotate, setup

        for module in (rotate, diff, migrate, policy, audit, setup):
            module.register(_app)
        _families_registered = True
    return _app


@cache
def _complete_group() -> TyperGroup:
    group = typer.main.get_command(_register_families())
    assert isinstance(group, TyperGroup)
    return group


def __getattr__(name: str) -> Any:
    """`from cli.app import app` (tests, docs, completions): the complete CLI."""
    if name == "app":
        return _register_families()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """The `secrets` console script: the everyday commands, the others on demand."""
    try:
        _app()
    finally:
        # On the way out, Python's last garbage collections walk every object botocore loaded
        # (its models and endpoints: ~100 ms, a fifth of `secrets get`). Frozen objects are
        # skipped; all else still happens (atexit handlers, flushes, reference-count clean-up).
        gc.freeze()
