"""Read what an attachment says: OCR lines with boxes (tesseract), QR/barcode payloads (zxing-cpp),
PDF text layers (pypdf), EXIF GPS. Adapters only: which findings matter is decided in pipeline/.

Every reader raises ``Unreadable`` with a reason a reviewer can act on; nothing else escapes for a
bad file. Run it through ``storage.sandbox.run_limited`` so a decoder that loops or allocates
without end costs a child process, not the worker.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from PIL import Image, ImageChops, ImageFilter, ImageOps

from pipeline.attachments import AttachmentLimits, Box, TextBlock, exceeds_pixel_limit, plan_for
from pipeline.transcript.images import NotRenderable, check_complete

TESSDATA_DIRS = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata", "/usr/share/tessdata")
WORK_SIDE = 2000
"""Long side OCR works at: 12-MP photos are decoded at half scale (JPEG draft), small text survives."""
MIN_OCR_CONFIDENCE = 30.0
CONFIDENT_WORDS = 2
"""Fewer tesseract words than this with confidence >= 80 (and no code) opens the PP-OCR fallback."""
DEEP_MIN_CONFIDENCE = 0.5
THUMB_SIDE = 500
STROKE_RANGE = 40
"""A thumbnail pixel is a stroke when its 3x3 neighbourhood spans at least this brightness range."""
STROKE_FRACTION = 0.012
"""Below this share of stroke pixels in the thumbnail a photo carries no legible text or code
(measured: images with text 0.027 and up, plain photos about 0.005)..."""
PATCH_RADIUS = 7
DENSE_PATCH = 0.6
"""...unless one 15 x 15 patch is this dense with strokes (a small QR code or label; an object's
outline reaches about 0.2)."""


class Unreadable(Exception):
    """The file cannot be read safely; the message is the reason recorded for it."""


@dataclass
class Extraction:
    """What a file yielded: text blocks per page, EXIF GPS, pages seen, and notes (e.g. pages skipped)."""

    content_type: str
    method: str
    blocks: list[TextBlock] = field(default_factory=list)
    gps: dict | None = None
    pages: int = 1
    notes: list[str] = field(default_factory=list)


DEFAULT_LIMITS = AttachmentLimits()


def read_attachment(data: bytes, limits: AttachmentLimits = DEFAULT_LIMITS) -> Extraction:
    """Extract text, codes and GPS from one file's bytes; raises Unreadable."""
    plan = plan_for(data[:64])
    if plan.method == "image":
        return read_image(data, limits, plan.content_type)
    if plan.method == "pdf":
        return read_pdf(data, limits)
    if plan.method == "text":
        return _read_text(data, limits)
    raise Unreadable(plan.reason)


# --- images -----------------------------------------------------------------------------------


def read_image(data: bytes, limits: AttachmentLimits, content_type: str = "image") -> Extraction:
    """OCR and code reading of an image (first frame), with GPS from its EXIF.

    A thumbnail decoded at 1/8 scale (JPEG) first tells whether there is text or a code at all,
    so a plain product photo costs a fraction of a full decode.
    """
    result = Extraction(content_type, "image")
    try:
        # WeasyPrint turns Pillow's LOAD_TRUNCATED_IMAGES on for the whole process, which would
        # pad a cut-off photo with grey; the end marker says whether the file is complete.
        check_complete(data, content_type)
    except NotRenderable as exc:
        raise Unreadable(str(exc)) from None
    with _opened(data, limits) as image:
        result.gps = _gps(image)
        if not likely_has_text(_thumbnail(image)):
            result.notes.append("no text or code in the image")
            return result
    with _opened(data, limits) as image:
        work = _working_copy(image)
    result.blocks = list(_image_blocks(work, page=0))
    return result


