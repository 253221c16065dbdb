"""Dispute transcripts: a conversation and its attachments as a verifiable, tagged PDF.

The value types are imported eagerly; the rendering, chain and excerpt functions on first use
(PEP 562). The render workers and their fork server import only ``pipeline.transcript.parts``,
which goes through this file: importing ``render`` here would load pikepdf, pypdf, Jinja2 and
the attachment region code into every one of them (about 0.3 s of CPU on the path before the
first part can start, and their memory in every worker) for nothing they use.
"""

from importlib import import_module
from typing import Any

from pipeline.transcript.model import (
    AttachmentOutcome,
    AttachmentRegion,
    BlobReader,
    ImageCache,
    PartWorkers,
    PreparedImage,
    PreparedJpeg,
    RenderedTranscript,
    RenderEnvironment,
    SenderRole,
    TranscriptAttachment,
    TranscriptConversation,
    TranscriptFinding,
    TranscriptMessage,
    TranscriptOptions,
    TranscriptParty,
    WorkerFactory,
)

_LAZY = {
    "ChainCheck": "chain", "canonical_message": "chain", "chain_head": "chain", "chain_links": "chain",
    "verify_chain": "chain", "UnknownMessage": "excerpt", "GENERATOR_VERSION": "render",
    "render_transcript": "render",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "GENERATOR_VERSION", "AttachmentOutcome", "AttachmentRegion", "BlobReader", "ChainCheck", "ImageCache", "PartWorkers",
    "PreparedImage", "PreparedJpeg", "RenderEnvironment", "RenderedTranscript", "SenderRole",
    "TranscriptAttachment", "TranscriptConversation", "TranscriptFinding", "TranscriptMessage",
    "TranscriptOptions", "TranscriptParty", "UnknownMessage", "WorkerFactory", "canonical_message",
    "chain_head", "chain_links", "render_transcript", "verify_chain",
]
