"""run, export, inject: the developer's loop. A program started with its secrets (as files by
default), values out for tools that insist on them, and templates rendered."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from envsecrets.commands.common import Workspace, YesOption, workspace
from envsecrets.completion import complete_prefix, complete_scope_path
from envsecrets.errors import CliError, ExitCode, ProgramStatus
from envsecrets.readable_help import ReadableCommand

if TYPE_CHECKING:
    from envsecrets.core.injecting import Reference
    from envsecrets.core.scopes import Scope, Variable
    from envsecrets.core.values import SecretValue
    from envsecrets.ui.render import Renderer

ScopeArgument = Annotated[
    str,
    typer.Argument(
        help="ENV or ENV/PREFIX: the secrets below it, e.g. dev or dev/api.",
        autocompletion=complete_prefix,
        show_default=False,
    ),
]
OnlyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--only",
        metavar="PATH",
        help="Only this path below the scope, or everything under it (repeatable).",
        autocompletion=complete_scope_path,
        show_default=False,
    ),
]
ExpandJsonOption = Annotated[
    bool,
    typer.Option(
        "--expand-json",
        help="Also one variable per top-level key of a JSON object secret (DB_CREDS_PASSWORD).",
    ),
]


# The program and its arguments are the command line's extra arguments (ctx.args), everything
# after `--`: read as they are, with none of the per-value validation a typed list argument
# would get (Typer builds a pydantic adapter for one, a tenth of a second of every run).
RUN_CONTEXT = {"allow_extra_args": True}
RUN_EPILOG = (
    "Everything after -- is the program and its arguments, passed as they are: "
    "secrets run dev -- npm start --port 3000. Without --, the program starts at the first "
    "word after SCOPE, and every option after it is the program's."
)


class RunCommand(ReadableCommand):
    """`run`'s usage line ends with the program it starts, and everything from the program's
    name on is the program's, `--` or not."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [*super().collect_usage_pieces(ctx), "-- CMD [ARGS]..."]

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """`secrets run dev ./app.sh --env-vars` must give `--env-vars` to the program, not
        take it: put the `--` the user left out before the first word after SCOPE. (Click's
        `allow_interspersed_args=False` would stop at SCOPE itself, before run's options.)"""
        valued = {
            name
            for param in self.params
            if not getattr(param, "is_flag", True)  # an option that takes a value
            for name in param.opts
        }
        words = 0
        index = 0
        while index < len(args):
            word = args[index]
            if word == "--":
                if words == 0 and index + 1 < len(args):
                    # `secrets run -- echo hi` would take `echo` for the scope.
                    raise CliError(
                        ExitCode.USAGE,
                        "SCOPE is missing before `--`",
                        "name the environment first: `secrets run ENV[/PREFIX] -- CMD ARGS...`",
                    )
                break
            if word.startswith("-") and word != "-":
                index += 2 if word in valued else 1
                continue
            words += 1
            if words == 2:  # SCOPE was the first
                args = [*args[:index], "--", *args[index:]]
                break
            index += 1
        return list(super().parse_args(ctx, args))


def register(app: typer.Typer) -> None:
    """Add this family's commands to the root app."""
    app.command("run", cls=RunCommand, context_settings=RUN_CONTEXT, epilog=RUN_EPILOG)(run_command)
    app.command("export")(export_command)
    app.command("inject")(inject_command)


class ExportFormat(StrEnum):
    """The formats of `secrets export` (core/exporting.py FORMATS)."""

    dotenv = "dotenv"
    json = "json"
    yaml = "yaml"
    shell = "shell"


# -- run ---------------------------------------------------------------------------------------
def run_command(
    ctx: typer.Context,
    scope: ScopeArgument,
    only: OnlyOption = None,
    env_vars: Annotated[
        bool,
        typer.Option(
            "--env-vars",
            help="Put the values in the program's environment (NAME=value) instead of files; "
            "its children and crash reports see them.",
        ),
    ] = False,
    expand_json: ExpandJsonOption = False,
    mask: Annotated[
        bool,
        typer.Option(
            "--mask", help="Replace every secret value in the program's output with ****."
        ),
    ] = False,
    yes: YesOption = False,
) -> None:
    """Start a program (-- CMD [ARGS]...) with the secrets under SCOPE: each as a 0600 file in
    a private folder (NAME_FILE=path, SECRETS_DIR=folder) removed when it exits; no value in
    its environment unless --env-vars. Its exit code is secrets' exit code."""
    from envsecrets.backends.child import check_command
    from envsecrets.core.scopes import (
        Scope,
        mask_patterns,
        names_in_scope,
        read_values,
        refuse_obeyed,
        scope_variables,
    )

    ws = workspace(ctx)
    out = ws.renderer()
    wanted = Scope.parse(scope, only or [])
    ws.environment(wanted.env)
    argv = [str(arg) for arg in ctx.args]
    check_command(argv, os.environ)  # before anything is read: a typo costs no AWS call
    store = ws.store(wanted.env)
    names = names_in_scope(store, wanted)
    if env_vars:
        ws.confirm_if_protected(
            wanted.env,
            f"put {len(names)} secret value(s) of {wanted.prefix} in the environment of {argv[0]}?",
            yes=yes,
        )
    values = read_values(
        store, names, about=_about(wanted), scope=wanted, left_out=_left_out_note(out)
    )
    variables = scope_variables(values, wanted, expand_json=expand_json)
    for warning in refuse_obeyed(variables, wanted, as_files=not env_vars):
        out.warn(warning)
    patterns = mask_patterns(values.values(), expand_json=expand_json) if mask else None
    if env_vars:
        status = _run_with_env_vars(out, argv, variables, patterns)
    else:
        status = _run_with_files(out, argv, variables, patterns)
    if status != 0:
        raise ProgramStatus(status)


