"""What a detector returns before spans are mapped back to the original text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

# A message naming hundreds of channels is spam; reporting its first matches is enough, and the
# cap keeps pathological inputs (a megabyte of "zelle zelle ...") linear.
MAX_MATCHES = 200


@dataclass(frozen=True, slots=True)
class Hit:
    """A detection on the normalised text: kind, spans there, normalised value and score."""

    kind: str
    spans: tuple[tuple[int, int], ...]
    value: str
    score: float
    lang: str | None = None  # the language of the vocabulary that fired, when not English

    @property
    def start(self) -> int:
        """Start of the first span in the normalised text."""
        return self.spans[0][0]

    @property
    def end(self) -> int:
        """End of the last span in the normalised text."""
        return self.spans[-1][1]


def bounded(matches: Iterator[re.Match[str]]) -> Iterator[re.Match[str]]:
    """Limit a detector's pattern matches to ``MAX_MATCHES``."""
    return islice(matches, MAX_MATCHES)
