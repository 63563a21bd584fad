"""`secrets migrate lambda` against what Lambda does and moto does not: published versions
that keep the plaintext, variables Lambda cannot decrypt (Environment.Error), and concurrent
updates (PreconditionFailedException 412 when the RevisionId moved; ResourceConflictException
409 and LastUpdateStatus InProgress while an update is applied). moto never changes a
RevisionId, never reports an update in progress and always decrypts: those replies are
scripted through the fault proxy in Lambda's shapes.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from tests.test_migrate_lambda import CANARY, SECRET_KEYS, make_function, variables_of

MIGRATE = ("migrate", "lambda", "checkout", "--env", "dev")
CREATE = "secretsmanager.CreateSecret"


def by_name(action: str, name: str = "checkout") -> str:
    """The fault proxy's name for a Lambda REST call on the function by its name."""
    return f"lambda.{action.replace('{F}', name)}"


def by_arn(action: str, client: Any, name: str = "checkout") -> str:
    """... and on the function by its ARN (the removal addresses it so), as botocore
    encodes it in the path."""
    arn = client.get_function_configuration(FunctionName=name)["FunctionArn"]
    return f"lambda.{action.replace('{F}', quote(arn, safe=''))}"


GET = "GET /2015-03-31/functions/{F}/configuration"
PUT = "PUT /2015-03-31/functions/{F}/configuration"


def configuration_reply(client: Any, **changes: Any) -> str:
    config = client.get_function_configuration(FunctionName="checkout")
    config.pop("ResponseMetadata")
    config.update(changes)
    return json.dumps(config, default=str)


def test_published_versions_that_keep_the_secrets_are_reported(cli, sm) -> None:
    client = make_function()
    first = client.publish_version(FunctionName="checkout")["Version"]
    client.create_alias(FunctionName="checkout", Name="live", FunctionVersion=first)
    run = cli(*MIGRATE, "--remove-from-function", "--yes")
    assert run.code == 0, run.stderr
    assert not set(SECRET_KEYS) & set(variables_of(client))  # gone from $LATEST...
    # ...but version 1, which `live` serves, is immutable and still holds them.
    assert f"published version {first} of checkout, served by alias live still holds" in (
        run.stderr
    )
    assert "aws lambda publish-version --function-name checkout" in run.stderr
    assert "update-alias" in run.stderr and "delete-function" in run.stderr
    assert CANARY not in run.stdout + run.stderr
    again = cli(*MIGRATE, "--remove-from-function", "--yes", "--json")
    (copy,) = again.json()["published_versions"]
    assert copy == {"version": first, "aliases": ["live"], "keys": sorted(SECRET_KEYS)}


def test_a_version_that_is_not_a_number_does_not_crash_the_report(cli, sm, proxy) -> None:
    """Published versions are numbers; a reply that says otherwise is still reported, after
    the work is done, never a ValueError (findings item 15)."""
    client = make_function()
    config = json.loads(configuration_reply(client))
    versions = [dict(config, Version=version) for version in ("$LATEST", "beta", "2")]
    proxy.answer(
        by_name("GET /2015-03-31/functions/{F}/versions"),
        json.dumps({"Versions": versions}).encode(),
    )
    run = cli(*MIGRATE, "--remove-from-function", "--yes", "--json")
    assert run.code == 0, run.stderr
    assert [copy["version"] for copy in run.json()["published_versions"]] == ["2", "beta"]


