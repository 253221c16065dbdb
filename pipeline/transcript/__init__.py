"""Dispute transcripts: a conversation and its attachments as a verifiable, tagged PDF."""

from pipeline.transcript.chain import ChainCheck, canonical_message, chain_head, chain_links, verify_chain
from pipeline.transcript.excerpt import UnknownMessage
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
from pipeline.transcript.render import GENERATOR_VERSION, render_transcript

__all__ = [
    "GENERATOR_VERSION", "AttachmentOutcome", "AttachmentRegion", "BlobReader", "ChainCheck", "ImageCache", "PartWorkers",
    "PreparedImage", "PreparedJpeg", "RenderEnvironment", "RenderedTranscript", "SenderRole",
    "TranscriptAttachment", "TranscriptConversation", "TranscriptFinding", "TranscriptMessage",
    "TranscriptOptions", "TranscriptParty", "UnknownMessage", "WorkerFactory", "canonical_message",
    "chain_head", "chain_links", "render_transcript", "verify_chain",
]
