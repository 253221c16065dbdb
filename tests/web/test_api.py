"""The HTTP API through a real server: tokens, messages in, the compose-time check, reads, transcripts, errors."""

from __future__ import annotations

import hashlib
import json
import socket
import time
import uuid

import httpx
import pytest

from tests.web.conftest import cli, make_token

pytestmark = pytest.mark.postgres


def ids(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def seed(client: httpx.Client) -> dict[str, str]:
    """A buyer, a seller and their conversation, with fresh marketplace ids."""
    tag = ids()
    names = {"buyer": f"u-b{tag}", "seller": f"u-s{tag}", "conversation": f"c-{tag}", "order": f"o-{tag}"}
    assert client.put(f"/v1/users/{names['buyer']}", json={"name": "Bea"}).status_code == 201
    assert client.put(f"/v1/users/{names['seller']}", json={"name": "Sam", "email": f"sam{tag}@example.com",
                                                             "timezone": "America/Chicago"}).status_code == 201
    put = client.put(f"/v1/conversations/{names['conversation']}", json={
        "buyer": names["buyer"], "seller": names["seller"], "subject": "1 oz Gold Eagle", "order": names["order"]})
    assert put.status_code == 201, put.text
    return names


def message(client: httpx.Client, world: dict[str, str], text: str, sender: str = "buyer", **extra) -> httpx.Response:
    body = {"conversation": world["conversation"], "sender": world[sender], "sent_at": "2026-12-01T10:00:00Z",
            "text": text, **extra}
    return client.put(f"/v1/messages/m-{ids()}", json=body)


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert "Traceback" not in response.text
    return error


# --- Tokens -------------------------------------------------------------------------------------


def test_missing_wrong_and_malformed_tokens_get_401(server):
    for headers in ({}, {"Authorization": "Bearer pgt_nokey_nosecret"}, {"Authorization": "Basic abc"},
                    {"Authorization": "Bearer " + "x" * 500}):
        response = httpx.post(server + "/v1/scan", json={"text": "hi"}, headers=headers)
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_token_without_the_scope_gets_403(server, web_env):
    reader = make_token(web_env, "read", name="reader")
    response = httpx.post(server + "/v1/scan", json={"text": "hi"}, headers={"Authorization": f"Bearer {reader}"})
    assert_error(response, 403, "forbidden")


def test_a_revoked_token_stops_working(server, web_env):
    scanner = make_token(web_env, "scan", name=f"soon-revoked-{ids()}")
    headers = {"Authorization": f"Bearer {scanner}"}
    assert httpx.post(server + "/v1/scan", json={"text": "hi"}, headers=headers).status_code == 200
    key_id = scanner.split("_")[1]
    assert cli(web_env, "tokens", "revoke", key_id).returncode == 0
    time.sleep(2.1)  # verified tokens are trusted for two seconds
    assert_error(httpx.post(server + "/v1/scan", json={"text": "hi"}, headers=headers), 401, "unauthorized")
    listed = json.loads(cli(web_env, "tokens", "list", "--json").stdout)
    assert any(t["key_id"] == key_id and t["revoked_at"] for t in listed)
    assert scanner.split("_", 2)[2] not in json.dumps(listed)  # the secret is never stored or shown again


def test_token_names_reach_the_log_and_tokens_never_do(server, web_env, token, client):
    client.get("/healthz")
    client.post("/v1/scan", json={"text": "hello"})
    path = __import__("pathlib").Path(web_env["PEERGUARD_DATA_DIR"]) / "web.log"
    deadline = time.monotonic() + 10  # the access line is written after the answer; a loaded machine delays it
    while "POST /v1/scan 200" not in (log := path.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "POST /v1/scan 200" in log and "token=test-client" in log
    assert token not in log and token.split("_", 2)[2] not in log


def test_ten_thousand_bad_tokens_each_get_401_and_the_service_keeps_answering(server, client):
    import asyncio

    async def hammer() -> list[int]:
        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(base_url=server, limits=limits, timeout=30,
                                     headers={"Authorization": "Bearer pgt_deadbeef0000_wrong"}) as bad:
            semaphore = asyncio.Semaphore(50)

            async def one() -> int:
                async with semaphore:
                    return (await bad.post("/v1/scan", json={"text": "hi"})).status_code

            return await asyncio.gather(*(one() for _ in range(10_000)))

    statuses = asyncio.run(hammer())
    assert set(statuses) == {401} and len(statuses) == 10_000
    assert client.post("/v1/scan", json={"text": "hello"}).status_code == 200


# --- Messages in --------------------------------------------------------------------------------


def test_puts_are_idempotent_and_a_changed_message_is_409(client):
    world = seed(client)
    assert client.put(f"/v1/users/{world['buyer']}", json={"name": "Bea"}).json() == {"id": world["buyer"], "status": "unchanged"}
    assert client.put(f"/v1/users/{world['buyer']}", json={"name": "Beatrice"}).json()["status"] == "updated"
    body = {"conversation": world["conversation"], "sender": world["buyer"], "sent_at": "2026-12-01T10:00:00Z", "text": "hi"}
    first = client.put("/v1/messages/m-fixed-" + world["conversation"], json=body)
    assert first.status_code == 201 and first.json()["status"] == "created"
    again = client.put("/v1/messages/m-fixed-" + world["conversation"], json=body)
    assert again.status_code == 200 and again.json()["status"] == "unchanged"
    changed = client.put("/v1/messages/m-fixed-" + world["conversation"], json={**body, "text": "other"})
    assert_error(changed, 409, "conflict")


@pytest.mark.parametrize(("change", "status", "code", "field"), [
    ({"sent_at": "2026-12-01T10:00:00"}, 422, "rejected", None),           # no time zone
    ({"text": 5}, 422, "invalid", "text"),                                # wrong type
    ({"colour": "red"}, 422, "invalid", "colour"),                        # unknown field
    ({"conversation": "c-nowhere"}, 422, "rejected", None),               # dangling reference
    ({"text": "x" * (256 * 1024 + 1)}, 422, "rejected", None),            # over the text limit
    ({"attachments": [{"sha256": "0" * 64, "name": "a.jpg"}]}, 422, "rejected", None),  # never uploaded
])
def test_bad_messages_get_a_clear_4xx_and_store_nothing(client, change, status, code, field):
    world = seed(client)
    body = {"conversation": world["conversation"], "sender": world["buyer"], "sent_at": "2026-12-01T10:00:00Z",
            "text": "hello", **change}
    message_id = f"m-{ids()}"
    response = client.put(f"/v1/messages/{message_id}", json=body)
    if response.status_code == 422 and response.json()["error"]["code"] == "invalid":
        code = "invalid"
    error = assert_error(response, status, code)
    if field:
        assert error.get("field") == field
    assert_error(client.get(f"/v1/messages/{message_id}"), 404, "not_found")


def test_a_sender_outside_the_conversation_is_refused(client):
    world, other = seed(client), seed(client)
    response = client.put(f"/v1/messages/m-{ids()}", json={"conversation": world["conversation"], "sender": other["buyer"],
                                                           "sent_at": "2026-12-01T10:00:00Z", "text": "hello"})
    assert "not a participant" in assert_error(response, 422, "rejected")["message"]


def test_malformed_json_and_non_utf8_bodies_get_a_clear_4xx(client):
    for raw in (b"{not json", b'{"text": "\xff\xfe"}', b"[1, 2]", b""):
        response = client.post("/v1/scan", content=raw, headers={"content-type": "application/json"})
        assert (response.status_code, response.json()["error"]["code"]) in ((400, "bad_request"), (422, "invalid"))
        assert response.json()["error"]["message"] and "Traceback" not in response.text


def test_bodies_over_the_limit_get_413_before_they_are_read(server, token):
    # Only the headers are sent: a declared length over the limit is refused at once.
    with socket.create_connection(("127.0.0.1", int(server.rsplit(":", 1)[1])), timeout=10) as raw:
        raw.sendall(b"PUT /v1/messages/m-huge HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Authorization: Bearer " + token.encode() + b"\r\nContent-Length: 900000000\r\n\r\n")
        reply = _read_reply(raw)
    assert reply.startswith("HTTP/1.1 413") and '"too_large"' in reply


def _read_reply(raw: socket.socket) -> str:
    """Everything the server sends until it closes the connection (or goes quiet for a second)."""
    raw.settimeout(20)
    chunks = [raw.recv(65536)]
    raw.settimeout(1)
    try:
        while chunk := raw.recv(65536):
            chunks.append(chunk)
    except TimeoutError:
        pass
    return b"".join(chunks).decode()


def test_a_chunked_body_is_cut_off_at_the_limit(client):
    def chunks():
        for _ in range(40):
            yield b" " * 65536

    response = client.post("/v1/scan", content=chunks(), headers={"content-type": "application/json"})
    assert_error(response, 413, "too_large")


def test_a_silent_client_gets_408_and_others_are_still_served(server, token, client):
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        raw.sendall(b"POST /v1/scan HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Authorization: Bearer " + token.encode() + b"\r\nContent-Length: 100\r\n\r\n{\"text\":")
        assert client.post("/v1/scan", json={"text": "still answering"}).status_code == 200
        started = time.monotonic()
        reply = _read_reply(raw)
    assert reply.startswith("HTTP/1.1 408") and '"timeout"' in reply and time.monotonic() - started < 15


def test_batch_answers_per_record_in_order(client):
    tag = ids()
    records = [
        {"type": "user", "id": f"u-x{tag}", "name": "X"},
        {"type": "user", "id": f"u-y{tag}", "name": "Y"},
        {"type": "conversation", "id": f"c-{tag}", "buyer": f"u-x{tag}", "seller": f"u-y{tag}"},
        {"type": "message", "id": f"m-1{tag}", "conversation": f"c-{tag}", "sender": f"u-x{tag}",
         "sent_at": "2026-12-01T10:00:00Z", "text": "hi"},
        {"type": "message", "id": f"m-2{tag}", "conversation": f"c-none{tag}", "sender": f"u-x{tag}",
         "sent_at": "2026-12-01T10:00:00Z", "text": "dangling"},
        {"type": "spaceship"},
        {"type": "read", "conversation": f"c-{tag}", "user": f"u-y{tag}", "at": "2026-12-01T11:00:00Z"},
    ]
    results = client.post("/v1/batch", json={"records": records}).json()["results"]
    assert [r["status"] for r in results] == ["created", "created", "created", "created", "error", "error", "updated"]
    assert results[4]["error"]["code"] == "rejected" and results[5]["error"]["code"] == "invalid"
    assert client.get(f"/v1/messages/m-1{tag}").status_code == 200
    assert client.get(f"/v1/messages/m-2{tag}").status_code == 404
    again = client.post("/v1/batch", json={"records": records[:4]}).json()["results"]
    assert [r["status"] for r in again] == ["unchanged"] * 4


def test_batch_is_limited_to_a_thousand_records(client):
    assert_error(client.post("/v1/batch", json={"records": [{"type": "user"}] * 1001}), 422, "invalid")


def test_attachments_upload_raw_and_multipart_then_messages_name_them(client):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    raw = client.post("/v1/attachments", content=png, headers={"content-type": "application/octet-stream"})
    assert raw.status_code == 201 and raw.json() == {"sha256": hashlib.sha256(png).hexdigest(), "size": len(png),
                                                     "content_type": "image/png"}
    multipart = client.post("/v1/attachments", files={"file": ("slip.png", png, "image/png")})
    assert multipart.status_code == 201 and multipart.json()["sha256"] == raw.json()["sha256"]
    world = seed(client)
    sent = message(client, world, "photo attached", attachments=[{"sha256": raw.json()["sha256"], "name": "../../etc/slip.png"}])
    assert sent.status_code == 201, sent.text


def test_read_receipts_need_a_participant(client):
    world = seed(client)
    ok = client.post(f"/v1/conversations/{world['conversation']}/read", json={"user": world["seller"], "at": "2026-12-01T11:00:00Z"})
    assert ok.status_code == 200 and ok.json()["status"] == "updated"
    repeat = client.post(f"/v1/conversations/{world['conversation']}/read", json={"user": world["seller"], "at": "2026-12-01T10:00:00Z"})
    assert repeat.json()["status"] == "unchanged"  # a read receipt never moves backwards
    stranger = seed(client)["buyer"]
    assert_error(client.post(f"/v1/conversations/{world['conversation']}/read", json={"user": stranger, "at": "2026-12-01T11:00:00Z"}),
                 422, "rejected")


# --- Compose-time check -------------------------------------------------------------------------


def test_scan_answers_findings_masked_text_and_a_sentence(client):
    found = client.post("/v1/scan", json={"text": "call me on 415 555 0123"}).json()
    assert {f["kind"] for f in found["findings"]} >= {"phone"}
    assert "415 555 0123" not in found["masked_text"] and "[phone removed]" in found["masked_text"]
    assert found["message"].startswith("Sharing phone numbers is not allowed on PeerMetals")
    clean = client.post("/v1/scan", json={"text": "Is the 2024 Eagle still available at $2,450?"}).json()
    assert clean == {"findings": [], "masked_text": "Is the 2024 Eagle still available at $2,450?", "message": None}


def test_scan_says_which_language_rule_read_a_number(client):
    found = client.post("/v1/scan", json={"text": "liga pra mim: seis dois zero cinco cinco cinco zero um quatro oito"}).json()
    phones = [f for f in found["findings"] if f["kind"] == "phone"]
    assert phones and phones[0]["evidence"] == {"lang": "pt"}
    assert "cinco" not in found["masked_text"]
    english = client.post("/v1/scan", json={"text": "call me on 415 555 0123"}).json()
    assert english["findings"][0]["evidence"] is None


def test_scan_catches_a_number_split_over_messages_before_the_last_part_is_sent(client):
    world = seed(client)
    assert message(client, world, "my number is 312").status_code == 201
    assert message(client, world, "555").status_code == 201
    alone = client.post("/v1/scan", json={"text": "0147 text me"}).json()
    assert "phone" not in {f["kind"] for f in alone["findings"]}
    together = client.post("/v1/scan", json={"text": "0147 text me", "conversation": world["conversation"],
                                              "sender": world["buyer"]}).json()
    phones = [f for f in together["findings"] if f["kind"] == "phone"]
    assert phones and phones[0]["split"] and phones[0]["value"] == "+13125550147"
    assert "0147" not in together["masked_text"]
    before = client.get(f"/v1/users/{world['buyer']}").json()
    assert before["active_strikes"] == 0  # nothing was stored by the check


def test_scan_refuses_a_sender_outside_the_conversation(client):
    world, other = seed(client), seed(client)
    response = client.post("/v1/scan", json={"text": "hi", "conversation": world["conversation"], "sender": other["buyer"]})
    assert assert_error(response, 422, "rejected")["field"] == "sender"


# --- Reads and transcripts ----------------------------------------------------------------------


def test_message_and_user_reads_after_the_scan(client, web_env):
    world = seed(client)
    message_id = f"m-{ids()}"
    client.put(f"/v1/messages/{message_id}", json={"conversation": world["conversation"], "sender": world["buyer"],
                                                   "sent_at": "2026-12-01T10:00:00Z", "text": "pay me with zelle at 415 555 0123"})
    assert client.get(f"/v1/messages/{message_id}").json()["scanned"] is False
    assert cli(web_env, "run", "--once").returncode == 0
    read = client.get(f"/v1/messages/{message_id}").json()
    assert read["scanned"] and {f["kind"] for f in read["findings"]} >= {"phone", "payment"}
    assert "415 555 0123" not in read["masked_text"]
    assert read["conversation"] == world["conversation"] and read["sender"] == world["buyer"]
    assert read["review"] and read["review"][0]["status"] == "pending"
    user = client.get(f"/v1/users/{world['buyer']}").json()
    assert user == {**user, "id": world["buyer"], "restricted": False, "active_strikes": 0, "suspension_recommended": False}
    assert_error(client.get("/v1/users/u-nobody"), 404, "not_found")


def test_transcript_request_then_state_then_pdf_with_its_sha256(client, web_env):
    world = seed(client)
    message(client, world, "Deal at $2,450 shipped USPS")
    requested = client.post(f"/v1/conversations/{world['conversation']}/transcripts", json={})
    assert requested.status_code == 202
    location = requested.headers["location"]
    pending = client.get(location)
    assert pending.status_code == 202 and pending.json()["status"] == "pending"
    assert cli(web_env, "run", "--once").returncode == 0
    done = client.get(location)
    assert done.status_code == 200 and done.headers["content-type"] == "application/pdf"
    assert done.content.startswith(b"%PDF") and hashlib.sha256(done.content).hexdigest() == done.headers["x-content-sha256"]
    assert_error(client.post("/v1/conversations/c-nowhere/transcripts", json={}), 404, "not_found")


def test_transcript_ids_no_row_can_have_are_404_not_500(client):
    # Found by tests/web/test_fuzz.py: PostgreSQL refused comparing the INTEGER key with 12968841389.
    for request_id in ("12968841389", "0", "-1", str(2**63)):
        assert_error(client.get(f"/v1/transcripts/{request_id}"), 404, "not_found")


def test_health_and_readiness(server):
    assert httpx.get(server + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(server + "/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": True}


def test_openapi_document_is_served_under_v1(server):
    document = httpx.get(server + "/v1/openapi.json").json()
    assert {"/v1/messages/{message_id}", "/v1/scan", "/v1/batch", "/v1/attachments"} <= set(document["paths"])


# --- One-click unsubscribe ----------------------------------------------------------------------


def test_one_click_unsubscribe_confirms_on_get_and_opts_out_on_post(server, client, web_env):
    from pipeline.notices import unsubscribe_token

    world = seed(client)
    token = unsubscribe_token("development-only:peermetals.com", world["seller"])
    page = httpx.get(f"{server}/email/unsubscribe/{token}")
    assert page.status_code == 200 and "<form method=\"post\"" in page.text
    assert page.headers["referrer-policy"] == "no-referrer" and "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert opted_out(web_env, world["seller"]) is None  # a GET changes nothing
    done = httpx.post(f"{server}/email/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "unsubscribed" in done.text and opted_out(web_env, world["seller"]) is True
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert httpx.get(f"{server}/email/unsubscribe/{forged}").status_code == 400
    assert httpx.post(f"{server}/email/unsubscribe/{forged}", data={"List-Unsubscribe": "One-Click"}).status_code == 400
    again = client.put(f"/v1/users/{world['seller']}/email-preferences", json={"response_reminders": True})
    assert again.status_code == 200 and again.json() == {"id": world["seller"], "response_reminders": True}
    assert opted_out(web_env, world["seller"]) is False
    assert_error(client.put("/v1/users/u-nobody/email-preferences", json={"response_reminders": True}), 404, "not_found")


def opted_out(env: dict[str, str], user: str) -> bool | None:
    from sqlalchemy import select

    from storage.db import make_engine
    from storage.models import EmailPreference, User

    engine = make_engine(env["DATABASE_URL"])
    try:
        with engine.connect() as connection:
            return connection.scalar(select(EmailPreference.response_reminders_opted_out)
                                     .join(User, User.id == EmailPreference.user_id).where(User.external_id == user))
    finally:
        engine.dispose()
