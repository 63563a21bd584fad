"""`secrets rotate --env ENV ...`: every secret of a scope rotated to a generated value, or
every rotation left pending there resumed or cancelled.

Each form lists the scope, shows the plan as a table, confirms, runs `core.rotation_bulk`
with a progress bar, and ends with a summary (or the report's `as_dict()` with `--json`);
the exit code is 1 when any secret failed. Called by `rotate.dispatch` with the parsed request.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, NoReturn

from envsecrets.commands.common import Workspace
from envsecrets.commands.rotate_one import rotation_actor
from envsecrets.commands.rotate_request import RotateMode
from envsecrets.errors import CliError, ExitCode
from envsecrets.ui.render import Renderer, when

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from envsecrets.commands.rotate_request import RotateRequest
    from envsecrets.core.rotation_bulk import (
        BulkFailure,
        BulkInterrupted,
        BulkItem,
        PendingItem,
        Recipe,
    )
    from envsecrets.core.rotation_plans import RotationSettings
    from envsecrets.core.rotation_targets import ApplyStep
    from envsecrets.core.store import SecretStore


def rotate_scope(ws: Workspace, out: Renderer, request: RotateRequest) -> None:
    """`--env ENV --older-than DAYS [--generate]`: plan, confirm once, rotate each due secret
    as its rotation plan in secrets.toml says (flags over it), or to a generated value."""
    from envsecrets.commands.rotate_apply import verifier_for, verify_flags
    from envsecrets.commands.rotate_request import NEEDED
    from envsecrets.core.rotation import generating_store
    from envsecrets.core.rotation_bulk import (
        BulkInterrupted,
        BulkReport,
        plan_bulk,
        replan,
        rotate_many,
    )
    from envsecrets.core.rotation_lease import lease_seconds
    from envsecrets.ui.prompts import confirm

    env, prefix, rules = request.scope_env, request.prefix, request.rules
    settings = ws.environment(env)
    scope = _bulk_scope(env, prefix)
    planned = {
        path: plan for path, plan in ws.config.rotation.items() if f"{env}/{path}".startswith(scope)
    }
    if rules is None and not planned:
        # Nothing under the scope says how to rotate: the value must be generated.
        raise CliError(ExitCode.USAGE, *NEEDED["--generate"])
    store = generating_store(_paced_store(ws, env, request.concurrency), env)
    items = plan_bulk(store, scope, older_than_days=request.older_than, field_key=request.field_key)
    recipes = _recipes(ws, out, request, env, [item.name for item in items if item.known])
    items = replan(items, lambda item: _skip_reason(item, recipes.get(item.name), request))
    todo = [item for item in items if item.skip is None]
    if not out.json_mode:
        _plan_table(out, items, recipes)
    if not todo:
        if out.json_mode:
            out.json(BulkReport(skipped=[i for i in items if i.skip is not None]).as_dict())
        else:
            out.note(f"nothing to rotate under {scope} (older than {request.older_than} days)")
        return
    why = f"'{env}' is a protected environment" if settings.protected else "bulk rotation"
    confirm(f"rotate {len(todo)} secrets under {scope}?", yes=request.yes, why=why)
    actor = rotation_actor(ws, env)
    recover = _recover_command(env, prefix)
    try:
        with out.progress(len(todo), f"rotating {scope}") as advance:
            report = rotate_many(
                store,
                items,
                rules=rules,
                actor=actor,
                field_key=request.field_key,
                verify=verifier_for(request.verify_cmd, request.verify_timeout, out),
                workers=_workers(ws, env, request.concurrency),
                on_done=lambda result: advance(1),
                recipes=recipes,
                verify_flags=verify_flags(request),
                lease_seconds=lease_seconds(
                    request.apply_timeout,
                    request.verify_timeout if request.verify_cmd is not None else None,
                ),
            )
    except BulkInterrupted as stop:
        _report_interrupted(out, stop, scope, recover, request.older_than)
    # A secret refused because an earlier run left it pending is finished by the bulk form,
    # for all of them at once, rather than by one `secrets rotate NAME --resume` each.
    report.failed = [_point_at_bulk_recovery(failure, recover) for failure in report.failed]
    # Each failure's own hint (`--json`) names that secret's command, as the summary does.
    report.failed = [_own_hint(failure, request, recipes) for failure in report.failed]
    if out.json_mode:
        out.json(report.as_dict())
    else:
        for outcome in report.rotated:
            if outcome.cleanup_error:
                out.warn(f"{outcome.name}: after the promotion: {outcome.cleanup_error}")
        for failure in report.failed:
            out.warn(
                f"{failure.name}: {failure.step} failed: {failure.error.message}"
                f"{_left_note(failure)}"
            )
        for item in report.skipped:
            out.note(f"skipped {item.name}: {item.skip}")
        out.success(
            f"{len(report.rotated)} rotated, {len(report.failed)} failed, "
            f"{len(report.skipped)} skipped under {scope}"
        )
    if report.failed:
        raise CliError(
            ExitCode.FAILED,
            f"{len(report.failed)} of {len(todo)} rotations failed",
            _failure_hint(report.failed, recover, request, recipes),
        )


def _recipes(
    ws: Workspace, out: Renderer, request: RotateRequest, env: str, names: Iterable[str]
) -> dict[str, Recipe]:
    """Each secret's recipe from its rotation plan in secrets.toml, the flags over it; the
    secrets without a plan rotate as the flags say (no recipe). A plan that cannot work is
    refused now, before anything changes."""
    from envsecrets.commands.rotate_apply import lease_seconds_for, settings_for, verifier_for
    from envsecrets.core.names import SecretName
    from envsecrets.core.rotation_bulk import NO_STEP, Recipe

    # --generate (and its options) and --field are for the secrets without a plan: a plan
    # says itself how its value is made. The other flags win over the plans, as for one secret.
    over_plans = replace(
        request.flags, rules=None, stdin=False, from_file=False, field_key=None, whole=False
    )
    recipes: dict[str, Recipe] = {}
    for name in names:
        secret = SecretName.parse(name)
        if ws.config.rotation_plan(secret.path) is None:
            continue
        settings = settings_for(ws, secret, over_plans)
        target = settings.target
        kind = target.kind if target is not None else "command" if settings.apply_cmd else NO_STEP
        recipes[name] = Recipe(
            rules=settings.rules,
            field_key=settings.field_key,
            verify=verifier_for(settings.verify_cmd, settings.verify_timeout, out),
            make_step=_maker(ws, env, settings, out) if settings.has_apply_step else None,
            kind=kind,
            label=str(target) if target is not None else settings.apply_cmd and "command",
            lease_seconds=lease_seconds_for(settings),
        )
    return recipes


def _maker(
    ws: Workspace, env: str, settings: RotationSettings, out: Renderer
) -> Callable[[], ApplyStep]:
    """Makes one secret's apply step (a step holds what it learnt about its target)."""
    from envsecrets.commands.rotate_apply import step_for

    def make() -> ApplyStep:
        step = step_for(ws, env, settings, out)
        if step is None:
            raise CliError(
                ExitCode.FAILED,
                "internal: a plan without its apply step",
                "this is a bug in envsecrets: please report it, with the command you ran",
            )
        return step

    return make


