"""``is_plain_address``'s fast path (a regular expression) accepts only what the email parser accepts.

The import checks every user's email; the fast path decides common addresses without the
email package's header parser. It may send an address to the parser, never accept one the
parser would refuse.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import addresses
from pipeline.addresses import InvalidAddress, is_plain_address, parse_address
from pipeline.interchange import InterchangeError, parse_line


def _parser_accepts(raw: str) -> bool:
    try:
        parse_address(raw)
    except InvalidAddress:
        return False
    return True


@settings(max_examples=200, deadline=None, database=None)
@given(st.from_regex(addresses._SIMPLE, fullmatch=True))
def test_what_the_fast_path_accepts_the_parser_accepts(raw):
    assert is_plain_address(raw)
    assert _parser_accepts(raw)


ALPHABET = "aZ09._%+-@!#$&'*/=?^`{|}~ \t\"(),:;<>[]\\é\u2028"


@settings(max_examples=400, deadline=None, database=None)
@given(st.text(alphabet=ALPHABET, max_size=24))
def test_the_answer_is_the_parsers_on_any_text(raw):
    assert is_plain_address(raw) == _parser_accepts(raw)


def test_examples():
    for good in ("trader1@example.com", "a.b+tag@mail.example.co.uk", "x_y%z@1-2.io", "a@b.c"):
        assert is_plain_address(good) and addresses._SIMPLE.fullmatch(good)
    for bad in ("", "a@b", "a@.b.c", "a@b.c.", ".a@b.c", "a..b@c.d", "a@b..c", "a b@c.d", "A <a@b.c>", "a@b@c.d",
                "a@b.c,d@e.f", "a@b.c\n"):
        assert not addresses._SIMPLE.fullmatch(bad)
        assert is_plain_address(bad) == _parser_accepts(bad)


def test_an_empty_domain_label_is_a_malformed_email_not_a_crash():
    """``a@.b.c`` made the email parser raise HeaderParseError, which no caller caught: a user line
    with it stopped the whole import instead of being refused on its own line."""
    for bad in ("a@.b.c", "a@b..c"):
        assert not is_plain_address(bad)
        with pytest.raises(InterchangeError, match="malformed email"):
            parse_line(json.dumps({"type": "user", "id": "u-1", "name": "A", "email": bad}))
