"""Where `--output` puts a value (core/files.py's one writer, used by get, export and inject).

A FIFO or a character device is written through; a symlink is looked through to learn what it
points at, written through when that is a FIFO or a device and replaced (not followed)
otherwise; a link to one of the process's own descriptors (/dev/stdout, /dev/fd/N) is written
through; a regular file is replaced atomically with mode 0600; anything else is refused.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import SECRETS_BIN

VALUE = "out-value-Zr81\n"


@pytest.fixture
def secret(sm: Any) -> str:
    sm.create_secret(Name="dev/out", SecretString=VALUE)
    return "dev/out"


def read_in_background(fifo: Path) -> tuple[threading.Thread, list[bytes]]:
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    return reader, got


def test_a_fifo_is_written_through_not_replaced(cli: Any, secret: str, aws_env: Path) -> None:
    fifo = aws_env / "pipe"
    os.mkfifo(fifo)
    reader, got = read_in_background(fifo)
    run = cli("get", secret, "--output", str(fifo))
    reader.join(timeout=30)
    assert run.code == 0, run.stderr
    assert got == [VALUE.encode()]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert "written through the FIFO" in run.stderr


def test_a_character_device_is_written_through(cli: Any, secret: str) -> None:
    run = cli("get", secret, "--output", "/dev/null")
    assert run.code == 0, run.stderr
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)
    assert "written through the character device" in run.stderr


def test_a_symlink_to_a_file_is_replaced_not_followed(cli: Any, secret: str, aws_env: Path) -> None:
    elsewhere = aws_env / "elsewhere.txt"
    elsewhere.write_text("planted target")
    elsewhere.chmod(0o644)
    link = aws_env / "value.txt"
    link.symlink_to(elsewhere)
    run = cli("get", secret, "--output", str(link))
    assert run.code == 0, run.stderr
    assert not link.is_symlink()
    assert link.read_text() == VALUE
    assert stat.S_IMODE(link.stat().st_mode) == 0o600
    assert elsewhere.read_text() == "planted target"  # the value did not go where the link led


def test_a_dangling_symlink_is_replaced_and_creates_nothing_where_it_pointed(
    cli: Any, secret: str, aws_env: Path
) -> None:
    target = aws_env / "shared" / "stolen.txt"
    (aws_env / "shared").mkdir()
    link = aws_env / "value.txt"
    link.symlink_to(target)
    assert cli("get", secret, "--output", str(link)).code == 0
    assert not target.exists()
    assert link.read_text() == VALUE and not link.is_symlink()


def test_a_symlink_to_a_fifo_is_written_through(cli: Any, secret: str, aws_env: Path) -> None:
    fifo = aws_env / "pipe"
    os.mkfifo(fifo)
    link = aws_env / "link"
    link.symlink_to(fifo)
    reader, got = read_in_background(fifo)
    run = cli("get", secret, "--output", str(link))
    reader.join(timeout=30)
    assert run.code == 0, run.stderr
    assert got == [VALUE.encode()]
    assert link.is_symlink() and stat.S_ISFIFO(fifo.lstat().st_mode)


@pytest.fixture
def unix_socket(aws_env: Path) -> Iterator[Path]:
    path = aws_env / "sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        yield path


def test_a_socket_and_a_folder_are_refused(
    cli: Any, secret: str, aws_env: Path, unix_socket: Path
) -> None:
    refused = cli("get", secret, "--output", str(unix_socket))
    assert refused.code == 2
    assert "is a socket" in refused.stderr
    assert stat.S_ISSOCK(unix_socket.lstat().st_mode)
    folder = aws_env / "folder"
    folder.mkdir()
    assert "is a folder" in cli("get", secret, "--output", str(folder)).stderr
    # Through a link: what it points at decides, and neither is replaced.
    link = aws_env / "link"
    link.symlink_to(unix_socket)
    assert cli("get", secret, "--output", str(link)).code == 0  # replaced like any link
    assert stat.S_ISSOCK(unix_socket.lstat().st_mode)


def test_export_and_inject_use_the_same_writer(cli: Any, secret: str, aws_env: Path) -> None:
    elsewhere = aws_env / "elsewhere"
    elsewhere.write_text("planted")
    for args in (["export", "dev", "-f", "json"], ["inject", "--input", "template"]):
        (aws_env / "template").write_text("{{ secrets://dev/out }}")
        link = aws_env / "out"
        link.unlink(missing_ok=True)
        link.symlink_to(elsewhere)
        run = cli(*args, "--output", str(link))
        assert run.code == 0, run.stderr
        assert not link.is_symlink()
        assert stat.S_IMODE(link.stat().st_mode) == 0o600
        assert elsewhere.read_text() == "planted"


# -- the installed script: /dev/stdout and /dev/fd/N are links into /proc ----------------------


@pytest.fixture
def dev_stdout(aws_env: Path) -> Path:
    """A link made like /dev/stdout (to /proc/self/fd/1), in the test's own folder: the same
    path for the code, but a regression that replaces the link (as root) breaks this link,
    not the machine's /dev/stdout (that happened once, with another test)."""
    target = str(Path("/dev/stdout").readlink())
    assert target.startswith("/proc/self/fd/"), target
    link = aws_env / "stdout"
    link.symlink_to(target)
    return link


