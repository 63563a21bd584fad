"""A Lambda function's environment variables as a migration source: the only code that speaks
the lambda API.

The variables are read once with GetFunctionConfiguration; an `Environment.Error` (Lambda
could not decrypt them for us) is exit 5, never "no variables". Removing migrated ones is a
read-modify-write of the whole environment with UpdateFunctionConfiguration, guarded by the
function's RevisionId so that a change made meanwhile by someone else is never overwritten
(PreconditionFailedException, 412: refused, exit 4), and a variable whose value changed since
it was migrated is kept. An update of the function still in progress (LastUpdateStatus
InProgress, or ResourceConflictException, 409) is waited for, within a bound.

Only `$LATEST` can change: published versions are immutable, so those that still hold a
migrated variable, and the aliases that serve them, are reported with the way out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envsecrets.backends.aws import AwsTarget, aws_errors, error_code, translate
from envsecrets.backends.lambda_list import LATEST, PAGE, aliases_by_version, environment_error
from envsecrets.core.detect import Detection
from envsecrets.core.migration import SourceItem, key_to_path
from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_lambda.type_defs import (
        FunctionConfigurationResponseTypeDef,
        ListVersionsByFunctionRequestTypeDef,
        UpdateFunctionConfigurationRequestTypeDef,
    )

Detector = Callable[[str, str], Detection | None]
IN_PROGRESS = "InProgress"
# How long an update of the function that is still in progress is waited for: Lambda applies
# most configuration changes in seconds, a function in a VPC can take a minute or two.
UPDATE_WAIT = 120.0
FIRST_POLL = 0.5
MAX_POLL = 8.0
CONFLICT_ATTEMPTS = 3  # a 409, a wait, a fresh read-modify-write: this many times at most


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
    last_update_status: str | None = None  # InProgress while an update is being applied


def function_name(function: str) -> str:
    """The function's name from its name, partial ARN or ARN (a qualifier is dropped)."""
    if function.startswith("arn:"):
        parts = function.split(":")
        return parts[6] if len(parts) > 6 else function
    return function.split(":", 1)[0]


def read_function(target: AwsTarget, function: str) -> FunctionInfo:
    """The function's ARN, revision and environment variables (GetFunctionConfiguration);
    a function that does not exist is not found (exit 3); variables Lambda could not decrypt
    for us (Environment.Error, e.g. KMSAccessDeniedException) are exit 5."""
    config = _configuration(target, function)
    error = environment_error(config)
    if error is not None:
        raise CliError(
            ExitCode.AUTH,
            f"the environment variables of Lambda function '{config['FunctionName']}' cannot "
            f"be read ({error})",
            "Lambda could not decrypt them for you: you need kms:Decrypt on the function's "
            "KMS key (its KMSKeyArn, `aws lambda get-function-configuration`); nothing was "
            "migrated",
        )
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
        last_update_status=config.get("LastUpdateStatus"),
    )


def _configuration(target: AwsTarget, function: str) -> FunctionConfigurationResponseTypeDef:
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
    return config


def wait_for_update(
    read: Callable[[], FunctionInfo],
    *,
    limit: float = UPDATE_WAIT,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> FunctionInfo:
    """Read the function until its LastUpdateStatus is no longer InProgress, polling at
    growing intervals; after `limit` seconds, refuse (exit 4) rather than wait on."""
    start = clock()
    pause = FIRST_POLL
    while True:
        info = read()
        if info.last_update_status != IN_PROGRESS:
            return info
        if clock() - start + pause > limit:
            raise CliError(
                ExitCode.REFUSED,
                f"an update of Lambda function '{info.name}' is still in progress after "
                f"{limit:.0f} s; nothing was removed from it",
                "run the same command again once the update is done (`aws lambda "
                f"get-function-configuration --function-name {info.name}` shows "
                "LastUpdateStatus): what is migrated stays migrated",
            )
        sleep(pause)
        pause = min(pause * 2, MAX_POLL)


@dataclass(frozen=True)
class PublishedCopy:
    """A published version of the function that still holds migrated variables."""

    version: str
    aliases: tuple[str, ...]
    keys: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "aliases": list(self.aliases), "keys": list(self.keys)}


def published_copies(
    target: AwsTarget, function: str, holds: Callable[[str, str], bool]
) -> list[PublishedCopy]:
    """The published versions of `function` with variables that `holds(key, value)` picks
    (ListVersionsByFunction), with the aliases that serve each (ListAliases). A version whose
    variables Lambda cannot decrypt for us is listed with the key "?": it may hold any."""
    client = target.client("lambda")
    found: list[PublishedCopy] = []
    args: ListVersionsByFunctionRequestTypeDef = {"FunctionName": function, "MaxItems": PAGE}
    with aws_errors(side=target.label):
        while True:
            page = client.list_versions_by_function(**args)
            for entry in page.get("Versions", ()):
                version = str(entry.get("Version") or LATEST)
                if version == LATEST:
                    continue
                variables = (entry.get("Environment") or {}).get("Variables") or {}
                held = {key for key, value in variables.items() if holds(key, value)}
                if environment_error(entry):
                    held.add("?")
                if held:
                    found.append(PublishedCopy(version, (), tuple(sorted(held))))
            marker = page.get("NextMarker")
            if not marker:
                break
            args["Marker"] = marker
        aliases = aliases_by_version(client, function) if found else {}
    return [
        PublishedCopy(copy.version, aliases.get(copy.version, ()), copy.keys)
        for copy in sorted(found, key=lambda copy: _version_order(copy.version))
    ]


