"""Rule 4 through the app: what a worker writes down, what she agrees to, and taking it back."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html.parser import HTMLParser

import httpx
import pytest
from starlette.applications import Starlette

from portal.domain import actions as rules
from portal.domain import consent
from portal.models import (
    Action,
    ActionKind,
    ActionStatus,
    Dossier,
    JournalEntry,
    Partner,
    Person,
    Role,
    Share,
)
from tests import factories
from tests.helpers import csrf_token


async def _setup() -> tuple[Dossier, Person, Person, Partner]:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service, "L’école me stresse.")
    school = await factories.partner("Athénée Royal", secrecy=False)
    return dossier, lou, amina, school


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


async def _step_events(dossier: Dossier) -> list[str]:
    events = await JournalEntry.filter(dossier_id=dossier.id).values_list("event", flat=True)
    return [str(e) for e in events if str(e).startswith("action.")]


@asynccontextmanager
async def _signed_in(app: Starlette, who: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in as ``who``: a subject's login, or a staff member's."""
    async with _client(app) as client:
        person = await Person.get(login=who)
        if person.is_subject:
            await factories.sign_in(client, who)
        else:
            await factories.sign_in_staff(client, who)
        yield client


# --- What a worker writes down --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["conciliation", "family_support", "accompaniment"])
async def test_a_forged_direct_record_of_a_step_with_the_family_is_refused(
    client: httpx.AsyncClient, kind: str
) -> None:
    dossier, _lou, _amina, _school = await _setup()
    await factories.sign_in_staff(client, "amina")
    token = await csrf_token(client, f"/travail/dossiers/{dossier.reference}")
    forged = await client.post(
        f"/travail/dossiers/{dossier.reference}/demarches",
        data={
            "csrf_token": token,
            "mode": "record",
            "kind": kind,
            "description": "Rencontre avec sa mère",
        },
    )
    assert forged.status_code == 422
    # Refused with a reason, the words typed kept, the form it came from open again.
    assert "Rencontre avec sa mère" in forged.text
    assert re.search(r'<details class="card" id="record-step" open>', forged.text)
    assert await Action.all().count() == 0
    assert await _step_events(dossier) == []


@pytest.mark.parametrize("who", ["lou", "tom", "claire", "julie"])
async def test_nobody_else_writes_a_step_down_in_her_dossier(
    app: Starlette, db: str, who: str
) -> None:
    dossier, _lou, amina, school = await _setup()
    service = await amina.service
    await factories.staff("tom", service_=service)
    await factories.staff("claire", Role.ADMIN, service_=service)
    await factories.staff("julie", Role.PARTNER, partner_=school)
    async with _signed_in(app, who) as browser:
        token = await csrf_token(browser, "/")
        for kind in ("listening", "conciliation"):
            tried = await browser.post(
                f"/travail/dossiers/{dossier.reference}/demarches",
                data={"csrf_token": token, "mode": "record", "kind": kind, "description": "x"},
            )
            assert tried.status_code == 404
    assert await Action.all().count() == 0


