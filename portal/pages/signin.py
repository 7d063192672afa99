"""Ways in and out: signing in (password, code, passkey, recovery code or link), signing out,
the quick exit, and the young person's own new account."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from portal.domain import accounts, drafts
from portal.domain.errors import Invalid
from portal.i18n import LANGUAGE_COOKIE, _, current_language
from portal.models import Person, Role
from portal.pages.common import (
    browser_id,
    client_address,
    form_key,
    home_for,
    kept,
    once,
    person_of,
    require,
    signed_in,
    text,
)
from portal.security import passkeys
from portal.security.csrf import CSRF_COOKIE
from portal.security.known_browsers import KNOWN_BROWSER_COOKIE, known_browser, remember_browser
from portal.security.passphrases import suggest_passphrase
from portal.security.ratelimit import SignInThrottle, wait_message
from portal.security.sessions import (
    clear_session_cookie,
    current_session,
    end_session,
    set_session_cookie,
    start_session,
)
from portal.templating import render

SUBJECT_FIELDS = ("role", "display_name", "language", "login")


# Where a page may send the person on after it (the recovery-link notice, the welcome page):
# a page of their own space or account on this site, nothing else.
NEXT_RE = re.compile(r"/(espace|compte)(/[A-Za-z0-9_-]+)*(\?secours=1)?")


def relying_party(request: Request) -> passkeys.RelyingParty:
    settings = request.app.state.settings
    return passkeys.RelyingParty(id=settings.rp_id, name=settings.rp_name, origin=settings.origin)


def throttle_of(request: Request) -> SignInThrottle:
    throttle: SignInThrottle = request.app.state.throttle
    return throttle


async def signed_in_response(
    request: Request, person: Person, target: str, *, pending: bool = False
) -> Response:
    """Start a brand-new session (whatever cookie came in) and rotate the CSRF cookie.

    A young person for whom a recovery link was made since she last looked is shown it first
    thing, whatever the way in (see ``recovery_notice``).
    """
    old = await current_session(request)
    if old is not None:
        await end_session(old)
    token, _session = await start_session(
        person,
        request.headers.get("user-agent", ""),
        second_factor_pending=pending,
        scope_dossier_id=person.scope_dossier_id,
    )
    if not pending and await accounts.recovery_links_to_show(person):
        notice = request.app.url_path_for("account.recovery_notice")
        target = f"{notice}?{urlencode({'next': target}, safe='/')}"
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, token)
    # A new CSRF cookie too: a token learnt before signing in is worth nothing after.
    response.delete_cookie(CSRF_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response


def json_redirect(target: str, response: Response | None = None) -> JSONResponse:
    if response is not None:
        # The sign-in may have chosen another first page (a recovery link to be shown).
        target = response.headers.get("location", target)
    result = JSONResponse({"redirect": target})
    if response is not None:
        for name, value in response.raw_headers:
            if name == b"set-cookie":
                result.raw_headers.append((name, value))
    return result


async def read_credential(request: Request) -> str:
    body = await request.body()
    if len(body) > passkeys.MAX_CREDENTIAL_JSON:
        raise HTTPException(413)
    try:
        data = json.loads(body)
        credential = data["credential"]
    except (ValueError, KeyError, TypeError, RecursionError) as error:
        raise HTTPException(400) from error
    return json.dumps(credential)


def too_many(request: Request, template: str, context: dict[str, Any], seconds: int) -> Response:
    """The form again, saying how long to wait; ``Retry-After`` for machines."""
    context["error"] = wait_message(seconds)
    response = render(request, template, context, status_code=429)
    response.headers["Retry-After"] = str(seconds)
    return response


def _secret_key(request: Request) -> str:
    secret: str = request.app.state.settings.secret_key
    return secret


def _known_browser(request: Request, login: str) -> str | None:
    return known_browser(_secret_key(request), request.cookies.get(KNOWN_BROWSER_COOKIE), login)


def _remember_browser(request: Request, response: Response, person: Person) -> Response:
    """This browser signed in as this name: strangers' failures on it will not slow it."""
    known = request.cookies.get(KNOWN_BROWSER_COOKIE)
    remember_browser(response, _secret_key(request), known, person.login or "")
    return response


