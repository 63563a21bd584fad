"""Masking secret values in a program's output: which forms of a value to look for, and a
streaming filter that replaces them with `****`.

Forms. A program rarely prints a value exactly as it is stored: it strips the newline a file
ended with, prints a PEM key line by line behind a log prefix, or shows the value inside JSON
or a Python repr, escaped. `forms_to_mask` lists those forms of one value (as GitHub Actions
does for its masks); callers decide which values (and which JSON members) to pass.

Filter. A program writes in pieces of any size, so a value can arrive split across writes (or
lines). `MaskFilter` runs one Aho-Corasick automaton over the stream, a byte at a time: its
state is the longest end of the output so far that could still grow into a value, which is
exactly what must be held back. Everything before it is final and goes out at once, so an
interactive program's prompt is not delayed unless it ends with the first characters of a
secret. The work is linear in the output and in the total length of the values, whatever
they hold (a value of 60 KB of `A` in an output of `A`s costs the same per byte as any other).

Why not pyahocorasick: its PyPI wheels are built for `str` keys (bytes need a build of our
own, and a program's output is bytes, not always UTF-8), and its search cannot carry the
automaton's state from one write to the next, which is what tells the filter exactly how much
to hold back.

Overlapping values are masked as one `****`; adjacent ones as one `****` each. At the end of
the stream the held tail goes out as it is: it did not complete a value, so it is not one.
"""

from __future__ import annotations

import copy
import json
import re
from array import array
from collections import deque
from collections.abc import Iterable
from typing import Any

MASK = b"****"
# A line of a multi-line value, or a value without its surrounding whitespace, is masked on
# its own only from this length on: shorter pieces (`}`, `--`, an empty line) would mask
# ordinary output, and show nothing of the value.
MIN_PIECE = 4


def forms_to_mask(value: bytes | str) -> list[bytes]:
    """Every form in which a program may print `value`, to mask them all: the value without
    surrounding whitespace (whatever its length: it is the whole value); each line of a
    multi-line value (from MIN_PIECE bytes on, blanks around it stripped); and each of those
    JSON-escaped (with and without `ensure_ascii`, and escaped twice, as a JSON document
    logged inside a JSON string holds it) and as Python's repr shows it (of the text, and of
    the bytes).

    The surrounding whitespace is not part of any form: a value stored with a trailing
    newline, printed with the program's own newline, keeps that newline in the output
    (masking `value\n` would join the line to the next). A value that is only whitespace is
    masked as it is.

    JSON members are not looked into: a caller masking a JSON secret passes the members it
    wants masked as values of their own."""
    # surrogatepass: a JSON member may hold a lone surrogate (`"\\ud800"` is valid JSON)
    data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else bytes(value)
    if not data:
        return []
    whole = data.strip() or data
    lines: set[bytes] = set()
    if b"\n" in data or b"\r" in data:
        for line in data.splitlines():
            line = line.strip()
            if len(line) >= MIN_PIECE:
                lines.add(line)
    forms = {whole, *lines}
    # A multi-line value escaped is its lines escaped, joined by escaped line breaks: the
    # lines' escaped forms mask it, and the whole value's own escaped forms (several times
    # its size, for a PEM key) would only make the filter slower to build.
    for piece in lines or {whole}:
        forms.update(_escaped_forms(piece))
    return sorted(form for form in forms if form)


def _escaped_forms(piece: bytes) -> set[bytes]:
    """`piece` as JSON strings and Python reprs hold it, between their quotes."""
    forms = {repr(piece)[2:-1].encode("ascii")}
    try:
        text = piece.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return forms
    for ascii_only in (True, False):
        escaped = json.dumps(text, ensure_ascii=ascii_only)[1:-1]
        forms.add(escaped.encode("utf-8", "surrogatepass"))
        # escaped again: a JSON document that holds the value, logged as a JSON string
        twice = json.dumps(escaped, ensure_ascii=ascii_only)[1:-1]
        forms.add(twice.encode("utf-8", "surrogatepass"))
    forms.add(repr(text)[1:-1].encode("utf-8", "surrogatepass"))
    return forms


# Near the automaton's root, a regular expression of the values' first SKIP_PREFIX bytes finds
# where a value could start: most output is passed over by the regex engine, not byte by byte.
SKIP_PREFIX = 3


