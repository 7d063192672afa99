"""Server-side sessions: a random value in a __Host- cookie, its hash in the database."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from tortoise import timezone

from portal.models import Person, Session
from portal.security.cookies import cookies_of
from portal.security.tokens import new_token, token_hash

SESSION_COOKIE = "__Host-session"
IDLE = timedelta(minutes=30)
SUBJECT_LIFETIME = timedelta(hours=12)
STAFF_LIFETIME = timedelta(hours=10)
# A password given, the second factor not yet: a few minutes to type the code.
PENDING_LIFETIME = timedelta(minutes=5)
# Writing last_seen on every request would cost a write per page; a minute is precise enough.
TOUCH_EVERY = timedelta(seconds=60)
# Sent by a page that asks the server, by itself, whether something is new: that is not the
# person doing anything, so it does not keep an idle session alive (a phone left open on a
# dossier still signs out after IDLE).
PASSIVE_HEADER = "X-Live"


def device_label(user_agent: str) -> str:
    """A short, human description of the browser, enough to recognise one's own phone."""
    ua = user_agent[:400]
    browser = next(
        (
            name
            for key, name in (
                ("Edg/", "Edge"),
                ("Firefox/", "Firefox"),
                ("Chrome/", "Chrome"),
                ("Safari/", "Safari"),
            )
            if key in ua
        ),
        "",
    )
    system = next(
        (
            name
            for key, name in (
                ("Android", "Android"),
                ("iPhone", "iPhone"),
                ("iPad", "iPad"),
                ("Windows", "Windows"),
                ("Mac OS X", "Mac"),
                ("Linux", "Linux"),
            )
            if key in ua
        ),
        "",
    )
    label = " · ".join(part for part in (browser, system) if part)
    return label or "?"


async def start_session(
    person: Person,
    user_agent: str = "",
    *,
    second_factor_pending: bool = False,
    scope_dossier_id: int | None = None,
) -> tuple[str, Session]:
    """A new session with a new random id: never one the browser brought (no fixation).

    ``scope_dossier_id``: a session opened by a worker's recovery link (or a passkey made in
    one) reaches that one dossier of the account, nothing else.
    """
    now = timezone.now()
    if second_factor_pending:
        lifetime = PENDING_LIFETIME
    else:
        lifetime = SUBJECT_LIFETIME if person.is_subject else STAFF_LIFETIME
    token = new_token()
    session = await Session.create(
        token_hash=token_hash(token),
        person=person,
        last_seen_at=now,
        expires_at=now + lifetime,
        second_factor_pending=second_factor_pending,
        device=device_label(user_agent),
        scope_dossier_id=scope_dossier_id,
    )
    person.scope_dossier_id = scope_dossier_id
    return token, session


async def load_session(token: str | None, *, active: bool = True) -> Session | None:
    """The live session of this cookie, with its person; None if ended, idle or expired.

    ``active``: the person did something, so the session's idle time starts again.
    """
    if not token or len(token) > 100:
        return None
    session = (
        await Session.filter(token_hash=token_hash(token), ended_at__isnull=True)
        .select_related("person")
        .first()
    )
    if session is None:
        return None
    # Every rule that asks "which dossiers may this person reach" reads it from the person.
    session.person.scope_dossier_id = session.scope_dossier_id
    now = timezone.now()
    if (
        now >= session.expires_at
        or now - session.last_seen_at >= IDLE
        or not session.person.is_active
    ):
        await Session.filter(id=session.id, ended_at__isnull=True).update(ended_at=now)
        return None
    if active and now - session.last_seen_at >= TOUCH_EVERY:
        session.last_seen_at = now
        await Session.filter(id=session.id).update(last_seen_at=now)
    return session


async def end_session(session: Session) -> None:
    await Session.filter(id=session.id, ended_at__isnull=True).update(ended_at=timezone.now())


async def end_all_sessions(person_id: int, scope_dossier_id: int | None = None) -> int:
    """End a person's sessions; from a session limited to one dossier, only those limited to it.

    A recovery link's holder may be the worker who made it: signing the young person out of her
    own phone is not hers to do.
    """
    live = Session.filter(person_id=person_id, ended_at__isnull=True)
    if scope_dossier_id is not None:
        live = live.filter(scope_dossier_id=scope_dossier_id)
    return await live.update(ended_at=timezone.now())


async def active_sessions(person_id: int) -> list[Session]:
    now = timezone.now()
    return await Session.filter(
        person_id=person_id,
        ended_at__isnull=True,
        expires_at__gt=now,
        last_seen_at__gt=now - IDLE,
        second_factor_pending=False,
    ).order_by("-last_seen_at")


def set_session_cookie(response: Response, token: str) -> None:
    # No Max-Age: the cookie goes with the browser; the server decides when it ends.
    response.set_cookie(SESSION_COOKIE, token, path="/", secure=True, httponly=True, samesite="lax")


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="lax")


async def current_session(request: Request) -> Session | None:
    """The request's session, looked up once per request."""
    state = request.scope.setdefault("state", {})
    if "session" not in state:
        state["session"] = await load_session(request.cookies.get(SESSION_COOKIE))
    session: Session | None = state["session"]
    return session


class SessionMiddleware:
    """Look the session up once per request (pages, not static files), for every page's frame.

    The header of a public page shows whether one is signed in, and its quick exit must end
    the session: so even the public pages need to know.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/static/"):
            token = cookies_of(scope).get(SESSION_COOKIE)
            state = scope.setdefault("state", {})
            passive = PASSIVE_HEADER.lower().encode() in dict(scope["headers"])
            session = await load_session(token, active=not passive) if token else None
            state["session"] = session
        await self.app(scope, receive, send)
