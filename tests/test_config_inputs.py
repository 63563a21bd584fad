"""secrets.toml and the root options as hostile or messy input: files owned by others or
writable by them, FIFOs and devices, byte order marks, deep nesting, huge declarations,
malformed regions and role ARNs. Each is exit 2 with a message naming the file, key or flag."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from envsecrets.core.config import TRUST_VARIABLE, find_config, load_config
from envsecrets.errors import CliError, ExitCode, listed

from tests.conftest import SECRETS_BIN, write_config

NOBODY = 65534


def refused(run: Any, *words: str) -> str:
    assert run.code == 2, (run.code, run.stderr)
    first = run.stderr.splitlines()[0]
    assert first.startswith("error: ")
    for word in words:
        assert word in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr
    return first


# -- who controls a secrets.toml found upward ----------------------------------------------------


@pytest.fixture
def shared(aws_env: Path) -> tuple[Path, Path]:
    """A secrets.toml one folder up, as in a shared folder, and a subfolder to run in."""
    config = write_config(
        aws_env,
        '[environments.prod]\nprotected = false\nrole_arn = "arn:aws:iam::999999999999:role/x"\n',
    )
    sub = aws_env / "project"
    sub.mkdir()
    return config, sub


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_a_config_owned_by_another_user_is_refused(
    cli: Any, sm: Any, shared: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, sub = shared
    os.chown(config, NOBODY, NOBODY)
    monkeypatch.chdir(sub)
    run = cli("set", "prod/db/password", "--stdin", input="v")
    first = refused(run, str(config), "uid 65534", "--config", TRUST_VARIABLE)
    assert "it is owned by" in first and "link" not in first  # a plain file, not a link
    assert sm.list_secrets()["SecretList"] == []


@pytest.mark.parametrize("mode", [0o666, 0o646])
def test_a_config_others_may_write_is_refused(
    cli: Any, sm: Any, shared: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, mode: int
) -> None:
    config, sub = shared
    config.chmod(mode)
    monkeypatch.chdir(sub)
    run = cli("set", "prod/db/password", "--stdin", input="v")
    refused(run, str(config), f"{mode:04o}", "chmod go-w")
    assert sm.list_secrets()["SecretList"] == []


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_a_link_planted_by_another_user_is_refused(
    cli: Any, aws_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = aws_env / "mine.toml"
    mine.write_text("[environments.dev]\n")
    sub = aws_env / "shared"
    sub.mkdir()
    link = sub / "secrets.toml"
    link.symlink_to(mine)
    os.lchown(link, NOBODY, NOBODY)
    monkeypatch.chdir(sub)
    refused(cli("list"), "the link is owned by")


def test_a_group_writable_config_is_refused_unless_the_group_is_yours_alone(
    shared: tuple[Path, Path],
) -> None:
    import grp

    config, sub = shared
    # Root's group (gid 0) has no other members here; a group with other members is not
    # private. Find one on this machine, else make the test about gid 0 only.
    config.chmod(0o664)
    assert find_config(sub, trusted=[]) == config  # root's own private group
    crowded = [g for g in grp.getgrall() if g.gr_gid != 0 and g.gr_mem]
    if crowded:
        os.chown(config, os.geteuid(), crowded[0].gr_gid)
        with pytest.raises(CliError) as caught:
            find_config(sub, trusted=[])
        assert "may write it" in caught.value.message


def posix_acl(*entries: tuple[int, int, int]) -> bytes:
    """What `setfacl` stores: version 2, then (tag, permissions, id) per entry."""
    import struct

    everyone = 0xFFFFFFFF
    base = [(0x01, 6, everyone), (0x04, 4, everyone), (0x20, 4, everyone)]  # user, group, other
    return struct.pack("<I", 2) + b"".join(
        struct.pack("<HHI", tag, perms, everyone if who < 0 else who)
        for tag, perms, who in sorted([*base, *entries])
    )


def set_acl(path: Path, blob: bytes, *, default: bool = False) -> None:
    name = "system.posix_acl_default" if default else "system.posix_acl_access"
    try:
        os.setxattr(path, name, blob)
    except OSError as exc:  # a filesystem without POSIX ACLs: nothing to test there
        pytest.skip(f"no POSIX ACLs on {path.parent}: {exc.strerror}")


USER_RW, GROUP_RW, MASK_RW, MASK_R = (
    (0x02, 6, NOBODY),
    (0x08, 6, NOBODY),
    (0x10, 6, -1),
    (0x10, 4, -1),
)


@pytest.mark.parametrize(
    ("entries", "who"),
    [((USER_RW, MASK_RW), "an ACL lets user 'nobody'"), ((GROUP_RW, MASK_RW), "an ACL lets group")],
)
def test_a_config_an_acl_lets_others_write_is_refused(
    cli: Any,
    sm: Any,
    shared: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    entries: tuple[tuple[int, int, int], ...],
    who: str,
) -> None:
    """`setfacl -m u:other:rw secrets.toml`: the mode bits (0664 with root's private group)
    looked safe and the file was trusted."""
    config, sub = shared
    set_acl(config, posix_acl(*entries))
    monkeypatch.chdir(sub)
    refused(cli("set", "prod/db/password", "--stdin", input="v"), str(config), who, "setfacl -b")
    assert sm.list_secrets()["SecretList"] == []


def test_a_config_that_inherits_a_shared_folders_default_acl_is_refused(aws_env: Path) -> None:
    shared = aws_env / "team"
    shared.mkdir()
    set_acl(shared, posix_acl(USER_RW, MASK_RW), default=True)
    config = write_config(shared, "[environments.dev]\n")  # created after: inherits the ACL
    (shared / "app").mkdir()
    with pytest.raises(CliError) as caught:
        find_config(shared / "app", trusted=[])
    assert "an ACL lets user 'nobody'" in caught.value.message
    assert find_config(shared / "app", trusted=[str(config)]) == config  # trusted by name: used


def test_an_acl_whose_mask_denies_writing_is_trusted(shared: tuple[Path, Path]) -> None:
    config, sub = shared
    set_acl(config, posix_acl(USER_RW, MASK_R))
    config.chmod(0o644)
    assert find_config(sub, trusted=[]) == config


def test_given_with_config_or_trusted_by_the_variable_it_is_used(
    cli: Any, sm: Any, shared: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, sub = shared
    config.chmod(0o666)
    monkeypatch.chdir(sub)
    assert cli("--config", str(config), "list", "prod/").code == 0
    monkeypatch.setenv(TRUST_VARIABLE, f"/nowhere:{config}")
    assert cli("list", "prod/").code == 0
    monkeypatch.setenv(TRUST_VARIABLE, "*")
    assert cli("list", "prod/").code == 0
    monkeypatch.setenv(TRUST_VARIABLE, "/nowhere")
    assert cli("list", "prod/").code == 2


# -- what kind of file it is --------------------------------------------------------------------


def test_config_at_a_fifo_says_so_and_never_hangs(aws_env: Path) -> None:
    fifo = aws_env / "fifo.toml"
    os.mkfifo(fifo)
    for args in (["--config", str(fifo), "list"],):
        done = subprocess.run(
            [SECRETS_BIN, *args], capture_output=True, timeout=60, check=False, cwd=aws_env
        )
        assert done.returncode == 2
        assert f"config file {fifo} is a FIFO, not a file" in done.stderr.decode()
    (aws_env / "secrets.toml").unlink(missing_ok=True)
    os.mkfifo(aws_env / "secrets.toml")  # found upward: refused too, never read
    done = subprocess.run(
        [SECRETS_BIN, "list"], capture_output=True, timeout=60, check=False, cwd=aws_env
    )
    assert done.returncode == 2
    assert "is a FIFO, not a file" in done.stderr.decode()


def test_config_at_dev_zero_or_a_folder_says_what_it_is(cli: Any, aws_env: Path) -> None:
    refused(cli("--config", "/dev/zero", "list"), "/dev/zero is a character device")
    refused(cli("--config", str(aws_env), "list"), "is a directory")  # Click says so
    refused(cli("--config", str(aws_env / "nope.toml"), "list"), "does not exist")


def test_a_fifo_swapped_in_after_the_check_does_not_hang_the_read(aws_env: Path) -> None:
    fifo = aws_env / "late.toml"
    os.mkfifo(fifo)
    with pytest.raises(CliError) as caught:
        load_config(fifo)  # read without the check of find_config: opened without blocking
    assert "is a FIFO" in caught.value.message
    # The writer side must not be left waiting either.
    opened = threading.Event()

    def writer() -> None:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        except OSError:
            pass
        opened.set()

    threading.Thread(target=writer, daemon=True).start()
    assert opened.wait(10)


# -- contents ------------------------------------------------------------------------------------


def test_a_utf8_byte_order_mark_is_accepted(cli: Any, aws_env: Path) -> None:
    path = aws_env / "secrets.toml"
    path.write_bytes(b"\xef\xbb\xbf[environments.dev]\nregion = 'us-east-1'\n")
    assert set(load_config(path).environments) == {"dev"}
    assert cli("list", "dev/").code == 0


@pytest.mark.parametrize("depth", [500, 5000])
def test_deep_nesting_is_malformed_toml_not_a_crash(cli: Any, aws_env: Path, depth: int) -> None:
    write_config(aws_env, "x = " + "[" * depth + "]" * depth + "\n")
    refused(cli("list"), "malformed TOML")


def test_the_not_declared_hint_is_capped(cli: Any, aws_env: Path) -> None:
    lines = [f"[environments.e{i}]" for i in range(100_000)]
    write_config(aws_env, "\n".join(lines) + "\n")
    run = cli("list", "prdo/")
    refused(run, "not declared", "and 99,990 more")
    assert len(run.stderr) < 1000


def test_listed_caps_every_list() -> None:
    assert listed([]) == "none"
    assert listed(["a", "b"]) == "a, b"
    assert listed(str(i) for i in range(12)) == "0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 2 more"
    assert listed(["a", "b", "c"], at_most=1, empty="-") == "a and 2 more"


# -- regions and role ARNs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "shown"),
    [("us-east-1 ", "'us-east-1 '"), ("", "''"), ("US-EAST-1", "'US-EAST-1'"), ("us\teast", "\\t")],
)
def test_a_malformed_region_in_secrets_toml_names_the_key(
    cli: Any, aws_env: Path, region: str, shown: str
) -> None:
    write_config(aws_env, f'[environments.dev]\nregion = "{region}"\n'.replace("\t", "\\t"))
    for args in (["get", "dev/x"], ["doctor"], ["list", "dev/"]):
        first = refused(cli(*args), "environments.dev.region", "is not an AWS region")
        assert shown in first


def test_a_malformed_replica_region_names_the_key(cli: Any, aws_env: Path) -> None:
    write_config(aws_env, '[environments.dev]\nreplica_regions = ["eu-west-1", "eu west"]\n')
    refused(cli("list", "dev/"), "environments.dev.replica_regions", "'eu west'")


@pytest.mark.parametrize("region", ["us-east-1 ", "", " us-east-1"])
def test_a_malformed_region_flag_names_the_flag(cli: Any, region: str) -> None:
    for args in (["get", "dev/x"], ["doctor"], ["list"]):
        refused(cli("--region", region, *args), "--region", "is not an AWS region")


def test_a_malformed_region_from_the_environment_is_exit_2(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1 ")
    refused(cli("get", "dev/x"), "AWS_REGION", "'us-east-1 '")


def test_init_refuses_a_malformed_region(cli: Any, aws_env: Path) -> None:
    run = cli("init", "--env", "dev", "--region", "us-east-1 ", "-o", str(aws_env / "s.toml"))
    refused(run, "environment 'dev': region")
    assert not (aws_env / "s.toml").exists()


def test_a_role_arn_that_is_not_an_arn_gets_a_hint_about_role_arn(cli: Any, aws_env: Path) -> None:
    write_config(aws_env, '[environments.dev]\nrole_arn = "not-an-arn"\n')
    run = cli("get", "dev/x")
    refused(run, "environments.dev.role_arn", "arn:aws:iam::")
    assert "version" not in run.stderr.lower()


def test_valid_regions_and_role_arns_still_load(aws_env: Path) -> None:
    path = write_config(
        aws_env,
        "[environments.gov]\nregion = 'us-gov-west-1'\n"
        "role_arn = 'arn:aws-us-gov:iam::123456789012:role/path/secrets-admin'\n"
        "[environments.cn]\nregion = 'cn-northwest-1'\nreplica_regions = ['cn-north-1']\n"
        "[environments.local]\nregion = 'local'\n",
    )
    assert set(load_config(path).environments) == {"gov", "cn", "local"}
    assert ExitCode.USAGE == 2


def test_reading_a_config_without_rotation_plans_loads_no_rotation_code(aws_env: Path) -> None:
    """Every command reads secrets.toml; `get` need not pay for the rotation code's import
    (start-up is measured against a five-line boto3 script)."""
    write_config(aws_env, "[environments.dev]\n")
    probe = (
        "import sys; from pathlib import Path; from envsecrets.core.config import load_config; "
        "load_config(Path('secrets.toml')); "
        "print(sorted(m for m in sys.modules if m.startswith('envsecrets.core.rotation')"
        " or m == 'envsecrets.core.passwords'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
