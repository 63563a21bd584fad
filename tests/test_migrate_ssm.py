"""`secrets migrate ssm`: Parameter Store -> Secrets Manager against the emulator."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import envsecrets
import pytest

from tests.conftest import aws_client, write_config

CANARY = "canary-Zq8vX2mLr7Tb"  # appears in every value; must never be printed
BIG = (CANARY + "x" * 4096)[:4096]  # a 4 KB value (Parameter Store's standard-tier limit)
LONG_SEGMENT = "n" * 120

PARAMETERS: dict[str, tuple[str, str, str | None]] = {
    # name: (type, value, description)
    "/app/dev/db/password": ("SecureString", f"{CANARY}-db", "the database password"),
    "/app/dev/db/user": ("String", f"{CANARY}-user", None),
    "/app/dev/api/stripe/key": ("SecureString", f"{CANARY}-stripe", "Stripe key"),
    "/app/dev/hosts": ("StringList", f"{CANARY}-a,{CANARY}-b", None),
    "/app/dev/big": ("SecureString", BIG, None),
    "/app/dev/edge_name.with-chars": ("String", f"{CANARY}-edge", None),
}


def put_parameters(parameters: dict[str, tuple[str, str, str | None]]) -> Any:
    ssm = aws_client("ssm")
    for name, (kind, value, description) in parameters.items():
        args: dict[str, Any] = {"Name": name, "Value": value, "Type": kind}
        if description:
            args["Description"] = description
        ssm.put_parameter(**args)
    return ssm


def assert_no_leak(*texts: str) -> None:
    for text in texts:
        assert CANARY not in text


def versions(sm: Any, name: str) -> list[dict[str, Any]]:
    return list(sm.list_secret_version_ids(SecretId=name)["Versions"])


def test_tree_migrates_with_values_descriptions_tags_and_one_version(cli, sm) -> None:
    put_parameters(PARAMETERS)
    run = cli("migrate", "ssm", "/app/dev", "--to", "dev/app", "--recursive", "--json")
    assert run.code == 0, run.stderr
    assert_no_leak(run.stdout, run.stderr)
    doc = run.json()
    assert doc["plan"]["counts"]["create"] == len(PARAMETERS)
    assert doc["result"]["counts"]["created"] == len(PARAMETERS)
    assert doc["result"]["counts"]["verified"] == len(PARAMETERS)
    for name, (_, value, description) in PARAMETERS.items():
        target = "dev/app/" + name.removeprefix("/app/dev/")
        got = sm.get_secret_value(SecretId=target)
        assert got["SecretString"] == value
        meta = sm.describe_secret(SecretId=target)
        assert meta.get("Description") == description
        assert {"Key": "migrated-from", "Value": f"ssm:{name}"} in meta["Tags"]
        assert len(versions(sm, target)) == 1


def test_descriptions_found_while_planning_and_during_apply_land_on_secrets(cli, sm, proxy) -> None:
    # More writes than the plan describes ahead (50): the first descriptions come from the
    # plan, the rest from apply; every third parameter has none.
    many = {
        f"/app/many/p{n:03d}": ("SecureString", f"{CANARY}-{n}", f"about {n}" if n % 3 else None)
        for n in range(70)
    }
    put_parameters(many)
    proxy.reset_counts()
    dry = cli("migrate", "ssm", "/app/many", "--to", "dev/many", "--dry-run")
    assert dry.code == 0, dry.stderr
    assert proxy.count("ssm.DescribeParameters") == 0  # a dry run writes nothing to describe
    proxy.reset_counts()
    run = cli("migrate", "ssm", "/app/many", "--to", "dev/many", "--json")
    assert run.code == 0, run.stderr
    assert_no_leak(run.stdout, run.stderr)
    counts = run.json()["result"]["counts"]
    assert counts["created"] == counts["verified"] == len(many)
    for name, (_, value, description) in many.items():
        target = "dev/many/" + name.removeprefix("/app/many/")
        assert sm.get_secret_value(SecretId=target)["SecretString"] == value
        assert sm.describe_secret(SecretId=target).get("Description") == description
        assert len(versions(sm, target)) == 1
    # Each name described once: the emulator answers 10 a page whatever MaxResults says,
    # so 70 names in filters of at most 50 cost at most 70 / 10 + 2 pages.
    assert proxy.count("ssm.DescribeParameters") <= 9
    # Targets read once by the plan (4 calls of 20) and written secrets read back once each
    # (4 more, during apply): verification reads nothing twice (12 if it did; the margin is
    # for the emulator's occasional 500 on concurrent calls, retried).
    assert proxy.count("secretsmanager.BatchGetSecretValue") <= 4 + 4 + 2


def test_without_recursive_only_direct_children(cli, sm) -> None:
    put_parameters(PARAMETERS)
    run = cli("migrate", "ssm", "/app/dev/db", "--to", "dev/db", "--json")
    assert run.code == 0, run.stderr
    names = sorted(i["target"] for i in run.json()["plan"]["items"])
    assert names == ["dev/db/password", "dev/db/user"]
    nested = cli("migrate", "ssm", "/app/dev", "--to", "dev/x", "--json")
    assert sorted(i["target"] for i in nested.json()["plan"]["items"]) == [
        "dev/x/big",
        "dev/x/edge_name.with-chars",
        "dev/x/hosts",
    ]


def test_dry_run_writes_nothing(cli, sm, proxy) -> None:
    put_parameters(PARAMETERS)
    proxy.reset_counts()
    run = cli("migrate", "ssm", "/app/dev", "--to", "dev/app", "-r", "--dry-run")
    assert run.code == 0, run.stderr
    assert_no_leak(run.stdout, run.stderr)
    assert "create" in run.stdout and "dev/app/db/password" in run.stdout
    assert "dry run" in run.stderr
    assert proxy.writes() == 0
    assert sm.list_secrets()["SecretList"] == []


def test_second_run_is_all_unchanged_with_zero_writes(cli, proxy) -> None:
    put_parameters(PARAMETERS)
    first = cli("migrate", "ssm", "/app/dev", "--to", "dev/app", "-r")
    assert first.code == 0, first.stderr
    proxy.reset_counts()
    again = cli("migrate", "ssm", "/app/dev", "--to", "dev/app", "-r", "--json")
    assert again.code == 0, again.stderr
    assert again.json()["plan"]["counts"]["unchanged"] == len(PARAMETERS)
    assert proxy.writes() == 0
    # One page of 10 per GetParametersByPath, one BatchGetSecretValue per 20 names, and no
    # DescribeParameters: nothing needed a description.
    assert proxy.count("ssm.DescribeParameters") == 0
    assert proxy.count("secretsmanager.BatchGetSecretValue") == 1


def test_conflict_is_refused_per_item_and_the_rest_proceed(cli, sm) -> None:
    put_parameters(PARAMETERS)
    sm.create_secret(Name="dev/app/db/password", SecretString="someone else's")
    run = cli("migrate", "ssm", "/app/dev", "--to", "dev/app", "-r", "--json")
    assert run.code == 4
    assert_no_leak(run.stdout, run.stderr)
    result = run.json()["result"]
    assert result["counts"]["conflict"] == 1
    assert result["counts"]["created"] == len(PARAMETERS) - 1
    assert sm.get_secret_value(SecretId="dev/app/db/password")["SecretString"] == "someone else's"
    assert json.loads(run.stderr)["error"]["code"] == 4

    overwrite = cli("migrate", "ssm", "/app/dev", "--to", "dev/app", "-r", "--overwrite")
    assert overwrite.code == 0, overwrite.stderr
    got = sm.get_secret_value(SecretId="dev/app/db/password")
    assert got["SecretString"] == f"{CANARY}-db"
    assert len(versions(sm, "dev/app/db/password")) == 2
    tags = sm.describe_secret(SecretId="dev/app/db/password")["Tags"]
    assert {"Key": "migrated-from", "Value": "ssm:/app/dev/db/password"} in tags


def test_names_that_cannot_be_secret_names_are_reported_not_renamed(cli, sm) -> None:
    put_parameters(
        {
            "/app/dev/ok": ("String", f"{CANARY}-ok", None),
            # Ends in '-' plus six characters like AWS's ARN suffix: a fine name (DESIGN.md).
            "/app/dev/db-secret": ("SecureString", f"{CANARY}-1", None),
            # Longer than the 512 characters a secret name may have.
            "/app/dev/" + "/".join([LONG_SEGMENT] * 5): ("String", f"{CANARY}-2", None),
        }
    )
    run = cli("migrate", "ssm", "/app/dev", "--to", "dev/app", "-r")
    assert run.code == 2
    assert_no_leak(run.stdout, run.stderr)
    assert "invalid" in run.stdout and LONG_SEGMENT in run.stdout
    assert "2 created" in run.stderr and "1 invalid" in run.stderr
    names = sorted(s["Name"] for s in sm.list_secrets()["SecretList"])
    assert names == ["dev/app/db-secret", "dev/app/ok"]
    # The plan says why in the migration's words, and makes up no target for it.
    dry = cli("migrate", "ssm", "/app/dev", "--to", "dev/app", "-r", "--dry-run", "--json")
    (invalid,) = [item for item in dry.json()["plan"]["items"] if item["action"] == "invalid"]
    assert invalid["target"] is None
    assert invalid["reason"].startswith("cannot become secret name 'dev/app/nnn")
    assert "612 characters long (at most 512)" in invalid["reason"]


def test_targets_that_cannot_be_read_are_conflicts_that_say_why(cli, sm, proxy) -> None:
    """A target scheduled for deletion points at `secrets restore`; one AWS will not read
    (a disabled KMS key) names AWS's error code. Neither is written over. AWS lists both in
    BatchGetSecretValue's Errors (moto refuses the whole call instead: scripted)."""
    put_parameters(
        {
            "/app/dev/gone": ("SecureString", f"{CANARY}-gone", None),
            "/app/dev/locked": ("SecureString", f"{CANARY}-locked", None),
        }
    )
    errors = [
        {
            "SecretId": "dev/app/gone",
            "ErrorCode": "InvalidRequestException",
            "Message": "You can't perform this operation on the secret because it was marked "
            "for deletion.",
        },
        {
            "SecretId": "dev/app/locked",
            "ErrorCode": "DecryptionFailure",
            "Message": "Secrets Manager can't decrypt the protected secret text using the "
            "provided KMS key.",
        },
    ]
    reply = json.dumps({"SecretValues": [], "Errors": errors})
    proxy.script("secretsmanager.BatchGetSecretValue", f"reply:200:{reply}")
    run = cli("migrate", "ssm", "/app/dev", "--to", "dev/app", "-r", "--dry-run", "--json")
    assert run.code == 4, run.stderr
    items = {item["source"]: item for item in run.json()["plan"]["items"]}
    assert [items[key]["action"] for key in sorted(items)] == ["conflict", "conflict"]
    gone = items["/app/dev/gone"]["reason"]
    assert gone == "the secret is scheduled for deletion (secrets restore)"
    locked = items["/app/dev/locked"]["reason"]
    assert locked == "cannot read the existing secret (DecryptionFailure)"


