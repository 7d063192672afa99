"""CSRF protection: every state-changing request carries a token bound to this browser."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.security import multipart
from portal.security.bodylimit import MAX_BODY_BYTES, Larger, bare_refusal, limit_for, replaying
from portal.security.cookies import cookies_of

Refusal = Callable[[Scope, int], Response]

CSRF_COOKIE = "__Host-csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = b"x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Our forms are small; anything larger than this is refused before it is read whole (the body
# limit layer refuses it earlier still, for every body: this layer stays safe on its own).
MAX_FORM_BYTES = MAX_BODY_BYTES
# A token is some 40 characters: more of that field is not read.
TOKEN_FIELD_BYTES = 200


def token_for(secret_key: str, browser_id: str) -> str:
    """The token a page puts in its forms: an HMAC of the browser's random cookie."""
    return hmac.new(secret_key.encode(), b"csrf:" + browser_id.encode(), hashlib.sha256).hexdigest()


def same_token(supplied: str, expected: str) -> bool:
    """Whether a token sent by the browser is the expected one, in constant time.

    Compared as bytes: ``hmac.compare_digest`` raises TypeError on a ``str`` holding a
    non-ASCII character, and a forged ``csrf_token=%C2%BF`` must be a refusal, not a crash.
    """
    if not supplied or len(supplied) != len(expected) or not supplied.isascii():
        return False
    return hmac.compare_digest(supplied.encode("ascii"), expected.encode("ascii"))


def multipart_field(body: bytes, content_type: str, wanted: str) -> str:
    """The value of one small field of a multipart body (our token), or "" if it has none.

    Files are skipped as they stream by: nothing is kept but the field asked for.
    """
    part = multipart.parts(body, content_type, {wanted}, limit=TOKEN_FIELD_BYTES).get(wanted)
    if part is None or part.filename is not None:
        return ""
    return part.data[:TOKEN_FIELD_BYTES].decode("latin-1")


class CSRFMiddleware:
    """Refuse (403) an unsafe request whose token is missing or wrong, before any handler runs.

    The token travels in the ``X-CSRF-Token`` header (htmx) or the ``csrf_token`` form field.
    The body is read here to find the field, then handed on unchanged.
    """

    def __init__(
        self,
        app: ASGIApp,
        secret_key: str,
        refusal: Refusal | None = None,
        larger: Larger = (),
        signed_in: str = "",
        public: Larger = (),
    ) -> None:
        self.app = app
        self.secret_key = secret_key
        self.refusal = refusal or bare_refusal
        # Paths that take a larger body (a file), and the cap of each: the only ones where a
        # multipart form is read here, and only when the request carries the session cookie.
        self.larger = larger
        self.signed_in = signed_in
        # Paths anyone may send a larger multipart form to (the public check of an export).
        self.public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        browser_id = cookies_of(scope).get(CSRF_COOKIE)
        new_cookie = None
        if not browser_id or len(browser_id) != 43:
            browser_id = new_cookie = secrets.token_urlsafe(32)
        state = scope.setdefault("state", {})
        state["csrf_token"] = token_for(self.secret_key, browser_id)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and new_cookie:
                headers = MutableHeaders(scope=message)
                headers.append(
                    "Set-Cookie",
                    f"{CSRF_COOKIE}={new_cookie}; Path=/; Secure; HttpOnly; SameSite=Lax",
                )
            await send(message)

        if scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send_with_cookie)
            return

        expected = state["csrf_token"]
        supplied = dict(scope["headers"]).get(CSRF_HEADER, b"").decode("latin-1")
        body = b""
        more_body = True
        if not supplied:
            content_type = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1")
            kind = content_type.split(";")[0].strip()
            cap = limit_for(scope, self.larger, MAX_FORM_BYTES, self.signed_in, self.public)
            multipart = kind == "multipart/form-data" and cap > MAX_FORM_BYTES
            if kind == "application/x-www-form-urlencoded" or multipart:
                chunks = []
                size = 0
                while more_body:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > cap:
                        await self.refusal(scope, 413)(scope, receive, send_with_cookie)
                        return
                    chunks.append(chunk)
                    more_body = message.get("more_body", False)
                body = b"".join(chunks)
                if multipart:
                    supplied = multipart_field(body, content_type, CSRF_FIELD)
                else:
                    for name, value in parse_qsl(body.decode("latin-1")):
                        if name == CSRF_FIELD:
                            supplied = value
                            break
        if not same_token(supplied, expected) or new_cookie:
            await self.refusal(scope, 403)(scope, receive, send_with_cookie)
            return

        if not more_body:
            await self.app(scope, replaying(body, receive), send_with_cookie)
        else:
            await self.app(scope, receive, send_with_cookie)
