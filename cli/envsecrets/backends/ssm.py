"""SSM Parameter Store as a migration source: the only code that speaks the ssm API.

Parameters are listed with GetParametersByPath (10 a page, decrypted), which shares a 40/s
quota with GetParameter(s); the target's RateLimiter paces them (backends/quotas.py).
Descriptions are not in that response and come from DescribeParameters, which AWS throttles
hard, so they are asked for only for the parameters about to be written, 50 names a call.
Deletion uses DeleteParameters, 10 names a call, each batch just after a GetParameters of the
same names: a parameter whose version is no longer the one migrated (overwritten meanwhile) is
kept. SSM has no conditional delete, so a write in the instant between the two calls is not
seen; the window is one round trip instead of the whole migration.
A `/aws/reference/secretsmanager/...` path (a Secrets Manager secret seen through Parameter
Store) supports GetParameter(s) only: it is read as one parameter, never listed by path.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from envsecrets.backends.aws import AwsTarget, aws_errors, error_code
from envsecrets.core.migration import TAG_KEY, SourceItem
from envsecrets.core.pool import chunked
from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager.type_defs import ListSecretsRequestTypeDef
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_ssm.type_defs import (
        DescribeParametersRequestTypeDef,
        GetParametersByPathRequestTypeDef,
        ParameterTypeDef,
    )

PAGE = 10  # GetParametersByPath's maximum page size
DESCRIBE_NAMES = 50  # DescribeParameters: at most 50 values in a filter, 50 results a page
DELETE_BATCH = 10  # DeleteParameters: at most 10 names a call
# Parameter Store's view of Secrets Manager (GetParameter and GetParameters only).
SECRETS_MANAGER_REFERENCE = "/aws/reference/secretsmanager/"
LIST_FILTER_MAX = 512  # ListSecrets: the longest filter value
MIGRATED_PAGES = 5  # ListSecrets pages read to tell "migrated already" from "never existed"


class SsmSource:
    """The parameters under `path` (its direct children, or the whole tree with `recursive`).

    A `path` that does not start with `/`, or under which nothing is found, is tried as the
    name of one parameter; when that does not exist either, the source is not found (exit 3),
    unless secrets migrated from it exist (then there is nothing to migrate: a re-run).
    """

    kind = "ssm"

    def __init__(
        self,
        target: AwsTarget,
        path: str,
        *,
        recursive: bool = False,
        pool: int = 10,
    ) -> None:
        self.target = target
        self.path = path
        self.label = path
        self.files: tuple[Path, ...] = ()
        self.recursive = recursive
        self.pool = pool

    @property
    def client(self) -> SSMClient:
        return self.target.client("ssm", bulk=True, pool=self.pool)

    def _errors(self) -> AbstractContextManager[None]:
        # Labelled with the source: "[dev]" (the target's environment) would read as if
        # Secrets Manager had failed.
        return aws_errors(side=f"ssm {self.label}")

    # -- reading ------------------------------------------------------------------------------
    def items(self) -> Iterator[SourceItem]:
        found = 0
        if self.path.startswith(SECRETS_MANAGER_REFERENCE):
            # A Secrets Manager secret seen through Parameter Store: AWS serves these with
            # GetParameter(s) only, never GetParametersByPath; it is one parameter.
            parameter = self._one(self.path)
            yield self._item(parameter, parameter["Name"].rstrip("/").rsplit("/", 1)[-1])
            return
        if self.path.startswith("/"):
            base = self.path.rstrip("/")
            for parameter in self._by_path():
                found += 1
                relative = parameter["Name"][len(base) :].lstrip("/")
                yield self._item(parameter, relative)
        if found == 0:
            try:
                parameter = self._one(self.path)
            except CliError as missing:
                if missing.code == ExitCode.NOT_FOUND and self._migrated_before():
                    return  # a re-run after --delete-source: nothing to migrate (exit 0)
                raise
            yield self._item(parameter, parameter["Name"].rstrip("/").rsplit("/", 1)[-1])

    def _by_path(self) -> Iterator[ParameterTypeDef]:
        args: GetParametersByPathRequestTypeDef = {
            "Path": self.path.rstrip("/") or "/",
            "Recursive": self.recursive,
            "WithDecryption": True,
            "MaxResults": PAGE,
        }
        while True:
            with self._errors():
                page = self.client.get_parameters_by_path(**args)
            yield from page.get("Parameters", ())
            token = page.get("NextToken")
            if not token:
                return
            args["NextToken"] = token

    def _one(self, name: str) -> ParameterTypeDef:
        with self._errors():
            try:
                return self.client.get_parameter(Name=name, WithDecryption=True)["Parameter"]
            except Exception as exc:
                if error_code(exc) in ("ParameterNotFound", "ValidationException"):
                    raise CliError(
                        ExitCode.NOT_FOUND,
                        f"no parameters at or under '{name}' in Parameter Store",
                        "check the path (it starts with '/'), the region, and --recursive",
                    ) from None
                raise

    def _migrated_before(self) -> bool:
        """Whether secrets tagged `migrated-from=ssm:<path>` (or a name under it) exist in
        this account and region: the path was migrated with --delete-source, and running the
        same command again finds nothing left to do rather than a path that never existed.
        ListSecrets' tag-value filter matches prefixes (`/app/prod` also finds `/app/prod2`),
        so the tags are compared here; a few pages at most, and any failure (no
        ListSecrets permission) leaves the answer "not found"."""
        origin = f"ssm:{self.path.rstrip('/') or '/'}"
        if len(origin) > LIST_FILTER_MAX or self.path.startswith(SECRETS_MANAGER_REFERENCE):
            return False
        args: ListSecretsRequestTypeDef = {
            "Filters": [
                {"Key": "tag-key", "Values": [TAG_KEY]},
                {"Key": "tag-value", "Values": [origin]},
            ],
            "MaxResults": 100,
        }
        under = origin if origin.endswith("/") else f"{origin}/"
        try:
            client = self.target.client("secretsmanager")
            for _ in range(MIGRATED_PAGES):
                with self._errors():
                    page = client.list_secrets(**args)
                for secret in page.get("SecretList", ()):
                    for tag in secret.get("Tags", ()):
                        value = tag.get("Value", "")
                        if tag.get("Key") == TAG_KEY and (
                            value == origin or value.startswith(under)
                        ):
                            return True
                token = page.get("NextToken")
                if not token:
                    return False
                args["NextToken"] = token
        except CliError:
            return False
        return False

    def _item(self, parameter: ParameterTypeDef, relative: str) -> SourceItem:
        name = str(parameter["Name"])
        value = parameter.get("Value")
        return SourceItem(
            key=name,
            relative=relative,
            # StringList values stay the comma-separated text SSM returns: readers split them.
            value=SecretValue(str(value)) if value else None,
            origin=f"ssm:{name}",
            problem=None if value else "the parameter has no value",
            version=str(parameter["Version"]) if "Version" in parameter else None,
        )

    def descriptions(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for names in chunked(keys, DESCRIBE_NAMES):
            args: DescribeParametersRequestTypeDef = {
                "ParameterFilters": [{"Key": "Name", "Option": "Equals", "Values": names}],
                "MaxResults": DESCRIBE_NAMES,
            }
            while True:
                with self._errors():
                    page = self.client.describe_parameters(**args)
                for meta in page.get("Parameters", ()):
                    if meta.get("Description"):
                        found[str(meta["Name"])] = str(meta["Description"])
                if not page.get("NextToken"):
                    break
                args["NextToken"] = page["NextToken"]
        return found

    # -- removing -----------------------------------------------------------------------------
    def remove(self, items: Sequence[SourceItem]) -> dict[str, str | None]:
        outcome: dict[str, str | None] = {}
        for batch in chunked(items, DELETE_BATCH):
            try:
                with self._errors():
                    unchanged = self._still_as_read(batch, outcome)
            except CliError as exc:
                outcome.update({item.key: exc.message for item in batch})
                continue
            if unchanged:
                outcome.update(self._delete(unchanged))
        return outcome

    def _delete(self, names: list[str]) -> dict[str, str | None]:
        try:
            with self._errors():
                response = self.client.delete_parameters(Names=names)
        except CliError as exc:
            return dict.fromkeys(names, exc.message)
        deleted = {str(name) for name in response.get("DeletedParameters", ())}
        # Invalid here means gone already (deleted meanwhile): the goal is met.
        deleted.update(str(name) for name in response.get("InvalidParameters", ()))
        return {name: None if name in deleted else "DeleteParameters left it" for name in names}

    def _still_as_read(
        self, batch: Sequence[SourceItem], outcome: dict[str, str | None]
    ) -> list[str]:
        """The names in `batch` whose parameter is still the version that was migrated; the
        others get their outcome here (gone already: done; changed: kept)."""
        # Versions say whether a parameter changed without decrypting it; an item without
        # one (read by other means) is compared by value.
        by_value = any(item.version is None for item in batch)
        response = self.client.get_parameters(
            Names=[item.key for item in batch], WithDecryption=by_value
        )
        now = {str(p["Name"]): p for p in response.get("Parameters", ())}
        gone = {str(name) for name in response.get("InvalidParameters", ())}
        unchanged = []
        for item in batch:
            parameter = now.get(item.key)
            if item.key in gone:
                outcome[item.key] = None  # deleted already
            elif parameter is None:  # a reply that says nothing about it: never assume
                outcome[item.key] = "Parameter Store's reply did not include it; kept"
            elif _changed(item, parameter):
                outcome[item.key] = (
                    "changed in Parameter Store since it was migrated (now version "
                    f"{parameter.get('Version')}); kept"
                )
            else:
                unchanged.append(item.key)
        return unchanged


def _changed(item: SourceItem, parameter: ParameterTypeDef) -> bool:
    if item.version is not None:
        return str(parameter.get("Version")) != item.version
    return item.value is None or SecretValue(str(parameter.get("Value", ""))) != item.value