def test_a_reply_naming_a_secret_twice_does_not_hide_another_ones_error(cli, sm, proxy) -> None:
    """A batch read whose reply names one secret both among its values and its errors (no
    reply AWS documents, but the endpoint is not trusted): the other secret's error is still
    read, and that target, which AWS would not read, is a conflict, not a create."""
    put_parameters(
        {
            "/app/dev/a": ("SecureString", f"{CANARY}-a", None),
            "/app/dev/b": ("SecureString", f"{CANARY}-b", None),
        }
    )
    sm.create_secret(Name="dev/app/a", SecretString=f"{CANARY}-a")
    secret = sm.get_secret_value(SecretId="dev/app/a")
    value = {key: secret[key] for key in ("ARN", "Name", "VersionId", "SecretString")}
    errors = [
        {"SecretId": "dev/app/a", "ErrorCode": "DecryptionFailure", "Message": "no key"},
        {"SecretId": "dev/app/b", "ErrorCode": "DecryptionFailure", "Message": "no key"},
    ]
    reply = json.dumps({"SecretValues": [value], "Errors": errors})
    proxy.script("secretsmanager.BatchGetSecretValue", f"reply:200:{reply}")
    run = cli("migrate", "ssm", "/app/dev", "--to", "dev/app", "-r", "--dry-run", "--json")
    assert run.code == 4, run.stderr
    items = {item["source"]: item for item in run.json()["plan"]["items"]}
    assert items["/app/dev/a"]["action"] == "unchanged"
    assert items["/app/dev/b"]["action"] == "conflict"
    assert items["/app/dev/b"]["reason"] == "cannot read the existing secret (DecryptionFailure)"


