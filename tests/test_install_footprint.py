"""What `pip install envsecrets` puts in site-packages: our package and its dependencies'
own, never a top-level module named `cli` (our source folder's name; a dependency that
installs one, as python-hcl2 8.x does, shadows or is shadowed by whatever else is called so).

The package is built into a wheel and installed with its dependencies, pinned by the lock,
into a scratch virtualenv, offline from uv's cache (which `make install` filled)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import VENV_BIN

ROOT = Path(__file__).parent.parent
LOCK = ROOT / ".ci" / "requirements-dev.lock"
UV = VENV_BIN / "uv"


def _run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, check=False, timeout=300
    )


@pytest.mark.slow
def test_installing_the_package_with_its_dependencies_adds_no_cli_module(tmp_path: Path) -> None:
    built = _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        tmp_path / "dist",
        ROOT,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("envsecrets-*.whl")
    venv = tmp_path / "venv"
    made = _run(UV, "venv", "--quiet", "--python", sys.executable, venv)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    # Offline first: uv's cache holds what `make install` fetched; else from the index.
    install = [UV, "pip", "install", "--quiet", "--python", python, "-c", LOCK, wheel]
    installed = _run(*install, "--offline")
    if installed.returncode != 0:
        installed = _run(*install)
    assert installed.returncode == 0, installed.stderr
    probe = (
        "import importlib.util, importlib.metadata as m, json; "
        "print(json.dumps({'cli': importlib.util.find_spec('cli') is not None, "
        "'hcl2': importlib.util.find_spec('hcl2') is not None, "
        "'tops': sorted({t for d in m.distributions() "
        "for t in (d.read_text('top_level.txt') or '').split()})}))"
    )
    # From an empty folder: the working directory must not provide a `cli` of its own.
    found = _run(python, "-I", "-c", probe, cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    report = json.loads(found.stdout)
    assert report["hcl2"]  # the Terraform parser is there ...
    assert report["cli"] is False  # ... and nothing installs a module named cli
    assert "cli" not in report["tops"]
    assert "envsecrets" in report["tops"]
