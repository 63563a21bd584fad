"""The machine contract of `secrets rotate`: each `--json` shape in full, byte for byte, the
exact error (message and hint) for each flag mistake, and the mode each command line parses to.

The other rotate tests check behaviour and pick single keys out of the JSON; these pin every
key of every result kind (README "Rotation"), so a change to how a shape is built cannot drop,
rename or retype a key unnoticed. Every expected document is printed the way the renderer
prints (sorted keys, two-space indent), and compared with the bytes on stdout.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from envsecrets.commands.rotate_request import (
    DEFAULT_VERIFY_TIMEOUT,
    MODES,
    RotateFlags,
    RotateMode,
    parse_request,
)
from envsecrets.core.passwords import PasswordRules
from envsecrets.errors import CliError, ExitCode

from tests.test_rotate import holder, make, stages
from tests.test_rotate_bulk import leave_pending

MOTO_USER = "arn:aws:sts::123456789012:user/moto"  # GetCallerIdentity on the emulator
HELP = "see `secrets rotate --help`"


def printed(document: Any) -> str:
    """What `--json` writes for `document` (the renderer's stable JSON plus a newline)."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def record(sm: Any, name: str) -> dict[str, str]:
    tags = sm.describe_secret(SecretId=name).get("Tags", [])
    return {tag["Key"]: tag["Value"] for tag in tags}


def outcome_row(
    sm: Any, name: str, action: str, version: str, previous: str | None, *, verified: bool = False
) -> dict[str, Any]:
    """The row of a finished rotation or resume, with the record read back from the tags."""
    tags = record(sm, name)
    return {
        "name": name,
        "action": action,
        "version_id": version,
        "previous_version_id": previous,
        "verified": verified,
        "rotated_at": tags["envsecrets:rotated-at"],
        "rotated_by": tags["envsecrets:rotated-by"],
        "record_error": None,
        "applied_to": None,
        "cleanup_error": None,
    }


# -- one secret ---------------------------------------------------------------------------------
def test_rotated(cli, sm) -> None:
    old = make(sm, "dev/api/key", "v1")
    run = cli("rotate", "dev/api/key", "--stdin", "--json", "--verify-cmd", "true", input="v2")
    assert run.code == 0, run.stderr
    new = holder(sm, "dev/api/key", "AWSCURRENT")
    expected = outcome_row(sm, "dev/api/key", "rotated", str(new), old, verified=True)
    assert expected["rotated_by"] == MOTO_USER
    assert run.stdout == printed(expected)
    assert run.stderr == ""


def test_rotated_without_its_record(cli, sm, proxy) -> None:
    """TagResource denied: the rotation stands, the record's absence is reported in the row."""
    old = make(sm, "dev/api/key", "v1")
    proxy.deny("secretsmanager.TagResource")
    run = cli("rotate", "dev/api/key", "--stdin", "--json", input="v2")
    assert run.code == 0, run.stderr
    row = run.json()
    assert row["record_error"]  # AWS's refusal, as our error door words it
    expected = {
        "name": "dev/api/key",
        "action": "rotated",
        "version_id": holder(sm, "dev/api/key", "AWSCURRENT"),
        "previous_version_id": old,
        "verified": False,
        "rotated_at": None,
        "rotated_by": None,
        "record_error": row["record_error"],
        "applied_to": None,
        "cleanup_error": None,
    }
    assert run.stdout == printed(expected)


def test_resumed(cli, sm) -> None:
    old = make(sm, "dev/api/key", "v1")
    staged = leave_pending(sm, "dev/api/key", "v2")
    run = cli("rotate", "dev/api/key", "--resume", "--json")
    assert run.code == 0, run.stderr
    assert run.stdout == printed(outcome_row(sm, "dev/api/key", "resumed", staged, old))


def test_cancelled(cli, sm) -> None:
    old = make(sm, "dev/api/key", "v1")
    staged = leave_pending(sm, "dev/api/key", "v2")
    run = cli("rotate", "dev/api/key", "--cancel", "--json")
    assert run.code == 0, run.stderr
    expected = {
        "name": "dev/api/key",
        "action": "cancelled",
        "pending_version_id": staged,
        "version_id": old,
    }
    assert run.stdout == printed(expected)


@pytest.mark.parametrize("flag", ["--resume", "--cancel"])
def test_nothing_pending(cli, sm, flag: str) -> None:
    old = make(sm, "dev/api/key", "v1")
    run = cli("rotate", "dev/api/key", flag, "--json")
    assert run.code == 0, run.stderr
    expected = {
        "name": "dev/api/key",
        "action": "nothing pending",
        "version_id": old,
        "reason": f"no pending version; version {old} is AWSCURRENT",
    }
    assert run.stdout == printed(expected)


def test_rolled_back(cli, sm) -> None:
    old = make(sm, "dev/api/key", "v1")
    new = str(sm.put_secret_value(SecretId="dev/api/key", SecretString="v2")["VersionId"])
    run = cli("rotate", "dev/api/key", "--rollback", "--json")
    assert run.code == 0, run.stderr
    expected = {
        "name": "dev/api/key",
        "action": "rolled back",
        "version_id": old,
        "previous_version_id": new,
        "record_error": None,
        "applied_to": None,
        "cleanup_error": None,
    }
    assert run.stdout == printed(expected)


def test_rolled_back_already(cli, sm) -> None:
    old = make(sm, "dev/api/key", "v1")
    new = str(sm.put_secret_value(SecretId="dev/api/key", SecretString="v2")["VersionId"])
    assert cli("rotate", "dev/api/key", "--rollback").code == 0
    run = cli("rotate", "dev/api/key", "--rollback", "--json")
    assert run.code == 0, run.stderr
    expected = {
        "name": "dev/api/key",
        "action": "nothing to roll back",
        "version_id": old,
        "previous_version_id": new,
        "reason": f"already rolled back: version {old} is AWSCURRENT again since a rollback "
        f"from version {new} (AWSPREVIOUS); rolling back again would promote the value that "
        "was rolled back",
    }
    assert run.stdout == printed(expected)


def test_managed_rotation_started(cli, sm) -> None:
    """moto cannot run the Lambda (see test_rotate.py): the version and its status are what
    the emulator made of RotateSecret; the keys and the rest are ours."""
    make(sm, "dev/api/key", "v1")
    arn = "arn:aws:lambda:us-east-1:123456789012:function:rotate-api-key"
    with contextlib.suppress(sm.exceptions.ResourceNotFoundException):
        sm.rotate_secret(SecretId="dev/api/key", RotationLambdaARN=arn)
    pending = holder(sm, "dev/api/key", "AWSPENDING")
    if pending is not None and pending != holder(sm, "dev/api/key", "AWSCURRENT"):
        sm.update_secret_version_stage(
            SecretId="dev/api/key", VersionStage="AWSPENDING", RemoveFromVersionId=pending
        )
    run = cli("rotate", "dev/api/key", "--managed", "--json")
    assert run.code == 0, run.stderr
    row = run.json()
    assert row["status"] in {"finished", "pending"}
    expected = {
        "name": "dev/api/key",
        "action": "managed rotation started",
        "lambda_arn": arn,
        "version_id": row["version_id"],
        "status": row["status"],
    }
    assert isinstance(row["version_id"], str)
    assert run.stdout == printed(expected)


# -- bulk ---------------------------------------------------------------------------------------
def test_bulk_rotated_failed_skipped(cli, sm) -> None:
    old = make(sm, "dev/a", "text")
    make(sm, "dev/b", json.dumps({"user": "u", "password": "p"}))
    sm.create_secret(Name="dev/c", SecretBinary=b"\x00\x01binary")
    make(sm, "dev/d", "text")
    half = leave_pending(sm, "dev/d", "half")
    run = cli("rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes", "--json")
    assert run.code == 1
    new = str(holder(sm, "dev/a", "AWSCURRENT"))
    expected = {
        "rotated": [outcome_row(sm, "dev/a", "rotated", new, old)],
        "failed": [
            {
                "name": "dev/d",
                "step": "plan",
                "error": {
                    "code": 4,
                    "message": f"dev/d has a pending version ({half}) from a rotation that "
                    "is still under way elsewhere or did not finish (it left no mark of ours "
                    "to tell)",
                    "hint": "`secrets rotate --env dev --resume` promotes every version left "
                    "pending under this scope, `--cancel` drops them (one secret: "
                    "`secrets rotate dev/d --resume`)",
                },
                "state": "unchanged",
                "version_id": None,
            }
        ],
        "skipped": [
            {"name": "dev/b", "reason": "a JSON object: rotate one key with --field KEY"},
            {"name": "dev/c", "reason": "binary: a generated password would replace it"},
        ],
    }
    assert run.stdout == printed(expected)
    assert json.loads(run.stderr)["error"]["message"] == "1 of 2 rotations failed"


def test_bulk_nothing_to_rotate(cli, sm) -> None:
    make(sm, "dev/b", json.dumps({"user": "u", "password": "p"}))
    make(sm, "dev/fresh", "text")
    run = cli("rotate", "--env", "dev", "--older-than", "0", "--generate", "--field", "pw",
              "--yes", "--json")  # fmt: skip
    assert run.code == 0, run.stderr
    expected = {
        "rotated": [],
        "failed": [],
        "skipped": [
            {"name": "dev/b", "reason": "--field pw: no such key in the JSON secret"},
            {"name": "dev/fresh", "reason": "--field pw: the secret is not a JSON object"},
        ],
    }
    assert run.stdout == printed(expected)
    assert run.stderr == ""


def test_bulk_resumed(cli, sm) -> None:
    old = make(sm, "dev/api/a", "v1")
    make(sm, "dev/api/b", "v1")
    staged = leave_pending(sm, "dev/api/a", "v2")
    run = cli("rotate", "--env", "dev", "--resume", "--json")
    assert run.code == 0, run.stderr
    expected = {
        "resumed": [outcome_row(sm, "dev/api/a", "resumed", staged, old)],
        "failed": [],
        "left_alone": [],
    }
    assert run.stdout == printed(expected)


def test_bulk_cancelled(cli, sm) -> None:
    old = make(sm, "dev/api/a", "v1")
    staged = leave_pending(sm, "dev/api/a", "v2")
    run = cli("rotate", "--env", "dev", "--cancel", "--json")
    assert run.code == 0, run.stderr
    expected = {
        "cancelled": [
            {
                "name": "dev/api/a",
                "action": "cancelled",
                "pending_version_id": staged,
                "version_id": old,
            }
        ],
        "failed": [],
        "left_alone": [],
    }
    assert run.stdout == printed(expected)
    assert stages(sm, "dev/api/a") == {old: ["AWSCURRENT"]}


@pytest.mark.parametrize("flag", ["--resume", "--cancel"])
def test_bulk_nothing_pending(cli, sm, flag: str) -> None:
    make(sm, "dev/api/a", "v1")
    run = cli("rotate", "--env", "dev", flag, "--json")
    assert run.code == 0, run.stderr
    done = "resumed" if flag == "--resume" else "cancelled"
    assert run.stdout == printed({done: [], "failed": [], "left_alone": []})


# -- flag mistakes: the exact error for each rule -----------------------------------------------
BULK_ONLY = "--older-than and --prefix apply to bulk rotation (with --env ENV)"

FLAG_MISTAKES: list[tuple[list[str], str, str]] = [
    (["dev/a", "--rollback", "--resume"], "--rollback and --resume cannot be used together", HELP),
    (["--env", "dev", "--resume", "--cancel"], "--resume and --cancel cannot be used together",
     HELP),
    (["dev/a", "--generate", "--stdin"],
     "--generate and --stdin cannot be used together: pick one source", HELP),
    (["dev/a", "--stdin", "--from-file", "f"],
     "--stdin and --from-file cannot be used together: pick one source", HELP),
    (["dev/a", "--length", "12", "--exclude-punctuation"],
     "--length, --exclude-punctuation only apply with --generate", HELP),
    (["dev/a", "--stdin", "--exclude-characters", "x"],
     "--exclude-characters only applies with --generate", HELP),
    (["dev/a", "--generate", "--verify-timeout", "5"],
     "--verify-timeout only applies with --verify-cmd",
     "add --verify-cmd CMD, or drop --verify-timeout"),
    (["dev/a", "--generate", "--verify-cmd", " "], "--verify-cmd is empty", HELP),
    (["dev/a", "--stdin", "--whole"], "--whole only applies with --generate", HELP),
    (["dev/a", "--generate", "--field", "k", "--whole"],
     "--whole and --field cannot be used together: --field KEY replaces one key, --whole the "
     "entire value", HELP),
    (["--env", "dev", "--older-than", "1", "--generate", "--whole"],
     "--whole does not apply to bulk rotation: it skips JSON objects (rotate one key with "
     "--field KEY) and binary values", HELP),
    (["dev/a", "--env", "dev", "--older-than", "1", "--generate"],
     "give either NAME or --env (bulk rotation), not both", HELP),
    (["--env", "dev", "--rollback"], "--rollback works on one secret: give NAME instead of --env",
     HELP),
    (["--env", "dev", "--managed"], "--managed works on one secret: give NAME instead of --env",
     HELP),
    (["--generate"], "give the secret to rotate (NAME), or --env ENV for bulk rotation", HELP),
    (["dev/a", "--generate", "--older-than", "3"], BULK_ONLY, HELP),
    (["dev/a", "--prefix", "api/"], BULK_ONLY, HELP),
    (["dev/a", "--rollback", "--prefix", "api/"], BULK_ONLY, HELP),
    (["dev/a", "--rollback", "--generate"], "--rollback takes no new value: drop --generate", HELP),
    (["dev/a", "--cancel", "--from-file", "f"], "--cancel takes no new value: drop --from-file",
     HELP),
    (["dev/a", "--resume", "--field", "k"], "--resume takes no new value: drop --field", HELP),
    (["dev/a", "--managed", "--stdin", "--field", "k"],
     "--managed takes no new value: drop --stdin", HELP),
    (["dev/a", "--managed", "--verify-cmd", "true"], "--verify-cmd does not apply to --managed",
     HELP),
    (["dev/a", "--rollback", "--verify-cmd", "true"], "--verify-cmd does not apply to --rollback",
     HELP),
    (["dev/a", "--cancel", "--verify-cmd", "true"], "--verify-cmd does not apply to --cancel",
     HELP),
    (["--env", "dev", "--resume", "--generate"], "--resume takes no new value: drop --generate",
     HELP),
    (["--env", "dev", "--cancel", "--field", "k"], "--cancel takes no new value: drop --field",
     HELP),
    (["--env", "dev", "--cancel", "--verify-cmd", "true"],
     "--verify-cmd does not apply to --cancel", HELP),
    (["--env", "dev", "--resume", "--older-than", "3"],
     "--older-than does not apply to --env ... --resume: every rotation left pending under the "
     "scope is taken, whatever its age", HELP),
    (["--env", "dev", "--older-than", "1", "--stdin"], "bulk rotation needs --generate",
     "each secret gets its own value from GetRandomPassword"),
    (["--env", "dev", "--older-than", "1"], "bulk rotation needs --generate",
     "each secret gets its own value from GetRandomPassword"),
    (["--env", "dev", "--generate"],
     "bulk rotation needs --older-than DAYS (0 rotates every secret)", HELP),
    (["--env", "Dev", "--resume"],
     "invalid environment 'Dev': use 1-32 lowercase letters, digits or '-', starting with a "
     "letter or digit", "for example: prod, staging, dev-alice"),
    (["dev/a", "--generate", "--length", "3"],
     "--length 3 is too short to include one character of each kind (lowercase, uppercase, "
     "numbers, punctuation)", "use --length 32 or more"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message", "hint"), FLAG_MISTAKES, ids=[" ".join(m[0]) for m in FLAG_MISTAKES]
)
def test_flag_mistake(cli, proxy, args: list[str], message: str, hint: str) -> None:
    run = cli("rotate", *args, "--json", input="x")
    assert run.code == 2, run.stderr
    assert run.stdout == ""
    assert json.loads(run.stderr) == {"error": {"code": 2, "message": message, "hint": hint}}
    assert proxy.count() == 0  # refused before any AWS call


# -- the request: each mode chosen by its flags, parsed once -------------------------------------
def test_every_mode_has_its_rule() -> None:
    assert set(MODES) == set(RotateMode)
    chosen_by = [(rule.flag, rule.bulk) for rule in MODES.values()]
    assert len(set(chosen_by)) == len(chosen_by)  # one mode per (flag, scope)


@pytest.mark.parametrize(
    ("flags", "mode"),
    [
        (RotateFlags(name="dev/a"), RotateMode.ROTATE),
        (RotateFlags(name="dev/a", generate=True, field_key="pw"), RotateMode.ROTATE),
        (RotateFlags(name="dev/a", rollback=True), RotateMode.ROLLBACK),
        (RotateFlags(name="dev/a", resume=True, verify_cmd="true"), RotateMode.RESUME),
        (RotateFlags(name="dev/a", cancel=True), RotateMode.CANCEL),
        (RotateFlags(name="dev/a", managed=True), RotateMode.MANAGED),
        (RotateFlags(env="dev", older_than=0, generate=True), RotateMode.BULK),
        (RotateFlags(env="dev", resume=True, prefix="api/"), RotateMode.BULK_RESUME),
        (RotateFlags(env="dev", cancel=True), RotateMode.BULK_CANCEL),
    ],
    ids=lambda value: value.name if isinstance(value, RotateMode) else "",
)
def test_each_mode_is_chosen_by_its_flags(flags: RotateFlags, mode: RotateMode) -> None:
    request = parse_request(flags)
    assert request.mode is mode
    if MODES[mode].bulk:
        assert request.name is None and request.scope_env == "dev"
    else:
        assert str(request.secret) == "dev/a" and request.env is None


def test_the_request_carries_the_parsed_flags() -> None:
    request = parse_request(
        RotateFlags(
            env="dev",
            older_than=90,
            prefix="api/",
            generate=True,
            length=40,
            exclude_punctuation=True,
            field_key="password",
            verify_cmd="./check.sh",
            verify_timeout=5,
            concurrency=4,
            yes=True,
        )
    )
    assert request.generate_rules == PasswordRules(length=40, exclude_punctuation=True)
    assert (request.older_than, request.prefix, request.field_key) == (90, "api/", "password")
    assert (request.verify_cmd, request.verify_timeout) == ("./check.sh", 5)
    assert (request.concurrency, request.yes) == (4, True)
    single = parse_request(RotateFlags(name="dev/a", stdin=True))
    assert single.rules is None and single.stdin
    assert single.verify_timeout == DEFAULT_VERIFY_TIMEOUT


# Which optional flags each mode takes: the command-line contract, written out here on its own
# so that a change to the table in rotate_request.py shows up as a failing pair.
TAKES = {
    RotateMode.ROTATE: {"--generate", "--stdin", "--from-file", "--field", "--verify-cmd"},
    RotateMode.ROLLBACK: set(),
    RotateMode.RESUME: {"--verify-cmd"},
    RotateMode.CANCEL: set(),
    RotateMode.MANAGED: set(),
    RotateMode.BULK: {"--generate", "--field", "--verify-cmd", "--older-than", "--prefix"},
    RotateMode.BULK_RESUME: {"--verify-cmd", "--prefix"},
    RotateMode.BULK_CANCEL: {"--prefix"},
}
BASE: dict[RotateMode, dict[str, Any]] = {
    RotateMode.ROTATE: {"name": "dev/a"},
    RotateMode.ROLLBACK: {"name": "dev/a", "rollback": True},
    RotateMode.RESUME: {"name": "dev/a", "resume": True},
    RotateMode.CANCEL: {"name": "dev/a", "cancel": True},
    RotateMode.MANAGED: {"name": "dev/a", "managed": True},
    RotateMode.BULK: {"env": "dev", "older_than": 0, "generate": True},
    RotateMode.BULK_RESUME: {"env": "dev", "resume": True},
    RotateMode.BULK_CANCEL: {"env": "dev", "cancel": True},
}
EXTRA: dict[str, dict[str, Any]] = {
    "--generate": {"generate": True},
    "--stdin": {"stdin": True},
    "--from-file": {"from_file": Path("new-value.txt")},
    "--field": {"field_key": "password"},
    "--verify-cmd": {"verify_cmd": "true"},
    "--older-than": {"older_than": 3},
    "--prefix": {"prefix": "api/"},
}


@pytest.mark.parametrize("mode", list(RotateMode), ids=lambda mode: mode.name)
@pytest.mark.parametrize("flag", list(EXTRA))
def test_which_flags_each_mode_takes(mode: RotateMode, flag: str) -> None:
    flags = RotateFlags(**{**BASE[mode], **EXTRA[flag]})
    if flag in TAKES[mode]:
        assert parse_request(flags).mode is mode
    else:
        with pytest.raises(CliError) as refused:
            parse_request(flags)
        assert refused.value.code == ExitCode.USAGE
