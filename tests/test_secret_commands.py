"""set, get, list, show, history, delete, restore through Typer's CliRunner.

AWS state is checked with a plain boto3 client (`sm`), not only through our own output.
"""

from __future__ import annotations

import base64
import json
import stat
import time
from pathlib import Path

import pytest

from tests.conftest import Run, write_config

PROD_CONFIG = "[environments.dev]\n[environments.staging]\n[environments.prod]\n"


def versions(sm, name: str) -> list[dict]:
    return sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]


def current(sm, name: str) -> dict:
    return sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")


def names(sm) -> list[str]:
    return sorted(s["Name"] for s in sm.list_secrets(IncludePlannedDeletion=True)["SecretList"])


# -- set ----------------------------------------------------------------------------------------


def test_set_creates(cli, sm) -> None:
    run: Run = cli("set", "dev/api/key", "--stdin", input="v1\n")
    assert run.code == 0, run.stderr
    assert run.stdout == ""
    assert "dev/api/key: created" in run.stderr
    assert current(sm, "dev/api/key")["SecretString"] == "v1"  # one trailing newline stripped
    assert len(versions(sm, "dev/api/key")) == 1


def test_set_strips_only_one_trailing_newline(cli, sm) -> None:
    assert cli("set", "dev/a", "--stdin", input="v1\n\n").code == 0
    assert current(sm, "dev/a")["SecretString"] == "v1\n"
    assert cli("set", "dev/b", "--stdin", input="v1\r\n").code == 0
    assert current(sm, "dev/b")["SecretString"] == "v1"


def test_set_updates_and_previous_follows(cli, sm) -> None:
    cli("set", "dev/api/key", "--stdin", input="v1")
    first = current(sm, "dev/api/key")["VersionId"]
    run = cli("set", "dev/api/key", "--stdin", "--json", input="v2")
    assert run.code == 0, run.stderr
    out = run.json()
    assert out["action"] == "updated"
    assert out["previous_version_id"] == first
    now = current(sm, "dev/api/key")
    assert now["SecretString"] == "v2"
    assert now["VersionId"] == out["version_id"]
    previous = sm.get_secret_value(SecretId="dev/api/key", VersionStage="AWSPREVIOUS")
    assert previous["VersionId"] == first


def test_set_same_value_is_unchanged(cli, sm) -> None:
    cli("set", "dev/api/key", "--stdin", input="v1")
    before = current(sm, "dev/api/key")["VersionId"]
    run = cli("set", "dev/api/key", "--stdin", input="v1")
    assert run.code == 0
    assert "unchanged" in run.stderr
    assert len(versions(sm, "dev/api/key")) == 1
    assert current(sm, "dev/api/key")["VersionId"] == before


def test_set_force_writes_a_new_version_of_the_same_value(cli, sm) -> None:
    cli("set", "dev/api/key", "--stdin", input="v1")
    run = cli("set", "dev/api/key", "--stdin", "--force", "--json", input="v1")
    assert run.code == 0, run.stderr
    assert run.json()["action"] == "updated"
    assert len(versions(sm, "dev/api/key")) == 2


def test_set_json_output_shape(cli) -> None:
    run = cli("set", "dev/api/key", "--stdin", "--json", input="v1")
    assert run.code == 0
    out = run.json()
    assert set(out) == {"name", "action", "version_id", "previous_version_id", "kind"}
    assert out["kind"] == "text"
    assert out["name"] == "dev/api/key"
    assert out["action"] == "created"
    assert out["previous_version_id"] is None
    assert out["version_id"]
    assert run.stderr == ""
    again = cli("set", "dev/api/key", "--stdin", "--json", input="v1").json()
    assert again["action"] == "unchanged"
    assert again["version_id"] == out["version_id"]


def test_set_field_on_new_secret_makes_a_json_object(cli, sm) -> None:
    run = cli("set", "dev/db", "--field", "password", "--stdin", input="pw1")
    assert run.code == 0, run.stderr
    assert json.loads(current(sm, "dev/db")["SecretString"]) == {"password": "pw1"}


