"""The phonenumbers + regex baseline: what a team would write in an afternoon.

phonenumbers' own matcher (US default region) finds phone numbers; two common regexes find email
addresses and URLs; the platform's own domain is allowed. Used by the speed benchmark (same
JSON-lines protocol as ``peerguard scan``) and as one of the quality anchors.

    python bench/baseline.py < messages.jsonl > findings.jsonl
"""

from __future__ import annotations

import json
import re
import sys

import phonenumbers

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
URL = re.compile(r"(?:https?://|www\.)[^\s]+|\b[a-z0-9-]+\.(?:com|net|org|io|co|me|ly|shop|store)\b(?:/[^\s]*)?",
                 re.IGNORECASE)
PLATFORM = "peermetals.com"


def baseline_findings(text: str) -> list[dict[str, object]]:
    """Phones by phonenumbers' matcher, emails and URLs by regex; platform links allowed."""
    findings: list[dict[str, object]] = []
    for match in phonenumbers.PhoneNumberMatcher(text, "US"):
        findings.append({"kind": "phone", "start": match.start, "end": match.end, "match": match.raw_string})
    for kind, pattern in (("email", EMAIL), ("url", URL)):
        for match in pattern.finditer(text):
            if PLATFORM not in match.group().lower():
                findings.append({"kind": kind, "start": match.start(), "end": match.end(), "match": match.group()})
    return findings


def answer(line: str, detect=baseline_findings) -> str:  # type: ignore[no-untyped-def]
    """Answer one JSON line of the scan protocol with the given detector."""
    try:
        request = json.loads(line)
        if "messages" in request:
            found = []
            for index, message in enumerate(request["messages"]):
                found.extend({**f, "messages": [index]} for f in detect(message.get("text", "")))
        else:
            found = detect(request["text"])
        return json.dumps({"id": request.get("id"), "findings": found})
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        return json.dumps({"id": None, "error": str(error)})


def serve(detect=baseline_findings) -> None:  # type: ignore[no-untyped-def]
    """Stream stdin to stdout through ``detect``."""
    out = sys.stdout
    for raw in sys.stdin.buffer:
        line = raw.decode("utf-8", "replace")
        if line.strip():
            out.write(answer(line, detect) + "\n")
    out.flush()


if __name__ == "__main__":
    serve()
