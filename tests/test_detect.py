"""envsecrets.core.detect: which environment variables look like secrets (no AWS involved)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from envsecrets.core.detect import Detection, looks_secret, looks_secret_name

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("name", "value", "by"),
    [
        ("DB_PASSWORD", "hunter2", "name"),
        ("dbPassword", "hunter2", "name"),
        ("db-password", "hunter2", "name"),
        ("STRIPE_API_KEY", "sk_test_abc", "name"),
        ("PRIVATE_KEY", "abc", "name"),
        ("SENTRY_DSN", "https://abc@o1.ingest.sentry.io/1", "name"),
        ("GITHUB_TOKEN", "short", "name"),
        ("GOOGLE_CREDENTIALS", '{"type": "service_account"}', "name"),
        ("SMTP_PASS", "abc123", "name"),
        ("JWT_SIGNING_KEY", "abc", "name"),
        ("ANYTHING", "AKIAIOSFODNN7EXAMPLE", "value"),
        ("AWS_SECRET_ACCESS_KEY", AWS_SECRET, "value"),
        ("CERT", PRIVATE_KEY, "value"),
        ("DATABASE_URL", "postgres://app:p4ssw0rd@db.internal:5432/app", "value"),
        ("OPAQUE", "Zx8Qm2Lr9Tb4Nw7Vk1Hs6Pj3Yc5Fd0Ga", "value"),
        ("GH", "ghp_" + "a1B2c3D4e5" * 3 + "f6G7h8", "value"),
    ],
)
def test_secret_looking_variables_are_detected(name: str, value: str, by: str) -> None:
    found = looks_secret(name, value)
    assert isinstance(found, Detection)
    assert found.by == by
    assert value not in found.reason and value not in repr(found)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOG_LEVEL", "debug"),
        ("TABLE_NAME", "orders"),
        ("REGION", "eu-west-1"),
        ("AUTHOR", "someone"),
        ("SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/x-AbCdEf"),
        ("DB_PASSWORD", "{{resolve:secretsmanager:prod/db}}"),
        ("TOKEN_TTL", "3600"),
        ("PASSWORD_MIN_LENGTH", "12"),
        ("API_KEY_HEADER", "X-Api-Key"),
        ("SECRET_NAME", "prod/api/stripe-key"),
        ("API_KEY", ""),
        ("API_KEY", "   "),
        ("API_KEY", "changeme"),
        ("DB_PASSWORD", "${DB_PASSWORD}"),
        ("DB_PASSWORD", "$OTHER_VAR"),
        ("DB_PASSWORD", "********"),
        ("PWD", "/var/task"),
        ("REQUEST_ID", "550e8400-e29b-41d4-a716-446655440000"),
        ("FEATURES", "checkout,search,cart"),
        ("ALPHABET", "abcdefghijklmnopqrstuvwxyz"),
        # "pass through" is a switch, not a password.
        ("PASS_THROUGH", "enabled"),
        ("PassItThrough", "yes-please"),
        ("PassthroughBehavior", "WHEN_NO_MATCH"),
        ("PassThroughBehavior", "WHEN_NO_TEMPLATES"),
    ],
)
def test_configuration_is_not_a_secret(name: str, value: str) -> None:
    assert looks_secret(name, value) is None


def test_names_alone() -> None:
    assert looks_secret_name("STRIPE_SECRET_KEY")
    assert looks_secret_name("/app/prod/db/password")
    assert not looks_secret_name("STRIPE_SECRET_ARN")
    assert not looks_secret_name("/app/prod/log-level")


def test_import_is_cheap_and_has_no_side_effects() -> None:
    """Importing the module must not import detect-secrets, boto3, typer or rich."""
    code = (
        "import sys, envsecrets.core.detect; "
        "bad = [m for m in ('detect_secrets', 'boto3', 'typer', 'rich') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GOOGLE_API_KEY", "AIzaXXXX"),
        ("EMAIL_SERVICE_API_KEY", "KEYEXAMPLE1234"),
        ("FAUNADB_SECRET", "YOUR-SECRET-HERE"),
        ("STRIPE_SECRET_KEY", "<your stripe key>"),
        ("DB_PASSWORD", "replace_me"),
    ],
)
def test_example_placeholders_are_not_secrets(name: str, value: str) -> None:
    """Example configurations (serverless/examples and the like) say where the key goes."""
    assert looks_secret(name, value) is None


def test_documented_example_keys_still_count() -> None:
    assert looks_secret("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE") is not None
    assert looks_secret("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
