"""What every page module shares: who is signed in, guards by role, forms that keep input."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Awaitable, Callable, Iterable

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from portal.domain import access, forms, notices
from portal.models import Dossier, Person, Role, Session
from portal.security.csrf import CSRF_COOKIE
from portal.security.requestline import MAX_ID
from portal.security.sessions import current_session
from portal.templating import wants_fragment

Handler = Callable[[Request], Awaitable[Response]]
# What answers a repeated form when its first answer was a page, not a redirect.
Again = Callable[[Request, str], Awaitable[Response]]
MAX_FIELD = 10_000
FORM_KEY = "form_key"
FORM_KEY_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")


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
                raise HTTPException(404)
            request.state.person = session.person
            if not wants_fragment(request):
                # The header's count of what is new (see templating.page_context).
                request.state.news = await notices.news_count(session.person)
            return await handler(request)

        return guarded

    return decorate


def once(again: Again | None = None) -> Callable[[Handler], Handler]:
    """A form acts once: sent again (a double tap, a resend), it gets its first answer again.

    The handler passes ``form_key(request)`` to the domain function that acts, which records
    it in its own transaction (``portal.domain.forms``). Once the form has acted, its answer is
    kept here for a repeat: the redirect's target, or what the handler put in
    ``request.state.outcome`` for ``again`` (a page that shows a secret once cannot be sent
    twice, so ``again`` makes an equivalent one). A repeat gets that answer without acting.
    The key is bound to the browser: another browser's key is just unknown here.
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: Request) -> Response:
            form = await request.form() if request.method == "POST" else None
            digest = sent_form_key(request, form) if form is not None else None
            if digest is None:
                return await handler(request)
            request.state.form_key = digest
            try:
                response = await handler(request)
            except forms.Repeat as repeat:
                if not repeat.answer:
                    raise HTTPException(409) from repeat
                if again is not None:
                    return await again(request, repeat.answer)
                return RedirectResponse(repeat.answer, status_code=303)
            answer = _outcome(request, response)
            if answer is not None:
                await forms.remember(digest, answer)
            return response

        return guarded

    return decorate


def sent_form_key(request: Request, form: FormData) -> str | None:
    """The digest a form's single-use key is recorded under, bound to this browser; None for a
    form without a well-made key."""
    key = form.get(FORM_KEY)
    if not isinstance(key, str) or not FORM_KEY_RE.fullmatch(key):
        return None
    return hashlib.sha256(f"{browser_id(request)}:{key}".encode()).hexdigest()


def form_key(request: Request) -> str | None:
    """The digest of the form's single-use key, for the domain function that acts (``once``)."""
    digest: str | None = getattr(request.state, "form_key", None)
    return digest


def _outcome(request: Request, response: Response) -> str | None:
    """What a repeat of this form must answer, if the form acted; None after a refusal."""
    if 300 <= response.status_code < 400:
        return response.headers.get("location") or None
    outcome = getattr(request.state, "outcome", None)
    if response.status_code < 300 and isinstance(outcome, str) and outcome:
        return outcome
    return None


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


def as_id(value: object) -> int | None:
    """An id sent in a form: ASCII digits that a row's id can be; None for anything else.

    ``str.isdigit`` accepts "²" (which ``int`` refuses) and any number of digits (which the
    database's integers cannot hold): an id is checked here, once, never with ``int()`` alone.
    """
    if not isinstance(value, str):
        return None
    digits = value.strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits) > len(str(MAX_ID)):
        return None
    number = int(digits)
    return number if 0 < number <= MAX_ID else None


def ids_of(values: Iterable[object], at_most: int = 10) -> list[int]:
    """The ids among a form's repeated field (anything else is left out), at most so many."""
    return [i for i in map(as_id, values) if i is not None][:at_most]


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
    if person.role is Role.OPERATOR:
        return "/operateur"
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


async def own_dossier(request: Request) -> Dossier:
    """The dossier of the URL's reference, for its subject only; anyone else gets 404."""
    return await access.own_dossier(person_of(request), reference_of(request))


# The largest id a table holds (PostgreSQL's integer): a larger number in a URL finds nothing.


def path_id(request: Request, name: str) -> int:
    """A row's id from the URL; anything but a positive integer a table can hold is 404."""
    number = as_id(str(request.path_params[name]))
    if number is None:
        raise HTTPException(404)
    return number
