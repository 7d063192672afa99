"""Running it: structured logs with a request id, and the readiness of the database."""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tortoise import connections

from portal.settings import ROOT

MIGRATIONS_DIR = ROOT / "migrations"
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
access_log = logging.getLogger("portal.access")


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id (and the error)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        for key in ("method", "route", "status", "duration_ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def logging_config(level: str = "info") -> dict[str, Any]:
    """For uvicorn and the app alike: JSON lines on stderr; uvicorn's access log is off."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "portal.ops.JSONFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "": {"handlers": ["stderr"], "level": level.upper()},
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            # Uvicorn's access line holds the full path and the client address: ours does not.
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            # SQL statements carry values; never at info.
            "tortoise": {"level": "WARNING"},
        },
    }


class RequestIdMiddleware:
    """Give each request an id (kept from the proxy's X-Request-ID when sane), log one line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if REQUEST_ID_RE.match(incoming) else secrets.token_hex(8)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access_log.info(
                "request",
                extra={
                    "method": scope["method"],
                    # The route's pattern, never the path: no reference or token in the logs.
                    "route": route_pattern(scope),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            request_id_var.reset(token)


def route_pattern(scope: Scope) -> str:
    # The router leaves the route it chose in the scope; the routes are walked again only
    # when no route was reached (a layer before the router answered).
    chosen = scope.get("route")
    if chosen is not None:
        return str(getattr(chosen, "path", "?"))
    app = scope.get("app")
    router = getattr(app, "router", None)
    for route in getattr(router, "routes", []):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", "?"))
    return "(no route)"


def migrations_on_disk(directory: Path = MIGRATIONS_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("[0-9][0-9][0-9][0-9]_*.py"))


async def pending_migrations() -> list[str]:
    """Migrations on disk that the database has not applied."""
    connection = connections.get("default")
    await connection.execute_query("SELECT 1")  # not answering at all is another matter
    try:
        rows = await connection.execute_query_dict("SELECT app, name FROM tortoise_migrations")
    except Exception:
        rows = []  # never migrated: the table itself is not there yet
    applied = {row["name"] for row in rows if row["app"] == "models"}
    return [name for name in migrations_on_disk() if name not in applied]
