"""Pure rules of what notices quote: masked text only, on one line, split attempts masked too."""

from __future__ import annotations

from pipeline.notices import flagged_text, one_line, quote, redact


def test_quote_is_the_masked_copy_on_one_line_or_nothing():
    assert quote(None) is None  # not scanned: never the raw text
    assert quote("") is None and quote("  \n ") is None
    assert quote("Call me at [phone removed]\r\nthanks") == "Call me at [phone removed] thanks"
    long = quote("x" * 500)
    assert len(long) == 200 and long.endswith("…")


def test_one_line_folds_control_characters():
    assert one_line("Gold\x00 Eagle\n<b>", 120) == "Gold Eagle <b>"
    assert one_line(None, 10) == ""


def test_redact_merges_overlapping_spans():
    body = "my number is 415 555 0123 ok"
    assert redact(body, [(13, 20, "phone"), (17, 25, "phone")]) == "my number is [phone removed] ok"
    assert redact(body, []) == body


def test_flagged_text_masks_a_split_attempt_the_masked_copy_missed():
    body = "and then 555 0123"
    assert flagged_text(body, None, [], []) is None
    assert flagged_text(body, body, [], []) == body  # nothing found: the masked copy is the text
    split = [(9, 17, "phone")]
    assert flagged_text(body, body, split, split) == "and then [phone removed]"
    intent = [(0, 8, "intent")]  # intent phrases stay visible, as in the masked copy
    assert flagged_text(body, body, intent + split, split) == "and then [phone removed]"
