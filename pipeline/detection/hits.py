"""What a detector returns before spans are mapped back to the original text."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Hit:
    """A detection on the normalised text: kind, spans there, normalised value and score."""

    kind: str
    spans: tuple[tuple[int, int], ...]
    value: str
    score: float

    @property
    def start(self) -> int:
        """Start of the first span in the normalised text."""
        return self.spans[0][0]

    @property
    def end(self) -> int:
        """End of the last span in the normalised text."""
        return self.spans[-1][1]