def _skip_reason(item: BulkItem, recipe: Recipe | None, request: RotateRequest) -> str | None:
    """Why a due secret is left alone, from its recipe (its plan) or the flags."""
    from envsecrets.core.rotation_bulk import plan_skip_reason

    if recipe is None:
        if request.rules is None:
            return "no rotation plan in secrets.toml, and no --generate"
        return item.skip
    return plan_skip_reason(item, recipe)


def _report_interrupted(
    out: Renderer, stop: BulkInterrupted, scope: str, recover: str, older_than: int
) -> NoReturn:
    """After Ctrl-C, SIGTERM or SIGHUP: what was done, what is left pending and how to finish
    it, and what was not started. Never "run the same command again": with --older-than 0 it
    would rotate again every secret rotated now."""
    report, pending, not_started = stop.report, stop.left_pending, stop.not_started
    if out.json_mode:
        out.json({**report.as_dict(), "not_started": not_started})
    else:
        for outcome in report.rotated:
            out.note(f"rotated {outcome.name} (version {outcome.version_id})")
        for failure in report.failed:
            out.warn(f"{failure.name}: {failure.error.message}")
        if not_started:
            out.note(f"not started ({len(not_started)}): {', '.join(not_started)}")
    steps = (
        [f"`{recover} --resume` finishes the {len(pending)} left pending (`--cancel` drops them)"]
        if pending
        else []
    )
    if not_started:
        again = (
            "run the same command again for those not started (the secrets rotated now are no "
            "longer due)"
            if older_than > 0
            else "to rotate those not started without rotating the others again, add "
            "--older-than 1 (secrets changed in the last day are skipped)"
        )
        steps.append(again)
    raise CliError(
        ExitCode.INTERRUPTED,
        f"interrupted ({stop.cause}) under {scope}: {len(report.rotated)} rotated, "
        f"{len(pending)} left pending, {len(report.failed) - len(pending)} failed, "
        f"{len(not_started)} not started",
        "; ".join(steps) if steps else "nothing is left to do",
    )


