"""Answers that are not AWS's (findings item 16).

A proxy's login or refusal page (403, 407), a redirect (302), a 400 that is not JSON: botocore
gives them the HTTP status as their error code. Before, they ended in exit 1 "AWS's error code
says why"; they are the endpoint's failure: exit 6, with a hint naming the endpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config

PAGE = b"<html><body><h1>Proxy Authentication Required</h1></body></html>"


@pytest.mark.parametrize("status", [403, 407, 302, 400])
def test_a_page_that_is_not_aws_s_answer_is_exit_6(
    cli: Any, aws_env: Path, proxy: Any, status: int
) -> None:
    write_config(aws_env, '[environments.dev]\nregion = "us-east-1"\n')
    proxy.answer("secretsmanager.ListSecrets", PAGE, status, content_type="text/html")
    run = cli("list", "dev/")
    assert run.code == 6, (run.code, run.stderr)
    assert f"is HTTP {status} without an AWS error code" in run.stderr
    assert f"check that {proxy.url} is an AWS endpoint" in run.stderr


def test_aws_s_own_refusal_keeps_its_exit_code(cli: Any, aws_env: Path, proxy: Any) -> None:
    write_config(aws_env, '[environments.dev]\nregion = "us-east-1"\n')
    proxy.deny("secretsmanager.ListSecrets")
    run = cli("list", "dev/")
    assert run.code == 5, run.stderr
