"""The journal in plain words: each line says who did what, however many lines look alike."""

from __future__ import annotations

from portal.domain import journal
from portal.domain.dossiers import assign, open_dossier
from portal.i18n import use_language
from portal.pages.timeline import describe, lines
from tests import factories


async def test_a_page_of_looks_names_each_reader_as_one_line_alone_would(db: str) -> None:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    jo = await factories.staff("jo", service_=service, name="Jo")
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service)
    await assign(amina, dossier.id, jo.id)
    for reader in (amina, jo, amina, jo, amina):
        await journal.record_look(dossier, "dossier.read", reader)
    # Read by the subject: no look is added, the page shows the five above and what came before.
    view = await open_dossier(lou, dossier.reference)
    shown = {}
    with use_language("en"):
        for viewer, subject_view in ((lou, True), (amina, False), (jo, False)):
            texts = [line.text for line in lines(view.timeline, viewer, subject_view, 0, {})]
            alone = [describe(entry, viewer, subject_view, {}) for entry in view.timeline]
            assert texts == alone
            shown[viewer.login] = texts[:5]
    assert shown["lou"] == [
        "Amina, from the AMO, read your dossier.",
        "Jo, from the AMO, read your dossier.",
    ] * 2 + ["Amina, from the AMO, read your dossier."]
    assert shown["amina"][:2] == ["You read this dossier.", "Jo, from the AMO, read this dossier."]
    assert shown["jo"][:2] == ["Amina, from the AMO, read this dossier.", "You read this dossier."]
