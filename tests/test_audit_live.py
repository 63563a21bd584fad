"""`secrets audit --live`: deployed Lambda functions, ECS task definitions and their roles'
policies, on the emulator."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import aws_client, write_config

ACCOUNT = "123456789012"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
PLANTED_VALUE = "Tr0ub4dor-and-3-horses"
ECS = "ecs"  # the fault proxy's name for ECS calls ("ecs.DescribeTaskDefinition")


def _zip() -> bytes:
    # The emulator stores the code; it never runs it here.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def _grant(resource: str, action: str = "secretsmanager:GetSecretValue") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
        }
    )


def _arn(name: str) -> str:
    return f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{name}"


class Account:
    """Builds functions and roles in the emulator."""

    def __init__(self) -> None:
        self.iam = aws_client("iam")
        self.awslambda = aws_client("lambda")
        self.code = _zip()

    def role(self, name: str, inline: dict[str, str] = {}, managed: dict[str, str] = {}) -> str:  # noqa: B006 - read only
        arn = str(
            self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
        )
        for policy, document in (inline or {}).items():
            self.iam.put_role_policy(RoleName=name, PolicyName=policy, PolicyDocument=document)
        for policy, document in (managed or {}).items():
            policy_arn = self.iam.create_policy(PolicyName=policy, PolicyDocument=document)[
                "Policy"
            ]["Arn"]
            self.iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
        return arn

    def function(self, name: str, role: str, variables: dict[str, str] | None = None) -> None:
        self.awslambda.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": self.code},
            Environment={"Variables": variables or {}},
        )


@pytest.fixture
def account(aws_env: Path) -> Account:
    write_config(
        aws_env,
        '[environments.prod]\naccount_id = "123456789012"\n[environments.staging]\n'
        '[functions.checkout]\nsecrets = ["api/stripe-key"]\n',
    )
    return Account()


def test_live_findings(cli: Any, account: Account) -> None:
    clean_role = account.role(
        "checkout-role", inline={"secrets": _grant(_arn("prod/api/stripe-key-??????"))}
    )
    account.function(
        "checkout", clean_role, {"STAGE": "prod", "STRIPE_SECRET_NAME": "prod/api/stripe-key"}
    )
    leaky_role = account.role(
        "reports-role",
        inline={"everything": _grant("*", "secretsmanager:*")},
        managed={"reports-staging": _grant(_arn("staging/*"))},
    )
    account.function("reports", leaky_role, {"DB_PASSWORD": PLANTED_VALUE})
    run = cli("audit", "--live", "--env", "prod", "--format", "json")
    assert run.code == 1, run.stderr
    report = run.json()
    assert report["functions"] == 2
    found = {(f["resource"], f["rule"]) for f in report["findings"]}
    assert found == {
        ("reports", "secret-in-environment"),
        ("reports", "wildcard-action"),
        ("reports", "wildcard-resource"),
        ("reports", "environment-wide"),
        ("reports", "cross-environment"),
    }
    assert PLANTED_VALUE not in run.stdout + run.stderr
    messages = " ".join(f["message"] for f in report["findings"])
    assert "reports-staging" in messages and "everything" in messages
    table = cli("audit", "--live", "--env", "prod")
    assert "live reports" in table.stdout and PLANTED_VALUE not in table.stdout + table.stderr


def test_undeclared_secret_in_a_live_role(cli: Any, account: Account) -> None:
    role = account.role(
        "checkout-role",
        inline={
            "secrets": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["secretsmanager:GetSecretValue"],
                            "Resource": [
                                _arn("prod/api/stripe-key-??????"),
                                _arn("prod/admin/root-key-??????"),
                            ],
                        }
                    ],
                }
            )
        },
    )
    account.function("checkout", role)
    run = cli("audit", "--live", "--env", "prod", "--format", "json", "--fail-on", "medium")
    assert run.code == 1
    (finding,) = run.json()["findings"]
    assert finding["rule"] == "undeclared-secret"
    assert "prod/admin/root-key" in finding["message"]


def test_calls_per_function_are_constant(cli: Any, account: Account, proxy: Any) -> None:
    for i in range(6):
        role = account.role(
            f"fn{i}-role",
            inline={"secrets": _grant(_arn(f"prod/fn{i}/key-??????"))},
            managed={f"fn{i}-managed": _grant(_arn(f"prod/fn{i}/other-??????"))},
        )
        account.function(f"fn{i}", role, {"STAGE": "prod"})
    proxy.reset_counts()
    run = cli("audit", "--live", "--env", "prod", "--format", "json")
    assert run.code == 0, run.stderr
    assert run.json()["functions"] == 6
    # Per function: ListRolePolicies, GetRolePolicy, ListAttachedRolePolicies, GetPolicy,
    # GetPolicyVersion; plus one ListFunctions page for all six.
    assert proxy.count("lambda.") == 1
    for action in (
        "ListRolePolicies",
        "GetRolePolicy",
        "ListAttachedRolePolicies",
        "GetPolicy",
        "GetPolicyVersion",
    ):
        assert proxy.calls[f"iam.{action}"] == 6, action
    # Only reads: the ListFunctions page (a REST GET), the five IAM reads, one (empty) page
    # of ECS task definition families and one (empty) page of ECS clusters.
    assert {a for a in proxy.calls if not a.startswith("iam.")} == {
        "lambda.GET /2015-03-31/functions",
        f"{ECS}.ListTaskDefinitionFamilies",
        f"{ECS}.ListClusters",
    }


def test_shared_roles_are_read_once(cli: Any, account: Account, proxy: Any) -> None:
    role = account.role("shared-role", inline={"secrets": _grant(_arn("prod/shared/key-??????"))})
    for i in range(4):
        account.function(f"fn{i}", role)
    proxy.reset_counts()
    run = cli("audit", "--live", "--env", "prod", "--format", "json")
    assert run.code == 0, run.stderr
    assert proxy.calls["iam.ListRolePolicies"] == 1
    assert proxy.calls["iam.GetRolePolicy"] == 1


def test_live_sarif_without_files_validates(cli: Any, account: Account) -> None:
    import jsonschema

    role = account.role("r", inline={"all": _grant("*")})
    account.function("fn", role)
    run = cli("audit", "--live", "--env", "prod", "--format", "sarif")
    assert run.code == 1
    schema = json.loads(
        (Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8")
    )
    jsonschema.Draft4Validator(schema).validate(run.json())
    (result,) = run.json()["runs"][0]["results"]
    assert result["locations"][0]["logicalLocations"][0]["name"] == "fn"


def test_empty_account(cli: Any, account: Account) -> None:
    run = cli("audit", "--live", "--env", "prod")
    assert run.code == 0
    assert "no findings in 0 function(s)" in run.stderr


def test_live_needs_a_known_environment(cli: Any, account: Account) -> None:
    run = cli("audit", "--live", "--env", "qa")
    assert run.code == 2 and "qa" in run.stderr


# -- ECS task definitions -------------------------------------------------------------------------
CANARY = "Canary-7f3a9c-Horse-Battery-Staple-42"


def _ssm_arn(name: str) -> str:
    return f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/{name}"


class Tasks:
    """Registers task definitions in the emulator."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.ecs = aws_client("ecs")

    def register(
        self,
        family: str,
        containers: dict[str, tuple[dict[str, str], dict[str, str]]],
        *,
        task_role: str | None = None,
        execution_role: str | None = None,
    ) -> dict[str, Any]:
        """`containers`: name -> (plain variables, secrets name -> valueFrom)."""
        args: dict[str, Any] = {
            "family": family,
            "containerDefinitions": [
                {
                    "name": name,
                    "image": "public.ecr.aws/docker/library/busybox:latest",
                    "memory": 128,
                    "environment": [{"name": k, "value": v} for k, v in variables.items()],
                    "secrets": [{"name": k, "valueFrom": v} for k, v in secrets.items()],
                }
                for name, (variables, secrets) in containers.items()
            ],
        }
        if task_role:
            args["taskRoleArn"] = task_role
        if execution_role:
            args["executionRoleArn"] = execution_role
        return dict(self.ecs.register_task_definition(**args)["taskDefinition"])

    def deregister(self, family: str, revision: int) -> None:
        self.ecs.deregister_task_definition(taskDefinition=f"{family}:{revision}")


