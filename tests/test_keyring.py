"""backend = "keyring": a developer's local secrets in the OS keychain, with the same commands.

The keyring is real: keyrings.alt's file backend, chosen by name with PYTHON_KEYRING_BACKEND
(headless machines have no Secret Service), with its data file under the test's HOME.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keyring.core
import pytest

from tests.conftest import write_config

CONFIG = """
[environments.local]
backend = "keyring"
protected = false

[environments.dev]
"""


@pytest.fixture(autouse=True)
def file_keyring(aws_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    monkeypatch.setenv("XDG_DATA_HOME", str(aws_env.parent / "home" / ".local" / "share"))
    keyring.core.init_backend()  # keyring picks its backend once per process: pick again
    write_config(aws_env, CONFIG)
    return aws_env


def keyring_file(work: Path) -> Path:
    return work.parent / "home" / ".local" / "share" / "python_keyring" / "keyring_pass.cfg"


def test_set_get_list_delete_against_the_keyring(cli: Any, sm: Any, file_keyring: Path) -> None:
    assert cli("set", "local/api/stripe-key", "--stdin", input="sk_local_1\n").code == 0
    assert cli("get", "local/api/stripe-key").stdout == "sk_local_1"
    again = cli("set", "local/api/stripe-key", "--stdin", input="sk_local_1\n")
    assert "unchanged" in again.stderr
    assert cli("set", "local/api/stripe-key", "--stdin", input="sk_local_2\n").code == 0
    assert cli("get", "local/api/stripe-key").stdout == "sk_local_2"
    previous = cli("get", "local/api/stripe-key", "--version-stage", "AWSPREVIOUS")
    assert previous.stdout == "sk_local_1"
    assert cli("set", "local/db/password", "--stdin", input="pw\n").code == 0

    listed = cli("list", "local/", "--json")
    assert [row["name"] for row in listed.json()] == ["local/api/stripe-key", "local/db/password"]
    history = cli("history", "local/api/stripe-key", "--json").json()
    assert sorted(tuple(v["stages"]) for v in history) == [("AWSCURRENT",), ("AWSPREVIOUS",)]

    assert cli("delete", "local/db/password", "--yes").code == 0
    assert [r["name"] for r in cli("list", "local/", "--json").json()] == ["local/api/stripe-key"]
    assert cli("get", "local/db/password").code == 4  # scheduled for deletion
    assert cli("restore", "local/db/password").code == 0
    assert cli("get", "local/db/password").stdout == "pw"
    assert cli("delete", "local/db/password", "--force-now", "--yes").code == 0
    gone = cli("get", "local/db/password")
    assert gone.code == 3
    assert "secrets list" in gone.stderr  # the hint says what to do next

    # Nothing went to AWS.
    assert sm.list_secrets()["SecretList"] == []
    # It really is in the keyring: the file backend's data file holds the entries.
    assert "local_2fapi_2fstripe_2dkey" in keyring_file(file_keyring).read_text()  # escaped


def test_binary_and_json_field_values_round_trip(cli: Any, file_keyring: Path) -> None:
    blob = file_keyring / "key.der"
    blob.write_bytes(bytes(range(256)))
    assert cli("set", "local/tls/key", "--from-file", str(blob)).code == 0
    out = file_keyring / "out.der"
    assert cli("get", "local/tls/key", "--output", str(out)).code == 0
    assert out.read_bytes() == bytes(range(256))
    assert cli("set", "local/db", "--stdin", input='{"user": "app", "password": "p1"}').code == 0
    assert cli("get", "local/db", "--field", "password").stdout == "p1"


def test_missing_secret_is_not_found(cli: Any) -> None:
    run = cli("get", "local/nothing/here")
    assert run.code == 3
    assert "not found" in run.stderr


def test_diff_reads_the_keyring_like_any_store(cli: Any, sm: Any) -> None:
    """diff is built on store.list + read_many; the keyring store provides both."""
    sm.create_secret(Name="dev/api/stripe-key", SecretString="canary-equal")
    sm.create_secret(Name="dev/api/only-dev", SecretString="x")
    sm.create_secret(Name="dev/api/changed", SecretString="canary-dev")
    cli("set", "local/api/stripe-key", "--stdin", input="canary-equal\n")
    cli("set", "local/api/only-local", "--stdin", input="y\n")
    cli("set", "local/api/changed", "--stdin", input="canary-local\n")
    run = cli("diff", "local", "dev", "--json")
    assert run.code == 1, run.stderr
    text = run.stdout
    assert "only-local" in text and "only-dev" in text
    assert "changed" in text
    assert "canary" not in text + run.stderr  # values never printed


def test_no_keyring_backend_is_a_clear_usage_error(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    keyring.core.init_backend()
    run = cli("get", "local/api/stripe-key")
    assert run.code == 2
    assert "no usable OS keyring backend" in run.stderr
    assert "keyring.backends.fail.Keyring" in run.stderr
    assert "hint:" in run.stderr


def test_a_file_keyring_is_never_picked_silently(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plaintext file is not the OS keychain: used only when named on purpose."""
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    keyring.set_keyring(PlaintextKeyring())
    run = cli("set", "local/x", "--stdin", input="v\n")
    assert run.code == 2
    assert "PYTHON_KEYRING_BACKEND" in run.stderr


