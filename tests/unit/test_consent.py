"""Rule 6 in the domain: consent per partner and per kind, revoked at once, never edited back."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from tortoise import timezone

from portal.domain import consent as rules
from portal.domain.errors import Invalid, NotAllowed, NotFound
from portal.models import (
    ActionKind,
    ActionStatus,
    Consent,
    Dossier,
    DossierStatus,
    JournalEntry,
    Person,
    Role,
    Share,
    Theme,
)
from tests import factories
from tests.conftest import on_postgres


async def _setup() -> tuple[Dossier, Person, Person, Person]:
    """A dossier of Lou's taken by Amina, and a CPAS with one partner user."""
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    lou = await factories.youth()
    dossier = await factories.followed_dossier(
        amina, lou, service, "Je n’ai plus d’argent.", Theme.MONEY
    )
    cpas = await factories.partner("CPAS")
    julie = await factories.staff("julie", Role.PARTNER, partner_=cpas)
    return dossier, lou, amina, julie


async def test_a_share_needs_an_active_consent_covering_every_kind(db: str) -> None:
    dossier, lou, amina, julie = await _setup()
    assert julie.partner_id is not None
    with pytest.raises(NotAllowed):
        await rules.share(amina, dossier.reference, julie.partner_id, ["request"])
    await rules.grant(
        lou,
        dossier.reference,
        julie.partner_id,
        ["request"],
        "until_stop",
        "Pour l’aide financière",
    )
    with pytest.raises(NotAllowed):
        await rules.share(amina, dossier.reference, julie.partner_id, ["request", "messages"])
    assert await Share.all().count() == 0
    shared = await rules.share(amina, dossier.reference, julie.partner_id, ["request"])
    assert "Je n’ai plus d’argent." not in shared.content  # sealed in the database
    assert [s.id for s in await rules.partner_inbox(julie)] == [shared.id]
    assert "Je n’ai plus d’argent." in (await rules.partner_read(julie, shared.id)).content


async def test_revoking_takes_effect_in_the_same_request(db: str) -> None:
    dossier, lou, amina, julie = await _setup()
    assert julie.partner_id is not None
    consent = await rules.grant(
        lou, dossier.reference, julie.partner_id, ["request"], "1_month", "Pour l’aide"
    )
    shared = await rules.share(amina, dossier.reference, julie.partner_id, ["request"])
    await rules.partner_read(julie, shared.id)
    await rules.revoke(lou, dossier.reference, consent.id)
    with pytest.raises(NotFound):
        await rules.partner_read(julie, shared.id)
    assert await rules.partner_inbox(julie) == []
    with pytest.raises(NotAllowed):
        await rules.share(amina, dossier.reference, julie.partner_id, ["request"])
    events = await JournalEntry.filter(dossier=dossier).values_list("event", flat=True)
    assert "share.read" in events and "consent.revoked" in events


async def test_a_revoked_consent_is_never_active_again(db: str) -> None:
    dossier, lou, _amina, julie = await _setup()
    assert julie.partner_id is not None
    consent = await rules.grant(
        lou, dossier.reference, julie.partner_id, ["request"], "until_stop", "Pour l’aide"
    )
    await rules.revoke(lou, dossier.reference, consent.id)
    with pytest.raises(NotAllowed):
        await rules.revoke(lou, dossier.reference, consent.id)
    again = await rules.grant(
        lou, dossier.reference, julie.partner_id, ["request"], "until_stop", "Pour l’aide"
    )
    assert again.id != consent.id
    old = await Consent.get(id=consent.id)
    assert old.revoked_at is not None and not rules.is_active(old)


async def test_expiry_takes_effect_at_the_exact_time_without_a_job(db: str) -> None:
    dossier, lou, amina, julie = await _setup()
    assert julie.partner_id is not None
    consent = await rules.grant(
        lou, dossier.reference, julie.partner_id, ["request"], "1_month", "Pour l’aide"
    )
    shared = await rules.share(amina, dossier.reference, julie.partner_id, ["request"])
    assert consent.expires_at is not None
    assert rules.is_active(consent, consent.expires_at - timedelta(microseconds=1))
    assert not rules.is_active(consent, consent.expires_at)
    # Move the end to a moment just past: nothing runs, and yet nothing is readable.
    await Consent.filter(id=consent.id).update(
        expires_at=timezone.now() - timedelta(milliseconds=1)
    )
    with pytest.raises(NotFound):
        await rules.partner_read(julie, shared.id)
    with pytest.raises(NotAllowed):
        await rules.share(amina, dossier.reference, julie.partner_id, ["request"])
    await rules.consent_page(lou, dossier.reference)
    await rules.consent_page(lou, dossier.reference)
    assert await JournalEntry.filter(dossier=dossier, event="consent.expired").count() == 1


