"""Listings whose page tokens go round, or never end (findings item 5).

A token the same listing was given before (A, B, A) would make it page for ever while holding
every page in memory; so would an endpoint that hands out empty pages with fresh tokens
without end. Both are refused in the reply checks (backends/replies.py), exit 6 naming the
endpoint, for every listing: Secrets Manager, SSM, Lambda. AWS documents empty pages with a
token, so a run of them is fine up to MAX_EMPTY_PAGES.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from envsecrets.backends.replies import MAX_EMPTY_PAGES

from tests.conftest import write_config

CONFIG = """
[environments.dev]
region = "us-east-1"
"""
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:{}-AbCdEf"
LAMBDA = "lambda.GET /2015-03-31/functions"


def page(token: str | None, **members: Any) -> str:
    body = dict(members)
    if token is not None:
        body["NextToken"] = token
    return "reply:200:" + json.dumps(body)


def secrets_page(token: str | None, *names: str) -> str:
    return page(token, SecretList=[{"Name": name, "ARN": ARN.format(name)} for name in names])


def going_round(make: Any, first: str = "A", second: str = "B", pages: int = 40) -> list[str]:
    """Pages whose tokens go first, second, first, second, ... (`pages` of them)."""
    return [make(first if index % 2 == 0 else second) for index in range(pages)]


def assert_refused(run: Any, says: str) -> None:
    assert run.code == 6, (run.code, run.stdout, run.stderr)
    assert says in run.stderr, run.stderr
    assert "gave up waiting" not in run.stderr
    assert "Traceback" not in run.stderr


@pytest.fixture
def workdir(aws_env: Path) -> Path:
    write_config(aws_env, CONFIG)
    return aws_env


def test_a_listing_whose_tokens_go_round_is_refused(cli: Any, workdir: Path, proxy: Any) -> None:
    proxy.script(
        "secretsmanager.ListSecrets",
        *going_round(lambda token: secrets_page(token, "dev/k0")),
    )
    run = cli("list", "dev/")
    assert_refused(run, "returns a page token this listing was given before")
    assert proxy.calls["secretsmanager.ListSecrets"] == 3  # A, B, then A again


def test_endless_empty_pages_are_given_up_on(cli: Any, workdir: Path, proxy: Any) -> None:
    fresh = [secrets_page(f"t{index}") for index in range(MAX_EMPTY_PAGES + 20)]
    proxy.script("secretsmanager.ListSecrets", *fresh)
    run = cli("list", "dev/")
    assert_refused(run, f"comes after {MAX_EMPTY_PAGES} empty pages in a row")
    assert proxy.calls["secretsmanager.ListSecrets"] == MAX_EMPTY_PAGES + 1


def test_empty_pages_with_a_token_then_results_are_fine(
    cli: Any, workdir: Path, proxy: Any
) -> None:
    """AWS's documented empty pages: a listing goes on through them."""
    pages = [secrets_page(f"t{index}") for index in range(MAX_EMPTY_PAGES)]
    pages += [secrets_page("last", "dev/k0"), secrets_page(None, "dev/k1")]
    proxy.script("secretsmanager.ListSecrets", *pages)
    run = cli("list", "dev/")
    assert run.code == 0, run.stderr
    names = [line.split("\t")[0] for line in run.stdout.splitlines()[1:]]
    assert names == ["dev/k0", "dev/k1"]


def test_history_whose_version_pages_go_round_is_refused(
    cli: Any, workdir: Path, sm: Any, proxy: Any
) -> None:
    """Before, `history` ran until the deadline and said "gave up waiting" though AWS was
    answering all along."""
    sm.create_secret(Name="dev/k0", SecretString="v")
    proxy.script(
        "secretsmanager.ListSecretVersionIds",
        *going_round(lambda token: page(token, Versions=[{"VersionId": "v" * 32}], Name="dev/k0")),
    )
    run = cli("--timeout", "60", "history", "dev/k0")
    assert_refused(run, "returns a page token this listing was given before")


def test_ssm_and_lambda_listings_that_go_round_are_refused(
    cli: Any, workdir: Path, proxy: Any
) -> None:
    proxy.script("ssm.GetParametersByPath", *going_round(lambda token: page(token, Parameters=[])))
    run = cli("migrate", "ssm", "/app/", "--to", "dev/app/", "--dry-run")
    assert_refused(run, "returns a page token this listing was given before")
    assert proxy.calls["ssm.GetParametersByPath"] == 3

    marker_pages = going_round(
        lambda marker: "reply:200:" + json.dumps({"Functions": [], "NextMarker": marker})
    )
    proxy.script(LAMBDA, *marker_pages)
    run = cli("audit", "--live", "--env", "dev")
    assert_refused(run, "returns a page token this listing was given before")
    assert proxy.calls[LAMBDA] == 3


def test_a_listing_that_never_ends_is_given_up_on(
    cli: Any, workdir: Path, proxy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fresh tokens and a secret on every page: neither check above trips, and before, `list`
    ran (and grew) for as long as the endpoint went on. The bound is lowered here so that the
    test does not need 20,000 pages."""
    import envsecrets.backends.replies as replies

    monkeypatch.setattr(replies, "MAX_PAGES", 30)
    fresh = [secrets_page(f"t{index}", f"dev/k{index}") for index in range(60)]
    proxy.script("secretsmanager.ListSecrets", *fresh)
    run = cli("list", "dev/")
    assert_refused(run, "is page 31 of one listing, more than AWS can hold")
    assert proxy.calls["secretsmanager.ListSecrets"] == 31
