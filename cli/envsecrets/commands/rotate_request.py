"""`secrets rotate`'s flags parsed once: the `RotateRequest` with its `RotateMode`.

Which flags each mode takes and needs is data (`MODES`); the checks read it in a fixed order
(one mode flag, one value source, dependent flags, the scope, what the mode takes, what it
needs) and refuse the first mistake with a usage error (exit 2) naming the flags, before
anything is read or changed.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from envsecrets.core.names import SecretName, validate_env
from envsecrets.errors import CliError, ExitCode

if TYPE_CHECKING:
    from envsecrets.core.passwords import PasswordRules
    from envsecrets.core.rotation_plans import FlagSettings
    from envsecrets.core.rotation_targets import TargetRef

DEFAULT_VERIFY_TIMEOUT = 60.0
DEFAULT_CONCURRENCY = 8
HELP_HINT = "see `secrets rotate --help`"


class RotateMode(enum.Enum):
    """The forms of `secrets rotate`: one secret, or (BULK*) every secret of a scope."""

    ROTATE = "rotate"
    ROLLBACK = "rollback"
    RESUME = "resume"
    CANCEL = "cancel"
    MANAGED = "managed"
    BULK = "bulk rotate"
    BULK_RESUME = "bulk resume"
    BULK_CANCEL = "bulk cancel"


@dataclass(frozen=True)
class ModeRule:
    """What one mode is chosen by and takes: `flag` picks it (None: the plain form), `bulk`
    works on `--env ENV` rather than NAME, `accepts` lists the optional flags it takes (of
    `SCOPED_FLAGS`), and `needs` what it cannot do without."""

    flag: str | None
    bulk: bool
    accepts: frozenset[str] = frozenset()
    needs: tuple[str, ...] = ()


VALUE_FLAGS = ("--generate", "--stdin", "--from-file", "--field")
APPLY_FLAGS = ("--apply-cmd", "--target")
# The flags only some modes take, in the order their refusals are checked.
SCOPED_FLAGS = (
    *VALUE_FLAGS,
    "--whole",
    "--verify-cmd",
    "--older-than",
    "--prefix",
    *APPLY_FLAGS,
    "--apply-timeout",
    "--delete-old",
    "--save-plan",
)
NAME = ("NAME",)
# What a single-secret mode that runs an apply step takes besides its own flags.
APPLYING = frozenset({*APPLY_FLAGS, "--apply-timeout"})

MODES: dict[RotateMode, ModeRule] = {
    RotateMode.ROTATE: ModeRule(
        flag=None,
        bulk=False,
        accepts=frozenset(
            {*VALUE_FLAGS, "--whole", "--verify-cmd", *APPLYING, "--delete-old", "--save-plan"}
        ),
        needs=NAME,
    ),
    RotateMode.ROLLBACK: ModeRule(
        flag="--rollback", bulk=False, accepts=frozenset({*APPLYING, "--delete-old"}), needs=NAME
    ),
    RotateMode.RESUME: ModeRule(
        flag="--resume",
        bulk=False,
        accepts=frozenset({"--verify-cmd", *APPLYING, "--delete-old"}),
        needs=NAME,
    ),
    RotateMode.CANCEL: ModeRule(flag="--cancel", bulk=False, accepts=APPLYING, needs=NAME),
    RotateMode.MANAGED: ModeRule(flag="--managed", bulk=False, needs=NAME),
    # Bulk modes take each secret's apply step from secrets.toml [rotation]; --generate is
    # needed for secrets without a plan only (checked once the plans are known).
    RotateMode.BULK: ModeRule(
        flag=None,
        bulk=True,
        accepts=frozenset(
            {
                "--generate",
                "--field",
                "--verify-cmd",
                "--older-than",
                "--prefix",
                "--apply-timeout",
                "--delete-old",
            }
        ),
        needs=("--older-than",),
    ),
    RotateMode.BULK_RESUME: ModeRule(
        flag="--resume",
        bulk=True,
        accepts=frozenset({"--verify-cmd", "--prefix", "--apply-timeout", "--delete-old"}),
    ),
    RotateMode.BULK_CANCEL: ModeRule(
        flag="--cancel", bulk=True, accepts=frozenset({"--prefix", "--apply-timeout"})
    ),
}
MODE_FLAGS = ("--rollback", "--resume", "--cancel", "--managed")
SOURCE_FLAGS = ("--generate", "--stdin", "--from-file")
# Flags that mean something only next to another one: (that flag, its dependents, the hint).
DEPENDENT_FLAGS = (
    (
        "--generate",
        ("--length", "--exclude-punctuation", "--exclude-characters", "--whole"),
        HELP_HINT,
    ),
    ("--verify-cmd", ("--verify-timeout",), "add --verify-cmd CMD, or drop --verify-timeout"),
)
# What a mode says when it lacks what it needs.
NEEDED = {
    "NAME": ("give the secret to rotate (NAME), or --env ENV for bulk rotation", HELP_HINT),
    "--generate": (
        "bulk rotation needs --generate",
        "each secret gets its own value from GetRandomPassword",
    ),
    "--older-than": ("bulk rotation needs --older-than DAYS (0 rotates every secret)", HELP_HINT),
}


@dataclass(frozen=True)
class RotateFlags:
    """The command line as Typer typed it, before any check."""

    name: str | None = None
    generate: bool = False
    length: int | None = None
    exclude_punctuation: bool = False
    exclude_characters: str | None = None
    stdin: bool = False
    from_file: Path | None = None
    field_key: str | None = None
    whole: bool = False
    verify_cmd: str | None = None
    verify_timeout: float | None = None
    rollback: bool = False
    resume: bool = False
    cancel: bool = False
    managed: bool = False
    env: str | None = None
    older_than: int | None = None
    prefix: str | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    yes: bool = False
    apply_cmd: str | None = None
    apply_timeout: float | None = None
    target: str | None = None
    delete_old: bool = False
    save_plan: bool = False

    def given(self) -> list[str]:
        """The flags on the command line, in the order the messages name them."""
        present = (
            ("--rollback", self.rollback),
            ("--resume", self.resume),
            ("--cancel", self.cancel),
            ("--managed", self.managed),
            ("--generate", self.generate),
            ("--stdin", self.stdin),
            ("--from-file", self.from_file is not None),
            ("--field", self.field_key is not None),
            ("--whole", self.whole),
            ("--length", self.length is not None),
            ("--exclude-punctuation", self.exclude_punctuation),
            ("--exclude-characters", self.exclude_characters is not None),
            ("--verify-cmd", self.verify_cmd is not None),
            ("--verify-timeout", self.verify_timeout is not None),
            ("--older-than", self.older_than is not None),
            ("--prefix", self.prefix is not None),
            ("--apply-cmd", self.apply_cmd is not None),
            ("--target", self.target is not None),
            ("--apply-timeout", self.apply_timeout is not None),
            ("--delete-old", self.delete_old),
            ("--save-plan", self.save_plan),
        )
        return [flag for flag, on in present if on]


@dataclass(frozen=True)
class RotateRequest:
    """What `secrets rotate` was asked to do, checked: the mode and what it works on."""

    mode: RotateMode
    name: SecretName | None = None  # the single-secret modes
    env: str | None = None  # the bulk modes
    rules: PasswordRules | None = None  # --generate, its constraints checked
    stdin: bool = False
    from_file: Path | None = None
    field_key: str | None = None
    whole: bool = False  # --generate over a JSON object or binary value, on purpose
    verify_cmd: str | None = None
    verify_timeout: float = DEFAULT_VERIFY_TIMEOUT
    older_than: int = 0
    prefix: str | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    yes: bool = False
    apply_cmd: str | None = None
    apply_timeout: float | None = None
    target: TargetRef | None = None
    delete_old: bool = False
    save_plan: bool = False
    # The flags that a secret's rotation plan (secrets.toml [rotation]) yields to, as given.
    over_plan: FlagSettings | None = None

    @property
    def flags(self) -> FlagSettings:
        """What the command line says over a secret's rotation plan."""
        if self.over_plan is None:
            raise _internal(f"{self.mode.value} without its flags")
        return self.over_plan

    @property
    def secret(self) -> SecretName:
        """The secret of a single-secret mode."""
        if self.name is None:
            raise _internal(f"{self.mode.value} without NAME")
        return self.name

    @property
    def generate_rules(self) -> PasswordRules:
        """--generate's rules, in a mode that needs them (bulk rotation)."""
        if self.rules is None:
            raise _internal(f"{self.mode.value} without --generate")
        return self.rules

    @property
    def scope_env(self) -> str:
        """The environment of a bulk mode."""
        if self.env is None:
            raise _internal(f"{self.mode.value} without --env")
        return self.env


