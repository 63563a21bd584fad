"""pyproject.toml in the form current setuptools reads without warnings."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).parent.parent / "pyproject.toml"


def test_license_is_an_spdx_string_with_a_setuptools_that_reads_it() -> None:
    """A table (`{ text = "MIT" }`) makes setuptools warn on every `pip install .` and stops
    being supported in 2027; the SPDX string needs setuptools >= 77 (PEP 639)."""
    document = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    assert document["project"]["license"] == "MIT"
    requirement = next(r for r in document["build-system"]["requires"] if "setuptools" in r)
    found = re.search(r">=\s*(\d+)", requirement)
    assert found and int(found.group(1)) >= 77
