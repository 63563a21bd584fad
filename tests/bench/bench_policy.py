"""`secrets audit` and `secrets policy --all` on templates of 20 and 200 functions, side by
side, and the API calls per function of `secrets audit --live`.

Targets: the 200-function runs take at most 2x the 20-function runs (start-up dominates; the
cost per function is small); `--live` makes the same number of calls per function for 10 and
40 functions.
"""

from __future__ import annotations

import io
import json
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

import boto3

from tests.bench.harness import (
    REGION,
    SECRETS_BIN,
    Row,
    aws_env,
    emulator,
    fault_proxy,
    interleaved,
    reset,
    seconds,
)

SIZES = (20, 200)
LIVE_SIZES = (10, 40)


def _template(count: int) -> str:
    """A SAM template: each function has variables, a role and a least-privilege grant; every
    tenth one plants a finding (a secret in a variable, a wildcard grant)."""
    lines = [
        'AWSTemplateFormatVersion: "2010-09-09"',
        "Transform: AWS::Serverless-2016-10-31",
        "Resources:",
    ]
    for i in range(count):
        leaky = i % 10 == 0
        resource = (
            '"*"'
            if leaky
            else '!Sub "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:'
            f'secret:prod/fn{i}/key-??????"'
        )
        lines += [
            f"  Fn{i}:",
            "    Type: AWS::Serverless::Function",
            "    Properties:",
            "      Handler: app.handler",
            "      Runtime: python3.12",
            "      CodeUri: src/",
            "      Environment:",
            "        Variables:",
            "          STAGE: prod",
            f"          KEY_SECRET_NAME: prod/fn{i}/key",
            "          LOG_LEVEL: info",
        ]
        if leaky:
            lines.append("          DB_PASSWORD: Tr0ub4dor-and-3-horses")
        lines += [
            "      Policies:",
            "        - Version: '2012-10-17'",
            "          Statement:",
            "            - Effect: Allow",
            "              Action: secretsmanager:GetSecretValue",
            f"              Resource: {resource}",
        ]
    return "\n".join(lines) + "\n"


def _config(count: int) -> str:
    parts = ['[environments.prod]\naccount_id = "123456789012"\nregion = "us-east-1"\n']
    for i in range(count):
        parts.append(f'[functions.Fn{i}]\nsecrets = ["fn{i}/key", "shared/db"]\n')
    return "\n".join(parts)


def _timed(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):  # audit exits 1 on its (planted) findings
        raise RuntimeError(f"{args[1:3]} failed ({done.returncode}): {done.stderr[-300:]!r}")
    return elapsed


def _files_bench() -> list[Row]:
    env = aws_env("http://127.0.0.1:9")  # no AWS call is made: account and region are set
    with tempfile.TemporaryDirectory() as folder:
        commands = {}
        for size in SIZES:
            work = Path(folder) / str(size)
            work.mkdir()
            (work / "template.yaml").write_text(_template(size), encoding="utf-8")
            (work / "secrets.toml").write_text(_config(size), encoding="utf-8")
            commands[f"audit {size}"] = lambda w=work: _timed(
                [SECRETS_BIN, "audit", "template.yaml", "--format", "json"], w, env
            )
            commands[f"policy {size}"] = lambda w=work: _timed(
                [SECRETS_BIN, "policy", "--all", "--env", "prod", "--template", "template.yaml"],
                w,
                env,
            )
        times = interleaved(commands, repeats=5)
    rows = []
    for verb in ("audit", "policy"):
        small, large = times[f"{verb} {SIZES[0]}"], times[f"{verb} {SIZES[1]}"]
        label = "audit TEMPLATE" if verb == "audit" else "policy --all --template"
        rows.append(
            Row(
                "policy",
                f"{label}, {SIZES[1]} functions",
                seconds(large),
                f"{SIZES[0]} functions: {seconds(small)}",
                f"{large / small:.2f}x",
                "<= 2x",
            )
        )
    return rows


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def _live_bench() -> list[Row]:
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    per_function: dict[int, float] = {}
    with emulator() as url, fault_proxy(url) as proxy, tempfile.TemporaryDirectory() as d:
        for size in LIVE_SIZES:
            reset(url)  # moto's state is per process, shared by every server in it
            session = boto3.Session(
                aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
            )
            iam = session.client("iam", endpoint_url=url)
            awslambda = session.client("lambda", endpoint_url=url)
            code = _zip()
            for i in range(size):
                role = iam.create_role(RoleName=f"fn{i}-role", AssumeRolePolicyDocument=trust)
                grant = {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "secretsmanager:GetSecretValue",
                            "Resource": "arn:aws:secretsmanager:us-east-1:123456789012:"
                            f"secret:prod/fn{i}/key-??????",
                        }
                    ],
                }
                iam.put_role_policy(
                    RoleName=f"fn{i}-role", PolicyName="secrets", PolicyDocument=json.dumps(grant)
                )
                managed = iam.create_policy(PolicyName=f"fn{i}-m", PolicyDocument=json.dumps(grant))
                iam.attach_role_policy(RoleName=f"fn{i}-role", PolicyArn=managed["Policy"]["Arn"])
                awslambda.create_function(
                    FunctionName=f"fn{i}",
                    Runtime="python3.12",
                    Role=role["Role"]["Arn"],
                    Handler="app.handler",
                    Code={"ZipFile": code},
                    Environment={"Variables": {"STAGE": "prod"}},
                )
            work = Path(d)
            (work / "secrets.toml").write_text(_config(0), encoding="utf-8")
            proxy.reset_counts()
            _timed(
                [SECRETS_BIN, "audit", "--live", "--env", "prod", "--format", "json"],
                work,
                aws_env(proxy.url),
            )
            per_function[size] = sum(proxy.calls.values()) / size
    small, large = (per_function[s] for s in LIVE_SIZES)
    return [
        Row(
            "policy",
            f"audit --live: API calls per function, {LIVE_SIZES[1]} functions",
            f"{large:.2f}",
            f"{LIVE_SIZES[0]} functions: {small:.2f}",
            f"{large / small:.2f}x",
            "constant (<= 1x)",
        )
    ]


def run() -> list[Row]:
    return _files_bench() + _live_bench()
