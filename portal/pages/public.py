"""Public pages: home, rights, data, urgent help, the language choice and the health check."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from tortoise import connections

from portal.i18n import LANGUAGE_COOKIE
from portal.models import Service
from portal.ops import pending_migrations
from portal.settings import LANGUAGES
from portal.templating import render

# What the home page shows of each service: how to reach it.
LISTED = ("id", "name", "address", "hours", "hours_nl", "hours_en", "phone", "communes")


async def home(request: Request) -> Response:
    services = await Service.all().only(*LISTED).order_by("name", "id")
    return render(request, "public/home.html", {"services": services})


async def rights(request: Request) -> Response:
    return render(request, "public/rights.html")


async def data(request: Request) -> Response:
    return render(request, "public/data.html")


async def urgent(request: Request) -> Response:
    return render(request, "public/urgent.html")


def safe_next(value: object) -> str:
    """A local path to go back to; anything else (another site, a scheme) goes home."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or "\\" in value or len(value) > 500:
        return "/"
    return value


async def choose_language(request: Request) -> Response:
    form = await request.form()
    language = form.get("language")
    if language not in LANGUAGES:
        raise HTTPException(400)
    response = RedirectResponse(safe_next(form.get("next")), status_code=303)
    # A preference, not a secret: kept for a year, sent only to this site.
    response.set_cookie(
        LANGUAGE_COOKIE,
        str(language),
        max_age=365 * 24 * 3600,
        secure=True,
        httponly=True,
        samesite="lax",
    )
    return response


async def healthz(request: Request) -> Response:
    """Alive: the process answers and its database too."""
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception:
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready: the database answers and every migration on disk is applied."""
    try:
        pending = await pending_migrations()
    except Exception:
        return JSONResponse({"status": "database unavailable"}, status_code=503)
    if pending:
        return JSONResponse({"status": "migrations pending", "pending": pending}, status_code=503)
    return JSONResponse({"status": "ready"})


routes = [
    Route("/", home, name="home"),
    Route("/droits", rights, name="rights"),
    Route("/donnees", data, name="data"),
    Route("/urgence", urgent, name="urgent"),
    Route("/langue", choose_language, methods=["POST"], name="language"),
    Route("/healthz", healthz, name="healthz"),
    Route("/readyz", readyz, name="readyz"),
]
