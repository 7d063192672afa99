"""The request line as a browser sends it, and no number in a path beyond the database's ids.

A server hands over the query's raw bytes; Starlette decodes them as UTF-8 when it builds
``request.url`` (every page, the error page too), so one byte like ``\\xff`` would crash even
the 500 page. Bytes a browser would have percent-encoded are percent-encoded here, first.

A path segment made of digits names a row by its id; one past the database's integer ids
names nothing and would reach the database as an integer it cannot hold (an error, not "not
found"). It is refused here as not found (404), for every route, present and future.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote_from_bytes

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from portal.security.bodylimit import bare_refusal

Refusal = Callable[[Scope, int], Response]

# Printable ASCII but the space: what may stand in a query as it is.
KEPT = "".join(chr(c) for c in range(0x21, 0x7F))
# Our ids are the database's 32-bit integers.
MAX_ID = 2**31 - 1


def beyond_ids(path: str) -> bool:
    """Whether a segment of this path is a number no id can be."""
    return any(
        part.isascii() and part.isdigit() and (len(part) > 10 or int(part) > MAX_ID)
        for part in path.split("/")
    )


class RequestLineMiddleware:
    def __init__(self, app: ASGIApp, refusal: Refusal | None = None) -> None:
        self.app = app
        self.refusal = refusal or bare_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query: bytes = scope.get("query_string", b"")
            if query and not all(0x21 <= c < 0x7F for c in query):
                scope = {**scope, "query_string": quote_from_bytes(query, safe=KEPT).encode()}
            if beyond_ids(scope["path"]):
                await self.refusal(scope, 404)(scope, receive, send)
                return
        await self.app(scope, receive, send)
