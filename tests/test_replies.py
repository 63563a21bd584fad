"""An endpoint that lies or stays silent (DESIGN.md: AWS replies are untrusted input).

A reply that lacks what the API promises (`{}` to everything) is an AWS-side failure: exit 6
with a hint naming the endpoint, never "nothing found", "equal" or a crash (backends/
replies.py checks every reply in one place). An endpoint that never answers, or trickles its
reply, is given up on after the deadline (backends/deadline.py): exit 6 again. Each command
family is run against both; the endpoints are in tests/endpoints.py.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from tests.endpoints import NonsenseEndpoint, SilentEndpoint

CONFIG = """
[environments.dev]
region = "us-east-1"

[environments.staging]
region = "us-east-1"

[functions.api]
secrets = ["api/key"]
"""

# One command of each family (DESIGN.md's command table), with its stdin.
FAMILIES: list[tuple[str, list[str], str | None]] = [
    ("set", ["set", "dev/api/key", "--stdin"], "v"),
    ("get", ["get", "dev/api/key"], None),
    ("list", ["list", "dev/"], None),
    ("show", ["show", "dev/api/key"], None),
    ("history", ["history", "dev/api/key"], None),
    ("delete", ["delete", "dev/api/key", "--yes"], None),
    ("restore", ["restore", "dev/api/key"], None),
    ("rotate", ["rotate", "dev/api/key", "--generate", "--yes"], None),
    ("rotate --env", ["rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes"], None),
    ("diff", ["diff", "dev", "staging"], None),
    ("copy", ["copy", "dev/", "staging/", "--yes"], None),
    ("check", ["check", "dev"], None),
    ("replicate", ["replicate", "dev/api/key", "--region", "eu-west-1", "--yes"], None),
    ("migrate env-file", ["migrate", "env-file", "app.env", "--to", "dev/app/", "--yes"], None),
    ("migrate ssm", ["migrate", "ssm", "/app/", "--to", "dev/app/", "--yes"], None),
    ("migrate lambda", ["migrate", "lambda", "api", "--env", "dev", "--yes"], None),
    ("policy --resolve", ["policy", "api", "--env", "dev", "--resolve"], None),
    ("audit --live", ["audit", "--live", "--env", "dev"], None),
    ("doctor", ["doctor"], None),
    ("run", ["run", "dev", "--", sys.executable, "-c", "pass"], None),
    ("export", ["export", "dev", "--format", "dotenv"], None),
    ("inject", ["inject"], "password={{ secrets://dev/api/key }}\n"),
]
# What a command says when it found nothing, or nothing different: never true here.
FALSE_REASSURANCES = ("no secrets", "equal", "nothing", "no findings", "unchanged", "0 found")


@pytest.fixture
def workdir(aws_env: Path) -> Path:
    write_config(aws_env, CONFIG)
    (aws_env / "app.env").write_text("STRIPE_KEY=sk_live_x\n")
    return aws_env


@pytest.fixture
def nonsense(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NonsenseEndpoint]:
    with NonsenseEndpoint(b"{}") as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
        yield endpoint


@pytest.fixture
def silent(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SilentEndpoint]:
    with SilentEndpoint() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
        monkeypatch.setenv("ENVSECRETS_TIMEOUT", "1")
        yield endpoint


def assert_aws_failed(run: Any, *, family: str, says: str) -> None:
    """Exit 6, one error line naming the endpoint's failure, no traceback, no reassurance."""
    assert run.code == 6, (family, run.code, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    assert "unexpected internal error" not in run.stderr
    said = (run.stdout + run.stderr).lower()
    for reassurance in FALSE_REASSURANCES:
        assert reassurance not in said, (family, reassurance, run.stdout, run.stderr)
    if family == "doctor":  # its table says what it could not check, and why
        assert "\tFAIL\t" in run.stdout
        assert says in run.stdout
        return
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, run.stderr
    assert says in errors[0], run.stderr
    assert run.stdout == "", (family, run.stdout)


@pytest.mark.parametrize(
    ("family", "args", "stdin"), FAMILIES, ids=[family for family, _, _ in FAMILIES]
)
def test_every_family_fails_on_an_endpoint_answering_nonsense(
    cli: Any, nonsense: NonsenseEndpoint, family: str, args: list[str], stdin: str | None
) -> None:
    run = cli(*args, input=stdin)
    assert nonsense.requests > 0  # the command did ask
    assert_aws_failed(run, family=family, says=f"{nonsense.url} answered ")


@pytest.mark.parametrize(
    ("family", "args", "stdin"), FAMILIES, ids=[family for family, _, _ in FAMILIES]
)
def test_every_family_gives_up_on_an_endpoint_that_never_answers(
    cli: Any, silent: SilentEndpoint, family: str, args: list[str], stdin: str | None
) -> None:
    run = cli(*args, input=stdin)
    assert silent.accepted > 0
    assert_aws_failed(run, family=family, says="gave up waiting for AWS after 1 s")


# -- the deadline -------------------------------------------------------------------------------


def test_a_trickled_reply_is_cut_off_at_the_deadline(cli: Any, workdir: Path, monkeypatch) -> None:
    """One byte every 0.1 s never trips a socket's read timeout: only a deadline on the whole
    call ends it. The endpoint counts the bytes it got out before `get` hung up."""
    with SilentEndpoint(trickle=0.1) as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
        run = cli("--timeout", "2", "get", "dev/api/key")
        assert_aws_failed(run, family="get", says="gave up waiting for AWS after 2 s in all")
        endpoint.closed.wait(0.5)
    assert endpoint.sent, "the reply was never started"
    assert max(endpoint.sent) < len(SilentEndpoint.REPLY)  # hung up mid-reply


def test_one_secret_commands_share_one_budget_and_lists_have_one_per_call(
    cli: Any, sm: Any, workdir: Path, proxy: Any
) -> None:
    """`set` makes several calls; each takes 1 s and a little (the proxy's latency), under
    the 1.6 s deadline, but together they pass it. A listing's single call does not."""
    sm.create_secret(Name="dev/api/key", SecretString="old")
    proxy.faults.latency = 1.0
    proxy.reset_counts()
    listed = cli("--timeout", "1.6", "list", "dev/")
    assert listed.code == 0, listed.stderr
    assert "dev/api/key" in listed.stdout
    proxy.reset_counts()
    written = cli("--timeout", "1.6", "set", "dev/api/key", "--stdin", input="new")
    assert proxy.count("secretsmanager.") >= 2  # more than one call, each under the deadline
    assert_aws_failed(written, family="set", says="gave up waiting for AWS after 1.6 s in all")


def test_the_waiting_is_said_on_a_terminal_only(workdir: Path, monkeypatch) -> None:
    from tests.test_terminal import Screen, run_on

    with SilentEndpoint() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
        terminal, pipe = Screen(), Screen(stderr_tty=False)
        for screen in (terminal, pipe):
            run = run_on(screen, "--timeout", "4", "get", "dev/api/key")
            assert run.exit_code == 6
        assert f"waiting for AWS ({endpoint.url}); giving up in 1 s" in terminal.stderr
    assert "waiting" not in pipe.stderr


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        (["--timeout", "0"], "--timeout must be a number of seconds"),
        (["--timeout", "-3"], "--timeout must be a number of seconds"),
        (["--timeout", "nan"], "--timeout must be a number of seconds"),
        ([], "ENVSECRETS_TIMEOUT must be a number of seconds between 0 and 86400, not 'soon'"),
    ],
)
def test_a_timeout_that_is_not_a_duration_is_2(
    cli: Any, workdir: Path, setting: list[str], said: str
) -> None:
    run = cli(*setting, "get", "dev/api/key", env={"ENVSECRETS_TIMEOUT": "soon"})
    assert run.code == 2, run.stderr
    assert said in run.stderr