def parse_request(flags: RotateFlags) -> RotateRequest:
    """Check the flags against each other and choose the mode, before anything is read or
    changed; every mistake is a usage error (exit 2) naming the flags."""
    from envsecrets.core.passwords import DEFAULT_LENGTH, PasswordRules
    from envsecrets.core.rotation_plans import FlagSettings
    from envsecrets.core.rotation_targets import TargetRef

    given = flags.given()
    _check_alone(given, flags.verify_cmd, flags.apply_cmd)
    mode = _choose_mode(flags, given)
    _check_mode_takes(mode, given)
    _check_mode_needs(mode, given, flags.name)
    rules = None
    if flags.generate:
        rules = PasswordRules(
            length=flags.length if flags.length is not None else DEFAULT_LENGTH,
            exclude_punctuation=flags.exclude_punctuation,
            exclude_characters=flags.exclude_characters or "",
        ).check()  # impossible constraints: exit 2 before any AWS call
    target = None if flags.target is None else TargetRef.parse(flags.target)
    over_plan = FlagSettings(
        target=target,
        apply_cmd=flags.apply_cmd,
        apply_timeout=flags.apply_timeout,
        verify_cmd=flags.verify_cmd,
        verify_timeout=flags.verify_timeout,
        rules=rules,
        stdin=flags.stdin,
        from_file=flags.from_file is not None,
        field_key=flags.field_key,
        whole=flags.whole,
        delete_old=flags.delete_old,
    )
    return RotateRequest(
        mode=mode,
        name=None if flags.name is None else SecretName.parse(flags.name),
        env=flags.env,
        rules=rules,
        stdin=flags.stdin,
        from_file=flags.from_file,
        field_key=flags.field_key,
        whole=flags.whole,
        verify_cmd=flags.verify_cmd,
        verify_timeout=DEFAULT_VERIFY_TIMEOUT
        if flags.verify_timeout is None
        else flags.verify_timeout,
        older_than=flags.older_than or 0,
        prefix=flags.prefix,
        concurrency=flags.concurrency,
        yes=flags.yes,
        apply_cmd=flags.apply_cmd,
        apply_timeout=flags.apply_timeout,
        target=target,
        delete_old=flags.delete_old,
        save_plan=flags.save_plan,
        over_plan=over_plan,
    )


