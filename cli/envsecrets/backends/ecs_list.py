"""ECS task definitions of an account and region, for `secrets audit --live`.

ListTaskDefinitionFamilies (ACTIVE families, 100 a page), then one DescribeTaskDefinition per
family: given a bare family, AWS answers with its latest ACTIVE revision. So the cost is one
page per 100 families plus one call per family, on a few threads.

A service keeps running the revision it was deployed with, an older one (deregistered even)
included: so the revisions that services run are audited too (ListClusters, ListServices,
DescribeServices 10 a call: the service's task definition and each deployment's), bounded by
MAX_SERVICES; each one that is not a family's latest is described by its ARN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from envsecrets.backends.aws import AwsTarget, aws_errors
from envsecrets.core.audit_live import LiveContainer, LiveFunction
from envsecrets.core.pool import chunked, run_all
from envsecrets.errors import CliError, ExitCode

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_ecs.type_defs import (
        ContainerDefinitionOutputTypeDef,
        ListTaskDefinitionFamiliesRequestTypeDef,
    )

# ECS throttles Describe calls per account and region, a budget shared with the console and
# deployments: a few threads hide latency without crowding them out; retries absorb a throttle.
DESCRIBE_THREADS = 4
PAGE_SIZE = 100
SERVICES_PER_DESCRIBE = 10  # DescribeServices: at most 10 services a call
# An account with more services than this is not audited silently in part: the audit fails.
MAX_SERVICES = 5000


def list_task_definitions(target: AwsTarget) -> list[LiveFunction]:
    """The latest ACTIVE revision of every task definition family, with its containers'
    variables and secret references and its two roles (values stay in memory: the audit
    inspects them and reports names only)."""
    client = target.client("ecs", bulk=True, pool=DESCRIBE_THREADS)
    families = _families(client, target.label)
    # The first failure (denied, throttled for good) stops the rest: they would fail alike.
    described = run_all(
        lambda family: _describe(client, target.label, family),
        families,
        workers=DESCRIBE_THREADS,
        name="ecs-describe",
    )
    found = [found for done in described if (found := done.result()) is not None]
    latest = {definition.arn for definition in found}
    running = sorted(_run_by_services(client, target.label) - latest)
    older = run_all(
        lambda arn: _describe(client, target.label, arn, running=True),
        running,
        workers=DESCRIBE_THREADS,
        name="ecs-describe",
    )
    return found + [definition for done in older if (definition := done.result()) is not None]


def _run_by_services(client: ECSClient, label: str) -> set[str]:
    """The task definition ARNs that services run or are deploying, in every cluster."""
    arns: set[str] = set()
    seen = 0
    for cluster in _pages(client.list_clusters, "clusterArns", label, {}):
        services = _pages(client.list_services, "serviceArns", label, {"cluster": cluster})
        for chunk in chunked(services, SERVICES_PER_DESCRIBE):
            seen += len(chunk)
            if seen > MAX_SERVICES:
                raise CliError(
                    ExitCode.FAILED,
                    f"[{label}] more than {MAX_SERVICES} ECS services: the live audit reads at "
                    "most that many, and would not be complete",
                    "audit the task definitions as files (`secrets audit FILE`) instead",
                )
            with aws_errors(side=label):
                answer = client.describe_services(cluster=cluster, services=chunk)
            for service in answer.get("services", ()):
                deployments = service.get("deployments") or ()
                for arn in (
                    service.get("taskDefinition"),
                    *(d.get("taskDefinition") for d in deployments),
                ):
                    if arn:
                        arns.add(str(arn))
    return arns


def _pages(call: Any, member: str, label: str, args: dict[str, Any]) -> list[str]:
    """Every entry of `member` over the pages of a List call (nextToken, 100 a page)."""
    found: list[str] = []
    args = {**args, "maxResults": PAGE_SIZE}
    while True:
        with aws_errors(side=label):
            page = call(**args)
        found.extend(str(entry) for entry in page.get(member, ()))
        token = page.get("nextToken")
        if not token:
            return found
        args["nextToken"] = token


def _families(client: ECSClient, label: str) -> list[str]:
    args: ListTaskDefinitionFamiliesRequestTypeDef = {"status": "ACTIVE", "maxResults": PAGE_SIZE}
    families: list[str] = []
    while True:
        with aws_errors(side=label):
            page = client.list_task_definition_families(**args)
        families.extend(str(f) for f in page.get("families", ()))
        token = page.get("nextToken")
        if not token:
            return families
        args["nextToken"] = token


def _describe(
    client: ECSClient, label: str, family: str, *, running: bool = False
) -> LiveFunction | None:
    """A family's latest ACTIVE revision, or (`running`) the revision a service runs, by its
    ARN, whatever its status: a deregistered revision still runs the tasks started from it."""
    with aws_errors(side=label):
        answer = client.describe_task_definition(taskDefinition=family)
    definition = answer.get("taskDefinition") or {}
    if not running and definition.get("status", "ACTIVE") != "ACTIVE":
        # AWS never answers a bare family with a deregistered revision; the moto emulator
        # answers with the newest one whatever its status, and lists families that have no
        # ACTIVE revision left. A deregistered revision cannot start new tasks: not audited.
        return None
    return LiveFunction(
        name=str(definition.get("family") or family),
        arn=str(definition.get("taskDefinitionArn") or ""),
        role_arn=str(definition.get("taskRoleArn") or "") or None,
        kind="task",
        revision=int(definition["revision"]) if definition.get("revision") else None,
        execution_role_arn=str(definition.get("executionRoleArn") or "") or None,
        containers=tuple(_container(c) for c in definition.get("containerDefinitions") or ()),
    )


def _container(definition: ContainerDefinitionOutputTypeDef) -> LiveContainer:
    return LiveContainer(
        name=str(definition.get("name") or "?"),
        variables={
            str(e["name"]): str(e.get("value") or "")
            for e in definition.get("environment") or ()
            if e.get("name")
        },
        secrets={
            str(e["name"]): str(e.get("valueFrom") or "")
            for e in definition.get("secrets") or ()
            if e.get("name")
        },
    )
