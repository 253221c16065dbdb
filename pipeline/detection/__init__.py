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

from importlib import import_module
from typing import Any

# Re-exported lazily (PEP 562): masking a stored text, or reading DETECTOR_VERSION, must not
# compile every detector's patterns (read-only commands start faster without them).
_HOME = {
    "scan_conversation": "conversation", "DETECTOR_VERSION": "findings", "KINDS": "findings",
    "Finding": "findings", "ContactFinding": "findings", "Span": "findings",
    "mask_conversation": "masking", "mask_text": "masking",
    "DEFAULT_PLATFORM_DOMAINS": "scanner", "scan_text": "scanner",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"pipeline.detection.{module}"), "Finding" if name == "ContactFinding" else name)
    globals()[name] = value
    return value


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
