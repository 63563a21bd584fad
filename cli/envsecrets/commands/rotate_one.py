"""`secrets rotate NAME ...`: one secret rotated by hand, rolled back, resumed, cancelled, or
handed to its rotation Lambda.

Each form shows its plan, confirms in a protected environment, runs the steps of
`envsecrets.core.rotation` / `rotation_recovery` and renders the result (`as_dict()` for
`--json`). Called by `rotate.dispatch` with the parsed request.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from envsecrets.commands.common import Workspace
from envsecrets.commands.rotate_apply import (
    lease_seconds_for,
    recovery_flags,
    settings_for,
    step_for,
    verifier_for,
    verify_flags,
)
from envsecrets.ui.render import Renderer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from envsecrets.commands.rotate_request import RotateRequest
    from envsecrets.core.names import SecretName
    from envsecrets.core.passwords import PasswordSource
    from envsecrets.core.rotation import Narrator, RotationOutcome, RotationPlan
    from envsecrets.core.rotation_plans import RotationSettings
    from envsecrets.core.rotation_recovery import PendingState
    from envsecrets.core.rotation_targets import ApplyStep, Preparation
    from envsecrets.core.store import SecretStore
    from envsecrets.core.values import SecretValue


def rotate(ws: Workspace, out: Renderer, request: RotateRequest) -> None:
    """Stage a new value, apply it to the target, verify it when asked, promote it."""
    from envsecrets.core.rotation import (
        generating_store,
        plan_rotation,
        refuse_generated_over_structure,
        rotate_secret,
    )
    from envsecrets.core.rotation_targets import Preparation

    secret = _secret(ws, request)
    name = str(secret)
    settings = settings_for(ws, secret, request.flags)
    store = ws.store(secret.env)
    step = step_for(ws, secret.env, settings, out)
    generate = settings.rules is not None or _generates_by_default(request, step)
    # Refused before anything is read when the store cannot generate (the OS keyring).
    passwords = generating_store(store, secret.env) if generate else None
    # The current value is read to compare it with the new one, and for --generate to refuse
    # replacing a JSON object or binary value whole; --whole asks for exactly that. An apply
    # step always needs it (to look at the target, and to log in with).
    plan = plan_rotation(
        store,
        name,
        field_key=settings.field_key,
        read_value=not request.whole or step is not None,
    )
    prep = Preparation()
    if step is not None:
        prep = step.prepare(name, plan.current.value if plan.current is not None else None)
        if prep.field_key is not None and plan.field_key is None:
            plan = replace(plan, field_key=prep.field_key)
    if generate and not request.whole:
        refuse_generated_over_structure(plan)
    new, source = _new_value(passwords, settings, step, prep, request, name)
    value = None if new is None else _composed(plan, new, step, name)
    narrate = _narrator(out)
    for line in _plan_lines(ws, request, settings, plan, source, step, prep):
        narrate(line)
    ws.confirm_if_protected(secret.env, f"rotate {name}?", yes=request.yes)
    # Who rotates is asked before the target makes a value: a new IAM key that nothing
    # stages (STS failing here) would be a key whose secret nobody has.
    actor = rotation_actor(ws, secret.env)
    if value is None and step is not None:  # the target makes the value (an IAM key)
        value = step.make_value(name, plan.current.value if plan.current is not None else None)
    if value is None:
        raise _internal_no_value(name)
    with _told_after_timeout(ws, store, name, recovery_flags(request)):
        outcome = rotate_secret(
            store,
            plan,
            value,
            actor=actor,
            verify=verifier_for(settings.verify_cmd, settings.verify_timeout, out),
            narrate=narrate,
            step=step,
            flags=recovery_flags(request),
            made=prep.makes_value,
            verify_flags=verify_flags(request),
            lease_seconds=lease_seconds_for(settings),
        )
    _render_outcome(out, outcome)
    if request.save_plan:
        _save_plan(ws, out, secret, settings)


def _generates_by_default(request: RotateRequest, step: ApplyStep | None) -> bool:
    """An RDS target with no value given generates a password the engine takes."""
    from envsecrets.core.target_rds import RdsStep

    return isinstance(step, RdsStep) and not request.flags.gives_value


def _composed(
    plan: RotationPlan, new: SecretValue, step: ApplyStep | None, name: str
) -> SecretValue:
    from envsecrets.core.rotation import compose_value

    value = compose_value(plan, new)
    if step is not None:
        step.check_value(name, value)
    return value


def _internal_no_value(name: str) -> Exception:
    from envsecrets.core.rotation import REPORT_BUG_HINT
    from envsecrets.errors import CliError, ExitCode

    return CliError(ExitCode.FAILED, f"internal: no new value for {name}", REPORT_BUG_HINT)


def _new_value(
    passwords: PasswordSource | None,
    settings: RotationSettings,
    step: ApplyStep | None,
    prep: Preparation,
    request: RotateRequest,
    name: str,
) -> tuple[SecretValue | None, str]:
    """The new value (generated, or read from the source given) and how the plan names it;
    None when the target makes it (after the confirmation: an IAM key is a real change)."""
    from envsecrets.commands.inputs import read_new_value
    from envsecrets.core.passwords import generate_value

    if prep.makes_value:
        return None, "a new access key, made by IAM (CreateAccessKey) after you confirm"
    if passwords is not None:
        rules = step.generation_rules(settings.rules) if step is not None else settings.rules
        if rules is not None:
            new = generate_value(passwords, rules)
            return new, f"generated by AWS GetRandomPassword ({rules.length} characters)"
    stdin, from_file = request.stdin, request.from_file
    new = read_new_value(stdin=stdin, from_file=from_file, label=f"new value of {name}")
    return new, "from --stdin" if stdin else f"from {from_file}" if from_file else "typed"


def _plan_lines(
    ws: Workspace,
    request: RotateRequest,
    settings: RotationSettings,
    plan: RotationPlan,
    source: str,
    step: ApplyStep | None,
    prep: Preparation,
) -> list[str]:
    if plan.field_key is not None:
        source = f"key '{plan.field_key}' of the JSON object {source}; other keys kept"
    verify_cmd = settings.verify_cmd
    lines = [
        f"plan for {plan.name}{_protected_note(ws, request.secret.env)}:",
        f"  current version  {plan.current_version} (readers keep it until step 4)",
        f"  new value        {source}",
    ]
    if settings.plan is not None:
        lines.append(f'  rotation plan    {ws.config.path} [rotation] "{settings.plan.path}"')
    lines.extend(prep.notes)
    lines += [
        "  1. stage the new value as AWSPENDING (invisible to readers)",
        f"  2. {step.describe()}"
        if step is not None
        else "  2. no apply step (--apply-cmd, --target or a plan in secrets.toml not given)",
        (
            f"  3. verify: `{verify_cmd}` with the value on stdin "
            f"(timeout {settings.verify_timeout:g} s)"
            if verify_cmd
            else "  3. no verification (--verify-cmd not given)"
        ),
        f"  4. promote to AWSCURRENT; {plan.current_version} keeps AWSPREVIOUS",
    ]
    return lines


def _save_plan(
    ws: Workspace, out: Renderer, secret: SecretName, settings: RotationSettings
) -> None:
    """--save-plan: record how this secret rotated in secrets.toml [rotation]."""
    from envsecrets.commands.rotate_plan import save_plan

    save_plan(ws, out, secret, settings)


def rollback(ws: Workspace, out: Renderer, request: RotateRequest) -> None:
    """AWSCURRENT back to the AWSPREVIOUS version (the target given that value first)."""
    # `as`: this handler is itself called rollback.
    from envsecrets.core.rotation_recovery import RolledBackAlready, plan_rollback
    from envsecrets.core.rotation_recovery import rollback as move_current_back

    secret = _secret(ws, request)
    name = str(secret)
    settings = settings_for(ws, secret, request.flags)
    store = ws.store(secret.env)
    plan = plan_rollback(store, name)
    if isinstance(plan, RolledBackAlready):
        # Nothing is written, so nothing is asked, even in a protected environment.
        if out.json_mode:
            out.json(plan.as_dict())
        else:
            out.success(f"{name}: {plan.reason}")
        return
    step = step_for(ws, secret.env, settings, out)
    narrate = _narrator(out)
    narrate(
        f"plan for {name}{_protected_note(ws, secret.env)}: AWSCURRENT {plan.current} -> "
        f"{plan.previous}; {plan.current} becomes AWSPREVIOUS"
        + (f" ({step.label} is given version {plan.previous} first)" if step else "")
    )
    ws.confirm_if_protected(
        secret.env, f"roll {name} back to version {plan.previous}?", yes=request.yes
    )
    rolled_back = move_current_back(store, plan, step=step, narrate=narrate)
    if out.json_mode:
        out.json(rolled_back.as_dict())
        return
    if rolled_back.record_error:
        out.warn(
            f"the rollback record was not written ({rolled_back.record_error}): a second "
            "--rollback cannot tell that this one happened"
        )
    if rolled_back.cleanup_error:
        out.warn(f"after the rollback: {rolled_back.cleanup_error}")
    out.success(
        f"{name}: rolled back; version {plan.previous} is AWSCURRENT again "
        f"({plan.current} is AWSPREVIOUS)"
    )


def resume(ws: Workspace, out: Renderer, request: RotateRequest) -> None:
    """Promote the version a cut-short rotation left pending (applied to the target again and
    verified first when asked)."""
    from envsecrets.core.rotation import refuse_if_live
    from envsecrets.core.rotation_recovery import find_pending, overtaken_error, resume_rotation

    secret = _secret(ws, request)
    name = str(secret)
    settings = settings_for(ws, secret, request.flags)
    store = ws.store(secret.env)
    state = find_pending(store, name, for_resume=True)
    # A promoted version still labelled AWSPENDING is a finished rotation: nothing is written
    # (not even the label's removal, which no reader would notice), so there is nothing to
    # confirm, in a protected environment or not. Every path that writes confirms below.
    if _nothing(out, state, "resume"):
        return
    refuse_if_live(name, state.pending, state.tags, "resume")
    if state.overtaken:
        raise overtaken_error(state)
    step = step_for(ws, secret.env, settings, out)
    verify = verifier_for(settings.verify_cmd, settings.verify_timeout, out)
    narrate = _narrator(out)
    before = [
        what
        for what, on in (
            (f"applied to {step.label} again" if step else "", step),
            ("verified", verify),
        )
        if on
    ]
    narrate(
        f"plan for {name}{_protected_note(ws, secret.env)}: promote pending version "
        f"{state.pending} to AWSCURRENT; {state.current or '-'} keeps AWSPREVIOUS"
        + (f" (after it is {' and '.join(before)})" if before else "")
    )
    ws.confirm_if_protected(secret.env, f"promote the pending version of {name}?", yes=request.yes)
    actor = rotation_actor(ws, secret.env)
    with _told_after_timeout(ws, store, name, recovery_flags(request)):
        outcome = resume_rotation(
            store,
            state,
            actor=actor,
            verify=verify,
            narrate=narrate,
            step=step,
            flags=recovery_flags(request),
            verify_flags=verify_flags(request),
            lease_seconds=lease_seconds_for(settings),
        )
    _render_outcome(out, outcome)


def cancel(ws: Workspace, out: Renderer, request: RotateRequest) -> None:
    """Drop a dangling AWSPENDING; AWSCURRENT stays where it is (and the target is given the
    current value back, or the pending IAM key is deleted)."""
    from envsecrets.core.rotation import refuse_if_live
    from envsecrets.core.rotation_recovery import cancel_pending, find_pending

    secret = _secret(ws, request)
    name = str(secret)
    settings = settings_for(ws, secret, request.flags)
    store = ws.store(secret.env)
    state = find_pending(store, name)
    # As for --resume: a finished rotation's leftover label is left alone, unasked.
    if _nothing(out, state, "cancel"):
        return
    refuse_if_live(name, state.pending, state.tags, "cancel")
    step = step_for(ws, secret.env, settings, out)
    narrate = _narrator(out)
    narrate(
        f"plan for {name}{_protected_note(ws, secret.env)}: remove AWSPENDING from "
        f"{state.pending}; AWSCURRENT stays on {state.current or '-'}"
        + (f" ({step.label} is given version {state.current} back first)" if step else "")
    )
    ws.confirm_if_protected(secret.env, f"drop the pending version of {name}?", yes=request.yes)
    cancelled = cancel_pending(store, state, step=step, narrate=narrate)
    if out.json_mode:
        out.json(cancelled.as_dict())
    else:
        out.success(
            f"{name}: pending version {cancelled.pending_version} dropped; version "
            f"{cancelled.current_version} is still AWSCURRENT"
        )


def managed(ws: Workspace, out: Renderer, request: RotateRequest) -> None:
    """Start the rotation Lambda configured on the secret (RotateSecret)."""
    from envsecrets.core.rotation_managed import check_managed, start_managed_rotation

    secret = _secret(ws, request)
    name = str(secret)
    store = ws.store(secret.env)
    lambda_arn = check_managed(store, name)
    _narrator(out)(
        f"plan for {name}{_protected_note(ws, secret.env)}: start its rotation Lambda "
        f"{lambda_arn} (RotateSecret)"
    )
    ws.confirm_if_protected(secret.env, f"start the rotation of {name}?", yes=request.yes)
    started = start_managed_rotation(store, name)
    if out.json_mode:
        out.json(started.as_dict())
    elif started.status == "finished":
        out.success(f"{name}: rotated by {lambda_arn}; version {started.version_id} is AWSCURRENT")
    else:
        out.success(
            f"{name}: rotation started by {lambda_arn} (version {started.version_id} is "
            f"AWSPENDING until the Lambda finishes); `secrets show {name}` reports progress"
        )


# After the deadline (--timeout) the labels are read once more, with a budget of their own.
RE_READ_SECONDS = 5.0


@contextmanager
def _told_after_timeout(ws: Workspace, store: SecretStore, name: str, flags: str) -> Iterator[None]:
    """A rotation step that ran out of time (exit 6) says what it left, from the labels read
    again with a short budget of their own: the staged version waiting AWSPENDING (and
    `--resume`/`--cancel`), or a promotion that went through before the time ran out."""
    from envsecrets.core.rotation import told_after_timeout
    from envsecrets.core.rotation_lease import release_lease
    from envsecrets.core.rotation_targets import StepFailed
    from envsecrets.errors import ExitCode

    try:
        yield
    except StepFailed as failed:
        if failed.code != ExitCode.UNAVAILABLE or failed.version is None:
            raise
        with ws.deadline.grace(RE_READ_SECONDS):
            told = told_after_timeout(store, name, failed, flags)
            release_lease(store, name)  # the rotation's own try ran out of time too
        raise told from None


# -- shared by the forms (and by rotate_bulk) ---------------------------------------------------
def rotation_actor(ws: Workspace, env: str) -> str:
    """Who rotates, for the record: the caller's ARN (STS GetCallerIdentity); in an environment
    kept in the OS keyring, which never reaches AWS, the local user and machine."""
    if ws.environment(env).backend == "keyring":
        import getpass
        import os
        import socket

        try:
            user = getpass.getuser()
        except (OSError, KeyError):  # no login name anywhere (a bare container)
            user = f"uid {os.getuid()}"
        return f"{user}@{socket.gethostname()} (OS keyring)"
    from envsecrets.backends.identity import caller_arn

    return caller_arn(ws.target(env))


def _secret(ws: Workspace, request: RotateRequest) -> SecretName:
    """The request's secret, its environment checked against secrets.toml."""
    secret = request.secret
    ws.environment(secret.env)
    return secret


