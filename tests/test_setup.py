"""`secrets init` and `secrets doctor` against the emulator."""

from __future__ import annotations

import os
import stat
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from envsecrets.core.config import load_config

from tests.conftest import SECRETS_BIN, write_config

# -- init -------------------------------------------------------------------------------------


def test_init_with_flags_writes_a_commented_valid_config(cli: Any, aws_env: Path) -> None:
    run = cli(
        "init",
        "--env", "dev", "--env", "staging", "--env", "prod", "--env", "local",
        "--region", "eu-west-1",
        "--kms-key", "prod=alias/prod-secrets",
        "--set", "prod.account_id=123456789012",
        "--set", "staging.region=us-east-1",
        "--unprotected", "staging",
        "--keyring", "local",
        "--function", "checkout=api/stripe-key,db/password",
        "--function", "mailer=api/sendgrid-key",
    )  # fmt: skip
    assert run.code == 0, run.stderr
    path = aws_env / "secrets.toml"
    text = path.read_text()
    assert "# AWS region" in text and "# KMS key" in text  # each key explained
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    config = load_config(path)
    assert sorted(config.environments) == ["dev", "local", "prod", "staging"]
    prod = config.environments["prod"]
    assert (prod.region, prod.kms_key_id, prod.account_id, prod.protected) == (
        "eu-west-1",
        "alias/prod-secrets",
        "123456789012",
        True,
    )
    assert config.environments["staging"].region == "us-east-1"
    assert config.environments["staging"].protected is False
    assert config.environments["local"].backend == "keyring"
    assert config.functions["checkout"].secrets == ("api/stripe-key", "db/password")
    assert tomllib.loads(text)["functions"]["mailer"]["secrets"] == ["api/sendgrid-key"]


def test_init_refuses_to_overwrite_without_confirmation(cli: Any, aws_env: Path) -> None:
    original = "[environments.dev]\n"
    write_config(aws_env, original)
    run = cli("init", "--env", "prod")
    assert run.code == 4
    assert "--yes" in run.stderr
    assert (aws_env / "secrets.toml").read_text() == original
    assert cli("init", "--env", "prod", "--yes").code == 0
    assert "[environments.prod]" in (aws_env / "secrets.toml").read_text()


@pytest.mark.parametrize(
    "args",
    [
        ["--env", "Prod"],
        ["--env", "dev", "--function", "checkout"],
        ["--env", "dev", "--function", "checkout=api//key"],
        ["--env", "dev", "--kms-key", "prod"],
        ["--env", "dev", "--set", "dev.colour=blue"],
        ["--env", "dev", "--env", "dev"],
    ],
)
def test_init_bad_input_writes_nothing(cli: Any, aws_env: Path, args: list[str]) -> None:
    run = cli("init", *args)
    assert run.code == 2
    assert "hint:" in run.stderr
    assert not (aws_env / "secrets.toml").exists()
    assert list(aws_env.iterdir()) == []  # no temp file left behind


@pytest.mark.parametrize(
    "args",
    [
        ["--env", "dev", "--protected", "qa"],
        ["--protected", "qa", "--env", "dev"],
        ["--env", "dev", "--kms-key", "qa=alias/qa", "--protected", "qa"],
    ],
)
def test_init_flags_naming_an_undeclared_environment_declare_it(
    cli: Any, aws_env: Path, args: list[str]
) -> None:
    run = cli("init", *args)
    assert run.code == 0, run.stderr
    config = load_config(aws_env / "secrets.toml")
    assert sorted(config.environments) == ["dev", "qa"]
    assert config.environments["qa"].protected is True


def test_init_protected_alone_declares_without_questions(cli: Any, aws_env: Path) -> None:
    run = cli("init", "--protected", "qa")
    assert run.code == 0, run.stderr
    assert load_config(aws_env / "secrets.toml").environments["qa"].protected is True


