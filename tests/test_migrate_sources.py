"""Migration sources that cannot lie: a report never replaces an input, `--delete-source`
removes only what still holds the migrated value and says so when it could not, symlinked
files are edited where they point (BOM and CRLF kept), and a dry run exits like the real run.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import boto3
import pytest
from envsecrets.errors import CliError, ExitCode

from tests.conftest import REGION, SECRETS_BIN, write_config

CANARY = "canary-Hs7Kq2Lp9Wd"


def write_env(folder: Path, text: str, name: str = ".env") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# -- --report and the inputs ----------------------------------------------------------------
def test_report_that_is_the_source_is_refused_before_anything(cli: Any, sm: Any, aws_env) -> None:
    """The dry run used to say "nothing written" and replace dry.env with the report, the
    only copy of the secrets."""
    source = write_env(aws_env, f"API_KEY={CANARY}\n", "dry.env")
    original = source.read_bytes()
    (aws_env / "link.json").symlink_to(source)
    os.link(source, aws_env / "hard.json")
    for report in ("dry.env", str(source), "./sub/../dry.env", "link.json", "hard.json"):
        (aws_env / "sub").mkdir(exist_ok=True)
        for extra in ([], ["--dry-run"]):
            run = cli(
                "migrate", "env-file", "dry.env", "--to", "dev/dry/", "--report", report, *extra
            )
            assert run.code == 2, (report, run.stderr)
            assert "an input of this command" in run.stderr
            assert source.read_bytes() == original
    assert sm.list_secrets()["SecretList"] == []


def test_report_that_is_secrets_toml_is_refused(cli: Any, sm: Any, aws_env: Path) -> None:
    config = write_config(aws_env, "[environments.dev]\n")
    source = write_env(aws_env, f"API_KEY={CANARY}\n")
    run = cli("migrate", "env-file", str(source), "--to", "dev/x/", "--report", str(config))
    assert run.code == 2
    assert config.read_text() == "[environments.dev]\n"


def test_a_report_elsewhere_is_written(cli: Any, sm: Any, aws_env: Path) -> None:
    source = write_env(aws_env, f"API_KEY={CANARY}\n")
    run = cli("migrate", "env-file", str(source), "--to", "dev/x/", "--report", "report.json")
    assert run.code == 0, run.stderr
    assert '"created": 1' in (aws_env / "report.json").read_text()


def test_a_file_name_that_is_not_utf8_migrates_and_reports(
    cli: Any, sm: Any, aws_env: Path
) -> None:
    """It used to migrate and then crash (UnicodeEncodeError) without writing the report."""
    name = os.fsdecode(b"caf\xe9.env")  # Latin-1, as an old editor saved it
    source = write_env(aws_env, f"API_KEY={CANARY}\n", name)
    report = aws_env / "report.json"
    run = cli("migrate", "env-file", str(source), "--to", "dev/x/", "--report", str(report))
    assert run.code == 0, run.stderr
    text = report.read_text(encoding="utf-8")
    assert "caf\\\\xe9.env" in text  # the byte shown as \xe9 (a JSON string escapes the \)
    assert sm.get_secret_value(SecretId="dev/x/api-key")["SecretString"] == CANARY
    dry = cli("migrate", "env-file", str(source), "--to", "dev/x/", "--dry-run", "--json")
    assert dry.code == 0
    assert dry.json()["plan"]["source"]["label"].endswith("caf\\xe9.env")


# -- dry runs exit like real runs -------------------------------------------------------------
def test_a_dry_run_exits_with_the_code_of_the_real_run(cli: Any, sm: Any, aws_env: Path) -> None:
    source = write_env(aws_env, f"EMPTY=\nGOOD={CANARY}\n")
    dry = cli("migrate", "env-file", str(source), "--to", "dev/x/", "--dry-run", "--json")
    assert dry.code == 2, dry.stderr
    assert dry.json()["plan"]["counts"]["invalid"] == 1  # the plan is still printed
    assert "dry run" in dry.stderr
    assert sm.list_secrets()["SecretList"] == []
    assert cli("migrate", "env-file", str(source), "--to", "dev/x/").code == 2
    sm.put_secret_value(SecretId="dev/x/good", SecretString="another")
    conflict = write_env(aws_env, f"GOOD={CANARY}\n", "conflict.env")
    dry = cli("migrate", "env-file", str(conflict), "--to", "dev/x/", "--dry-run")
    assert dry.code == 4
    assert cli("migrate", "env-file", str(conflict), "--to", "dev/x/").code == 4
    clean = write_env(aws_env, f"OTHER={CANARY}\n", "clean.env")
    assert cli("migrate", "env-file", str(clean), "--to", "dev/x/", "--dry-run").code == 0


# -- --delete-source: symlinks, BOM, CRLF, hard links ------------------------------------------
def test_delete_source_through_a_symlink_edits_the_file_it_points_to(
    cli: Any, sm: Any, aws_env: Path
) -> None:
    """It used to print "removed", replace the link with a regular file, and leave the
    value in real.env."""
    folder = aws_env / "real"
    folder.mkdir()
    real = write_env(folder, f"# app\nA_TOKEN={CANARY}-a\nKEEP=not-secret-here\n", "real.env")
    real.chmod(0o640)
    link = aws_env / "link.env"
    link.symlink_to(real)
    run = cli("migrate", "env-file", "link.env", "--to", "dev/link/", "--delete-source", "--yes")
    assert run.code == 0, run.stderr
    assert "2 removed from the source" in run.stderr
    assert link.is_symlink() and link.resolve() == real
    assert real.read_text() == "# app\n"
    assert real.stat().st_mode & 0o777 == 0o640
    assert CANARY not in real.read_text()
    assert [p.name for p in folder.iterdir()] == ["real.env"]  # no temp file left behind


def test_delete_source_keeps_bom_and_crlf_of_the_lines_that_stay(
    cli: Any, sm: Any, aws_env: Path
) -> None:
    text = f"\ufeff# top\r\nA_TOKEN={CANARY}\r\nB_TOKEN=\r\n\r\n# end\r\n"
    source = aws_env / ".env"
    source.write_bytes(text.encode("utf-8"))
    run = cli("migrate", "env-file", ".env", "--to", "dev/bom/", "--delete-source", "--yes")
    assert run.code == 2  # B_TOKEN is empty: invalid, and its line stays
    assert source.read_bytes() == "\ufeff# top\r\nB_TOKEN=\r\n\r\n# end\r\n".encode()
    assert sm.get_secret_value(SecretId="dev/bom/a-token")["SecretString"] == CANARY


def test_a_hard_linked_env_file_is_not_claimed_removed(cli: Any, sm: Any, aws_env: Path) -> None:
    """Replacing the file would leave the value under its other name."""
    source = write_env(aws_env, f"A_TOKEN={CANARY}\n")
    os.link(source, aws_env / "backup.env")
    run = cli("migrate", "env-file", ".env", "--to", "dev/hl/", "--delete-source", "--yes")
    assert run.code == 1, run.stderr
    assert "other hard links" in run.stderr
    assert "still in the source" in run.stderr and "A_TOKEN" in run.stderr
    assert CANARY in source.read_text()


def test_a_rewrite_that_fails_exits_1_and_lists_what_stayed(sm: Any, aws_env: Path) -> None:
    """A full disk: every item warned "source not removed" and the exit code was 0. A file
    size limit makes the rewrite fail the way a full disk does (EFBIG instead of ENOSPC)."""
    lines = "".join(f"K{n}_TOKEN={CANARY}-{n}\n" for n in range(5))
    source = write_env(aws_env, lines + "# " + "x" * 300 + "\n")

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))

    args = ["migrate", "env-file", ".env", "--to", "dev/full/", "--delete-source", "--yes"]
    completed = subprocess.run(
        [SECRETS_BIN, *args],
        capture_output=True,
        text=True,
        cwd=aws_env,
        preexec_fn=limit_file_size,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 1, completed.stderr
    assert "5 still in the source" in completed.stderr
    assert "K0_TOKEN" in completed.stderr and "K4_TOKEN" in completed.stderr
    assert "5 created" in completed.stderr
    assert source.read_text().count(CANARY) == 5


def test_delete_source_keeps_a_line_edited_after_it_was_read(aws_env: Path, sm: Any) -> None:
    """The question about deleting comes after the plan; a line edited meanwhile is kept
    (the secret has the old value), reported, and the exit code is 1."""
    from tests.test_pty import finish, recorded, spawn

    source = write_env(aws_env, f"A_TOKEN={CANARY}-old\nB_TOKEN={CANARY}-b\n")
    child = recorded(
        spawn("migrate", "env-file", ".env", "--to", "dev/edit/", "--delete-source", cwd=aws_env)
    )
    child.expect("remove the migrated variables' lines")
    source.write_text(f"A_TOKEN={CANARY}-new\nB_TOKEN={CANARY}-b\n")
    child.send("y")
    code, screen = finish(child)
    assert code == 1, screen
    assert "A_TOKEN: source not removed (changed in .env since it was migrated; kept)" in screen
    assert "1 still in the source" in screen
    assert source.read_text() == f"A_TOKEN={CANARY}-new\n"
    assert sm.get_secret_value(SecretId="dev/edit/a-token")["SecretString"] == f"{CANARY}-old"


# -- SSM: a parameter overwritten meanwhile, a delete that fails -------------------------------
def put(ssm: Any, name: str, value: str, overwrite: bool = False) -> None:
    ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=overwrite)


def test_ssm_parameter_overwritten_before_the_delete_is_kept(
    cli: Any, sm: Any, proxy: Any, moto_url: str
) -> None:
    """The pre-delete check (GetParameters) is held at the proxy; meanwhile the test writes
    a new version straight to the emulator, then lets the check go on."""
    direct = boto3.client("ssm", region_name=REGION, endpoint_url=moto_url)
    put(direct, "/app/x/changed", f"{CANARY}-1")
    put(direct, "/app/x/steady", f"{CANARY}-2")
    proxy.hold("ssm.GetParameters", after=0, until="ssm.ListTagsForResource")
    results: list[Any] = []
    args = ("migrate", "ssm", "/app/x", "--to", "dev/x/", "--delete-source", "--yes")
    worker = threading.Thread(target=lambda: results.append(cli(*args)))
    worker.start()
    try:
        while proxy.arrivals["ssm.GetParameters"] == 0 and worker.is_alive():
            threading.Event().wait(0.05)
        put(direct, "/app/x/changed", f"{CANARY}-new", overwrite=True)
    finally:
        release = boto3.client("ssm", region_name=REGION, endpoint_url=proxy.url)
        with pytest.raises(Exception):  # noqa: B017  # any answer will do: it is a signal
            release.list_tags_for_resource(ResourceType="Parameter", ResourceId="/nothing")
        worker.join(120)
    run = results[0]
    assert run.code == 1, run.stderr
    assert "/app/x/changed: source not removed (changed in Parameter Store" in run.stderr
    remaining = direct.get_parameters_by_path(Path="/app/x")["Parameters"]
    assert [p["Name"] for p in remaining] == ["/app/x/changed"]
    assert sm.get_secret_value(SecretId="dev/x/changed")["SecretString"] == f"{CANARY}-1"


def test_ssm_delete_refused_exits_1_and_lists_them(cli: Any, sm: Any, proxy) -> None:
    ssm = boto3.client("ssm", region_name=REGION)
    put(ssm, "/app/y/one", f"{CANARY}-1")
    put(ssm, "/app/y/two", f"{CANARY}-2")
    proxy.deny("ssm.DeleteParameters")
    run = cli("migrate", "ssm", "/app/y", "--to", "dev/y/", "--delete-source", "--yes", "--json")
    assert run.code == 1
    result = run.json()["result"]
    assert result["counts"]["source_kept"] == 2
    assert [i["source_removed"] for i in result["items"]] == [False, False]
    assert "2 still in the source /app/y" in run.stderr


def test_ssm_reply_that_names_nothing_removes_nothing(cli: Any, sm: Any, proxy) -> None:
    """A GetParameters reply without the parameters (an endpoint answering `{}`): nothing is
    assumed gone, nothing deleted."""
    ssm = boto3.client("ssm", region_name=REGION)
    put(ssm, "/app/z/one", f"{CANARY}-1")
    proxy.answer("ssm.GetParameters", b"{}")
    run = cli("migrate", "ssm", "/app/z", "--to", "dev/z/", "--delete-source", "--yes")
    assert run.code == 1
    assert proxy.calls["ssm.DeleteParameters"] == 0
    assert len(ssm.get_parameters_by_path(Path="/app/z")["Parameters"]) == 1


# -- secrets.toml through a symlink ----------------------------------------------------------
def test_migrate_lambda_edits_a_symlinked_secrets_toml_where_it_points(
    cli: Any, sm: Any, aws_env: Path
) -> None:
    from tests.test_migrate_lambda import CONFIG, make_function

    shared = aws_env / "shared"
    shared.mkdir()
    real = write_config(shared, CONFIG)
    real.chmod(0o640)
    link = aws_env / "secrets.toml"
    link.symlink_to(real)
    make_function(variables={"DB_PASSWORD": f"{CANARY}-pw"})
    run = cli("migrate", "lambda", "checkout", "--env", "dev", "--yes")
    assert run.code == 0, run.stderr
    assert link.is_symlink() and link.resolve() == real
    assert '"checkout/db-password"' in real.read_text()
    assert "# checkout reads these" in real.read_text()
    assert real.stat().st_mode & 0o777 == 0o640


def test_init_replaces_the_file_a_symlinked_secrets_toml_points_to(cli: Any, aws_env: Path) -> None:
    shared = aws_env / "shared"
    shared.mkdir()
    real = write_config(shared, "[environments.old]\n")
    link = aws_env / "secrets.toml"
    link.symlink_to(real)
    run = cli("init", "--env", "dev", "--yes")
    assert run.code == 0, run.stderr
    assert link.is_symlink() and link.resolve() == real
    assert "[environments.dev]" in real.read_text()


def test_recording_secrets_keeps_a_bom_and_crlf(tmp_path: Path) -> None:
    from envsecrets.core.config_edit import record_function_secrets

    path = tmp_path / "secrets.toml"
    path.write_bytes(b'\xef\xbb\xbf# shop\r\n[functions.checkout]\r\nsecrets = ["a"]\r\n')
    record_function_secrets(path, "checkout", ["b"])
    record_function_secrets(path, "orders", ["c", "d", "e", "f"])
    data = path.read_bytes()
    start = b'\xef\xbb\xbf# shop\r\n[functions.checkout]\r\nsecrets = ["a", "b"]\r\n'
    assert data.startswith(start)
    assert b"[functions.orders]" in data
    assert b"\n" not in data.replace(b"\r\n", b"")  # every line ends in CRLF


def test_a_report_path_that_is_a_symlink_is_replaced_not_followed(
    cli: Any, sm: Any, aws_env: Path
) -> None:
    """A report is a new file with a name: a link planted there (a shared folder) must not
    aim the write at another file."""
    elsewhere = aws_env / "elsewhere.txt"
    elsewhere.write_text("keep me\n")
    (aws_env / "report.json").symlink_to(elsewhere)
    source = write_env(aws_env, f"API_KEY={CANARY}\n")
    run = cli("migrate", "env-file", str(source), "--to", "dev/r/", "--report", "report.json")
    assert run.code == 0, run.stderr
    assert elsewhere.read_text() == "keep me\n"
    report = aws_env / "report.json"
    assert not report.is_symlink() and '"created": 1' in report.read_text()


# -- what the engine claims, whatever a source answers ---------------------------------------
@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ({}, "no answer from the source"),  # a source that leaves keys out of its answer
        (CliError(ExitCode.FAILED, "cannot look at it again", "-"), "cannot look at it again"),
    ],
    ids=["no answer", "refused"],
)
def test_a_removal_the_source_did_not_confirm_is_never_claimed(
    aws_env: Path, sm: Any, answer: dict[str, str | None] | CliError, why: str
) -> None:
    """`--delete-source` reports an item removed only when the source says so: an item its
    source did not answer for, or every item when the source could not even be looked at
    again, stays "not removed" with the reason, and the exit code is 1 (the plaintext is
    still there)."""
    from envsecrets.backends.aws import AwsTarget
    from envsecrets.backends.envfile import EnvFileSource
    from envsecrets.backends.quotas import RateLimiter
    from envsecrets.backends.secretsmanager import SecretsManagerStore
    from envsecrets.core.config import EnvironmentConfig
    from envsecrets.core.migration import (
        apply_migration,
        plan_migration,
        remove_sources,
        target_prefix,
        verify_migration,
    )

    class Answering(EnvFileSource):
        def remove(self, items: Any) -> dict[str, str | None]:
            if isinstance(answer, CliError):
                raise answer
            return answer

    source = Answering(write_env(aws_env, f"A_TOKEN={CANARY}-a\nB_TOKEN={CANARY}-b\n"))
    store = SecretsManagerStore(AwsTarget(label="dev", limiter=RateLimiter.for_writes()))
    plan = plan_migration(source, store, target_prefix("dev/web/"), overwrite=False)
    applied = apply_migration(plan, store, source, EnvironmentConfig.default("dev"))
    result = remove_sources(verify_migration(applied, store), source, all_or_nothing=False)
    assert [(o.source_removed, o.error) for o in result.outcomes] == [
        (False, f"source not removed ({why})")
    ] * 2
    assert result.counts()["source_kept"] == 2
    assert result.exit_code == ExitCode.FAILED
