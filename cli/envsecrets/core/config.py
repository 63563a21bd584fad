"""`secrets.toml`: environments and the secrets each function needs.

The file is optional. Without it any environment works with the default AWS session; with it,
environments it does not declare are refused (that catches `prdo/api/key`). Errors name the
file and the key so that a typo is a one-line fix.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envsecrets.core.names import ENV_PATTERN, SecretName, printable
from envsecrets.errors import CliError, ExitCode

CONFIG_FILENAME = "secrets.toml"
BACKENDS = ("aws", "keyring")
FUNCTION_KINDS = ("lambda", "task")
# Lambda's rule for function names (ECS families: the same characters, up to 255). Names are
# rendered into IAM, CloudFormation and Terraform text, so nothing else may pass.
FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
TASK_FAMILY = re.compile(r"[A-Za-z0-9_-]{1,255}")


def default_protected(env: str) -> bool:
    """`prod`, `production` and `prod-*` are protected unless the config says otherwise."""
    return env in ("prod", "production") or env.startswith("prod-")


@dataclass(frozen=True)
class EnvironmentConfig:
    """How to reach one environment and how careful to be with it."""

    name: str
    region: str | None = None
    profile: str | None = None
    role_arn: str | None = None
    mfa_serial: str | None = None
    account_id: str | None = None
    kms_key_id: str | None = None
    protected: bool = False
    replica_regions: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    backend: str = "aws"
    declared: bool = False  # False when made up because no secrets.toml declares environments

    @classmethod
    def default(cls, name: str) -> EnvironmentConfig:
        return cls(name=name, protected=default_protected(name))


@dataclass(frozen=True)
class FunctionConfig:
    """A Lambda function (or ECS task) and the secrets it reads, relative to the environment."""

    name: str
    secrets: tuple[str, ...] = ()
    kind: str = "lambda"


@dataclass(frozen=True)
class Config:
    """The parsed `secrets.toml` (or an empty one when there is no file)."""

    path: Path | None = None
    environments: dict[str, EnvironmentConfig] = field(default_factory=dict)
    functions: dict[str, FunctionConfig] = field(default_factory=dict)

    def environment(self, name: str) -> EnvironmentConfig:
        """The settings for `name`; an undeclared one is a usage error when any are declared."""
        if name in self.environments:
            return self.environments[name]
        if self.environments:
            declared = ", ".join(sorted(self.environments))
            raise CliError(
                ExitCode.USAGE,
                f"environment '{name}' is not declared in {self.path}",
                f"declared environments: {declared} (add [environments.{name}] to declare it)",
            )
        return EnvironmentConfig.default(name)

    def function(self, name: str) -> FunctionConfig:
        """A declared function; a missing one is a not-found error."""
        if name not in self.functions:
            known = ", ".join(sorted(self.functions)) or "none"
            raise CliError(
                ExitCode.NOT_FOUND,
                f"function '{name}' is not declared in {self.path or CONFIG_FILENAME}",
                f"declared functions: {known} (add [functions.{name}] with secrets = [...])",
            )
        return self.functions[name]


def find_config(start: Path, explicit: Path | None = None) -> Path | None:
    """`explicit` if given (it must exist), else the nearest `secrets.toml` at or above `start`."""
    if explicit is not None:
        if not explicit.is_file():
            raise CliError(
                ExitCode.USAGE,
                f"config file {explicit} does not exist",
                "check --config, or run `secrets init` to create one",
            )
        return explicit
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILENAME
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path | None) -> Config:
    """Read and validate `path`; `None` gives the empty config."""
    if path is None:
        return Config()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CliError(
            ExitCode.USAGE, f"{path}: malformed TOML: {exc}", "fix the file or pass --config"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(
            ExitCode.USAGE,
            f"{path}: cannot read: {exc}",
            "check that the file is readable UTF-8 text, or pass --config with another file",
        ) from None
    return parse_config(raw, path)


class _Reader:
    """Typed access to one table of the TOML document, with errors naming file and key."""

    def __init__(self, path: Path, where: str, table: Any) -> None:
        self.path, self.where = path, where
        if not isinstance(table, dict):
            self.fail(where, "must be a table")
        self.table: dict[str, Any] = table

    def fail(self, key: str, why: str) -> None:
        raise CliError(ExitCode.USAGE, f"{self.path}: {key} {why}", "see README: secrets.toml")

    def check_keys(self, allowed: set[str]) -> None:
        for key in self.table:
            if key not in allowed:
                self.fail(
                    f"{self.where}.{key}",
                    f"is not a known key (known: {', '.join(sorted(allowed))})",
                )

    def string(self, key: str) -> str | None:
        value = self.table.get(key)
        if value is not None and not isinstance(value, str):
            self.fail(f"{self.where}.{key}", "must be a string")
        return value

    def boolean(self, key: str) -> bool | None:
        value = self.table.get(key)
        if value is not None and not isinstance(value, bool):
            self.fail(f"{self.where}.{key}", "must be true or false")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(f"{self.where}.{key}", "must be a list of strings")
        return tuple(value)

    def string_map(self, key: str) -> dict[str, str]:
        value = self.table.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            self.fail(f"{self.where}.{key}", "must be a table of strings")
        return dict(value)


ENV_KEYS = {
    "region",
    "profile",
    "role_arn",
    "mfa_serial",
    "account_id",
    "kms_key_id",
    "protected",
    "replica_regions",
    "tags",
    "backend",
}
FUNCTION_KEYS = {"secrets", "kind"}


def parse_config(raw: dict[str, Any], path: Path) -> Config:
    """Validate the TOML document `raw` read from `path` into a `Config`."""
    top = _Reader(path, "(top level)", raw)
    top.check_keys({"environments", "functions"})
    environments: dict[str, EnvironmentConfig] = {}
    for name, table in _Reader(path, "environments", raw.get("environments", {})).table.items():
        where = f"environments.{name}"
        if not ENV_PATTERN.fullmatch(name):
            top.fail(where, "is not a valid environment name (lowercase letters, digits, '-')")
        env = _Reader(path, where, table)
        env.check_keys(ENV_KEYS)
        backend = env.string("backend") or "aws"
        if backend not in BACKENDS:
            env.fail(f"{where}.backend", f"must be one of {', '.join(BACKENDS)}")
        account = env.string("account_id")
        if account is not None and not (account.isdigit() and len(account) == 12):
            env.fail(f"{where}.account_id", "must be a 12-digit AWS account id")
        protected = env.boolean("protected")
        environments[name] = EnvironmentConfig(
            name=name,
            region=env.string("region"),
            profile=env.string("profile"),
            role_arn=env.string("role_arn"),
            mfa_serial=env.string("mfa_serial"),
            account_id=account,
            kms_key_id=env.string("kms_key_id"),
            protected=default_protected(name) if protected is None else protected,
            replica_regions=env.strings("replica_regions"),
            tags=env.string_map("tags"),
            backend=backend,
            declared=True,
        )
    functions: dict[str, FunctionConfig] = {}
    for name, table in _Reader(path, "functions", raw.get("functions", {})).table.items():
        if not TASK_FAMILY.fullmatch(name):
            top.fail(
                f"[functions.{printable(name[:80])!r}]",
                "is not a valid function name (letters, digits, '-' or '_')",
            )
        where = f"functions.{name}"
        function = _Reader(path, where, table)
        function.check_keys(FUNCTION_KEYS)
        secrets = function.strings("secrets")
        for relative in secrets:
            try:
                SecretName.join("env", relative)
            except CliError as exc:
                function.fail(
                    f"{where}.secrets", f"has an invalid path '{relative}' ({exc.message})"
                )
        kind = function.string("kind") or "lambda"
        if kind not in FUNCTION_KINDS:
            function.fail(f"{where}.kind", f"must be one of {', '.join(FUNCTION_KINDS)}")
        if kind == "lambda" and not FUNCTION_NAME.fullmatch(name):
            top.fail(
                f"[functions.{name}]",
                "is not a valid Lambda function name (1-64 letters, digits, '-' or '_')",
            )
        functions[name] = FunctionConfig(name=name, secrets=secrets, kind=kind)
    return Config(path=path, environments=environments, functions=functions)
