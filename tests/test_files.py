"""core/files.py directly: how each kind of path is written, what is refused and how it says so.

The commands' own tests (get --output, export, init) go through these writers; here each
writer's contract is stated once, path kind by path kind, without AWS.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import stat
import threading
from pathlib import Path

import envsecrets.core.files as files
import pytest
from envsecrets.core.files import (
    create_text_file,
    make_private_folders,
    write_private_file,
    write_text_atomically,
)
from envsecrets.errors import CliError, ExitCode


@pytest.fixture(autouse=True)
def aws_env() -> None:
    """Pure unit tests: no emulator to reset (overrides conftest's)."""


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_new_file_is_0600_and_holds_exactly_the_bytes(tmp_path: Path) -> None:
    target = tmp_path / "value.bin"
    assert write_private_file(target, b"\x00v\xff") == "mode 0600"
    assert target.read_bytes() == b"\x00v\xff"
    assert mode_of(target) == 0o600
    assert leftovers(tmp_path) == []


def test_an_existing_file_is_replaced_not_written_into(tmp_path: Path) -> None:
    target = tmp_path / "value"
    target.write_bytes(b"old and longer")
    target.chmod(0o644)
    inode = target.stat().st_ino
    assert write_private_file(target, b"new") == "mode 0600"
    assert target.read_bytes() == b"new"
    assert mode_of(target) == 0o600 and target.stat().st_ino != inode  # a new file


def test_a_symlink_to_a_file_is_replaced_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"keep")
    link = tmp_path / "link"
    link.symlink_to(elsewhere)
    assert write_private_file(link, b"value") == "mode 0600"
    assert not link.is_symlink() and link.read_bytes() == b"value"
    assert elsewhere.read_bytes() == b"keep"
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    assert write_private_file(dangling, b"value") == "mode 0600"
    assert not dangling.is_symlink()


def test_a_fifo_is_written_through(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    data = b"x" * 200_000  # more than a pipe holds: written in several writes
    assert write_private_file(fifo, data) == "written through the FIFO"
    reader.join(10)
    assert got == [data]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)  # still the FIFO
    link = tmp_path / "to-fifo"
    link.symlink_to(fifo)
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    assert write_private_file(link, b"again") == "written through the FIFO"
    reader.join(10)
    assert got[-1] == b"again" and link.is_symlink()


def test_a_character_device_is_written_through() -> None:
    assert write_private_file(Path("/dev/null"), b"v") == "written through the character device"


def test_a_descriptor_link_appends_to_the_file_it_is_open_on(tmp_path: Path) -> None:
    target = tmp_path / "opened"
    target.write_bytes(b"start:")
    with target.open("ab") as handle:
        path = Path(f"/proc/self/fd/{handle.fileno()}")
        assert write_private_file(path, b"value") == "appended to the file it is open on"
    assert target.read_bytes() == b"start:value"


@pytest.mark.parametrize("kind", ["folder", "socket"])
def test_other_kinds_are_refused_in_words(tmp_path: Path, kind: str) -> None:
    path = tmp_path / kind
    if kind == "folder":
        path.mkdir()
    else:
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
    with pytest.raises(CliError) as refused:
        write_private_file(path, b"v")
    assert (refused.value.code, refused.value.message, refused.value.hint) == (
        ExitCode.USAGE,
        f"cannot write {path}: it is a {kind}",
        "give the path of a file (it is replaced), a FIFO or a device (written through)",
    )


def test_a_missing_folder_is_refused_in_words(tmp_path: Path) -> None:
    path = tmp_path / "no" / "file"
    with pytest.raises(CliError) as refused:
        write_private_file(path, b"v")
    assert (refused.value.code, refused.value.message, refused.value.hint) == (
        ExitCode.USAGE,
        f"cannot write {path}: folder {path.parent} does not exist",
        "create the folder first, or choose another path",
    )


def test_a_folder_nothing_can_be_created_in_is_refused() -> None:
    path = Path("/proc/envsecrets-test")  # /proc takes no new files, not even root's
    with pytest.raises(CliError) as refused:
        write_private_file(path, b"v")
    assert refused.value.code == ExitCode.USAGE
    assert refused.value.message.startswith(f"cannot write {path}: ")
    assert refused.value.hint == "check the folder's permissions"