def _opened(data: bytes, limits: AttachmentLimits):
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise Unreadable(f"decompression bomb refused: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise Unreadable(f"not a readable image: {exc}") from None
    reason = exceeds_pixel_limit(image.width, image.height, limits)
    if reason:
        image.close()
        raise Unreadable(reason)
    return image


def _gps(image: Image.Image) -> dict | None:
    try:
        gps = image.getexif().get_ifd(0x8825)
    except Exception:  # noqa: BLE001 - malformed EXIF must not cost the image its OCR.
        return None
    return {int(k): _plain(v) for k, v in gps.items()} if gps else None


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("latin-1")
    try:
        return float(value) if not isinstance(value, str) else value
    except (TypeError, ValueError):
        return str(value)


def _working_copy(image: Image.Image) -> Image.Image:
    """Grayscale, upright, at most WORK_SIDE on its long side; a truncated file is unreadable."""
    original_side = max(image.size)
    scale = min(1.0, WORK_SIDE / original_side)
    if image.format == "JPEG" and scale < 1:
        image.draft("L", (int(image.width * scale), int(image.height * scale)))
    try:
        image.seek(0)
        image.load()
        gray = ImageOps.exif_transpose(image.convert("L")) if image.mode != "L" else ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise Unreadable(f"corrupt or truncated image: {exc}") from None
    if max(gray.size) > WORK_SIDE:
        gray.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BILINEAR)
    gray.info["scale_back"] = original_side / max(gray.size)
    return gray


