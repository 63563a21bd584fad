"""A Lambda function's environment variables as a migration source: the only code that speaks
the lambda API.

The variables are read once with GetFunctionConfiguration. Removing migrated ones is a
read-modify-write of the whole environment with UpdateFunctionConfiguration, guarded by the
function's RevisionId so that a change made meanwhile by someone else is never overwritten,
and a variable whose value changed since it was migrated is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from envsecrets.backends.aws import AwsTarget, aws_errors, error_code
from envsecrets.core.detect import Detection
from envsecrets.core.migration import SourceItem, key_to_path
from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_lambda.type_defs import UpdateFunctionConfigurationRequestTypeDef

Detector = Callable[[str, str], Detection | None]


@dataclass(frozen=True)
class FunctionInfo:
    """What the migration needs to know about the function besides its variables."""

    name: str
    arn: str
    region: str
    account: str
    revision_id: str | None
    variables: dict[str, str]
    runtime: str | None = None  # `python3.12`, ...; None for a container image


def function_name(function: str) -> str:
    """The function's name from its name, partial ARN or ARN (a qualifier is dropped)."""
    if function.startswith("arn:"):
        parts = function.split(":")
        return parts[6] if len(parts) > 6 else function
    return function.split(":", 1)[0]


def read_function(target: AwsTarget, function: str) -> FunctionInfo:
    """The function's ARN, revision and environment variables (GetFunctionConfiguration);
    a function that does not exist is not found (exit 3)."""
    with aws_errors(side=target.label):
        try:
            config = target.client("lambda").get_function_configuration(FunctionName=function)
        except Exception as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise CliError(
                    ExitCode.NOT_FOUND,
                    f"Lambda function '{function}' not found",
                    "check the name and the region (--region or the environment's region)",
                ) from None
            raise
    arn = str(config["FunctionArn"])
    parts = arn.split(":")
    return FunctionInfo(
        name=str(config["FunctionName"]),
        arn=arn,
        region=parts[3] if len(parts) > 4 else "",
        account=parts[4] if len(parts) > 4 else "",
        revision_id=config.get("RevisionId"),
        variables=dict((config.get("Environment") or {}).get("Variables") or {}),
        runtime=config.get("Runtime"),
    )


class LambdaEnvSource:
    """The secret-looking variables of one function (or exactly `keys`), to be stored as
    `<env>/<function>/<key>`."""

    kind = "lambda"

    def __init__(
        self,
        target: AwsTarget,
        function: str,
        *,
        keys: Sequence[str] | None = None,
        keep_case: bool = False,
        detector: Detector | None = None,
    ) -> None:
        self.target = target
        self.function = function
        self.label = function
        self.files: tuple[Path, ...] = ()
        self.keys = list(keys) if keys is not None else None
        self.keep_case = keep_case
        self.detector = detector
        self.info = read_function(target, function)
        self.selected, self.reasons = self._select()
        self._migrated: dict[str, SecretValue] = {}

    @property
    def client(self) -> LambdaClient:
        return self.target.client("lambda")

    def _select(self) -> tuple[list[str], dict[str, str]]:
        variables = self.info.variables
        if self.keys is not None:
            missing = [k for k in self.keys if k not in variables]
            if missing:
                raise CliError(
                    ExitCode.USAGE,
                    f"function '{self.info.name}' has no variable {', '.join(missing)}",
                    f"its variables: {', '.join(sorted(variables)) or '(none)'}",
                )
            return list(dict.fromkeys(self.keys)), dict.fromkeys(self.keys, "--keys")
        if self.detector is None:
            from envsecrets.core.detect import looks_secret

            self.detector = looks_secret
        reasons: dict[str, str] = {}
        for key, value in variables.items():
            found = self.detector(key, value)
            if found is not None:
                reasons[key] = found.reason
        return [k for k in variables if k in reasons], reasons

    @property
    def kept(self) -> list[str]:
        """Variables that stay in the function (not secret-looking, or not in --keys)."""
        return [k for k in self.info.variables if k not in self.reasons]

    def items(self) -> Iterator[SourceItem]:
        for key in self.selected:
            raw = self.info.variables.get(key, "")
            value = SecretValue(raw) if raw else None
            if value is not None:
                self._migrated[key] = value
            yield SourceItem(
                key=key,
                relative=f"{self.info.name}/{key_to_path(key, keep_case=self.keep_case)}",
                value=value,
                origin=f"lambda:{self.info.name}:{key}",
                problem=None if value else f"{key} is empty",
            )

    def descriptions(self, keys: Sequence[str]) -> dict[str, str]:
        return {key: f"{key} of Lambda function {self.info.name}" for key in keys}

    def remove(self, items: Sequence[SourceItem]) -> dict[str, str | None]:
        """Remove the items' variables from the function's environment in one update."""
        current = read_function(self.target, self.info.arn)
        outcome: dict[str, str | None] = {}
        remaining = dict(current.variables)
        for key in (item.key for item in items):
            if key not in remaining:
                outcome[key] = None  # already removed (a re-run)
            elif key in self._migrated and SecretValue(remaining[key]) != self._migrated[key]:
                outcome[key] = "the variable changed since it was read; kept"
            else:
                del remaining[key]
                outcome[key] = None
        if remaining == current.variables:
            return outcome
        args: UpdateFunctionConfigurationRequestTypeDef = {
            "FunctionName": current.arn,
            "Environment": {"Variables": remaining},
        }
        if current.revision_id:
            args["RevisionId"] = current.revision_id
        try:
            with aws_errors(side=self.target.label):
                self.client.update_function_configuration(**args)
        except CliError as exc:
            return {key: exc.message if error is None else error for key, error in outcome.items()}
        return outcome
