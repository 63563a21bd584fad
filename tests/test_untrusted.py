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


FOREACH_BOMB = """
Transform: AWS::LanguageExtensions
Resources:
  Fn::ForEach::A:
    - A
    - [a1, a2, a3, a4, a5, a6, a7, a8, a9, a10]
    - Fn::ForEach::B:
        - B
        - [b1, b2, b3, b4, b5, b6, b7, b8, b9, b10]
        - Fn::ForEach::C:
            - C
            - [c1, c2, c3, c4, c5, c6, c7, c8, c9, c10]
            - Fn::ForEach::D:
                - D
                - [d1, d2, d3, d4, d5, d6, d7, d8, d9, d10]
                - Fn::ForEach::E:
                    - E
                    - [e1, e2, e3, e4, e5, e6, e7, e8, e9, e10]
                    - "${A}${B}${C}${D}${E}Fn":
                        Type: AWS::Lambda::Function
                        Properties: {FunctionName: "${A}${B}${C}${D}${E}"}
"""


def test_nested_for_each_loops_are_budgeted(cli: Any, aws_env: Path) -> None:
    path = aws_env / "loops.yaml"
    path.write_text(FOREACH_BOMB, encoding="utf-8")
    run = cli("audit", str(path))
    assert run.code == 2 and "Fn::ForEach expands to more than" in run.stderr


def test_documents_with_too_many_values(cli: Any, aws_env: Path) -> None:
    path = aws_env / "big.json"
    path.write_text('{"Resources": {}, "x": [' + "0," * 1_100_000 + "0]}", encoding="utf-8")
    run = cli("audit", str(path))
    assert run.code == 2 and "values in one document" in run.stderr
    # In a folder walk, a big data file is skipped with a warning, not fatal.
    folder = aws_env / "repo"
    folder.mkdir()
    (folder / "data.json").write_text('{"image": [' + "0," * 1_100_000 + "0]}", encoding="utf-8")
    (folder / "template.yaml").write_text(
        "Resources:\n  F: {Type: AWS::Lambda::Function, Properties: {}}\n", encoding="utf-8"
    )
    walked = cli("audit", str(folder))
    assert walked.code == 0, walked.stderr
    assert "skipped" in walked.stderr and "data.json" in walked.stderr


def test_terraform_size_and_module_files_that_leave_the_module(cli: Any, aws_env: Path) -> None:
    big = aws_env / "big" / "main.tf"
    big.parent.mkdir()
    big.write_text("# " + "x" * (3 * 1024 * 1024) + "\n", encoding="utf-8")
    run = cli("audit", str(big))
    assert run.code == 2 and "of Terraform" in run.stderr
    outside = aws_env / "outside.json"
    outside.write_text(
        '[{"name": "a", "image": "i", "environment": [{"name": "GITHUB_TOKEN", '
        '"value": "ghp_4Xb8Qm2Lz7Rt1Vw9Kc3Nf6Jd0Hs5Yp8Ae2Ug"}]}]',
        encoding="utf-8",
    )
    module = aws_env / "mod"
    module.mkdir()
    (module / "defs.json").symlink_to(outside)
    (module / "main.tf").write_text(
        'resource "aws_ecs_task_definition" "t" {\n  family = "t"\n'
        '  container_definitions = file("${path.module}/defs.json")\n}\n',
        encoding="utf-8",
    )
    report = cli("audit", str(module / "main.tf"), "--format", "json").json()
    assert report["findings"] == []  # the link out of the module was not followed
