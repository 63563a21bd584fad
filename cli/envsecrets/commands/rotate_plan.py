"""Rotation plans in secrets.toml `[rotation]`, on the command side: `secrets rotate NAME ...
--save-plan` records how a secret was just rotated (edited with tomlkit, comments kept;
written atomically), so that the next `secrets rotate NAME` and bulk rotation need no flags;
`secrets check ENV` looks at each declared plan in the environment."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from envsecrets.commands.common import Workspace
from envsecrets.errors import CliError, ExitCode
from envsecrets.ui.render import Renderer

if TYPE_CHECKING:
    from envsecrets.core.names import SecretName
    from envsecrets.core.rotation_plans import DeclaredPlan, PlanCheck, RotationSettings
    from envsecrets.core.store import SecretStore


def save_plan(ws: Workspace, out: Renderer, secret: SecretName, settings: RotationSettings) -> None:
    """Write the plan of `settings` for `secret`'s path (replacing the one declared, if any)."""
    from envsecrets.core.config import CONFIG_FILENAME, load_config
    from envsecrets.core.config_edit import set_rotation_plan
    from envsecrets.core.files import write_text_atomically
    from envsecrets.core.rotation_plans import plan_entry

    entry, templated = plan_entry(settings, secret.env)
    config_path = ws.config.path or Path.cwd() / CONFIG_FILENAME
    text = config_path.read_text(encoding="utf-8") if config_path.exists() else ""
    written = set_rotation_plan(text, secret.path, entry)
    if written == text:
        out.note(f'{config_path}: [rotation] "{secret.path}" already says so')
        return
    write_text_atomically(config_path, written)
    load_config(config_path)  # what was written reads back as a valid plan
    if not out.json_mode:
        out.note(f'recorded the plan in {config_path} [rotation] "{secret.path}"')
        if not templated and settings.target is not None:
            out.warn(
                f"the target {settings.target} does not name the environment: every "
                f"environment's {secret.path} now rotates it (write {{env}} in its ID in "
                f"{config_path} if each environment has its own)"
            )


def check_rotation_plans(ws: Workspace, env: str, store: SecretStore) -> list[PlanCheck]:
    """`secrets check ENV`: every plan declared in secrets.toml [rotation], looked at in ENV:
    the secret exists (DescribeSecret), the target exists and can be rotated this way
    (DescribeDBInstances/DescribeDBClusters, IAM GetUser), the commands can be run."""
    from envsecrets.core.rotation_plans import check_plans

    def secret(plan: DeclaredPlan) -> tuple[str, str] | None:
        try:
            meta = store.describe(f"{env}/{plan.path}")
        except CliError as exc:
            if exc.code == ExitCode.NOT_FOUND:
                return "missing", f"{env}/{plan.path} does not exist"
            raise
        if meta.scheduled_for_deletion:
            return "missing", f"{env}/{plan.path} is scheduled for deletion"
        return None

    def target(plan: DeclaredPlan) -> tuple[str, str] | None:
        if plan.target is None:
            return None
        ref = plan.target.for_env(env)
        try:
            if ref.kind == "iam-user":
                from envsecrets.backends.iam_target import IamAccessKeys

                keys = IamAccessKeys(ws.target(env), ref.identifier)
                return None if keys.exists() else ("target_missing", keys.not_found().message)
            from envsecrets.backends.rds_target import RdsDatabase

            state = RdsDatabase(ws.target(env), ref.kind, ref.identifier).describe()
        except CliError as exc:
            if exc.code == ExitCode.NOT_FOUND:
                return "target_missing", exc.message
            raise
        if state.managed_password:
            return "target_refused", f"{ref}: RDS manages its master password itself"
        return None

    def commands(plan: DeclaredPlan) -> tuple[str, str] | None:
        from envsecrets.backends.verify import check_runnable

        for key, command in (("apply_cmd", plan.apply_cmd), ("verify_cmd", plan.verify_cmd)):
            if command is None:
                continue
            try:
                check_runnable(command.replace("{env}", env), key)
            except CliError as exc:
                return "command_missing", exc.message
        return None

    return check_plans(env, ws.config.rotation, (secret, target, commands))
