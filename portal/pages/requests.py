"""Asking for help: a few short steps that work without JavaScript and keep what was typed.

No request is stored until the last step: earlier answers travel in the form itself. What was
typed is also kept as a sealed draft for this browser (``rules.save_draft``), so a reload, or a
phone restoring its tab, comes back to the same step with every word; each step ends in a
redirect to ``/demande`` itself, so the address never changes and a reload never resends a form.
Someone who is not eligible leaves no trace: their draft is dropped.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from tortoise import timezone

from portal import clock
from portal.domain import accounts, workdays
from portal.domain import requests as rules
from portal.domain.errors import Invalid
from portal.i18n import _, current_language, ngettext
from portal.models import Asker, Person, Role, Service, Theme
from portal.pages.common import (
    as_id,
    browser_id,
    client_address,
    form_key,
    once,
    own_dossier,
    person_of,
    require,
    signed_in,
    text,
)
from portal.pages.signin import (
    json_redirect,
    read_credential,
    relying_party,
    signed_in_response,
    throttle_of,
)
from portal.security import passkeys
from portal.security.ratelimit import wait_message
from portal.templating import render

STEPS = ("who", "service", "about", "contact", "account")
FIELDS = (
    "asker",
    "birth_month",
    "birth_year",
    "service",
    "commune",
    "words",
    "contact_channel",
    "contact_details",
    "contact_hours",
    "display_name",
    "language",
    "login",
)
FLAGS = ("no_voicemail", "others_read_messages", "urgent")


def _values(form: FormData | None) -> dict[str, Any]:
    values: dict[str, Any] = {name: text(form, name, 5000) if form else "" for name in FIELDS}
    values["themes"] = [str(t)[:30] for t in form.getlist("themes")][:20] if form else []
    for flag in FLAGS:
        values[flag] = bool(form and form.get(flag))
    if not values["language"]:
        values["language"] = current_language()
    return values


def _restored(draft: dict[str, Any], values: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A draft read back: only the form's own fields, as strings, and the step it was at."""
    for name in FIELDS:
        if isinstance(draft.get(name), str):
            values[name] = draft[name][:5000]
    themes = draft.get("themes")
    if isinstance(themes, list):
        values["themes"] = [str(t)[:30] for t in themes][:20]
    for flag in FLAGS:
        values[flag] = draft.get(flag) is True
    step = draft.get("step")
    return values, step if isinstance(step, str) else "who"


async def _keep(
    request: Request, values: dict[str, Any], step: str, only_at: str | None = None
) -> None:
    await rules.save_draft(browser_id(request), {**values, "step": step}, only_at=only_at)


def _again(request: Request) -> Response:
    """After a step: back to the form's own address, which shows the step the draft is at."""
    return RedirectResponse(request.url_for("request").path, status_code=303)


async def _services() -> list[Service]:
    return await Service.all().order_by("name")


def _steps_for(services: list[Service]) -> list[str]:
    # One service on this installation: nothing to choose.
    return [s for s in STEPS if s != "service" or len(services) > 1]


async def _check_step(
    step: str, values: dict[str, Any], services: list[Service], person: Person | None
) -> None:
    """Validate one step; raise Invalid with the field and a kind message."""
    if step == "who":
        rules.check_who(
            values["asker"],
            values["birth_month"],
            values["birth_year"],
            timezone.now().date(),
            person,
        )
    elif step == "service":
        if not any(str(s.id) == values["service"] for s in services):
            raise Invalid("service", _("Choose the service you want to ask."))
    elif step == "about":
        rules.parse_themes(values["themes"])
        rules.check_words(values["words"])
    elif step == "contact":
        rules.check_contact(
            values["contact_channel"], values["contact_details"], values["contact_hours"]
        )


