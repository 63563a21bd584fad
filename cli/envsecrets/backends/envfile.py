"""A `.env` file as a migration source, parsed by python-dotenv (never by hand).

dotenv's own parser handles quotes, escapes, `export `, multi-line values and comments, and
marks each binding it could not parse, with its line: a file with any such line is refused
(exit 2, naming the lines) before anything is read from AWS, so nothing is half-migrated.
Interpolation (`${OTHER}`) is off: the text after `=` is migrated as written.

Removing migrated lines (`--delete-source`) edits the file itself: through a symlink, the
file it points to (atomically, in that file's folder, its mode kept), keeping a UTF-8 BOM and
the line endings (CRLF too) of every line that stays, byte for byte.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from envsecrets.core.files import shown_path, write_text_atomically
from envsecrets.core.migration import SourceItem, key_to_path
from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode

if TYPE_CHECKING:
    from dotenv.parser import Binding

MAX_FILE_BYTES = 10 * 1024 * 1024  # a .env larger than this is not a .env


class EnvFileSource:
    """The variables of one `.env` file; `STRIPE_SECRET_KEY` becomes `stripe-secret-key`
    unless `keep_case`."""

    kind = "env-file"

    def __init__(self, path: Path, *, keep_case: bool = False) -> None:
        self.path = path
        self.label = shown_path(path)  # a name that is not UTF-8 is shown with \x escapes
        self.files: tuple[Path, ...] = (path,)
        self.keep_case = keep_case
        self._items = self._parse()

    def _read(self) -> str:
        if not self.path.exists():
            raise CliError(
                ExitCode.NOT_FOUND,
                f"{self.label}: no such file",
                "check the path of the .env file (a relative path starts from the current folder)",
            )
        if not self.path.is_file():
            raise CliError(
                ExitCode.USAGE,
                f"{self.label}: not a file",
                "give the path of a .env file itself, not of a folder or a device",
            )
        try:
            if self.path.stat().st_size > MAX_FILE_BYTES:
                raise CliError(
                    ExitCode.USAGE,
                    f"{self.label}: too large for a .env file",
                    f"a .env file is at most {MAX_FILE_BYTES // 2**20} MiB of KEY=VALUE lines: "
                    "check that this is the file you meant",
                )
            data = self.path.read_bytes()
        except OSError as exc:
            raise CliError(
                ExitCode.USAGE,
                f"{self.label}: cannot read: {exc.strerror}",
                "check that your user can read the file (its permissions and owner)",
            ) from None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CliError(
                ExitCode.USAGE,
                f"{self.label}: not a .env file (not UTF-8 text)",
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
                f"{self.label}: not a valid .env file: cannot parse {what} {lines}",
                "each line must be KEY=VALUE, a comment (#) or blank; nothing was migrated",
            )
        if not values and text.strip() and not _only_comments(text):
            raise CliError(
                ExitCode.USAGE,
                f"{self.label}: not a .env file (no KEY=VALUE lines)",
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
                    origin=f"env-file:{self.label}:{key}",
                    problem=problem,
                )
            )
        return items

    def items(self) -> Iterator[SourceItem]:
        yield from self._items

    def descriptions(self, keys: Sequence[str]) -> dict[str, str]:
        return {}

    def remove(self, items: Sequence[SourceItem]) -> dict[str, str | None]:
        """Rewrite the file without these items' lines (every occurrence of each key),
        keeping everything else byte for byte. A key whose value in the file is no longer
        the one migrated (edited since it was read) is kept and reported; a file with other
        hard links is left whole (the other names would keep the values)."""
        try:
            bom, bindings = self._bindings_now()
            if self.path.stat().st_nlink > 1:
                why = f"{self.label} has other hard links, which would keep the values"
                return {item.key: why for item in items}
        except (OSError, UnicodeDecodeError) as exc:
            return {item.key: f"cannot read {self.label} again: {_reason(exc)}" for item in items}
        current = {b.key: b.value for b in bindings if b.key is not None and not b.error}
        outcome: dict[str, str | None] = {}
        gone: set[str] = set()
        for item in items:
            if item.key not in current:
                outcome[item.key] = None  # removed already (a re-run)
            elif item.value is None or SecretValue(current[item.key] or "") != item.value:
                outcome[item.key] = f"changed in {self.label} since it was migrated; kept"
            else:
                gone.add(item.key)
        if not gone:
            return outcome
        kept = "".join(b.original.string for b in bindings if b.key not in gone)
        try:
            write_text_atomically(self.path, bom + kept)
        except CliError as exc:
            return outcome | dict.fromkeys(gone, exc.message)
        return outcome | self._check_gone(gone)

    def _bindings_now(self) -> tuple[str, list[Binding]]:
        """The file as it is now: its BOM ("" or U+FEFF) and its bindings, line endings as
        written (no newline translation)."""
        from dotenv.parser import parse_stream

        data = self.path.read_bytes()  # through a symlink: the file it points to
        bom = "\ufeff" if data.startswith(codecs.BOM_UTF8) else ""
        text = data[len(codecs.BOM_UTF8) if bom else 0 :].decode("utf-8")
        return bom, list(parse_stream(io.StringIO(text, newline="")))

    def _check_gone(self, gone: set[str]) -> dict[str, str | None]:
        """Read the file back: a key is reported removed only if it is no longer there."""
        try:
            _, bindings = self._bindings_now()
        except (OSError, UnicodeDecodeError) as exc:
            return dict.fromkeys(gone, f"cannot read {self.label} back: {_reason(exc)}")
        still = {b.key for b in bindings if b.key in gone}
        return {key: f"still in {self.label}" if key in still else None for key in gone}


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return "not UTF-8 text"


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())
