"""Security headers on every response: a CSP with a fresh nonce, and no caching of pages."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        https = self.hsts or scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = content_security_policy(
                    nonce, self.form_targets
                )
                headers["Referrer-Policy"] = "no-referrer"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Permissions-Policy"] = PERMISSIONS_POLICY
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                headers["Cross-Origin-Resource-Policy"] = "same-origin"
                if https:
                    headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
                # Static files set their own long cache; everything else may hold a name.
                if "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
