"""The development environment is the locked one (.ci/requirements-dev.lock, `make lock`).

The lock pins every package the suite runs with; pyproject.toml keeps ranges. These checks
fail when the lock no longer covers pyproject.toml (a dependency added or a range changed
without `make lock`) or when the environment running the suite is not the one the lock says.
"""

from __future__ import annotations

import re
import sysconfig
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / ".ci" / "requirements-dev.lock"
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def locked() -> dict[str, Version]:
    """The lock's pins that apply to this interpreter and platform."""
    pins: dict[str, Version] = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        found = PIN.match(line)
        if found and (found[3] is None or Marker(found[3]).evaluate()):
            pins[canonicalize_name(found[1])] = Version(found[2])
    return pins


def declared() -> list[Requirement]:
    """What pyproject.toml asks for: the dependencies, the extras the Makefile installs
    (dev, emulator) and what building the package needs."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    texts = [
        *project["project"]["dependencies"],
        *project["project"]["optional-dependencies"]["dev"],
        *project["project"]["optional-dependencies"]["emulator"],
        *project["build-system"]["requires"],
    ]
    return [Requirement(text) for text in texts]


def test_the_lock_pins_everything_pyproject_asks_for_within_its_ranges() -> None:
    pins = locked()
    assert len(pins) > 50  # the lock was read
    wrong = {
        str(requirement): str(pins.get(canonicalize_name(requirement.name), "missing"))
        for requirement in declared()
        if requirement.marker is None or requirement.marker.evaluate()
        if pins.get(canonicalize_name(requirement.name)) not in requirement.specifier
        or canonicalize_name(requirement.name) not in pins
    }
    assert wrong == {}, "run `make lock`: pyproject.toml and the lock disagree"


def test_the_suite_runs_on_the_locked_versions() -> None:
    # What the environment installed, not what is on sys.path: pkg_resources (imported by
    # parliament) adds setuptools' vendored copies of packages to it.
    folders = sorted({sysconfig.get_path("purelib"), sysconfig.get_path("platlib")})
    installed = {
        canonicalize_name(dist.metadata["Name"]): Version(dist.version)
        for dist in metadata.distributions(path=folders)
    }
    differ = {
        name: f"locked {version}, installed {installed.get(name, 'nothing')}"
        for name, version in locked().items()
        if installed.get(name) != version
    }
    assert differ == {}, "run `make install`: .venv is not the locked environment"
