"""KMS, for `secrets policy --resolve`: the one question we ask it is which key an alias
names, so that a policy grants kms:Decrypt on that key's ARN rather than on every key of the
account in the region (IAM matches a key's ARN, never an alias, in `Resource`)."""

from __future__ import annotations

from envsecrets.backends.aws import AwsTarget, aws_errors, error_code
from envsecrets.errors import CliError, ExitCode


def key_arn(target: AwsTarget, key_id: str) -> str:
    """The ARN of the key that `key_id` (key id, key ARN, alias name or alias ARN) names
    (DescribeKey); an alias or key that does not exist is not found (exit 3)."""
    with aws_errors(side=target.label):
        try:
            metadata = target.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]
        except Exception as exc:
            if error_code(exc) == "NotFoundException":
                raise CliError(
                    ExitCode.NOT_FOUND,
                    f"KMS key '{key_id}' of environment '{target.label}' not found",
                    "check kms_key_id in secrets.toml and the environment's region",
                ) from None
            raise
    return str(metadata["Arn"])
