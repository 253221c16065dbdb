"""Rendering notices and building messages safely."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from pipeline import notices
from pipeline.addresses import InvalidAddress
from pipeline.notices import (
    KNOWN_NOTICES,
    MailIdentity,
    OutgoingNotice,
    ResponseNoticeFacts,
    build_message,
    messages,
    render_notice,
    verify_unsubscribe_token,
)
from pipeline.responses import resolve_zone

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
IDENTITY = MailIdentity("no-reply@peermetals.com", "PeerMetals", "peermetals.com", "k")
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FACTS = ResponseNoticeFacts(
    seller_external_id="u-17", seller_name="Ana <b>", conversation_external_id="c-9", started_at=T0,
    stage_due_at=T0 + timedelta(hours=20), deadline=T0 + timedelta(hours=24),
    zone=resolve_zone("Europe/Berlin").zone, buyer_name="Bo <i>", listing="2024 1 oz Gold Eagle <b>", order_ref="o-55",
    masked_text="Is it still available? Call me on [phone removed] <script>",
)
FLAGGED = notices.FlaggedQuote("c-9", "Eagle <b>", T0, "text me at [phone removed] <b>")
REVIEW_CONTEXTS = {
    "policy-warning": notices.policy_warning(IDENTITY, "Bo", 1, "sharing a phone number", "No contact details", FLAGGED),
    "account-restricted": notices.account_restricted(IDENTITY, "Bo <b>", 3, 90, T0 + timedelta(days=90), [FLAGGED, FLAGGED]),
    "restriction-lifted": notices.restriction_lifted(IDENTITY, "Bo", "strikes_expired", 2, 90),
    "strike-overturned": notices.strike_overturned(IDENTITY, "Bo", T0, FLAGGED, 2, True),
    "repeat-offender": notices.repeat_offender("bo@example.com", "u-3", 3, "https://peermetals.com/r/3"),
    "suspension-recommended": notices.suspension_recommended("bo@example.com", "u-3", 5, "https://peermetals.com/r/3"),
    "flag-alert": notices.flag_alert(9, "payment", "bo@example.com", "pay me at <iban>", "https://peermetals.com/r/9"),
    "new-message": notices.new_message(IDENTITY, notices.NewMessageFacts(
        "u-17", "Ana <b>", "c-9", "Eagle <b>", "Bo", (("Bo", T0, "call me at <phone>", ("<b>.jpg",)),), 0,
        resolve_zone("Europe/Berlin").zone)),
    "new-message-digest": notices.new_message_digest(IDENTITY, notices.DigestFacts(
        "u-17", "Ana", "2026-06-01", (("c-9", "Eagle <b>", "Bo", 2, "call me at <phone>"),))),
}


def contexts():
    out = {name: fn(IDENTITY, [FACTS]) for name, fn in notices.RESPONSE_CONTEXTS.items()}
    return out | REVIEW_CONTEXTS


def outgoing(name: str, address: str = "ana@example.com", display: str = "Ana") -> OutgoingNotice:
    context = contexts()[name]
    return OutgoingNotice(
        name, address, display, f"obligation:1:{name}", render_notice(name, context, TEMPLATES),
        context.get("unsubscribe_url"), context.get("unsubscribe_mailto"),
    )


@pytest.mark.parametrize("name", sorted(KNOWN_NOTICES))
def test_every_notice_renders_text_and_escaped_html(name):
    rendered = render_notice(name, contexts()[name], TEMPLATES)
    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.text.strip() and "<html>" in rendered.html
    assert "<b>" not in rendered.html and "<iban>" not in rendered.html


def test_reminder_context_is_local_time_and_json_safe():
    context = contexts()["response-reminder"]
    [conversation] = context["conversations"]
    assert conversation["waiting_since"] == "2026-06-01 14:00 CEST"
    assert conversation["conversation_url"] == "https://peermetals.com/messages/c-9"
    assert conversation["conversation_id"] == "c-9" and conversation["order"] == "o-55"
    assert contexts()["response-final-warning"]["hours_left"] == 4
    assert "unsubscribe_url" not in contexts()["response-breach"]


def test_missing_context_key_is_an_error_not_a_hole():
    with pytest.raises(UndefinedError):
        render_notice("response-reminder", {"seller_name": "x"}, TEMPLATES)
    with pytest.raises(KeyError):
        render_notice("no-such-notice", {}, TEMPLATES)


def test_message_is_multipart_with_notice_and_one_click_unsubscribe_headers():
    message = build_message(outgoing("response-reminder"), IDENTITY, T0)
    assert message["X-PeerGuard-Notice"] == "response-reminder"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<https://peermetals.com/email/unsubscribe/u-17.")
    assert "mailto:" not in message["List-Unsubscribe"]  # nothing would read such a mailbox
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Message-ID"] == build_message(outgoing("response-reminder"), IDENTITY, T0 + timedelta(hours=1))["Message-ID"]


def test_list_unsubscribe_stays_plain_ascii_on_the_wire():
    long_domain = MailIdentity("no-reply@marketplace.peermetals-example.com", "PeerMetals", "marketplace.peermetals-example.com", "k")
    context = notices.response_reminder(long_domain, [FACTS])
    item = OutgoingNotice("response-reminder", "ana@example.com", "Ana", "k1",
                          render_notice("response-reminder", context, TEMPLATES),
                          context["unsubscribe_url"])
    raw = build_message(item, long_domain, T0).as_bytes()
    header = next(line for line in raw.split(b"\n") if line.startswith(b"List-Unsubscribe:"))
    assert b"=?" not in header and b"<https://marketplace.peermetals-example.com/email/unsubscribe/u-17." in header
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["List-Unsubscribe"] == f"<{context['unsubscribe_url']}>"
    assert parsed.get_body(("plain",)).get_content().startswith("Hello Ana")


def test_breach_and_staff_alerts_carry_no_unsubscribe():
    for name in ("response-breach", "flag-alert"):
        message = build_message(outgoing(name), IDENTITY, T0)
        assert message["List-Unsubscribe"] is None and message["X-PeerGuard-Notice"] == name


def test_unsubscribe_token_carries_the_external_user_id_and_verifies():
    context = contexts()["response-reminder"]
    token = context["unsubscribe_url"].rsplit("/", 1)[1]
    assert token.startswith("u-17.") and "unsubscribe_mailto" not in context
    assert verify_unsubscribe_token("k", token) == "u-17"
    assert verify_unsubscribe_token("other key", token) is None


@pytest.mark.parametrize("forged", ["", ".", "u-17", "u-17.", ".abc", "u-18.{mac}", "u-17.{mac}x", "u-17.{mac}.x", "u-17.é"])
def test_forged_or_garbled_unsubscribe_tokens_are_refused(forged):
    mac = notices.unsubscribe_token("k", "u-17").rsplit(".", 1)[1]
    assert verify_unsubscribe_token("k", forged.format(mac=mac)) is None


def test_unsubscribe_token_keeps_an_odd_external_id_in_one_path_segment():
    token = notices.unsubscribe_token("k", "u/1.7")
    assert "/" not in token and verify_unsubscribe_token("k", token) == "u/1.7"


def test_staff_alerts_name_the_external_user_id():
    for name in ("repeat-offender", "suspension-recommended"):
        rendered = render_notice(name, contexts()[name], TEMPLATES)
        assert "u-3" in rendered.subject and "(u-3)" in rendered.text and "(u-3)" in rendered.html


def test_crlf_in_display_name_cannot_inject_headers():
    message = build_message(outgoing("response-breach", display="Ana\r\nBcc: evil@attacker.example"), IDENTITY, T0)
    raw = message.as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Bcc"] is None
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ana@example.com"]


def test_display_name_trick_stays_a_display_name():
    message = build_message(outgoing("response-breach", display='evil@attacker.example" <x@y.z>'), IDENTITY, T0)
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ana@example.com"]


@pytest.mark.parametrize(
    "address",
    ["ana@example.com\r\nBcc: evil@x.com", "Evil <evil@x.com>", "a@x.com, b@y.com", "no-at-sign", "a@localhost", ""],
)
def test_bad_recipient_addresses_are_refused(address):
    with pytest.raises(InvalidAddress):
        build_message(outgoing("response-breach", address=address), IDENTITY, T0)


def test_message_parts_survive_a_round_trip_with_the_shared_boundary():
    item = outgoing("response-reminder")
    parsed = message_from_bytes(build_message(item, IDENTITY, T0).as_bytes(), policy=policy.default)
    assert parsed.get_boundary() == messages._BOUNDARY
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert parsed.get_body(("plain",)).get_content() == item.rendered.text


@pytest.mark.parametrize("where", ["text", "html"])
def test_a_body_quoting_the_boundary_gets_a_fresh_one(where):
    # The shared boundary is visible to every recipient; a body that contains it must not end a part.
    item = outgoing("flag-alert")
    quoted = f"\n--{messages._BOUNDARY}--\nContent-Type: text/plain\n\ninjected\n"
    rendered = item.rendered.__class__(
        item.rendered.subject,
        item.rendered.text + (quoted if where == "text" else ""),
        item.rendered.html + (quoted if where == "html" else ""),
    )
    message = build_message(OutgoingNotice(item.notice, item.recipient_address, item.recipient_name,
                                           item.idempotency_key, rendered), IDENTITY, T0)
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsed.get_boundary() != messages._BOUNDARY
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    body = parsed.get_body(("plain",) if where == "text" else ("html",)).get_content()
    assert "injected" in body


# --- The one-line fold shortcut agrees with the standard library ---------------------------------

from email.headerregistry import Address, HeaderRegistry  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_STOCK = HeaderRegistry()
_HEADER_TEXT = st.lists(
    st.one_of(st.sampled_from(list(' "()<>@,;:\\.[]=?_-\t') + ["=?utf-8?q?", "?=", "=?us-ascii?q?hi?="]),
              st.characters(min_codepoint=32, max_codepoint=126), st.characters(min_codepoint=160)),
    max_size=60,
).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(["Subject", "X-PeerGuard-Notice", "Date", "Message-ID", "List-Unsubscribe"]), value=_HEADER_TEXT,
       max_len=st.sampled_from([78, 998]))
def test_single_line_fold_matches_the_stock_fold_for_text_headers(name, value, max_len):
    policy_ = notices.MESSAGE_POLICY.clone(max_line_length=max_len, linesep="\r\n")
    try:
        header = _STOCK(name, value)
    except Exception:  # values the stock parser itself rejects are not ours to fold
        return
    fast = notices.single_line_fold(header, policy_)
    if fast is not None:
        assert fast == header.fold(policy=policy_)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(display=_HEADER_TEXT, user=st.from_regex(r"[a-z0-9._+-]{1,30}", fullmatch=True),
       max_len=st.sampled_from([78, 998]))
def test_single_line_fold_matches_the_stock_fold_for_addresses(display, user, max_len):
    policy_ = notices.MESSAGE_POLICY.clone(max_line_length=max_len, linesep="\r\n")
    try:
        header = _STOCK("To", Address(notices.safe_display_name(display), user, "example.com"))
    except Exception:
        return
    fast = notices.single_line_fold(header, policy_)
    if fast is not None:
        assert fast == header.fold(policy=policy_)


def test_single_line_fold_declines_what_it_cannot_reproduce():
    long_subject = _STOCK("Subject", "gold " * 40)
    assert notices.single_line_fold(long_subject, notices.MESSAGE_POLICY) is None
    assert notices.single_line_fold(_STOCK("Subject", "café"), notices.MESSAGE_POLICY) is None
    plain = _STOCK("Subject", "Reminder: a buyer is waiting")
    assert notices.single_line_fold(plain, notices.MESSAGE_POLICY) == "Subject: Reminder: a buyer is waiting\n"


def test_built_messages_serialise_exactly_as_with_stock_folding(monkeypatch):
    # The whole message, shortcut on and off, byte for byte (a name that needs quoting included).
    rendered = render_notice("flag-alert", REVIEW_CONTEXTS["flag-alert"], TEMPLATES)
    item = OutgoingNotice("flag-alert", "staff@example.com", 'Ann "the, boss" <x@y>', "k:1", rendered)
    fast = build_message(item, IDENTITY, T0).as_bytes()
    monkeypatch.setattr(messages, "single_line_fold", lambda header, policy_: None)
    notices.MESSAGE_POLICY.header_factory._parsed.cache_clear()
    assert build_message(item, IDENTITY, T0).as_bytes() == fast