def test_the_timeout_from_the_environment_is_used(cli: Any, silent: SilentEndpoint) -> None:
    # `silent` sets ENVSECRETS_TIMEOUT=1; --timeout wins over it.
    assert "after 1 s" in cli("get", "dev/api/key").stderr
    assert "after 2 s" in cli("--timeout", "2", "get", "dev/api/key").stderr


def test_a_profile_s_role_is_assumed_before_the_deadline_counts(
    cli: Any, sm: Any, aws_env: Path, proxy: Any
) -> None:
    """A profile with role_arn assumes the role on first use, inside the first call (and may
    prompt for an MFA code there): it is done before, so it takes nothing from the deadline."""
    sm.create_secret(Name="dev/api/key", SecretString="v")
    config = Path(aws_env.parent / "home" / ".aws" / "config")
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "[profile base]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
        "[profile app]\nrole_arn = arn:aws:iam::123456789012:role/app\nsource_profile = base\n"
    )
    proxy.faults.latency = 1.0  # AssumeRole and GetSecretValue: 1 s each, under 1.6 s alone
    proxy.reset_counts()
    run = cli("--profile", "app", "--timeout", "1.6", "get", "dev/api/key")
    assert proxy.count("sts.AssumeRole") == 1
    assert run.code == 0, run.stderr
    assert run.stdout == "v"


