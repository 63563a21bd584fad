"""Leak checks for `secrets rotate` in every form: a canary (or a generated value) never shows
in stdout, stderr, --debug output, files under HOME or the work folder, any process's argv, or
the environment of `secrets` and the `--verify-cmd` it starts (which gets it on stdin only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.leaks import assert_no_leak, assert_no_leak_in_files, run_watched, text_canary
from tests.test_rotate import make, value_of


def test_every_rotate_form_keeps_the_canary_out(cli, sm, aws_env: Path) -> None:
    old = text_canary()
    new = text_canary()
    make(sm, "dev/db/password", old)
    runs = [
        # verification that echoes its stdin and fails: shown masked
        cli(
            "--debug",
            "rotate",
            "dev/db/password",
            "--stdin",
            "--verify-cmd",
            "sh -c 'cat; exit 1'",
            input=new,
        ),
        cli("rotate", "dev/db/password", "--stdin", input=new),  # refused: pending exists
        cli("--debug", "rotate", "dev/db/password", "--resume", "--json"),
        cli("rotate", "dev/db/password", "--rollback", "--json"),
        cli("rotate", "dev/db/password", "--rollback"),
        cli("rotate", "dev/db/password", "--stdin", input=new),  # same value: refused
        cli("rotate", "dev/db/password", "--cancel", "--json"),
        cli("rotate", "dev/db/password", "--managed"),
        cli("show", "dev/db/password", "--json"),
        cli("history", "dev/db/password"),
    ]
    assert value_of(sm, "dev/db/password") == new  # the checks are not vacuous
    for run in runs:
        assert_no_leak(run, old)
        assert_no_leak(run, new)
    assert_no_leak_in_files(aws_env.parent, old)
    assert_no_leak_in_files(aws_env.parent, new)


def test_field_rotation_keeps_both_keys_out(cli, sm, aws_env: Path) -> None:
    user, password = text_canary(), text_canary()
    make(sm, "dev/db/creds", json.dumps({"username": user, "password": password}))
    fresh = text_canary()
    run = cli("rotate", "dev/db/creds", "--field", "password", "--stdin", "--json", input=fresh)
    assert run.code == 0, run.stderr
    assert json.loads(value_of(sm, "dev/db/creds"))["password"] == fresh
    for canary in (user, password, fresh):
        assert_no_leak(run, canary)


def test_generated_values_stay_out_of_bulk_output(cli, sm) -> None:
    names = [f"dev/api/key-{i}" for i in range(5)]
    for name in names:
        make(sm, name, text_canary())
    runs: list[Any] = [
        cli("rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes", "--json"),
        cli("rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes"),
    ]
    assert all(run.code == 0 for run in runs)
    for name in names:
        for stage in ("AWSCURRENT", "AWSPREVIOUS"):
            value = value_of(sm, name, stage)
            for run in runs:
                assert_no_leak(run, value)


def test_verify_command_and_secrets_process_never_hold_the_value(sm, proxy) -> None:
    make(sm, "dev/db/password", text_canary())
    canary = text_canary()
    proxy.faults.latency = 0.05  # long enough for the watcher to sample every process
    run = run_watched(
        [
            "rotate",
            "dev/db/password",
            "--stdin",
            "--verify-cmd",
            "sh -c 'cat >/dev/null; sleep 0.5'",
        ],
        canary,
        input=canary,
    )
    assert run.code == 0, run.stderr
    assert_no_leak(run, canary)
    assert value_of(sm, "dev/db/password") == canary
