"""`secrets export`: variables written as dotenv, JSON, YAML or shell, for tools that insist.

Each format reads back to the exact values:
- dotenv: exact for python-dotenv always, and for Node's parsers (npm `dotenv` 16,
  `util.parseEnv`) wherever one form is exact for both: a value raw in single quotes (Node
  reads them raw; python-dotenv decodes only `\\\\` and `\\'`, so `#`, `$`, `"`, a lone
  backslash and newlines stay as they are), or, with a `'` in it, raw in double quotes. Other
  values (a `'` with a `"`, a backslash or a newline; `\\\\`; a final backslash; a carriage
  return) have no form both families read: they get python-dotenv's escapes (single quotes,
  `\\\\` and `\\'`; or double quotes with `\\r`/`\\n` when a value holds a carriage return,
  which a file read with universal newlines would turn into `\\n`). python-dotenv has no escape
  for `${NAME}`: read the file with `interpolate=False` to keep such a value as written.
- json and yaml: one mapping of names to values (PyYAML, every string double-quoted so that no
  value is read back as a number, a boolean or a date).
- shell: `export NAME='...'` lines, `'` written as `'\\''`, safe to `eval` in sh, bash and zsh;
  names the shell owns (`PATH`, `UID`, `_`, ...) are refused rather than clobbered.

Variables hold text: a binary value cannot be exported (`run` delivers it as a file), and the
formats that end in an environment (dotenv, shell) refuse a value holding a NUL byte, which no
environment variable can carry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from envsecrets.core.scopes import Variable
from envsecrets.errors import CliError, ExitCode

FORMATS = ("dotenv", "json", "yaml", "shell")
# Names that sh, bash or zsh set themselves, make read-only, or run the shell by: `export`ing
# them is an error or breaks the shell that evals the output.
SHELL_OWNED = frozenset(
    {
        "_",
        "BASHOPTS",
        "BASHPID",
        "BASH_ENV",
        "BASH_VERSINFO",
        "ENV",
        "EPOCHREALTIME",
        "EPOCHSECONDS",
        "EUID",
        "FUNCNAME",
        "GROUPS",
        "HISTCMD",
        "HOME",
        "IFS",
        "LINENO",
        "OPTARG",
        "OPTIND",
        "PATH",
        "PPID",
        "PS4",
        "PWD",
        "RANDOM",
        "SECONDS",
        "SHELLOPTS",
        "SHLVL",
        "SRANDOM",
        "UID",
    }
)


def render_export(variables: Sequence[Variable], fmt: str) -> bytes:
    """The document for `variables` in `fmt` (one of FORMATS)."""
    if fmt not in FORMATS:
        raise CliError(
            ExitCode.USAGE, f"unknown format '{fmt}'", f"use one of: {', '.join(FORMATS)}"
        )
    if fmt == "shell":
        owned = [v for v in variables if v.name in SHELL_OWNED]
        if owned:
            raise CliError(
                ExitCode.USAGE,
                f"{owned[0].source} becomes {owned[0].name}, which the shell sets itself",
                "leave it out with --only, or rename the secret",
            )
    texts = {v.name: _text_of(v, fmt) for v in variables}
    renderers: dict[str, Callable[[dict[str, str]], str]] = {
        "dotenv": _dotenv,
        "json": _json,
        "yaml": _yaml,
        "shell": _shell,
    }
    return renderers[fmt](texts).encode("utf-8")


def _text_of(variable: Variable, fmt: str) -> str:
    if variable.value.is_binary:
        raise CliError(
            ExitCode.USAGE,
            f"{variable.source} is binary ({variable.value.size} bytes); --format {fmt} "
            "holds text only",
            "leave it out with --only, or use `secrets run` (files keep exact bytes) or "
            "`secrets get NAME --output FILE`",
        )
    text = variable.value.text()
    if "\0" in text and fmt in ("dotenv", "shell"):
        raise CliError(
            ExitCode.USAGE,
            f"{variable.source} holds a NUL character, which no environment variable can carry",
            "use --format json or yaml, or `secrets run` (files keep exact bytes)",
        )
    return text


def node_reads_exactly(text: str) -> bool:
    """Whether `dotenv_quote(text)` reads back exactly with Node's parsers too (npm `dotenv`
    16 and Node's `util.parseEnv`), as well as with python-dotenv."""
    return _plain_single_quoted(text) or _plain_double_quoted(text)


def _plain_single_quoted(text: str) -> bool:
    # Node's parsers take '...' raw; python-dotenv decodes only \\ and \' inside it (and a
    # final \ would escape the closing quote). Carriage returns are normalised by all.
    return not ("'" in text or "\r" in text or "\\\\" in text or text.endswith("\\"))


def _plain_double_quoted(text: str) -> bool:
    # A value with a ' reads exactly in double quotes when nothing in it is an escape to
    # any of them: no backslash, no quote, no line break.
    return not any(c in text for c in '"\\\n\r')


def dotenv_quote(text: str) -> str:
    """`text` quoted so that python-dotenv reads back exactly `text` - and Node's parsers too
    where one form is exact for both families (`node_reads_exactly`): raw in single quotes,
    else raw in double quotes. Other values get python-dotenv's escapes."""
    if _plain_single_quoted(text):
        return f"'{text}'"
    if _plain_double_quoted(text):
        return f'"{text}"'
    if "\r" not in text:
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r").replace("\n", "\\n")
    )
    return f'"{escaped}"'


def shell_quote(text: str) -> str:
    """`text` in single quotes for sh, bash and zsh: nothing inside is expanded."""
    return "'" + text.replace("'", "'\\''") + "'"


def _dotenv(texts: dict[str, str]) -> str:
    return "".join(f"{name}={dotenv_quote(text)}\n" for name, text in texts.items())


def _shell(texts: dict[str, str]) -> str:
    return "".join(f"export {name}={shell_quote(text)}\n" for name, text in texts.items())


def _json(texts: dict[str, str]) -> str:
    return json.dumps(texts, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _yaml(texts: dict[str, str]) -> str:
    import yaml

    if not texts:
        return "{}\n"
    # Double quotes everywhere: a plain `yes`, `0755` or `2026-01-01` would read back as a
    # boolean, a number or a date, and the double-quoted style escapes every character YAML
    # would otherwise normalise (line breaks, NEL, BOM).
    dumped: str = yaml.safe_dump(
        texts, default_style='"', allow_unicode=True, sort_keys=True, width=1 << 30
    )
    return dumped
