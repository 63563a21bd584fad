"""The three journeys of the README, end to end, as subprocesses of the installed `secrets`:
what a developer, a migration script and an on-call engineer actually type.

Each journey runs against the emulator through AWS_ENDPOINT_URL, exactly as a user would; the
developer's hidden prompt and the protected-environment question are answered in a real
pseudo-terminal (pexpect).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pexpect  # a dev dependency: missing, the tests fail (not skip)

from tests.conftest import SECRETS_BIN, Run, aws_client, run_subprocess


def secrets(*args: str, input: str | None = None) -> Run:
    """`secrets ARGS` as a subprocess; the journeys read like shell sessions."""
    return run_subprocess(list(args), input=input)


def ok(run: Run) -> Run:
    assert run.code == 0, f"exit {run.code}: {run.stderr}"
    return run


# -- 1. a developer ------------------------------------------------------------------------------


def test_developer_journey(aws_env: Path) -> None:
    # 1. Describe the project's environments once.
    ok(
        secrets(
            "init", "--env", "dev", "--env", "staging", "--env", "prod",
            "--region", "us-east-1", "--function", "checkout=api/stripe-key",
        )
    )  # fmt: skip
    assert (aws_env / "secrets.toml").is_file()

    # 2. Store the live key through the hidden prompt; prod is protected, so it asks first.
    child = pexpect.spawn(
        SECRETS_BIN, ["set", "prod/api/stripe-key"], env=dict(os.environ), encoding="utf-8",
        timeout=30, dimensions=(40, 200),
    )  # fmt: skip
    child.expect("Value for prod/api/stripe-key")
    child.sendline("sk_live_journey_1")
    child.expect("Again")
    child.sendline("sk_live_journey_1")
    child.expect(r"prod/api/stripe-key\?")  # the protected-environment question
    child.send("y")
    child.expect("created")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "sk_live_journey_1" not in (child.before or "")  # never echoed

    # 3. Read it back, exactly.
    assert ok(secrets("get", "prod/api/stripe-key")).stdout == "sk_live_journey_1"

    # 4. List: names, never values.
    listed = ok(secrets("list"))
    assert "prod/api/stripe-key" in listed.stdout
    assert "sk_live" not in listed.stdout

    # 5. Staging has a test key: diff shows the difference without showing either value.
    ok(secrets("set", "staging/api/stripe-key", "--stdin", input="sk_test_journey\n"))
    diff = secrets("diff", "staging", "prod")
    assert diff.code == 1, diff.stderr  # they differ
    assert "api/stripe-key" in diff.stdout
    assert "sk_test" not in diff.stdout + diff.stderr
    assert "sk_live" not in diff.stdout + diff.stderr
    ok(secrets("set", "staging/api/stripe-key", "--stdin", input="sk_live_journey_1\n"))
    assert secrets("diff", "staging", "prod").code == 0


# -- 2. a migration script ----------------------------------------------------------------------


def test_migration_script_journey(aws_env: Path) -> None:
    ssm = aws_client("ssm")
    for name, value in (
        ("/app/prod/api/stripe-key", "sk_live_from_ssm"),
        ("/app/prod/db/password", "pw_from_ssm"),
    ):
        ssm.put_parameter(Name=name, Value=value, Type="SecureString")
    ok(
        secrets(
            "init", "--env", "prod", "--region", "us-east-1",
            "--function", "checkout=api/stripe-key,db/password",
        )
    )  # fmt: skip

    migrate = ["migrate", "ssm", "/app/prod", "--to", "prod/", "--recursive", "--json", "--yes"]
    first = ok(secrets(*migrate))
    report = json.loads(first.stdout)  # machine-readable, nothing else on stdout
    actions = {item["target"]: item["action"] for item in report["plan"]["items"]}
    assert actions == {"prod/api/stripe-key": "create", "prod/db/password": "create"}

    # Run it again, as a cron job or a retry would: nothing new is written.
    second = ok(secrets(*migrate))
    again = json.loads(second.stdout)
    assert {item["action"] for item in again["plan"]["items"]} == {"unchanged"}
    assert ok(secrets("get", "prod/db/password")).stdout == "pw_from_ssm"

    # Every secret the functions declare now exists in prod.
    ok(secrets("check", "prod"))

    # The least-privilege policy for every function, as a SAM snippet.
    policy = ok(secrets("policy", "--all", "--env", "prod", "--format", "sam"))
    assert "secretsmanager:GetSecretValue" in policy.stdout
    assert "prod/api/stripe-key-??????" in policy.stdout
    assert "prod/*" not in policy.stdout


# -- 3. ops rotating by hand ---------------------------------------------------------------------


def test_ops_rotation_journey(aws_env: Path) -> None:
    ok(secrets("init", "--env", "prod", "--region", "us-east-1"))
    ok(secrets("set", "prod/db/password", "--stdin", "--yes", input="old-password\n"))

    # The verification command gets the new value on stdin only (never argv or environment).
    check = "import sys; v = sys.stdin.read(); sys.exit(0 if len(v) >= 32 else 1)"
    verify = f"{shlex.quote(sys.executable)} -c {shlex.quote(check)}"
    rotated = ok(
        secrets("rotate", "prod/db/password", "--generate", "--verify-cmd", verify, "--yes")
    )
    new_value = ok(secrets("get", "prod/db/password")).stdout
    assert new_value != "old-password" and len(new_value) >= 32
    assert new_value not in rotated.stdout + rotated.stderr

    # Something broke downstream: roll back to the previous value.
    ok(secrets("rotate", "prod/db/password", "--rollback", "--yes"))
    assert ok(secrets("get", "prod/db/password")).stdout == "old-password"

    # The record: three versions' stages, no values.
    history = ok(secrets("history", "prod/db/password", "--json")).json()
    stages = [tuple(sorted(v["stages"])) for v in history]
    assert ("AWSCURRENT",) in stages and ("AWSPREVIOUS",) in stages
    text = json.dumps(history)
    assert "old-password" not in text and new_value not in text
