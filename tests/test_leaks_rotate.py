"""Leak checks for `secrets rotate` in every form: a canary (or a generated value) never shows
in stdout, stderr, --debug output, files under HOME or the work folder, any process's argv, or
the environment of `secrets` and the `--verify-cmd` it starts (which gets it on stdin only)."""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import aws_client
from tests.leaks import assert_no_leak, assert_no_leak_in_files, run_watched, text_canary
from tests.test_rotate import make, value_of


def test_every_rotate_form_keeps_the_canary_out(cli, sm, aws_env: Path) -> None:
    old = text_canary()
    new = text_canary()
    make(sm, "dev/db/password", old)
    runs = [
        # verification that echoes its stdin and fails: shown masked
        cli(
            "--debug",
            "rotate",
            "dev/db/password",
            "--stdin",
            "--verify-cmd",
            "sh -c 'cat; exit 1'",
            input=new,
        ),
        cli("rotate", "dev/db/password", "--stdin", input=new),  # refused: pending exists
        cli("--debug", "rotate", "dev/db/password", "--resume", "--json"),
        cli("rotate", "dev/db/password", "--rollback", "--json"),
        cli("rotate", "dev/db/password", "--rollback"),  # already rolled back: says so
        cli("rotate", "dev/db/password", "--stdin", input=new),  # rotates to it again
        cli("rotate", "dev/db/password", "--cancel", "--json"),  # nothing pending: says so
        cli("rotate", "dev/db/password", "--managed"),  # refused: no rotation Lambda
        cli("show", "dev/db/password", "--json"),
        cli("history", "dev/db/password"),
    ]
    # Each run reached the path it is here for (a scan of a run that stopped early proves
    # nothing about the path after it).
    assert [run.code for run in runs] == [1, 4, 0, 0, 0, 0, 0, 4, 0, 0], [r.stderr for r in runs]
    assert value_of(sm, "dev/db/password") == new  # the checks are not vacuous
    for run in runs:
        assert_no_leak(run, old)
        assert_no_leak(run, new)
    assert_no_leak_in_files(aws_env.parent, old)
    assert_no_leak_in_files(aws_env.parent, new)


def test_field_rotation_keeps_both_keys_out(cli, sm, aws_env: Path) -> None:
    user, password = text_canary(), text_canary()
    make(sm, "dev/db/creds", json.dumps({"username": user, "password": password}))
    fresh = text_canary()
    run = cli("rotate", "dev/db/creds", "--field", "password", "--stdin", "--json", input=fresh)
    assert run.code == 0, run.stderr
    assert json.loads(value_of(sm, "dev/db/creds"))["password"] == fresh
    for canary in (user, password, fresh):
        assert_no_leak(run, canary)


def test_generated_values_stay_out_of_bulk_output(cli, sm) -> None:
    names = [f"dev/api/key-{i}" for i in range(5)]
    for name in names:
        make(sm, name, text_canary())
    runs: list[Any] = [
        cli("rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes", "--json"),
        cli("rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes"),
    ]
    assert all(run.code == 0 for run in runs)
    for name in names:
        for stage in ("AWSCURRENT", "AWSPREVIOUS"):
            value = value_of(sm, name, stage)
            for run in runs:
                assert_no_leak(run, value)


def test_verify_command_and_secrets_process_never_hold_the_value(sm, proxy) -> None:
    make(sm, "dev/db/password", text_canary())
    canary = text_canary()
    proxy.faults.latency = 0.05  # long enough for the watcher to sample every process
    run = run_watched(
        [
            "rotate",
            "dev/db/password",
            "--stdin",
            "--verify-cmd",
            "sh -c 'cat >/dev/null; sleep 0.5'",
        ],
        canary,
        input=canary,
    )
    assert run.code == 0, run.stderr
    assert_no_leak(run, canary)
    assert value_of(sm, "dev/db/password") == canary


def _lambda_without_docker(moto_url: str, on: bool) -> None:
    """moto runs a Lambda in Docker, which this machine has not; its documented alternative
    (`{"lambda": {"use_docker": false}}`) keeps every function and answers each invocation
    without running it. A server-wide setting: switched back after the test."""
    request = urllib.request.Request(
        f"{moto_url}/moto-api/config",
        data=json.dumps({"lambda": {"use_docker": not on}}).encode(),
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture
def rotation_lambda(moto_url: str) -> Iterator[str]:
    """A rotation Lambda in the emulator; yields its ARN."""
    _lambda_without_docker(moto_url, True)
    try:
        role = aws_client("iam").create_role(RoleName="rotator", AssumeRolePolicyDocument="{}")
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("index.py", "def handler(event, context):\n    return None\n")
        function = aws_client("lambda").create_function(
            FunctionName="rotator",
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler="index.handler",
            Code={"ZipFile": code.getvalue()},
        )
        yield function["FunctionArn"]
    finally:
        _lambda_without_docker(moto_url, False)


def _configure_rotation(sm: Any, name: str, function_arn: str) -> None:
    sm.rotate_secret(
        SecretId=name,
        RotationLambdaARN=function_arn,
        RotationRules={"AutomaticallyAfterDays": 30},
        RotateImmediately=False,
    )
    for version in sm.list_secret_version_ids(SecretId=name)["Versions"]:
        if "AWSPENDING" in version["VersionStages"]:
            sm.update_secret_version_stage(
                SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=version["VersionId"]
            )


def test_managed_rotation_keeps_the_canary_out(cli, sm, aws_env: Path, rotation_lambda) -> None:
    """`rotate --managed` past its checks: RotateSecret starts the configured Lambda.

    moto differs from AWS here: configuring rotation (RotateSecret, not immediately) leaves
    an AWSPENDING copy of the value, removed here as the Lambda's testSecret step would leave
    none; at RotateSecret moto itself moves AWSCURRENT to the new (empty) version after
    invoking the four steps, where AWS leaves the labels to the Lambda; and a RotateSecret
    without RotationLambdaARN forgets the function (AWS keeps it), so each form gets its own
    secret."""
    canaries = {}
    forms = {
        "dev/db/password": ["--debug", "rotate", "dev/db/password", "--managed", "--json"],
        "dev/db/other": ["--debug", "rotate", "dev/db/other", "--managed"],
    }
    for name in forms:
        canaries[name] = text_canary()
        make(sm, name, canaries[name])
        _configure_rotation(sm, name, rotation_lambda)
    runs = {name: cli(*args) for name, args in forms.items()}
    assert [run.code for run in runs.values()] == [0, 0], [r.stderr for r in runs.values()]
    started = runs["dev/db/password"].json()
    assert started["lambda_arn"] == rotation_lambda
    versions = sm.list_secret_version_ids(SecretId="dev/db/password")["Versions"]
    assert started["version_id"] in {v["VersionId"] for v in versions}  # a rotation started
    assert len(versions) == 3  # the value, moto's pending copy, the rotation's version
    for run in runs.values():
        for canary in canaries.values():
            assert_no_leak(run, canary)
    for canary in canaries.values():
        assert_no_leak_in_files(aws_env.parent, canary)
