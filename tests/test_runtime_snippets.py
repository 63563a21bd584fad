"""The code `migrate lambda` prints is for the function's own runtime and reads through a
cache with a TTL (Powertools where the runtime has it, else the Parameters and Secrets Lambda
Extension); `secrets policy` says the extension needs no permission of its own."""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from envsecrets.core.runtime_snippets import MAX_AGE_SECONDS, snippet_for

from tests.conftest import write_config
from tests.test_migrate_lambda import CONFIG as MIGRATE_CONFIG
from tests.test_migrate_lambda import make_function

SECRETS = {
    "dev/checkout/db-password": "DB_PASSWORD",
    "dev/checkout/class": "CLASS",
    "dev/checkout/api+key=1": "API_KEY",
}


@pytest.mark.parametrize(
    ("runtime", "language", "reads_with"),
    [
        ("python3.12", "python", "aws_lambda_powertools.utilities.parameters import get_secret"),
        ("nodejs20.x", "javascript", "@aws-lambda-powertools/parameters/secrets"),
        ("java21", "java", "software.amazon.lambda.powertools.parameters.secrets"),
        ("dotnet8", "csharp", "AWS.Lambda.Powertools.Parameters.SecretsManager"),
        ("go1.x", "go", "X-Aws-Parameters-Secrets-Token"),
        ("provided.al2023", "go", "X-Aws-Parameters-Secrets-Token"),
        ("ruby3.3", "ruby", "X-Aws-Parameters-Secrets-Token"),
        (None, "shell", "X-Aws-Parameters-Secrets-Token"),
    ],
)
def test_each_runtime_gets_its_own_language_and_a_ttl(
    runtime: str | None, language: str, reads_with: str
) -> None:
    snippet = snippet_for(runtime, SECRETS)
    assert snippet.language == language
    assert reads_with in snippet.code
    assert str(MAX_AGE_SECONDS) in snippet.code
    for name, key in SECRETS.items():
        assert key in snippet.code
        assert name in snippet.code or quote(name, safe="") in snippet.code
    if "Extension" in snippet.reader:
        assert "localhost" in snippet.code and "2773" in snippet.code
        assert "layer" in snippet.setup


def test_the_python_snippet_is_valid_python_reading_per_invocation() -> None:
    code = snippet_for("python3.11", SECRETS).code
    tree = ast.parse(code)
    handler = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    calls = [n for n in ast.walk(handler) if isinstance(n, ast.Call)]
    assert len(calls) == len(SECRETS)  # inside the handler: per invocation, through the cache
    assert {kw.arg for call in calls for kw in call.keywords} == {"max_age"}
    assert "class_ = get_secret" in code  # a keyword never becomes a variable


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_node_snippet_is_valid_javascript(tmp_path: Path) -> None:
    source = tmp_path / "handler.mjs"
    source.write_text(snippet_for("nodejs22.x", SECRETS).code)
    subprocess.run(["node", "--check", str(source)], check=True, capture_output=True)


def test_migrate_lambda_prints_the_code_for_the_functions_runtime(cli: Any, aws_env: Path) -> None:
    write_config(aws_env, MIGRATE_CONFIG)
    make_function()  # a python3.12 function
    run = cli("migrate", "lambda", "checkout", "--env", "dev", "--json")
    assert run.code == 0, run.stderr
    doc = run.json()
    assert doc["code_for"] == {
        "runtime": "python3.12",
        "language": "python",
        "reader": "Powertools for AWS Lambda (Python) parameters utility",
        "setup": "add aws-lambda-powertools to the function's dependencies, or the Powertools "
        "layer",
    }
    assert "max_age=MAX_AGE" in doc["code"]
    ast.parse(doc["code"])


def test_policy_says_what_the_extension_needs(cli: Any, aws_env: Path) -> None:
    write_config(
        aws_env,
        '[environments.dev]\naccount_id = "123456789012"\n\n'
        '[functions.checkout]\nsecrets = ["api/key"]\n',
    )
    run = cli("policy", "checkout", "--env", "dev", "--format", "yaml")
    assert run.code == 0, run.stderr
    assert "Parameters and Secrets Lambda Extension" in run.stderr
    assert "is all they need" in run.stderr
    assert cli("policy", "checkout", "--env", "dev", "--json").stderr == ""
