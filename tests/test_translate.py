"""The one translation of AWS and SDK failures (backends/aws.py: translate): each family of
failure, its exit code, and its message and hint word for word, so that reshaping the code
cannot change what a user reads. The commands' tests reach most of these through the emulator
and the fault proxy; this table also covers the replies they cannot provoke."""

from __future__ import annotations

from typing import Any

import botocore.exceptions as bx
import pytest
from envsecrets.backends.aws import translate
from envsecrets.backends.replies import MalformedReply
from envsecrets.errors import CliError, ExitCode

NO_REGION = "pass --region, set AWS_REGION, or set region in secrets.toml"
NO_CREDENTIALS = "run `aws configure` or `aws sso login`, set AWS_PROFILE, or pass --profile"
UNREACHABLE = "check the network, AWS_ENDPOINT_URL and the region, then run the command again"
PERMISSIONS = "check the IAM permissions of the role or user (`secrets doctor` shows them)"
AGAIN = "run the command again in a moment"
USAGE = (
    "correct the name or option that AWS's reason points to, then run again "
    "(`secrets COMMAND --help` lists the options)"
)
# InvalidRequestException: "not valid for the current state of the resource".
IN_ITS_STATE = (
    "`secrets show dev/x` shows its state; AWS's reason says what is in the way (a deletion "
    "scheduled, a rotation or replication in progress, a secret managed by another service); "
    "run the command again once that has changed"
)
OTHER = "AWS's error code says why; `secrets doctor` checks identity, region and permissions"
FORMAT = "check the option's format (`secrets COMMAND --help` describes each option)"
VERSION_ID = (
    "--version-id takes a version id of 32 to 64 characters; `secrets history NAME` lists them"
)
QUOTA = (
    "waiting does not help: delete what is no longer used (secrets, old versions), or ask for "
    "a higher quota in the Service Quotas console"
)
KMS_KEY = (
    "the key must be enabled (not disabled or pending deletion) and its key policy must let you "
    "use it: check kms_key_id in secrets.toml or --kms-key (`aws kms describe-key --key-id KEY` "
    "shows its state)"
)
CLOCK = (
    "set the clock right (e.g. `timedatectl set-ntp true`, or the system's date and time "
    "settings), then run the command again"
)


def reply(
    code: str | None = None,
    message: str = "",
    *,
    status: int = 400,
    operation: str = "GetSecretValue",
    error: bool = True,
) -> bx.ClientError:
    response: dict[str, Any] = {"ResponseMetadata": {"HTTPStatusCode": status}}
    if error:
        response["Error"] = {"Code": code, "Message": message} if code else {"Message": message}
    return bx.ClientError(response, operation)  # type: ignore[arg-type]


HTML = "<html>\n  <body>" + "x" * 300 + "</body>\n</html>"