def test_dev_stdout_on_a_pipe_is_written_through(secret: str, dev_stdout: Path) -> None:
    before = os.lstat(dev_stdout)
    done = subprocess.run(
        [SECRETS_BIN, "get", secret, "--output", str(dev_stdout)],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == VALUE.encode()
    after = os.lstat(dev_stdout)  # as root, a replaced link would be a file now
    assert stat.S_ISLNK(after.st_mode) and after.st_ino == before.st_ino


def test_dev_stdout_on_a_file_appends_to_it_and_is_not_replaced(
    secret: str, aws_env: Path, dev_stdout: Path
) -> None:
    before = os.lstat(dev_stdout)
    out = aws_env / "redirected.txt"
    with out.open("wb") as handle:
        handle.write(b"first line\n")
        handle.flush()
        done = subprocess.run(
            [SECRETS_BIN, "get", secret, "--output", str(dev_stdout)],
            stdout=handle,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == b"first line\n" + VALUE.encode()
    after = os.lstat(dev_stdout)
    assert stat.S_ISLNK(after.st_mode) and after.st_ino == before.st_ino


def test_process_substitution_dev_fd_is_written_through(secret: str) -> None:
    """`secrets get X --output >(cmd)`: the shell passes /dev/fd/N, a pipe."""
    read_end, write_end = os.pipe()
    try:
        done = subprocess.run(
            [SECRETS_BIN, "get", secret, "--output", f"/dev/fd/{write_end}"],
            pass_fds=(write_end,),
            capture_output=True,
            timeout=60,
            check=False,
        )
        os.close(write_end)
        write_end = -1
        assert done.returncode == 0, done.stderr
        assert os.read(read_end, 1000) == VALUE.encode()
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)


# -- another user's FIFO or link: written through, it would hand them the value --------------

NOBODY = 65534
AS_UID_1000 = ["setpriv", "--reuid=1000", "--regid=1000", "--clear-groups"]
TO_STDOUT = ["--report", "stdout"]
as_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="giving a FIFO or a link to another user needs root (chown)"
)


def open_reader(fifo: Path) -> int:
    """The planted FIFO's owner, reading: open without blocking, so a write would succeed."""
    return os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)


def read_what_leaked(reader: int) -> bytes:
    try:
        return os.read(reader, 100_000)
    except BlockingIOError:
        return b""
    finally:
        os.close(reader)


@pytest.fixture
def sticky(aws_env: Path) -> Path:
    shared = aws_env / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    return shared


