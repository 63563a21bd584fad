"""Messages that must say what is true: a piped value without --stdin at a terminal, a
hard-linked `.env` that --delete-source leaves whole, an output path that is write-only, and
help screens (the reviewers' cosmetic findings)."""

from __future__ import annotations

import itertools
import os
import pty
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SECRETS_BIN

PIPED = "Piped-Value-7Qx2"
AS_UID_1000 = ["setpriv", "--reuid=1000", "--regid=1000", "--clear-groups"]


def test_a_piped_value_without_stdin_at_a_terminal_says_pass_stdin(aws_env: Path, sm: Any) -> None:
    """It said "no terminal to ask for one" while stderr was a terminal."""
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [SECRETS_BIN, "set", "dev/api/key"],
            input=PIPED.encode(),
            stdout=subprocess.PIPE,
            stderr=follower,
            timeout=60,
            check=False,
        )
    finally:
        os.close(follower)
    screen = b""
    while b"hint:" not in screen:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    text = screen.decode("utf-8", "replace")
    assert done.returncode == 2, text
    assert "no terminal" not in text
    assert "pass --stdin to read the piped value" in text
    assert PIPED not in text
    assert sm.list_secrets()["SecretList"] == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_set_stopped_while_writing_says_the_value_may_be_stored(proxy: Any, signum: int) -> None:
    """The generic "run the same command again" hid that the write may have landed."""
    create = "secretsmanager.CreateSecret"
    proxy.hold(create, after=0, until="never.Arrives", timeout=60)
    process = subprocess.Popen(
        [SECRETS_BIN, "set", "dev/api/key", "--stdin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    process.stdin.write(PIPED.encode())
    process.stdin.close()
    process.stdin = None  # given whole: communicate() has nothing more to send
    for _ in range(600):
        if proxy.count(create) > 0:
            break
        time.sleep(0.05)
    assert proxy.count(create) > 0, "the command never sent its write"
    process.send_signal(signum)
    _, err = process.communicate(timeout=30)
    text = err.decode()
    assert process.returncode == 130, text
    assert "while writing dev/api/key: the new value may already be stored" in text
    assert "secrets history dev/api/key" in text
    assert signal.Signals(signum).name in text or signum == signal.SIGINT


def test_a_set_stopped_before_writing_keeps_the_plain_message(proxy: Any) -> None:
    proxy.faults.latency = 60  # stuck in the first read: nothing written yet
    process = subprocess.Popen(
        [SECRETS_BIN, "set", "dev/api/key", "--stdin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    process.stdin.write(PIPED.encode())
    process.stdin.close()
    process.stdin = None
    for _ in range(600):
        if proxy.count() > 0:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "may already be stored" not in err.decode()


def test_a_hard_linked_env_files_hint_does_not_talk_about_overwrite(
    cli: Any, sm: Any, aws_env: Path
) -> None:
    source = aws_env / ".env"
    source.write_text("A_TOKEN=t0ken-value\n")
    os.link(source, aws_env / "backup.env")
    run = cli("migrate", "env-file", ".env", "--to", "dev/hl/", "--delete-source", "--yes")
    assert run.code == 1, run.stderr
    hint = next(line for line in run.stderr.splitlines() if line.startswith("hint:"))
    assert "--overwrite" not in hint
    assert "remove the other links" in hint


@pytest.mark.skipif(os.geteuid() != 0, reason="running as another user needs root (setpriv)")
@pytest.mark.parametrize("command", [["get", "dev/out"], ["export", "dev", "--format", "json"]])
def test_an_existing_write_only_output_file_is_replaced_not_refused(
    sm: Any, aws_env: Path, command: list[str]
) -> None:
    """`--output` of a 0200 file was refused by Typer's "is not readable" (root reads
    anything, so this runs as uid 1000)."""
    sm.create_secret(Name="dev/out", SecretString="out-value")
    shared = Path(tempfile.mkdtemp(prefix="envsecrets-wo-"))
    try:
        os.chown(shared, 1000, 1000)
        home = shared / "home"
        home.mkdir()
        os.chown(home, 1000, 1000)
        output = shared / "value.txt"
        output.write_text("old")
        os.chown(output, 1000, 1000)
        output.chmod(0o200)
        env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}
        env["XDG_CONFIG_HOME"] = str(home / ".config")
        done = subprocess.run(
            [*AS_UID_1000, SECRETS_BIN, *command, "--output", str(output)],
            cwd=shared,
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert b"not readable" not in done.stderr
        assert b"out-value" in output.read_bytes()
    finally:
        shutil.rmtree(shared)


# -- help and usage messages ------------------------------------------------------------------


def help_screen(*args: str, columns: int) -> str:
    done = subprocess.run(
        [SECRETS_BIN, *args, "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1", "TERM": "dumb"},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def panel_rows(screen: str, title: str) -> list[str]:
    """The text inside a rich panel's borders, line by line."""
    lines = screen.splitlines()
    start = next(i for i, line in enumerate(lines) if title in line and "─" in line)
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("╰"):
            break
        rows.append(line.strip("│").rstrip())
    return rows


@pytest.mark.parametrize("columns", [80, 100])
def test_root_help_summaries_wrap_at_the_edge_not_at_the_docstrings_breaks(columns: int) -> None:
    """Summaries kept the docstrings' hard line breaks: `run`, `export`, `inject`, `set`...
    broke mid-line at the source's column and again at the terminal's."""
    rows = panel_rows(help_screen(columns=columns), "Commands")
    width = columns - 4  # the panel's borders and padding
    for row, after in itertools.pairwise(rows):
        continued = after.startswith(" " * 4) and after.strip()
        if continued:
            # A line is broken only where the next word would not fit.
            next_word = after.split()[0]
            assert len(row) + 1 + len(next_word) > width - 2, (row, after)


def test_choices_are_listed_as_words_that_wrap_whole() -> None:
    policy = help_screen("policy", columns=80)
    assert "terraf" not in policy.replace("terraform", "")
    assert "cloudformation" in policy and "serverless" in policy
    audit = help_screen("audit", columns=80)
    assert "critical" in audit and "critica\n" not in audit


def test_a_global_option_after_the_command_says_where_it_goes(cli: Any) -> None:
    run = cli("list", "--region", "us-east-1")
    assert run.code == 2
    assert "No such option: --region" in run.stderr
    assert "global option: put it before the command (`secrets --region VALUE list" in run.stderr
    assert "global option" not in cli("list", "--nonsense").stderr  # only for root options


def test_the_not_found_hint_names_the_environment(cli: Any, sm: Any) -> None:
    run = cli("get", "dev/api/nothing")
    assert run.code == 3
    assert "`secrets list dev/`" in run.stderr and "<env>" not in run.stderr


def test_dir_of_the_package_lists_each_public_name_once() -> None:
    import envsecrets

    _ = envsecrets.CliError  # loaded: now in the module's globals too
    names = dir(envsecrets)
    assert len(names) == len(set(names))
    assert set(envsecrets.__all__) <= set(names)
    assert "Any" not in names and "import_module" not in names
