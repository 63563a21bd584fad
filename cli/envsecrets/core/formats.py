"""Which infrastructure format a file is in, decided by its content (not by its name alone),
and the entry points that read files and folders into the model of core/infra.py.

Formats: SAM/CloudFormation (YAML or JSON, CDK's `cdk.out/*.template.json` as it is),
Serverless Framework `serverless.yml`, Terraform (`.tf` files, a module folder, or the JSON of
`terraform show -json`), and ECS task definitions (RegisterTaskDefinition input,
DescribeTaskDefinition output, or a bare container-definitions list).

A file given by name that is in none of these is an error (exit 2) naming what was expected. In
a folder, files in no known format are counted and skipped, so that `secrets audit .` works on a
whole repository; a file that breaks the limits of untrusted input still fails the run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envsecrets.core.infra import Infrastructure
from envsecrets.errors import CliError, ExitCode

EXPECTED = (
    "expected a SAM/CloudFormation template, a serverless.yml, Terraform (.tf, or the JSON of "
    "`terraform show -json`) or an ECS task definition"
)
DATA_SUFFIXES = (".yaml", ".yml", ".json", ".template")
# Folders that hold dependencies, caches or build copies, never the infrastructure's source.
SKIPPED_FOLDERS = frozenset(
    {"node_modules", ".terraform", ".serverless", ".aws-sam", "__pycache__", ".git", "vendor"}
)
# Words without which a YAML/JSON file cannot be in a known format: a cheap look before parsing,
# so that a folder of 10,000 unrelated files costs a read each, not a parse.
MARKERS = re.compile(
    r"Resources|AWSTemplateFormatVersion|containerDefinitions|format_version|"
    r"\bservice\b|\"image\"|\bimage\b"
)
# A big data file in a folder is skipped with a warning, not fatal: too many values, or more
# YAML than is parsed (an OpenAPI document, a Kubernetes bundle).
LARGE = ("values in one document", "KiB of YAML")
# A Terraform block's first line: a keyword, its quoted labels, `{` (not `data: {a: 1}`).
HCL_START = re.compile(
    r"^[ \t]*(resource|variable|data|module|locals|provider|terraform|output)"
    r'([ \t]+"[^"\n]*")*[ \t]*\{',
    re.MULTILINE,
)


def classify(data: Any) -> str | None:
    """The format of a parsed YAML/JSON document, or None."""
    from envsecrets.core.ecs import looks_like_containers, task_definition_of
    from envsecrets.core.serverless import looks_like_serverless

    if isinstance(data, list):
        return "ecs" if looks_like_containers(data) else None
    if not isinstance(data, dict):
        return None
    if "format_version" in data and any(
        k in data for k in ("planned_values", "values", "configuration")
    ):
        return "terraform-plan"
    if looks_like_serverless(data):
        return "serverless"
    if task_definition_of(data) is not None:
        return "ecs"
    resources = data.get("Resources")
    if "AWSTemplateFormatVersion" in data or "Transform" in data or isinstance(resources, dict):
        return "cloudformation"
    return None


def read_document(data: Any, kind: str, source: str, values: dict[str, str]) -> Infrastructure:
    """A parsed document of format `kind` into the model."""
    if kind == "terraform-plan":
        from envsecrets.core.terraform import read_terraform_plan

        return read_terraform_plan(data, source)
    if kind == "serverless":
        from envsecrets.core.serverless import read_serverless

        return read_serverless(data, source, values)
    if kind == "ecs":
        from envsecrets.core.ecs import read_task_definition

        return read_task_definition(data, source)
    from envsecrets.core.conditions import decide_conditions
    from envsecrets.core.infra import LineDict
    from envsecrets.core.templates import Template, read_cloudformation

    data = decide_conditions(data, values)
    document = data if isinstance(data, LineDict) else LineDict(data)
    return read_cloudformation(Template(source, document))


def _not_known(source: str, data: Any) -> CliError:
    what = (
        "a JSON/YAML list that is not ECS container definitions"
        if isinstance(data, list)
        else "not in a format this tool reads"
    )
    return CliError(ExitCode.USAGE, f"{source}: {what}", EXPECTED)


def load_infrastructure(path: Path, values: dict[str, str] | None = None) -> Infrastructure:
    """Read one file (or a Terraform module folder) into the model; a file in no known format
    is a usage error naming what was expected."""
    from envsecrets.core.untrusted import read_limited

    values = values or {}
    if path.is_dir():
        tf_files = sorted(p for p in path.glob("*.tf") if p.is_file())
        if not tf_files:
            raise CliError(
                ExitCode.USAGE,
                f"{path} is a folder without Terraform files",
                "give a template file, or a Terraform module folder",
            )
        from envsecrets.core.terraform import read_terraform_files

        return read_terraform_files(tf_files, str(path), values)
    if path.suffix == ".tf":
        # A Terraform file means its module: variables and roles live in the other files.
        from envsecrets.core.terraform import read_terraform_files

        folder = path.parent
        module = sorted(p for p in folder.glob("*.tf") if p.is_file()) if path.is_file() else []
        return read_terraform_files(module or [path], str(folder), values)
    text = read_limited(path, "file")
    return _read_text(text, str(path), values)


def _read_text(text: str, source: str, values: dict[str, str]) -> Infrastructure:
    from envsecrets.core.templates import load_yaml

    if HCL_START.search(text) and not MARKERS.search(text):
        from envsecrets.core.terraform import read_terraform_text

        return read_terraform_text(text, source)
    if not MARKERS.search(text):
        # No word any known format needs: not parsed at all (a cheap look, whatever its size).
        raise _not_known(source, [] if text.lstrip().startswith(("[", "-")) else None)
    try:
        data = load_yaml(text, source)
    except CliError as exc:
        # A refusal (an alias bomb, a size limit) is about this text, not about its format.
        if "refused" not in exc.message and HCL_START.search(text):
            from envsecrets.core.terraform import read_terraform_text

            return read_terraform_text(text, source)
        raise
    if not isinstance(data, dict | list) and HCL_START.search(text):
        # HCL can read as one YAML scalar; a file of blocks is Terraform whatever its name.
        from envsecrets.core.terraform import read_terraform_text

        return read_terraform_text(text, source)
    kind = classify(data)
    if kind is None:
        raise _not_known(source, data)
    return read_document(data, kind, source, values)


@dataclass
class Discovery:
    """What a walk over the given paths found."""

    found: list[Infrastructure] = field(default_factory=list)
    skipped: int = 0  # files in no known format (only counted inside folders)
    unreadable: list[str] = field(default_factory=list)  # inside folders: why each was skipped
    # Inside folders: Terraform modules that did not parse. Infrastructure that was not read,
    # so the run reports the rest and then fails (exit 2), rather than stop or pass.
    errors: list[CliError] = field(default_factory=list)


def discover(
    paths: list[Path], values: dict[str, str], *, ignore_unknown: bool = False
) -> Discovery:
    """Every infrastructure file under `paths`: files given by name must be in a known format
    (unless `ignore_unknown`: pre-commit passes every changed file); folders are walked
    (hidden folders and dependency folders skipped), each folder's `.tf` files read as one
    module."""
    result = Discovery()
    modules: set[Path] = set()
    seen: set[Path] = set()
    for path in paths:
        if path.resolve() in seen:
            continue  # the same file or folder named twice is read once
        seen.add(path.resolve())
        if path.suffix == ".tf" and not path.is_dir():
            if path.parent.resolve() not in modules:  # one module, however many of its files
                modules.add(path.parent.resolve())
                result.found.append(load_infrastructure(path, values))
        elif path.is_dir():
            _walk(path, values, result)
        elif ignore_unknown and path.is_file():
            infra = _walked_file(path, values, result)
            if infra is not None:
                result.found.append(infra)
        else:
            result.found.append(load_infrastructure(path, values))
    return result


def _folders(root: Path) -> Iterator[tuple[Path, list[str]]]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_FOLDERS)
        yield Path(folder), sorted(files)


def _walk(root: Path, values: dict[str, str], result: Discovery) -> None:
    from envsecrets.core.terraform import read_terraform_files

    for folder, files in _folders(root):
        tf_files = [folder / f for f in files if f.endswith(".tf") and (folder / f).is_file()]
        if tf_files:
            try:
                result.found.append(read_terraform_files(tf_files, str(folder), values))
            except CliError as exc:
                if "refused" in exc.message:
                    raise  # a hostile file fails the run, wherever it is
                result.errors.append(exc)
        for name in files:
            path = folder / name
            if name.endswith(".tf"):
                continue
            if not name.endswith(DATA_SUFFIXES) or not path.is_file():
                result.skipped += 1
                continue
            infra = _walked_file(path, values, result)
            if infra is not None:
                result.found.append(infra)


def _walked_file(path: Path, values: dict[str, str], result: Discovery) -> Infrastructure | None:
    """One file met in a walk: None (counted, or warned about when it does not parse) when it
    is in no known format; a file that breaks the limits of untrusted input fails the run."""
    from envsecrets.core.templates import load_yaml
    from envsecrets.core.untrusted import MAX_FILE_BYTES, read_limited

    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            result.unreadable.append(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MiB")
            return None
        text = read_limited(path, "file")
    except (CliError, OSError) as exc:
        result.unreadable.append(exc.message if isinstance(exc, CliError) else f"{path}: {exc}")
        return None
    if not MARKERS.search(text):
        result.skipped += 1
        return None
    try:
        data = load_yaml(text, str(path))
    except CliError as exc:
        if "refused" in exc.message and not any(large in exc.message for large in LARGE):
            raise  # a hostile file (an alias bomb, deep nesting) fails the run, wherever it is
        result.unreadable.append(exc.message)
        return None
    kind = classify(data)
    if kind is None:
        result.skipped += 1
        return None
    return read_document(data, kind, str(path), values)
