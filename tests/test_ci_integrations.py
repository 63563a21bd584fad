"""CI where teams live: the pre-commit hook and the composite GitHub Action of this repository.

The hook's entry is run as pre-commit runs it (the installed script, the matched file names
appended); the action's audit step is a script (run.sh) that these tests run with the
variables GitHub would set."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.conftest import SECRETS_BIN, VENV_BIN

ROOT = Path(__file__).parent.parent
HOOKS = ROOT / ".pre-commit-hooks.yaml"
ACTION = ROOT / ".github" / "actions" / "secrets-audit"
INFRA = Path(__file__).parent / "data" / "infra"
TEMPLATES = Path(__file__).parent / "data" / "templates"
SARIF_SCHEMA = json.loads(
    (Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8")
)


def hook() -> dict[str, Any]:
    (entry,) = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    assert isinstance(entry, dict)
    return entry


def run_hook(files: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    """What pre-commit does: the entry, split like a shell, then the file names."""
    command = shlex.split(hook()["entry"])
    assert command[0] == "secrets"
    return subprocess.run(
        [SECRETS_BIN, *command[1:], *map(str, files)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def matched(paths: list[Path]) -> list[Path]:
    pattern = re.compile(hook()["files"])
    return [p for p in paths if pattern.search(p.as_posix())]


def test_the_hook_is_declared_for_pre_commit() -> None:
    entry = hook()
    assert entry["id"] == "secrets-audit"
    assert entry["language"] == "python"  # pre-commit pip-installs this repository
    assert entry["entry"].split()[:2] == ["secrets", "audit"]


def test_the_hook_fails_a_commit_with_a_leak_and_passes_the_rest(tmp_path: Path) -> None:
    changed = [
        INFRA / "serverless" / "twitter-digest.yml",
        INFRA / "terraform" / "lambda-api" / "main.tf",
        tmp_path / "app.py",
        tmp_path / ".github" / "workflows" / "ci.yml",
        tmp_path / "package.json",
    ]
    (tmp_path / "app.py").write_text("print('hi')\n", encoding="utf-8")
    changed[3].parent.mkdir(parents=True)
    changed[3].write_text("on: push\njobs: {}\n", encoding="utf-8")
    changed[4].write_text('{"name": "app"}\n', encoding="utf-8")
    files = matched(changed)
    assert tmp_path / "app.py" not in files  # not a file the hook is given
    leaky = run_hook(files, tmp_path)
    assert leaky.returncode == 1, leaky.stderr
    assert "ssm-secure-string" in leaky.stdout and "wildcard-action" in leaky.stdout
    clean = run_hook(
        matched([*changed[2:], INFRA / "ecs" / "describe-task-definition.json"]), tmp_path
    )
    assert clean.returncode == 0, clean.stderr
    assert "skipped" in clean.stderr  # the workflow and package.json: said, not failed


def action() -> dict[str, Any]:
    loaded = yaml.safe_load((ACTION / "action.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_the_action_runs_its_script_then_uploads_sarif() -> None:
    spec = action()
    assert spec["runs"]["using"] == "composite"
    steps = spec["runs"]["steps"]
    audit = next(s for s in steps if s.get("id") == "audit")
    assert "run.sh" in audit["run"]
    upload = next(s for s in steps if "upload-sarif" in s.get("uses", ""))
    assert upload["with"]["sarif_file"] == "${{ inputs.sarif-file }}"
    assert "always()" in upload["if"]  # the report is uploaded although the audit failed
    assert steps[-1]["run"] == 'exit "${{ steps.audit.outputs.exit-code }}"'
    assert set(spec["inputs"]) >= {"paths", "fail-on", "sarif-file", "upload-sarif"}


def run_action_step(tmp_path: Path, paths: str, fail_on: str = "high") -> dict[str, str]:
    output = tmp_path / "github-output"
    output.write_text("", encoding="utf-8")
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "INPUT_PATHS": paths,
        "INPUT_FAIL_ON": fail_on,
        "INPUT_SARIF_FILE": str(tmp_path / "audit.sarif"),
        "INPUT_SKIP_INSTALL": "true",  # the venv already holds this checkout
        "GITHUB_OUTPUT": str(output),
    }
    done = subprocess.run(
        ["bash", str(ACTION / "run.sh")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr  # the step itself never fails the job early
    pairs = (line.split("=", 1) for line in output.read_text(encoding="utf-8").splitlines())
    return dict(pairs)


def test_the_action_step_writes_sarif_and_the_exit_code(tmp_path: Path) -> None:
    outputs = run_action_step(tmp_path, f"{INFRA / 'serverless'} {INFRA / 'ecs'}")
    assert outputs == {"sarif": "true", "exit-code": "1"}
    log = json.loads((tmp_path / "audit.sarif").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    assert {r["ruleId"] for r in log["runs"][0]["results"]} >= {"ssm-secure-string"}
    clean = run_action_step(tmp_path, str(INFRA / "cdk"))
    assert clean == {"sarif": "true", "exit-code": "0"}
    medium = run_action_step(tmp_path, str(INFRA / "cloudformation" / "ecs-service.yaml"), "low")
    assert medium["exit-code"] == "1"


def test_the_action_step_on_bad_input_uploads_nothing(tmp_path: Path) -> None:
    outputs = run_action_step(tmp_path, str(TEMPLATES / "malformed.yaml"))
    assert outputs == {"sarif": "false", "exit-code": "2"}
    assert not (tmp_path / "audit.sarif").exists()


def test_the_action_audits_every_line_of_a_multi_line_paths_input(tmp_path: Path) -> None:
    """`paths: |` gives one path a line: each is audited, not only the first."""
    clean = INFRA / "cdk"
    leaky = INFRA / "serverless" / "twitter-digest.yml"
    outputs = run_action_step(tmp_path, f"{clean}\n  {leaky}\n\n{INFRA / 'ecs'} \n")
    assert outputs == {"sarif": "true", "exit-code": "1"}
    log = json.loads((tmp_path / "audit.sarif").read_text(encoding="utf-8"))
    files = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in log["runs"][0]["results"]
    }
    assert any("twitter-digest.yml" in f for f in files)
    assert any("ecs" in f for f in files)


def test_the_action_leaves_the_jobs_python_alone() -> None:
    steps = action()["runs"]["steps"]
    setup = next(s for s in steps if "setup-python" in s.get("uses", ""))
    assert setup["with"]["update-environment"] is False
    audit = next(s for s in steps if s.get("id") == "audit")
    assert audit["env"]["INPUT_PYTHON"] == "${{ steps." + setup["id"] + ".outputs.python-path }}"
    script = (ACTION / "run.sh").read_text(encoding="utf-8")
    assert "-m venv" in script and "pip install" in script
