"""One's own account: profile, password, recovery codes, passkeys, notices, sessions."""

from __future__ import annotations

import contextlib
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from portal.domain import account_deletion, accounts, dossiers, notices, push
from portal.domain.errors import Invalid
from portal.i18n import _
from portal.models import CredentialKind, DossierStatus, Person, Role
from portal.pages.common import (
    as_id,
    browser_id,
    form_key,
    kept,
    once,
    path_id,
    person_of,
    require,
    session_of,
    text,
)
from portal.pages.signin import next_page, read_credential, relying_party
from portal.security import passkeys
from portal.security.csrf import CSRF_COOKIE
from portal.security.known_browsers import KNOWN_BROWSER_COOKIE
from portal.security.sessions import (
    active_sessions,
    clear_session_cookie,
    end_all_sessions,
)
from portal.templating import render


async def limited(request: Request, exc: Exception) -> Response:
    """The kind refusal of an account-wide change in a session opened by a recovery link
    (``LimitedSession``, wherever it is raised)."""
    return render(request, "accounts/limited.html", {}, status_code=403)


@require(Role.YOUTH, Role.RELATIVE)
async def recovery_notice(request: Request) -> Response:
    """First thing after signing in: the recovery links made for this account, and by whom."""
    person = person_of(request)
    if request.method == "GET":
        target = next_page(request.query_params.get("next", ""), "/espace")
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
    target = next_page(text(form, "next", 200), "/espace")
    # The last link the page showed: a link made since is shown next time. Anything else
    # than a plain number marks nothing.
    up_to = as_id(text(form, "up_to", 12)) or 0
    # Seen through a recovery link, the notice stays for the owner.
    with contextlib.suppress(accounts.LimitedSession):
        await accounts.mark_recovery_links_shown(person, up_to)
    return RedirectResponse(target, status_code=303)


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
        # Web Push: the key browsers subscribe with, for the people the notices tell.
        "push_key": push.public_key(request.app.state.settings) if push.may_be_told(person) else "",
        "push_devices": await push.devices(person),
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
                person,
                values["login"],
                text(form, "new_password", 1024),
                form_key=form_key(request),
            )
        else:
            await accounts.change_password(
                person,
                text(form, "current", 1024),
                text(form, "new_password", 1024),
                form_key=form_key(request),
            )
    except Invalid as refusal:
        return await _account_refusal(request, refusal, kept(form, ("login",)))
    return RedirectResponse("/compte", status_code=303)


@require(Role.YOUTH, Role.RELATIVE)
async def account_codes(request: Request) -> Response:
    """Make new recovery codes (the old ones stop working) and show them, once."""
    codes = await accounts.regenerate_recovery_codes(person_of(request))
    return render(request, "accounts/codes.html", {"codes": codes})


@require()
async def account_passkey_options(request: Request) -> Response:
    person = person_of(request)
    if person.user_handle is None:
        raise HTTPException(400)
    options = await passkeys.registration_options(
        relying_party(request),
        browser_id(request),
        user_handle=person.user_handle,
        # A young person's or a parent's passkey is made under a neutral name.
        user_name=None if person.is_subject else person.login or person.display_name,
        person=person,
    )
    return Response(options, media_type="application/json")


@require()
async def account_passkey(request: Request) -> Response:
    person = person_of(request)
    credential = await read_credential(request)
    try:
        challenge, passkey = await passkeys.verify_registration(
            relying_party(request), browser_id(request), credential
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
        await accounts.remove_passkey(
            person, path_id(request, "credential_id"), form_key=form_key(request)
        )
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
    except Invalid as refusal:
        return await _account_refusal(request, refusal, {"email": email})
    return RedirectResponse("/compte", status_code=303)


@require()
async def account_signout_everywhere(request: Request) -> Response:
    person = person_of(request)
    await end_all_sessions(person.id, person.scope_dossier_id)
    # A lost phone, a doubt: no device of hers is told anything more either.
    await push.forget_devices(person.id)
    response = RedirectResponse("/", status_code=303)
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    clear_session_cookie(response)
    return response


# --- Deleting one's account ------------------------------------------------------------------


async def _deletion_context(person: Person, **extra: Any) -> dict[str, Any]:
    mine = await dossiers.subject_dossiers(person)
    context: dict[str, Any] = {
        "person": person,
        "still_open": await account_deletion.open_dossiers(person),
        # Ended and not yet erased: erased with the account, to download first if she wants.
        "ended": [d for d in mine if d.status is DossierStatus.ENDED],
        "errors": {},
    }
    context.update(extra)
    return context


@require(Role.YOUTH, Role.RELATIVE)
@once()
async def account_delete(request: Request) -> Response:
    """One confirmation (a box to tick), then the whole account is gone and the browser with
    it signed out, as signing out does. Refused, kindly, while something is still open."""
    person = person_of(request)
    account_deletion.check_may_delete(person)
    if request.method == "GET":
        return render(request, "accounts/delete.html", await _deletion_context(person))
    form = await request.form()
    if form.get("understood") != "yes":
        errors = {"understood": _("Tick the box to say you understand: it is for good.")}
        context = await _deletion_context(person, errors=errors)
        return render(request, "accounts/delete.html", context, status_code=422)
    try:
        await account_deletion.delete_account(person, form_key=form_key(request))
    except account_deletion.SomethingOpen:
        context = await _deletion_context(person)
        return render(request, "accounts/delete.html", context, status_code=409)
    response = RedirectResponse("/compte/supprime", status_code=303)
    # As signing out: the browser forgets the pages it kept and every cookie of the account.
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    clear_session_cookie(response)
    for cookie in (CSRF_COOKIE, KNOWN_BROWSER_COOKIE):
        response.delete_cookie(cookie, path="/", secure=True, httponly=True, samesite="lax")
    return response


async def account_deleted(request: Request) -> Response:
    """Said once the account is gone, to whoever is here (nobody is signed in any more)."""
    return render(request, "accounts/deleted.html", {})


routes = [
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
    Route("/compte/supprimer", account_delete, methods=["GET", "POST"], name="account.delete"),
    Route("/compte/supprime", account_deleted, name="account.deleted"),
    Route(
        "/compte/sessions/fin",
        account_signout_everywhere,
        methods=["POST"],
        name="account.signout_everywhere",
    ),
]
