"""`--mask`'s streaming filter: every value is replaced, whatever pieces the output comes in,
and nothing else changes."""

from __future__ import annotations

import itertools
import json

import pytest
from envsecrets.core.masking import MASK, MaskFilter, forms_to_mask
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
    assert mask.held < 2  # bounded by the longest value, not by the run
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


# -- the forms of a value ---------------------------------------------------------------------
PEM = (
    b"-----BEGIN PRIVATE KEY-----\n"
    b"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
    b"VJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDu\n"
    b"-----END PRIVATE KEY-----\n"
)


def masked(values: list[bytes] | list[str], output: bytes) -> bytes:
    """`output` through a filter for every form of `values`, one byte per write."""
    forms = [form for value in values for form in forms_to_mask(value)]
    return stream(forms, [bytes([b]) for b in output])


def test_a_value_read_from_a_file_is_masked_without_its_newline() -> None:
    assert masked([b"ghp_TokenFromFileCANARY\n"], b"Bearer ghp_TokenFromFileCANARY (ok)\n") == (
        b"Bearer **** (ok)\n"
    )


def test_the_programs_own_newline_after_a_value_stored_with_one_is_kept() -> None:
    # printf '%s\n' "$(cat $TOKEN_FILE)"; echo after: two lines, not one
    assert masked([b"ghp_TokenFromFileCANARY\n"], b"ghp_TokenFromFileCANARY\nafter\n") == (
        b"****\nafter\n"
    )


def test_a_short_value_from_a_file_is_masked_when_printed_stripped() -> None:
    assert masked([b"739\n"], b"pin is 739 ok\n") == b"pin is **** ok\n"


def test_a_value_escaped_twice_is_masked() -> None:
    """A JSON document holding the value, logged as a JSON string (a logger's payload)."""
    text = 'Pa"ss\\w0rd-CANARY \u00e9'
    for ascii_only in (True, False):
        inner = json.dumps({"pw": text}, ensure_ascii=ascii_only)
        printed = json.dumps({"msg": inner}, ensure_ascii=ascii_only)
        shown = masked([text.encode()], printed.encode())
        assert b"CANARY" not in shown and b"w0rd" not in shown, printed


def test_a_member_with_a_lone_surrogate_is_masked_in_its_escaped_form() -> None:
    """`"\\ud800"` is valid JSON: a member holding it must not crash the masking."""
    printed = json.dumps({"a": "x\ud800CANARY"}).encode()
    assert b"CANARY" not in masked(["x\ud800CANARY"], printed)


def test_each_line_of_a_multi_line_value_is_masked_behind_any_prefix() -> None:
    output = b"".join(b"INFO " + line + b"\n" for line in PEM.splitlines())
    shown = masked([PEM], output)
    for line in PEM.splitlines():
        assert line not in shown
    assert shown.count(b"INFO ****\n") == 4


def test_escaped_forms_are_masked() -> None:
    text = 'Pa"ss\\w0rd-CANARY \u00e9\u2603\ttab'
    value = text.encode()
    for printed in (
        json.dumps(text),  # "Pa\"ss\\w0rd... \u00e9\u2603\ttab"
        json.dumps(text, ensure_ascii=False),
        repr(text),
        repr(value),
        json.dumps({"k": text}),
    ):
        shown = masked([value], printed.encode())
        assert b"CANARY" not in shown and b"w0rd" not in shown, printed
    # A value's bytes printed by Python as bytes (b'...'), binary included.
    binary = b"\x00\xffsecret-bytes\n"
    assert b"secret" not in masked([binary], repr(binary).encode())


def test_short_lines_and_blanks_are_not_masked_on_their_own() -> None:
    forms = forms_to_mask(b"{\n  ab\n}\n")
    assert b"{" not in forms and b"}" not in forms and b"ab" not in forms
    assert forms_to_mask(b"") == []
    assert b"x" in forms_to_mask(b"x")  # a short value itself is masked whole


# The old filter tested every held position against every value: about a minute for this
# (17 s for 300 KB, measured), against well under a second now. The limit only catches that.
@pytest.mark.timeout(30)
def test_a_huge_repetitive_value_costs_linear_work() -> None:
    # Each byte is one automaton step, whatever the value holds.
    value = b"A" * 60_000
    mask = MaskFilter(forms_to_mask(value))
    shown = b"".join(mask.feed(b"A" * 4096) for _ in range(250))
    assert shown == MASK and mask.held < len(value)
    assert mask.feed(b"!") + mask.finish() == b"!"


def test_another_filter_shares_the_automaton_but_not_the_stream() -> None:
    """stdout and stderr: one automaton (built once), each its own held-back tail."""
    first = MaskFilter([b"secret-value"])
    second = first.another()
    assert second._automaton is first._automaton
    assert first.feed(b"a secret-") == b"a "  # held: it may be the start of the value
    assert second.feed(b"value here\n") == b"value here\n"  # a new stream: not the rest
    assert first.feed(b"value!") == b"****!" and first.finish() == b""
    assert second.finish() == b""
