"""TAB for `secrets run`, `export`: SCOPE completes like a prefix (environments, then folders),
`--only` completes paths below the SCOPE typed before it, and `--format` its four names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import write_config
from tests.test_completion import CONFIG, suggestions, tab


def test_scope_and_only_complete_from_the_names_cache(
    aws_env: Path, cli: Any, sm: Any, proxy: Any
) -> None:
    write_config(aws_env, CONFIG)
    for name in ("dev/api/stripe-key", "dev/api/v2/token", "dev/db/password", "prod/x"):
        sm.create_secret(Name=name, SecretString="value")
    assert cli("list").code == 0
    proxy.reset_counts()
    assert suggestions(tab("secrets run d")) == ["dev/api/", "dev/api/v2/", "dev/db/"]
    assert suggestions(tab("secrets run dev --only ")) == [
        "api/",
        "api/stripe-key",
        "api/v2/",
        "api/v2/token",
        "db/",
        "db/password",
    ]
    assert suggestions(tab("secrets run dev --only api/s")) == ["api/stripe-key"]
    assert suggestions(tab("secrets export dev/api --only v")) == ["v2/", "v2/token"]
    assert suggestions(tab("secrets run --only ")) == []  # no scope yet: nothing to offer
    assert proxy.count() == 0


def test_format_completes_its_names(aws_env: Path) -> None:
    assert suggestions(tab("secrets export dev --format ")) == ["dotenv", "json", "yaml", "shell"]
    assert suggestions(tab("secrets export dev -f y")) == ["yaml"]