@as_root
def test_another_users_fifo_in_a_shared_folder_is_refused(
    cli: Any, secret: str, sticky: Path
) -> None:
    """As uid 1000 `mkfifo -m 666 /tmp/shared/dev.env`, reading it: the value went to them."""
    fifo = sticky / "dev.env"
    os.mkfifo(fifo)
    fifo.chmod(0o666)
    os.chown(fifo, NOBODY, NOBODY)
    (sticky / "template").write_text("{{ secrets://dev/out }}")
    for args in (
        ["get", secret],
        ["export", "dev", "--format", "dotenv"],
        ["inject", "--input", str(sticky / "template")],
    ):
        reader = open_reader(fifo)
        run = cli(*args, "--output", str(fifo))
        assert read_what_leaked(reader) == b"", args
        assert run.code == 2, (args, run.stderr)
        assert "refusing to write" in run.stderr and "owned by user 'nobody'" in run.stderr
        assert stat.S_ISFIFO(fifo.lstat().st_mode)


@as_root
def test_a_link_by_another_user_is_refused_whatever_it_points_at(
    cli: Any, secret: str, sticky: Path
) -> None:
    theirs = sticky / "their.fifo"
    os.mkfifo(theirs)
    os.chown(theirs, NOBODY, NOBODY)
    ours = sticky / "our.fifo"
    os.mkfifo(ours)  # ours, but reached through their link: they chose where it goes
    for target in (theirs, ours):
        link = sticky / "link.env"
        link.unlink(missing_ok=True)
        link.symlink_to(target)
        os.lchown(link, NOBODY, NOBODY)
        reader = open_reader(target)
        run = cli("get", secret, "--output", str(link))
        assert read_what_leaked(reader) == b""
        assert run.code == 2, run.stderr
        assert "refusing to write" in run.stderr
    # Our own link to their FIFO: the FIFO decides.
    link.unlink()
    link.symlink_to(theirs)
    reader = open_reader(theirs)
    run = cli("get", secret, "--output", str(link))
    assert read_what_leaked(reader) == b""
    assert run.code == 2 and "a FIFO owned by user 'nobody'" in run.stderr


def test_roots_devices_and_our_own_fifos_are_still_written_through(
    cli: Any, secret: str, aws_env: Path
) -> None:
    assert cli("get", secret, "--output", "/dev/null").code == 0  # root's: trusted
    fifo = aws_env / "pipe"
    os.mkfifo(fifo)
    reader, got = read_in_background(fifo)
    assert cli("get", secret, "--output", str(fifo)).code == 0
    reader.join(timeout=30)
    assert got == [VALUE.encode()]


