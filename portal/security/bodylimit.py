"""One cap on every request body, whatever its method, type or where its CSRF token travels.

Our forms are small and the passkey JSON smaller still (it keeps its own, lower cap). A body
that says it is larger is refused (413) before a byte of it is read; one that does not say, or
says less than it sends, is counted as it arrives and refused once past the cap. A body within
the cap is read whole here and handed on: no page ever runs on a body that was not all
counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.security.cookies import cookies_of

Refusal = Callable[[Scope, int], Response]
# Paths (a pattern matched whole) that take a larger body, such as a file's upload, and the cap.
Larger = Sequence[tuple[re.Pattern[str], int]]

MAX_BODY_BYTES = 256 * 1024
# Enough digits for any length we would take; more is a forged header, not a big body.
MAX_LENGTH_DIGITS = 12


def declared_length(scope: Scope) -> int | None:
    """The body's Content-Length; None if absent, -1 if malformed or given twice differently."""
    found = {value.strip() for name, value in scope["headers"] if name == b"content-length"}
    if not found:
        return None
    if len(found) > 1:
        return -1
    (value,) = found
    if not value.isdigit() or len(value) > MAX_LENGTH_DIGITS:
        return -1
    return int(value)


def limit_for(
    scope: Scope, larger: Larger, limit: int, signed_in: str = "", public: Larger = ()
) -> int:
    """The cap on a body sent to this request: ``limit``, unless a pattern of ``larger``
    matches its path and, when ``signed_in`` names a cookie, the request carries that cookie.

    Only someone signed in can add a file: a request without the session cookie gets the
    small cap, so that nobody can make us hold megabytes before the session is even looked at.
    The one exception is ``public``: paths made for people without an account (the check of
    an export anyone may hold), each with its own cap, kept as low as what they read needs.
    """
    opened = next((cap for pattern, cap in public if pattern.fullmatch(scope["path"])), None)
    if opened is not None:
        return opened
    if signed_in and not cookies_of(scope).get(signed_in):
        return limit
    return next((cap for pattern, cap in larger if pattern.fullmatch(scope["path"])), limit)


class BodyLimitMiddleware:
    """Refuse (413) a request body over ``limit`` bytes before any later layer reads it.

    Only the paths named in ``larger`` (the uploads of a file) take more, up to their own cap,
    and only from a request that carries the ``signed_in`` cookie when one is named; those in
    ``public`` take more from anyone.
    """

    def __init__(
        self,
        app: ASGIApp,
        limit: int = MAX_BODY_BYTES,
        refusal: Refusal | None = None,
        larger: Larger = (),
        signed_in: str = "",
        public: Larger = (),
    ) -> None:
        self.app = app
        self.limit = limit
        self.refusal = refusal or bare_refusal
        self.larger = larger
        self.signed_in = signed_in
        self.public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope, self.larger, self.limit, self.signed_in, self.public)
        declared = declared_length(scope)
        if declared == -1:
            await self.refusal(scope, 400)(scope, receive, send)
            return
        if declared is not None and declared > limit:
            await self.refusal(scope, 413)(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more_body = True
        while more_body:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self.refusal(scope, 413)(scope, receive, send)
                return
            chunks.append(chunk)
            more_body = message.get("more_body", False)
        if declared is not None and size != declared:
            # A length that lies about a body within the cap: not a request we can trust.
            await self.refusal(scope, 400)(scope, receive, send)
            return
        await self.app(scope, replaying(b"".join(chunks), receive), send)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the body already read, whole, then what the client says next."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def bare_refusal(scope: Scope, status: int) -> Response:
    return PlainTextResponse("", status_code=status)
