"""The public Python API: open an environment, read and set its secrets, migrate into it.

    import envsecrets

    prod = envsecrets.open_environment("prod")           # settings from secrets.toml
    migration = prod.migrate_ssm("/app/prod", to="prod/app/", recursive=True)
    print(migration.plan().counts())                      # reads only: nothing written
    result = migration.apply(yes=True)                    # writes, then reads each one back
    result = migration.remove_sources()                   # only what verified and is unchanged
    print(result.counts(), result.exit_code)

The command line is built on these calls: every command's workspace opens its environments
as `Environment`s, `secrets get`/`set` are `Environment.get`/`set`, and `secrets migrate`
runs a `Migration`. So a script behaves like the commands it replaces: the same pacing at
AWS's quotas, idempotent writes, verification, and protected environments that need `yes=True`
(the script's `--yes`) or a `confirm` callback before a write.

Errors are `envsecrets.CliError` with `.code` (an `envsecrets.ExitCode`), `.message` and
`.hint`, never carrying a value: USAGE (2) bad input (a name, a prefix in another environment,
a malformed `.env`), NOT_FOUND (3) a missing secret, file, function or parameter path, REFUSED
(4) a protected environment without `yes=True` or a conflicting write, AUTH (5) credentials
or permissions, UNAVAILABLE (6) AWS unreachable or throttled after retries. A migration does
not raise for one item's failure: its `MigrationResult` says per item, and `exit_code` sums up.

Nothing here imports boto3 until an environment first talks to AWS.

One module of over 500 lines on purpose: it is the public API's one page (`help(envsecrets.api)`,
`pydoc`), and what it holds beyond the docstrings is the checks of what scripts pass in.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from envsecrets.core.config import EnvironmentConfig, find_config, load_config, validate_region
from envsecrets.core.names import NamePrefix, SecretName, validate_env
from envsecrets.core.store import CURRENT, StoredValue
from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode

if TYPE_CHECKING:
    from envsecrets.backends.aws import AwsTarget
    from envsecrets.backends.deadline import AwsDeadline
    from envsecrets.backends.envfile import EnvFileSource
    from envsecrets.backends.lambda_env import LambdaEnvSource
    from envsecrets.backends.quotas import RateLimiter
    from envsecrets.backends.ssm import SsmSource
    from envsecrets.core.migration import MigrationPlan, MigrationResult, MigrationSource
    from envsecrets.core.operations import SetOutcome
    from envsecrets.core.store import SecretStore

MAX_DESCRIPTION = 2048  # Secrets Manager's limit for a description
DEFAULT_CONCURRENCY = 8
DEFAULT_WRITE_RATE = 50.0  # CreateSecret/PutSecretValue per second: AWS's default quota

Confirm = Callable[[str], None]  # asks a question; returns to go ahead, raises to refuse
Progress = Callable[[int], None]  # called with 1 as each write finishes
S = TypeVar("S", bound="MigrationSource")


def open_environment(
    name: str,
    *,
    config: str | os.PathLike[str] | None = None,
    region: str | None = None,
    profile: str | None = None,
    role_arn: str | None = None,
    mfa_code: Callable[[str], str] | None = None,
    timeout: float | None = None,
) -> Environment:
    """Open environment `name` (`prod`, `dev-alice`) the way the `secrets` command does.

        Its settings come from `secrets.toml`: the file `config` names, or the nearest one at or
        above the current folder; without one, any environment works with AWS's default session
        (`prod`, `production` and `prod-*` are protected). `region`, `profile` and `role_arn`
        override the file, like `--region` and `--profile`. `mfa_code` is asked for a code when
        the environment has an `mfa_serial` (it gets the serial). `timeout` is how many seconds
    each AWS call may take, retries included, before it fails with UNAVAILABLE (default: the
    `ENVSECRETS_TIMEOUT` variable, else 30). Nothing is read from AWS yet.

        Raises CliError: USAGE for a malformed name or `secrets.toml`, or an environment that
        `secrets.toml` does not declare.
    """
    validate_env(name)
    if region is not None:
        validate_region(region, "region")  # as --region: "us-east-1 " is USAGE, not exit 1
    path = find_config(Path.cwd(), Path(config) if config is not None else None)
    settings = load_config(path).environment(name)
    if role_arn is not None:
        settings = replace(settings, role_arn=role_arn)
    from envsecrets.backends.deadline import AwsDeadline, timeout_from

    return Environment(
        settings,
        region=region,
        profile=profile,
        mfa_code=mfa_code,
        deadline=AwsDeadline(timeout_from(timeout)),
    )


class Environment:
    """One environment: its settings, its store (Secrets Manager, or the OS keychain with
    `backend = "keyring"`), and the calls that read, write and migrate into it. Made by
    `open_environment`; secret names are full names in it (`prod/api/stripe-key`)."""

    def __init__(
        self,
        settings: EnvironmentConfig,
        *,
        region: str | None = None,
        profile: str | None = None,
        mfa_code: Callable[[str], str] | None = None,
        deadline: AwsDeadline | None = None,
    ) -> None:
        self.settings = settings
        self._region = region
        self._profile = profile
        self._mfa_code = mfa_code
        self._deadline = deadline
        self._aws: AwsTarget | None = None

    @property
    def name(self) -> str:
        """The environment's name: `prod`."""
        return self.settings.name

    @property
    def protected(self) -> bool:
        """Whether writes need `yes=True` or a `confirm` callback."""
        return self.settings.protected

    def __repr__(self) -> str:
        return f"Environment({self.name!r}, protected={self.protected})"

    # -- reading and writing ------------------------------------------------------------------
    def get(
        self,
        name: str,
        *,
        field: str | None = None,
        stage: str | None = None,
        version_id: str | None = None,
    ) -> StoredValue:
        """Secret `name`'s current version (or the one `stage` labels, or `version_id`):
        `.value` is a SecretValue (`.text()`, `.data()`), with `.version_id` and `.stages`.
        `field` reads one key of a JSON object secret.

        Raises CliError: NOT_FOUND when the secret or version does not exist, USAGE for a bad
        name, a name in another environment, or a missing JSON key; REFUSED when the secret
        is scheduled for deletion.
        """
        if stage and version_id:
            raise CliError(
                ExitCode.USAGE,
                "a version stage and a version id cannot be used together",
                "keep one: a version id picks a version, a stage a label such as AWSPREVIOUS "
                "(`secrets history NAME` lists both)",
            )
        secret = self._name(name)
        stored = self._store().read(str(secret), stage=stage or CURRENT, version_id=version_id)
        return replace(stored, value=stored.value.field(field)) if field else stored

    def set(
        self,
        name: str,
        value: str | bytes | SecretValue,
        *,
        field: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        kms_key_id: str | None = None,
        force: bool = False,
        yes: bool = False,
        confirm: Confirm | None = None,
    ) -> SetOutcome:
        """Create secret `name` or put a new version holding `value` (text, or bytes stored
        as binary); `field` sets one key of a JSON object secret, keeping the others.

        `value` is a str, bytes or a SecretValue, nothing else: a number, None or a dict
        raises CliError USAGE naming its type. Nothing is converted for you, since more than
        one text could be meant (`5432` or `5432.0`, key order, spacing): pass `str(port)`,
        or `json.dumps(settings)` to store a dict as a JSON object secret.

        The same value as the current one writes nothing (`action` "unchanged") unless
        `force`. A write that a protected environment must confirm goes ahead with `yes=True`,
        or when `confirm(question)` returns. Tags and description are set before the value,
        and the write's ClientRequestToken comes from the name and the value, so a retry
        never makes a second version.

        Raises CliError: USAGE for a bad name, a value of another type, an empty or too
        large value, a description over 2,048 characters; REFUSED when a protected
        environment was not confirmed or the secret is scheduled for deletion.
        """
        from envsecrets.core.operations import SetOptions, apply_set, plan_set

        secret = self._name(name)
        for what, given in (("description", description), ("field", field)):
            if given is not None:
                _check_text(what, given)
        if description is not None and len(description) > MAX_DESCRIPTION:
            # Checked before anything is written: AWS would refuse it after the value was put.
            raise CliError(
                ExitCode.USAGE,
                f"the description is {len(description)} characters; AWS allows {MAX_DESCRIPTION}",
                f"shorten the description to at most {MAX_DESCRIPTION} characters",
            )
        wanted = value if isinstance(value, SecretValue) else SecretValue(value)
        store = self._store()
        plan = plan_set(store, secret, wanted, field_key=field, force=force)
        if plan.action != "unchanged":
            verb = "create" if plan.action == "create" else "put a new version of"
            self._allow(f"{verb} {secret}?", yes=yes, confirm=confirm)
        elif description is not None or tags:
            # The value is unchanged but the description or tags still get written.
            self._allow(f"update the description/tags of {secret}?", yes=yes, confirm=confirm)
        options = SetOptions(description=description, tags=dict(tags or {}), kms_key_id=kms_key_id)
        return replace(apply_set(store, plan, self.settings, options), stored=plan.value)

    # -- migrating --------------------------------------------------------------------------
    def migrate_ssm(
        self,
        path: str,
        *,
        to: str | None = None,
        recursive: bool = False,
        overwrite: bool = False,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_write_rate: float = DEFAULT_WRITE_RATE,
    ) -> Migration[SsmSource]:
        """A migration of the Parameter Store parameters under `path` (its direct children,
        or the whole tree with `recursive`; `path` may name one parameter) to the prefix `to`
        (`prod/app/`; default: the environment's root), in this environment's account and
        region. `/app/prod/db/password` becomes `<to>db/password`. Nothing is read yet."""
        from envsecrets.backends.ssm import SsmSource

        return self._migration(
            lambda: SsmSource(self._target(), path, recursive=recursive, pool=concurrency),
            to,
            overwrite=overwrite,
            concurrency=concurrency,
            max_write_rate=max_write_rate,
        )

    def migrate_env_file(
        self,
        path: str | os.PathLike[str],
        *,
        to: str | None = None,
        keep_case: bool = False,
        overwrite: bool = False,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_write_rate: float = DEFAULT_WRITE_RATE,
    ) -> Migration[EnvFileSource]:
        """A migration of a `.env` file's variables (parsed by python-dotenv) to the prefix
        `to`: `STRIPE_SECRET_KEY` becomes `<to>stripe-secret-key` (`keep_case` keeps it).

        Raises CliError at once: NOT_FOUND without the file, USAGE when it is not a `.env`
        file or has a line dotenv cannot parse (naming the lines)."""
        from envsecrets.backends.envfile import EnvFileSource

        return self._migration(
            lambda: EnvFileSource(Path(path), keep_case=keep_case),
            to,
            overwrite=overwrite,
            concurrency=concurrency,
            max_write_rate=max_write_rate,
        )

    def migrate_lambda(
        self,
        function: str,
        *,
        keys: Sequence[str] | None = None,
        keep_case: bool = False,
        overwrite: bool = False,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_write_rate: float = DEFAULT_WRITE_RATE,
    ) -> Migration[LambdaEnvSource]:
        """A migration of a Lambda function's secret-looking environment variables (or
        exactly `keys`) to `<env>/<function>/<key>`. `remove_sources` removes them from the
        function only when every one of them verified.

        Raises CliError at once: NOT_FOUND when the function does not exist, USAGE when a
        key in `keys` is not one of its variables."""
        from envsecrets.backends.lambda_env import LambdaEnvSource

        return self._migration(
            lambda: LambdaEnvSource(self._target(), function, keys=keys, keep_case=keep_case),
            None,
            overwrite=overwrite,
            concurrency=concurrency,
            max_write_rate=max_write_rate,
            all_or_nothing=True,
        )

    def _migration(
        self,
        make_source: Callable[[], S],
        to: str | None,
        *,
        overwrite: bool,
        concurrency: int,
        max_write_rate: float,
        all_or_nothing: bool = False,
    ) -> Migration[S]:
        """The checks every migration gets before its source is opened (the prefix, the
        pacing), then the migration itself; nothing is read yet."""
        prefix = self._prefix(to)
        _check_pacing(concurrency, max_write_rate)
        return Migration(
            self,
            make_source(),
            prefix,
            overwrite=overwrite,
            concurrency=concurrency,
            max_write_rate=max_write_rate,
            all_or_nothing=all_or_nothing,
        )

    # -- what the command line shares (not part of the documented surface) ----------------
    def _target(self) -> AwsTarget:
        """How this environment is reached in AWS (made once; no call is made yet)."""
        if self._aws is None:
            from envsecrets.backends.aws import AwsTarget

            self._aws = AwsTarget(
                label=self.name,
                region=self._region or self.settings.region,
                profile=self._profile or self.settings.profile,
                role_arn=self.settings.role_arn,
                mfa_serial=self.settings.mfa_serial,
                mfa_code=self._mfa_code,
                deadline=self._deadline,
            )
        return self._aws

    def _store(
        self, *, bulk: bool = False, pool: int = 10, notify: Callable[[str], None] | None = None
    ) -> SecretStore:
        """The store this environment's secrets live in (`bulk`: tuned for many calls side
        by side; `notify` hears, once, that batch reads are denied and secrets are read one
        at a time)."""
        if self.settings.backend == "keyring":
            from envsecrets.backends.keyring_store import KeyringStore

            return KeyringStore(self.name)
        if self.settings.backend != "aws":
            raise CliError(
                ExitCode.USAGE,
                f"environment '{self.name}' uses backend '{self.settings.backend}', which this "
                "version cannot reach",
                'set backend = "aws" or backend = "keyring" in secrets.toml',
            )
        from envsecrets.backends.secretsmanager import SecretsManagerStore

        return SecretsManagerStore(self._target(), bulk=bulk, pool=pool, notify=notify)

    @contextmanager
    def _paced(self, limiter: RateLimiter) -> Iterator[None]:
        """While the block runs, every AWS call of this environment (retries included, from
        any thread) waits its turn under `limiter`; afterwards the pacing is what it was, so
        a migration's `max_write_rate` does not slow the environment's later calls."""
        target = self._target()
        before, target.limiter = target.limiter, limiter
        try:
            yield
        finally:
            target.limiter = before

    def _allow(self, question: str, *, yes: bool, confirm: Confirm | None) -> None:
        """Go ahead with a write the environment's protection asks about, or refuse."""
        if yes or not self.protected:
            return
        if confirm is None:
            raise CliError(
                ExitCode.REFUSED,
                f"'{self.name}' is a protected environment: {question} needs confirmation",
                "pass yes=True (the script's --yes), or a confirm callback that asks",
            )
        confirm(question)

    def _name(self, name: str) -> SecretName:
        _check_text("name", name)
        secret = SecretName.parse(name)
        if secret.env != self.name:
            raise CliError(
                ExitCode.USAGE,
                f"'{name}' is not in environment '{self.name}'",
                f"names are full names: {self.name}/<path>",
            )
        return secret

    def _prefix(self, to: str | None) -> NamePrefix:
        from envsecrets.core.migration import target_prefix

        prefix = target_prefix(to if to is not None else f"{self.name}/")
        if prefix.env != self.name:
            raise CliError(
                ExitCode.USAGE,
                f"'{to}' is not in environment '{self.name}'",
                f"migrate to a prefix such as {self.name}/app/",
            )
        return prefix