def _usage(message: str, hint: str = HELP_HINT) -> CliError:
    return CliError(ExitCode.USAGE, message, hint)


def _internal(what: str) -> CliError:
    from envsecrets.core.rotation import REPORT_BUG_HINT

    return CliError(ExitCode.FAILED, f"internal: {what}", REPORT_BUG_HINT)


def _check_alone(given: list[str], verify_cmd: str | None, apply_cmd: str | None) -> None:
    """The rules that hold whatever the mode: one mode flag, one value source, one apply
    step, no flag without the one it refines, no blank --verify-cmd or --apply-cmd."""
    modes = [flag for flag in given if flag in MODE_FLAGS]
    if len(modes) > 1:
        raise _usage(f"{' and '.join(modes)} cannot be used together")
    sources = [flag for flag in given if flag in SOURCE_FLAGS]
    if len(sources) > 1:
        raise _usage(f"{' and '.join(sources)} cannot be used together: pick one source")
    for needed, dependents, hint in DEPENDENT_FLAGS:
        alone = [flag for flag in dependents if flag in given and needed not in given]
        if alone:
            verb = "applies" if len(alone) == 1 else "apply"
            raise _usage(f"{', '.join(alone)} only {verb} with {needed}", hint)
    if "--whole" in given and "--field" in given:
        raise _usage(
            "--whole and --field cannot be used together: --field KEY replaces one key, "
            "--whole the entire value"
        )
    if verify_cmd is not None and not verify_cmd.strip():
        raise _usage("--verify-cmd is empty")
    if "--apply-cmd" in given and "--target" in given:
        raise _usage(
            "--apply-cmd and --target cannot be used together: a rotation has one apply step"
        )
    if apply_cmd is not None and not apply_cmd.strip():
        raise _usage("--apply-cmd is empty")


