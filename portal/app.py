"""The application factory: routes, middleware and lifespan on one screen."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from asyncpg import exceptions as asyncpg_errors
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from tortoise.contrib.starlette import RegisterTortoise
from tortoise.exceptions import DBConnectionError, OperationalError, TransactionManagementError

from portal import backup as backups
from portal import keys
from portal.db import tortoise_config
from portal.domain import notices
from portal.domain.accounts import LimitedSession, SignedInElsewhere
from portal.domain.errors import Invalid, NotAllowed, NotFound
from portal.domain.push import Pusher
from portal.i18n import LanguageMiddleware
from portal.ops import RequestIdMiddleware
from portal.pages import (
    account,
    admin,
    appointments,
    closings,
    concertation,
    consent,
    documents,
    dossiers,
    ending,
    figures,
    invitations,
    live,
    operator,
    partners,
    proof,
    public,
    push,
    requests,
    signin,
    signing,
    work,
)
from portal.security.bodylimit import BodyLimitMiddleware
from portal.security.csrf import CSRFMiddleware
from portal.security.headers import SecurityHeadersMiddleware, origin_of
from portal.security.ratelimit import SignInThrottle
from portal.security.requestline import RequestLineMiddleware
from portal.security.sessions import SESSION_COOKIE, SessionMiddleware
from portal.settings import Settings, load_settings
from portal.static_files import StaticFiles
from portal.templating import build_templates

log = logging.getLogger("portal")

# What a database that is away raises: Tortoise's own errors, and asyncpg's that Tortoise lets
# through when a connection dies mid-query (a cut network, a restarting server); sqlite3's own
# for a file that fails (read-only, disk full) where Tortoise does not wrap it.
DATABASE_AWAY = (
    DBConnectionError,
    OperationalError,
    TransactionManagementError,
    sqlite3.OperationalError,
    asyncpg_errors.InterfaceError,
    asyncpg_errors.PostgresConnectionError,
    asyncpg_errors.CannotConnectNowError,
    OSError,
    ConnectionError,
)

ERROR_TEMPLATES = {404: "errors/404.html", 500: "errors/500.html", 503: "errors/503.html"}
# The answer to a refusal that the page did not answer itself (someone else's dossier is 404).
REFUSALS = {NotFound: 404, NotAllowed: 409, Invalid: 422}


def error_page(request: Request, status: int) -> Response:
    name = ERROR_TEMPLATES.get(status, "errors/error.html")
    response: Response = request.app.state.templates.TemplateResponse(
        request, name, {"status": status}, status_code=status
    )
    return response


async def http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):  # registered for HTTPException only
        raise exc
    response = error_page(request, exc.status_code)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def refused(request: Request, exc: Exception) -> Response:
    status = next(code for kind, code in REFUSALS.items() if isinstance(exc, kind))
    return error_page(request, status)


async def last_resort(request: Request, exc: Exception) -> Response:
    # Only reached when a middleware itself fails: no template, no detail.
    log.exception("unhandled error outside the pages")
    return HTMLResponse(
        "<!doctype html><title>Erreur</title><p>Une erreur est survenue. "
        "Er ging iets mis. Something went wrong.</p>",
        status_code=500,
    )


class ErrorPageMiddleware:
    """Turn a crash in a page into the kind 500 page, inside the headers and language layers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except DATABASE_AWAY:
            # The database is away (cut, read-only, disk full): say so kindly, and the
            # transaction that was under way has been rolled back, so nothing is half-written.
            log.exception("database unavailable in %s %s", scope["method"], scope["path"])
            if started:
                raise
            response = error_page(Request(scope, receive), 503)
            response.headers["Retry-After"] = "30"
            await response(scope, receive, send)
        except Exception:
            log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            if started:
                raise
            request = Request(scope, receive)
            await error_page(request, 500)(scope, receive, send)


def create_app(settings: Settings | None = None, *, manage_database: bool = True) -> Starlette:
    """Build the portal. Tests pass ``manage_database=False`` and provide the ORM themselves."""
    settings = settings or load_settings()
    keys.configure(settings.journal_key, settings.master_key)
    static = StaticFiles()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not manage_database:
            yield
            return
        async with RegisterTortoise(app, config=tortoise_config(settings.database_url)):
            # What exists once started (modules, models, catalogues, the connection) lives
            # as long as the process: out of the collector's sight, its full passes no longer
            # walk all of it and pause a page for some 20 ms.
            gc.collect()
            gc.freeze()
            tasks = [
                # Past their retention, backups become unreadable even on a day none is made.
                asyncio.create_task(
                    backups.prune_every(
                        settings.backup_keys_dir,
                        backups.backups_dir(settings.var_dir),
                        settings.backup_retention_days,
                    )
                )
            ]
            mailer = notices.Mailer.of(settings) if settings.smtp_host else None
            pusher = Pusher.of(settings)
            if mailer or pusher:
                # Notices go from a background task: a slow mail or push server never slows a
                # page.
                tasks.append(asyncio.create_task(notices.run_sender(mailer, pusher)))
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    def refuse(scope: Scope, status: int) -> Response:
        return error_page(Request(scope), status)

    # Only the routes that take a file take a body that large (its form's fields beside it),
    # and only from a request that carries a session cookie.
    uploads = [(re.compile(documents.UPLOAD_PATHS), settings.document_max_bytes + 1024 * 1024)]
    # The one page that takes files from anyone: the check of an export she holds (no account
    # needed to check, nothing kept), capped at what two exports need.
    checks = [(re.compile(re.escape(proof.PATH)), proof.MAX_BODY_BYTES)]

    app = Starlette(
        debug=False,
        routes=[
            *public.routes,
            *proof.routes,
            *signin.routes,
            *account.routes,
            *invitations.routes,
            *admin.routes,
            *closings.routes,
            *operator.routes,
            *figures.routes,
            *requests.routes,
            *dossiers.routes,
            *live.routes,
            *documents.routes,
            *appointments.routes,
            *work.routes,
            *consent.routes,
            *concertation.routes,
            *partners.routes,
            *ending.routes,
            *push.routes,
            *signing.routes,
            Route("/static/{path:path}", static.endpoint, name="static"),
        ],
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(
                SecurityHeadersMiddleware,
                hsts=settings.https,
                form_targets=[origin_of(settings.quick_exit_url)],
            ),
            Middleware(LanguageMiddleware, default=settings.default_language),
            # Before anything builds request.url (the error pages do): see portal.security.
            Middleware(RequestLineMiddleware, refusal=refuse),
            # Every body is capped and counted before anything reads it (the CSRF layer below
            # reads forms; with the token in a header the page itself would).
            Middleware(
                BodyLimitMiddleware,
                refusal=refuse,
                larger=uploads,
                signed_in=SESSION_COOKIE,
                public=checks,
            ),
            Middleware(
                CSRFMiddleware,
                secret_key=settings.secret_key,
                refusal=refuse,
                larger=uploads,
                signed_in=SESSION_COOKIE,
                public=checks,
            ),
            Middleware(ErrorPageMiddleware),
            Middleware(SessionMiddleware),
        ],
        exception_handlers={
            HTTPException: http_error,
            **{kind: refused for kind in REFUSALS},
            # Refusals with a page of their own (the most specific handler is the one used).
            LimitedSession: account.limited,
            SignedInElsewhere: invitations.sign_out_first,
            500: last_resort,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.throttle = SignInThrottle.from_url(settings.redis_url)
    app.state.templates = build_templates(
        app, static, {"quick_exit_url": settings.quick_exit_url, "settings": settings}
    )
    return app