def _thumbnail(image: Image.Image) -> Image.Image:
    """The image at about THUMB_SIDE px, grayscale (JPEG: decoded at reduced scale, which is cheap)."""
    if image.format == "JPEG":
        factor = max(1, max(image.size) // THUMB_SIDE)
        image.draft("L", (image.width // factor, image.height // factor))
    try:
        image.seek(0)
        image.load()
        gray = image.convert("L")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise Unreadable(f"corrupt or truncated image: {exc}") from None
    gray.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BILINEAR)
    return gray


def likely_has_text(thumb: Image.Image) -> bool:
    """Text and codes are many small high-contrast strokes: pixels whose 3x3 neighbourhood spans a
    large brightness range. Either enough of them over the image, or one dense patch (a small QR
    code or a label on a plain background). Smooth photos, sensor noise (averaged away by the
    thumbnail) and object outlines stay below both."""
    spread = ImageChops.subtract(thumb.filter(ImageFilter.MaxFilter(3)), thumb.filter(ImageFilter.MinFilter(3)))
    strokes = spread.point(lambda v: 255 if v >= STROKE_RANGE else 0)
    if strokes.histogram()[255] / max(1, thumb.width * thumb.height) >= STROKE_FRACTION:
        return True
    densest = strokes.filter(ImageFilter.BoxBlur(PATCH_RADIUS)).getextrema()[1]
    return densest >= DENSE_PATCH * 255


def _image_blocks(gray: Image.Image, page: int, scale_back: float = 1.0) -> Iterator[TextBlock]:
    codes = list(read_codes(gray, page, scale_back))
    lines = list(ocr_lines(gray, page, scale_back))
    yield from codes
    yield from lines
    if not codes and tesseract_struggled():
        # Handwriting, stylised or slanted text: tesseract saw strokes but read almost no word
        # with confidence. PP-OCR reads those far better at ~10x the cost, so only here.
        yield from deep_ocr_lines(gray, page, scale_back)


# --- OCR and codes ----------------------------------------------------------------------------


def warm_up() -> None:
    """Load tesseract's model in this process, so forked readers inherit it instead of loading it per file.

    Safe across fork: this tesseract build has no OpenMP thread pool, and the parent only loads
    the model, it never recognises with it. PP-OCR is left cold: onnxruntime's threads do not
    survive a fork.
    """
    _tesseract()


@lru_cache(maxsize=1)
def _tesseract():
    import tesserocr

    for path in TESSDATA_DIRS:
        try:
            return tesserocr.PyTessBaseAPI(path=path, lang="eng", psm=tesserocr.PSM.SPARSE_TEXT)
        except RuntimeError:
            continue
    raise RuntimeError("tesseract's English data is not installed (Debian: tesseract-ocr-eng)")


def ocr_lines(gray: Image.Image, page: int = 0, scale_back: float = 1.0) -> Iterator[TextBlock]:
    """Tesseract's text lines with their boxes (in the original image's pixels)."""
    import tesserocr

    api = _tesseract()
    api.SetImage(gray)
    api.Recognize()
    iterator = api.GetIterator()
    level = tesserocr.RIL.TEXTLINE
    factor = _factor(gray, scale_back)
    if iterator is None:
        return
    for line in tesserocr.iterate_level(iterator, level):
        try:
            text = line.GetUTF8Text(level)
        except RuntimeError:  # tesserocr's way of saying "this line has no text"
            continue
        if not text or not text.strip() or line.Confidence(level) < MIN_OCR_CONFIDENCE:
            continue
        box = line.BoundingBox(level)
        if box:
            yield TextBlock(text.strip(), "ocr", page, Box(*(round(v * factor) for v in box)))


def tesseract_struggled() -> bool:
    """After ``ocr_lines``: fewer than CONFIDENT_WORDS words read with confidence >= 80."""
    return sum(1 for c in _tesseract().AllWordConfidences() if c >= 80) < CONFIDENT_WORDS


@lru_cache(maxsize=1)
def _pp_ocr():
    from rapidocr_onnxruntime import RapidOCR

    # Models ship inside the wheel; one thread, like the rest of a worker's work.
    return RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)


def deep_ocr_lines(gray: Image.Image, page: int = 0, scale_back: float = 1.0) -> Iterator[TextBlock]:
    """PP-OCR (RapidOCR on onnxruntime) text lines with their boxes."""
    import numpy

    factor = _factor(gray, scale_back)
    result, _ = _pp_ocr()(numpy.asarray(gray.convert("RGB")))
    for points, text, confidence in result or []:
        if not text.strip() or float(confidence) < DEEP_MIN_CONFIDENCE:
            continue
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        yield TextBlock(text.strip(), "ocr", page, Box(*(round(v * factor) for v in (min(xs), min(ys), max(xs), max(ys)))))


def read_codes(gray: Image.Image, page: int = 0, scale_back: float = 1.0) -> Iterator[TextBlock]:
    """QR and barcode payloads; a second look at twice the size finds codes of ~1.5 px per module."""
    import zxingcpp

    factor = _factor(gray, scale_back)
    codes = zxingcpp.read_barcodes(gray)
    if not codes:
        # QR only, one scale: a tenth of the cost of an all-formats search at twice the size.
        bigger = gray.resize((gray.width * 2, gray.height * 2), Image.Resampling.BICUBIC)
        codes = zxingcpp.read_barcodes(bigger, formats=zxingcpp.BarcodeFormat.QRCode, try_rotate=False, try_downscale=False)
        factor /= 2
    for code in codes:
        if code.text:
            points = [code.position.top_left, code.position.top_right, code.position.bottom_left, code.position.bottom_right]
            xs, ys = [p.x for p in points], [p.y for p in points]
            yield TextBlock(code.text, "qr", page, Box(*(round(v * factor) for v in (min(xs), min(ys), max(xs), max(ys)))))


def _factor(gray: Image.Image, scale_back: float) -> float:
    return scale_back * float(gray.info.get("scale_back", 1.0))


# --- PDFs and text ----------------------------------------------------------------------------


def read_pdf(data: bytes, limits: AttachmentLimits) -> Extraction:
    """Each page's text layer; pages without one (the first ``ocr_pdf_pages`` of them) are OCR'd."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    result = Extraction("application/pdf", "pdf")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise Unreadable("encrypted PDF: its text cannot be read")
        count = len(reader.pages)
    except Unreadable:
        raise
    except (PdfReadError, OSError, ValueError, KeyError, TypeError) as exc:
        raise Unreadable(f"not a readable PDF: {exc}") from None
    if count > limits.max_pdf_pages:
        raise Unreadable(f"PDF has {count:,} pages (limit {limits.max_pdf_pages:,})")
    result.pages = count
    ocr_budget = limits.ocr_pdf_pages
    for number, page in enumerate(reader.pages):
        text = _page_text(page)
        if text.strip():
            result.blocks.append(TextBlock(text, "pdf-text", number))
        elif ocr_budget > 0:
            ocr_budget -= 1
            result.blocks += list(_page_images(page, number, limits))
        else:
            result.notes.append(f"page {number + 1} has no text layer and was not OCR'd")
    return result


def _page_text(page) -> str:
    try:
        return page.extract_text() or ""
    except Exception:  # noqa: BLE001 - one broken content stream should not hide the other pages.
        return ""


def _page_images(page, number: int, limits: AttachmentLimits) -> Iterator[TextBlock]:
    """OCR of the images drawn on a page without a text layer (scans are one image per page)."""
    try:
        images = list(page.images)
    except Exception:  # noqa: BLE001
        return
    for embedded in images[:4]:
        try:
            with _opened(embedded.data, limits) as image:
                work = _working_copy(image)
        except Unreadable:
            continue
        yield from _image_blocks(work, number)


def _read_text(data: bytes, limits: AttachmentLimits) -> Extraction:
    text = data[: limits.max_text_bytes].decode("utf-8", errors="replace")
    return Extraction("text/plain", "text", [TextBlock(text, "text", 0)])

