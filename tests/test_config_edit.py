"""cli/envsecrets/core/config_edit.py: secrets.toml edits that keep comments (no AWS involved)."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest
from envsecrets.core.config import parse_config
from envsecrets.core.config_edit import add_function_secrets
from envsecrets.core.files import write_text_atomically
from envsecrets.errors import CliError
from hypothesis import given
from hypothesis import strategies as st

ORIGINAL = """# Shop configuration (keep this header)
[environments.dev]
region = "us-east-1"  # dev lives here

[environments.prod]
protected = true

# The checkout function
[functions.checkout]
# what it reads
secrets = ["api/stripe-key"]  # one for now
"""


def test_appends_to_an_existing_function_keeping_every_comment() -> None:
    text = add_function_secrets(ORIGINAL, "checkout", ["checkout/db-password", "api/stripe-key"])
    for line in ORIGINAL.splitlines():
        if line.strip().startswith("#") or "# " in line:
            assert line.split("#", 1)[1] in text
    parsed = tomllib.loads(text)
    assert parsed["functions"]["checkout"]["secrets"] == ["api/stripe-key", "checkout/db-password"]
    assert parsed["environments"] == tomllib.loads(ORIGINAL)["environments"]


def test_adds_a_new_function_table() -> None:
    paths = [f"orders/key-{n}" for n in range(5)]
    text = add_function_secrets(ORIGINAL, "orders", paths)
    assert text.startswith(ORIGINAL.rstrip("\n"))  # nothing before it moved
    assert tomllib.loads(text)["functions"]["orders"]["secrets"] == paths
    parse_config(tomllib.loads(text), Path("secrets.toml"))  # still a valid secrets.toml


def test_empty_file_and_no_functions_table() -> None:
    assert tomllib.loads(add_function_secrets("", "fn", ["fn/a"])) == {
        "functions": {"fn": {"secrets": ["fn/a"]}}
    }
    text = add_function_secrets('[environments.dev]\nregion = "eu-west-1"\n', "fn", ["fn/a"])
    assert tomllib.loads(text)["functions"]["fn"]["secrets"] == ["fn/a"]


def test_inline_tables_are_edited_in_place() -> None:
    text = add_function_secrets('[functions]\nx = {secrets = ["a"]}\n', "x", ["b"])
    assert tomllib.loads(text)["functions"]["x"]["secrets"] == ["a", "b"]


def test_idempotent() -> None:
    once = add_function_secrets(ORIGINAL, "checkout", ["checkout/db-password"])
    assert add_function_secrets(once, "checkout", ["checkout/db-password"]) == once


@pytest.mark.parametrize(
    "text",
    [
        "not = [valid",
        "functions = 3\n",
        "[functions]\ncheckout = 1\n",
        "[functions.c]\nsecrets = 1\n",
    ],
)
def test_malformed_or_mistyped_documents_are_refused(text: str) -> None:
    with pytest.raises(CliError) as failure:
        add_function_secrets(text, "c" if "[functions.c]" in text else "checkout", ["p"])
    assert failure.value.code == 2


@given(st.lists(st.from_regex(r"[a-z0-9]{1,8}/[a-z0-9_.-]{1,12}", fullmatch=True), max_size=8))
def test_round_trip_keeps_order_without_duplicates(paths: list[str]) -> None:
    text = add_function_secrets(ORIGINAL, "fn", paths)
    assert tomllib.loads(text)["functions"]["fn"]["secrets"] == list(dict.fromkeys(paths))
    assert "# Shop configuration (keep this header)" in text


def test_write_text_atomically_keeps_the_mode(tmp_path: Path) -> None:
    tmp_path = tmp_path / "edit"
    tmp_path.mkdir()
    path = tmp_path / "secrets.toml"
    path.write_text("old")
    path.chmod(0o640)
    write_text_atomically(path, "new")
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["secrets.toml"]  # no temp file left
    fresh = tmp_path / "report.json"
    write_text_atomically(fresh, "{}")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
    with pytest.raises(CliError):
        write_text_atomically(tmp_path / "missing" / "x.json", "{}")