def test_one_month_is_a_calendar_month() -> None:
    moment = datetime(2026, 1, 31, 10, 0, tzinfo=timezone.get_default_timezone())
    assert rules.add_months(moment, 1).day == 28
    assert rules.add_months(moment, 3).month == 4


async def test_fifty_shares_racing_a_revoke_leave_none_after_it(db: str) -> None:
    dossier, lou, amina, julie = await _setup()
    assert julie.partner_id is not None
    partner_id = julie.partner_id
    consent = await rules.grant(
        lou, dossier.reference, partner_id, ["request"], "until_stop", "Pour l’aide"
    )

    async def attempt() -> Share | Exception:
        try:
            return await rules.share(amina, dossier.reference, partner_id, ["request"])
        except NotAllowed as refusal:
            return refusal

    attempts = [asyncio.create_task(attempt()) for _ in range(50)]
    await asyncio.sleep(0)
    revoking = asyncio.create_task(rules.revoke(lou, dossier.reference, consent.id))
    results = await asyncio.gather(*attempts, revoking)
    revoked = await Consent.get(id=consent.id)
    assert revoked.revoked_at is not None
    shares = await Share.filter(consent_id=consent.id)
    assert all(s.shared_at <= revoked.revoked_at for s in shares)
    # Every attempt either shared before the revoke or was refused: nothing else happened.
    outcomes = results[:50]
    assert all(isinstance(r, Share | NotAllowed) for r in outcomes)
    assert len(shares) == sum(isinstance(r, Share) for r in outcomes)
    # The journal agrees: no share is recorded after the revoke.
    events = (
        await JournalEntry.filter(dossier=dossier).order_by("seq").values_list("event", flat=True)
    )
    revoke_at = events.index("consent.revoked")
    assert "share.made" not in events[revoke_at:]


@pytest.mark.parametrize(
    ("categories", "duration", "purpose"),
    [
        ([], "until_stop", "x"),
        (["hack"], "until_stop", "x"),
        (["request"], "forever", "x"),
        (["request"], "until_stop", ""),
        (["request"], "until_stop", "x" * 301),
    ],
)
async def test_forged_grants_are_refused_and_nothing_is_stored(
    db: str, categories: list[str], duration: str, purpose: str
) -> None:
    dossier, lou, _amina, julie = await _setup()
    assert julie.partner_id is not None
    with pytest.raises(Invalid):
        await rules.grant(lou, dossier.reference, julie.partner_id, categories, duration, purpose)
    with pytest.raises(Invalid):
        await rules.grant(lou, dossier.reference, 999_999, ["request"], "until_stop", "x")
    assert await Consent.all().count() == 0


@pytest.mark.parametrize("who", ["amina", "julie", "other"])
async def test_only_the_subject_grants_or_revokes(db: str, who: str) -> None:
    dossier, lou, amina, julie = await _setup()
    assert julie.partner_id is not None
    consent = await rules.grant(
        lou, dossier.reference, julie.partner_id, ["request"], "until_stop", "Pour l’aide"
    )
    person = {"amina": amina, "julie": julie}.get(who) or await factories.youth("noa", "Noa")
    with pytest.raises(NotFound):
        await rules.grant(
            person, dossier.reference, julie.partner_id, ["messages"], "until_stop", "x"
        )
    with pytest.raises(NotFound):
        await rules.revoke(person, dossier.reference, consent.id)
    assert rules.is_active(await Consent.get(id=consent.id))
    assert await Consent.all().count() == 1


async def test_a_partner_of_another_organisation_sees_nothing(db: str) -> None:
    dossier, lou, amina, julie = await _setup()
    assert julie.partner_id is not None
    await rules.grant(lou, dossier.reference, julie.partner_id, ["request"], "until_stop", "x")
    shared = await rules.share(amina, dossier.reference, julie.partner_id, ["request"])
    school = await factories.partner("École", secrecy=False)
    teacher = await factories.staff("prof", Role.PARTNER, partner_=school)
    assert await rules.partner_inbox(teacher) == []
    with pytest.raises(NotFound):
        await rules.partner_read(teacher, shared.id)


