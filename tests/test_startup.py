"""Start-up stays light: help, version and completion never load the AWS SDK or the prompts.

Each check runs in a fresh interpreter (a subprocess), because this test process has long
since imported boto3 for its fixtures, and reads that interpreter's `sys.modules`.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import envsecrets.app
import pytest
import typer
import typer.main
from envsecrets.app import FAMILIES as FAMILIES_IN_ORDER
from envsecrets.app import FAMILY_OF_COMMAND

from tests.conftest import aws_client

# Heavy libraries that only some commands need, and only when they run.
SDK_AND_PROMPTS = {"boto3", "botocore", "s3transfer", "questionary", "prompt_toolkit", "keyring"}

# Runs `secrets ARGV` through the console script's own entry point, then prints which top-level
# packages got imported. The output of the command itself is thrown away.
PROBE = """
import gc, io, json, sys
from contextlib import redirect_stderr, redirect_stdout
argv = json.loads(sys.argv[1])
sys.argv = ["secrets", *argv]
code = None
# Text streams with a .buffer, as `get` writes a value's bytes there.
sink = io.TextIOWrapper(io.BytesIO())
with redirect_stdout(sink), redirect_stderr(sink):
    try:
        from envsecrets.app import main
        main()
    except SystemExit as exit:
        code = exit.code
sink.flush()
said = sink.buffer.getvalue().decode(errors="replace")
modules = sorted({m.split(".")[0] for m in sys.modules})
ours = sorted(m for m in sys.modules if m.startswith("envsecrets."))
found = {"code": code, "modules": modules, "ours": ours, "output": said, "gc": gc.isenabled()}
print(json.dumps(found))
"""

# Every command's --help in one interpreter, noting what each one newly imported.
EVERY_HELP = """
import io, json, sys
from contextlib import redirect_stderr, redirect_stdout
import typer.main
from envsecrets.app import app
group = typer.main.get_command(app)
names = [[]] + [[name] for name in sorted(group.commands)]
for name, command in sorted(group.commands.items()):
    names += [[name, sub] for sub in sorted(getattr(command, "commands", {}))]
before = {m.split(".")[0] for m in sys.modules}
found = {}
for path in names:
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        try:
            app([*path, "--help"])
        except SystemExit:
            pass
    now = {m.split(".")[0] for m in sys.modules}
    found[" ".join(path) or "(root)"] = sorted(now - before)
    before = now
print(json.dumps(found))
"""

BUILD_ONLY = """
import json, sys
import typer.main
from envsecrets.app import app
typer.main.get_command(app)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def python(code: str, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def probe(*argv: str, expect: tuple[int | None, ...] = (0,)) -> set[str]:
    """The top-level packages `secrets ARGV` imported; its exit code must be in `expect`."""
    return set(probe_run(*argv, expect=expect)["modules"])


def probe_run(*argv: str, expect: tuple[int | None, ...] = (0,)) -> Any:
    result = python(PROBE, json.dumps(argv))
    assert result["code"] in expect, result["output"]
    return result


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["-h"], ["--version"], ["set", "--help"], ["get", "--help"], []],
    ids=["help", "h", "version", "set-help", "get-help", "no-args"],
)
def test_help_and_version_import_no_sdk_and_no_prompts(argv: list[str]) -> None:
    # Bare `secrets` shows the help as a usage error.
    modules = probe(*argv, expect=(0, 2) if not argv else (0,))
    assert not modules & SDK_AND_PROMPTS


def test_version_does_not_even_load_rich() -> None:
    # --version is eager: it prints before any command or rich help is built.
    result = probe_run("--debug", "--version")
    assert result["output"].startswith("secrets (envsecrets) ")
    assert "rich" not in result["modules"]
    assert not {m for m in result["ours"] if m.startswith("envsecrets.commands.")} - {
        "envsecrets.commands",
        "envsecrets.commands.common",
    }


def test_building_the_cli_imports_no_sdk_and_no_prompts() -> None:
    modules = set(python(BUILD_ONLY))
    assert "typer" in modules  # the probe did build it
    assert not modules & SDK_AND_PROMPTS
    assert "rich" not in modules  # rich is for terminals and help screens, loaded on use


