"""Reading files that strangers wrote: templates, serverless.yml, Terraform, task definitions.

`secrets audit` runs in CI on pull requests from people nobody vetted, so every infrastructure
file is hostile until read: a 1 KB YAML alias bomb expands to billions of nodes, 3,000 nested
brackets overflow Python's stack, and a 50 MB file eats memory. Each limit is refused as a usage
error (exit 2) long before a second has passed:

- size: at most MAX_FILE_BYTES are read (never the whole file first);
- nesting: at most MAX_DEPTH levels of mappings and lists (YAML, JSON and HCL alike);
- aliases: YAML anchors may add at most ALIAS_BUDGET nodes when expanded (merge keys
  `<<: *defaults` in serverless.yml spend a few; a bomb spends billions); CloudFormation's
  `Fn::ForEach` expansion gets the same budget;
- and, for memory: at most MAX_NODES values in a YAML/JSON document, and Terraform files of at
  most MAX_HCL_BYTES (the HCL parser's tree is large per token).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

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


class UntrustedInputError(ValueError):
    """A file broke one of the limits; the message says which (never the file's content)."""


def read_limited(path: Path, what: str = "file") -> str:
    """The text of `path`: not found (exit 3) when missing, refused (usage error) when
    unreadable, over MAX_FILE_BYTES or not UTF-8. Reads at most the limit plus one byte,
    whatever the file's size."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
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
            "check the file's permissions",
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
    strings do not count). For JSON and HCL, whose parsers recurse per level."""
    depth = 0
    in_string = False
    escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "[{(":
            depth += 1
            if depth > MAX_DEPTH:
                raise UntrustedInputError(f"nested more than {MAX_DEPTH} levels deep")
        elif char in "]})":
            depth = max(0, depth - 1)


def check_size_of_document(text: str) -> None:
    """Refuse, before parsing, text that must hold more than MAX_NODES values: every comma and
    every line can start one. (Counting them is fast; PyYAML needs tens of seconds to reach
    the limit it enforces itself.)"""
    if text.count(",") + text.count("\n") > MAX_NODES:
        raise UntrustedInputError(f"more than {MAX_NODES:,} values in one document")


class BudgetedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with a nesting limit and an alias-expansion budget.

    The composer builds each node once and an alias reuses it, so a bomb loads fast; it is
    whoever walks the result that pays for every expansion. So the budget counts, at each
    alias, the size of the subtree it stands for (sizes are computed once per node).
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0
        self._expanded = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            node = super().compose_node(parent, index)
            self._expanded += self._sizes.get(id(node), 1)
            if self._expanded > ALIAS_BUDGET:
                raise UntrustedInputError(
                    f"YAML aliases expand to more than {ALIAS_BUDGET:,} nodes (an alias bomb?)"
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
            self._sizes[id(node)] = 1 + sum(self._sizes.get(id(c), 1) for c in node.value)
        elif isinstance(node, yaml.MappingNode):
            self._sizes[id(node)] = 1 + sum(
                self._sizes.get(id(k), 1) + self._sizes.get(id(v), 1) for k, v in node.value
            )
        return node
