"""`--mask`: a streaming filter that replaces secret values in a program's output with `****`.

A program writes in pieces of any size, so a value can arrive split across writes (or lines).
The filter therefore holds back the shortest tail of what it has seen that could still grow
into a value - never more than the longest value minus one byte, and usually nothing: only a
tail made of bytes that occur in some value, and that is the start of one, is held. Everything
before it is final and goes out at once, so an interactive program's prompt is not delayed
unless it ends with the first characters of a secret.

Overlapping values are masked as one `****`; adjacent ones as one `****` each. At the end of
the stream the held tail goes out as it is: it did not complete a value, so it is not one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

MASK = b"****"
# A line of a multi-line value, or a value without its surrounding whitespace, is masked on
# its own only from this length on: shorter pieces (`}`, `--`, an empty line) would mask
# ordinary output, and show nothing of the value.
MIN_PIECE = 4


def forms_to_mask(value: bytes | str) -> list[bytes]:
    """Every form in which a program may print `value`, to mask them all: the value itself;
    the value without surrounding whitespace; each line of a multi-line value (from
    MIN_PIECE bytes on, blanks around it stripped); and each of those JSON-escaped (with and
    without `ensure_ascii`) and as Python's repr shows it (of the text, and of the bytes).

    JSON members are not looked into: a caller masking a JSON secret passes the members it
    wants masked as values of their own."""
    data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    if not data:
        return []
    pieces = {data}
    stripped = data.strip()
    if len(stripped) >= MIN_PIECE:
        pieces.add(stripped)
    if b"\n" in data or b"\r" in data:
        for line in data.splitlines():
            line = line.strip()
            if len(line) >= MIN_PIECE:
                pieces.add(line)
    forms = set(pieces)
    for piece in pieces:
        forms.update(_escaped_forms(piece))
    return sorted(form for form in forms if form)


def _escaped_forms(piece: bytes) -> set[bytes]:
    """`piece` as JSON strings and Python reprs hold it, between their quotes."""
    forms = {repr(piece)[2:-1].encode("ascii")}
    try:
        text = piece.decode("utf-8")
    except UnicodeDecodeError:
        return forms
    forms.add(json.dumps(text)[1:-1].encode("ascii"))
    forms.add(json.dumps(text, ensure_ascii=False)[1:-1].encode("utf-8"))
    forms.add(repr(text)[1:-1].encode("utf-8"))
    return forms


class MaskFilter:
    """Feed it a stream's bytes in any pieces; what it returns is safe to show."""

    def __init__(self, values: Iterable[bytes], *, mask: bytes = MASK) -> None:
        self._values = sorted({bytes(v) for v in values if v}, key=len, reverse=True)
        self._mask = mask
        self._longest = max((len(v) for v in self._values), default=0)
        self._starting_with: dict[int, list[bytes]] = {}
        for value in self._values:
            self._starting_with.setdefault(value[0], []).append(value)
        # 1 for a byte that occurs in some value, 0 otherwise: a held tail is all 1s.
        occurring = {byte for value in self._values for byte in value}
        self._in_values = bytes(1 if b in occurring else 0 for b in range(256))
        self._pending = b""
        # How many leading bytes of _pending belong to a value whose `****` already went out.
        self._covered = 0

    def feed(self, data: bytes) -> bytes:
        """The part of the stream so far that can be shown, with values masked."""
        if not self._values:
            return data
        buffer = self._pending + data
        return self._emit(buffer, self._hold_from(buffer))

    def finish(self) -> bytes:
        """The rest of the stream, at its end."""
        buffer = self._pending
        return self._emit(buffer, len(buffer)) if buffer else b""

    # -- internals ------------------------------------------------------------------------
    def _hold_from(self, buffer: bytes) -> int:
        """Where the tail starts that is the beginning of a value (len(buffer) if none)."""
        end = len(buffer)
        low = max(0, end - self._longest + 1)
        marks = buffer[low:].translate(self._in_values)
        start = low + marks.rfind(0) + 1  # the tail holds only bytes that values hold
        view = memoryview(buffer)
        for index in range(start, end):
            for value in self._starting_with.get(buffer[index], ()):
                if len(value) > end - index and value.startswith(view[index:]):
                    return index
        return end

    def _runs(self, buffer: bytes) -> list[tuple[int, int]]:
        """Where complete values occur in `buffer`, overlapping ones merged. Adjacent ones are
        not: whether a value is followed by another may only be known after it went out."""
        spans = [(0, self._covered)] if self._covered else []
        for value in self._values:
            at = buffer.find(value)
            while at != -1:
                spans.append((at, at + len(value)))
                at = buffer.find(value, at + 1)
        spans.sort()
        runs: list[tuple[int, int]] = []
        for start, end in spans:
            if runs and start < runs[-1][1]:
                runs[-1] = (runs[-1][0], max(runs[-1][1], end))
            else:
                runs.append((start, end))
        return runs

    def _emit(self, buffer: bytes, hold: int) -> bytes:
        """Show `buffer[:hold]` with its values masked; keep the rest for the next piece."""
        out = bytearray()
        shown = 0
        # Masked bytes that stay held (all of them when the held tail starts at 0).
        covered_next = max(0, self._covered - hold)
        continuing = self._covered > 0
        for start, end in self._runs(buffer):
            if start >= hold:
                break
            out += buffer[shown:start]
            if not (continuing and start == 0):
                out += self._mask
            if end > hold:
                # A value that ends in the held tail: its mask is out, its bytes stay held
                # (they may also begin another value) and must not be shown again.
                covered_next = end - hold
                shown = hold
                break
            shown = end
        out += buffer[shown:hold]
        self._pending = buffer[hold:]
        self._covered = covered_next
        return bytes(out)
