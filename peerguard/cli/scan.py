"""``peerguard scan``: stream JSON lines through the contact detector (stdin to stdout)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import click

DEFAULT_MAX_LINE = 8 << 20  # 8 MiB: far above the import limit for one message (262,144 characters)

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
@click.option("--max-line-bytes", default=DEFAULT_MAX_LINE, show_default=True, type=click.IntRange(1024),
              help="A longer input line is skipped and answered with an error line.")
def scan(platform_domains: tuple[str, ...], window: int, max_line_bytes: int) -> None:
    """Scan JSON lines from stdin for off-platform contact; see --help for the format."""
    from pipeline.detection.jsonlines import scan_lines  # Imported here to keep `peerguard --help` fast.

    domains = _platform_domains(platform_domains)
    output = sys.stdout.buffer
    for batch in _line_batches(sys.stdin.fileno(), max_line_bytes):
        output.write(b"".join(line.encode("ascii") + b"\n" for line in scan_lines(batch, platform_domains=domains,
                                                                                 window=window)))
        output.flush()


def _platform_domains(given: tuple[str, ...]) -> tuple[str, ...]:
    """The domains from --platform-domain, else from the settings, else the detector's default.

    Scanning needs no other setting, so the settings (which import the notice, notification and
    review policies) are read only when PEERGUARD_PLATFORM_DOMAINS is set.
    """
    if given:
        from pipeline.addresses import parse_domains

        try:
            return parse_domains(",".join(given))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--platform-domain") from None
    if os.environ.get("PEERGUARD_PLATFORM_DOMAINS", "").strip():
        from peerguard.cli._common import load_settings

        return load_settings().platform_domains
    from pipeline.detection.scanner import DEFAULT_PLATFORM_DOMAINS

    return DEFAULT_PLATFORM_DOMAINS


def _line_batches(fd: int, max_line: int, chunk_size: int = 1 << 16) -> Iterator[list]:
    """Yield the complete lines of each chunk read from ``fd`` (an ``OversizedLine`` for a line over ``max_line``).

    ``os.read`` returns whatever the pipe holds without waiting for more, so answers are written
    and flushed before the next read can block: an interactive producer sees each answer at
    once, a bulk producer pays one flush per 64 KiB instead of one per line. Only each new chunk
    is searched for newlines and an unfinished line is kept as a list of pieces, so a long line
    costs linear time; memory holds one chunk plus at most ``max_line`` bytes.
    """
    from pipeline.detection.jsonlines import OversizedLine

    parts: list[bytes] = []
    size, skipping = 0, False
    while chunk := os.read(fd, chunk_size):
        *complete, rest = chunk.split(b"\n")
        lines: list = []
        for piece in complete:
            if skipping or size + len(piece) > max_line:
                lines.append(OversizedLine(max_line))
            else:
                lines.append(b"".join(parts) + piece if parts else piece)
            parts, size, skipping = [], 0, False
        if not skipping and size + len(rest) > max_line:
            parts, size, skipping = [], 0, True  # drop what we have; the rest of the line is skipped
        elif not skipping and rest:
            parts.append(rest)
            size += len(rest)
        if lines:
            yield lines
    if skipping:
        yield [OversizedLine(max_line)]
    elif parts:
        yield [b"".join(parts)]
