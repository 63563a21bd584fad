"""backends/verify.py directly: how a user's verify or apply command is run.

The rotate tests drive it through `--verify-cmd`; here each promise of the runner is stated
on its own: the value on stdin only, stdout and stderr read together, nothing of ours
inherited, a command that cannot start, a timeout that stops the whole group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import pytest
from envsecrets import stopping
from envsecrets.backends.verify import VerifyOutcome, check_runnable, command_argv, run_verify
from envsecrets.errors import CliError


@pytest.fixture(autouse=True)
def aws_env() -> None:
    """No AWS here (overrides conftest's)."""


def test_the_value_arrives_on_stdin_and_both_streams_come_back_masked() -> None:
    outcome = run_verify(
        'sh -c \'v=$(cat); echo "out $v"; echo "err $v" >&2; exit 3\'', b"s3cret", timeout=30
    )
    assert outcome == VerifyOutcome(3, False, ("out ****", "err ****"))
    assert not outcome.passed
    assert run_verify("cat >/dev/null", b"v", timeout=30).passed


def test_the_command_inherits_none_of_our_open_files(tmp_path: Path) -> None:
    kept = (tmp_path / "ours").open("wb")
    os.set_inheritable(kept.fileno(), True)  # even one marked inheritable
    try:
        outcome = run_verify("ls /proc/self/fd", b"", timeout=30)
    finally:
        kept.close()
    # 0, 1, 2, and the one ls opens to read the folder
    assert sorted(int(fd) for fd in outcome.output_tail) == [0, 1, 2, 3]


def test_a_command_that_cannot_start_says_so() -> None:
    outcome = run_verify("/nonexistent/verify --now", b"v", timeout=30)
    assert outcome == VerifyOutcome(127, False, ("cannot start: No such file or directory",))
    assert not outcome.passed


def test_a_command_the_system_refuses_to_start_says_so_the_same_way() -> None:
    """An argument longer than the kernel takes (E2BIG: 128 KiB) is refused before anything
    runs, not by the command: the same outcome as a command that is not there (127, not a
    timeout), with the system's reason."""
    outcome = run_verify("true " + "x" * 200_000, b"v", timeout=30)
    assert outcome == VerifyOutcome(127, False, ("cannot start: Argument list too long",))
    assert not outcome.passed


def test_a_command_past_its_time_is_stopped_with_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    outcome = run_verify(f"sh -c 'sleep 60 & echo $! > {pidfile}; wait'", b"v", timeout=1)
    assert outcome.timed_out and outcome.exit_code is None and not outcome.passed
    child = int(pidfile.read_text())
    status = Path(f"/proc/{child}/status")
    assert not status.exists() or "State:\tZ" in status.read_text()  # the group went too


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("check-db --host db", ["check-db", "--host", "db"]),
        ("psql -c 'select 1'", ["psql", "-c", "select 1"]),
        ("a | b", ["/bin/sh", "-c", "a | b"]),
        ("echo $HOME", ["/bin/sh", "-c", "echo $HOME"]),
        ("say 'unclosed", ["/bin/sh", "-c", "say 'unclosed"]),
    ],
)
def test_shell_syntax_asks_for_a_shell(command: str, argv: list[str]) -> None:
    assert command_argv(command) == argv


def gone(pid: int) -> bool:
    """Whether `pid` has ended (a zombie waiting for its parent has ended too). A SIGKILL
    just sent may take a moment to land: this waits for it, with a ceiling far below the
    600 s that the processes here would otherwise live."""
    status = Path(f"/proc/{pid}/status")
    for _ in range(200):
        try:
            if "State:\tZ" in status.read_text():
                return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def open_pipes() -> list[str]:
    """The pipes this process holds open (by kernel identity)."""
    pipes = []
    for fd in list(Path("/proc/self/fd").iterdir()):
        with contextlib.suppress(OSError):  # the listing's own descriptor, closed by now
            link = str(fd.readlink())
            if link.startswith("pipe:"):
                pipes.append(link)
    return sorted(pipes)


def open_pollers() -> set[int]:
    """The epoll instances this process holds open, by inode (their links all read alike)."""
    found = set()
    for fd in list(Path("/proc/self/fd").iterdir()):
        with contextlib.suppress(OSError):
            if str(fd.readlink()) == "anon_inode:[eventpoll]":
                found.add(fd.stat().st_ino)
    return found


