"""Verification allows for read-after-write lag (findings item 13).

A secret just written may not be readable at once. Before, such items were "read back a
different value (or none)" and kept in the source. Now they are read again, with back-off, and
one that stays unreadable is "not visible yet", worded apart from "a different value".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import write_config

BATCH = "secretsmanager.BatchGetSecretValue"
NOT_YET = {
    "SecretValues": [],
    "Errors": [
        {
            "SecretId": "dev/app/token",
            "ErrorCode": "ResourceNotFoundException",
            "Message": "Secrets Manager can't find the specified secret.",
        }
    ],
}


def migrate(cli: Any, aws_env: Path) -> Any:
    write_config(aws_env, '[environments.dev]\nregion = "us-east-1"\n')
    (aws_env / "app.env").write_text("TOKEN=s3cr3t-lagging\n", encoding="utf-8")
    return cli("migrate", "env-file", "app.env", "--to", "dev/app/", "--yes", "--json")


def test_an_item_not_visible_at_first_is_read_again_and_verified(
    cli: Any, aws_env: Path, proxy: Any
) -> None:
    proxy.script(BATCH, *["reply:200:" + json.dumps(NOT_YET)] * 3)
    run = migrate(cli, aws_env)
    assert run.code == 0, run.stderr
    (outcome,) = run.json()["result"]["items"]
    assert outcome["verified"] is True, outcome
    assert proxy.calls[BATCH] > 3  # read again after the lagging answers


def test_an_item_that_stays_invisible_is_not_visible_yet(
    cli: Any, aws_env: Path, proxy: Any
) -> None:
    proxy.answer(BATCH, json.dumps(NOT_YET).encode())
    run = migrate(cli, aws_env)
    assert run.code == 1, run.stderr
    assert "not visible yet" in run.stdout + run.stderr
    assert "different value" not in run.stdout + run.stderr
    counts = run.json()["result"]["counts"]
    assert (counts["created"], counts["verified"], counts["unverified"]) == (1, 0, 1)
