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
    # A refused serverless.yml is refused, not retried as Terraform ("not valid Terraform").
    "serverless.yml": "service: x\nprovider: {name: aws}\n"
    + alias_bomb().split("Resources:")[0]
    + "functions: {f: {handler: h, environment: {A: *a8}}}\n",
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
    # The link out of the module was not followed: nothing read through it, and the task is
    # said to be not understood rather than clean.
    assert [f["rule"] for f in report["findings"]] == ["not-understood"]


def scalar_bomb(size: int, copies: int) -> str:
    """One large scalar behind many aliases: few nodes, many bytes for whoever walks it."""
    big = "A1b2C3d4" * (size // 8)
    refs = "\n".join(f"          V{i}: *big" for i in range(copies))
    return (
        f'Metadata:\n  Big: &big "{big}"\nResources:\n  Fn:\n    Type: AWS::Lambda::Function\n'
        f"    Properties:\n      Environment:\n        Variables:\n{refs}\n"
    )


def test_alias_expansion_is_counted_in_bytes(cli: Any, aws_env: Path) -> None:
    """100 KiB behind 100 aliases is 10 MiB to scan: refused by the loader, whose count of
    nodes alone (about 100) would have let it through."""
    from envsecrets.core.templates import parse_template
    from envsecrets.core.untrusted import ALIAS_BYTES
    from envsecrets.errors import CliError

    text = scalar_bomb(100 * 1024, 100)
    with pytest.raises(CliError) as caught:
        parse_template(text, "bomb.yaml")
    assert f"{ALIAS_BYTES // 2**20} MiB" in caught.value.message
    path = aws_env / "bomb.yaml"
    path.write_text(text, encoding="utf-8")
    run = cli("audit", str(path))
    assert run.code == 2 and "alias bomb" in run.stderr
    # A modest value behind a few aliases is fine.
    path.write_text(scalar_bomb(1024, 20), encoding="utf-8")
    assert cli("audit", str(path), "--fail-on", "critical").code == 0


def test_a_repeated_value_is_scanned_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The secret detector runs once per distinct value, however often the file repeats it."""
    from envsecrets.core import detect

    scans: list[int] = []
    scan = detect._scan_value
    monkeypatch.setattr(detect, "_scan_value", lambda value: scans.append(1) or scan(value))
    detect._small_value_detector.cache_clear()
    detect._large_value_detector.cache_clear()
    value = "Zq8Lw3Rt7Yp2Kd9Xm4Nb6Vc1Hs5Jf0Ga" * 2500  # 80 KiB: a large value
    for _ in range(50):
        detect._value_detector(value)
        detect._value_detector("Zq8Lw3Rt7Yp2Kd9Xm4Nb6Vc1Hs5Jf0Gb")
    assert len(scans) == 2


def test_serverless_variables_that_expand_too_far_are_refused(cli: Any, aws_env: Path) -> None:
    big = "abcdefgh" * (64 * 1024)  # 512 KiB, copied by each ${self:...}
    refs = "\n".join(f"        V{i}: ${{self:custom.big}}" for i in range(10))
    path = aws_env / "serverless.yml"
    path.write_text(
        f"service: s\nprovider: {{name: aws}}\ncustom:\n  big: {big}\nfunctions:\n"
        f"  f:\n    handler: h\n    environment:\n{refs}\n",
        encoding="utf-8",
    )
    run = cli("audit", str(path))
    assert run.code == 2 and "expand to more than" in run.stderr, run.stderr


def test_yaml_over_its_limit_is_refused_before_parsing(
    cli: Any, aws_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml
    from envsecrets.core.untrusted import MAX_YAML_BYTES

    def no_parse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("parsed")

    monkeypatch.setattr(yaml, "load", no_parse)
    path = aws_env / "big.yaml"
    path.write_text("Resources: {}\n# " + "x" * MAX_YAML_BYTES + "\n", encoding="utf-8")
    run = cli("audit", str(path))
    assert run.code == 2 and "KiB of YAML" in run.stderr, run.stderr
    # In a folder walk it is a data file skipped with a warning, not the end of the run.
    folder = aws_env / "repo"
    folder.mkdir()
    path.rename(folder / "openapi.yaml")
    (folder / "template.yaml").write_text("Resources: {}\n", encoding="utf-8")
    monkeypatch.undo()
    walked = cli("audit", str(folder))
    assert walked.code == 0, walked.stderr
    assert "skipped" in walked.stderr and "openapi.yaml" in walked.stderr


def test_large_json_is_read_by_the_json_module(cli: Any, aws_env: Path) -> None:
    """A 3 MB CloudFormation JSON (CDK output) is audited in full, without YAML's parser."""
    padding = ", ".join(f'"Pad{i}": {{"Type": "AWS::SNS::Topic"}}' for i in range(60_000))
    template = (
        '{"Resources": {' + padding + ', "Fn": {"Type": "AWS::Lambda::Function", '
        '"Properties": {"Environment": {"Variables": {"GITHUB_TOKEN": '
        '"ghp_4Xb8Qm2Lz7Rt1Vw9Kc3Nf6Jd0Hs5Yp8Ae2Ug"}}}}}}'
    )
    path = aws_env / "Stack.template.json"
    path.write_text(template, encoding="utf-8")
    assert len(template) > 2 * 1024 * 1024
    report = cli("audit", str(path), "--format", "json").json()
    assert [(f["rule"], f["resource"]) for f in report["findings"]] == [
        ("secret-in-environment", "Fn")
    ]


def test_a_large_file_in_no_format_is_not_parsed(
    aws_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without any word a known format needs, a file is called unknown from a cheap look."""
    from envsecrets.core import templates
    from envsecrets.core.formats import load_infrastructure
    from envsecrets.errors import CliError

    def no_parse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("parsed")

    monkeypatch.setattr(templates, "load_yaml", no_parse)
    path = aws_env / "data.json"
    path.write_text('{"items": [' + '{"id": 1, "tags": ["a"]},' * 100_000 + "{}]}")
    with pytest.raises(CliError) as caught:
        load_infrastructure(path)
    assert "not in a format this tool reads" in caught.value.message


def test_a_named_pipe_nobody_writes_to_does_not_hang(
    cli: Any, aws_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from envsecrets.core import untrusted

    monkeypatch.setattr(untrusted, "PIPE_WAIT_SECONDS", 0.1)
    fifo = aws_env / "template.yaml"
    os.mkfifo(fifo)
    run = cli("audit", str(fifo))
    assert run.code == 2 and "a pipe with nothing written to it" in run.stderr
    # In a folder walk, a pipe is not a file: skipped, never opened.
    (aws_env / "t.yaml").write_text("Resources: {}\n", encoding="utf-8")
    assert cli("audit", str(aws_env)).code == 0
