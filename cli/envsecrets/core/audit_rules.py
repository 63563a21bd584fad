"""The audit's rules, findings and context: what every part of the audit shares.

It reads the infrastructure model (core/infra.py), so the same rules judge SAM/CloudFormation,
serverless.yml, Terraform and ECS task definitions, and (`--live`) the deployed account.

Rules (ids are stable; SARIF and `--fail-on` use them):
- secret-in-environment: a function's or container's variable holds a secret: a secret-looking
  literal, or a credential attribute of another resource (an IAM access key's secret).
- secret-resolved-into-environment: `{{resolve:secretsmanager:...}}` (or Serverless's
  `${ssm:/aws/reference/secretsmanager/...}`) in a variable: the plaintext is written into the
  function's configuration at deploy time.
- secret-variable-from-parameter: a variable filled from a parameter that holds a secret (a
  NoEcho/sensitive parameter, or a secret-named variable or parameter).
- ssm-secure-string: a Parameter Store SecureString (or a secret-named parameter) resolved into
  the configuration (`{{resolve:ssm-secure:...}}`, `${ssm:/x~true}`); ssm-parameter-type:
  template parameters of type `AWS::SSM::Parameter::Value<...>` feeding secrets;
  ssm-container-secret: an ECS container secret whose `valueFrom` is a Parameter Store
  parameter; ssm-secret-parameter: a parameter the file defines that holds a secret
  (SecureString, or a secret-named one) and that a function reads.
- secret-in-template: a secret value written in clear in the file itself (a parameter's value,
  a secret's SecretString, a database's master password, a variable's default).
- not-understood: a part of the file the audit could not read (a module call of a module it
  does not know, a task's containers or a policy built by an expression it cannot follow):
  never counted as clean; `low`, so the default gate passes while every report says it.
- environment-file: an ECS container loads variables from an S3 `.env` file (values in clear).
- environment-unreadable (`--live`): Lambda reports an `Environment.Error` (the variables could
  not be decrypted), so the function cannot be shown free of secrets. `--live` audits each
  function's `$LATEST` and every published version an alias serves.
- wildcard-action: `secretsmanager:*` (or `*`) granted; wildcard-resource: secret reads on `*`
  or on every environment; environment-wide: reads on `<env>/*`; prefix-wildcard: reads on
  `<prefix>*`; sibling-wildcard: `name-*`, which also matches `name-old`.
- cross-environment: a function of one environment able to read another's secrets (only when
  both are environments: declared in `secrets.toml`, or common environment names).
- conditional-cross-environment: the same, in one branch of an `Fn::If` that the given
  parameters do not decide (`low`; `--parameter` decides it). prod/production/prd,
  staging/stage/stg, dev/development and test/testing are one environment each.
- undeclared-secret: a function granted a secret that `secrets.toml` does not declare for it.

Every `Fn::If` is audited in both branches. Findings never carry values: messages name
variables, resources and rules only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from envsecrets.core.config import Config
from envsecrets.core.infra import (
    Infrastructure,
)
from envsecrets.core.references import known_environments

SEVERITIES = ("low", "medium", "high", "critical")
READ_ACTION = "secretsmanager:getsecretvalue"
SSM_READ_ACTIONS = ("ssm:getparameter", "ssm:getparameters", "ssm:getparametersbypath")
RESOLVE_SECRET = re.compile(r"\{\{resolve:secretsmanager:")
RESOLVE_SSM_SECURE = re.compile(r"\{\{resolve:ssm-secure:")
RESOLVE_SSM = re.compile(r"\{\{resolve:ssm:([^}]+)\}\}")
SECRET_ARN = re.compile(r"^arn:[^:]*:secretsmanager:[^:]*:[^:]*:(?:secret:)?(.*)$")
SSM_ARN = re.compile(r"^arn:[^:]*:ssm:[^:]*:[^:]*:parameter(/.*)$")
SSM_TYPE = "AWS::SSM::Parameter::Value<"
PSEUDO_PARAMETER = re.compile(r"\$\{AWS::(\w+)\}")
STAGE_VARIABLES = ("ENV", "ENVIRONMENT", "STAGE", "APP_ENV", "DEPLOY_ENV")
# AWS managed policies that grant every secret: by name, with what they amount to.
BROAD_MANAGED = {
    "SecretsManagerReadWrite": "secretsmanager:* on *",
    "AdministratorAccess": "* on *",
    "PowerUserAccess": "* on * (but IAM)",
}
# Values that stand in for a secret in a file (placeholders, not credentials).
STORED_PLACEHOLDERS = frozenset({"", "changeme", "change-me", "placeholder", "todo", "none"})


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str
    help: str


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "secret-in-environment",
            "high",
            "Secret in an environment variable",
            "Move it to Secrets Manager (`secrets migrate lambda`) and read it at run time.",
        ),
        Rule(
            "environment-unreadable",
            "high",
            "Environment variables that could not be read",
            "Lambda could not decrypt them (Environment.Error, e.g. KMSAccessDeniedException): "
            "grant kms:Decrypt on the function's KMS key to whoever audits, and audit again.",
        ),
        Rule(
            "secret-resolved-into-environment",
            "high",
            "Secret resolved into an environment variable",
            "Dynamic references copy the plaintext into the function's configuration; pass "
            "the secret's name and read it at run time.",
        ),
        Rule(
            "secret-variable-from-parameter",
            "high",
            "Secret passed through a template parameter",
            "The value ends up in the function's configuration; pass the secret's name instead.",
        ),
        Rule(
            "ssm-secure-string",
            "high",
            "Parameter Store secret resolved into the configuration",
            "Keep secrets in Secrets Manager (`secrets migrate ssm`) and read them at run time.",
        ),
        Rule(
            "ssm-parameter-type",
            "medium",
            "Secret from a Parameter Store template parameter",
            "Keep secrets in Secrets Manager (`secrets migrate ssm`).",
        ),
        Rule(
            "ssm-container-secret",
            "medium",
            "Container secret from Parameter Store",
            "Point valueFrom at a Secrets Manager secret (`secrets migrate ssm`).",
        ),
        Rule(
            "ssm-secret-parameter",
            "medium",
            "Secret kept in Parameter Store",
            "Keep secrets in Secrets Manager (`secrets migrate ssm`).",
        ),
        Rule(
            "secret-in-template",
            "high",
            "Secret written in the file",
            "Remove it from the file (and from its history), rotate it, and keep it in Secrets "
            "Manager (`secrets set`).",
        ),
        Rule(
            "not-understood",
            "low",
            "Part of the file could not be read",
            "The audit cannot vouch for what it could not read (a module it does not know, "
            "containers built by an expression, a policy it cannot parse): audit that part "
            "where it is defined, or write it in a form the audit reads (README: audit).",
        ),
        Rule(
            "environment-file",
            "low",
            "Variables loaded from an S3 environment file",
            "Values in an S3 .env file are plaintext; use container secrets from Secrets Manager.",
        ),
        Rule(
            "wildcard-action",
            "high",
            "All Secrets Manager actions granted",
            "Grant secretsmanager:GetSecretValue only (`secrets policy FUNCTION --env ENV`).",
        ),
        Rule(
            "wildcard-resource",
            "high",
            "Secret reads granted on every secret",
            "Grant the function's own secrets only (`secrets policy FUNCTION --env ENV`).",
        ),
        Rule(
            "environment-wide",
            "high",
            "Secret reads granted on a whole environment",
            "Grant the function's own secrets only (`secrets policy FUNCTION --env ENV`).",
        ),
        Rule(
            "prefix-wildcard",
            "medium",
            "Secret reads granted on a whole prefix",
            "List the secrets the function needs (`secrets policy FUNCTION --env ENV`).",
        ),
        Rule(
            "sibling-wildcard",
            "low",
            "name-* also matches other secrets",
            "Use name-?????? (six characters: AWS's suffix) instead of name-*.",
        ),
        Rule(
            "cross-environment",
            "critical",
            "Function can read another environment's secrets",
            "Give each environment's functions their own environment's secrets only.",
        ),
        Rule(
            "conditional-cross-environment",
            "low",
            "Function can read another environment's secrets under a condition",
            "One branch of an Fn::If grants another environment's secrets: pass the parameters "
            "that decide it (--parameter Stage=prod) to audit the stack you deploy.",
        ),
        Rule(
            "undeclared-secret",
            "medium",
            "Function granted a secret it does not declare",
            "Declare it under [functions.NAME] secrets in secrets.toml, or remove the grant.",
        ),
    )
}


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Finding:
    """One problem: which rule, how bad, where, and a message that never holds a value."""

    rule: str
    severity: str
    message: str
    file: str | None = None
    resource: str | None = None
    line: int | None = None
    arn: str | None = None  # the deployed function's or task definition's ARN (--live)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "file": self.file,
            "resource": self.resource,
            "line": self.line,
            "arn": self.arn,
        }


@dataclass(frozen=True)
class Grant:
    """A secret read an Allow statement grants: the name pattern and where it was written."""

    actions: tuple[str, ...]
    resource: str  # the Resource as written, with ${...} variables kept
    name: str | None  # the secret-name part ("prod/api/key-??????", "*"), None if not a secret
    line: int | None
    origin: str
    condition: str | None = None  # "when IsProd is false": granted in one branch of Fn::If


@dataclass
class AuditContext:
    """What the rules know beyond the function: the config and the environment audited."""

    config: Config = field(default_factory=Config)
    env: str | None = None  # --env: the environment the audited functions belong to
    file: str | None = None
    secret_resources: dict[str, str] = field(default_factory=dict)  # logical id -> Name
    infra: Infrastructure | None = None

    @property
    def environments(self) -> frozenset[str]:
        """Names that count as environments (declared ones, else common ones, plus --env)."""
        known = known_environments(self.config.environments)
        return known | {self.env} if self.env else known


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Worst first, then by place."""
    return sorted(
        findings,
        key=lambda f: (-severity_rank(f.severity), f.file or "", f.resource or "", f.line or 0),
    )


def failing(findings: Iterable[Finding], fail_on: str) -> list[Finding]:
    """The findings at or above `fail_on`."""
    floor = severity_rank(fail_on)
    return [f for f in findings if severity_rank(f.severity) >= floor]