# -- what a reply must be -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b'{"SecretList": "abc"}', "cannot be parsed"),  # botocore's parser fails on it
        (b'{"SecretList": [{"Name": 5}]}', "has SecretList[0].Name that is not a string"),
        (b'{"SecretList": [{"ARN": "x"}]}', "lacks SecretList[0].Name"),
        (b"[]", "cannot be parsed"),
        (b"null", "cannot be parsed"),
        (b"<html>502 Bad Gateway</html>", "lacks SecretList"),  # read as {} by botocore
        # The same page token handed back: a listing that would never end.
        (b'{"SecretList": [], "NextToken": "again"}', "returns the page token NextToken"),
    ],
)
def test_a_reply_of_the_wrong_shape_is_exit_6(
    cli: Any, workdir: Path, monkeypatch: pytest.MonkeyPatch, body: bytes, said: str
) -> None:
    with NonsenseEndpoint(body) as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
        run = cli("list", "dev/")
    assert_aws_failed(run, family="list", says=f"{endpoint.url} answered ListSecrets with a")
    assert said in run.stderr


def test_a_batch_that_leaves_a_secret_out_is_exit_6(cli: Any, sm: Any, proxy: Any) -> None:
    """Every secret asked of BatchGetSecretValue by name comes back as a value or an error;
    one in neither list is not "missing" (migration would plan to create it), nor "same"."""
    for env in ("dev", "staging"):
        sm.create_secret(Name=f"{env}/api/key", SecretString="v")
    proxy.answer("secretsmanager.BatchGetSecretValue", b'{"SecretValues": [], "Errors": []}')
    run = cli("diff", "dev", "staging")
    assert_aws_failed(run, family="diff", says="leaves out 1 of the 1 secrets asked for")


def test_problems_name_members_never_values() -> None:
    import botocore.session
    from envsecrets.backends.replies import PROMISES, reply_problems

    model = botocore.session.get_session().get_service_model("secretsmanager")
    get = model.operation_model("GetSecretValue")
    reply = {"Name": "dev/x", "VersionId": 7, "SecretString": ["s3cr3t-canary"]}
    problems = reply_problems(get, reply, PROMISES["secretsmanager.GetSecretValue"])
    assert problems == [
        "has VersionId that is not a string",
        "has SecretString that is not a string",
    ]
    assert "s3cr3t" not in repr(problems)
    assert reply_problems(get, {"Name": "n", "VersionId": "v" * 32, "SecretBinary": b"x"}) == []


def test_an_alarm_set_by_the_embedding_program_is_kept(cli: Any, sm: Any) -> None:
    """The deadline borrows SIGALRM during each call: a program embedding the CLI gets its own
    handler and its pending timer back."""
    import signal

    rang: list[int] = []
    sm.create_secret(Name="dev/api/key", SecretString="v")

    def theirs(signum: int, frame: object) -> None:
        rang.append(signum)

    previous = signal.signal(signal.SIGALRM, theirs)
    try:
        signal.setitimer(signal.ITIMER_REAL, 600)
        assert cli("get", "dev/api/key").code == 0
        assert signal.getsignal(signal.SIGALRM) is theirs
        left = signal.getitimer(signal.ITIMER_REAL)[0]
        assert 0 < left <= 600
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert rang == []