def _nothing(out: Renderer, state: PendingState, action: str) -> bool:
    """Resume/cancel with nothing pending (or a finished rotation): say so, write nothing,
    and return True; return False when there is work to do. Safe to re-run."""
    from envsecrets.core.rotation_recovery import nothing_pending

    nothing = nothing_pending(state)
    if nothing is None:
        return False
    if out.json_mode:
        out.json(nothing.as_dict())
    else:
        out.success(f"{state.name}: nothing to {action}: {nothing.reason}")
    return True


def _render_outcome(out: Renderer, outcome: RotationOutcome) -> None:
    if out.json_mode:
        out.json(outcome.as_dict())
        return
    if outcome.record_error:
        out.warn(f"the rotation record was not written: {outcome.record_error}")
    if outcome.cleanup_error:
        out.warn(f"after the promotion: {outcome.cleanup_error}")
    previous = f"; {outcome.previous_version} is AWSPREVIOUS" if outcome.previous_version else ""
    out.success(
        f"{outcome.name}: {outcome.action}; version {outcome.version_id} is AWSCURRENT{previous}"
    )


def _narrator(out: Renderer) -> Narrator:
    """Where the plan and the phases are told: stderr, or nowhere with --json."""
    if out.json_mode:
        return _silent
    return out.note


def _silent(message: str) -> None:
    """With --json, stderr carries only an error object, if any."""


def _protected_note(ws: Workspace, env: str) -> str:
    return " (protected environment)" if ws.environment(env).protected else ""
