"""`set` through the fault proxy: lost replies, 5xx and dropped connections never leave a
second version behind (the ClientRequestToken makes every retry the same write)."""

from __future__ import annotations

import pytest

CREATE = "secretsmanager.CreateSecret"
PUT = "secretsmanager.PutSecretValue"


def version_ids(sm, name: str) -> list[str]:
    found = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    return [v["VersionId"] for v in found]


def current_value(sm, name: str) -> str:
    return sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"]


def test_create_with_lost_reply_makes_one_version(cli, sm, proxy) -> None:
    proxy.lose_first(CREATE, 1)
    run = cli("set", "dev/api/key", "--stdin", "--json", input="v1")
    assert run.code == 0, run.stderr
    assert proxy.forwarded[CREATE] >= 2  # the first one reached the emulator, then a retry
    assert proxy.injected[f"lose {CREATE}"] == 1
    assert version_ids(sm, "dev/api/key") == [run.json()["version_id"]]
    assert current_value(sm, "dev/api/key") == "v1"


def test_update_with_lost_reply_makes_one_version(cli, sm, proxy) -> None:
    assert cli("set", "dev/api/key", "--stdin", input="v1").code == 0
    proxy.lose_first(PUT, 2)
    run = cli("set", "dev/api/key", "--stdin", "--json", input="v2")
    assert run.code == 0, run.stderr
    assert proxy.injected[f"lose {PUT}"] == 2
    ids = version_ids(sm, "dev/api/key")
    assert len(ids) == 2
    assert run.json()["version_id"] in ids
    assert current_value(sm, "dev/api/key") == "v2"


@pytest.mark.parametrize("fault", ["error", "drop"])
@pytest.mark.parametrize("action", [CREATE, PUT])
def test_set_through_5xx_and_drops(cli, sm, proxy, fault: str, action: str) -> None:
    if action == PUT:
        assert cli("set", "dev/api/key", "--stdin", input="v1").code == 0
    proxy.script(action, fault, fault)  # the first two attempts fail, the third goes through
    run = cli("set", "dev/api/key", "--stdin", "--json", input="v2")
    assert run.code == 0, run.stderr
    assert proxy.injected[f"{fault} {action}"] == 2  # the faults really happened
    assert proxy.forwarded[action] == 1
    assert len(version_ids(sm, "dev/api/key")) == (1 if action == CREATE else 2)
    assert current_value(sm, "dev/api/key") == "v2"


def test_lost_replies_every_time_give_up_with_6_and_one_version(cli, sm, proxy) -> None:
    assert cli("set", "dev/api/key", "--stdin", input="v1").code == 0
    proxy.faults.lose_reply_rate = 1.0
    proxy.faults.lose_reply_actions = {PUT}
    run = cli("set", "dev/api/key", "--stdin", input="v2", env={"AWS_MAX_ATTEMPTS": "3"})
    assert run.code == 6
    assert run.stderr.startswith("error: AWS could not be reached")
    assert proxy.forwarded[PUT] == 3
    # every attempt reached AWS with the same token: one new version, not three
    assert len(version_ids(sm, "dev/api/key")) == 2
    proxy.faults.lose_reply_rate = 0.0
    again = cli("set", "dev/api/key", "--stdin", "--json", input="v2")
    assert again.code == 0
    assert again.json()["action"] == "unchanged"


def test_create_retry_meeting_its_own_secret_succeeds(cli, sm, proxy) -> None:
    # moto answers a retried CreateSecret with the same token as a success; should AWS answer
    # ResourceExistsException instead, the version carrying our token proves the write is ours.
    proxy.script(CREATE, "lose", "fail:ResourceExistsException")
    run = cli("set", "dev/api/key", "--stdin", "--json", input="v1")
    assert run.code == 0, run.stderr
    assert run.json()["action"] == "created"
    assert version_ids(sm, "dev/api/key") == [run.json()["version_id"]]


def test_create_meeting_someone_elses_secret_is_refused(cli, sm, proxy) -> None:
    # a secret created by someone else between our read and our create: a conflict (exit 4),
    # their value kept
    sm.create_secret(Name="dev/api/key", SecretString="theirs")
    proxy.script("secretsmanager.GetSecretValue", "fail:ResourceNotFoundException")
    run = cli("set", "dev/api/key", "--stdin", input="v1")
    assert run.code == 4, run.stderr
    assert len(version_ids(sm, "dev/api/key")) == 1
    assert current_value(sm, "dev/api/key") == "theirs"
    proxy.script(CREATE, "fail:ResourceExistsException")  # and when it is gone again
    sm.delete_secret(SecretId="dev/api/key", ForceDeleteWithoutRecovery=True)
    assert cli("set", "dev/api/key", "--stdin", input="v1").code == 4


def test_update_with_tags_denied_writes_nothing_then_completes(cli, sm, proxy) -> None:
    """Tags go before the value: when TagResource is refused the value is not written either,
    so a second run (permissions fixed) does all of it instead of finding it "unchanged"."""
    assert cli("set", "dev/api/key", "--stdin", input="v1").code == 0
    proxy.deny("secretsmanager.TagResource")
    run = cli("set", "dev/api/key", "--stdin", "--tag", "team=payments", input="v2")
    assert run.code == 5, run.stderr
    assert proxy.calls[PUT] == 0
    assert current_value(sm, "dev/api/key") == "v1"
    proxy.denied.clear()
    again = cli("set", "dev/api/key", "--stdin", "--tag", "team=payments", "--json", input="v2")
    assert again.code == 0, again.stderr
    assert current_value(sm, "dev/api/key") == "v2"
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId="dev/api/key")["Tags"]}
    assert tags["team"] == "payments"
