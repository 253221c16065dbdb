"""Property tests: any text scans without error and every span is a valid slice of it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.detection import mask_text, scan_conversation, scan_text
from pipeline.detection.normalise import normalise

# Characters evaders and copy-paste actually produce, mixed with ordinary text.
_ALPHABET = st.sampled_from(
    list("0123456789 abcdeilmnoOtxz@.-()[]$#+:/,") + ["\u200b", "\u00ad", "\ufe0f", "\u20e3", "\uff17", "\u0967",
                                                      "\u0430", "\u2460", "\U0001d7d5", "\u202e", " at ", " dot ",
                                                      "zelle", "whatsapp", "text me", "call", "gmail", ".com"]
)
_TEXT = st.lists(_ALPHABET, max_size=60).map("".join) | st.text(max_size=80)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_scan_never_fails_and_spans_are_valid(text: str) -> None:
    for finding in scan_text(text):
        assert finding.kind in {"phone", "email", "url", "handle", "payment", "intent"}
        assert 0.0 <= finding.score <= 1.0
        for span in finding.spans:
            assert 0 <= span.start < span.end <= len(text)
        assert finding.match
    mask_text(text, scan_text(text))


@settings(max_examples=200, deadline=None)
@given(_TEXT)
def test_normalised_offsets_point_inside_the_original(text: str) -> None:
    folded = normalise(text)
    for i in range(len(folded.text)):
        start, end = folded.to_original(i, i + 1)
        assert 0 <= start < end <= len(text)


@settings(max_examples=100, deadline=None)
@given(st.lists(_TEXT, max_size=6))
def test_conversation_spans_point_into_their_messages(texts: list[str]) -> None:
    for finding in scan_conversation(texts):
        assert finding.messages
        for span in finding.spans:
            assert span.message is not None and span.message in finding.messages
            assert 0 <= span.start < span.end <= len(texts[span.message])
