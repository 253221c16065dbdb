"""context_findings: what a conversation reveals beyond each new message alone."""

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.detection.conversation import context_findings

CHAT = [
    ("buyer", "is the 10 oz bar still here?"),
    ("seller", "yes"),
    ("seller", "text me, number is 312"),
    ("seller", "555"),
    ("seller", "0147"),
]


def test_split_phone_is_reported_with_absolute_indexes():
    found = context_findings(CHAT, [4])
    phones = [f for f in found if f.kind == "phone"]
    assert [(f.value, f.messages) for f in phones] == [("+13125550147", (2, 3, 4))]
    assert {s.message for s in phones[0].spans} == {2, 3, 4}


def test_what_a_message_yields_alone_is_left_to_the_per_message_scan():
    # "text me" is intent in message 2 by itself: not repeated as a conversation finding.
    assert all(f.kind != "intent" for f in context_findings(CHAT, [2, 3, 4]))


def test_findings_must_touch_a_new_message():
    assert context_findings(CHAT, [0]) == []
    assert context_findings(CHAT, []) == []


def test_a_new_message_can_reveal_a_detail_in_an_earlier_one():
    """The seller's later "what's the cert number?" makes "208 7710" a phone number in the full
    scan; scanned as the new message, it must report the same finding on the earlier message."""
    chat = [("buyer", "my cell is 443"), ("seller", "208 7710"), ("buyer", "let's take this offline"),
            ("seller", "great, ordering now"), ("buyer", "venmo @silver-stacker"), ("seller", "what's the cert number?")]
    whole = [(f.kind, f.value, f.messages) for f in context_findings(chat, range(len(chat)))]
    assert ("phone", "local:208-7710", (1,)) in whole
    assert [(f.kind, f.value, f.messages) for f in context_findings(chat, [5])] == [("phone", "local:208-7710", (1,))]
    assert context_findings(chat[:5], [4]) == []  # not before the revealing message arrives


def test_long_history_before_the_new_messages_is_not_rescanned():
    history = [("buyer", f"question {i}: what about the 1oz Maple, price 31.{i:02d}?") for i in range(500)]
    found = context_findings(history + CHAT, [len(history) + 4])
    assert [f.messages for f in found if f.kind == "phone"] == [(502, 503, 504)]


def _reference(messages, new, window=6):
    """context_findings as a plain filter of the full scan: ``scan_text`` for every scan, then the
    findings touching a new message or yielded by a window (or pieces) holding one."""
    from pipeline.detection import DEFAULT_PLATFORM_DOMAINS, scan_conversation, scan_text
    from pipeline.detection.conversation import _in_message, _key, _revealed, _shifted

    first = max(0, new[0] - 2 * window)
    part = messages[first: new[-1] + 1]
    alone = {_key(_in_message(f, i)) for i, (_, text) in enumerate(part) for f in scan_text(text)}
    wanted = {i - first for i in new}
    revealed = _revealed(part, wanted, tuple(DEFAULT_PLATFORM_DOMAINS), window, scan_text)
    return [_shifted(f, first) for f in scan_conversation(part, window=window)
            if _key(f) not in alone and (wanted & set(f.messages) or _key(f) in revealed)]


def test_a_cached_scanner_changes_nothing():
    """The scan stage's remembered per-message scans give, on generated chats, the plain scan's answer."""
    import random

    from pipeline.detection.conversation import cached_scanner

    fragments = ["my number is 312", "555", "0147", "?", "ok", "stacker77", "at", "outlook", "dot com", "bullseye",
                 "bullion", ". com", "venmo", "@coinguy12", "bc1q09lm", "pay at checkout with paypal", "paypal?",
                 "text me 415 555", "0199", "email me", "zelle", "917", "555 0182", "is this still available?",
                 "DE89 3704 0044", "0532 0130 00", "wa.me/", "14155550123", "t.me", "/coinguy"]
    rng = random.Random(7)
    scan = cached_scanner()
    compared = found = 0
    for _ in range(150):
        chat = [(rng.choice(["buyer", "seller", "seller"]), rng.choice(fragments)) for _ in range(rng.randint(2, 18))]
        new = sorted(rng.sample(range(len(chat)), rng.randint(1, min(3, len(chat)))))
        expected = _reference(chat, new)
        assert context_findings(chat, new) == expected, (chat, new)
        assert context_findings(chat, new, scanner=scan) == expected, (chat, new)
        compared += 1
        found += bool(expected)
    assert compared == 150 and found > 10


