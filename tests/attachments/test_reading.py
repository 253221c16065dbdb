"""Reading real files: OCR with boxes, QR codes (also tiny ones), PDF text layers and scans, EXIF GPS."""

from __future__ import annotations

import io
import time

from PIL import Image

from storage.attachment_reader import read_attachment
from tests.attachments import files
from usecases.attachment_scanning import scan_file

DOMAINS = ("peermetals.com",)


def kinds(result) -> set[str]:
    return {f.kind for f in result.findings}


def test_phone_in_a_photo_is_found_with_its_box():
    result = scan_file(files.text_image(["2024 Gold Eagle 1 oz", "text me 602 555 0148"]), DOMAINS)
    assert result.status == "scanned"
    phone = next(f for f in result.findings if f.kind == "phone")
    assert phone.value == "+16025550148"
    left, top, right, bottom = phone.box.to_json()
    # The second line is drawn at y = 80 + 1.8 * 44 = 159 in the 1200 x 800 image.
    assert 120 < top < 175 and 175 < bottom < 230 and left < 100 and right > 400


def test_a_twelve_megapixel_photo_keeps_boxes_in_original_pixels():
    result = scan_file(files.text_image(["email me: jo.silver@gmail.com"], size=(4000, 3000), font_size=120), DOMAINS)
    email = next(f for f in result.findings if f.kind == "email")
    left, top, right, bottom = email.box.to_json()
    assert top < 150 < bottom and right > 1500


def test_qr_code_payload_is_read_and_platform_qr_is_clean():
    result = scan_file(files.qr_image("https://venmo.com/u/Coin-Guy-22"), DOMAINS)
    assert "payment" in kinds(result) or "url" in kinds(result)
    assert all(f.source == "qr" for f in result.findings)
    clean = scan_file(files.qr_image("https://peermetals.com/help"), DOMAINS)
    assert clean.status == "scanned" and not clean.findings


def test_tiny_qr_code_is_read_after_upscaling():
    result = scan_file(files.qr_image("tel:+16025550148", module_px=3, canvas=(1600, 1200), shrink=2), DOMAINS)
    assert ("phone", "+16025550148") in {(f.kind, f.value) for f in result.findings}


def test_gps_in_exif_is_a_location_finding():
    exif = files.gps_exif((40.0, 26.0, 46.0), "N", (79.0, 58.0, 56.0), "W")
    result = scan_file(files.text_image(["nice coin"], size=(600, 400), exif=exif), DOMAINS)
    assert [(f.kind, f.value) for f in result.findings if f.kind == "location"] == [("location", "40.446111,-79.982222")]


def test_pdf_text_layer_and_page_numbers():
    result = scan_file(files.pdf_with_text(["Invoice 1001", "pay me on zelle: 602 555 0148"]), DOMAINS)
    assert result.method == "pdf" and result.pages == 2
    assert {f.page for f in result.findings} == {1}
    assert "phone" in kinds(result)


def test_scanned_pdf_page_without_text_layer_is_ocrd():
    image = Image.open(io.BytesIO(files.text_image(["call me 602 555 0148"])))
    out = io.BytesIO()
    image.save(out, "PDF", resolution=100)
    result = scan_file(out.getvalue(), DOMAINS)
    assert result.method == "pdf"
    assert "phone" in kinds(result)


def test_text_document_is_read_as_text():
    result = scan_file(b"Hi! WhatsApp me on +44 7700 900123 for a better price", DOMAINS)
    assert result.method == "text" and {"phone", "handle"} <= kinds(result)


def test_plain_photo_skips_ocr_quickly():
    data = files.plain_photo()
    read_attachment(data)  # warm-up: tesseract's model is loaded once per process
    started = time.perf_counter()
    extraction = read_attachment(data)
    assert extraction.blocks == []
    assert time.perf_counter() - started < 1.0  # generous on a shared machine; bench/images_bench.py measures it


def test_webp_and_the_first_frame_of_a_gif_are_read():
    webp = files.text_image(["text me 602 555 0148"], fmt="WEBP")
    assert "phone" in kinds(scan_file(webp, DOMAINS))
    first = Image.open(io.BytesIO(files.text_image(["text me 602 555 0148"], fmt="PNG"))).convert("P")
    second = Image.new("P", first.size, 0)
    out = io.BytesIO()
    first.save(out, "GIF", save_all=True, append_images=[second], duration=100)
    result = scan_file(out.getvalue(), DOMAINS)
    assert result.method == "image" and "phone" in kinds(result)
