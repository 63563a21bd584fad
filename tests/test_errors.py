"""Bad input and failures: one `error:` line (plus an optional `hint:`), the documented exit
code, and nothing created or changed in AWS."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SECRETS_BIN, Run, free_port
from tests.test_names import BAD

CREATE = "secretsmanager.CreateSecret"


def assert_one_line_error(run: Run, code: int, *, contains: str = "") -> None:
    """The documented error format: `error: ...` and optionally `hint: ...`, nothing else."""
    assert run.code == code, (run.code, run.stderr)
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert 1 <= len(lines) <= 2, run.stderr
    assert lines[0].startswith("error: ")
    if len(lines) == 2:
        assert lines[1].startswith("hint: ")
    assert "Traceback" not in run.stderr
    assert contains in lines[0]


def nothing_created(sm) -> None:
    assert sm.list_secrets(IncludePlannedDeletion=True)["SecretList"] == []


@pytest.mark.parametrize(("name", "why"), BAD[1:])
def test_every_name_rule_through_set(cli, sm, name: str, why: str) -> None:
    run = cli("set", "--stdin", "--", name, input="v")  # `--`: "-dev/x" is not an option
    assert_one_line_error(run, 2, contains=why)
    nothing_created(sm)


def test_empty_name(cli, sm) -> None:
    assert_one_line_error(cli("set", "", "--stdin", input="v"), 2, contains="empty")
    nothing_created(sm)


@pytest.mark.parametrize("command", ["get", "show", "history", "delete", "restore"])
def test_bad_names_for_every_command(cli, command: str) -> None:
    assert_one_line_error(cli(command, "dev/../prod/x"), 2, contains="invalid secret name")


def test_value_over_the_limit(cli, sm, aws_env: Path) -> None:
    assert_one_line_error(
        cli("set", "dev/big", "--stdin", input="a" * 65_537), 2, contains="65537 bytes"
    )
    path = aws_env / "big.bin"
    path.write_bytes(b"\x00" * 65_537)
    assert_one_line_error(cli("set", "dev/big", "--from-file", str(path)), 2, contains="65536")
    nothing_created(sm)
    # the limit is inclusive
    assert cli("set", "dev/big", "--stdin", input="a" * 65_536).code == 0


def test_value_over_the_limit_does_not_change_an_existing_secret(cli, sm) -> None:
    sm.create_secret(Name="dev/big", SecretString="small")
    assert_one_line_error(cli("set", "dev/big", "--stdin", "--yes", input="a" * 70_000), 2)
    assert len(sm.list_secret_version_ids(SecretId="dev/big")["Versions"]) == 1


def test_field_making_the_document_too_big(cli, sm) -> None:
    sm.create_secret(Name="dev/db", SecretString=json.dumps({"a": "x" * 65_000}))
    assert_one_line_error(cli("set", "dev/db", "--field", "b", "--stdin", input="y" * 1000), 2)
    assert len(sm.list_secret_version_ids(SecretId="dev/db")["Versions"]) == 1


@pytest.mark.parametrize(("data", "why"), [("", "nothing was read"), ("\n", "nothing was read")])
def test_stdin_with_nothing(cli, sm, data: str, why: str) -> None:
    assert_one_line_error(cli("set", "dev/x", "--stdin", input=data), 2, contains=why)
    nothing_created(sm)


def test_empty_file(cli, sm, aws_env: Path) -> None:
    path = aws_env / "empty"
    path.write_bytes(b"")
    assert_one_line_error(cli("set", "dev/x", "--from-file", str(path)), 2, contains="empty")
    nothing_created(sm)


def test_empty_field_value(cli, sm) -> None:
    sm.create_secret(Name="dev/db", SecretString='{"user": "app"}')
    run = cli("set", "dev/db", "--field", "password", "--stdin", input="\n")
    assert_one_line_error(run, 2)
    assert len(sm.list_secret_version_ids(SecretId="dev/db")["Versions"]) == 1


def test_missing_file_is_3(cli, sm, aws_env: Path) -> None:
    run = cli("set", "dev/x", "--from-file", str(aws_env / "nope.txt"))
    assert_one_line_error(run, 3, contains="does not exist")
    nothing_created(sm)


def test_folder_as_file_is_2(cli, sm, aws_env: Path) -> None:
    run = cli("set", "dev/x", "--from-file", str(aws_env))
    assert_one_line_error(run, 2, contains="is a folder")
    nothing_created(sm)


def test_unreadable_file_is_2(cli, sm, aws_env: Path) -> None:
    path = aws_env / "locked"
    path.write_text("v")
    path.chmod(0)
    if os.geteuid() == 0:
        # root reads files whatever their mode; this one fails to read for everyone (EIO)
        path = Path("/proc/self/mem")
    run = cli("set", "dev/x", "--from-file", str(path))
    assert_one_line_error(run, 2, contains="cannot read")
    nothing_created(sm)


def test_no_value_and_no_terminal(cli, sm) -> None:
    run = cli("set", "dev/x")
    assert_one_line_error(run, 2, contains="no terminal")
    nothing_created(sm)


def test_unknown_flag_and_missing_argument(cli) -> None:
    assert_one_line_error(cli("set", "dev/x", "--value", "v"), 2, contains="--value")
    assert_one_line_error(cli("get"), 2)


def test_no_credentials_is_5(cli, sm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert not (Path.home() / ".aws").exists()  # HOME is isolated: no real credentials
    run = cli("set", "dev/x", "--stdin", input="v")
    assert_one_line_error(run, 5, contains="no AWS credentials")
    assert cli("get", "dev/x").code == 5
    assert cli("list").code == 5


def test_access_denied_is_5_and_writes_nothing(cli, sm, proxy) -> None:
    proxy.deny(CREATE)
    run = cli("set", "dev/x", "--stdin", input="v")
    assert_one_line_error(run, 5, contains="access denied to CreateSecret")
    assert proxy.forwarded[CREATE] == 0
    assert proxy.calls[CREATE] == 1  # not retried
    nothing_created(sm)
    proxy.deny("secretsmanager.GetSecretValue")
    assert_one_line_error(cli("get", "dev/x"), 5, contains="GetSecretValue")


def test_throttled_after_retries_is_6(cli, sm, proxy) -> None:
    proxy.script(CREATE, "throttle", "throttle")
    run = cli("set", "dev/x", "--stdin", input="v", env={"AWS_MAX_ATTEMPTS": "2"})
    assert_one_line_error(run, 6, contains="throttling CreateSecret")
    nothing_created(sm)


def test_unreachable_endpoint_is_6_and_returns(aws_env: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {**os.environ, "AWS_ENDPOINT_URL": dead, "AWS_MAX_ATTEMPTS": "2"}
    # It returns: subprocess.run raises TimeoutExpired (a failure) if it hangs past 60 s.
    completed = subprocess.run(
        [SECRETS_BIN, "get", "dev/x"], capture_output=True, env=env, timeout=60, check=False
    )
    run = Run(completed.returncode, completed.stdout.decode(), completed.stderr.decode(), b"")
    assert_one_line_error(run, 6, contains="could not be reached")


def test_json_errors_are_an_object_on_stderr(cli, sm) -> None:
    run = cli("set", "dev/a b", "--stdin", "--json", input="v")
    assert run.code == 2
    assert run.stdout == ""
    error = json.loads(run.stderr)["error"]
    assert set(error) == {"code", "message", "hint"}
    assert error["code"] == 2
    assert "invalid secret name" in error["message"]
    missing = cli("get", "dev/nope", "--json")
    assert missing.code == 3
    assert missing.stdout == ""
    assert json.loads(missing.stderr)["error"]["code"] == 3
    usage = cli("list", "--stale", "x", "--json")
    assert usage.code == 2
    assert json.loads(usage.stderr)["error"]["code"] == 2
    nothing_created(sm)


def test_unexpected_exception_shows_no_traceback(cli, sm, monkeypatch) -> None:
    # Every reply is checked before our code reads it (a `{}` is exit 6: test_replies.py), so
    # no endpoint can provoke a bug any more: one is planted in the store's read.
    from envsecrets.backends.secretsmanager import SecretsManagerStore

    def bug(*args: object, **kwargs: object) -> None:
        raise KeyError("planted")

    sm.create_secret(Name="dev/x", SecretString="v")
    monkeypatch.setattr(SecretsManagerStore, "read", bug)
    run = cli("get", "dev/x")
    assert_one_line_error(run, 1, contains="unexpected internal error")
    as_json = cli("get", "dev/x", "--json")
    assert as_json.code == 1
    assert as_json.stdout == ""
    assert json.loads(as_json.stderr)["error"]["code"] == 1
    debug = cli("--debug", "get", "dev/x")
    assert debug.code == 1
    assert "Traceback" in debug.stderr
    assert debug.stderr.rstrip().splitlines()[-2].startswith("error: unexpected internal error")


def test_malformed_version_id_is_2(cli, sm, proxy) -> None:
    sm.create_secret(Name="dev/x", SecretString="v")
    proxy.reset_counts()
    run = cli("get", "dev/x", "--version-id", "3f2a")
    # The id is named, not the secret, and nothing is asked of AWS.
    assert_one_line_error(run, 2, contains="invalid --version-id '3f2a': a version id has 32")
    assert "`secrets history dev/x` lists its versions" in run.stderr
    assert proxy.count() == 0


def test_check_without_a_secrets_toml_says_there_is_none(cli) -> None:
    run = cli("check", "dev")
    assert_one_line_error(run, 2, contains="no secrets.toml found")
    assert "`secrets init`, or pass --config PATH" in run.stderr


def test_replicate_without_a_secrets_toml_names_none(cli, sm) -> None:
    sm.create_secret(Name="dev/x", SecretString="v")
    run = cli("replicate", "dev/x", "--region", "eu-west-1", "--yes")
    assert run.code == 0, run.stderr
    assert "in secrets.toml:" not in run.stderr
    assert "no secrets.toml declares replica_regions for dev" in run.stderr


def test_a_closed_pipe_is_not_a_failure(sm) -> None:
    """`secrets list | head -1`: the reader leaves before all is written. Exit 0, no word
    (the read end is closed before the command writes, so the closed pipe is certain)."""
    for index in range(3):
        sm.create_secret(Name=f"dev/key-{index}", SecretString="v")
    for args in (["list", "dev/"], ["list", "dev/", "--json"], ["show", "dev/key-0"]):
        process = subprocess.Popen(
            [SECRETS_BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        stderr = process.stderr.read()
        assert process.wait(timeout=60) == 0, (args, stderr)
        assert stderr == b"", (args, stderr)


def test_out_of_range_days_are_2(cli) -> None:
    assert_one_line_error(cli("list", "--stale", "1000000"), 2)
    assert_one_line_error(cli("list", "--unused", "1000000"), 2)


@pytest.mark.parametrize(
    "option",
    [
        ["--description", "d" * 2049],
        ["--tag", "aws:owner=me"],
        ["--tag", "k" * 129 + "=v"],
        ["--tag", "k=" + "v" * 257],
    ],
)
def test_metadata_over_aws_limits_is_refused_before_any_write(cli, sm, option) -> None:
    sm.create_secret(Name="dev/x", SecretString="v1")
    run = cli("set", "dev/x", "--stdin", *option, input="v2")
    assert_one_line_error(run, 2)
    assert len(sm.list_secret_version_ids(SecretId="dev/x")["Versions"]) == 1
    assert sm.get_secret_value(SecretId="dev/x")["SecretString"] == "v1"


def test_no_region_is_2_and_aws_region_is_honoured(cli, sm, monkeypatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert_one_line_error(cli("set", "dev/x", "--stdin", input="v"), 2, contains="no AWS region")
    nothing_created(sm)
    monkeypatch.setenv("AWS_REGION", "us-east-1")  # what other SDKs and AWS CLI v2 read
    assert cli("set", "dev/x", "--stdin", input="v").code == 0


def test_unknown_profile_is_5(cli, sm) -> None:
    run = cli("--profile", "nope", "set", "dev/x", "--stdin", input="v")
    assert_one_line_error(run, 5, contains="nope")
    nothing_created(sm)