class _Forms(HTMLParser):
    """For each form of a page: its action, its kinds offered, and whether it is in a details."""

    def __init__(self) -> None:
        super().__init__()
        self.details = 0
        self.forms: list[dict[str, object]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "details":
            self.details += 1
        elif tag == "form":
            self.forms.append({"action": found.get("action"), "hidden": self.details > 0})
            self.forms[-1]["kinds"] = []
        elif tag == "input" and found.get("name") == "mode" and self.forms:
            self.forms[-1]["mode"] = found.get("value")
        elif tag == "option" and self.forms and self.details:
            kinds = self.forms[-1]["kinds"]
            assert isinstance(kinds, list)
            kinds.append(found.get("value"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "details":
            self.details -= 1


async def test_the_worker_page_opens_its_forms_on_demand(client: httpx.AsyncClient) -> None:
    dossier, _lou, amina, _school = await _setup()
    await factories.staff("tom", service_=await amina.service)  # a colleague to ask
    await factories.sign_in_staff(client, "amina")
    page = await client.get(f"/travail/dossiers/{dossier.reference}")
    reader = _Forms()
    reader.feed(page.text)
    steps = [f for f in reader.forms if str(f["action"]).endswith("/demarches")]
    by_mode = {f.get("mode"): f for f in steps}
    assert set(by_mode) == {"record", "propose"}
    # Writing down offers only a talk between her and the AMO; everything else is proposed.
    assert by_mode["record"]["kinds"] == ["listening", "information", "orientation"]
    assert {"conciliation", "family_support", "accompaniment"} <= set(
        by_mode["propose"]["kinds"]  # type: ignore[arg-type]
    )
    assert "listening" not in by_mode["propose"]["kinds"]  # type: ignore[operator]
    # Every form of the dossier but the message (and a step's own buttons) opens on demand,
    # without JavaScript: writing down, proposing, asking a colleague, closing, a way back in,
    # proposing a meeting, adding a document.
    on_demand = [
        form
        for form in reader.forms
        if str(form["action"]).startswith("/travail/")
        and not str(form["action"]).endswith("/messages")
        and "/demarches/" not in str(form["action"])
    ]
    assert len(on_demand) == 7, [f["action"] for f in on_demand]
    assert all(form["hidden"] for form in on_demand), on_demand
    assert not any(f["hidden"] for f in reader.forms if str(f["action"]).endswith("/messages"))


# --- Agreeing, with the guarantees, and taking it back -------------------------------------


async def test_agreeing_to_a_step_with_a_school_shows_its_guarantees_and_says_how_to_undo(
    client: httpx.AsyncClient,
) -> None:
    dossier, _lou, amina, school = await _setup()
    ref = dossier.reference
    step = await rules.propose_action(
        amina,
        ref,
        ActionKind.PARTNER_CONTACT,
        "Appeler l’Athénée pour tes absences",
        "",
        [school.id],
    )
    await factories.sign_in(client, "lou")
    asked = await client.get(f"/espace/{ref}/demarches/{step.id}/oui")
    assert asked.status_code == 200
    # The same guarantees as before a consent: secrecy first, then the partner's code.
    assert "Athénée Royal" in asked.text
    assert "Ce service n’est pas tenu au secret professionnel." in asked.text
    assert "Tant qu’elle n’est pas faite, tu peux retirer ton accord." in asked.text

    token = await csrf_token(client, f"/espace/{ref}")
    agreed = await client.post(
        f"/espace/{ref}/demarches/{step.id}/oui", data={"csrf_token": token, "reason": ""}
    )
    assert agreed.status_code == 303
    after = await client.get(agreed.headers["location"])
    # A confirmation: what she agreed to, and how to take it back.
    assert "Tu as dit oui" in after.text
    assert "Appeler l’Athénée pour tes absences" in after.text
    assert f"/espace/{ref}/demarches/{step.id}/retirer" in after.text

    # "Who sees what" lists the step beside the consents, not "you allow nothing".
    seen = await client.get(f"/espace/{ref}/partenaires")
    assert "Démarches que tu as acceptées" in seen.text
    assert "Appeler l’Athénée pour tes absences" in seen.text
    assert "Tu ne permets rien à ce service." not in seen.text


async def test_she_takes_an_agreement_back_until_the_step_is_done(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    dossier, lou, amina, school = await _setup()
    ref = dossier.reference
    first = await rules.propose_action(
        amina, ref, ActionKind.CONCILIATION, "Rencontre avec tes parents", "Tes parents"
    )
    second = await rules.propose_action(
        amina, ref, ActionKind.PARTNER_CONTACT, "Appeler l’école", "", [school.id]
    )
    for step in (first, second):
        await rules.answer_action(lou, ref, step.id, True)
    await rules.mark_done(amina, ref, second.id)

    await factories.sign_in(client, "lou")
    mine = await client.get(f"/espace/{ref}/partenaires")
    assert "Rencontre avec tes parents" in mine.text  # listed, with a way to take it back
    confirm = await client.get(f"/espace/{ref}/demarches/{first.id}/retirer")
    assert confirm.status_code == 200 and "Retirer ton accord ?" in confirm.text
    token = await csrf_token(client, f"/espace/{ref}")
    taken = await client.post(
        f"/espace/{ref}/demarches/{first.id}/retirer",
        data={"csrf_token": token, "reason": "Pas maintenant"},
    )
    assert taken.status_code == 303
    shown = await client.get(taken.headers["location"])
    assert "Tu as retiré ton accord" in shown.text
    assert (await Action.get(id=first.id)).status is ActionStatus.WITHDRAWN
    assert (await _step_events(dossier)).count("action.withdrawn") == 1

    # Done already: refused, and it stays done.
    late = await client.post(
        f"/espace/{ref}/demarches/{second.id}/retirer", data={"csrf_token": token}
    )
    assert late.status_code == 409
    assert (await Action.get(id=second.id)).status is ActionStatus.DONE

    # The worker reads it, and can no longer carry it out.
    async with _client(app) as worker:
        await factories.sign_in_staff(worker, "amina")
        page = await worker.get(f"/travail/dossiers/{ref}")
        assert "accord retiré" in page.text and "Pas maintenant" in page.text
        token_w = await csrf_token(worker, f"/travail/dossiers/{ref}")
        done = await worker.post(
            f"/travail/dossiers/{ref}/demarches/{first.id}/fait", data={"csrf_token": token_w}
        )
        assert done.status_code == 409
    assert (await Action.get(id=first.id)).status is ActionStatus.WITHDRAWN


@pytest.mark.parametrize("who", ["amina", "tom", "claire", "julie", "noa"])
async def test_nobody_else_takes_her_agreement_back(app: Starlette, db: str, who: str) -> None:
    dossier, lou, amina, school = await _setup()
    service = await amina.service
    await factories.staff("tom", service_=service)
    await factories.staff("claire", Role.ADMIN, service_=service)
    await factories.staff("julie", Role.PARTNER, partner_=school)
    await factories.youth("noa", "Noa")
    step = await rules.propose_action(
        amina, dossier.reference, ActionKind.FAMILY_SUPPORT, "Voir ton père", "Ton père"
    )
    await rules.answer_action(lou, dossier.reference, step.id, True)
    path = f"/espace/{dossier.reference}/demarches/{step.id}/retirer"
    async with _signed_in(app, who) as browser:
        assert (await browser.get(path)).status_code == 404
        token = await csrf_token(browser, "/")
        assert (await browser.post(path, data={"csrf_token": token})).status_code == 404
    assert (await Action.get(id=step.id)).status is ActionStatus.AGREED
    assert "action.withdrawn" not in await _step_events(dossier)


# --- The worker: agreements active now, and a share that ends on a confirmation ------------


async def test_the_worker_sees_the_agreements_and_what_a_share_sent_to_whom(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    dossier, lou, amina, school = await _setup()
    ref = dossier.reference
    cpas = await factories.partner("CPAS de Namur")
    await consent.grant(lou, ref, cpas.id, ["request"], "1_month", "Pour une aide au CPAS")
    gone = await consent.grant(lou, ref, school.id, ["identity"], "until_stop", "Pour l’école")
    await consent.revoke(lou, ref, gone.id)

    await factories.sign_in_staff(client, "amina")
    page = await client.get(f"/travail/dossiers/{ref}")
    allowed = page.text[page.text.index('id="consents"') : page.text.index('id="actions"')]
    assert "CPAS de Namur" in allowed and "Pour une aide au CPAS" in allowed
    assert "sa demande" in allowed and "jusqu’au" in allowed
    assert "Athénée Royal" not in allowed  # taken back: not shown as allowed

    token = await csrf_token(client, f"/travail/dossiers/{ref}")
    shared = await client.post(
        f"/travail/dossiers/{ref}/partager",
        data={"csrf_token": token, "partner": str(cpas.id), "categories": ["request"]},
    )
    assert shared.status_code == 303
    share = await Share.get()
    assert shared.headers["location"] == f"/travail/dossiers/{ref}/partages/{share.id}"
    confirmation = await client.get(shared.headers["location"])
    assert confirmation.status_code == 200
    assert "Partagé : CPAS de Namur" in confirmation.text
    assert "sa demande" in confirmation.text and "L’école me stresse." in confirmation.text

    # Nobody else reads that confirmation: not the subject, not a colleague not following.
    await factories.staff("tom", service_=await amina.service)
    for who in ("lou", "tom"):
        async with _signed_in(app, who) as other:
            found = await other.get(f"/travail/dossiers/{ref}/partages/{share.id}")
            assert found.status_code == 404
            assert "L’école me stresse." not in found.text


# --- Words ------------------------------------------------------------------------------------


async def test_the_consent_words_read_well_with_any_name_and_say_things_once(
    client: httpx.AsyncClient,
) -> None:
    dossier, _lou, _amina, _school = await _setup()
    amo = await factories.partner("AMO Le Relais")
    await Partner.filter(id=amo.id).update(
        ethics_code="Code de déontologie de l’aide à la jeunesse", adheres_youth_code=True
    )
    await factories.sign_in(client, "lou")
    page = await client.get(f"/espace/{dossier.reference}/partenaires/{amo.id}/accord")
    assert "Donner ton accord : AMO Le Relais" in page.text
    assert "accord à AMO" not in page.text
    assert page.text.lower().count("code de déontologie") == 1