def test_delete_source_removes_only_what_verified(cli, sm) -> None:
    ssm = put_parameters(PARAMETERS)
    sm.create_secret(Name="dev/app/db/user", SecretString="different")
    refused = cli("migrate", "ssm", "/app/dev", "--to", "dev/app", "-r", "--delete-source")
    assert refused.code == 4  # no terminal to confirm, no --yes
    assert [s["Name"] for s in sm.list_secrets()["SecretList"]] == ["dev/app/db/user"]

    run = cli(
        "migrate", "ssm", "/app/dev", "--to", "dev/app", "-r", "--delete-source", "--yes", "--json"
    )
    assert run.code == 4  # the conflict
    assert run.json()["result"]["counts"]["source_removed"] == len(PARAMETERS) - 1
    left = ssm.get_parameters_by_path(Path="/app/dev", Recursive=True)["Parameters"]
    assert [p["Name"] for p in left] == ["/app/dev/db/user"]


def test_rerunning_a_finished_delete_source_migration_is_nothing_to_migrate(cli, sm) -> None:
    """The re-run was exit 3 ("no parameters at or under"), while the same re-run of an
    env-file migration is exit 0: a finished migration run again is idempotent."""
    put_parameters(PARAMETERS)
    put_parameters({"/app/dev2/other": ("String", f"{CANARY}-other", None)})
    command = ["migrate", "ssm", "/app/dev", "--to", "dev/app", "-r", "--delete-source", "--yes"]
    assert cli(*command).code == 0
    again = cli(*command)
    assert again.code == 0, again.stderr
    assert "nothing to migrate" in again.stderr
    one = ["migrate", "ssm", "/app/dev2/other", "--to", "dev/two", "--delete-source", "--yes"]
    assert cli(*one).code == 0
    assert cli(*one).code == 0  # one parameter by name, too
    # A path that never existed is still not found, even one that starts like a migrated one.
    for never in ("/app/de", "/app/dev3", "/nothing"):
        assert cli("migrate", "ssm", never, "--to", "dev/x", "-r").code == 3, never
    dev = envsecrets.open_environment("dev")
    assert dev.migrate_ssm("/app/dev", to="dev/app/", recursive=True).plan().items == ()


