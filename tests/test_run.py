"""`secrets run`: a program started with the secrets under a scope, as files by default.

The program in these tests is a small Python script that reports what it saw (its
environment, `/proc/<its pid>/environ`, the files and their modes) into a JSON file, because
an in-process run's child writes to the real stdout, not to CliRunner's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pexpect
import pytest
from envsecrets.app import FAMILIES
from envsecrets.backends.child import Interrupted, SignalRelay
from envsecrets.core.secret_files import folder_place

from tests.conftest import SECRETS_BIN, write_config
from tests.test_startup import probe_run

REPORT = r"""
import json, os, stat, sys
report = {"env": dict(os.environ), "files": {}, "pid": os.getpid()}
folder = os.environ.get("SECRETS_DIR")
if folder:
    report["folder"] = folder
    report["folder_mode"] = stat.S_IMODE(os.stat(folder).st_mode)
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        with open(path, "rb") as handle:
            data = handle.read()
        report["files"][name] = {"mode": stat.S_IMODE(os.stat(path).st_mode), "hex": data.hex()}
with open(f"/proc/{os.getpid()}/environ", "rb") as handle:
    report["environ_hex"] = handle.read().hex()
with open(sys.argv[1], "w") as handle:
    json.dump(report, handle)
sys.exit(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
"""

# Waits for signals, writing each one's name to OUT.signals (and who sent it, the terminal or
# a process, to OUT.senders), and says where it runs in OUT. sigtimedwait sees every signal
# with its sender, where a Python handler would see two quick INTs as one.
WAITER = r"""
import json, os, signal, sys, time
out = sys.argv[1]
if "--own-group" in sys.argv:
    os.setpgid(0, 0)  # out of the terminal's foreground group: Ctrl-C no longer reaches it
watched = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGQUIT}
signal.pthread_sigmask(signal.SIG_BLOCK, watched)
with open(out + ".tmp", "w") as handle:
    json.dump({"pid": os.getpid(), "folder": os.environ.get("SECRETS_DIR")}, handle)
os.replace(out + ".tmp", out)
end = time.time() + 120
while time.time() < end:
    info = signal.sigtimedwait(watched, 0.2)
    if info is None:
        continue
    name = signal.Signals(info.si_signo).name
    sender = "terminal" if info.si_code == 0x80 else "process"  # SI_KERNEL: the tty
    with open(out + ".senders", "a") as handle:
        handle.write(f"{name}:{sender}\n")
    with open(out + ".signals", "a") as handle:
        handle.write(name + "\n")
    if info.si_signo == signal.SIGTERM:
        sys.exit(0)
sys.exit(99)
"""

CONFIG = """
[environments.dev]
[environments.prod]
protected = true
"""


@pytest.fixture(autouse=True)
def runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private XDG_RUNTIME_DIR per test: its run folders are this test's alone."""
    folder = tmp_path / "runtime"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    return folder


def runs_left(runtime_dir: Path) -> list[str]:
    parent = runtime_dir / "envsecrets"
    return sorted(p.name for p in parent.iterdir() if p.name != ".lock") if parent.exists() else []


def report_of(cli: Any, work: Path, *args: str, code: int = 0, exit_with: int = 0) -> Any:
    out = work / "report.json"
    out.unlink(missing_ok=True)
    run = cli(*args, "--", sys.executable, "-c", REPORT, str(out), str(exit_with))
    assert run.code == code, run.stderr
    return json.loads(out.read_text()) if out.exists() else None


def put(sm: Any, name: str, value: str | bytes) -> None:
    if isinstance(value, bytes):
        sm.create_secret(Name=name, SecretBinary=value)
    else:
        sm.create_secret(Name=name, SecretString=value)


