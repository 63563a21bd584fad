"""Typer wiring only: the root app, global options, command registration, and the one place
that turns exceptions into messages and exit codes.

Importing this module must stay cheap: command modules import boto3, questionary and keyring
inside their functions, so `secrets --help` and shell completion never load them.

Start-up is measured (tests/bench/bench_startup.py): the console script imports only the one
command family that the command line names (secret.py's everyday commands when it names none
of the others) and builds only the command it names; the rest are imported and built when
needed (help, completion, unknown names). It runs with the garbage collector off until the
command's work starts. `from envsecrets.app import app` gives the complete CLI, every family
registered. Typer's public API only: no private Typer module or attribute.
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
from typer.core import TyperCommand, TyperGroup

from envsecrets import __version__
from envsecrets.commands.common import Globals, Workspace
from envsecrets.errors import CliError, ExitCode, ProgramStatus
from envsecrets.readable_help import ReadableCommand, ReadableGroup
from envsecrets.stopping import stop_on_signals
from envsecrets.ui.render import render_crash, render_error
from envsecrets.ui.streams import prepare_standard_streams

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
ROOT_OPTIONS = (*ROOT_OPTIONS_WITH_VALUE, "--debug")
# Eager root options that need no command built (help builds the complete CLI itself).
ROOT_OPTIONS_ANSWERING_ALONE = ("--version", "--help", "-h")


class SecretsGroup(ReadableGroup):
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
        prepare_standard_streams()
        ours = _own_arguments(argv)
        json_mode = "--json" in ours
        debug = "--debug" in ours
        # SIGTERM and SIGHUP stop a command as Ctrl-C does (its own clean-up and message).
        with stop_on_signals():
            code = _run(self, argv, prog_name, complete_var, json_mode, debug, extra)
        if standalone_mode:
            sys.exit(code)
        return code


def _own_arguments(argv: list[str]) -> list[str]:
    """The words before `--`: after it they belong to the program `secrets run` starts, so
    its own `--json` or `--debug` does not change how we report errors."""
    return argv[: argv.index("--")] if "--" in argv else argv


class SecretsCommand(ReadableCommand):
    """Every command: readable help (ReadableCommand), and its work done with the garbage
    collector on (see `main`)."""

    def invoke(self, ctx: Any) -> Any:
        _collect_garbage_from_here_on()
        return super().invoke(ctx)


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


# Writes are idempotent (a second run finds what the first finished); an interrupted rotation
# raises its own error, naming --resume / --cancel.
RERUN_HINT = "run the same command again to finish what it started"
# Commands that only read (files, or AWS): an interrupted one has nothing to finish.
READ_ONLY_COMMANDS = frozenset({"audit", "policy"})
READ_ONLY_HINT = "nothing was changed: run the command again"


def _interrupted(argv: list[str]) -> CliError:
    command, _alone = _named_command(argv)
    hint = READ_ONLY_HINT if command in READ_ONLY_COMMANDS else RERUN_HINT
    return CliError(ExitCode.INTERRUPTED, "interrupted", hint)


def _run(
    group: TyperGroup,
    argv: list[str],
    prog_name: str | None,
    complete_var: str | None,
    json_mode: bool,
    debug: bool,
    extra: dict[str, Any],
) -> int:
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
    except typer.TyperException as exc:
        return _usage_error(exc, json_mode)
    except (KeyboardInterrupt, typer.Abort):
        render_error(_interrupted(argv), json_mode=json_mode)
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
    except ProgramStatus as handed_on:  # `run`'s program's own status: no word of ours
        return handed_on.status
    except Exception as exc:
        render_crash(exc, debug=debug, json_mode=json_mode)
        return int(ExitCode.FAILED)
    if result == ExitCode.INTERRUPTED:  # Typer turns a KeyboardInterrupt into this status
        render_error(_interrupted(argv), json_mode=json_mode)
    return result if isinstance(result, int) else int(ExitCode.OK)


def _usage_error(exc: typer.TyperException, json_mode: bool) -> int:
    """Typer's own errors: a bad flag or value, a missing argument, an unknown command, a file
    it could not open. Typer makes them all `typer.TyperException`s (its subclasses, click's
    UsageError and friends, are private to it); each is the user's to fix: exit 2."""
    message = exc.format_message()
    if not message.strip():
        # A bare group whose class is not ours: Typer's rich help has printed itself.
        return int(ExitCode.USAGE)
    # click's usage errors carry the context of the command that failed, for the hint.
    command_path = getattr(getattr(exc, "ctx", None), "command_path", None)
    if not isinstance(command_path, str) or not command_path:
        command_path = "secrets"
    hint = f"see `{command_path} --help`"
    unknown = getattr(exc, "option_name", None)
    if unknown in ROOT_OPTIONS and command_path != "secrets":
        # `secrets list --region X`: a global option given after the command.
        value = " VALUE" if unknown in ROOT_OPTIONS_WITH_VALUE else ""
        rest = command_path.removeprefix("secrets ")
        hint = (
            f"{unknown} is a global option: put it before the command "
            f"(`secrets {unknown}{value} {rest} ...`)"
        )
    render_error(CliError(ExitCode.USAGE, message, hint), json_mode=json_mode)
    return int(ExitCode.USAGE)


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
        try:
            sys.stdout.write(f"secrets (envsecrets) {__version__}\n")
            sys.stdout.flush()
        except OSError as exc:  # stdout closed or full: said like the renderer says it
            raise CliError(
                ExitCode.FAILED,
                f"cannot write the output: {exc.strerror}",
                "check where stdout goes (a closed descriptor, a full disk)",
            ) from None
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
    if region is not None:
        from envsecrets.core.config import validate_region

        validate_region(region, "--region")
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
    _our_classes_everywhere(app)
    return app