class Migration(Generic[S]):
    """Moving one source (Parameter Store, a `.env` file, a Lambda function) into an
    environment, in steps a script can stop between: `plan()` (reads only), `apply()` (writes
    and verifies), `remove_sources()` (deletes from the source what verified). Made by the
    environment's `migrate_*` calls; `source` is what it reads from.

    Re-running a migration after a crash or a failure finishes it: what already matches is
    `unchanged` and costs no write. Values never appear in plans, results or their JSON.
    """

    def __init__(
        self,
        environment: Environment,
        source: S,
        prefix: NamePrefix,
        *,
        overwrite: bool = False,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_write_rate: float = DEFAULT_WRITE_RATE,
        all_or_nothing: bool = False,
    ) -> None:
        from envsecrets.backends.quotas import RateLimiter

        _check_pacing(concurrency, max_write_rate)
        self.environment = environment
        self.source = source
        self._prefix = prefix
        self._overwrite = overwrite
        self._concurrency = concurrency
        self._all_or_nothing = all_or_nothing
        # This migration's own pacing: its calls (source reads, writes, checks, removals)
        # run at AWS's quotas with writes at `max_write_rate`; the environment's others not.
        self._limiter = RateLimiter.for_writes(max_write_rate)
        self._store = environment._store(bulk=True, pool=concurrency)
        self._plan: MigrationPlan | None = None
        self._result: MigrationResult | None = None

    @property
    def prefix(self) -> str:
        """Where the secrets go: `prod/app/`."""
        return str(self._prefix)

    @property
    def result(self) -> MigrationResult | None:
        """The outcome of `apply()` (and `remove_sources()`), once there is one."""
        return self._result

    def plan(self) -> MigrationPlan:
        """Read the source and what exists under the prefix, and say per item what `apply`
        will do: create, update (only with `overwrite`), unchanged, conflict (the target
        holds another value) or invalid (a key that cannot become a secret name, an empty
        value). Nothing is written. Made once; `apply` then writes exactly this plan."""
        if self._plan is None:
            from envsecrets.core.migration import plan_migration

            with self.environment._paced(self._limiter):
                self._plan = plan_migration(
                    self.source, self._store, self._prefix, overwrite=self._overwrite
                )
        return self._plan

    def apply(
        self, *, yes: bool = False, confirm: Confirm | None = None, progress: Progress | None = None
    ) -> MigrationResult:
        """Write the plan's creates and updates, `concurrency` at a time at AWS's write
        quota, then read every written secret back and compare it (`verified`).

        Without an earlier `plan()`, and when nothing needs confirming, each item is written
        as soon as it is planned, while the source is still being read (what `secrets
        migrate` does: a large migration runs at the write quota from its first second); the
        full plan is in `result.plan` either way. A protected environment needs `yes=True`,
        or `confirm(question)` to return (it is asked after planning, before any write).
        `progress(1)` is called as each write finishes. One item's failure does not stop the
        others: see `result.exit_code`.
        """
        if self._result is not None:
            raise CliError(
                ExitCode.USAGE,
                "this migration was applied already",
                "start a new one to run it again: what is done shows as unchanged",
            )
        if self.environment.protected and not yes:
            writes = self.plan().writes
            if writes:
                question = f"write {len(writes)} secrets under {self.prefix}?"
                self.environment._allow(question, yes=False, confirm=confirm)
        with self.environment._paced(self._limiter):
            self._result = self._apply(progress)
        return self._result

    def _apply(self, progress: Progress | None) -> MigrationResult:
        from envsecrets.core.migration import apply_migration, migrate_streaming, verify_migration

        settings = self.environment.settings
        if self._plan is None:
            result = migrate_streaming(
                self.source,
                self._store,
                self._prefix,
                settings,
                overwrite=self._overwrite,
                concurrency=self._concurrency,
                progress=progress,
            )
        else:
            result = apply_migration(
                self._plan,
                self._store,
                self.source,
                settings,
                concurrency=self._concurrency,
                progress=progress,
            )
        return verify_migration(result, self._store)

    def remove_sources(self) -> MigrationResult:
        """Delete from the source what is settled (verified, or found unchanged) and still
        holds the value that was migrated; the source is looked at again right before. Items
        kept (changed meanwhile, a full disk, a refused call) have `source_removed` False and
        make `exit_code` 1: their plaintext is still there. A Lambda function loses nothing
        unless every variable verified."""
        from envsecrets.core.migration import remove_sources

        if self._result is None:
            raise CliError(
                ExitCode.USAGE,
                "nothing to remove yet: apply() the migration first",
                "remove_sources() deletes only what apply() wrote and verified",
            )
        with self.environment._paced(self._limiter):
            self._result = remove_sources(
                self._result, self.source, all_or_nothing=self._all_or_nothing
            )
        return self._result


