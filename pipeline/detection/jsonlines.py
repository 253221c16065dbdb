"""The streaming JSON-lines protocol of ``peerguard scan``, as a pure generator.

Input, one JSON object per line::

    {"id": "m1", "text": "call me 415 555 0123"}
    {"id": "c1", "messages": [{"sender": "seller", "text": "my cell is 555"}, {"sender": "seller", "text": "010 0000"}]}

Output, one line per input line, in the same order::

    {"id": "m1", "findings": [{"kind": "phone", "start": 8, "end": 20, "match": "415 555 0123",
                               "value": "+14155550123", "score": 0.97, "detector_version": "..."}]}

Offsets count Unicode code points of the text as decoded. For a conversation every finding also
carries ``"messages"`` (indexes into the input list) and ``"spans"``: one
``{"message", "start", "end"}`` per piece, each relative to its own message; the finding's
``start``/``end`` are those of its first piece, relative to the first message named. An empty
``findings`` list means clean. A line that cannot be used yields ``{"id": <id or null>, "error": "..."}``
and the stream continues. Blank lines are skipped (they produce no output line). Bytes that are
not valid UTF-8 are replaced with U+FFFD before parsing; output is pure ASCII JSON so lone
surrogates and control characters survive any transport.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]

from pipeline.detection.conversation import DEFAULT_WINDOW, scan_conversation
from pipeline.detection.findings import Finding
from pipeline.detection.scanner import DEFAULT_PLATFORM_DOMAINS, scan_text


class ScanRequestError(ValueError):
    """An input line is not a valid scan request; the message says why."""


class OversizedLine:
    """Stands in for an input line longer than the reader's limit (its bytes were skipped)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit


def scan_lines(
    lines: Iterable[str | bytes | OversizedLine],
    *,
    platform_domains: Iterable[str] = DEFAULT_PLATFORM_DOMAINS,
    window: int = DEFAULT_WINDOW,
) -> Iterator[str]:
    """Yield one output JSON line (without newline) per non-blank input line, in order."""
    domains = tuple(platform_domains)
    for raw in lines:
        if isinstance(raw, OversizedLine):
            yield _error_line(None, f"line longer than {raw.limit} bytes; skipped")
            continue
        line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        if line and not line.isspace():
            yield scan_line(line, platform_domains=domains, window=window)


# Most lines are {"id": "...", "text": "..."} without escapes. A JSON string with no backslash and
# no control character is its own text, so such lines are read with one regex instead of json.loads;
# every other line takes the general path.
_SIMPLE_MESSAGE = re.compile(r'\{\s*"id"\s*:\s*"([^"\\\x00-\x1f]*)"\s*,\s*"text"\s*:\s*"([^"\\\x00-\x1f]*)"\s*\}\s*')


def scan_line(line: str, *, platform_domains: tuple[str, ...], window: int = DEFAULT_WINDOW) -> str:
    """Answer one input line; never raises for bad input."""
    simple = _SIMPLE_MESSAGE.fullmatch(line)
    if simple is not None:
        return _scan_simple(simple.group(1), simple.group(2), platform_domains)
    request_id: object = None
    try:
        request = _parse(line)
        request_id = request.get("id")
        text = request.get("text")
        if type(text) is str and type(request_id) is str and "messages" not in request:
            return '{"id":' + encode_basestring_ascii(request_id) + ',"findings":' + _findings_json(text, platform_domains) + "}"
        findings = _scan_request(request, platform_domains, window)
        if not findings:
            return '{"id":' + _encode_id(request_id) + ',"findings":[]}'
        return json.dumps({"id": request_id, "findings": findings}, separators=(",", ":"), allow_nan=False)
    except ScanRequestError as error:
        return _error_line(request_id, str(error))
    except Exception as error:  # noqa: BLE001 - one bad item must never stop the stream.
        return _error_line(request_id, f"internal error: {type(error).__name__}")


def _scan_simple(request_id: str, text: str, platform_domains: tuple[str, ...]) -> str:
    """Answer a plain message line read by the fast path."""
    try:
        findings = _findings_json(text, platform_domains)
    except Exception as error:  # noqa: BLE001 - one bad item must never stop the stream.
        return _error_line(request_id, f"internal error: {type(error).__name__}")
    return '{"id":' + encode_basestring_ascii(request_id) + ',"findings":' + findings + "}"


