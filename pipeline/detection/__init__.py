"""Off-platform contact and payment detection (pure: no I/O, clock or environment).

Public API::

    scan_text(text, *, platform_domains=("peermetals.com",)) -> list[Finding]
    scan_conversation(messages, *, platform_domains=..., window=6) -> list[Finding]
    mask_text(text, findings) -> str
    mask_conversation(texts, findings) -> list[str]
    pipeline.detection.jsonlines.scan_lines(lines, *, platform_domains=..., window=6) -> Iterator[str]

Spans are offsets into the original text (code points); conversation findings carry
``messages`` and per-message spans (``Span.message``). ``DETECTOR_VERSION`` is stamped on every
finding so stored findings can be re-scanned when the rules change.
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
