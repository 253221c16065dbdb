"""Test files made on the spot: text rendered with DejaVu, QR codes from zxing-cpp, hostile files."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def text_image(lines: list[str], size: tuple[int, int] = (1200, 800), font_size: int = 44, fmt: str = "JPEG",
               exif: bytes | None = None) -> bytes:
    image = Image.new("RGB", size, (250, 248, 240))
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, font_size)
    for i, line in enumerate(lines):
        draw.text((60, 80 + i * int(font_size * 1.8)), line, fill=(20, 20, 30), font=font)
    return encode(image, fmt, exif)


def encode(image: Image.Image, fmt: str = "JPEG", exif: bytes | None = None) -> bytes:
    out = io.BytesIO()
    kwargs = {"quality": 90} if fmt == "JPEG" else {}
    if exif is not None:
        kwargs["exif"] = exif
    image.save(out, fmt, **kwargs)
    return out.getvalue()


def qr_image(payload: str, module_px: int = 6, canvas: tuple[int, int] = (900, 700), shrink: int = 1) -> bytes:
    import zxingcpp

    code = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode)
    qr = Image.fromarray(zxingcpp.write_barcode_to_image(code, scale=module_px, add_quiet_zones=True))
    image = Image.new("RGB", canvas, (255, 255, 255))
    image.paste(qr.convert("RGB"), (100, 100))
    if shrink > 1:  # ~module_px / shrink pixels per module, blurred by the resampling
        image = image.resize((canvas[0] // shrink, canvas[1] // shrink), Image.Resampling.BILINEAR)
    return encode(image, "PNG")


def gps_exif(lat: tuple[float, float, float], lat_ref: str, lon: tuple[float, float, float], lon_ref: str) -> bytes:
    exif = Image.Exif()
    exif[0x8825] = {1: lat_ref, 2: lat, 3: lon_ref, 4: lon}
    return exif.tobytes()


def plain_photo(size: tuple[int, int] = (4000, 3000)) -> bytes:
    """A smooth product-photo stand-in: a gradient with a soft disc, no text."""
    gradient = Image.linear_gradient("L").resize(size)
    photo = Image.merge("RGB", (gradient, gradient.rotate(90).resize(size), Image.new("L", size, 150)))
    disc = Image.new("L", size, 0)
    ImageDraw.Draw(disc).ellipse((size[0] // 3, size[1] // 4, 2 * size[0] // 3, 3 * size[1] // 4), fill=200)
    from PIL import ImageFilter

    photo.paste((212, 175, 55), mask=disc.filter(ImageFilter.GaussianBlur(25)))
    return encode(photo, "JPEG")


def png_header_bomb(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` 8-bit gray pixels of zeros, compressed to almost nothing."""
    row = b"\x00" + b"\x00" * width
    compressor = zlib.compressobj(9)
    chunks = [compressor.compress(row) for _ in range(min(height, 64))]
    data = b"".join(chunks) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def pdf_with_text(pages: list[str]) -> bytes:
    """A minimal PDF with one line of Helvetica text per page (a real text layer)."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", None, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for text in pages:
        stream = f"BT /F1 18 Tf 72 700 Td ({text}) Tj ET".encode()
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream.decode()}\nendstream")
        content = len(objects)
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content} 0 R "
                       f"/Resources << /Font << /F1 3 0 R >> >> >>")
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode())
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def blank_pdf(pages: int) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_with_text(["call me 602 555 0148"]))))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
