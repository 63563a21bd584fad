"""What policy documents grant, and the rules about it: wildcard actions and resources,
whole environments and prefixes, `name-*`, other environments' secrets, undeclared secrets.

A grant is read from a statement (Action/NotAction, Resource/NotResource, each `Fn::If`
branch), a SAM policy template or an AWS managed policy known to be broad.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence
from typing import Any

from envsecrets.core.audit_rules import (
    BROAD_MANAGED,
    PSEUDO_PARAMETER,
    READ_ACTION,
    SECRET_ARN,
    SSM_ARN,
    SSM_READ_ACTIONS,
    STAGE_VARIABLES,
    AuditContext,
    Grant,
)
from envsecrets.core.infra import (
    SUB_VARIABLE,
    TemplateFunction,
    alternatives,
    branches,
    line_of,
    listed,
    listed_branches,
)
from envsecrets.core.names import ENV_PATTERN
from envsecrets.core.references import aws_suffix, same_environment


# -- reading grants out of policy documents ---------------------------------------------------
def iam_match(pattern: str, text: str) -> bool:
    """IAM's wildcard match: `*` any run of characters, `?` one character, case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, flags=re.DOTALL) is not None


def _action_reads(action: str, read: str = READ_ACTION) -> bool:
    return fnmatch.fnmatchcase(read, action.lower())


