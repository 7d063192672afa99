"""A parent reads a parent's words in their own space, not a young person's."""

from __future__ import annotations

import httpx

from portal.domain.dossiers import take
from portal.domain.requests import RequestForm, make_request
from portal.models import Asker, Role, Theme
from tests import factories


async def _parent_with_a_followed_request() -> str:
    service = await factories.service()
    worker = await factories.staff("amina", service_=service, name="Amina")
    parent = await factories.youth("parent", "Sam", role=Role.RELATIVE)
    form = RequestForm(
        asker=Asker.RELATIVE,
        themes=[Theme.FAMILY],
        words="Mon fils ne va plus à l’école.",
        concerned_birth_year=2010,
        concerned_birth_month=3,
    )
    dossier = await make_request(parent, service, form)
    await take(worker, dossier.id)
    return dossier.reference


async def test_a_parent_giving_an_agreement_is_not_handed_a_young_persons_example(
    client: httpx.AsyncClient,
) -> None:
    reference = await _parent_with_a_followed_request()
    cpas = await factories.partner()
    await factories.sign_in(client, "parent")
    page = await client.get(f"/espace/{reference}/partenaires/{cpas.id}/accord")
    assert page.status_code == 200
    assert "j’étais absent" not in page.text
    assert "pour que l’école comprenne les absences" in page.text
    assert "travailleur·euse" not in page.text


async def test_a_parents_dossier_names_the_worker_without_inclusive_forms(
    client: httpx.AsyncClient,
) -> None:
    reference = await _parent_with_a_followed_request()
    await factories.sign_in(client, "parent")
    page = await client.get(f"/espace/{reference}")
    assert page.status_code == 200
    assert "Amina, de l’équipe de l’AMO" in page.text
    assert "·e" not in page.text
    assert "La personne qui te suit le lit." in page.text


async def test_what_we_keep_is_true_for_a_parent(client: httpx.AsyncClient) -> None:
    await _parent_with_a_followed_request()
    await factories.sign_in(client, "parent")
    page = await client.get("/donnees")
    # A parent's own birth is never asked: the young person's month and year are.
    assert "ceux du ou de la jeune, si tu es un parent" in page.text
    assert "pour savoir si l’AMO peut t’aider (moins de 22 ans)" not in page.text
    client.cookies.set("lang", "en")
    english = await client.get("/donnees")
    assert "the young person’s, if you are a parent" in english.text


async def test_the_rights_page_tells_a_parent_what_holds_for_them(
    client: httpx.AsyncClient,
) -> None:
    # "Tes droits" speaks to the young person ("ni tes parents"): a parent who reads it is told
    # what holds for their own file, and that their child's file is not theirs to read.
    await _parent_with_a_followed_request()
    anonymous = await client.get("/droits")
    assert "Toi, parent qui demandes de l’aide" not in anonymous.text
    await factories.sign_in(client, "parent")
    page = await client.get("/droits")
    assert page.status_code == 200
    assert "Toi, parent qui demandes de l’aide" in page.text
    assert "Le dossier de ton enfant, s’il en a un, est à lui : tu ne le lis pas." in page.text
