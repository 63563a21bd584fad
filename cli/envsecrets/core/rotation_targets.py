"""The apply step of a rotation: telling the target (a database, an AWS account, a partner API)
the new value, between staging it and promoting it.

An AWS rotation function has four steps: createSecret (stage AWSPENDING), setSecret (tell the
target), testSecret, finishSecret (promote). `rotation.py` does the first and last by hand;
this module is the protocol for the second and third, and what the rotation plan says about
them:

- `TargetRef` is a built-in target named `KIND:ID` (`rds:orders-prod`, `rds-cluster:orders`,
  `iam-user:deployer`), with `{env}` replaced by the environment.
- `ApplyStep` is one way of applying: `CommandStep` (`--apply-cmd`, the value JSON on stdin),
  `core.target_rds` (ModifyDBInstance/ModifyDBCluster), `core.target_iam` (access keys). The
  rotation calls `apply` then `test` before verification, `finish` after promotion; `--cancel`
  calls `discard`, `--rollback` applies the previous value with the same steps. Every step is
  idempotent: `--resume` runs `apply` again.
- `ApplyContext` is what a step needs: which value the target must hold afterwards (the
  pending one, or for a rollback or a cancel the one that stays current), and the value it may
  hold now (to log in with).

No AWS, Typer or rich here: the targets' AWS calls come in through the protocols of
`target_rds` and `target_iam`, and the command runner through a callable.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from envsecrets.core.passwords import PasswordRules
from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode

Narrator = Callable[[str], None]

# The built-in targets, and what each one is (for hints and completion).
TARGET_KINDS: dict[str, str] = {
    "rds": "an RDS DB instance's master password (ModifyDBInstance)",
    "rds-cluster": "an Aurora or Multi-AZ DB cluster's master password (ModifyDBCluster)",
    "iam-user": "an IAM user's access key (CreateAccessKey, checked with STS)",
}
COMMAND_LABEL = "command"
ENV_PLACEHOLDER = "{env}"
TARGET_HINT = (
    "a target is KIND:ID with KIND one of rds, rds-cluster or iam-user, e.g. rds:orders-{env} "
    "or iam-user:deployer ({env} is replaced by the environment)"
)
# RDS: 1-63 letters, digits and hyphens, starting with a letter, no "--", no trailing hyphen
# (DBInstanceIdentifier/DBClusterIdentifier's documented rule). IAM: UserName's pattern.
_DB_IDENTIFIER = re.compile(r"[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)")
_IAM_USER = re.compile(r"[\w+=,.@-]{1,64}")
_ID_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    "rds": (_DB_IDENTIFIER, "1-63 letters, digits or '-', starting with a letter"),
    "rds-cluster": (_DB_IDENTIFIER, "1-63 letters, digits or '-', starting with a letter"),
    "iam-user": (_IAM_USER, "1-64 letters, digits or + = , . @ _ -"),
}


@dataclass(frozen=True)
class TargetRef:
    """A built-in target, `KIND:ID`; the ID may hold `{env}` until `for_env` replaces it."""

    kind: str
    identifier: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.identifier}"

    @classmethod
    def parse(cls, text: str, *, where: str = "--target") -> TargetRef:
        """Check `text`'s kind and the shape of its ID (with `{env}` standing for a valid
        environment name); a usage error names `where` (a flag or a key of secrets.toml)."""
        kind, sep, identifier = text.strip().partition(":")
        if not sep or kind not in TARGET_KINDS:
            raise CliError(
                ExitCode.USAGE, f"{where}: '{_shown(text)}' is not a known target", TARGET_HINT
            )
        ref = cls(kind, identifier)
        ref._check(identifier.replace(ENV_PLACEHOLDER, "env"), where)
        return ref

    def for_env(self, env: str, *, where: str = "--target") -> TargetRef:
        """The target with `{env}` replaced by `env`, its ID checked again (an environment
        such as `prod-` would leave RDS a trailing hyphen)."""
        resolved = replace(self, identifier=self.identifier.replace(ENV_PLACEHOLDER, env))
        resolved._check(resolved.identifier, where)
        return resolved

    def _check(self, identifier: str, where: str) -> None:
        pattern, rule = _ID_RULES[self.kind]
        if not pattern.fullmatch(identifier):
            raise CliError(
                ExitCode.USAGE,
                f"{where}: '{_shown(str(self))}' is not a valid {self.kind} identifier ({rule})",
                TARGET_HINT,
            )


def _shown(text: str) -> str:
    """A user's text in a message: one line, bounded, escapes visible."""
    return repr(text[:100])[1:-1]


