"""The one sentence the marketplace shows a sender whose draft would take the deal off PeerMetals."""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.detection.findings import Finding

PROTECTION = "keep the conversation here to stay covered by Buyer Protection"
ADVICE = {
    "payment": "Paying or being paid outside PeerMetals is not allowed",
    "phone": "Sharing phone numbers is not allowed on PeerMetals",
    "email": "Sharing email addresses is not allowed on PeerMetals",
    "handle": "Sharing accounts on other apps is not allowed on PeerMetals",
    "url": "Sharing links to other sites is not allowed on PeerMetals",
    "intent": "Moving the conversation off PeerMetals is not allowed",
}
# The most serious breach speaks first: money leaving the platform, then contact details, then intent.
ORDER = ("payment", "phone", "email", "handle", "url", "intent")


def advice_for(findings: Iterable[Finding]) -> str | None:
    """One sentence for the most serious kind found, or None for a clean draft."""
    kinds = {finding.kind for finding in findings}
    for kind in ORDER:
        if kind in kinds:
            return f"{ADVICE[kind]}; {PROTECTION}."
    return None
