"""ECS task definitions as JSON: the RegisterTaskDefinition input (`aws ecs
register-task-definition --cli-input-json`), DescribeTaskDefinition's output (the
`taskDefinition` wrapper) and a bare `containerDefinitions` list, read into the model.

Literal variables in `environment` are judged like a function's; `secrets[].valueFrom` says
where ECS fetches each value with the execution role (Secrets Manager or Parameter Store);
`environmentFiles` load S3 `.env` files.
"""

from __future__ import annotations

from typing import Any

from envsecrets.core.infra import (
    ContainerSecret,
    EnvVar,
    Infrastructure,
    TemplateFunction,
    line_of,
)

TASK_TYPE = "AWS::ECS::TaskDefinition"


def looks_like_containers(data: Any) -> bool:
    """A non-empty list of container definitions (each a mapping with a name and an image)."""
    return (
        isinstance(data, list)
        and bool(data)
        and all(isinstance(c, dict) and "name" in c and "image" in c for c in data)
    )


def task_definition_of(data: Any) -> dict[str, Any] | None:
    """The task definition inside a RegisterTaskDefinition input or a DescribeTaskDefinition
    output, or None."""
    if not isinstance(data, dict):
        return None
    inner = data.get("taskDefinition")
    if isinstance(inner, dict) and isinstance(inner.get("containerDefinitions"), list):
        return inner
    if isinstance(data.get("containerDefinitions"), list):
        return data
    return None


def read_task_definition(data: Any, source: str) -> Infrastructure:
    """The model of one task definition file (any of the three shapes)."""
    infra = Infrastructure(source, "ecs")
    definition = task_definition_of(data)
    containers = definition["containerDefinitions"] if definition else data
    family = definition.get("family") if definition else None
    name = family if isinstance(family, str) and family else _stem(source)
    task = TemplateFunction(name, TASK_TYPE, line_of(definition or data, None), name)
    for container in containers if isinstance(containers, list) else []:
        if isinstance(container, dict):
            add_container(task, container, line_of(container, None))
    # The roles are ARNs of roles defined elsewhere: their policies are not in this file
    # (`secrets audit --live` reads them).
    infra.functions.append(task)
    return infra


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _stem(source: str) -> str:
    base = source.replace("\\", "/").rsplit("/", 1)[-1]
    return base.split(".", 1)[0] or "task"


def add_container(function: TemplateFunction, container: dict[str, Any], line: int | None) -> None:
    """One container definition (RegisterTaskDefinition's camelCase form) into a task."""
    name = container.get("name") if isinstance(container.get("name"), str) else None
    for entry in _as_list(container.get("environment")):
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            value = entry.get("value")
            literal = value if isinstance(value, str) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                literal = str(value)
            where = getattr(entry, "line", None) or line
            function.variables.append(
                EnvVar(entry["name"], literal, where, None if literal is not None else value, name)
            )
    for entry in _as_list(container.get("secrets")):
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            where = getattr(entry, "line", None) or line
            function.container_secrets.append(
                ContainerSecret(entry["name"], entry.get("valueFrom"), where, name)
            )
    # The execution role also fetches the registry's credentials and the log driver's secret
    # options: the policy must grant them too.
    for entry in _more_secrets(container, line):
        function.container_secrets.append(entry)
    for entry in _as_list(container.get("environmentFiles")):
        if isinstance(entry, dict):
            function.environment_files.append(
                (entry.get("value"), getattr(entry, "line", None) or line)
            )


def _more_secrets(container: dict[str, Any], line: int | None) -> list[ContainerSecret]:
    """`repositoryCredentials.credentialsParameter` and `logConfiguration.secretOptions`."""
    name = container.get("name") if isinstance(container.get("name"), str) else None
    found: list[ContainerSecret] = []
    credentials = container.get("repositoryCredentials")
    if isinstance(credentials, dict) and credentials.get("credentialsParameter") is not None:
        where = getattr(credentials, "line", None) or line
        found.append(
            ContainerSecret(
                "repositoryCredentials", credentials["credentialsParameter"], where, name
            )
        )
    logging = container.get("logConfiguration")
    options = logging.get("secretOptions") if isinstance(logging, dict) else None
    for entry in _as_list(options):
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            where = getattr(entry, "line", None) or line
            found.append(
                ContainerSecret(f"log option {entry['name']}", entry.get("valueFrom"), where, name)
            )
    return found
