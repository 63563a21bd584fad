"""Rotation plans: how each secret rotates, declared once in `secrets.toml`, with the command
line's flags over them.

    [rotation]
    "db/master" = { target = "rds:orders-{env}" }
    "ci/deploy-key" = { target = "iam-user:deployer-{env}", delete_old = true }
    "api/partner" = { apply_cmd = "./rotate-partner.sh", verify_cmd = "./check-partner.sh",
                      generate = { length = 40, exclude_punctuation = true } }

Keys are paths relative to the environment; `{env}` in a target or a command is replaced by
the environment. `parse_plan` checks one entry (errors name its key); `resolve` merges a
plan with the flags given (flags win, one setting at a time; `--target` or `--apply-cmd`
replaces the plan's apply step as a whole) and refuses combinations that cannot work. No
AWS, Typer or rich here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envsecrets.core.passwords import DEFAULT_LENGTH, PasswordRules
from envsecrets.core.rotation_targets import ENV_PLACEHOLDER, TargetRef
from envsecrets.errors import CliError, ExitCode

PLAN_KEYS = {
    "target",
    "apply_cmd",
    "apply_timeout",
    "verify_cmd",
    "verify_timeout",
    "generate",
    "field",
    "delete_old",
}
GENERATE_KEYS = {"length", "exclude_punctuation", "exclude_characters"}
DEFAULT_VERIFY_TIMEOUT = 60.0
DEFAULT_APPLY_TIMEOUT = 120.0  # an apply command; an RDS target waits up to its own bound


@dataclass(frozen=True)
class DeclaredPlan:
    """One `[rotation]` entry, as checked from `secrets.toml` (`{env}` not yet replaced)."""

    path: str
    target: TargetRef | None = None
    apply_cmd: str | None = None
    apply_timeout: float | None = None
    verify_cmd: str | None = None
    verify_timeout: float | None = None
    generate: PasswordRules | None = None
    field: str | None = None
    delete_old: bool = False

    def as_dict(self, env: str | None = None) -> dict[str, Any]:
        """The plan for `secrets show --json` / `check --json` (for `env`, when given)."""
        target = self.target
        if target is not None and env is not None:
            target = TargetRef(target.kind, target.identifier.replace(ENV_PLACEHOLDER, env))
        generate = None
        if self.generate is not None:
            generate = {
                "length": self.generate.length,
                "exclude_punctuation": self.generate.exclude_punctuation,
                "exclude_characters": self.generate.exclude_characters,
            }
        return {
            "path": self.path,
            "target": None if target is None else str(target),
            "apply_cmd": _for_env(self.apply_cmd, env),
            "apply_timeout": self.apply_timeout,
            "verify_cmd": _for_env(self.verify_cmd, env),
            "verify_timeout": self.verify_timeout,
            "generate": generate,
            "field": self.field,
            "delete_old": self.delete_old,
        }

    def summary(self, env: str) -> str:
        """One line for `secrets show` and `check`: what the plan does in `env`."""
        shown = self.as_dict(env)
        parts = []
        if shown["target"]:
            parts.append(f"target {shown['target']}")
        if shown["apply_cmd"]:
            parts.append(f"apply `{shown['apply_cmd']}`")
        if shown["verify_cmd"]:
            parts.append(f"verify `{shown['verify_cmd']}`")
        if self.generate is not None:
            parts.append(f"generate {self.generate.length} characters")
        if self.field:
            parts.append(f"field {self.field}")
        if self.delete_old:
            parts.append("delete the old key")
        return "; ".join(parts) or "rotate by hand (no apply step)"


def _for_env(command: str | None, env: str | None) -> str | None:
    if command is None or env is None:
        return command
    return command.replace(ENV_PLACEHOLDER, env)


def _fail(path: Path, key: str, why: str) -> CliError:
    return CliError(ExitCode.USAGE, f"{path}: {key} {why}", "see README: Rotation plans")


def parse_plan(path: Path, relative: str, table: Any) -> DeclaredPlan:
    """One `[rotation]` entry: `table` under the key `relative`, read from `path`."""
    where = f'rotation."{relative}"'
    if not isinstance(table, dict):
        raise _fail(path, where, 'must be a table, e.g. { target = "rds:orders-{env}" }')
    for key in table:
        if key not in PLAN_KEYS:
            raise _fail(
                path,
                f"{where}.{key}",
                f"is not a known key (known: {', '.join(sorted(PLAN_KEYS))})",
            )
    target = None
    if "target" in table:
        text = _string(path, where, table, "target")
        target = TargetRef.parse(text, where=f"{path}: {where}.target")
    plan = DeclaredPlan(
        path=relative,
        target=target,
        apply_cmd=_command(path, where, table, "apply_cmd"),
        apply_timeout=_seconds(path, where, table, "apply_timeout"),
        verify_cmd=_command(path, where, table, "verify_cmd"),
        verify_timeout=_seconds(path, where, table, "verify_timeout"),
        generate=_generate(path, where, table.get("generate")),
        field=_string(path, where, table, "field") if "field" in table else None,
        delete_old=_boolean(path, where, table, "delete_old"),
    )
    _check_plan(path, where, plan)
    return plan


def _check_plan(path: Path, where: str, plan: DeclaredPlan) -> None:
    if plan.target is not None and plan.apply_cmd is not None:
        raise _fail(path, where, "has both target and apply_cmd: a secret has one apply step")
    iam = plan.target is not None and plan.target.kind == "iam-user"
    if iam and (plan.generate is not None or plan.field is not None):
        key = "generate" if plan.generate is not None else "field"
        raise _fail(
            path, f"{where}.{key}", "does not apply to an iam-user target: IAM makes the new key"
        )
    if plan.delete_old and not iam:
        raise _fail(path, f"{where}.delete_old", "applies to an iam-user target only")
    if plan.apply_timeout is not None and plan.target is None and plan.apply_cmd is None:
        raise _fail(path, f"{where}.apply_timeout", "needs a target or an apply_cmd")
    if plan.verify_timeout is not None and plan.verify_cmd is None:
        raise _fail(path, f"{where}.verify_timeout", "needs a verify_cmd")


def _string(path: Path, where: str, table: dict[str, Any], key: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, f"{where}.{key}", "must be a non-empty string")
    return value


def _command(path: Path, where: str, table: dict[str, Any], key: str) -> str | None:
    return _string(path, where, table, key) if key in table else None


def _boolean(path: Path, where: str, table: dict[str, Any], key: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise _fail(path, f"{where}.{key}", "must be true or false")
    return value


def _seconds(path: Path, where: str, table: dict[str, Any], key: str) -> float | None:
    if key not in table:
        return None
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.1 <= value <= 86_400:
        raise _fail(path, f"{where}.{key}", "must be a number of seconds from 0.1 to 86400")
    return float(value)


def _generate(path: Path, where: str, raw: Any) -> PasswordRules | None:
    """`generate = true` or `generate = { length = 40, exclude_punctuation = true,
    exclude_characters = "..." }`: GetRandomPassword's rules, checked."""
    key = f"{where}.generate"
    if raw is None or raw is False:
        return None
    if raw is True:
        return PasswordRules()
    if not isinstance(raw, dict):
        raise _fail(path, key, "must be true or a table such as { length = 40 }")
    unknown = sorted(set(raw) - GENERATE_KEYS)
    if unknown:
        raise _fail(
            path,
            f"{key}.{unknown[0]}",
            f"is not a known key (known: {', '.join(sorted(GENERATE_KEYS))})",
        )
    length = raw.get("length", DEFAULT_LENGTH)
    if isinstance(length, bool) or not isinstance(length, int):
        raise _fail(path, f"{key}.length", "must be a whole number")
    punctuation = raw.get("exclude_punctuation", False)
    if not isinstance(punctuation, bool):
        raise _fail(path, f"{key}.exclude_punctuation", "must be true or false")
    excluded = raw.get("exclude_characters", "")
    if not isinstance(excluded, str):
        raise _fail(path, f"{key}.exclude_characters", "must be a string")
    try:
        return PasswordRules(length, punctuation, excluded).check()
    except CliError as exc:
        raise _fail(path, key, f"is impossible: {exc.message}") from None