@pytest.fixture
def tasks(account: Account) -> Tasks:
    return Tasks(account)


def _assert_no_canary(*texts: str) -> None:
    for text in texts:
        assert CANARY not in text


def test_task_definition_findings(
    cli: Any, secrets_cmd: Any, account: Account, tasks: Tasks
) -> None:
    execution = account.role(
        "ecs-execution", inline={"secrets": _grant(_arn("prod/web/db-password-??????"))}
    )
    wide = account.role("web-task", inline={"everything": _grant("*", "secretsmanager:*")})
    web = tasks.register(
        "web",
        {
            "app": ({"DB_PASSWORD": CANARY, "LOG_LEVEL": "info"}, {}),
            "sidecar": ({"STAGE": "prod"}, {"API_KEY": _arn("prod/web/api-key-AbCdEf")}),
        },
        task_role=wide,
        execution_role=execution,
    )
    # The right way: every secret through `secrets`, an exact grant on the task role.
    worker_role = account.role(
        "worker-task", inline={"secrets": _grant(_arn("prod/worker/token-??????"))}
    )
    tasks.register(
        "worker",
        {"job": ({"STAGE": "prod"}, {"TOKEN": _arn("prod/worker/token-AbCdEf:password::")})},
        task_role=worker_role,
        execution_role=execution,
    )
    run = cli("audit", "--live", "--env", "prod", "--format", "json")
    assert run.code == 1, run.stderr
    report = run.json()
    assert report["functions"] == 2 and report["skipped"] == []
    found = {(f["resource"], f["rule"]) for f in report["findings"]}
    assert found == {
        ("web:1", "secret-in-environment"),
        ("web:1", "wildcard-action"),
        ("web:1", "wildcard-resource"),
    }
    leak = next(f for f in report["findings"] if f["rule"] == "secret-in-environment")
    assert "DB_PASSWORD" in leak["message"] and "container app" in leak["message"]
    assert leak["arn"] == web["taskDefinitionArn"]
    wildcard = next(f for f in report["findings"] if f["rule"] == "wildcard-action")
    assert "task role" in wildcard["message"] and "web-task" in wildcard["message"]
    table = cli("audit", "--live", "--env", "prod")
    assert "live web:1" in table.stdout
    sarif = cli("audit", "--live", "--env", "prod", "--format", "sarif")
    logical = [r["locations"][0]["logicalLocations"][0] for r in sarif.json()["runs"][0]["results"]]
    assert {(loc["name"], loc["fullyQualifiedName"]) for loc in logical} == {
        ("web:1", web["taskDefinitionArn"])
    }
    # What a user types, in a real process: the value is nowhere either.
    installed = secrets_cmd(["audit", "--live", "--env", "prod", "--format", "json"])
    assert installed.code == 1 and installed.json()["findings"] == report["findings"]
    for done in (run, table, sarif, installed):
        _assert_no_canary(done.stdout, done.stderr)