def recover_scope(ws: Workspace, out: Renderer, request: RotateRequest) -> None:
    """`--env ENV --resume|--cancel`: every rotation left pending under the scope, found from
    the listing, shown as a plan, confirmed in a protected environment, then resumed or
    cancelled secret by secret with the single-secret steps (each with its plan's apply
    step: a resume applies the staged value again, a cancel puts the current one back)."""
    from envsecrets.commands.rotate_apply import verifier_for, verify_flags
    from envsecrets.core.rotation_bulk import (
        CANCEL,
        RESUME,
        RecoveryReport,
        plan_pending,
        recover_many,
    )
    from envsecrets.core.rotation_lease import lease_seconds

    env = request.scope_env
    action = RESUME if request.mode is RotateMode.BULK_RESUME else CANCEL
    scope = _bulk_scope(env, request.prefix)
    ws.environment(env)
    store = _paced_store(ws, env, request.concurrency)
    items = plan_pending(store, scope)
    if not items:
        if out.json_mode:
            out.json(RecoveryReport(action).as_dict())
        else:
            out.success(f"nothing pending under {scope}: no rotation to {action}")
        return
    recipes = _recipes(ws, out, request, env, [item.name for item in items])
    if not out.json_mode:
        _recovery_table(out, items, action, recipes)
    what = "rotation" if len(items) == 1 else "rotations"
    question = f"{action} {len(items)} pending {what} under {scope}?"
    ws.confirm_if_protected(env, question, yes=request.yes)
    # The record of who rotated is written on resume only; a cancel changes no value.
    actor = rotation_actor(ws, env) if action == RESUME else ""
    with out.progress(len(items), f"{action} under {scope}") as advance:
        report = recover_many(
            store,
            items,
            action=action,
            actor=actor,
            verify=verifier_for(request.verify_cmd, request.verify_timeout, out),
            workers=_workers(ws, env, request.concurrency),
            on_done=lambda result: advance(1),
            recipes=recipes,
            lease_seconds=lease_seconds(
                request.apply_timeout,
                request.verify_timeout if request.verify_cmd is not None else None,
            ),
            verify_flags=verify_flags(request),
        )
    if out.json_mode:
        out.json(report.as_dict())
    else:
        for outcome in report.resumed:
            if outcome.record_error:
                out.warn(
                    f"{outcome.name}: the rotation record was not written: {outcome.record_error}"
                )
            if outcome.cleanup_error:
                out.warn(f"{outcome.name}: after the promotion: {outcome.cleanup_error}")
        for failure in report.failed:
            out.warn(f"{failure.name}: {failure.step} failed: {failure.error.message}")
        for left in report.left_alone:
            out.note(f"left alone {left.name}: {left.reason}")
        past = "resumed" if action == RESUME else "cancelled"
        done = len(report.resumed) + len(report.cancelled)
        out.success(
            f"{done} {past}, {len(report.failed)} failed, {len(report.left_alone)} left alone "
            f"under {scope}"
        )
    if report.failed:
        hints = {failure.error.hint for failure in report.failed if failure.error.hint}
        raise CliError(
            ExitCode.FAILED,
            f"{len(report.failed)} of {len(items)} {action}s failed",
            next(iter(hints))
            if len(hints) == 1
            else "run the same command again to retry them (each failure above says why; "
            "`--json` gives each one's hint)",
        )


