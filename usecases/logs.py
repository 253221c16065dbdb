"""How every PeerGuard process logs: plain text for a terminal, or one JSON object per line.

``PEERGUARD_LOG_FORMAT=json`` (read by ``usecases.settings.log_format``) makes the worker, its
mail processes, the scheduler, the web server and every CLI command write one JSON object per
line to stderr::

    {"time": "2026-12-06T10:21:07.412Z", "level": "warning", "logger": "usecases.notices",
     "message": "email 17 (flag-alert) dead: recipient refused: …", "pid": 4242, "thread": "dispatch_0",
     "email": "<flag-alert.…@peermetals.com>", "notice": "flag-alert"}

The marketplace's ids travel as top-level keys (``conversation``, ``message``, ``user``,
``order``, ``email``, ``notice``), from ``log_context(...)`` around a piece of work or from
``extra={...}`` on one call; row ids never do. Secrets never leave: passwords in URLs and bearer
tokens are masked in every message and traceback before it is written.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

ID_FIELDS = ("conversation", "message", "user", "order", "email", "notice")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"

_CONTEXT: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar("peerguard_log_context", default=None)
_SECRETS = (
    (re.compile(r"(?P<keep>[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+(?=@)", re.IGNORECASE), r"\g<keep>***"),
    (re.compile(r"(?P<keep>\bBearer\s+)[^\s\"',;]+", re.IGNORECASE), r"\g<keep>***"),
    (re.compile(r"(?P<keep>\b(?:password|passwd|secret|api_key|access_token)=)[^\s&\"',;]+", re.IGNORECASE), r"\g<keep>***"),
)


@contextmanager
def log_context(**ids: str | None) -> Iterator[None]:
    """Attach marketplace ids (``conversation="c-9"``, ``email=…``) to every log line inside the block."""
    token = _CONTEXT.set({**current_ids(), **{k: str(v) for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current_ids() -> Mapping[str, str]:
    """The ids ``log_context`` attached here (empty outside any block)."""
    return _CONTEXT.get() or {}


def redact(text: str) -> str:
    """The text with URL passwords, bearer tokens and ``secret=…`` values masked."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ms), level, logger, message, pid, thread, ids."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        document: dict[str, Any] = {
            "time": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
            "pid": record.process,
            "thread": record.threadName,
        }
        document.update(current_ids())
        for name in ID_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                document[name] = str(value)
        if record.exc_info:
            document["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(document, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The plain format, with the ids of the context appended and secrets masked."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        ids = dict(current_ids()) | {n: str(record.__dict__[n]) for n in ID_FIELDS if record.__dict__.get(n) is not None}
        line = super().format(record)
        if ids:
            line += " [" + " ".join(f"{k}={v}" for k, v in ids.items()) + "]"
        return redact(line)


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure_logging(log_format: str, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Replace the root handlers with one writing ``log_format`` ("json" or "text") to stderr."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(log_format))
    logging.basicConfig(level=level, handlers=[handler], force=True)


def uvicorn_log_config(log_format: str) -> dict[str, Any]:
    """uvicorn's ``log_config`` for this format (its own loggers included)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"peerguard": {"()": f"{__name__}.{'JsonFormatter' if log_format == 'json' else 'TextFormatter'}"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "peerguard", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": {name: {"handlers": [], "propagate": True, "level": "INFO"}
                    for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }
