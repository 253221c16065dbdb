"""Attachment scanning, the pure part: what to read in a file, OCR lines to detector input, EXIF GPS.

Public API::

    plan_for(content_type, head) -> ExtractionPlan
    lines_to_document(blocks) -> TextDocument; findings_in(document, platform_domains) -> list[RegionFinding]
    location_finding(gps) -> RegionFinding | None
    exceeds_pixel_limit(width, height, limits) -> str | None
    upright_size(data) -> (w, h) | None; outline(kind, region, original, shown) -> Outline | None
"""

from __future__ import annotations

from pipeline.attachments.exif import location_finding
from pipeline.attachments.limits import AttachmentLimits, exceeds_pixel_limit
from pipeline.attachments.overlay import Outline, outline, shown_size, upright_size
from pipeline.attachments.plan import ExtractionPlan, plan_for
from pipeline.attachments.regions import Box, RegionFinding, TextBlock, TextDocument, findings_in, lines_to_document, scan_blocks

__all__ = [
    "AttachmentLimits",
    "Box",
    "ExtractionPlan",
    "Outline",
    "RegionFinding",
    "TextBlock",
    "TextDocument",
    "exceeds_pixel_limit",
    "findings_in",
    "lines_to_document",
    "location_finding",
    "outline",
    "plan_for",
    "scan_blocks",
    "shown_size",
    "upright_size",
]