def test_execution_role_gets_the_same_checks(cli: Any, account: Account, tasks: Tasks) -> None:
    # ECS reads the containers' `secrets` with the execution role: a prod task whose execution
    # role can read staging is a cross-environment finding like a function's role.
    execution = account.role(
        "shared-execution",
        inline={"staging": _grant(_arn("staging/*"))},
    )
    tasks.register("api", {"app": ({"STAGE": "prod"}, {})}, execution_role=execution)
    run = cli("audit", "--live", "--env", "prod", "--format", "json")
    assert run.code == 1, run.stderr
    found = {(f["resource"], f["rule"]) for f in run.json()["findings"]}
    assert found == {("api:1", "environment-wide"), ("api:1", "cross-environment")}
    assert "execution role" in " ".join(f["message"] for f in run.json()["findings"])


def test_same_role_for_task_and_execution_is_reported_once(
    cli: Any, account: Account, tasks: Tasks
) -> None:
    role = account.role("one-role", inline={"all": _grant("*")})
    tasks.register("api", {"app": ({}, {})}, task_role=role, execution_role=role)
    run = cli("audit", "--live", "--env", "prod", "--format", "json")
    (finding,) = run.json()["findings"]
    assert finding["rule"] == "wildcard-resource"
    assert "task and execution role" in finding["message"]