def test_init_output_in_a_missing_folder_creates_it(cli: Any, aws_env: Path) -> None:
    run = cli("init", "--env", "dev", "--output", "other/deeper/secrets.toml")
    assert run.code == 0, run.stderr
    assert "created folder" in run.stderr
    assert "dev" in load_config(aws_env / "other" / "deeper" / "secrets.toml").environments


def test_init_never_replaces_a_file_that_appeared_during_the_questions(aws_env: Path) -> None:
    """The wizard, answered in a pty; while it waits, someone writes secrets.toml."""
    import pexpect

    child = pexpect.spawn(
        SECRETS_BIN, ["init"], cwd=str(aws_env), env=dict(os.environ), encoding="utf-8",
        timeout=20, dimensions=(40, 200),
    )  # fmt: skip
    child.expect("Environments")
    child.sendcontrol("u")
    child.sendline("dev")
    child.expect(r"\[dev\] Where do its secrets live")
    child.send("\r")
    child.expect(r"\[dev\] AWS region")
    child.sendline("")
    child.expect(r"\[dev\] AWS profile")
    child.sendline("")
    child.expect(r"\[dev\] KMS key")
    child.sendline("")
    child.expect(r"\[dev\] Protected")
    child.send("n")
    child.expect("Declare a function")
    appeared = "[environments.theirs]\n"
    (aws_env / "secrets.toml").write_text(appeared)
    child.send("n")
    child.expect(pexpect.EOF)
    screen = child.before
    child.close()
    assert child.exitstatus == 4, screen
    assert "appeared while the command ran" in screen
    assert (aws_env / "secrets.toml").read_text() == appeared
    assert sorted(p.name for p in aws_env.iterdir()) == ["secrets.toml"]  # no temp file left


def test_create_text_file_is_exclusive_at_write_time(aws_env: Path) -> None:
    from envsecrets.core.files import create_text_file
    from envsecrets.errors import CliError

    target = aws_env / "new.toml"
    create_text_file(target, "first\n")
    with pytest.raises(CliError) as caught:
        create_text_file(target, "second\n")
    assert caught.value.code == 4
    assert target.read_text() == "first\n"
    assert sorted(p.name for p in aws_env.iterdir()) == ["new.toml"]


def test_init_without_flags_or_terminal_says_how(cli: Any, aws_env: Path) -> None:
    run = cli("init")
    assert run.code == 2
    assert "--env" in run.stderr
    assert not (aws_env / "secrets.toml").exists()


def test_init_wizard_in_a_terminal(aws_env: Path) -> None:
    """The questionary wizard, answered through a real pseudo-terminal."""
    import pexpect

    child = pexpect.spawn(
        SECRETS_BIN, ["init"], cwd=str(aws_env), env=dict(os.environ), encoding="utf-8",
        timeout=20, dimensions=(40, 200),
    )  # fmt: skip
    child.logfile_read = sys.stdout if os.environ.get("DEBUG_PTY") else None
    child.expect("Environments")
    child.sendcontrol("u")  # clear the default
    child.sendline("dev,prod")
    for env, protect in (("dev", "n"), ("prod", "y")):
        child.expect(rf"\[{env}\] Where do its secrets live")
        child.send("\r")  # AWS Secrets Manager
        child.expect(rf"\[{env}\] AWS region")
        child.sendcontrol("u")
        child.sendline("eu-central-1")
        child.expect(rf"\[{env}\] AWS profile")
        child.sendline("")
        child.expect(rf"\[{env}\] KMS key")
        child.sendline("alias/prod" if env == "prod" else "")
        child.expect(rf"\[{env}\] Protected")
        child.send(protect)
    child.expect("Declare a function")
    child.send("y")
    child.expect("Function name")
    child.sendline("checkout")
    child.expect("Secrets checkout reads")
    child.sendline("api/stripe-key, db/password")
    child.expect("Another function")
    child.send("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    config = load_config(aws_env / "secrets.toml")
    assert sorted(config.environments) == ["dev", "prod"]
    assert config.environments["prod"].protected is True
    assert config.environments["dev"].protected is False
    assert config.environments["prod"].kms_key_id == "alias/prod"
    assert config.environments["dev"].region == "eu-central-1"
    assert config.functions["checkout"].secrets == ("api/stripe-key", "db/password")


# -- doctor -----------------------------------------------------------------------------------

DOCTOR_CONFIG = """
[environments.dev]
[environments.prod]
kms_key_id = "{key}"

[functions.checkout]
secrets = ["api/stripe-key", "db/password"]
"""


def statuses(run: Any) -> dict[tuple[str, str], str]:
    return {(c["env"], c["check"]): c["status"] for c in run.json()["checks"]}


def test_doctor_all_good_is_exit_0_without_writing(
    cli: Any, sm: Any, aws_env: Path, proxy: Any
) -> None:
    import boto3

    key = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
    write_config(aws_env, DOCTOR_CONFIG.format(key=key))
    for env in ("dev", "prod"):
        for path in ("api/stripe-key", "db/password"):
            sm.create_secret(Name=f"{env}/{path}", SecretString="v")
    proxy.reset_counts()
    run = cli("doctor", "--json")
    assert run.code == 0, run.stdout + run.stderr
    found = statuses(run)
    for env in ("dev", "prod"):
        for check in ("identity", "region", "kms key", "list", "read", "write", "declared secrets"):
            assert found[(env, check)] == "ok", (env, check, run.stdout)
    assert sum(n for action, n in proxy.calls.items() if action.endswith(".DescribeKey")) == 1
    # Probed, never written: no secret was created or changed.
    assert proxy.count("secretsmanager.CreateSecret") == 0
    assert sorted(s["Name"] for s in sm.list_secrets()["SecretList"]) == [
        "dev/api/stripe-key",
        "dev/db/password",
        "prod/api/stripe-key",
        "prod/db/password",
    ]


def test_doctor_shows_denied_reads_and_writes(cli: Any, aws_env: Path, proxy: Any) -> None:
    """IAM is not enforced by the emulator; the proxy answers AccessDeniedException as IAM would."""
    write_config(aws_env, "[environments.dev]\n")
    proxy.deny("secretsmanager.PutSecretValue")
    proxy.deny("secretsmanager.GetSecretValue")
    run = cli("doctor", "--json")
    assert run.code == 1
    found = statuses(run)
    assert (found[("dev", "list")], found[("dev", "read")], found[("dev", "write")]) == (
        "ok",
        "fail",
        "fail",
    )


def test_doctor_reports_what_is_broken_with_exit_1(cli: Any, sm: Any, aws_env: Path) -> None:
    write_config(
        aws_env,
        DOCTOR_CONFIG.format(key="alias/does-not-exist")
        + '\n[environments.other]\naccount_id = "111111111111"\n'
        + '\n[environments.nowhere]\nprofile = "no-such-profile"\n',
    )
    sm.create_secret(Name="prod/api/stripe-key", SecretString="v")
    run = cli("doctor", "--json")
    assert run.code == 1
    found = statuses(run)
    assert found[("prod", "kms key")] == "fail"
    assert found[("prod", "declared secrets")] == "fail"
    detail = {(c["env"], c["check"]): c["detail"] for c in run.json()["checks"]}
    assert "prod/db/password" in detail[("prod", "declared secrets")]
    assert found[("other", "account")] == "fail"  # moto's account is 123456789012
    assert found[("nowhere", "identity")] == "fail"
    assert "no-such-profile" in detail[("nowhere", "identity")]


def test_doctor_table_as_a_subprocess(secrets_cmd: Any, aws_env: Path) -> None:
    write_config(aws_env, "[environments.dev]\n")
    run = secrets_cmd(["doctor"])
    assert run.code == 0, run.stderr
    assert "identity" in run.stdout and "arn:aws" in run.stdout
    assert "write" in run.stdout


def test_doctor_on_a_keyring_environment(
    cli: Any, aws_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyring.core

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    keyring.core.init_backend()
    write_config(aws_env, '[environments.local]\nbackend = "keyring"\n')
    run = cli("doctor", "--json")
    assert run.code == 1
    assert statuses(run)[("local", "keyring")] == "fail"
