"""Least-privilege IAM policy documents for functions and tasks, and their renderers.

A function (or ECS task role) gets `secretsmanager:GetSecretValue` on exactly the secrets
`secrets.toml` declares for it in one environment, each scoped as
`arn:<partition>:secretsmanager:<region>:<account>:secret:<env>/<path>-??????`. The six `?`
match the random suffix AWS appends to a secret's ARN and nothing longer, so
`prod/api/stripe-key-??????` never matches `prod/api/stripe-key-old-AbCdEf`; `name-*` would.

Everything here is pure: documents in, text out. Nothing prints and nothing talks to AWS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from envsecrets.core.names import SecretName, validate_env
from envsecrets.errors import CliError, ExitCode

POLICY_VERSION = "2012-10-17"
READ_ACTION = "secretsmanager:GetSecretValue"
DESCRIBE_ACTION = "secretsmanager:DescribeSecret"
DECRYPT_ACTION = "kms:Decrypt"
# The AWS-managed key needs no statement: its key policy already lets principals of the
# account decrypt through Secrets Manager.
AWS_MANAGED_KEY_ALIASES = ("alias/aws/secretsmanager",)
ARN_SUFFIX_PATTERN = "-??????"

ACCOUNT_PATTERN = re.compile(r"\d{12}")
REGION_PATTERN = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
KMS_KEY_ARN = re.compile(r"arn:(aws|aws-cn|aws-us-gov):kms:([a-z0-9-]+):(\d{12}):(key|alias)/(.+)")

FORMATS = ("json", "yaml", "sam", "cloudformation", "terraform", "serverless")


def partition_for(region: str) -> str:
    """The ARN partition a region belongs to: `aws`, `aws-cn` or `aws-us-gov`."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def check_region(region: str) -> str:
    """`region` if it looks like an AWS region name, else a usage error."""
    if not REGION_PATTERN.fullmatch(region):
        raise CliError(
            ExitCode.USAGE,
            f"'{region}' is not an AWS region name",
            "use a region such as us-east-1, cn-north-1 or us-gov-west-1",
        )
    return region


def check_account(account: str) -> str:
    """`account` if it is a 12-digit AWS account id, else a usage error."""
    if not ACCOUNT_PATTERN.fullmatch(account):
        raise CliError(
            ExitCode.USAGE,
            f"'{account}' is not a 12-digit AWS account id",
            "set account_id for the environment in secrets.toml",
        )
    return account


def secret_arn_pattern(partition: str, region: str, account: str, name: str) -> str:
    """The IAM resource for one secret: its ARN with `-??????` for AWS's random suffix."""
    return f"arn:{partition}:secretsmanager:{region}:{account}:secret:{name}{ARN_SUFFIX_PATTERN}"


def kms_resource(partition: str, region: str, account: str, key_id: str) -> str | None:
    """The IAM resource for an environment's KMS key; None for the AWS-managed key.

    IAM cannot match a key by an alias ARN in `Resource` (the request names the key), so an
    alias becomes the account's keys in the region; `build_policy` still narrows it to the
    granted secrets' own ciphertexts with the `kms:EncryptionContext:SecretARN` condition.
    (`kms:ResourceAliases` would say the same, but parliament's action data does not know it
    for kms:Decrypt, and every generated policy must pass parliament clean.)
    """
    if key_id in AWS_MANAGED_KEY_ALIASES:
        return None
    found = KMS_KEY_ARN.fullmatch(key_id)
    if found:
        key_partition, key_region, key_account, kind, rest = found.groups()
        if kind == "key":
            return key_id
        if f"alias/{rest}" in AWS_MANAGED_KEY_ALIASES:
            return None
        return f"arn:{key_partition}:kms:{key_region}:{key_account}:key/*"
    if key_id.startswith("alias/"):
        return f"arn:{partition}:kms:{region}:{account}:key/*"
    return f"arn:{partition}:kms:{region}:{account}:key/{key_id}"