# -- flags over the plan -------------------------------------------------------------------------
@dataclass(frozen=True)
class FlagSettings:
    """What the command line says about one rotation (None / False: not given)."""

    target: TargetRef | None = None
    apply_cmd: str | None = None
    apply_timeout: float | None = None
    verify_cmd: str | None = None
    verify_timeout: float | None = None
    rules: PasswordRules | None = None  # --generate and its options
    stdin: bool = False
    from_file: bool = False
    field_key: str | None = None
    whole: bool = False
    delete_old: bool = False

    @property
    def gives_value(self) -> bool:
        return self.rules is not None or self.stdin or self.from_file


@dataclass(frozen=True)
class RotationSettings:
    """How one secret rotates: the plan (if any) with the flags over it, `{env}` replaced.
    `apply_timeout` None means the apply step's own default."""

    target: TargetRef | None = None
    apply_cmd: str | None = None
    apply_timeout: float | None = None
    verify_cmd: str | None = None
    verify_timeout: float = DEFAULT_VERIFY_TIMEOUT
    rules: PasswordRules | None = None
    field_key: str | None = None
    delete_old: bool = False
    plan: DeclaredPlan | None = None  # the [rotation] entry used, for the plan shown

    @property
    def has_apply_step(self) -> bool:
        return self.target is not None or self.apply_cmd is not None