async def signin(request: Request) -> Response:
    person = await signed_in(request)
    if person is not None and request.method == "GET":
        return RedirectResponse(home_for(person), status_code=303)
    context: dict[str, Any] = {"values": {"login": ""}, "error": None}
    if request.method == "GET":
        return render(request, "accounts/signin.html", context)

    form = await request.form()
    login = text(form, "login", 300).strip().lower()
    password = text(form, "password", 1024)
    context["values"] = {"login": login}
    throttle = throttle_of(request)
    address = client_address(request)
    browser = _known_browser(request, login)
    wait = await throttle.password_wait(login, address, browser)
    if wait:
        return too_many(request, "accounts/signin.html", context, wait)
    person = await accounts.check_password_sign_in(login, password)
    if person is None:
        await throttle.password_failed(login, address, browser)
        # The same words whether the name exists or not.
        context["error"] = _("This sign-in name and password do not match.")
        return render(request, "accounts/signin.html", context, status_code=422)
    await throttle.password_succeeded(login, browser)
    if await accounts.needs_second_factor(person):
        # The browser becomes known only once the code is right too.
        return await signed_in_response(
            request, person, str(request.url_for("signin.code")), pending=True
        )
    response = await signed_in_response(request, person, home_for(person))
    return _remember_browser(request, response, person)


async def signin_code(request: Request) -> Response:
    """Second step for staff who gave their password: the code from their app."""
    session = await current_session(request)
    if session is None or not session.second_factor_pending:
        return RedirectResponse(request.url_for("signin"), status_code=303)
    context: dict[str, Any] = {"error": None}
    if request.method == "GET":
        return render(request, "accounts/code.html", context)
    form = await request.form()
    person = session.person
    throttle = throttle_of(request)
    account = str(person.id)
    wait = await throttle.code_wait(account, client_address(request))
    if wait:
        return too_many(request, "accounts/code.html", context, wait)
    if not await accounts.check_totp(person, text(form, "code", 20)):
        await throttle.code_failed(account)
        context["error"] = _("This code is not right. Check the time on your phone and try again.")
        return render(request, "accounts/code.html", context, status_code=422)
    await throttle.code_succeeded(account)
    response = await signed_in_response(request, person, home_for(person))
    return _remember_browser(request, response, person)


async def signin_passkey_options(request: Request) -> Response:
    options = await passkeys.authentication_options(relying_party(request), browser_id(request))
    return Response(options, media_type="application/json")


async def signin_passkey(request: Request) -> Response:
    throttle = throttle_of(request)
    address = client_address(request)
    # Its own failures and the address's pace only: wrong passwords never refuse a passkey.
    wait = await throttle.passkey_wait(address)
    if wait:
        return JSONResponse(
            {"error": wait_message(wait)}, status_code=429, headers={"Retry-After": str(wait)}
        )
    credential = await read_credential(request)
    try:
        person = await passkeys.verify_authentication(
            relying_party(request), browser_id(request), credential
        )
    except passkeys.PasskeyError:
        await throttle.passkey_failed(address)
        return JSONResponse(
            {"error": _("This passkey did not work here. Try again, or use another way in.")},
            status_code=422,
        )
    target = home_for(person)
    response = await signed_in_response(request, person, target)
    return json_redirect(target, _remember_browser(request, response, person))


async def signin_recovery(request: Request) -> Response:
    context: dict[str, Any] = {"error": None}
    if request.method == "GET":
        return render(request, "accounts/recovery.html", context)
    form = await request.form()
    throttle = throttle_of(request)
    address = client_address(request)
    wait = await throttle.recovery_wait(address)
    if wait:
        return too_many(request, "accounts/recovery.html", context, wait)
    person = await accounts.use_recovery_code(text(form, "code", 40))
    if person is None:
        await throttle.recovery_failed(address)
        context["error"] = _("This code does not work. Each code works only once.")
        return render(request, "accounts/recovery.html", context, status_code=422)
    return await signed_in_response(request, person, "/compte?secours=1")


