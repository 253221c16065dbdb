"""Headers every /staff response carries, and the cookie rules of the console.

The CSP allows scripts and styles only from the app itself (no inline script, no CDN), no
framing, and forms that post only back here. Cookies are ``Secure`` when the request came over
HTTPS, directly or through a proxy that says so in ``X-Forwarded-Proto``.
"""

from __future__ import annotations

from starlette.requests import Request

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
NO_STORE = (b"cache-control", b"no-store")


class ConsoleSecurityHeaders:
    """Pure ASGI middleware: adds the console's headers to every response under /staff."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not (scope["path"] == "/staff" or scope["path"].startswith("/staff/")):
            return await self.app(scope, receive, send)
        static = scope["path"].startswith("/staff/static/")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [h for h in HEADERS if h[0] not in present]
                if not static and b"cache-control" not in present:
                    extra.append(NO_STORE)
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def is_https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"