def _context(
    values: dict[str, Any],
    step: str,
    steps: list[str],
    services: list[Service],
    person: Person | None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    commune = values["commune"].strip().lower()
    shown = [s for s in services if not commune or any(commune in c.lower() for c in s.communes)]
    return {
        "values": values,
        "step": step,
        "steps": steps,
        "number": steps.index(step) + 1,
        "services": shown,
        "all_services": services,
        "themes": list(Theme),
        "errors": errors or {},
        "person": person,
        "max_words": rules.MAX_WORDS,
        "years": range(timezone.now().year, timezone.now().year - 23, -1),
        "suggestion": None,
    }


@once()
async def ask(request: Request) -> Response:
    person = await signed_in(request)
    try:
        rules.may_ask(person)
    except rules.NotASubject:
        return render(request, "requests/staff.html", {}, status_code=403)
    services = await _services()
    if not services:
        # No service set up yet: say so kindly, keep nothing, point to who answers now.
        return render(request, "requests/closed.html")
    steps = _steps_for(services)
    if request.method == "GET":
        values = _values(None)
        if person is not None and person.birth_year and person.role is Role.YOUTH:
            values.update(
                asker="youth",
                birth_month=str(person.birth_month or ""),
                birth_year=str(person.birth_year),
            )
        step = "who"
        draft = await rules.load_draft(browser_id(request))
        if draft is not None:
            values, step = _restored(draft, values)
            if step not in steps:
                step = "who"
        if len(services) == 1:
            values["service"] = str(services[0].id)
        return render(
            request,
            "requests/form.html",
            _context(values, step, steps, services, person),
            block="step",
        )

    form = await request.form()
    values = _values(form)
    if len(services) == 1:
        values["service"] = str(services[0].id)
    step = text(form, "step", 20)
    if step not in steps:
        step = "who"
    index = steps.index(step)
    go = text(form, "go", 20)

    if go == "back":
        await _keep(request, values, steps[max(0, index - 1)])
        return _again(request)
    if go == "filter":
        await _keep(request, values, step)
        return _again(request)
    if go == "change":
        # Back from "the AMO cannot take this request": the answers come back, nothing kept.
        return render(
            request,
            "requests/form.html",
            _context(values, "who", steps, services, person),
            block="step",
        )
    if go == "suggest":
        from portal.security.passphrases import suggest_passphrase

        context = _context(values, step, steps, services, person)
        context["suggestion"] = suggest_passphrase(values["language"])
        return render(request, "requests/form.html", context, block="step")

    # Every step up to this one is checked again: hidden fields can be forged.
    for name in steps[: index + 1]:
        try:
            await _check_step(name, values, services, person)
        except rules.NotEligible:
            await rules.drop_draft(browser_id(request))
            return render(
                request,
                "requests/not_eligible.html",
                {"asker": values["asker"], "values": values, "fields": FIELDS, "flags": FLAGS},
            )
        except Invalid as refusal:
            # A refusal changes nothing, the draft neither: the page itself keeps the input.
            return render(
                request,
                "requests/form.html",
                _context(
                    values, name, steps, services, person, {refusal.field: _(refusal.message)}
                ),
                status_code=422,
                block="step",
            )
    if step != "account":
        await _keep(request, values, steps[index + 1])
        return _again(request)

    # The last step: send, making the account on the way if needed.
    throttle = throttle_of(request)
    address = client_address(request)
    if person is None:
        wait = await throttle.sign_up_wait(address)
        if wait:
            errors = {"login": wait_message(wait)}
            response = render(
                request,
                "requests/form.html",
                _context(values, "account", steps, services, person, errors),
                status_code=429,
                block="step",
            )
            response.headers["Retry-After"] = str(wait)
            return response
    try:
        request_form, own_birth = _form_of(values)
        if person is None:
            if go != "password":
                raise Invalid("way", _("Passkeys need JavaScript. Choose a password instead."))
            new = _new_subject(values)
            password = text(form, "password", 1024)
            dossier, person = await rules.ask_with_new_account(
                partial(accounts.create_subject_with_password, new, values["login"], password),
                as_id(values["service"]),
                request_form,
                own_birth=own_birth,
                form_key=form_key(request),
            )
            await throttle.sign_up_answered(address, made=True)
            await rules.drop_draft(browser_id(request))
            target = f"/espace/{dossier.reference}/envoye"
            return await signed_in_response(request, person, target)
        dossier = await rules.ask(
            person,
            as_id(values["service"]),
            request_form,
            own_birth=own_birth,
            form_key=form_key(request),
        )
    except Invalid as refusal:
        if person is None and refusal.field == "login":
            # An answer about the name ("taken"): counted, so names cannot be listed quickly.
            await throttle.sign_up_answered(address, made=False)
        return render(
            request,
            "requests/form.html",
            _context(
                values, "account", steps, services, person, {refusal.field: _(refusal.message)}
            ),
            status_code=422,
            block="step",
        )
    await rules.drop_draft(browser_id(request))
    return RedirectResponse(f"/espace/{dossier.reference}/envoye", status_code=303)


def _form_of(values: dict[str, Any]) -> tuple[rules.RequestForm, tuple[int, int] | None]:
    """The request as the domain takes it, and a young person's own (year, month) of birth."""
    asker = Asker(values["asker"])
    channel, details, hours = rules.check_contact(
        values["contact_channel"], values["contact_details"], values["contact_hours"]
    )
    month = int(values["birth_month"])
    year = int(values["birth_year"])
    form = rules.RequestForm(
        asker=asker,
        themes=rules.parse_themes(values["themes"]),
        words=rules.check_words(values["words"]),
        contact_channel=channel,
        contact_details=details,
        contact_hours=hours,
        no_voicemail=values["no_voicemail"],
        others_read_messages=values["others_read_messages"],
        urgent=values["urgent"],
        concerned_birth_year=year if asker is Asker.RELATIVE else None,
        concerned_birth_month=month if asker is Asker.RELATIVE else None,
    )
    return form, (year, month) if asker is Asker.YOUTH else None


def _new_subject(values: dict[str, Any]) -> accounts.NewSubject:
    role = "youth" if values["asker"] == "youth" else "relative"
    return accounts.check_new_subject(role, values["display_name"], values["language"])


async def ask_passkey_options(request: Request) -> Response:
    """The passkey variant of the last step: check everything, then start the ceremony."""
    form = await request.form()
    values = _values(form)
    services = await _services()
    if not services:
        return JSONResponse({"error": _("The portal is not open yet.")}, status_code=422)
    if len(services) == 1:
        values["service"] = str(services[0].id)
    try:
        for name in _steps_for(services)[:-1]:
            await _check_step(name, values, services, None)
        new = _new_subject(values)
    except rules.NotEligible:
        return JSONResponse({"error": _("The AMO helps young people under 22.")}, status_code=422)
    except Invalid as refusal:
        return JSONResponse({"field": refusal.field, "error": _(refusal.message)}, status_code=422)
    handle = accounts.new_user_handle()
    pending = {key: value for key, value in values.items() if key not in {"login"}}
    pending["themes"] = ",".join(values["themes"])
    pending.update({f: "1" if values[f] else "" for f in FLAGS})
    pending.update(role=new.role.value, user_handle=handle)
    options = await passkeys.registration_options(
        relying_party(request),
        browser_id(request),
        user_handle=handle,
        pending=pending,
    )
    return Response(options, media_type="application/json")


async def ask_passkey(request: Request) -> Response:
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
            relying_party(request),
            browser_id(request),
            credential,
        )
        pending = dict(challenge.pending)
        if challenge.person_id is not None or "asker" not in pending:
            raise passkeys.PasskeyError("not a request challenge")
        values: dict[str, Any] = dict(pending)
        values["themes"] = [t for t in pending.get("themes", "").split(",") if t]
        for flag in FLAGS:
            values[flag] = bool(pending.get(flag))
        new = accounts.check_new_subject(
            pending["role"], pending["display_name"], pending["language"]
        )
        passkey.label = _("Passkey")
        request_form, own_birth = _form_of(values)
        dossier, person = await rules.ask_with_new_account(
            partial(accounts.create_subject_with_passkey, new, pending["user_handle"], passkey),
            as_id(values.get("service", "")),
            request_form,
            own_birth=own_birth,
        )
    except (passkeys.PasskeyError, Invalid, KeyError, ValueError):
        return JSONResponse(
            {"error": _("The passkey could not be created. Try again, or choose a password.")},
            status_code=422,
        )
    await throttle.sign_up_answered(address, made=True)
    await rules.drop_draft(browser_id(request))
    target = f"/espace/{dossier.reference}/envoye"
    return json_redirect(target, await signed_in_response(request, person, target))


