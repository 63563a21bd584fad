"""`secrets rotate NAME ... --save-plan`: how a secret was just rotated, recorded in
secrets.toml `[rotation]` (edited with tomlkit, comments kept; written atomically), so that
the next `secrets rotate NAME` and bulk rotation need no flags."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from envsecrets.commands.common import Workspace
from envsecrets.ui.render import Renderer

if TYPE_CHECKING:
    from envsecrets.core.names import SecretName
    from envsecrets.core.rotation_plans import RotationSettings


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
