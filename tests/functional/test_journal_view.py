"""The journal as she reads it, the export of her dossier, and coming back to the same workers."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from portal.domain import consent as consent_rules
from portal.domain import journal
from portal.domain.dossiers import open_dossier
from portal.domain.ending import end_help, reopen
from portal.domain.journal import Event
from portal.domain.requests import RequestForm
from portal.models import (
    Asker,
    Assignment,
    Dossier,
    DossierStatus,
    JournalEntry,
    Person,
    Service,
    Theme,
)
from tests import factories

READS = re.compile(r"a lu ton dossier (\d+) fois")


async def _dossier() -> tuple[Dossier, Person, Person]:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service, "Je dors chez une amie.")
    return dossier, lou, amina


def _coming_back() -> RequestForm:
    return RequestForm(asker=Asker.YOUTH, themes=[Theme.HOUSING], words="Je reviens.")


# --- Reads in a row: one line on the page, every one in the export ------------------------------


async def test_six_reads_are_one_line_for_her_and_six_in_the_export(
    client: httpx.AsyncClient,
) -> None:
    dossier, _lou, amina = await _dossier()
    ref = dossier.reference
    for _ in range(6):
        await open_dossier(amina, ref)  # each view of her page is a read, journaled
    assert await JournalEntry.filter(dossier=dossier, event=Event.DOSSIER_READ).count() == 6
    await factories.sign_in(client, "lou")
    page = (await client.get(f"/espace/{ref}")).text
    assert READS.findall(page) == ["6"]
    assert "Amina, de l’AMO, a lu ton dossier 6 fois" in page
    assert "a lu ton dossier." not in page
    # The export lists every read, one by one, in words and as data.
    export = (await client.get(f"/espace/{ref}/export")).text
    assert export.count("Amina, de l’AMO, a lu ton dossier.") == 6
    data = json.loads((await client.get(f"/espace/{ref}/export.json")).text)
    assert [e["event"] for e in data["journal"]].count(Event.DOSSIER_READ) == 6
    # The worker reads the journal the same way. Her view now is a read of its own: the two
    # downloads came between, and only reads one after the other make one line.
    client.cookies.clear()
    await factories.sign_in_staff(client, "amina")
    worker = (await client.get(f"/travail/dossiers/{ref}")).text
    assert re.findall(r"Tu as lu ce dossier (\d+) fois", worker) == ["6"]
    assert worker.count("Tu as lu ce dossier.") == 1


async def test_grouping_hides_no_entry_from_one_page_to_the_next(
    client: httpx.AsyncClient,
) -> None:
    dossier, _lou, amina = await _dossier()
    for _ in range(25):
        await journal.record_look(dossier, Event.DOSSIER_READ, amina)
    await factories.sign_in(client, "lou")
    first = (await client.get(f"/espace/{dossier.reference}")).text
    second = (await client.get(f"/espace/{dossier.reference}?page=2")).text
    # Twenty entries a page: twenty reads, then the last five and what came before them.
    assert READS.findall(first) == ["20"]
    assert READS.findall(second) == ["5"]
    assert "Amina, de l’AMO, suit maintenant ton dossier." in second
    assert "Tu as demandé de l’aide." in second


# --- The export ---------------------------------------------------------------------------------


async def test_the_export_names_the_partner_as_the_dossier_does(
    client: httpx.AsyncClient,
) -> None:
    dossier, lou, _amina = await _dossier()
    cpas = await factories.partner("CPAS de Namur")
    await consent_rules.grant(
        lou, dossier.reference, cpas.id, ["request"], "until_stop", "Pour l’aide"
    )
    said = "Tu as permis à CPAS de Namur de recevoir des informations."
    await factories.sign_in(client, "lou")
    assert said in (await client.get(f"/espace/{dossier.reference}")).text
    export = (await client.get(f"/espace/{dossier.reference}/export")).text
    assert said in export and "un partenaire" not in export
    data = json.loads((await client.get(f"/espace/{dossier.reference}/export.json")).text)
    assert said in [e["in_words"] for e in data["journal"]]


async def test_the_export_page_prints_with_a_button_and_leads_back(
    client: httpx.AsyncClient,
) -> None:
    dossier, _lou, _amina = await _dossier()
    await factories.sign_in(client, "lou")
    page = (await client.get(f"/espace/{dossier.reference}/export")).text
    assert f'<a href="/espace/{dossier.reference}">Retour à mon dossier</a>' in page
    # A real button, shown by the page's script file; a hint for a browser without scripts.
    assert '<button type="button" class="button secondary" data-print hidden>Imprimer' in page
    assert "data-print-hint>Pour imprimer cette page" in page
    script = re.search(r'<script src="(/static/js/print\.[0-9a-f]+\.js)"', page)
    assert script is not None
    served = await client.get(script.group(1))
    assert served.status_code == 200 and "window.print()" in served.text
    # Strict CSP: no script written in the page itself, no style attribute.
    assert not re.search(r"<script(?![^>]*\bsrc=)", page) and " style=" not in page
    # The links to it load it whole (a boosted swap would not run its script).
    mine = (await client.get(f"/espace/{dossier.reference}")).text
    assert f'href="/espace/{dossier.reference}/export" hx-boost="false"' in mine


async def test_after_coming_back_the_export_carries_no_old_reason_for_ending(
    client: httpx.AsyncClient,
) -> None:
    dossier, lou, _amina = await _dossier()
    ref = dossier.reference
    await end_help(lou, ref, "Ça va mieux grâce à Zébulon")
    await factories.sign_in(client, "lou")
    ended = json.loads((await client.get(f"/espace/{ref}/export.json")).text)
    assert ended["dossier"]["why_ended"] == "Ça va mieux grâce à Zébulon"
    await reopen(lou, ref, _coming_back())
    back = await client.get(f"/espace/{ref}/export.json")
    assert json.loads(back.text)["dossier"]["why_ended"] == ""
    assert "Zébulon" not in back.text
    assert "Zébulon" not in (await client.get(f"/espace/{ref}/export")).text
    # Ending again without a word brings no old reason back.
    await end_help(lou, ref)
    again = await client.get(f"/espace/{ref}/export.json")
    assert json.loads(again.text)["dossier"]["why_ended"] == "" and "Zébulon" not in again.text
    assert "Zébulon" not in (await client.get(f"/espace/{ref}")).text


# --- Coming back: to the workers who followed her -----------------------------------------------


async def test_a_return_goes_back_to_the_worker_who_followed_her(
    client: httpx.AsyncClient,
) -> None:
    dossier, lou, amina = await _dossier()
    tom = await factories.staff("tom", service_=await Service.get(id=dossier.service_id))
    ref = dossier.reference
    await end_help(lou, ref)
    await reopen(lou, ref, _coming_back())
    back = await Dossier.get(id=dossier.id)
    assert back.status is DossierStatus.OPEN
    following = await Assignment.filter(dossier=dossier, ended_at__isnull=True).values_list(
        "worker_id", flat=True
    )
    assert list(following) == [amina.id]
    # Journaled in the chain like any step: by the portal, naming who follows her again.
    returned = await JournalEntry.get(dossier=dossier, event=Event.DOSSIER_RETURNED)
    assert returned.actor_id is None
    assert returned.details == {"to": [amina.id], "to_names": ["Amina"]}
    assert await journal.verify_dossier(back) is None
    # She reads who follows her again.
    await factories.sign_in(client, "lou")
    assert "Amina te suit à nouveau." in (await client.get(f"/espace/{ref}")).text
    # In Amina's inbox, marked as a return, not among the waiting requests.
    client.cookies.clear()
    await factories.sign_in_staff(client, "amina")
    inbox = (await client.get("/travail")).text
    assert "De retour" in inbox and f">{ref}</a>" in inbox
    assert f"<strong>{ref}</strong>" not in inbox
    page = (await client.get(f"/travail/dossiers/{ref}")).text
    assert "Le dossier est revenu après la fin de l’aide : tu le suis à nouveau." in page
    # A colleague who did not follow her does not get it.
    client.cookies.clear()
    await factories.sign_in_staff(client, tom.login)
    assert ref not in (await client.get("/travail")).text
    assert (await client.get(f"/travail/dossiers/{ref}")).status_code == 404


@pytest.mark.parametrize("how", ["left", "moved"])
async def test_a_worker_who_left_or_moved_is_not_given_the_return(
    client: httpx.AsyncClient, how: str
) -> None:
    dossier, lou, amina = await _dossier()
    ref = dossier.reference
    other = await factories.service("AMO Ailleurs")
    tom = await factories.staff("tom", service_=await Service.get(id=dossier.service_id))
    yann = await factories.staff("yann", service_=other)
    await end_help(lou, ref)
    if how == "left":
        await Person.filter(id=amina.id).update(is_active=False)
    else:
        # Amina now works for another AMO: her old service's dossiers are not hers to follow.
        await Person.filter(id=amina.id).update(service_id=other.id)
    await reopen(lou, ref, _coming_back())
    back = await Dossier.get(id=dossier.id)
    assert back.status is DossierStatus.WAITING
    assert not await Assignment.filter(dossier=dossier, ended_at__isnull=True).exists()
    assert not await JournalEntry.exists(dossier=dossier, event=Event.DOSSIER_RETURNED)
    # In the service's inbox, marked as a return, waiting since she came back.
    await factories.sign_in_staff(client, tom.login)
    inbox = (await client.get("/travail")).text
    card = inbox[inbox.index(f"<strong>{ref}</strong>") :][:400]
    assert "de retour" in card and "En attente depuis 0 jour ouvrable" in card
    assert "plus tard que promis" not in card
    # Nobody of another service gets it: not Yann, not Amina where she works now.
    others = [yann] + ([amina] if how == "moved" else [])
    for worker in others:
        client.cookies.clear()
        await factories.sign_in_staff(client, worker.login)
        assert ref not in (await client.get("/travail")).text
        assert (await client.get(f"/travail/dossiers/{ref}")).status_code == 404
