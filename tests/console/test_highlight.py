"""pipeline.highlight: findings cut into pieces, masked or in the clear."""

from __future__ import annotations

from pipeline.highlight import MASK, Piece, pieces


def test_findings_are_cut_out_and_masked_by_kind():
    text = "call me at 512 555 0100 today"
    assert pieces(text, [(11, 23, "phone"), (0, 7, "intent")], masked=True) == [
        Piece(f"{MASK} intent {MASK}", "intent"), Piece(" at "), Piece(f"{MASK} phone {MASK}", "phone"), Piece(" today")]
    assert "".join(p.text for p in pieces(text, [(11, 23, "phone")], masked=False)) == text


def test_overlapping_and_out_of_range_spans_are_merged_and_clipped():
    assert pieces("abcdef", [(1, 3, "phone"), (2, 5, "email"), (4, 99, "url")], masked=False) == [Piece("a"), Piece("bcdef", "phone")]
    assert pieces("", [], masked=True) == [Piece("")]