def _starts_pattern(patterns: Iterable[bytes]) -> re.Pattern[bytes]:
    """A regex matching the first SKIP_PREFIX bytes of any pattern (all of a shorter one),
    written as a trie so that the regex engine does not try every pattern at every byte."""
    tree: dict[int, dict[int, Any]] = {}
    for pattern in patterns:
        branch = tree
        for byte in pattern[:SKIP_PREFIX]:
            branch = branch.setdefault(byte, {})
        branch[_END] = {}

    def written(branch: dict[int, Any]) -> bytes:
        choices = [
            re.escape(bytes([b])) + written(rest) for b, rest in sorted(branch.items()) if b != _END
        ]
        if not choices:
            return b""
        either = b"(?:" + b"|".join(choices) + b")" if len(choices) > 1 else choices[0]
        if _END in branch:  # a whole pattern ends here: what follows is optional
            return b"(?:" + either + b")?"
        return either

    return re.compile(written(tree))


_END = -1


class _Automaton:
    """An Aho-Corasick automaton over bytes, kept in flat arrays.

    Node 0 is the root. Most nodes of long values form chains with a single child; a node's
    only child is stored implicitly as the next node number (`chained[n]`, byte
    `label[n + 1]`), and only the other children are in the `branches` dict, so memory grows
    by about 17 bytes per byte of the values, not by a dict per node.
    """

    def __init__(self, patterns: Iterable[bytes]) -> None:
        self.label = bytearray(b"\0")  # the byte on the edge into each node
        self.chained = bytearray(b"\0")  # 1 when node n + 1 is n's (first) child
        self.depth = array("i", [0])
        self.branches: dict[int, int] = {}  # (node << 8 | byte) -> child, other than chained
        self.complete = bytearray(b"\0")  # 1 where a pattern ends
        for pattern in patterns:
            self._insert(pattern)
        count = len(self.label)
        self.fail = array("i", bytes(4 * count))
        # The longest pattern ending at a node (itself or one of its suffixes): with masks
        # merged, the longest match ending at a position covers every shorter one.
        self.longest_match = array("i", bytes(4 * count))
        # The deepest node on the failure chain (itself included) that has children: how
        # much of the output seen so far could still grow into a pattern.
        self.open_depth = array("i", bytes(4 * count))
        self._link()

    def _child(self, node: int, byte: int) -> int:
        if self.chained[node] and self.label[node + 1] == byte:
            return node + 1
        return self.branches.get(node << 8 | byte, -1)

    def _insert(self, pattern: bytes) -> None:
        node = 0
        for byte in pattern:
            child = self._child(node, byte)
            if child < 0:
                child = len(self.label)
                self.label.append(byte)
                self.chained.append(0)
                self.complete.append(0)
                self.depth.append(self.depth[node] + 1)
                if child == node + 1:  # the newest node: it has no child yet
                    self.chained[node] = 1
                else:
                    self.branches[node << 8 | byte] = child
            node = child
        self.complete[node] = 1

    def _children(self) -> dict[int, list[tuple[int, int]]]:
        children: dict[int, list[tuple[int, int]]] = {}
        for key, child in self.branches.items():
            children.setdefault(key >> 8, []).append((key & 0xFF, child))
        return children

    def _link(self) -> None:
        """Failure links in breadth-first order (a node's link is shallower than it)."""
        branching = self._children()
        queue: deque[int] = deque([0])
        while queue:
            node = queue.popleft()
            kids = list(branching.get(node, ()))
            if self.chained[node]:
                kids.append((self.label[node + 1], node + 1))
            fallback = self.fail[node]
            self.open_depth[node] = (
                self.depth[node] if kids else self.open_depth[fallback] if node else 0
            )
            for byte, child in kids:
                if node:
                    self.fail[child] = self.step(fallback, byte)
                link = self.fail[child]
                self.longest_match[child] = (
                    self.depth[child] if self.complete[child] else self.longest_match[link]
                )
                queue.append(child)

    def step(self, node: int, byte: int) -> int:
        """The node after `byte`, from `node` (following failure links)."""
        while True:
            if self.chained[node] and self.label[node + 1] == byte:
                return node + 1
            child = self.branches.get(node << 8 | byte)
            if child is not None:
                return child
            if not node:
                return 0
            node = self.fail[node]


