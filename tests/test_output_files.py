"""Where `--output` puts a value (core/files.py's one writer, used by get, export and inject).

A FIFO or a character device is written through; a symlink is looked through to learn what it
points at, written through when that is a FIFO or a device and replaced (not followed)
otherwise; a link to one of the process's own descriptors (/dev/stdout, /dev/fd/N) is written
through; a regular file is replaced atomically with mode 0600; anything else is refused.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def test_dev_stdout_on_a_pipe_is_written_through(secret: str) -> None:
    before = os.lstat("/dev/stdout")
    done = subprocess.run(
        [SECRETS_BIN, "get", secret, "--output", "/dev/stdout"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == VALUE.encode()
    after = os.lstat("/dev/stdout")  # as root, a replaced /dev/stdout would be a file now
    assert stat.S_ISLNK(after.st_mode) and after.st_ino == before.st_ino


def test_dev_stdout_on_a_file_appends_to_it_and_is_not_replaced(secret: str, aws_env: Path) -> None:
    before = os.lstat("/dev/stdout")
    out = aws_env / "redirected.txt"
    with out.open("wb") as handle:
        handle.write(b"first line\n")
        handle.flush()
        done = subprocess.run(
            [SECRETS_BIN, "get", secret, "--output", "/dev/stdout"],
            stdout=handle,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == b"first line\n" + VALUE.encode()
    after = os.lstat("/dev/stdout")
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