def test_values_are_files_with_exact_bytes_and_never_in_the_environment(
    cli: Any, sm: Any, aws_env: Path, runtime_dir: Path
) -> None:
    big = "x" * 65_536  # Secrets Manager's largest value
    binary = b"\x00\xff\x10\x80binary\x00"
    text = "multi\nline 'quoted' $HOME #not-a-comment ü\r\n"
    put(sm, "dev/api/stripe-key", text)
    put(sm, "dev/blob", binary)
    put(sm, "dev/big", big)
    report = report_of(cli, aws_env, "run", "dev")
    files = report["files"]
    assert sorted(files) == ["API_STRIPE_KEY", "BIG", "BLOB"]
    assert bytes.fromhex(files["API_STRIPE_KEY"]["hex"]) == text.encode()
    assert bytes.fromhex(files["BLOB"]["hex"]) == binary
    assert bytes.fromhex(files["BIG"]["hex"]) == big.encode()
    assert {f["mode"] for f in files.values()} == {0o600}
    assert report["folder_mode"] == 0o700
    folder = Path(report["folder"])
    assert folder.parent == runtime_dir / "envsecrets"
    env = report["env"]
    assert env["SECRETS_DIR"] == str(folder)
    assert env["API_STRIPE_KEY_FILE"] == str(folder / "API_STRIPE_KEY")
    assert "API_STRIPE_KEY" not in env and "BLOB" not in env
    # No value in the program's environment, as the kernel holds it (/proc/<pid>/environ).
    environ = bytes.fromhex(report["environ_hex"])
    for value in (text.encode(), binary[1:-1], b"x" * 100):
        assert value not in environ
    # The folder went with the program.
    assert not folder.exists()
    assert runs_left(runtime_dir) == []


def test_names_come_from_the_path_below_the_scope(cli: Any, sm: Any, aws_env: Path) -> None:
    for name in ("dev/api/stripe-key", "dev/api/v2.token", "dev/2fa/seed", "dev/db/Pass_word"):
        put(sm, name, "v")
    put(sm, "devx/other", "v")  # a prefix of the name, not of the path: not in dev
    report = report_of(cli, aws_env, "run", "dev")
    expected = ["API_STRIPE_KEY", "API_V2_TOKEN", "DB_PASS_WORD", "_2FA_SEED"]
    assert sorted(report["files"]) == expected
    scoped = report_of(cli, aws_env, "run", "dev/api")
    assert sorted(scoped["files"]) == ["STRIPE_KEY", "V2_TOKEN"]


def test_two_secrets_giving_one_name_are_refused_and_nothing_starts(
    cli: Any, sm: Any, aws_env: Path
) -> None:
    put(sm, "dev/api/key", "a")
    put(sm, "dev/api.key", "b")
    out = aws_env / "report.json"
    run = cli("run", "dev", "--", sys.executable, "-c", REPORT, str(out))
    assert run.code == 2
    assert "dev/api.key and dev/api/key both become API_KEY" in run.stderr
    assert not out.exists()


def test_only_narrows_and_names_what_is_missing(cli: Any, sm: Any, aws_env: Path) -> None:
    put(sm, "dev/api/stripe-key", "a")
    put(sm, "dev/db/password", "b")
    put(sm, "dev/db/user", "c")
    only_db = report_of(cli, aws_env, "run", "dev", "--only", "db/")
    assert sorted(only_db["files"]) == ["DB_PASSWORD", "DB_USER"]
    one = report_of(cli, aws_env, "run", "dev", "--only", "api/stripe-key", "--only", "db/user")
    assert sorted(one["files"]) == ["API_STRIPE_KEY", "DB_USER"]
    missing = cli("run", "dev", "--only", "db/nope", "--", "true")
    assert missing.code == 3
    assert "dev/db/nope (--only db/nope) not found" in missing.stderr
    bad = cli("run", "dev", "--only", "../x", "--", "true")
    assert bad.code == 2 and "--only" in bad.stderr


def test_only_reads_a_secret_the_listing_does_not_show_yet(
    cli: Any, sm: Any, aws_env: Path, proxy: Any
) -> None:
    # ListSecrets is eventually consistent: a secret created a moment ago may be missing
    # from it. An --only path that names it exactly is read anyway.
    put(sm, "dev/api/new-key", "fresh")
    proxy.answer("secretsmanager.ListSecrets", b'{"SecretList": []}')
    report = report_of(cli, aws_env, "run", "dev", "--only", "api/new-key")
    assert bytes.fromhex(report["files"]["API_NEW_KEY"]["hex"]) == b"fresh"


def test_an_empty_scope_starts_nothing(cli: Any, sm: Any, aws_env: Path) -> None:
    run = cli("run", "dev/nothing", "--", "true")
    assert run.code == 3 and "no secrets under dev/nothing/" in run.stderr