def test_set_field_on_existing_json_keeps_other_keys(cli, sm) -> None:
    sm.create_secret(Name="dev/db", SecretString='{"user": "app", "password": "old"}')
    run = cli("set", "dev/db", "--field", "password", "--stdin", input="new")
    assert run.code == 0, run.stderr
    assert json.loads(current(sm, "dev/db")["SecretString"]) == {"user": "app", "password": "new"}
    added = cli("set", "dev/db", "--field", "host", "--stdin", input="db.local")
    assert added.code == 0
    assert json.loads(current(sm, "dev/db")["SecretString"])["host"] == "db.local"
    # The working label a --field write stages under is gone: only AWS's labels are left.
    labels = sm.describe_secret(SecretId="dev/db")["VersionIdsToStages"].values()
    assert {label for version in labels for label in version} == {"AWSCURRENT", "AWSPREVIOUS"}


def test_set_field_with_the_same_value_is_unchanged(cli, sm) -> None:
    # stored compactly by another tool: re-encoding must not count as a change
    sm.create_secret(Name="dev/db", SecretString='{"user":"app","password":"pw"}')
    run = cli("set", "dev/db", "--field", "password", "--stdin", input="pw")
    assert run.code == 0, run.stderr
    assert "unchanged" in run.stderr
    assert len(versions(sm, "dev/db")) == 1


def test_set_field_keeps_the_other_members_byte_for_byte(cli, sm) -> None:
    """Issue 18 item 13: the other members were re-encoded (`1e400` became `Infinity`)."""
    document = '{"n": 1e400, "f": 1.10, "password": "old"}'
    sm.create_secret(Name="dev/db", SecretString=document)
    run = cli("set", "dev/db", "--field", "password", "--stdin", input="new")
    assert run.code == 0, run.stderr
    assert current(sm, "dev/db")["SecretString"] == '{"n": 1e400, "f": 1.10, "password": "new"}'


def test_set_field_refuses_a_document_it_cannot_rewrite(cli, sm) -> None:
    sm.create_secret(Name="dev/db", SecretString='{"n": NaN, "password": "old"}')
    run = cli("set", "dev/db", "--field", "password", "--stdin", input="new")
    assert run.code == 2
    assert "cannot be edited faithfully" in run.stderr
    assert len(versions(sm, "dev/db")) == 1


def test_set_field_on_non_json_secret_is_refused(cli, sm) -> None:
    sm.create_secret(Name="dev/plain", SecretString="text")
    run = cli("set", "dev/plain", "--field", "k", "--stdin", input="v")
    assert run.code == 2
    assert "not a JSON object" in run.stderr
    assert len(versions(sm, "dev/plain")) == 1


def test_set_description_tags_and_kms_key(cli, sm) -> None:
    run = cli(
        "set",
        "dev/api/key",
        "--stdin",
        "--description",
        "Stripe key",
        "--tag",
        "team=payments",
        "--tag",
        "tier=1",
        "--kms-key",
        "alias/custom",
        input="v1",
    )
    assert run.code == 0, run.stderr
    described = sm.describe_secret(SecretId="dev/api/key")
    assert described["Description"] == "Stripe key"
    assert {t["Key"]: t["Value"] for t in described["Tags"]} == {"team": "payments", "tier": "1"}
    assert described["KmsKeyId"] == "alias/custom"
    # an unchanged value still updates description and tags
    again = cli("set", "dev/api/key", "--stdin", "--description", "new", "--tag", "x=y", input="v1")
    assert again.code == 0
    described = sm.describe_secret(SecretId="dev/api/key")
    assert described["Description"] == "new"
    assert {t["Key"]: t["Value"] for t in described["Tags"]}["x"] == "y"
    assert len(versions(sm, "dev/api/key")) == 1


def test_set_kms_key_on_an_existing_secret_warns(cli, sm) -> None:
    sm.create_secret(Name="dev/a", SecretString="v1")
    run = cli("set", "dev/a", "--stdin", "--kms-key", "alias/other", input="v2")
    assert run.code == 0
    assert "warning: --kms-key applies to new secrets only" in run.stderr
    assert "KmsKeyId" not in sm.describe_secret(SecretId="dev/a")