@pytest.mark.skipif(os.geteuid() != 0, reason="running as two other users needs root (setpriv)")
def test_a_user_is_refused_another_users_fifo(secret: str, tmp_path: Path) -> None:
    """The reviewers' case as two ordinary users: uid 1001 plants, uid 1000 writes."""
    shared = Path(tempfile.mkdtemp(prefix="envsecrets-shared-"))
    try:
        shared.chmod(0o1777)
        home = shared / "home"
        home.mkdir()
        os.chown(home, 1000, 1000)
        fifo = shared / "dev.env"
        os.mkfifo(fifo)
        fifo.chmod(0o666)
        os.chown(fifo, 1001, 1001)
        reader = open_reader(fifo)
        env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}
        env["XDG_CONFIG_HOME"] = str(home / ".config")
        done = subprocess.run(
            [*AS_UID_1000, SECRETS_BIN, "get", secret, "--output", str(fifo)],
            cwd=shared,
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert read_what_leaked(reader) == b""
        assert done.returncode == 2, done.stderr
        assert b"owned by uid 1001" in done.stderr or b"(uid 1001)" in done.stderr
    finally:
        shutil.rmtree(shared)


def test_a_fifo_nobody_reads_fails_instead_of_hanging(secrets_cmd: Any, aws_env: Path) -> None:
    """It used to wait forever for a reader."""
    fifo = aws_env / "pipe"
    os.mkfifo(fifo)
    boto3.client("secretsmanager").create_secret(Name="dev/out", SecretString=VALUE)
    run = secrets_cmd(["get", "dev/out", "--output", str(fifo)], timeout=60)
    assert run.code == 1, run.stderr
    assert "nothing read from the FIFO" in run.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


# -- every path we write goes through the one check: reports, init's output ------------------


@pytest.fixture
def device(aws_env: Path) -> Path:
    """A /dev/null of our own: what a report or init at /dev/null used to replace, as root."""
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root (mknod)")
    path = aws_env / "null"
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return path


def test_a_report_or_inits_output_at_a_device_writes_through_it(
    cli: Any, sm: Any, aws_env: Path, device: Path
) -> None:
    (aws_env / "m.env").write_text("API_KEY=k\n")
    run = cli("migrate", "env-file", "m.env", "--to", "dev/rd/", "--yes", "--report", str(device))
    assert run.code == 0, run.stderr
    assert stat.S_ISCHR(device.lstat().st_mode)
    run = cli("init", "--env", "dev", "--output", str(device))
    assert run.code == 0, run.stderr
    assert stat.S_ISCHR(device.lstat().st_mode)


def test_a_report_at_a_fifo_is_written_through(cli: Any, sm: Any, aws_env: Path) -> None:
    (aws_env / "m.env").write_text("API_KEY=k\n")
    fifo = aws_env / "rep.fifo"
    os.mkfifo(fifo)
    reader, got = read_in_background(fifo)
    run = cli("migrate", "env-file", "m.env", "--to", "dev/rf/", "--yes", "--report", str(fifo))
    reader.join(timeout=30)
    assert run.code == 0, run.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert b'"created": 1' in got[0]


def test_a_report_at_dev_stdout_is_written_through(sm: Any, aws_env: Path) -> None:
    """As non-root: exit 2 after the migration ran; as root: /dev/stdout replaced by a file.
    Tested through a link of our own made like /dev/stdout, so that code which still replaces
    the link cannot break the machine's /dev/stdout (it did once, as root)."""
    stdout = aws_env / "stdout"
    stdout.symlink_to(Path("/dev/stdout").readlink())
    before = os.lstat(stdout)
    (aws_env / "m.env").write_text("API_KEY=k\n")
    done = subprocess.run(
        [SECRETS_BIN, "migrate", "env-file", "m.env", "--to", "dev/rs/", "--yes", *TO_STDOUT],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert b'"created": 1' in done.stdout
    after = os.lstat(stdout)
    assert stat.S_ISLNK(after.st_mode) and after.st_ino == before.st_ino


def test_a_report_at_another_users_fifo_is_refused_before_migrating(
    cli: Any, sm: Any, sticky: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a FIFO to another user needs root (chown)")
    fifo = sticky / "rep.fifo"
    os.mkfifo(fifo)
    os.chown(fifo, NOBODY, NOBODY)
    (sticky / "m.env").write_text("API_KEY=k\n")
    run = cli(
        "migrate", "env-file", str(sticky / "m.env"), "--to", "dev/ro/", "--report", str(fifo)
    )
    assert run.code == 2, run.stderr
    assert sm.list_secrets()["SecretList"] == []


@pytest.mark.skipif(os.geteuid() != 0, reason="planting another user's link needs root")
def test_init_replaces_a_planted_link_and_leaves_where_it_pointed(cli: Any, aws_env: Path) -> None:
    """`init --output` in a shared folder: a link planted there must not aim the new
    secrets.toml at another file (a reviewer replaced a root-owned file this way)."""
    victim = aws_env / "important.conf"
    victim.write_text("precious\n")
    shared = aws_env / "shared"
    shared.mkdir(mode=0o1777)
    link = shared / "secrets.toml"
    link.symlink_to(victim)
    os.lchown(link, 1000, 1000)  # planted by another user (the tests run as root)
    run = cli("init", "--output", str(link), "--env", "dev", "--yes")
    assert run.code == 0, run.stderr
    assert victim.read_text() == "precious\n"
    assert not link.is_symlink() and "[environments.dev]" in link.read_text()
