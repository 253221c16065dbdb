"""A real webhook receiver on loopback that verifies every delivery the way a marketplace would."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    webhook_id: str
    type: str
    data: dict
    verified: bool


@dataclass
class Receiver:
    """Records verified deliveries; ``answers`` (a list of status codes) is consumed one per request."""

    secret: str | None = None
    answers: list[int] = field(default_factory=list)
    fail_once_for: set[str] = field(default_factory=set)
    """Users whose next delivery is answered 500 (once each), whatever order requests arrive in."""
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.verified]

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if receiver.delay:
                    time.sleep(receiver.delay)
                user = json.loads(body).get("data", {}).get("user") if body else None
                with receiver.lock:
                    status = receiver.answers.pop(0) if receiver.answers else 204
                    if user in receiver.fail_once_for:
                        receiver.fail_once_for.discard(user)
                        status = 500
                verified = self._verify(body)
                if 200 <= status < 300 and verified:
                    payload = json.loads(body)
                    with receiver.lock:
                        receiver.received.append(Received(self.headers["webhook-id"], payload["type"], payload["data"], True))
                self.send_response(status if verified else 401)
                self.send_header("content-length", "0")
                self.end_headers()

            def _verify(self, body: bytes) -> bool:
                if receiver.secret is None:
                    return True
                try:
                    Webhook(receiver.secret).verify(body, {k: v for k, v in self.headers.items()})
                except WebhookVerificationError:
                    return False
                return True

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
