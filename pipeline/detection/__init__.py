"""Off-platform contact and payment detection (pure: no I/O, clock or environment).

Public API::

    scan_text(text, *, platform_domains=("peermetals.com",)) -> list[Finding]
    scan_conversation(messages, *, platform_domains=..., window=6) -> list[Finding]
    mask_text(text, findings) -> str
    mask_conversation(texts, findings) -> list[str]
    scan_lines(lines, *, platform_domains=...) -> Iterator[str]     (JSON lines, see jsonlines.py)
"""

from __future__ import annotations

from pipeline.detection.conversation import scan_conversation
from pipeline.detection.findings import DETECTOR_VERSION, KINDS, Finding, Span
from pipeline.detection.masking import mask_conversation, mask_text
from pipeline.detection.scanner import DEFAULT_PLATFORM_DOMAINS, scan_text

ContactFinding = Finding

__all__ = [
    "DEFAULT_PLATFORM_DOMAINS",
    "DETECTOR_VERSION",
    "KINDS",
    "ContactFinding",
    "Finding",
    "Span",
    "mask_conversation",
    "mask_text",
    "scan_conversation",
    "scan_text",
]