def test_set_environment_tags_and_kms_key_from_config(cli, sm, aws_env: Path) -> None:
    write_config(aws_env, '[environments.dev]\nkms_key_id = "alias/dev"\ntags = { env = "dev" }\n')
    assert cli("set", "dev/api/key", "--stdin", "--tag", "team=a", input="v").code == 0
    described = sm.describe_secret(SecretId="dev/api/key")
    assert described["KmsKeyId"] == "alias/dev"
    assert {t["Key"]: t["Value"] for t in described["Tags"]} == {"env": "dev", "team": "a"}


def test_set_bad_tag_is_refused(cli, sm) -> None:
    run = cli("set", "dev/api/key", "--stdin", "--tag", "novalue", input="v")
    assert run.code == 2
    assert names(sm) == []


def test_set_from_file_keeps_binary_bytes_exactly(cli, sm, aws_env: Path) -> None:
    data = bytes(range(256)) + b"\n"
    path = aws_env / "key.bin"
    path.write_bytes(data)
    assert cli("set", "dev/cert", "--from-file", str(path)).code == 0
    assert current(sm, "dev/cert")["SecretBinary"] == data
    got = cli("get", "dev/cert")
    assert got.code == 0
    assert got.stdout_bytes == data


def test_set_from_file_keeps_text_newlines(cli, sm, aws_env: Path) -> None:
    path = aws_env / "key.pem"
    path.write_bytes(b"-----BEGIN-----\nabc\n-----END-----\n")
    assert cli("set", "dev/pem", "--from-file", str(path)).code == 0
    assert current(sm, "dev/pem")["SecretString"] == "-----BEGIN-----\nabc\n-----END-----\n"


def test_set_stdin_and_from_file_together_is_refused(cli, sm, aws_env: Path) -> None:
    path = aws_env / "v"
    path.write_text("v")
    run = cli("set", "dev/x", "--stdin", "--from-file", str(path), input="v")
    assert run.code == 2
    assert names(sm) == []


def test_set_protected_env_needs_yes_without_a_terminal(cli, sm, aws_env: Path) -> None:
    run = cli("set", "prod/api/key", "--stdin", input="v1")
    assert run.code == 4
    assert run.stderr.startswith("error: confirmation needed")
    assert "--yes" in run.stderr
    assert names(sm) == []
    write_config(aws_env, PROD_CONFIG)
    assert cli("set", "prod/api/key", "--stdin", input="v1").code == 4
    assert names(sm) == []
    assert cli("set", "prod/api/key", "--stdin", "--yes", input="v1").code == 0
    assert cli("set", "prod/api/key", "--stdin", input="v2").code == 4
    assert current(sm, "prod/api/key")["SecretString"] == "v1"
    # an unchanged value needs no confirmation, but changing its tags does
    assert cli("set", "prod/api/key", "--stdin", input="v1").code == 0
    tagged = cli("set", "prod/api/key", "--stdin", "--tag", "a=b", input="v1")
    assert tagged.code == 4
    assert "Tags" not in sm.describe_secret(SecretId="prod/api/key")
    assert cli("set", "prod/api/key", "--stdin", "-y", input="v2").code == 0
    assert current(sm, "prod/api/key")["SecretString"] == "v2"


def test_set_unprotected_prod_by_config(cli, sm, aws_env: Path) -> None:
    write_config(aws_env, "[environments.prod]\nprotected = false\n")
    assert cli("set", "prod/api/key", "--stdin", input="v1").code == 0


# -- get ----------------------------------------------------------------------------------------


def test_get_prints_exactly_the_value(cli, sm) -> None:
    sm.create_secret(Name="dev/a", SecretString="no newline")
    run = cli("get", "dev/a")
    assert run.code == 0
    assert run.stdout_bytes == b"no newline"  # not a TTY: nothing added
    assert run.stderr == ""