def build_policy(
    *,
    region: str,
    account: str,
    env: str,
    paths: Sequence[str],
    kms_key_id: str | None = None,
    describe: bool = False,
    partition: str | None = None,
    exact_arns: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The IAM policy document that lets a function read exactly `env`/`paths`.

    `paths` are relative to the environment, as in `[functions.NAME] secrets`. `exact_arns`
    (full name -> ARN, from `--resolve`) replaces the `-??????` pattern with the real ARN for
    the names it holds. With a customer-managed `kms_key_id`, `kms:Decrypt` is allowed on that
    key only when the call comes through Secrets Manager in `region` (`kms:ViaService`).
    `describe` adds `secretsmanager:DescribeSecret` on the same resources.
    """
    validate_env(env)
    if not paths:
        raise CliError(
            ExitCode.USAGE,
            f"no secrets to grant in '{env}'",
            'list the function\'s secrets as secrets = ["api/key", ...] under [functions.NAME] '
            "in secrets.toml",
        )
    partition = partition or partition_for(check_region(region))
    check_account(account)
    resources: list[Any] = []
    for path in paths:
        name = str(SecretName.join(env, path))
        arn = (exact_arns or {}).get(name) or secret_arn_pattern(partition, region, account, name)
        resources.append(arn)
    return read_policy(
        resources,
        region=region,
        account=account,
        kms_key_id=kms_key_id,
        describe=describe,
        partition=partition,
    )


def read_policy(
    resources: Sequence[Any],
    *,
    region: str,
    account: str,
    kms_key_id: str | None = None,
    describe: bool = False,
    partition: str | None = None,
) -> dict[str, Any]:
    """The IAM policy document allowing GetSecretValue on exactly `resources` (ARNs, `-??????`
    patterns, or `{"Ref": ...}` of a template's own secrets), plus `kms:Decrypt` on a
    customer-managed key through Secrets Manager in `region` for those secrets only."""
    check_region(region)
    check_account(account)
    partition = partition or partition_for(region)
    unique: list[Any] = []
    for resource in resources:
        if resource not in unique:
            unique.append(resource)
    actions = [READ_ACTION, DESCRIBE_ACTION] if describe else [READ_ACTION]
    statements: list[dict[str, Any]] = [
        {"Sid": "ReadSecrets", "Effect": "Allow", "Action": actions, "Resource": unique}
    ]
    key = kms_resource(partition, region, account, kms_key_id) if kms_key_id else None
    if key is not None:
        # Secrets Manager decrypts with the secret's ARN as encryption context, so this key
        # (or these keys, for an alias) only opens the granted secrets, and only when the call
        # comes through Secrets Manager in this region.
        condition: dict[str, Any] = {
            "StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:SecretARN": list(unique)},
        }
        statements.append(
            {
                "Sid": "DecryptSecrets",
                "Effect": "Allow",
                "Action": [DECRYPT_ACTION],
                "Resource": [key],
                "Condition": condition,
            }
        )
    return {"Version": POLICY_VERSION, "Statement": statements}


@dataclass(frozen=True)
class FunctionPolicy:
    """One function's (or task's) policy, ready to render."""

    function: str
    env: str
    document: dict[str, Any]
    kind: str = "lambda"  # or "task": the policy is for an ECS task's role
    secrets: tuple[str, ...] = field(default=())
    role: str = ""  # "execution" for an ECS task's execution role, else the function's role

    @property
    def key(self) -> str:
        """How outputs name this policy: the function, or `<task>-execution-role`."""
        return f"{self.function}-execution-role" if self.role == "execution" else self.function

    @property
    def role_label(self) -> str:
        if self.role == "execution":
            return "ECS execution role"
        return "ECS task role" if self.kind == "task" else "Lambda function"


# Lambda's rule for function names; ECS families allow the same characters, up to 255.
FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
TASK_FAMILY = re.compile(r"[A-Za-z0-9_-]{1,255}")


def check_function_name(name: str, kind: str, where: str) -> str:
    """`name` if it is a valid Lambda function name (ECS family when `kind` is "task"), else
    a usage error naming `where` it was read: names are rendered into IAM, CloudFormation and
    Terraform text. (No defaults: each caller says which kind of name and which file.)"""
    rule = TASK_FAMILY if kind == "task" else FUNCTION_NAME
    if not rule.fullmatch(name):
        limit = 255 if kind == "task" else 64
        shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in name[:80])
        raise CliError(
            ExitCode.USAGE,
            f"invalid function name '{shown}' in {where}",
            f"names are 1-{limit} letters, digits, '-' or '_' (AWS's rule)",
        )
    return name


def check_unique_ids(policies: Sequence[FunctionPolicy], fmt: str) -> None:
    """Refuse policies whose names map to one CloudFormation logical id or Terraform label:
    one resource would hold one function's secrets and be attached to another's role."""
    if fmt == "cloudformation":  # (sam blocks are keyed by the function names themselves)
        make = logical_id
    elif fmt == "terraform":
        make = terraform_label
    else:
        return
    seen: dict[str, list[str]] = {}
    for policy in policies:
        seen.setdefault(make(policy.key), []).append(policy.key)
    for ident, keys in seen.items():
        if len(keys) > 1:
            raise CliError(
                ExitCode.USAGE,
                f"functions {', '.join(keys)} would share the {fmt} name {ident}",
                "rename one of them, or write their policies one at a time",
            )


def logical_id(function: str) -> str:
    """A CloudFormation logical id for `function`'s policy: `checkout-api` -> `CheckoutApi`."""
    words = re.split(r"[^A-Za-z0-9]+", function)
    camel = "".join(w[:1].upper() + w[1:] for w in words if w)
    if not camel or not camel[0].isalpha():
        camel = "Fn" + camel
    return camel


def terraform_label(function: str) -> str:
    """A Terraform block label: letters, digits, `_` and `-`, not starting with a digit."""
    label = re.sub(r"[^A-Za-z0-9_-]+", "_", function).strip("_") or "function"
    return f"fn_{label}" if label[0].isdigit() else label


def render_policies(policies: Sequence[FunctionPolicy], fmt: str, *, many: bool = False) -> str:
    """Text for `policies` in format `fmt` (one of FORMATS).

    With one policy and `many` False the output is that policy alone (for `json`, exactly the
    IAM document a user pastes into the console); with `--all` (`many`) the documents are
    keyed by function name, or emitted side by side for the template formats.
    """
    if fmt not in FORMATS:
        raise CliError(
            ExitCode.USAGE, f"unknown format '{fmt}'", f"use one of: {', '.join(FORMATS)}"
        )
    check_unique_ids(policies, fmt)
    single = len(policies) == 1 and not many
    if fmt == "json":
        data: Any = policies[0].document if single else {p.key: p.document for p in policies}
        return json.dumps(data, indent=2) + "\n"
    if fmt == "yaml":
        data = policies[0].document if single else {p.key: p.document for p in policies}
        return _yaml(data)
    if fmt == "sam":
        return _render_sam(policies, single)
    if fmt == "cloudformation":
        return _render_cloudformation(policies)
    if fmt == "terraform":
        return "\n".join(_render_terraform(p) for p in policies)
    return _render_serverless(policies)


class _PlainDumper(yaml.SafeDumper):
    """SafeDumper without anchors: a shared list must print in full, not as `*id001`."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _yaml(data: Any) -> str:
    # The safe dumper quotes what YAML would otherwise read as another type ("2012-10-17").
    return yaml.dump(
        data, Dumper=_PlainDumper, sort_keys=False, default_flow_style=False, width=200
    )


def _comment(text: str) -> str:
    """Text for one comment line: control characters escaped, so nothing starts a new line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _header(policy: FunctionPolicy) -> str:
    return (
        _comment(
            f"# {policy.function} ({policy.role_label}) in {policy.env}: least-privilege access "
            "to its secrets"
        )
        + "\n"
    )


def _role_policies(policy: FunctionPolicy) -> list[dict[str, Any]]:
    """`Policies` entries: SAM functions take documents, IAM roles take named ones."""
    if policy.kind == "task":
        name = f"{logical_id(policy.key)}Secrets"
        return [{"PolicyName": name, "PolicyDocument": policy.document}]
    return [policy.document]


def _render_sam(policies: Sequence[FunctionPolicy], single: bool) -> str:
    if single:
        policy = policies[0]
        where = (
            "the AWS::Serverless::Function's Properties"
            if policy.kind != "task"
            else "the execution role's AWS::IAM::Role Properties"
            if policy.role == "execution"
            else "the task role's AWS::IAM::Role Properties"
        )
        return (
            _header(policy)
            + f"# paste under {where}\n"
            + _yaml({"Policies": _role_policies(policy)})
        )
    body = {p.key: {"Policies": _role_policies(p)} for p in policies}
    return (
        "# each function's Policies block: paste it under the function's Properties\n"
        "# (for ECS tasks: under the task role's AWS::IAM::Role Properties)\n" + _yaml(body)
    )


def _render_cloudformation(policies: Sequence[FunctionPolicy]) -> str:
    resources: dict[str, Any] = {}
    for policy in policies:
        resources[f"{logical_id(policy.key)}SecretsPolicy"] = {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "Description": _comment(
                    f"Read the secrets of {policy.function} ({policy.role_label}) in {policy.env}"
                ),
                "PolicyDocument": policy.document,
            },
        }
    return (
        "# attach each policy to its role (Roles: [!Ref ...]) or the role's ManagedPolicyArns\n"
        + _yaml({"Resources": resources})
    )


