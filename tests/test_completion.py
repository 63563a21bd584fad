"""Shell completion: committed scripts stay fresh; a TAB completes environments and names from a
names-only cache, never waits on AWS for long, never prints on stderr, never imports boto3 when
the cache answers.

TABs are real subprocesses of the installed `secrets`, driven through the environment protocol
the generated scripts use (bash: COMP_WORDS/COMP_CWORD; zsh: _TYPER_COMPLETE_ARGS).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests import completions
from tests.conftest import SECRETS_BIN, write_config

CONFIG = """
[environments.prod]
[environments.staging]
[environments.dev]
"""


def tab(
    words: str, *, env: dict[str, str] | None = None, python_flags: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """What bash gets when the user presses TAB after `words` (cursor at the end)."""
    cword = len(words.split(" ")) - 1
    argv = [sys.executable, *python_flags, "-m", "envsecrets"] if python_flags else [SECRETS_BIN]
    return subprocess.run(
        argv,
        env={
            **os.environ,
            "_SECRETS_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(cword),
            **(env or {}),
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def suggestions(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stdout.splitlines() if line]


def cache_files(work: Path) -> list[Path]:
    folder = work.parent / "home" / ".cache" / "envsecrets" / "names"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def test_committed_completion_scripts_are_fresh() -> None:
    assert completions.stale() == [], "run `make completions` and commit completions/"


def test_environments_come_from_secrets_toml(aws_env: Path) -> None:
    write_config(aws_env, CONFIG)
    done = tab("secrets get ")
    assert (done.returncode, done.stderr) == (0, "")
    assert suggestions(done) == ["dev/", "prod/", "staging/"]


def test_names_after_list_come_from_the_cache_without_aws(
    aws_env: Path, cli: Any, sm: Any, proxy: Any
) -> None:
    write_config(aws_env, CONFIG)
    sm.create_secret(Name="prod/api/stripe-key", SecretString="canary-value-123")
    sm.create_secret(Name="prod/db/password", SecretString="canary-value-456")
    sm.create_secret(Name="staging/api/stripe-key", SecretString="x")
    assert cli("list").code == 0  # refreshes the names-only cache of every environment
    proxy.reset_counts()

    done = tab("secrets get prod/")
    assert (done.returncode, done.stderr) == (0, "")
    assert suggestions(done) == ["prod/api/stripe-key", "prod/db/password"]
    assert suggestions(tab("secrets show prod/a")) == ["prod/api/stripe-key"]
    # One environment matching goes straight to its names.
    assert suggestions(tab("secrets get stag")) == ["staging/api/stripe-key"]
    assert proxy.count() == 0  # the cache answered every TAB

    files = cache_files(aws_env)
    assert len(files) == 3  # one per environment, dev's empty
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert "canary-value" not in path.read_text()  # names only, never values


def test_copy_completes_both_source_and_destination(aws_env: Path, cli: Any, sm: Any) -> None:
    write_config(aws_env, CONFIG)
    sm.create_secret(Name="prod/api/stripe-key", SecretString="v")
    sm.create_secret(Name="staging/api/stripe-key", SecretString="v")
    assert cli("list").code == 0
    assert suggestions(tab("secrets copy staging/a")) == ["staging/api/stripe-key"]
    # DST completes like SRC: environments, then the destination's existing names.
    done = tab("secrets copy staging/api/stripe-key prod/")
    assert (done.returncode, done.stderr) == (0, "")
    assert suggestions(done) == ["prod/api/stripe-key"]
    assert suggestions(tab("secrets copy staging/api/ d")) == ["dev/"]
    assert suggestions(tab("secrets copy --overwrite staging/api/stripe-key pr")) == [
        "prod/api/stripe-key"
    ]


def test_a_warm_tab_does_not_import_boto3(aws_env: Path, cli: Any, sm: Any) -> None:
    write_config(aws_env, CONFIG)
    sm.create_secret(Name="prod/api/stripe-key", SecretString="v")
    cli("list", "prod/")
    done = tab("secrets get prod/", python_flags=("-X", "importtime"))
    assert "prod/api/stripe-key" in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "boto3" not in imported and "botocore" not in imported


def test_a_cold_cache_is_filled_by_a_bounded_lookup(aws_env: Path, sm: Any) -> None:
    write_config(aws_env, CONFIG)
    sm.create_secret(Name="prod/api/stripe-key", SecretString="v")
    done = tab("secrets get prod/")
    assert (done.returncode, done.stderr) == (0, "")
    assert suggestions(done) == ["prod/api/stripe-key"]
    names = json.loads(cache_files(aws_env)[0].read_text())["names"]
    assert names == ["prod/api/stripe-key"]


def test_a_hanging_network_gives_the_old_list_and_no_noise(
    aws_env: Path, cli: Any, sm: Any, proxy: Any
) -> None:
    write_config(aws_env, CONFIG)
    sm.create_secret(Name="prod/api/stripe-key", SecretString="v")
    cli("list", "prod/")
    [path] = cache_files(aws_env)
    data = json.loads(path.read_text())
    data["written"] -= 3600  # an hour old: past its expiry, so a TAB looks again
    path.write_text(json.dumps(data))
    proxy.faults.latency = 20.0  # AWS does not answer within the TAB's patience
    proxy.reset_counts()
    done = tab("secrets get prod/")
    assert (done.returncode, done.stderr) == (0, "")
    assert suggestions(done) == ["prod/api/stripe-key"]  # the old list beats none
    # No timing assertion: the test's own 30 s subprocess timeout is the "never hangs" check.


def test_no_network_and_no_cache_completes_nothing_quietly(aws_env: Path, proxy: Any) -> None:
    write_config(aws_env, CONFIG)
    proxy.faults.drop_rate = 1.0
    done = tab("secrets get prod/")
    assert (done.returncode, done.stderr) == (0, "")
    assert suggestions(done) == []
    assert proxy.count("secretsmanager") <= 1  # one attempt, no retries from a TAB


def test_broken_secrets_toml_completes_nothing_quietly(aws_env: Path) -> None:
    (aws_env / "secrets.toml").write_text("[environments.prod\nregion = ", encoding="utf-8")
    done = tab("secrets get ")
    assert (done.returncode, done.stderr, done.stdout.strip()) == (0, "", "")


def test_zsh_protocol_completes_names(aws_env: Path, cli: Any, sm: Any) -> None:
    write_config(aws_env, CONFIG)
    sm.create_secret(Name="prod/api/stripe-key", SecretString="v")
    cli("list", "prod/")
    done = subprocess.run(
        [SECRETS_BIN],
        env={
            **os.environ,
            "_SECRETS_COMPLETE": "complete_zsh",
            "_TYPER_COMPLETE_ARGS": "secrets get prod/",
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert "prod/api/stripe-key" in done.stdout


def test_rotate_completes_its_new_flag(aws_env: Path) -> None:
    write_config(aws_env, CONFIG)
    done = tab("secrets rotate dev/db/creds --generate --wh")
    assert (done.returncode, done.stderr) == (0, "")
    assert suggestions(done) == ["--whole"]