MAX_CONCURRENCY = 64  # as the command's --concurrency


def _check_text(what: str, given: object) -> None:
    """A name, field or description is text: scripts calling the API are not type-checked,
    and `b"dev/x"` or `5` would fail deep inside with a TypeError instead of saying so."""
    if not isinstance(given, str):
        raise CliError(
            ExitCode.USAGE,
            f"{what} is text (str), not {type(given).__name__}",
            f"pass the {what} as a str",
        )


def _check_pacing(concurrency: object, max_write_rate: object) -> None:
    """The checks the command's --concurrency and --max-rate get, for scripts: a rate of 0 or
    less would mean no pacing at all, a concurrency of 0 or -1 no writes or an error deep in
    a thread pool. Typed `object`: scripts calling the API are not type-checked."""
    if (
        isinstance(concurrency, bool)
        or not isinstance(concurrency, int)
        or not 1 <= concurrency <= MAX_CONCURRENCY
    ):
        raise CliError(
            ExitCode.USAGE,
            f"concurrency={concurrency!r}: writes in flight at once is a whole number from 1 "
            f"to {MAX_CONCURRENCY}",
            f"pass concurrency={DEFAULT_CONCURRENCY} (the default), as --concurrency does",
        )
    if (
        isinstance(max_write_rate, bool)
        or not isinstance(max_write_rate, int | float)
        or not 1 <= max_write_rate < float("inf")
    ):
        raise CliError(
            ExitCode.USAGE,
            f"max_write_rate={max_write_rate!r}: Secrets Manager writes per second is a number "
            "of at least 1",
            f"pass max_write_rate={DEFAULT_WRITE_RATE:g} (AWS's default quota), as --max-rate does",
        )
