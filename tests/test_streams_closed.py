"""Closed and full standard streams, as real subprocesses of the installed script: a closed
stdin is "no input", a closed or full stdout is exit 1 in one line without a traceback, and
exit codes never depend on stderr being open."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SECRETS_BIN


def shell(
    redirected: str, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """`secrets ARGS REDIRECTIONS` through sh, which closes or redirects the descriptors."""
    return subprocess.run(
        ["sh", "-c", f'exec "$0" "$@" {redirected}', SECRETS_BIN, *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def no_crash(done: subprocess.CompletedProcess[bytes]) -> None:
    assert b"Traceback" not in done.stderr, done.stderr
    assert b"internal error" not in done.stderr, done.stderr
    assert b"Exception ignored" not in done.stderr, done.stderr


@pytest.fixture
def one_secret(sm: Any) -> str:
    sm.create_secret(Name="dev/x", SecretString="streams-value")
    return "dev/x"


@pytest.mark.parametrize(
    "args", [["list"], ["get", "dev/x"], ["get", "dev/x", "--json"], ["--version"]]
)
def test_a_closed_stdout_is_exit_1_in_one_line(one_secret: str, args: list[str]) -> None:
    done = shell(">&-", *args)
    assert done.returncode == 1, done.stderr
    no_crash(done)
    if "--json" in args:
        assert json.loads(done.stderr)["error"]["message"].endswith("stdout is closed")
    else:
        assert done.stderr.startswith(b"error: cannot write the output: stdout is closed\n")


@pytest.mark.parametrize("args", [["list"], ["get", "dev/x"], ["show", "dev/x"]])
def test_a_full_stdout_is_exit_1_in_one_line(one_secret: str, args: list[str]) -> None:
    done = shell(">/dev/full", *args)
    assert done.returncode == 1, done.stderr
    no_crash(done)
    assert b"error: cannot write the output: No space left on device" in done.stderr


def test_a_command_that_writes_nothing_to_stdout_does_not_mind_it_closed(
    one_secret: str, sm: Any
) -> None:
    done = shell(">&-", "set", "dev/y", "--stdin", stdin=b"v")
    assert done.returncode == 0, done.stderr
    assert sm.get_secret_value(SecretId="dev/y")["SecretString"] == "v"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["get", "dev/nope/x"], 3),
        (["get", "dev/x"], 0),
        (["get", "Dev/x"], 2),
        (["set", "dev/z", "--stdin"], 0),
    ],
)
def test_exit_codes_do_not_depend_on_stderr_being_open(
    one_secret: str, args: list[str], code: int
) -> None:
    done = shell("2>&-", *args, stdin=b"v")
    assert done.returncode == code
    assert done.stderr == b""


@pytest.mark.parametrize("args", [["set", "dev/x2", "--stdin"], ["set", "dev/x2"]])
def test_a_closed_stdin_is_no_input(aws_env: Path, sm: Any, args: list[str]) -> None:
    done = shell("<&-", *args)
    assert done.returncode == 2, done.stderr
    no_crash(done)
    assert sm.list_secrets()["SecretList"] == []


def test_under_umask_000_our_folders_are_0700(aws_env: Path, sm: Any, tmp_path: Path) -> None:
    """`secrets list` fills the names cache; every folder it creates on the way (here
    `.cache` itself) is 0700, and the file 0600, whatever the umask."""
    import os
    import stat

    from tests.conftest import write_config

    write_config(aws_env, "[environments.dev]\n")
    sm.create_secret(Name="dev/x", SecretString="v")
    home = tmp_path / "fresh-home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}
    done = subprocess.run(
        ["sh", "-c", 'umask 000 && exec "$0" list', SECRETS_BIN],
        env=env,
        cwd=aws_env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    names = home / ".cache" / "envsecrets" / "names"
    for folder in (home / ".cache", home / ".cache" / "envsecrets", names):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    files = list(names.iterdir())
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_a_non_utf8_locale_shows_everything_and_json_stays_utf8(sm: Any) -> None:
    """`PYTHONUTF8=0 LC_ALL=C`: stdout's encoding is ASCII. `show` of a description in
    another script went as far as the description and stopped (UnicodeEncodeError)."""
    import os

    description = "Clé de l'API — 鍵"
    sm.create_secret(Name="dev/intl", SecretString="v", Description=description)
    env = {**os.environ, "PYTHONUTF8": "0", "LC_ALL": "C", "LANG": "C"}
    env.pop("PYTHONIOENCODING", None)
    shown = subprocess.run(
        [SECRETS_BIN, "show", "dev/intl"], env=env, capture_output=True, timeout=60, check=False
    )
    assert shown.returncode == 0, shown.stderr
    no_crash(shown)
    assert b"Tags:" in shown.stdout  # the fields after the description were printed too
    assert b"Cl\\xe9 de l'API" in shown.stdout  # what ASCII cannot hold, escaped
    as_json = subprocess.run(
        [SECRETS_BIN, "show", "dev/intl", "--json"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout.decode("utf-8"))["description"] == description
