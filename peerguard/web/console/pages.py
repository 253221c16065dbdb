"""The staff console's pages: parse, authorise (session, role, CSRF), call a use case, render.

Roles are checked on the server for every route: moderators use the queue, items and users;
dispute handlers use conversations and transcripts; admins use everything, staff accounts and
the audit log included. Every POST must carry the session's CSRF token (sign-in, before there
is a session, uses a double-submit cookie). An unauthenticated GET is sent to the sign-in page;
anything refused is an HTML page with its status, never a stack trace.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from peerguard.web.console.security import client_address, is_https
from pipeline.charts import duration_label
from pipeline.review import OUTCOMES, SEVERITY
from usecases import console, dashboards, review, staff
from usecases.console import CANNED_REASONS
from usecases.staff import Staff

SESSION_COOKIE = "pg_staff_session"
SIGN_IN_COOKIE = "pg_staff_sign_in"
STATIC = Path(__file__).resolve().parents[1] / "static"
STATIC_TYPES = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}
STATUSES = ("pending", "confirmed", "dismissed", "ignored")
NOTICES = {
    "confirmed": "Item {item} confirmed.", "dismissed": "Item {item} dismissed.", "ignored": "Item {item} ignored.",
    "unclaimed": "Item {item} released.", "empty": "Nothing left to claim.", "noted": "Note added.",
    "overturned": "Strike overturned.", "role": "Role changed.", "claimed": "Item {item} claimed.",
    "bulk": "Items {item} confirmed.",
}

router = APIRouter(include_in_schema=False)
_PAGES = Environment(loader=FileSystemLoader(str(Path(__file__).resolve().parents[3] / "templates" / "web" / "staff")),
                     autoescape=select_autoescape(default=True))


class ConsoleRefusal(Exception):
    """A refused console request: an HTML page with this status."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


