"""Every AWS client the backends make is typed for mypy (boto3-stubs), so a misspelt parameter
name or a wrong type in a `client.xxx(...)` call fails `make lint`.

mypy itself runs in `make lint`; these checks keep its inputs honest: each service that
`AwsTarget.client` accepts has an overload returning that service's stub class, and
pyproject's dev dependencies install that service's stubs (without them mypy would see Any).
"""

from __future__ import annotations

import inspect
import re
import tomllib
import typing
from pathlib import Path

from envsecrets.backends.aws import AwsTarget, ServiceName

ROOT = Path(__file__).resolve().parent.parent


def overloaded_services() -> dict[str, str]:
    """Service name -> the return annotation of its overload of `AwsTarget.client`."""
    found: dict[str, str] = {}
    for overload in typing.get_overloads(AwsTarget.client):
        signature = inspect.signature(overload)
        service = re.fullmatch(
            r"Literal\[['\"]([a-z0-9-]+)['\"]\]", signature.parameters["service"].annotation
        )
        assert service, f"each overload takes one literal service name: {signature}"
        found[service.group(1)] = str(signature.return_annotation)
    return found


def stub_extras() -> set[str]:
    """The services in pyproject's dev dependency `boto3-stubs[...]`."""
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for requirement in dev["dev"]:
        found = re.fullmatch(r"boto3-stubs\[([a-z0-9,-]+)\].*", requirement)
        if found:
            return set(found.group(1).split(","))
    raise AssertionError("boto3-stubs[...] is missing from the dev dependencies")


def test_every_service_has_a_typed_overload() -> None:
    services = set(typing.get_args(ServiceName))
    overloads = overloaded_services()
    assert set(overloads) == services
    for service, returned in overloads.items():
        # The stub's client class (SecretsManagerClient, ECSClient ...), never Any or BaseClient.
        assert returned.endswith("Client") and returned != "BaseClient", (service, returned)


def test_the_stubs_of_every_service_are_installed_for_development() -> None:
    assert set(typing.get_args(ServiceName)) <= stub_extras()