def _our_classes_everywhere(app: typer.Typer) -> None:
    """Commands and sub-groups registered without a class of their own get ours (readable
    help, see readable_help.py), so a command module needs to know nothing about them."""
    from typer.main import solve_typer_info_defaults

    for command in app.registered_commands:
        if command.cls in (None, TyperCommand):
            command.cls = SecretsCommand
        elif not issubclass(command.cls, SecretsCommand):
            # A command with a class of its own (run's usage line) still works as ours do.
            command.cls = type(command.cls.__name__, (SecretsCommand, command.cls), {})
    for group in app.registered_groups:
        if group.typer_instance is None:
            continue
        if solve_typer_info_defaults(group).cls in (None, TyperGroup):
            group.cls = ReadableGroup
        _our_classes_everywhere(group.typer_instance)


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


def _named_command(argv: Sequence[str]) -> tuple[str | None, bool]:
    """The root command word that argv names after the root options (None if none: a bare
    `secrets`, completion), and whether a root option that answers alone (--version, --help)
    comes before it."""
    words = iter(argv)
    for word in words:
        if word in ROOT_OPTIONS_WITH_VALUE:
            next(words, None)
        elif word in ROOT_OPTIONS_ANSWERING_ALONE:
            return None, True
        elif not word.startswith("-"):
            return word, False
    return None, False


def _named_families(command: str | None, answering_alone: bool) -> list[str]:
    """The family of the command that argv names; secret.py's when it names none we know
    (completion and typos get the complete CLI on demand). None for the root's --version (it
    answers before any command) and --help (it lists them all)."""
    if answering_alone:
        return []
    return [FAMILY_OF_COMMAND.get(command, "secret") if command else "secret"]


def _only(app: typer.Typer, command: str | None) -> typer.Typer:
    """Keep the one command (or group) that the command line names: Typer builds every command
    registered, each parameter's coercion included, and this run needs one. A name that is
    none of them leaves none, and the complete CLI is loaded on demand."""
    if command is not None:
        app.registered_commands[:] = [c for c in app.registered_commands if c.name == command]
        app.registered_groups[:] = [g for g in app.registered_groups if g.name == command]
    return app


def main() -> None:
    """The `secrets` console script: builds the family that the command line names, loading
    the others only on demand."""
    # Start-up (Typer, the pydantic that its coercion imports, our modules) allocates objects
    # that all live until exit: the garbage collector's passes over them find nothing and cost
    # ~30 ms of `secrets get`. It is off until the command starts its work (SecretsCommand).
    gc.disable()
    try:
        command, answering_alone = _named_command(sys.argv[1:])
        families = _named_families(command, answering_alone)
        _only(_register(_root_app(PartialSecretsGroup), families), command)()
    finally:
        # On the way out, Python's last garbage collections walk every object botocore loaded
        # (its models and endpoints: ~100 ms, a fifth of `secrets get`). Frozen objects are
        # skipped; all else still happens (atexit handlers, flushes, reference-count clean-up).
        gc.freeze()


def _collect_garbage_from_here_on() -> None:
    """Turn the collector back on for the command's own work (bulk commands run for minutes),
    leaving out the start-up's objects: frozen, later passes never walk them again. A no-op
    unless `main` turned it off (in-process tests run commands with it on)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
