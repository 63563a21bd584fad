"""What every command shares: the global options, `--json`/`--yes`, and the workspace that
turns an environment name into its settings and its store.

Backends are imported inside methods, so building the CLI (and `--help`) never imports boto3.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from envsecrets.core.config import Config, EnvironmentConfig, find_config, load_config
from envsecrets.errors import CliError, ExitCode
from envsecrets.ui.render import Renderer
from envsecrets.ui.streams import Streams

if TYPE_CHECKING:
    from envsecrets.backends.aws import AwsTarget
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


@dataclass
class Workspace:
    """One run's view of the world: config, environments and their stores, and the streams
    its output goes to (the process's own unless a caller gives others: the root command
    keeps a Workspace passed as `obj`, e.g. `CliRunner().invoke(app, args, obj=...)`)."""

    options: Globals = field(default_factory=Globals)
    _targets: dict[str, AwsTarget] = field(default_factory=dict)
    streams: Streams = field(default_factory=Streams.of_process)

    def renderer(self, json_mode: bool = False) -> Renderer:
        """The command's output, on this run's streams."""
        return Renderer(json_mode=json_mode, streams=self.streams)

    @cached_property
    def config(self) -> Config:
        return load_config(find_config(Path.cwd(), self.options.config))

    def environment(self, name: str) -> EnvironmentConfig:
        """Settings for `name` (refused when secrets.toml declares others)."""
        return self.config.environment(name)

    def target(self, env: str) -> AwsTarget:
        """Where `env` lives: --profile/--region win over secrets.toml, which wins over AWS's
        own defaults (AWS_PROFILE, AWS_REGION, ~/.aws/config)."""
        if env not in self._targets:
            from envsecrets.backends.aws import AwsTarget

            settings = self.environment(env)
            self._targets[env] = AwsTarget(
                label=env,
                region=self.options.region or settings.region,
                profile=self.options.profile or settings.profile,
                role_arn=settings.role_arn,
                mfa_serial=settings.mfa_serial,
                mfa_code=partial(_ask_mfa_code, streams=self.streams),
            )
        return self._targets[env]

    def store(self, env: str, *, bulk: bool = False, pool: int = 10) -> SecretStore:
        """The secret store for `env`."""
        settings = self.environment(env)
        if settings.backend == "keyring":
            from envsecrets.backends.keyring_store import KeyringStore

            return KeyringStore(env)
        if settings.backend != "aws":
            raise CliError(
                ExitCode.USAGE,
                f"environment '{env}' uses backend '{settings.backend}', which this version "
                "cannot reach",
                'set backend = "aws" or backend = "keyring" in secrets.toml',
            )
        from envsecrets.backends.secretsmanager import SecretsManagerStore

        # The store says so (one line on stderr) when it must read one secret at a time.
        return SecretsManagerStore(
            self.target(env), bulk=bulk, pool=pool, notify=self.renderer().warn
        )

    def default_store(self) -> SecretStore:
        """The store of AWS's default session, for commands not tied to one environment."""
        from envsecrets.backends.aws import AwsTarget
        from envsecrets.backends.secretsmanager import SecretsManagerStore

        target = AwsTarget(
            label="default", region=self.options.region, profile=self.options.profile
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
    return found


def renderer(json_mode: bool = False) -> Renderer:
    """Output on the process's own streams, for a command without a workspace (`emulator`);
    the others use `workspace(ctx).renderer(...)`, which honours the run's streams."""
    return Renderer(json_mode=json_mode)


def stdin_is_tty() -> bool:
    return sys.stdin.isatty()