def _version_order(version: str) -> tuple[int, int, str]:
    """Published versions are numbers ("1", "2", ...); a reply that says otherwise is shown
    after them, in text order, rather than crashing the report of work already done."""
    return (0, int(version), "") if version.isdigit() else (1, 0, version)


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
        # Why the variables could not be removed when the function refused (412, or an
        # update in progress for too long): the command exits with it (4).
        self.refusal: CliError | None = None

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
        """Remove the items' variables from the function's environment in one update. A
        conflicting update in progress (409) is waited for and the removal done again from a
        fresh read; a RevisionId that moved meanwhile (412) is a refusal, kept in `refusal`."""
        keys = [item.key for item in items]
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                current = wait_for_update(lambda: read_function(self.target, self.info.arn))
            except CliError as exc:
                return self._refused(keys, exc)
            outcome, remaining = self._without(current, keys)
            if remaining == current.variables:
                return outcome
            args: UpdateFunctionConfigurationRequestTypeDef = {
                "FunctionName": current.arn,
                "Environment": {"Variables": remaining},
            }
            if current.revision_id:
                args["RevisionId"] = current.revision_id
            try:
                self.client.update_function_configuration(**args)
            except Exception as exc:
                code = error_code(exc)
                if code == "ResourceConflictException" and attempt < CONFLICT_ATTEMPTS:
                    continue  # another update is being applied: wait for it, then redo
                if code == "PreconditionFailedException":
                    return self._after_moved_revision(keys, outcome, current.name)
                if code == "ResourceConflictException":
                    return self._refused(keys, _conflict(current.name, code))
                failure = translate(exc, side=self.target.label)
                return {
                    key: failure.message if error is None else error
                    for key, error in outcome.items()
                }
            return outcome
        raise AssertionError("unreachable")  # the last attempt returns

    def _without(
        self, current: FunctionInfo, keys: Sequence[str]
    ) -> tuple[dict[str, str | None], dict[str, str]]:
        """Per key: None (removed, or gone already) or why it stays; and the variables left."""
        outcome: dict[str, str | None] = {}
        remaining = dict(current.variables)
        for key in keys:
            if key not in remaining:
                outcome[key] = None  # already removed (a re-run)
            elif key in self._migrated and SecretValue(remaining[key]) != self._migrated[key]:
                outcome[key] = "the variable changed since it was read; kept"
            else:
                del remaining[key]
                outcome[key] = None
        return outcome, remaining

    def _after_moved_revision(
        self, keys: Sequence[str], outcome: dict[str, str | None], name: str
    ) -> dict[str, str | None]:
        """A 412 also answers botocore's retry of our own update whose first attempt was
        applied and its reply lost (the retry carries the RevisionId the update replaced):
        so read the function again, as after a 409, and report what it holds. The variables
        to remove that are gone are removed; any still there were refused."""
        try:
            now = wait_for_update(lambda: read_function(self.target, self.info.arn))
        except CliError:
            return self._refused(keys, _conflict(name, "PreconditionFailedException"))
        wanted = [key for key in keys if outcome.get(key) is None]
        left = [key for key in wanted if key in now.variables]
        if not left:
            return outcome  # every one is gone: the update was applied
        removed = [key for key in wanted if key not in now.variables]
        refusal = _conflict(name, "PreconditionFailedException", removed=removed)
        self.refusal = refusal
        return {key: refusal.message if key in left else outcome[key] for key in keys}

    def _refused(self, keys: Sequence[str], refusal: CliError) -> dict[str, str | None]:
        self.refusal = refusal
        return dict.fromkeys(keys, refusal.message)

    def published_copies(self, keys: Sequence[str]) -> list[PublishedCopy]:
        """The published versions that still hold any of `keys`, or (without --keys) any
        variable that looks secret: a run after the variables left `$LATEST` finds nothing
        to migrate, and still finds them in the versions published before."""
        wanted = set(keys)
        detector = self.detector if self.keys is None else None

        def holds(key: str, value: str) -> bool:
            return key in wanted or (detector is not None and detector(key, value) is not None)

        # By name: AWS accepts the name or the ARN, the emulator lists versions by name only.
        return published_copies(self.target, self.info.name, holds)


def _conflict(name: str, code: str, *, removed: Sequence[str] = ()) -> CliError:
    """412: the RevisionId read no longer holds (someone changed the function meanwhile);
    409 after every wait: an update of the function keeps being in progress. `removed`: the
    variables a fresh read found gone all the same."""
    what = "changed meanwhile" if code == "PreconditionFailedException" else "kept being updated"
    done = (
        f"only {', '.join(removed)} {'is' if len(removed) == 1 else 'are'} gone from it"
        if removed
        else "nothing was removed from it"
    )
    return CliError(
        ExitCode.REFUSED,
        f"Lambda function '{name}' {what} ({code}); {done}",
        "run the same command again: it reads the function afresh and removes the variables "
        "that still hold the migrated values (what is migrated stays migrated)",
    )
