"""The public Python API: `import envsecrets`, against the emulator.

The README's example is read from README.md itself and run here, so the two cannot drift; the
surface (`__all__`) is pinned, documented and typed; the package imports without the AWS SDK
and installs as `envsecrets` alone.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3
import envsecrets
import pytest

from tests.conftest import write_config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CANARY = "canary-Ap9Kw3Xr7Lm"
SURFACE = {
    "CliError",
    "Environment",
    "ExitCode",
    "Migration",
    "MigrationPlan",
    "MigrationResult",
    "SecretValue",
    "SetOutcome",
    "StoredValue",
    "open_environment",
}


def readme_example() -> str:
    found = re.search(r"<!-- python-api-example[^>]*-->\n```python\n(.*?)```", README, re.S)
    assert found, "README.md lost its marked Python API example"
    return found.group(1)


# -- the README's example ---------------------------------------------------------------------
def test_the_readme_example_runs_against_the_emulator(aws_env: Path) -> None:
    region = "eu-west-1"
    ssm = boto3.client("ssm", region_name=region)
    for name, value in {
        "/app/prod/db/password": f"{CANARY}-db",
        "/app/prod/api/stripe-key": f"{CANARY}-stripe",
        "/app/prod/legacy/token": f"{CANARY}-token",
    }.items():
        ssm.put_parameter(Name=name, Value=value, Type="SecureString")
    code = readme_example()
    assert code.count("import ") <= 3  # "at most three imports"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})  # noqa: S102
    lines = printed.getvalue().splitlines()
    assert lines[0] == str({"create": 3, "update": 0, "unchanged": 0, "conflict": 0, "invalid": 0})
    assert lines[1] == "3 0"
    assert CANARY not in printed.getvalue()
    sm = boto3.client("secretsmanager", region_name=region)
    got = sm.get_secret_value(SecretId="prod/app/api/stripe-key")["SecretString"]
    assert got == f"{CANARY}-stripe"
    assert sm.get_secret_value(SecretId="prod/app/feature-flag")["SecretString"] == "on"
    assert ssm.get_parameters_by_path(Path="/app/prod", Recursive=True)["Parameters"] == []


# -- the surface ------------------------------------------------------------------------------
def test_the_surface_is_pinned_documented_and_typed() -> None:
    assert set(envsecrets.__all__) == SURFACE
    for name in sorted(SURFACE):
        exported = getattr(envsecrets, name)
        assert inspect.getdoc(exported), f"envsecrets.{name} has no docstring"
        if inspect.isfunction(exported):
            assert_typed(exported, f"envsecrets.{name}")
        elif inspect.isclass(exported):
            for member, found in vars(exported).items():
                if member.startswith("_"):
                    continue
                where = f"envsecrets.{name}.{member}"
                target = found.fget if isinstance(found, property) else found
                if isinstance(target, classmethod | staticmethod):
                    target = target.__func__
                if not inspect.isfunction(target):
                    continue  # a field or an enum member
                assert inspect.getdoc(target), f"{where} has no docstring"
                assert_typed(target, where)


def assert_typed(function: Any, where: str) -> None:
    """Every parameter and the return value are annotated (mypy --strict checks that the
    annotations are right; they name types imported only for type checkers, so they are
    not evaluated here)."""
    hints = inspect.get_annotations(function)
    assert "return" in hints, f"{where} has no return type"
    for parameter in inspect.signature(function).parameters.values():
        if parameter.name in ("self", "cls"):
            continue
        assert parameter.name in hints, f"{where}: parameter {parameter.name} has no type"


def test_everything_else_is_internal() -> None:
    with pytest.raises(AttributeError):
        envsecrets.AwsTarget  # noqa: B018  # a backend class is not part of the surface


def test_importing_loads_no_aws_sdk() -> None:
    probe = (
        "import sys, envsecrets\n"
        "env = envsecrets.open_environment('dev', region='us-east-1')\n"
        "print(sorted(m for m in ('boto3', 'botocore') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_the_wheel_holds_envsecrets_and_no_cli(tmp_path: Path) -> None:
    """What `pip install .` puts in site-packages: the wheel's files, listed."""
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet"]
    done = subprocess.run(
        [*pip, "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("envsecrets-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"envsecrets"}
    assert "envsecrets/__init__.py" in names and "envsecrets/api.py" in names
    assert "envsecrets/py.typed" in names  # PEP 561: the types reach users' type checkers
    assert not any(name.startswith(("cli/", "tests/")) for name in names)


def test_a_users_script_is_type_checked_against_the_api(tmp_path: Path) -> None:
    """Without `py.typed` mypy treats the installed package as untyped: every call is Any."""
    script = tmp_path / "user.py"
    script.write_text(
        "import envsecrets\n"
        "env = envsecrets.open_environment('dev')\n"
        "reveal_type(env.set('dev/a/b', 'v'))\n"
        "env.set('dev/a/b', 5432)\n"
    )
    done = subprocess.run(
        [str(Path(sys.executable).parent / "mypy"), "--strict", "--no-incremental", "user.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "missing library stubs or py.typed marker" not in done.stdout, done.stdout
    assert 'Revealed type is "envsecrets.core.operations.SetOutcome"' in done.stdout, done.stdout
    assert 'Argument 2 to "set" of "Environment" has incompatible type "int"' in done.stdout


def test_an_embedding_programs_repeating_timer_keeps_repeating(aws_env: Path, sm: Any) -> None:
    """The deadline borrows SIGALRM during each AWS call; it put back the timer's next ring but
    dropped its interval, so a program's repeating timer stopped after one more ring."""
    import signal

    sm.create_secret(Name="dev/api/key", SecretString="v")
    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    try:
        signal.setitimer(signal.ITIMER_REAL, 600, 30)
        assert envsecrets.open_environment("dev").get("dev/api/key").value.text() == "v"
        left, interval = signal.getitimer(signal.ITIMER_REAL)
        assert 0 < left <= 600 and interval == 30
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- environments, names and protection ----------------------------------------------------
def test_set_and_get_round_trip_and_refuse_other_environments(aws_env: Path, sm: Any) -> None:
    dev = envsecrets.open_environment("dev")
    done = dev.set("dev/api/key", f"{CANARY}-1", description="a key", tags={"team": "x"})
    assert (done.action, done.as_dict()["action"]) == ("create", "created")
    assert done.as_dict()["kind"] == "text" and CANARY not in repr(done)
    again = dev.set("dev/api/key", f"{CANARY}-1")
    assert again.action == "unchanged" and again.version_id == done.version_id
    stored = dev.get("dev/api/key")
    assert stored.value.text() == f"{CANARY}-1" and stored.version_id == done.version_id
    assert CANARY not in repr(stored)
    dev.set("dev/db/creds", '{"user": "app", "password": "p1"}')
    assert dev.set("dev/db/creds", "p2", field="password").as_dict()["kind"] == "json"
    assert dev.get("dev/db/creds", field="password").value.text() == "p2"
    for call in (lambda: dev.get("prod/api/key"), lambda: dev.set("prod/api/key", "v")):
        with pytest.raises(envsecrets.CliError) as refused:
            call()
        assert refused.value.code == envsecrets.ExitCode.USAGE
    with pytest.raises(envsecrets.CliError) as missing:
        dev.get("dev/api/nothing")
    assert missing.value.code == envsecrets.ExitCode.NOT_FOUND


@pytest.mark.parametrize("value", [5432, 0, True, None, {"user": "app"}, ["a"], 1.5])
def test_set_refuses_a_value_that_is_not_text_or_bytes(aws_env: Path, sm: Any, value: Any) -> None:
    """`set(name, 5432)` stored 5,432 NUL bytes; None and a dict raised a raw TypeError."""
    dev = envsecrets.open_environment("dev")
    with pytest.raises(envsecrets.CliError) as refused:
        dev.set("dev/db/port", value)
    assert refused.value.code == envsecrets.ExitCode.USAGE
    assert f"not {type(value).__name__}" in refused.value.message
    assert "json.dumps" in (refused.value.hint or "")
    assert sm.list_secrets()["SecretList"] == []
    with pytest.raises(envsecrets.CliError):
        envsecrets.SecretValue(value)


@pytest.mark.parametrize(
    ("arguments", "what"),
    [
        ((5, "v"), {}),
        ((b"dev/x", "v"), {}),
        (("dev/x", "v"), {"description": 5}),
        (("dev/x", "v"), {"field": 5}),
    ],
)
def test_set_refuses_a_name_field_or_description_that_is_not_text(
    aws_env: Path, sm: Any, arguments: tuple[Any, ...], what: dict[str, Any]
) -> None:
    """A reviewer's `set(5, ...)`, `set(b"dev/x", ...)`, `description=5`, `field=5`: raw
    TypeErrors and a ValueError from deep inside."""
    dev = envsecrets.open_environment("dev")
    with pytest.raises(envsecrets.CliError) as refused:
        dev.set(*arguments, **what)
    assert refused.value.code == envsecrets.ExitCode.USAGE
    assert "is text (str), not" in refused.value.message
    assert sm.list_secrets()["SecretList"] == []


def test_set_stores_str_bytes_and_bytearray_as_given(aws_env: Path, sm: Any) -> None:
    dev = envsecrets.open_environment("dev")
    dev.set("dev/db/port", "5432")
    dev.set("dev/db/blob", bytearray(b"\x00\x01"))
    assert sm.get_secret_value(SecretId="dev/db/port")["SecretString"] == "5432"
    assert sm.get_secret_value(SecretId="dev/db/blob")["SecretBinary"] == b"\x00\x01"


def test_a_protected_environment_needs_yes_or_a_confirmation(aws_env: Path, sm: Any) -> None:
    prod = envsecrets.open_environment("prod")
    assert prod.protected
    with pytest.raises(envsecrets.CliError) as refused:
        prod.set("prod/api/key", CANARY)
    assert refused.value.code == envsecrets.ExitCode.REFUSED
    assert "yes=True" in (refused.value.hint or "")
    assert sm.list_secrets()["SecretList"] == []
    asked: list[str] = []
    prod.set("prod/api/key", CANARY, confirm=asked.append)
    assert asked == ["create prod/api/key?"]
    assert prod.set("prod/api/key", CANARY).action == "unchanged"  # nothing to confirm
    assert prod.set("prod/api/key", f"{CANARY}-2", yes=True).action == "update"


def test_settings_come_from_secrets_toml_and_arguments_win(aws_env: Path) -> None:
    write_config(aws_env, '[environments.qa]\nregion = "eu-central-1"\nprotected = true\n')
    assert envsecrets.open_environment("qa").protected
    with pytest.raises(envsecrets.CliError) as undeclared:
        envsecrets.open_environment("dev")
    assert undeclared.value.code == envsecrets.ExitCode.USAGE
    qa = envsecrets.open_environment("qa", region="us-east-1", role_arn=None)
    assert qa._target().region == "us-east-1"
    with pytest.raises(envsecrets.CliError):
        envsecrets.open_environment("Not An Env")


# -- migrations ---------------------------------------------------------------------------------
def test_an_env_file_migration_keeps_a_line_edited_before_removal(aws_env: Path, sm: Any) -> None:
    """plan -> apply -> (someone edits the file) -> remove_sources: the edited line stays,
    the result says so, and the exit code is 1."""
    source = aws_env / ".env"
    source.write_text(f"A_TOKEN={CANARY}-a\nB_TOKEN={CANARY}-b\n")
    dev = envsecrets.open_environment("dev")
    migration = dev.migrate_env_file(source, to="dev/web/")
    assert migration.plan().counts()["create"] == 2
    result = migration.apply()
    assert result.counts()["verified"] == 2
    source.write_text(f"A_TOKEN={CANARY}-edited\nB_TOKEN={CANARY}-b\n")
    result = migration.remove_sources()
    assert result.exit_code == envsecrets.ExitCode.FAILED
    assert result.counts()["source_removed"] == 1 and result.counts()["source_kept"] == 1
    assert source.read_text() == f"A_TOKEN={CANARY}-edited\n"
    assert CANARY not in json.dumps(result.as_dict())
    with pytest.raises(envsecrets.CliError) as twice:
        migration.apply()
    assert twice.value.code == envsecrets.ExitCode.USAGE


def test_an_ssm_parameter_overwritten_before_removal_is_kept(aws_env: Path, sm: Any) -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name="/svc/one", Value=f"{CANARY}-1", Type="SecureString")
    ssm.put_parameter(Name="/svc/two", Value=f"{CANARY}-2", Type="SecureString")
    migration = envsecrets.open_environment("dev").migrate_ssm("/svc", to="dev/svc/")
    result = migration.apply()  # streamed: no plan() first
    assert result.plan.counts()["create"] == 2 and result.counts()["verified"] == 2
    ssm.put_parameter(Name="/svc/one", Value=f"{CANARY}-new", Type="SecureString", Overwrite=True)
    result = migration.remove_sources()
    assert result.exit_code == envsecrets.ExitCode.FAILED
    left = ssm.get_parameters_by_path(Path="/svc")["Parameters"]
    assert [p["Name"] for p in left] == ["/svc/one"]


def test_a_migration_into_a_protected_environment_asks_after_planning(
    aws_env: Path, sm: Any
) -> None:
    source = aws_env / ".env"
    source.write_text(f"A_TOKEN={CANARY}\n")
    prod = envsecrets.open_environment("prod")
    with pytest.raises(envsecrets.CliError) as refused:
        prod.migrate_env_file(source, to="prod/web/").apply()
    assert refused.value.code == envsecrets.ExitCode.REFUSED
    assert sm.list_secrets()["SecretList"] == []
    asked: list[str] = []
    result = prod.migrate_env_file(source, to="prod/web/").apply(confirm=asked.append)
    assert asked == ["write 1 secrets under prod/web/?"]
    assert result.exit_code == envsecrets.ExitCode.OK
    with pytest.raises(envsecrets.CliError) as elsewhere:
        prod.migrate_env_file(source, to="dev/web/")
    assert elsewhere.value.code == envsecrets.ExitCode.USAGE


@pytest.mark.parametrize("planned_first", [True, False], ids=["planned", "streamed"])
def test_a_migration_tells_its_progress_and_the_seconds_of_each_step(
    aws_env: Path, sm: Any, planned_first: bool
) -> None:
    """apply(progress=...), with plan() first or streamed: `progress(1)` as each write
    finishes (README), and the result's seconds are the durations of this migration's steps."""
    source = aws_env / ".env"
    source.write_text(f"A_TOKEN={CANARY}-a\nB_TOKEN={CANARY}-b\nC_TOKEN={CANARY}-c\n")
    migration = envsecrets.open_environment("dev").migrate_env_file(source, to="dev/web/")
    started = time.monotonic()
    if planned_first:
        migration.plan()
    finished: list[int] = []
    result = migration.apply(progress=finished.append)
    took = time.monotonic() - started
    assert finished == [1, 1, 1]
    assert result.counts()["verified"] == 3
    seconds = result.as_dict()["seconds"]
    assert set(seconds) == {"plan", "apply", "verify"}
    assert all(0 <= step <= took + 0.001 for step in seconds.values())  # rounded to 3 places


def test_remove_sources_before_apply_is_a_usage_error(aws_env: Path) -> None:
    source = aws_env / ".env"
    source.write_text(f"A_TOKEN={CANARY}\n")
    migration = envsecrets.open_environment("dev").migrate_env_file(source)
    with pytest.raises(envsecrets.CliError) as early:
        migration.remove_sources()
    assert early.value.code == envsecrets.ExitCode.USAGE
    assert CANARY in source.read_text()


# -- the API's inputs are checked like the command's flags ---------------------------------
def test_a_migrations_write_rate_paces_the_migration_only(
    aws_env: Path, sm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Constructing a migration with max_write_rate=1 used to re-pace every later call of the
    environment: five `set` calls went from 0.43 s to 4.02 s."""
    from envsecrets.backends.quotas import RateLimiter

    paced: list[tuple[float | None, str]] = []
    original = RateLimiter.acquire

    def counting(self: RateLimiter, name: str) -> None:
        paced.append((self._rates.get("secretsmanager.CreateSecret"), name))
        original(self, name)

    monkeypatch.setattr(RateLimiter, "acquire", counting)
    source = aws_env / "app.env"
    source.write_text("A=1\nB=2\n")
    dev = envsecrets.open_environment("dev")
    migration = dev.migrate_env_file(source, to="dev/app/", max_write_rate=1)
    dev.set("dev/before/key", "v")
    assert paced == []  # made, not run: nothing paced yet
    assert migration.apply().exit_code == envsecrets.ExitCode.OK
    assert (1, "secretsmanager.CreateSecret") in paced  # the migration ran at its own rate
    paced.clear()
    for n in range(3):
        dev.set(f"dev/after/key-{n}", "v")
    assert paced == []  # the environment's later calls are not paced by the migration


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"max_write_rate": 0}, "max_write_rate=0"),
        ({"max_write_rate": -5}, "max_write_rate=-5"),
        ({"max_write_rate": float("inf")}, "max_write_rate=inf"),
        ({"max_write_rate": "50"}, "max_write_rate='50'"),
        ({"concurrency": 0}, "concurrency=0"),
        ({"concurrency": -1}, "concurrency=-1"),
        ({"concurrency": 65}, "concurrency=65"),
        ({"concurrency": 2.5}, "concurrency=2.5"),
        ({"concurrency": True}, "concurrency=True"),
    ],
)
def test_migration_settings_the_command_refuses_are_refused(
    aws_env: Path, sm: Any, arguments: dict[str, Any], named: str
) -> None:
    source = aws_env / "app.env"
    source.write_text("A=1\n")
    dev = envsecrets.open_environment("dev")
    with pytest.raises(envsecrets.CliError) as refused:
        dev.migrate_env_file(source, to="dev/app/", **arguments)
    assert refused.value.code == envsecrets.ExitCode.USAGE
    assert named in refused.value.message
    assert sm.list_secrets()["SecretList"] == []


@pytest.mark.parametrize("region", ["us-east-1 ", "US-EAST-1", "", "us east 1"])
def test_a_malformed_region_is_a_usage_error_naming_the_setting(aws_env: Path, region: str) -> None:
    """`region="us-east-1 "` was exit 1 ("InvalidRegionError") at the first call."""
    with pytest.raises(envsecrets.CliError) as refused:
        envsecrets.open_environment("dev", region=region)
    assert refused.value.code == envsecrets.ExitCode.USAGE
    assert refused.value.message.startswith("region: ")