def test_text_files_keep_their_mode(tmp_path: Path) -> None:
    config = tmp_path / "secrets.toml"
    write_text_atomically(config, "a = 1\n")
    assert config.read_text() == "a = 1\n" and mode_of(config) == 0o644
    config.chmod(0o640)
    write_text_atomically(config, "é = 2\n")
    assert config.read_text(encoding="utf-8") == "é = 2\n" and mode_of(config) == 0o640
    write_text_atomically(tmp_path / "report", "x", mode=0o600)
    assert mode_of(tmp_path / "report") == 0o600
    assert leftovers(tmp_path) == []


def test_private_folders_are_0700_whatever_the_umask(tmp_path: Path) -> None:
    existing = tmp_path / "existing"
    existing.mkdir(mode=0o755)
    existing.chmod(0o755)
    old = os.umask(0)
    try:
        make_private_folders(existing / "a" / "b")
    finally:
        os.umask(old)
    assert mode_of(existing / "a") == mode_of(existing / "a" / "b") == 0o700
    assert mode_of(existing) == 0o755  # not ours: left as it is
    make_private_folders(existing / "a" / "b")  # again: nothing to do


def test_create_refuses_a_file_that_exists_by_then(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    create_text_file(path, "one\n")
    assert path.read_text() == "one\n" and mode_of(path) == 0o644
    with pytest.raises(CliError) as refused:
        create_text_file(path, "two\n")
    assert (refused.value.code, refused.value.message, refused.value.hint) == (
        ExitCode.REFUSED,
        f"{path} exists now (it appeared while the command ran); it was left as it is",
        "look at it, then run the command again to be asked whether to replace it",
    )
    assert path.read_text() == "one\n"
    create_text_file(tmp_path / "private", "x", mode=0o600)
    assert mode_of(tmp_path / "private") == 0o600
    assert leftovers(tmp_path) == []
    with pytest.raises(CliError) as missing:
        create_text_file(tmp_path / "no" / "file", "x")
    assert missing.value.code == ExitCode.USAGE
    assert missing.value.hint == "check the folder's permissions"


def test_a_device_that_refuses_the_bytes_fails_in_words() -> None:
    with pytest.raises(CliError) as failed:
        write_private_file(Path("/dev/full"), b"v")  # every write: no space left
    assert (failed.value.code, failed.value.message, failed.value.hint) == (
        ExitCode.FAILED,
        "cannot write /dev/full: No space left on device",
        "check what reads from it",
    )


def test_a_path_through_a_file_is_refused_in_words(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    path = tmp_path / "file" / "value"
    with pytest.raises(CliError) as refused:
        write_private_file(path, b"v")
    assert (refused.value.code, refused.value.message, refused.value.hint) == (
        ExitCode.USAGE,
        f"cannot write {path}: Not a directory",
        "check the path",
    )


def test_a_block_device_is_refused(tmp_path: Path) -> None:
    device = next((p for p in Path("/dev").glob("loop[0-9]*") if p.is_block_device()), None)
    assert device is not None, "this test needs a block device (a loop device) in /dev"
    with pytest.raises(CliError) as refused:
        write_private_file(device, b"v")
    assert refused.value.message == f"cannot write {device}: it is a block device"


def test_a_link_to_a_descriptor_link_is_written_through_it(tmp_path: Path) -> None:
    """`out -> /dev/stdout -> /proc/self/fd/1`: a chain of links reaching an open descriptor
    is written to what the descriptor is open on, not replaced."""
    target = tmp_path / "opened"
    target.write_bytes(b"a:")
    with target.open("ab") as handle:
        link = tmp_path / "out"
        link.symlink_to(f"/proc/self/fd/{handle.fileno()}")
        assert write_private_file(link, b"b") == "appended to the file it is open on"
        assert link.is_symlink()
    assert target.read_bytes() == b"a:b"


def test_a_descriptor_open_on_a_folder_is_refused(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        path = Path(f"/proc/self/fd/{fd}")
        with pytest.raises(CliError) as refused:
            write_private_file(path, b"v")
        assert refused.value.message == f"cannot write {path}: it is a folder"
    finally:
        os.close(fd)


def test_a_fifo_swapped_for_a_file_while_opening_is_not_written_into(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kind is looked at, then the path opened: a FIFO replaced by a regular file in
    between must not get the value written into it in place (not atomic, not 0600)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    real_open = os.open

    def swapping_open(path: object, flags: int, *args: object) -> int:
        if Path(str(path)) == fifo:
            fifo.unlink()
            fifo.write_bytes(b"someone else's")
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", swapping_open)
    with pytest.raises(CliError) as refused:
        write_private_file(fifo, b"value")
    monkeypatch.undo()
    assert (refused.value.code, refused.value.message, refused.value.hint) == (
        ExitCode.USAGE,
        f"cannot write {fifo}: it changed while being opened",
        "run the command again",
    )
    assert fifo.read_bytes() == b"someone else's"


def test_files_are_written_when_the_temp_folder_is_another_filesystem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temporary file is made beside the target, so the final rename stays on one
    filesystem (atomic), wherever TMPDIR points."""
    elsewhere = Path("/dev/shm")
    assert elsewhere.stat().st_dev != tmp_path.stat().st_dev, "needs two filesystems"
    monkeypatch.setattr("tempfile.tempdir", str(elsewhere))
    write_private_file(tmp_path / "value", b"v")
    write_text_atomically(tmp_path / "config", "c")
    create_text_file(tmp_path / "new", "n")
    assert [(tmp_path / n).read_bytes() for n in ("value", "config", "new")] == [b"v", b"c", b"n"]
    assert leftovers(tmp_path) == []


def test_a_folder_made_meanwhile_by_someone_else_is_kept_and_the_rest_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_mkdir = Path.mkdir
    racing = tmp_path / "a"

    def someone_first(self: Path, *args: object, **kwargs: object) -> None:
        if self == racing and not self.exists():
            real_mkdir(self, 0o755)  # the other process wins the race
        real_mkdir(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "mkdir", someone_first)
    make_private_folders(racing / "b" / "c")
    monkeypatch.undo()
    assert mode_of(racing) == 0o755  # theirs, left as it is
    assert mode_of(racing / "b") == mode_of(racing / "b" / "c") == 0o700


def test_create_without_hard_links_creates_exclusively(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some filesystems (FAT, some network ones) refuse hard links: the file is then created
    with O_EXCL, which refuses a name taken meanwhile just the same."""

    def no_links(*args: object, **kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "secrets.toml"
    create_text_file(path, "é\n", mode=0o640)
    assert path.read_text(encoding="utf-8") == "é\n" and mode_of(path) == 0o640
    assert leftovers(tmp_path) == []
    real_open = os.open

    def taken_meanwhile(target: object, flags: int, *args: object) -> int:
        if Path(str(target)) == tmp_path / "other":
            (tmp_path / "other").write_text("theirs")
        return real_open(target, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", taken_meanwhile)
    with pytest.raises(CliError) as refused:
        create_text_file(tmp_path / "other", "mine")
    monkeypatch.undo()
    assert refused.value.code == ExitCode.REFUSED
    assert (tmp_path / "other").read_text() == "theirs"


@pytest.mark.parametrize("writer", ["private", "text", "create"])
def test_a_write_that_fails_half_way_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: str
) -> None:
    """The disk fills up (or the folder is taken away) while the temp file is written: the
    target is untouched, the temp file removed, and the error says which path and why."""
    target = tmp_path / "target"
    target.write_bytes(b"before")

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(CliError) as failed:
        if writer == "private":
            write_private_file(target, b"after")
        elif writer == "text":
            write_text_atomically(target, "after")
        else:
            create_text_file(tmp_path / "new", "after")
    monkeypatch.undo()
    name = target if writer != "create" else tmp_path / "new"
    assert (failed.value.code, failed.value.message, failed.value.hint) == (
        ExitCode.USAGE,
        f"cannot write {name}: No space left on device",
        "check the folder's permissions",
    )
    assert target.read_bytes() == b"before"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]  # no temp file, no "new"


def test_an_interrupted_write_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_private_file(tmp_path / "target", b"v")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_a_fifo_that_cannot_be_opened_is_refused_in_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    real_open = os.open

    attempts: list[int] = []

    def denied(path: object, flags: int, *args: object) -> int:
        if Path(str(path)) == fifo:
            attempts.append(flags)
            # Only a FIFO without a reader (ENXIO) is waited for: a refusal is final.
            assert len(attempts) == 1, "a refused open was tried again"
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(CliError) as refused:
        write_private_file(fifo, b"v")
    monkeypatch.undo()
    assert len(attempts) == 1
    assert (refused.value.code, refused.value.message, refused.value.hint) == (
        ExitCode.USAGE,
        f"cannot write {fifo}: Permission denied",
        "check the path",
    )


def test_create_in_a_missing_folder_says_which_path(tmp_path: Path) -> None:
    path = tmp_path / "no" / "file"
    with pytest.raises(CliError) as missing:
        create_text_file(path, "x")
    assert missing.value.message == f"cannot write {path}: No such file or directory"
    linkless = tmp_path / "taken"
    linkless.write_text("theirs")
    with pytest.raises(CliError) as taken:
        files._create_exclusively(linkless, "mine", 0o644)
    assert taken.value.message.startswith(f"{linkless} exists now")


# -- what the mutation run found untested (tests/mutation_results.md) ---------------------------

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving files to other users needs root")
NOBODY = 65534


def read_in_background(fifo: Path) -> tuple[threading.Thread, list[bytes]]:
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    return reader, got


def opens_of(monkeypatch: pytest.MonkeyPatch, path: Path) -> list[int]:
    """Count the opens of `path`; fail the test at once on a second one (a retry loop that
    would otherwise spin for seconds, or forever)."""
    opened: list[int] = []
    real_open = os.open

    def counting(target: object, flags: int, *args: object) -> int:
        if Path(str(target)) == path:
            opened.append(flags)
            assert len(opened) == 1, f"{path} opened again: it was retried"
        return real_open(target, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", counting)
    return opened


def test_a_link_named_by_digits_is_a_link_not_a_descriptor(tmp_path: Path) -> None:
    """Only a link in /proc/<our pid>/fd names one of our descriptors: a link called `2024`
    (a year, a build number) in any other folder is replaced like any link to a file."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"keep")
    link = tmp_path / "2024"
    link.symlink_to(elsewhere)
    assert write_private_file(link, b"value") == "mode 0600"
    assert not link.is_symlink() and link.read_bytes() == b"value"
    assert elsewhere.read_bytes() == b"keep"


def test_a_descriptor_open_for_reading_only_is_refused_in_words(tmp_path: Path) -> None:
    """`--output /dev/fd/3 3<file`: the shell opened it to be read; opening the file anew for
    writing (what /proc's links allow root) would write into a file the user only lent us."""
    target = tmp_path / "input"
    target.write_bytes(b"read me")
    with target.open("rb") as handle:
        fd = handle.fileno()
        path = Path(f"/proc/self/fd/{fd}")
        with pytest.raises(CliError) as refused:
            write_private_file(path, b"value")
    assert (refused.value.code, refused.value.message) == (
        ExitCode.USAGE,
        f"cannot write {path}: descriptor {fd} is open for reading only",
    )
    hint = refused.value.hint or ""
    assert hint.startswith("give a path, or a descriptor the shell opened for writing")
    assert target.read_bytes() == b"read me"


@as_root
def test_a_descriptor_is_written_whoever_owns_the_file_it_is_open_on(tmp_path: Path) -> None:
    """`>> their.log` opened by the shell: the descriptor is ours, written where it points,
    even on a file another user owns (they do not get to choose where it goes: we did)."""
    target = tmp_path / "theirs.log"
    target.write_bytes(b"a:")
    os.chown(target, 1000, 1000)
    with target.open("ab") as handle:
        path = Path(f"/proc/self/fd/{handle.fileno()}")
        assert write_private_file(path, b"b") == "appended to the file it is open on"
    assert target.read_bytes() == b"a:b"


@as_root
def test_another_users_link_to_a_descriptor_is_refused_in_words(tmp_path: Path) -> None:
    """A link someone else planted that leads to /dev/stdout: they chose where the value
    goes, so it is refused as any link of theirs is."""
    target = tmp_path / "opened"
    target.write_bytes(b"a:")
    with target.open("ab") as handle:
        link = tmp_path / "out"
        link.symlink_to(f"/proc/self/fd/{handle.fileno()}")
        os.lchown(link, NOBODY, NOBODY)
        with pytest.raises(CliError) as refused:
            write_private_file(link, b"value")
    assert refused.value.code == ExitCode.USAGE
    assert refused.value.message == (
        f"refusing to write {link}: the link {link} is owned by user 'nobody' (uid {NOBODY}),"
        " not by you or root"
    )
    assert refused.value.hint == (
        "write to a file or FIFO of your own: whoever owns a FIFO or device reads what is "
        "written through it"
    )
    assert target.read_bytes() == b"a:"


@as_root
@pytest.mark.parametrize("owner", [1, NOBODY])
def test_a_fifo_of_any_other_user_is_refused(tmp_path: Path, owner: int) -> None:
    """Only you and root (uid 0) are trusted: a system user such as daemon (uid 1) is another
    user like any other."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    os.chown(fifo, owner, owner)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # theirs, reading
    try:
        with pytest.raises(CliError) as refused:
            write_private_file(fifo, b"value")
        assert os.read(reader, 100) == b""  # no writer came: end of file, nothing leaked
    finally:
        os.close(reader)
    assert refused.value.code == ExitCode.USAGE
    owned_by = rf"(user '[^']+' \(uid {owner}\)|uid {owner})"  # named if /etc/passwd knows it
    assert re.fullmatch(
        rf"refusing to write {re.escape(str(fifo))}: it is a FIFO owned by {owned_by}, not by"
        " you or root",
        refused.value.message,
    ), refused.value.message


def test_a_fifo_whose_reader_comes_a_moment_later_gets_the_value(tmp_path: Path) -> None:
    """`secrets get X --output pipe & reader < pipe`: the reader may start after the write
    began; the write waits for it (up to FIFO_READER_WAIT) instead of failing."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    outcome: list[object] = []

    def write() -> None:
        try:
            outcome.append(write_private_file(fifo, b"value"))
        except CliError as error:
            outcome.append(error)

    writer = threading.Thread(target=write)
    writer.start()
    threading.Event().wait(0.3)  # the writer is waiting for a reader by now (not asserted)
    reader, got = read_in_background(fifo)
    writer.join(10)
    if reader.is_alive():  # the writer gave up: let the reader's open return
        # ENXIO: no reader is left after all - it read and closed, and is only ending (a
        # loaded machine); the assertions below say what happened.
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    reader.join(10)
    assert outcome == ["written through the FIFO"]
    assert got == [b"value"]


def test_a_fifo_nobody_reads_fails_in_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "FIFO_READER_WAIT", 1.0)  # not the 5 s a user gets
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(CliError) as failed:
        write_private_file(fifo, b"value")
    assert (failed.value.code, failed.value.message, failed.value.hint) == (
        ExitCode.FAILED,
        f"cannot write {fifo}: nothing read from the FIFO within 1 s",
        "start the program that reads it first, then run the command again",
    )
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


@as_root
def test_a_device_with_no_driver_fails_at_once_in_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A device node nothing serves (major 250: for local use, unassigned here) answers
    ENXIO, as a FIFO without a reader does; but a device has no reader to wait for: the
    error comes at once, after one open."""
    device = tmp_path / "nodriver"
    os.mknod(device, stat.S_IFCHR | 0o600, os.makedev(250, 7))
    opened = opens_of(monkeypatch, device)
    with pytest.raises(CliError) as refused:
        write_private_file(device, b"value")
    monkeypatch.undo()
    assert (refused.value.code, refused.value.message, refused.value.hint) == (
        ExitCode.USAGE,
        f"cannot write {device}: No such device or address",
        "check the path",
    )
    assert len(opened) == 1


def test_an_edit_through_a_link_to_a_folder_is_refused_in_words(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    link = tmp_path / "secrets.toml"
    link.symlink_to(folder)
    with pytest.raises(CliError) as refused:
        write_text_atomically(link, "a = 1\n")
    assert (refused.value.code, refused.value.message, refused.value.hint) == (
        ExitCode.USAGE,
        f"cannot edit {folder}: it is a folder, not a file",
        "give the path of a file",
    )
    assert link.is_symlink() and list(folder.iterdir()) == []


def test_an_edit_through_a_link_loop_is_refused_in_words(tmp_path: Path) -> None:
    first, second = tmp_path / "a.env", tmp_path / "b.env"
    first.symlink_to(second)
    second.symlink_to(first)
    with pytest.raises(CliError) as refused:
        write_text_atomically(first, "A=1\n")
    assert (refused.value.code, refused.value.message, refused.value.hint) == (
        ExitCode.USAGE,
        f"cannot write {first}: it is a symlink that leads nowhere (a loop)",
        "point the link at a file, or give the file's own path",
    )
    assert first.is_symlink() and second.is_symlink()


def test_an_output_that_is_not_an_edit_keeps_the_mode_of_the_file_it_replaces(
    tmp_path: Path,
) -> None:
    """A report (or `init`'s file) written over an existing 0640 file keeps 0640: the user
    chose who may read it."""
    report = tmp_path / "report.json"
    report.write_text("old")
    report.chmod(0o640)
    assert write_text_atomically(report, "new", follow_links=False) == "mode 0640"
    assert report.read_text() == "new" and mode_of(report) == 0o640