async def _end_here(request: Request, response: Response) -> Response:
    session = await current_session(request)
    if session is not None:
        await end_session(session)
    # What was being typed on this phone goes too (the request form, a message, a step, coming
    # back): nothing of it waits for whoever comes next.
    await drafts.drop_all(browser_id(request))
    clear_session_cookie(response)
    response.delete_cookie(CSRF_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response


async def signout(request: Request) -> Response:
    response = RedirectResponse(request.url_for("signed_out"), status_code=303)
    # The browser forgets the pages it kept; Back then shows nothing of the signed-in pages.
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return await _end_here(request, response)


async def quick_exit(request: Request) -> Response:
    """Quick exit: end the session on the server, then leave for the neutral site.

    With JavaScript the page leaves by itself and sends this as a beacon on the way out
    (``Sec-Fetch-Dest: empty``): its answer goes nowhere, and a redirect would have the
    browser fetch the neutral site from the page, which the CSP refuses. It gets no content.
    """
    response: Response
    if request.headers.get("sec-fetch-dest") == "empty":
        response = Response(status_code=204)
    else:
        response = RedirectResponse(request.app.state.settings.quick_exit_url, status_code=303)
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    # The language chosen here is a trace of a visit too: forgotten on the way out.
    response.delete_cookie(LANGUAGE_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return await _end_here(request, response)


def _new_account_context(request: Request, values: dict[str, str]) -> dict[str, Any]:
    for name in SUBJECT_FIELDS:
        values.setdefault(name, "")
    values["language"] = values["language"] or current_language()
    return {"values": values, "errors": {}, "suggestion": None, "status": None}


@once()
async def new_account(request: Request) -> Response:
    if await signed_in(request):
        return RedirectResponse("/compte", status_code=303)
    if request.method == "GET":
        return render(request, "accounts/new.html", _new_account_context(request, {}))
    form = await request.form()
    values = kept(form, SUBJECT_FIELDS)
    context = _new_account_context(request, values)
    way = text(form, "way", 20)
    if way == "suggest":
        context["suggestion"] = suggest_passphrase(values["language"] or current_language())
        return render(request, "accounts/new.html", context)
    throttle = throttle_of(request)
    address = client_address(request)
    wait = await throttle.sign_up_wait(address)
    if wait:
        context["errors"] = {"login": wait_message(wait)}
        response = render(request, "accounts/new.html", context, status_code=429)
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        new = accounts.check_new_subject(values["role"], values["display_name"], values["language"])
        if way != "password":
            # Only reached without JavaScript: the passkey ceremony needs the browser's help.
            raise Invalid("way", _("Passkeys need JavaScript. Choose a password instead."))
        person = await accounts.create_subject_with_password(
            new, values["login"], text(form, "password", 1024), form_key=form_key(request)
        )
    except Invalid as refusal:
        if refusal.field == "login":
            # An answer about the name ("taken"): counted, so names cannot be listed quickly.
            await throttle.sign_up_answered(address, made=False)
        context["errors"] = {refusal.field: _(refusal.message)}
        return render(request, "accounts/new.html", context, status_code=422)
    await throttle.sign_up_answered(address, made=True)
    response = await signed_in_response(request, person, "/compte/bienvenue")
    return _remember_browser(request, response, person)


async def new_account_passkey_options(request: Request) -> Response:
    form = await request.form()
    values = kept(form, SUBJECT_FIELDS)
    try:
        new = accounts.check_new_subject(values["role"], values["display_name"], values["language"])
    except Invalid as refusal:
        return JSONResponse({"field": refusal.field, "error": _(refusal.message)}, status_code=422)
    handle = accounts.new_user_handle()
    options = await passkeys.registration_options(
        relying_party(request),
        browser_id(request),
        user_handle=handle,
        pending={
            "role": new.role.value,
            "display_name": new.display_name,
            "language": new.language,
            "user_handle": handle,
        },
    )
    return Response(options, media_type="application/json")


async def new_account_passkey(request: Request) -> Response:
    throttle = throttle_of(request)
    address = client_address(request)
    wait = await throttle.sign_up_wait(address)
    if wait:
        return JSONResponse(
            {"error": wait_message(wait)}, status_code=429, headers={"Retry-After": str(wait)}
        )
    credential = await read_credential(request)
    try:
        challenge, passkey = await passkeys.verify_registration(
            relying_party(request), browser_id(request), credential
        )
        pending = challenge.pending
        if challenge.person_id is not None or not pending:
            raise passkeys.PasskeyError("not a new-account challenge")
        new = accounts.check_new_subject(
            pending["role"], pending["display_name"], pending["language"]
        )
        passkey.label = _("Passkey")
        person = await accounts.create_subject_with_passkey(new, pending["user_handle"], passkey)
    except (passkeys.PasskeyError, Invalid, KeyError):
        return JSONResponse(
            {"error": _("The passkey could not be created. Try again, or choose a password.")},
            status_code=422,
        )
    await throttle.sign_up_answered(address, made=True)
    return json_redirect(
        "/compte/bienvenue", await signed_in_response(request, person, "/compte/bienvenue")
    )


def next_page(value: str, default: str) -> str:
    """A page of one's own space or account to go on to; anything else is the default."""
    return value if NEXT_RE.fullmatch(value[:200]) else default


@require(Role.YOUTH, Role.RELATIVE)
async def welcome(request: Request) -> Response:
    """The new account's ten recovery codes, shown here once (made with the account)."""
    person = person_of(request)
    codes = await accounts.take_first_codes(person)
    return render(
        request,
        "accounts/welcome.html",
        {
            "person": person,
            "codes": codes,
            "codes_left": await accounts.unused_recovery_codes(person),
            "limited": person.scope_dossier_id is not None,
            "next": next_page(request.query_params.get("next", ""), "/compte"),
        },
    )


async def recovery_link(request: Request) -> Response:
    """A link a worker gave in person: the page first, the sign-in only on a tap (POST).

    It opens the one dossier it was given for. Staff, the worker who made it first, cannot
    use it from their own session.
    """
    token = request.path_params["token"]
    here = await signed_in(request)
    if request.method == "GET":
        link = await accounts.open_recovery_link(token, here)
        return render(
            request, "accounts/recovery_link.html", {"token": token, "person": link.person}
        )
    person = await accounts.use_recovery_link(token, here)
    return await signed_in_response(request, person, "/espace")


routes = [
    Route("/connexion", signin, methods=["GET", "POST"], name="signin"),
    Route("/connexion/code", signin_code, methods=["GET", "POST"], name="signin.code"),
    Route(
        "/connexion/passkey/options",
        signin_passkey_options,
        methods=["POST"],
        name="signin.passkey_options",
    ),
    Route("/connexion/passkey", signin_passkey, methods=["POST"], name="signin.passkey"),
    Route("/connexion/secours", signin_recovery, methods=["GET", "POST"], name="signin.recovery"),
    Route("/deconnexion", signout, methods=["POST"], name="signout"),
    Route("/sortie", quick_exit, methods=["POST"], name="quick_exit"),
    Route("/compte/nouveau", new_account, methods=["GET", "POST"], name="account.new"),
    Route(
        "/compte/nouveau/passkey/options",
        new_account_passkey_options,
        methods=["POST"],
        name="account.new_passkey_options",
    ),
    Route(
        "/compte/nouveau/passkey", new_account_passkey, methods=["POST"], name="account.new_passkey"
    ),
    Route("/compte/bienvenue", welcome, name="account.welcome"),
    Route("/secours/{token}", recovery_link, methods=["GET", "POST"], name="recovery_link"),
]
