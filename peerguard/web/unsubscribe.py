"""One-click unsubscribe (RFC 8058): a GET shows a confirmation page, a POST opts out; no session needed.

A GET never changes anything, because mail scanners follow links; the POST carries
``List-Unsubscribe=One-Click`` from the mail client (or the page's button).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from usecases import notices, notifications

router = APIRouter(tags=["email"], include_in_schema=False)
_PAGES = Environment(loader=FileSystemLoader(str(Path(__file__).resolve().parents[2] / "templates" / "web")),
                     autoescape=select_autoescape(default=True))
# The token is in the URL: no referrer may carry it away, and the page loads nothing from anywhere.
PAGE_HEADERS = {
    "Cache-Control": "no-store", "X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
}
INVALID = ("This link is not valid", "It may have been cut by your mail program. Use the link in your latest email.")


def _page(title: str, message: str, status: int = 200, confirm: bool = False) -> HTMLResponse:
    html = _PAGES.get_template("unsubscribe.html").render(title=title, message=message, confirm=confirm)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


@router.get("/email/unsubscribe/{token}")
def confirm(token: str, request: Request) -> HTMLResponse:
    if not notices.token_is_valid(request.app.state.peerguard, token):
        return _page(*INVALID, status=400)
    return _page("Stop response reminders?", "You will no longer get reminders to answer buyers on PeerMetals.",
                 confirm=True)


@router.post("/email/unsubscribe/{token}")
def unsubscribe(token: str, request: Request) -> HTMLResponse:
    if not notices.unsubscribe(request.app.state.peerguard, token, datetime.now(UTC)):
        return _page(*INVALID, status=400)
    return _page("You are unsubscribed", "PeerMetals will not send you response reminders any more.")


@router.get("/email/unsubscribe/new-messages/{token}")
def confirm_new_messages(token: str, request: Request) -> HTMLResponse:
    if not notifications.token_is_valid(request.app.state.peerguard, token):
        return _page(*INVALID, status=400)
    return _page("Stop new-message emails?", "You will still see new messages on PeerMetals, but we will not email you about them.",
                 confirm=True)


@router.post("/email/unsubscribe/new-messages/{token}")
def unsubscribe_new_messages(token: str, request: Request) -> HTMLResponse:
    if not notifications.unsubscribe(request.app.state.peerguard, token):
        return _page(*INVALID, status=400)
    return _page("You are unsubscribed", "PeerMetals will not email you about new messages any more.")