CASES: list[tuple[str, Exception, dict[str, str], tuple[int, str, str]]] = [
    ("no region", bx.NoRegionError(), {}, (2, "no AWS region configured", NO_REGION)),
    (
        "no region for an environment",
        bx.NoRegionError(),
        {"side": "prod"},
        (2, "no AWS region configured for environment 'prod'", NO_REGION),
    ),
    (
        "no credentials",
        bx.NoCredentialsError(),
        {},
        (5, "no AWS credentials found", NO_CREDENTIALS),
    ),
    (
        "partial credentials",
        bx.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
        {"side": "prod"},
        (5, "[prod] no AWS credentials found", NO_CREDENTIALS),
    ),
    (
        "unknown profile",
        bx.ProfileNotFound(profile="nope"),
        {"side": "dev"},
        (
            5,
            "[dev] The config profile (nope) could not be found",
            "check --profile and ~/.aws/config",
        ),
    ),
    (
        "endpoint unreachable",
        bx.EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
        {"subject": "dev/x"},
        (6, "AWS could not be reached after retries (EndpointConnectionError)", UNREACHABLE),
    ),
    (
        "connect timeout",
        bx.ConnectTimeoutError(endpoint_url="http://x"),
        {"side": "dev"},
        (6, "[dev] AWS could not be reached after retries (ConnectTimeoutError)", UNREACHABLE),
    ),
    (
        "read timeout",
        bx.ReadTimeoutError(endpoint_url="http://x"),
        {},
        (6, "AWS could not be reached after retries (ReadTimeoutError)", UNREACHABLE),
    ),
    (
        "connection closed",
        bx.ConnectionClosedError(endpoint_url="http://x"),
        {},
        (6, "AWS could not be reached after retries (ConnectionClosedError)", UNREACHABLE),
    ),
    (
        "http client error",
        bx.HTTPClientError(error="boom"),
        {},
        (6, "AWS could not be reached after retries (HTTPClientError)", UNREACHABLE),
    ),
    (
        "access denied",
        reply("AccessDeniedException", "User is not authorized"),
        {"subject": "dev/x", "side": "dev"},
        (5, "[dev] access denied to GetSecretValue 'dev/x' (AccessDeniedException)", PERMISSIONS),
    ),
    (
        "KMS denied",
        reply("KMSAccessDeniedException", "no"),
        {},
        (5, "access denied to GetSecretValue (KMSAccessDeniedException)", PERMISSIONS),
    ),
    (
        "secret not found",
        reply("ResourceNotFoundException", "Secrets Manager can't find the specified secret."),
        {"subject": "dev/x"},
        (3, "secret 'dev/x' not found", "`secrets list dev/` shows what exists"),
    ),
    (
        "not found without a subject",
        reply("ParameterNotFound", "Parameter /a not found."),
        {"side": "old"},
        (3, "[old] ParameterNotFound: Parameter /a not found.", "`secrets list` shows what exists"),
    ),
    (
        "throttled",
        reply("ThrottlingException", "Rate exceeded", operation="CreateSecret"),
        {"subject": "dev/x"},
        (
            6,
            "AWS kept throttling CreateSecret after retries (ThrottlingException)",
            "wait a moment and run again, or lower --concurrency",
        ),
    ),
    (
        "internal error",
        reply("InternalServiceError", "oops", status=500),
        {},
        (6, "AWS failed GetSecretValue after retries (InternalServiceError: oops)", AGAIN),
    ),
    (
        "5xx with an unknown code",
        reply("Whatever", "bad gateway", status=502),
        {"side": "dev"},
        (6, "[dev] AWS failed GetSecretValue after retries (Whatever: bad gateway)", AGAIN),
    ),
    (
        "5xx without a message",
        reply("Whatever", status=503),
        {},
        (6, "AWS failed GetSecretValue after retries (Whatever)", AGAIN),
    ),
    (
        "conflict on a secret",
        reply("ResourceExistsException", "already exists", operation="CreateSecret"),
        {"subject": "dev/x"},
        (
            4,
            "CreateSecret 'dev/x': ResourceExistsException: already exists",
            "another change got there first: `secrets show dev/x` shows the secret as it is "
            "now; run the command again once that change is done",
        ),
    ),
    (
        "conflict without a subject",
        reply("PreconditionNotMetException", "precondition", operation="PutSecretValue"),
        {},
        (
            4,
            "PutSecretValue: PreconditionNotMetException: precondition",
            "another change got there first: run the command again once it is done",
        ),
    ),
    (
        # Not "scheduled for deletion" from the message's words: the store decides that from
        # the secret's state (tests/test_delete_replicated.py); here it is AWS's refusal.
        "InvalidRequestException that mentions deletion",
        reply(
            "InvalidRequestException",
            "You can't delete a primary secret that is replicated to other Regions.",
            operation="DeleteSecret",
        ),
        {"subject": "dev/x"},
        (
            4,
            "DeleteSecret 'dev/x' was refused in the secret's current state: "
            "InvalidRequestException: You can't delete a primary secret that is replicated to "
            "other Regions.",
            IN_ITS_STATE,
        ),
    ),
    (
        "invalid request",
        reply(
            "InvalidRequestException",
            "You provided a parameter value that is not valid",
            operation="UpdateSecret",
        ),
        {"subject": "dev/x"},
        (
            4,
            "UpdateSecret 'dev/x' was refused in the secret's current state: "
            "InvalidRequestException: You provided a parameter value that is not valid",
            IN_ITS_STATE,
        ),
    ),
    (
        "validation",
        reply("ValidationException", "1 validation error", operation="ListSecrets"),
        {"side": "dev"},
        (2, "[dev] ListSecrets was refused: ValidationException: 1 validation error", USAGE),
    ),
    (
        "malformed policy",
        reply("MalformedPolicyDocumentException", "bad", operation="PutResourcePolicy"),
        {},
        (2, "PutResourcePolicy was refused: MalformedPolicyDocumentException: bad", USAGE),
    ),
    (
        "any other code",
        reply("ServiceQuotaExceeded", "odd", operation="CreateSecret"),
        {"subject": "dev/x"},
        (1, "CreateSecret 'dev/x' failed: ServiceQuotaExceeded: odd", OTHER),
    ),
    (
        "a quota reached: not throttling",
        reply("LimitExceededException", "too many secrets", operation="CreateSecret"),
        {"subject": "dev/x"},
        (
            1,
            "CreateSecret 'dev/x' would exceed an AWS quota (LimitExceededException: too many "
            "secrets)",
            QUOTA,
        ),
    ),
    (
        "the KMS key cannot encrypt",
        reply(
            "EncryptionFailure",
            "Secrets Manager can't encrypt the protected secret text using the provided KMS "
            "key. Check that the KMS key is available, enabled, and not in an invalid state.",
            operation="PutSecretValue",
        ),
        {"subject": "prod/db/password"},
        (
            5,
            "PutSecretValue 'prod/db/password': Secrets Manager could not use the secret's KMS "
            "key (EncryptionFailure: Secrets Manager can't encrypt the protected secret text "
            "using the provided KMS key. Check that the KMS key is available, enabled, and not "
            "in an invalid state.)",
            KMS_KEY,
        ),
    ),
    (
        "the KMS key cannot decrypt",
        reply("DecryptionFailure", "", operation="GetSecretValue"),
        {"side": "prod"},
        (
            5,
            "[prod] GetSecretValue: Secrets Manager could not use the secret's KMS key "
            "(DecryptionFailure)",
            KMS_KEY,
        ),
    ),
    (
        "a clock behind: signature expired (JSON services)",
        reply(
            "InvalidSignatureException",
            "Signature expired: 20261130T100000Z is now earlier than 20261130T120000Z "
            "(20261130T120500Z - 5 min.)",
        ),
        {"subject": "dev/x"},
        (
            5,
            "AWS refused the request's signature: this machine's clock is off by more than "
            "5 minutes (InvalidSignatureException)",
            CLOCK,
        ),
    ),
    (
        "a clock ahead: signature not yet current (query services)",
        reply(
            "SignatureDoesNotMatch",
            "Signature not yet current: 20261130T140000Z is still later than 20261130T120500Z",
            operation="GetCallerIdentity",
        ),
        {"side": "prod"},
        (
            5,
            "[prod] AWS refused the request's signature: this machine's clock is off by more "
            "than 5 minutes (SignatureDoesNotMatch)",
            CLOCK,
        ),
    ),
    (
        "a clock off: the S3-style code",
        reply("RequestTimeTooSkewed", "The difference is too large."),
        {},
        (
            5,
            "AWS refused the request's signature: this machine's clock is off by more than "
            "5 minutes (RequestTimeTooSkewed)",
            CLOCK,
        ),
    ),
    (
        "a wrong secret key is not a clock",
        reply("SignatureDoesNotMatch", "The request signature we calculated does not match"),
        {"subject": "dev/x"},
        (5, "access denied to GetSecretValue 'dev/x' (SignatureDoesNotMatch)", PERMISSIONS),
    ),
    (
        "a reply that breaks the API's promise",
        MalformedReply(
            endpoint="http://127.0.0.1:9", operation="ListSecrets", problem="lacks SecretList"
        ),
        {"side": "dev"},
        (
            6,
            "[dev] http://127.0.0.1:9 answered ListSecrets with a reply that lacks SecretList "
            "(not what AWS's API promises)",
            "check that http://127.0.0.1:9 is an AWS endpoint (AWS_ENDPOINT_URL, the profile's "
            "endpoint_url, or a proxy in between), then run the command again",
        ),
    ),
    (
        "another code, no message",
        reply("Odd", operation="CreateSecret"),
        {},
        (1, "CreateSecret failed: Odd", OTHER),
    ),
    (
        "no error code",
        reply(None, "what", operation="ListSecrets"),
        {},
        (1, "ListSecrets failed: Unknown: what", OTHER),
    ),
    (
        "no error at all",
        reply(error=False, operation="ListSecrets"),
        {},
        (1, "ListSecrets failed: Unknown", OTHER),
    ),
    (
        "a whole page as the message: one line, bounded",
        reply("Weird", HTML),
        {},
        (
            1,
            # AWS's message squeezed to one line and cut to 200 characters, "..." included.
            "GetSecretValue failed: Weird: " + ("<html> <body>" + "x" * 300)[:197] + "...",
            OTHER,
        ),
    ),
    (
        "rejected by the SDK: names kept, values dropped",
        bx.ParamValidationError(
            report="Invalid length for parameter VersionId, value: 4, valid min length: 32\n"
            "Invalid type for parameter SecretString, value: 123, type: <class 'int'>, "
            "valid types: <class 'str'>"
        ),
        {"subject": "dev/x"},
        (
            2,
            "the request for 'dev/x' is invalid: VersionId has 4 characters, at least 32; "
            "SecretString has the wrong type (checked before sending)",
            VERSION_ID,
        ),
    ),
    (
        "rejected by the SDK: each kind of problem",
        bx.ParamValidationError(
            report='Missing required parameter in input: "SecretId"\n'
            'Unknown parameter in input: "Colour", must be one of: SecretId\n'
            "Invalid range for parameter MaxResults, value: 0, valid min value: 1\n"
            "Invalid length for parameter Name, value: 600, valid max length: 512"
        ),
        {},
        (
            2,
            "the request is invalid: SecretId is missing; Colour is not a parameter of this "
            "call; MaxResults is out of range; Name has 600 characters, at most 512 "
            "(checked before sending)",
            FORMAT,
        ),
    ),
    (
        "rejected by the SDK, no parameter named",
        bx.ParamValidationError(report="something odd"),
        {},
        (2, "the request is invalid: a parameter is invalid (checked before sending)", FORMAT),
    ),
    (
        "any other SDK failure",
        bx.DataNotFoundError(data_path="x"),
        {"side": "dev"},
        (
            1,
            "[dev] AWS SDK error: DataNotFoundError",
            "`secrets doctor` checks the AWS setup (profile, region, AWS_ENDPOINT_URL); "
            "then run the command again",
        ),
    ),
]


