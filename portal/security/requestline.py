"""The request line as a browser sends it: a query string of printable ASCII only.

A server hands over the query's raw bytes; Starlette decodes them as UTF-8 when it builds
``request.url`` (every page, the error page too), so one byte like ``\\xff`` would crash even
the 500 page. Bytes a browser would have percent-encoded are percent-encoded here, first.
"""

from __future__ import annotations

from urllib.parse import quote_from_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

# Printable ASCII but the space: what may stand in a query as it is.
KEPT = "".join(chr(c) for c in range(0x21, 0x7F))


class RequestLineMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query: bytes = scope.get("query_string", b"")
            if query and not all(0x21 <= c < 0x7F for c in query):
                scope = {**scope, "query_string": quote_from_bytes(query, safe=KEPT).encode()}
        await self.app(scope, receive, send)
