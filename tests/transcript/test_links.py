"""Links from the first page's "What was agreed" summary jump to the page of the message they name.

A long conversation is rendered in parts that are joined afterwards, so a link on page 1 often
points at a message drawn in a later part: the joiner must carry those targets across.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pypdf
import pytest

from pipeline.transcript import SenderRole, TranscriptMessage, TranscriptOptions, render_transcript
from pipeline.transcript.terms import agreed_terms
from tests.transcript.factories import NOW, START, BlobShelf, conversation
from usecases.transcript_rendering import render_environment

# Messages that state terms, spread so that they fall in the first, a middle and the last part.
TERM_MESSAGES = {3: ("seller", "Asking $1,900 for the two Maple Leafs"), 260: ("buyer", "Would you take $1,750?"),
                 520: ("seller", "$1,800 and it's yours"), 521: ("buyer", "Deal"),
                 777: ("buyer", "Paid $1,800 via Zelle just now")}


def _long_conversation(count: int = 800):
    messages = []
    for i in range(count):
        role, body = TERM_MESSAGES.get(i, ("seller" if i % 2 else "buyer", f"Chatting about the weather, note {i}."))
        role = SenderRole(role)
        messages.append(TranscriptMessage(f"msg-{i:05d}", role, role.value.title(), START + timedelta(minutes=i), body))
    return conversation(messages)


def _page_of(reader: pypdf.PdfReader, destination: object) -> int:
    if isinstance(destination, (str, bytes)):
        destination = reader.named_destinations[str(destination)]
        return reader.get_destination_page_number(destination)
    array = destination.get_object() if hasattr(destination, "get_object") else destination
    if isinstance(array, pypdf.generic.DictionaryObject):
        array = array["/D"]
    return reader.get_page_number(array[0].get_object())


def _link_targets(reader: pypdf.PdfReader) -> list[int]:
    pages = []
    for annotation in reader.pages[0].get("/Annots", []):
        annotation = annotation.get_object()
        if annotation.get("/Subtype") != "/Link":
            continue
        if "/Dest" in annotation:
            pages.append(_page_of(reader, annotation["/Dest"]))
        else:
            action = annotation["/A"].get_object()
            assert action["/S"] == "/GoTo", f"a summary link leaves the document: {action}"
            assert str(annotation["/Contents"]).startswith("Go to message msg-")  # PDF/UA: says where it leads
            pages.append(_page_of(reader, action["/D"]))
    return pages


@pytest.mark.slow
def test_every_summary_link_jumps_to_the_page_of_its_message(tmp_path: Path) -> None:
    talk = _long_conversation()
    rendered = render_transcript(talk, now=NOW, environment=render_environment(BlobShelf().read, tmp_path),
                                 options=TranscriptOptions(messages_per_part=250))
    assert rendered.pages > 20
    assert rendered.refused_urls == ()
    reader = pypdf.PdfReader(io.BytesIO(rendered.pdf))
    # One link per row of the summary table, in the table's order.
    linked_ids = [term.message_id for term in agreed_terms(talk)]
    assert {"msg-00003", "msg-00520", "msg-00777"} <= set(linked_ids)
    targets = _link_targets(reader)
    assert len(targets) == len(linked_ids)
    for message_id, page_number in zip(linked_ids, targets, strict=True):
        text = " ".join(reader.pages[page_number].extract_text().split())
        assert f"message {message_id}" in text, f"the link to {message_id} lands on page {page_number + 1}"
