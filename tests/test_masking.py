"""`--mask`'s streaming filter: every value is replaced, whatever pieces the output comes in,
and nothing else changes."""

from __future__ import annotations

import itertools

from envsecrets.core.masking import MASK, MaskFilter
from hypothesis import given, settings
from hypothesis import strategies as st


def stream(values: list[bytes], pieces: list[bytes]) -> bytes:
    """What the filter shows for `pieces` written one after the other."""
    mask = MaskFilter(values)
    return b"".join(mask.feed(piece) for piece in pieces) + mask.finish()


def masked_at_once(values: list[bytes], text: bytes) -> bytes:
    """The expected result: every occurrence replaced by a mask, overlapping ones by one."""
    spans = sorted(
        (at, at + len(v))
        for v in {v for v in values if v}
        for at in range(len(text))
        if text.startswith(v, at)
    )
    out, shown, runs = bytearray(), 0, []
    for start, end in spans:
        if runs and start < runs[-1][1]:
            runs[-1][1] = max(runs[-1][1], end)
        else:
            runs.append([start, end])
    for start, end in runs:
        out += text[shown:start] + MASK
        shown = end
    return bytes(out + text[shown:])


def small_bytes(alphabet: bytes, *, min_size: int = 0, max_size: int) -> st.SearchStrategy[bytes]:
    """Bytes from a small alphabet, so that values and near-misses occur often."""
    return st.lists(st.sampled_from(sorted(alphabet)), min_size=min_size, max_size=max_size).map(
        bytes
    )


def split(text: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


def test_a_value_split_across_writes_and_lines_is_masked() -> None:
    value = b"sk_live_51H\nxyz"
    pieces = [b"key=sk_li", b"ve_5", b"1H\n", b"xyz and more\n"]
    assert stream([value], pieces) == b"key=**** and more\n"


def test_text_that_only_starts_like_a_value_comes_out_unchanged() -> None:
    assert stream([b"hunter2"], [b"hunt", b"er 1\n", b"hunter"]) == b"hunter 1\nhunter"


def test_a_prompt_is_not_held_back() -> None:
    mask = MaskFilter([b"s3cr3t-value"])
    # Nothing of the prompt could begin the value: it goes out at once, not at the next write.
    assert mask.feed(b"Password: ") == b"Password: "
    assert mask.feed(b"s3cr3t") == b""  # could be the value: held
    assert mask.feed(b"-value!\n") == b"****!\n"


def test_overlapping_values_give_one_mask_and_adjacent_ones_one_each() -> None:
    assert stream([b"abcd", b"cdef"], [b"xabcdefy"]) == b"x****y"
    assert stream([b"abcd", b"cdef"], [b"xab", b"cd", b"efy"]) == b"x****y"
    assert stream([b"ab", b"cd"], [b"a", b"bc", b"d!"]) == b"********!"


def test_a_long_run_of_a_repeating_value_is_masked_without_holding_it_all() -> None:
    mask = MaskFilter([b"aa"])
    shown = b"".join(mask.feed(b"a" * 1000) for _ in range(100))
    assert shown == MASK  # one mask for the whole run so far
    assert len(mask._pending) < 2  # bounded by the longest value, not by the run
    assert mask.feed(b"b") + mask.finish() == b"b"


def test_no_values_pass_everything_through() -> None:
    assert stream([], [b"abc", b""]) == b"abc"
    assert stream([b""], [b"abc"]) == b"abc"


def test_binary_output_and_values() -> None:
    value = b"\x00\xff\x10secret\x00"
    assert stream([value], [b"\x01\x00\xff", b"\x10secr", b"et\x00\x02"]) == b"\x01****\x02"


@settings(max_examples=400, deadline=None)
@given(
    values=st.lists(small_bytes(b"ab\nc", min_size=1, max_size=6), max_size=4),
    text=small_bytes(b"ab\ncx", max_size=80),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=12),
)
def test_streaming_gives_what_masking_the_whole_output_gives(
    values: list[bytes], text: bytes, cuts: list[int]
) -> None:
    expected = masked_at_once(values, text)
    assert stream(values, split(text, cuts)) == expected
    assert stream(values, [bytes([b]) for b in text]) == expected  # one byte per write


@settings(max_examples=200, deadline=None)
@given(
    value=st.binary(min_size=4, max_size=40).filter(lambda v: b"*" not in v),
    before=st.binary(max_size=30),
    after=st.binary(max_size=30),
    cuts=st.lists(st.integers(min_value=0, max_value=120), max_size=8),
)
def test_a_value_never_survives(value: bytes, before: bytes, after: bytes, cuts: list[int]) -> None:
    text = before + value + after
    assert value not in stream([value], split(text, cuts))
