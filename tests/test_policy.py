"""`secrets policy`: least-privilege documents that pass parliament and scope `-??????`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import parliament
import pytest

from tests.conftest import write_config

TEMPLATES = Path(__file__).parent / "data" / "templates"
ACCOUNT = "123456789012"  # the emulator's account (STS GetCallerIdentity says so too)

CONFIG = """
[environments.dev]
[environments.staging]
[environments.prod]
account_id = "123456789012"
{prod_extra}
[environments.china]
region = "cn-north-1"
account_id = "123456789012"
kms_key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"
[environments.gov]
region = "us-gov-west-1"
account_id = "123456789012"
kms_key_id = "alias/gov-secrets"

[functions.checkout]
secrets = ["api/stripe-key", "db/password"]

[functions.worker]
kind = "task"
secrets = ["queue/token"]

[functions.idle]
secrets = []
"""


def iam_match(pattern: str, text: str) -> bool:
    """IAM's wildcards, written here independently of the product: `*` any run, `?` one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text) is not None


def parliament_findings(document: dict[str, Any]) -> list[str]:
    analyzed = parliament.analyze_policy_string(json.dumps(document))
    return [f"{f.issue}: {f.detail}" for f in analyzed.findings]


def resources(document: dict[str, Any]) -> list[str]:
    return [r for s in document["Statement"] for r in s["Resource"]]


def setup_config(folder: Path, prod_extra: str = "") -> None:
    write_config(folder, CONFIG.format(prod_extra=prod_extra))


def test_iam_match_helper() -> None:
    assert iam_match("a-??????", "a-AbC123")
    assert not iam_match("a-??????", "a-old-AbC123")
    assert iam_match("a-*", "a-old-AbC123")


def test_pattern_matches_the_real_arn_and_not_a_sibling(cli: Any, sm: Any, aws_env: Path) -> None:
    setup_config(aws_env)
    real = sm.create_secret(Name="prod/api/stripe-key", SecretString="x")["ARN"]
    sibling = sm.create_secret(Name="prod/api/stripe-key-old", SecretString="y")["ARN"]
    run = cli("policy", "checkout", "--env", "prod")
    assert run.code == 0, run.stderr
    patterns = resources(run.json())
    assert any(iam_match(p, real) for p in patterns)
    assert not any(iam_match(p, sibling) for p in patterns)
    # `name-*`, the common mistake, would have matched the sibling.
    assert iam_match(real.rsplit("-", 1)[0] + "-*", sibling)


def test_names_ending_like_the_arn_suffix_stay_exact(cli: Any, sm: Any, aws_env: Path) -> None:
    """`jwt-secret` ends in '-' plus six characters, like AWS's suffix; `prod/jwt-??????` must
    still not match its ARN (13 characters follow `prod/jwt-`), and its own pattern must."""
    write_config(
        aws_env,
        "[environments.prod]\n"
        '[functions.short]\nsecrets = ["jwt"]\n'
        '[functions.long]\nsecrets = ["jwt-secret"]\n',
    )
    jwt = sm.create_secret(Name="prod/jwt", SecretString="x")["ARN"]
    jwt_secret = sm.create_secret(Name="prod/jwt-secret", SecretString="y")["ARN"]
    assert not iam_match("prod/jwt-??????", "prod/jwt-secret-AbCdEf")
    short = cli("policy", "short", "--env", "prod")
    long = cli("policy", "long", "--env", "prod")
    assert short.code == 0 and long.code == 0, short.stderr + long.stderr
    short_patterns, long_patterns = resources(short.json()), resources(long.json())
    assert any(iam_match(p, jwt) for p in short_patterns)
    assert not any(iam_match(p, jwt_secret) for p in short_patterns)
    assert any(iam_match(p, jwt_secret) for p in long_patterns)
    assert not any(iam_match(p, jwt) for p in long_patterns)


SCENARIOS = [
    ("prod", "", []),
    ("prod", 'kms_key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"', []),
    ("prod", 'kms_key_id = "alias/prod-secrets"', []),
    ("prod", 'kms_key_id = "arn:aws:kms:us-east-1:123456789012:key/mrk-1a2b3c"', []),
    ("prod", 'kms_key_id = "alias/aws/secretsmanager"', []),
    ("prod", 'kms_key_id = "arn:aws:kms:us-east-1:123456789012:alias/prod-secrets"', ["--json"]),
    ("prod", "", ["--describe"]),
    ("china", "", []),
    ("gov", "", ["--describe"]),
]


