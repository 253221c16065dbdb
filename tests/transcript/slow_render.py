"""A render that takes a while, run as its own process by the stopping tests (python -m tests.transcript.slow_render DIR)."""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline.transcript import TranscriptOptions, render_transcript
from tests.transcript.factories import NOW, BlobShelf, conversation, message
from usecases.transcript_rendering import render_environment


def main() -> None:
    messages = [message(i, f"Message {i}: the coin is still available, shipping tomorrow. " * 30) for i in range(3000)]
    render_transcript(conversation(messages), now=NOW, environment=render_environment(BlobShelf().read, Path(sys.argv[1])),
                      options=TranscriptOptions(workers=2, messages_per_part=300))


if __name__ == "__main__":
    main()
