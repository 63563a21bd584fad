"""pyproject.toml in the form current setuptools reads without warnings."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).parent.parent / "pyproject.toml"


def test_license_is_an_spdx_string_with_a_setuptools_that_reads_it() -> None:
    """A table (`{ text = "MIT" }`) makes setuptools warn on every `pip install .` and stops
    being supported in 2027; the SPDX string needs setuptools >= 77 (PEP 639)."""
    document = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    assert document["project"]["license"] == "MIT"
    requirement = next(r for r in document["build-system"]["requires"] if "setuptools" in r)
    found = re.search(r">=\s*(\d+)", requirement)
    assert found and int(found.group(1)) >= 77


def _older_python() -> str | None:
    """A Python older than 3.11 on this machine (Ubuntu 22.04's python3 is 3.10), if any."""
    for candidate in ("python3.10", "python3.9"):
        found = shutil.which(candidate)
        if found and subprocess.run([found, "-c", ""], check=False).returncode == 0:
            return found
    pyenv = sorted(Path.home().glob(".pyenv/versions/3.1[0]*/bin/python3"))
    return str(pyenv[-1]) if pyenv else None


OLDER_PYTHON = _older_python()  # at import: the tests' fixtures change HOME


@pytest.mark.skipif(OLDER_PYTHON is None, reason="no Python older than 3.11 on this machine")
def test_make_install_with_an_older_python_says_which_version_is_needed(tmp_path: Path) -> None:
    """It failed deep in uv's resolver with a message about `annotated-doc`."""
    root = PYPROJECT.parent
    for name in ("Makefile", "pyproject.toml", ".ci/requirements-dev.lock"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / name, tmp_path / name)
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "keep").write_text("an existing venv is left alone")
    done = subprocess.run(
        ["make", "install", f"PYTHON={OLDER_PYTHON}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "envsecrets needs Python 3.11 or newer" in done.stderr, done.stderr
    assert "PYTHON=python3.11 make install" in done.stderr
    assert (tmp_path / ".venv" / "keep").exists()  # checked before anything is removed
