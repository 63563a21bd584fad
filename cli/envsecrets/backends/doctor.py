"""`secrets doctor`: what works and what does not, per environment, without changing anything.

Checks, in order (a failed step skips the steps that need it):
- identity: STS GetCallerIdentity through the environment's profile/role (needs no permission,
  so failing means the credentials, the profile or the role assumption are broken), and the
  account against `account_id`;
- region: the one the environment resolves to;
- KMS: kms:DescribeKey on `kms_key_id` (exists, enabled, for encryption);
- list: ListSecrets limited to the environment's prefix, one result;
- read and write, without reading or writing: GetSecretValue and PutSecretValue on a probe name
  that does not exist (`<env>/envsecrets-doctor-probe`). AWS authorizes a request before looking
  the secret up, so ResourceNotFoundException means "allowed" and AccessDenied means "denied".
  Limits: the probe shows what is allowed on names in general under `<env>/`; a policy that
  grants exact secrets only (`<env>/api/key-??????`, as `secrets policy` writes them) makes both
  probes show "denied" although those exact secrets work, and resource policies or SCPs that
  depend on tags cannot be probed this way. IAM's policy simulator would be more exact but needs
  iam:SimulatePrincipalPolicy, which developers rarely have. If the probe name exists, the
  write probe is skipped rather than risk a write.
- batch read: BatchGetSecretValue on the same probe name. It needs its own permission
  (secretsmanager:BatchGetSecretValue, on top of GetSecretValue for each secret); diff, copy,
  migrate's read-back, bulk rotation and `run` read in batches. Denied, they fall back to one
  GetSecretValue per secret (slower), so this is a warning, not a failure.
- declared: every secret `secrets.toml` lists for a function exists (DescribeSecret).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from envsecrets.backends.aws import AwsTarget, aws_errors, error_code, translate
from envsecrets.core.config import EnvironmentConfig, FunctionConfig
from envsecrets.errors import CliError

OK, FAIL, WARN, SKIP = "ok", "fail", "warn", "skip"
PROBE_PATH = "envsecrets-doctor-probe"
# A version id that cannot exist: PutSecretValue needs a ClientRequestToken of 32+ characters.
PROBE_TOKEN = "envsecrets-doctor-probe-0000000000000000"  # noqa: S105 - a request id, not a password


@dataclass(frozen=True)
class Check:
    """One line of the doctor's table."""

    env: str
    check: str
    status: str  # ok, fail, warn, skip
    detail: str
    # The exit code of the error behind a failure, when one was raised (6: AWS unavailable).
    code: int | None = None


def _allowed(call: Callable[[], Any], what: str) -> tuple[str, str]:
    """Run a probe expected to fail with ResourceNotFound; classify the outcome."""
    try:
        call()
    except Exception as exc:
        return _probe_failure(exc, what)
    return WARN, f"the probe succeeded unexpectedly ({what})"


def _probe_failure(exc: Exception, what: str) -> tuple[str, str]:
    code = error_code(exc)
    if code == "ResourceNotFoundException":
        return OK, f"allowed ({what})"
    if code in {"AccessDeniedException", "AccessDenied"}:
        return FAIL, f"denied ({what}: {code})"
    if code is None:
        message = exc.message if isinstance(exc, CliError) else translate_message(exc)
        return FAIL, f"could not check: {message}"
    return WARN, f"unexpected answer {code} ({what})"


def _batch_allowed(call: Callable[[], Any]) -> tuple[str, str]:
    """BatchGetSecretValue on a name that does not exist: allowed, it answers with the name
    in `Errors`; denied, the whole call is refused, and bulk reads then go one secret at a
    time (a warning: they still work)."""
    what = "BatchGetSecretValue"
    try:
        call()
    except Exception as exc:
        status, detail = _probe_failure(exc, what)
        if status == FAIL and detail.startswith("denied"):
            return WARN, (
                f"{detail}; diff, copy, migrate and bulk rotation read one secret at a time "
                "instead (slower): grant secretsmanager:BatchGetSecretValue"
            )
        return status, detail
    return OK, f"allowed ({what})"


def translate_message(exc: Exception) -> str:
    """The one translation's message for a botocore failure (network, credentials...)."""
    try:
        return translate(exc).message
    except Exception:
        return type(exc).__name__


