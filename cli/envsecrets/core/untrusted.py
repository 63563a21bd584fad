"""Reading files that strangers wrote: templates, serverless.yml, Terraform, task definitions.

`secrets audit` runs in CI on pull requests from people nobody vetted, so every infrastructure
file is hostile until read: a 1 KB YAML alias bomb expands to billions of nodes, 3,000 nested
brackets overflow Python's stack, and a 50 MB file eats memory. Each limit is refused as a usage
error (exit 2) long before a second has passed:

- size: at most MAX_FILE_BYTES are read (never the whole file first);
- nesting: at most MAX_DEPTH levels of mappings and lists (YAML, JSON and HCL alike);
- aliases: YAML anchors may add at most ALIAS_BUDGET nodes and ALIAS_BYTES bytes of scalars
  when expanded (merge keys `<<: *defaults` in serverless.yml spend a few; a bomb spends
  billions, and one large scalar behind thousands of aliases spends gigabytes);
  CloudFormation's `Fn::ForEach` expansion gets the same node budget;
- time and memory: at most MAX_NODES values in a YAML/JSON document, YAML of at most
  MAX_YAML_BYTES, Terraform of at most MAX_HCL_BYTES (each parser's cost per byte decides
  its limit; JSON, read in C, may be as large as MAX_FILE_BYTES).
"""

from __future__ import annotations

import errno
import os
import re
import select
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

try:  # libyaml scans and parses in C: several times faster than PyYAML's own parser
    from yaml import CParser as EventParser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - a PyYAML built without libyaml
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class EventParser(Reader, Scanner, Parser):  # type: ignore[no-redef]
        def __init__(self, stream: Any) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)


from envsecrets.errors import CliError, ExitCode

# CloudFormation's own template limit is 1 MB (S3-hosted); Terraform plans of large stacks are
# bigger, so the limit leaves room for those and refuses only what no template is.
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 100  # real templates nest about 20 deep; Python's stack would give out near 300
ALIAS_BUDGET = 100_000  # nodes that alias expansion may add to a YAML document
MAX_NODES = 1_000_000  # nodes in one YAML/JSON document (a 1 MB template has about 50,000)
# lark parses about 150 KiB of HCL a second and builds a large tree per token: a Terraform file
# over this is refused (the largest real ones are a few hundred KiB, most under 50).
MAX_HCL_BYTES = 512 * 1024
# PyYAML builds Python objects at about 1 MiB a second, even with libyaml scanning: YAML over
# this is refused (CloudFormation's own template limit is 1 MB). JSON is read by the json
# module at any size up to MAX_FILE_BYTES.
MAX_YAML_BYTES = 1024 * 1024
# What alias expansion may add, in bytes of scalars: a 1 MiB scalar behind 3,000 aliases is
# 3 GiB for whoever walks the document, though it loads at once.
ALIAS_BYTES = 2 * 1024 * 1024
STRINGS = re.compile(r'"(?:[^"\\\n]|\\.)*"')
BRACKETS = re.compile(r"[\[\]{}()]")


class UntrustedInputError(ValueError):
    """A file broke one of the limits; the message says which (never the file's content)."""


PIPE_WAIT_SECONDS = 5.0