@pytest.mark.parametrize(("env", "prod_extra", "flags"), SCENARIOS)
def test_every_policy_passes_parliament(
    cli: Any, aws_env: Path, env: str, prod_extra: str, flags: list[str]
) -> None:
    setup_config(aws_env, prod_extra)
    run = cli("policy", "--all", "--env", env, *flags)
    assert run.code == 0, run.stderr
    documents = run.json()
    assert set(documents) == {"checkout", "worker"}  # idle declares none: warned, skipped
    assert "idle reads no secrets" in run.stderr
    for document in documents.values():
        assert parliament_findings(document) == []
        assert "*" not in resources(document)
        assert not any(r.endswith(f":secret:{env}/*") for r in resources(document))
        actions = [a for s in document["Statement"] for a in s["Action"]]
        assert ("secretsmanager:DescribeSecret" in actions) == ("--describe" in flags)


def test_kms_statement_is_scoped_to_secrets_manager_in_the_region(cli: Any, aws_env: Path) -> None:
    setup_config(aws_env, 'kms_key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"')
    document = cli("policy", "checkout", "--env", "prod").json()
    read, decrypt = document["Statement"]
    assert read["Action"] == ["secretsmanager:GetSecretValue"]
    assert decrypt["Action"] == ["kms:Decrypt"]
    assert decrypt["Resource"] == [
        f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    ]
    condition = decrypt["Condition"]
    assert condition["StringEquals"] == {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}
    assert condition["StringLike"]["kms:EncryptionContext:SecretARN"] == read["Resource"]
    # The AWS managed key needs no statement.
    setup_config(aws_env, 'kms_key_id = "alias/aws/secretsmanager"')
    assert len(cli("policy", "checkout", "--env", "prod").json()["Statement"]) == 1


@pytest.mark.parametrize(
    ("env", "partition", "region"),
    [("china", "aws-cn", "cn-north-1"), ("gov", "aws-us-gov", "us-gov-west-1")],
)
def test_partitions(cli: Any, aws_env: Path, env: str, partition: str, region: str) -> None:
    setup_config(aws_env)
    document = cli("policy", "checkout", "--env", env).json()
    read, decrypt = document["Statement"]
    assert read["Resource"] == [
        f"arn:{partition}:secretsmanager:{region}:{ACCOUNT}:secret:{env}/api/stripe-key-??????",
        f"arn:{partition}:secretsmanager:{region}:{ACCOUNT}:secret:{env}/db/password-??????",
    ]
    assert all(
        r.startswith(f"arn:{partition}:kms:{region}:{ACCOUNT}:key/") for r in decrypt["Resource"]
    )
    assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == (
        f"secretsmanager.{region}.amazonaws.com"
    )
    assert parliament_findings(document) == []


def test_region_flag_wins(cli: Any, aws_env: Path) -> None:
    setup_config(aws_env)
    document = cli("--region", "eu-west-1", "policy", "worker", "--env", "prod").json()
    assert resources(document) == [
        f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:prod/queue/token-??????"
    ]


def test_account_from_sts_without_account_id(cli: Any, aws_env: Path) -> None:
    setup_config(aws_env)
    run = cli("policy", "checkout", "--env", "staging")
    assert run.code == 0, run.stderr
    assert resources(run.json())[0] == (
        f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:staging/api/stripe-key-??????"
    )


def test_resolve_uses_exact_arns(cli: Any, sm: Any, aws_env: Path) -> None:
    setup_config(aws_env)
    stripe = sm.create_secret(Name="prod/api/stripe-key", SecretString="x")["ARN"]
    db = sm.create_secret(Name="prod/db/password", SecretString="y")["ARN"]
    run = cli("policy", "checkout", "--env", "prod", "--resolve")
    assert run.code == 0, run.stderr
    document = run.json()
    assert resources(document) == [stripe, db]
    assert parliament_findings(document) == []
    missing = cli("policy", "worker", "--env", "prod", "--resolve")
    assert missing.code == 3
    assert "prod/queue/token" in missing.stderr