def check_aws_environment(
    target: AwsTarget,
    settings: EnvironmentConfig,
    functions: Sequence[FunctionConfig],
) -> list[Check]:
    """All checks for one AWS environment; never raises for AWS failures, reports them."""
    from envsecrets.backends.identity import caller_arn

    env = settings.name
    checks: list[Check] = []

    def add(check: str, status: str, detail: str, code: int | None = None) -> None:
        checks.append(Check(env, check, status, detail, code))

    how = ", ".join(
        part
        for part in (
            f"profile {target.profile}" if target.profile else "",
            f"role {target.role_arn}" if target.role_arn else "",
        )
        if part
    )
    try:
        arn = caller_arn(target)
    except CliError as exc:
        add("identity", FAIL, exc.message + (f" (via {how})" if how else ""), exc.code)
        for later in (
            "region",
            "kms key",
            "list",
            "read",
            "batch read",
            "write",
            "declared secrets",
        ):
            add(later, SKIP, "needs a working identity")
        return checks
    account = arn.split(":")[4] if arn.count(":") >= 5 else "?"
    add("identity", OK, f"{arn}" + (f" (via {how})" if how else ""))
    if settings.account_id and settings.account_id != account:
        add(
            "account",
            FAIL,
            f"credentials are for account {account}, secrets.toml says {settings.account_id}",
        )
    try:
        region = target.region_name
        add("region", OK, region)
    except CliError as exc:
        add("region", FAIL, exc.message)
        return checks

    if settings.kms_key_id:
        add("kms key", *_check_kms(target, settings.kms_key_id))
    else:
        add("kms key", OK, "aws/secretsmanager (AWS managed)")

    sm = target.client("secretsmanager")
    prefix = f"{env}/"
    try:
        with aws_errors(side=env):
            listed = sm.list_secrets(
                MaxResults=1, Filters=[{"Key": "name", "Values": [prefix]}]
            ).get("SecretList", [])
        add("list", OK, f"allowed (ListSecrets {prefix}*{', found some' if listed else ''})")
    except CliError as exc:
        add("list", FAIL, exc.message, exc.code)

    probe = f"{env}/{PROBE_PATH}"
    add("read", *_allowed(lambda: sm.get_secret_value(SecretId=probe), "GetSecretValue"))
    add("batch read", *_batch_allowed(lambda: sm.batch_get_secret_value(SecretIdList=[probe])))
    exists, _ = _allowed(lambda: sm.describe_secret(SecretId=probe), "DescribeSecret")
    if exists == OK:  # not found: the write probe cannot write
        add(
            "write",
            *_allowed(
                lambda: sm.put_secret_value(
                    SecretId=probe, SecretString="-", ClientRequestToken=PROBE_TOKEN
                ),
                "PutSecretValue",
            ),
        )
    else:
        add("write", SKIP, f"{probe} exists or cannot be described; not probing writes")

    declared = sorted({f"{env}/{path}" for f in functions for path in f.secrets})
    missing: list[str] = []
    unknown: list[str] = []
    for name in declared:
        try:
            sm.describe_secret(SecretId=name)
        except Exception as exc:
            (missing if error_code(exc) == "ResourceNotFoundException" else unknown).append(name)
    if not declared:
        add("declared secrets", OK, "no functions declared")
    elif missing:
        add("declared secrets", FAIL, f"missing: {', '.join(missing)} (create with `secrets set`)")
    elif unknown:
        add("declared secrets", WARN, f"could not describe: {', '.join(unknown)}")
    else:
        add("declared secrets", OK, f"all {len(declared)} exist")
    return checks


def _check_kms(target: AwsTarget, key_id: str) -> tuple[str, str]:
    try:
        with aws_errors(side=target.label):
            meta = target.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]
    except CliError as exc:
        return FAIL, f"{key_id}: {exc.message}"
    state = meta.get("KeyState")
    usage = meta.get("KeyUsage")
    if state != "Enabled":
        return FAIL, f"{key_id} is {state}"
    if usage and usage != "ENCRYPT_DECRYPT":
        return FAIL, f"{key_id} is for {usage}, not encryption"
    return OK, f"{key_id} enabled"


def check_keyring_environment(settings: EnvironmentConfig) -> list[Check]:
    """A keyring environment: is there a usable OS keyring, and how many secrets it holds."""
    from envsecrets.backends.keyring_store import KeyringStore, usable_keyring

    env = settings.name
    try:
        backend = usable_keyring()
        count = sum(1 for _ in KeyringStore(env).list(f"{env}/"))
    except CliError as exc:
        return [Check(env, "keyring", FAIL, exc.message)]
    kind = type(backend)
    return [Check(env, "keyring", OK, f"{kind.__module__}.{kind.__qualname__}, {count} secrets")]