async def test_revoking_cancels_the_steps_waiting_with_that_partner(db: str) -> None:
    from portal.domain.actions import propose_action

    dossier, lou, amina, julie = await _setup()
    assert julie.partner_id is not None
    step = await propose_action(
        amina,
        dossier.reference,
        ActionKind.PARTNER_CONTACT,
        "Appeler le CPAS",
        "",
        [julie.partner_id],
    )
    consent = await rules.grant(
        lou, dossier.reference, julie.partner_id, ["identity"], "until_stop", "Pour être appelée"
    )
    await rules.revoke(lou, dossier.reference, consent.id)
    from portal.models import Action

    assert (await Action.get(id=step.id)).status is ActionStatus.CANCELLED


async def test_a_meeting_is_recorded_only_with_partners_who_consented(db: str) -> None:
    """Who was there needs her consent; nothing reaches them before she approves the minutes."""
    from portal.domain.actions import answer_action, propose_action, record_meeting

    dossier, lou, amina, julie = await _setup()
    assert julie.partner_id is not None
    school = await factories.partner("École", secrecy=False)
    await factories.member(dossier.service_id, julie.partner_id)
    await factories.member(dossier.service_id, school.id)
    meeting = await propose_action(
        amina,
        dossier.reference,
        ActionKind.CONCERTATION,
        "Réunion sur l’école",
        "",
        [julie.partner_id, school.id],
    )
    await answer_action(lou, dossier.reference, meeting.id, True)
    await rules.grant(
        lou, dossier.reference, julie.partner_id, ["actions"], "until_stop", "Pour la réunion"
    )
    with pytest.raises(NotAllowed):
        await record_meeting(
            amina, dossier.reference, meeting.id, [julie.partner_id, school.id], ["actions"]
        )
    done = await record_meeting(
        amina, dossier.reference, meeting.id, [julie.partner_id], ["actions"]
    )
    assert done.status is ActionStatus.DONE
    assert await Share.all().count() == 0


async def test_a_grant_checks_the_end_on_the_row_it_holds(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A grant that read the dossier open, then waited for the row while it ended: refused."""
    from portal.domain import ending

    dossier, lou, _amina, julie = await _setup()
    assert julie.partner_id is not None
    stale = await rules.readable_dossier(lou, dossier.reference)
    await ending.end_help(lou, dossier.reference)
    assert stale.status is not DossierStatus.ENDED

    async def read_before_the_end(person: Person, reference: str) -> Dossier:
        return stale

    monkeypatch.setattr(rules, "readable_dossier", read_before_the_end)
    with pytest.raises(NotAllowed):
        await rules.grant(
            lou, dossier.reference, julie.partner_id, ["request"], "until_stop", "Pour l’aide"
        )
    assert await Consent.filter(dossier_id=dossier.id).count() == 0
    events = await JournalEntry.filter(dossier=dossier).values_list("event", flat=True)
    assert "consent.granted" not in events


@pytest.mark.skipif(not on_postgres(), reason="row locks: PostgreSQL only")
async def test_a_grant_racing_an_end_waits_for_it_and_is_refused(db: str) -> None:
    """Two tabs: the end holds the row; the grant reads the dossier open, then waits for it."""
    from tortoise import connections
    from tortoise.transactions import in_transaction

    from portal.domain import ending

    dossier, lou, _amina, julie = await _setup()
    assert julie.partner_id is not None
    holding = asyncio.Event()
    release = asyncio.Event()

    async def end_slowly() -> None:
        async with in_transaction():
            locked = await Dossier.select_for_update().get(id=dossier.id)
            await ending._end_locked(locked, lou, "dossier.ended", {"reason_given": False})
            holding.set()
            await release.wait()

    ender = asyncio.create_task(end_slowly())
    await holding.wait()
    granting = asyncio.create_task(
        rules.grant(
            lou, dossier.reference, julie.partner_id, ["request"], "until_stop", "Pour l’aide"
        )
    )
    # The grant has read the dossier (still open for everyone else) and waits for its row.
    conn = connections.get("default")
    for _ in range(500):
        rows = await conn.execute_query_dict(
            "SELECT count(*) AS n FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'"
        )
        if rows[0]["n"]:
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the grant never waited for the row")
    release.set()
    await ender
    with pytest.raises(NotAllowed):
        await granting
    assert await Consent.filter(dossier_id=dossier.id, revoked_at__isnull=True).count() == 0
