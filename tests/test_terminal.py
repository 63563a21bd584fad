"""What a terminal sees, without a pseudo-terminal: the commands run in-process with a Workspace
whose `Streams` say which stream is a terminal (httpie's `Environment`, ui/streams.py).

test_pty.py drives the installed script in a real pseudo-terminal for the prompts; these cover
the renderer's terminal-only paths (a rich table, the newline `get` adds, binary refused, the
progress bar) through the commands, side by side with the same run piped, and check that the
injected streams are the only ones written to.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from envsecrets.app import app
from envsecrets.commands.common import Workspace
from envsecrets.ui.render import Renderer
from envsecrets.ui.streams import Streams
from typer.testing import CliRunner

# rich's heavy horizontal line: the header rule of its default table box.
TABLE_RULE = "━"


class Screen:
    """Captured stdout and stderr that say they are terminals (or pipes)."""

    def __init__(self, *, stdout_tty: bool = True, stderr_tty: bool = True) -> None:
        self._out = io.BytesIO()
        self._err = io.BytesIO()
        self.streams = Streams(
            stdin=io.StringIO(),
            stdout=io.TextIOWrapper(self._out, encoding="utf-8", write_through=True),
            stderr=io.TextIOWrapper(self._err, encoding="utf-8", write_through=True),
            stdin_isatty=False,
            stdout_isatty=stdout_tty,
            stderr_isatty=stderr_tty,
            width=120,
            colour=False,
        )

    @property
    def stdout_bytes(self) -> bytes:
        self.streams.stdout.flush()
        return self._out.getvalue()

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode()

    @property
    def stderr(self) -> str:
        self.streams.stderr.flush()
        return self._err.getvalue().decode()


def run_on(screen: Screen, *args: str) -> Any:
    """`secrets ARGS` in-process, its output on `screen`; CliRunner's own streams hold what
    the app's error door writes (the process's stderr) and must hold nothing else."""
    result = CliRunner().invoke(
        app, list(args), obj=Workspace(streams=screen.streams), catch_exceptions=False
    )
    assert result.stdout == ""
    return result


# -- list: a table for people, tab-separated lines for programs ---------------------------------


def test_list_draws_a_table_on_a_terminal_and_tabs_in_a_pipe(sm: Any) -> None:
    sm.create_secret(Name="dev/api/key", SecretString="v")
    sm.create_secret(Name="dev/db/password", SecretString="v")

    terminal = Screen()
    assert run_on(terminal, "list", "dev/").exit_code == 0
    assert TABLE_RULE in terminal.stdout
    assert "\t" not in terminal.stdout
    assert "│ dev/api/key" in terminal.stdout
    assert "│ dev/db/password" in terminal.stdout

    pipe = Screen(stdout_tty=False)
    assert run_on(pipe, "list", "dev/").exit_code == 0
    assert TABLE_RULE not in pipe.stdout
    lines = pipe.stdout.splitlines()
    assert lines[0] == "NAME\tLAST CHANGED\tLAST ACCESSED\tROTATION"
    assert [line.split("\t")[0] for line in lines[1:]] == ["dev/api/key", "dev/db/password"]


def test_show_aligns_fields_on_a_terminal(sm: Any) -> None:
    sm.create_secret(Name="dev/api/key", SecretString="v", Description="the API key")
    terminal = Screen()
    assert run_on(terminal, "show", "dev/api/key").exit_code == 0
    assert "the API key" in terminal.stdout
    assert "Description:" not in terminal.stdout  # the piped form's `key: value`

    pipe = Screen(stdout_tty=False)
    assert run_on(pipe, "show", "dev/api/key").exit_code == 0
    assert any(
        line.startswith("Description:") and line.endswith(" the API key")
        for line in pipe.stdout.splitlines()
    )


# -- get: the value exactly, plus a newline for a person ------------------------------------------


@pytest.mark.parametrize(
    ("stored", "on_terminal", "in_pipe"),
    [
        ("s3cret", b"s3cret\n", b"s3cret"),
        ("ends-with-newline\n", b"ends-with-newline\n", b"ends-with-newline\n"),
    ],
)
def test_get_adds_a_newline_only_on_a_terminal(
    sm: Any, stored: str, on_terminal: bytes, in_pipe: bytes
) -> None:
    sm.create_secret(Name="dev/api/key", SecretString=stored)
    terminal = Screen()
    assert run_on(terminal, "get", "dev/api/key").exit_code == 0
    assert terminal.stdout_bytes == on_terminal

    pipe = Screen(stdout_tty=False)
    assert run_on(pipe, "get", "dev/api/key").exit_code == 0
    assert pipe.stdout_bytes == in_pipe


def test_get_refuses_binary_on_a_terminal_and_writes_it_to_a_pipe(sm: Any) -> None:
    data = b"\x00\x01\xffBINARY\x1b[2J"
    sm.create_secret(Name="dev/tls/key", SecretBinary=data)

    terminal = Screen()
    result = run_on(terminal, "get", "dev/tls/key")
    assert result.exit_code == 2
    assert "refusing to write it to a terminal" in result.stderr
    assert terminal.stdout_bytes == b""

    pipe = Screen(stdout_tty=False)
    assert run_on(pipe, "get", "dev/tls/key").exit_code == 0
    assert pipe.stdout_bytes == data


def test_get_refuses_text_with_escape_sequences_on_a_terminal(sm: Any) -> None:
    """Text with control characters is stored as text now (not binary), and still never
    reaches a terminal, where it would act (here: clear the screen)."""
    sm.create_secret(Name="dev/esc", SecretString="ab\x1b[2Jcd")
    terminal = Screen()
    result = run_on(terminal, "get", "dev/esc")
    assert result.exit_code == 2
    assert "text with terminal control characters" in result.stderr
    assert terminal.stdout_bytes == b""
    pipe = Screen(stdout_tty=False)
    assert run_on(pipe, "get", "dev/esc").exit_code == 0
    assert pipe.stdout_bytes == b"ab\x1b[2Jcd"
    sm.create_secret(Name="dev/multi", SecretString="line one\n\tline two")
    assert run_on(Screen(), "get", "dev/multi").exit_code == 0  # tabs and newlines are fine


def test_an_empty_bulk_plan_draws_no_empty_table(sm: Any, aws_env: Any) -> None:
    from tests.conftest import write_config

    write_config(aws_env, "[environments.dev]\n")
    terminal = Screen()
    result = run_on(terminal, "rotate", "--env", "dev", "--older-than", "0", "--generate")
    assert result.exit_code == 0, result.stderr
    assert terminal.stdout == ""  # no frame of a table without rows
    assert "nothing to rotate under dev/" in terminal.stderr
    out = Renderer(streams=terminal.streams)
    out.table(["A", "B"], [])
    assert terminal.stdout == ""
    pipe = Screen(stdout_tty=False)
    Renderer(streams=pipe.streams).table(["A", "B"], [])
    assert pipe.stdout == "A\tB\n"  # a script still gets the header it parses


# -- progress: a bar on a terminal's stderr, nothing in a pipe ------------------------------------


def test_diff_draws_a_progress_bar_on_a_terminal_only(sm: Any) -> None:
    for env in ("dev", "staging"):
        for key in ("a", "b", "c"):
            sm.create_secret(Name=f"{env}/api/{key}", SecretString="same")

    terminal = Screen(stdout_tty=False)
    assert run_on(terminal, "diff", "dev", "staging").exit_code == 0
    assert "comparing values" in terminal.stderr
    assert "6/6" in terminal.stderr  # both sides' three secrets, counted as they are read

    pipe = Screen(stdout_tty=False, stderr_tty=False)
    assert run_on(pipe, "diff", "dev", "staging").exit_code == 0
    assert "comparing values" not in pipe.stderr
    assert terminal.stdout == pipe.stdout  # the data does not depend on stderr


# -- the renderer, where no command reaches (rotate's bulk progress, notes) ---------------------


def test_renderer_progress_counts_on_a_terminal_and_draws_nothing_in_a_pipe() -> None:
    terminal = Screen()
    with Renderer(streams=terminal.streams).progress(3, "rotating dev/") as advance:
        for _ in range(3):
            advance(1)
    assert "rotating dev/" in terminal.stderr
    assert "3/3" in terminal.stderr

    pipe = Screen(stderr_tty=False)
    with Renderer(streams=pipe.streams).progress(3, "rotating dev/") as advance:
        advance(3)
    assert pipe.stderr == ""


def test_renderer_notes_go_to_the_given_stderr() -> None:
    terminal, pipe = Screen(), Screen(stderr_tty=False)
    for screen in (terminal, pipe):
        out = Renderer(streams=screen.streams)
        out.note("listing dev/")
        out.warn("2 secrets are stale")
        assert screen.stdout == ""
    assert pipe.stderr == "listing dev/\nwarning: 2 secrets are stale\n"
    assert "listing dev/" in terminal.stderr
    assert "warning: 2 secrets are stale" in terminal.stderr


def test_the_default_streams_are_the_process_s(capsys: pytest.CaptureFixture[str]) -> None:
    out = Renderer()
    out.lines(["to stdout"])
    out.note("to stderr")
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("to stdout\n", "to stderr\n")


# -- prompts: asked only when the streams say a person is at a terminal -------------------------


@pytest.mark.parametrize(("stdin_tty", "stderr_tty"), [(True, True), (True, False), (False, True)])
def test_prompts_read_the_terminal_facts_from_the_streams(
    stdin_tty: bool, stderr_tty: bool
) -> None:
    from dataclasses import replace

    from envsecrets.errors import CliError, ExitCode
    from envsecrets.ui.prompts import can_prompt, confirm

    streams = replace(Screen().streams, stdin_isatty=stdin_tty, stderr_isatty=stderr_tty)
    assert can_prompt(streams) is (stdin_tty and stderr_tty)
    if not can_prompt(streams):
        with pytest.raises(CliError) as refused:
            confirm("delete prod/x?", yes=False, streams=streams)
        assert refused.value.code == ExitCode.REFUSED


# -- AWS data is shown inert: no markup, no escape sequence reaches the terminal ----------------

# A description as an endpoint could send it: rich markup (a hyperlink), an OSC that retitles
# the window, a colour, a C1 CSI that clears the screen, a carriage return that rewrites the
# line, and a right-to-left override that reorders what follows.
HOSTILE = (
    "[link=https://evil.example]click[/link] \x1b]0;owned\x07\x1b[31mred\x9b2J\rfake \u202eexe"
)


def no_control_characters(text: str) -> bool:
    """Nothing a terminal would act on: C0 (but tab and newline), DEL, C1, an RTL override."""
    return not any(
        (ord(c) < 32 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F or c == "\u202e" for c in text
    )


def test_show_on_a_terminal_shows_a_hostile_description_as_text(sm: Any) -> None:
    sm.create_secret(Name="dev/api/key", SecretString="v", Description=HOSTILE)
    terminal = Screen()
    assert run_on(terminal, "show", "dev/api/key").exit_code == 0
    assert no_control_characters(terminal.stdout), repr(terminal.stdout)
    assert "[link=https://evil.example]click[/link]" in terminal.stdout  # markup left as text
    assert r"\x1b]0;owned\x07\x1b[31mred\x9b2J\rfake \u202eexe" in terminal.stdout


def test_json_escapes_what_a_terminal_would_act_on_and_keeps_the_data(sm: Any) -> None:
    import json

    sm.create_secret(Name="dev/api/key", SecretString="v", Description=HOSTILE + "\x7f")
    terminal = Screen()
    assert run_on(terminal, "show", "dev/api/key", "--json").exit_code == 0
    assert no_control_characters(terminal.stdout), repr(terminal.stdout)
    assert json.loads(terminal.stdout)["description"] == HOSTILE + "\x7f"


def test_messages_and_errors_are_shown_inert() -> None:
    from envsecrets.errors import CliError, ExitCode
    from envsecrets.ui.render import render_error

    for screen in (Screen(), Screen(stderr_tty=False)):
        out = Renderer(streams=screen.streams)
        out.warn(f"AWS said: {HOSTILE}")
        render_error(
            CliError(ExitCode.FAILED, f"ListSecrets failed: {HOSTILE}", "hint \x1b[2J"),
            json_mode=False,
            stderr=screen.streams.stderr,
        )
        assert no_control_characters(screen.stderr), repr(screen.stderr)
        assert r"\x1b]0;owned\x07" in screen.stderr
        assert r"hint: hint \x1b[2J" in screen.stderr


def test_tables_fields_and_lines_are_inert_on_a_terminal_and_in_a_pipe() -> None:
    """Piped output is read by people too (`secrets list | less`, `| head`): it is as inert as
    a terminal's, and a cell stays one cell (its tabs and newlines written out). Only --json
    carries the data exact."""
    terminal, pipe = Screen(), Screen(stdout_tty=False, stderr_tty=False)
    for screen in (terminal, pipe):
        out = Renderer(streams=screen.streams)
        out.table(["NAME", "DESCRIPTION"], [["dev/x", HOSTILE], ["dev/y", "a\tb\nfake line"]])
        out.fields([("Description", HOSTILE + "\nTags: fake")])
        out.lines([HOSTILE])
        assert no_control_characters(screen.stdout), repr(screen.stdout)
        assert "[link=https://evil.example]click[/link]" in screen.stdout
        assert r"\x1b]0;owned\x07\x1b[31mred\x9b2J\rfake \u202eexe" in screen.stdout
        assert r"a\tb\nfake line" in screen.stdout
        assert r"\nTags: fake" in screen.stdout
        assert not any(line.startswith("Tags:") for line in screen.stdout.splitlines())
    rows = pipe.stdout.splitlines()
    assert rows[0] == "NAME\tDESCRIPTION"
    assert [row.count("\t") for row in rows[1:3]] == [1, 1]  # two cells, whatever they hold
    assert rows[3].startswith("Description: ")


# Rich's emoji codes and markup, as names (moto takes any name), descriptions and tags hold them.
CODES = ":secret: :smile: [bold red]FAKE[/bold red] [/]"


def no_emoji(text: str) -> bool:
    return "㊙" not in text and "\U0001f604" not in text


def test_show_prints_the_arn_and_aws_text_as_they_are(sm: Any) -> None:
    arn = sm.create_secret(
        Name="dev/api/key",
        SecretString="v",
        Description=CODES,
        Tags=[{"Key": "team", "Value": "[/] \x1b[2J:secret:"}],
    )["ARN"]
    assert ":secret:" in arn  # every secret's ARN has it
    for screen in (Screen(), Screen(stdout_tty=False)):
        assert run_on(screen, "show", "dev/api/key").exit_code == 0
        assert arn in screen.stdout
        assert CODES in screen.stdout
        assert r"[/] \x1b[2J:secret:" in screen.stdout
        assert no_emoji(screen.stdout) and no_control_characters(screen.stdout)


def test_list_and_diff_show_names_as_they_are(sm: Any) -> None:
    for env in ("dev", "staging"):
        sm.create_secret(Name=f"{env}/:smile:/[b]x[/b]", SecretString=env)
    for screen in (Screen(), Screen(stdout_tty=False)):
        assert run_on(screen, "list", "dev/").exit_code == 0
        assert "dev/:smile:/[b]x[/b]" in screen.stdout
        assert run_on(screen, "diff", "dev", "staging").exit_code == 1
        assert ":smile:/[b]x[/b]" in screen.stdout
        assert no_emoji(screen.stdout + screen.stderr)


def test_everything_the_renderer_draws_is_text(sm: Any) -> None:
    """Headers, titles, messages and progress labels can hold a name or a prefix too."""
    screen = Screen()
    out = Renderer(streams=screen.streams)
    out.table([f"NAME {CODES}", "X"], [["dev/x", "y"]], title=f"title {CODES}")
    out.fields([("Name", "dev/x")], title=f"dev/{CODES}")
    out.note(f"note {CODES}")
    out.success(f"done {CODES}")
    out.warn(f"careful {CODES}")
    with out.progress(3, f"rotating dev/{CODES}") as advance:
        advance(3)
    said = screen.stdout + screen.stderr
    assert no_emoji(said)
    for shown in ("NAME :secret:", "title :secret:", "dev/:secret:", "note :secret:"):
        assert shown in said
    for shown in ("done :secret:", "careful :secret:", "rotating dev/:secret:"):
        assert shown in said


def test_long_names_are_never_cut_on_a_narrow_terminal(sm: Any) -> None:
    """Two names that share their first 30 characters stay whole and distinct on 80 columns:
    the columns after the name give way first (and a note says so)."""
    from dataclasses import replace

    names = [f"dev/payments/stripe/webhook-signing-secret-{n}-of-the-eu-shop" for n in (1, 2)]
    for name in names:
        sm.create_secret(Name=name, SecretString="v")
    screen = Screen()
    narrow = replace(screen.streams, width=80)
    result = CliRunner().invoke(app, ["list", "dev/"], obj=Workspace(streams=narrow))
    assert result.exit_code == 0
    for name in names:
        assert f"│ {name}" in screen.stdout
    assert "…" not in screen.stdout
    assert all(len(line) <= 80 for line in screen.stdout.splitlines())
    assert "left out for want of room:" in screen.stderr and "ROTATION" in screen.stderr
    # Narrower than a name: it wraps, whole, and nothing else is drawn beside it.
    tiny = replace(screen.streams, width=40)
    CliRunner().invoke(app, ["list", "dev/"], obj=Workspace(streams=tiny))
    assert "…" not in screen.stdout
