"""Which variable names a secret may not become by accident (`run`, `export`): the names that
run code or move trust, and the tokens people keep as secrets that must stay allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from envsecrets.core.obeyed import is_obeyed


@pytest.mark.parametrize(
    "variable",
    [
        # found by a reviewer: each runs code or redirects where code and requests come from
        "TAR_OPTIONS",  # --checkpoint-action=exec=...
        "GNUMAKEFLAGS",  # --eval=$(shell ...)
        "RSYNC_RSH",
        "CVS_RSH",
        "RUSTC",
        "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER",
        "CCACHE_PREFIX",
        "LUA_INIT",
        "GRADLE_OPTS",
        "ANSIBLE_SSH_ARGS",
        "KUBE_EDITOR",
        "KUBECTL_EXTERNAL_DIFF",
        "HGRCPATH",
        "TF_CLI_ARGS",
        "TF_CLI_ARGS_apply",
        "GOPROXY",
        "GOSUMDB",
        "YARN_NPM_REGISTRY_SERVER",
        "COREPACK_NPM_REGISTRY",
        "UV_DEFAULT_INDEX",
        "UV_INDEX",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        "SSLKEYLOGFILE",
        "TMPDIR",
        "tar_options",  # case aside
    ],
)
def test_names_that_run_code_or_move_trust_are_obeyed(variable: str) -> None:
    assert is_obeyed(variable)


@pytest.mark.parametrize(
    "variable",
    [
        "CARGO_REGISTRY_TOKEN",
        "YARN_NPM_AUTH_TOKEN",
        "ANSIBLE_VAULT_PASSWORD",
        "STRIPE_SECRET_KEY",
        "DATABASE_URL",
        "JWT_SECRET",
        "TF_TOKEN_APP_TERRAFORM_IO",
    ],
)
def test_the_tokens_people_keep_as_secrets_are_not(variable: str) -> None:
    assert not is_obeyed(variable)


def test_export_refuses_a_secret_named_tar_options(cli: Any, sm: Any, aws_env: Path) -> None:
    sm.create_secret(Name="dev/tar/tar-options", SecretString="--checkpoint=1")
    run = cli("export", "dev/tar", "--format", "shell", "--yes")
    assert run.code == 2, run.stderr
    assert "would set TAR_OPTIONS" in run.stderr and run.stdout == ""