def test_expand_json_gives_a_variable_per_key(cli: Any, sm: Any, aws_env: Path) -> None:
    put(sm, "dev/db/creds", json.dumps({"password": "pw", "port": 5432, "user-name": "app"}))
    plain = report_of(cli, aws_env, "run", "dev")
    assert sorted(plain["files"]) == ["DB_CREDS"]
    expanded = report_of(cli, aws_env, "run", "dev", "--expand-json")
    files = {k: bytes.fromhex(v["hex"]) for k, v in expanded["files"].items()}
    assert files["DB_CREDS_PASSWORD"] == b"pw"
    assert files["DB_CREDS_PORT"] == b"5432"
    assert files["DB_CREDS_USER_NAME"] == b"app"
    put(sm, "dev/db/creds/password", "other")
    clash = cli("run", "dev", "--expand-json", "--", "true")
    assert clash.code == 2
    assert "dev/db/creds#password and dev/db/creds/password both become" in clash.stderr


def test_env_vars_put_values_in_the_environment_with_a_warning(
    cli: Any, sm: Any, aws_env: Path
) -> None:
    put(sm, "dev/api/stripe-key", "sk_env_value")
    report = report_of(cli, aws_env, "run", "dev", "--env-vars")
    assert report["env"]["API_STRIPE_KEY"] == "sk_env_value"
    assert "SECRETS_DIR" not in report["env"] and "API_STRIPE_KEY_FILE" not in report["env"]
    run = cli("run", "dev", "--env-vars", "--", "true")
    assert run.code == 0
    assert run.stderr.count("warning: --env-vars") == 1
    assert "sk_env_value" not in run.stderr
    put(sm, "dev/blob", b"\x00\x01")
    binary = cli("run", "dev", "--env-vars", "--", "true")
    assert binary.code == 2 and "dev/blob is binary" in binary.stderr


def test_env_vars_from_a_protected_environment_confirm(cli: Any, sm: Any, aws_env: Path) -> None:
    write_config(aws_env, CONFIG)
    put(sm, "prod/api/key", "prod-value")
    out = aws_env / "report.json"
    refused = cli("run", "prod", "--env-vars", "--", sys.executable, "-c", REPORT, str(out))
    assert refused.code == 4 and "protected" in refused.stderr
    assert not out.exists()
    assert report_of(cli, aws_env, "run", "prod", "--env-vars", "--yes")["env"]["API_KEY"]
    # Files are not "somewhere less protected": no question.
    assert report_of(cli, aws_env, "run", "prod")["files"]["API_KEY"]


def test_exit_code_passes_through(cli: Any, sm: Any, aws_env: Path, runtime_dir: Path) -> None:
    put(sm, "dev/key", "v")
    report_of(cli, aws_env, "run", "dev", code=7, exit_with=7)
    assert runs_left(runtime_dir) == []  # removed after a failing program too
    killed = cli("run", "dev", "--", "sh", "-c", "kill -TERM $$")
    assert killed.code == 128 + signal.SIGTERM
    crashed = cli("run", "dev", "--", sys.executable, "-c", "import os; os.abort()")
    assert crashed.code == 128 + signal.SIGABRT
    assert runs_left(runtime_dir) == []


def test_the_programs_status_and_arguments_are_its_own(cli: Any, sm: Any) -> None:
    """A program that exits 130 gets no "interrupted" line of ours, and its own --json or
    --debug does not change how `secrets` reports (its arguments are not ours)."""
    put(sm, "dev/key", "v")
    stopped = cli("run", "dev", "--", "sh", "-c", "exit 130")
    assert stopped.code == 130
    assert stopped.stderr == ""
    missing = cli("run", "dev/nope", "--", "tool", "--json", "--debug")
    assert missing.code == 3
    assert missing.stderr.startswith("error: "), missing.stderr


def test_options_after_the_programs_name_are_the_programs(cli: Any, sm: Any, aws_env: Path) -> None:
    """Without `--`, `secrets run dev/api ./app --env-vars` took --env-vars (and --only,
    --mask) for itself and gave the program nothing; `python3 -c` was "No such option"."""
    put(sm, "dev/key", "v")
    out = aws_env / "argv.json"
    program = (
        "import json, os, sys\n"
        "json.dump([sys.argv[1:], 'KEY' in os.environ], open(sys.argv[1], 'w'))"
    )
    run = cli(
        "run", "dev", "--mask", sys.executable, "-c", program, str(out), "--env-vars", "--only", "x"
    )
    assert run.code == 0, run.stderr
    assert json.loads(out.read_text()) == [[str(out), "--env-vars", "--only", "x"], False]
    # run's own options before the program (a valued one too) are still run's.
    run = cli("run", "dev", "--only", "key", "--env-vars", sys.executable, "-c", program, str(out))
    assert run.code == 0, run.stderr
    assert json.loads(out.read_text()) == [[str(out)], True]


