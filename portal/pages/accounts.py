"""Signing in and out, making an account, managing one's ways in and sessions."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from portal.domain import accounts, notices
from portal.domain.errors import Invalid, NotFound
from portal.i18n import _, current_language
from portal.models import CredentialKind, LinkKind, Person, Role
from portal.pages.common import (
    as_id,
    browser_id,
    client_address,
    home_for,
    kept,
    once,
    person_of,
    require,
    session_of,
    signed_in,
    text,
)
from portal.security import passkeys
from portal.security.csrf import CSRF_COOKIE
from portal.security.known_browsers import KNOWN_BROWSER_COOKIE, known_browser, remember_browser
from portal.security.passphrases import suggest_passphrase
from portal.security.ratelimit import SignInThrottle, wait_message
from portal.security.sessions import (
    SESSION_COOKIE,
    active_sessions,
    clear_session_cookie,
    current_session,
    end_all_sessions,
    end_session,
    set_session_cookie,
    start_session,
)
from portal.templating import render

SUBJECT_FIELDS = ("role", "display_name", "language", "login")
# Where a page may send the person on after it (the recovery-link notice, the welcome page):
# a page of their own space or account on this site, nothing else.
NEXT_RE = re.compile(r"/(espace|compte)(/[A-Za-z0-9_-]+)*(\?secours=1)?")


def _rp(request: Request) -> passkeys.RelyingParty:
    settings = request.app.state.settings
    return passkeys.RelyingParty(id=settings.rp_id, name=settings.rp_name, origin=settings.origin)


def _throttle(request: Request) -> SignInThrottle:
    throttle: SignInThrottle = request.app.state.throttle
    return throttle


async def _signed_in_response(
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


def _json_redirect(target: str, response: Response | None = None) -> JSONResponse:
    if response is not None:
        # The sign-in may have chosen another first page (a recovery link to be shown).
        target = response.headers.get("location", target)
    result = JSONResponse({"redirect": target})
    if response is not None:
        for name, value in response.raw_headers:
            if name == b"set-cookie":
                result.raw_headers.append((name, value))
    return result


async def _read_credential(request: Request) -> str:
    body = await request.body()
    if len(body) > passkeys.MAX_CREDENTIAL_JSON:
        raise HTTPException(413)
    try:
        data = json.loads(body)
        credential = data["credential"]
    except (ValueError, KeyError, TypeError, RecursionError) as error:
        raise HTTPException(400) from error
    return json.dumps(credential)


# --- Sign in ----------------------------------------------------------------------------------


def _too_many(request: Request, template: str, context: dict[str, Any], seconds: int) -> Response:
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
    throttle = _throttle(request)
    address = client_address(request)
    browser = _known_browser(request, login)
    wait = await throttle.password_wait(login, address, browser)
    if wait:
        return _too_many(request, "accounts/signin.html", context, wait)
    person = await accounts.check_password_sign_in(login, password)
    if person is None:
        await throttle.password_failed(login, address, browser)
        # The same words whether the name exists or not.
        context["error"] = _("This sign-in name and password do not match.")
        return render(request, "accounts/signin.html", context, status_code=422)
    await throttle.password_succeeded(login, browser)
    if await accounts.needs_second_factor(person):
        # The browser becomes known only once the code is right too.
        return await _signed_in_response(
            request, person, str(request.url_for("signin.code")), pending=True
        )
    response = await _signed_in_response(request, person, home_for(person))
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
    throttle = _throttle(request)
    account = str(person.id)
    wait = await throttle.code_wait(account, client_address(request))
    if wait:
        return _too_many(request, "accounts/code.html", context, wait)
    if not await accounts.check_totp(person, text(form, "code", 20)):
        await throttle.code_failed(account)
        context["error"] = _("This code is not right. Check the time on your phone and try again.")
        return render(request, "accounts/code.html", context, status_code=422)
    await throttle.code_succeeded(account)
    response = await _signed_in_response(request, person, home_for(person))
    return _remember_browser(request, response, person)


async def signin_passkey_options(request: Request) -> Response:
    options = await passkeys.authentication_options(_rp(request), browser_id(request))
    return Response(options, media_type="application/json")


async def signin_passkey(request: Request) -> Response:
    throttle = _throttle(request)
    address = client_address(request)
    # Its own failures and the address's pace only: wrong passwords never refuse a passkey.
    wait = await throttle.passkey_wait(address)
    if wait:
        return JSONResponse(
            {"error": wait_message(wait)}, status_code=429, headers={"Retry-After": str(wait)}
        )
    credential = await _read_credential(request)
    try:
        person = await passkeys.verify_authentication(_rp(request), browser_id(request), credential)
    except passkeys.PasskeyError:
        await throttle.passkey_failed(address)
        return JSONResponse(
            {"error": _("This passkey did not work here. Try again, or use another way in.")},
            status_code=422,
        )
    target = home_for(person)
    response = await _signed_in_response(request, person, target)
    return _json_redirect(target, _remember_browser(request, response, person))


async def signin_recovery(request: Request) -> Response:
    context: dict[str, Any] = {"error": None}
    if request.method == "GET":
        return render(request, "accounts/recovery.html", context)
    form = await request.form()
    throttle = _throttle(request)
    address = client_address(request)
    wait = await throttle.recovery_wait(address)
    if wait:
        return _too_many(request, "accounts/recovery.html", context, wait)
    person = await accounts.use_recovery_code(text(form, "code", 40))
    if person is None:
        await throttle.recovery_failed(address)
        context["error"] = _("This code does not work. Each code works only once.")
        return render(request, "accounts/recovery.html", context, status_code=422)
    return await _signed_in_response(request, person, "/compte?secours=1")


# --- Sign out, quick exit -----------------------------------------------------------------------


async def _end_here(request: Request, response: Response) -> Response:
    session = await current_session(request)
    if session is not None:
        await end_session(session)
    clear_session_cookie(response)
    response.delete_cookie(CSRF_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response


async def signout(request: Request) -> Response:
    response = RedirectResponse("/", status_code=303)
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
    return await _end_here(request, response)


# --- New account (subjects) -------------------------------------------------------------------


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
    throttle = _throttle(request)
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
            new, values["login"], text(form, "password", 1024)
        )
    except Invalid as refusal:
        if refusal.field == "login":
            # An answer about the name ("taken"): counted, so names cannot be listed quickly.
            await throttle.sign_up_answered(address, made=False)
        context["errors"] = {refusal.field: _(refusal.message)}
        return render(request, "accounts/new.html", context, status_code=422)
    await throttle.sign_up_answered(address, made=True)
    response = await _signed_in_response(request, person, "/compte/bienvenue")
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
        _rp(request),
        browser_id(request),
        user_handle=handle,
        user_name=new.display_name,
        pending={
            "role": new.role.value,
            "display_name": new.display_name,
            "language": new.language,
            "user_handle": handle,
        },
    )
    return Response(options, media_type="application/json")


async def new_account_passkey(request: Request) -> Response:
    throttle = _throttle(request)
    address = client_address(request)
    wait = await throttle.sign_up_wait(address)
    if wait:
        return JSONResponse(
            {"error": wait_message(wait)}, status_code=429, headers={"Retry-After": str(wait)}
        )
    credential = await _read_credential(request)
    try:
        challenge, passkey = await passkeys.verify_registration(
            _rp(request), browser_id(request), credential
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
    return _json_redirect(
        "/compte/bienvenue", await _signed_in_response(request, person, "/compte/bienvenue")
    )


def _next_page(value: str, default: str) -> str:
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
            "next": _next_page(request.query_params.get("next", ""), "/compte"),
        },
    )


def _limited(request: Request) -> Response:
    """The kind refusal of an account-wide change in a session opened by a recovery link."""
    return render(request, "accounts/limited.html", {}, status_code=403)


@require(Role.YOUTH, Role.RELATIVE)
async def recovery_notice(request: Request) -> Response:
    """First thing after signing in: the recovery links made for this account, and by whom."""
    person = person_of(request)
    if request.method == "GET":
        target = _next_page(request.query_params.get("next", ""), "/espace")
        links = await accounts.recovery_links_to_show(person)
        if not links:
            return RedirectResponse(target, status_code=303)
        return render(
            request,
            "accounts/recovery_notice.html",
            {
                "links": links,
                "up_to": max(link.id for link in links),
                "next": target,
                "limited": person.scope_dossier_id is not None,
            },
        )
    form = await request.form()
    target = _next_page(text(form, "next", 200), "/espace")
    # The last link the page showed: a link made since is shown next time. Anything else
    # than a plain number marks nothing.
    up_to = as_id(text(form, "up_to", 12)) or 0
    if person.scope_dossier_id is None:
        # Seen by the owner. In a session opened by a link, the notice stays for her.
        await accounts.mark_recovery_links_shown(person, up_to)
    return RedirectResponse(target, status_code=303)


# --- The account page ---------------------------------------------------------------------------


async def _account_context(request: Request, person: Person) -> dict[str, Any]:
    credentials = await accounts.ways_in(person)
    session = session_of(request)
    sessions = await active_sessions(person.id)
    passkeys = [c for c in credentials if c.kind is CredentialKind.PASSKEY]
    if person.scope_dossier_id is not None:
        # A session opened by a recovery link (whose holder may be the worker): where and when
        # she signs in, and her own passkeys, are her account's, not the dossier's.
        sessions = [s for s in sessions if s.scope_dossier_id == person.scope_dossier_id]
        passkeys = [c for c in passkeys if c.scope_dossier_id == person.scope_dossier_id]
    return {
        "person": person,
        "passkeys": passkeys,
        "has_password": any(c.kind is CredentialKind.PASSWORD for c in credentials),
        "has_totp": any(c.kind is CredentialKind.TOTP for c in credentials),
        "codes_left": await accounts.unused_recovery_codes(person),
        "sessions": sessions,
        "this_session": session.id,
        "errors": {},
        "values": {
            "display_name": person.display_name,
            "language": person.language,
            "login": "",
            "email": person.email,
        },
        "notice": None,
        "recovered": request.query_params.get("secours") == "1",
        "limited": person.scope_dossier_id is not None,
    }


@require()
async def account(request: Request) -> Response:
    person = person_of(request)
    return render(request, "accounts/account.html", await _account_context(request, person))


async def _account_refusal(
    request: Request, refusal: Invalid, values: dict[str, str] | None = None
) -> Response:
    person = person_of(request)
    context = await _account_context(request, person)
    context["errors"] = {refusal.field: _(refusal.message)}
    if values:
        context["values"].update(values)
    return render(request, "accounts/account.html", context, status_code=422)


@require()
async def account_profile(request: Request) -> Response:
    person = person_of(request)
    form = await request.form()
    values = kept(form, ("display_name", "language"))
    try:
        await accounts.update_profile(person, values["display_name"], values["language"])
    except accounts.LimitedSession:
        return _limited(request)
    except Invalid as refusal:
        return await _account_refusal(request, refusal, values)
    response = RedirectResponse("/compte", status_code=303)
    response.set_cookie(
        "lang", person.language, max_age=365 * 24 * 3600, secure=True, httponly=True, samesite="lax"
    )
    return response


@require()
@once()
async def account_password(request: Request) -> Response:
    person = person_of(request)
    form = await request.form()
    try:
        if person.login is None:
            values = kept(form, ("login",))
            await accounts.set_login_and_password(
                person, values["login"], text(form, "new_password", 1024)
            )
        else:
            await accounts.change_password(
                person, text(form, "current", 1024), text(form, "new_password", 1024)
            )
    except accounts.LimitedSession:
        return _limited(request)
    except Invalid as refusal:
        return await _account_refusal(request, refusal, kept(form, ("login",)))
    return RedirectResponse("/compte", status_code=303)


@require(Role.YOUTH, Role.RELATIVE)
async def account_codes(request: Request) -> Response:
    """Make new recovery codes (the old ones stop working) and show them, once."""
    person = person_of(request)
    try:
        codes = await accounts.regenerate_recovery_codes(person)
    except accounts.LimitedSession:
        return _limited(request)
    return render(request, "accounts/codes.html", {"codes": codes})


@require()
async def account_passkey_options(request: Request) -> Response:
    person = person_of(request)
    if person.user_handle is None:
        raise HTTPException(400)
    options = await passkeys.registration_options(
        _rp(request),
        browser_id(request),
        user_handle=person.user_handle,
        user_name=person.login or person.display_name,
        person=person,
    )
    return Response(options, media_type="application/json")


@require()
async def account_passkey(request: Request) -> Response:
    person = person_of(request)
    credential = await _read_credential(request)
    try:
        challenge, passkey = await passkeys.verify_registration(
            _rp(request), browser_id(request), credential
        )
        if challenge.person_id != person.id:
            raise passkeys.PasskeyError("challenge of someone else")
        passkey.label = _("Passkey")
        await accounts.add_passkey(person, passkey)
    except (passkeys.PasskeyError, Invalid):
        return JSONResponse(
            {"error": _("The passkey could not be added. Try again.")}, status_code=422
        )
    return JSONResponse({"redirect": "/compte"})


@require()
@once()
async def account_passkey_remove(request: Request) -> Response:
    person = person_of(request)
    try:
        credential_id = int(request.path_params["credential_id"])
        await accounts.remove_passkey(person, credential_id)
    except accounts.LimitedSession:
        return _limited(request)
    except (ValueError, NotFound) as error:
        raise HTTPException(404) from error
    except Invalid as refusal:
        return await _account_refusal(request, refusal)
    return RedirectResponse("/compte", status_code=303)


@require()
async def account_notices(request: Request) -> Response:
    """An optional address for neutral e-mails: only if the person gives one and wants them."""
    person = person_of(request)
    form = await request.form()
    email = text(form, "email", 300)
    try:
        # An address for notices would tell its owner of every dossier's news.
        accounts.require_whole_account(person)
        await notices.set_email_notices(person, email, bool(form.get("notify")))
    except accounts.LimitedSession:
        return _limited(request)
    except Invalid as refusal:
        return await _account_refusal(request, refusal, {"email": email})
    return RedirectResponse("/compte", status_code=303)


@require()
async def account_signout_everywhere(request: Request) -> Response:
    person = person_of(request)
    await end_all_sessions(person.id, person.scope_dossier_id)
    response = RedirectResponse("/", status_code=303)
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    clear_session_cookie(response)
    return response


# --- Staff invitations and recovery links ------------------------------------------------------


def _sign_out_first(request: Request) -> Response:
    """An invitation opened where someone is signed in: nothing of it is shown."""
    return render(request, "accounts/invitation.html", {"signed_in": True}, status_code=403)


async def _open_invitation(request: Request) -> Person:
    try:
        return await accounts.open_invitation(
            request.path_params["token"], await _anyone_here(request)
        )
    except NotFound as error:
        raise HTTPException(404) from error


async def _anyone_here(request: Request) -> Person | None:
    """Whoever holds a session in this browser, second factor given or not."""
    session = await current_session(request)
    return session.person if session is not None else None


async def invitation_again(request: Request, outcome: str) -> Response:
    """The password form sent twice: the app secret of the first answer, not a second one."""
    from portal.models import Credential

    token = request.path_params["token"]
    try:
        person = await _open_invitation(request)
    except accounts.SignedInElsewhere:
        return _sign_out_first(request)
    totp = await Credential.get(person_id=person.id, kind=CredentialKind.TOTP)
    return _totp_step(request, person, token, totp.secret, {})


@once(again=invitation_again)
async def invitation(request: Request) -> Response:
    token = request.path_params["token"]
    try:
        person = await _open_invitation(request)
    except accounts.SignedInElsewhere:
        return _sign_out_first(request)
    context: dict[str, Any] = {
        "signed_in": False,
        "person": person,
        "token": token,
        "errors": {},
    }
    if request.method == "GET":
        return render(request, "accounts/invitation.html", context)
    form = await request.form()
    try:
        person, secret = await accounts.accept_invitation_with_password(
            token, text(form, "password", 1024), await _anyone_here(request)
        )
    except Invalid as refusal:
        context["errors"] = {refusal.field: _(refusal.message)}
        return render(request, "accounts/invitation.html", context, status_code=422)
    request.state.outcome = "totp"
    return _totp_step(request, person, token, secret, {})


def _totp_step(
    request: Request,
    person: Person,
    token: str,
    secret: str,
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    import segno

    uri = accounts.totp_uri(person, secret, request.app.state.settings.rp_name)
    qr = segno.make(uri, error="m")
    svg = qr.svg_inline(scale=4, dark="#1b1f23", light="#ffffff", title=_("QR code to scan"))
    spaced = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render(
        request,
        "accounts/totp.html",
        {"person": person, "token": token, "secret": spaced, "qr_svg": svg, "errors": errors},
        status_code=status_code,
    )


async def invitation_code(request: Request) -> Response:
    token = request.path_params["token"]
    form = await request.form()
    try:
        person = await accounts.confirm_invitation_totp(
            token, text(form, "code", 20), await _anyone_here(request)
        )
    except NotFound as error:
        raise HTTPException(404) from error
    except accounts.SignedInElsewhere:
        return _sign_out_first(request)
    except Invalid as refusal:
        from portal.models import Credential

        person = await _open_invitation(request)
        totp = await Credential.filter(person_id=person.id, kind=CredentialKind.TOTP).first()
        if totp is None:
            raise HTTPException(404) from refusal
        return _totp_step(
            request,
            person,
            token,
            totp.secret,
            {refusal.field: _(refusal.message)},
            status_code=422,
        )
    return await _signed_in_response(request, person, home_for(person))


async def invitation_passkey_options(request: Request) -> Response:
    try:
        person = await _open_invitation(request)
    except accounts.SignedInElsewhere as error:
        raise HTTPException(403) from error
    if person.user_handle is None:
        raise HTTPException(404)
    options = await passkeys.registration_options(
        _rp(request),
        browser_id(request),
        user_handle=person.user_handle,
        user_name=person.login or person.display_name,
        person=person,
    )
    return Response(options, media_type="application/json")


async def invitation_passkey(request: Request) -> Response:
    token = request.path_params["token"]
    credential = await _read_credential(request)
    try:
        person = await _open_invitation(request)
        challenge, passkey = await passkeys.verify_registration(
            _rp(request), browser_id(request), credential
        )
        if challenge.person_id != person.id:
            raise passkeys.PasskeyError("challenge of someone else")
        passkey.label = _("Passkey")
        person = await accounts.accept_invitation_with_passkey(
            token, passkey, await _anyone_here(request)
        )
    except NotFound as error:
        raise HTTPException(404) from error
    except accounts.SignedInElsewhere as error:
        raise HTTPException(403) from error
    except (passkeys.PasskeyError, Invalid):
        return JSONResponse(
            {"error": _("The passkey could not be created. Try again.")}, status_code=422
        )
    target = home_for(person)
    return _json_redirect(target, await _signed_in_response(request, person, target))


async def recovery_link(request: Request) -> Response:
    """A link a worker gave in person: the page first, the sign-in only on a tap (POST).

    It opens the one dossier it was given for. Staff, the worker who made it first, cannot
    use it from their own session.
    """
    signed = await signed_in(request)
    if signed is not None and signed.is_staff:
        raise HTTPException(404)
    token = request.path_params["token"]
    try:
        link = await accounts.find_link(token, LinkKind.RECOVERY)
    except NotFound as error:
        raise HTTPException(404) from error
    if request.method == "GET":
        return render(
            request, "accounts/recovery_link.html", {"token": token, "person": link.person}
        )
    try:
        person = await accounts.use_recovery_link(token)
    except NotFound as error:
        raise HTTPException(404) from error
    return await _signed_in_response(request, person, "/espace")


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
    Route(
        "/compte/liens-de-secours",
        recovery_notice,
        methods=["GET", "POST"],
        name="account.recovery_notice",
    ),
    Route("/compte", account, name="account"),
    Route("/compte/profil", account_profile, methods=["POST"], name="account.profile"),
    Route("/compte/mot-de-passe", account_password, methods=["POST"], name="account.password"),
    Route("/compte/codes", account_codes, methods=["POST"], name="account.codes"),
    Route(
        "/compte/passkeys/options",
        account_passkey_options,
        methods=["POST"],
        name="account.passkey_options",
    ),
    Route("/compte/passkeys", account_passkey, methods=["POST"], name="account.passkey"),
    Route(
        "/compte/passkeys/{credential_id}/supprimer",
        account_passkey_remove,
        methods=["POST"],
        name="account.passkey_remove",
    ),
    Route("/compte/avis", account_notices, methods=["POST"], name="account.notices"),
    Route(
        "/compte/sessions/fin",
        account_signout_everywhere,
        methods=["POST"],
        name="account.signout_everywhere",
    ),
    Route("/invitation/{token}", invitation, methods=["GET", "POST"], name="invitation"),
    Route("/invitation/{token}/code", invitation_code, methods=["POST"], name="invitation.code"),
    Route(
        "/invitation/{token}/passkey/options",
        invitation_passkey_options,
        methods=["POST"],
        name="invitation.passkey_options",
    ),
    Route(
        "/invitation/{token}/passkey",
        invitation_passkey,
        methods=["POST"],
        name="invitation.passkey",
    ),
    Route("/secours/{token}", recovery_link, methods=["GET", "POST"], name="recovery_link"),
]

__all__ = ["SESSION_COOKIE", "routes"]
