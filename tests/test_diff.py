"""`secrets diff`: every category on hand-made environments, over HTTP to the emulator."""

from __future__ import annotations

import http.server
import json
import os
import threading

import pexpect
import pytest

from tests.conftest import SECRETS_BIN, aws_client, write_config

CONFIG = """
[environments.dev]
region = "us-east-1"

[environments.staging]
region = "us-east-1"

[environments.prod]
region = "us-east-1"
"""


@pytest.fixture
def envs(aws_env, sm):
    """dev and staging with one secret in every category."""
    write_config(aws_env, CONFIG)
    for env in ("dev", "staging"):
        sm.create_secret(Name=f"{env}/api/same", SecretString="same-value")
        sm.create_secret(Name=f"{env}/api/bin", SecretBinary=b"\x00\x01\xff")
        sm.create_secret(
            Name=f"{env}/db/creds",
            SecretString=json.dumps({"user": "app", "password": f"pw-{env}", "host": "db"}),
        )
        sm.create_secret(Name=f"{env}/api/doomed", SecretString="soon gone")
    sm.create_secret(Name="dev/api/token", SecretString="dev-token")
    sm.create_secret(Name="staging/api/token", SecretString="staging-token")
    sm.create_secret(Name="dev/api/only-dev", SecretString="x")
    sm.create_secret(Name="staging/api/only-staging", SecretString="y")
    sm.create_secret(Name="staging/other/x", SecretString="z")
    sm.delete_secret(SecretId="staging/api/doomed", RecoveryWindowInDays=7)
    return aws_env


def test_every_category_in_json(cli, envs) -> None:
    run = cli("diff", "dev", "staging", "--json")
    assert run.code == 1, run.stderr
    data = run.json()
    status = {row["key"]: row["status"] for row in data["secrets"]}
    assert status == {
        "api/bin": "same",
        "api/doomed": "pending_deletion",
        "api/only-dev": "only_in_a",
        "api/only-staging": "only_in_b",
        "api/same": "same",
        "api/token": "differs",
        "db/creds": "differs",
        "other/x": "only_in_b",
    }
    assert data["equal"] is False
    assert data["counts"] == {
        "same": 2,
        "differs": 2,
        "only_in_a": 1,
        "only_in_b": 2,
        "pending_deletion": 1,
    }
    creds = next(r for r in data["secrets"] if r["key"] == "db/creds")
    assert creds["changed_fields"] == ["password"]
    assert creds["a"]["kind"] == "json"
    doomed = next(r for r in data["secrets"] if r["key"] == "api/doomed")
    assert doomed["b"]["pending_deletion"] is True and doomed["b"]["deletion_date"]
    assert doomed["a"]["pending_deletion"] is False


def test_piped_lines(cli, envs) -> None:
    run = cli("diff", "dev", "staging")
    assert run.code == 1
    print(run.stdout)
    print(run.stderr)
    assert "- api/only-dev" in run.stdout.splitlines()
    assert "~ db/creds  (fields: password)" in run.stdout.splitlines()


