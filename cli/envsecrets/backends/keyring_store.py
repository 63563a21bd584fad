"""The OS keychain as a secret store, for an environment with `backend = "keyring"`.

A developer's local secrets (`local/api/stripe-key`) live in the OS keychain (macOS Keychain,
Windows Credential Locker, Secret Service on Linux) through the `keyring` library, with the same
commands as AWS: set/get/list/delete/restore/diff. Each secret is one keyring entry holding a
small JSON record (versions with their stages, description, tags, deletion date); keyring has no
way to list entries, so each environment also keeps an index entry with its names.

Concurrency: every read-modify-write (a secret's record, and the index with it) runs under one
lock per user, held across threads (a mutex) and processes (a lock file at a fixed place per
user, through `filelock`), so that eight writers in one migration, or two migrations at once,
lose no entry; reads take it too, because some backends (keyrings.alt's file backend) rewrite
one file for every change and a reader could meet half of it. The index can still miss a name
(an entry written by an older version, or a run killed between the two writes): any read or
write of an existing entry puts its name back, so re-running the migration or touching the
secret repairs it.

Limits, compared with Secrets Manager: no KMS keys, replicas or managed rotation; only versions
that carry a stage (AWSCURRENT/AWSPREVIOUS/AWSPENDING) are kept; Windows Credential Locker holds
entries of about 2.5 KB, so large values need another backend there. Rotation by hand works
offline: `--generate` draws passwords locally under GetRandomPassword's rules, and labels move
as in Secrets Manager (a move from a version that no longer holds the label is refused).

Over 500 lines on purpose: one class implements the whole SecretStore protocol against one
keyring, and its record format, index and lock are read and written only together.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from envsecrets.core.passwords import LocalPasswords
from envsecrets.core.store import (
    CURRENT,
    PREVIOUS,
    BatchRead,
    SecretMetadata,
    SecretVersion,
    StoredValue,
)
from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode

SERVICE = "envsecrets"
INDEX_PREFIX = "index:"  # ':' cannot occur in a secret name, so index entries never collide
LOCK_TIMEOUT = 60.0  # seconds to wait for another process's write before giving up

P = ParamSpec("P")
R = TypeVar("R")


def keyring_backend_error(detail: str) -> CliError:
    """The one message for "there is no usable OS keyring here"."""
    return CliError(
        ExitCode.USAGE,
        f"no usable OS keyring backend: {detail}",
        "install one (macOS Keychain and Windows work out of the box; on Linux run a Secret "
        "Service such as gnome-keyring), or choose one with PYTHON_KEYRING_BACKEND",
    )


def usable_keyring() -> Any:
    """The keyring backend `keyring` chose, refused when it is the `fail` or `null` one."""
    import keyring
    from keyring.backends import fail, null

    backend = keyring.get_keyring()
    chosen = _backend_name(backend)
    if isinstance(backend, fail.Keyring | null.Keyring):
        raise keyring_backend_error(f"keyring chose {chosen}")
    if chosen.startswith("keyrings.alt.") and not os.environ.get("PYTHON_KEYRING_BACKEND"):
        # keyrings.alt's file backends keep entries in a (plain or weakly encrypted) file: fine
        # for tests and headless machines when asked for by name, never picked silently.
        raise keyring_backend_error(
            f"keyring picked the file-based {chosen}; name it in PYTHON_KEYRING_BACKEND "
            "to use it on purpose"
        )
    return backend


def _backend_name(backend: Any) -> str:
    kind = type(backend)
    return f"{kind.__module__}.{kind.__qualname__}"


def lock_path() -> Path:
    """The lock file every keyring store of this user shares: one, because a backend may keep
    every environment in one file (keyrings.alt's), and one whatever the environment
    variables: two migrations run with different XDG_CACHE_HOME (or HOME, or TMPDIR) write
    into the same keyring, and with a lock each they lost 79 of 80 names from the index. So
    it sits at a fixed place per uid: `/dev/shm/envsecrets-<uid>/` (memory, never aged away;
    the folder `secrets run` also uses without XDG_RUNTIME_DIR), else `/tmp/envsecrets-<uid>/`.
    On Windows, without uids, under the user's profile folder."""
    getuid = getattr(os, "getuid", None)
    if getuid is None:
        return Path.home() / "AppData" / "Local" / "envsecrets" / "keyring.lock"
    base = SHARED_MEMORY if SHARED_MEMORY.is_dir() else SHARED_TEMP
    return base / f"envsecrets-{getuid()}" / "keyring.lock"


# Shared by every user: the lock's folder in them is made 0700 and checked to be ours.
SHARED_MEMORY, SHARED_TEMP = Path("/dev/shm"), Path("/tmp")  # noqa: S108


def _private_folder(folder: Path) -> None:
    """Create `folder` 0700 (its parent must exist), or check that the one there is ours:
    in a shared place someone else could have made the name first (a symlink, their folder),
    and the lock file is opened for writing in it."""
    try:
        folder.mkdir(mode=0o700)
        folder.chmod(0o700)  # whatever the umask
    except FileExistsError:
        pass  # there already, or made this instant by another secrets process
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise CliError(
            ExitCode.REFUSED,
            f"refusing to lock the keyring in {folder}: it is not a folder of yours",
            f"remove {folder} if you do not know it, then run the command again",
        )
    if info.st_mode & 0o077:
        folder.chmod(0o700)


class _KeyringLock:
    """One user's keyring lock: a mutex for the threads of this process (a quick hand-over),
    and inside it the lock file for other processes. Re-entrant, so that a write can call
    the reads it is made of."""

    _mutex = threading.RLock()
    _depth = 0
    _file: Any = None

    @classmethod
    @contextmanager
    def held(cls) -> Iterator[None]:
        with cls._mutex:
            if cls._depth == 0:
                cls._file = cls._acquire_file()
            cls._depth += 1
            try:
                yield
            finally:
                cls._depth -= 1
                if cls._depth == 0:
                    cls._file.release()
                    cls._file = None

    @staticmethod
    def _acquire_file() -> Any:
        from filelock import FileLock, Timeout

        path = lock_path()
        try:
            path.parent.parent.mkdir(parents=True, exist_ok=True)  # Windows' profile folders
            _private_folder(path.parent)
            lock = FileLock(str(path), timeout=LOCK_TIMEOUT, mode=0o600, thread_local=False)
            lock.acquire()
        except Timeout:
            raise CliError(
                ExitCode.REFUSED,
                f"the OS keyring is busy: another secrets process held {path} for "
                f"{LOCK_TIMEOUT:.0f} s",
                "wait for the other secrets command to finish, then run this one again",
            ) from None
        except OSError as exc:
            raise CliError(
                ExitCode.USAGE,
                f"cannot create the keyring lock file {path}: {exc.strerror}",
                f"make {path.parent} a folder you can write (mode 0700), so that concurrent "
                "writes to the keyring are serialised",
            ) from None
        return lock


def _serialised(method: Callable[P, R]) -> Callable[P, R]:
    """Run a read-modify-write under the keyring lock, from its first read to its last write."""

    @wraps(method)
    def locked(*args: P.args, **kwargs: P.kwargs) -> R:
        with _KeyringLock.held():
            return method(*args, **kwargs)

    return locked


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _moment(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) else None


class KeyringStore:
    """`SecretStore` on the OS keychain for one environment."""

    def __init__(self, env: str) -> None:
        self.env = env
        self._backend: Any = None
        self._indexed: set[str] = set()  # names seen in the index during this store's life

    @staticmethod
    def _locked() -> AbstractContextManager[None]:
        return _KeyringLock.held()

    # -- raw entries --------------------------------------------------------------------------
    @property
    def backend(self) -> Any:
        if self._backend is None:
            self._backend = usable_keyring()
        return self._backend

    def _get(self, user: str) -> Any:
        from keyring.errors import KeyringError

        try:
            with self._locked():
                raw = self.backend.get_password(SERVICE, user)
        except KeyringError as exc:
            raise keyring_backend_error(
                f"{_backend_name(self.backend)} failed: {type(exc).__name__}"
            ) from None
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise CliError(
                ExitCode.FAILED,
                f"keyring entry '{user}' of service '{SERVICE}' is not an envsecrets record",
                "remove it with your keychain tool, or restore it from a backup",
            ) from None

    def _put(self, user: str, record: Any) -> None:
        from keyring.errors import KeyringError

        try:
            with self._locked():
                self.backend.set_password(SERVICE, user, json.dumps(record, sort_keys=True))
        except KeyringError as exc:
            raise keyring_backend_error(
                f"{_backend_name(self.backend)} failed: {type(exc).__name__}"
            ) from None

    def _drop(self, user: str) -> None:
        from keyring.errors import KeyringError, PasswordDeleteError

        try:
            with self._locked():
                self.backend.delete_password(SERVICE, user)
        except PasswordDeleteError:
            pass
        except KeyringError as exc:
            raise keyring_backend_error(
                f"{_backend_name(self.backend)} failed: {type(exc).__name__}"
            ) from None

    def _index(self) -> list[str]:
        names = self._get(INDEX_PREFIX + self.env)
        return [str(n) for n in names] if isinstance(names, list) else []

    def _set_index(self, names: Iterable[str]) -> None:
        self._put(INDEX_PREFIX + self.env, sorted(set(names)))

    def _index_add(self, name: str) -> None:
        """Make sure the index lists `name` (an existing entry): the read-modify-write of the
        index runs under the lock, so concurrent writers cannot drop each other's names."""
        if name in self._indexed:
            return
        with self._locked():
            names = self._index()
            if name not in names:
                self._set_index([*names, name])
        self._indexed.add(name)

    def _index_remove(self, name: str) -> None:
        with self._locked():
            self._set_index(n for n in self._index() if n != name)
        self._indexed.discard(name)

    def _entry(self, name: str) -> Any:
        """A secret's record as stored (None when absent), its name indexed if it exists."""
        record = self._get(name)
        if isinstance(record, dict):
            self._index_add(name)
        return record

    def _record(self, name: str, *, deleted_ok: bool = False) -> dict[str, Any]:
        record = self._entry(name)
        if not isinstance(record, dict):
            raise CliError(
                ExitCode.NOT_FOUND,
                f"secret '{name}' not found in the OS keyring",
                f"`secrets list {self.env}/` shows what exists",
            )
        if record.get("deleted_on") and not deleted_ok:
            raise CliError(
                ExitCode.REFUSED,
                f"secret '{name}' is scheduled for deletion",
                f"`secrets restore {name}` cancels the deletion",
            )
        return record

    # -- values -------------------------------------------------------------------------------
    @staticmethod
    def _encode(value: SecretValue) -> dict[str, str]:
        if value.is_binary:
            return {"binary": base64.b64encode(value.data()).decode()}
        return {"text": value.text()}

    @staticmethod
    def _decode(version: dict[str, Any]) -> SecretValue:
        if "binary" in version:
            return SecretValue(base64.b64decode(version["binary"]))
        return SecretValue(str(version.get("text", "")))

    def _stored(self, name: str, version: dict[str, Any]) -> StoredValue:
        return StoredValue(
            name=name,
            value=self._decode(version),
            version_id=str(version["id"]),
            stages=tuple(version.get("stages", ())),
            created=_moment(version.get("created")),
        )

    def read(
        self, name: str, *, stage: str | None = CURRENT, version_id: str | None = None
    ) -> StoredValue:
        record = self._record(name)
        for version in record["versions"]:
            if (version_id and version["id"] == version_id) or (
                not version_id and (stage or CURRENT) in version.get("stages", ())
            ):
                return self._stored(name, version)
        which = f"version {version_id}" if version_id else f"stage {stage}"
        raise CliError(
            ExitCode.NOT_FOUND,
            f"secret '{name}' has no {which}",
            f"`secrets history {name}` lists its versions",
        )

    def read_many(self, names: Sequence[str]) -> BatchRead:
        values: dict[str, StoredValue] = {}
        errors: dict[str, str] = {}
        for name in names:
            try:
                values[name] = self.read(name)
            except CliError as exc:
                errors[name] = (
                    "ResourceNotFoundException" if exc.code == ExitCode.NOT_FOUND else exc.code.name
                )
        return BatchRead(values=values, errors=errors)

    def read_each(self, names: Iterable[str]) -> Iterator[BatchRead]:
        # The keychain answers one entry at a time, locally: one BatchRead per name.
        for name in names:
            yield self.read_many([name])

    @_serialised
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
        self._indexed.discard(name)  # look at the index itself: another process may have changed it
        existing = self._entry(name)
        if isinstance(existing, dict):
            versions = existing.get("versions", [])
            if any(v.get("id") == token for v in versions):
                return token  # a retry of the same create, as ClientRequestToken makes it in AWS
            raise CliError(
                ExitCode.REFUSED,
                f"secret '{name}' already exists in the OS keyring",
                f"`secrets set {name}` puts a new version",
            )
        now = _stamp(_now())
        record = {
            "name": name,
            "description": description,
            "created": now,
            "last_changed": now,
            "tags": dict(tags or {}),
            "versions": [{"id": token, "stages": [CURRENT], "created": now, **self._encode(value)}],
        }
        self._put(name, record)
        self._index_add(name)
        return token

    @_serialised
    def put(
        self, name: str, value: SecretValue, *, token: str, stages: Sequence[str] | None = None
    ) -> SecretVersion:
        record = self._record(name)
        versions: list[dict[str, Any]] = record["versions"]
        existing = next((v for v in versions if v["id"] == token), None)
        if existing is not None:
            # As in Secrets Manager: the same token again changes nothing.
            return SecretVersion(token, tuple(existing["stages"]))
        wanted = list(stages) if stages is not None else [CURRENT]
        now = _stamp(_now())
        versions.insert(0, {"id": token, "stages": [], "created": now, **self._encode(value)})
        record["last_changed"] = now
        for stage in wanted:
            old = next((v["id"] for v in versions if stage in v["stages"]), None)
            self._move(record, stage, to_version=token, from_version=old)
        self._put(name, self._pruned(record))
        return SecretVersion(token, tuple(wanted))

    def _move(
        self,
        record: dict[str, Any],
        stage: str,
        *,
        to_version: str | None,
        from_version: str | None,
    ) -> None:
        versions: list[dict[str, Any]] = record["versions"]
        if stage == CURRENT and to_version and from_version and from_version != to_version:
            # As in Secrets Manager: the version losing AWSCURRENT becomes AWSPREVIOUS.
            for version in versions:
                if PREVIOUS in version["stages"]:
                    version["stages"].remove(PREVIOUS)
            for version in versions:
                if version["id"] == from_version:
                    version["stages"].append(PREVIOUS)
        for version in versions:
            if stage in version["stages"] and version["id"] != to_version:
                version["stages"].remove(stage)
            if version["id"] == to_version and stage not in version["stages"]:
                version["stages"].append(stage)

    @staticmethod
    def _pruned(record: dict[str, Any]) -> dict[str, Any]:
        # Only labelled versions are kept (at most current, previous, pending): keychain entries
        # are small, and an unlabelled version can only be read by its id.
        staged = [v for v in record["versions"] if v["stages"]]
        record["versions"] = staged
        return record

    # -- metadata -----------------------------------------------------------------------------
    def _metadata(self, name: str, record: dict[str, Any]) -> SecretMetadata:
        return SecretMetadata(
            name=name,
            description=record.get("description") or None,
            created=_moment(record.get("created")),
            last_changed=_moment(record.get("last_changed")),
            deleted_on=_moment(record.get("deleted_on")),
            tags=dict(record.get("tags") or {}),
            version_stages={v["id"]: tuple(v["stages"]) for v in record["versions"]},
        )

    def describe(self, name: str) -> SecretMetadata:
        return self._metadata(name, self._record(name, deleted_ok=True))

    def versions(self, name: str) -> list[SecretVersion]:
        record = self._record(name, deleted_ok=True)
        return [
            SecretVersion(v["id"], tuple(v["stages"]), _moment(v.get("created")))
            for v in record["versions"]
        ]

    def list(self, prefix: str = "", *, include_deleted: bool = False) -> Iterator[SecretMetadata]:
        for name in self._index():
            if not name.startswith(prefix):
                continue
            record = self._get(name)
            if not isinstance(record, dict):
                continue  # removed behind our back (e.g. in the keychain app)
            if record.get("deleted_on") and not include_deleted:
                continue
            yield self._metadata(name, record)

    @_serialised
    def update(
        self, name: str, *, description: str | None = None, kms_key_id: str | None = None
    ) -> None:
        if kms_key_id:
            raise CliError(
                ExitCode.USAGE,
                "the keyring backend has no KMS keys",
                "drop --kms-key for this environment (the OS keychain encrypts its entries)",
            )
        record = self._record(name)
        if description is not None:
            record["description"] = description
        self._put(name, record)

    @_serialised
    def tag(self, name: str, tags: dict[str, str]) -> None:
        record = self._record(name)
        record["tags"] = {**(record.get("tags") or {}), **tags}
        self._put(name, record)

    @_serialised
    def untag(self, name: str, keys: Iterable[str]) -> None:
        record = self._record(name)
        dropped = set(keys)
        record["tags"] = {k: v for k, v in (record.get("tags") or {}).items() if k not in dropped}
        self._put(name, record)

    @_serialised
    def move_stage(
        self, name: str, stage: str, *, to_version: str | None, from_version: str | None
    ) -> None:
        record = self._record(name)
        ids = {v["id"] for v in record["versions"]}
        for wanted in (to_version, from_version):
            if wanted and wanted not in ids:
                raise CliError(
                    ExitCode.NOT_FOUND,
                    f"secret '{name}' has no version {wanted}",
                    f"`secrets history {name}` lists its versions",
                )
        holder = next((v["id"] for v in record["versions"] if stage in v["stages"]), None)
        if to_version and holder not in (None, to_version, from_version):
            # As UpdateSecretVersionStage: the label moves only from the version named, so a
            # change made since it was read is seen (rotation's compare-and-swap).
            raise CliError(
                ExitCode.USAGE,
                f"secret '{name}': {stage} is on version {holder}, not {from_version or '-'}",
                f"`secrets history {name}` shows the labels",
            )
        if to_version is None:
            for version in record["versions"]:
                if version["id"] == from_version and stage in version["stages"]:
                    version["stages"].remove(stage)
        else:
            self._move(record, stage, to_version=to_version, from_version=from_version)
        self._put(name, self._pruned(record))

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
        """`--generate` offline: drawn locally under GetRandomPassword's rules."""
        return LocalPasswords().generate_password(
            length=length,
            exclude_characters=exclude_characters,
            exclude_punctuation=exclude_punctuation,
            exclude_lowercase=exclude_lowercase,
            exclude_uppercase=exclude_uppercase,
            exclude_numbers=exclude_numbers,
        )

    @_serialised
    def delete(
        self, name: str, *, recovery_days: int | None = 30, force: bool = False
    ) -> datetime | None:
        record = self._record(name, deleted_ok=True)
        if force:
            self._drop(name)
            self._index_remove(name)
            return None
        when = _now() + timedelta(days=recovery_days or 30)
        # The keychain cannot delete on a timer: the entry stays hidden until `restore` or a
        # `delete --force-now`; the date says when Secrets Manager would have dropped it.
        record["deleted_on"] = _stamp(when)
        self._put(name, record)
        return when

    @_serialised
    def restore(self, name: str) -> None:
        record = self._record(name, deleted_ok=True)
        record.pop("deleted_on", None)
        self._put(name, record)