def test_keyring_environment_as_a_subprocess(secrets_cmd: Any, file_keyring: Path) -> None:
    assert secrets_cmd(["set", "local/api/token", "--stdin"], input="t0k\n").code == 0
    got = secrets_cmd(["get", "local/api/token"])
    assert (got.code, got.stdout, got.stderr) == (0, "t0k", "")


def test_a_keyring_environment_rotates_offline(
    cli: Any, sm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 18 item 15: `rotate --generate` crashed (AttributeError), then was refused, and
    `rotate --stdin` called STS (exit 5/6 offline). Every form of rotation works with no AWS
    at all: passwords drawn locally under GetRandomPassword's rules, the record names the
    local user."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(variable)
    assert cli("set", "local/db/password", "--stdin", input="pw1\n").code == 0
    run = cli("rotate", "local/db/password", "--stdin", "--json", input="pw2\n")
    assert run.code == 0, run.stderr
    assert run.json()["rotated_by"].endswith("(OS keyring)")
    assert cli("get", "local/db/password").stdout == "pw2"
    run = cli(
        "rotate", "local/db/password", "--generate", "--length", "20", "--exclude-punctuation",
        "--verify-cmd", "grep -Eqx '[A-Za-z0-9]{20}'",
    )  # fmt: skip
    assert run.code == 0, run.stderr
    generated = cli("get", "local/db/password").stdout
    assert len(generated) == 20 and generated.isalnum()
    assert cli("rotate", "local/db/password", "--rollback").code == 0
    assert cli("get", "local/db/password").stdout == "pw2"
    assert cli("set", "local/db/other", "--stdin", input="x\n").code == 0
    bulk = cli("rotate", "--env", "local", "--older-than", "0", "--generate", "--yes", "--json")
    assert bulk.code == 0, bulk.stderr
    assert sorted(r["name"] for r in bulk.json()["rotated"]) == [
        "local/db/other",
        "local/db/password",
    ]
    assert (
        cli("rotate", "local/db/other", "--stdin", "--verify-cmd", "false", input="y\n").code == 1
    )
    resumed = cli("rotate", "local/db/other", "--resume")
    assert resumed.code == 0, resumed.stderr
    assert cli("get", "local/db/other").stdout == "y"
    history = cli("history", "local/db/other", "--json").json()
    assert sorted(tuple(v["stages"]) for v in history) == [("AWSCURRENT",), ("AWSPREVIOUS",)]


def test_local_passwords_follow_get_random_passwords_rules() -> None:
    from envsecrets.core.passwords import LocalPasswords, PasswordPool, PasswordRules

    local = LocalPasswords()
    for _ in range(200):
        text = local.generate_password(
            length=4, exclude_characters="abcdefghijklmnopqrstuvwxy"
        ).text()
        assert len(text) == 4
        assert {"z"} & set(text)  # the one lowercase letter left must appear
        assert any(c.isupper() for c in text) and any(c.isdigit() for c in text)
        assert not set(text) & set("abcdefghijklmnopqrstuvwxy")
    only_digits = local.generate_password(
        length=12, exclude_lowercase=True, exclude_uppercase=True, exclude_punctuation=True
    ).text()
    assert only_digits.isdigit() and len(only_digits) == 12
    pool = PasswordPool(local, PasswordRules(length=16, exclude_punctuation=True))
    drawn = {pool.take().text() for _ in range(300)}
    assert len(drawn) == 300 and all(len(p) == 16 and p.isalnum() for p in drawn)
