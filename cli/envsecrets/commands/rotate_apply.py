"""What one secret's rotation is made of, from its plan in secrets.toml and the flags over it:
the settings (`settings_for`), the apply step (`step_for`: a command or a built-in target,
with its backend), the verify and apply commands' runner (one runner for both: the command
gets a payload on stdin only, its output is shown masked on failure), and the flags a
recovery command needs again (`recovery_flags`).

Used by `rotate_one` and `rotate_bulk`; backends are imported only when a step is built.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING

from envsecrets.commands.common import Workspace
from envsecrets.errors import CliError, ExitCode
from envsecrets.ui.render import Renderer

if TYPE_CHECKING:
    from envsecrets.commands.rotate_request import RotateRequest
    from envsecrets.core.names import SecretName
    from envsecrets.core.rotation import Verifier
    from envsecrets.core.rotation_plans import FlagSettings, RotationSettings
    from envsecrets.core.rotation_targets import ApplyStep, CommandRunner
    from envsecrets.core.values import SecretValue


def settings_for(ws: Workspace, secret: SecretName, flags: FlagSettings) -> RotationSettings:
    """The plan declared for `secret` in secrets.toml [rotation] (if any), `flags` over it;
    the commands it names are checked to exist before anything is read or changed."""
    from envsecrets.backends.verify import check_runnable
    from envsecrets.core.rotation_plans import resolve

    plan = ws.config.rotation_plan(secret.path)
    settings = resolve(plan, secret.env, flags)
    for command, given, key in (
        (settings.apply_cmd, flags.apply_cmd, "apply_cmd"),
        (settings.verify_cmd, flags.verify_cmd, "verify_cmd"),
    ):
        if command is None:
            continue
        if given is not None or plan is None:
            where = f"--{key.replace('_', '-')}"
        else:
            where = f'{ws.config.path}: rotation."{plan.path}".{key}'
        check_runnable(command, where)
    return settings


def step_for(
    ws: Workspace, env: str, settings: RotationSettings, out: Renderer
) -> ApplyStep | None:
    """The apply step `settings` asks for, with its backend (None without one)."""
    from envsecrets.core.rotation_plans import DEFAULT_APPLY_TIMEOUT
    from envsecrets.core.rotation_targets import CommandStep

    if settings.apply_cmd is not None:
        timeout = settings.apply_timeout or DEFAULT_APPLY_TIMEOUT
        return CommandStep(settings.apply_cmd, apply_runner(settings.apply_cmd, timeout, out))
    target = settings.target
    if target is None:
        return None
    if target.kind == "iam-user":
        from envsecrets.backends.iam_target import IamAccessKeys
        from envsecrets.core.target_iam import DEFAULT_PROPAGATION_SECONDS, IamKeyStep

        return IamKeyStep(
            IamAccessKeys(ws.target(env), target.identifier),
            delete_old=settings.delete_old,
            propagation_seconds=settings.apply_timeout or DEFAULT_PROPAGATION_SECONDS,
        )
    from envsecrets.backends.rds_target import RdsDatabase
    from envsecrets.core.target_rds import DEFAULT_WAIT_SECONDS, RdsStep

    return RdsStep(
        RdsDatabase(ws.target(env), target.kind, target.identifier),
        wait_seconds=settings.apply_timeout or DEFAULT_WAIT_SECONDS,
    )


def lease_seconds_for(settings: RotationSettings) -> int:
    """How long the rotation's lease holds: at least its own limits (`lease_seconds`)."""
    from envsecrets.core.rotation_lease import lease_seconds

    return lease_seconds(
        settings.apply_timeout if settings.has_apply_step else None,
        settings.verify_timeout if settings.verify_cmd is not None else None,
    )


def verify_flags(request: RotateRequest) -> str:
    """` --verify-cmd '...'`: what a `--resume` after a failed verification needs to verify
    the value again, with the run's own `--verify-timeout` (a command that needed longer than
    the default needs it again); a plan in secrets.toml verifies by itself: ""."""
    from envsecrets.commands.rotate_request import DEFAULT_VERIFY_TIMEOUT

    if request.verify_cmd is None:
        return ""
    flags = f" --verify-cmd {shlex.quote(request.verify_cmd)}"
    if request.verify_timeout != DEFAULT_VERIFY_TIMEOUT:
        flags += f" --verify-timeout {request.verify_timeout:g}"
    return flags


def recovery_flags(request: RotateRequest) -> str:
    """The flags `--resume`/`--cancel` need again: an apply step given on the command line
    (one from secrets.toml is found again by itself), with the run's own `--apply-timeout`."""
    if request.target is not None:
        flags = f" --target {shlex.quote(str(request.target))}"
    elif request.apply_cmd is not None:
        flags = f" --apply-cmd {shlex.quote(request.apply_cmd)}"
    else:
        return ""
    if request.apply_timeout is not None:
        flags += f" --apply-timeout {request.apply_timeout:g}"
    return flags


# -- the commands' runner ------------------------------------------------------------------------
def verifier_for(command: str | None, timeout: float, out: Renderer) -> Verifier | None:
    """`--verify-cmd`: the candidate value on stdin; raises CliError when it fails."""
    if command is None:
        return None
    run = _runner(command, timeout, out, step="verify")

    def verify(value: SecretValue, masked: Sequence[bytes]) -> None:
        run(value.data(), masked)

    return verify


def apply_runner(command: str, timeout: float, out: Renderer) -> CommandRunner:
    """`--apply-cmd`: the payload JSON on stdin; raises CliError when the command fails."""
    return _runner(command, timeout, out, step="apply")


# How each step's failure is told: the noun, the option that sets its timeout, and what a
# failure leaves.
_WORDS = {
    "verify": ("verification", "--verify-timeout", "the check"),
    "apply": ("the apply command", "--apply-timeout", "the apply command"),
}


def _runner(command: str, timeout: float, out: Renderer, *, step: str) -> CommandRunner:
    noun, option, what = _WORDS[step]

    def run(payload: bytes, masked: Sequence[bytes]) -> None:
        from envsecrets.backends.verify import run_verify

        outcome = run_verify(command, payload, timeout=timeout, mask=masked)
        if outcome.passed:
            return
        if not out.json_mode:  # with --json, stderr carries only the error object
            for line in outcome.output_tail:
                out.note(f"  {step} | {line}")
        if outcome.timed_out:
            raise CliError(
                ExitCode.FAILED,
                f"{noun} timed out after {timeout:g} s (the command was stopped); "
                "nothing was promoted",
                f"raise {option} if {what} needs longer, or find out why it hangs",
            )
        failed = "verification failed" if step == "verify" else "the apply command failed"
        raise CliError(
            ExitCode.FAILED,
            f"{failed}: the command exited with {outcome.exit_code}; nothing was promoted",
            f"the `{step} |` lines show the command's output: fix what it reports, or the command",
        )

    return run
