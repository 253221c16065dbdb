"""The staff console over plain HTTP (no browser): sign-in rules, cookies, redirects and roles."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.web.conftest import cli

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def accounts(web_env, server) -> dict[str, str]:
    emails = {"lock@peermetals.com": "moderator", "root@peermetals.com": "admin", "sam@peermetals.com": "moderator",
              "dora@peermetals.com": "disputes", "mia@peermetals.com": "moderator"}
    for email, role in emails.items():
        added = cli(web_env, "staff", "add", email, "--role", role, "--password-stdin", input=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
    return emails


def _form_token(page: httpx.Response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _sign_in(http: httpx.Client, email: str, password: str = PASSWORD, **headers) -> httpx.Response:
    form = http.get("/staff/sign-in", headers=headers)
    token = _form_token(form)
    if "Secure" in form.headers["set-cookie"]:  # a Secure cookie is not sent back over plain http by a client
        headers["Cookie"] = form.headers["set-cookie"].split(";")[0]
    return http.post("/staff/sign-in", data={"csrf_token": token, "email": email, "password": password, "next": "/staff/queue"},
                     headers=headers)


def test_signed_out_pages_redirect_to_sign_in_and_next_stays_on_the_console(server, accounts):
    with httpx.Client(base_url=server) as http:
        away = http.get("/staff/queue?kind=phone")
        assert away.status_code == 303 and away.headers["location"] == "/staff/sign-in?next=/staff/queue%3Fkind%3Dphone"
        assert http.post("/staff/queue/claim-next", data={}).status_code == 401
        token = _form_token(http.get("/staff/sign-in"))
        signed = http.post("/staff/sign-in", data={"csrf_token": token, "email": "sam@peermetals.com", "password": PASSWORD,
                                                   "next": "//evil.example/"})
        assert signed.status_code == 303 and signed.headers["location"] == "/staff/"


def test_sign_in_needs_its_form_token(server, accounts):
    with httpx.Client(base_url=server) as http:
        refused = http.post("/staff/sign-in", data={"csrf_token": "x", "email": "sam@peermetals.com", "password": PASSWORD})
        assert refused.status_code == 403 and "pg_staff_session" not in refused.headers.get("set-cookie", "")


def test_the_session_cookie_is_secure_behind_https_and_httponly(server, accounts):
    with httpx.Client(base_url=server) as http:
        signed = _sign_in(http, "sam@peermetals.com", **{"X-Forwarded-Proto": "https"})
        cookie = signed.headers["set-cookie"]
        assert "pg_staff_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie and "Path=/staff" in cookie
    with httpx.Client(base_url=server) as http:
        assert "Secure" not in _sign_in(http, "sam@peermetals.com").headers["set-cookie"]


def test_five_wrong_passwords_lock_the_account(server, accounts):
    with httpx.Client(base_url=server) as http:
        for _ in range(5):
            assert _sign_in(http, "lock@peermetals.com", "not the password!").status_code == 401
        locked = _sign_in(http, "lock@peermetals.com")
        assert locked.status_code == 429 and "too many failed sign-ins" in locked.text.lower()


def test_an_admin_changes_a_role_and_it_is_audited(server, accounts, web_env):
    with httpx.Client(base_url=server) as http:
        assert _sign_in(http, "root@peermetals.com").status_code == 303
        page = http.get("/staff/admin/staff")
        assert page.status_code == 200 and "sam@peermetals.com" in page.text
        changed = http.post("/staff/admin/staff/role", data={"csrf_token": _form_token(page), "email": "sam@peermetals.com",
                                                             "role": "disputes"})
        assert changed.status_code == 303
        own = http.post("/staff/admin/staff/role", data={"csrf_token": _form_token(page), "email": "root@peermetals.com",
                                                         "role": "moderator"})
        assert own.status_code == 400
        audit = http.get("/staff/audit?action=role_change")
        assert "root@peermetals.com" in audit.text and "to=disputes" in audit.text
    listed = cli(web_env, "staff", "list", "--json")
    assert '"email": "sam@peermetals.com", "user": "staff:sam@peermetals.com", "name": "sam", "role": "disputes"' in listed.stdout


def test_bulk_confirm_needs_the_csrf_token_and_the_moderator_role(server, accounts):
    with httpx.Client(base_url=server) as http:
        assert _sign_in(http, "mia@peermetals.com").status_code == 303
        token = _form_token(http.get("/staff/queue"))
        assert http.post("/staff/review/1/confirm-sender", data={}).status_code == 403
        assert http.post("/staff/review/1/confirm-sender", data={"csrf_token": "forged"}).status_code == 403
        missing = http.post("/staff/review/999999/confirm-sender", data={"csrf_token": token})
        assert missing.status_code == 404 and "999999" in missing.text
    with httpx.Client(base_url=server) as http:
        assert _sign_in(http, "dora@peermetals.com").status_code == 303
        token = _form_token(http.get("/staff/conversations"))
        refused = http.post("/staff/review/1/confirm-sender", data={"csrf_token": token})
        assert refused.status_code == 403 and "does not give access" in refused.text


def test_the_item_page_outlines_where_a_phone_number_was_read_on_a_photo(server, accounts, web_env, tmp_path):
    import json
    import math

    from sqlalchemy import select

    from storage.db import make_engine
    from storage.models import ContactFinding, Message, ReviewItem
    from tests.attachments import files

    (tmp_path / "card.jpg").write_bytes(files.text_image(["Silver Eagle 2024", "text me 602 555 0148"], size=(1200, 800)))
    lines = [{"type": "user", "id": "u-card-1", "name": "Card buyer"}, {"type": "user", "id": "u-card-2", "name": "Card seller"},
             {"type": "conversation", "id": "c-card", "buyer": "u-card-1", "seller": "u-card-2"},
             {"type": "message", "id": "m-card-1", "conversation": "c-card", "sender": "u-card-2",
              "sent_at": "2026-12-02T12:00:00Z", "text": "photo of the coin attached",
              "attachments": [{"path": "card.jpg", "name": "card.jpg"}]}]
    (tmp_path / "card.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert cli(web_env, "import", str(tmp_path / "card.jsonl")).returncode == 0
    assert cli(web_env, "run", "--once").returncode == 0
    engine = make_engine(web_env["DATABASE_URL"])
    try:
        with engine.connect() as connection:
            message_id = connection.scalar(select(Message.id).where(Message.external_id == "m-card-1"))
            region = connection.scalar(select(ContactFinding.region).where(
                ContactFinding.message_id == message_id, ContactFinding.kind == "phone", ContactFinding.scope == "attachment"))
            item = connection.scalar(select(ReviewItem.id).where(ReviewItem.message_id == message_id, ReviewItem.kind == "phone"))
    finally:
        engine.dispose()
    assert region is not None and item is not None
    added = cli(web_env, "staff", "add", "rita@peermetals.com", "--role", "moderator", "--password-stdin", input=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr

    with httpx.Client(base_url=server) as http:
        assert _sign_in(http, "rita@peermetals.com").status_code == 303
        page = http.get(f"/staff/review/{item}")
    assert page.status_code == 200
    # The 1200 × 800 original is shown at 480 × 320: the region scales by 0.4, rounded outwards.
    left, top, right, bottom = region
    x, y = math.floor(left * 0.4), math.floor(top * 0.4)
    width, height = math.ceil(right * 0.4) - x, math.ceil(bottom * 0.4) - y
    assert 'viewBox="0 0 480 320"' in page.text
    assert (f'<rect class="region" data-kind="phone" x="{x}" y="{y}" width="{width}" height="{height}">'
            '<title>phone</title></rect>') in page.text
    assert re.search(r'aria-label="Outlined where contact details were read: [a-z, ]*phone', page.text)
    assert "style=" not in page.text.split('class="messages"')[1].split("</ol>")[0]  # CSP: no inline styles
