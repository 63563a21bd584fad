"""`secrets migrate env-file`: .env files parsed by python-dotenv -> Secrets Manager."""

from __future__ import annotations

from pathlib import Path

import pytest
from envsecrets.backends.envfile import EnvFileSource
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CANARY = "canary-Wq3nB8pLx5"

EVERY_FEATURE = f"""# A comment line, then a blank line

export STRIPE_SECRET_KEY=sk_{CANARY}
DB_PASSWORD="{CANARY} with spaces"   # an inline comment
SINGLE='{CANARY} $NOT_EXPANDED ${{NOR_THIS}}'
ESCAPES="{CANARY}\\ttab\\nnewline \\"quoted\\""
MULTI="-----BEGIN KEY-----
{CANARY}
-----END KEY-----"
  SPACED   =   {CANARY}-spaced
REFERENCE=${{STRIPE_SECRET_KEY}}
EQUALS=a=b={CANARY}
DUPLICATE=first-{CANARY}
DUPLICATE=second-{CANARY}
"""

EXPECTED = {
    "dev/web/stripe-secret-key": f"sk_{CANARY}",
    "dev/web/db-password": f"{CANARY} with spaces",
    "dev/web/single": f"{CANARY} $NOT_EXPANDED ${{NOR_THIS}}",
    "dev/web/escapes": f'{CANARY}\ttab\nnewline "quoted"',
    "dev/web/multi": f"-----BEGIN KEY-----\n{CANARY}\n-----END KEY-----",
    "dev/web/spaced": f"{CANARY}-spaced",
    "dev/web/reference": "${STRIPE_SECRET_KEY}",  # interpolation is off
    "dev/web/equals": f"a=b={CANARY}",
    "dev/web/duplicate": f"second-{CANARY}",  # like dotenv: the last one wins
}


def write_env(folder: Path, text: str, name: str = ".env") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_dotenv_feature(cli, sm, aws_env: Path) -> None:
    env_file = write_env(aws_env, EVERY_FEATURE)
    run = cli("migrate", "env-file", str(env_file), "--to", "dev/web/", "--json")
    assert run.code == 0, run.stderr
    assert CANARY not in run.stdout + run.stderr
    assert run.json()["result"]["counts"]["created"] == len(EXPECTED)
    for name, value in EXPECTED.items():
        assert sm.get_secret_value(SecretId=name)["SecretString"] == value
    tags = sm.describe_secret(SecretId="dev/web/db-password")["Tags"]
    assert {"Key": "migrated-from", "Value": f"env-file:{env_file}:DB_PASSWORD"} in tags
    again = cli("migrate", "env-file", str(env_file), "--to", "dev/web/", "--json")
    assert again.json()["plan"]["counts"]["unchanged"] == len(EXPECTED)


def test_keep_case(cli, sm, aws_env: Path) -> None:
    env_file = write_env(aws_env, f"STRIPE_SECRET_KEY={CANARY}\n")
    run = cli("migrate", "env-file", str(env_file), "--to", "dev/web", "--keep-case")
    assert run.code == 0, run.stderr
    assert sm.get_secret_value(SecretId="dev/web/STRIPE_SECRET_KEY")["SecretString"] == CANARY


def test_keys_that_end_like_an_arn_suffix_migrate(cli, sm, aws_env: Path) -> None:
    """`JWT_SECRET` becomes `jwt-secret`: '-' plus six characters, a name real teams use."""
    env_file = write_env(aws_env, f"JWT_SECRET=a{CANARY}\nDB_MASTER=b{CANARY}\nS3_BUCKET=c\n")
    run = cli("migrate", "env-file", str(env_file), "--to", "dev/web/", "--json")
    assert run.code == 0, run.stderr
    names = sorted(s["Name"] for s in sm.list_secrets()["SecretList"])
    assert names == ["dev/web/db-master", "dev/web/jwt-secret", "dev/web/s3-bucket"]


def test_invalid_items_hint_no_longer_suggests_keep_case(cli, sm, aws_env: Path) -> None:
    env_file = write_env(aws_env, f"EMPTY=\nGOOD={CANARY}\n")
    run = cli("migrate", "env-file", str(env_file), "--to", "dev/web")
    assert run.code == 2
    assert "rename them at the source" in run.stderr
    assert "--keep-case" not in run.stderr


def test_empty_and_valueless_keys_are_invalid_and_the_rest_migrate(cli, sm, aws_env) -> None:
    env_file = write_env(aws_env, f"EMPTY=\nNO_EQUALS\nGOOD={CANARY}\n")
    run = cli("migrate", "env-file", str(env_file), "--to", "dev/web")
    assert run.code == 2
    assert "line 1: EMPTY is empty" in run.stdout
    assert "line 2: NO_EQUALS has no '='" in run.stdout
    assert [s["Name"] for s in sm.list_secrets()["SecretList"]] == ["dev/web/good"]