class SignInNeeded(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def install(web: FastAPI) -> None:
    """Register the console's routes and its HTML refusal pages."""
    web.include_router(router)

    @web.exception_handler(ConsoleRefusal)
    async def refused(request: Request, exc: ConsoleRefusal) -> HTMLResponse:
        return _render(request, "error.html", None, code=exc.status, title=exc.title, message=exc.message)

    @web.exception_handler(SignInNeeded)
    async def sign_in_needed(_request: Request, exc: SignInNeeded) -> RedirectResponse:
        return RedirectResponse(f"/staff/sign-in?next={quote(exc.next_path, safe='/')}", status_code=303)


def _now() -> datetime:
    return datetime.now(UTC)


def _render(request: Request, template: str, who: Staff | None, code: int = 200, **context) -> HTMLResponse:
    notice = request.query_params.get("done")
    message = NOTICES.get(notice or "", "").format(item=request.query_params.get("item", ""))
    html = _PAGES.get_template(template).render(staff=who, notice=message, csrf=who.csrf_token if who else "", **context)
    return HTMLResponse(html, status_code=code)


def _see(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


# --- Authorisation -----------------------------------------------------------------------------


def _signed_in(request: Request) -> Staff:
    who = staff.authenticate(request.app.state.peerguard, request.cookies.get(SESSION_COOKIE, ""), _now())
    if who is None:
        if request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise SignInNeeded(target)
        raise ConsoleRefusal(401, "Signed out", "Your session has ended. Sign in again.")
    return who


def _allowed(request: Request, area: str | None) -> Staff:
    who = _signed_in(request)
    if area is not None and not who.may(area):
        raise ConsoleRefusal(403, "Not allowed", f"Your role ({who.role}) does not give access to this page.")
    return who


async def _posted(request: Request, area: str | None) -> tuple[Staff, dict[str, str]]:
    """The staff member of a POST whose form carries the session's CSRF token, and the form."""
    form = await request.form()
    who = _allowed(request, area)
    if not staff.csrf_matches(who, str(form.get("csrf_token", ""))):
        raise ConsoleRefusal(403, "Refused", "The form was missing its security token. Reload the page and try again.")
    return who, {key: str(value) for key, value in form.items()}


REFUSALS = [
    (review.ItemNotFound, 404), (console.UserNotFound, 404), (console.ConversationNotFound, 404), (console.PhotoNotShown, 404),
    (console.OwnAccount, 403), (review.NotStaff, 403), (review.UnknownOutcome, 400),
    (review.AlreadyResolved, 409), (review.ClaimedByOther, 409), (review.VersionConflict, 409),
    (console.NotYourClaim, 409), (console.TranscriptNotReady, 409), (staff.StaffError, 400), (review.ReviewError, 400),
]


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except tuple(cls for cls, _ in REFUSALS) as exc:
        status = next(code for cls, code in REFUSALS if isinstance(exc, cls))
        title = {403: "Not allowed", 404: "Not found", 409: "Conflict"}.get(status, "Refused")
        raise ConsoleRefusal(status, title, str(exc)) from None


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConsoleRefusal(400, "Refused", f"{name} must be a number") from None


# --- Sign-in -----------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/staff") and not target.startswith("//") and "\\" not in target:
        return target
    return "/staff/"


@router.get("/staff/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC_TYPES:
        raise ConsoleRefusal(404, "Not found", "No such file.")
    return Response((STATIC / name).read_bytes(), media_type=STATIC_TYPES[name],
                    headers={"Cache-Control": "public, max-age=300"})


@router.get("/staff/sign-in")
def sign_in_page(request: Request, next: str | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = _render(request, "sign_in.html", None, next=_safe_next(next), sign_in_token=token, error=None)
    response.set_cookie(SIGN_IN_COOKIE, token, path="/staff/sign-in", httponly=True, samesite="strict", secure=is_https(request))
    return response


@router.post("/staff/sign-in")
async def sign_in(request: Request) -> Response:
    form = await request.form()
    submitted, expected = str(form.get("csrf_token", "")), request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not secrets.compare_digest(submitted, expected):
        raise ConsoleRefusal(403, "Refused", "The sign-in form was missing its security token. Reload the page and try again.")
    target = _safe_next(str(form.get("next", "")))
    try:
        token, _who = staff.sign_in(request.app.state.peerguard, str(form.get("email", "")), str(form.get("password", "")),
                                    client_address(request), _now())
    except staff.TooManyAttempts as exc:
        return _render(request, "sign_in.html", None, code=429, next=target, sign_in_token=expected, error=str(exc).capitalize() + ".")
    except staff.SignInRefused:
        return _render(request, "sign_in.html", None, code=401, next=target, sign_in_token=expected, error="Wrong email or password.")
    response = _see(target)
    response.set_cookie(SESSION_COOKIE, token, path="/staff", httponly=True, samesite="lax", secure=is_https(request))
    response.delete_cookie(SIGN_IN_COOKIE, path="/staff/sign-in")
    return response


@router.post("/staff/sign-out")
async def sign_out(request: Request) -> Response:
    who, _ = await _posted(request, None)
    staff.sign_out(request.app.state.peerguard, who, _now())
    response = _see("/staff/sign-in")
    response.delete_cookie(SESSION_COOKIE, path="/staff")
    return response


@router.get("/staff")
@router.get("/staff/")
def home(request: Request) -> Response:
    who = _allowed(request, None)
    return _see("/staff/queue" if who.may("queue") else "/staff/conversations")


# --- Queue and items (moderators) --------------------------------------------------------------


@router.get("/staff/queue")
def queue_page(request: Request, status: str = "pending", kind: str = "", claimed: str = "") -> HTMLResponse:
    who = _allowed(request, "queue")
    status = status if status in STATUSES else "pending"
    kind_filter = kind if kind in SEVERITY else None
    claimed_filter = claimed if claimed in ("mine", "unclaimed") else None
    entries = console.queue(request.app.state.peerguard, who, _now(), status, kind_filter, claimed_filter)
    return _render(request, "queue.html", who, entries=entries, status=status, kind=kind_filter or "", claimed=claimed_filter or "",
                   statuses=STATUSES, kinds=sorted(SEVERITY))


@router.post("/staff/queue/claim-next")
async def claim_next(request: Request) -> Response:
    who, form = await _posted(request, "queue")
    kind = form.get("kind") if form.get("kind") in SEVERITY else None
    item_id = console.claim_next(request.app.state.peerguard, who, _now(), kind)
    return _see(f"/staff/review/{item_id}" if item_id else "/staff/queue?done=empty")


def _item_response(request: Request, who: Staff, item_id: int, reveal: bool) -> HTMLResponse:
    with _refusals():
        page = console.item_page(request.app.state.peerguard, who, item_id, _now(), reveal, client_address(request))
    return _render(request, "item.html", who, page=page, reasons=CANNED_REASONS, outcomes=OUTCOMES)


@router.get("/staff/review/{item_id}")
def item(request: Request, item_id: int) -> HTMLResponse:
    return _item_response(request, _allowed(request, "queue"), item_id, reveal=False)


@router.post("/staff/review/{item_id}/reveal")
async def reveal(request: Request, item_id: int) -> HTMLResponse:
    who, _ = await _posted(request, "queue")
    return _item_response(request, who, item_id, reveal=True)


@router.post("/staff/review/{item_id}/claim")
async def claim(request: Request, item_id: int) -> Response:
    who, _ = await _posted(request, "queue")
    with _refusals():
        console.claim(request.app.state.peerguard, who, item_id, _now())
    return _see(f"/staff/review/{item_id}?done=claimed&item={item_id}")


@router.post("/staff/review/{item_id}/unclaim")
async def unclaim(request: Request, item_id: int) -> Response:
    who, _ = await _posted(request, "queue")
    with _refusals():
        console.unclaim(request.app.state.peerguard, who, item_id, _now())
    return _see(f"/staff/queue?done=unclaimed&item={item_id}")


@router.post("/staff/review/{item_id}/resolve")
async def resolve(request: Request, item_id: int) -> Response:
    who, form = await _posted(request, "queue")
    version = _int(form["version"], "version") if form.get("version") else None
    with _refusals():
        result = console.resolve(request.app.state.peerguard, who, item_id, form.get("outcome", ""), form.get("reason"),
                                 form.get("note"), _now(), version, client_address(request))
    return _see(f"/staff/queue?done={result.status}&item={item_id}")


@router.post("/staff/review/{item_id}/confirm-sender")
async def confirm_sender(request: Request, item_id: int) -> Response:
    who, form = await _posted(request, "queue")
    with _refusals():
        done = console.confirm_sender_items(request.app.state.peerguard, who, item_id, form.get("reason"), form.get("note"),
                                            _now(), client_address(request))
    items = ", ".join(str(each) for each in done.items)
    return _see(f"/staff/queue?done=bulk&item={quote(items)}")


@router.get("/staff/review/{item_id}/photos/{message_id}/{position}")
def item_photo(request: Request, item_id: int, message_id: str, position: int) -> Response:
    """A prepared photo: always a JPEG we made, never the original, and no file name of the sender's."""
    who = _allowed(request, "queue")
    with _refusals():
        jpeg = console.item_photo(request.app.state.peerguard, who, item_id, message_id, position)
    return Response(jpeg, media_type="image/jpeg", headers={
        "Content-Disposition": 'inline; filename="photo.jpg"', "Cache-Control": "private, no-store",
        "Cross-Origin-Resource-Policy": "same-origin"})


@router.post("/staff/review/{item_id}/notes")
async def note(request: Request, item_id: int) -> Response:
    who, form = await _posted(request, "queue")
    if not form.get("note", "").strip():
        raise ConsoleRefusal(400, "Refused", "The note is empty.")
    with _refusals():
        console.add_note(request.app.state.peerguard, who, item_id, form["note"], _now())
    return _see(f"/staff/review/{item_id}?done=noted")


@router.get("/staff/users/{external_id}")
def user(request: Request, external_id: str) -> HTMLResponse:
    who = _allowed(request, "queue")
    with _refusals():
        page = console.user_page(request.app.state.peerguard, who, external_id, _now())
    return _render(request, "user.html", who, page=page)


@router.post("/staff/strikes/{strike_id}/overturn")
async def overturn(request: Request, strike_id: int) -> Response:
    who, form = await _posted(request, "queue")
    with _refusals():
        console.overturn(request.app.state.peerguard, who, strike_id, form.get("reason", ""), _now(), client_address(request))
    back = form.get("user", "")
    return _see(f"/staff/users/{quote(back)}?done=overturned" if back else "/staff/queue?done=overturned")


# --- Conversations and transcripts (dispute handlers) ------------------------------------------


@router.get("/staff/conversations")
def conversations(request: Request, q: str = "") -> HTMLResponse:
    who = _allowed(request, "conversations")
    found = console.search(request.app.state.peerguard, q) if q.strip() else []
    return _render(request, "conversations.html", who, q=q, found=found)


@router.get("/staff/conversations/{external_id}")
def conversation(request: Request, external_id: str) -> HTMLResponse:
    who = _allowed(request, "conversations")
    with _refusals():
        page = console.conversation_page(request.app.state.peerguard, external_id)
    return _render(request, "conversation.html", who, page=page)


@router.post("/staff/conversations/{external_id}/transcripts")
async def request_transcript(request: Request, external_id: str) -> Response:
    from storage.transcripts import ConversationNotFound

    who, _ = await _posted(request, "conversations")
    try:
        request_id = console.request_transcript(request.app.state.peerguard, who, external_id, _now(), client_address(request))
    except ConversationNotFound:
        raise ConsoleRefusal(404, "Not found", f"there is no conversation {external_id}") from None
    return _see(f"/staff/transcripts/{request_id}")


def _transcript(request: Request, request_id: int):
    state = console.transcript_state(request.app.state.peerguard, request_id)
    if state is None:
        raise ConsoleRefusal(404, "Not found", f"there is no transcript {request_id}")
    return state


@router.get("/staff/transcripts/{request_id}")
def transcript(request: Request, request_id: int) -> HTMLResponse:
    who = _allowed(request, "conversations")
    outcome, conversation_id = _transcript(request, request_id)
    return _render(request, "transcript.html", who, outcome=outcome, conversation_id=conversation_id)


@router.get("/staff/transcripts/{request_id}/status")
def transcript_status(request: Request, request_id: int) -> JSONResponse:
    _allowed(request, "conversations")
    outcome, conversation_id = _transcript(request, request_id)
    return JSONResponse({"id": request_id, "conversation": conversation_id, "status": outcome.status,
                         "pages": outcome.pages, "sha256": outcome.pdf_sha256, "error": outcome.error})


@router.get("/staff/transcripts/{request_id}/download")
def transcript_download(request: Request, request_id: int) -> Response:
    who = _allowed(request, "conversations")
    with _refusals():
        pdf, sha256, conversation_id = console.download_transcript(request.app.state.peerguard, who, request_id, _now(),
                                                                   client_address(request))
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="transcript-{quote(conversation_id)}-{request_id}.pdf"',
        "X-Content-SHA256": sha256})


# --- Dashboards (every role) -------------------------------------------------------------------


@router.get("/staff/dashboards")
def dashboards_page(request: Request) -> HTMLResponse:
    who = _allowed(request, "dashboards")
    now = _now()
    page = dashboards.dashboards(request.app.state.peerguard, now)
    return _render(request, "dashboards.html", who, page=page, now=now, duration=duration_label)


# --- Administration ----------------------------------------------------------------------------


@router.get("/staff/audit")
def audit_page(request: Request, action: str = "", actor: str = "") -> HTMLResponse:
    who = _allowed(request, "admin")
    rows = staff.audit_log(request.app.state.peerguard, 500, action, actor)
    return _render(request, "audit.html", who, rows=rows, action=action, actor=actor)


@router.get("/staff/admin/staff")
def staff_page(request: Request) -> HTMLResponse:
    who = _allowed(request, "admin")
    accounts = staff.accounts(request.app.state.peerguard)
    return _render(request, "staff.html", who, accounts=accounts, roles=staff.ROLES)


@router.post("/staff/admin/staff/role")
async def set_role(request: Request) -> Response:
    who, form = await _posted(request, "admin")
    with _refusals():
        staff.change_role(request.app.state.peerguard, who, form.get("email", ""), form.get("role", ""), _now(), client_address(request))
    return _see("/staff/admin/staff?done=role")
