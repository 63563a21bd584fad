"""What every command shares: the global options, `--json`/`--yes`, and the workspace that
turns an environment name into its settings and its store.

An environment is opened as the public API opens it (`envsecrets.api.Environment`): a script
and a command reach the same store the same way. Backends are imported inside methods, so
building the CLI (and `--help`) never imports boto3.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from envsecrets.core.config import Config, EnvironmentConfig, find_config, load_config
from envsecrets.ui.render import Renderer
from envsecrets.ui.streams import Streams

if TYPE_CHECKING:
    from envsecrets.api import Environment
    from envsecrets.backends.aws import AwsTarget
    from envsecrets.backends.deadline import AwsDeadline
    from envsecrets.core.store import SecretStore

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
YesOption = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Confirm without asking (required without a terminal)."),
]


@dataclass
class Globals:
    """The root options: --config, --profile, --region, --debug."""

    config: Path | None = None
    profile: str | None = None
    region: str | None = None
    debug: bool = False
    timeout: float | None = None  # seconds to wait for AWS (None: ENVSECRETS_TIMEOUT or 30)


@dataclass
class Workspace:
    """One run's view of the world: config, environments and their stores, and the streams
    its output goes to (the process's own unless a caller gives others: the root command
    keeps a Workspace passed as `obj`, e.g. `CliRunner().invoke(app, args, obj=...)`)."""

    options: Globals = field(default_factory=Globals)
    _opened: dict[str, Environment] = field(default_factory=dict)
    streams: Streams = field(default_factory=Streams.of_process)

    def renderer(self, json_mode: bool = False) -> Renderer:
        """The command's output, on this run's streams."""
        return Renderer(json_mode=json_mode, streams=self.streams)

    @cached_property
    def deadline(self) -> AwsDeadline:
        """How long this run's AWS calls may take (backends/deadline.py), shared by every
        environment's target."""
        from envsecrets.backends.deadline import AwsDeadline, timeout_from

        return AwsDeadline(timeout_from(self.options.timeout), on_wait=self._say_waiting)

    def one_secret_command(self) -> None:
        """This command works on one secret: its AWS calls share one deadline, rather than
        one each (DESIGN.md: one-secret commands have an overall deadline)."""
        self.deadline.whole_command()

    def _say_waiting(self, endpoint: str, seconds_left: float) -> None:
        # Only a person at a terminal needs to hear it; a script gets the exit code.
        if self.streams.stderr_isatty:
            self.renderer().note(f"waiting for AWS ({endpoint}); giving up in {seconds_left:.0f} s")

    def close(self) -> None:
        """The run is over: stop watching any AWS call still in progress."""
        if "deadline" in self.__dict__:
            self.deadline.close()

    @cached_property
    def config(self) -> Config:
        return load_config(find_config(Path.cwd(), self.options.config))

    def open(self, env: str) -> Environment:
        """Environment `env` as the public API opens it, once per run: --profile/--region
        win over secrets.toml, which wins over AWS's own defaults (AWS_PROFILE, AWS_REGION,
        ~/.aws/config); an MFA code is asked on the terminal."""
        if env not in self._opened:
            from envsecrets.api import Environment

            self._opened[env] = Environment(
                self.config.environment(env),
                region=self.options.region,
                profile=self.options.profile,
                mfa_code=partial(_ask_mfa_code, streams=self.streams),
                deadline=self.deadline,
            )
        return self._opened[env]

    def environment(self, name: str) -> EnvironmentConfig:
        """Settings for `name` (refused when secrets.toml declares others)."""
        return self.open(name).settings

    def target(self, env: str) -> AwsTarget:
        """Where `env` lives in AWS."""
        return self.open(env)._target()

    def store(self, env: str, *, bulk: bool = False, pool: int = 10) -> SecretStore:
        """The secret store for `env`."""
        # The store says so (one line on stderr) when it must read one secret at a time.
        return self.open(env)._store(bulk=bulk, pool=pool, notify=self.renderer().warn)

    def default_store(self) -> SecretStore:
        """The store of AWS's default session, for commands not tied to one environment."""
        from envsecrets.backends.aws import AwsTarget
        from envsecrets.backends.secretsmanager import SecretsManagerStore

        target = AwsTarget(
            label="default",
            region=self.options.region,
            profile=self.options.profile,
            deadline=self.deadline,
        )
        return SecretsManagerStore(target)

    def confirm_if_protected(self, env: str, question: str, *, yes: bool) -> None:
        """Ask before changing a protected environment; without a terminal require --yes."""
        if self.environment(env).protected:
            from envsecrets.ui.prompts import confirm

            confirm(
                question,
                yes=yes,
                why=f"'{env}' is a protected environment",
                streams=self.streams,
            )


def _ask_mfa_code(serial: str, *, streams: Streams) -> str:
    from envsecrets.ui.prompts import ask_text

    return ask_text(f"MFA code for {serial} (6 digits):", streams=streams)


def workspace(ctx: typer.Context) -> Workspace:
    """The run's workspace, made by the root callback."""
    root = ctx.find_root()
    if not isinstance(root.obj, Workspace):  # a command invoked without the root app
        root.obj = Workspace()
    found: Workspace = root.obj
    root.call_on_close(found.close)
    return found


def renderer(json_mode: bool = False) -> Renderer:
    """Output on the process's own streams, for a command without a workspace (`emulator`);
    the others use `workspace(ctx).renderer(...)`, which honours the run's streams."""
    return Renderer(json_mode=json_mode)


def stdin_is_tty() -> bool:
    return sys.stdin.isatty()