def test_no_command_help_imports_the_sdk_or_prompts() -> None:
    found: dict[str, list[str]] = python(EVERY_HELP)
    assert "set" in found and "get" in found
    offenders = {path: sorted(set(new) & SDK_AND_PROMPTS) for path, new in found.items()}
    assert {path: new for path, new in offenders.items() if new} == {}


@pytest.mark.parametrize("flags", [[], ["--json"]], ids=["plain", "json"])
def test_get_loads_only_what_it_needs(sm: Any, flags: list[str]) -> None:
    """`secrets get` piped loads botocore, but not boto3 (resources and s3transfer: clients
    need neither) and nothing a terminal or a prompt needs. Each of these shows in the
    start-up bench. (Typer's coercion imports pydantic for any non-flag parameter: that is
    Typer's public behaviour, and no longer worked around.)"""
    sm.create_secret(Name="dev/api/key", SecretString="v")
    modules = probe("get", "dev/api/key", *flags)
    assert "botocore" in modules
    unneeded = {"boto3", "s3transfer", "questionary", "prompt_toolkit", "keyring", "rich"}
    assert not modules & unneeded


FAMILIES = ["rotate", "diff", "migrate", "policy", "audit", "setup"]


def test_get_imports_no_other_command_family(sm: Any) -> None:
    sm.create_secret(Name="dev/api/key", SecretString="v")
    ours = set(probe_run("get", "dev/api/key")["ours"])
    assert "envsecrets.commands.secret" in ours
    assert not ours & {f"envsecrets.commands.{family}" for family in FAMILIES}


FAMILY_MODULES = {f"envsecrets.commands.{family}" for family in ["secret", *FAMILIES]}


@pytest.mark.parametrize(
    "argv",
    [
        ["rotate", "--help"],
        ["copy", "--help"],
        ["migrate", "ssm", "--help"],
        ["policy", "--help"],
        ["audit", "--help"],
        ["doctor", "--help"],
        ["--region", "eu-west-1", "--debug", "diff", "--help"],
    ],
    ids=lambda argv: argv[-2],
)
def test_a_family_loads_alone_when_the_command_line_names_it(argv: list[str]) -> None:
    result = probe_run(*argv)
    family = FAMILY_OF_COMMAND[argv[-2] if argv[-2] != "ssm" else "migrate"]
    assert set(result["ours"]) & FAMILY_MODULES == {f"envsecrets.commands.{family}"}
    assert "Usage: secrets " in result["output"]


def test_the_family_table_matches_the_complete_cli() -> None:
    """The console script's shortcut table names each root command's family exactly."""
    found: dict[str, str] = {}
    for family in FAMILIES_IN_ORDER:
        app = typer.Typer()
        importlib.import_module(f"envsecrets.commands.{family}").register(app)
        found.update({str(info.name): family for info in app.registered_commands})
        found.update({str(info.name): family for info in app.registered_groups})
    assert found == FAMILY_OF_COMMAND
    assert set(found) == set(typer.main.get_group(envsecrets.app.app).commands)


# Runs the console script's entry point, noting each command that Typer builds on the way.
BUILT = """
import io, json, sys
from contextlib import redirect_stderr, redirect_stdout
import typer.main
built = []
build = typer.main.get_command_from_info
def noting(command_info, **options):
    built.append(command_info.name)
    return build(command_info, **options)
typer.main.get_command_from_info = noting
sys.argv = ["secrets", *json.loads(sys.argv[1])]
with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
    try:
        from envsecrets.app import main
        main()
    except SystemExit:
        pass
print(json.dumps(built))
"""


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["get", "dev/api/key"], ["get"]),
        (["--region", "us-east-1", "show", "dev/api/key"], ["show"]),
        (["migrate", "ssm", "--help"], ["ssm", "env-file", "lambda"]),  # the group's own
    ],
    ids=["get", "after-root-options", "sub-group"],
)
def test_the_console_script_builds_only_the_command_it_runs(
    sm: Any, argv: list[str], expected: list[str]
) -> None:
    """Typer builds every registered command (each parameter's coercion set up): a run needs
    one. The others are built only when asked for (help, completion, a typo)."""
    sm.create_secret(Name="dev/api/key", SecretString="v")
    assert python(BUILT, json.dumps(argv)) == expected


