"""The keyring store under concurrency: eight writers in one run and two runs at once lose no
entry and corrupt nothing, and an index that lost names is repaired by a re-run.

Two real backends: keyrings.alt's file backend (every entry in one file, rewritten whole on
each change: unserialised writers corrupt it) and `tests.keyring_backends.FolderKeyring` (each
entry on its own, as the OS keychains do: unserialised writers of the index drop names).
"""

from __future__ import annotations

import configparser
import os
import subprocess
from pathlib import Path
from typing import Any

import keyring
import keyring.core
import pytest

from tests.conftest import SECRETS_BIN, write_config

REPOSITORY = Path(__file__).resolve().parent.parent
KEYS = 40
CONFIG = """
[environments.local]
backend = "keyring"
protected = false
"""
BACKENDS = {
    "file": "keyrings.alt.file.PlaintextKeyring",
    "folder": "tests.keyring_backends.FolderKeyring",
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, aws_env: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    home = aws_env.parent / "home"
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", BACKENDS[request.param])
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("TEST_KEYRING_DIR", str(home / "folder-keyring"))
    monkeypatch.setenv("PYTHONPATH", str(REPOSITORY))
    keyring.core.init_backend()
    write_config(aws_env, CONFIG)
    return str(request.param)


def env_file(folder: Path, name: str, count: int = KEYS) -> Path:
    path = folder / name
    path.write_text("".join(f"KEY_{n:02d}=value-{name}-{n}\n" for n in range(count)))
    return path


def listed(cli: Any, prefix: str = "local/") -> list[str]:
    run = cli("list", prefix, "--json")
    assert run.code == 0, run.stderr
    return [row["name"] for row in run.json()]


def assert_file_backend_intact(home: Path) -> None:
    """keyrings.alt's data file parses (a DuplicateOptionError breaks every later command)."""
    data = home / ".local" / "share" / "python_keyring" / "keyring_pass.cfg"
    if data.exists():
        configparser.RawConfigParser().read(data, encoding="utf-8")


def test_eight_writers_in_one_run_lose_no_entry(cli: Any, backend: str, aws_env: Path) -> None:
    source = env_file(aws_env, "app.env")
    run = cli("migrate", "env-file", str(source), "--to", "local/app/", "--concurrency", "8")
    assert run.code == 0, run.stderr
    assert f"{KEYS} created, 0 updated, 0 unchanged, {KEYS} verified" in run.stderr
    assert len(listed(cli)) == KEYS
    assert_file_backend_intact(aws_env.parent / "home")
    assert cli("get", "local/app/key-07").stdout == "value-app.env-7"


@pytest.mark.parametrize("caches", ["shared", "separate"])
def test_two_processes_at_once_lose_no_entry(
    cli: Any, backend: str, aws_env: Path, caches: str
) -> None:
    """`separate`: each run with its own XDG_CACHE_HOME (a cron job, a CI step) used to take
    its own lock: 79 of 80 names were lost from the index."""

    def environment(side: str) -> dict[str, str]:
        if caches == "shared":
            return dict(os.environ)
        return {**os.environ, "XDG_CACHE_HOME": str(aws_env / f"cache-{side}")}

    runs = [
        subprocess.Popen(
            [
                *(SECRETS_BIN, "migrate", "env-file", str(env_file(aws_env, f"{side}.env"))),
                *("--to", f"local/{side}/", "--concurrency", "8"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environment(side),
        )
        for side in ("one", "two")
    ]
    for process in runs:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr.decode()
    assert_file_backend_intact(aws_env.parent / "home")
    names = listed(cli)
    assert len(names) == 2 * KEYS
    assert {n.split("/")[1] for n in names} == {"one", "two"}
    assert cli("get", "local/two/key-39").stdout == "value-two.env-39"


def test_a_rerun_repairs_an_index_that_lost_names(cli: Any, backend: str, aws_env: Path) -> None:
    """Entries written but missing from the index (an older version's race, a run killed
    between its two writes): the re-run reads every target, and each one it finds is indexed
    again."""
    source = env_file(aws_env, "app.env", count=12)
    assert cli("migrate", "env-file", str(source), "--to", "local/app/").code == 0
    keyring.core.init_backend()  # the same backend as the command's, from this test
    keyring.set_password("envsecrets", "index:local", '["local/app/key-03"]')
    assert listed(cli) == ["local/app/key-03"]
    again = cli("migrate", "env-file", str(source), "--to", "local/app/")
    assert again.code == 0, again.stderr
    assert "12 unchanged" in again.stderr
    assert len(listed(cli)) == 12


def test_the_lock_is_one_private_place_whatever_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from envsecrets.backends.keyring_store import lock_path

    first = lock_path()
    for name in ("XDG_CACHE_HOME", "HOME", "TMPDIR", "XDG_RUNTIME_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name))
    assert lock_path() == first
    assert first.parent.name == f"envsecrets-{os.getuid()}"


@pytest.mark.skipif(os.geteuid() != 0, reason="making a folder another user owns needs root")
def test_a_lock_folder_someone_else_made_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from envsecrets.backends import keyring_store
    from envsecrets.errors import CliError, ExitCode

    monkeypatch.setattr(keyring_store, "SHARED_MEMORY", tmp_path)
    planted = keyring_store.lock_path().parent
    planted.mkdir(mode=0o777)
    os.chown(planted, 65534, 65534)
    with pytest.raises(CliError) as caught, keyring_store._KeyringLock.held():
        pass
    assert caught.value.code == ExitCode.REFUSED
    assert not (planted / "keyring.lock").exists()