def _left_out_note(out: Renderer) -> Callable[[str], None]:
    """Say which listed secret was deleted since the listing (ListSecrets lags)."""
    return lambda name: out.note(f"{name} was deleted after it was listed; left out")


def _about(scope: Scope) -> Callable[[str], str]:
    """How an error names a secret: with the --only that asked for it, if one did."""
    asked = {scope.base(path): path for path in scope.only}

    def about(name: str) -> str:
        return f"{name} (--only {asked[name]})" if name in asked else name

    return about


def _run_with_files(
    out: Renderer, argv: list[str], variables: list[Variable], patterns: list[bytes] | None
) -> int:
    from envsecrets.backends.child import Interrupted, SignalRelay, run_child
    from envsecrets.core.secret_files import folder_place, open_secret_folder

    place = folder_place()
    if not place.memory_backed:
        out.note(
            f"note: no memory-backed filesystem ($XDG_RUNTIME_DIR, /dev/shm): the secret "
            f"files go to {place.parent}, on disk, until {argv[0]} exits"
        )
    shadowed = [v.name for v in variables if v.name in os.environ]
    if shadowed:
        out.warn(
            f"your environment already sets {', '.join(shadowed)}: {argv[0]} may read that "
            "instead of the *_FILE variable"
        )
    env = dict(os.environ)
    with SignalRelay() as relay:
        folder = None
        try:
            folder = open_secret_folder(place)
            for name, path in folder.write(variables).items():
                env[f"{name}_FILE"] = str(path)
            env["SECRETS_DIR"] = str(folder.path)
            return run_child(
                argv,
                env,
                relay,
                mask=patterns,
                stdout=out.passthrough,
                stderr=_to_stderr(out),
                warn=out.warn,
                # The folder lives as long as the program, even if we are killed (SIGKILL).
                inherit=[folder.lock_fd] if folder.lock_fd is not None else [],
            )
        except Interrupted as stop:
            raise CliError(
                ExitCode.INTERRUPTED,
                f"interrupted ({stop}) before {argv[0]} started; no secret file was left behind",
                "run the command again",
            ) from None
        finally:
            if folder is not None:
                folder.remove()


def _run_with_env_vars(
    out: Renderer, argv: list[str], variables: list[Variable], patterns: list[bytes] | None
) -> int:
    from envsecrets.backends.child import Interrupted, SignalRelay, run_child

    env = dict(os.environ)
    for variable in variables:
        env[variable.name] = _environment_text(variable)
    replaced = [v.name for v in variables if v.name in os.environ]
    out.warn(
        f"--env-vars: {len(variables)} secret value(s) are in the environment of {argv[0]}; "
        "its child processes inherit them and /proc or a crash report can show them "
        "(without --env-vars they are files)"
    )
    if replaced:
        out.warn(f"the secrets replace {', '.join(replaced)} from your environment")
    with SignalRelay() as relay:
        try:
            return run_child(
                argv,
                env,
                relay,
                mask=patterns,
                stdout=out.passthrough,
                stderr=_to_stderr(out),
                warn=out.warn,
            )
        except Interrupted as stop:
            raise CliError(
                ExitCode.INTERRUPTED,
                f"interrupted ({stop}) before {argv[0]} started",
                "run the command again",
            ) from None


def _to_stderr(out: Renderer) -> Callable[[bytes], None]:
    def write(data: bytes) -> None:
        out.passthrough(data, stderr=True)

    return write


def _environment_text(variable: Variable) -> str:
    """A value as an environment variable's text; binary values and NULs cannot be one."""
    value = variable.value
    if value.is_binary or "\0" in value.text():
        raise CliError(
            ExitCode.USAGE,
            f"{variable.source} is binary (or holds a NUL); an environment variable cannot hold it",
            "drop --env-vars: files keep exact bytes (read it from $" + variable.name + "_FILE)",
        )
    return value.text()


