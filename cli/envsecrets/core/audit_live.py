"""The audit of the deployed account (`secrets audit --live`): Lambda functions (each
`$LATEST` and every version an alias serves) and ECS task definitions, with their roles'
policies, judged by the same rules as files."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from envsecrets.core.audit import audit_function
from envsecrets.core.audit_rules import RULES, AuditContext, Finding, sort_findings


# -- the live account -----------------------------------------------------------------------------
@dataclass(frozen=True)
class LiveContainer:
    """One container of a deployed task definition: its plain variables (values: never shown)
    and its `secrets`, which name where ECS reads each value (`valueFrom`), not the value."""

    name: str
    variables: dict[str, str] = field(default_factory=dict, repr=False)
    secrets: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LiveFunction:
    """A deployed Lambda function (`kind` "lambda", as ListFunctions reports it) or the latest
    ACTIVE revision of an ECS task definition family (`kind` "task")."""

    name: str  # the function's name, or the task definition's family
    arn: str
    role_arn: str | None  # the function's execution role, or the task role
    variables: dict[str, str] = field(default_factory=dict, repr=False)  # values: never shown
    kind: str = "lambda"
    revision: int | None = None
    # The role ECS itself uses to start the task: it reads the containers' `secrets`.
    execution_role_arn: str | None = None
    containers: tuple[LiveContainer, ...] = ()
    # A published Lambda version (None: $LATEST) and the aliases that serve it.
    version: str | None = None
    aliases: tuple[str, ...] = ()
    # Lambda could not decrypt the variables (Environment.Error): none are known.
    environment_error: str | None = None

    @property
    def resource(self) -> str:
        """How findings name it: the function's name (`name:VERSION (alias A)` for a
        published version), or `family:revision`, which `aws ecs describe-task-definition
        --task-definition` and the console accept."""
        if self.kind == "task" and self.revision is not None:
            return f"{self.name}:{self.revision}"
        if self.version is not None:
            served = f" (alias {', '.join(self.aliases)})" if self.aliases else ""
            return f"{self.name}:{self.version}{served}"
        return self.name

    def roles(self) -> list[tuple[str, str | None]]:
        """Each distinct role with what it is to this task (None for a Lambda function)."""
        if self.kind != "task":
            return [(self.role_arn, None)] if self.role_arn else []
        if self.role_arn and self.role_arn == self.execution_role_arn:
            return [(self.role_arn, "task and execution role")]
        found: list[tuple[str, str | None]] = []
        if self.role_arn:
            found.append((self.role_arn, "task role"))
        if self.execution_role_arn:
            found.append((self.execution_role_arn, "execution role"))
        return found


@dataclass(frozen=True)
class AttachedPolicy:
    """A policy document attached to a role, and what it is (for the message)."""

    origin: str
    document: Any
    arn: str | None = None


def audit_live(
    functions: Iterable[LiveFunction],
    policies: Callable[[str], Sequence[AttachedPolicy]],
    ctx: AuditContext,
) -> tuple[list[Finding], int]:
    """Findings for deployed functions and task definitions: their variables, their
    containers' secret references, and their roles' policies (for a task, the task role's and
    the execution role's: the same checks as a function's role).

    `policies(role_arn)` returns the documents attached to a role (the IAM backend caches
    them). Returns the findings and how many functions and tasks were audited.
    """
    from envsecrets.core.templates import (
        TASK_TYPE,
        ContainerSecret,
        EnvVar,
        PolicyDocument,
        TemplateFunction,
    )

    ctx.file = None
    findings: list[Finding] = []
    count = 0
    for live in functions:
        count += 1
        kind = TASK_TYPE if live.kind == "task" else "AWS::Lambda::Function"
        # name = the function or family, so `[functions.NAME]` and `checkout-prod` match it.
        function = TemplateFunction(live.resource, kind, None, live.name)
        function.variables = [EnvVar(k, v, None) for k, v in live.variables.items()]
        for container in live.containers:
            function.variables.extend(
                EnvVar(k, v, None, None, container.name) for k, v in container.variables.items()
            )
            function.container_secrets.extend(
                ContainerSecret(k, v, None, container.name) for k, v in container.secrets.items()
            )
        for role_arn, role in live.roles():
            for attached in policies(role_arn):
                if attached.document is None and attached.arn:
                    function.managed_policy_arns.append((attached.arn, None))
                else:
                    origin = f"{attached.origin}, its {role}" if role else attached.origin
                    kind = "execution" if role == "execution role" else function.kind
                    kind = "function" if kind == "lambda" else kind
                    function.policies.append(PolicyDocument(attached.document, None, origin, kind))
        found = audit_function(function, ctx)
        if live.environment_error:
            found.append(_unreadable(live))
        findings.extend(replace(f, arn=live.arn or None) for f in found)
    return sort_findings(findings), count


def _unreadable(live: LiveFunction) -> Finding:
    """A function whose variables Lambda could not decrypt for us: not clean, unknown."""
    return Finding(
        "environment-unreadable",
        RULES["environment-unreadable"].severity,
        f"the environment variables of function {live.resource} could not be read "
        f"({live.environment_error}): they may hold secrets the audit cannot see",
        None,
        live.resource,
    )