def test_one_hundred_secrets_cost_one_listing_and_five_batches(
    cli: Any, sm: Any, aws_env: Path, proxy: Any
) -> None:
    for index in range(100):
        put(sm, f"dev/app/key-{index:03d}", f"value-{index}")
    proxy.reset_counts()
    report = report_of(cli, aws_env, "run", "dev")
    assert len(report["files"]) == 100
    assert proxy.count("secretsmanager.ListSecrets") == 1
    assert proxy.count("secretsmanager.BatchGetSecretValue") == 5
    assert proxy.count("secretsmanager.") == 6


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("deny", 5),
        ("nonsense", 6),
        ("one-gone", 3),
        ("one-denied", 5),
    ],
)
def test_a_failed_read_starts_nothing(
    cli: Any, sm: Any, aws_env: Path, proxy: Any, runtime_dir: Path, fault: str, code: int
) -> None:
    put(sm, "dev/a", "1")
    put(sm, "dev/b", "2")
    action = "secretsmanager.BatchGetSecretValue"
    if fault == "deny":  # batches denied fall back to single reads: deny those too
        proxy.deny(action)
        proxy.deny("secretsmanager.GetSecretValue")
    elif fault == "nonsense":  # 200 with neither values nor errors
        proxy.answer(action, b'{"SecretValues": [], "Errors": []}')
    else:
        error = "ResourceNotFoundException" if fault == "one-gone" else "AccessDeniedException"
        reply = {
            "SecretValues": [{"Name": "dev/a", "SecretString": "1", "VersionId": "v" * 32}],
            "Errors": [{"SecretId": "dev/b", "ErrorCode": error, "Message": "no"}],
        }
        proxy.answer(action, json.dumps(reply).encode())
    out = aws_env / "report.json"
    run = cli("run", "dev", "--", sys.executable, "-c", REPORT, str(out))
    assert run.code == code, run.stderr
    assert not out.exists()
    assert runs_left(runtime_dir) == []


def test_a_missing_command_costs_no_aws_call(cli: Any, sm: Any, aws_env: Path, proxy: Any) -> None:
    put(sm, "dev/a", "1")
    proxy.reset_counts()
    run = cli("run", "dev", "--", "no-such-program-here")
    assert run.code == 3 and "command 'no-such-program-here' not found" in run.stderr
    assert proxy.count("secretsmanager.") == 0
    empty = cli("run", "dev")
    assert empty.code == 2 and "no command to run" in empty.stderr


def test_mask_replaces_values_across_writes_and_lines(cli: Any, sm: Any, aws_env: Path) -> None:
    put(sm, "dev/api/key", "sk_live_abcdef")
    put(sm, "dev/multi", "line-one\nline-two")
    put(sm, "dev/db/creds", json.dumps({"password": "pw-in-json", "port": 5432}))
    program = (
        "import sys, time\n"
        "out = sys.stdout\n"
        "out.write('key=sk_live_'); out.flush(); time.sleep(0.05)\n"
        "out.write('abcdef\\n'); out.flush()\n"
        "out.write('line-one'); out.flush(); time.sleep(0.05)\n"
        "out.write('\\nline-two end\\n'); out.flush()\n"
        "sys.stderr.write('password pw-in-json port 5432\\n')\n"
    )
    run = cli("run", "dev", "--mask", "--", sys.executable, "-c", program)
    assert run.code == 0, run.stderr
    assert run.stdout == "key=****\n**** end\n"
    # A JSON secret's string values are always masked; its numbers only with --expand-json.
    assert "password **** port 5432" in run.stderr
    expanded = cli("run", "dev", "--mask", "--expand-json", "--", sys.executable, "-c", program)
    assert "password **** port ****" in expanded.stderr


