"""Who is calling AWS: the caller identity from STS, for the record a rotation leaves."""

from __future__ import annotations

from envsecrets.backends.aws import AwsTarget, aws_errors


def caller_arn(target: AwsTarget) -> str:
    """The ARN of the identity the target's credentials belong to (STS GetCallerIdentity).

    GetCallerIdentity needs no IAM permission, so a failure here means the credentials
    themselves are missing or invalid: it is translated like every other AWS error.
    """
    with aws_errors(side=target.label):
        return str(target.client("sts").get_caller_identity()["Arn"])
