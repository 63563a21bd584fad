"""`secrets init`: the settings a person chose, turned into a commented `secrets.toml`.

The text is built with tomlkit (not string templates) so that values are quoted correctly and
the comments explaining each key stay attached to it when someone edits the file later with a
tool that keeps comments. The result is re-read with the same validator `load_config` uses, so
`init` can never write a file the rest of the CLI would refuse.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from envsecrets.core.config import BACKENDS, default_protected, parse_config, validate_region
from envsecrets.core.names import SecretName, validate_env
from envsecrets.errors import CliError, ExitCode

HEADER = """\
secrets.toml: the environments this project's secrets live in, and what each function reads.
Written by `secrets init`; edit freely (README: "secrets.toml"). `secrets doctor` checks it.
Secret names are <environment>/<path>, e.g. prod/api/stripe-key."""

ENV_COMMENTS = {
    "backend": '"aws" (Secrets Manager) or "keyring" (the OS keychain, for local work)',
    "region": "AWS region of this environment's secrets (else --region, AWS_REGION, ~/.aws)",
    "profile": "AWS profile from ~/.aws/config used to reach it (else the default credentials)",
    "role_arn": "IAM role assumed for this environment (e.g. in another account)",
    "mfa_serial": "MFA device; the code is asked once and the session kept in the OS keyring",
    "account_id": "12-digit account the secrets must be in; `secrets doctor` checks it",
    "kms_key_id": "KMS key that encrypts new secrets (default: aws/secretsmanager)",
    "protected": "writes, deletes and rotations ask first; scripts must pass --yes",
    "replica_regions": "regions every new secret is replicated to",
}
FUNCTION_COMMENT = (
    "secrets it reads, relative to the environment; `secrets check` and `secrets policy` use it"
)


@dataclass(frozen=True)
class EnvironmentChoice:
    """What `init` was told about one environment; None means "not set"."""

    name: str
    region: str | None = None
    profile: str | None = None
    role_arn: str | None = None
    mfa_serial: str | None = None
    account_id: str | None = None
    kms_key_id: str | None = None
    protected: bool | None = None  # None: the default for the name (prod, production, prod-*)
    replica_regions: tuple[str, ...] = ()
    backend: str = "aws"


@dataclass(frozen=True)
class FunctionChoice:
    """A function and the secrets (relative paths) it reads."""

    name: str
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class InitSettings:
    environments: tuple[EnvironmentChoice, ...]
    functions: tuple[FunctionChoice, ...] = field(default_factory=tuple)


def parse_function_spec(spec: str) -> FunctionChoice:
    """`checkout=api/stripe-key,db/password` -> FunctionChoice (paths validated)."""
    name, sep, paths = spec.partition("=")
    name = name.strip()
    if not sep or not name:
        raise CliError(
            ExitCode.USAGE,
            f"invalid --function '{spec}'",
            "use --function NAME=path,path, e.g. --function checkout=api/stripe-key,db/password",
        )
    secrets = tuple(p.strip().strip("/") for p in paths.split(",") if p.strip())
    return FunctionChoice(name, secrets)


def validate_settings(settings: InitSettings) -> None:
    """Refuse what secrets.toml would refuse, with the flag-level wording `init` users see."""
    if not settings.environments:
        raise CliError(
            ExitCode.USAGE, "no environments given", "pass --env NAME (repeatable), e.g. --env dev"
        )
    seen: set[str] = set()
    for env in settings.environments:
        validate_env(env.name)
        if env.name in seen:
            raise CliError(
                ExitCode.USAGE,
                f"environment '{env.name}' is given twice",
                "give each --env once",
            )
        seen.add(env.name)
        if env.region is not None:
            validate_region(env.region, f"environment '{env.name}': region")
        for replica in env.replica_regions:
            validate_region(replica, f"environment '{env.name}': replica region")
        if env.backend not in BACKENDS:
            raise CliError(
                ExitCode.USAGE,
                f"environment '{env.name}': unknown backend '{env.backend}'",
                f"use one of: {', '.join(BACKENDS)}",
            )
    for function in settings.functions:
        for path in function.secrets:
            try:
                SecretName.join("env", path)
            except CliError as exc:
                raise CliError(
                    ExitCode.USAGE,
                    f"function '{function.name}': invalid secret path '{path}' ({exc.message})",
                    "paths are relative to the environment, e.g. api/stripe-key",
                ) from None


def render_config(settings: InitSettings) -> str:
    """The commented TOML text for `settings`; raises CliError(USAGE) on invalid settings."""
    import tomlkit

    validate_settings(settings)
    doc = tomlkit.document()
    for line in HEADER.splitlines():
        doc.add(tomlkit.comment(line))
    doc.add(tomlkit.nl())
    environments = tomlkit.table(is_super_table=True)
    for env in settings.environments:
        table = tomlkit.table()
        protected = default_protected(env.name) if env.protected is None else env.protected
        entries: list[tuple[str, object]] = [
            ("backend", env.backend if env.backend != "aws" else None),
            ("region", env.region),
            ("profile", env.profile),
            ("role_arn", env.role_arn),
            ("mfa_serial", env.mfa_serial),
            ("account_id", env.account_id),
            ("kms_key_id", env.kms_key_id),
            ("protected", protected),
            ("replica_regions", list(env.replica_regions) or None),
        ]
        for key, value in entries:
            if value is None:
                continue
            table.add(tomlkit.comment(ENV_COMMENTS[key]))
            table.add(key, value)
        environments.add(env.name, table)
    doc.add("environments", environments)
    if settings.functions:
        functions = tomlkit.table(is_super_table=True)
        for function in settings.functions:
            table = tomlkit.table()
            table.add(tomlkit.comment(FUNCTION_COMMENT))
            array = tomlkit.array()
            array.extend(function.secrets)
            table.add("secrets", array)
            functions.add(function.name, table)
        doc.add("functions", functions)
    text = tomlkit.dumps(doc)
    # The same validation every command applies when it reads the file.
    parse_config(tomllib.loads(text), Path("secrets.toml"))
    return text
