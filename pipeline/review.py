"""Pure rules of the trust-and-safety review queue: severity, priority, escalation, precision.

Priority
--------
An item's rank in the queue grows with the severity of its most severe kind, the best detector
score among its signals, the sender's active strikes, and how long it has waited::

    base      = severity * 100 + score * 20 + min(strikes, 5) * 6
    effective = base + AGING_POINTS_PER_DAY * days waiting

Severity (payment 3, phone/email/handle/url 2, intent 1) dominates: a fresh contact attempt
outranks a fresh intent flag, and a fresh payment attempt outranks both. Score (0..1) and
strikes move an item within its severity band (at most 20 + 30 points). Age lets a neglected
item climb: at 2 points a day, an intent flag overtakes a fresh contact attempt after about
50 days, so nothing starves.

Because every pending item ages at the same rate, ordering by ``effective`` at any moment is
the same as ordering by ``base - AGING_POINTS_PER_DAY * days since AGING_EPOCH at opening``.
That number never changes while the item waits, so it is what the database stores (the
``priority`` column) and indexes; ``effective_priority`` turns it back into the readable figure
for a given ``now``. Ties (same rank) go to the item opened first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

SEVERITY = {"payment": 3, "phone": 2, "email": 2, "handle": 2, "url": 2, "intent": 1}
IDENTIFIER_KINDS = frozenset({"phone", "email", "handle", "url"})
# Payment values that are themselves an account identifier, not just the name of a rail: a
# checksummed IBAN, an ABA routing number, or a crypto address (named by its chain). A value
# with an identifier after a colon ("cashapp:$goldbug") counts too; "zelle" alone does not.
IDENTIFIER_RAILS = frozenset({"iban", "aba_routing", "btc", "eth", "ltc", "trx", "doge"})
OUTCOMES = ("confirmed", "dismissed", "ignored")

AGING_POINTS_PER_DAY = 2.0
AGING_EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)
SEVERITY_WEIGHT = 100.0
SCORE_WEIGHT = 20.0
STRIKE_WEIGHT = 6.0
STRIKES_COUNTED = 5
WILSON_Z = 1.959963984540054
"""The 97.5th percentile of the standard normal distribution (a two-sided 95% interval)."""


@dataclass(frozen=True)
class ReviewPolicy:
    """Escalation thresholds and claim length; the defaults are PeerMetals' policy, overridable by settings."""

    window_days: int = 90
    warn_at: int = 1
    restrict_at: int = 3
    suspend_at: int = 5
    claim_minutes: int = 30

    def __post_init__(self) -> None:
        for name in ("window_days", "warn_at", "restrict_at", "suspend_at", "claim_minutes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.window_days)

    @property
    def claim_length(self) -> timedelta:
        return timedelta(minutes=self.claim_minutes)


@dataclass(frozen=True)
class SignalFacts:
    """What the rules need to know about one signal."""

    kind: str
    value: str
    score: float


def severity(kind: str) -> int:
    """The severity of a finding kind (unknown kinds count as the least severe)."""
    return SEVERITY.get(kind, 1)


def most_severe_kind(kinds: Iterable[str]) -> str:
    """The most severe of ``kinds``; ties go to the alphabetically first, for stable output."""
    return min(kinds, key=lambda kind: (-severity(kind), kind))


def is_payment_identifier(value: str) -> bool:
    """True when a payment finding names an account, not just a rail ("iban", "btc", "cashapp:$x")."""
    rail, _, identifier = value.partition(":")
    return rail.lower() in IDENTIFIER_RAILS or bool(identifier)


def is_high_severity(signals: Sequence[SignalFacts], sender_restricted: bool) -> bool:
    """Payment diversion with an identifier on the same target, or any flag from a restricted sender."""
    if sender_restricted:
        return True
    payments = [s for s in signals if s.kind == "payment"]
    if not payments:
        return False
    return any(is_payment_identifier(s.value) for s in payments) or any(s.kind in IDENTIFIER_KINDS for s in signals)


def base_priority(kind: str, score: float, active_strikes: int) -> float:
    """Severity, detector score and strikes, before aging (see the module docstring)."""
    clamped = min(max(score, 0.0), 1.0)
    return severity(kind) * SEVERITY_WEIGHT + clamped * SCORE_WEIGHT + min(active_strikes, STRIKES_COUNTED) * STRIKE_WEIGHT


def _days_since_epoch(moment: datetime) -> float:
    return (moment - AGING_EPOCH).total_seconds() / 86400.0


def queue_rank(kind: str, score: float, active_strikes: int, opened_at: datetime) -> float:
    """The stored priority: the base minus the aging credit the item has not yet earned."""
    return round(base_priority(kind, score, active_strikes) - AGING_POINTS_PER_DAY * _days_since_epoch(opened_at), 6)


def effective_priority(rank: float, now: datetime) -> float:
    """The readable priority at ``now``: base plus the aging earned since the item opened."""
    return round(rank + AGING_POINTS_PER_DAY * _days_since_epoch(now), 2)


@dataclass(frozen=True)
class Escalation:
    """What a new strike triggers: warn the sender, restrict them, recommend suspension."""

    warn: bool = False
    restrict: bool = False
    recommend_suspension: bool = False


def escalation_for(active_strikes: int, policy: ReviewPolicy) -> Escalation:
    """The steps reached exactly by the strike that brought the count to ``active_strikes``."""
    return Escalation(
        warn=active_strikes == policy.warn_at,
        restrict=active_strikes == policy.restrict_at,
        recommend_suspension=active_strikes == policy.suspend_at,
    )


POLICY_REASONS = {
    "payment": "asking to be paid outside PeerMetals",
    "intent": "proposing to continue the deal outside PeerMetals",
}
CONTACT_REASON = "sharing contact details to take the conversation outside PeerMetals"


def policy_reason(kind: str) -> str:
    """The breach named in the sender's policy warning, by the item's kind."""
    return POLICY_REASONS.get(kind, CONTACT_REASON)


POLICY_RULES = {
    "payment": "Pay and get paid only through PeerMetals",
    "intent": "Keep the deal on PeerMetals",
}
CONTACT_RULE = "No contact details in messages"


def policy_rule(kind: str) -> str:
    """The name of the messaging-policy rule a confirmed item broke, as the help page titles it."""
    return POLICY_RULES.get(kind, CONTACT_RULE)


def restriction_ends_at(strike_times: Sequence[datetime], policy: ReviewPolicy) -> datetime | None:
    """When a restricted sender's active strikes will have aged below the threshold, if no new one comes.

    A strike counts while it is younger than the window; with ``n`` active strikes sorted oldest
    first, the count drops below ``restrict_at`` when strike ``n - restrict_at`` (0-based) ages
    out. None when the strikes are already below the threshold.
    """
    times = sorted(strike_times)
    if len(times) < policy.restrict_at:
        return None
    return times[len(times) - policy.restrict_at] + policy.window


# --- Incidents: one attempt, one item ------------------------------------------------------------
#
# A detector finding names the messages it spans: one message, or a window of consecutive short
# messages of one sender (pipeline.detection.conversation). Findings of one conversation that
# share a message describe the same attempt (a phone number split over three messages ending in
# "text me" is found once over the window and once, as intent, in the last message), so they form
# one incident and one review item; sharing is transitive. Because a window only holds one
# sender's messages, every message of an incident has the same sender, the item's subject.


def group_incidents(message_sets: Sequence[Iterable[int]]) -> list[list[int]]:
    """Partition the findings (given by their message ids) into incidents; returns index groups.

    Two findings are in one incident exactly when a chain of findings, each sharing a message with
    the next, joins them (the connected components of "shares a message"). Each group lists
    indexes into ``message_sets`` in ascending order; groups come ordered by their lowest message
    id, then lowest index, so the answer does not depend on the input order beyond the indexes.
    A finding without messages is an incident of its own.
    """
    sets = [frozenset(messages) for messages in message_sets]
    parent = list(range(len(sets)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    owner: dict[int, int] = {}
    for index, messages in enumerate(sets):
        for message in sorted(messages):
            if message in owner:
                first, second = root(owner[message]), root(index)
                if first != second:
                    parent[max(first, second)] = min(first, second)
            else:
                owner[message] = index
    groups: dict[int, list[int]] = {}
    for index in range(len(sets)):
        groups.setdefault(root(index), []).append(index)

    def order(group: list[int]) -> tuple[float, int]:
        lowest = min((m for i in group for m in sets[i]), default=math.inf)
        return lowest, group[0]

    return sorted(groups.values(), key=order)


def incident_key(conversation_id: int, message_ids: Iterable[int], first_finding_id: int) -> str:
    """The unique key of a new incident's item: conversation, lowest message, first finding.

    The lowest message alone is not enough: an incident whose item was decided long ago
    (``joins_item``) is not reopened, and a new item over the same messages needs its own key.
    The first finding id tells them apart and is fixed once the finding is stored, so retrying
    the same findings computes the same key.
    """
    return f"incident:{conversation_id}:{min(message_ids)}:{first_finding_id}"


def joins_item(status: str, resolved_at: datetime | None, now: datetime, policy: ReviewPolicy) -> bool:
    """Whether a new finding sharing messages with an existing item joins it (else: a new item).

    A pending item always takes it. A decided item takes it while its decision is recent, that is
    within the strike window: the finding becomes a new signal and the item goes back to the queue
    (reopened), and confirming it again gives no second strike, which is fair because the first
    strike, if any, still counts. A decision older than the window is history: its strike has aged
    out, so the finding opens a new item (with its own possible strike) instead of reopening a
    case closed long ago. A merged item never takes findings; its survivor does.
    """
    if status == "pending":
        return True
    if status == "merged" or resolved_at is None:
        return False
    return resolved_at > now - policy.window


@dataclass(frozen=True)
class ItemCandidate:
    """An existing item an incident overlaps: its id and whether it already gave a strike."""

    id: int
    has_strike: bool


def surviving_item(candidates: Sequence[ItemCandidate]) -> int:
    """The item that absorbs the others when an incident bridges several: one with a strike, else the oldest.

    Keeping the item that already gave a strike means confirming the merged incident again gives
    none (one incident, one strike); among equals the lowest id (the oldest item) survives.
    """
    return min(candidates, key=lambda c: (not c.has_strike, c.id)).id


def wilson_interval(successes: int, trials: int, z: float = WILSON_Z) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (95% by default); None without trials."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def median(values: Sequence[float]) -> float | None:
    """The median of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


@dataclass(frozen=True)
class SignalDecision:
    """One signal as the precision report sees it: detector, outcome, seconds to decision."""

    kind: str
    detector_version: str
    item_id: int
    outcome: str | None
    seconds_to_decision: float | None


@dataclass(frozen=True)
class DetectorPrecision:
    """Precision of one detector kind and version, judged by staff decisions.

    Precision is confirmed / (confirmed + dismissed); ignored items say nothing about the
    detector (a reviewer chose not to decide), so they count as items but not as trials.
    """

    kind: str
    detector_version: str
    items: int
    confirmed: int
    dismissed: int
    ignored: int
    precision: float | None
    interval: tuple[float, float] | None
    median_seconds_to_decision: float | None

    def to_json(self) -> dict[str, object]:
        low, high = self.interval if self.interval else (None, None)
        return {
            "kind": self.kind, "detector_version": self.detector_version, "items": self.items,
            "confirmed": self.confirmed, "dismissed": self.dismissed, "ignored": self.ignored,
            "precision": _rounded(self.precision), "ci95_low": _rounded(low), "ci95_high": _rounded(high),
            "median_seconds_to_decision": self.median_seconds_to_decision,
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def detector_precision(decisions: Iterable[SignalDecision]) -> list[DetectorPrecision]:
    """Per (kind, version): items, outcomes, precision with its Wilson interval, median decision time."""
    groups: dict[tuple[str, str], list[SignalDecision]] = {}
    for decision in decisions:
        groups.setdefault((decision.kind, decision.detector_version), []).append(decision)
    return [_precision_of(kind, version, rows) for (kind, version), rows in sorted(groups.items())]


def precision_from_counts(kind: str, version: str, items: int, outcomes: dict[str, int],
                          median_seconds: float | None) -> DetectorPrecision:
    """The report row from already aggregated counts (what storage computes in SQL)."""
    confirmed, dismissed, ignored = (outcomes.get(outcome, 0) for outcome in ("confirmed", "dismissed", "ignored"))
    trials = confirmed + dismissed
    return DetectorPrecision(
        kind, version, items, confirmed, dismissed, ignored,
        confirmed / trials if trials else None, wilson_interval(confirmed, trials), median_seconds,
    )


def _precision_of(kind: str, version: str, rows: list[SignalDecision]) -> DetectorPrecision:
    # An item with two signals of the same detector is one judgement, not two; given in signal
    # order, the newest signal's outcome stands (a reopened item is judged again).
    outcomes = {row.item_id: row.outcome for row in rows}
    counts = {outcome: sum(1 for o in outcomes.values() if o == outcome) for outcome in OUTCOMES}
    trials = counts["confirmed"] + counts["dismissed"]
    durations = [row.seconds_to_decision for row in rows if row.seconds_to_decision is not None]
    return DetectorPrecision(
        kind, version, len(outcomes), counts["confirmed"], counts["dismissed"], counts["ignored"],
        counts["confirmed"] / trials if trials else None, wilson_interval(counts["confirmed"], trials),
        median(durations),
    )


def mark_spans(text: str, spans: Iterable[tuple[int, int]], open_mark: str = "[[", close_mark: str = "]]") -> str:
    """``text`` with each (start, end) range wrapped in markers; overlapping ranges are merged."""
    merged: list[list[int]] = []
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces, cursor = [], 0
    for start, end in merged:
        pieces += [text[cursor:start], open_mark, text[start:end], close_mark]
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def excerpt(text: str, spans: Sequence[tuple[int, int]], width: int = 240) -> str:
    """A short, single-line piece of ``text`` around its first span, for alert emails."""
    start = max(0, (spans[0][0] if spans else 0) - width // 3)
    piece = " ".join(text[start : start + width].split())
    return ("…" if start > 0 else "") + piece + ("…" if start + width < len(text) else "")