def test_get_field(cli, sm) -> None:
    sm.create_secret(Name="dev/db", SecretString='{"user": "app", "port": 5432}')
    assert cli("get", "dev/db", "--field", "user").stdout_bytes == b"app"
    assert cli("get", "dev/db", "--field", "port").stdout_bytes == b"5432"
    missing = cli("get", "dev/db", "--field", "password")
    assert missing.code == 2
    assert missing.stdout == ""
    assert "port, user" in missing.stderr


def test_get_by_stage_and_version(cli, sm) -> None:
    first = sm.create_secret(Name="dev/a", SecretString="v1")["VersionId"]
    sm.put_secret_value(SecretId="dev/a", SecretString="v2")
    assert cli("get", "dev/a").stdout == "v2"
    assert cli("get", "dev/a", "--version-stage", "AWSPREVIOUS").stdout == "v1"
    assert cli("get", "dev/a", "--version-id", first).stdout == "v1"
    both = cli("get", "dev/a", "--version-id", first, "--version-stage", "AWSCURRENT")
    assert both.code == 2
    no_stage = cli("get", "dev/a", "--version-stage", "AWSPENDING")
    assert no_stage.code == 3
    assert "has no stage AWSPENDING" in no_stage.stderr
    no_version = cli("get", "dev/a", "--version-id", "0" * 32)
    assert no_version.code == 3


def test_get_missing_secret_is_3(cli) -> None:
    run = cli("get", "dev/nope")
    assert run.code == 3
    assert run.stderr.startswith("error: secret 'dev/nope' not found")
    assert run.stdout == ""


def test_get_output_writes_file_0600_atomically(cli, sm, aws_env: Path) -> None:
    sm.create_secret(Name="dev/a", SecretString="file value\n")
    target = aws_env / "out" / "value.txt"
    target.parent.mkdir()
    target.write_text("old, world-readable")
    target.chmod(0o644)
    run = cli("get", "dev/a", "--output", str(target))
    assert run.code == 0, run.stderr
    assert run.stdout == ""
    assert target.read_bytes() == b"file value\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["value.txt"]  # no temp file left behind


def test_get_output_binary_and_missing_folder(cli, sm, aws_env: Path) -> None:
    data = b"\x00\x01\xff" * 100
    sm.create_secret(Name="dev/bin", SecretBinary=data)
    target = aws_env / "bin.dat"
    assert cli("get", "dev/bin", "-o", str(target)).code == 0
    assert target.read_bytes() == data
    missing = cli("get", "dev/bin", "--output", str(aws_env / "no" / "such" / "file"))
    assert missing.code == 2
    assert not (aws_env / "no").exists()


def test_get_output_failure_leaves_no_temp_file(cli, sm, aws_env: Path) -> None:
    sm.create_secret(Name="dev/a", SecretString="v")
    folder = aws_env / "dir-target"
    folder.mkdir()
    run = cli("get", "dev/a", "--output", str(folder))  # a folder cannot be replaced by a file
    assert run.code == 2
    assert [p.name for p in aws_env.iterdir()] == ["dir-target"]
    assert list(folder.iterdir()) == []


def test_get_json_text_and_binary(cli, sm) -> None:
    sm.create_secret(Name="dev/a", SecretString="v1")
    out = cli("get", "dev/a", "--json").json()
    assert out["value"] == "v1"
    assert out["encoding"] == "text"
    assert out["stages"] == ["AWSCURRENT"]
    assert set(out) == {"name", "version_id", "stages", "created", "encoding", "value"}
    data = b"\x00\xffbinary"
    sm.create_secret(Name="dev/bin", SecretBinary=data)
    out = cli("get", "dev/bin", "--json").json()
    assert out["encoding"] == "base64"
    assert base64.b64decode(out["value"]) == data
    sm.create_secret(Name="dev/db", SecretString='{"user": "app"}')
    out = cli("get", "dev/db", "--field", "user", "--json").json()
    assert (out["field"], out["value"]) == ("user", "app")


def test_get_binary_to_pipe_is_exact(cli, sm) -> None:
    data = bytes(range(256))
    sm.create_secret(Name="dev/bin", SecretBinary=data)
    assert cli("get", "dev/bin").stdout_bytes == data