class MaskFilter:
    """Feed it a stream's bytes in any pieces; what it returns is safe to show."""

    def __init__(self, values: Iterable[bytes], *, mask: bytes = MASK) -> None:
        patterns = sorted({bytes(v) for v in values if v})
        self._automaton = _Automaton(patterns) if patterns else None
        self._mask = mask
        self._skip = _starts_pattern(patterns)
        self._start()

    def another(self) -> MaskFilter:
        """A filter for another stream (stderr beside stdout) that shares this one's
        automaton, which is never changed once built: building it is what large values
        cost (seconds and hundreds of MB for many PEM-sized values), so it is built once."""
        twin = copy.copy(self)
        twin._start()
        return twin

    def _start(self) -> None:
        """The state of one stream, from its first byte."""
        self._node = 0
        self._position = 0  # bytes fed so far
        self._held = bytearray()  # the stream from _shown_to on: not shown yet
        self._shown_to = 0
        # Masked runs (start, end) that are not wholly shown yet, in order; the first may
        # have had its `****` shown already (_announced), its end still being held.
        self._runs: deque[tuple[int, int]] = deque()
        self._announced = False
        self._last_end = 0  # where the last value recorded ends

    @property
    def held(self) -> int:
        """How many bytes are held back, waiting to see whether they become a value."""
        return len(self._held)

    def feed(self, data: bytes) -> bytes:
        """The part of the stream so far that can be shown, with values masked."""
        automaton = self._automaton
        if automaton is None:
            return bytes(data)
        self._held += data
        self._scan(automaton)
        return self._show(self._position - automaton.open_depth[self._node])

    def finish(self) -> bytes:
        """The rest of the stream, at its end."""
        if self._automaton is None:
            return b""
        return self._show(self._position)

    # -- internals ------------------------------------------------------------------------
    def _scan(self, automaton: _Automaton) -> None:
        """Run the automaton over the newly fed bytes (the end of `_held`), recording where
        values end.

        Where the automaton is near its root (the output's end matches fewer than
        SKIP_PREFIX bytes of any value), the regular expression of the values' first bytes
        finds the next place a value could start, at the speed of the C regex engine; the
        automaton restarts there. Bytes stepped twice that way report matches already
        recorded, which are ignored (`_last_end`)."""
        node = self._node
        held, base = self._held, self._shown_to
        index, size = self._position - base, len(held)
        depth, open_depth, longest = automaton.depth, automaton.open_depth, automaton.longest_match
        chained, label, branches = automaton.chained, automaton.label, automaton.branches
        step, skip = automaton.step, self._skip
        searching_from = 0  # no search before this index: a restart is being stepped
        while index < size:
            if depth[node] < SKIP_PREFIX and index >= searching_from:
                begin = index - open_depth[node]
                # From `tail` on, a value's first bytes may be cut by the end of the output:
                # the regex cannot see them, the automaton must step them.
                tail = max(begin, size - SKIP_PREFIX + 1)
                found = skip.search(held, begin)
                if found is not None and found.start() < tail:
                    restart = found.start()
                    searching_from = restart + SKIP_PREFIX
                else:
                    restart, searching_from = tail, size
                node, index = 0, restart
                if index >= size:
                    break
            byte = held[index]
            # The common steps inline: this loop is the filter's cost per byte.
            if chained[node] and label[node + 1] == byte:
                node += 1
            else:
                node = branches.get(node << 8 | byte) or step(node, byte)
            index += 1
            matched = longest[node]
            if matched and base + index > self._last_end:
                self._last_end = base + index
                self._add_run(base + index - matched, base + index)
        self._node = node
        self._position = base + size

    def _add_run(self, begin: int, end: int) -> None:
        """A value occupies [begin, end); it ends after every run recorded so far."""
        runs = self._runs
        while runs and runs[-1][1] > begin:  # overlapping: merged into one run
            begin = min(begin, runs.pop()[0])
        runs.append((begin, end))

    def _show(self, final: int) -> bytes:
        """Show the stream up to `final` (what can no longer become part of a value)."""
        out = bytearray()
        at = self._shown_to
        runs = self._runs
        while runs and runs[0][0] < final:
            begin, end = runs[0]
            if begin > at:
                out += self._held[at - self._shown_to : begin - self._shown_to]
            if not self._announced:
                out += self._mask
            at = max(at, min(end, final))
            if end > final:
                self._announced = True  # its end is still held: not shown, nor masked again
                break
            runs.popleft()
            self._announced = False
        if at < final:
            out += self._held[at - self._shown_to : final - self._shown_to]
            at = final
        del self._held[: at - self._shown_to]
        self._shown_to = at
        return bytes(out)