def test_container_secret_from_parameter_store(cli: Any, account: Account, tasks: Tasks) -> None:
    # Same rule as the template audit's ECS `Secrets` with a Parameter Store ValueFrom: the
    # value is not in the definition, but it lives in Parameter Store. Both ARN and bare name.
    tasks.register(
        "api",
        {
            "app": (
                {},
                {"DB_PASSWORD": _ssm_arn("prod/db-password"), "API_KEY": "/prod/api-key"},
            )
        },
    )
    run = cli("audit", "--live", "--env", "prod", "--format", "json")
    assert run.code == 0, run.stderr  # medium: below the default --fail-on high
    findings = run.json()["findings"]
    assert {(f["rule"], f["severity"]) for f in findings} == {("ssm-container-secret", "medium")}
    assert len(findings) == 2
    assert cli("audit", "--live", "--env", "prod", "--fail-on", "medium").code == 1


def test_deregistered_revisions_are_not_audited(cli: Any, account: Account, tasks: Tasks) -> None:
    # A family whose only revision is deregistered, and one whose leaky revision 1 was
    # replaced by a clean revision 2. Moto lists both families whatever their status (AWS
    # lists only families with an ACTIVE revision) and describes a family's newest revision
    # even when it is INACTIVE (AWS: its latest ACTIVE one); the audit skips INACTIVE answers.
    tasks.register("old", {"app": ({"DB_PASSWORD": CANARY}, {})})
    tasks.deregister("old", 1)
    tasks.register("web", {"app": ({"DB_PASSWORD": CANARY}, {})})
    tasks.register("web", {"app": ({"LOG_LEVEL": "info"}, {})})
    tasks.deregister("web", 1)
    run = cli("audit", "--live", "--env", "prod", "--format", "json")
    assert run.code == 0, run.stderr
    assert run.json() == {
        "functions": 1,
        "files": [],  # no file was read: --live only
        "findings": [],
        "counts": {"critical": 0, "high": 0, "medium": 0, "low": 0},
        "skipped": [],
        "errors": [],
    }


def test_the_revision_a_service_runs_is_audited(cli: Any, account: Account, tasks: Tasks) -> None:
    """A service keeps running the revision it was deployed with: a leaky revision 1 that a
    service runs is audited although the family's latest (2) is clean, deregistered or not
    (findings, smaller: the live audit looked at each family's latest ACTIVE revision only)."""
    tasks.register("web", {"app": ({"DB_PASSWORD": CANARY}, {})})
    tasks.register("web", {"app": ({"LOG_LEVEL": "info"}, {})})
    tasks.ecs.create_cluster(clusterName="main")
    tasks.ecs.create_service(cluster="main", serviceName="web", taskDefinition="web:1")
    tasks.deregister("web", 1)
    run = cli("audit", "--live", "--env", "prod", "--format", "json")
    assert run.code == 1, run.stderr
    document = run.json()
    assert document["functions"] == 2  # web:2 (the latest) and web:1 (what the service runs)
    found = {(f["resource"], f["rule"]) for f in document["findings"]}
    assert any(name.startswith("web:1") for name, _ in found), found
    assert not any(name.startswith("web:2") for name, _ in found), found
    _assert_no_canary(run.stdout, run.stderr)


@pytest.mark.parametrize("count", [3, 6])
def test_calls_per_task_definition_are_constant(
    cli: Any, account: Account, tasks: Tasks, proxy: Any, count: int
) -> None:
    execution = account.role("execution", inline={"logs": _grant(_arn("prod/shared/x-??????"))})
    for i in range(count):
        role = account.role(
            f"task{i}-role",
            inline={"secrets": _grant(_arn(f"prod/task{i}/key-??????"))},
            managed={f"task{i}-managed": _grant(_arn(f"prod/task{i}/other-??????"))},
        )
        tasks.register(
            f"task{i}",
            {"app": ({"STAGE": "prod"}, {}), "proxy": ({}, {})},
            task_role=role,
            execution_role=execution,
        )
    proxy.reset_counts()
    run = cli("audit", "--live", "--env", "prod", "--format", "json")
    assert run.code == 0, run.stderr
    assert run.json()["functions"] == count
    # ECS: one page of families (moto does not paginate them; AWS gives 100 a page) and one
    # DescribeTaskDefinition per family, whatever its number of containers.
    assert proxy.calls[f"{ECS}.ListTaskDefinitionFamilies"] == 1
    assert proxy.calls[f"{ECS}.DescribeTaskDefinition"] == count
    assert proxy.calls[f"{ECS}.ListClusters"] == 1  # no clusters: no services to look at
    assert proxy.count(ECS) == 2 + count
    # IAM: five reads per task role; the shared execution role is read once (three reads).
    assert proxy.count("iam.") == 5 * count + 3
    assert proxy.count("lambda.") == 1