def resolve(plan: DeclaredPlan | None, env: str, flags: FlagSettings) -> RotationSettings:
    """The settings of one rotation in `env`: `flags` win over `plan`, setting by setting;
    an apply step on the command line replaces the plan's. Combinations that cannot work are
    a usage error (exit 2) before anything is read or changed."""
    declared = plan or DeclaredPlan(path="")
    if flags.target is not None or flags.apply_cmd is not None:
        target, apply_cmd = flags.target, flags.apply_cmd
    else:
        target, apply_cmd = declared.target, declared.apply_cmd
    settings = RotationSettings(
        target=None if target is None else target.for_env(env),
        apply_cmd=_for_env(apply_cmd, env),
        apply_timeout=_first(flags.apply_timeout, declared.apply_timeout),
        verify_cmd=_for_env(flags.verify_cmd or declared.verify_cmd, env),
        verify_timeout=_first(flags.verify_timeout, declared.verify_timeout)
        or DEFAULT_VERIFY_TIMEOUT,
        # A value source on the command line replaces the plan's generated value.
        rules=flags.rules if flags.gives_value else declared.generate,
        field_key=flags.field_key or declared.field,
        delete_old=flags.delete_old or declared.delete_old,
        plan=plan,
    )
    _check_settings(settings, flags)
    return settings


def _first(*values: float | None) -> float | None:
    return next((value for value in values if value is not None), None)


