"""Finding values, spans in the original text, platform domains and masking."""

from __future__ import annotations

from pipeline.detection import DETECTOR_VERSION, mask_conversation, mask_text, scan_conversation, scan_text


def _only(text: str, kind: str):  # type: ignore[no-untyped-def]
    found = [f for f in scan_text(text) if f.kind == kind]
    assert len(found) == 1, scan_text(text)
    return found[0]


def test_phone_value_is_e164_and_span_covers_the_original_digits() -> None:
    text = "ring me: (646) 298-3371 after 6"
    finding = _only(text, "phone")
    assert finding.value == "+16462983371"
    assert text[finding.start : finding.end] == "(646) 298-3371"
    assert finding.detector_version == DETECTOR_VERSION
    assert 0.0 < finding.score <= 1.0


def test_spans_map_through_invisible_and_fullwidth_characters() -> None:
    text = "x \uff17\uff12\uff10\u200b443\u2060 9182 y"
    finding = _only(text, "phone")
    assert finding.match == text[finding.start : finding.end]
    assert finding.match.startswith("\uff17") and finding.match.endswith("9182")


def test_international_number_keeps_its_country() -> None:
    assert _only("+44 7911 123456 is my mobile", "phone").value == "+447911123456"


def test_email_value_is_lower_case_and_spelled_forms_are_folded() -> None:
    assert _only("Mike.R (at) Outlook (dot) com", "email").value == "mike.r@outlook.com"


def test_url_value_is_the_registrable_domain() -> None:
    assert _only("prices at https://shop.goldbug.co.uk/sale", "url").value == "goldbug.co.uk"


def test_platform_domains_are_configurable() -> None:
    assert scan_text("see goldbug.com/sale") != []
    assert scan_text("see goldbug.com/sale", platform_domains=("goldbug.com",)) == []
    assert scan_text("mail sales@goldbug.com", platform_domains=("goldbug.com",)) == []


def test_handle_value_names_app_and_username() -> None:
    assert _only("telegram: @silver_fox", "handle").value == "telegram:silver_fox"


def test_payment_value_names_the_rail() -> None:
    assert _only("zelle works for me", "payment").value == "zelle"
    assert _only("DE89 3704 0044 0532 0130 00 is mine", "payment").value == "iban"


def test_invalid_checksums_are_not_payment_identifiers() -> None:
    assert scan_text("ref DE89 3704 0044 0532 0130 01") == []
    assert scan_text("0x52908400098527886E0F7030069857D2E4169Ee7") == []


def test_mask_text_replaces_identifiers_but_keeps_intent_words() -> None:
    text = "text me at 646-298-3371 or mike@outlook.com"
    masked = mask_text(text, scan_text(text))
    assert masked == "text me at [phone removed] or [email removed]"


def test_mask_conversation_masks_each_piece_of_a_split_number() -> None:
    texts = ["my cell is 646", "298", "3371"]
    findings = scan_conversation(texts)
    assert mask_conversation(texts, findings) == ["my cell is [phone removed]", "[phone removed]", "[phone removed]"]


def test_to_json_has_the_scan_contract_fields() -> None:
    data = _only("call 646 298 3371", "phone").to_json()
    assert {"kind", "start", "end", "match", "value", "score", "detector_version"} <= set(data)


def test_double_and_triple_digits_expand() -> None:
    finding = _only("call nine one seven double eight four six six three oh", "phone")
    assert finding.value == "+19178846630"
    assert scan_text("double eagle 1924, triple struck") == []


def test_every_lazily_compiled_intent_rule_compiles() -> None:
    from pipeline.detection import intents

    for position in range(len(intents.INTENT_RULES)):
        assert intents._pattern(position).pattern


def test_links_to_social_sites_also_name_the_channel() -> None:
    kinds = {(f.kind, f.value) for f in scan_text("https://www.facebook.com/silvershop")}
    assert ("url", "facebook.com") in kinds and ("handle", "facebook") in kinds


def test_a_common_word_before_at_is_not_a_mailbox() -> None:
    assert [(f.kind, f.value) for f in scan_text("full list at coinbarn dot com")] == [("url", "coinbarn.com")]


def test_leaving_the_platform_for_a_discount_is_also_payment() -> None:
    kinds = {f.kind for f in scan_text("if we deal direct I can knock 50 off")}
    assert kinds == {"intent", "payment"}


def test_app_value_takes_the_labelled_username_not_the_next_word() -> None:
    assert [(f.kind, f.value) for f in scan_text("tele gram is easiest, handle is at stackmasterflex")] == [
        ("handle", "telegram:stackmasterflex")
    ]
    assert _only("telegram is best for me", "handle").value == "telegram"


def test_spoken_underscore_joins_the_username() -> None:
    assert _only("my snap username is coin underscore queen 22", "handle").value == "snapchat:coin_queen"


def test_a_described_mailbox_is_not_reported_as_a_made_up_address() -> None:
    text = "the email I use is first name + last name at hotmail, first name Jared, last name Pike"
    finding = _only(text, "email")
    assert finding.value == "hotmail:described"
    assert finding.match == "name at hotmail"


def test_split_domain_keeps_every_one_word_fragment() -> None:
    found = scan_conversation(["more inventory on my own site", "bullseye", "bullion", ". com"])
    [url] = [f for f in found if f.kind == "url"]
    assert url.value == "bullseyebullion.com"
    assert url.messages == (1, 2, 3)
    assert url.match == "bullseye | bullion | . com"
