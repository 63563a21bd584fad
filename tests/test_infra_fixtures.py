"""The fixture set shaped like the real world (tests/data/infra/, ours, modelled on public
SAM apps, CDK output, serverless.yml v1-v4, Terraform modules and plans, ECS task
definitions): every planted problem found at its severity, nothing on clean files, and the
expected policy for every function that reads a secret. The table is expected.toml."""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from envsecrets.core.audit import RULES

from tests.conftest import write_config

INFRA = Path(__file__).parent / "data" / "infra"
TABLE = tomllib.loads((INFRA / "expected.toml").read_text(encoding="utf-8"))["case"]
CONFIG = """
[environments.prod]
region = "us-east-1"
account_id = "123456789012"
[environments.staging]
region = "us-east-1"
account_id = "123456789012"
[environments.dev]
region = "us-east-1"
account_id = "123456789012"
"""
PATTERN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:{}-??????"


def ids(case: dict[str, Any]) -> str:
    return str(case["path"])


@pytest.mark.parametrize("case", TABLE, ids=ids)
def test_audit_finds_what_was_planted(cli: Any, aws_env: Path, case: dict[str, Any]) -> None:
    write_config(aws_env, CONFIG)
    path = str(INFRA / case["path"])
    run = cli("audit", path, "--format", "json", "--fail-on", "low")
    report = run.json()
    (file,) = report["files"]
    assert file["format"] == case["format"]
    assert report["functions"] == case["functions"]
    found = Counter((f["severity"], f["rule"], f["resource"]) for f in report["findings"])
    assert found == Counter(tuple(f) for f in case["findings"])
    for severity, rule, _resource in case["findings"]:
        assert RULES[rule].severity == severity
    for finding in report["findings"]:
        assert finding["file"].startswith(path)
    assert run.code == (1 if case["findings"] else 0)
    # The default gate (--fail-on high) fails exactly when something high or worse is there.
    gate = cli("audit", path)
    assert gate.code == (1 if any(s in ("high", "critical") for s, *_ in case["findings"]) else 0)


@pytest.mark.parametrize("case", TABLE, ids=ids)
def test_policy_names_exactly_what_is_read(cli: Any, aws_env: Path, case: dict[str, Any]) -> None:
    write_config(aws_env, CONFIG)
    policy = case["policy"]
    flags = [f"--parameter={p}" for p in policy.get("parameters", [])]
    run = cli(
        "policy", "--all", "--env", policy["env"], "--template", str(INFRA / case["path"]), *flags
    )
    assert run.code == policy["exit"], run.stderr
    expected = {
        key: [r if r.startswith("arn:") else PATTERN.format(r) for r in resources]
        for key, resources in policy["documents"].items()
    }
    documents = run.json() if run.stdout.strip() else {}
    assert {k: d["Statement"][0]["Resource"] for k, d in documents.items()} == expected
    if policy["exit"] == 1:
        # Each reference left out, and each part not read, is named with the reason.
        assert "left out:" in run.stderr or "not read:" in run.stderr


# Every secret value planted in the fixtures: none may reach any output.
PLANTED_VALUES = (
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AKIAIOSFODNN7EXAMPLE",
    "Gt5-vQ8pLz2",
    "ghp_4Xb8Qm2Lz7Rt1Vw9Kc3Nf6Jd0Hs5Yp8Ae2Ug",
    "qt_9fK2mXw7LpQ4vN8rT3sY6bZ1cD5eH0jA",
    "Xk9#vLq2Rt7!mWz4",
    "sk_live_51HxQ2eKp7RkA0b8mTqZ3vY9wE1nL4jC6",
    "pk_8Hs2LmQ9xTz4Vb7Nc1Rw5Ye3",
    "8e7d6c5b4a39281706f5e4d3c2b1a098",
)


def test_no_planted_value_reaches_any_output(cli: Any, aws_env: Path) -> None:
    write_config(aws_env, CONFIG)
    texts = "".join(p.read_text(encoding="utf-8") for p in INFRA.rglob("*") if p.is_file())
    assert all(value in texts for value in PLANTED_VALUES)  # the list is up to date
    for case in TABLE:
        path = str(INFRA / case["path"])
        runs = [cli("audit", path, "--format", fmt) for fmt in ("table", "json", "sarif")]
        for fmt in ("json", "sam", "terraform"):
            runs.append(
                cli("policy", "--all", "--env", "prod", "--template", path, "--format", fmt)
            )
        for run in runs:
            for value in PLANTED_VALUES:
                assert value not in run.stdout and value not in run.stderr, (path, value)
