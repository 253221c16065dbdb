"""Terms at a glance: extraction measured on a hand-written corpus; it never invents a term."""

from __future__ import annotations

from datetime import timedelta

from pipeline.transcript import SenderRole, TranscriptMessage
from pipeline.transcript.terms import agreed_terms, tracking_carrier
from tests.transcript.factories import START, conversation
from tests.transcript.terms_corpus import CORPUS, FEDEX_OK, UPS_BAD, UPS_OK, USPS_OK

# Measured on the corpus when the extractor was written (docs/transcripts.md); a change that
# loses ground fails here.
MIN_PRECISION, MIN_RECALL = 0.95, 0.95


def _conversation(number: int, lines):
    messages = [TranscriptMessage(f"m-{number}-{i}", SenderRole(role), role.title(), START + timedelta(minutes=i), body)
                for i, (role, body) in enumerate(lines)]
    return conversation(messages, external_id=f"c-{number}")


def evaluate() -> tuple[float, float, int, int, int, list[str]]:
    """Precision, recall, true positives, extracted, expected, and the mistakes, over the corpus."""
    hits = extracted = expected_total = 0
    mistakes: list[str] = []
    for number, (lines, expected) in enumerate(CORPUS):
        found = {(t.index, t.kind, t.value) for t in agreed_terms(_conversation(number, lines))}
        hits += len(found & expected)
        extracted += len(found)
        expected_total += len(expected)
        mistakes += [f"#{number} extra {t}" for t in sorted(found - expected)]
        mistakes += [f"#{number} missed {t}" for t in sorted(expected - found)]
    return hits / max(1, extracted), hits / max(1, expected_total), hits, extracted, expected_total, mistakes


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 60


def test_precision_and_recall_on_the_corpus() -> None:
    precision, recall, *_, mistakes = evaluate()
    assert precision >= MIN_PRECISION and recall >= MIN_RECALL, (precision, recall, mistakes)


def test_every_term_quotes_its_own_message() -> None:
    for number, (lines, _) in enumerate(CORPUS):
        conv = _conversation(number, lines)
        for term in agreed_terms(conv):
            message = conv.messages[term.index]
            assert term.message_id == message.external_id and term.quote and term.quote in message.body


def test_offers_left_open_are_marked_open_and_accepted_ones_linked() -> None:
    terms = agreed_terms(_conversation(0, [("seller", "Asking $2,050"), ("buyer", "How about $1,990?")]))
    assert [(t.kind, t.status) for t in terms] == [("offer", "countered"), ("counter-offer", "open")]
    terms = agreed_terms(_conversation(1, [("buyer", "Would you take $1,800?"), ("seller", "Deal.")]))
    assert terms[0].status == "accepted in m-1-1" and terms[1].status == "accepts m-1-0"


def test_tracking_numbers_need_a_valid_check_digit() -> None:
    assert tracking_carrier(UPS_OK) == "UPS" and tracking_carrier(UPS_BAD) is None
    assert tracking_carrier(FEDEX_OK) == "FedEx" and tracking_carrier(USPS_OK) == "USPS"
    assert tracking_carrier("123456789012") is None


if __name__ == "__main__":
    p, r, hits, extracted, expected, mistakes = evaluate()
    print(f"{len(CORPUS)} conversations: precision {p:.3f} ({hits}/{extracted}), recall {r:.3f} ({hits}/{expected})")
    print("\n".join(mistakes))


def test_page_one_shows_what_was_agreed_linked_to_the_messages(tmp_path) -> None:
    import io

    import pikepdf
    import pypdf

    from pipeline.transcript import render_transcript
    from tests.transcript.factories import NOW, BlobShelf
    from usecases.transcript_rendering import render_environment

    lines = [("seller", "Two Maple Leafs, PCGS MS70, asking $3,900"), ("buyer", "Would you take $3,700?"),
             ("seller", "$3,800 and it's yours"), ("buyer", "Deal"), ("buyer", "Paid $3,800 via Zelle"),
             ("seller", f"Shipped, UPS {UPS_OK}"), ("buyer", "Would you sell a third one for $1,850?")]
    pdf = render_transcript(_conversation(7, lines), now=NOW, environment=render_environment(BlobShelf().read, tmp_path)).pdf
    first = " ".join(pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
    assert "What was agreed" in first
    for expected in ("Counter-offer USD 3800.00", "accepted in m-7-3", "Acceptance USD 3800.00", "2 maple leaf",
                     "MS70", "paid USD 3800.00", f"UPS {UPS_OK}", "USD 1850.00", "open: not accepted"):
        assert expected in first or expected.replace(" ", "") in first.replace(" ", ""), expected
    with pikepdf.open(io.BytesIO(pdf)) as document:
        links = [a for a in document.pages[0].get("/Annots", []) if a.get("/Subtype") == "/Link"]
    assert len(links) >= 8, "each term links to its message"
    assert "“$3,800 and it's yours”" in first