def test_resolve_turns_a_kms_alias_into_its_key(cli: Any, sm: Any, aws_env: Path) -> None:
    """IAM matches keys by ARN, never by alias: without --resolve an alias can only become
    the account's keys in the region (narrowed by conditions); with it, the one key."""
    from tests.conftest import aws_client

    kms = aws_client("kms")
    key = kms.create_key(Description="prod secrets")["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/prod-secrets", TargetKeyId=key)
    setup_config(aws_env, 'kms_key_id = "alias/prod-secrets"')
    sm.create_secret(Name="prod/api/stripe-key", SecretString="x")
    sm.create_secret(Name="prod/db/password", SecretString="y")

    def decrypt_resources(run: Any) -> list[str]:
        assert run.code == 0, run.stderr
        assert parliament_findings(run.json()) == []
        found = [s for s in run.json()["Statement"] if s["Action"] == ["kms:Decrypt"]]
        return list(found[0]["Resource"])

    assert decrypt_resources(cli("policy", "checkout", "--env", "prod")) == [
        f"arn:aws:kms:us-east-1:{ACCOUNT}:key/*"
    ]
    assert decrypt_resources(cli("policy", "checkout", "--env", "prod", "--resolve")) == [key]
    alias_arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/prod-secrets"
    setup_config(aws_env, f'kms_key_id = "{alias_arn}"')
    assert decrypt_resources(cli("policy", "checkout", "--env", "prod", "--resolve")) == [key]
    setup_config(aws_env, 'kms_key_id = "alias/gone"')
    missing = cli("policy", "checkout", "--env", "prod", "--resolve")
    assert missing.code == 3
    assert "alias/gone" in missing.stderr and "hint:" in missing.stderr


def test_functions_from_a_template_without_functions_in_config(cli: Any, aws_env: Path) -> None:
    write_config(aws_env, f'[environments.prod]\naccount_id = "{ACCOUNT}"\n')
    run = cli("policy", "--all", "--env", "prod", "--template", str(TEMPLATES / "clean.yaml"))
    assert run.code == 0, run.stderr
    documents = run.json()
    # The task's container secret is fetched by ECS with the execution role; what the code
    # reads (its task role's grant) goes to the task role.
    assert set(documents) == {"Checkout", "worker", "worker-execution-role"}
    assert [r.split(":secret:")[1] for r in resources(documents["Checkout"])] == [
        "prod/api/stripe-key-??????",
        "prod/db/password-??????",
    ]
    for task_role in ("worker", "worker-execution-role"):
        assert [r.split(":secret:")[1] for r in resources(documents[task_role])] == [
            "prod/queue/token-??????"
        ]
    for document in documents.values():
        assert parliament_findings(document) == []
    # One function of the template, by its logical id: both of the task's roles.
    one = cli("policy", "Worker", "--env", "prod", "--template", str(TEMPLATES / "clean.yaml"))
    assert one.code == 0, one.stderr
    assert one.json() == {k: v for k, v in documents.items() if k.startswith("worker")}


def test_bad_input(cli: Any, aws_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setup_config(aws_env)
    undeclared = cli("policy", "nope", "--env", "prod")
    assert undeclared.code == 3 and "nope" in undeclared.stderr
    as_json = cli("policy", "nope", "--env", "prod", "--json")
    assert as_json.code == 3 and json.loads(as_json.stderr)["error"]["code"] == 3
    in_template = cli(
        "policy", "nope", "--env", "prod", "--template", str(TEMPLATES / "clean.yaml")
    )
    assert in_template.code == 3
    unknown_env = cli("policy", "checkout", "--env", "qa")
    assert unknown_env.code == 2 and "qa" in unknown_env.stderr
    malformed = cli(
        "policy", "--all", "--env", "prod", "--template", str(TEMPLATES / "malformed.yaml")
    )
    assert malformed.code == 2 and "line 6" in malformed.stderr and malformed.stdout == ""
    empty = cli(
        "policy", "--all", "--env", "prod", "--template", str(TEMPLATES / "no-functions.yaml")
    )
    assert empty.code == 0 and "no functions found" in empty.stderr and empty.stdout == ""
    assert cli("policy", "checkout", "--env", "prod", "--format", "xml").code == 2
    assert cli("policy", "--env", "prod").code == 2
    assert cli("policy", "checkout", "--all", "--env", "prod").code == 2
    assert cli("policy", "checkout").code == 2
    nothing = cli("policy", "idle", "--env", "prod")
    assert nothing.code == 2 and "declares no secrets" in nothing.stderr
    # No account_id and no way to ask STS: AWS is unavailable (6, as STS's own failure says),
    # and the hint says how to do without it.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    no_account = cli("policy", "checkout", "--env", "dev")
    assert no_account.code == 6
    assert "account_id" in no_account.stderr


def test_no_config_and_no_template(cli: Any) -> None:
    run = cli("policy", "--all", "--env", "prod")
    assert run.code == 0 and "no functions found" in run.stderr


def test_installed_script(secrets_cmd: Any, aws_env: Path) -> None:
    setup_config(aws_env)
    run = secrets_cmd(["policy", "checkout", "--env", "prod", "--format", "json"])
    assert run.code == 0, run.stderr
    assert parliament_findings(run.json()) == []