@pytest.mark.parametrize(
    ("exc", "where", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_translation(exc: Exception, where: dict[str, str], expected: tuple[int, str, str]) -> None:
    error = translate(exc, **where)
    assert (int(error.code), error.message, error.hint) == expected


def test_a_cli_error_passes_through() -> None:
    error = CliError(ExitCode.USAGE, "bad", "fix it")
    assert translate(error) is error


def test_anything_else_is_raised_again() -> None:
    with pytest.raises(KeyError):
        translate(KeyError("ours"))


# -- through the commands ------------------------------------------------------------------------


def test_a_quota_error_is_not_retried_as_throttling(cli: Any, proxy: Any) -> None:
    """botocore's standard mode retries LimitExceededException as throttling; in Secrets
    Manager it is a quota on resources, which no retry can pass."""
    create = "secretsmanager.CreateSecret"
    proxy.script(create, "fail:LimitExceededException", "forward")
    run = cli("set", "dev/api/key", "--stdin", input="v")
    assert run.code == 1, run.stderr
    assert "would exceed an AWS quota (LimitExceededException" in run.stderr
    assert proxy.count(create) == 1


def test_throttling_is_still_retried(cli: Any, proxy: Any) -> None:
    create = "secretsmanager.CreateSecret"
    proxy.script(create, "throttle", "forward")
    assert cli("set", "dev/api/key", "--stdin", input="v").code == 0
    assert proxy.count(create) == 2


@pytest.mark.parametrize(
    ("code", "exit_code", "said"),
    [
        ("EncryptionFailure", 5, "could not use the secret's KMS key"),
        ("RequestTimeTooSkewed", 5, "this machine's clock is off by more than 5 minutes"),
    ],
)
def test_kms_and_clock_refusals_say_why(
    cli: Any, proxy: Any, code: str, exit_code: int, said: str
) -> None:
    proxy.script("secretsmanager.CreateSecret", f"fail:{code}")
    run = cli("set", "dev/api/key", "--stdin", input="v")
    assert run.code == exit_code, run.stderr
    assert said in run.stderr
