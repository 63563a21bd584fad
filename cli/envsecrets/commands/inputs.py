"""Where a new value comes from: --stdin, --from-file, or a hidden prompt. Never argv."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO

from envsecrets.core.values import MAX_VALUE_BYTES, SecretValue
from envsecrets.errors import CliError, ExitCode


def read_new_value(*, stdin: bool, from_file: Path | None, label: str) -> SecretValue:
    """The value for `label` from exactly one source; bytes from a file are kept exactly,
    one trailing newline is stripped from stdin."""
    if stdin and from_file is not None:
        raise CliError(
            ExitCode.USAGE,
            "--stdin and --from-file cannot be used together",
            "keep one: --stdin reads the value piped in, --from-file PATH reads a file",
        )
    if from_file is not None:
        return read_value_file(from_file)
    if stdin:
        return read_stdin_value()
    if _piped_at_a_terminal():
        # Not "no terminal to ask": there is one, but the value on stdin was not asked for.
        raise CliError(
            ExitCode.USAGE,
            "a value is piped in, but --stdin was not given",
            "pass --stdin to read the piped value",
        )
    from envsecrets.ui.prompts import ask_new_value

    return ask_new_value(label)


def _piped_at_a_terminal() -> bool:
    """stdin carries something (not a terminal) while stderr is a terminal: someone piped a
    value and forgot --stdin."""
    try:
        return (
            sys.stdin is not None
            and not sys.stdin.closed
            and not sys.stdin.isatty()
            and sys.stderr is not None
            and sys.stderr.isatty()
        )
    except (OSError, ValueError):
        return False


def read_stdin_value() -> SecretValue:
    """The value piped in on stdin, one trailing newline stripped; at most the limit is read
    (a runaway producer is refused after MAX_VALUE_BYTES, not read into memory whole)."""
    stdin = sys.stdin
    if stdin is None or stdin.closed:  # `secrets set X --stdin <&-`
        raise CliError(
            ExitCode.USAGE,
            "--stdin given but stdin is closed",
            "pipe the value in, e.g. `pbpaste | secrets set NAME --stdin`",
        )
    if stdin.isatty():
        raise CliError(
            ExitCode.USAGE,
            "--stdin given but stdin is a terminal",
            "pipe the value in (e.g. `pbpaste | secrets set NAME --stdin`) or drop --stdin "
            "to be asked at a hidden prompt",
        )
    # Two more bytes than the limit: a value of exactly the limit may be followed by "\r\n".
    data = _read_at_most(stdin.buffer, MAX_VALUE_BYTES + 2, what="--stdin")
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    if not data:
        raise CliError(ExitCode.USAGE, "--stdin: nothing was read from stdin", "pipe a value in")
    return SecretValue.from_bytes(data)


def read_value_file(path: Path) -> SecretValue:
    """The bytes of `path` exactly, read up to the limit (`/dev/zero` is refused, not read)."""
    try:
        with path.open("rb") as handle:
            data = _read_at_most(handle, MAX_VALUE_BYTES, what=f"--from-file {path}")
    except FileNotFoundError:
        raise CliError(
            ExitCode.NOT_FOUND,
            f"--from-file: {path} does not exist",
            "check the path (a relative path starts from the current folder)",
        ) from None
    except IsADirectoryError:
        raise CliError(
            ExitCode.USAGE,
            f"--from-file: {path} is a folder, not a file",
            "give the path of the file that holds the value",
        ) from None
    except OSError as exc:
        raise CliError(
            ExitCode.USAGE,
            f"--from-file: cannot read {path} ({exc.strerror})",
            "check that your user can read the file (its permissions and owner)",
        ) from None
    if not data:
        raise CliError(
            ExitCode.USAGE,
            f"--from-file: {path} is empty",
            "a secret needs a non-empty value: put it in the file, or pipe it in with --stdin",
        )
    return SecretValue.from_bytes(data)


def _read_at_most(stream: BinaryIO, limit: int, *, what: str) -> bytes:
    """Everything `stream` holds, refused (exit 2) as soon as it is known to exceed `limit`
    bytes: never more than `limit` + 1 bytes are read."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise CliError(
            ExitCode.USAGE,
            f"{what}: the value is over {MAX_VALUE_BYTES} bytes, Secrets Manager's limit "
            "(reading stopped there)",
            "store large files elsewhere (e.g. S3 with KMS) and keep only a key here",
        )
    return b"".join(chunks)


def parse_tags(pairs: list[str]) -> dict[str, str]:
    """`--tag K=V` options as a dict."""
    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(
                ExitCode.USAGE,
                f"--tag {pair!r}: expected KEY=VALUE",
                "give each tag as --tag KEY=VALUE, e.g. --tag team=payments",
            )
        # AWS's tag rules, checked before anything is written (a refused TagResource after
        # the value was put would leave the write half done).
        if len(key) > 128 or len(value) > 256:
            raise CliError(
                ExitCode.USAGE,
                f"--tag {key}: keys are at most 128, values 256 characters",
                "shorten the tag's key or value",
            )
        if key.lower().startswith("aws:"):
            raise CliError(
                ExitCode.USAGE,
                f"--tag {key}: the 'aws:' prefix is reserved by AWS",
                "choose a key that does not start with 'aws:', e.g. team or owner",
            )
        tags[key] = value
    return tags
