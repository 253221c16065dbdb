"""The URL fetcher: WeasyPrint reaches nothing but this render's prepared images."""

from __future__ import annotations

import io
from pathlib import Path

import pypdf

from pipeline.transcript.fetcher import image_url
from pipeline.transcript.parts import PartJob
from tests.transcript.factories import jpeg
from usecases.transcript_rendering import render_part_job

# Markup that would pull outside files into the PDF if it ever reached WeasyPrint unescaped.
HOSTILE_HTML = """<!DOCTYPE html><html lang="en"><head><title>t</title>
<link rel="stylesheet" href="https://evil.example/x.css">
<link rel="attachment" href="file:///etc/passwd">
<style>@import url("file:///etc/hostname"); p { background: url("http://169.254.169.254/latest"); }</style>
</head><body>
<p>hello</p>
<img src="file:///etc/passwd" alt="a"> <img src="relative.png" alt="b">
<img src="data:image/png;base64,iVBORw0KGgo=" alt="c"> <img src="{ours}" alt="d">
<a rel="attachment" href="file:///etc/shadow">x</a>
</body></html>"""


def test_fetcher_refuses_everything_but_our_images_and_records_it(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg(64, 48))
    ours = image_url("tok", "a" * 64, 1600)
    job = PartJob(html=HOSTILE_HTML.replace("{ours}", ours), css="", served={ours: str(photo)}, token="tok")
    # What a render worker runs: the part's photos are loaded from their references, then drawn.
    result = render_part_job(job)
    refused = " ".join(result.refused)
    for url in ("https://evil.example/x.css", "file:///etc/passwd", "file:///etc/hostname",
                "http://169.254.169.254/latest", "relative.png", "data:image/png", "file:///etc/shadow"):
        assert url in refused
    assert ours not in refused
    reader = pypdf.PdfReader(io.BytesIO(result.pdf))
    assert not reader.attachments
    assert b"root:" not in result.pdf
    images = [image for page in reader.pages for image in page.images]
    assert len(images) == 1