# -- the context and the steps ------------------------------------------------------------------
ROTATE, RESUME, ROLLBACK, CANCEL = "rotate", "resume", "rollback", "cancel"


@dataclass(frozen=True)
class ApplyContext:
    """One application of a value to a target.

    `pending` is the value the target must hold once the step is done, from version
    `version_id` (the staged version for a rotation; the previous version for a rollback; the
    current one for a cancel). `current` is the value the target may hold now, from version
    `current_version`, which a command needs to log in with. `action` says why.
    """

    name: str
    version_id: str
    pending: SecretValue
    current: SecretValue | None
    current_version: str | None
    action: str = ROTATE

    def reversed(self, action: str) -> ApplyContext:
        """The context that puts the current value back (a cancel)."""
        if self.current is None or self.current_version is None:
            raise CliError(
                ExitCode.FAILED,
                f"internal: no current value of {self.name} to apply back",
                "this is a bug in envsecrets: please report it, with the command you ran",
            )
        return ApplyContext(
            self.name,
            self.current_version,
            self.current,
            self.pending,
            self.version_id,
            action,
        )


@dataclass(frozen=True)
class Preparation:
    """What a step found out before anything was written, for the plan and the new value.

    `field_key`: the JSON key the target's value lives in (RDS's JSON shape: "password").
    `rules`: what a generated value must obey for the target (RDS's characters and lengths).
    `makes_value`: the target makes the new value itself (IAM: CreateAccessKey).
    `notes`: extra lines for the plan (e.g. an inactive key that will be deleted first).
    """

    field_key: str | None = None
    rules: PasswordRules | None = None
    makes_value: bool = False
    notes: tuple[str, ...] = ()


class ApplyStep:
    """One way of applying a value to a target (see the module docstring). Subclasses override
    what their target needs; every method may raise CliError and must be safe to run again."""

    kind: str = COMMAND_LABEL

    @property
    def label(self) -> str:
        """What the record's `envsecrets:applied-to` tag says: `rds:orders-prod`, `command`."""
        return self.kind

    def describe(self) -> str:
        """The apply step as the plan shows it."""
        raise NotImplementedError

    def prepare(self, name: str, current: SecretValue | None) -> Preparation:
        """Look at the target before anything is staged; refuse what cannot work."""
        return Preparation()

    def generation_rules(self, wanted: PasswordRules | None) -> PasswordRules | None:
        """The rules a generated value must obey: `wanted` (the user's), within what the
        target takes; None when nothing is to be generated."""
        return wanted

    def check_value(self, name: str, value: SecretValue) -> None:
        """Refuse a value given by the user that the target would refuse (exit 2)."""

    def make_value(self, name: str, current: SecretValue | None) -> SecretValue:
        """The new value, made by the target (only when `prepare` said `makes_value`)."""
        raise NotImplementedError

    def abandon(self, name: str, made: SecretValue) -> str:
        """A value `make_value` made could not be staged: undo what making it did, and say
        what was done (or what is left for the user to do)."""
        return ""

    def apply(self, ctx: ApplyContext, narrate: Narrator) -> None:
        """Make the target hold `ctx.pending` (the setSecret step)."""
        raise NotImplementedError

    def test(self, ctx: ApplyContext, narrate: Narrator) -> None:
        """Check that the target accepts `ctx.pending` (a built-in testSecret; may be none)."""

    def finish(self, ctx: ApplyContext, narrate: Narrator) -> None:
        """After promotion: retire what `ctx.current` was (IAM: deactivate the old key)."""

    def discard(self, ctx: ApplyContext, narrate: Narrator) -> None:
        """A cancel: the pending value is dropped, so the target must hold the current one
        again (it may hold the pending one if the apply step ran)."""
        self.apply(ctx.reversed(CANCEL), narrate)

    def stands(self, ctx: ApplyContext, step: str) -> str:
        """After a failure in `step` (apply, test, verify, promote): which side holds which
        value, in words, for the hint."""
        if step == "apply":
            return (
                f"the apply step may have set part of version {ctx.version_id} on the target; "
                f"readers still get version {ctx.current_version or '-'}"
            )
        return (
            f"the target was given version {ctx.version_id}; readers still get version "
            f"{ctx.current_version or '-'} until the rotation is resumed"
        )