# -- export ------------------------------------------------------------------------------------
def export_command(
    ctx: typer.Context,
    scope: ScopeArgument,
    fmt: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            "-f",
            help="dotenv, json, yaml or shell (export NAME='...', for eval).",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write to FILE (atomically, mode 0600); - is stdout.",
            readable=False,
        ),
    ] = None,
    only: OnlyOption = None,
    expand_json: ExpandJsonOption = False,
    yes: YesOption = False,
) -> None:
    """Print (or write) the secrets under SCOPE as dotenv, JSON, YAML or shell exports, for
    tools that insist. Values to a terminal, and any export of a protected environment,
    confirm first."""
    from envsecrets.core.exporting import render_export
    from envsecrets.core.scopes import (
        Scope,
        names_in_scope,
        read_values,
        refuse_obeyed,
        scope_variables,
    )

    fmt_name = ExportFormat(fmt).value
    output = _stdout_if_dash(output)
    ws = workspace(ctx)
    out = ws.renderer()
    wanted = Scope.parse(scope, only or [])
    store = ws.store(wanted.env)
    names = names_in_scope(store, wanted)
    to_terminal = _to_terminal(out, output)
    _confirm_values_out(
        ws,
        out,
        [wanted.env],
        f"export {len(names)} secret value(s) of {wanted.prefix} {_where_to(out, output)}?",
        to_terminal=to_terminal,
        yes=yes,
    )
    values = read_values(
        store, names, about=_about(wanted), scope=wanted, left_out=_left_out_note(out)
    )
    variables = scope_variables(values, wanted, expand_json=expand_json)
    if to_terminal:
        _refuse_controls_on_a_terminal([(v.source, v.value) for v in variables])
    for warning in refuse_obeyed(variables, wanted, as_files=False):
        out.warn(warning)
    document = render_export(variables, fmt_name)
    interpolated = [
        v.name for v in variables if fmt_name == "dotenv" and "${" in _text_or_empty(v.value)
    ]
    if interpolated:
        out.warn(
            f"{', '.join(interpolated)} contain '${{': loaders that interpolate (python-dotenv's "
            "default, Docker Compose) will expand it; read the file without interpolation"
        )
    _deliver(out, document, output, f"{len(variables)} variable(s) of {wanted.prefix}")


def _text_or_empty(value: SecretValue) -> str:
    return "" if value.is_binary else value.text()


def _to_terminal(out: Renderer, output: Path | None) -> bool:
    """Whether the values go to a terminal: stdout that is one, or an --output that opens
    one (`/dev/tty`, `/dev/stdout` at a terminal)."""
    from envsecrets.ui.streams import names_a_terminal

    return out.stdout_is_tty if output is None else names_a_terminal(output)


def _refuse_controls_on_a_terminal(values: list[tuple[str, SecretValue]]) -> None:
    """The rule of `get`, for every value written to a terminal: binary, or text with escape
    sequences or other controls, would act on it (clear it, retitle it, fake a line)."""
    for source, value in values:
        if value.has_terminal_controls:
            what = "binary" if value.is_binary else "text with terminal control characters"
            raise CliError(
                ExitCode.USAGE,
                f"{source} is {what}; refusing to write it to a terminal",
                "use --output FILE, or pipe stdout to a file or program",
            )


def _confirm_values_out(
    ws: Workspace, out: Renderer, envs: list[str], question: str, *, to_terminal: bool, yes: bool
) -> None:
    """Values going somewhere less protected: a terminal (where scrollback and screen
    sharing keep them), or anywhere at all out of a protected environment."""
    from envsecrets.ui.prompts import confirm

    protected = [env for env in envs if ws.environment(env).protected]
    if not protected and not to_terminal:
        return
    reasons = [f"'{env}' is a protected environment" for env in protected]
    if to_terminal:
        reasons.append("the values would show on the terminal")
    confirm(question, yes=yes, why="; ".join(reasons))


def _where_to(out: Renderer, output: Path | None) -> str:
    """Where the values go, as a question says it."""
    if output is None:
        return "to the terminal" if out.stdout_is_tty else "to stdout"
    return f"to {output}"


def _deliver(out: Renderer, document: bytes, output: Path | None, what: str) -> None:
    if output is None:
        out.value(document)
        return
    from envsecrets.core.files import write_private_file

    how = write_private_file(output, document)
    out.note(f"wrote {what} to {output} ({how})")


