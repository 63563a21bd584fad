"""role_arn + mfa_serial: the MFA code is asked once on a terminal, the session is kept in the OS
keyring until it expires, and a wrong code is asked again, then refused with exit 5.

moto's STS accepts any MFA code; the fault proxy answers AssumeRole with AccessDenied where AWS
would reject a wrong code (proxy.script(..., "deny")). The keyring is keyrings.alt's file
backend, named in PYTHON_KEYRING_BACKEND, with its file under the test's HOME.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pexpect  # a dev dependency: missing, the tests fail (not skip)
import pytest

from tests.conftest import SECRETS_BIN, write_config

CONFIG = """
[environments.prod]
role_arn = "arn:aws:iam::123456789012:role/secrets-admin"
mfa_serial = "arn:aws:iam::123456789012:mfa/alice"
"""


@pytest.fixture(autouse=True)
def mfa_setup(aws_env: Path, monkeypatch: pytest.MonkeyPatch, sm: Any) -> Path:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    monkeypatch.setenv("XDG_DATA_HOME", str(aws_env.parent / "home" / ".local" / "share"))
    write_config(aws_env, CONFIG)
    sm.create_secret(Name="prod/api/stripe-key", SecretString="sk_live_mfa")
    return aws_env


def spawn(*args: str) -> Any:
    return pexpect.spawn(
        SECRETS_BIN, list(args), env=dict(os.environ), encoding="utf-8", timeout=30,
        dimensions=(40, 200),
    )  # fmt: skip


def test_code_asked_once_then_the_session_comes_from_the_keyring(
    proxy: Any, secrets_cmd: Any
) -> None:
    proxy.script("sts.AssumeRole", "deny")  # the first code is wrong
    child = spawn("get", "prod/api/stripe-key")
    child.expect("MFA code for arn:aws:iam::123456789012:mfa/alice")
    child.sendline("000000")
    child.expect("MFA code for")  # asked again after a wrong code
    child.sendline("123456")
    child.expect("sk_live_mfa")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert proxy.count("sts.AssumeRole") == 2

    # No terminal now: the cached session answers, no code is needed, STS is not asked.
    run = secrets_cmd(["get", "prod/api/stripe-key"])
    assert (run.code, run.stdout) == (0, "sk_live_mfa"), run.stderr
    assert proxy.count("sts.AssumeRole") == 2
    # Never a plaintext file of ours: nothing under the cache or config folders holds it.
    home = Path(os.environ["HOME"])
    for folder in (home / ".cache", home / ".config", home / ".aws"):
        for path in folder.rglob("*") if folder.exists() else ():
            assert "SessionToken" not in path.read_text(errors="replace")


def test_three_wrong_codes_exit_5(proxy: Any) -> None:
    proxy.script("sts.AssumeRole", "deny", "deny", "deny")
    child = spawn("get", "prod/api/stripe-key")
    for _ in range(3):
        child.expect("MFA code for")
        child.sendline("000000")
    child.expect("access denied")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 5


def test_without_a_terminal_and_no_session_the_code_cannot_be_asked(secrets_cmd: Any) -> None:
    run = secrets_cmd(["get", "prod/api/stripe-key"])
    assert run.code == 2
    assert "MFA code" in run.stderr and "terminal" in run.stderr


def test_a_code_that_is_not_six_digits_is_asked_again_before_sts(proxy: Any) -> None:
    """STS refuses a malformed TokenCode with a ValidationError (moto accepts anything):
    the code is checked first and asked again; STS sees only the well-formed one."""
    child = spawn("get", "prod/api/stripe-key")
    child.expect("MFA code for .* \\(6 digits\\)")
    child.sendline("1234567")
    child.expect("MFA code for")  # asked again, STS not called
    child.sendline("123 456")  # as authenticator apps show it
    child.expect("sk_live_mfa")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert proxy.count("sts.AssumeRole") == 1


def test_three_malformed_codes_are_exit_2_without_calling_sts(proxy: Any) -> None:
    child = spawn("get", "prod/api/stripe-key")
    for code in ("12345", "abcdef", "1234567"):
        child.expect("MFA code for")
        child.sendline(code)
    child.expect("six digits")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    assert proxy.count("sts.AssumeRole") == 0
