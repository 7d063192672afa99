"""Staff arrive by invitation: the link sent to their work address makes their account."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portal.domain import accounts
from portal.domain.errors import Invalid
from portal.i18n import _
from portal.models import Credential, CredentialKind, Person
from portal.pages.common import (
    browser_id,
    form_key,
    home_for,
    once,
    text,
)
from portal.pages.signin import json_redirect, read_credential, relying_party, signed_in_response
from portal.security import passkeys
from portal.security.sessions import (
    current_session,
)
from portal.templating import render


async def sign_out_first(request: Request, exc: Exception) -> Response:
    """An invitation opened where someone is signed in: nothing of it is shown, at any step
    (``SignedInElsewhere``, wherever it is raised)."""
    return render(request, "accounts/invitation.html", {"signed_in": True}, status_code=403)


async def _open_invitation(request: Request) -> Person:
    return await accounts.open_invitation(request.path_params["token"], await _anyone_here(request))


async def _anyone_here(request: Request) -> Person | None:
    """Whoever holds a session in this browser, second factor given or not."""
    session = await current_session(request)
    return session.person if session is not None else None


async def invitation_again(request: Request, outcome: str) -> Response:
    """The password form sent twice: the app secret of the first answer, not a second one."""
    token = request.path_params["token"]
    person = await _open_invitation(request)
    totp = await Credential.get(person_id=person.id, kind=CredentialKind.TOTP)
    return _totp_step(request, person, token, totp.secret, {})


@once(again=invitation_again)
async def invitation(request: Request) -> Response:
    token = request.path_params["token"]
    person = await _open_invitation(request)
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
            token,
            text(form, "password", 1024),
            await _anyone_here(request),
            form_key=form_key(request),
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
    except Invalid as refusal:
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
    return await signed_in_response(request, person, home_for(person))


async def invitation_passkey_options(request: Request) -> Response:
    person = await _open_invitation(request)
    if person.user_handle is None:
        raise HTTPException(404)
    options = await passkeys.registration_options(
        relying_party(request),
        browser_id(request),
        user_handle=person.user_handle,
        user_name=person.login or person.display_name,
        person=person,
    )
    return Response(options, media_type="application/json")


async def invitation_passkey(request: Request) -> Response:
    token = request.path_params["token"]
    credential = await read_credential(request)
    try:
        person = await _open_invitation(request)
        challenge, passkey = await passkeys.verify_registration(
            relying_party(request), browser_id(request), credential
        )
        if challenge.person_id != person.id:
            raise passkeys.PasskeyError("challenge of someone else")
        passkey.label = _("Passkey")
        person = await accounts.accept_invitation_with_passkey(
            token, passkey, await _anyone_here(request)
        )
    except (passkeys.PasskeyError, Invalid):
        return JSONResponse(
            {"error": _("The passkey could not be created. Try again.")}, status_code=422
        )
    target = home_for(person)
    return json_redirect(target, await signed_in_response(request, person, target))


routes = [
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
]
