"""`secrets migrate lambda`: a function's secret-looking variables -> Secrets Manager."""

from __future__ import annotations

import io
import json
import tomllib
import zipfile
from pathlib import Path
from typing import Any

from tests.conftest import aws_client, write_config

CANARY = "canary-Hp4rT9sKw2"
VARIABLES = {
    "STRIPE_SECRET_KEY": f"sk_live_{CANARY}",
    "DB_PASSWORD": f"{CANARY}-pw",
    "SENTRY_DSN": f"https://{CANARY}@o1.ingest.sentry.io/1",
    "SIGNING": "Zx8Qm2Lr9Tb4Nw7Vk1Hs6Pj3Yc5Fd0Ga",  # high entropy, innocent name
    "LOG_LEVEL": "info",
    "TABLE_NAME": "orders",
    "SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:dev/x-AbCdEf",
}
SECRET_KEYS = ["STRIPE_SECRET_KEY", "DB_PASSWORD", "SENTRY_DSN", "SIGNING"]
CONFIG = """# environments of the shop
[environments.dev]
region = "us-east-1"  # where dev lives

[environments.prod]
region = "us-east-1"

# checkout reads these
[functions.checkout]
secrets = ["api/shared-key"]
"""


def make_function(name: str = "checkout", variables: dict[str, str] | None = None) -> Any:
    """A function in the emulator (moto needs a role and a zip; it never runs here)."""
    iam = aws_client("iam")
    try:
        role = iam.get_role(RoleName="fn-role")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(
            RoleName="fn-role",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    client = aws_client("lambda")
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": dict(VARIABLES if variables is None else variables)},
    )
    return client


def variables_of(client: Any, name: str = "checkout") -> dict[str, str]:
    config = client.get_function_configuration(FunctionName=name)
    return dict(config.get("Environment", {}).get("Variables", {}))


def test_secret_looking_variables_move_and_are_recorded(cli, sm, aws_env: Path) -> None:
    write_config(aws_env, CONFIG)
    make_function()
    run = cli("migrate", "lambda", "checkout", "--env", "dev", "--json")
    assert run.code == 0, run.stderr
    assert CANARY not in run.stdout + run.stderr
    doc = run.json()
    assert sorted(i["source"] for i in doc["plan"]["items"]) == sorted(SECRET_KEYS)
    for key in SECRET_KEYS:
        name = f"dev/checkout/{key.lower().replace('_', '-')}"
        assert sm.get_secret_value(SecretId=name)["SecretString"] == VARIABLES[key]
        tags = sm.describe_secret(SecretId=name)["Tags"]
        assert {"Key": "migrated-from", "Value": f"lambda:checkout:{key}"} in tags
    # secrets.toml: the new paths are appended, comments kept.
    text = (aws_env / "secrets.toml").read_text()
    assert "# checkout reads these" in text and "# where dev lives" in text
    recorded = tomllib.loads(text)["functions"]["checkout"]["secrets"]
    assert recorded[0] == "api/shared-key"
    assert "checkout/stripe-secret-key" in recorded and len(recorded) == 5
    # The policy grants exactly these secrets, ARN-suffix-safe.
    resources = doc["policy"]["Statement"][0]["Resource"]
    assert (
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:dev/checkout/db-password-??????"
        in resources
    )
    assert all(not r.endswith("*") for r in resources)
    # The code for the function's own runtime (python3.12), read through a cache with a TTL.
    assert 'get_secret("dev/checkout/db-password", max_age=MAX_AGE)' in doc["code"]
    assert doc["code_for"]["runtime"] == "python3.12"


def test_human_output_prints_policy_and_code(cli, aws_env: Path) -> None:
    write_config(aws_env, CONFIG)
    make_function()
    run = cli("migrate", "lambda", "checkout", "--env", "dev")
    assert run.code == 0, run.stderr
    assert CANARY not in run.stdout + run.stderr
    assert "secretsmanager:GetSecretValue" in run.stdout
    assert "aws_lambda_powertools" in run.stdout
    assert "LOG_LEVEL" in run.stderr  # listed as kept in the function


def test_exact_keys_and_keep_case(cli, sm) -> None:
    make_function()
    run = cli(
        "migrate", "lambda", "checkout", "--env", "dev", "--keys", "TABLE_NAME", "--keep-case"
    )
    assert run.code == 0, run.stderr
    assert [s["Name"] for s in sm.list_secrets()["SecretList"]] == ["dev/checkout/TABLE_NAME"]


def test_remove_from_function_after_verification(cli, sm) -> None:
    client = make_function()
    refused = cli("migrate", "lambda", "checkout", "--env", "dev", "--remove-from-function")
    assert refused.code == 4  # no terminal to confirm, no --yes; nothing written
    assert sm.list_secrets()["SecretList"] == []
    run = cli("migrate", "lambda", "checkout", "--env", "dev", "--remove-from-function", "--yes")
    assert run.code == 0, run.stderr
    left = variables_of(client)
    assert sorted(left) == ["LOG_LEVEL", "SECRET_ARN", "TABLE_NAME"]
    assert left["TABLE_NAME"] == "orders"


def test_nothing_is_removed_unless_every_secret_verified(cli, sm) -> None:
    client = make_function()
    sm.create_secret(Name="dev/checkout/db-password", SecretString="someone else's")
    run = cli(
        "migrate", "lambda", "checkout", "--env", "dev", "--remove-from-function", "--yes", "--json"
    )
    assert run.code == 4
    notes = run.json()["result"]["notes"]  # the note leads with what it means for the function
    assert [n for n in notes if n.startswith("nothing removed from the source")], notes
    assert variables_of(client) == VARIABLES


def test_bad_input(cli, sm, aws_env: Path) -> None:
    make_function()
    assert cli("migrate", "lambda", "nope", "--env", "dev").code == 3
    unknown = cli("migrate", "lambda", "checkout", "--env", "dev", "--keys", "NOT_THERE")
    assert unknown.code == 2 and "NOT_THERE" in unknown.stderr
    assert cli("migrate", "lambda", "checkout", "--env", "Dev").code == 2
    write_config(aws_env, CONFIG)
    assert cli("migrate", "lambda", "checkout", "--env", "prod").code == 4  # protected
    assert cli("migrate", "lambda", "checkout", "--env", "qa").code == 2  # undeclared
    assert sm.list_secrets()["SecretList"] == []


def test_installed_script(secrets_cmd, sm, aws_env: Path) -> None:
    write_config(aws_env, CONFIG)
    make_function()
    run = secrets_cmd(["migrate", "lambda", "checkout", "--env", "prod", "--yes"])
    assert run.code == 0, run.stderr
    assert CANARY not in run.stdout + run.stderr
    assert len(sm.list_secrets()["SecretList"]) == len(SECRET_KEYS)
