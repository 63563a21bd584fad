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
    assert outcome["error"] is None
    # The plan's read, the one made while writing, verification's first: all lagging. Then
    # one more read finds it, and once found as written it is not read again.
    assert proxy.calls[BATCH] == 4


def test_an_item_that_stays_invisible_is_not_visible_yet(
    cli: Any, aws_env: Path, proxy: Any
) -> None:
    proxy.answer(BATCH, json.dumps(NOT_YET).encode())
    run = migrate(cli, aws_env)
    assert run.code == 1, run.stderr
    assert "not visible yet" in run.stdout + run.stderr
    assert "different value" not in run.stdout + run.stderr
    (outcome,) = run.json()["result"]["items"]
    assert outcome["error"].startswith("not visible yet")
    assert outcome["error"].endswith("(`secrets get` it in a moment)")  # what to do next
    counts = run.json()["result"]["counts"]
    assert (counts["created"], counts["verified"], counts["unverified"]) == (1, 0, 1)


def test_an_item_read_back_with_another_value_is_read_again_then_reported(
    cli: Any, aws_env: Path, proxy: Any
) -> None:
    """Still the replaced value (or someone else's) after the back-off: "a different value",
    never "not visible yet", and exit 1."""
    other = {
        "SecretValues": [
            {
                "ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:dev/app/token-AbCdEf",
                "Name": "dev/app/token",
                "VersionId": "11111111-2222-3333-4444-555555555555",
                "SecretString": "someone else's",
                "VersionStages": ["AWSCURRENT"],
            }
        ],
        "Errors": [],
    }
    # The plan's read goes to the emulator (nothing there yet); every read after the write
    # finds another value.
    proxy.script(BATCH, "forward", *["reply:200:" + json.dumps(other)] * 5)
    run = migrate(cli, aws_env)
    assert run.code == 1, run.stderr
    (outcome,) = run.json()["result"]["items"]
    assert (outcome["status"], outcome["verified"]) == ("created", False)
    assert outcome["error"] == "read back a different value"
    assert "not visible yet" not in run.stdout + run.stderr
    # The plan's read, the one made while writing, then verification's first and the three
    # after its waits: a value still lagging gets the same chances as a missing one.
    assert proxy.calls[BATCH] == 6
