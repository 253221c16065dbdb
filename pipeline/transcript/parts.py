"""Rendering one part of a transcript with WeasyPrint (pure: HTML and image bytes in, PDF bytes out)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

# WeasyPrint is imported inside the functions: the render workers preload it, and the parent
# process, which only builds and submits jobs, never pays for importing it.

PDF_VARIANT = "pdf/ua-1"
GLYPH_SHEET_HTML = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>glyphs</title></head>'
    '<body><p style="font: 8pt \'DejaVu Sans\', sans-serif">Page 0123456789 of</p></body></html>'
)


@dataclass(frozen=True)
class PartJob:
    """Everything a worker needs to render one part: HTML, our CSS and where its images are kept."""

    html: str
    css: str
    # Each image URL of this part mapped to the image cache's reference for it: references, not
    # bytes, keep the job small to send, and the worker loads the bytes for ``render_part``.
    served: dict[str, str]
    token: str


@dataclass(frozen=True)
class PartResult:
    """A rendered part and the URLs the fetcher refused while rendering it."""

    pdf: bytes
    refused: tuple[str, ...]


def render_part(job: PartJob, images: Mapping[str, bytes]) -> PartResult:
    """Render one part to a tagged PDF through a fetcher that serves only ``images`` (URL to JPEG bytes)."""
    import weasyprint

    from pipeline.transcript.fetcher import SCHEME, TranscriptURLFetcher

    fetcher = TranscriptURLFetcher(images)
    # The base URL is our opaque scheme, so any relative reference resolves to a refused URL.
    base_url = f"{SCHEME}://{job.token}/"
    stylesheet = weasyprint.CSS(string=job.css, url_fetcher=fetcher, base_url=base_url)
    document = weasyprint.HTML(string=job.html, base_url=base_url, url_fetcher=fetcher)
    pdf = document.write_pdf(stylesheets=[stylesheet], pdf_variant=PDF_VARIANT)
    return PartResult(pdf=pdf, refused=tuple(fetcher.refused))


@cache
def render_glyph_sheet() -> bytes:
    """Render the one-line page whose embedded font the joiner borrows for page numbers.

    Cached: the render workers' warm-up renders it once, and every worker inherits the bytes.
    """
    import weasyprint

    from pipeline.transcript.fetcher import TranscriptURLFetcher

    fetcher = TranscriptURLFetcher({})
    return weasyprint.HTML(string=GLYPH_SHEET_HTML, url_fetcher=fetcher).write_pdf()