def wait_for_pid(pidfile: Path) -> int:
    for _ in range(2400):  # waits on the command starting; the bound is only a ceiling
        if pidfile.exists() and pidfile.read_text().strip():
            return int(pidfile.read_text().strip())
        time.sleep(0.05)
    raise AssertionError("the command never wrote its pid")


def test_the_last_lines_come_back_cut_to_length_and_undecodable_bytes_replaced(
    tmp_path: Path,
) -> None:
    """Only the last 5 lines are kept, each cut at 200 characters; bytes that are not UTF-8
    are shown as U+FFFD, not an error."""
    script = tmp_path / "prints.py"
    script.write_text(
        "import sys\n"
        'sys.stdout.buffer.write(b"l1\\nl2\\nl3\\n" + b"x" * 300 + b"\\nbad \\xff\\nl4\\nl5\\n")\n',
        encoding="utf-8",
    )
    outcome = run_verify(f"{sys.executable} {script}", b"", timeout=30)
    assert outcome == VerifyOutcome(0, False, ("l3", "x" * 200, "bad \ufffd", "l4", "l5"))


def test_output_is_kept_in_bounded_memory_whatever_the_command_prints() -> None:
    """100 MB of output: what the runner keeps is a few tens of kilobytes (the tail), not
    the output, and the tail is still its end. (The bound is on the whole process's peak: it
    leaves room for whatever else runs in it - the emulator's thread, a mutation tool - and
    sits far below what keeping even a quarter of the output would take.)"""
    command = "head -c 100000000 /dev/zero | tr '\\0' y; echo; echo end"
    tracemalloc.start()
    try:
        outcome = run_verify(command, b"", timeout=120)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert outcome.exit_code == 0 and outcome.output_tail[-1] == "end"
    assert peak < 24 * 1024 * 1024, f"peak {peak} bytes"


def test_a_value_larger_than_a_pipe_while_the_command_answers_as_it_reads() -> None:
    """1 MB on stdin to a command that writes back what it reads (cat): neither side waits
    on the other (the value goes in as the output comes out), and it all comes back masked."""
    value = b"k" * 1_000_000
    outcome = run_verify("sh -c 'cat; echo; echo done'", value, timeout=120)
    assert outcome == VerifyOutcome(0, False, ("****", "done"))


def test_a_command_that_does_not_read_its_value_is_judged_by_its_exit() -> None:
    assert run_verify("sh -c 'exit 4'", b"v" * 1_000_000, timeout=60) == VerifyOutcome(4, False)
    assert run_verify("true", b"v" * 1_000_000, timeout=60).passed


def test_a_process_that_left_the_group_holding_the_output_does_not_hold_us(
    tmp_path: Path,
) -> None:
    """The command exits at once, leaving a process in a session of its own that keeps the
    output pipe open for ten minutes: we return with the command's exit (after a short
    grace), and give back every descriptor we opened."""
    pidfile = tmp_path / "escaped.pid"
    before, pollers = open_pipes(), open_pollers()
    try:
        outcome = run_verify(
            f"sh -c 'setsid sleep 600 & echo $! > {pidfile}; echo bye; exit 1'", b"v", timeout=600
        )
        assert outcome == VerifyOutcome(1, False, ("bye",))
        # Pipes and pollers by their inode, not descriptors by number: other threads of this
        # process (the emulator's, in one-process runs) open and close sockets meanwhile.
        assert set(open_pipes()) <= set(before)
        assert open_pollers() <= pollers  # the one that waited out the grace is closed too
    finally:
        with contextlib.suppress(ProcessLookupError, ValueError, FileNotFoundError):
            os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)


def test_the_time_limit_holds_for_a_command_that_closed_its_output() -> None:
    """Both pipes closed (no value, output closed by the command), the command still running:
    it is stopped at its time like any other."""
    # The text is the script itself (run by one /bin/sh): no outer shell keeps the output.
    outcome = run_verify("exec >&- 2>&-; sleep 600", b"", timeout=1)
    assert outcome == VerifyOutcome(None, True)


def test_a_single_process_past_its_time_is_stopped() -> None:
    """No shell, one process: SIGTERM ends it and the group is empty when SIGKILL follows."""
    assert command_argv("sleep 600") == ["sleep", "600"]
    assert run_verify("sleep 600", b"v", timeout=1) == VerifyOutcome(None, True)