# -- list ---------------------------------------------------------------------------------------


def seed(sm) -> None:
    for name in ("dev/api/key", "dev/api/other", "dev/db/password", "prod/api/key", "devx/a"):
        sm.create_secret(Name=name, SecretString="v")


def listed(run: Run) -> list[str]:
    assert run.code == 0, run.stderr
    return [row["name"] for row in run.json()]


def test_list_by_prefix(cli, sm) -> None:
    seed(sm)
    assert listed(cli("list", "dev/", "--json")) == [
        "dev/api/key",
        "dev/api/other",
        "dev/db/password",
    ]
    assert listed(cli("list", "dev", "--json")) == [
        "dev/api/key",
        "dev/api/other",
        "dev/db/password",
    ]
    assert listed(cli("list", "dev/api/", "--json")) == ["dev/api/key", "dev/api/other"]
    assert listed(cli("list", "dev/ap", "--json")) == []  # whole segments only
    assert listed(cli("list", "staging/", "--json")) == []


def test_list_without_prefix_and_without_config_lists_everything(cli, sm) -> None:
    seed(sm)
    assert listed(cli("list", "--json")) == [
        "dev/api/key",
        "dev/api/other",
        "dev/db/password",
        "devx/a",
        "prod/api/key",
    ]


def test_list_without_prefix_with_config_lists_declared_environments(cli, sm, aws_env) -> None:
    seed(sm)
    write_config(aws_env, "[environments.dev]\n[environments.prod]\n")
    assert listed(cli("list", "--json")) == [
        "dev/api/key",
        "dev/api/other",
        "dev/db/password",
        "prod/api/key",
    ]
    refused = cli("list", "devx/")
    assert refused.code == 2


def test_list_plain_output_is_a_table_of_names(cli, sm) -> None:
    seed(sm)
    run = cli("list", "dev/api/")
    assert run.code == 0
    lines = run.stdout.splitlines()
    assert lines[0].split("\t") == ["NAME", "LAST CHANGED", "LAST ACCESSED", "ROTATION"]
    assert [line.split("\t")[0] for line in lines[1:]] == ["dev/api/key", "dev/api/other"]
    empty = cli("list", "staging/")
    assert empty.code == 0
    assert empty.stdout == ""
    assert "no secrets found" in empty.stderr


def test_list_json_row_shape(cli, sm) -> None:
    sm.create_secret(
        Name="dev/a", SecretString="v", Description="d", Tags=[{"Key": "k", "Value": "v"}]
    )
    (row,) = cli("list", "dev/", "--json").json()
    assert set(row) == {
        "name",
        "arn",
        "description",
        "last_changed",
        "last_accessed",
        "created",
        "rotation_enabled",
        "rotation_schedule",
        "last_rotated",
        "deletion_date",
        "tags",
    }
    assert row["description"] == "d"
    assert row["tags"] == {"k": "v"}
    assert row["arn"].startswith("arn:aws:secretsmanager:")


def test_list_stale_and_unused(cli, sm) -> None:
    seed(sm)
    everything = listed(cli("list", "dev/", "--json"))
    # everything was just changed: nothing has been stale for a day, all for "0 days"
    assert listed(cli("list", "dev/", "--stale", "1", "--json")) == []
    assert listed(cli("list", "dev/", "--stale", "0", "--json")) == everything
    # never read: unused for any number of days
    assert listed(cli("list", "dev/", "--unused", "30", "--json")) == everything
    assert cli("list", "dev/", "--stale", "-1").code == 2