# -- inject ------------------------------------------------------------------------------------
def inject_command(
    ctx: typer.Context,
    input_file: Annotated[
        Path | None,
        typer.Option("--input", "-i", help="The template (default: stdin).", dir_okay=False),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the result to FILE (atomically, mode 0600); - is stdout.",
            readable=False,
        ),
    ] = None,
    yes: YesOption = False,
) -> None:
    """Render a template: {{ secrets://ENV/PATH }} and {{ secrets://ENV/PATH#KEY }} become
    the values. Every reference is read and checked before anything is written; the rest of
    the text is kept byte for byte."""
    from envsecrets.core.injecting import find_references, first_lines, render_template
    from envsecrets.core.scopes import read_values

    output = _stdout_if_dash(output)
    ws = workspace(ctx)
    out = ws.renderer()
    source = str(input_file) if input_file is not None else "<stdin>"
    if output is not None:
        _refuse_output_that_is_input(output, input_file)
    template = _read_template(out, input_file)
    references = find_references(template, source)
    envs: list[str] = []
    for ref in references:
        if ref.name.env not in envs:
            _check_environment(ws, ref.name.env, f"{source}:{ref.line}")
            envs.append(ref.name.env)
    to_terminal = _to_terminal(out, output)
    if references:
        _confirm_values_out(
            ws,
            out,
            envs,
            f"write the values of {len(references)} reference(s) {_where_to(out, output)}?",
            to_terminal=to_terminal,
            yes=yes,
        )
    lines = first_lines(references, source)
    values: dict[str, SecretValue] = {}
    for env in envs:
        names = sorted({str(r.name) for r in references if r.name.env == env})
        values.update(read_values(ws.store(env), names, about=lines.__getitem__))
    rendered = render_template(template, references, values, source)
    if to_terminal:
        _refuse_controls_on_a_terminal(
            [
                (f"{source}:{ref.line}: {ref.name}", _inserted(ref, values, source))
                for ref in references
            ]
        )
    _deliver(out, rendered, output, f"{len(references)} reference(s) of {source}")


def _refuse_output_that_is_input(output: Path, input_file: Path | None) -> None:
    """`inject --input X --output X` (or `< X --output X`) would replace the template with the
    rendered secrets: refused, by resolved path and by inode (a symlink or a hard link)."""
    from envsecrets.core.files import same_file, shown_path

    if input_file is not None:
        same = same_file(output, input_file)
    else:
        try:
            given = os.fstat(sys.stdin.fileno())
            target = output.stat()
        except (OSError, AttributeError, ValueError):  # no stdin, or no such output yet
            same = False
        else:
            same = (given.st_dev, given.st_ino) == (target.st_dev, target.st_ino)
    if same:
        raise CliError(
            ExitCode.USAGE,
            f"--output {shown_path(output)} is the template; the rendered secrets would replace it",
            "write the result to another file, e.g. --output config.yaml",
        )


def _inserted(ref: Reference, values: dict[str, SecretValue], source: str) -> SecretValue:
    """The text a reference put in the output, to check it as a value (bytes that are not
    UTF-8 count as binary)."""
    from envsecrets.core.injecting import resolve
    from envsecrets.core.values import SecretValue

    data = resolve(ref, values, source)
    try:
        return SecretValue(data.decode("utf-8"))
    except UnicodeDecodeError:
        return SecretValue(data)


def _check_environment(ws: Workspace, env: str, where: str) -> None:
    try:
        ws.environment(env)
    except CliError as exc:
        raise CliError(exc.code, f"{where}: {exc.message}", exc.hint) from None


def _stdin_is_open() -> bool:
    """Whether stdin was open when we started: a closed one is replaced at start-up by
    /dev/null opened by name (ui/streams.py), where a real stdin is named `<stdin>`."""
    stdin = sys.stdin
    return stdin is not None and not stdin.closed and getattr(stdin, "name", "") != os.devnull


def _stdout_if_dash(output: Path | None) -> Path | None:
    """`--output -` means stdout, as for most tools (not a file named `-`)."""
    return None if output is not None and str(output) == "-" else output


def _read_template(out: Renderer, path: Path | None) -> bytes:
    from envsecrets.core.injecting import MAX_TEMPLATE_BYTES

    if path is None:
        if not _stdin_is_open():  # `secrets inject <&-`: no input, not an empty template
            raise CliError(
                ExitCode.USAGE,
                "no template: stdin is closed",
                "give the template with --input FILE, or pipe it in",
            )
        if sys.stdin.isatty():
            out.note("reading the template from the terminal; end it with Ctrl-D")
        return sys.stdin.buffer.read(MAX_TEMPLATE_BYTES + 1)
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_TEMPLATE_BYTES + 1)
    except FileNotFoundError:
        raise CliError(
            ExitCode.NOT_FOUND, f"--input: {path} does not exist", "check the template's path"
        ) from None
    except OSError as exc:
        raise CliError(
            ExitCode.USAGE,
            f"--input: cannot read {path} ({exc.strerror})",
            "check that your user can read the file",
        ) from None