def test_no_published_versions_no_warning(cli, sm) -> None:
    make_function()
    run = cli(*MIGRATE, "--remove-from-function", "--yes", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["published_versions"] == []
    assert "published version" not in run.stderr


def test_variables_lambda_cannot_decrypt_are_exit_5(cli, sm, proxy) -> None:
    client = make_function()
    reply = configuration_reply(
        client,
        Environment={
            "Error": {
                "ErrorCode": "KMSAccessDeniedException",
                "Message": "Lambda was unable to decrypt the environment variables because "
                "KMS access was denied.",
            }
        },
    )
    proxy.answer(by_name(GET), reply.encode())
    proxy.reset_counts()
    run = cli(*MIGRATE, "--json")
    assert run.code == 5, run.stderr
    error = json.loads(run.stderr)["error"]
    assert "KMSAccessDeniedException" in error["message"]
    assert "kms:Decrypt" in error["hint"]
    assert proxy.count(CREATE) == 0  # never "nothing to migrate"


def test_a_function_changed_meanwhile_is_refused_with_exit_4(cli, sm, proxy) -> None:
    client = make_function()
    proxy.script(
        by_arn(PUT, client),
        "fail:PreconditionFailedException:412:The Revision Id provided does not match the "
        "latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest "
        "Revision Id",
    )
    run = cli(*MIGRATE, "--remove-from-function", "--yes")
    assert run.code == 4, run.stderr
    assert "changed meanwhile" in run.stderr
    assert "run the same command again" in run.stderr
    # The secrets are migrated; nothing was removed from the function.
    assert len(sm.list_secrets()["SecretList"]) == len(SECRET_KEYS)
    assert set(SECRET_KEYS) <= set(variables_of(client))
    again = cli(*MIGRATE, "--remove-from-function", "--yes")
    assert again.code == 0, again.stderr
    assert not set(SECRET_KEYS) & set(variables_of(client))


def test_a_412_after_a_lost_reply_reports_what_the_function_holds(cli, sm, proxy) -> None:
    """The update is applied, its reply lost; botocore's retry carries the RevisionId the
    update replaced and gets 412. The variables are gone: that is a success, not exit 4
    "nothing was removed"."""
    client = make_function()
    proxy.script(
        by_arn(PUT, client),
        "lose",
        "fail:PreconditionFailedException:412:The Revision Id provided does not match the "
        "latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest "
        "Revision Id",
    )
    run = cli(*MIGRATE, "--remove-from-function", "--yes")
    assert proxy.calls[by_arn(PUT, client)] == 2  # the lost one, then the retry's 412
    assert run.code == 0, run.stderr
    assert "changed meanwhile" not in run.stderr
    assert not set(SECRET_KEYS) & set(variables_of(client))


def test_a_412_when_some_variables_are_gone_says_which(cli, sm, proxy) -> None:
    """Someone else removed one of the variables meanwhile (and so moved the RevisionId):
    exit 4 names what is gone, never "nothing was removed"."""
    client = make_function()
    gone = sorted(SECRET_KEYS)[0]
    others = {k: v for k, v in variables_of(client).items() if k != gone}
    moved = configuration_reply(client, Environment={"Variables": others})
    proxy.script(
        by_arn(PUT, client),
        "fail:PreconditionFailedException:412:The Revision Id provided does not match",
    )
    proxy.script(by_arn(GET, client), "forward", f"reply:200:{moved}")
    run = cli(*MIGRATE, "--remove-from-function", "--yes")
    assert run.code == 4, run.stderr
    assert f"only {gone} is gone from it" in run.stderr
    assert "nothing was removed" not in run.stderr


def test_an_update_in_progress_is_waited_for(cli, sm, proxy) -> None:
    """The first update meets 409 (another update being applied); the next read says
    InProgress, the one after that Successful; then the removal is done from a fresh read."""
    client = make_function()
    in_progress = configuration_reply(client, LastUpdateStatus="InProgress")
    proxy.script(by_arn(PUT, client), "fail:ResourceConflictException:409:An update is in progress")
    proxy.script(by_arn(GET, client), "forward", f"reply:200:{in_progress}", "forward")
    run = cli(*MIGRATE, "--remove-from-function", "--yes")
    assert run.code == 0, run.stderr
    assert not set(SECRET_KEYS) & set(variables_of(client))
    assert proxy.calls[by_arn(PUT, client)] == 2
    assert proxy.calls[by_arn(GET, client)] == 3


def test_an_update_that_stays_in_progress_is_waited_for_within_a_bound() -> None:
    from envsecrets.backends.lambda_env import UPDATE_WAIT, FunctionInfo, wait_for_update
    from envsecrets.errors import CliError

    now = [0.0]
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += seconds

    busy = FunctionInfo("checkout", "arn", "r", "a", "rev", {}, last_update_status="InProgress")
    with pytest.raises(CliError) as refused:
        wait_for_update(lambda: busy, sleep=sleep, clock=lambda: now[0])
    assert refused.value.code == 4
    assert "still in progress" in refused.value.message
    assert now[0] <= UPDATE_WAIT
    assert pauses[:4] == [0.5, 1.0, 2.0, 4.0] and max(pauses) == 8.0