def _workers(ws: Workspace, env: str, concurrency: int) -> int:
    """How many secrets at once: --concurrency, except in an environment kept in the OS
    keyring, which is local (nothing to wait for) and whose entries are read-modify-written."""
    return 1 if ws.environment(env).backend == "keyring" else concurrency


def _paced_store(ws: Workspace, env: str, pool: int) -> SecretStore:
    """The environment's store for a bulk run: paced, so every attempt waits its turn under
    AWS's quotas (backends/quotas.py) and bulk retries absorb what throttling remains."""
    from envsecrets.backends.quotas import RateLimiter

    ws.target(env).limiter = RateLimiter()
    return ws.store(env, bulk=True, pool=pool)


def _bulk_scope(env: str, prefix: str | None) -> str:
    """`ENV/` or `ENV/PREFIX/`: --prefix may be given with or without the environment."""
    from envsecrets.core.names import NamePrefix

    scope = f"{env}/"
    if prefix:
        wanted = prefix if prefix.startswith(scope) else scope + prefix.lstrip("/")
        scope = str(NamePrefix.parse(wanted if wanted.endswith("/") else wanted + "/"))
    return scope


def _recover_command(env: str, prefix: str | None) -> str:
    """The bulk recovery command for the same scope, as the user would type it."""
    import shlex

    return f"secrets rotate --env {env}" + (f" --prefix {shlex.quote(prefix)}" if prefix else "")


def _is_pending_failure(failure: BulkFailure) -> bool:
    from envsecrets.core.rotation import PendingRotationError
    from envsecrets.core.rotation_bulk import PENDING_LEFT

    error = failure.error
    if isinstance(error, PendingRotationError):
        return error.live is None
    return failure.left == PENDING_LEFT


def _is_live(failure: BulkFailure) -> bool:
    from envsecrets.core.rotation import PendingRotationError

    return isinstance(failure.error, PendingRotationError) and failure.error.live is not None


def _left_note(failure: BulkFailure) -> str:
    """What the failure left, from the labels read again after the run."""
    from envsecrets.core.rotation_bulk import CHANGED, PENDING_LEFT, PROMOTED, UNCHANGED, UNKNOWN

    return {
        UNCHANGED: " (nothing changed)",
        PENDING_LEFT: f" (its new value waits AWSPENDING: version {failure.version})",
        PROMOTED: f" (yet its new value IS AWSCURRENT: version {failure.version})",
        CHANGED: " (another change moved AWSCURRENT meanwhile)",
        UNKNOWN: " (state unknown: its labels could not be read; AWSCURRENT may have moved)",
    }.get(failure.left or "", "")


# At most this many retry commands are spelled out in the hint (the warnings name them all).
SHOWN_RETRIES = 3


