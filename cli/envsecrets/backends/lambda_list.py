"""Lambda functions of an account and region, for `secrets audit --live`.

`lambda_env.py` (migrate) reads and edits one function's configuration; this lists them all,
one ListFunctions page (50 functions) per call, so the audit's cost per function is constant.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from envsecrets.backends.aws import AwsTarget, aws_errors
from envsecrets.core.audit import LiveFunction

if TYPE_CHECKING:
    from mypy_boto3_lambda.type_defs import ListFunctionsRequestTypeDef


def list_functions(target: AwsTarget) -> Iterator[LiveFunction]:
    """Every function with its role and environment variables (values stay in memory: the
    audit inspects them and reports names only)."""
    client = target.client("lambda")
    args: ListFunctionsRequestTypeDef = {"MaxItems": 50}
    while True:
        with aws_errors(side=target.label):
            page = client.list_functions(**args)
        for entry in page.get("Functions", ()):
            variables = (entry.get("Environment") or {}).get("Variables") or {}
            yield LiveFunction(
                name=str(entry["FunctionName"]),
                arn=str(entry.get("FunctionArn", "")),
                role_arn=str(entry.get("Role") or "") or None,
                variables={str(k): str(v) for k, v in variables.items()},
            )
        marker = page.get("NextMarker")
        if not marker:
            return
        args["Marker"] = marker