def _check_settings(settings: RotationSettings, flags: FlagSettings) -> None:
    target = settings.target
    iam = target is not None and target.kind == "iam-user"
    if iam:
        given = [
            flag
            for flag, on in (
                ("--generate", flags.rules is not None),
                ("--stdin", flags.stdin),
                ("--from-file", flags.from_file),
                ("--field", flags.field_key is not None),
                ("--whole", flags.whole),
            )
            if on
        ]
        if given:
            raise CliError(
                ExitCode.USAGE,
                f"{target} takes its new value from IAM (CreateAccessKey): drop {given[0]}",
                "an iam-user target rotates the secret's AccessKeyId and SecretAccessKey",
            )
    if settings.delete_old and not iam:
        raise CliError(
            ExitCode.USAGE,
            "--delete-old applies to an iam-user target only",
            "give --target iam-user:USER, or declare it in secrets.toml [rotation]",
        )
    if settings.apply_timeout is not None and not settings.has_apply_step:
        raise CliError(
            ExitCode.USAGE,
            "--apply-timeout: this rotation has no apply step",
            "give --apply-cmd CMD or --target KIND:ID, or declare one in secrets.toml [rotation]",
        )
    rds = target is not None and target.kind in ("rds", "rds-cluster")
    if rds and (flags.whole or (settings.field_key not in (None, "password"))):
        raise CliError(
            ExitCode.USAGE,
            f"{target} changes the master password: "
            + ("--whole" if flags.whole else f"--field {settings.field_key}")
            + " does not apply",
            "the secret is the password itself or RDS's JSON shape, whose 'password' changes",
        )


def plan_entry(settings: RotationSettings, env: str) -> tuple[dict[str, Any], bool]:
    """The `[rotation]` entry that rotates like `settings` (for `--save-plan`), and whether
    the target's ID names the environment (written as `{env}`, so that the plan serves every
    environment; False when there is a target whose ID does not)."""
    entry: dict[str, Any] = {}
    templated = True
    if settings.target is not None:
        token = re.compile(rf"(?<![A-Za-z0-9]){re.escape(env)}(?![A-Za-z0-9])")
        identifier, found = token.subn(ENV_PLACEHOLDER, settings.target.identifier)
        templated = found > 0
        entry["target"] = f"{settings.target.kind}:{identifier}"
    if settings.apply_cmd is not None:
        entry["apply_cmd"] = settings.apply_cmd
    if settings.apply_timeout is not None:
        entry["apply_timeout"] = settings.apply_timeout
    if settings.verify_cmd is not None:
        entry["verify_cmd"] = settings.verify_cmd
        if settings.verify_timeout != DEFAULT_VERIFY_TIMEOUT:
            entry["verify_timeout"] = settings.verify_timeout
    if settings.rules is not None:
        generate: dict[str, Any] = {"length": settings.rules.length}
        if settings.rules.exclude_punctuation:
            generate["exclude_punctuation"] = True
        if settings.rules.exclude_characters:
            generate["exclude_characters"] = settings.rules.exclude_characters
        entry["generate"] = generate
    if settings.field_key is not None:
        entry["field"] = settings.field_key
    if settings.delete_old:
        entry["delete_old"] = True
    return entry, templated


# -- `secrets check`: each declared plan against the environment --------------------------------
@dataclass(frozen=True)
class PlanCheck:
    """One declared rotation plan as found in an environment. `status`: ok, missing (the
    secret), target_missing (no such database or user), target_refused (RDS manages the
    password itself), or command_missing (the apply or verify command cannot be run)."""

    plan: DeclaredPlan
    name: str
    status: str = "ok"
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def as_dict(self, env: str) -> dict[str, Any]:
        """A row of `secrets check --json`'s "rotation_plans"."""
        return {
            "path": self.plan.path,
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "plan": self.plan.as_dict(env),
        }


# Looks at one part of a plan in the environment: None when it is fine, else (status, detail).
Probe = Callable[[DeclaredPlan], tuple[str, str] | None]


def check_plans(
    env: str, plans: Mapping[str, DeclaredPlan], probes: Sequence[Probe]
) -> list[PlanCheck]:
    """Each plan of `plans` (sorted by path) with the first problem a probe finds, if any:
    the secret, the target, the commands. Probes run in order and stop at the first
    problem, so a missing secret is reported as such, not as a missing target too."""
    checks: list[PlanCheck] = []
    for path in sorted(plans):
        plan = plans[path]
        found = next((problem for probe in probes if (problem := probe(plan)) is not None), None)
        status, detail = found or ("ok", "")
        checks.append(PlanCheck(plan, f"{env}/{path}", status, detail))
    return checks
