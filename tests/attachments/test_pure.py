"""pipeline.attachments: what to read, OCR lines to detector input and back to regions, EXIF GPS."""

from __future__ import annotations

from pipeline.attachments import AttachmentLimits, Box, TextBlock, exceeds_pixel_limit, location_finding, plan_for, scan_blocks
from pipeline.attachments.exif import gps_decimal
from pipeline.attachments.regions import lines_to_document

DOMAINS = ("peermetals.com",)


def test_plan_follows_the_bytes_not_the_declared_type():
    assert plan_for(b"\xff\xd8\xff\xe0rest", "application/pdf").method == "image"
    assert plan_for(b"%PDF-1.7\n").method == "pdf"
    assert plan_for("text me at 602 555 0148".encode()).method == "text"
    skipped = plan_for(b"PK\x03\x04zip")
    assert skipped.method == "skip" and "application/zip" in skipped.reason
    assert plan_for(b"\x00\x01\x02binary").method == "skip"


def test_pixel_limit_names_the_size():
    limits = AttachmentLimits(max_pixels=1_000_000, max_side=5_000)
    assert exceeds_pixel_limit(1000, 1000, limits) is None
    assert "1001x1000" in exceeds_pixel_limit(1001, 1000, limits)
    assert exceeds_pixel_limit(6000, 10, limits) is not None
    assert exceeds_pixel_limit(0, 10, limits) is not None


def test_a_finding_carries_the_box_of_the_line_it_came_from():
    blocks = [TextBlock("2024 Silver Eagle, 1 oz", "ocr", 0, Box(10, 10, 400, 40)),
              TextBlock("text me 602 555 0148", "ocr", 0, Box(10, 60, 380, 90))]
    found = scan_blocks(blocks, DOMAINS)
    phones = [f for f in found if f.kind == "phone"]
    assert [(f.value, f.box, f.page, f.source) for f in phones] == [("+16025550148", Box(10, 60, 380, 90), 0, "ocr")]


def test_a_contact_split_over_two_lines_gets_the_union_of_their_boxes():
    blocks = [TextBlock("email pinecone.bullion@", "ocr", 0, Box(20, 100, 300, 130)),
              TextBlock("gmail.com", "ocr", 0, Box(25, 140, 180, 170))]
    emails = [f for f in scan_blocks(blocks, DOMAINS) if f.kind == "email"]
    assert emails and emails[0].box == Box(20, 100, 300, 170)


def test_qr_payloads_are_scanned_on_their_own_and_platform_links_are_allowed():
    blocks = [TextBlock("Order 1234", "ocr", 0, Box(0, 0, 10, 10)),
              TextBlock("https://peermetals.com/orders/1234", "qr", 0, Box(50, 50, 90, 90)),
              TextBlock("tel:+16025550148", "qr", 1, Box(5, 5, 60, 60))]
    found = scan_blocks(blocks, DOMAINS)
    assert {(f.kind, f.page, f.source) for f in found} >= {("phone", 1, "qr")}
    assert not [f for f in found if f.page == 0]


def test_ocr_lines_are_cleaned_and_empty_ones_dropped():
    document = lines_to_document([TextBlock("  call   me |", "ocr"), TextBlock("   ", "ocr"), TextBlock("ok", "ocr")])
    assert document.text == "call me\nok"
    assert document.starts == (0, 8)
    wrapped = lines_to_document([TextBlock("mail jo.silver@", "ocr"), TextBlock("gmail.com", "ocr")])
    assert wrapped.text == "mail jo.silver@gmail.com" and wrapped.starts == (0, 15)


def test_gps_in_degrees_minutes_seconds_becomes_a_location_finding():
    gps = {1: "S", 2: [33.0, 51.0, 54.0], 3: "E", 4: [151.0, 12.0, 36.0]}
    assert gps_decimal(gps) == (-33.865, 151.21)
    finding = location_finding(gps)
    assert finding.kind == "location" and finding.value == "-33.865000,151.210000" and finding.box is None


def test_missing_zero_or_malformed_gps_is_no_finding():
    assert location_finding(None) is None
    assert location_finding({1: "N", 2: [0, 0, 0], 3: "E", 4: [0, 0, 0]}) is None
    assert location_finding({1: "N", 2: [91.0, 0, 0], 3: "E", 4: [10.0, 0, 0]}) is None
    assert location_finding({1: "N", 2: ["x"], 3: "E", 4: [1.0]}) is None
    assert location_finding({2: [10.0, 0, 0]}) is None


def test_outlines_scale_a_region_from_the_original_to_the_shown_photo_and_clip_it():
    from pipeline.attachments import outline, shown_size

    assert shown_size((4000, 3000), 480) == (480, 360) and shown_size((300, 200), 480) == (300, 200)
    drawn = outline("phone", [1000, 1500, 2001, 1600], (4000, 3000), (480, 360))
    assert (drawn.kind, drawn.x, drawn.y, drawn.width, drawn.height) == ("phone", 120, 180, 121, 12)
    clipped = outline("email", [3900, 2900, 4400, 3300], (4000, 3000), (480, 360))
    assert (clipped.x, clipped.y, clipped.x + clipped.width, clipped.y + clipped.height) == (468, 348, 480, 360)
    assert outline("url", [5000, 10, 5100, 20], (4000, 3000), (480, 360)) is None  # wholly outside
    assert outline("url", [10, 10, 10, 10], (4000, 3000), (480, 360)).width == 1  # a point stays visible
    assert outline("url", [1, 2, 3], (4000, 3000), (480, 360)) is None


def test_the_upright_size_turns_with_the_exif_orientation_and_refuses_non_images():
    import io

    from PIL import Image

    from pipeline.attachments import upright_size

    def jpeg(orientation: int) -> bytes:
        exif = Image.Exif()
        exif[0x0112] = orientation
        buffer = io.BytesIO()
        Image.new("RGB", (400, 100), "white").save(buffer, "JPEG", exif=exif)
        return buffer.getvalue()

    assert upright_size(jpeg(1)) == (400, 100) and upright_size(jpeg(3)) == (400, 100)
    assert upright_size(jpeg(6)) == (100, 400) and upright_size(jpeg(8)) == (100, 400)
    assert upright_size(b"%PDF-1.4\n%%EOF\n") is None and upright_size(b"") is None