# -- --apply-cmd ---------------------------------------------------------------------------------
# Runs a command with `payload` on stdin; raises CliError when it fails (its output already
# shown, masked). `mask` lists every value the output must not show.
CommandRunner = Callable[[bytes, Sequence[bytes]], None]


def apply_payload(ctx: ApplyContext) -> bytes:
    """The JSON object an apply command reads on stdin: `name`, `version_id`, `current`,
    `pending` and `action`, values as text, or all base64 with `"encoding": "base64"` when
    either is binary."""
    values = [v for v in (ctx.pending, ctx.current) if v is not None]
    binary = any(v.is_binary for v in values)

    def shown(value: SecretValue | None) -> str | None:
        if value is None:
            return None
        return base64.b64encode(value.data()).decode() if binary else value.text()

    document: dict[str, Any] = {
        "name": ctx.name,
        "version_id": ctx.version_id,
        "current": shown(ctx.current),
        "pending": shown(ctx.pending),
        "action": ctx.action,
        "encoding": "base64" if binary else "text",
    }
    return (json.dumps(document, ensure_ascii=False) + "\n").encode()


def payload_mask(ctx: ApplyContext) -> list[bytes]:
    """Every form of the values an apply command's output must not show: the values and
    their differing JSON members (as for verification), and their base64 forms (the payload
    carries binary values so)."""
    from envsecrets.core.rotation import sensitive_values

    values = sensitive_values(ctx.pending, ctx.current)
    encoded = [base64.b64encode(v.data()) for v in (ctx.pending, ctx.current) if v is not None]
    return values + encoded


class CommandStep(ApplyStep):
    """`--apply-cmd CMD`: the command gets `apply_payload` on stdin only, through the same
    runner as `--verify-cmd` (process group stopped at the timeout, output bounded and
    masked). It must be idempotent: `--resume` runs it again."""

    kind = COMMAND_LABEL

    def __init__(self, command: str, run: CommandRunner) -> None:
        self.command = command
        self.run = run

    def describe(self) -> str:
        return f"apply: `{self.command}` with the current and new values as JSON on stdin"

    def apply(self, ctx: ApplyContext, narrate: Narrator) -> None:
        self.run(apply_payload(ctx), payload_mask(ctx))
        narrate(f"apply command done for version {ctx.version_id}")

    def stands(self, ctx: ApplyContext, step: str) -> str:
        if step == "apply":
            return (
                "the apply command failed, so the target may hold the current value or the new "
                f"one (version {ctx.version_id}); readers still get version "
                f"{ctx.current_version or '-'}; apply commands must be idempotent: `--resume` "
                "runs it again"
            )
        return (
            f"the apply command set version {ctx.version_id} on the target; readers still get "
            f"version {ctx.current_version or '-'}"
        )


# -- a failed step ------------------------------------------------------------------------------
STEPS = ("plan", "stage", "apply", "test", "verify", "promote", "finish", "record")


class StepFailed(CliError):
    """A rotation that stopped in `step` (one of STEPS): bulk rotation reports it per secret.
    `version` is the version the rotation staged (or was staging: its id is known before the
    write), `replaced` the version it was to replace, so that the labels can be read again
    to tell what the failure left."""

    def __init__(
        self,
        step: str,
        code: ExitCode,
        message: str,
        hint: str | None,
        *,
        version: str | None = None,
        replaced: str | None = None,
    ) -> None:
        super().__init__(code, message, hint)
        self.step = step
        self.version = version
        self.replaced = replaced


def step_of(error: CliError) -> str:
    """The step a rotation's error stopped in; errors raised before staging are `plan`."""
    step = getattr(error, "step", None)
    return step if isinstance(step, str) else "plan"
