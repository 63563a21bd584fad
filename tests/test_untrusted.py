"""Templates are untrusted input: `secrets audit` runs in CI on strangers' pull requests.

Alias bombs, deep nesting and huge files are refused with exit 2 in well under a second, with
one `error:` line and no traceback, by `audit` and by `policy --template` alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from envsecrets.core.untrusted import ALIAS_BUDGET, MAX_DEPTH, MAX_FILE_BYTES

from tests.conftest import write_config


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The 1 KB billion laughs: each level lists the previous one `width` times."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append("Resources:")
    lines.append("  Fn:")
    lines.append("    Type: AWS::Lambda::Function")
    lines.append(f"    Properties: {{Environment: {{Variables: {{X: *a{levels - 1}}}}}}}")
    return "\n".join(lines) + "\n"


HOSTILE = {
    "alias-bomb.yaml": alias_bomb(),
    "deep-yaml.yaml": "Resources: " + "[" * 3000 + "]" * 3000 + "\n",
    "deep-json.json": '{\n\t"Resources": ' + "[" * 3000 + "]" * 3000 + "\n}\n",
    "deep-mapping.yaml": "Resources: " + "{a: " * 500 + "b" + "}" * 500 + "\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_templates_are_refused_quickly(cli: Any, aws_env: Path, name: str) -> None:
    path = aws_env / name
    path.write_text(HOSTILE[name], encoding="utf-8")
    write_config(aws_env, '[environments.prod]\naccount_id = "123456789012"\n')
    for args in (
        ("audit", str(path)),
        ("policy", "--all", "--env", "prod", "--template", str(path)),
    ):
        run = cli(*args)
        assert run.code == 2, (args, run.stderr)
        assert run.stdout == ""
        (line, *rest) = run.stderr.splitlines()
        assert line.startswith("error:") and "refused" in line, run.stderr
        assert all(r.startswith("hint:") for r in rest)
        assert "Traceback" not in run.stderr


def test_the_limits_are_named(cli: Any, aws_env: Path) -> None:
    path = aws_env / "alias-bomb.yaml"
    path.write_text(alias_bomb(), encoding="utf-8")
    assert f"{ALIAS_BUDGET:,}" in cli("audit", str(path)).stderr
    path.write_text(HOSTILE["deep-yaml.yaml"], encoding="utf-8")
    assert f"more than {MAX_DEPTH} levels" in cli("audit", str(path)).stderr


def test_merge_keys_and_modest_anchors_still_work(cli: Any, aws_env: Path) -> None:
    """serverless.yml and SAM templates use `<<: *defaults`: a few aliases are fine."""
    path = aws_env / "template.yaml"
    path.write_text(
        "x-defaults: &defaults {Runtime: python3.12, Handler: app.handler}\n"
        "Resources:\n"
        "  A: {Type: AWS::Serverless::Function, Properties: {<<: *defaults}}\n"
        "  B: {Type: AWS::Serverless::Function, Properties: {<<: *defaults}}\n",
        encoding="utf-8",
    )
    run = cli("audit", str(path), "--format", "json")
    assert run.code == 0, run.stderr
    assert run.json()["functions"] == 2


def test_a_file_over_the_size_limit_is_not_read_whole(cli: Any, aws_env: Path) -> None:
    path = aws_env / "huge.yaml"
    with path.open("wb") as handle:
        handle.write(b"Resources: {}\n# ")
        handle.truncate(50 * 1024 * 1024)  # a sparse 50 MB file
    run = cli("audit", str(path))
    assert run.code == 2
    assert f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_bomb_is_refused_before_anything_walks_it() -> None:
    """The refusal comes from the loader (a count of nodes), so nothing ever expands it."""
    from envsecrets.core.templates import parse_template
    from envsecrets.errors import CliError

    for name, text in HOSTILE.items():
        with pytest.raises(CliError) as caught:
            parse_template(text, name)
        assert "refused" in caught.value.message
