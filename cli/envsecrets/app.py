"""Typer wiring only: the root app, global options, command registration, and the one place
that turns exceptions into messages and exit codes.

Importing this module must stay cheap: command modules import boto3, questionary and keyring
inside their functions, so `secrets --help` and shell completion never load them.

Start-up is measured (tests/bench/bench_startup.py): the console script builds only the one
command family that the command line names (secret.py's everyday commands when it names none
of the others); the rest are imported and built when needed (help, completion, unknown names).
`from envsecrets.app import app` gives the complete CLI, every family registered.
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from envsecrets import __version__
from envsecrets.commands.common import Globals, Workspace
from envsecrets.errors import CliError, ExitCode
from envsecrets.ui.render import render_crash, render_error

# Every command family (a module of envsecrets.commands with a register(app)), in the order of
# the complete CLI's help.
FAMILIES = ("secret", "run", "rotate", "diff", "migrate", "policy", "audit", "setup")

# The family of each root command word. Only a shortcut for the console script: a word it does
# not know builds secret.py, and a word missing from the family built loads the complete CLI,
# so a stale entry costs time, never correctness (test_startup checks the table anyway).
FAMILY_OF_COMMAND = {
    **dict.fromkeys(("set", "get", "list", "show", "history", "delete", "restore"), "secret"),
    **dict.fromkeys(("run", "export", "inject"), "run"),
    "rotate": "rotate",
    **dict.fromkeys(("diff", "copy", "check", "replicate"), "diff"),
    "migrate": "migrate",
    "policy": "policy",
    "audit": "audit",
    **dict.fromkeys(("init", "doctor", "emulator"), "setup"),
}

# Root options that take a value: the word after them is not a command.
ROOT_OPTIONS_WITH_VALUE = ("--config", "--profile", "--region", "--timeout")
# Eager root options that need no command built (help builds the complete CLI itself).
ROOT_OPTIONS_ANSWERING_ALONE = ("--version", "--help", "-h")


class DeferringGroup(TyperGroup):
    """A group whose commands get the deferred coercion of `_defer_type_adapters` as they are
    resolved. The root is one; sub-groups (`secrets migrate ...`) are made one on registration."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            # Typer makes --help lazily; make it now (its names come from this context, as the
            # command's own context inherits them) so that it gets the deferred coercion too.
            _defer_type_adapters([*command.params, command.get_help_option(ctx)])
        return command


class SecretsGroup(DeferringGroup):
    """The root command: runs everything in non-standalone mode and maps every outcome to
    one line on stderr and a documented exit code."""

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


class PartialSecretsGroup(SecretsGroup):
    """The console script's root: one family built; the complete CLI merged in when the command
    line asks for a command of another family or for the list of commands (help, completion)."""

    _complete = False

    def _load_every_family(self) -> None:
        if not self._complete:
            self._complete = True
            # The complete CLI's order (that of its help), keeping the commands already built.
            every = _complete_group().commands
            self.commands = {name: self.commands.get(name, every[name]) for name in every}

    def list_commands(self, ctx: Any) -> list[str]:
        self._load_every_family()
        return super().list_commands(ctx)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is None and not self._complete:
            self._load_every_family()
            command = super().get_command(ctx, cmd_name)
        return command


