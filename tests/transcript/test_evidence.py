"""Evidence excerpts: flagged or chosen messages with neighbours, within card-network limits."""

from __future__ import annotations

import io
from pathlib import Path

import pypdf
import pytest

from pipeline.transcript import TranscriptOptions, UnknownMessage, chain_head, render_transcript
from pipeline.transcript.document import Gap
from pipeline.transcript.excerpt import excerpt_items
from tests.transcript.factories import NOW, BlobShelf, conversation, finding, jpeg, message
from usecases.transcript_rendering import TranscriptTimeout, render_environment


def _long_conversation(shelf: BlobShelf):
    photo = shelf.add(jpeg(3000, 2000), "scale.jpg", "image/jpeg")
    messages = [message(i, f"Routine message {i} about shipping and insurance.") for i in range(120)]
    flagged_body = "Pay me on Zelle at 555-0100 and skip the platform"
    messages[40] = message(40, flagged_body, findings=[finding(flagged_body, "555-0100")])
    messages[41] = message(41, "Here is the scale photo", attachments=[photo])
    return conversation(messages)


def test_excerpt_items_mark_gaps() -> None:
    messages = [message(i, "x") for i in range(10)]
    items = excerpt_items(messages, [5], 1)
    assert [type(i).__name__ for i in items] == ["Gap", "tuple", "tuple", "tuple", "Gap"]
    assert items[0] == Gap(4, messages[0], messages[3]) and items[-1] == Gap(3, messages[7], messages[9])


def test_evidence_shows_flagged_and_chosen_messages_within_limits(tmp_path: Path) -> None:
    shelf = BlobShelf()
    conv = _long_conversation(shelf)
    environment = render_environment(shelf.read, tmp_path)
    options = TranscriptOptions(evidence=True, around_message_ids=("msg-00100",), context_messages=2)
    result = render_transcript(conv, now=NOW, environment=environment, options=options)
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(result.pdf)).pages)
    assert result.pages <= 20 and len(result.pdf) <= 5_000_000
    assert "msg-00040" in text and "msg-00100" in text and "msg-00098" in text
    assert "msg-00010" not in text
    assert "not shown in this excerpt" in text
    assert result.shown_message_count == 10
    assert chain_head(conv) in text.replace("\n", "")


def test_unknown_around_id_is_refused(tmp_path: Path) -> None:
    shelf = BlobShelf()
    environment = render_environment(shelf.read, tmp_path)
    options = TranscriptOptions(evidence=True, around_message_ids=("nope",))
    with pytest.raises(UnknownMessage, match="nope"):
        render_transcript(_long_conversation(shelf), now=NOW, environment=environment, options=options)


def test_render_over_its_time_limit_is_stopped(tmp_path: Path) -> None:
    shelf = BlobShelf()
    environment = render_environment(shelf.read, tmp_path)
    with pytest.raises(TranscriptTimeout):
        render_transcript(_long_conversation(shelf), now=NOW, environment=environment,
                          options=TranscriptOptions(time_limit_seconds=0.05))
