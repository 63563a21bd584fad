"""The secrets under a scope (`dev` or `dev/api`) as variables, for `run` and `export`.

A secret's variable name is its path below the scope, upper-cased, with every character
outside `[A-Z0-9_]` turned into `_` (`api/stripe-key` under `dev` is `API_STRIPE_KEY`); a name
that would start with a digit gets a leading `_`, as no shell accepts such a variable. Two
secrets (or JSON keys, with `--expand-json`) that give one name are an error naming both:
silently dropping one would start the program with the wrong value.

Reading is one listing of the scope and one `read_many` of the names (the store batches them,
20 a BatchGetSecretValue call): values arrive all together or the command stops, so a program
never starts with half its secrets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from envsecrets.core.masking import forms_to_mask
from envsecrets.core.names import SEGMENT_PATTERN, NamePrefix
from envsecrets.core.obeyed import is_obeyed
from envsecrets.core.store import NO_VALUE, SecretStore
from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode

NOT_IN_A_NAME = re.compile(r"[^A-Z0-9_]")

# Per-secret error codes of BatchGetSecretValue, by what the user can do about them.
DENIED_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "DecryptionFailure",
        "KMSAccessDeniedException",
        "UnrecognizedClientException",
    }
)
# Gone since it was listed: deleted (ResourceNotFound) or scheduled for deletion (InvalidRequest).
GONE_CODES = frozenset({"ResourceNotFoundException", "InvalidRequestException"})
BUSY_CODES = frozenset(
    {"ThrottlingException", "Throttling", "InternalServiceError", "ServiceUnavailable"}
)
# The store's own code for a name its reply neither answered nor refused: a broken reply.
UNANSWERED = "Missing"


def variable_name(relative: str) -> str:
    """The variable for a path (or a JSON key) below the scope: `api/stripe-key` ->
    `API_STRIPE_KEY`, `2fa/seed` -> `_2FA_SEED`."""
    name = NOT_IN_A_NAME.sub("_", relative.upper())
    return f"_{name}" if name[:1].isdigit() else name


@dataclass(frozen=True)
class Scope:
    """`ENV` or `ENV/PREFIX`, narrowed by `--only` paths (relative to the scope)."""

    prefix: NamePrefix
    only: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str, only: Sequence[str] = ()) -> Scope:
        """Validate the scope and every `--only` path; bad input is a usage error."""
        return cls(NamePrefix.parse(text), tuple(_only_path(path) for path in only))

    @property
    def env(self) -> str:
        return self.prefix.env

    def base(self, only: str) -> str:
        """The full name an `--only` path stands for."""
        return f"{self.prefix}{only}"

    def selects(self, name: str) -> bool:
        """Whether the full name `name` (under the scope) is wanted."""
        if not self.only:
            return True
        return any(name == self.base(p) or name.startswith(self.base(p) + "/") for p in self.only)

    def relative(self, name: str) -> str:
        return self.prefix.relative(name)


def _only_path(text: str) -> str:
    path = text.strip("/")
    segments = path.split("/")
    if not path or not all(SEGMENT_PATTERN.fullmatch(s) for s in segments):
        shown = "".join(c if c.isprintable() else "?" for c in text)
        raise CliError(
            ExitCode.USAGE,
            f"--only '{shown}': not a path (segments of letters, digits and _+=.@-)",
            "give a path below the scope, e.g. --only api/stripe-key or --only db/",
        )
    if any(s in (".", "..") for s in segments):
        raise CliError(
            ExitCode.USAGE,
            f"--only '{text}': '.' and '..' are not path segments",
            "give a path below the scope, e.g. --only api/stripe-key",
        )
    return path


def names_in_scope(store: SecretStore, scope: Scope) -> list[str]:
    """The names to read: what one listing of the scope finds (`--only` applied), plus each
    `--only` path that matched nothing, read by its exact name (a secret created a moment ago
    may not be listed yet: ListSecrets is eventually consistent). Raises NOT_FOUND when the
    scope holds nothing at all."""
    listed = sorted(m.name for m in store.list(str(scope.prefix)))
    names = [name for name in listed if scope.selects(name)]
    for path in scope.only:
        base = scope.base(path)
        if not any(n == base or n.startswith(base + "/") for n in names):
            names.append(base)
    if not names:
        raise CliError(
            ExitCode.NOT_FOUND,
            f"no secrets under {scope.prefix}; nothing was started or written",
            f"`secrets list {scope.env}/` shows what exists",
        )
    return sorted(set(names))


def read_values(
    store: SecretStore,
    names: Sequence[str],
    *,
    about: Callable[[str], str] = str,
    scope: Scope | None = None,
    left_out: Callable[[str], None] | None = None,
) -> dict[str, SecretValue]:
    """Every name's current value, in as few calls as the store allows, or a CliError (and
    nothing else) when any one of them could not be read. `about(name)` words a name for the
    error: `--only db/x`, or the template line that referenced it.

    With `scope`: a name only its listing found (not one an `--only` path names) that is gone
    since (deleted or scheduled for deletion, which its DescribeSecret confirms) is left out
    and passed to `left_out`: ListSecrets lags deletions by up to five minutes, and a secret
    nobody asked for by name is no reason to stop every run meanwhile."""
    batch = store.read_many(list(names))
    wanted = set(names)
    failed = {name: code for name, code in batch.errors.items() if name in wanted}
    missing = [name for name in names if name not in batch.values and name not in failed]
    failed.update(dict.fromkeys(missing, UNANSWERED))
    if scope is not None:
        asked = {scope.base(path) for path in scope.only}
        for name in sorted(failed):
            if failed[name] in GONE_CODES and name not in asked and _gone(store, name):
                del failed[name]
                if left_out is not None:
                    left_out(name)
    if failed:
        raise read_failure(failed, about)
    found = {name: batch.values[name].value for name in names if name not in batch.errors}
    if scope is not None and not found:
        raise CliError(
            ExitCode.NOT_FOUND,
            f"no secrets under {scope.prefix}: those listed were deleted since; nothing was "
            "started or written",
            f"`secrets list {scope.env}/` shows what exists",
        )
    return found


def _gone(store: SecretStore, name: str) -> bool:
    """Whether `name` no longer exists or is scheduled for deletion (not, say, a secret
    without a current value, which stays an error)."""
    try:
        return store.describe(name).scheduled_for_deletion
    except CliError as exc:
        return exc.code == ExitCode.NOT_FOUND


def read_failure(failed: Mapping[str, str], about: Callable[[str], str] = str) -> CliError:
    """One error for the secrets that could not be read, with the exit code that fits the
    worst of them (denied 5, unavailable 6, gone 3, anything else 1)."""
    ordered = sorted(failed)

    def first(codes: Iterable[str] | None) -> str | None:
        wanted = set(codes) if codes is not None else None
        return next((n for n in ordered if wanted is None or failed[n] in wanted), None)

    more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
    if (name := first(DENIED_CODES)) is not None:
        return CliError(
            ExitCode.AUTH,
            f"access denied reading {about(name)} ({failed[name]}){more}",
            "check secretsmanager:BatchGetSecretValue, GetSecretValue and kms:Decrypt for "
            "this environment's role (`secrets doctor` shows them)",
        )
    if (name := first(BUSY_CODES | {UNANSWERED})) is not None:
        why = "no answer for it" if failed[name] == UNANSWERED else failed[name]
        return CliError(
            ExitCode.UNAVAILABLE,
            f"AWS did not return {about(name)} ({why}){more}",
            "run the command again in a moment",
        )
    if (name := first([NO_VALUE])) is not None:
        return CliError(
            ExitCode.NOT_FOUND,
            f"{about(name)} has no value (no AWSCURRENT version){more}",
            f"`secrets set {name}` gives it one",
        )
    if (name := first(GONE_CODES)) is not None:
        deleting = failed[name] == "InvalidRequestException"
        return CliError(
            ExitCode.NOT_FOUND,
            f"{about(name)} {'is scheduled for deletion' if deleting else 'not found'}{more}",
            f"`secrets restore {name}` cancels the deletion"
            if deleting
            else f"`secrets list {name.partition('/')[0]}/` shows what exists",
        )
    name = ordered[0]
    return CliError(
        ExitCode.FAILED,
        f"could not read {about(name)} ({failed[name]}){more}",
        "run the command again; `secrets doctor` checks the AWS setup",
    )


@dataclass(frozen=True)
class Variable:
    """One variable of a run or an export: its name, the secret (and JSON key) it comes
    from, and its value."""

    name: str
    secret: str
    key: str | None
    value: SecretValue

    @property
    def source(self) -> str:
        """Where the value comes from, as users write it: `dev/db/creds#password`."""
        return self.secret if self.key is None else f"{self.secret}#{self.key}"


def json_object(value: SecretValue) -> dict[str, object] | None:
    """The parsed value of a JSON object secret; None for any other value."""
    if value.kind != "json":
        return None
    document = json.loads(value.data())
    return {str(key): item for key, item in document.items()}


def json_fields(value: SecretValue) -> dict[str, SecretValue]:
    """A JSON object secret's top-level keys and their values (strings as they are, anything
    else as JSON, like `get --field`); empty for any other value."""
    return {key: value.field(key) for key in json_object(value) or {}}


def scope_variables(
    values: Mapping[str, SecretValue], scope: Scope, *, expand_json: bool = False
) -> list[Variable]:
    """The variables for `values` (full name -> value), sorted by name; `expand_json` adds
    one per top-level key of each JSON object secret (`DB_CREDS_PASSWORD`). Two sources
    that give one name are a usage error naming both."""
    found: dict[str, Variable] = {}
    for name in sorted(values):
        base = variable_name(scope.relative(name))
        wanted = [Variable(base, name, None, values[name])]
        if expand_json:
            for key, item in json_fields(values[name]).items():
                suffix = NOT_IN_A_NAME.sub("_", key.upper())
                wanted.append(Variable(f"{base}_{suffix}", name, key, item))
        for variable in wanted:
            other = found.get(variable.name)
            if other is not None:
                from_a_key = other.key is not None or variable.key is not None
                raise CliError(
                    ExitCode.USAGE,
                    f"{other.source} and {variable.source} both become {variable.name}",
                    # --only picks secrets, not JSON keys: it cannot drop a key.
                    "rename the JSON key or the secret, or drop --expand-json"
                    if from_a_key
                    else "rename one of the secrets, or leave one out with --only",
                )
            found[variable.name] = variable
    return [found[name] for name in sorted(found)]


def refuse_obeyed(variables: Iterable[Variable], scope: Scope, *, as_files: bool) -> list[str]:
    """Refuse a variable that programs obey (`core/obeyed.py`: LD_PRELOAD, BASH_ENV,
    AWS_CONFIG_FILE...), in the form it would be set: `NAME_FILE` when values are files
    (`as_files`), `NAME` when they are values. A secret the user named exactly with `--only`
    is let through: the returned warnings say which."""
    named = {scope.base(path) for path in scope.only}
    warnings: list[str] = []
    for variable in variables:
        set_as = f"{variable.name}_FILE" if as_files else variable.name
        if not is_obeyed(set_as):
            continue
        if variable.secret in named:
            warnings.append(
                f"{variable.source} sets {set_as}, which programs obey (you named it with --only)"
            )
            continue
        raise CliError(
            ExitCode.USAGE,
            f"{variable.source} would set {set_as}, a variable that programs, shells or SDKs "
            "obey: whoever can write that secret could run code as you",
            f"rename the secret; if {set_as} is what you mean, name it: "
            f"--only {scope.relative(variable.secret)}",
        )
    return warnings


def mask_patterns(values: Iterable[SecretValue], *, expand_json: bool = False) -> list[bytes]:
    """What `--mask` hides: every form of every value (`masking.forms_to_mask`: stripped,
    line by line, JSON- and repr-escaped), and the same for every string inside a JSON
    secret, at any depth; with `expand_json` also each top-level member's text (numbers
    too), as each became a variable of its own."""
    patterns: set[bytes] = set()
    for value in values:
        patterns.update(forms_to_mask(value.data()))
        for text in _json_strings(value):
            patterns.update(forms_to_mask(text))
        if expand_json:
            for item in json_fields(value).values():
                patterns.update(forms_to_mask(item.data()))
    return sorted(patterns)


def _json_strings(value: SecretValue) -> list[str]:
    """Every string inside a JSON object secret (members, nested objects and arrays), keys
    aside; empty for any other value."""
    found: list[str] = []
    pending: list[object] = list((json_object(value) or {}).values())
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return found