def _defer_type_adapters(params: Sequence[Any]) -> None:
    """Build Typer's pydantic coercion only for parameters that need it.

    Typer (0.2x) coerces every parameter through a pydantic TypeAdapter, built on first use even
    for options left at their default. Importing pydantic and building a dozen adapters costs
    about 0.15 s of every run - a third of `secrets get`. The values that `DeferredCoercion`
    lets through are those for which Typer's adapter provably returns the value unchanged;
    anything else (paths, enums, lists, numbers typed on the command line, values out of a
    declared range) still gets Typer's own adapter, built when such a value arrives. With a
    Typer that lacks this machinery, nothing changes.
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
        from typer._click.core import ParameterSource
        from typer._coercion import RuntimeParam, build_runtime_param
        from typer.core import _TyperParameter
    except ImportError:
        return None

    defaults = {ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP}

    class DeferredCoercion(RuntimeParam):
        """Typer's coercion, skipped where it would return the value as it is (typer 0.29's
        `_coercion.build_runtime_param` and `_adapters.build_leaf_adapter`):

        - None: `RuntimeParam.coerce` returns None (or () when multi-valued) before any adapter.
        - A str for a `str`: the adapter is `str(value)`.
        - A bool for a `bool`: the adapter (`_parse_cli_bool`, then bool) keeps a bool as it is.
          `_TyperParameter.process_value` already skips bools; this keeps it so if that moves.
        - An int for an `int`, a float for a `float`, from the parameter's default (or a
          default_map): the adapter validates the number against min/max (clamping if asked).
          Within the range it returns the same number; outside it, Typer's adapter decides.

        Only exact types count (an int default for a `float` becomes a float through pydantic),
        and never with a custom `parser` (which runs before any of these). Paths, enums,
        literals, lists, tuples, datetimes and files keep Typer's adapter, defaults included:
        their adapters convert (str -> Path, name -> member, list -> tuple ...).
        """

        def coerce(self, value: Any, param: _TyperParameter, ctx: Any) -> Any:
            if value is None or self._unchanged_by_typer(value, param, ctx):
                return super().coerce(value, param=param, ctx=ctx)
            param._runtime_param = build_runtime_param(param.type_descriptor)
            return param._runtime_param.coerce(value, param=param, ctx=ctx)

        def _unchanged_by_typer(self, value: Any, param: _TyperParameter, ctx: Any) -> bool:
            info = self.parameter_info
            if info.parser is not None or type(value) is not self.annotation:
                return False
            if self.annotation is str or self.annotation is bool:
                return True
            if self.annotation is int or self.annotation is float:
                in_range = (info.min is None or value >= info.min) and (
                    info.max is None or value <= info.max
                )
                return in_range and ctx.get_parameter_source(param.name) in defaults
            return False

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
        # The reader went away (`secrets list | head -1`): it took what it wanted, which is
        # not a failure of ours (0, no message, as `cat` and `git log` do).
        _forget_stdout()
        return int(ExitCode.OK)
    except SystemExit as exc:
        # Typer's main meets a closed pipe first and exits 1 itself: the same case.
        if not isinstance(exc.__context__, BrokenPipeError):
            raise
        _forget_stdout()
        return int(ExitCode.OK)
    except Exception as exc:
        render_crash(exc, debug=debug, json_mode=json_mode)
        return int(ExitCode.FAILED)
    if result == 130:
        render_error(CliError(ExitCode.INTERRUPTED, "interrupted", RERUN_HINT), json_mode=json_mode)
    return result if isinstance(result, int) else int(ExitCode.OK)


def _forget_stdout() -> None:
    """Point stdout's descriptor at /dev/null: what is still buffered for a closed pipe is
    dropped there at exit, instead of failing again ("Exception ignored", exit 120)."""
    import os

    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass  # no descriptor (a stand-in stream): nothing will be flushed to a pipe


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"secrets (envsecrets) {__version__}\n")
        raise typer.Exit(0)


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
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            help="Give up waiting for AWS after this long (exit 6): per call, or for the whole "
            "command when it works on one secret. Default: ENVSECRETS_TIMEOUT, else 30.",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Keep application secrets in AWS Secrets Manager, namespaced by environment
    (`prod/api/stripe-key`)."""
    options = Globals(config=config, profile=profile, region=region, debug=debug)
    options.timeout = timeout
    if isinstance(ctx.obj, Workspace):
        # Run with a Workspace of the caller's (`obj=`: a program embedding the CLI, a test):
        # keep it, and with it the streams it gives; the options are this command line's.
        ctx.obj.options = options
    else:
        ctx.obj = Workspace(options)


def _root_app(cls: type[SecretsGroup]) -> typer.Typer:
    """The root command with its global options and no command yet."""
    app = typer.Typer(
        cls=cls,
        name="secrets",
        help="Keep application secrets in AWS Secrets Manager, namespaced by environment.",
        no_args_is_help=True,
        add_completion=True,
        # Locals hold secret values: never print them in a traceback.
        pretty_exceptions_enable=False,
        pretty_exceptions_show_locals=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(root)
    return app


def _register(app: typer.Typer, families: Sequence[str]) -> typer.Typer:
    """Import each family's module and add its commands to `app`."""
    for family in families:
        importlib.import_module(f"envsecrets.commands.{family}").register(app)
    _defer_in_subgroups(app)
    return app


def _defer_in_subgroups(app: typer.Typer) -> None:
    """Sub-groups left to Typer's default class resolve their commands as the root does."""
    from typer.main import solve_typer_info_defaults

    for info in app.registered_groups:
        if info.typer_instance is None:
            continue
        if solve_typer_info_defaults(info).cls in (None, TyperGroup):
            info.cls = DeferringGroup
        _defer_in_subgroups(info.typer_instance)


@cache
def _complete_app() -> typer.Typer:
    """The complete CLI: every command family registered on the root app (once)."""
    return _register(_root_app(SecretsGroup), FAMILIES)


@cache
def _complete_group() -> TyperGroup:
    group = typer.main.get_command(_complete_app())
    assert isinstance(group, TyperGroup)
    return group


def __getattr__(name: str) -> Any:
    """`from envsecrets.app import app` (tests, docs, completions): the complete CLI."""
    if name == "app":
        return _complete_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _named_families(argv: Sequence[str]) -> list[str]:
    """The family of the command that argv names after the root options; secret.py's when it
    names none we know (completion and typos get the complete CLI on demand). None for the
    root's --version (it answers before any command) and --help (it lists them all)."""
    words = iter(argv)
    for word in words:
        if word in ROOT_OPTIONS_WITH_VALUE:
            next(words, None)
        elif word in ROOT_OPTIONS_ANSWERING_ALONE:
            return []
        elif not word.startswith("-"):
            return [FAMILY_OF_COMMAND.get(word, "secret")]
    return ["secret"]


def main() -> None:
    """The `secrets` console script: builds the family that the command line names, loading
    the others only on demand."""
    try:
        _register(_root_app(PartialSecretsGroup), _named_families(sys.argv[1:]))()
    finally:
        # On the way out, Python's last garbage collections walk every object botocore loaded
        # (its models and endpoints: ~100 ms, a fifth of `secrets get`). Frozen objects are
        # skipped; all else still happens (atexit handlers, flushes, reference-count clean-up).
        gc.freeze()
