"""Descriptions that cannot be read during `migrate ssm` (findings item 12).

DescribeParameters (no published quota, throttled hard) may fail after its retries. Before,
the secrets were written without their description, silently (exit 0, nothing said, and a
re-run says "unchanged"). Now each such item says so in --json / --report
(`description_unread`), and a warning names them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from envsecrets.core.migration import DESCRIBE_CHUNK

from tests.conftest import aws_client, write_config


@pytest.mark.parametrize("json_output", [True, False], ids=["json", "text"])
def test_descriptions_that_cannot_be_read_are_reported(
    cli: Any, aws_env: Path, proxy: Any, json_output: bool
) -> None:
    write_config(aws_env, '[environments.dev]\nregion = "us-east-1"\n')
    ssm = aws_client("ssm")
    for n in range(3):
        ssm.put_parameter(
            Name=f"/app/p{n}", Value=f"v{n}", Type="SecureString", Description=f"what p{n} is"
        )
    proxy.deny("ssm.DescribeParameters")
    run = cli(
        "migrate", "ssm", "/app/", "--to", "dev/app/", "--yes", *(["--json"] if json_output else [])
    )  # fmt: skip
    assert run.code == 0, run.stderr
    said = "3 secret(s) were written without their source's description"
    if not json_output:
        assert f"warning: {said}" in run.stderr
        assert "dev/app/p0" in run.stderr
        return
    result = run.json()["result"]
    assert [item["status"] for item in result["items"]] == ["created"] * 3
    assert all("denied" in (item["description_unread"] or "") for item in result["items"])
    assert said in result["notes"][0]


def test_descriptions_read_are_written(cli: Any, aws_env: Path, sm: Any) -> None:
    write_config(aws_env, '[environments.dev]\nregion = "us-east-1"\n')
    aws_client("ssm").put_parameter(
        Name="/app/p0", Value="v0", Type="SecureString", Description="what p0 is"
    )
    run = cli("migrate", "ssm", "/app/", "--to", "dev/app/", "--yes", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["result"]["items"][0]["description_unread"] is None
    assert sm.describe_secret(SecretId="dev/app/p0")["Description"] == "what p0 is"


def test_a_write_that_failed_is_not_said_to_lack_its_description(
    cli: Any, aws_env: Path, proxy: Any
) -> None:
    """Descriptions unreadable and every write refused: the items failed, and none is said
    to be "written without its description" (nothing was written)."""
    write_config(aws_env, '[environments.dev]\nregion = "us-east-1"\n')
    aws_client("ssm").put_parameter(
        Name="/app/p0", Value="v0", Type="SecureString", Description="what p0 is"
    )
    proxy.deny("ssm.DescribeParameters")
    proxy.deny("secretsmanager.CreateSecret")
    run = cli("migrate", "ssm", "/app/", "--to", "dev/app/", "--yes", "--json")
    assert run.code == 5, run.stderr
    result = run.json()["result"]
    (item,) = result["items"]
    assert (item["status"], item["description_unread"]) == ("failed", None)
    assert not any("description" in note for note in result["notes"])


@pytest.mark.parametrize("count", [5, 6])
def test_the_note_names_the_first_five_and_where_to_read_the_rest(
    cli: Any, aws_env: Path, proxy: Any, count: int
) -> None:
    """Secrets written without their description: the warning gives the count, the reason,
    the first five targets (then "..." when there are more), and where each item's reason
    is."""
    write_config(aws_env, '[environments.dev]\nregion = "us-east-1"\n')
    ssm = aws_client("ssm")
    for n in range(count):
        ssm.put_parameter(Name=f"/app/p{n}", Value=f"v{n}", Type="SecureString", Description="d")
    proxy.deny("ssm.DescribeParameters")
    run = cli("migrate", "ssm", "/app/", "--to", "dev/app/", "--yes", "--json")
    assert run.code == 0, run.stderr
    result = run.json()["result"]
    [note] = result["notes"]
    reason = result["items"][0]["description_unread"]
    named = ", ".join(f"dev/app/p{n}" for n in range(5)) + (", ..." if count > 5 else "")
    assert note == (
        f"{count} secret(s) were written without their source's description, which could not "
        f"be read ({reason}): {named} (each item's description_unread in --json / --report)"
    )


def test_the_note_gives_each_distinct_reason_once(cli: Any, aws_env: Path, proxy: Any) -> None:
    """Descriptions are asked for 50 writes at a time, and each chunk may fail for its own
    reason: the warning gives both reasons (in plan order, each once), not only the first
    item's, and each item keeps its own."""
    write_config(aws_env, '[environments.dev]\nregion = "us-east-1"\n')
    ssm = aws_client("ssm")
    count = DESCRIBE_CHUNK + 1
    for n in range(count):
        ssm.put_parameter(Name=f"/app/p{n:02}", Value=f"v{n}", Type="SecureString")
    proxy.script(
        "ssm.DescribeParameters",
        "fail:AccessDeniedException:400:not allowed to describe",
        "fail:ValidationException:400:a filter the service refused",
    )
    run = cli("migrate", "ssm", "/app/", "--to", "dev/app/", "--yes", "--json")
    assert run.code == 0, run.stderr
    result = run.json()["result"]
    reasons = [item["description_unread"] for item in result["items"]]
    first, second = reasons[0], reasons[-1]
    assert reasons == [first] * DESCRIBE_CHUNK + [second]
    assert "access denied" in first and "ValidationException" in second
    [note] = result["notes"]
    assert f"which could not be read ({first}; {second}): dev/app/p00," in note