def _hcl_string(text: str) -> str:
    # HCL strings take JSON's escapes; `${` and `%{` start interpolation and need doubling.
    return json.dumps(text).replace("${", "$${").replace("%{", "%%{")


def _hcl_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(_hcl_string(i) for i in items) + "]"


def _render_terraform(policy: FunctionPolicy) -> str:
    label = terraform_label(policy.key) + "_secrets"
    lines = [
        _header(policy).rstrip("\n"),
        f"data {_hcl_string('aws_iam_policy_document')} {_hcl_string(label)} {{",
    ]
    for statement in policy.document["Statement"]:
        lines.append("  statement {")
        if "Sid" in statement:
            lines.append(f"    sid       = {_hcl_string(statement['Sid'])}")
        lines.append(f"    effect    = {_hcl_string(statement['Effect'])}")
        lines.append(f"    actions   = {_hcl_list(statement['Action'])}")
        lines.append(f"    resources = {_hcl_list(statement['Resource'])}")
        for test, pairs in statement.get("Condition", {}).items():
            for variable, values in pairs.items():
                listed = values if isinstance(values, list) else [values]
                lines.append("    condition {")
                lines.append(f"      test     = {_hcl_string(test)}")
                lines.append(f"      variable = {_hcl_string(variable)}")
                lines.append(f"      values   = {_hcl_list(listed)}")
                lines.append("    }")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _render_serverless(policies: Sequence[FunctionPolicy]) -> str:
    # Per-function statements (the serverless-iam-roles-per-function plugin's
    # `iamRoleStatements`): provider-level statements would give every function every secret.
    functions = {p.key: {"iamRoleStatements": p.document["Statement"]} for p in policies}
    return (
        "# serverless.yml: per-function roles (plugin: serverless-iam-roles-per-function)\n"
        + _yaml({"functions": functions})
    )
