"""Security headers on every response: a CSP with a fresh nonce, and no caching of pages."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The policy as a dict of directives, so each line can be read and changed on its own.
CSP: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'", "'nonce-{nonce}'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'none'"],
    "object-src": ["'none'"],
}

PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
    "publickey-credentials-get=(self), publickey-credentials-create=(self)"
)


NOTHING = b"default-src 'none'"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(nonce: str, form_targets: list[str] | None = None) -> str:
    directives = {**CSP, "form-action": [*CSP["form-action"], *(form_targets or [])]}
    return "; ".join(
        f"{name} {' '.join(values)}".replace("{nonce}", nonce)
        for name, values in directives.items()
    )


class SecurityHeadersMiddleware:
    """Give each response its nonce and the headers; pages are never cached."""

    def __init__(
        self, app: ASGIApp, hsts: bool = False, form_targets: list[str] | None = None
    ) -> None:
        self.app = app
        self.hsts = hsts
        # Quick exit without JavaScript posts here, then is sent on to the neutral site:
        # browsers check form-action on that redirect too.
        self.form_targets = form_targets or []
        # The same on every response but for the nonce: written once, as raw header lines.
        self.policy = content_security_policy("{nonce}", self.form_targets)
        fixed = {
            "referrer-policy": "no-referrer",
            "x-content-type-options": "nosniff",
            "x-frame-options": "DENY",
            "permissions-policy": PERMISSIONS_POLICY,
            "cross-origin-opener-policy": "same-origin",
            "cross-origin-resource-policy": "same-origin",
        }
        self.fixed = [(name.encode(), value.encode("latin-1")) for name, value in fixed.items()]
        self.hsts_line = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")
        self.ours = frozenset(
            [b"content-security-policy", b"strict-transport-security", *(n for n, _ in self.fixed)]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        https = self.hsts or scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Ours replace any the page set; its own Cache-Control stays (static files
                # set a long one), and everything else may hold a name: never cached.
                sent = message.get("headers", [])
                # A file served whole (a dossier's document) sets a stricter policy than any
                # page's, which allows nothing at all: that one is kept.
                stricter = next(
                    (
                        value
                        for name, value in sent
                        if name == b"content-security-policy" and value.startswith(NOTHING)
                    ),
                    None,
                )
                headers = [line for line in sent if line[0] not in self.ours]
                headers.append(
                    (
                        b"content-security-policy",
                        stricter or self.policy.replace("{nonce}", nonce).encode(),
                    )
                )
                headers += self.fixed
                if https:
                    headers.append(self.hsts_line)
                if not any(name == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
