"""``peerguard scan-file PATH...``: findings in images, PDFs and text files as JSON lines."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from peerguard.cli._common import load_settings

_HELP = """Scan files for off-platform contact: OCR and QR/barcodes in images, PDF text
(OCR of pages without a text layer, first 5), text documents, EXIF GPS.

\b
One JSON line per file, in order:
  {"file": "card.jpg", "sha256": "...", "status": "scanned", "method": "image",
   "findings": [{"kind": "phone", "value": "+16025550148", "match": "602 555 0148",
                 "page": 0, "box": [412, 230, 815, 262], "source": "ocr", ...}]}
\b
status is "scanned" or "unreadable" (with "reason": a decompression bomb, a corrupt
or truncated image, an encrypted PDF, too many pages, a file that took too long...).
box is [left, top, right, bottom] in the page's pixels (null: the whole page).
Exit status 1 if a path cannot be opened; unreadable files do not change it.
"""


@click.command("scan-file", help=_HELP)
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--platform-domain", "platform_domains", multiple=True, metavar="DOMAIN",
              help="A domain whose links and addresses are allowed (repeatable).")
def scan_file(paths: tuple[Path, ...], platform_domains: tuple[str, ...]) -> None:
    """Scan image, PDF and text files for off-platform contact; see --help."""
    from pipeline.addresses import parse_domains
    from usecases.attachment_scanning import scan_file as scan_bytes

    try:
        domains = parse_domains(",".join(platform_domains)) if platform_domains else load_settings().platform_domains
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--platform-domain") from None
    failed = False
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            click.echo(json.dumps({"file": str(path), "error": exc.strerror or str(exc)}))
            failed = True
            continue
        line = {"file": str(path), **scan_bytes(data, domains).to_json()}
        click.echo(json.dumps(line, ensure_ascii=False))
        sys.stdout.flush()
    if failed:
        raise SystemExit(1)
