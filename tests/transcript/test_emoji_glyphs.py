"""Emoji in message bodies are drawn with a real emoji font, not as empty boxes."""


import weasyprint
from pypdf import PdfReader


def test_the_machine_has_an_emoji_font(tmp_path):
    """scripts/dev installs Noto Color Emoji; WeasyPrint must pick it for emoji."""
    out = tmp_path / "emoji.pdf"
    weasyprint.HTML(string="<p>Deal \U0001F91D, coin \U0001FA99</p>").write_pdf(out)
    fonts = {
        str(font.get_object().get("/BaseFont"))
        for page in PdfReader(out).pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert any("Emoji" in name for name in fonts), fonts
