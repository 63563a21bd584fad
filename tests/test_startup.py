"""Start-up stays light: help, version and completion never load the AWS SDK or the prompts.

Each check runs in a fresh interpreter (a subprocess), because this test process has long
since imported boto3 for its fixtures, and reads that interpreter's `sys.modules`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest

# Heavy libraries that only some commands need, and only when they run.
SDK_AND_PROMPTS = {"boto3", "botocore", "s3transfer", "questionary", "prompt_toolkit", "keyring"}

# Runs `secrets ARGV` through the console script's own entry point, then prints which top-level
# packages got imported. The output of the command itself is thrown away.
PROBE = """
import io, json, sys
from contextlib import redirect_stderr, redirect_stdout
argv = json.loads(sys.argv[1])
sys.argv = ["secrets", *argv]
code = None
# Text streams with a .buffer, as `get` writes a value's bytes there.
sink = io.TextIOWrapper(io.BytesIO())
with redirect_stdout(sink), redirect_stderr(sink):
    try:
        from cli.app import main
        main()
    except SystemExit as exit:
        code = exit.code
sink.flush()
said = sink.buffer.getvalue().decode(errors="replace")
modules = sorted({m.split(".")[0] for m in sys.modules})
ours = sorted(m for m in sys.modules if m.startswith("cli."))
print(json.dumps({"code": code, "modules": modules, "ours": ours, "output": said}))
"""

# Every command's --help in one interpreter, noting what each one newly imported.
EVERY_HELP = """
import io, json, sys
from contextlib import redirect_stderr, redirect_stdout
import typer.main
from cli.app import app
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
from cli.app import app
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
    modules = probe("--version")
    assert "rich" not in modules


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


def test_get_loads_only_what_it_needs(sm: Any) -> None:
    """`secrets get` piped loads botocore, but not boto3 (resources and s3transfer: clients
    need neither), nothing a terminal or a prompt needs, and not pydantic (Typer builds its
    adapters only for values that need coercing). Each of these shows in the start-up bench."""
    sm.create_secret(Name="dev/api/key", SecretString="v")
    modules = probe("get", "dev/api/key")
    assert "botocore" in modules
    unneeded = {"boto3", "s3transfer", "questionary", "prompt_toolkit", "keyring", "rich"}
    assert not modules & (unneeded | {"pydantic"})


FAMILIES = ["rotate", "diff", "migrate", "policy", "audit", "setup"]


def test_get_imports_no_other_command_family(sm: Any) -> None:
    sm.create_secret(Name="dev/api/key", SecretString="v")
    ours = set(probe_run("get", "dev/api/key")["ours"])
    assert "cli.commands.secret" in ours
    assert not ours & {f"cli.commands.{family}" for family in FAMILIES}


def test_a_family_loads_when_the_command_line_names_it() -> None:
    result = probe_run("rotate", "--help")
    assert "cli.commands.rotate" in result["ours"]
    assert "secrets rotate" in result["output"]


def test_console_help_lists_every_command_of_the_complete_cli() -> None:
    complete: list[str] = python(
        "import json, typer.main; from cli.app import app; "
        "print(json.dumps(sorted(typer.main.get_command(app).commands)))"
    )
    assert {"set", "get", "rotate", "diff", "migrate"} <= set(complete)
    shown = probe_run("--help")["output"]
    assert all(re.search(rf"\b{re.escape(name)}\b", shown) for name in complete), shown
    typo = probe_run("rotat", expect=(2,))["output"]
    assert "Did you mean 'rotate'?" in typo
