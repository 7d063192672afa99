"""The directory's history: every change kept, and what a partner promises told to whom it binds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tortoise import timezone

from portal.domain import consent as consent_rules
from portal.domain import partners as directory
from portal.domain.errors import NotFound
from portal.i18n import use_language
from portal.models import Consent, JournalEntry, Partner, PartnerChange, Role
from portal.pages.timeline import describe
from tests import factories

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _form(partner: Partner, **changes: object) -> directory.PartnerForm:
    values: dict[str, object] = {
        "name": partner.name,
        "sector": partner.sector.value,
        "communes": ", ".join(partner.communes),
        "bound_by_secrecy": partner.bound_by_secrecy,
        "ethics_code": partner.ethics_code,
        "adheres_youth_code": partner.adheres_youth_code,
        "description": partner.description,
        "contact": partner.contact,
        "is_active": partner.is_active,
    }
    values.update(changes)
    return directory.PartnerForm(**values)  # type: ignore[arg-type]


async def test_only_active_consents_are_told_and_every_change_is_kept(db: str) -> None:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    cpas = await factories.partner("CPAS de Namur")
    operator = await factories.operator()
    dossiers = {}
    for login in ("lou", "noa", "eli"):
        subject = await factories.youth(login, login.title())
        dossier = await factories.followed_dossier(amina, subject, service)
        await consent_rules.grant(
            subject, dossier.reference, cpas.id, ["request"], "until_stop", "Aide"
        )
        dossiers[login] = dossier
    # Noa's agreement has run out: she is no longer bound, and is not told.
    await Consent.filter(dossier_id=dossiers["noa"].id).update(
        expires_at=timezone.now() - timedelta(days=1)
    )
    # Eli took hers back.
    eli_consent = await Consent.get(dossier_id=dossiers["eli"].id)
    eli = await dossiers["eli"].subject
    await consent_rules.revoke(eli, dossiers["eli"].reference, eli_consent.id)

    await directory.update_partner(
        operator, cpas.id, _form(cpas, ethics_code="Code X", is_active=False, contact="081")
    )
    change = await PartnerChange.get(partner_id=cpas.id)
    assert change.changes == {
        "ethics_code": ["", "Code X"],
        "is_active": [True, False],
        "contact": ["", "081"],
    }
    assert change.changed_by_id == operator.id
    told = await JournalEntry.filter(event="partner.changed").values_list("dossier_id", flat=True)
    assert told == [dossiers["lou"].id]
    entry = await JournalEntry.get(event="partner.changed")
    assert entry.details["fields"] == ["ethics_code", "is_active"]
    lou = await dossiers["lou"].subject
    names = {cpas.id: cpas.name}
    expected = {
        "fr": "Ce que promet CPAS de Namur a changé : le code de déontologie qu’il suit, "
        "sa place dans l’annuaire. Tu peux reprendre ton accord à tout moment.",
        "nl": "Wat CPAS de Namur belooft, is veranderd: de deontologische code die het volgt, "
        "zijn plaats in de gids. Je kunt je toestemming altijd intrekken.",
        "en": "What CPAS de Namur promises has changed: the code of ethics it follows, "
        "its place in the directory. You can take back your agreement at any time.",
    }
    for language, sentence in expected.items():
        with use_language(language):
            assert describe(entry, lou, True, names) == sentence
    with use_language("en"):
        assert describe(entry, amina, False, names) == (
            "What CPAS de Namur promises has changed: the code of ethics it follows, "
            "its place in the directory."
        )


async def test_nobody_but_the_operator_keeps_the_directory(db: str) -> None:
    service = await factories.service()
    cpas = await factories.partner("CPAS")
    people = [
        await factories.staff("admin", Role.ADMIN, service_=service),
        await factories.staff("amina", service_=service),
        await factories.staff("julie", Role.PARTNER, partner_=cpas),
        await factories.youth(),
    ]
    for person in people:
        with pytest.raises(NotFound):
            await directory.update_partner(person, cpas.id, _form(cpas, bound_by_secrecy=False))
        with pytest.raises(NotFound):
            await directory.create_partner(person, _form(cpas, name="Autre"))
        with pytest.raises(NotFound):
            await directory.all_partners(person)
        with pytest.raises(NotFound):
            await directory.partner_history(person, cpas.id)
    assert await Partner.all().values_list("name", "bound_by_secrecy") == [("CPAS", True)]
    assert await PartnerChange.all().count() == 0


async def test_a_new_entry_is_the_first_line_of_its_history(db: str) -> None:
    operator = await factories.operator()
    cpas = await factories.partner("CPAS")
    made = await directory.create_partner(operator, _form(cpas, name="Maison de jeunes"))
    first = await PartnerChange.get(partner_id=made.id)
    assert first.changes["name"] == [None, "Maison de jeunes"]
    assert first.changes["bound_by_secrecy"] == [None, True]
    history = await directory.partner_history(operator, made.id)
    assert [h.id for h in history] == [first.id]


async def test_a_partner_renamed_or_moved_to_another_sector_is_told(db: str) -> None:
    """She agreed with one organisation: a new name or kind of service is not a detail."""
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    cpas = await factories.partner("CPAS de Namur")
    operator = await factories.operator()
    lou = await factories.youth("lou", "Lou")
    dossier = await factories.followed_dossier(amina, lou, service)
    await consent_rules.grant(lou, dossier.reference, cpas.id, ["request"], "until_stop", "Aide")

    await directory.update_partner(
        operator, cpas.id, _form(cpas, name="Service Social Privé", sector="other")
    )
    entry = await JournalEntry.get(event="partner.changed")
    assert entry.dossier_id == dossier.id
    assert entry.details["fields"] == ["name", "sector"]
    with use_language("fr"):
        said = describe(entry, lou, True, {cpas.id: "Service Social Privé"})
    assert said.startswith("Ce que promet Service Social Privé a changé : son nom, le type de")