def test_mask_hides_the_forms_a_program_prints_a_value_in(cli: Any, sm: Any) -> None:
    """Reviewers' leaks: a value from a file printed without its newline, a PEM key printed
    line by line behind a log prefix, a value printed JSON-escaped or as a repr, and a
    string nested inside a JSON secret."""
    sm.create_secret(Name="dev/gh-token", SecretBinary=b"ghp_TokenFromFileCANARY\n")
    pem = (
        "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCANARY1\n"
        "AAASCBKcwggSjAgEAAoIBCANARY2\n-----END KEY-----\n"
    )
    sm.create_secret(Name="dev/tls-key", SecretString=pem)
    sm.create_secret(Name="dev/b", SecretString='Pa"ss\\w0rd-CANARY3 \u00e9')
    sm.create_secret(
        Name="dev/conf", SecretString=json.dumps({"db": {"hosts": ["x", "CANARY4-pw"]}})
    )
    program = (
        "import json, os\n"
        "t = open(os.environ['GH_TOKEN_FILE']).read().strip()\n"
        "print(f'Bearer {t} (ok)')\n"
        "for line in open(os.environ['TLS_KEY_FILE']): print('INFO', line, end='')\n"
        "b = open(os.environ['B_FILE']).read()\n"
        "print(json.dumps(b)); print(json.dumps(b, ensure_ascii=False)); print(repr(b))\n"
        "print(json.loads(open(os.environ['CONF_FILE']).read())['db']['hosts'][1])\n"
    )
    run = cli("run", "dev", "--mask", "--", sys.executable, "-c", program)
    assert run.code == 0, run.stderr
    assert "CANARY" not in run.stdout, run.stdout
    assert "Bearer **** (ok)" in run.stdout
    assert run.stdout.count("INFO ****") == 4


