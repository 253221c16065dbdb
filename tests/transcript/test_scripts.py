"""Every script a buyer or seller writes prints with real glyphs from a font that has them."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pikepdf
import pytest

from pipeline.transcript import render_transcript
from tests.transcript.factories import NOW, BlobShelf, conversation, message
from usecases.transcript_rendering import render_environment

# (script, body, font families that really have its glyphs)
SCRIPTS = [
    ("latin", "Is the Maple Leaf still available? Ça coûte combien, señor?", ("DejaVu", "Noto")),
    ("cyrillic", "Монета ещё доступна? Отправлю завтра", ("DejaVu", "Noto")),
    ("greek", "Είναι ακόμα διαθέσιμο το νόμισμα;", ("DejaVu", "Noto")),
    ("cjk", "这枚金币还在吗？明天发货。金貨はまだありますか", ("CJK",)),
    ("arabic", "مرحبا، هل العملة متاحة؟", ("DejaVu", "Arab", "Naskh", "Kufi")),
    ("hebrew", "שלום, המטבע עדיין זמין?", ("DejaVu", "Hebrew")),
    ("devanagari", "क्या सिक्का अभी भी उपलब्ध है", ("Devanagari",)),
    ("thai", "เหรียญนี้ยังมีอยู่ไหม", ("Thai",)),
    ("emoji", "Deal 🤝 coin 🪙 thanks 😀", ("Emoji",)),
]


@pytest.fixture(scope="module")
def pdf_bytes(tmp_path_factory) -> bytes:
    messages = [message(i, body) for i, (_, body, _) in enumerate(SCRIPTS)]
    rendered = render_transcript(conversation(messages), now=NOW,
                                 environment=render_environment(BlobShelf().read, tmp_path_factory.mktemp("cache")))
    return rendered.pdf


def _fonts_by_character(data: bytes) -> dict[str, set[str]]:
    """Each character the PDF draws, mapped to the base names of the fonts that draw it."""
    found: dict[str, set[str]] = {}
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for page in pdf.pages:
            for font in page.Resources.Font.values():
                if "/ToUnicode" not in font:
                    continue
                name = str(font.get("/BaseFont", ""))
                cmap = font.ToUnicode.read_bytes().decode("latin-1")
                for code, target in re.findall(r"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]{4,})>", cmap):
                    if int(code, 16) == 0:
                        continue  # glyph 0 is .notdef: an empty box
                    for character in bytes.fromhex(target).decode("utf-16-be", "replace"):
                        found.setdefault(character, set()).add(name)
    return found


@pytest.mark.parametrize(("script", "body", "families"), SCRIPTS, ids=[s[0] for s in SCRIPTS])
def test_each_script_is_drawn_by_a_font_that_has_it(pdf_bytes: bytes, script: str, body: str, families) -> None:
    fonts = _fonts_by_character(pdf_bytes)
    letters = [c for c in body if c.isalpha() or ord(c) > 0x2000 and not c.isspace()]
    if script == "emoji":
        letters = [c for c in body if ord(c) > 0x1F000]
    for character in letters:
        assert character in fonts, f"{script}: {character!r} (U+{ord(character):04X}) is not drawn with a glyph"
        assert any(f in name for name in fonts[character] for f in families), \
            f"{script}: {character!r} drawn by {fonts[character]}, expected one of {families}"


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext comes with poppler-utils (scripts/dev setup)")
def test_left_to_right_scripts_extract_as_written(pdf_bytes: bytes, tmp_path: Path) -> None:
    target = tmp_path / "scripts.pdf"
    target.write_bytes(pdf_bytes)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(target), "-"], capture_output=True, text=True,
                          timeout=60, check=True).stdout
    squashed = re.sub(r"\s+", " ", text.replace("\u200b", ""))
    for script, body, _ in SCRIPTS:
        if script in ("latin", "cyrillic", "greek", "cjk", "devanagari"):
            assert body in squashed, f"{script}: {body!r} not found in the extracted text"
    # pdftotext emits Thai marks above and below the line out of order (the page shows them
    # right), so Thai is compared on its base letters.
    thai = next(body for script, body, _ in SCRIPTS if script == "thai")
    assert _base_letters(thai) in _base_letters(squashed)


def _base_letters(text: str) -> str:
    return "".join(c for c in text if not c.isspace() and unicodedata.category(c) != "Mn")