def test_same_environments_exit_zero(cli, aws_env, sm) -> None:
    write_config(aws_env, CONFIG)
    for env in ("dev", "staging"):
        sm.create_secret(Name=f"{env}/api/key", SecretString="v")
        sm.create_secret(Name=f"{env}/tls/key", SecretBinary=b"\x00\xfe")
    run = cli("diff", "dev", "staging", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["equal"] is True
    assert run.json()["counts"]["same"] == 2


def test_binary_values_compared_exactly(cli, aws_env, sm) -> None:
    write_config(aws_env, CONFIG)
    sm.create_secret(Name="dev/tls/key", SecretBinary=b"\x00\x01\x02")
    sm.create_secret(Name="staging/tls/key", SecretBinary=b"\x00\x01\x03")
    # The same bytes stored as text on one side and binary on the other are not the same.
    sm.create_secret(Name="dev/api/k", SecretString="abc")
    sm.create_secret(Name="staging/api/k", SecretBinary=b"abc")
    data = cli("diff", "dev", "staging", "--json").json()
    rows = {r["key"]: r for r in data["secrets"]}
    assert rows["tls/key"]["status"] == "differs"
    assert rows["tls/key"]["a"]["kind"] == "binary"
    assert rows["api/k"]["status"] == "differs"
    lines = cli("diff", "dev", "staging").stdout.splitlines()
    assert "~ api/k  (text in dev, binary in staging)" in lines


def test_json_formatting_only(cli, aws_env, sm) -> None:
    write_config(aws_env, CONFIG)
    sm.create_secret(Name="dev/db/creds", SecretString='{"a": 1, "b": "x"}')
    sm.create_secret(Name="staging/db/creds", SecretString='{"b":"x","a":1}')
    data = cli("diff", "dev", "staging", "--json").json()
    assert data["secrets"][0]["status"] == "differs"
    assert data["secrets"][0]["changed_fields"] == []


def test_pending_deletion_on_both_sides_is_not_a_difference(cli, aws_env, sm) -> None:
    write_config(aws_env, CONFIG)
    for env in ("dev", "staging"):
        sm.create_secret(Name=f"{env}/api/old", SecretString="v")
        sm.delete_secret(SecretId=f"{env}/api/old", RecoveryWindowInDays=7)
    run = cli("diff", "dev", "staging", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["secrets"][0]["status"] == "pending_deletion"


def test_prefix_filter(cli, envs) -> None:
    data = cli("diff", "dev", "staging", "--prefix", "db/", "--json").json()
    assert [r["key"] for r in data["secrets"]] == ["db/creds"]
    assert data["prefix"] == "db/"
    # Without the trailing slash it means the same; "api" must not match "api2/..." either.
    data = cli("diff", "dev", "staging", "--prefix", "other", "--json").json()
    assert [(r["key"], r["status"]) for r in data["secrets"]] == [("other/x", "only_in_b")]


def test_prefix_is_a_path_prefix_not_a_word_prefix(cli, aws_env, sm) -> None:
    write_config(aws_env, CONFIG)
    sm.create_secret(Name="dev/api/k", SecretString="v")
    sm.create_secret(Name="dev/apiv2/k", SecretString="v")
    sm.create_secret(Name="staging/api/k", SecretString="v")
    run = cli("diff", "dev", "staging", "--prefix", "api", "--json")
    assert run.code == 0, run.stdout
    assert [r["key"] for r in run.json()["secrets"]] == ["api/k"]


def test_environments_in_different_regions(cli, aws_env) -> None:
    write_config(
        aws_env,
        """
[environments.dev]
region = "us-east-1"

[environments.staging]
region = "eu-west-1"
""",
    )
    east = aws_client("secretsmanager", "us-east-1")
    west = aws_client("secretsmanager", "eu-west-1")
    east.create_secret(Name="dev/api/key", SecretString="one")
    west.create_secret(Name="staging/api/key", SecretString="one")
    west.create_secret(Name="staging/api/extra", SecretString="two")
    # A staging-named secret in the wrong region is not seen: each side uses its own region.
    east.create_secret(Name="staging/api/stray", SecretString="three")
    data = cli("diff", "dev", "staging", "--json").json()
    assert {r["key"]: r["status"] for r in data["secrets"]} == {
        "api/extra": "only_in_b",
        "api/key": "same",
    }


def test_metadata_differences_and_replica_drift(cli, aws_env, sm) -> None:
    write_config(
        aws_env,
        """
[environments.dev]
region = "us-east-1"
tags = { env = "dev" }

[environments.staging]
region = "us-east-1"
replica_regions = ["us-west-2"]
tags = { env = "staging" }
""",
    )
    kms = aws_client("kms").create_key()["KeyMetadata"]["Arn"]
    sm.create_secret(
        Name="dev/api/key",
        SecretString="v",
        Tags=[
            {"Key": "team", "Value": "pay"},
            {"Key": "env", "Value": "dev"},
            {"Key": "envsecrets:rotated-at", "Value": "2026-01-01T00:00:00Z"},
        ],
    )
    sm.create_secret(
        Name="staging/api/key",
        SecretString="v",
        KmsKeyId=kms,
        Tags=[
            {"Key": "team", "Value": "ops"},
            {"Key": "env", "Value": "staging"},
            {"Key": "envsecrets:rotated-at", "Value": "2026-02-02T00:00:00Z"},
        ],
        AddReplicaRegions=[{"Region": "us-west-2"}],
    )
    sm.create_secret(Name="staging/api/unreplicated", SecretString="v")
    plain = cli("diff", "dev", "staging", "--json")
    assert plain.code == 1  # only-in-b
    run = cli("diff", "dev", "staging", "--metadata", "--json")
    assert run.code == 1
    data = run.json()
    fields = {(m["key"], m["field"]): (m["a"], m["b"]) for m in data["metadata"]}
    assert fields[("api/key", "kms_key_id")] == (None, kms)
    # Tags that secrets.toml sets per environment (env=...) are expected to differ, and so
    # are the records of each secret's own rotations.
    assert fields[("api/key", "tags")] == ({"team": "pay"}, {"team": "ops"})
    drift = {d["key"]: d for d in data["replica_drift"]}
    assert drift["api/unreplicated"]["env"] == "staging"
    assert drift["api/unreplicated"]["missing"] == ["us-west-2"]
    assert "api/key" not in drift  # replicated as configured in staging, none wanted in dev
    lines = cli("diff", "dev", "staging", "--metadata").stdout.splitlines()
    assert any(line.startswith("* api/unreplicated: replicas") for line in lines)


def test_only_metadata_differs_exits_one_with_metadata(cli, aws_env, sm) -> None:
    write_config(aws_env, CONFIG)
    sm.create_secret(Name="dev/k", SecretString="v", Tags=[{"Key": "a", "Value": "1"}])
    sm.create_secret(Name="staging/k", SecretString="v")
    assert cli("diff", "dev", "staging").code == 0
    assert cli("diff", "dev", "staging", "--metadata").code == 1


def test_secrets_without_a_value_are_compared_not_refused(cli, aws_env, sm) -> None:
    """A secret created without a value (Terraform's aws_secretsmanager_secret without a
    _version) is a row of kind none: the same as another without a value, different from any
    value, and the diff goes on (no exit 3)."""
    write_config(aws_env, CONFIG)
    for env in ("dev", "staging"):
        sm.create_secret(Name=f"{env}/api/both-empty")
        sm.create_secret(Name=f"{env}/api/same", SecretString="v")
    sm.create_secret(Name="dev/api/filled-in-staging")
    sm.create_secret(Name="staging/api/filled-in-staging", SecretString="v")
    run = cli("diff", "dev", "staging", "--json")
    assert run.code == 1, run.stderr
    rows = {row["key"]: row for row in run.json()["secrets"]}
    assert {key: row["status"] for key, row in rows.items()} == {
        "api/both-empty": "same",
        "api/filled-in-staging": "differs",
        "api/same": "same",
    }
    both = rows["api/both-empty"]
    assert (both["a"]["kind"], both["b"]["kind"]) == ("none", "none")
    filled = rows["api/filled-in-staging"]
    assert (filled["a"]["kind"], filled["b"]["kind"]) == ("none", "text")
    text = cli("diff", "dev", "staging")
    assert "~ api/filled-in-staging  (no value in dev, text in staging)" in text.stdout


def test_empty_sides(cli, aws_env) -> None:
    write_config(aws_env, CONFIG)
    run = cli("diff", "dev", "staging")
    assert run.code == 0
    assert run.stdout == ""
    assert "no secrets" in run.stderr


# -- bad input ------------------------------------------------------------------------------
def test_unknown_environment_is_usage_error(cli, envs, proxy) -> None:
    proxy.reset_counts()
    run = cli("diff", "dev", "stagign")
    assert run.code == 2
    assert "stagign" in run.stderr and "not declared" in run.stderr
    assert proxy.count() == 0


def test_identical_sides_are_usage_error(cli, envs) -> None:
    run = cli("diff", "dev", "dev", "--json")
    assert run.code == 2
    assert json.loads(run.stderr)["error"]["code"] == 2
    assert run.stdout == ""


def test_bad_env_and_prefix_names(cli, envs) -> None:
    assert cli("diff", "Dev", "staging").code == 2
    assert cli("diff", "dev", "staging", "--prefix", "a//b").code == 2
    assert cli("diff", "dev", "staging", "--prefix", "bad name").code == 2


class _DenyHandler(http.server.BaseHTTPRequestHandler):
    """Answers every call as AWS does when IAM says no."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"__type": "AccessDeniedException", "message": "not authorized"}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("x-amzn-ErrorType", "AccessDeniedException")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def denying_endpoint():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _DenyHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_access_denied_on_one_side_names_it(
    cli, aws_env, sm, moto_url, denying_endpoint, monkeypatch
) -> None:
    """Each environment reaches AWS through its own profile; staging's answers AccessDenied.
    (moto does not enforce IAM, so the denying side is a stub endpoint set in the profile.)"""
    sm.create_secret(Name="dev/api/key", SecretString="v")
    aws_dir = aws_env.parent / "home" / ".aws"
    aws_dir.mkdir(parents=True, exist_ok=True)
    (aws_dir / "config").write_text(
        f"""
[profile dev-admin]
region = us-east-1
endpoint_url = {moto_url}
aws_access_key_id = testing
aws_secret_access_key = testing

[profile staging-reader]
region = us-east-1
endpoint_url = {denying_endpoint}
aws_access_key_id = testing
aws_secret_access_key = testing
"""
    )
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    write_config(
        aws_env,
        """
[environments.dev]
profile = "dev-admin"

[environments.staging]
profile = "staging-reader"
""",
    )
    for args in (("dev", "staging"), ("staging", "dev")):
        run = cli("diff", *args)
        assert run.code == 5, run.stderr
        assert "[staging]" in run.stderr
        assert "access denied" in run.stderr
        assert run.stdout == ""


def test_subprocess_diff(secrets_cmd, envs) -> None:
    run = secrets_cmd(["diff", "dev", "staging", "--prefix", "api/"])
    assert run.code == 1, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "= api/bin"
    assert lines[1].startswith("! api/doomed  (deleted in staging on ")
    assert lines[2] == "- api/only-dev"
    assert "+ api/only-staging" in run.stdout
    assert "~ api/token" in run.stdout
    assert "1 only in dev" in run.stderr


def test_table_on_a_terminal(envs) -> None:
    """On a terminal: a rich table and the summary line (run in a real pseudo-terminal)."""
    child = pexpect.spawn(
        SECRETS_BIN,
        ["diff", "dev", "staging"],
        env=dict(os.environ),
        cwd=str(envs),
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 160),
    )
    child.expect(pexpect.EOF)
    child.close()
    screen = child.before or ""
    assert child.exitstatus == 1
    assert "dev (A) vs staging (B)" in screen
    for cell in ("KEY", "STATUS", "only in dev", "only in staging", "fields: password"):
        assert cell in screen
    assert "2 same · 2 differ · 1 only in dev · 2 only in staging · 1 pending deletion" in screen


def test_per_secret_denial_in_a_batch_is_exit_5(cli, aws_env, sm, proxy) -> None:
    """BatchGetSecretValue answers 200 with per-secret errors (e.g. kms:Decrypt denied for one
    secret); a diff must not call that secret missing or the same."""
    write_config(aws_env, CONFIG)
    sm.create_secret(Name="dev/api/key", SecretString="v")
    sm.create_secret(Name="dev/api/other", SecretString="w")
    proxy.answer(
        "secretsmanager.BatchGetSecretValue",
        json.dumps(
            {
                "SecretValues": [
                    {"Name": "dev/api/other", "SecretString": "w", "VersionId": "v" * 32}
                ],
                "Errors": [
                    {
                        "SecretId": "dev/api/key",
                        "ErrorCode": "DecryptionFailure",
                        "Message": "kms:Decrypt denied",
                    }
                ],
            }
        ).encode(),
    )
    run = cli("diff", "dev", "staging")  # staging is empty: only dev reads values
    assert run.code == 5, run.stderr
    assert "[dev] access denied reading 1 secret(s), e.g. 'dev/api/key'" in run.stderr
    assert run.stdout == ""


def test_whole_call_denied_names_the_side(cli, envs, proxy) -> None:
    proxy.deny("secretsmanager.ListSecrets")
    run = cli("diff", "dev", "staging", "--json")
    assert run.code == 5
    error = json.loads(run.stderr)["error"]
    assert error["message"].startswith(("[dev] access denied", "[staging] access denied"))


@pytest.mark.parametrize(
    ("errors", "code", "message", "hint"),
    [
        (
            [("dev/api/key", "DecryptionFailure")],
            5,
            "[dev] access denied reading 1 secret(s), e.g. 'dev/api/key' (DecryptionFailure)",
            "check secretsmanager:BatchGetSecretValue, GetSecretValue and kms:Decrypt for this "
            "environment's role",
        ),
        (
            [("dev/api/other", "InternalServiceError"), ("dev/api/key", "ThrottlingException")],
            1,
            "[dev] could not read 2 secret(s), e.g. 'dev/api/key' (ThrottlingException)",
            "run the command again",
        ),
    ],
)
def test_per_secret_failures_in_words(cli, aws_env, sm, proxy, errors, code, message, hint) -> None:
    """A secret that could not be read is never "missing" or "same": the error names the side,
    how many, the first by name and why, and what to do."""
    write_config(aws_env, CONFIG)
    sm.create_secret(Name="dev/api/key", SecretString="v")
    sm.create_secret(Name="dev/api/other", SecretString="w")
    failed = {name for name, _ in errors}
    # AWS answers every secret asked for: a value for each one that did not fail.
    values = []
    for name in {"dev/api/key", "dev/api/other"} - failed:
        read = sm.get_secret_value(SecretId=name)
        values.append(
            {
                "ARN": read["ARN"],
                "Name": name,
                "SecretString": read["SecretString"],
                "VersionId": read["VersionId"],
                "VersionStages": read["VersionStages"],
                "CreatedDate": read["CreatedDate"].timestamp(),
            }
        )
    reply = {
        "SecretValues": values,
        "Errors": [{"SecretId": n, "ErrorCode": c} for n, c in errors],
    }
    proxy.answer("secretsmanager.BatchGetSecretValue", json.dumps(reply).encode())
    run = cli("diff", "dev", "staging", "--json")
    assert run.code == code, run.stderr
    assert json.loads(run.stderr)["error"] == {"code": code, "message": message, "hint": hint}
    assert run.stdout == ""


def test_a_json_member_holding_a_lone_surrogate_is_compared(cli, aws_env, sm) -> None:
    """A reviewer's crash: one such secret broke the whole environment's diff."""
    write_config(aws_env, CONFIG)
    for env, member in (("dev", "x\\ud800y"), ("staging", "x\\ud800y")):
        sm.create_secret(Name=f"{env}/j", SecretString='{"a": "' + member + '", "b": 1}')
    sm.create_secret(Name="dev/k", SecretString='{"a": "x\\ud800y"}')
    sm.create_secret(Name="staging/k", SecretString='{"a": "x\\ud801y"}')
    run = cli("diff", "dev", "staging", "--json")
    assert run.code == 1, run.stderr
    rows = {row["key"]: row for row in run.json()["secrets"]}
    assert rows["j"]["status"] == "same" and rows["k"]["status"] == "differs"
