"""Rendering: ``templates/email/<name>/{subject.txt,body.txt,body.html}`` with Jinja2."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

KNOWN_NOTICES = frozenset(
    {
        "response-reminder",
        "response-final-warning",
        "response-breach",
        "policy-warning",
        "repeat-offender",
        "suspension-recommended",
        "flag-alert",
        "new-message",
        "new-message-digest",
        "account-restricted",
        "restriction-lifted",
        "strike-overturned",
    }
)


@dataclass(frozen=True)
class RenderedEmail:
    """A notice rendered to its subject, plain text and HTML bodies."""

    subject: str
    text: str
    html: str


@lru_cache(maxsize=8)
def _environment(templates_dir: Path) -> Environment:
    # StrictUndefined turns a missing context key into an error at render time instead of an
    # email with a hole in it; autoescape applies to the HTML bodies only. Templates are read
    # once per process (no auto_reload): checking three files' mtimes per email cost more than
    # rendering them.
    return Environment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        auto_reload=False,
    )


@lru_cache(maxsize=64)
def _notice_templates(templates_dir: Path, name: str) -> tuple[Template, Template, Template]:
    env = _environment(templates_dir / "email")
    return tuple(env.get_template(f"{name}/{part}") for part in ("subject.txt", "body.txt", "body.html"))  # type: ignore[return-value]


def render_notice(name: str, context: Mapping[str, Any], templates_dir: Path) -> RenderedEmail:
    """Render ``templates/email/<name>/`` with ``context``; unknown names raise KeyError."""
    if name not in KNOWN_NOTICES:
        raise KeyError(f"unknown notice {name!r}")
    subject, text, html = _notice_templates(Path(templates_dir), name)
    return RenderedEmail(
        subject=" ".join(subject.render(context).split()),
        text=text.render(context),
        html=html.render(context),
    )