def _choose_mode(flags: RotateFlags, given: list[str]) -> RotateMode:
    """The mode from the scope (NAME, or --env ENV) and the mode flag, if any."""
    flag = next((f for f in given if f in MODE_FLAGS), None)
    bulk = flags.env is not None
    if flags.env is not None:
        validate_env(flags.env)
        if flags.name is not None:
            raise _usage("give either NAME or --env (bulk rotation), not both")
    for mode, rule in MODES.items():
        if rule.flag == flag and rule.bulk == bulk:
            return mode
    raise _usage(f"{flag} works on one secret: give NAME instead of --env")


def _check_mode_takes(mode: RotateMode, given: list[str]) -> None:
    """Refuse the first flag the mode does not take, saying why."""
    rule = MODES[mode]
    refused = next((f for f in SCOPED_FLAGS if f in given and f not in rule.accepts), None)
    if refused is None:
        return
    if refused in VALUE_FLAGS:
        if rule.flag is None:  # bulk rotation: generated values only
            raise _usage(*NEEDED["--generate"])
        raise _usage(f"{rule.flag} takes no new value: drop {refused}")
    if refused == "--whole":
        if rule.bulk and rule.flag is None:
            raise _usage(
                "--whole does not apply to bulk rotation: it skips JSON objects (rotate one key "
                "with --field KEY) and binary values"
            )
        raise _usage(f"{rule.flag or '--env'} takes no new value: drop --whole")
    if refused == "--verify-cmd":
        raise _usage(f"--verify-cmd does not apply to {rule.flag}")
    if refused in NOT_TAKEN:
        scope = rule.flag or "bulk rotation"
        if rule.bulk and rule.flag is not None:
            scope = f"--env ... {rule.flag}"
        raise _usage(f"{refused} does not apply to {scope}", NOT_TAKEN[refused](rule))
    if rule.bulk:  # --older-than with --env ... --resume/--cancel
        raise _usage(
            f"--older-than does not apply to --env ... {rule.flag}: every rotation left "
            "pending under the scope is taken, whatever its age"
        )
    raise _usage("--older-than and --prefix apply to bulk rotation (with --env ENV)")


# Why a mode does not take one of the apply-step flags (the hint of the refusal).
NOT_TAKEN: dict[str, Callable[[ModeRule], str]] = {
    "--apply-cmd": lambda rule: (
        "declare each secret's apply step in secrets.toml [rotation]" if rule.bulk else HELP_HINT
    ),
    "--target": lambda rule: (
        "declare each secret's target in secrets.toml [rotation]" if rule.bulk else HELP_HINT
    ),
    "--apply-timeout": lambda rule: HELP_HINT,
    "--delete-old": lambda rule: "--delete-old concerns an iam-user target's old access key",
    "--save-plan": lambda rule: "--save-plan records how one secret was rotated (NAME)",
}


def _check_mode_needs(mode: RotateMode, given: list[str], name: str | None) -> None:
    for needed in MODES[mode].needs:
        present = name is not None if needed == "NAME" else needed in given
        if not present:
            raise _usage(*NEEDED[needed])
