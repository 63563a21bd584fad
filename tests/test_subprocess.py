"""The installed `secrets` script, run as a user types it (set via --stdin, get, list)."""

from __future__ import annotations

import json


def test_set_get_list_as_a_real_process(secrets_cmd, sm) -> None:
    created = secrets_cmd(["set", "dev/api/key", "--stdin", "--json"], input="s3cret\n")
    assert created.code == 0, created.stderr
    assert json.loads(created.stdout)["action"] == "created"
    assert sm.get_secret_value(SecretId="dev/api/key")["SecretString"] == "s3cret"

    got = secrets_cmd(["get", "dev/api/key"])
    assert got.code == 0, got.stderr
    assert got.stdout_bytes == b"s3cret"  # piped: no newline added
    assert got.stderr == ""

    listed = secrets_cmd(["list", "dev/"])
    assert listed.code == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("NAME\t")
    assert [line.split("\t")[0] for line in lines[1:]] == ["dev/api/key"]
    assert "s3cret" not in listed.stdout + listed.stderr

    missing = secrets_cmd(["get", "dev/none"])
    assert missing.code == 3
    assert missing.stderr.startswith("error: secret 'dev/none' not found")


def test_version(secrets_cmd) -> None:
    version = secrets_cmd(["--version"])
    assert version.code == 0
    assert version.stdout.startswith("secrets (envsecrets) ")
