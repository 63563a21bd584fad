"""A listing that names a secret twice (findings item 17).

An endpoint that repeats entries (a lying proxy, a page served twice) made `list` print a
secret twice and `rotate --env` rotate it twice at once (one failing, leaving a stale
AWSPENDING). The store de-duplicates listings by name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import write_config

LIST = "secretsmanager.ListSecrets"


def repeated_listing(sm: Any, proxy: Any, aws_env: Path) -> None:
    write_config(aws_env, '[environments.dev]\nregion = "us-east-1"\n')
    sm.create_secret(Name="dev/k0", SecretString="v0")
    sm.create_secret(Name="dev/k1", SecretString="v1")
    entries = [{"Name": s["Name"], "ARN": s["ARN"]} for s in sm.list_secrets()["SecretList"]]
    first = {"SecretList": entries, "NextToken": "again"}
    proxy.script(
        LIST,
        "reply:200:" + json.dumps(first),
        "reply:200:" + json.dumps({"SecretList": entries[:1]}),
    )


def test_list_prints_each_secret_once(cli: Any, aws_env: Path, sm: Any, proxy: Any) -> None:
    repeated_listing(sm, proxy, aws_env)
    run = cli("list", "dev/")
    assert run.code == 0, run.stderr
    names = [line.split("\t")[0] for line in run.stdout.splitlines()[1:]]
    assert names == ["dev/k0", "dev/k1"]


def test_rotate_env_rotates_each_secret_once(cli: Any, aws_env: Path, sm: Any, proxy: Any) -> None:
    repeated_listing(sm, proxy, aws_env)
    run = cli("rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes")
    assert run.code == 0, run.stderr
    assert proxy.calls["secretsmanager.PutSecretValue"] == 2
    for name in ("dev/k0", "dev/k1"):
        stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
        assert not any("AWSPENDING" in s for s in stages.values()), stages
