"""The `secrets init` questions (questionary), asked only when a person is at the terminal."""

from __future__ import annotations

import os

from envsecrets.core.config import default_protected
from envsecrets.core.init import (
    EnvironmentChoice,
    FunctionChoice,
    InitSettings,
    parse_function_spec,
)
from envsecrets.core.names import validate_env
from envsecrets.errors import CliError, ExitCode


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace(" ", ",").split(",") if part.strip()]


def ask_init_settings() -> InitSettings:
    """Walk through environments and functions; Ctrl-C aborts (exit 130) with nothing written."""
    import questionary

    from envsecrets.ui.prompts import can_prompt

    if not can_prompt():
        raise CliError(
            ExitCode.USAGE,
            "no environments given and no terminal to ask for them",
            "pass --env NAME (repeatable), e.g. `secrets init --env dev --env prod --region "
            "us-east-1`",
        )

    def env_names(text: str) -> bool | str:
        try:
            for name in _split(text):
                validate_env(name)
        except CliError as exc:
            return exc.message
        return bool(_split(text)) or "name at least one environment"

    names = _split(
        questionary.text(
            "Environments (comma-separated):", default="dev,staging,prod", validate=env_names
        ).unsafe_ask()
    )
    default_region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or ""
    environments: list[EnvironmentChoice] = []
    for name in names:
        backend = questionary.select(
            f"[{name}] Where do its secrets live?",
            choices=[
                questionary.Choice("AWS Secrets Manager", value="aws"),
                questionary.Choice("this machine's OS keychain (local development)", "keyring"),
            ],
            default="aws",
        ).unsafe_ask()
        if backend == "keyring":
            environments.append(EnvironmentChoice(name, backend="keyring", protected=False))
            continue
        region = questionary.text(f"[{name}] AWS region:", default=default_region).unsafe_ask()
        profile = questionary.text(
            f"[{name}] AWS profile (empty: default credentials):"
        ).unsafe_ask()
        kms = questionary.text(
            f"[{name}] KMS key for new secrets (empty: aws/secretsmanager):"
        ).unsafe_ask()
        protected = questionary.confirm(
            f"[{name}] Protected (confirm every write, scripts need --yes)?",
            default=default_protected(name),
        ).unsafe_ask()
        environments.append(
            EnvironmentChoice(
                name,
                region=region.strip() or None,
                profile=profile.strip() or None,
                kms_key_id=kms.strip() or None,
                protected=bool(protected),
            )
        )
    functions: list[FunctionChoice] = []
    while questionary.confirm(
        "Declare a function and the secrets it reads?" if not functions else "Another function?",
        default=not functions,
    ).unsafe_ask():
        function = questionary.text("Function name:").unsafe_ask().strip()
        paths = questionary.text(
            f"Secrets {function} reads, relative to the environment (e.g. api/stripe-key):"
        ).unsafe_ask()
        if function:
            functions.append(parse_function_spec(f"{function}={paths}"))
    return InitSettings(tuple(environments), tuple(functions))
