"""Every write to a protected environment confirms (DESIGN: Security rules).

One case per writing command and form: in a `secrets.toml` whose `prod` is protected, without a
terminal (CliRunner) and without `--yes`, the command exits 4 with one `error:` line and one
`hint:` line, and not one state-changing request reaches the emulator (counted at the fault
proxy); with `--yes` the same command succeeds and its write is visible in the emulator.
Restore's question is also answered in a real pseudo-terminal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests.conftest import aws_client, write_config
from tests.faultproxy import FaultProxy
from tests.test_migrate_lambda import make_function
from tests.test_pty import CONFIG, finish, recorded, spawn

NAME = "prod/api/key"


# -- set-ups: the state each command needs in the emulator --------------------------------------


def existing(sm: Any, work: Path) -> None:
    sm.create_secret(Name=NAME, SecretString="v1")


def scheduled_for_deletion(sm: Any, work: Path) -> None:
    existing(sm, work)
    sm.delete_secret(SecretId=NAME, RecoveryWindowInDays=7)


def with_previous(sm: Any, work: Path) -> None:
    existing(sm, work)
    sm.put_secret_value(SecretId=NAME, SecretString="v2")


def with_pending(sm: Any, work: Path) -> None:
    existing(sm, work)
    sm.put_secret_value(SecretId=NAME, SecretString="half", VersionStages=["AWSPENDING"])


def with_rotation_lambda(sm: Any, work: Path) -> None:
    """A configured rotation Lambda, as tests/test_rotate.py sets it up on moto: moto records
    the ARN, fails to find the function, and may leave a pending version we drop."""
    existing(sm, work)
    arn = "arn:aws:lambda:us-east-1:123456789012:function:rotate-api-key"
    with contextlib.suppress(sm.exceptions.ResourceNotFoundException):
        sm.rotate_secret(SecretId=NAME, RotationLambdaARN=arn)
    found = sm.describe_secret(SecretId=NAME)["VersionIdsToStages"]
    for version, labels in found.items():
        if "AWSPENDING" in labels and "AWSCURRENT" not in labels:
            sm.update_secret_version_stage(
                SecretId=NAME, VersionStage="AWSPENDING", RemoveFromVersionId=version
            )


def several(sm: Any, work: Path) -> None:
    for i in range(3):
        sm.create_secret(Name=f"prod/api/key-{i}", SecretString=f"v{i}")


def in_dev(sm: Any, work: Path) -> None:
    sm.create_secret(Name="dev/api/key", SecretString="dev-value")
    sm.create_secret(Name="dev/api/other", SecretString="dev-other")


def in_dev_and_prod(sm: Any, work: Path) -> None:
    in_dev(sm, work)
    sm.create_secret(Name=NAME, SecretString="prod-value")


def replicated(sm: Any, work: Path) -> None:
    existing(sm, work)
    sm.replicate_secret_to_regions(SecretId=NAME, AddReplicaRegions=[{"Region": "us-west-2"}])


def in_parameter_store(sm: Any, work: Path) -> None:
    ssm = aws_client("ssm")
    ssm.put_parameter(Name="/app/prod/db-password", Value="p4ss", Type="SecureString")
    ssm.put_parameter(Name="/app/prod/api-key", Value="k3y", Type="SecureString")


def env_file(sm: Any, work: Path) -> None:
    (work / ".env").write_text("DB_PASSWORD=p4ss\nAPI_KEY=k3y\n", encoding="utf-8")


def lambda_function(sm: Any, work: Path) -> None:
    """A function with one secret-looking variable."""
    make_function("checkout", {"STRIPE_SECRET_KEY": "sk_live_Zx8Qm2Lr9Tb4Nw7Vk1Hs6Pj3Yc5F"})


# -- checks: what --yes changed -------------------------------------------------------------


def value_of(sm: Any, name: str = NAME) -> str:
    return str(sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"])


def stage_holders(sm: Any, stage: str) -> list[str]:
    found = sm.describe_secret(SecretId=NAME)["VersionIdsToStages"]
    return [version for version, labels in found.items() if stage in labels]


def deleted(sm: Any) -> bool:
    return "DeletedDate" in sm.describe_secret(SecretId=NAME)


def replicas(sm: Any) -> list[str]:
    status = sm.describe_secret(SecretId=NAME).get("ReplicationStatus", [])
    return sorted(r["Region"] for r in status)


def exists(sm: Any, name: str) -> bool:
    try:
        sm.describe_secret(SecretId=name)
    except sm.exceptions.ResourceNotFoundException:
        return False
    return True


@dataclass
class Case:
    """One writing command: its set-up, its arguments (without --yes), stdin, and what must
    hold after it ran with --yes."""

    id: str
    args: list[str]
    setup: Callable[[Any, Path], None] | None = None
    input: str | None = None
    after_yes: Callable[[Any], bool] = lambda sm: True
    refusal: str = "'prod' is a protected environment"


CASES = [
    Case(
        "set-create",
        ["set", NAME, "--stdin"],
        input="v1",
        after_yes=lambda sm: value_of(sm) == "v1",
    ),
    Case(
        "set-put",
        ["set", NAME, "--stdin"],
        existing,
        input="v2",
        after_yes=lambda sm: value_of(sm) == "v2",
    ),
    Case(
        "set-description-only",
        ["set", NAME, "--stdin", "--description", "the api key"],
        existing,
        input="v1",
        after_yes=lambda sm: sm.describe_secret(SecretId=NAME)["Description"] == "the api key",
    ),
    Case("delete", ["delete", NAME], existing, after_yes=deleted),
    Case(
        "delete-force-now",
        ["delete", NAME, "--force-now"],
        existing,
        after_yes=lambda sm: not exists(sm, NAME),
        refusal="--force-now cannot be undone",
    ),
    Case(
        "restore", ["restore", NAME], scheduled_for_deletion, after_yes=lambda sm: not deleted(sm)
    ),
    Case(
        "rotate-stdin",
        ["rotate", NAME, "--stdin"],
        existing,
        input="v2",
        after_yes=lambda sm: value_of(sm) == "v2",
    ),
    Case(
        "rotate-generate",
        ["rotate", NAME, "--generate"],
        existing,
        after_yes=lambda sm: value_of(sm) != "v1",
    ),
    Case(
        "rotate-rollback",
        ["rotate", NAME, "--rollback"],
        with_previous,
        after_yes=lambda sm: value_of(sm) == "v1",
    ),
    Case(
        "rotate-resume",
        ["rotate", NAME, "--resume"],
        with_pending,
        after_yes=lambda sm: value_of(sm) == "half",
    ),
    Case(
        "rotate-cancel",
        ["rotate", NAME, "--cancel"],
        with_pending,
        after_yes=lambda sm: stage_holders(sm, "AWSPENDING") == [],
    ),
    Case(
        "rotate-managed",
        ["rotate", NAME, "--managed"],
        with_rotation_lambda,
        # moto cannot run the Lambda; RotateSecret reaching it is the write (test_rotate.py).
        after_yes=lambda sm: True,
    ),
    Case(
        "rotate-bulk",
        ["rotate", "--env", "prod", "--older-than", "0", "--generate"],
        several,
        after_yes=lambda sm: all(value_of(sm, f"prod/api/key-{i}") != f"v{i}" for i in range(3)),
    ),
    Case(
        "copy-one",
        ["copy", "dev/api/key", NAME],
        in_dev,
        after_yes=lambda sm: value_of(sm) == "dev-value",
    ),
    Case(
        "copy-prefix",
        ["copy", "dev/api/", "prod/api/"],
        in_dev,
        after_yes=lambda sm: value_of(sm, "prod/api/other") == "dev-other",
    ),
    Case(
        "copy-overwrite",
        ["copy", "dev/api/key", NAME, "--overwrite"],
        in_dev_and_prod,
        after_yes=lambda sm: value_of(sm) == "dev-value",
    ),
    Case(
        "replicate",
        ["replicate", NAME, "--region", "us-west-2"],
        existing,
        after_yes=lambda sm: replicas(sm) == ["us-west-2"],
    ),
    Case(
        "replicate-remove",
        ["replicate", NAME, "--region", "us-west-2", "--remove"],
        replicated,
        after_yes=lambda sm: replicas(sm) == [],
    ),
    Case(
        "migrate-ssm",
        ["migrate", "ssm", "/app/prod", "--to", "prod/app/"],
        in_parameter_store,
        after_yes=lambda sm: value_of(sm, "prod/app/db-password") == "p4ss",
    ),
    Case(
        "migrate-env-file",
        ["migrate", "env-file", ".env", "--to", "prod/web/"],
        env_file,
        after_yes=lambda sm: value_of(sm, "prod/web/db-password") == "p4ss",
    ),
    Case(
        "migrate-lambda",
        ["migrate", "lambda", "checkout", "--env", "prod"],
        lambda_function,
        after_yes=lambda sm: exists(sm, "prod/checkout/stripe-secret-key"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_protected_write_needs_yes_without_a_terminal(
    case: Case, cli: Any, sm: Any, proxy: FaultProxy, aws_env: Path
) -> None:
    write_config(aws_env, CONFIG)
    if case.setup is not None:
        case.setup(sm, aws_env)
    files_before = {p.name: p.read_bytes() for p in aws_env.iterdir() if p.is_file()}
    proxy.reset_counts()

    refused = cli(*case.args, input=case.input)
    assert refused.code == 4, refused.stderr
    lines = refused.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    hints = [line for line in lines if line.startswith("hint:")]
    assert len(errors) == 1 and len(hints) == 1, refused.stderr
    assert case.refusal in errors[0]
    assert "--yes" in hints[0]
    assert "Traceback" not in refused.stderr
    assert proxy.write_calls() == {}, "a write reached AWS before the confirmation"
    # Nothing local either: secrets.toml (migrate lambda records there) and .env stay as they were.
    assert {p.name: p.read_bytes() for p in aws_env.iterdir() if p.is_file()} == files_before

    proxy.reset_counts()
    confirmed = cli(*case.args, "--yes", input=case.input)
    assert confirmed.code == 0, confirmed.stderr
    assert proxy.write_calls(), "--yes went ahead but wrote nothing"
    assert case.after_yes(sm)


def test_restore_of_a_secret_not_being_deleted_asks_nothing_and_writes_nothing(
    cli: Any, sm: Any, proxy: FaultProxy, aws_env: Path
) -> None:
    write_config(aws_env, CONFIG)
    existing(sm, aws_env)
    proxy.reset_counts()
    run = cli("restore", NAME, "--json")
    assert run.code == 0, run.stderr
    assert run.json() == {"name": NAME, "restored": False}
    assert proxy.write_calls() == {}
    plain = cli("restore", NAME)
    assert plain.code == 0
    assert "not scheduled for deletion; nothing to restore" in plain.stderr


def test_restore_of_a_missing_secret_is_3_before_any_question(cli: Any, aws_env: Path) -> None:
    write_config(aws_env, CONFIG)
    run = cli("restore", "prod/api/none")
    assert run.code == 3, run.stderr
    assert "confirmation" not in run.stderr


def test_restore_in_an_unprotected_environment_asks_nothing(
    cli: Any, sm: Any, aws_env: Path
) -> None:
    write_config(aws_env, CONFIG)
    sm.create_secret(Name="dev/api/key", SecretString="v")
    sm.delete_secret(SecretId="dev/api/key", RecoveryWindowInDays=7)
    run = cli("restore", "dev/api/key")
    assert run.code == 0, run.stderr
    assert "dev/api/key: restored" in run.stderr
    assert "DeletedDate" not in sm.describe_secret(SecretId="dev/api/key")


# -- a real terminal ----------------------------------------------------------------------------


@pytest.mark.parametrize(("answer", "code"), [("n", 4), ("y", 0)])
def test_restore_asks_on_a_terminal(answer: str, code: int, sm: Any, aws_env: Path) -> None:
    write_config(aws_env, CONFIG)
    scheduled_for_deletion(sm, aws_env)
    child: pexpect.spawn = recorded(spawn("restore", NAME, cwd=aws_env))
    child.expect(r"restore prod/api/key \(cancel its deletion\)\?")
    child.send(answer)
    exit_code, screen = finish(child)
    assert exit_code == code, screen
    if answer == "n":
        assert "not confirmed; nothing was changed" in screen
        assert deleted(sm)  # still scheduled for deletion
    else:
        assert "prod/api/key: restored" in screen
        assert not deleted(sm)