def test_mask_copies_all_the_output_to_a_reader_slower_than_the_program(
    sm: Any, aws_env: Path
) -> None:
    """The program writes more than our stdout's pipe holds (the rest waits in the copy)
    and exits; our reader only reads on after that, and after the 2 s the copy used to be
    given: every line still arrives."""
    put(sm, "dev/a", "secret-value-1")
    done = aws_env / "done"
    program = (
        "import os, sys\n"
        # 150 KB in, 96 KB out: more than our stdout's pipe holds, less than the pipes and the
        # copy hold together (so the program can finish before anyone reads).
        "for n in range(4000): sys.stdout.write(f'line {n:05} secret-value-1 padding\\n')\n"
        "sys.stdout.flush()\n"
        f"open({str(done)!r}, 'w').close()\n"
    )
    process = subprocess.Popen(
        [SECRETS_BIN, "run", "dev", "--mask", "--", sys.executable, "-c", program],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while not done.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert done.exists(), "the program could not write its output"
    time.sleep(3)  # not an assertion on time: room for the old 2 s limit to lose the rest
    shown, errors = process.communicate(timeout=120)
    assert process.returncode == 0, errors
    lines = shown.decode().splitlines()
    assert len(lines) == 4000 and lines[-1] == "line 03999 **** padding"
    assert b"secret-value-1" not in shown


def test_mask_stops_copying_when_only_a_left_behind_process_holds_the_output(
    secrets_cmd: Any, sm: Any
) -> None:
    put(sm, "dev/a", "secret-value-1")
    program = "(sleep 6 >/dev/null 2>&1 &); (sleep 6 &); echo secret-value-1 done"
    run = secrets_cmd(["run", "dev", "--mask", "--", "sh", "-c", program], timeout=30)
    assert run.code == 0, run.stderr
    assert run.stdout == "**** done\n"
    assert "a process it started still holds its output open" in run.stderr


@pytest.mark.parametrize("redirect", [">/dev/full", ">&-"], ids=["stdout-full", "stdout-closed"])
def test_mask_with_an_output_that_cannot_take_data_fails_in_one_line(
    sm: Any, aws_env: Path, redirect: str
) -> None:
    put(sm, "dev/a", "secret-value-1")
    shell = (
        f'"$0" run dev --mask -- sh -c "head -c 300000 /dev/zero; echo secret-value-1" {redirect}'
    )
    run = subprocess.run(
        ["sh", "-c", shell, SECRETS_BIN], capture_output=True, timeout=60, check=False
    )
    errors = run.stderr.decode()
    assert run.returncode == 1, errors
    assert "Traceback" not in errors and "Exception" not in errors
    assert errors.startswith("error: cannot write the output"), errors


def test_a_secret_that_would_set_a_variable_programs_obey_is_refused(
    cli: Any, sm: Any, aws_env: Path
) -> None:
    """dev/aws-config as AWS_CONFIG_FILE makes every AWS SDK run its credential_process;
    dev/pythonpath with --env-vars makes Python import from it. Nothing starts."""
    put(sm, "dev/aws-config", "[default]\ncredential_process = sh -c 'touch /tmp/owned'\n")
    put(sm, "dev/app/key", "k")
    out = aws_env / "report.json"
    refused = cli("run", "dev", "--", sys.executable, "-c", REPORT, str(out))
    assert refused.code == 2 and not out.exists()
    assert "dev/aws-config would set AWS_CONFIG_FILE" in refused.stderr
    assert "--only aws-config" in refused.stderr
    # Named exactly, it is what the user means: set, with a warning.
    report = report_of(cli, aws_env, "run", "dev", "--only", "aws-config", "--only", "app/")
    assert "AWS_CONFIG_FILE" in report["env"]
    sm.delete_secret(SecretId="dev/aws-config", ForceDeleteWithoutRecovery=True)

    put(sm, "dev/pythonpath", "/tmp/evil")
    assert report_of(cli, aws_env, "run", "dev")["env"]["PYTHONPATH_FILE"]  # a file: inert
    as_values = cli("run", "dev", "--env-vars", "--", "true")
    assert as_values.code == 2 and "dev/pythonpath would set PYTHONPATH" in as_values.stderr
    # A JSON key can make one too (dev/node {"options": ...} with --expand-json).
    put(sm, "dev/node", json.dumps({"options": "--require /tmp/evil.js"}))
    expanded = cli("run", "dev", "--only", "node", "--expand-json", "--env-vars", "--", "true")
    assert expanded.code == 0, expanded.stderr  # named: allowed, warned
    assert "dev/node#options sets NODE_OPTIONS" in expanded.stderr
    as_files = cli("run", "dev", "--expand-json", "--", "true")  # NODE_OPTIONS_FILE: inert
    assert as_files.code == 0, as_files.stderr


def test_the_parent_folder_must_be_private(
    cli: Any, sm: Any, aws_env: Path, runtime_dir: Path
) -> None:
    put(sm, "dev/a", "1")
    parent = runtime_dir / "envsecrets"
    parent.mkdir(mode=0o755)
    parent.chmod(0o755)
    run = cli("run", "dev", "--", "true")
    assert run.code == 4 and "not a private folder" in run.stderr
    parent.rmdir()
    elsewhere = aws_env / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    parent.symlink_to(elsewhere)
    linked = cli("run", "dev", "--", "true")
    assert linked.code == 4 and "not a private folder" in linked.stderr
    assert list(elsewhere.iterdir()) == []


def test_where_the_folder_goes(tmp_path: Path) -> None:
    runtime = tmp_path / "runtime-ok"
    runtime.mkdir(mode=0o700)
    assert folder_place({"XDG_RUNTIME_DIR": str(runtime)}).parent == runtime / "envsecrets"
    # A runtime dir others can read is not used; nor a relative one.
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    shm = tmp_path / "shm"
    shm.mkdir()
    place = folder_place({"XDG_RUNTIME_DIR": str(shared)}, shm=shm)
    assert place.parent == shm / f"envsecrets-{os.getuid()}" and place.memory_backed
    assert folder_place({"XDG_RUNTIME_DIR": "relative"}, shm=shm).parent.parent == shm
    on_disk = folder_place({}, shm=tmp_path / "no-shm")
    assert not on_disk.memory_backed


# -- as a real process: signals, SIGKILL, the terminal ----------------------------------------
def start(args: list[str], out: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """`secrets ARGS -- python WAITER OUT` as a real process; returns it and what the
    program said once it is up."""
    process = subprocess.Popen(
        [SECRETS_BIN, *args, "--", sys.executable, "-c", WAITER, str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    return process, wait_for_start(process, out)


def wait_for_start(process: Any, out: Path) -> dict[str, Any]:
    for _ in range(3000):
        if out.exists():
            return dict(json.loads(out.read_text()))
        if isinstance(process, subprocess.Popen) and process.poll() is not None:
            raise AssertionError(process.stderr.read().decode() if process.stderr else "")
        time.sleep(0.01)
    raise AssertionError("the program did not start")


def signals_seen(out: Path, count: int) -> list[str]:
    path = Path(f"{out}.signals")
    for _ in range(3000):
        if path.exists() and len(path.read_text().split()) >= count:
            return path.read_text().split()
        time.sleep(0.01)
    return path.read_text().split() if path.exists() else []


def test_signals_reach_the_program_and_sigterm_cleans_up(
    sm: Any, aws_env: Path, runtime_dir: Path
) -> None:
    put(sm, "dev/a", "1")
    out = aws_env / "up.json"
    process, up = start(["run", "dev"], out)
    folder = Path(up["folder"])
    assert (folder / "A").exists()
    process.send_signal(signal.SIGUSR1)
    assert signals_seen(out, 1) == ["SIGUSR1"]
    # No terminal here: an INT sent to `secrets` did not reach the program by itself.
    process.send_signal(signal.SIGINT)
    assert signals_seen(out, 2) == ["SIGUSR1", "SIGINT"]
    process.send_signal(signal.SIGTERM)  # the program exits 0 on TERM
    assert process.wait(timeout=60) == 0
    assert signals_seen(out, 3) == ["SIGUSR1", "SIGINT", "SIGTERM"]
    assert not folder.exists() and runs_left(runtime_dir) == []


def test_a_signal_sent_to_the_whole_group_reaches_the_program_once(sm: Any, aws_env: Path) -> None:
    """timeout(1) and `kill -- -PGID` (a CI runner cancelling a job) signal the program as
    well as `secrets`: passing it on made two. A signal sent to `secrets` alone is still
    passed on."""
    put(sm, "dev/a", "1")
    out = aws_env / "up.json"
    process = subprocess.Popen(
        [SECRETS_BIN, "run", "dev", "--", sys.executable, "-c", WAITER, str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own group, as under timeout(1) or a CI job
    )
    up = wait_for_start(process, out)
    os.killpg(process.pid, signal.SIGUSR1)  # the group: secrets and the program
    assert signals_seen(out, 1) == ["SIGUSR1"]
    os.kill(process.pid, signal.SIGHUP)  # secrets alone: passed on
    assert signals_seen(out, 2) == ["SIGUSR1", "SIGHUP"]
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C's way, with no terminal
    assert signals_seen(out, 3) == ["SIGUSR1", "SIGHUP", "SIGINT"]
    os.killpg(process.pid, signal.SIGUSR1)  # a second time: the witness was renewed
    process.send_signal(signal.SIGTERM)  # the program exits on TERM: every signal is in
    assert process.wait(timeout=60) == 0
    assert Path(f"{out}.signals").read_text().split() == [
        "SIGUSR1",
        "SIGHUP",
        "SIGINT",
        "SIGUSR1",
        "SIGTERM",
    ]
    assert up["pid"] != process.pid


def test_a_folder_left_by_sigkill_is_removed_by_the_next_run(
    cli: Any, sm: Any, aws_env: Path, runtime_dir: Path
) -> None:
    put(sm, "dev/a", "1")
    out = aws_env / "up.json"
    process, up = start(["run", "dev"], out)
    folder = Path(up["folder"])
    process.kill()
    process.wait(timeout=60)
    # The orphaned program still holds the folder's lock (it inherited it): another run
    # leaves its files alone while it lives.
    assert report_of(cli, aws_env, "run", "dev")["files"]
    assert (folder / "A").read_bytes() == b"1"
    os.kill(up["pid"], signal.SIGKILL)  # the orphaned program
    for _ in range(3000):  # until the kernel has reaped it and dropped the lock
        if not Path(f"/proc/{up['pid']}").exists():
            break
        time.sleep(0.01)
    assert folder.exists()  # nobody could clean up
    assert report_of(cli, aws_env, "run", "dev")["files"] == {
        "A": {"mode": 0o600, "hex": b"1".hex()}
    }
    assert not folder.exists() and runs_left(runtime_dir) == []


def test_a_live_run_is_not_swept_by_another(cli: Any, sm: Any, aws_env: Path) -> None:
    put(sm, "dev/a", "1")
    out = aws_env / "up.json"
    process, up = start(["run", "dev"], out)
    try:
        assert report_of(cli, aws_env, "run", "dev")["files"]
        assert Path(up["folder"]).exists()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def test_without_mask_the_output_is_the_programs_own(secrets_cmd: Any, sm: Any) -> None:
    put(sm, "dev/api/key", "shown-as-is")
    program = "import os, sys; sys.stdout.write(open(os.environ['API_KEY_FILE']).read())"
    run = secrets_cmd(["run", "dev", "--", sys.executable, "-c", program])
    assert run.code == 0, run.stderr
    assert run.stdout == "shown-as-is"
    assert run.stderr == ""


def in_terminal(out: Path, *extra: str) -> pexpect.spawn:
    """`secrets run dev -- python WAITER OUT` in a pseudo-terminal, where it is the
    foreground process group."""
    return pexpect.spawn(
        SECRETS_BIN,
        ["run", "dev", "--", sys.executable, "-c", WAITER, str(out), *extra],
        env=dict(os.environ),
        timeout=60,
    )


def test_ctrl_c_at_the_terminal_reaches_the_program_once(
    sm: Any, aws_env: Path, runtime_dir: Path
) -> None:
    put(sm, "dev/a", "1")
    out = aws_env / "up.json"
    child = in_terminal(out)
    try:
        up = wait_for_start(child, out)
        child.sendintr()  # the terminal sends SIGINT to its foreground group: us and it
        assert signals_seen(out, 1) == ["SIGINT"]
        # A signal sent after it is passed on after it: once it arrived, a second INT
        # (had `secrets` passed the terminal's on) would have arrived too.
        os.kill(child.pid, signal.SIGUSR1)
        assert signals_seen(out, 2) == ["SIGINT", "SIGUSR1"]
        os.kill(child.pid, signal.SIGTERM)
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert Path(f"{out}.senders").read_text().split() == [
        "SIGINT:terminal",
        "SIGUSR1:process",
        "SIGTERM:process",
    ]
    assert child.exitstatus == 0
    assert not Path(up["folder"]).exists()


def test_ctrl_c_is_passed_on_to_a_program_outside_the_foreground_group(
    sm: Any, aws_env: Path
) -> None:
    put(sm, "dev/a", "1")
    out = aws_env / "up.json"
    child = in_terminal(out, "--own-group")
    try:
        wait_for_start(child, out)
        child.sendintr()  # reaches `secrets` only: it passes it on
        assert signals_seen(out, 1) == ["SIGINT"]
        os.kill(child.pid, signal.SIGTERM)
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert Path(f"{out}.senders").read_text().split() == ["SIGINT:process", "SIGTERM:process"]


def test_a_stop_signal_before_the_program_starts_interrupts_and_handlers_come_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted), SignalRelay():
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler runs between two bytecodes of this loop
            time.sleep(0.001)
    assert signal.getsignal(signal.SIGTERM) == before


def test_signals_ignored_when_secrets_starts_stay_ignored_for_the_program(
    sm: Any, aws_env: Path
) -> None:
    put(sm, "dev/a", "1")
    program = "import signal; print(signal.getsignal(signal.SIGHUP) == signal.SIG_IGN)"
    done = subprocess.run(
        [SECRETS_BIN, "run", "dev", "--", sys.executable, "-c", program],
        capture_output=True,
        text=True,
        check=False,
        # as `nohup secrets run ...` does
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )
    assert (done.returncode, done.stdout) == (0, "True\n"), done.stderr


def test_run_loads_its_family_alone(sm: Any) -> None:
    put(sm, "dev/a", "1")
    result = probe_run("run", "dev", "--", "true")
    families = {f"envsecrets.commands.{family}" for family in FAMILIES}
    assert set(result["ours"]) & families == {"envsecrets.commands.run"}
    assert "boto3" not in probe_run("run", "--help")["modules"]


def test_a_missing_scope_before_the_separator_is_a_usage_error(cli: Any, aws_env: Path) -> None:
    """A reviewer's `secrets run -- echo hi` took `echo` for the scope and said "command 'hi'
    not found" (exit 3)."""
    run = cli("run", "--", "echo", "hi")
    assert run.code == 2, run.stderr
    assert "SCOPE is missing before `--`" in run.stderr
