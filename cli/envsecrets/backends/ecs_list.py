"""ECS task definitions of an account and region, for `secrets audit --live`.

ListTaskDefinitionFamilies (ACTIVE families, 100 a page), then one DescribeTaskDefinition per
family: given a bare family, AWS answers with its latest ACTIVE revision. So the cost is one
page per 100 families plus one call per family, on a few threads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from envsecrets.backends.aws import AwsTarget, aws_errors
from envsecrets.core.audit_live import LiveContainer, LiveFunction
from envsecrets.core.pool import run_all

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


def list_task_definitions(target: AwsTarget) -> list[LiveFunction]:
    """The latest ACTIVE revision of every task definition family, with its containers'
    variables and secret references and its two roles (values stay in memory: the audit
    inspects them and reports names only)."""
    client = target.client("ecs", bulk=True, pool=DESCRIBE_THREADS)
    families = _families(client, target.label)
    if not families:
        return []
    # The first failure (denied, throttled for good) stops the rest: they would fail alike.
    described = run_all(
        lambda family: _describe(client, target.label, family),
        families,
        workers=DESCRIBE_THREADS,
        name="ecs-describe",
    )
    return [found for done in described if (found := done.result()) is not None]


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


def _describe(client: ECSClient, label: str, family: str) -> LiveFunction | None:
    with aws_errors(side=label):
        answer = client.describe_task_definition(taskDefinition=family)
    definition = answer.get("taskDefinition") or {}
    if definition.get("status", "ACTIVE") != "ACTIVE":
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
