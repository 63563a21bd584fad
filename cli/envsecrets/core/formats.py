"""Which infrastructure format a file is in, decided by its content (not only its name), and
the one entry point that reads any of them into the model of core/infra.py."""

from __future__ import annotations

from pathlib import Path

from envsecrets.core.infra import Infrastructure
from envsecrets.core.templates import Template, parse_template, read_cloudformation
from envsecrets.core.untrusted import read_limited


def load_infrastructure(path: Path) -> Infrastructure:
    """Read the file at `path` into the infrastructure model."""
    text = read_limited(path, "template")
    return read_cloudformation(Template(str(path), parse_template(text, str(path))))