def test_list_stale_and_unused_with_old_dates(cli, sm, proxy) -> None:
    # moto records no LastAccessedDate and every date is "now": answer ListSecrets with the
    # dates AWS would report for old secrets (AWS rounds LastAccessedDate to the day). The
    # secrets exist, so that the checks that follow the listing (the current version's date,
    # replicas' last reads) find them; tests/test_ages.py covers those checks.
    for name in ("dev/old", "dev/used", "dev/new", "dev/fresh"):
        sm.create_secret(Name=name, SecretString="v")
    day = 86_400
    now = int(time.time())
    entries = [
        {
            "Name": "dev/old",
            "LastChangedDate": now - 400 * day,
            "LastAccessedDate": now - 200 * day,
        },
        {"Name": "dev/used", "LastChangedDate": now - 400 * day, "LastAccessedDate": now - day},
        {"Name": "dev/new", "LastChangedDate": now - 2 * day},
        {"Name": "dev/fresh", "LastChangedDate": now, "LastAccessedDate": now},
    ]
    proxy.answer("secretsmanager.ListSecrets", json.dumps({"SecretList": entries}).encode())
    assert listed(cli("list", "dev/", "--stale", "365", "--json")) == ["dev/old", "dev/used"]
    assert listed(cli("list", "dev/", "--stale", "1", "--json")) == [
        "dev/new",
        "dev/old",
        "dev/used",
    ]
    assert listed(cli("list", "dev/", "--unused", "90", "--json")) == ["dev/new", "dev/old"]
    assert listed(cli("list", "dev/", "--unused", "90", "--stale", "365", "--json")) == ["dev/old"]


def test_list_include_deleted(cli, sm) -> None:
    seed(sm)
    sm.delete_secret(SecretId="dev/api/other", RecoveryWindowInDays=7)
    assert "dev/api/other" not in listed(cli("list", "dev/", "--json"))
    rows = cli("list", "dev/", "--include-deleted", "--json").json()
    deleted = {r["name"]: r["deletion_date"] for r in rows}
    assert deleted["dev/api/other"] is not None
    assert deleted["dev/api/key"] is None
    plain = cli("list", "dev/", "--include-deleted")
    assert "dev/api/other (deleting)" in plain.stdout


def test_list_bad_prefix_is_2(cli) -> None:
    assert cli("list", "Dev/").code == 2
    assert cli("list", "dev/a b/").code == 2


# -- show and history ---------------------------------------------------------------------------


def test_show(cli, sm) -> None:
    created = sm.create_secret(
        Name="dev/a",
        SecretString="v",
        Description="the key",
        Tags=[{"Key": "team", "Value": "x"}],
    )
    run = cli("show", "dev/a", "--json")
    assert run.code == 0, run.stderr
    out = run.json()
    assert out["name"] == "dev/a"
    assert out["arn"] == created["ARN"]
    assert out["description"] == "the key"
    assert out["tags"] == {"team": "x"}
    assert out["current_version_id"] == created["VersionId"]
    assert out["pending_version_id"] is None
    assert out["rotation_enabled"] is False
    plain = cli("show", "dev/a")
    assert plain.code == 0
    assert "ARN:" in plain.stdout and created["ARN"] in plain.stdout
    assert "team=x" in plain.stdout
    assert cli("show", "dev/none").code == 3


def test_show_reports_scheduled_deletion(cli, sm) -> None:
    sm.create_secret(Name="dev/a", SecretString="v")
    sm.delete_secret(SecretId="dev/a", RecoveryWindowInDays=7)
    assert cli("show", "dev/a", "--json").json()["deletion_date"] is not None
    assert "secrets restore" in cli("show", "dev/a").stdout


def test_history(cli, sm) -> None:
    first = sm.create_secret(Name="dev/a", SecretString="v1")["VersionId"]
    second = sm.put_secret_value(SecretId="dev/a", SecretString="v2")["VersionId"]
    run = cli("history", "dev/a", "--json")
    assert run.code == 0, run.stderr
    stages = {v["version_id"]: v["stages"] for v in run.json()}
    assert stages == {first: ["AWSPREVIOUS"], second: ["AWSCURRENT"]}
    assert set(run.json()[0]) == {"version_id", "stages", "created", "last_accessed", "rotation"}
    plain = cli("history", "dev/a")
    assert plain.stdout.splitlines()[0].startswith("VERSION\tSTAGES")
    assert first in plain.stdout and second in plain.stdout
    # `history` of a missing secret: AWS answers ResourceNotFoundException (exit 3); moto 5.2
    # answers HTTP 500 to ListSecretVersionIds instead, so it is not asserted here.


