"""`secrets export`: every format reads back to the exact values (python-dotenv, json, yaml,
`eval` in sh, bash and zsh), files are 0600, and values leave a protected environment or reach
a terminal only when confirmed."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import threading
from pathlib import Path
from typing import Any

import pexpect
import pytest
import yaml
from dotenv import dotenv_values
from envsecrets.core.exporting import SHELL_OWNED, node_reads_exactly, render_export
from envsecrets.core.scopes import Variable
from envsecrets.core.values import SecretValue
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import SECRETS_BIN, write_config

TRICKY = {
    "dev/app/quotes": "it's \"quoted\" and 'single'",
    "dev/app/newlines": "line one\nline two\n\nlast",
    "dev/app/crlf": "windows\r\nline\rcarriage",
    "dev/app/hash": "value # not a comment #",
    "dev/app/dollar": "$HOME ${HOME} $(whoami) `id` ${UNSET:-x}",
    "dev/app/backslash": "C:\\path\\n\\t\\\\ end\\",
    "dev/app/spaces": "  leading and trailing  ",
    "dev/app/unicode": "pässwörd ✓ 🎉 \u2028 \x85",
    "dev/app/equals": "a=b=c",
}
EXPECTED = {name.removeprefix("dev/").replace("/", "_").upper(): v for name, v in TRICKY.items()}
CONFIG = """
[environments.dev]
[environments.prod]
protected = true
"""
text_values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"))


def put_tricky(sm: Any) -> None:
    for name, value in TRICKY.items():
        sm.create_secret(Name=name, SecretString=value)


def variables(texts: dict[str, str]) -> list[Variable]:
    return [Variable(name, f"dev/{name}", None, SecretValue(text)) for name, text in texts.items()]


names = st.from_regex(r"[A-Z_][A-Z0-9_]{0,8}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(names, text_values, max_size=5))
def test_dotenv_reads_back_exactly(texts: dict[str, str]) -> None:
    document = render_export(variables(texts), "dotenv").decode()
    assert dotenv_values(stream=io.StringIO(document), interpolate=False) == texts
    if not any("${" in t for t in texts.values()):
        # Interpolation changes nothing unless a value holds ${...}.
        assert dotenv_values(stream=io.StringIO(document)) == texts


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(names, st.text(st.characters(blacklist_categories=("Cs",))), max_size=5))
def test_json_and_yaml_read_back_exactly(texts: dict[str, str]) -> None:
    assert json.loads(render_export(variables(texts), "json")) == texts
    assert (yaml.safe_load(render_export(variables(texts), "yaml")) or {}) == texts


def shells() -> list[str]:
    return [shell for shell in ("sh", "bash", "zsh") if shutil.which(shell)]


def evaluated(shell: str, document: bytes, names: list[str]) -> dict[str, str]:
    """What `eval "$(cat FILE)"` leaves in each variable, read back through a NUL-separated
    printf (the values hold newlines)."""
    script = 'eval "$(cat)"; ' + " ".join(f'printf "%s\\0" "${name}";' for name in names)
    done = subprocess.run([shell, "-c", script], input=document, capture_output=True, check=True)
    return dict(zip(names, done.stdout.decode().split("\0")[:-1], strict=True))


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        names.filter(lambda n: n not in SHELL_OWNED), text_values, min_size=1, max_size=4
    )
)
def test_shell_exports_eval_to_the_exact_values(texts: dict[str, str]) -> None:
    document = render_export(variables(texts), "shell")
    for shell in shells():
        assert evaluated(shell, document, sorted(texts)) == texts, shell


def test_shell_refuses_names_the_shell_owns(cli: Any, sm: Any, aws_env: Path) -> None:
    sm.create_secret(Name="dev/path", SecretString="/evil")
    run = cli("export", "dev", "-f", "shell")
    assert run.code == 2 and "dev/path would set PATH" in run.stderr and run.stdout == ""
    # Named with --only, a variable programs obey may go out; one the shell owns never does.
    named = cli("export", "dev", "-f", "shell", "--only", "path")
    assert named.code == 2 and "dev/path becomes PATH" in named.stderr and named.stdout == ""


def test_names_that_run_code_at_the_next_prompt_are_refused_in_every_format(
    cli: Any, sm: Any, aws_env: Path
) -> None:
    """A secret named prompt-command (or ps1, ld-preload...) would make whoever evals the
    export run its value; anyone who may write a dev/ secret could."""
    sm.create_secret(Name="dev/app/token", SecretString="fine")
    for name, variable in [
        ("prompt-command", "PROMPT_COMMAND"),
        ("ps1", "PS1"),
        ("ld-preload", "LD_PRELOAD"),
        ("node-options", "NODE_OPTIONS"),
    ]:
        sm.create_secret(Name=f"dev/{name}", SecretString="touch /tmp/owned")
        for fmt in ("shell", "dotenv", "json"):
            run = cli("export", "dev", "-f", fmt)
            assert run.code == 2, (name, fmt, run.stderr)
            assert f"dev/{name} would set {variable}" in run.stderr and run.stdout == ""
            assert f"--only {name}" in run.stderr  # the hint says how to mean it
        named = cli("export", "dev", "-f", "json", "--only", name, "--only", "app/")
        assert named.code == 0, named.stderr
        assert json.loads(named.stdout)[variable] == "touch /tmp/owned"
        assert f"sets {variable}, which programs obey" in named.stderr
        sm.delete_secret(SecretId=f"dev/{name}", ForceDeleteWithoutRecovery=True)


def test_every_format_of_the_command_reads_back(cli: Any, sm: Any, aws_env: Path) -> None:
    put_tricky(sm)
    dotenv = cli("export", "dev", "--format", "dotenv")
    assert dotenv.code == 0, dotenv.stderr
    assert dotenv_values(stream=io.StringIO(dotenv.stdout), interpolate=False) == EXPECTED
    assert "APP_DOLLAR contain '${'" in dotenv.stderr  # warned: interpolating loaders expand it
    assert json.loads(cli("export", "dev", "--format", "json").stdout_bytes) == EXPECTED
    assert yaml.safe_load(cli("export", "dev", "-f", "yaml").stdout_bytes) == EXPECTED
    shell = cli("export", "dev", "-f", "shell").stdout_bytes
    for each in shells():
        assert evaluated(each, shell, sorted(EXPECTED)) == EXPECTED, each


def test_a_dotenv_file_reads_back_through_python_dotenv(cli: Any, sm: Any, aws_env: Path) -> None:
    put_tricky(sm)
    target = aws_env / ".env"
    run = cli("export", "dev", "-f", "dotenv", "--output", str(target))
    assert run.code == 0, run.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "wrote 9 variable(s) of dev/ to" in run.stderr
    assert dotenv_values(target, interpolate=False) == EXPECTED  # universal newlines and all


def test_output_replaces_a_readable_file_with_a_private_one(
    cli: Any, sm: Any, aws_env: Path
) -> None:
    sm.create_secret(Name="dev/key", SecretString="v")
    target = aws_env / "out.json"
    target.write_text("old")
    target.chmod(0o644)
    assert cli("export", "dev", "-f", "json", "-o", str(target)).code == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert json.loads(target.read_text()) == {"KEY": "v"}


def test_output_writes_through_a_fifo_and_replaces_a_symlink(
    cli: Any, sm: Any, aws_env: Path
) -> None:
    sm.create_secret(Name="dev/key", SecretString="v")
    fifo = aws_env / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    assert cli("export", "dev", "-f", "json", "-o", str(fifo)).code == 0
    reader.join(timeout=30)
    assert json.loads(got[0]) == {"KEY": "v"}
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # written through, not replaced by a file
    real = aws_env / "real.env"
    real.write_text("old")
    link = aws_env / "link.env"
    link.symlink_to(real)
    assert cli("export", "dev", "-f", "dotenv", "-o", str(link)).code == 0
    # The link is replaced by a private file, not followed (a planted link must not redirect
    # the values); what it pointed at is untouched.
    assert not link.is_symlink() and link.read_text() == "KEY='v'\n"
    assert stat.S_IMODE(link.stat().st_mode) == 0o600
    assert real.read_text() == "old"


def test_scope_only_and_expand_json(cli: Any, sm: Any, aws_env: Path) -> None:
    sm.create_secret(Name="dev/api/key", SecretString="k")
    sm.create_secret(Name="dev/db/creds", SecretString=json.dumps({"password": "p", "port": 1}))
    assert cli("export", "dev/api", "-f", "json").json() == {"KEY": "k"}
    expanded = cli("export", "dev", "-f", "json", "--only", "db", "--expand-json").json()
    assert expanded == {
        "DB_CREDS": json.dumps({"password": "p", "port": 1}),
        "DB_CREDS_PASSWORD": "p",
        "DB_CREDS_PORT": "1",
    }


def test_binary_values_are_refused_and_nothing_is_written(cli: Any, sm: Any, aws_env: Path) -> None:
    sm.create_secret(Name="dev/key", SecretString="v")
    sm.create_secret(Name="dev/blob", SecretBinary=b"\x00\xff")
    target = aws_env / "out.env"
    run = cli("export", "dev", "-f", "dotenv", "-o", str(target))
    assert run.code == 2 and "dev/blob is binary" in run.stderr
    assert not target.exists()
    assert cli("export", "dev", "-f", "dotenv", "--only", "key").stdout == "KEY='v'\n"


def test_unknown_format_and_missing_scope(cli: Any, sm: Any, aws_env: Path) -> None:
    sm.create_secret(Name="dev/key", SecretString="v")
    unknown = cli("export", "dev", "-f", "toml")
    assert unknown.code == 2 and "'toml' is not one of 'dotenv', 'json'" in unknown.stderr
    shown = cli("export", "--help").stdout
    assert "<dotenv|json|yaml|shell>" in shown and "<str>" not in shown  # a choice
    assert cli("export", "dev", "-f", "json", "--only", "nope").code == 3
    missing = cli("export", "dev")
    assert missing.code == 2 and "--format" in missing.stderr


def test_a_protected_environment_confirms(cli: Any, sm: Any, aws_env: Path) -> None:
    write_config(aws_env, CONFIG)
    sm.create_secret(Name="prod/key", SecretString="prod-value")
    target = aws_env / "prod.env"
    refused = cli("export", "prod", "-f", "dotenv", "-o", str(target))
    assert refused.code == 4 and "'prod' is a protected environment" in refused.stderr
    assert not target.exists() and "prod-value" not in refused.stdout
    piped = cli("export", "prod", "-f", "dotenv")
    assert piped.code == 4 and piped.stdout == ""
    assert cli("export", "prod", "-f", "dotenv", "--yes").stdout == "KEY='prod-value'\n"
    assert cli("export", "dev", "-f", "dotenv").code == 3  # dev holds nothing; no question


@pytest.mark.parametrize(("answer", "code"), [("n", 4), ("y", 0)])
def test_values_to_a_terminal_confirm(sm: Any, aws_env: Path, answer: str, code: int) -> None:
    sm.create_secret(Name="dev/key", SecretString="terminal-value")
    child = pexpect.spawn(
        SECRETS_BIN,
        ["export", "dev", "-f", "dotenv"],
        env={**os.environ, "TERM": "xterm-256color"},
        encoding="utf-8",
        timeout=30,
    )
    child.expect("to the terminal")
    child.send(answer)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == code
    assert ("terminal-value" in (child.before or "")) is (code == 0)


def at_terminal(*args: str) -> tuple[int, str]:
    """`secrets ARGS` in a pseudo-terminal answering no to any question: exit code and what
    the terminal showed."""
    child = pexpect.spawn(
        "sh",
        ["-c", '"$0" "$@"', SECRETS_BIN, *args],
        env={**os.environ, "TERM": "xterm-256color"},
        encoding="utf-8",
        codec_errors="replace",
        timeout=30,
    )
    shown = ""
    while child.expect([r"\(y/N\)", pexpect.EOF]) == 0:
        shown += (child.before or "") + (child.after or "")
        child.send("n")
    shown += child.before or ""
    child.close()
    return int(child.exitstatus if child.exitstatus is not None else -1), shown


def test_an_output_that_is_a_terminal_is_a_terminal(sm: Any, aws_env: Path) -> None:
    """`--output /dev/tty` and `--output /dev/stdout` at a terminal printed values with no
    question: what decides is what the output is, not whether --output was given."""
    sm.create_secret(Name="dev/key", SecretString="terminal-value")
    for args in (
        ["export", "dev", "-f", "dotenv", "--output", "/dev/tty"],
        ["export", "dev", "-f", "dotenv", "--output", "/dev/stdout"],
        ["inject", "--output", "/dev/tty", "--input", str(aws_env / "t.tmpl")],
    ):
        (aws_env / "t.tmpl").write_text("k={{ secrets://dev/key }}\n")
        code, shown = at_terminal(*args)
        assert code == 4, (args, shown)
        assert "the values would show on the terminal" in shown or "(y/N)" in shown
        assert "terminal-value" not in shown


def test_values_with_terminal_controls_are_never_written_to_a_terminal(
    sm: Any, aws_env: Path
) -> None:
    """`get` refused them on stdout, not through `--output /dev/tty`; export and inject with
    --yes wrote escape sequences raw. One rule now."""
    sm.create_secret(Name="dev/esc", SecretString="\x1b]2;owned\x07\x1b[2Jafter")
    (aws_env / "t.tmpl").write_text("k={{ secrets://dev/esc }}\n")
    for args in (
        ["get", "dev/esc", "--output", "/dev/tty"],
        ["export", "dev", "-f", "dotenv", "--yes"],
        ["export", "dev", "-f", "dotenv", "--yes", "--output", "/dev/tty"],
        ["inject", "--yes", "--input", str(aws_env / "t.tmpl")],
    ):
        code, shown = at_terminal(*args)
        assert code == 2, (args, shown)
        assert "refusing to write it to a terminal" in shown
        assert "\x1b]2;" not in shown and "after" not in shown
    # To a file, nothing changes.
    target = aws_env / "esc.env"
    code, shown = at_terminal("export", "dev", "-f", "dotenv", "--output", str(target))
    assert code == 0, shown
    assert "\x1b[2J" in target.read_text()


def test_expand_json_gives_each_members_exact_text(cli: Any, sm: Any, aws_env: Path) -> None:
    sm.create_secret(
        Name="dev/nums", SecretString='{"version": 1.10, "n": 1e400, "nested": {"a": 1.50}}'
    )
    run = cli("export", "dev", "-f", "json", "--expand-json")
    assert run.code == 0, run.stderr
    exported = json.loads(run.stdout)
    assert exported["NUMS_VERSION"] == "1.10"
    assert exported["NUMS_N"] == "1e400"
    assert exported["NUMS_NESTED"] == '{"a": 1.50}'


def test_output_dash_is_stdout(cli: Any, sm: Any, aws_env: Path) -> None:
    sm.create_secret(Name="dev/key", SecretString="v")
    run = cli("export", "dev", "-f", "dotenv", "--output", "-")
    assert run.code == 0 and run.stdout == "KEY='v'\n"
    assert not (aws_env / "-").exists()


def test_a_json_key_collision_does_not_suggest_only(cli: Any, sm: Any, aws_env: Path) -> None:
    """--only picks secrets: it cannot drop the JSON key that collides."""
    sm.create_secret(Name="dev/db", SecretString=json.dumps({"password": "a"}))
    sm.create_secret(Name="dev/db/password", SecretString="b")
    run = cli("export", "dev", "-f", "json", "--expand-json")
    assert run.code == 2 and "both become DB_PASSWORD" in run.stderr
    assert "rename the JSON key or the secret, or drop --expand-json" in run.stderr
    assert "--only" not in run.stderr


NODE = shutil.which("node")
# Node's own dotenv parser (Node 20.6+); npm's `dotenv` 16 reads quotes the same way for
# these forms (raw single quotes; double quotes expanding only \n and \r).
PARSE_ENV = (
    "const fs = require('fs'); const util = require('util');"
    "if (typeof util.parseEnv !== 'function') process.exit(3);"
    "process.stdout.write(JSON.stringify(util.parseEnv(fs.readFileSync(0, 'utf8'))));"
)


def node_reads(document: bytes) -> dict[str, str] | None:
    """What Node's util.parseEnv reads from `document`; None without a Node that has it."""
    if NODE is None:
        return None
    run = subprocess.run([NODE, "-e", PARSE_ENV], input=document, capture_output=True, check=False)
    if run.returncode == 3:
        return None
    assert run.returncode == 0, run.stderr
    return dict(json.loads(run.stdout))


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@settings(max_examples=40, deadline=None)
@given(st.lists(text_values, max_size=8))
def test_dotenv_reads_back_exactly_in_node_where_a_form_exists(values: list[str]) -> None:
    """The reviewers' `it's` (written 'it\\'s') and `a\\b` (written 'a\\\\b') misread by
    Node; and any value `node_reads_exactly` promises, python-dotenv still exact."""
    values = [*values, "it's", "a\\b", 'x#y $z "q"', "multi\nline", "  spaced  ", "c:\\dir\\"]
    texts = {f"V{index}": value for index, value in enumerate(values)}
    document = render_export(variables(texts), "dotenv")
    assert dotenv_values(stream=io.StringIO(document.decode()), interpolate=False) == texts
    promised = {name: text for name, text in texts.items() if node_reads_exactly(text)}
    assert {f"V{len(values) - 6}", f"V{len(values) - 5}"} <= set(promised)
    # Only those: a value with no form both read may upset Node's reading of what follows.
    read = node_reads(render_export(variables(promised), "dotenv"))
    if read is None:
        pytest.skip("this Node has no util.parseEnv")
    assert read == promised