async def count_words(request: Request) -> Response:
    """The character counter, for htmx: how much room is left, said politely.

    htmx sends the whole form with it: what was typed is kept as the draft on the way, so a
    reload before "Continue" still finds the words.
    """
    form = await request.form()
    used = len(text(form, "words", 10_000))
    person = await signed_in(request)
    if text(form, "step", 20) == "about" and (person is None or person.is_subject):
        await _keep(request, _values(form), "about", only_at="about")
    left = rules.MAX_WORDS - used
    if left >= 0:
        message = ngettext("%(count)s character left.", "%(count)s characters left.", left)
        message = message % {"count": left}
    else:
        message = ngettext(
            "%(count)s character too many.", "%(count)s characters too many.", -left
        ) % {"count": -left}
    return HTMLResponse(message)


@require(Role.YOUTH, Role.RELATIVE)
async def sent(request: Request) -> Response:
    dossier = await own_dossier(request)
    service = await Service.get(id=dossier.service_id)
    # An account made with this request: its recovery codes, shown here once.
    person = person_of(request)
    codes = await accounts.take_first_codes(person)
    context = {
        "dossier": dossier,
        "service": service,
        "answer": await workdays.answer_target(dossier, clock.now()),
        "codes": codes,
        # A parent's own request: the page speaks to a parent.
        "parent": person.role is Role.RELATIVE,
    }
    return render(request, "requests/sent.html", context)


routes = [
    Route("/demande", ask, methods=["GET", "POST"], name="request"),
    Route("/demande/compter", count_words, methods=["POST"], name="request.count"),
    Route(
        "/demande/passkey/options",
        ask_passkey_options,
        methods=["POST"],
        name="request.passkey_options",
    ),
    Route("/demande/passkey", ask_passkey, methods=["POST"], name="request.passkey"),
    Route("/espace/{reference}/envoye", sent, name="request.sent"),
]
