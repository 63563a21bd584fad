"""A canary value set through every input path appears only where it must: in `get`'s
stdout and in the file `get --output` writes. Never in stderr, in other commands' output,
in --debug output, in a file under HOME or the working directory, or in any argv."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.leaks import (
    assert_no_leak,
    assert_no_leak_in_files,
    binary_canary,
    leaks_in,
    run_watched,
    text_canary,
)

NAME = "dev/api/key"
CREATE = "secretsmanager.CreateSecret"
PUT = "secretsmanager.PutSecretValue"


def set_through(path: str, cli, work: Path, canary: str | bytes, *extra: str, name: str = NAME):
    """`set NAME` with the canary coming in through `path`."""
    raw = canary.encode() if isinstance(canary, str) else canary
    if path == "stdin":
        return cli("set", name, "--stdin", *extra, input=raw)
    if path == "file":
        source = work / "value.in"
        source.write_bytes(raw)
        return cli("set", name, "--from-file", str(source), *extra)
    assert path == "field"
    return cli("set", name, "--field", "password", "--stdin", *extra, input=raw)


PATHS = [("stdin", False), ("stdin", True), ("file", False), ("file", True), ("field", False)]


@pytest.mark.parametrize(("path", "binary"), PATHS)
def test_canary_stays_out_of_set_output_and_files(cli, sm, aws_env: Path, path, binary) -> None:
    canary: str | bytes = binary_canary() if binary else text_canary()
    created = set_through(path, cli, aws_env, canary)
    assert created.code == 0, created.stderr
    assert_no_leak(created, canary)
    updated = set_through(path, cli, aws_env, canary + canary, "--json")  # a second version
    assert updated.code == 0, updated.stderr
    assert_no_leak(updated, canary)
    unchanged = set_through(path, cli, aws_env, canary + canary, "--json")
    assert json.loads(unchanged.stdout)["action"] == "unchanged"
    assert_no_leak(unchanged, canary)
    # it is really stored, and `get` gives it back: the checks are not vacuous
    got = cli("get", NAME, *(["--field", "password"] if path == "field" else []))
    doubled = canary + canary
    assert got.stdout_bytes == (doubled if isinstance(doubled, bytes) else doubled.encode())
    assert_no_leak(got, canary, streams=("stderr",))
    output = aws_env / "out.bin"
    written = cli("get", NAME, "--output", str(output))
    assert_no_leak(written, canary)
    assert leaks_in(output.read_bytes(), canary)
    # nothing under HOME (caches, configs) or the working folder holds it, but the two files
    # the user asked for
    assert_no_leak_in_files(aws_env.parent, canary, allowed={output, aws_env / "value.in"})


def test_canaries_stay_out_of_list_show_history(cli, sm, aws_env: Path) -> None:
    canaries: list[str | bytes] = []
    names = [f"dev/api/key{index}" for index in range(len(PATHS))]
    for name, (path, binary) in zip(names, PATHS, strict=True):
        canary: str | bytes = binary_canary() if binary else text_canary()
        canaries.append(canary)
        assert set_through(path, cli, aws_env, canary, name=name).code == 0
        assert set_through(path, cli, aws_env, canary + canary, name=name).code == 0
    runs = [
        cli("list", "--json"),
        cli("list", "dev/", "--json"),
        cli("list"),
        cli("list", "--include-deleted", "--stale", "0", "--json"),
    ]
    for name in names:
        runs += [
            cli("show", name, "--json"),
            cli("show", name),
            cli("history", name, "--json"),
            cli("history", name),
        ]
    for run in runs:
        assert run.code == 0, run.stderr
        for canary in canaries:
            assert_no_leak(run, canary)


def test_canary_stays_out_of_errors(cli, sm, aws_env: Path) -> None:
    canary = text_canary()
    too_big = canary + "x" * 70_000
    sm.create_secret(Name="dev/plain", SecretString=canary)
    runs = {
        "too big": cli("set", NAME, "--stdin", input=too_big),
        "too big, json": cli("set", NAME, "--stdin", "--json", input=too_big),
        "field of text": cli("set", "dev/plain", "--field", "k", "--stdin", input=canary),
        "get field of text": cli("get", "dev/plain", "--field", "k"),
        "get field of text, json": cli("get", "dev/plain", "--field", "k", "--json"),
        "protected": cli("set", "prod/x", "--stdin", input=canary),
    }
    # Each is the error it is here for (a run that failed earlier would scan nothing).
    assert {label: run.code for label, run in runs.items()} == {
        "too big": 2,
        "too big, json": 2,
        "field of text": 2,
        "get field of text": 2,
        "get field of text, json": 2,
        "protected": 4,
    }
    assert "65536" in runs["too big"].stderr and "not a JSON object" in runs["field of text"].stderr
    assert "protected" in runs["protected"].stderr
    for run in runs.values():
        assert_no_leak(run, canary)
    sm.create_secret(Name="dev/db", SecretString=json.dumps({canary: canary}))
    # the hint lists key names; a key is not a value, but this one shows that keys are printed
    missing = cli("get", "dev/db", "--field", "nope")
    assert missing.code == 2


def test_canary_stays_out_of_debug_output_of_failing_commands(cli, sm, proxy) -> None:
    canary = text_canary()
    proxy.deny(CREATE)
    denied = cli("--debug", "set", NAME, "--stdin", input=canary)
    assert denied.code == 5
    assert_no_leak(denied, canary)
    # a reply without the members the API promises: exit 6, the canary nowhere
    proxy.denied.clear()
    proxy.answer(CREATE, b"{}")
    malformed = cli("--debug", "set", NAME, "--stdin", input=canary)
    assert malformed.code == 6
    assert_no_leak(malformed, canary)
    del proxy.canned[CREATE]
    assert cli("set", NAME, "--stdin", input=canary).code == 0
    proxy.answer(PUT, b"{}")
    malformed = cli("--debug", "set", NAME, "--stdin", "--json", input=canary + "2")
    assert malformed.code == 6
    assert_no_leak(malformed, canary)
    del proxy.canned[PUT]  # (it would answer before the script below is consulted)
    proxy.answer("secretsmanager.ListSecrets", b'{"SecretList": [{}]}')
    assert_no_leak(cli("--debug", "list", "--json"), canary)
    del proxy.canned["secretsmanager.ListSecrets"]
    # A reply that holds the value but not a field the SDK promised: refused as malformed,
    # with the value in the process's memory, and the --debug output must not show it.
    proxy.answer("secretsmanager.GetSecretValue", json.dumps({"SecretString": canary}).encode())
    malformed = cli("--debug", "get", NAME, "--json")
    assert malformed.code == 6
    assert_no_leak(malformed, canary)
    del proxy.canned["secretsmanager.GetSecretValue"]
    proxy.script(PUT, "error", "error", "error")
    failed = cli(
        "--debug", "set", NAME, "--stdin", input=canary + "3", env={"AWS_MAX_ATTEMPTS": "3"}
    )
    assert failed.code == 6
    assert proxy.injected[f"error {PUT}"] == 3
    assert_no_leak(failed, canary)


def test_canary_stays_out_of_a_crash_s_traceback(cli, sm, monkeypatch) -> None:
    # A bug while the value is in hand (planted: no endpoint can provoke one, every reply is
    # checked): --debug shows the traceback, never the value (no locals in it).
    from envsecrets.backends.secretsmanager import SecretsManagerStore

    canary = text_canary()

    def bug(self: object, name: str, value: object, **kwargs: object) -> str:
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(SecretsManagerStore, "create", bug)
    crashed = cli("--debug", "set", NAME, "--stdin", input=canary)
    assert crashed.code == 1
    assert "Traceback" in crashed.stderr
    assert_no_leak(crashed, canary)


def test_canary_never_in_any_process_argv_or_environment(sm, proxy) -> None:
    canary = text_canary()
    # slow every call down so that the process lives long enough to be sampled many times
    proxy.faults.latency = 0.1
    run = run_watched(["set", NAME, "--stdin", "--json"], canary, input=canary + "\n")
    assert run.code == 0, run.stderr
    assert_no_leak(run, canary)
    assert sm.get_secret_value(SecretId=NAME)["SecretString"] == canary
    got = run_watched(["get", NAME], canary)
    assert got.stdout_bytes == canary.encode()
    binary = binary_canary()
    stored = run_watched(["set", "dev/bin", "--stdin"], binary, input=binary)
    assert stored.code == 0, stored.stderr
    assert_no_leak(stored, binary)
