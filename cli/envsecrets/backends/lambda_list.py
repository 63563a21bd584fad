"""Lambda functions of an account and region, for `secrets audit --live`, and what Lambda's
replies say about a function's variables beyond the variables themselves.

`lambda_env.py` (migrate) reads and edits one function's configuration; this lists them all
with ListFunctions and `FunctionVersion=ALL`: `$LATEST` is only what the next publish will
hold, while aliases serve published versions, which are immutable and keep every variable
they were published with ("you can't modify the configuration of a published version").
The audit looks at `$LATEST` and at every version an alias points to (its version and the
versions of its weighted routing).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from envsecrets.backends.aws import AwsTarget, aws_errors
from envsecrets.core.audit_live import LiveFunction

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_lambda.type_defs import (
        ListAliasesRequestTypeDef,
        ListFunctionsRequestTypeDef,
    )

LATEST = "$LATEST"
PAGE = 50  # ListFunctions' and ListAliases' largest page


def environment_error(config: Mapping[str, Any]) -> str | None:
    """`Environment.Error` of a function's configuration ("KMSAccessDeniedException: ..."):
    Lambda could not decrypt the variables and reports none, so "no variables" would be a
    lie. None when the variables were read."""
    error = (config.get("Environment") or {}).get("Error") or {}
    if not error:
        return None
    code = str(error.get("ErrorCode") or "Error")
    message = " ".join(str(error.get("Message") or "").split())[:200]
    return f"{code}: {message}" if message else code


def aliases_by_version(client: LambdaClient, function: str) -> dict[str, tuple[str, ...]]:
    """Version -> the aliases that serve it (ListAliases), weighted routing included."""
    found: dict[str, list[str]] = {}
    args: ListAliasesRequestTypeDef = {"FunctionName": function, "MaxItems": PAGE}
    while True:
        page = client.list_aliases(**args)
        for alias in page.get("Aliases", ()):
            name = str(alias.get("Name", "?"))
            routed = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
            for version in (alias.get("FunctionVersion"), *routed):
                if version:
                    found.setdefault(str(version), []).append(name)
        marker = page.get("NextMarker")
        if not marker:
            return {version: tuple(sorted(set(names))) for version, names in found.items()}
        args["Marker"] = marker


def list_functions(target: AwsTarget) -> Iterator[LiveFunction]:
    """Every function's `$LATEST`, then the published versions its aliases serve, with role
    and environment variables (values stay in memory: the audit inspects them and reports
    names only). A version's role is left out when it is `$LATEST`'s (its grants are
    audited once)."""
    client = target.client("lambda")
    versions: dict[str, list[Mapping[str, Any]]] = {}
    latest: list[Mapping[str, Any]] = []
    args: ListFunctionsRequestTypeDef = {"MaxItems": PAGE, "FunctionVersion": "ALL"}
    while True:
        with aws_errors(side=target.label):
            page = client.list_functions(**args)
        for entry in page.get("Functions", ()):
            if str(entry.get("Version") or LATEST) == LATEST:
                latest.append(entry)
            else:
                versions.setdefault(str(entry["FunctionName"]), []).append(entry)
        marker = page.get("NextMarker")
        if not marker:
            break
        args["Marker"] = marker
    for head in latest:
        yield _live(head)
        published = versions.get(str(head["FunctionName"]))
        if published:
            yield from _served(client, target, head, published)


def _served(
    client: LambdaClient,
    target: AwsTarget,
    latest: Mapping[str, Any],
    published: list[Mapping[str, Any]],
) -> Iterator[LiveFunction]:
    """The published versions that an alias serves."""
    with aws_errors(side=target.label):
        aliases = aliases_by_version(client, str(latest["FunctionName"]))
    for entry in published:
        served_by = aliases.get(str(entry.get("Version")))
        if served_by:
            same_role = entry.get("Role") == latest.get("Role")
            yield _live(entry, aliases=served_by, with_role=not same_role)


def _live(
    entry: Mapping[str, Any], *, aliases: tuple[str, ...] = (), with_role: bool = True
) -> LiveFunction:
    variables = (entry.get("Environment") or {}).get("Variables") or {}
    version = str(entry.get("Version") or LATEST)
    return LiveFunction(
        name=str(entry["FunctionName"]),
        arn=str(entry.get("FunctionArn", "")),
        role_arn=(str(entry.get("Role") or "") or None) if with_role else None,
        variables={str(k): str(v) for k, v in variables.items()},
        version=None if version == LATEST else version,
        aliases=aliases,
        environment_error=environment_error(entry),
    )