# Chat repeats itself ("Thanks!", "Is this still available?", "ok sounds good"): the JSON list of a
# short message's findings is remembered, so a repeat costs one dict look-up instead of a scan (the
# easy benchmark stream's short lines, 60 % of it, cost 5-25 us each to scan). The answer is a pure
# function of the text and the platform domains (one memo per domain setting, at most MEMO_SETTINGS
# of them); each memo holds at most MEMO_ENTRIES texts of at most MEMO_MAX_CHARS characters and is
# emptied when full (about 1 MB).
MEMO_MAX_CHARS = 160
MEMO_ENTRIES = 4096
MEMO_SETTINGS = 4
_memos: dict[tuple[str, ...], dict[str, str]] = {}


def _findings_json(text: str, platform_domains: tuple[str, ...]) -> str:
    """The JSON list of ``text``'s findings (compact, ASCII), remembered for short texts."""
    if len(text) > MEMO_MAX_CHARS:
        return _render(scan_text(text, platform_domains=platform_domains))
    memo = _memos.get(platform_domains)
    if memo is None:
        if len(_memos) >= MEMO_SETTINGS:
            _memos.clear()
        memo = _memos[platform_domains] = {}
    answer = memo.get(text)
    if answer is None:
        answer = _render(scan_text(text, platform_domains=platform_domains))
        if len(memo) >= MEMO_ENTRIES:
            memo.clear()
        memo[text] = answer
    return answer


def _render(found: list[Finding]) -> str:
    """Findings as the compact JSON list of the protocol."""
    if not found:
        return "[]"
    return json.dumps([f.to_json() for f in found], separators=(",", ":"))


def _encode_id(request_id: object) -> str:
    """JSON-encode an id; strings take the C encoder directly (this runs once per message)."""
    if type(request_id) is str:
        return encode_basestring_ascii(request_id)
    return json.dumps(request_id, allow_nan=False)


def _error_line(request_id: object, message: str) -> str:
    """Render the error answer for one input line."""
    return json.dumps({"id": _json_safe_id(request_id), "error": message}, separators=(",", ":"), allow_nan=False)


def _parse(line: str) -> dict[str, object]:
    """Parse a line into a request object or raise ScanRequestError."""
    try:
        request = json.loads(line, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except (json.JSONDecodeError, RecursionError) as error:
        raise ScanRequestError(f"not JSON: {error}") from None
    if not isinstance(request, dict):
        raise ScanRequestError("expected a JSON object with an id and a text or messages")
    return request


MAX_INT_DIGITS = 100
"""Longer integers are refused: no id needs them, and converting one costs quadratic time."""


def _no_constant(name: str) -> object:
    # Python's json accepts NaN and Infinity, which are not JSON and could not be echoed back.
    raise ScanRequestError(f"not JSON: {name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ScanRequestError(f"number {text[:40]!s} is out of range (ids must be strings or finite numbers)")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ScanRequestError(f"integer of {len(text.lstrip('-'))} digits is too long (at most {MAX_INT_DIGITS}); "
                               "send long ids as strings")
    return int(text)


def _scan_request(request: dict[str, object], platform_domains: tuple[str, ...], window: int) -> list[dict[str, object]]:
    """Scan a message or conversation request and return JSON-safe findings."""
    if "id" not in request:
        raise ScanRequestError("missing 'id'")
    if not isinstance(request["id"], (str, int, float)) or isinstance(request["id"], bool):
        raise ScanRequestError("'id' must be a string or a number")
    if "messages" in request:
        messages = _messages(request["messages"])
        found = scan_conversation(messages, platform_domains=platform_domains, window=window)
    elif isinstance(request.get("text"), str):
        found = scan_text(request["text"], platform_domains=platform_domains)  # type: ignore[arg-type]
    else:
        raise ScanRequestError("expected 'text' (a string) or 'messages' (a list)")
    return [finding.to_json() for finding in found]


def _messages(value: object) -> list[tuple[str | None, str]]:
    """Validate the ``messages`` list of a conversation request."""
    if not isinstance(value, list):
        raise ScanRequestError("'messages' must be a list")
    messages = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            messages.append((None, item))
        elif isinstance(item, dict) and isinstance(item.get("text", ""), str):
            sender = item.get("sender")
            messages.append((None if sender is None else str(sender), item.get("text", "")))
        else:
            raise ScanRequestError(f"messages[{index}] must be an object with a string 'text'")
    return messages


def _json_safe_id(value: object) -> object:
    """Echo an id only if it is a JSON scalar we accept."""
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        return None
    return value if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
