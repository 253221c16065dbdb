"""The value a detector reports: a ContactFinding with spans in the original text."""

from __future__ import annotations

from dataclasses import dataclass, field

# Bump when a rule changes what is reported, so stored findings can be re-scanned selectively.
DETECTOR_VERSION = "2026.12.1"

KINDS = ("phone", "email", "url", "handle", "payment", "intent")


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A half-open character range of the original text; ``message`` indexes a conversation."""

    start: int
    end: int
    message: int | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """One off-platform contact or payment attempt found in a message or a conversation.

    ``value`` is normalised per kind: E.164 for phones, lower-case address for emails, the
    registrable domain for URLs, ``app`` or ``app:username`` for handles, the rail (``zelle``,
    ``iban``, ``btc``...) for payments and the rule name for intents.
    """

    kind: str
    spans: tuple[Span, ...]
    match: str
    value: str
    score: float
    detector_version: str = DETECTOR_VERSION
    messages: tuple[int, ...] = field(default=())
    lang: str | None = None  # set when a non-English vocabulary produced the finding
    decoder: str | None = None  # set when the finding was read from a decoded copy ("reversed", "morse")


    @property
    def start(self) -> int:
        """Start of the first span (in its own message for conversation findings)."""
        return self.spans[0].start

    @property
    def end(self) -> int:
        """End of the last span that lies in the same message as the first one."""
        first = self.spans[0].message
        return max(s.end for s in self.spans if s.message == first)

    def to_json(self) -> dict[str, object]:
        """Return the JSON-safe form used by ``peerguard scan`` and the findings store."""
        data: dict[str, object] = {
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "match": self.match,
            "value": self.value,
            "score": round(self.score, 3),
            "detector_version": self.detector_version,
        }
        if len(self.spans) > 1 or self.messages:
            data["spans"] = [_span_json(s) for s in self.spans]
        if self.messages:
            data["messages"] = list(self.messages)
        evidence = {k: v for k, v in (("lang", self.lang), ("decoder", self.decoder)) if v}
        if evidence:
            data["evidence"] = evidence
        return data


def _span_json(span: Span) -> dict[str, int]:
    """Serialise one span, naming its message when it has one."""
    if span.message is None:
        return {"start": span.start, "end": span.end}
    return {"message": span.message, "start": span.start, "end": span.end}
