"""Notifications through the real server: list newest first with cursors, unread filter, mark all read, scopes."""

from __future__ import annotations

import httpx
import pytest

from tests.web.conftest import cli, make_token
from tests.web.test_api import assert_error, ids, seed

pytestmark = pytest.mark.postgres


def say(client: httpx.Client, world: dict[str, str], conversation: str, minute: int, sender: str = "buyer") -> str:
    message_id = f"m-{ids()}"
    body = {"conversation": conversation, "sender": world[sender], "sent_at": f"2026-12-01T10:{minute:02d}:00Z", "text": "hi"}
    assert client.put(f"/v1/messages/{message_id}", json=body).status_code == 201
    return message_id


def test_notifications_list_newest_first_paginate_and_clear(client):
    world = seed(client)
    second = f"c-{ids()}"
    assert client.put(f"/v1/conversations/{second}", json={"buyer": world["buyer"], "seller": world["seller"],
                                                            "subject": "10 oz bar"}).status_code == 201
    say(client, world, world["conversation"], 1)
    latest_first = say(client, world, world["conversation"], 2)
    latest_second = say(client, world, second, 3)
    seller = world["seller"]

    page = client.get(f"/v1/users/{seller}/notifications", params={"unread": "true", "limit": 1})
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["unread_conversations"] == 2 and body["unread_messages"] == 3
    [first] = body["notifications"]
    assert (first["conversation"], first["sender"], first["latest_message"], first["unread_count"]) == \
        (second, world["buyer"], latest_second, 1)
    assert first["subject"] == "10 oz bar" and body["next_cursor"]
    rest = client.get(f"/v1/users/{seller}/notifications", params={"unread": "true", "limit": 1, "cursor": body["next_cursor"]}).json()
    [other] = rest["notifications"]
    assert (other["conversation"], other["unread_count"], other["latest_message"]) == (world["conversation"], 2, latest_first)
    assert rest["next_cursor"] is None

    # Reading one conversation clears it; marking all read clears the rest.
    assert client.post(f"/v1/conversations/{second}/read", json={"user": seller, "at": "2026-12-01T10:05:00Z"}).status_code == 200
    assert [n["conversation"] for n in client.get(f"/v1/users/{seller}/notifications?unread=true").json()["notifications"]] == \
        [world["conversation"]]
    marked = client.post(f"/v1/users/{seller}/notifications/read")
    assert marked.status_code == 200 and marked.json() == {"user": seller, "marked_read": 1}
    after = client.get(f"/v1/users/{seller}/notifications", params={"unread": "true"}).json()
    assert after["notifications"] == [] and after["unread_messages"] == 0
    everything = client.get(f"/v1/users/{seller}/notifications").json()["notifications"]
    assert len(everything) == 2 and all(n["read_at"] and n["unread_count"] == 0 for n in everything)
    assert "id" not in everything[0]  # only the marketplace's ids leave PeerGuard


def test_notify_preference_via_the_user_record_and_the_cli(client, web_env):
    world = seed(client)
    assert client.put(f"/v1/users/{world['buyer']}", json={"name": "Bea", "notify": "daily"}).json()["status"] == "updated"
    assert_error(client.put(f"/v1/users/{world['buyer']}", json={"name": "Bea", "notify": "weekly"}), 422, "invalid")
    done = cli(web_env, "users", "notify", world["buyer"], "off")
    assert done.returncode == 0 and "off" in done.stdout
    missing = cli(web_env, "users", "notify", "u-nobody", "off")
    assert missing.returncode == 3 and "u-nobody" in missing.stderr


def test_scopes_unknown_users_and_bad_cursors(server, client, web_env):
    reader = make_token(web_env, "read", name=f"reader-{ids()}")
    headers = {"Authorization": f"Bearer {reader}"}
    world = seed(client)
    assert httpx.get(f"{server}/v1/users/{world['seller']}/notifications", headers=headers).status_code == 200
    assert_error(httpx.post(f"{server}/v1/users/{world['seller']}/notifications/read", headers=headers), 403, "forbidden")
    assert_error(client.get("/v1/users/u-nobody/notifications"), 404, "not_found")
    assert_error(client.post("/v1/users/u-nobody/notifications/read"), 404, "not_found")
    assert_error(client.get(f"/v1/users/{world['seller']}/notifications", params={"cursor": "garbage!"}), 422, "invalid")
    assert client.get(f"/v1/users/{world['seller']}/notifications", params={"limit": 0}).status_code == 422