def _failure_hint(
    failed: list[BulkFailure], recover: str, request: RotateRequest, recipes: dict[str, Recipe]
) -> str:
    """The ways out after failures, one per state left. Never "run the same command again"
    when that would rotate again what succeeded (--older-than 0): the secrets to retry are
    named, each with its own single-secret command."""
    from envsecrets.commands.rotate_apply import verify_flags
    from envsecrets.core.rotation_bulk import CHANGED, PROMOTED, UNCHANGED, UNKNOWN

    def names(state: str) -> list[str]:
        return [f.name for f in failed if f.left == state and not _is_pending_failure(f)]

    steps: list[str] = []
    # A value that failed its verification is never offered a plain `--resume` (it would
    # promote that value): `--cancel` first, then `--resume` that verifies again.
    unverified = sorted(f.name for f in failed if f.step == "verify" and _is_pending_failure(f))
    if unverified:
        verify = verify_flags(request)
        steps.append(
            f"`{recover} --cancel` drops the values left pending ({', '.join(unverified)} "
            f"failed verification); `{recover} --resume{verify}` verifies them again and "
            "promotes only those that pass"
        )
    elif any(_is_pending_failure(failure) for failure in failed):
        steps.append(
            f"`{recover} --resume` finishes the rotations left pending (`--cancel` drops them)"
        )
    retry = [
        f.name
        for f in failed
        if f.left in (UNCHANGED, None) and not _is_pending_failure(f) and not _is_live(f)
    ]
    if live := [f.name for f in failed if _is_live(f)]:
        steps.append(f"{', '.join(live)}: being rotated by another run now, left to it")
    if retry and request.older_than > 0:
        steps.append(
            f"run the same command again to retry the {len(retry)} unchanged (the secrets "
            "rotated now are no longer due)"
        )
    elif retry:
        shown = [f"`{_single_command(name, request, recipes)}`" for name in retry[:SHOWN_RETRIES]]
        more = (
            f" (and the same for {', '.join(retry[SHOWN_RETRIES:])})"
            if retry[SHOWN_RETRIES:]
            else ""
        )
        steps.append(f"retry only the {len(retry)} unchanged: {'; '.join(shown)}{more}")
    if unknown := names(UNKNOWN):
        steps.append(
            f"the state of {', '.join(unknown)} is unknown: `secrets history NAME` shows "
            "whether AWSCURRENT moved; retry none of them before you know"
        )
    if changed := names(CHANGED):
        steps.append(f"{', '.join(changed)} changed meanwhile: see `secrets history NAME`")
    if promoted := names(PROMOTED):
        steps.append(
            f"{', '.join(promoted)} did rotate (the new value is AWSCURRENT): nothing to redo"
        )
    return "; ".join(steps)


def _single_command(name: str, request: RotateRequest, recipes: dict[str, Recipe]) -> str:
    """`secrets rotate NAME ...` with the flags that rotate that secret as the bulk run did
    (a secret with a rotation plan in secrets.toml finds its plan by itself)."""
    import shlex

    from envsecrets.core.passwords import DEFAULT_LENGTH

    flags: list[str] = []
    rules = request.rules
    if name not in recipes and rules is not None:
        flags.append("--generate")
        if rules.length != DEFAULT_LENGTH:
            flags += ["--length", str(rules.length)]
        if rules.exclude_punctuation:
            flags.append("--exclude-punctuation")
        if rules.exclude_characters:
            flags += ["--exclude-characters", shlex.quote(rules.exclude_characters)]
        if request.field_key is not None:
            flags += ["--field", shlex.quote(request.field_key)]
    if request.verify_cmd is not None:
        flags += ["--verify-cmd", shlex.quote(request.verify_cmd)]
    return " ".join(["secrets rotate", shlex.quote(name), *flags])


# "run the (same) command again" in an error's hint means the bulk command here: followed by
# a script, it rotates again every secret that succeeded. Cut, with the clause it ends.
_RUN_AGAIN = re.compile(r"(?:,? ?then )?run the (?:same )?command again[^;]*")