def test_a_rerun_without_list_permission_stays_not_found(cli, sm, proxy) -> None:
    """Telling "migrated already" from "never existed" needs ListSecrets: denied, the answer
    stays the plain not found (exit 3), never an AUTH error about a call the user did not ask
    for."""
    put_parameters({"/app/one/key": ("String", f"{CANARY}-one", None)})
    command = ["migrate", "ssm", "/app/one", "--to", "dev/one", "--delete-source", "--yes"]
    assert cli(*command).code == 0
    proxy.deny("secretsmanager.ListSecrets")
    again = cli(*command)
    assert again.code == 3, again.stderr
    assert "no parameters at or under" in again.stderr


def test_protected_environment_needs_yes(cli, sm, aws_env: Path) -> None:
    write_config(aws_env, '[environments.dev]\n[environments.prod]\nregion = "us-east-1"\n')
    put_parameters(PARAMETERS)
    refused = cli("migrate", "ssm", "/app/dev", "--to", "prod/app", "-r")
    assert refused.code == 4
    assert "protected" in refused.stderr
    assert sm.list_secrets()["SecretList"] == []
    undeclared = cli("migrate", "ssm", "/app/dev", "--to", "stage/app", "-r")
    assert undeclared.code == 2
    ok = cli("migrate", "ssm", "/app/dev", "--to", "prod/app", "-r", "--yes")
    assert ok.code == 0, ok.stderr
    assert len(sm.list_secrets()["SecretList"]) == len(PARAMETERS)


