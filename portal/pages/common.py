"""What every page module shares: who is signed in, guards by role, forms that keep input."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from portal.models import Person, Role, Session
from portal.security.csrf import CSRF_COOKIE
from portal.security.sessions import current_session

Handler = Callable[[Request], Awaitable[Response]]
MAX_FIELD = 10_000


async def signed_in(request: Request) -> Person | None:
    """The person of a complete session (second factor given), or None."""
    session = await current_session(request)
    if session is None or session.second_factor_pending:
        return None
    return session.person


def require(*roles: Role) -> Callable[[Handler], Handler]:
    """Only for people signed in with one of these roles.

    Anonymous visitors are sent to sign in; a signed-in person of another role gets 404,
    as if the page did not exist (which pages exist for whom is itself worth hiding).
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: Request) -> Response:
            session = await current_session(request)
            if session is None:
                return RedirectResponse(request.url_for("signin"), status_code=303)
            if session.second_factor_pending:
                return RedirectResponse(request.url_for("signin.code"), status_code=303)
            if roles and session.person.role not in roles:
                from starlette.exceptions import HTTPException

                raise HTTPException(404)
            request.state.person = session.person
            return await handler(request)

        return guarded

    return decorate


def person_of(request: Request) -> Person:
    """The signed-in person, in a handler guarded by ``require``."""
    person: Person = request.state.person
    return person


def session_of(request: Request) -> Session:
    session: Session = request.scope["state"]["session"]
    return session


def browser_id(request: Request) -> str:
    """The browser's random CSRF cookie; passkey challenges are bound to it."""
    return request.cookies.get(CSRF_COOKIE, "")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def text(form: FormData, name: str, limit: int = MAX_FIELD) -> str:
    """A text field as typed (files and absurd lengths become nothing but a refusal later)."""
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    return value[: limit + 1].replace("\x00", "")


def kept(form: FormData, names: Iterable[str]) -> dict[str, str]:
    """What the person typed, to put back in the form after a refusal."""
    return {name: text(form, name) for name in names}


def home_for(person: Person) -> str:
    """Where a person lands after signing in."""
    if person.role is Role.ADMIN:
        return "/admin/personnes"
    if person.role is Role.WORKER:
        return "/travail"
    if person.is_subject:
        return "/espace"
    if person.role is Role.PARTNER:
        return "/partenaire"
    return "/compte"


def reference_of(request: Request) -> str:
    """The dossier reference in the URL, cut to the longest a reference can be."""
    return str(request.path_params["reference"])[:12]


async def own_dossier(request: Request) -> Any:
    """The dossier of the URL's reference, for its subject only; anyone else gets 404."""
    from starlette.exceptions import HTTPException

    from portal.domain.access import readable_dossier
    from portal.domain.errors import NotFound

    person = person_of(request)
    try:
        dossier = await readable_dossier(person, reference_of(request))
    except NotFound as error:
        raise HTTPException(404) from error
    if dossier.subject_id != person.id:
        raise HTTPException(404)
    return dossier
