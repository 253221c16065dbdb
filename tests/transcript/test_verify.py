"""Self-verifying transcripts: the embedded record, `peerguard verify`, and five ways of tampering."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest

from pipeline.transcript import render_transcript
from pipeline.transcript.chain import GENESIS_LINK, next_link
from pipeline.transcript.record import RECORD_NAME, NotATranscript, check_transcript, read_record
from tests.transcript.factories import NOW, BlobShelf, conversation, jpeg, message
from tests.transcript.test_service import _seed
from usecases.transcript_rendering import render_environment
from usecases.transcript_verification import verify_transcript
from usecases.transcripts import create_request, fulfil_request

PEERGUARD = str(Path(sys.executable).parent / "peerguard")
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify_transcript.py"


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> bytes:
    shelf = BlobShelf()
    photo = shelf.add(jpeg(1600, 1200), "coin-front.jpg", "image/jpeg")
    messages = [message(i, f"Message {i}: I offer $1,850 for the 1 oz Maple Leaf, shipped USPS. " * 6)
                for i in range(24)]
    messages[10] = message(10, "Front of the coin", attachments=[photo])
    rendered = render_transcript(conversation(messages), now=NOW,
                                 environment=render_environment(shelf.read, tmp_path_factory.mktemp("cache")))
    assert rendered.pages >= 3, "the tampering cases need several pages"
    return rendered.pdf


def _rewrite(data: bytes, change) -> bytes:
    pdf = pikepdf.Pdf.open(io.BytesIO(data))
    change(pdf)
    buffer = io.BytesIO()
    pdf.save(buffer)
    return buffer.getvalue()


def _record_lines(pdf: pikepdf.Pdf) -> list[str]:
    return pdf.attachments[RECORD_NAME].get_file().read_bytes().decode("utf-8").removesuffix("\n").split("\n")


def _replace_record(pdf: pikepdf.Pdf, lines: list[str], rechain: bool) -> None:
    """Put edited lines back; with ``rechain`` the forger also recomputes links and head."""
    header = json.loads(lines[0])
    if rechain:
        link, links = GENESIS_LINK, []
        for line in lines[1:]:
            link = next_link(link, line)
            links.append(link)
        header["links"], header["head"] = links, link
    data = "\n".join([json.dumps(header), *lines[1:]]).encode("utf-8") + b"\n"
    pdf.attachments[RECORD_NAME] = pikepdf.AttachedFileSpec(pdf, data, filename=RECORD_NAME)


def _edit_message(pdf: pikepdf.Pdf, number: int, key: str, value, rechain: bool) -> None:
    lines = _record_lines(pdf)
    document = json.loads(lines[number])
    document[key] = value
    lines[number] = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    _replace_record(pdf, lines, rechain)


def test_an_untouched_transcript_verifies_from_the_pdf_alone(original: bytes) -> None:
    report, record = check_transcript(original)
    assert report.ok, report.differences
    assert report.message_count == 24 and record.conversation == "conv-42"
    pdf = pikepdf.Pdf.open(io.BytesIO(original))
    # PDF/A-3 style: the record is the document's associated file, with relationship /Data.
    spec = pdf.Root.AF[0]
    assert spec.F == RECORD_NAME and spec.AFRelationship == pikepdf.Name.Data
    messages = [json.loads(line) for line in record.lines]
    assert messages[0]["body"].startswith("Message 0: I offer $1,850")
    assert record.head == _head_of(record.lines) == record.links[-1] and len(record.links) == 24


def _head_of(lines) -> str:
    link = GENESIS_LINK
    for line in lines:
        link = next_link(link, line)
    return link


def test_a_changed_body_is_caught_even_when_the_forger_rechains(original: bytes) -> None:
    forged = _rewrite(original, lambda pdf: _edit_message(pdf, 3, "body", "Message 2: I offer $1,250", True))
    report, _ = check_transcript(forged)
    assert not report.ok
    assert any("page 1 shows chain head" in d for d in report.differences), report.differences


def test_a_changed_time_names_the_message(original: bytes) -> None:
    forged = _rewrite(original, lambda pdf: _edit_message(pdf, 5, "sent_at", "2026-03-01T08:00:00.000000Z", False))
    report, _ = check_transcript(forged)
    assert not report.ok
    assert any("message msg-00004 (number 5) does not match" in d for d in report.differences), report.differences


def test_reordered_messages_are_caught(original: bytes) -> None:
    def swap(pdf: pikepdf.Pdf) -> None:
        lines = _record_lines(pdf)
        lines[2], lines[3] = lines[3], lines[2]
        _replace_record(pdf, lines, rechain=False)

    report, _ = check_transcript(_rewrite(original, swap))
    assert any("message msg-00002 (number 2)" in d for d in report.differences), report.differences


def test_reordered_pages_are_caught(original: bytes) -> None:
    def swap(pdf: pikepdf.Pdf) -> None:
        first, second = pdf.pages[1], pdf.pages[2]
        pdf.pages[1], pdf.pages[2] = pikepdf.Page(second), pikepdf.Page(first)

    report, _ = check_transcript(_rewrite(original, swap))
    assert any("out of their recorded order" in d for d in report.differences), report.differences


def _swap_photo(pdf: pikepdf.Pdf) -> None:
    other = jpeg(1600, 1200, color=(20, 160, 20))
    for page in pdf.pages:
        for image in page.get_images().values():
            if image.get("/Filter") == pikepdf.Name.DCTDecode:
                image.write(other, filter=pikepdf.Name.DCTDecode)
                return
    raise AssertionError("no photo in the transcript")


def test_a_swapped_photo_is_caught(original: bytes) -> None:
    report, _ = check_transcript(_rewrite(original, _swap_photo))
    assert any("differ from the record (text, photos" in d for d in report.differences), report.differences


def test_a_removed_page_is_caught(original: bytes) -> None:
    report, _ = check_transcript(_rewrite(original, lambda pdf: pdf.pages.__delitem__(1)))
    assert any("pages were removed" in d for d in report.differences), report.differences
    assert any("recorded page(s) 2 are missing" in d for d in report.differences), report.differences


def test_edited_page_text_is_caught(original: bytes) -> None:
    def scribble(pdf: pikepdf.Pdf) -> None:
        pdf.pages[1].contents_add(pdf.make_stream(b"q 1 1 1 rg 50 400 200 40 re f Q"))

    report, _ = check_transcript(_rewrite(original, scribble))
    assert any("page(s) 2 differ" in d for d in report.differences), report.differences


def test_a_pdf_without_record_is_not_a_transcript(original: bytes) -> None:
    def strip(pdf: pikepdf.Pdf) -> None:
        del pdf.attachments[RECORD_NAME]

    with pytest.raises(NotATranscript):
        check_transcript(_rewrite(original, strip))
    with pytest.raises(NotATranscript):
        check_transcript(b"%PDF-1.7 but not really")


def test_the_standalone_script_agrees(original: bytes, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.pdf", tmp_path / "bad.pdf"
    good.write_bytes(original)
    bad.write_bytes(_rewrite(original, lambda pdf: _edit_message(pdf, 5, "body", "changed", False)))
    ok = subprocess.run([sys.executable, str(SCRIPT), str(good)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    with pikepdf.Pdf.open(good) as pdf:
        assert read_record(pdf).head in ok.stdout
    altered = subprocess.run([sys.executable, str(SCRIPT), str(bad)], capture_output=True, text=True, timeout=60)
    assert altered.returncode == 1 and "msg-00004" in altered.stdout, altered.stdout + altered.stderr
    assert len(SCRIPT.read_text().splitlines()) <= 60


@pytest.fixture
def cli_env(settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update({"PEERGUARD_DATA_DIR": str(settings.data_dir), "DATABASE_URL": settings.database_url})
    return env


def test_verify_against_the_database_names_the_field(app, cli_env, tmp_path: Path) -> None:
    _seed(app)
    outcome = fulfil_request(app, create_request(app, "conv-77", "staff:ann", NOW), NOW)
    data = outcome.pdf_path.read_bytes()
    assert verify_transcript(data, app).ok
    # A consistent forgery of the PDF alone (record re-chained, printed head unchanged) still
    # disagrees with the database, which names the message and the field.
    forged = _rewrite(data, lambda pdf: _edit_message(pdf, 2, "body", "Yes. Text me never", True))
    report = verify_transcript(forged, app)
    assert any("message m-1: body differ" in d for d in report.differences), report.differences
    target = tmp_path / "forged.pdf"
    target.write_bytes(forged)
    altered = subprocess.run([PEERGUARD, "verify", str(target)], capture_output=True, text=True, env=cli_env, timeout=120)
    assert altered.returncode == 1 and "ALTERED" in altered.stdout and "m-1: body" in altered.stdout, altered.stdout
    good = tmp_path / "good.pdf"
    good.write_bytes(data)
    verified = subprocess.run([PEERGUARD, "verify", str(good)], capture_output=True, text=True, env=cli_env, timeout=120)
    assert verified.returncode == 0 and "compared with the stored conversation" in verified.stdout, verified.stdout
    assert hashlib.sha256(data).hexdigest() == outcome.pdf_sha256


def test_page_digests_at_once_equal_page_by_page(original: bytes) -> None:
    """The joiner's batched, threaded digests are exactly what verify recomputes page by page."""
    from pipeline.transcript.record import page_digest, page_digests

    pdf = pikepdf.Pdf.open(io.BytesIO(original))
    one_by_one = [page_digest(page) for page in pdf.pages]
    assert len(set(one_by_one)) == len(pdf.pages)
    assert page_digests(pdf.pages) == one_by_one
    assert page_digests(pdf.pages, threads=1) == one_by_one
    assert json.loads(_record_lines(pdf)[0])["page_digests"] == one_by_one