def _read_at_most(path: Path, limit: int) -> bytes:
    """At most `limit` bytes of `path`. A named pipe is opened without waiting for a writer
    (a FIFO nobody writes to would hang the run) and read only once data comes, within
    PIPE_WAIT_SECONDS (`secrets audit <(cat template.yaml)` still works)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            ready, _, _ = select.select([fd], [], [], PIPE_WAIT_SECONDS)
            if not ready:
                raise OSError(errno.EAGAIN, "a pipe with nothing written to it")
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        size = 0
        while size < limit:
            chunk = os.read(fd, min(1 << 20, limit - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_limited(path: Path, what: str = "file") -> str:
    """The text of `path`: not found (exit 3) when missing, refused (usage error) when
    unreadable, over MAX_FILE_BYTES or not UTF-8. Reads at most the limit plus one byte,
    whatever the file's size."""
    try:
        data = _read_at_most(path, MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise CliError(
            ExitCode.NOT_FOUND,
            f"{what} {path} does not exist",
            "check the path (a relative path starts from the current folder)",
        ) from None
    except IsADirectoryError:
        raise CliError(
            ExitCode.USAGE,
            f"{what} {path} is a folder",
            "give a file, or a folder to `secrets audit` (it reads every file it knows)",
        ) from None
    except OSError as exc:
        raise CliError(
            ExitCode.USAGE,
            f"{what} {path}: cannot read ({exc.strerror or type(exc).__name__})",
            "give a named pipe only while something writes to it"
            if exc.errno == errno.EAGAIN
            else "check the file's permissions",
        ) from None
    if len(data) > MAX_FILE_BYTES:
        raise CliError(
            ExitCode.USAGE,
            f"{what} {path} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB",
            "infrastructure files are far smaller; check that this is the file you meant",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CliError(
            ExitCode.USAGE,
            f"{what} {path}: not UTF-8 text",
            "templates, serverless.yml and Terraform files are UTF-8 text",
        ) from None


def check_bracket_depth(text: str) -> None:
    """Refuse text whose `[`/`{`/`(` nesting passes MAX_DEPTH (brackets inside double-quoted
    strings do not count). For JSON and HCL, whose parsers recurse per level. Strings are
    dropped by one regular expression and only the brackets are walked: linear, and fast on
    megabytes."""
    depth = 0
    for bracket in BRACKETS.finditer(STRINGS.sub("", text)):
        if bracket.group() in "[{(":
            depth += 1
            if depth > MAX_DEPTH:
                raise UntrustedInputError(f"nested more than {MAX_DEPTH} levels deep")
        else:
            depth = max(0, depth - 1)


def check_size_of_document(text: str) -> None:
    """Refuse, before parsing, text that must hold more than MAX_NODES values: every comma and
    every line can start one. (Counting them is fast; PyYAML needs tens of seconds to reach
    the limit it enforces itself.)"""
    if text.count(",") + text.count("\n") > MAX_NODES:
        raise UntrustedInputError(f"more than {MAX_NODES:,} values in one document")


class BudgetedLoader(Composer, SafeConstructor, Resolver, EventParser):  # type: ignore[misc]
    """A safe YAML loader with a nesting limit and an alias-expansion budget.

    libyaml (C) turns the text into events; PyYAML's composer (Python) builds the nodes, so
    that each can be counted. The composer builds each node once and an alias reuses it, so a
    bomb loads fast; it is whoever walks the result that pays for every expansion. So the
    budget counts, at each alias, the size of the subtree it stands for, in nodes and in
    bytes of scalars (sizes are computed once per node).
    """

    def __init__(self, stream: Any) -> None:
        EventParser.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._depth = 0
        self._nodes = 0
        self._expanded = 0
        self._expanded_bytes = 0
        self._sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (nodes, bytes)

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            node = super().compose_node(parent, index)
            nodes, size = self._size(node)
            self._expanded += nodes
            self._expanded_bytes += size
            if self._expanded > ALIAS_BUDGET or self._expanded_bytes > ALIAS_BYTES:
                raise UntrustedInputError(
                    f"YAML aliases expand to more than {ALIAS_BUDGET:,} values or "
                    f"{ALIAS_BYTES // 2**20} MiB (an alias bomb?)"
                )
            return node
        self._depth += 1
        self._nodes += 1
        if self._depth > MAX_DEPTH:
            raise UntrustedInputError(f"nested more than {MAX_DEPTH} levels deep")
        if self._nodes > MAX_NODES:
            raise UntrustedInputError(f"more than {MAX_NODES:,} values in one document")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.SequenceNode):
            children = [self._size(c) for c in node.value]
        elif isinstance(node, yaml.MappingNode):
            children = [self._size(n) for pair in node.value for n in pair]
        else:
            return node
        self._sizes[id(node)] = (1 + sum(c[0] for c in children), sum(c[1] for c in children))
        return node

    def _size(self, node: Any) -> tuple[int, int]:
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        return (1, len(node.value) + 1) if isinstance(node, yaml.ScalarNode) else (1, 1)