# Pieces of every kind the conversation rules assemble (split phones, spelled addresses, glued
# codes and usernames, asked-for handles, rails chosen at checkout), and ordinary trade chat.
_PIECES = [
    "my number is 312", "555", "0147", "?", "ok", "stacker77", "at", "outlook", "dot com", "bullseye", "bullion", ". com",
    "venmo", "@coinguy12", "bc1q09lm", "h5gw3fd0yq3pjq8gx4xplzh3h7s6hnms9punt7", "pay at checkout with paypal", "paypal?",
    "text me 415 555", "0199", "email me", "zelle", "917", "555 0182", "is this still available?", "DE89 3704 0044",
    "0532 0130 00", "wa.me/", "14155550123", "t.me", "/coinguy", "write me: silverpeak77 at gmail.", "com",
    "first part: ZN4W", "EMWJHX", "SJP6 — that's the Amazon card", "my id starts yinbi", "then _2024", "first name rick",
    "then a dot and harlan", "and then the usual at example dot com", "what's your name on there?", "morgan_mike_cc",
    "telegram", "serial is 07700", "card number is 900", "box says 274, ring all three together", "then at aaaa",
    "aaaa.bbbb", "Thanks!", "would you do $1,390?", "PCGS cert 41234567", "shipped USPS, tracking 9400 1234 5678 9012",
    "whats your @ there", "silver.fox_77", "my cell is four one five", "two two two", "three four five six", "gmail",
    "dot", "and paypal f&f only", "do you take paypal?", "I'll pay through the site", "cool", "Received today",
]
_ROLES = ["buyer", "seller", "seller"]


def _chat(rng) -> tuple[list[tuple[str, str]], list[int]]:
    chat = [(rng.choice(_ROLES), rng.choice(_PIECES)) for _ in range(rng.randint(2, 20))]
    new = sorted(rng.sample(range(len(chat)), rng.randint(1, min(3, len(chat)))))
    return chat, new


def test_scanning_only_the_windows_of_new_messages_changes_nothing():
    """The windows-with-a-new-message path gives the whole stretch's answer on generated chats, and is taken.

    ``_touching`` answers from the windows holding a new message; when a kept finding is an address
    that a wider one elsewhere in the stretch could replace, or a detail in earlier messages alone,
    it answers None and the whole stretch is scanned. Both must occur here, and both must agree with the plain full scan.
    """
    import random

    from pipeline.detection.conversation import _touching

    rng = random.Random(17)
    taken = {"windows": 0, "stretch": 0}
    found = 0
    for _ in range(400):
        chat, new = _chat(rng)
        expected = _reference(chat, new)
        first = max(0, new[0] - 12)
        part = chat[first : new[-1] + 1]
        answer, _ = _touching(part, {i - first for i in new}, ("peermetals.com",), 6, _plain_scan)
        taken["windows" if answer is not None else "stretch"] += 1
        assert context_findings(chat, new) == expected, (chat, new)
        found += bool(expected)
    assert taken["windows"] > 250 and taken["stretch"] > 10, taken
    assert found > 40, found


def _plain_scan(text: str):
    from pipeline.detection import scan_text

    return scan_text(text)


_HYPOTHESIS_CHATS = st.lists(st.tuples(st.sampled_from(_ROLES), st.sampled_from(_PIECES)), min_size=1, max_size=16)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(_HYPOTHESIS_CHATS, st.data())
def test_context_findings_equal_the_full_stretch_scan(chat, data):
    new = sorted(data.draw(st.sets(st.integers(0, len(chat) - 1), min_size=1, max_size=3)))
    assert context_findings(chat, new) == _reference(chat, new)