def test_one_parameter_by_name(cli, sm) -> None:
    put_parameters(PARAMETERS)
    run = cli("migrate", "ssm", "/app/dev/db/password", "--to", "dev/db")
    assert run.code == 0, run.stderr
    assert sm.get_secret_value(SecretId="dev/db/password")["SecretString"] == f"{CANARY}-db"


def test_a_secrets_manager_reference_is_read_with_get_parameter_only(cli, sm, proxy) -> None:
    """`/aws/reference/secretsmanager/NAME` is served by GetParameter(s) only: AWS refuses
    GetParametersByPath on it, so it is never asked (moto would answer it, empty)."""
    aws_client("secretsmanager", "us-east-1").create_secret(
        Name="legacy/db-password", SecretString=f"{CANARY}-legacy"
    )
    proxy.reset_counts()
    run = cli(
        "migrate", "ssm", "/aws/reference/secretsmanager/legacy/db-password", "--to", "dev/db"
    )
    assert run.code == 0, run.stderr
    assert proxy.calls["ssm.GetParametersByPath"] == 0
    assert proxy.calls["ssm.GetParameter"] == 1
    assert sm.get_secret_value(SecretId="dev/db/db-password")["SecretString"] == (
        f"{CANARY}-legacy"
    )
    assert_no_leak(run.stdout, run.stderr)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["/nothing/here", "--to", "dev/x"], 3),
        (["/app/dev", "--to", "/dev/x"], 2),
        (["/app/dev", "--to", "Dev/x"], 2),
        (["/app/dev", "--to", "dev/bad path"], 2),
        (["/app/dev", "--to", "dev/x", "--concurrency", "0"], 2),
        (["/app/dev", "--to", "dev/x", "--report", "no/such/folder/report.json"], 2),
    ],
)
def test_bad_input(cli, sm, args: list[str], code: int) -> None:
    put_parameters(PARAMETERS)
    run = cli("migrate", "ssm", *args)
    assert run.code == code, run.stderr
    assert [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert sm.list_secrets()["SecretList"] == []


def test_report_file_holds_outcomes_not_values(cli, aws_env: Path) -> None:
    put_parameters(PARAMETERS)
    report = aws_env / "report.json"
    run = cli("migrate", "ssm", "/app/dev", "--to", "dev/app", "-r", "--report", str(report))
    assert run.code == 0, run.stderr
    text = report.read_text()
    assert_no_leak(text)
    doc = json.loads(text)
    statuses = {i["source"]: i["status"] for i in doc["result"]["items"]}
    assert statuses == dict.fromkeys(PARAMETERS, "created")
    assert all(i["verified"] for i in doc["result"]["items"])


def test_installed_script(secrets_cmd, sm) -> None:
    put_parameters(PARAMETERS)
    run = secrets_cmd(["migrate", "ssm", "/app/dev", "--to", "dev/app", "--recursive", "--yes"])
    assert run.code == 0, run.stderr
    assert_no_leak(run.stdout, run.stderr)
    assert f"{len(PARAMETERS)} created" in run.stderr
    assert len(sm.list_secrets()["SecretList"]) == len(PARAMETERS)


def test_python_api_for_scripts(sm) -> None:
    """The same engine without the CLI, through the public API (tests/test_api.py runs the
    README's own example)."""
    import envsecrets

    put_parameters(PARAMETERS)
    dev = envsecrets.open_environment("dev", region="us-east-1")
    migration = dev.migrate_ssm("/app/dev", to="dev/app", recursive=True)
    plan = migration.plan()
    assert plan.counts()["create"] == len(PARAMETERS)
    assert CANARY not in repr(plan)  # values are SecretValue: their repr is a hash
    result = migration.apply()
    result = migration.remove_sources()
    assert result.counts()["verified"] == len(PARAMETERS)
    assert result.counts()["source_removed"] == len(PARAMETERS)
    assert int(result.exit_code) == 0
    assert_no_leak(json.dumps(result.as_dict()))


def test_on_a_terminal_a_protected_target_shows_the_plan_before_asking(aws_env: Path, sm) -> None:
    """A question about a protected environment keeps the old order: the whole plan first,
    then the question, and nothing written unless the answer is yes."""
    from tests.test_pty import CONFIG, finish, recorded, spawn

    write_config(aws_env, CONFIG)
    put_parameters(PARAMETERS)
    child = recorded(spawn("migrate", "ssm", "/app/dev", "--to", "prod/app", "-r", cwd=aws_env))
    child.expect(f"write {len(PARAMETERS)} secrets under prod/app/")
    shown = child.logfile_read.getvalue()
    assert "prod/app/db/password" in shown and "plan for ssm /app/dev" in shown
    child.send("n")
    code, screen = finish(child)
    assert code == 4
    assert_no_leak(screen)
    assert sm.list_secrets()["SecretList"] == []


def test_on_a_terminal_a_streamed_migration_counts_as_it_goes(aws_env: Path, sm) -> None:
    """Nothing to confirm (dev is not protected): written as listed, with a progress bar
    whose total is not known in advance; the plan is shown after, as a record."""
    from tests.test_pty import CONFIG, finish, recorded, spawn

    write_config(aws_env, CONFIG)
    put_parameters(PARAMETERS)
    child = recorded(spawn("migrate", "ssm", "/app/dev", "--to", "dev/app", "-r", cwd=aws_env))
    code, screen = finish(child)
    assert code == 0, screen
    assert_no_leak(screen)
    assert "plan for ssm /app/dev -> dev/app/" in screen
    assert f"{len(PARAMETERS)} created" in screen
    assert len(sm.list_secrets()["SecretList"]) == len(PARAMETERS)


def test_the_json_document_says_per_item_what_happened(cli, sm) -> None:
    """The `--json` document scripts read (README: plan, result, per-item status, version
    ids, verification, seconds per step): one item of each kind, each with its words."""
    long_name = "/app/dev/" + "/".join([LONG_SEGMENT] * 5)
    put_parameters(
        {
            "/app/dev/new": ("SecureString", f"{CANARY}-new", None),
            "/app/dev/same": ("SecureString", f"{CANARY}-same", None),
            "/app/dev/theirs": ("SecureString", f"{CANARY}-mine", None),
            long_name: ("String", f"{CANARY}-long", None),
        }
    )
    same_version = sm.create_secret(Name="dev/app/same", SecretString=f"{CANARY}-same")["VersionId"]
    sm.create_secret(Name="dev/app/theirs", SecretString="theirs")
    started = time.monotonic()
    run = cli("migrate", "ssm", "/app/dev", "--to", "dev/app", "-r", "--json")
    took = time.monotonic() - started
    assert run.code == 4, run.stderr
    assert_no_leak(run.stdout, run.stderr)
    document = run.json()
    plan = document["plan"]
    assert plan["source"] == {"kind": "ssm", "label": "/app/dev"}
    assert (plan["to"], plan["overwrite"]) == ("dev/app/", False)
    planned = {item["source"]: item for item in plan["items"]}
    assert planned["/app/dev/new"] == {
        "source": "/app/dev/new", "target": "dev/app/new", "action": "create", "reason": None
    }  # fmt: skip
    assert planned["/app/dev/theirs"]["action"] == "conflict"
    assert planned["/app/dev/theirs"]["reason"] == "exists with a different value"
    assert planned[long_name]["action"] == "invalid"
    assert "cannot become secret name" in planned[long_name]["reason"]
    result = document["result"]
    assert result["source"] == plan["source"] and result["to"] == "dev/app/"
    assert result["exit_code"] == 4
    assert result["counts"] == {
        "created": 1, "updated": 0, "unchanged": 1, "conflict": 1, "invalid": 1, "failed": 0,
        "verified": 1, "unverified": 0, "source_removed": 0, "source_kept": 0,
    }  # fmt: skip
    assert set(result["seconds"]) == {"plan", "apply", "verify"}
    for seconds in [plan["seconds"], *result["seconds"].values()]:
        assert isinstance(seconds, float) and round(seconds, 3) == seconds  # milliseconds
        assert 0 <= seconds <= took + 0.001
    done = {item["source"]: item for item in result["items"]}
    new_version = sm.get_secret_value(SecretId="dev/app/new")["VersionId"]
    assert {key: done["/app/dev/new"][key] for key in ("status", "version_id", "error")} == {
        "status": "created", "version_id": new_version, "error": None
    }  # fmt: skip
    assert done["/app/dev/new"]["verified"] is True
    assert {key: done["/app/dev/same"][key] for key in ("status", "version_id", "error")} == {
        "status": "unchanged", "version_id": same_version, "error": None
    }  # fmt: skip
    assert done["/app/dev/theirs"]["status"] == "conflict"
    assert done["/app/dev/theirs"]["error"] == "exists with a different value"
    assert done[long_name]["status"] == "invalid"
    assert done[long_name]["error"] == planned[long_name]["reason"]


def test_a_dry_run_with_overwrite_plans_an_update_for_a_differing_target(cli, sm) -> None:
    put_parameters({"/app/dev/db/password": ("SecureString", f"{CANARY}-db", None)})
    sm.create_secret(Name="dev/app/db/password", SecretString="old")
    run = cli("migrate", "ssm", "/app/dev", "--to", "dev/app", "-r", "--overwrite", "--dry-run",
              "--json")  # fmt: skip
    assert run.code == 0, run.stderr  # the real run would replace it: nothing to refuse
    plan = run.json()["plan"]
    assert plan["overwrite"] is True
    assert [(i["action"], i["reason"]) for i in plan["items"]] == [("update", "different value")]
    assert sm.get_secret_value(SecretId="dev/app/db/password")["SecretString"] == "old"


def test_overwrite_puts_the_value_back_after_someone_changed_it(cli, sm) -> None:
    """Migrated with --overwrite, then changed by someone, then migrated with --overwrite
    again: the migrated value is current again, as a new version (the second write replaces
    another version than the first did, so it is not taken for a retry of the first)."""
    put_parameters({"/app/dev/db/password": ("SecureString", f"{CANARY}-db", None)})
    sm.create_secret(Name="dev/app/db/password", SecretString="old")
    args = ("migrate", "ssm", "/app/dev", "--to", "dev/app", "-r", "--overwrite")
    first = cli(*args)
    assert first.code == 0, first.stderr
    first_version = sm.get_secret_value(SecretId="dev/app/db/password")["VersionId"]
    sm.put_secret_value(SecretId="dev/app/db/password", SecretString="changed by someone")
    again = cli(*args, "--json")
    assert again.code == 0, again.stderr
    (item,) = again.json()["result"]["items"]
    assert (item["status"], item["verified"]) == ("updated", True)
    got = sm.get_secret_value(SecretId="dev/app/db/password")
    assert got["SecretString"] == f"{CANARY}-db" and got["VersionId"] == item["version_id"]
    assert item["version_id"] != first_version
