"""diff, copy, check and replicate never show a value: a canary set in one environment does
not appear in their output (table, lines, --json, --metadata, errors, plan, --debug) nor in
any process's argv or environment."""

from __future__ import annotations

import json

from tests.conftest import write_config
from tests.leaks import assert_no_leak, binary_canary, run_watched, text_canary

CONFIG = """
[environments.dev]
region = "us-east-1"

[environments.prod]
region = "us-east-1"
protected = true

[functions.checkout]
secrets = ["api/key", "api/bin", "db/creds", "api/missing"]
"""


def test_canary_never_in_diff_copy_check_output(cli, aws_env, sm) -> None:
    write_config(aws_env, CONFIG)
    canary = text_canary()
    binary = binary_canary()
    text = text_canary()
    sm.create_secret(Name="dev/api/key", SecretString=canary)
    sm.create_secret(Name="dev/api/bin", SecretBinary=binary)
    sm.create_secret(Name="dev/db/creds", SecretString=json.dumps({"password": text}))
    sm.create_secret(Name="prod/db/creds", SecretString=json.dumps({"password": "other"}))
    sm.create_secret(Name="prod/api/key", SecretString="different")
    runs = [
        cli("diff", "dev", "prod"),
        cli("diff", "dev", "prod", "--json"),
        cli("diff", "dev", "prod", "--metadata", "--json"),
        cli("diff", "prod", "dev", "--metadata"),
        cli("--debug", "diff", "dev", "prod", "--prefix", "api/"),
        cli("copy", "dev/", "prod/"),  # refused: conflicts
        cli("copy", "dev/", "prod/", "--json"),
        cli("copy", "dev/", "prod/", "--missing-only"),  # refused: protected, no --yes
        cli("copy", "dev/", "prod/", "--missing-only", "--yes", "--json"),
        cli("copy", "dev/", "prod/", "--overwrite", "--yes"),
        cli("check", "dev"),
        cli("check", "dev", "--json"),
        cli("check", "prod", "--json"),
        cli("replicate", "dev/db/creds", "--region", "us-west-2", "--json"),
    ]
    # Each run reached the path it is scanned for: differences (1), refusals (4), copies and
    # the replica (0), missing secrets (1: api/missing is declared, nowhere created).
    assert [run.code for run in runs] == [1, 1, 1, 1, 1, 4, 4, 4, 0, 0, 1, 1, 1, 0], [
        run.stderr for run in runs
    ]
    for run in runs:
        for value in (canary, binary, text):
            assert_no_leak(run, value)


def test_canary_not_in_argv_or_environment_of_subprocess(secrets_cmd, aws_env, sm, proxy) -> None:
    write_config(aws_env, CONFIG)
    canary = text_canary()
    sm.create_secret(Name="dev/api/key", SecretString=canary)
    proxy.faults.latency = 0.02  # slow enough to be sampled while running
    diffed = run_watched(["diff", "dev", "prod", "--json"], canary)
    assert diffed.code == 1
    assert_no_leak(diffed, canary)
    copied = run_watched(["copy", "dev/", "prod/", "--yes"], canary)
    assert copied.code == 0, copied.stderr
    assert_no_leak(copied, canary)
    assert sm.get_secret_value(SecretId="prod/api/key")["SecretString"] == canary
