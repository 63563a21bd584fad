"""Reusable leak checks: a canary value must appear only where it must.

Use it from any command's tests (rotate, diff, migrate, ...):

    from tests.leaks import assert_no_leak, binary_canary, run_watched, text_canary

    canary = text_canary()                       # unique per call
    cli("set", "dev/x", "--stdin", input=canary)
    assert_no_leak(cli("diff", "dev", "staging", "--json"), canary)      # stdout and stderr
    assert_no_leak(run, canary, streams=("stderr",))                     # when stdout must hold it
    run = run_watched(["set", "dev/x", "--stdin"], canary, input=canary)  # subprocess; argv and
                                                                          # environ of every process
                                                                          # sampled while it runs
    assert_no_leak_in_files(tmp_root, canary, allowed={output_file})

A canary is looked for in every form it could take on the way out: raw, UTF-8, JSON-escaped,
`repr`-escaped, base64 and hex (the last two catch a binary value printed as an encoding).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from tests.conftest import SECRETS_BIN, Run

Canary = str | bytes


def text_canary() -> str:
    """A unique text value that no output would contain by chance."""
    return f"canary-{secrets.token_hex(12)}-value"


def binary_canary() -> bytes:
    """A unique binary value (NUL and non-UTF-8 bytes, so it is stored as SecretBinary)."""
    return b"\x00\xffcanary-bin-" + secrets.token_hex(12).encode() + b"\x01\xfe"


def forms(canary: Canary) -> list[bytes]:
    """Every byte string whose presence in an output means the value leaked."""
    raw = canary.encode() if isinstance(canary, str) else canary
    found = {raw, base64.b64encode(raw), raw.hex().encode(), repr(raw)[2:-1].encode()}
    if isinstance(canary, str):
        found.add(json.dumps(canary)[1:-1].encode())
        found.add(repr(canary)[1:-1].encode())
    else:
        # the distinctive middle of a binary canary, in case only part of it is printed
        found.add(raw[2:-2])
    return sorted(found, key=len)


def leaks_in(data: str | bytes, canary: Canary) -> list[bytes]:
    """The forms of `canary` that occur in `data`."""
    blob = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    return [form for form in forms(canary) if form in blob]


def assert_no_leak(
    run: Run | str | bytes, canary: Canary, *, streams: Sequence[str] = ("stdout", "stderr")
) -> None:
    """Fail when the canary shows in the named streams of `run` (or in the given text)."""
    if isinstance(run, str | bytes):
        found = leaks_in(run, canary)
        assert not found, f"canary leaked: {found!r}"
        return
    for stream in streams:
        data = run.stdout_bytes if stream == "stdout" else run.stderr.encode("utf-8", "replace")
        found = leaks_in(data, canary)
        assert not found, f"canary leaked on {stream}: {found!r}\n{run.stderr}"


def assert_no_leak_in_files(root: Path, canary: Canary, *, allowed: Iterable[Path] = ()) -> None:
    """No file under `root` (caches, configs, histories) holds the canary, except `allowed`."""
    skip = {Path(p).resolve() for p in allowed}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.resolve() not in skip:
            found = leaks_in(path.read_bytes(), canary)
            assert not found, f"canary leaked into {path}"


# -- processes --------------------------------------------------------------------------------


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:  # noqa: PTH123 - /proc files: plain open is clearest
            return handle.read()
    except OSError:  # the process ended while we looked, or we may not read it
        return b""


def descendants(pid: int) -> set[int]:
    """`pid` and every process below it (from /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):  # noqa: PTH208 - a hot loop over /proc
        if entry.isdigit():
            stat = _read(f"/proc/{entry}/stat")
            if stat:
                parent = int(stat.rsplit(b")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        found.add(current)
        todo.extend(children.get(current, ()))
    return found


class ProcessWatch:
    """Samples the argv of every process on the machine, and the argv and environment of
    `root_pid`'s process tree, until stopped; records where the canary was seen."""

    def __init__(self, canary: Canary, *, interval: float = 0.002) -> None:
        self.canary = canary
        self.interval = interval
        self.root_pid: int | None = None
        self.hits: list[str] = []
        self.samples = 0
        self.watched_pids: set[int] = set()
        self.root_argv_seen = False  # the watched process's own argv was read at least once
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> ProcessWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        for entry in os.listdir("/proc"):  # noqa: PTH208 - a hot loop over /proc
            if entry.isdigit() and leaks_in(_read(f"/proc/{entry}/cmdline"), self.canary):
                self.hits.append(f"argv of pid {entry}")
        if self.root_pid is not None:
            if _read(f"/proc/{self.root_pid}/cmdline"):
                self.root_argv_seen = True
            for pid in descendants(self.root_pid):
                self.watched_pids.add(pid)
                if leaks_in(_read(f"/proc/{pid}/environ"), self.canary):
                    self.hits.append(f"environment of pid {pid}")
        self.samples += 1


def run_watched(
    args: Sequence[str],
    canary: Canary,
    *,
    input: str | bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> Run:
    """Run the installed `secrets ARGS` while sampling every process's argv (and the
    environment of its own process tree); fail if the canary shows in either. Slow the run
    down (e.g. proxy latency) when the command is too quick to be sampled mid-flight."""
    data = input.encode() if isinstance(input, str) else input
    with ProcessWatch(canary) as watch:
        process = subprocess.Popen(
            [SECRETS_BIN, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        watch.root_pid = process.pid
        watch.sample()
        out, err = process.communicate(data, timeout=timeout)
    assert watch.samples >= 2
    assert watch.root_argv_seen, "the process ended before it could be sampled: slow it down"
    assert not watch.hits, f"canary seen in {sorted(set(watch.hits))}"
    return Run(
        process.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), out
    )
