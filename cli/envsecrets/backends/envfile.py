"""A `.env` file as a migration source, parsed by python-dotenv (never by hand).

dotenv's own parser handles quotes, escapes, `export `, multi-line values and comments, and
marks each binding it could not parse, with its line: a file with any such line is refused
(exit 2, naming the lines) before anything is read from AWS, so nothing is half-migrated.
Interpolation (`${OTHER}`) is off: the text after `=` is migrated as written.
"""

from __future__ import annotations

import io
import os
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from envsecrets.core.migration import SourceItem, key_to_path
from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode

MAX_FILE_BYTES = 10 * 1024 * 1024  # a .env larger than this is not a .env


class EnvFileSource:
    """The variables of one `.env` file; `STRIPE_SECRET_KEY` becomes `stripe-secret-key`
    unless `keep_case`."""

    kind = "env-file"

    def __init__(self, path: Path, *, keep_case: bool = False) -> None:
        self.path = path
        self.label = str(path)
        self.keep_case = keep_case
        self._items = self._parse()

    def _read(self) -> str:
        if not self.path.exists():
            raise CliError(
                ExitCode.NOT_FOUND,
                f"{self.path}: no such file",
                "check the path of the .env file (a relative path starts from the current folder)",
            )
        if not self.path.is_file():
            raise CliError(
                ExitCode.USAGE,
                f"{self.path}: not a file",
                "give the path of a .env file itself, not of a folder or a device",
            )
        try:
            if self.path.stat().st_size > MAX_FILE_BYTES:
                raise CliError(
                    ExitCode.USAGE,
                    f"{self.path}: too large for a .env file",
                    f"a .env file is at most {MAX_FILE_BYTES // 2**20} MiB of KEY=VALUE lines: "
                    "check that this is the file you meant",
                )
            data = self.path.read_bytes()
        except OSError as exc:
            raise CliError(
                ExitCode.USAGE,
                f"{self.path}: cannot read: {exc.strerror}",
                "check that your user can read the file (its permissions and owner)",
            ) from None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CliError(
                ExitCode.USAGE,
                f"{self.path}: not a .env file (not UTF-8 text)",
                "a .env file holds KEY=VALUE lines",
            ) from None

    def _parse(self) -> list[SourceItem]:
        from dotenv.parser import parse_stream

        text = self._read()
        values: dict[str, tuple[str | None, int]] = {}
        broken: list[int] = []
        for binding in parse_stream(io.StringIO(text)):
            if binding.error:
                broken.append(binding.original.line)
            elif binding.key is not None:
                # Like dotenv: a key given twice takes its last value.
                values.pop(binding.key, None)
                values[binding.key] = (binding.value, binding.original.line)
        if broken:
            lines = ", ".join(str(n) for n in broken[:10]) + (" ..." if len(broken) > 10 else "")
            what = "line" if len(broken) == 1 else "lines"
            raise CliError(
                ExitCode.USAGE,
                f"{self.path}: not a valid .env file: cannot parse {what} {lines}",
                "each line must be KEY=VALUE, a comment (#) or blank; nothing was migrated",
            )
        if not values and text.strip() and not _only_comments(text):
            raise CliError(
                ExitCode.USAGE,
                f"{self.path}: not a .env file (no KEY=VALUE lines)",
                "a .env file holds KEY=VALUE lines: check that this is the file you meant",
            )
        items = []
        for key, (value, line) in values.items():
            problem = None
            if value is None:
                problem = f"line {line}: {key} has no '=' and no value"
            elif value == "":
                problem = f"line {line}: {key} is empty"
            items.append(
                SourceItem(
                    key=key,
                    relative=key_to_path(key, keep_case=self.keep_case),
                    value=SecretValue(value) if value else None,
                    origin=f"env-file:{self.path}:{key}",
                    problem=problem,
                )
            )
        return items

    def items(self) -> Iterator[SourceItem]:
        yield from self._items

    def descriptions(self, keys: Sequence[str]) -> dict[str, str]:
        return {}

    def remove(self, keys: Sequence[str]) -> dict[str, str | None]:
        """Rewrite the file without these keys' lines (every occurrence), keeping everything
        else byte for byte; atomically, with the file's mode kept."""
        from dotenv.parser import parse_stream

        gone = set(keys)
        try:
            # Parse the file as it is now, so lines edited since the plan are kept as edited.
            current = self.path.read_text(encoding="utf-8-sig")
            pieces = [(b.key, b.original.string) for b in parse_stream(io.StringIO(current))]
            _replace_file(self.path, "".join(p for key, p in pieces if key not in gone))
        except (OSError, UnicodeDecodeError) as exc:
            return dict.fromkeys(keys, f"cannot rewrite {self.path}: {exc}")
        return dict.fromkeys(keys)


def _replace_file(path: Path, text: str) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())