def test_functions_and_tasks_together(cli: Any, account: Account, tasks: Tasks) -> None:
    role = account.role("fn-role")
    account.function("reports", role, {"DB_PASSWORD": PLANTED_VALUE})
    tasks.register("web", {"app": ({"DB_PASSWORD": CANARY}, {})})
    run = cli("audit", "--live", "--env", "prod", "--format", "json")
    assert run.code == 1, run.stderr
    assert run.json()["functions"] == 2
    assert {f["resource"] for f in run.json()["findings"]} == {"reports", "web:1"}


@pytest.mark.parametrize(
    ("denied", "service", "kept", "warning"),
    [
        (
            f"{ECS}.ListTaskDefinitionFamilies",
            "ecs",
            "reports",
            "ECS task definitions not audited",
        ),
        ("lambda.GET /2015-03-31/functions", "lambda", "web:1", "Lambda functions not audited"),
    ],
)
def test_one_service_denied_fails_the_gate_with_what_was_read(
    cli: Any,
    account: Account,
    tasks: Tasks,
    proxy: Any,
    denied: str,
    service: str,
    kept: str,
    warning: str,
) -> None:
    import jsonschema

    account.function("reports", account.role("fn-role"), {"DB_PASSWORD": PLANTED_VALUE})
    tasks.register("web", {"app": ({"DB_PASSWORD": CANARY}, {})})
    proxy.deny(denied)
    run = cli("audit", "--live", "--env", "prod", "--format", "json")
    # The findings of the part that could be read are reported, but a denied part makes the
    # audit incomplete: exit 5, never a pass.
    assert run.code == 5, run.stderr
    assert f"warning: {warning}" in run.stderr
    assert "the live audit is incomplete" in run.stderr
    report = run.json()
    assert report["functions"] == 1
    assert {f["resource"] for f in report["findings"]} == {kept}
    (skipped,) = report["skipped"]
    assert skipped["code"] == 5 and skipped["service"] == service
    assert skipped["not_enabled"] is False
    sarif = cli("audit", "--live", "--env", "prod", "--format", "sarif")
    assert sarif.code == 5
    schema = json.loads(
        (Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8")
    )
    jsonschema.Draft4Validator(schema).validate(sarif.json())
    (invocation,) = sarif.json()["runs"][0]["invocations"]
    assert warning in invocation["toolExecutionNotifications"][0]["message"]["text"]
    _assert_no_canary(run.stdout, run.stderr, sarif.stdout, sarif.stderr)


LIST_FUNCTIONS = "lambda.GET /2015-03-31/functions"


@pytest.mark.parametrize(
    ("fault", "exit_code"),
    [
        ("fail:AccessDeniedException:403:not authorized", 5),
        ("fail:ServiceException:500:oops", 6),
        ("fail:TooManyRequestsException:429:Rate exceeded", 6),
    ],
)
def test_lambda_unreadable_in_a_serverless_account_is_not_a_pass(
    cli: Any,
    account: Account,
    proxy: Any,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
    exit_code: int,
) -> None:
    # ECS is empty (most serverless accounts): before, a Lambda that could not be read left
    # "no findings in 0 function(s)" and exit 0, with only a warning.
    account.function("reports", account.role("fn-role"), {"DB_PASSWORD": PLANTED_VALUE})
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    proxy.script(LIST_FUNCTIONS, *[fault] * 4)
    run = cli("audit", "--live", "--env", "prod")
    assert run.code == exit_code, run.stderr
    assert "Lambda functions could not be read" in run.stderr
    assert "no findings in 0 function(s)" not in run.stderr.replace("that could be read", "")
    assert "✓" not in run.stderr


def test_lambda_page_marker_that_comes_back_is_not_a_pass(
    cli: Any, account: Account, proxy: Any
) -> None:
    # A reply that hands back the marker it was given: paging would never end. Exit 6.
    proxy.answer(LIST_FUNCTIONS, json.dumps({"Functions": [], "NextMarker": "m1"}).encode())
    run = cli("audit", "--live", "--env", "prod", "--format", "json")
    assert run.code == 6, run.stderr
    assert run.json()["skipped"][0]["service"] == "lambda"
    assert "NextMarker" in run.stderr


def test_a_service_not_turned_on_is_skipped_with_a_warning(
    cli: Any, account: Account, proxy: Any
) -> None:
    # ECS not subscribed in this account: nothing can run there, so nothing to audit.
    proxy.script(
        f"{ECS}.ListTaskDefinitionFamilies",
        "fail:SubscriptionRequiredException:400:The AWS Access Key Id needs a subscription",
    )
    run = cli("audit", "--live", "--env", "prod", "--format", "json")
    assert run.code == 0, run.stderr
    assert "warning: ECS task definitions not audited" in run.stderr
    (skipped,) = run.json()["skipped"]
    assert skipped["service"] == "ecs" and skipped["not_enabled"] is True


def test_everything_denied_fails(cli: Any, account: Account, tasks: Tasks, proxy: Any) -> None:
    tasks.register("web", {"app": ({}, {})})
    proxy.deny(f"{ECS}.ListTaskDefinitionFamilies")
    proxy.deny("lambda.GET /2015-03-31/functions")
    run = cli("audit", "--live", "--env", "prod", "--json")
    assert run.code == 5, run.stderr
    assert run.stdout == ""
    assert "ListFunctions" in json.loads(run.stderr)["error"]["message"]


# -- published versions and unreadable environments ---------------------------------------------
# Published versions are immutable: after the secrets leave $LATEST, the versions that aliases
# serve still hold them. ListFunctions lists them only with FunctionVersion=ALL.


def test_versions_that_aliases_serve_are_audited(cli: Any, account: Account) -> None:
    role = account.role("api-role", inline={"secrets": _grant(_arn("prod/api/stripe-key-??????"))})
    account.function("api", role, {"DB_PASSWORD": PLANTED_VALUE, "STAGE": "prod"})
    client = account.awslambda
    first = client.publish_version(FunctionName="api")["Version"]
    client.update_function_configuration(
        FunctionName="api", Environment={"Variables": {"STAGE": "prod"}}
    )  # the secret leaves $LATEST...
    second = client.publish_version(FunctionName="api")["Version"]
    client.create_alias(FunctionName="api", Name="live", FunctionVersion=first)
    client.create_alias(FunctionName="api", Name="beta", FunctionVersion=second)
    run = cli("audit", "--live", "--env", "prod", "--format", "json")
    assert run.code == 1, run.stderr
    report = run.json()
    # ...but version 1, which the alias `live` serves, still holds it. Version 2 is clean,
    # and its role is $LATEST's: audited once.
    found = [(f["resource"], f["rule"]) for f in report["findings"]]
    assert found == [(f"api:{first} (alias live)", "secret-in-environment")]
    (finding,) = report["findings"]
    assert finding["arn"].endswith(f":function:api:{first}")
    assert report["functions"] == 3  # $LATEST and the two versions aliases serve
    assert PLANTED_VALUE not in run.stdout + run.stderr


def test_an_unreadable_environment_is_a_finding(cli: Any, account: Account, proxy: Any) -> None:
    """Lambda answers Environment.Error (and no variables) when it cannot decrypt them for
    the caller; moto never does: the listing is scripted in Lambda's shape."""
    role = account.role("api-role")
    account.function("api", role, {"STAGE": "prod"})
    listing = account.awslambda.list_functions()["Functions"]
    for entry in listing:
        entry["Environment"] = {
            "Error": {
                "ErrorCode": "KMSAccessDeniedException",
                "Message": "Lambda was unable to decrypt the environment variables.",
            }
        }
    proxy.answer(
        "lambda.GET /2015-03-31/functions", json.dumps({"Functions": listing}, default=str).encode()
    )
    run = cli("audit", "--live", "--env", "prod", "--format", "json")
    assert run.code == 1, run.stderr
    (finding,) = run.json()["findings"]
    assert (finding["rule"], finding["severity"], finding["resource"]) == (
        "environment-unreadable",
        "high",
        "api",
    )
    assert "KMSAccessDeniedException" in finding["message"]