def test_broken_lines_are_reported_with_their_numbers_and_nothing_is_written(
    cli, sm, aws_env: Path
) -> None:
    env_file = write_env(aws_env, f"GOOD={CANARY}\nthis line is not dotenv\nOK=1\n=nokey\n")
    run = cli("migrate", "env-file", str(env_file), "--to", "dev/web")
    assert run.code == 2
    assert "lines 2, 4" in run.stderr
    assert CANARY not in run.stdout + run.stderr
    assert sm.list_secrets()["SecretList"] == []


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", 2),
        (b'{"json": "is not dotenv"}', 2),
    ],
)
def test_not_a_dotenv_file(cli, sm, aws_env: Path, content: bytes, code: int) -> None:
    path = aws_env / "file.env"
    path.write_bytes(content)
    run = cli("migrate", "env-file", str(path), "--to", "dev/web")
    assert run.code == code, run.stderr
    assert run.stderr.startswith("error:")
    assert sm.list_secrets()["SecretList"] == []


def test_missing_file_and_bad_prefix(cli, aws_env: Path) -> None:
    assert cli("migrate", "env-file", "nope.env", "--to", "dev/web").code == 3
    env_file = write_env(aws_env, "A=1\n")
    assert cli("migrate", "env-file", str(env_file), "--to", "web").code == 0  # env only
    rooted = cli("migrate", "env-file", str(env_file), "--to", "/dev/web")
    assert rooted.code == 2
    assert "'/dev/web' is not a secret prefix" in rooted.stderr
    assert "hint: use <env>/<path>, e.g. --to prod/api/" in rooted.stderr
    assert cli("migrate", "env-file", str(env_file), "--to", "DEV/web").code == 2


def test_delete_source_removes_only_migrated_lines(cli, sm, aws_env: Path) -> None:
    text = f"# keep this comment\nA_TOKEN={CANARY}-a\n\nB_TOKEN={CANARY}-b  # note\nC_TOKEN=\n"
    env_file = write_env(aws_env, text)
    env_file.chmod(0o600)
    sm.create_secret(Name="dev/web/b-token", SecretString="other")
    run = cli("migrate", "env-file", str(env_file), "--to", "dev/web", "--delete-source", "--yes")
    assert run.code == 4  # B conflicts (and C is invalid): both lines stay
    assert env_file.read_text() == (
        f"# keep this comment\n\nB_TOKEN={CANARY}-b  # note\nC_TOKEN=\n"
    )
    assert env_file.stat().st_mode & 0o777 == 0o600


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(
        st.from_regex(r"[A-Z][A-Z0-9_]{0,15}", fullmatch=True),
        st.text(
            st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\\\"'"),
            min_size=1,
            max_size=40,
        ),
        min_size=1,
        max_size=6,
    )
)
def test_dotenv_round_trip(
    tmp_path_factory: pytest.TempPathFactory, values: dict[str, str]
) -> None:
    """Whatever we write as KEY="VALUE" comes back exactly (the parser is dotenv's)."""
    folder = tmp_path_factory.mktemp("dotenv")
    text = "".join(f'{key}="{value}"\n' for key, value in values.items())
    source = EnvFileSource(write_env(folder, text))
    parsed = {item.key: item.value.text() for item in source.items() if item.value}
    assert parsed == values


def test_the_migrated_from_tag_keeps_to_awss_limits(cli, sm, aws_env: Path) -> None:
    """The tag names the file and key; AWS takes at most 256 characters from a set that has
    no `#`: a `#` becomes `_`, a tag of exactly 256 stays whole, and a longer one keeps its
    end (the file and key) behind "..."."""
    folder = aws_env / "odd#dir"
    folder.mkdir()
    head = f"env-file:{folder}/".replace("#", "_")
    exact = "e" * (256 - len(head) - len(".env:K"))
    cases = {"dev/exact/": (exact + ".env", "K"), "dev/long/": ("l" * 200 + ".env", "K")}
    for prefix, (name, key) in cases.items():
        write_env(folder, f"{key}={CANARY}\n", name)
        run = cli("migrate", "env-file", str(folder / name), "--to", prefix)
        assert run.code == 0, run.stderr
    tags = {
        name: {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=name)["Tags"]}
        for name in ("dev/exact/k", "dev/long/k")
    }
    assert tags["dev/exact/k"]["migrated-from"] == f"{head}{exact}.env:K"
    assert len(tags["dev/exact/k"]["migrated-from"]) == 256
    whole = f"{head}{'l' * 200}.env:K"
    assert tags["dev/long/k"]["migrated-from"] == "..." + whole[-253:]