def test_a_typo_still_finds_its_command_in_the_complete_cli() -> None:
    built = python(BUILT, json.dumps(["rotat"]))
    assert "rotate" in built and "get" in built


def test_the_collector_is_off_for_start_up_only(sm: Any) -> None:
    """`main` turns the garbage collector off for start-up; a command's own work (bulk
    commands run for minutes) turns it back on, in the root's commands as in a sub-group's."""
    sm.create_secret(Name="dev/api/key", SecretString="v")
    assert probe_run("get", "dev/api/key")["gc"] is True
    assert probe_run("migrate", "env-file", "--help")["gc"] is False  # no command's work ran
    assert probe_run("--version")["gc"] is False
    argv = ["migrate", "ssm", "/none", "--to", "dev/one", "--dry-run", "--json"]
    assert probe_run(*argv, expect=(0, 1, 2, 3))["gc"] is True


def test_a_sub_group_command_loads_no_other_family(sm: Any) -> None:
    aws_client("ssm").put_parameter(Name="/one/key", Value="v", Type="SecureString")
    argv = ["migrate", "ssm", "/one", "--to", "dev/one", "-r", "--dry-run", "--yes", "--json"]
    result = probe_run(*argv)
    assert json.loads(result["output"])["plan"]["counts"]["create"] == 1
    assert set(result["ours"]) & FAMILY_MODULES == {"envsecrets.commands.migrate"}


@pytest.mark.parametrize(
    "argv",
    [
        ["migrate", "ssm", "/one", "--to", "dev/one", "--concurrency", "0", "--dry-run"],
        ["migrate", "ssm", "/one", "--to", "dev/one", "--max-rate", "0.5", "--dry-run"],
        ["delete", "dev/api/key", "--recovery-days", "3", "--yes"],
        ["list", "dev/", "--stale", "many"],
    ],
    ids=["concurrency", "max-rate", "recovery-days", "not-a-number"],
)
def test_values_typed_on_the_command_line_are_still_validated(sm: Any, argv: list[str]) -> None:
    sm.create_secret(Name="dev/api/key", SecretString="v")
    result = probe_run(*argv, expect=(2,))
    assert "Invalid value for" in result["output"]
    assert sm.describe_secret(SecretId="dev/api/key").get("DeletedDate") is None


def test_a_number_typed_in_range_is_accepted(sm: Any) -> None:
    aws_client("ssm").put_parameter(Name="/one/key", Value="v", Type="SecureString")
    argv = ["migrate", "ssm", "/one", "--to", "dev/one", "--concurrency", "64", "--dry-run"]
    probe_run(*argv, "--max-rate", "1", "--json")


def test_no_private_typer_name_in_the_code_or_the_tests() -> None:
    """Typer's public API only (issue 11): a private module or attribute of Typer is an upgrade
    that breaks every command. (The pattern is spelled so that it does not match itself.)"""
    private = re.compile(r"typer\.[_]|from typer import [_]|[_]runtime_param|[_]TyperParameter")
    root = Path(__file__).resolve().parent.parent
    found = [
        f"{path.relative_to(root)}:{number}"
        for folder in ("cli", "tests")
        for path in sorted((root / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if private.search(line)
    ]
    assert found == []


def test_console_help_lists_every_command_of_the_complete_cli() -> None:
    complete: list[str] = python(
        "import json, typer.main; from envsecrets.app import app; "
        "print(json.dumps(sorted(typer.main.get_command(app).commands)))"
    )
    assert {"set", "get", "rotate", "diff", "migrate"} <= set(complete)
    shown = probe_run("--help")["output"]
    assert all(re.search(rf"\b{re.escape(name)}\b", shown) for name in complete), shown
    typo = probe_run("rotat", expect=(2,))["output"]
    assert "Did you mean 'rotate'?" in typo
