"""`--target rds:INSTANCE` and `rds-cluster:CLUSTER` against the emulator's RDS API (issue 13).

What the ModifyDB* call carried is read from the fault proxy's record of the request, never
from our output. Where moto differs from AWS's documentation (botocore's rds service-2.json),
AWS's documented answer is scripted through the proxy, and the test says so:

- moto applies `MasterUserPassword` at once and never shows `PendingModifiedValues`; AWS
  "asynchronously applies" it and shows `PendingModifiedValues.MasterUserPassword` (and the
  status `resetting-master-credentials`) until it has.
- moto accepts `MasterUserPassword` for a database whose password RDS manages
  (`ManageMasterUserPassword`); AWS refuses it. We refuse before calling, so both agree.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import aws_client
from tests.leaks import assert_no_leak
from tests.test_rotate import holder, make, stages, value_of

MODIFY = "rds.ModifyDBInstance"
MODIFY_CLUSTER = "rds.ModifyDBCluster"
DESCRIBE = "rds.DescribeDBInstances"
PUT = "secretsmanager.PutSecretValue"
RDS_XMLNS = "http://rds.amazonaws.com/doc/2014-10-31/"


def make_instance(identifier: str = "orders-dev", engine: str = "postgres", **extra: Any) -> Any:
    rds = aws_client("rds")
    args: dict[str, Any] = {
        "DBInstanceIdentifier": identifier,
        "DBInstanceClass": "db.t3.micro",
        "Engine": engine,
        "MasterUsername": "admin",
        "AllocatedStorage": 20,
        **extra,
    }
    if not args.get("ManageMasterUserPassword") and "DBClusterIdentifier" not in args:
        args["MasterUserPassword"] = "old-password-1"
    return rds.create_db_instance(**args)


def make_cluster(identifier: str = "orders-aurora") -> Any:
    return aws_client("rds").create_db_cluster(
        DBClusterIdentifier=identifier,
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="old-password-1",
    )


def instance_xml(call: str, *, status: str = "available", pending: bool = True) -> bytes:
    """AWS's documented reply to ModifyDBInstance / DescribeDBInstances while the new master
    password is being applied (moto never gives it)."""
    waiting = (
        "<PendingModifiedValues><MasterUserPassword>****</MasterUserPassword>"
        "</PendingModifiedValues>"
        if pending
        else "<PendingModifiedValues/>"
    )
    instance = (
        f"<DBInstance><DBInstanceIdentifier>orders-dev</DBInstanceIdentifier>"
        f"<DBInstanceStatus>{status}</DBInstanceStatus><Engine>postgres</Engine>"
        f"<MasterUsername>admin</MasterUsername>{waiting}</DBInstance>"
    )
    if call == "Describe":
        result = f"<DBInstances>{instance}</DBInstances>"
        name = "DescribeDBInstances"
    else:
        result, name = instance, "ModifyDBInstance"
    return (
        f'<{name}Response xmlns="{RDS_XMLNS}"><{name}Result>{result}</{name}Result>'
        f"<ResponseMetadata><RequestId>scripted</RequestId></ResponseMetadata></{name}Response>"
    ).encode()


def assert_rds_password(password: str, longest: int) -> None:
    assert 8 <= len(password) <= longest
    assert not set(password) & set('/@" '), "RDS refuses these"
    assert all(" " < c <= "~" for c in password)


def test_instance_gets_exactly_the_new_current_password(cli, sm, proxy) -> None:
    make_instance()
    old = make(sm, "dev/db/master", "old-password-1")
    proxy.record(MODIFY)
    run = cli("rotate", "dev/db/master", "--target", "rds:orders-dev", "--json")
    assert run.code == 0, run.stderr
    new = value_of(sm, "dev/db/master")
    [modify] = proxy.requests(MODIFY)
    assert modify["MasterUserPassword"] == new
    assert modify["DBInstanceIdentifier"] == "orders-dev"
    assert modify["ApplyImmediately"] == "true"
    assert_rds_password(new, 128)  # postgres: 8-128; generated at 32 by default
    assert len(new) == 32
    assert holder(sm, "dev/db/master", "AWSPREVIOUS") == old
    assert value_of(sm, "dev/db/master", "AWSPREVIOUS") == "old-password-1"
    row = run.json()
    assert row["applied_to"] == "rds:orders-dev"
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId="dev/db/master")["Tags"]}
    assert tags["envsecrets:applied-to"] == "rds:orders-dev"
    assert_no_leak(run, new)


def test_rds_json_shape_changes_only_the_password(cli, sm, proxy) -> None:
    make_instance()
    document = {
        "username": "admin",
        "password": "old-password-1",
        "engine": "postgres",
        "host": "orders-dev.abc.us-east-1.rds.amazonaws.com",
        "port": 5432,
        "dbname": "orders",
        "dbInstanceIdentifier": "orders-dev",
    }
    make(sm, "dev/db/master", json.dumps(document))
    proxy.record(MODIFY)
    run = cli("rotate", "dev/db/master", "--target", "rds:orders-dev")
    assert run.code == 0, run.stderr
    after = json.loads(value_of(sm, "dev/db/master"))
    [modify] = proxy.requests(MODIFY)
    assert modify["MasterUserPassword"] == after["password"] != "old-password-1"
    assert {k: v for k, v in after.items() if k != "password"} == {
        k: v for k, v in document.items() if k != "password"
    }
    assert json.loads(value_of(sm, "dev/db/master", "AWSPREVIOUS")) == document
    assert "key 'password' of the JSON object" in run.stderr


def test_aurora_cluster_gets_exactly_the_new_current_password(cli, sm, proxy) -> None:
    make_cluster()
    make(sm, "dev/db/aurora", "old-password-1")
    proxy.record(MODIFY_CLUSTER)
    run = cli("rotate", "dev/db/aurora", "--target", "rds-cluster:orders-aurora", "--yes")
    assert run.code == 0, run.stderr
    new = value_of(sm, "dev/db/aurora")
    [modify] = proxy.requests(MODIFY_CLUSTER)
    assert modify["MasterUserPassword"] == new
    assert modify["DBClusterIdentifier"] == "orders-aurora"
    assert modify["ApplyImmediately"] == "true"
    assert_rds_password(new, 41)  # ModifyDBCluster: 8-41 characters
    assert value_of(sm, "dev/db/aurora", "AWSPREVIOUS") == "old-password-1"
    assert proxy.calls[MODIFY] == 0


def test_oracle_passwords_avoid_its_extra_characters(cli, sm, proxy) -> None:
    make_instance("ledger-dev", engine="oracle-ee")
    make(sm, "dev/db/ledger", "old-password-1")
    proxy.record("secretsmanager.GetRandomPassword")
    run = cli("rotate", "dev/db/ledger", "--target", "rds:ledger-dev")
    assert run.code == 0, run.stderr
    [asked] = proxy.requests("secretsmanager.GetRandomPassword")
    assert asked["PasswordLength"] == 30  # RDS for Oracle: 8-30
    assert set("&'/@\" ") <= set(str(asked["ExcludeCharacters"]))
    assert_rds_password(value_of(sm, "dev/db/ledger"), 30)


def test_waits_until_rds_has_applied_the_password(cli, sm, proxy) -> None:
    """AWS's documented answers (scripted: moto applies at once): Modify's reply and the
    next two Describes show the password pending, then it is applied."""
    make_instance()
    make(sm, "dev/db/master", "old-password-1")
    proxy.answer(MODIFY, instance_xml("Modify"), times=1, content_type="text/xml")
    # The first Describe (looking at the database before staging) goes to the emulator.
    proxy.answer(
        DESCRIBE,
        instance_xml("Describe", status=APPLYING),
        times=2,
        after=1,
        content_type="text/xml",
    )
    run = cli("rotate", "dev/db/master", "--target", "rds:orders-dev")
    assert run.code == 0, run.stderr
    assert "waiting for RDS DB instance orders-dev to apply it" in run.stderr
    assert "has applied the new master password" in run.stderr
    assert proxy.calls[DESCRIBE] == 4  # before staging, two while pending, one applied
    assert holder(sm, "dev/db/master", "AWSPENDING") is None


APPLYING = "resetting-master-credentials"


def test_a_password_still_pending_at_the_bound_leaves_it_pending_then_resume(
    cli, sm, proxy
) -> None:
    make_instance()
    old = make(sm, "dev/db/master", "old-password-1")
    proxy.record(MODIFY)
    proxy.answer(MODIFY, instance_xml("Modify"), times=1, content_type="text/xml")
    # Pending for longer than the bound (scripted: AWS's answer while applying).
    proxy.answer(DESCRIBE, instance_xml("Describe"), after=1, content_type="text/xml")
    run = cli("rotate", "dev/db/master", "--target", "rds:orders-dev", "--apply-timeout", "1")
    assert run.code == 1
    assert "had not applied the new master password after 1 s" in run.stderr
    # Which side has which password, and how to go on.
    assert "was given the new password (AWSPENDING, version" in run.stderr
    assert "readers still get the current password (AWSCURRENT" in run.stderr
    assert "--resume --target rds:orders-dev" in run.stderr
    pending = holder(sm, "dev/db/master", "AWSPENDING")
    assert holder(sm, "dev/db/master", "AWSCURRENT") == old
    staged = value_of(sm, "dev/db/master", "AWSPENDING")
    proxy.canned.pop(DESCRIBE)
    again = cli("rotate", "dev/db/master", "--resume", "--target", "rds:orders-dev")
    assert again.code == 0, again.stderr
    first, second = proxy.requests(MODIFY)
    assert first["MasterUserPassword"] == second["MasterUserPassword"] == staged
    assert stages(sm, "dev/db/master") == {str(pending): ["AWSCURRENT"], old: ["AWSPREVIOUS"]}


def test_a_failed_modify_leaves_current_untouched_and_resume_finishes(cli, sm, proxy) -> None:
    make_instance()
    old = make(sm, "dev/db/master", "old-password-1")
    proxy.record(MODIFY)
    proxy.script(MODIFY, "fail:InvalidDBInstanceState")
    run = cli("rotate", "dev/db/master", "--target", "rds:orders-dev", "--json")
    assert run.code == 1
    error = json.loads(run.stderr)["error"]
    assert "ModifyDBInstance" in error["message"]
    assert "still has the current password" in error["hint"]
    assert "was not set on it" in error["hint"]
    assert holder(sm, "dev/db/master", "AWSCURRENT") == old
    pending = holder(sm, "dev/db/master", "AWSPENDING")
    assert pending is not None
    # A new rotation is refused while it waits; --resume applies again, then promotes.
    refused = cli("rotate", "dev/db/master", "--target", "rds:orders-dev")
    assert refused.code == 4
    again = cli("rotate", "dev/db/master", "--resume", "--target", "rds:orders-dev", "--json")
    assert again.code == 0, again.stderr
    first, second = proxy.requests(MODIFY)
    assert first["MasterUserPassword"] == second["MasterUserPassword"]
    assert second["MasterUserPassword"] == value_of(sm, "dev/db/master")
    assert again.json()["action"] == "resumed"
    assert stages(sm, "dev/db/master") == {str(pending): ["AWSCURRENT"], old: ["AWSPREVIOUS"]}


def test_cancel_sets_the_current_password_back(cli, sm, proxy) -> None:
    make_instance()
    old = make(sm, "dev/db/master", "old-password-1")
    proxy.record(MODIFY)
    run = cli("rotate", "dev/db/master", "--target", "rds:orders-dev", "--verify-cmd", "false")
    assert run.code == 1
    assert "has the new password" in run.stderr and "no longer accepts" in run.stderr
    cancel = cli("rotate", "dev/db/master", "--cancel", "--target", "rds:orders-dev")
    assert cancel.code == 0, cancel.stderr
    applied, restored = proxy.requests(MODIFY)
    assert applied["MasterUserPassword"] != "old-password-1"
    assert restored["MasterUserPassword"] == "old-password-1"
    assert stages(sm, "dev/db/master") == {old: ["AWSCURRENT"]}


def test_rollback_gives_the_database_its_previous_password(cli, sm, proxy) -> None:
    make_instance()
    old = make(sm, "dev/db/master", "old-password-1")
    assert cli("rotate", "dev/db/master", "--target", "rds:orders-dev").code == 0
    new = holder(sm, "dev/db/master", "AWSCURRENT")
    proxy.record(MODIFY)
    run = cli("rotate", "dev/db/master", "--rollback", "--target", "rds:orders-dev")
    assert run.code == 0, run.stderr
    [modify] = proxy.requests(MODIFY)
    assert modify["MasterUserPassword"] == "old-password-1"
    assert holder(sm, "dev/db/master", "AWSCURRENT") == old
    assert holder(sm, "dev/db/master", "AWSPREVIOUS") == new


def test_a_password_managed_by_rds_is_refused(cli, sm, proxy) -> None:
    make_instance(ManageMasterUserPassword=True)
    old = make(sm, "dev/db/master", "whatever-1")
    proxy.reset_counts()
    run = cli("rotate", "dev/db/master", "--target", "rds:orders-dev")
    assert run.code == 4
    assert "managed by RDS (ManageMasterUserPassword)" in run.stderr
    assert "--rotate-master-user-password" in run.stderr
    assert proxy.calls[MODIFY] == 0 and proxy.calls[PUT] == 0
    assert stages(sm, "dev/db/master") == {old: ["AWSCURRENT"]}


def test_an_aurora_instance_is_pointed_at_its_cluster(cli, sm, proxy) -> None:
    make_cluster()
    make_instance(
        "orders-aurora-1", engine="aurora-postgresql", DBClusterIdentifier="orders-aurora"
    )
    make(sm, "dev/db/master", "old-password-1")
    proxy.reset_counts()
    run = cli("rotate", "dev/db/master", "--target", "rds:orders-aurora-1")
    assert run.code == 2
    assert "--target rds-cluster:orders-aurora" in run.stderr
    assert proxy.writes() == 0


def test_a_database_that_does_not_exist_is_not_found_before_staging(cli, sm, proxy) -> None:
    old = make(sm, "dev/db/master", "old-password-1")
    proxy.reset_counts()
    run = cli("rotate", "dev/db/master", "--target", "rds:orders-dev")
    assert run.code == 3
    assert "RDS DB instance 'orders-dev' not found" in run.stderr
    assert proxy.writes() == 0
    assert stages(sm, "dev/db/master") == {old: ["AWSCURRENT"]}
    cluster = cli("rotate", "dev/db/master", "--target", "rds-cluster:orders")
    assert cluster.code == 3
    assert "RDS DB cluster 'orders' not found" in cluster.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("has@sign-in-it", "characters RDS DB instance orders-dev refuses ('@')"),
        ("has space in it", "refuses (' ')"),
        ('quote"and/slash', "refuses ('\"', '/')"),
        ("short", "the new password is 5 characters; RDS DB instance orders-dev takes 8-128"),
    ],
)
def test_a_given_password_rds_would_refuse_is_refused_before_staging(
    cli, sm, proxy, value: str, message: str
) -> None:
    make_instance()
    old = make(sm, "dev/db/master", "old-password-1")
    proxy.reset_counts()
    run = cli("rotate", "dev/db/master", "--stdin", "--target", "rds:orders-dev", input=value)
    assert run.code == 2, run.stderr
    assert message in run.stderr
    assert proxy.writes() == 0
    assert stages(sm, "dev/db/master") == {old: ["AWSCURRENT"]}


def test_a_length_the_engine_refuses_is_refused(cli, sm, proxy) -> None:
    make_instance(engine="mysql")
    make(sm, "dev/db/master", "old-password-1")
    proxy.reset_counts()
    run = cli("rotate", "dev/db/master", "--target", "rds:orders-dev", "--generate",
              "--length", "50")  # fmt: skip
    assert run.code == 2
    assert "takes master passwords of 8-41 characters" in run.stderr
    assert proxy.writes() == 0


def test_a_secret_for_another_user_is_refused(cli, sm, proxy) -> None:
    make_instance()
    make(sm, "dev/db/app", json.dumps({"username": "app", "password": "old-password-1"}))
    proxy.reset_counts()
    run = cli("rotate", "dev/db/app", "--target", "rds:orders-dev")
    assert run.code == 2
    assert "username 'app' is not the master user 'admin'" in run.stderr
    assert proxy.writes() == 0


def test_field_and_whole_do_not_apply_to_rds(cli, sm, proxy) -> None:
    run = cli("rotate", "dev/db/master", "--target", "rds:orders-dev", "--generate", "--whole")
    assert run.code == 2
    assert "--whole does not apply" in run.stderr
    run = cli("rotate", "dev/db/master", "--target", "rds:orders-dev", "--generate",
              "--field", "user")  # fmt: skip
    assert run.code == 2
    assert "--field user does not apply" in run.stderr
    assert proxy.count() == 0