def _own_hint(
    failure: BulkFailure, request: RotateRequest, recipes: dict[str, Recipe]
) -> BulkFailure:
    """`failure` with a hint for that secret alone: the error's advice without "run the
    command again", then what to do about the state it left, with its own command."""
    import shlex

    from envsecrets.core.rotation import PendingRotationError
    from envsecrets.core.rotation_bulk import CHANGED, PENDING_LEFT, PROMOTED, UNKNOWN

    error = failure.error
    if isinstance(error, PendingRotationError):
        return failure  # left by an earlier run, or being rotated now: its hint says so
    name = shlex.quote(failure.name)
    advice = [part.strip(" ,") for part in _RUN_AGAIN.sub("", error.hint or "").split(";")]
    kept = [part for part in advice if part]
    if failure.left == PENDING_LEFT:
        if f"secrets rotate {name} --" not in (error.hint or ""):
            verify = (
                f" --verify-cmd {shlex.quote(request.verify_cmd)}" if request.verify_cmd else ""
            )
            kept.append(
                f"its new value waits AWSPENDING (version {failure.version}): "
                f"`secrets rotate {name} --cancel` drops it, "
                f"`secrets rotate {name} --resume{verify}` promotes it"
            )
    elif failure.left == PROMOTED:
        kept.append(
            f"{failure.name} did rotate (version {failure.version} is AWSCURRENT): nothing to redo"
        )
    elif failure.left in (CHANGED, UNKNOWN):
        kept.append(
            f"`secrets history {name}` shows whether AWSCURRENT moved; retry it only once you know"
        )
    else:  # nothing changed (or refused before it began): this secret alone is retried
        kept.append(f"retry this secret alone: `{_single_command(failure.name, request, recipes)}`")
    # The same error (its class says its step) with another hint; copy.copy would call the
    # class with the message alone, which StepFailed does not take.
    changed = type(error).__new__(type(error))
    changed.__dict__.update(error.__dict__)
    changed.args = error.args
    changed.hint = "; ".join(kept)
    return replace(failure, error=changed)


def _point_at_bulk_recovery(failure: BulkFailure, recover: str) -> BulkFailure:
    from envsecrets.core.rotation import PendingRotationError

    error = failure.error
    if not isinstance(error, PendingRotationError) or error.live is not None:
        return failure  # a rotation running now: neither recovery applies yet
    return replace(
        failure,
        error=PendingRotationError(
            error.name,
            error.version,
            f"`{recover} --resume` promotes every version left pending under this scope, "
            f"`--cancel` drops them (one secret: `secrets rotate {failure.name} --resume`)",
        ),
    )


def _plan_table(out: Renderer, items: list[BulkItem], recipes: dict[str, Recipe]) -> None:
    # The APPLY TO column appears when some secret has a rotation plan in secrets.toml.
    header = ["NAME", "LAST CHANGED", *(["APPLY TO"] if recipes else []), "PLAN"]
    out.table(
        header,
        [
            [
                item.name,
                when(item.last_changed),
                *([_applies_to(recipes.get(item.name))] if recipes else []),
                "rotate" if item.skip is None else f"skip: {item.skip}",
            ]
            for item in items
        ],
    )


def _applies_to(recipe: Recipe | None) -> str:
    return (recipe.label if recipe is not None else None) or "-"


def _recovery_table(
    out: Renderer, items: list[PendingItem], action: str, recipes: dict[str, Recipe]
) -> None:
    from envsecrets.core.rotation_bulk import RESUME

    header = ["NAME", "PENDING VERSION", "CURRENT VERSION"]
    out.table(
        [*header, *(["APPLY TO"] if recipes else []), "PLAN"],
        [
            [
                item.name,
                item.pending,
                item.current or "-",
                *([_applies_to(recipes.get(item.name))] if recipes else []),
                "resume: promote to AWSCURRENT" if action == RESUME else "cancel: drop AWSPENDING",
            ]
            for item in items
        ],
    )
