"""`secrets.toml`: environments and the secrets each function needs.

The file is optional. Without it any environment works with the default AWS session; with it,
environments it does not declare are refused (that catches `prdo/api/key`). Errors name the
file and the key so that a typo is a one-line fix.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envsecrets.core.names import ENV_PATTERN, SecretName, printable
from envsecrets.errors import CliError, ExitCode, listed

if TYPE_CHECKING:
    # Loaded only for a secrets.toml with a [rotation] table: every command reads the config,
    # and the rotation code (password rules, targets) is start-up time `get` does not need.
    from envsecrets.core.rotation_plans import DeclaredPlan

CONFIG_FILENAME = "secrets.toml"
# Paths of secrets.toml files to use although another user owns them or others may write
# them (like git's safe.directory), separated by ':' ; '*' trusts every one.
TRUST_VARIABLE = "ENVSECRETS_TRUSTED_CONFIGS"
# A region is a DNS label that AWS signs requests with: lowercase letters, digits and '-',
# not all digits (botocore's own rule, without its leniency for case and the empty string).
REGION_PATTERN = re.compile(r"(?![0-9]+\Z)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
ROLE_ARN_PATTERN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
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
    # [rotation]: how each secret rotates, by path relative to the environment.
    rotation: dict[str, DeclaredPlan] = field(default_factory=dict)

    def rotation_plan(self, path: str) -> DeclaredPlan | None:
        """The declared rotation plan of the secret at `path` (relative to its environment)."""
        return self.rotation.get(path)

    def environment(self, name: str) -> EnvironmentConfig:
        """The settings for `name`; an undeclared one is a usage error when any are declared."""
        if name in self.environments:
            return self.environments[name]
        if self.environments:
            declared = listed(sorted(self.environments))
            raise CliError(
                ExitCode.USAGE,
                f"environment '{name}' is not declared in {self.path}",
                f"declared environments: {declared} (add [environments.{name}] to declare it)",
            )
        return EnvironmentConfig.default(name)

    def function(self, name: str) -> FunctionConfig:
        """A declared function; a missing one is a not-found error."""
        if name not in self.functions:
            known = listed(sorted(self.functions))
            raise CliError(
                ExitCode.NOT_FOUND,
                f"function '{name}' is not declared in {self.path or CONFIG_FILENAME}",
                f"declared functions: {known} (add [functions.{name}] with secrets = [...])",
            )
        return self.functions[name]


def validate_region(region: str, where: str) -> str:
    """`region` if it can be an AWS region, else a usage error naming `where` (a flag or a
    key of secrets.toml). Checked where a region is read, so that `"us-east-1 "` is exit 2
    at once, not an SDK error (exit 1) or retries against a host that cannot exist (exit 6).
    """
    if not REGION_PATTERN.fullmatch(region):
        shown = repr(region)[1:-1]  # a trailing space or a tab stays visible
        raise CliError(
            ExitCode.USAGE,
            f"{where}: '{shown}' is not an AWS region",
            "regions look like us-east-1 or eu-west-2: lowercase, no spaces",
        )
    return region


def find_config(
    start: Path, explicit: Path | None = None, *, trusted: Sequence[str] | None = None
) -> Path | None:
    """`explicit` if given (it must be a file), else the nearest `secrets.toml` at or above
    `start`, which must be yours and writable by you alone unless it is `trusted` (default:
    the paths in $ENVSECRETS_TRUSTED_CONFIGS)."""
    if explicit is not None:
        _require_file(explicit, given=True)
        return explicit
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILENAME
        if os.path.lexists(candidate):
            _require_file(candidate, given=False)
            if trusted is None:
                trusted = [p for p in os.environ.get(TRUST_VARIABLE, "").split(os.pathsep) if p]
            _require_trusted(candidate, trusted)
            return candidate
    return None


def _require_file(path: Path, *, given: bool) -> None:
    """A config is a regular file (or a link to one): a FIFO would hang the read, /dev/zero
    would never end, a folder cannot be read."""
    try:
        mode = path.stat().st_mode
    except OSError:
        mode = None
    if mode is not None and stat.S_ISREG(mode):
        return
    if mode is None:
        what = "does not exist" if given else "is a broken link"
    else:
        what = f"is a {_kind(mode)}, not a file"
    raise CliError(
        ExitCode.USAGE,
        f"config file {path} {what}",
        "check --config, or run `secrets init` to create one"
        if given
        else f"remove {path}, or pass --config with the secrets.toml to use",
    )


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"))
    return next((name for test, name in kinds if test(mode)), "special file")


def _require_trusted(path: Path, trusted: Sequence[str]) -> None:
    """Refuse a secrets.toml found upward that someone else controls: owned by another user
    (or a link someone else planted), or writable by others than its owner. It decides which
    account and role a value is written to and whether `prod` asks first."""
    if "*" in trusted or any(_same_file(path, Path(t)) for t in trusted):
        return
    info, own = path.stat(), path.lstat()
    me = os.geteuid()
    problem = None
    if own.st_uid != me and stat.S_ISLNK(own.st_mode):
        problem = f"the link is owned by {_user(own.st_uid)}, not by you"
    elif info.st_uid != me:
        problem = f"it is owned by {_user(info.st_uid)}, not by you"
    elif info.st_mode & stat.S_IWOTH:
        problem = f"anyone may write it (mode {stat.S_IMODE(info.st_mode):04o})"
    elif info.st_mode & stat.S_IWGRP and not _private_group(info.st_gid):
        problem = (
            f"group {_group(info.st_gid)} may write it (mode {stat.S_IMODE(info.st_mode):04o})"
        )
    else:
        problem = _acl_writers(path)
    if problem is None:
        return
    raise CliError(
        ExitCode.USAGE,
        f"refusing to use {path} found above the current folder: {problem}",
        f"if you trust it, pass --config {path} or add it to ${TRUST_VARIABLE} "
        "(':'-separated paths); otherwise remove it, or `chown`/`chmod go-w` it "
        "(`setfacl -b` removes an ACL)",
    )


# POSIX ACL entries as Linux stores them in the `system.posix_acl_access` attribute: a
# 4-byte version, then (tag: u16, permissions: u16, id: u32) little-endian per entry.
_ACL_USER, _ACL_GROUP, _ACL_MASK = 0x02, 0x08, 0x10
_ACL_WRITE = 0x2


def _acl_writers(path: Path) -> str | None:
    """Who else an extended POSIX ACL lets write `path` (`setfacl -m u:bob:rw`, or a default
    ACL inherited from a shared folder): the mode bits do not show them. None when there is
    no such entry, no ACL, or no ACL support (macOS has no `os.getxattr`)."""
    getxattr = getattr(os, "getxattr", None)
    if getxattr is None:
        return None
    try:
        blob: bytes = getxattr(path, "system.posix_acl_access")
    except OSError:  # ENODATA: only the mode bits; ENOTSUP: a filesystem without ACLs
        return None
    import struct

    entries = [struct.unpack_from("<HHI", blob, offset) for offset in range(4, len(blob) - 7, 8)]
    # The mask caps what every named entry grants.
    mask = next((perms for tag, perms, _ in entries if tag == _ACL_MASK), 0o7)
    for tag, perms, who in entries:
        if not perms & mask & _ACL_WRITE:
            continue
        if tag == _ACL_USER and who != os.geteuid():
            return f"an ACL lets {_user(who)} write it"
        if tag == _ACL_GROUP and not _private_group(who):
            return f"an ACL lets group {_group(who)} write it"
    return None


def _same_file(path: Path, other: Path) -> bool:
    try:
        return path.samefile(other)
    except OSError:
        return False


def _user(uid: int) -> str:
    import pwd

    try:
        return f"user '{pwd.getpwuid(uid).pw_name}' (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _group(gid: int) -> str:
    import grp

    try:
        return f"'{grp.getgrgid(gid).gr_name}'"
    except KeyError:
        return str(gid)


def _private_group(gid: int) -> bool:
    """A group that only you are in (a user private group, as `umask 002` systems give each
    user): its write permission gives nobody else a way in. Debian's OpenSSH reads
    group-writable files the same way."""
    import grp
    import pwd

    me = os.geteuid()
    try:
        my_name = pwd.getpwuid(me).pw_name
        members = set(grp.getgrgid(gid).gr_mem)
    except KeyError:
        return False
    if members - {my_name}:
        return False
    return all(user.pw_uid == me for user in pwd.getpwall() if user.pw_gid == gid)


def load_config(path: Path | None) -> Config:
    """Read and validate `path`; `None` gives the empty config."""
    if path is None:
        return Config()
    try:
        text = _read_text(path)
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CliError(
            ExitCode.USAGE, f"{path}: malformed TOML: {exc}", "fix the file or pass --config"
        ) from None
    except RecursionError:
        # tomllib parses nested arrays and tables recursively: a document nested a few
        # hundred deep exhausts the stack (was: exit 1, "internal error").
        raise CliError(
            ExitCode.USAGE,
            f"{path}: malformed TOML: nested more than a parser can follow",
            "fix the file or pass --config",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(
            ExitCode.USAGE,
            f"{path}: cannot read: {exc}",
            "check that the file is readable UTF-8 text, or pass --config with another file",
        ) from None
    return parse_config(raw, path)


def _read_text(path: Path) -> str:
    """The file's text, a UTF-8 byte order mark dropped (editors on Windows write one). Opened
    without blocking and checked to be a regular file, so a FIFO swapped in cannot hang us."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise CliError(
                ExitCode.USAGE,
                f"config file {path} is a {_kind(mode)}, not a file",
                "pass --config with the path of a secrets.toml file",
            )
        data = handle.read()
    return data.decode("utf-8-sig")


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
    top.check_keys({"environments", "functions", "rotation"})
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
        region = env.string("region")
        if region is not None:
            validate_region(region, f"{path}: {where}.region")
        for replica in env.strings("replica_regions"):
            validate_region(replica, f"{path}: {where}.replica_regions")
        role_arn = env.string("role_arn")
        if role_arn is not None and not ROLE_ARN_PATTERN.fullmatch(role_arn):
            env.fail(
                f"{where}.role_arn",
                "must be an IAM role's ARN, e.g. arn:aws:iam::123456789012:role/secrets-admin",
            )
        environments[name] = EnvironmentConfig(
            name=name,
            region=region,
            profile=env.string("profile"),
            role_arn=role_arn,
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
    return Config(
        path=path,
        environments=environments,
        functions=functions,
        rotation=_rotation_plans(path, raw.get("rotation", {})),
    )


def _rotation_plans(path: Path, raw: Any) -> dict[str, DeclaredPlan]:
    """`[rotation]`: one plan per path relative to the environment (README "Rotation plans")."""
    table = _Reader(path, "rotation", raw).table
    if not table:
        return {}
    from envsecrets.core.rotation_plans import parse_plan

    plans: dict[str, DeclaredPlan] = {}
    for relative, entry in table.items():
        try:
            SecretName.join("env", relative)
        except CliError as exc:
            raise CliError(
                ExitCode.USAGE,
                f'{path}: rotation."{printable(relative[:80])}" is not a valid path '
                f"({exc.message})",
                'keys of [rotation] are paths relative to the environment, e.g. "db/master"',
            ) from None
        plans[relative] = parse_plan(path, relative, entry)
    return plans
