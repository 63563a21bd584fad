"""`secrets inject`: references become values, everything else stays byte for byte, and any
reference that cannot be resolved means no output at all."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

from envsecrets.core.injecting import find_references, render_template
from envsecrets.core.names import SecretName
from envsecrets.core.values import SecretValue
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import SECRETS_BIN, write_config

CONFIG = """
[environments.dev]
[environments.staging]
[environments.prod]
protected = true
"""


def setup(sm: Any) -> None:
    sm.create_secret(Name="dev/db/password", SecretString="pa$$ {{word}}\n")
    sm.create_secret(Name="dev/db/creds", SecretString=json.dumps({"user": "app", "port": 5432}))
    sm.create_secret(Name="staging/api/key", SecretString="staging-key")
    sm.create_secret(Name="dev/blob", SecretBinary=b"\x00\xff")


def test_references_become_values_and_the_rest_stays_byte_for_byte(
    cli: Any, sm: Any, aws_env: Path
) -> None:
    setup(sm)
    template = (
        b"# caf\xe9 in latin-1, CRLF lines\r\n"
        b"password: {{ secrets://dev/db/password }}\r\n"
        b"user: {{secrets://dev/db/creds#user}} port={{  secrets://dev/db/creds#port\t}}\r\n"
        b"other: {{ secrets://staging/api/key }} {{ not a reference }} {{{ secrets://dev/blob }}}"
    )
    run = cli("inject", input=template)
    assert run.code == 0, run.stderr
    assert run.stdout_bytes == (
        b"# caf\xe9 in latin-1, CRLF lines\r\n"
        b"password: pa$$ {{word}}\n\r\n"
        b"user: app port=5432\r\n"
        b"other: staging-key {{ not a reference }} {\x00\xff}"
    )


def test_a_value_holding_a_reference_is_not_rendered_again(
    cli: Any, sm: Any, aws_env: Path
) -> None:
    sm.create_secret(Name="dev/tricky", SecretString="{{ secrets://dev/other }}")
    sm.create_secret(Name="dev/other", SecretString="no")
    run = cli("inject", input="x={{ secrets://dev/tricky }}")
    assert run.stdout == "x={{ secrets://dev/other }}"


def test_files_in_and_out(cli: Any, sm: Any, aws_env: Path) -> None:
    setup(sm)
    source = aws_env / "config.tmpl"
    source.write_bytes(b"key={{ secrets://staging/api/key }}")
    target = aws_env / "config.env"
    run = cli("inject", "--input", str(source), "--output", str(target))
    assert run.code == 0, run.stderr
    assert target.read_bytes() == b"key=staging-key"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "staging-key" not in run.stdout + run.stderr


def test_an_output_that_is_the_template_is_refused(sm: Any, aws_env: Path) -> None:
    """`inject -i X -o X` replaced the template with the rendered secrets (mode 0600): the
    template, and the only place its references were written, was gone."""
    setup(sm)
    source = aws_env / "config.tmpl"
    template = b"key={{ secrets://staging/api/key }}"
    source.write_bytes(template)
    link = aws_env / "link.tmpl"
    link.symlink_to(source)
    hard = aws_env / "hard.tmpl"
    os.link(source, hard)
    for output in (source, link, hard):
        run = subprocess.run(
            [SECRETS_BIN, "inject", "-i", str(source), "-o", str(output)],
            capture_output=True,
            check=False,
        )
        assert run.returncode == 2 and b"is the template" in run.stderr, run.stderr
        with source.open("rb") as stdin:  # the template on stdin: the same file
            piped = subprocess.run(
                [SECRETS_BIN, "inject", "-o", str(output)],
                stdin=stdin,
                capture_output=True,
                check=False,
            )
        assert piped.returncode == 2 and b"is the template" in piped.stderr, piped.stderr
    assert source.read_bytes() == template


def test_an_unknown_secret_names_the_line_and_writes_nothing(
    cli: Any, sm: Any, aws_env: Path
) -> None:
    setup(sm)
    target = aws_env / "out.env"
    template = "a={{ secrets://dev/db/password }}\n\nb={{ secrets://dev/db/nope }}\n"
    run = cli("inject", "-o", str(target), input=template)
    assert run.code == 3
    assert "<stdin>:3: dev/db/nope not found" in run.stderr
    assert not target.exists()
    target.write_text("kept")
    assert cli("inject", "-o", str(target), input=template).code == 3
    assert target.read_text() == "kept"
    stdout = cli("inject", input=template)
    assert stdout.code == 3 and stdout.stdout == ""  # not even the lines before it


def test_bad_keys_and_malformed_references(cli: Any, sm: Any, aws_env: Path) -> None:
    setup(sm)
    no_key = cli("inject", input="x\n{{ secrets://dev/db/creds#password }}")
    assert no_key.code == 3 and "<stdin>:2: dev/db/creds has no key 'password'" in no_key.stderr
    assert "keys present: port, user" in no_key.stderr
    not_json = cli("inject", input="{{ secrets://dev/db/password#user }}")
    assert not_json.code == 2 and "is not a JSON object" in not_json.stderr
    for bad in ("{{ secrets:/dev/x }}", "{{ secrets://dev }}", "{{ secrets://Dev/x }}"):
        run = cli("inject", input=f"ok\nline {bad}")
        assert run.code == 2 and "<stdin>:2:" in run.stderr, bad
        assert run.stdout == ""


def test_a_reference_split_across_lines_is_malformed(cli: Any, sm: Any, aws_env: Path) -> None:
    setup(sm)
    for template in (
        "p: {{\n  secrets://dev/db/password }}\n",
        "p: {{ secrets://dev/db/password\n}}\n",
        "p: {{\r\n\tsecrets://dev/db/password }}\r\n",
    ):
        run = cli("inject", input=template)
        assert run.code == 2 and "<stdin>:1: malformed reference" in run.stderr, template
        assert run.stdout == ""


def test_environments_are_checked_and_protected_ones_confirm(
    cli: Any, sm: Any, aws_env: Path
) -> None:
    write_config(aws_env, CONFIG)
    setup(sm)
    sm.create_secret(Name="prod/api/key", SecretString="prod-key")
    undeclared = cli("inject", input="\n{{ secrets://qa/api/key }}")
    assert (
        undeclared.code == 2 and "<stdin>:2: environment 'qa' is not declared" in undeclared.stderr
    )
    refused = cli("inject", input="{{ secrets://prod/api/key }}")
    assert refused.code == 4 and "'prod' is a protected environment" in refused.stderr
    assert refused.stdout == ""
    assert cli("inject", "--yes", input="{{ secrets://prod/api/key }}").stdout == "prod-key"


def test_references_are_read_in_batches_without_listing(
    cli: Any, sm: Any, aws_env: Path, proxy: Any
) -> None:
    for index in range(45):
        sm.create_secret(Name=f"dev/k{index:02d}", SecretString=f"v{index}")
    sm.create_secret(Name="staging/api/key", SecretString="s")
    template = "".join(f"{{{{ secrets://dev/k{i:02d} }}}}," for i in range(45))
    template += "{{ secrets://staging/api/key }}{{ secrets://dev/k00 }}"
    proxy.reset_counts()
    run = cli("inject", input=template)
    assert run.code == 0, run.stderr
    assert run.stdout == "".join(f"v{i}," for i in range(45)) + "sv0"
    assert proxy.count("secretsmanager.BatchGetSecretValue") == 3 + 1  # 45 in dev, 1 staging
    assert proxy.count("secretsmanager.") == 4


def test_a_template_without_references_passes_through(cli: Any, sm: Any, aws_env: Path) -> None:
    run = cli("inject", input=b"plain {{ text }}\n")
    assert run.code == 0 and run.stdout_bytes == b"plain {{ text }}\n"


surrounding = st.binary(max_size=40).filter(lambda b: b"{{" not in b and not b.endswith(b"{"))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(surrounding, st.binary(min_size=1, max_size=20)), max_size=5), surrounding
)
def test_render_keeps_every_byte_outside_references(
    parts: list[tuple[bytes, bytes]], tail: bytes
) -> None:
    template, expected, values = b"", b"", {}
    for index, (text, value) in enumerate(parts):
        name = f"dev/s{index}"
        values[name] = SecretValue(value)
        template += text + f"{{{{ secrets://{name} }}}}".encode()
        expected += text + value
    template += tail
    references = find_references(template, "t")
    assert [str(r.name) for r in references] == list(values)
    assert render_template(template, references, values, "t") == expected + tail
    assert all(isinstance(r.name, SecretName) for r in references)


class CountingTemplate(bytes):
    """A template that counts the bytes its `count` calls look at (how lines are found)."""

    scanned = 0

    def count(self, *args: Any) -> int:
        sub, start, end = args[0], args[1], args[2]
        CountingTemplate.scanned += end - start
        return super().count(sub, start, end)


def test_lines_of_many_references_are_found_in_one_pass() -> None:
    """Each reference's line used to be counted from the start: 16,000 references over
    one template took seconds. Now each byte is looked at once."""
    template = CountingTemplate(b"key: {{ secrets://dev/db/password }}\n" * 2000)
    CountingTemplate.scanned = 0
    references = find_references(template, "t")
    assert [ref.line for ref in references] == list(range(1, 2001))
    assert CountingTemplate.scanned <= len(template)


def test_a_json_key_is_its_exact_text(cli: Any, sm: Any, aws_env: Path) -> None:
    """`#key` re-encoded numbers: 1.10 became 1.1, 1e400 became Infinity (not JSON)."""
    sm.create_secret(
        Name="dev/nums",
        SecretString='{"version": 1.10, "ratio": 0.30000000000000001, "n": 1e400,'
        ' "nested": {"a": 1.50}}',
    )
    template = "".join(
        f"{key}={{{{ secrets://dev/nums#{key} }}}}\n" for key in ("version", "ratio", "n", "nested")
    )
    run = cli("inject", input=template)
    assert run.code == 0, run.stderr
    assert run.stdout == ('version=1.10\nratio=0.30000000000000001\nn=1e400\nnested={"a": 1.50}\n')


def test_output_dash_is_stdout_and_a_closed_stdin_is_no_template(sm: Any, aws_env: Path) -> None:
    setup(sm)
    shell = '"$0" inject --output - --yes'
    dash = subprocess.run(
        ["sh", "-c", shell, SECRETS_BIN],
        input=b"k={{ secrets://staging/api/key }}",
        capture_output=True,
        cwd=aws_env,
        check=False,
    )
    assert dash.returncode == 0, dash.stderr
    assert dash.stdout == b"k=staging-key" and not (aws_env / "-").exists()
    closed = subprocess.run(
        ["sh", "-c", '"$0" inject <&-', SECRETS_BIN], capture_output=True, check=False
    )
    assert closed.returncode == 2 and b"stdin is closed" in closed.stderr
    empty = subprocess.run([SECRETS_BIN, "inject"], stdin=subprocess.DEVNULL, capture_output=True)
    assert empty.returncode == 0 and empty.stdout == b""  # an empty template is one
