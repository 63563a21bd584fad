"""What an AWS reply must hold before any code reads it: checked once, for every call.

An endpoint can answer HTTP 200 with nonsense: `{}`, an HTML page from a proxy, a list where a
structure belongs, a name that is a number. Read with `.get()` such a reply means "no secrets",
"no versions" or "equal"; read with `[]` it ends in a KeyError. Neither is true: the endpoint
broke the API's promise, which is an AWS-side failure (exit 6), said with the endpoint's URL.

`check_replies(client)` hooks every client we make (`AwsTarget.client`), so every call of every
backend is checked in one place, after botocore has parsed the reply and before any of our code
sees it:
- the shape, from botocore's service model: each member present has the modelled type (a
  string is a str, a list a list, ...), and each structure has its `required` members;
- what the API reference promises but the model does not mark `required` (Secrets Manager's
  models mark almost nothing required; its documentation says what every reply holds):
  `PROMISES`, the members our code reads, by operation;
- a page token that comes back unchanged, or that this listing has already been given (A, B,
  A: paging would never end), and a listing that keeps handing out empty pages with fresh
  tokens (AWS may return an empty page with a token, so only a long run of them is refused:
  `MAX_EMPTY_PAGES`); a listing is the calls of one thread with the same parameters but the
  token, from a call without a token to the page without one;
- that a Secrets Manager reply is about the secret asked for (its `Name`, or the name inside
  its `ARN`; a batch read returns only secrets it was asked for), that a value is within
  AWS's 65,536 bytes, and that DeleteSecret says when the deletion will happen (unless it was
  forced): a reply about another secret would be read, shown or reported as this one's.
A reply botocore itself cannot parse (garbage XML, a structure that is a string) is the same
failure. The checks name members only, never values: a reply may hold a secret.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import botocore.exceptions as bx

from envsecrets.errors import CliError

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from botocore.model import OperationModel, Shape

# The members each reply must hold, by "<endpoint prefix>.<Operation>": those our code reads
# and the API reference describes in every reply (so that a reply such as `{}` cannot pass
# for an empty answer). Replies whose content we do not read must still name what they acted
# on (`ARN|Name`): AWS's always do. A path is dot-separated; `List[]` means every entry of
# that list; the last step may be `A|B` (at least one of them).
PROMISES: dict[str, tuple[str, ...]] = {
    # Secrets Manager
    "secretsmanager.GetSecretValue": ("Name", "VersionId", "SecretString|SecretBinary"),
    "secretsmanager.BatchGetSecretValue": (
        "SecretValues|Errors",
        "SecretValues[].Name",
        "SecretValues[].VersionId",
        "SecretValues[].SecretString|SecretBinary",
        "Errors[].SecretId",
        "Errors[].ErrorCode",
    ),
    "secretsmanager.CreateSecret": ("VersionId",),  # we always send a value
    "secretsmanager.PutSecretValue": ("VersionId",),
    "secretsmanager.DescribeSecret": ("ARN", "Name"),  # `policy --resolve` reads the ARN
    "secretsmanager.ListSecrets": ("SecretList", "SecretList[].Name"),
    "secretsmanager.ListSecretVersionIds": ("Versions", "Versions[].VersionId"),
    "secretsmanager.UpdateSecret": ("ARN|Name",),
    "secretsmanager.UpdateSecretVersionStage": ("ARN|Name",),
    "secretsmanager.DeleteSecret": ("ARN|Name",),
    "secretsmanager.RestoreSecret": ("ARN|Name",),
    "secretsmanager.RotateSecret": ("ARN|Name",),
    "secretsmanager.ReplicateSecretToRegions": ("ARN|ReplicationStatus",),
    "secretsmanager.RemoveRegionsFromReplication": ("ARN|ReplicationStatus",),
    "secretsmanager.GetRandomPassword": ("RandomPassword",),
    # Parameter Store
    "ssm.GetParameter": ("Parameter", "Parameter.Name"),
    "ssm.GetParameters": ("Parameters|InvalidParameters", "Parameters[].Name"),
    "ssm.GetParametersByPath": ("Parameters", "Parameters[].Name"),
    "ssm.DescribeParameters": ("Parameters", "Parameters[].Name"),
    "ssm.DeleteParameters": ("DeletedParameters|InvalidParameters",),
    # Lambda
    "lambda.GetFunctionConfiguration": ("FunctionName", "FunctionArn"),
    "lambda.UpdateFunctionConfiguration": ("FunctionName|FunctionArn",),
    "lambda.ListFunctions": ("Functions", "Functions[].FunctionName"),
    # IAM (its model marks most list replies' members required already)
    "iam.GetPolicy": ("Policy", "Policy.DefaultVersionId"),
    "iam.GetPolicyVersion": ("PolicyVersion",),
    "iam.ListAttachedRolePolicies": ("AttachedPolicies", "AttachedPolicies[].PolicyArn"),
    # KMS, STS, ECS
    "kms.DescribeKey": ("KeyMetadata", "KeyMetadata.Arn"),
    "sts.GetCallerIdentity": ("Arn",),
    "sts.AssumeRole": ("Credentials",),
    "ecs.ListTaskDefinitionFamilies": ("families",),
    "ecs.DescribeTaskDefinition": ("taskDefinition",),
    "ecs.ListClusters": ("clusterArns",),
    "ecs.ListServices": ("serviceArns",),
    "ecs.DescribeServices": ("services",),
}

# (request member, reply member) of the page tokens our calls follow: a reply that hands back
# the token it was given would make a listing loop for ever.
PAGE_TOKENS = (
    ("NextToken", "NextToken"),  # Secrets Manager, SSM
    ("nextToken", "nextToken"),  # ECS
    ("Marker", "NextMarker"),  # Lambda
    ("Marker", "Marker"),  # IAM
)

# The Python type botocore's parsers give each modelled type.
_TYPES: dict[str, type | tuple[type, ...]] = {
    "structure": dict,
    "map": dict,
    "list": list,
    "string": str,
    "integer": int,
    "long": int,
    "boolean": bool,
    "float": (int, float),
    "double": (int, float),
    "timestamp": datetime.datetime,
    "blob": (bytes, bytearray),
}
# Members that botocore's own after-call handlers have already turned from the modelled type
# into another (IAM's URL-encoded policy documents, decoded to dicts).
_DECODED_BY_BOTOCORE = frozenset({"policyDocumentType"})
_CONTAINERS = frozenset({"structure", "list", "map"})
# Enough to say what is wrong; a long list of problems says no more.
MAX_PROBLEMS = 3
_SENT_TOKEN = "envsecrets.sent_page_token"  # noqa: S105 - a context key, not a password
_ASKED = "envsecrets.asked"  # the request's parameters that say which secret it is about
_ASKED_PATH = "envsecrets.asked_path"  # GetParametersByPath: the path asked for
# Request parameters that name the secret(s) a Secrets Manager call is about, and the one that
# makes DeleteSecret's DeletionDate optional.
_IDENTIFYING = ("SecretId", "Name", "SecretIdList", "ForceDeleteWithoutRecovery")
# Secrets Manager's largest value (SecretString or SecretBinary), in bytes.
MAX_VALUE_BYTES = 65_536
_LISTING = "envsecrets.listing"  # the key of the listing a call is a page of
# Empty pages in a row, each with a token, before a listing is given up on. AWS documents
# empty pages with a token (ListSecrets "might return fewer results than the maximum even when
# there are more"; SSM filters after paging): a few hundred in a row is no longer that.
MAX_EMPTY_PAGES = 200
# Pages in one listing before it is given up on: an endpoint that never stops handing out fresh
# tokens with non-empty pages would hold a command (and its memory) for ever. The largest
# listings AWS can give are well under it: 500,000 secrets a region in ListSecrets pages of
# 100 (5,000 pages), Parameter Store's 110,000 parameters in pages of 10 (11,000).
MAX_PAGES = 20_000


@dataclass
class _Listing:
    """The tokens one listing has been given so far, and its empty pages in a row."""

    tokens: set[str] = field(default_factory=set)
    empty_in_a_row: int = 0


class MalformedReply(bx.BotoCoreError):
    """A reply (HTTP 2xx) that lacks what the API promises, or that cannot be parsed."""

    fmt = "{endpoint} answered {operation} with a reply that {problem}"

    def __init__(self, *, endpoint: str, operation: str, problem: str) -> None:
        super().__init__(endpoint=endpoint, operation=operation, problem=problem)
        self.endpoint = endpoint
        self.operation = operation
        self.problem = problem


def check_replies(client: BaseClient) -> None:
    """Check every reply `client` receives (see the module's docstring); a reply that fails
    raises `MalformedReply` out of the call."""
    model = client.meta.service_model
    service = model.service_id.hyphenize()
    prefix = model.endpoint_prefix
    endpoint = str(client.meta.endpoint_url)
    listings = threading.local()  # per thread: listing key -> _Listing

    def remember_token(
        params: dict[str, Any], model: OperationModel, context: dict[str, Any], **_: Any
    ) -> None:
        sent = {name: params[name] for name, _ in PAGE_TOKENS if name in params}
        context[_SENT_TOKEN] = sent
        context.update(_what_was_asked(prefix, params))
        members = model.output_shape.members if model.output_shape is not None else {}
        if not any(received in members for _, received in PAGE_TOKENS):
            return  # not a listing
        key = _listing_key(model.name, params)
        context[_LISTING] = key
        open_listings: dict[str, _Listing] = listings.__dict__.setdefault("open", {})
        if not sent:
            open_listings[key] = _Listing()  # a first page: a listing (re)starts
        else:
            open_listings.setdefault(key, _Listing()).tokens.update(map(str, sent.values()))

    def after_call(
        http_response: Any,
        parsed: dict[str, Any],
        model: OperationModel,
        context: dict[str, Any],
        **_: Any,
    ) -> None:
        if http_response.status_code >= 300:
            if not_aws_error(http_response.status_code, parsed):
                raise MalformedReply(
                    endpoint=endpoint,
                    operation=model.name,
                    problem=f"is HTTP {http_response.status_code} without an AWS error code "
                    "(a proxy's or another server's page, not AWS's answer)",
                )
            return  # an error reply: the one translation (backends/aws.py) reads it
        problems = reply_problems(
            model, parsed, PROMISES.get(f"{prefix}.{model.name}", ()), context.get(_SENT_TOKEN)
        )
        if not problems and _ASKED in context:
            problems = secret_reply_problems(model.name, context[_ASKED], parsed)
        if not problems and _ASKED_PATH in context:
            problems = _outside_path(context[_ASKED_PATH], parsed)
        if not problems:
            problems = _paging_problems(
                model, parsed, listings.__dict__.setdefault("open", {}), context.get(_LISTING)
            )
        if problems:
            raise MalformedReply(
                endpoint=endpoint, operation=model.name, problem="; ".join(problems)
            )

    def after_error(exception: Exception, context: dict[str, Any], **_: Any) -> None:
        if _unreadable(exception):
            raise MalformedReply(
                endpoint=endpoint,
                operation=str(context.get("envsecrets.operation", "a call")),
                problem="cannot be parsed",
            ) from exception

    def name_operation(model: OperationModel, context: dict[str, Any], **_: Any) -> None:
        context["envsecrets.operation"] = model.name

    events = client.meta.events
    events.register(f"before-parameter-build.{service}", remember_token)
    events.register(f"before-call.{service}", name_operation)
    events.register(f"after-call.{service}", after_call)
    events.register(f"after-call-error.{service}", after_error)


def not_aws_error(status: int, parsed: dict[str, Any]) -> bool:
    """An error reply below 500 that carries no AWS error code: botocore then puts the HTTP
    status where the code belongs ("403"), as for a proxy's login or refusal page (403, 407),
    a redirect (302) or a 400 that is not JSON. AWS's own refusals always name their code.
    (A 5xx is an unavailability whoever answered it, and stays one.)"""
    if status >= 500:
        return False
    code = str((parsed.get("Error") or {}).get("Code") or "")
    return code == "" or code.isdigit()


def _listing_key(operation: str, params: dict[str, Any]) -> str:
    """What the pages of one listing have in common: the operation and its parameters but the
    page token (repr: parameters hold lists and dicts, e.g. Filters)."""
    tokens = {sent for sent, _ in PAGE_TOKENS}
    return repr((operation, sorted((k, repr(v)) for k, v in params.items() if k not in tokens)))


def _paging_problems(
    model: OperationModel, parsed: dict[str, Any], open_listings: dict[str, Any], key: Any
) -> list[str]:
    """A page token that its listing was given before (the pages would go round for ever), or
    the page after too many empty ones in a row; forgets a listing at its last page."""
    listing = open_listings.get(key) if isinstance(key, str) else None
    received = next(
        (parsed[name] for _, name in PAGE_TOKENS if isinstance(parsed.get(name), str)), None
    )
    if listing is None:
        return []
    if received is None:
        del open_listings[key]  # the last page
        return []
    shape = model.output_shape
    lists = [
        name
        for name, member in (shape.members if shape else {}).items()
        if member.type_name == "list"
    ]
    empty = bool(lists) and not any(parsed.get(name) for name in lists)
    listing.empty_in_a_row = listing.empty_in_a_row + 1 if empty else 0
    problems = []
    if received in listing.tokens:
        problems.append(
            "returns a page token this listing was given before (its pages would go round for ever)"
        )
    elif listing.empty_in_a_row > MAX_EMPTY_PAGES:
        problems.append(
            f"comes after {MAX_EMPTY_PAGES} empty pages in a row, each with a page token "
            "(the listing may never end)"
        )
    elif len(listing.tokens) >= MAX_PAGES:
        problems.append(
            f"is page {MAX_PAGES + 1} of one listing, more than AWS can hold (the listing may "
            "never end)"
        )
    listing.tokens.add(received)
    if problems:
        del open_listings[key]
    return problems


def _unreadable(exception: BaseException) -> bool:
    """Whether the call failed because botocore could not handle the reply: an error raised
    inside its parsers (its own ResponseParserError for invalid XML, or a Python error for a
    structure that is a string), or raised where its endpoint takes the parsed reply (a body
    of `null`)."""
    if isinstance(exception, bx.BotoCoreError | CliError):
        return False  # the SDK's own failures, and ours (a deadline that rang while parsing)
    modules = []
    tb = exception.__traceback__
    while tb is not None:
        modules.append(tb.tb_frame.f_globals.get("__name__"))
        tb = tb.tb_next
    return "botocore.parsers" in modules or modules[-1:] == ["botocore.endpoint"]


def reply_problems(
    operation: OperationModel,
    parsed: dict[str, Any],
    promised: Sequence[str] = (),
    sent_tokens: dict[str, Any] | None = None,
) -> list[str]:
    """What is wrong with `parsed`, a reply of `operation`, in words naming members only."""
    problems: list[str] = []
    shape = operation.output_shape
    if shape is not None:
        _check_shape(shape, parsed, "", problems)
    for path in promised:
        if len(problems) >= MAX_PROBLEMS:
            break
        problems.extend(_unmet(parsed, path.split("."), ""))
    for sent, received in PAGE_TOKENS:
        token = (sent_tokens or {}).get(sent)
        if token is not None and parsed.get(received) == token:
            problems.append(f"returns the page token {received} it was given")
    return _said(list(dict.fromkeys(problems))[:MAX_PROBLEMS])


def _said(problems: list[str]) -> list[str]:
    """The missing members named in one "lacks A, B, C", the other problems after it."""
    lacking = [p.removeprefix("lacks ") for p in problems if p.startswith("lacks ")]
    others = [p for p in problems if not p.startswith("lacks ")]
    return ([f"lacks {', '.join(lacking)}"] if lacking else []) + others


def _check_shape(shape: Shape, value: Any, where: str, problems: list[str]) -> None:
    """Types and required members of `value` against `shape`, recursively. Scalars are checked
    by their container, without a call each: a page of 100 secrets is checked in about 1 ms."""
    if len(problems) >= MAX_PROBLEMS or shape.metadata.get("document"):
        return  # a document is any JSON
    if not _is_a(shape, value):
        problems.append(f"has {where or 'a body'} that is not a {shape.type_name}")
        return
    kind = shape.type_name
    if kind == "structure":
        members: dict[str, Shape] = shape.members  # type: ignore[attr-defined]
        prefix = f"{where}." if where else ""
        for name in shape.required_members:
            if value.get(name) is None:
                problems.append(f"lacks {prefix}{name}")
        for name, item in value.items():
            member = members.get(name)
            if member is None or item is None:
                continue
            if member.type_name in _CONTAINERS:
                _check_shape(member, item, f"{prefix}{name}", problems)
            elif not _is_a(member, item):  # the name is formatted only for a problem
                problems.append(f"has {prefix}{name} that is not a {member.type_name}")
    elif kind == "list":
        member = shape.member  # type: ignore[attr-defined]
        for index, entry in enumerate(value):
            _check_member(member, entry, f"{where}[{index}]", problems)
    elif kind == "map":
        # Keys are not named: a map's keys can be data (a function's variable names).
        member = shape.value  # type: ignore[attr-defined]
        for entry in value.values():
            _check_member(member, entry, f"{where}[]", problems)


def _check_member(shape: Shape, value: Any, where: str, problems: list[str]) -> None:
    if shape.type_name in _CONTAINERS:
        _check_shape(shape, value, where, problems)
    elif not _is_a(shape, value):
        problems.append(f"has {where} that is not a {shape.type_name}")


def _is_a(shape: Shape, value: Any) -> bool:
    """Whether `value` has the Python type botocore's parsers give `shape`'s type."""
    if shape.name in _DECODED_BY_BOTOCORE:
        return True
    expected = _TYPES.get(shape.type_name)
    if expected is None:
        return True
    if isinstance(value, bool) and shape.type_name in ("integer", "long"):
        return False
    return isinstance(value, expected)


def _unmet(value: Any, steps: list[str], where: str) -> list[str]:
    """The promise `steps` (a path split at dots) where `value` does not keep it."""
    step, rest = steps[0], steps[1:]
    if not rest:
        if any(_present(value, name) for name in step.split("|")):
            return []
        return [f"lacks {where}{' or '.join(step.split('|'))}"]
    if step.endswith("[]"):
        name = step[:-2]
        entries = value.get(name) if isinstance(value, dict) else None
        found: list[str] = []
        for index, entry in enumerate(entries if isinstance(entries, list) else ()):
            found.extend(_unmet(entry, rest, f"{where}{name}[{index}]."))
            if found:
                break  # one entry says enough
        return found
    child = value.get(step) if isinstance(value, dict) else None
    if child is None:
        return []  # the step itself is promised separately where it must be present
    return _unmet(child, rest, f"{where}{step}.")


def _present(value: Any, name: str) -> bool:
    return isinstance(value, dict) and value.get(name) is not None


def secret_name_of(secret_id: str) -> str | None:
    """The name a SecretId stands for: itself, or the name inside a full ARN
    (`arn:...:secret:<name>-XXXXXX`); None for an ARN that is not a secret's."""
    if not secret_id.startswith("arn:"):
        return secret_id
    _, found, rest = secret_id.partition(":secret:")
    if not found or len(rest) < 8 or rest[-7] != "-":
        return None
    return rest[:-7]


def _what_was_asked(prefix: str, params: dict[str, Any]) -> dict[str, Any]:
    """What a reply must be about, kept in the call's context: the secret(s) a Secrets
    Manager request names, the path a Parameter Store listing asks for."""
    if prefix == "secretsmanager":
        return {_ASKED: {name: params[name] for name in _IDENTIFYING if name in params}}
    if prefix == "ssm" and isinstance(params.get("Path"), str):
        return {_ASKED_PATH: params["Path"]}
    return {}


def _outside_path(path: str, parsed: dict[str, Any]) -> list[str]:
    """A GetParametersByPath page holds only parameters under the path asked for: one from
    elsewhere would be migrated under a name cut from it by length (`/other/pw` as `er/pw`)."""
    base = path.rstrip("/") + "/"
    for parameter in parsed.get("Parameters") or ():
        name = parameter.get("Name") if isinstance(parameter, dict) else None
        if isinstance(name, str) and base != "/" and not name.startswith(base):
            return ["lists a parameter outside the path asked for (Parameters[].Name)"]
    return []


def secret_reply_problems(
    operation: str, asked: dict[str, Any], parsed: dict[str, Any]
) -> list[str]:
    """What is wrong with a Secrets Manager reply given what was asked (`asked`: the request's
    SecretId or Name, SecretIdList, ForceDeleteWithoutRecovery), in words naming members only."""
    problems: list[str] = []
    secret_id = asked.get("SecretId", asked.get("Name"))
    if isinstance(secret_id, str):
        problems.extend(_about_another(parsed, secret_id, ""))
    if operation == "BatchGetSecretValue" and isinstance(asked.get("SecretIdList"), list):
        problems.extend(_batch_problems(asked["SecretIdList"], parsed))
    problems.extend(_oversized(parsed, ""))
    if (
        operation == "DeleteSecret"
        and not asked.get("ForceDeleteWithoutRecovery")
        and parsed.get("DeletionDate") is None
    ):
        # "The date and time after which this secret Secrets Manager can permanently delete":
        # without it, nothing says that a recovery window was set.
        problems.append("lacks DeletionDate")
    return _said(list(dict.fromkeys(problems))[:MAX_PROBLEMS])


def _about_another(entry: dict[str, Any], secret_id: str, where: str) -> list[str]:
    """Whether `entry` (a reply, or an entry of a batch) names a secret other than the one
    `secret_id` (a name, a full ARN, or a partial ARN without the random suffix) stands for."""
    problems = []
    name, arn = entry.get("Name"), entry.get("ARN")
    if isinstance(name, str) and not _stands_for(secret_id, name=name):
        problems.append(f"is about another secret than the one asked for ({where}Name)")
    # Only a secret's ARN says which secret (anything else in ARN is no evidence either way).
    if isinstance(arn, str) and ":secret:" in arn and not _stands_for(secret_id, arn=arn):
        problems.append(f"is about another secret than the one asked for ({where}ARN)")
    return problems


def _stands_for(secret_id: str, *, name: str | None = None, arn: str | None = None) -> bool:
    """Whether a SecretId names the secret called `name`, or the secret whose full ARN is
    `arn` (an ARN ends in `-` and six random characters that a partial ARN leaves out)."""
    if not secret_id.startswith("arn:"):
        return name == secret_id if arn is None else secret_name_of(arn) == secret_id
    if arn is not None:
        return arn == secret_id or (
            arn.startswith(f"{secret_id}-") and len(arn) == len(secret_id) + 7
        )
    rest = secret_id.partition(":secret:")[2]
    return rest == name or (rest.startswith(f"{name}-") and len(rest) == len(str(name)) + 7)


def _batch_problems(asked: list[Any], parsed: dict[str, Any]) -> list[str]:
    """A batch read returns values and errors for the secrets it was asked for, and no other."""
    wanted = {secret_name_of(str(secret_id)) for secret_id in asked}
    problems = []
    for index, entry in enumerate(parsed.get("SecretValues") or ()):
        if isinstance(entry, dict) and entry.get("Name") not in wanted:
            problems.append(f"returns a secret it was not asked for (SecretValues[{index}])")
            break
        if isinstance(entry, dict):
            problems.extend(
                _about_another(entry, str(entry.get("Name")), f"SecretValues[{index}].")
            )
            problems.extend(_oversized(entry, f"SecretValues[{index}]."))
    for index, failure in enumerate(parsed.get("Errors") or ()):
        secret_id = failure.get("SecretId") if isinstance(failure, dict) else None
        if isinstance(secret_id, str) and secret_name_of(secret_id) not in wanted:
            problems.append(f"returns an error for a secret it was not asked for (Errors[{index}])")
            break
    return problems


def _oversized(entry: dict[str, Any], where: str) -> list[str]:
    """A value larger than Secrets Manager can hold did not come from Secrets Manager."""
    text, data = entry.get("SecretString"), entry.get("SecretBinary")
    size = 0
    if isinstance(text, str):
        size = len(text.encode("utf-8", "surrogatepass"))
    elif isinstance(data, bytes | bytearray):
        size = len(data)
    if size > MAX_VALUE_BYTES:
        member = "SecretString" if isinstance(text, str) else "SecretBinary"
        return [f"holds a value over {MAX_VALUE_BYTES:,} bytes, AWS's limit ({where}{member})"]
    return []
