"""secrets.toml: found upward or by --config; errors name the file, the line or the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from envsecrets.core.config import Config, default_protected, find_config, load_config
from envsecrets.errors import CliError, ExitCode

from tests.conftest import write_config

FULL = """
[environments.dev]
region = "eu-west-1"
profile = "dev-profile"
tags = { team = "payments" }

[environments.staging]
account_id = "123456789012"
kms_key_id = "alias/staging"
replica_regions = ["eu-central-1"]
role_arn = "arn:aws:iam::123456789012:role/secrets"
mfa_serial = "arn:aws:iam::123456789012:mfa/me"

[environments.prod]

[environments.prod-eu]
protected = false

[environments.qa]
protected = true

[functions.checkout]
secrets = ["api/stripe-key", "db/password"]

[functions.worker]
secrets = []
kind = "task"
"""


def test_full_file_parses(aws_env: Path) -> None:
    path = write_config(aws_env, FULL)
    config = load_config(path)
    assert config.path == path
    dev = config.environment("dev")
    assert (dev.region, dev.profile, dev.tags, dev.declared) == (
        "eu-west-1",
        "dev-profile",
        {"team": "payments"},
        True,
    )
    staging = config.environment("staging")
    assert staging.account_id == "123456789012"
    assert staging.kms_key_id == "alias/staging"
    assert staging.replica_regions == ("eu-central-1",)
    assert staging.role_arn and staging.mfa_serial
    assert config.function("checkout").secrets == ("api/stripe-key", "db/password")
    assert config.function("worker").kind == "task"


def test_protected_defaults_and_overrides(aws_env: Path) -> None:
    config = load_config(write_config(aws_env, FULL))
    assert config.environment("prod").protected is True
    assert config.environment("prod-eu").protected is False  # explicit false wins
    assert config.environment("qa").protected is True  # explicit true
    assert config.environment("dev").protected is False
    for env in ("prod", "production", "prod-us"):
        assert default_protected(env)
    for env in ("dev", "staging", "products", "preprod"):
        assert not default_protected(env)
    # without a file every environment exists, with the same defaults
    empty = Config()
    assert empty.environment("prod").protected is True
    assert empty.environment("anything").protected is False
    assert empty.environment("anything").declared is False


def test_found_upward_from_the_working_directory(aws_env: Path) -> None:
    path = write_config(aws_env, FULL)
    deep = aws_env / "a" / "b" / "c"
    deep.mkdir(parents=True)
    assert find_config(deep) == path
    nearer = write_config(aws_env / "a", "[environments.x]\n")
    assert find_config(deep) == nearer


def test_none_found_means_an_empty_config(aws_env: Path) -> None:
    assert find_config(aws_env) is None
    assert load_config(None) == Config()


def test_explicit_path_wins_and_must_exist(aws_env: Path) -> None:
    write_config(aws_env, FULL)
    other = aws_env / "other.toml"
    other.write_text("[environments.solo]\n")
    assert find_config(aws_env, other) == other
    with pytest.raises(CliError) as caught:
        find_config(aws_env, aws_env / "missing.toml")
    assert caught.value.code == ExitCode.USAGE
    assert "missing.toml" in caught.value.message


def test_undeclared_environment_is_refused_when_others_are_declared(aws_env: Path) -> None:
    config = load_config(write_config(aws_env, FULL))
    with pytest.raises(CliError) as caught:
        config.environment("prdo")
    assert caught.value.code == ExitCode.USAGE
    assert "prdo" in caught.value.message
    assert "secrets.toml" in caught.value.message
    assert "prod" in (caught.value.hint or "")


def test_missing_function_is_not_found(aws_env: Path) -> None:
    config = load_config(write_config(aws_env, FULL))
    with pytest.raises(CliError) as caught:
        config.function("nope")
    assert caught.value.code == ExitCode.NOT_FOUND
    assert "checkout" in (caught.value.hint or "")


def test_malformed_toml_names_the_file_and_line(aws_env: Path) -> None:
    path = write_config(aws_env, '[environments.dev]\nregion = "eu-west-1"\nprofile = \n')
    with pytest.raises(CliError) as caught:
        load_config(path)
    assert caught.value.code == ExitCode.USAGE
    assert str(path) in caught.value.message
    assert "line 3" in caught.value.message
    assert "\n" not in caught.value.message


@pytest.mark.parametrize(
    ("text", "key", "why"),
    [
        ("[environments.dev]\nregoin = 'x'\n", "environments.dev.regoin", "not a known key"),
        ("[enviroments.dev]\n", "(top level).enviroments", "not a known key"),
        ("[functions.f]\nsecret = []\n", "functions.f.secret", "not a known key"),
        ("[environments.dev]\nregion = 1\n", "environments.dev.region", "must be a string"),
        ("[environments.dev]\nprotected = 'yes'\n", "environments.dev.protected", "true or false"),
        ("[environments.dev]\ntags = ['a']\n", "environments.dev.tags", "table of strings"),
        ("[environments.dev]\ntags = {a = 1}\n", "environments.dev.tags", "table of strings"),
        (
            "[environments.dev]\nreplica_regions = 'eu-west-1'\n",
            "environments.dev.replica_regions",
            "list of strings",
        ),
        ("[environments.dev]\naccount_id = '12'\n", "environments.dev.account_id", "12-digit"),
        ("[environments.dev]\nbackend = 'vault'\n", "environments.dev.backend", "one of"),
        ("environments = 3\n", "environments", "must be a table"),
        ("[environments]\ndev = 3\n", "environments.dev", "must be a table"),
        ("[environments.Dev]\n", "environments.Dev", "not a valid environment name"),
        ("[functions.f]\nsecrets = 'a'\n", "functions.f.secrets", "list of strings"),
        ("[functions.f]\nsecrets = ['a//b']\n", "functions.f.secrets", "invalid path"),
        ("[functions.f]\nsecrets = ['../prod/key']\n", "functions.f.secrets", "segment '..'"),
        ("[functions.f]\nsecrets = ['a/../b']\n", "functions.f.secrets", "segment '..'"),
        ("[functions.f]\nsecrets = ['.']\n", "functions.f.secrets", "segment '.'"),
        ("[functions.f]\nkind = 'vm'\n", "functions.f.kind", "one of"),
    ],
)
def test_bad_keys_and_types_name_the_key(aws_env: Path, text: str, key: str, why: str) -> None:
    path = write_config(aws_env, text)
    with pytest.raises(CliError) as caught:
        load_config(path)
    assert caught.value.code == ExitCode.USAGE
    assert str(path) in caught.value.message
    assert key in caught.value.message
    assert why in caught.value.message


def test_unreadable_file_is_a_usage_error(aws_env: Path) -> None:
    path = aws_env / "secrets.toml"
    path.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(CliError) as caught:
        load_config(path)
    assert caught.value.code == ExitCode.USAGE
    assert str(path) in caught.value.message


# -- through the CLI ----------------------------------------------------------------------------


def test_cli_refuses_undeclared_environment_and_creates_nothing(cli, sm, aws_env: Path) -> None:
    write_config(aws_env, "[environments.dev]\n[environments.prod]\n")
    run = cli("set", "prdo/api/key", "--stdin", input="v")
    assert run.code == 2
    assert run.stderr.startswith("error: environment 'prdo' is not declared")
    assert sm.list_secrets()["SecretList"] == []


@pytest.mark.parametrize("name", ["dev/../prod/key", "dev/a/../b", "dev/."])
def test_cli_refuses_names_with_path_steps(cli, sm, aws_env: Path, name: str) -> None:
    write_config(aws_env, "[environments.dev]\n[environments.prod]\n")
    for args in (["set", name, "--stdin"], ["get", name], ["show", name]):
        run = cli(*args, input="v")
        assert run.code == 2, (args, run.stderr)
        assert "is a path step" in run.stderr
    assert sm.list_secrets()["SecretList"] == []


def test_functions_may_read_names_ending_like_the_arn_suffix(aws_env: Path) -> None:
    path = write_config(aws_env, "[functions.f]\nsecrets = ['jwt-secret', 'db/client-secret']\n")
    assert load_config(path).functions["f"].secrets == ("jwt-secret", "db/client-secret")


def test_cli_reports_malformed_toml_with_exit_2(cli, sm, aws_env: Path) -> None:
    path = write_config(aws_env, "[environments.dev\n")
    run = cli("set", "dev/api/key", "--stdin", input="v")
    assert run.code == 2
    first = run.stderr.splitlines()[0]
    assert first.startswith(f"error: {path}: malformed TOML")
    assert "line 1" in first
    assert sm.list_secrets()["SecretList"] == []


def test_cli_config_option_and_upward_search(cli, sm, aws_env: Path) -> None:
    write_config(aws_env, "[environments.dev]\n")
    sub = aws_env / "service" / "src"
    sub.mkdir(parents=True)
    import os

    os.chdir(sub)  # the aws_env fixture restores the working directory
    assert cli("set", "staging/x", "--stdin", input="v").code == 2  # found upward: not declared
    other = aws_env / "other.toml"
    other.write_text("[environments.staging]\n")
    run = cli("--config", str(other), "set", "staging/x", "--stdin", input="v")
    assert run.code == 0, run.stderr
    assert sm.describe_secret(SecretId="staging/x")["Name"] == "staging/x"
    missing = cli("--config", str(aws_env / "nope.toml"), "list")
    assert missing.code == 2
    assert "nope.toml" in missing.stderr
