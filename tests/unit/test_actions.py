"""Rule 4 in the domain: only a talk with the AMO is written down; everything else waits for her."""

from __future__ import annotations

import pytest

from portal.domain import actions as rules
from portal.domain import consent
from portal.domain.errors import AlreadyDone, Invalid, NotAllowed, NotFound
from portal.models import (
    Action,
    ActionKind,
    ActionStatus,
    Dossier,
    JournalEntry,
    Person,
    Role,
    Service,
)
from tests import factories

DIRECT = {ActionKind.LISTENING, ActionKind.INFORMATION, ActionKind.ORIENTATION}
WITH_FAMILY_OR_AUTHORITY = [
    ActionKind.CONCILIATION,
    ActionKind.FAMILY_SUPPORT,
    ActionKind.ACCOMPANIMENT,
]


async def _setup() -> tuple[Dossier, Person, Person]:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service, "Ça crie à la maison.")
    return dossier, lou, amina


async def _step_events(dossier: Dossier) -> list[str]:
    events = await JournalEntry.filter(dossier_id=dossier.id).values_list("event", flat=True)
    return [str(e) for e in events if str(e).startswith("action.")]


@pytest.mark.parametrize("kind", list(ActionKind), ids=lambda k: k.value)
async def test_only_listening_information_and_orientation_are_written_down(
    db: str, kind: ActionKind
) -> None:
    dossier, _lou, amina = await _setup()
    if kind in DIRECT:
        action = await rules.record_action(amina, dossier.reference, kind, "Une heure ensemble")
        assert action.status is ActionStatus.DONE
        assert await _step_events(dossier) == ["action.recorded"]
        return
    with pytest.raises(Invalid) as refused:
        await rules.record_action(amina, dossier.reference, kind, "Appeler ta mère")
    assert refused.value.field == "kind"
    assert await Action.all().count() == 0
    assert await _step_events(dossier) == []


@pytest.mark.parametrize("kind", WITH_FAMILY_OR_AUTHORITY, ids=lambda k: k.value)
async def test_a_step_with_the_family_waits_for_her_agreement_before_it_is_done(
    db: str, kind: ActionKind
) -> None:
    dossier, lou, amina = await _setup()
    step = await rules.propose_action(
        amina, dossier.reference, kind, "Parler avec ta mère", "Maman"
    )
    with pytest.raises(NotAllowed):
        await rules.mark_done(amina, dossier.reference, step.id)
    assert (await Action.get(id=step.id)).status is ActionStatus.PROPOSED
    await rules.answer_action(lou, dossier.reference, step.id, True)
    await rules.mark_done(amina, dossier.reference, step.id)
    assert (await Action.get(id=step.id)).status is ActionStatus.DONE


async def test_a_socio_educational_support_is_proposed_even_with_nobody_else(db: str) -> None:
    dossier, _lou, amina = await _setup()
    step = await rules.propose_action(
        amina, dossier.reference, ActionKind.SOCIO_EDUCATIONAL, "Préparer ton CV ensemble", ""
    )
    assert step.status is ActionStatus.PROPOSED and not step.involves_third_party
    # A step with the family still names who.
    with pytest.raises(Invalid):
        await rules.propose_action(
            amina, dossier.reference, ActionKind.CONCILIATION, "Une rencontre", ""
        )


async def test_she_takes_an_agreement_back_before_the_step_is_done(db: str) -> None:
    dossier, lou, amina = await _setup()
    step = await rules.propose_action(
        amina, dossier.reference, ActionKind.FAMILY_SUPPORT, "Voir ton père", "Papa"
    )
    await rules.answer_action(lou, dossier.reference, step.id, True)
    await rules.withdraw_agreement(lou, dossier.reference, step.id, "Finalement non")
    stored = await Action.get(id=step.id)
    assert stored.status is ActionStatus.WITHDRAWN
    assert await _step_events(dossier) == ["action.proposed", "action.agreed", "action.withdrawn"]
    # Nothing can be done with it any more, and a second tap changes nothing.
    with pytest.raises(NotAllowed):
        await rules.mark_done(amina, dossier.reference, step.id)
    with pytest.raises(AlreadyDone):
        await rules.withdraw_agreement(lou, dossier.reference, step.id)
    assert len(await _step_events(dossier)) == 3