# -- delete and restore -------------------------------------------------------------------------


def test_delete_schedules_and_restore_undoes(cli, sm) -> None:
    sm.create_secret(Name="dev/a", SecretString="v")
    run = cli("delete", "dev/a", "--json")
    assert run.code == 0, run.stderr
    out = run.json()
    assert out["recoverable"] is True
    assert out["deletion_date"]
    assert "DeletedDate" in sm.describe_secret(SecretId="dev/a")
    assert cli("get", "dev/a").code == 4  # AWS refuses reads of deleting secrets
    again = cli("delete", "dev/a", "--yes")
    assert again.code == 4
    assert "secrets restore dev/a" in again.stderr
    restored = cli("restore", "dev/a", "--json")
    assert restored.code == 0, restored.stderr
    assert restored.json() == {"name": "dev/a", "restored": True}
    assert "DeletedDate" not in sm.describe_secret(SecretId="dev/a")
    assert cli("get", "dev/a").stdout == "v"


@pytest.mark.parametrize("days", ["6", "31", "0"])
def test_delete_recovery_days_bounds(cli, sm, days: str) -> None:
    sm.create_secret(Name="dev/a", SecretString="v")
    run = cli("delete", "dev/a", "--recovery-days", days)
    assert run.code == 2
    assert run.stderr.startswith("error:")
    assert "DeletedDate" not in sm.describe_secret(SecretId="dev/a")


@pytest.mark.parametrize("days", [7, 30])
def test_delete_recovery_days_in_bounds(cli, sm, days: int) -> None:
    sm.create_secret(Name="dev/a", SecretString="v")
    assert cli("delete", "dev/a", "--recovery-days", str(days)).code == 0
    described = sm.describe_secret(SecretId="dev/a")
    window = described["DeletedDate"] - described["CreatedDate"]
    assert abs(window.days - days) <= 1


def test_delete_force_now_needs_confirmation(cli, sm) -> None:
    sm.create_secret(Name="dev/a", SecretString="v")
    refused = cli("delete", "dev/a", "--force-now")
    assert refused.code == 4
    assert "--force-now cannot be undone" in refused.stderr
    assert "DeletedDate" not in sm.describe_secret(SecretId="dev/a")
    done = cli("delete", "dev/a", "--force-now", "--yes", "--json")
    assert done.code == 0, done.stderr
    assert done.json()["recoverable"] is False
    assert names(sm) == []


def test_delete_protected_needs_yes(cli, sm) -> None:
    sm.create_secret(Name="prod/a", SecretString="v")
    assert cli("delete", "prod/a").code == 4
    assert "DeletedDate" not in sm.describe_secret(SecretId="prod/a")
    assert cli("delete", "prod/a", "--yes").code == 0
    assert "DeletedDate" in sm.describe_secret(SecretId="prod/a")


def test_delete_and_restore_missing_are_3(cli) -> None:
    assert cli("delete", "dev/none", "--yes").code == 3
    assert cli("restore", "dev/none").code == 3


def test_set_on_a_deleting_secret_is_refused_with_a_hint(cli, sm) -> None:
    sm.create_secret(Name="dev/a", SecretString="v")
    sm.delete_secret(SecretId="dev/a", RecoveryWindowInDays=7)
    run = cli("set", "dev/a", "--stdin", input="v2")
    assert run.code == 4
    assert "secrets restore" in run.stderr
    assert len(versions(sm, "dev/a")) == 1


def test_set_gives_a_secret_created_without_a_value_its_first_version(cli, sm) -> None:
    sm.create_secret(Name="dev/empty", Description="made by another tool")
    run = cli("set", "dev/empty", "--stdin", "--tag", "k=v", "--json", input="v1")
    assert run.code == 0, run.stderr
    assert run.json()["action"] == "created"
    assert sm.get_secret_value(SecretId="dev/empty")["SecretString"] == "v1"
    described = sm.describe_secret(SecretId="dev/empty")
    assert described["Description"] == "made by another tool"
    assert {t["Key"]: t["Value"] for t in described["Tags"]} == {"k": "v"}
