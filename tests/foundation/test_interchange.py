import json
from datetime import datetime, timezone

import pytest

from pipeline.interchange import (
    MAX_BODY_BYTES,
    ConversationRecord,
    InterchangeError,
    MessageRecord,
    UserRecord,
    clean_filename,
    parse_line,
)


def line(**obj) -> bytes:
    return json.dumps(obj).encode()


def test_user_defaults():
    record = parse_line(line(type="user", id="u-1", name="Greg"))
    assert record == UserRecord("u-1", "Greg", None, "UTC", False)


def test_conversation_and_message():
    conv = parse_line(line(type="conversation", id="c-1", buyer="u-1", seller="u-2", subject="Eagle", order="o-5"))
    assert conv == ConversationRecord("c-1", "u-1", "u-2", "Eagle", "o-5")
    msg = parse_line(line(type="message", id="m-1", conversation="c-1", sender="u-1",
                          sent_at="2026-11-25T09:03:00-05:00", text="hi",
                          attachments=[{"path": "files/a.jpg", "name": "a.jpg"}]))
    assert isinstance(msg, MessageRecord)
    assert msg.sent_at == datetime(2026, 11, 25, 14, 3, tzinfo=timezone.utc)
    assert msg.attachments[0].name == "a.jpg"


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b'{"type": "user", "id": ', "malformed JSON"),
        (b"[1, 2]", "JSON object"),
        (line(type="invoice", id="x"), "unknown type"),
        (line(type="user", id="u-1"), "'name'"),
        (line(type="user", id="u-1", name="A", timezone="Mars/Olympus"), "time zone"),
        (line(type="user", id="u-1", name="A", email="a\r\nBcc: x@y"), "malformed email"),
        (line(type="conversation", id="c", buyer="u", seller="u"), "different"),
        (line(type="message", id="m", conversation="c", sender="u", sent_at="2026-11-25T14:03:00", text="x"), "time zone"),
        (line(type="message", id="m", conversation="c", sender="u", sent_at="yesterday", text="x"), "ISO-8601"),
        (line(type="message", id="m", conversation="c", sender="u", sent_at="2026-11-25T14:03:00Z", text=5), "'text'"),
        (line(type="message", id="m", conversation="c", sender="u", sent_at="2026-11-25T14:03:00Z", text="x",
              attachments=[{"path": "../etc/passwd"}]), "leaves the import folder"),
        (line(type="message", id="m", conversation="c", sender="u", sent_at="2026-11-25T14:03:00Z", text="x",
              attachments=[{"path": "/etc/passwd"}]), "leaves the import folder"),
        (b'{"type": "user", "id": "u", "name": "\xff\xfe"}', "UTF-8"),
        (b'{"type": "message", "id": "m", "conversation": "c", "sender": "u", "sent_at": "2026-11-25T14:03:00Z", "text": "\\ud800"}', "surrogate"),
        # The fast paths (s8-import) fall back to the same words: blank and over-long ids, attachments not a list,
        # a body that is under the limit in characters but over it in UTF-8 bytes.
        (line(type="message", id=" \t", conversation="c", sender="u", sent_at="2026-11-25T14:03:00Z", text="x"),
         "'id' must be a non-empty string"),
        (line(type="message", id="m" * 129, conversation="c", sender="u", sent_at="2026-11-25T14:03:00Z", text="x"),
         "'id' is longer than 128"),
        (line(type="message", id="m", conversation="c", sender="u", sent_at="2026-11-25T14:03:00Z", text="x",
              attachments=None), "'attachments' must be a list"),
        (line(type="message", id="m", conversation="c", sender="u", sent_at="2026-11-25T14:03:00Z", text="x",
              attachments={}), "'attachments' must be a list"),
        (line(type="message", id="m", conversation="c", sender="u", sent_at="2026-11-25T14:03:00Z",
              text="é" * (MAX_BODY_BYTES // 2 + 1)), f"{MAX_BODY_BYTES + 2} bytes"),
    ],
)
def test_bad_lines_explain_themselves(raw, fragment):
    with pytest.raises(InterchangeError, match=fragment):
        parse_line(raw)


def test_lower_case_z_and_no_attachments():
    msg = parse_line(line(type="message", id="m", conversation="c", sender="u", sent_at="2026-11-25T14:03:00z", text="x",
                          attachments=[]))
    assert msg.sent_at == datetime(2026, 11, 25, 14, 3, tzinfo=timezone.utc) and msg.attachments == ()


def test_body_limit_is_documented_and_enforced():
    ok = "x" * (64 * 1024)
    parse_line(line(type="message", id="m", conversation="c", sender="u", sent_at="2026-11-25T14:03:00Z", text=ok))
    too_big = "x" * (MAX_BODY_BYTES + 1)
    with pytest.raises(InterchangeError, match="limit"):
        parse_line(line(type="message", id="m", conversation="c", sender="u", sent_at="2026-11-25T14:03:00Z", text=too_big))


def test_hostile_filenames_are_cleaned():
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("invoice\u202egnp.exe") == "invoicegnp.exe"
    assert clean_filename("a\r\nb.jpg") == "ab.jpg"
    assert clean_filename("   ") == "unnamed"
    assert len(clean_filename("x" * 1000)) == 255


def _standard_parse(raw: bytes):
    """What parse_line answered with the standard decoder alone (before orjson): a record, or the error's words."""
    from pipeline.interchange import parse_record

    try:
        obj = json.loads(raw.decode("utf-8"))
    except json.JSONDecodeError as exc:
        return f"malformed JSON: {exc.msg} at column {exc.colno}"
    try:
        return parse_record(obj)
    except InterchangeError as exc:
        return str(exc)


@pytest.mark.parametrize("raw", [
    b'{"type": "user", "id": ',
    b'{"type": "user", "id": "u-1", "name": "A"} trailing',
    b'{"type": "user", "id": "u-1", "name": NaN}',
    b'{"type": "user", "id": "u-1", "name": "A", "away": Infinity}',
    b'{"type": "user", "id": "u-1", "name": "A", "away": 1e400}',
    b'{"type": "user", "id": 123456789012345678901234567890, "name": "A"}',
    b'{"type": "user", "id": "u-1", "name": "A", "name": "B"}',
    b'{"type": "user", "id": "u-\\ud83d\\ude00", "name": "\\u00e9"}',
    b'{"type": "message", "id": "m", "conversation": "c", "sender": "u", "sent_at": "2026-11-25T14:03:00Z", "text": "\\udc00"}',
    b'  {"type": "conversation", "id": "c", "buyer": "u", "seller": "v"}\r\n',
])
def test_decoding_answers_what_the_standard_decoder_did(raw):
    """orjson decodes the lines now; where it refuses, the standard decoder decides, so nothing changes."""
    expected = _standard_parse(raw)
    try:
        got = parse_line(raw)
    except InterchangeError as exc:
        got = str(exc)
    assert got == expected