async def test_an_agreement_cannot_be_taken_back_once_the_step_is_done(db: str) -> None:
    dossier, lou, amina = await _setup()
    step = await rules.propose_action(
        amina, dossier.reference, ActionKind.PARTNER_CONTACT, "Appeler l’école", "L’école"
    )
    await rules.answer_action(lou, dossier.reference, step.id, True)
    await rules.mark_done(amina, dossier.reference, step.id)
    with pytest.raises(NotAllowed) as refused:
        await rules.withdraw_agreement(lou, dossier.reference, step.id)
    assert not isinstance(refused.value, AlreadyDone)
    assert (await Action.get(id=step.id)).status is ActionStatus.DONE
    assert "action.withdrawn" not in await _step_events(dossier)


async def test_a_step_not_agreed_to_is_declined_not_taken_back(db: str) -> None:
    dossier, _lou, amina = await _setup()
    lou = await Person.get(login="lou")
    step = await rules.propose_action(
        amina, dossier.reference, ActionKind.ACCOMPANIMENT, "Aller au SAJ", "Le SAJ"
    )
    with pytest.raises(NotAllowed):
        await rules.withdraw_agreement(lou, dossier.reference, step.id)
    assert (await Action.get(id=step.id)).status is ActionStatus.PROPOSED


@pytest.mark.parametrize("who", ["amina", "tom", "admin", "partner", "noa"])
async def test_only_she_takes_her_agreement_back(db: str, who: str) -> None:
    dossier, lou, amina = await _setup()
    step = await rules.propose_action(
        amina, dossier.reference, ActionKind.CONCILIATION, "Rencontre avec tes parents", "Parents"
    )
    await rules.answer_action(lou, dossier.reference, step.id, True)
    service = await Service.get(id=amina.service_id)
    if who == "amina":
        person = amina  # she follows the dossier, and still cannot answer for Lou
    elif who == "tom":
        person = await factories.staff("tom", service_=service)
    elif who == "admin":
        person = await factories.staff("claire", Role.ADMIN, service_=service)
    elif who == "partner":
        person = await factories.staff("julie", Role.PARTNER, partner_=await factories.partner())
    else:
        person = await factories.youth("noa", "Noa")
    with pytest.raises(NotFound):
        await rules.withdraw_agreement(person, dossier.reference, step.id)
    assert (await Action.get(id=step.id)).status is ActionStatus.AGREED
    assert "action.withdrawn" not in await _step_events(dossier)


async def test_the_consent_page_lists_the_steps_she_agreed_to(db: str) -> None:
    dossier, lou, amina = await _setup()
    school = await factories.partner("Athénée", secrecy=False)
    with_school = await rules.propose_action(
        amina, dossier.reference, ActionKind.PARTNER_CONTACT, "Appeler l’Athénée", "", [school.id]
    )
    with_aunt = await rules.propose_action(
        amina, dossier.reference, ActionKind.FAMILY_SUPPORT, "Voir ta tante", "Ta tante"
    )
    waiting = await rules.propose_action(
        amina, dossier.reference, ActionKind.CONCILIATION, "Rencontre", "Papa"
    )
    for step in (with_school, with_aunt):
        await rules.answer_action(lou, dossier.reference, step.id, True)

    page = await consent.consent_page(lou, dossier.reference)
    (group,) = page.groups
    assert group.partner.id == school.id and not group.active
    assert [a.description for a in group.agreed] == ["Appeler l’Athénée"]
    assert [(a.description, a.third_party) for a in page.agreed_elsewhere] == [
        ("Voir ta tante", "Ta tante")
    ]
    assert waiting.id not in {a.id for a in page.agreed_elsewhere}

    await rules.withdraw_agreement(lou, dossier.reference, with_school.id)
    page = await consent.consent_page(lou, dossier.reference)
    assert page.groups[0].agreed == []


async def test_the_worker_reads_only_the_agreements_active_now(db: str) -> None:
    dossier, lou, _amina = await _setup()
    cpas = await factories.partner("CPAS")
    school = await factories.partner("Athénée")
    kept = await consent.grant(lou, dossier.reference, cpas.id, ["request"], "1_month", "Aide")
    taken = await consent.grant(lou, dossier.reference, school.id, ["identity"], "until_stop", "x")
    await consent.revoke(lou, dossier.reference, taken.id)
    active = await consent.active_consents(dossier)
    assert [(c.id, c.partner.name, c.purpose) for c in active] == [(kept.id, "CPAS", "Aide")]
