"""``peerguard scan``: stream JSON lines through the contact detector (stdin to stdout)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import click

from peerguard.cli._common import load_settings

_FORMAT_HELP = """Scan messages for off-platform contact and payment attempts.

\b
Reads JSON lines on stdin and writes one JSON line per input line on stdout,
in the same order, as it goes (memory does not grow with the input).
\b
Input, one object per line:
  {"id": "m1", "text": "call me at 415 555 0123"}
  {"id": "c1", "messages": [{"sender": "seller", "text": "my cell is 443"},
                            {"sender": "seller", "text": "208 7710"}]}
\b
Output:
  {"id": "m1", "findings": [{"kind": "phone", "start": 11, "end": 23,
     "match": "415 555 0123", "value": "+14155550123", "score": 0.97,
     "detector_version": "2026.11.2"}]}
\b
kind is one of phone, email, url, handle, payment, intent; start/end are
code-point offsets into the text; an empty list means clean. Conversation
findings add "messages" (indexes) and "spans" [{"message", "start", "end"}],
each span relative to its own message; start/end are those of the first
span. A bad line yields {"id": <id or null>, "error": "..."} and the stream
goes on; blank lines are skipped. Platform domains (allowed links and
addresses) come from --platform-domain or PEERGUARD_PLATFORM_DOMAINS
(comma-separated), default peermetals.com.
"""


@click.command("scan", help=_FORMAT_HELP)
@click.option("--platform-domain", "platform_domains", multiple=True, metavar="DOMAIN",
              help="A domain whose links and addresses are allowed (repeatable).")
@click.option("--window", default=6, show_default=True, type=click.IntRange(1, 20),
              help="Messages joined when looking for contact details split across a conversation.")
def scan(platform_domains: tuple[str, ...], window: int) -> None:
    """Scan JSON lines from stdin for off-platform contact; see --help for the format."""
    from pipeline.addresses import parse_domains
    from pipeline.detection.jsonlines import scan_lines  # Imported here to keep `peerguard --help` fast.

    try:
        domains = parse_domains(",".join(platform_domains)) if platform_domains else load_settings().platform_domains
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--platform-domain") from None
    output = sys.stdout.buffer
    for batch in _line_batches(sys.stdin.fileno()):
        output.write(b"".join(line.encode("ascii") + b"\n" for line in scan_lines(batch, platform_domains=domains,
                                                                                 window=window)))
        output.flush()


def _line_batches(fd: int, chunk_size: int = 1 << 16) -> Iterator[list[bytes]]:
    """Yield the complete lines of each chunk read from ``fd``.

    ``os.read`` returns whatever the pipe holds without waiting for more, so answers are written
    and flushed before the next read can block: an interactive producer sees each answer at
    once, a bulk producer pays one flush per 64 KiB instead of one per line. Memory holds one
    chunk plus the unfinished line.
    """
    pending = b""
    while chunk := os.read(fd, chunk_size):
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        if lines:
            yield lines
    if pending:
        yield [pending]
