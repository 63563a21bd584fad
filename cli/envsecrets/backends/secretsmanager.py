"""The Secrets Manager store: the only code that speaks the secretsmanager API."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import botocore.exceptions as bx

from envsecrets.backends.aws import AwsTarget, error_code, translate
from envsecrets.backends.replies import MalformedReply
from envsecrets.core.pool import WorkPool, chunked
from envsecrets.core.store import (
    CURRENT,
    NO_VALUE,
    BatchRead,
    Replica,
    Rotation,
    SecretMetadata,
    SecretVersion,
    StoredValue,
)
from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_secretsmanager.type_defs import (
        CreateSecretRequestTypeDef,
        DeleteSecretRequestTypeDef,
        DescribeSecretResponseTypeDef,
        GetRandomPasswordRequestTypeDef,
        GetSecretValueRequestTypeDef,
        GetSecretValueResponseTypeDef,
        ListSecretsRequestTypeDef,
        ListSecretVersionIdsRequestTypeDef,
        PutSecretValueRequestTypeDef,
        ReplicaRegionTypeTypeDef,
        RotationRulesTypeTypeDef,
        SecretListEntryTypeDef,
        SecretValueEntryTypeDef,
        UpdateSecretRequestTypeDef,
        UpdateSecretVersionStageRequestTypeDef,
    )

    # GetSecretValue's reply, or one entry of BatchGetSecretValue's.
    ValueReply = GetSecretValueResponseTypeDef | SecretValueEntryTypeDef
    # DescribeSecret's reply, or one entry of ListSecrets'.
    MetadataReply = DescribeSecretResponseTypeDef | SecretListEntryTypeDef

LIST_PAGE = 100  # ListSecrets' maximum page size
BATCH_GET = 20  # BatchGetSecretValue's maximum secrets per call


def _value_of(response: ValueReply) -> SecretValue:
    if "SecretBinary" in response and response["SecretBinary"] is not None:
        return SecretValue(bytes(response["SecretBinary"]))
    return SecretValue(str(response.get("SecretString", "")))


def _stored(response: ValueReply) -> StoredValue:
    return StoredValue(
        name=response["Name"],
        value=_value_of(response),
        version_id=response["VersionId"],
        stages=tuple(response.get("VersionStages", ())),
        created=response.get("CreatedDate"),
    )


def _schedule(rules: RotationRulesTypeTypeDef | None) -> str | None:
    if not rules:
        return None
    if rules.get("ScheduleExpression"):
        return str(rules["ScheduleExpression"])
    if rules.get("AutomaticallyAfterDays"):
        return f"every {rules['AutomaticallyAfterDays']} days"
    return None


def metadata_from(entry: MetadataReply) -> SecretMetadata:
    """A DescribeSecret response or a ListSecrets entry as SecretMetadata."""
    return SecretMetadata(
        name=entry["Name"],
        arn=entry.get("ARN"),
        description=entry.get("Description") or None,
        kms_key_id=entry.get("KmsKeyId"),
        created=entry.get("CreatedDate"),
        last_changed=entry.get("LastChangedDate"),
        last_accessed=entry.get("LastAccessedDate"),
        deleted_on=entry.get("DeletedDate"),
        rotation=Rotation(
            enabled=bool(entry.get("RotationEnabled")),
            lambda_arn=entry.get("RotationLambdaARN") or None,
            schedule=_schedule(entry.get("RotationRules")),
            last_rotated=entry.get("LastRotatedDate"),
            next_rotation=entry.get("NextRotationDate"),
        ),
        tags={t["Key"]: t["Value"] for t in entry.get("Tags") or ()},
        replicas=_replicas(entry),
        version_stages=_version_stages(entry),
        primary_region=entry.get("PrimaryRegion"),
    )


# The two helpers below read keys that only one of the two replies has; a TypedDict union
# cannot be narrowed by a key test (either may carry extra keys), so they read it as a mapping.


def _replicas(entry: Mapping[str, Any]) -> tuple[Replica, ...]:
    # AWS's model has ReplicationStatus in DescribeSecret's reply only; read it wherever it is.
    return tuple(
        Replica(
            r["Region"],
            r.get("Status"),
            r.get("KmsKeyId"),
            message=r.get("StatusMessage") or None,
            last_accessed=r.get("LastAccessedDate"),
        )
        for r in entry.get("ReplicationStatus") or ()
    )


def _version_stages(entry: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    # DescribeSecret names the labels VersionIdsToStages, ListSecrets SecretVersionsToStages:
    # reading both lets a listing find pending rotations without a describe per secret.
    found = entry.get("VersionIdsToStages") or entry.get("SecretVersionsToStages") or {}
    return {k: tuple(v) for k, v in found.items()}


class SecretsManagerStore:
    """`SecretStore` on AWS Secrets Manager for one environment's target."""

    def __init__(
        self,
        target: AwsTarget,
        *,
        bulk: bool = False,
        pool: int = 10,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.target = target
        self.bulk = bulk
        self.pool = pool
        # Told once when batch reads are denied and reads go one secret at a time.
        self.notify = notify
        self._batch_denied = False
        self._lock = threading.Lock()

    @property
    def client(self) -> SecretsManagerClient:
        return self.target.client("secretsmanager", bulk=self.bulk, pool=self.pool)

    @contextmanager
    def _errors(self, name: str | None = None) -> Iterator[None]:
        """Translate AWS failures (backends/aws.py), and say "scheduled for deletion" when
        the secret's state says so. AWS answers InvalidRequestException for several states
        ("a parameter value is not valid for the current state of the resource": scheduled
        for deletion, managed by another service, ...), so the code alone does not tell
        which, and neither does a word in the message: the secret's DeletedDate does."""
        side = self.target.label if self.bulk else None
        try:
            yield
        except bx.ClientError as exc:
            if name and error_code(exc) == "InvalidRequestException":
                deletion = self._deletion_date(name)
                if deletion is not None:
                    prefix = f"[{side}] " if side else ""
                    raise CliError(
                        ExitCode.REFUSED,
                        f"{prefix}secret '{name}' is scheduled for deletion "
                        f"(on {deletion:%Y-%m-%d})",
                        f"`secrets restore {name}` cancels the deletion",
                    ) from None
            raise translate(exc, subject=name, side=side) from None
        except bx.BotoCoreError as exc:
            raise translate(exc, subject=name, side=side) from None

    def _deletion_date(self, name: str) -> datetime | None:
        """When `name` is scheduled to be deleted, or None (not scheduled, or unknown)."""
        try:
            found = self.client.describe_secret(SecretId=name).get("DeletedDate")
        except Exception:
            return None
        return found if isinstance(found, datetime) else None

    # -- values -----------------------------------------------------------------------------
    def read(
        self, name: str, *, stage: str | None = CURRENT, version_id: str | None = None
    ) -> StoredValue:
        args: GetSecretValueRequestTypeDef = {"SecretId": name}
        # Ask for the stage explicitly: the emulator (and caches) can otherwise return a
        # version that is no longer AWSCURRENT after a stage move.
        if version_id:
            args["VersionId"] = version_id
        elif stage:
            args["VersionStage"] = stage
        with self._errors(name):
            try:
                return _stored(self.client.get_secret_value(**args))
            except Exception as exc:
                if error_code(exc) == "ResourceNotFoundException" and (
                    version_id or stage != CURRENT
                ):
                    # The secret may exist without that version or stage.
                    self.describe(name)
                    which = f"version {version_id}" if version_id else f"stage {stage}"
                    raise CliError(
                        ExitCode.NOT_FOUND,
                        f"secret '{name}' has no {which}",
                        f"`secrets history {name}` lists its versions",
                    ) from None
                raise

    def read_many(self, names: Sequence[str]) -> BatchRead:
        """Current values, one BatchGetSecretValue call per 20 names, up to `pool` calls at
        once; errors are kept per name. A reply that leaves a name out of both its lists broke
        the API's promise: exit 6, like any malformed reply (backends/replies.py)."""
        if len(names) <= BATCH_GET:  # one call (or none): no threads
            return self._read_batch(list(names)) if names else BatchRead()
        values: dict[str, StoredValue] = {}
        errors: dict[str, str] = {}
        for batch in self.read_each(names):
            values.update(batch.values)
            errors.update(batch.errors)
        return BatchRead(values=values, errors=errors)

    def read_each(self, names: Iterable[str]) -> Iterator[BatchRead]:
        """`read_many`, handed over a call at a time as each answers (in no set order).

        `names` may be a stream still being produced: it is read 20 at a time, ahead of the
        calls, on the store's pool (`pool` calls at once, the size of the client's connection
        pool). A call that fails as a whole (denied, AWS unavailable after retries) stops the
        reading and is raised."""
        with WorkPool(self.pool, name="batch-get") as pool:
            for done in pool.each(self._read_batch, chunked(names, BATCH_GET)):
                yield done.result()

    def _read_batch(self, names: list[str]) -> BatchRead:
        if self._batch_denied:
            return self._read_singly(names)
        values: dict[str, StoredValue] = {}
        errors: dict[str, str] = {}
        with self._errors():
            try:
                response = self.client.batch_get_secret_value(SecretIdList=names)
            except bx.ClientError as exc:
                # BatchGetSecretValue needs a permission of its own, on top of GetSecretValue
                # for each secret: a role without it can still read one secret at a time.
                code = error_code(exc)
                if code == "ResourceNotFoundException":
                    # One secret of the batch without a current value makes the emulator
                    # refuse the whole call (AWS lists it in Errors): read this batch one by
                    # one, to find it and name it, and still read the others.
                    return self._read_singly(names, look_into_not_found=True)
                if code not in ("AccessDeniedException", "AccessDenied"):
                    raise
                self._deny_batches()
                return self._read_singly(names)
            # The members read here are checked present by the reply checks.
            for entry in response.get("SecretValues", ()):
                values[entry["Name"]] = _stored(entry)
            for failure in response.get("Errors", ()):
                name = name_from_id(failure["SecretId"])
                errors[name] = self._why_not_found(
                    name, failure["ErrorCode"], str(failure.get("Message") or "")
                )
            left_out = [name for name in names if name not in values and name not in errors]
            if left_out:
                # Every secret asked for by name comes back as a value or as an error.
                raise MalformedReply(
                    endpoint=str(self.client.meta.endpoint_url),
                    operation="BatchGetSecretValue",
                    problem=f"leaves out {len(left_out)} of the {len(names)} secrets asked for",
                )
        return BatchRead(values=values, errors=errors)

    def _deny_batches(self) -> None:
        with self._lock:
            told, self._batch_denied = self._batch_denied, True
        if not told and self.notify is not None:
            where = f"[{self.target.label}] " if self.bulk else ""
            self.notify(
                f"{where}BatchGetSecretValue is denied: reading one secret at a time with "
                "GetSecretValue (slower; grant secretsmanager:BatchGetSecretValue to batch)"
            )

    def _read_singly(self, names: list[str], *, look_into_not_found: bool = False) -> BatchRead:
        """`_read_batch` with one GetSecretValue per name; AWS's refusal of one secret is
        that name's error, as in a batch's `Errors`; a failure to reach AWS is raised."""
        values: dict[str, StoredValue] = {}
        errors: dict[str, str] = {}
        for name in names:
            with self._errors(name):
                try:
                    response = self.client.get_secret_value(SecretId=name, VersionStage=CURRENT)
                except bx.ClientError as exc:
                    errors[name] = self._why_not_found(
                        name,
                        error_code(exc) or "Error",
                        str(exc.response.get("Error", {}).get("Message") or ""),
                        surely=look_into_not_found,  # a batch refused whole for one of these
                    )
                    continue
            values[name] = _stored(response)
        return BatchRead(values=values, errors=errors)

    def _why_not_found(self, name: str, code: str, message: str, *, surely: bool = False) -> str:
        """ResourceNotFoundException says either that the secret is gone or that it has no
        current value; its DescribeSecret tells which (NO_VALUE for the second). Only a
        message about a value or a version ("can't find the specified secret value for
        VersionId: AWSCURRENT") is looked into: a migration's batch reads of targets that do
        not exist yet get hundreds of plain not-founds, and describing each would double its
        calls (`surely`: look into it whatever the message). The state decides, never the
        message alone."""
        if code != "ResourceNotFoundException":
            return code
        if not surely and not re.search(r"value|version", message, re.IGNORECASE):
            return code
        try:
            meta = self.describe(name)
        except CliError:
            return code
        if meta.scheduled_for_deletion or meta.version_with(CURRENT) is not None:
            return code
        return NO_VALUE

    def create(
        self,
        name: str,
        value: SecretValue,
        *,
        token: str,
        description: str | None = None,
        kms_key_id: str | None = None,
        tags: dict[str, str] | None = None,
        replica_regions: Sequence[str] = (),
    ) -> str:
        args: CreateSecretRequestTypeDef = {"Name": name, "ClientRequestToken": token}
        _set_value(args, value)
        if description:
            args["Description"] = description
        if kms_key_id:
            args["KmsKeyId"] = kms_key_id
        if tags:
            args["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
        if replica_regions:
            args["AddReplicaRegions"] = [{"Region": r} for r in replica_regions]
        with self._errors(name):
            return str(self.client.create_secret(**args)["VersionId"])

    def put(
        self, name: str, value: SecretValue, *, token: str, stages: Sequence[str] | None = None
    ) -> SecretVersion:
        args: PutSecretValueRequestTypeDef = {"SecretId": name, "ClientRequestToken": token}
        _set_value(args, value)
        if stages is not None:
            args["VersionStages"] = list(stages)
        with self._errors(name):
            reply = self.client.put_secret_value(**args)
        # VersionStages: "the staging labels that are currently attached to this version" -
        # for a token that matched an existing version, that version's labels, unchanged.
        return SecretVersion(str(reply["VersionId"]), tuple(reply.get("VersionStages") or ()))

    # -- metadata ---------------------------------------------------------------------------
    def describe(self, name: str) -> SecretMetadata:
        with self._errors(name):
            return metadata_from(self.client.describe_secret(SecretId=name))

    def versions(self, name: str) -> list[SecretVersion]:
        found: list[SecretVersion] = []
        args: ListSecretVersionIdsRequestTypeDef = {
            "SecretId": name,
            "IncludeDeprecated": True,
            "MaxResults": 100,
        }
        with self._errors(name):
            while True:
                page = self.client.list_secret_version_ids(**args)
                for v in page["Versions"]:  # promised (backends/replies.py)
                    found.append(
                        SecretVersion(
                            version_id=v["VersionId"],
                            stages=tuple(v.get("VersionStages", ())),
                            created=v.get("CreatedDate"),
                            last_accessed=v.get("LastAccessedDate"),
                        )
                    )
                if not page.get("NextToken"):
                    break
                args["NextToken"] = page["NextToken"]
        found.sort(key=lambda v: v.created or datetime.min, reverse=True)
        return found

    def list(self, prefix: str = "", *, include_deleted: bool = False) -> Iterator[SecretMetadata]:
        args: ListSecretsRequestTypeDef = {
            "MaxResults": LIST_PAGE,
            "IncludePlannedDeletion": include_deleted,
            "SortOrder": "asc",
        }
        if prefix:
            args["Filters"] = [{"Key": "name", "Values": [prefix]}]
        seen: set[str] = set()
        with self._errors():
            while True:
                page = self.client.list_secrets(**args)
                for entry in page["SecretList"]:  # promised (backends/replies.py)
                    # The name filter matches prefixes of words too; keep exact prefixes only.
                    # A name listed twice (a page repeated by a lying or buggy endpoint) is one
                    # secret: twice, it would be printed twice, or rotated twice at once.
                    if entry["Name"].startswith(prefix) and entry["Name"] not in seen:
                        seen.add(entry["Name"])
                        yield metadata_from(entry)
                token = page.get("NextToken")
                if not token:
                    return
                args["NextToken"] = token

    def update(
        self, name: str, *, description: str | None = None, kms_key_id: str | None = None
    ) -> None:
        args: UpdateSecretRequestTypeDef = {"SecretId": name}
        if description is not None:
            args["Description"] = description
        if kms_key_id is not None:
            args["KmsKeyId"] = kms_key_id
        if len(args) > 1:
            with self._errors(name):
                self.client.update_secret(**args)

    def tag(self, name: str, tags: dict[str, str]) -> None:
        if tags:
            with self._errors(name):
                self.client.tag_resource(
                    SecretId=name, Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())]
                )

    def untag(self, name: str, keys: Iterable[str]) -> None:
        keys = list(keys)
        if keys:
            with self._errors(name):
                self.client.untag_resource(SecretId=name, TagKeys=keys)

    def move_stage(
        self, name: str, stage: str, *, to_version: str | None, from_version: str | None
    ) -> None:
        args: UpdateSecretVersionStageRequestTypeDef = {"SecretId": name, "VersionStage": stage}
        if to_version:
            args["MoveToVersionId"] = to_version
        if from_version:
            args["RemoveFromVersionId"] = from_version
        with self._errors(name):
            self.client.update_secret_version_stage(**args)

    # -- lifecycle --------------------------------------------------------------------------
    def delete(
        self, name: str, *, recovery_days: int | None = 30, force: bool = False
    ) -> datetime | None:
        args: DeleteSecretRequestTypeDef = {"SecretId": name}
        if force:
            args["ForceDeleteWithoutRecovery"] = True
        elif recovery_days is not None:
            args["RecoveryWindowInDays"] = recovery_days
        with self._errors(name):
            response = self.client.delete_secret(**args)
        deletion = response.get("DeletionDate")
        return deletion if isinstance(deletion, datetime) else None

    def restore(self, name: str) -> None:
        with self._errors(name):
            self.client.restore_secret(SecretId=name)

    # -- rotation and replication -------------------------------------------------------------
    def rotate_managed(self, name: str) -> str | None:
        """Start the configured rotation Lambda; returns the new version id."""
        with self._errors(name):
            response = self.client.rotate_secret(SecretId=name)
        version = response.get("VersionId")
        return str(version) if version else None

    def add_replicas(
        self,
        name: str,
        regions: Sequence[str],
        kms_key_id: str | None = None,
        *,
        force_overwrite: bool = False,
    ) -> tuple[Replica, ...]:
        """ReplicateSecretToRegions; returns every replica's status as AWS answers it (a
        replica can be `Failed` at once, e.g. "Secret with this name already exists in this
        region", unless `force_overwrite` replaces that secret)."""
        replicas: list[ReplicaRegionTypeTypeDef] = []
        for region in regions:
            replica: ReplicaRegionTypeTypeDef = {"Region": region}
            if kms_key_id:
                replica["KmsKeyId"] = kms_key_id
            replicas.append(replica)
        with self._errors(name):
            response = self.client.replicate_secret_to_regions(
                SecretId=name,
                AddReplicaRegions=replicas,
                ForceOverwriteReplicaSecret=force_overwrite,
            )
        return _replicas(response)

    def describe_in(self, name: str, region: str) -> SecretMetadata | None:
        """DescribeSecret of `name` in `region` (a replica, or another secret of that name),
        None when there is none."""
        client = self.target.client("secretsmanager", region=region, bulk=self.bulk)
        with self._errors(name):
            try:
                return metadata_from(client.describe_secret(SecretId=name))
            except Exception as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    return None
                raise

    def remove_replicas(self, name: str, regions: Sequence[str]) -> None:
        with self._errors(name):
            self.client.remove_regions_from_replication(
                SecretId=name, RemoveReplicaRegions=list(regions)
            )

    def generate_password(
        self,
        *,
        length: int,
        exclude_characters: str = "",
        exclude_punctuation: bool = False,
        exclude_lowercase: bool = False,
        exclude_uppercase: bool = False,
        exclude_numbers: bool = False,
    ) -> SecretValue:
        """GetRandomPassword with every character class switchable (used by `rotate`, which
        turns off a class that `--exclude-characters` empties instead of failing)."""
        args: GetRandomPasswordRequestTypeDef = {
            "PasswordLength": length,
            "ExcludePunctuation": exclude_punctuation,
            "ExcludeLowercase": exclude_lowercase,
            "ExcludeUppercase": exclude_uppercase,
            "ExcludeNumbers": exclude_numbers,
            "RequireEachIncludedType": True,
        }
        if exclude_characters:
            args["ExcludeCharacters"] = exclude_characters
        with self._errors():
            return SecretValue(str(self.client.get_random_password(**args)["RandomPassword"]))


def _set_value(
    args: CreateSecretRequestTypeDef | PutSecretValueRequestTypeDef, value: SecretValue
) -> None:
    """The value's one parameter: SecretBinary for bytes, SecretString for text."""
    if value.is_binary:
        args["SecretBinary"] = value.data()
    else:
        args["SecretString"] = value.text()


def name_from_id(secret_id: str) -> str:
    """A secret's name from its name or its ARN (`...:secret:<name>-XXXXXX`)."""
    if ":secret:" in secret_id:
        return secret_id.split(":secret:", 1)[1][:-7]
    return secret_id
