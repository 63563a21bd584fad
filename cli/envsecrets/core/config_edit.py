"""Edits to `secrets.toml` that keep the user's comments, order and formatting (tomlkit).

`add_function_secrets` is text in, text out; `record_function_secrets` reads the file, edits it
and writes it back with `envsecrets.core.files.write_text_atomically`, so a crash never leaves
half a config file behind, and a symlinked `secrets.toml` is edited where it points.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from envsecrets.errors import CliError, ExitCode

LONE_LF = re.compile(r"(?<!\r)\n")


def record_function_secrets(path: Path, function: str, paths: Sequence[str]) -> None:
    """Add `paths` to `[functions.<function>] secrets` in the file at `path` (created when
    absent). The file keeps its comments, a UTF-8 BOM, and CRLF line endings: lines added to
    a CRLF file end in CRLF too."""
    from envsecrets.core.files import shown_path, write_text_atomically

    try:
        data = path.read_bytes() if path.exists() else b""
        bom = data.startswith(codecs.BOM_UTF8)
        text = data[len(codecs.BOM_UTF8) if bom else 0 :].decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise CliError(
            ExitCode.USAGE,
            f"cannot read {shown_path(path)}: {reason}",
            "fix the file (it must be readable UTF-8 TOML), then run again",
        ) from None
    edited = add_function_secrets(text, function, paths)
    if "\r\n" in text and not LONE_LF.search(text):
        edited = LONE_LF.sub("\r\n", edited)
    write_text_atomically(path, ("\ufeff" if bom else "") + edited)


def add_function_secrets(text: str, function: str, paths: Sequence[str]) -> str:
    """`text` with `paths` added to `[functions.<function>] secrets` (created if absent).

    Paths already listed stay where they are; new ones are appended in the given order. Every
    comment and blank line of the document is kept.
    """
    import tomlkit
    from tomlkit.exceptions import TOMLKitError
    from tomlkit.items import Array

    try:
        document = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise CliError(
            ExitCode.USAGE,
            f"secrets.toml is not valid TOML: {exc}",
            "fix secrets.toml at the line and column given, then run again",
        ) from None
    functions = document.get("functions")
    if functions is None:
        functions = tomlkit.table(is_super_table=True)
        document["functions"] = functions
    elif not isinstance(functions, dict):
        raise CliError(
            ExitCode.USAGE,
            "secrets.toml: functions must be a table",
            'declare each function as a [functions.NAME] table with secrets = ["api/key", ...]',
        )
    entry = functions.get(function)
    if entry is None:
        entry = tomlkit.table()
        functions[function] = entry
    elif not isinstance(entry, dict):
        raise CliError(
            ExitCode.USAGE,
            f"secrets.toml: functions.{function} must be a table",
            f'write it as a [functions.{function}] table with secrets = ["api/key", ...]',
        )
    listed = entry.get("secrets")
    if listed is None:
        listed = tomlkit.array()
        entry["secrets"] = listed
    elif not isinstance(listed, Array):
        raise CliError(
            ExitCode.USAGE,
            f"secrets.toml: functions.{function}.secrets must be a list",
            f'write it as secrets = ["api/key", ...] under [functions.{function}]',
        )
    new = [p for p in dict.fromkeys(paths) if p not in listed]
    if len(listed) + len(new) > 3:
        listed.multiline(True)
    for path in new:
        listed.append(path)
    return tomlkit.dumps(document)


def set_rotation_plan(text: str, path: str, entry: Mapping[str, Any]) -> str:
    """`text` with `[rotation]` `"<path>" = { ... }` set to `entry` (an existing entry for
    `path` is replaced, in place); the table is created at the end if absent. Every comment
    and blank line of the document is kept. `entry` holds strings, numbers, booleans and one
    level of tables (`generate`)."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        document = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise CliError(
            ExitCode.USAGE,
            f"secrets.toml is not valid TOML: {exc}",
            "fix secrets.toml at the line and column given, then run again",
        ) from None
    rotation = document.get("rotation")
    if rotation is None:
        rotation = tomlkit.table()
        document["rotation"] = rotation
    elif not isinstance(rotation, dict):
        raise CliError(
            ExitCode.USAGE,
            "secrets.toml: rotation must be a table",
            'declare plans as [rotation] "db/master" = { target = "rds:orders-{env}" }',
        )
    inline = tomlkit.inline_table()
    for key, value in entry.items():
        if isinstance(value, Mapping):
            nested = tomlkit.inline_table()
            nested.update(dict(value))
            inline[key] = nested
        else:
            inline[key] = value
    rotation[path] = inline
    return tomlkit.dumps(document)