def _resource_text(value: Any, ctx: AuditContext) -> str | None:
    """A Resource entry as text: literal, `Fn::Sub` template, `Fn::Join`, or a `Ref` to one of
    the file's own secrets (its Name); None when it cannot be known."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        return None
    if "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        template = sub[0] if isinstance(sub, list) and sub else sub
        if not isinstance(template, str):
            return None
        # Pseudo parameters (${AWS::Region}) hold colons that would break ARN parsing.
        return PSEUDO_PARAMETER.sub(lambda m: m.group(1), template)
    if "Fn::Join" in value and isinstance(value["Fn::Join"], list):
        parts = value["Fn::Join"]
        if len(parts) == 2 and isinstance(parts[0], str) and isinstance(parts[1], list):
            texts = [_resource_text(p, ctx) or "${?}" for p in parts[1]]
            return parts[0].join(texts)
    ref = value.get("Ref")
    if isinstance(ref, str):
        if ref in ctx.secret_resources:
            return f"secret-name:{ctx.secret_resources[ref]}"
        if ref.startswith("AWS::"):
            return ref.removeprefix("AWS::")
        return "${" + ref + "}"
    return None


def _secret_part(resource: str) -> str | None:
    if resource == "*":
        return "*"
    if resource.startswith("secret-name:"):
        return resource.removeprefix("secret-name:")
    found = SECRET_ARN.match(resource)
    if found:
        return found.group(1) or "*"
    # `arn:aws:secretsmanager:*:*:*`-style and `arn:*` wildcards reach every secret too.
    if "*" in resource and iam_match(resource, "arn:aws:secretsmanager:r:1:secret:x"):
        return "*"
    return None


def _statement_actions(statement: dict[str, Any]) -> tuple[str, ...] | None:
    """The actions an Allow statement grants, `("*",)` for NotAction; None if no secret read."""
    actions = tuple(str(a) for a in listed(statement.get("Action")))
    if "NotAction" in statement:
        # Allow + NotAction grants every action not listed: all of Secrets Manager unless
        # the read is among the exceptions.
        excluded = [str(a) for a in listed(statement["NotAction"])]
        if any(_action_reads(a) for a in excluded):
            return None
        actions = ("*",)
    if not any(_action_reads(a) for a in actions):
        return None
    return actions


def grants_in(document: Any, origin: str, ctx: AuditContext, line: int | None) -> list[Grant]:
    """Secret-reading grants of one policy document (or SAM policy template entry); each
    branch of an `Fn::If` counts."""
    found: list[Grant] = []
    for doc, condition in branches(document):
        if isinstance(doc, str):
            # A SAM `Policies` entry naming a managed policy.
            found.extend(_managed_grants(doc, origin, line))
        elif isinstance(doc, dict):
            found.extend(_document_grants(doc, origin, ctx, line, condition))
    return found


def _document_grants(
    document: dict[str, Any],
    origin: str,
    ctx: AuditContext,
    line: int | None,
    condition: str | None = None,
) -> list[Grant]:
    found: list[Grant] = []
    template_arg = document.get("AWSSecretsManagerGetSecretValuePolicy")
    if isinstance(template_arg, dict):
        for arn, holds in listed_branches(template_arg.get("SecretArn"), condition):
            text = _resource_text(arn, ctx)
            if text:
                where = line_of(template_arg, line)
                found.append(Grant((READ_ACTION,), text, _secret_part(text), where, origin, holds))
        return found
    for statement, holds in listed_branches(document.get("Statement"), condition):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = _statement_actions(statement)
        if actions is None:
            continue
        where = line_of(statement, line)
        # Allow + NotResource grants every resource but the listed ones.
        resources = (
            [("*", holds)]
            if "NotResource" in statement
            else listed_branches(statement.get("Resource"), holds)
        )
        for resource, resource_holds in resources:
            text = _resource_text(resource, ctx)
            part = _secret_part(text) if text is not None else None
            if text is not None and part is not None:
                found.append(Grant(actions, text, part, where, origin, resource_holds))
    return found


def _managed_grants(arn_or_name: str, origin: str, line: int | None) -> list[Grant]:
    name = arn_or_name.rsplit("/", 1)[-1]
    if name in BROAD_MANAGED:
        actions = ("secretsmanager:*",) if name == "SecretsManagerReadWrite" else ("*",)
        return [Grant(actions, "*", "*", line, f"{origin} {name}")]
    return []


def ssm_reads(document: Any, ctx: AuditContext) -> list[str]:
    """Parameter Store names (or patterns) a policy document lets its role read."""
    found: list[str] = []
    for doc in alternatives(document):
        if not isinstance(doc, dict):
            continue
        for key in ("SSMParameterReadPolicy", "SSMParameterWithSlashPrefixReadPolicy"):
            arg = doc.get(key)
            if isinstance(arg, dict) and isinstance(arg.get("ParameterName"), str):
                found.append("/" + arg["ParameterName"].lstrip("/"))
        for statement in listed(doc.get("Statement")):
            if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                continue
            actions = [str(a) for a in listed(statement.get("Action"))]
            if not any(_action_reads(a, r) for a in actions for r in SSM_READ_ACTIONS):
                continue
            for resource in listed(statement.get("Resource")):
                text = _resource_text(resource, ctx)
                arn = SSM_ARN.match(text or "")
                if arn:
                    found.append(arn.group(1))
    return found


# -- the rules ----------------------------------------------------------------------------------
def own_environment(function: TemplateFunction, ctx: AuditContext) -> str | None:
    """The environment a function belongs to: a literal ENV/STAGE variable, then its name
    carrying a declared environment (`checkout-prod`), then --env."""
    for var in function.variables:
        if var.name.upper() in STAGE_VARIABLES and var.value and ENV_PATTERN.fullmatch(var.value):
            return var.value
    for env in ctx.config.environments:
        for name in function.names():
            lowered = name.lower()
            if lowered.startswith(f"{env}-") or lowered.endswith(f"-{env}"):
                return env
    return ctx.env


Add = Callable[[str, str, int | None], None]


def _classify(name: str, environments: frozenset[str]) -> tuple[str, str | None]:
    """What a granted name pattern reaches: ("every", None), ("every-env", None),
    ("environment", env), ("sibling", exact), ("prefix", None) or ("exact", name)."""
    head, slash, rest = SUB_VARIABLE.sub("${}", name).partition("/")
    if name in ("*", "?*") or name.startswith("*"):
        return "every", None
    if slash and ("*" in head or "?" in head):
        return "every-env", None  # `*/api/key`: that secret of every environment
    # `${Stage}/*` is a whole environment too, whichever the stage.
    whole_env = head in environments or head == "${}"
    if slash and whole_env and (rest in ("*", "?*") or rest.startswith("*")):
        return "environment", head
    exact = _exact_name(name)
    if exact is not None:
        return "exact", exact
    if name.endswith("-*"):
        return "sibling", name[:-2]
    return "prefix", None


def _grant_findings(
    function: TemplateFunction, grants: Sequence[Grant], ctx: AuditContext, add: Add
) -> None:
    environments = ctx.environments
    envs: dict[str, tuple[int | None, str | None]] = {}
    names: dict[str, int | None] = {}
    for grant in grants:
        subject = f"{function.name} ({grant.origin})"
        if any(a == "*" or a.lower() == "secretsmanager:*" for a in grant.actions):
            add("wildcard-action", f"{subject} is granted {grant.actions[0]}", grant.line)
        name = grant.name or ""
        kind, exact = _classify(name, environments)
        if kind in ("every", "every-env"):
            add(
                "wildcard-resource",
                f"{subject} can read every secret ({grant.resource})",
                grant.line,
            )
            continue
        head = name.partition("/")[0]
        if "/" in name and head in environments:
            known = envs.get(head)
            if known is None or (known[1] is not None and grant.condition is None):
                envs[head] = (grant.line, grant.condition)  # unconditional wins
        if kind == "environment":
            add("environment-wide", f"{subject} can read every secret of {head}/", grant.line)
        elif kind == "prefix":
            add("prefix-wildcard", f"{subject} can read every secret matching {name}", grant.line)
        elif kind == "sibling" and exact is not None:
            add(
                "sibling-wildcard",
                f"{subject}: {name} also matches other secrets starting with {name[:-1]}; use "
                "-??????",
                grant.line,
            )
        if kind in ("exact", "sibling") and exact and "${" not in exact:
            names.setdefault(exact, grant.line)
    _environment_findings(function, envs, ctx, add)
    declared = _declared(function, ctx)
    if declared is not None:
        for name, line in names.items():
            path = name.partition("/")[2]
            if path not in declared:
                add(
                    "undeclared-secret",
                    f"{function.name} is granted {name}, which secrets.toml does not declare "
                    "for it",
                    line,
                )


def _environment_findings(
    function: TemplateFunction,
    envs: dict[str, tuple[int | None, str | None]],
    ctx: AuditContext,
    add: Add,
) -> None:
    own = own_environment(function, ctx)
    others = sorted(e for e in envs if not same_environment(e, own)) if own else sorted(envs)
    always = [e for e in others if envs[e][1] is None]
    if own and always:
        add(
            "cross-environment",
            f"{function.name} ({own}) can read secrets of {', '.join(always)}",
            envs[always[0]][0],
        )
    elif not own and len(always) > 1:
        add(
            "cross-environment",
            f"{function.name} can read secrets of several environments: {', '.join(always)}",
            envs[always[1]][0],
        )
    elif own or len(others) > 1:
        for env in (e for e in others if envs[e][1] is not None):
            add(
                "conditional-cross-environment",
                f"{function.name}{f' ({own})' if own else ''} can read secrets of {env} "
                f"{'when ' + str(envs[env][1])}",
                envs[env][0],
            )


def _exact_name(pattern: str) -> str | None:
    """The secret name an ARN pattern stands for, when it stands for exactly one."""
    if pattern.endswith("-??????"):
        pattern = pattern[:-7]
    elif "*" not in pattern and "?" not in pattern:
        suffix = aws_suffix(pattern)
        if suffix:
            pattern = pattern[: -len(suffix) - 1]  # a resolved ARN: drop AWS's random suffix
    if "*" in pattern or "?" in pattern:
        return None
    return pattern


def _declared(function: TemplateFunction, ctx: AuditContext) -> set[str] | None:
    for name in function.names():
        if name in ctx.config.functions:
            return set(ctx.config.functions[name].secrets)
    return None


def parameter_store_findings(function: TemplateFunction, ctx: AuditContext, add: Add) -> None:
    """Parameter Store reads a function's roles grant: every parameter (`ssm:*` or
    `ssm:GetParameter*` on `*`), or a secret-named parameter the file does not define (those
    it defines are judged where they are defined)."""
    from envsecrets.core.detect import looks_secret_name

    infra = ctx.infra
    defined = {
        "/" + p.name.lstrip("/")
        for p in (infra.ssm_parameters.values() if infra else ())
        if isinstance(p.name, str)
    }
    for policy in function.policies:
        for doc in alternatives(policy.document):
            for statement in listed(doc.get("Statement")) if isinstance(doc, dict) else ():
                if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                    continue
                actions = [str(a).lower() for a in listed(statement.get("Action"))]
                reads = [
                    a
                    for a in actions
                    if a.startswith("ssm:")
                    and any(fnmatch.fnmatchcase(r, a) for r in SSM_READ_ACTIONS)
                ]
                texts = [_resource_text(r, ctx) for r in listed(statement.get("Resource"))]
                if reads and any(t == "*" or (t or "").endswith(":parameter/*") for t in texts):
                    add(
                        "wildcard-resource",
                        f"{function.name} ({policy.origin}) can read every Parameter Store "
                        f"parameter ({reads[0]} on *)",
                        line_of(statement, policy.line),
                    )
        for pattern in ssm_reads(policy.document, ctx):
            name = "/" + pattern.lstrip("/")
            if "*" in name or "?" in name or name in defined:
                continue
            if looks_secret_name(name.rstrip("/").rsplit("/", 1)[-1]):
                add(
                    "ssm-secret-parameter",
                    f"{function.name} ({policy.origin}) reads Parameter Store parameter {name}, "
                    "named like a secret",
                    policy.line,
                )