def test_a_command_ignoring_sigterm_past_its_time_is_killed(tmp_path: Path) -> None:
    pidfile = tmp_path / "stubborn.pid"
    # The text is the script itself: the group's leader is the shell that ignores TERM, so
    # the grace after SIGTERM runs out and SIGKILL ends it.
    outcome = run_verify(f"trap '' TERM; echo $$ > {pidfile}; sleep 600", b"v", timeout=1)
    assert outcome == VerifyOutcome(None, True)
    assert gone(int(pidfile.read_text()))


def test_what_a_finished_command_left_running_in_its_group_is_stopped(tmp_path: Path) -> None:
    """The command exits 0 and leaves a child in its group: the child held the value (it
    could read stdin) and must not outlive the verification."""
    pidfile = tmp_path / "child.pid"
    outcome = run_verify(f"sh -c 'sleep 600 & echo $! > {pidfile}'", b"v", timeout=600)
    assert outcome.passed
    assert gone(int(pidfile.read_text()))


def test_a_stop_signal_while_the_command_runs_stops_its_group_and_is_raised(
    tmp_path: Path,
) -> None:
    """SIGTERM to us while the command runs: the command's whole group is stopped and
    `Stopped` reaches the caller (which says how to resume)."""
    pidfile = tmp_path / "verify.pid"

    def stop_us() -> None:
        wait_for_pid(pidfile)
        os.kill(os.getpid(), signal.SIGTERM)

    stopper = threading.Thread(target=stop_us)
    before = open_pipes()
    try:
        with stopping.stop_on_signals():
            stopper.start()
            with pytest.raises(stopping.Stopped) as stopped:
                run_verify(f"sh -c 'echo $$ > {pidfile}; sleep 600; true'", b"v", timeout=600)
        stopper.join()
        # Our ends of its pipes are closed even while the exception (and the frames it
        # holds) is alive: a caller that keeps it does not keep the command's pipes.
        assert open_pipes() == before
    finally:
        with stopping.stop_on_signals():  # as the next command would: no stop asked yet
            pass
    assert not stopping.requested()
    assert stopped.value.signum == signal.SIGTERM
    assert gone(int(pidfile.read_text()))


def test_check_runnable_looks_in_the_path_it_is_given(tmp_path: Path) -> None:
    """The environment the command will run with decides where it is found, not ours."""
    tool = tmp_path / "check-db-xyz"
    tool.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    tool.chmod(0o755)
    check_runnable("check-db-xyz --now", "--verify-cmd", {"PATH": str(tmp_path)})
    with pytest.raises(CliError) as missing:
        check_runnable("check-db-xyz --now", "--verify-cmd", {"PATH": "/nonexistent"})
    assert missing.value.message == (
        "--verify-cmd: command 'check-db-xyz' not found; nothing was changed"
    )


def test_what_the_command_printed_before_it_ended_is_shown_however_late_we_look(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """We get to look only after the command ended and with no grace left (as a process
    starved of CPU on a loaded machine does): what it printed is in the pipe already and is
    still shown. The supervisor is handed a command that has ended, so that no read can
    happen while it runs."""
    import subprocess

    import envsecrets.backends.verify as verify
    from envsecrets.core.masking import MaskFilter

    monkeypatch.setattr(verify, "DRAIN_SECONDS", 0.0)
    process = subprocess.Popen(
        ["printf", "a\\nb\\n"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    process.wait()
    try:
        outcome = verify._Supervisor(process, b"", MaskFilter([])).run(timeout=30)
    finally:
        assert process.stdout is not None
        process.stdout.close()
    assert outcome == VerifyOutcome(0, False, ("a", "b"))


def test_all_a_command_left_in_its_output_is_read_not_one_read_of_it() -> None:
    """A command may print far more than one read takes (here 300 kB into a pipe it made
    larger) and end before we read any of it: its last lines, the ones shown, are still read
    (the pipe is read to its end within the grace, not once)."""
    import subprocess

    import envsecrets.backends.verify as verify
    from envsecrets.core.masking import MaskFilter

    printer = (
        "import fcntl, sys; fcntl.fcntl(1, 1031, 1 << 20)"  # F_SETPIPE_SZ: 1 MiB
        "; sys.stdout.write('x' * 300_000 + '\\nthe last line\\n'); sys.exit(3)"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", printer], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    process.wait()
    try:
        outcome = verify._Supervisor(process, b"", MaskFilter([])).run(timeout=30)
    finally:
        assert process.stdout is not None
        process.stdout.close()
    assert outcome.exit_code == 3
    assert outcome.output_tail[-1] == "the last line"
    assert verify.READ_SIZE < 300_000  # more than one read's worth was waiting
