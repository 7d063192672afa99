"""Appointments through the app: each rule tried from the wrong side, and the journeys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette
from tortoise import timezone

from portal import keys, proof
from portal.domain import actions, ending, signing
from portal.domain import appointments as rules
from portal.domain.errors import NotAllowed
from portal.domain.requests import RequestForm
from portal.i18n import BRUSSELS
from portal.models import (
    Action,
    ActionKind,
    ActionPartner,
    ActionStatus,
    Appointment,
    AppointmentStatus,
    AskedBy,
    Asker,
    Concertation,
    Dossier,
    DossierStatus,
    JournalEntry,
    MinutesStatus,
    Person,
    PlaceKind,
    Role,
    Theme,
)
from tests import factories
from tests.helpers import count_queries, csrf_token


async def _setup() -> tuple[Dossier, Person, Person]:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    await factories.staff("tom", service_=service, name="Tom")
    await factories.staff("admin", Role.ADMIN, service_=service)
    await factories.youth("noa", "Noa")
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service, "L’école me stresse.")
    return dossier, lou, amina


@asynccontextmanager
async def _as(app: Starlette, who: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as client:
        person = await Person.get(login=who)
        if person.is_subject:
            await factories.sign_in(client, who)
        else:
            await factories.sign_in_staff(client, who)
        yield client


def _form(days: int = 3, **extra: str) -> dict[str, str]:
    moment = (timezone.now() + timedelta(days=days)).astimezone(BRUSSELS)
    values = {
        "day": moment.date().isoformat(),
        "hour": "14:00",
        "minutes": "60",
        "place_kind": "amo",
        "place": "Salle bleue",
        "with_whom": "",
    }
    values.update(extra)
    return values


async def _post(client: httpx.AsyncClient, path: str, data: dict[str, str]) -> httpx.Response:
    token = await csrf_token(client, "/")
    return await client.post(path, data={"csrf_token": token, **data})


async def _events(dossier: Dossier) -> list[str]:
    found = await JournalEntry.filter(dossier_id=dossier.id).order_by("seq")
    return [str(e.event) for e in found if str(e.event).startswith(("appointment.", "action."))]


async def test_the_worker_proposes_she_asks_another_time_then_accepts(
    app: Starlette, db: str
) -> None:
    dossier, _lou, _amina = await _setup()
    base = f"/travail/dossiers/{dossier.reference}/rendez-vous"
    # A second code in the same 30 s is refused: each signs in once.
    async with _as(app, "amina") as worker, _as(app, "lou") as lou:
        answer = await _post(worker, base, _form())
        assert answer.status_code == 303
        appointment = await Appointment.get(dossier_id=dossier.id)
        # The place is sealed like any text.
        assert "Salle bleue" not in appointment.place
        page = (await worker.get(f"/travail/dossiers/{dossier.reference}")).text
        assert "Salle bleue" in page
        # How to reach her first (whether a call is safe), then the meetings, before the rest.
        assert page.index('id="contact"') < page.index('id="rendez-vous"')
        assert page.index('id="rendez-vous"') < page.index('id="request-title"')
        work = (await worker.get("/travail")).text
        assert dossier.reference in work and "Salle bleue" not in work
        space = (await lou.get("/espace")).text
        assert "Salle bleue" in space and "Amina" in space
        mine = (await lou.get(f"/espace/{dossier.reference}")).text
        assert mine.index('id="rendez-vous"') < mine.index('id="who-title"')
        assert "Amina te propose un rendez-vous le" in mine
        path = f"/espace/{dossier.reference}/rendez-vous/{appointment.id}/autre"
        assert (await lou.get(path)).status_code == 200
        assert (await _post(lou, path, {"word": "Plutôt après l’école"})).status_code == 303
        assert (await Appointment.get(id=appointment.id)).status is (
            AppointmentStatus.OTHER_TIME_ASKED
        )
        mine = (await lou.get(f"/espace/{dossier.reference}")).text
        assert "Tu as demandé un autre moment" in mine
        page = (await worker.get(f"/travail/dossiers/{dossier.reference}")).text
        assert "Plutôt après l’école" in page
        new = _form(days=4, hour="16:30")
        change = f"{base}/{appointment.id}/changer"
        assert (await _post(worker, change, new)).status_code == 303
        path = f"/espace/{dossier.reference}/rendez-vous/{appointment.id}/oui"
        assert (await _post(lou, path, {})).status_code == 303
    changed = await Appointment.get(id=appointment.id)
    assert changed.status is AppointmentStatus.ACCEPTED
    assert changed.starts_at.astimezone(BRUSSELS).strftime("%H:%M") == "16:30"
    assert await _events(dossier) == [
        "appointment.proposed",
        "appointment.other_time_asked",
        "appointment.changed",
        "appointment.accepted",
    ]


async def test_a_hearing_is_a_step_she_agrees_to_by_accepting(app: Starlette, db: str) -> None:
    dossier, _lou, _amina = await _setup()
    base = f"/travail/dossiers/{dossier.reference}/rendez-vous"
    async with _as(app, "amina") as worker, _as(app, "lou") as client:
        # A hearing names who else will be there.
        refused = await _post(worker, base, _form(place_kind="hearing"))
        assert refused.status_code == 422
        assert 'value="Salle bleue"' in refused.text
        assert await Appointment.all().count() == 0
        ok = await _post(worker, base, _form(place_kind="hearing", with_whom="SAJ de Namur"))
        assert ok.status_code == 303
        appointment = await Appointment.get(dossier_id=dossier.id)
        step = await Action.get(id=appointment.action_id)
        assert step.status is ActionStatus.PROPOSED
        path = f"/espace/{dossier.reference}/rendez-vous/{appointment.id}/oui"
        assert "SAJ de Namur" in (await client.get(path)).text
        assert (await _post(client, path, {})).status_code == 303
        assert (await Action.get(id=step.id)).status is ActionStatus.AGREED
        assert await _events(dossier) == [
            "action.proposed",
            "appointment.proposed",
            "appointment.accepted",
            "action.agreed",
        ]
        # After the hearing, the worker says it took place: the step is done with it.
        await Appointment.filter(id=appointment.id).update(
            starts_at=timezone.now() - timedelta(hours=2)
        )
        page = (await worker.get(f"/travail/dossiers/{dossier.reference}")).text
        assert "Il a eu lieu" in page
        assert (await _post(worker, f"{base}/{appointment.id}/fait", {})).status_code == 303
        assert (await Action.get(id=step.id)).status is ActionStatus.DONE
        assert (await Appointment.get(id=appointment.id)).status is AppointmentStatus.DONE
        assert "a eu lieu" in (await client.get(f"/espace/{dossier.reference}")).text


async def test_declining_a_hearing_declines_its_step(app: Starlette, db: str) -> None:
    dossier, lou, amina = await _setup()
    proposal = rules.check_proposal(**_form(place_kind="hearing", with_whom="Juge"))
    appointment = await rules.propose(amina, dossier.reference, proposal)
    await rules.answer(lou, dossier.reference, appointment.id, AppointmentStatus.DECLINED)
    assert (await Action.get(id=appointment.action_id)).status is ActionStatus.DECLINED


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("day", "hier"),
        ("hour", "25:00"),
        ("minutes", "5"),
        ("minutes", "481"),
        ("minutes", "une heure"),
        ("place_kind", "prison"),
        ("place", "x" * 201),
        ("with_whom", "y" * 201),
    ],
)
async def test_a_bad_form_is_refused_and_kept(
    app: Starlette, db: str, field: str, value: str
) -> None:
    dossier, _lou, _amina = await _setup()
    async with _as(app, "amina") as worker:
        answer = await _post(
            worker, f"/travail/dossiers/{dossier.reference}/rendez-vous", _form(**{field: value})
        )
    assert answer.status_code == 422
    assert f'id="f-{field}-error"' in answer.text
    assert await Appointment.all().count() == 0


async def test_a_past_time_cannot_be_proposed_nor_moved_to(app: Starlette, db: str) -> None:
    dossier, _lou, amina = await _setup()
    past = (timezone.now() - timedelta(hours=1)).astimezone(BRUSSELS)
    form = _form(day=past.date().isoformat(), hour=past.strftime("%H:%M"))
    async with _as(app, "amina") as worker:
        base = f"/travail/dossiers/{dossier.reference}/rendez-vous"
        assert (await _post(worker, base, form)).status_code == 422
        appointment = await rules.propose(amina, dossier.reference, rules.check_proposal(**_form()))
        moved = await _post(worker, f"{base}/{appointment.id}/changer", form)
        assert moved.status_code == 422
    assert (await Appointment.get(id=appointment.id)).starts_at > timezone.now()


@pytest.mark.parametrize("who", ["noa", "tom", "admin"])
async def test_anyone_else_gets_404_and_nothing_changes(app: Starlette, db: str, who: str) -> None:
    dossier, _lou, amina = await _setup()
    appointment = await rules.propose(amina, dossier.reference, rules.check_proposal(**_form()))
    before = await Appointment.all().values_list("id", "status", "starts_at")
    base_w = f"/travail/dossiers/{dossier.reference}/rendez-vous"
    base_s = f"/espace/{dossier.reference}/rendez-vous/{appointment.id}"
    async with _as(app, who) as client:
        for path, data in [
            (base_w, _form()),
            (f"{base_w}/{appointment.id}/changer", _form(days=5)),
            (f"{base_w}/{appointment.id}/annuler", {}),
            (f"{base_s}/oui", {}),
            (f"{base_s}/autre", {"word": "non"}),
        ]:
            assert (await _post(client, path, data)).status_code == 404, path
        for path in [f"{base_s}/rendez-vous.ics", f"{base_w}/{appointment.id}/rendez-vous.ics"]:
            assert (await client.get(path)).status_code == 404, path
    assert await Appointment.all().values_list("id", "status", "starts_at") == before


async def test_only_the_subject_answers_and_only_the_worker_records(
    app: Starlette, db: str
) -> None:
    dossier, lou, amina = await _setup()
    appointment = await rules.propose(amina, dossier.reference, rules.check_proposal(**_form()))
    async with _as(app, "amina") as worker, _as(app, "lou") as client:
        path = f"/espace/{dossier.reference}/rendez-vous/{appointment.id}/oui"
        assert (await _post(worker, path, {})).status_code == 404
        path = f"/travail/dossiers/{dossier.reference}/rendez-vous/{appointment.id}/annuler"
        assert (await _post(client, path, {})).status_code == 404
        # An outcome before the time, or of a meeting not accepted: refused.
        path = f"/travail/dossiers/{dossier.reference}/rendez-vous/{appointment.id}/fait"
        assert (await _post(worker, path, {})).status_code == 409
        await rules.answer(lou, dossier.reference, appointment.id, AppointmentStatus.ACCEPTED)
        assert (await _post(worker, path, {})).status_code == 409
    assert (await Appointment.get(id=appointment.id)).status is AppointmentStatus.ACCEPTED


async def test_an_ended_dossier_takes_no_change(app: Starlette, db: str) -> None:
    dossier, lou, amina = await _setup()
    appointment = await rules.propose(amina, dossier.reference, rules.check_proposal(**_form()))
    await ending.end_help(lou, dossier.reference)
    async with _as(app, "lou") as client, _as(app, "amina") as worker:
        path = f"/espace/{dossier.reference}/rendez-vous/{appointment.id}/oui"
        assert (await _post(client, path, {})).status_code == 409
        base = f"/travail/dossiers/{dossier.reference}/rendez-vous"
        assert (await _post(worker, base, _form())).status_code in {404, 409}
        # Ending the help stops what was planned: no meeting shown, no file to download.
        assert 'id="rendez-vous"' not in (await client.get("/espace")).text
        assert 'id="rendez-vous"' not in (await client.get(f"/espace/{dossier.reference}")).text
        calendar = f"/espace/{dossier.reference}/rendez-vous/{appointment.id}/rendez-vous.ics"
        assert (await client.get(calendar)).status_code == 404
    assert await Appointment.all().count() == 1


async def test_missed_is_said_without_reproach(app: Starlette, db: str) -> None:
    dossier, lou, amina = await _setup()
    appointment = await rules.propose(amina, dossier.reference, rules.check_proposal(**_form()))
    await rules.answer(lou, dossier.reference, appointment.id, AppointmentStatus.ACCEPTED)
    later = appointment.starts_at + timedelta(hours=2)
    await rules.record_outcome(amina, dossier.reference, appointment.id, False, now=later)
    async with _as(app, "lou") as client:
        page = (await client.get(f"/espace/{dossier.reference}")).text
    assert "Tu n’as pas pu venir" in page or "Tu n'as pas pu venir" in page


async def test_the_calendar_file_is_neutral(app: Starlette, db: str) -> None:
    dossier, lou, amina = await _setup()
    proposal = rules.check_proposal(**_form(place_kind="school", place="Athénée"))
    appointment = await rules.propose(amina, dossier.reference, proposal)
    await rules.answer(lou, dossier.reference, appointment.id, AppointmentStatus.ACCEPTED)
    for who, path in [
        ("lou", f"/espace/{dossier.reference}/rendez-vous/{appointment.id}/rendez-vous.ics"),
        (
            "amina",
            f"/travail/dossiers/{dossier.reference}/rendez-vous/{appointment.id}/rendez-vous.ics",
        ),
    ]:
        async with _as(app, who) as client:
            answer = await client.get(path)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/calendar; charset=utf-8"
        assert answer.headers["content-disposition"] == 'attachment; filename="rendez-vous.ics"'
        assert "no-store" in answer.headers["cache-control"]
        body = answer.text
        assert "SUMMARY:Rendez-vous\r\n" in body
        if who == "amina":
            # Her download is a look at the dossier, in its journal.
            last = await JournalEntry.filter(dossier_id=dossier.id).order_by("-seq").first()
            assert last is not None and last.event == "dossier.read" and last.actor_id == amina.id
        for word in ("Athénée", "Amina", "Lou", "AMO", "LOCATION", "URL", "DESCRIPTION"):
            assert word not in body


async def test_the_pages_do_not_read_once_per_meeting(app: Starlette, db: str) -> None:
    dossier, lou, amina = await _setup()
    await rules.propose(amina, dossier.reference, rules.check_proposal(**_form()))
    counts = []
    async with _as(app, "amina") as worker, _as(app, "lou") as client:
        for _ in range(2):
            # Once before counting: a first view may write what it saw.
            await worker.get("/travail")
            await client.get("/espace")
            with count_queries() as work:
                assert (await worker.get("/travail")).status_code == 200
            with count_queries() as space:
                assert (await client.get("/espace")).status_code == 200
            counts.append((work.count, space.count))
            for days in (4, 5, 6):
                await rules.propose(amina, dossier.reference, rules.check_proposal(**_form(days)))
    assert counts[0] == counts[1]
    assert "Amina" in (await Person.get(id=amina.id)).display_name
    del lou


async def test_the_kinds_of_place_are_all_named() -> None:
    from portal.labels import PLACE_NAMES

    assert set(PLACE_NAMES) == {kind.value for kind in PlaceKind}


async def _hearing(dossier: Dossier, amina: Person, days: int = 3) -> Appointment:
    proposal = rules.check_proposal(**_form(days, place_kind="hearing", with_whom="SAJ"))
    return await rules.propose(amina, dossier.reference, proposal)


async def test_ending_the_help_cancels_every_meeting_and_none_comes_back(
    app: Starlette, db: str
) -> None:
    dossier, lou, amina = await _setup()
    hearing = await _hearing(dossier, amina)
    await rules.answer(lou, dossier.reference, hearing.id, AppointmentStatus.ACCEPTED)
    waiting = await rules.propose(amina, dossier.reference, rules.check_proposal(**_form(4)))
    declined = await rules.propose(amina, dossier.reference, rules.check_proposal(**_form(5)))
    await rules.answer(lou, dossier.reference, declined.id, AppointmentStatus.DECLINED)
    await ending.end_help(lou, dossier.reference)
    statuses = await Appointment.filter(dossier_id=dossier.id).values_list("status", flat=True)
    assert set(statuses) == {AppointmentStatus.CANCELLED}
    cancelled = await JournalEntry.filter(dossier_id=dossier.id, event="appointment.cancelled")
    # Each meeting still to come is said cancelled once, by her; the declined one is not.
    assert sorted(e.details["appointment"] for e in cancelled) == [hearing.id, waiting.id]
    assert {e.actor_id for e in cancelled} == {lou.id}
    # She comes back: the old meeting does not come back with her.
    form = RequestForm(asker=Asker.YOUTH, themes=[Theme.HOUSING], words="Je reviens.")
    await ending.reopen(lou, dossier.reference, form)
    assert (await Dossier.get(id=dossier.id)).status is DossierStatus.OPEN
    assert await rules.send_reminders(hearing.starts_at - timedelta(hours=20)) == 0
    assert [c.appointment.id for c in await rules.of_dossier(dossier)] == []
    later = hearing.starts_at + timedelta(hours=2)
    with pytest.raises(NotAllowed):
        await rules.record_outcome(amina, dossier.reference, hearing.id, True, now=later)
    for meeting in (hearing, declined):
        with pytest.raises(NotAllowed):
            await rules.change(amina, dossier.reference, meeting.id, later, 60)
    assert (await Action.get(id=hearing.action_id)).status is ActionStatus.CANCELLED
    assert (await Appointment.get(id=hearing.id)).status is AppointmentStatus.CANCELLED


async def test_a_hearing_she_declined_and_moved_is_a_new_step_her_yes_agrees_to(
    app: Starlette, db: str
) -> None:
    dossier, lou, amina = await _setup()
    hearing = await _hearing(dossier, amina)
    old_step = hearing.action_id
    await rules.answer(lou, dossier.reference, hearing.id, AppointmentStatus.DECLINED)
    base = f"/travail/dossiers/{dossier.reference}/rendez-vous"
    async with _as(app, "amina") as worker, _as(app, "lou") as client:
        moved = await _post(worker, f"{base}/{hearing.id}/changer", _form(days=6))
        assert moved.status_code == 303
        changed = await Appointment.get(id=hearing.id)
        assert changed.status is AppointmentStatus.PROPOSED
        assert changed.action_id is not None and changed.action_id != old_step
        step = await Action.get(id=changed.action_id)
        assert step.status is ActionStatus.PROPOSED
        path = f"/espace/{dossier.reference}/rendez-vous/{hearing.id}/oui"
        assert "SAJ" in (await client.get(path)).text
        assert (await _post(client, path, {})).status_code == 303
    assert (await Action.get(id=step.id)).status is ActionStatus.AGREED
    assert (await Action.get(id=old_step)).status is ActionStatus.DECLINED
    assert await _events(dossier) == [
        "action.proposed",
        "appointment.proposed",
        "appointment.declined",
        "action.declined",
        "action.proposed",
        "appointment.changed",
        "appointment.accepted",
        "action.agreed",
    ]
    later = changed.starts_at + timedelta(hours=2)
    await rules.record_outcome(amina, dossier.reference, hearing.id, True, now=later)
    assert (await Action.get(id=step.id)).status is ActionStatus.DONE


async def test_a_meeting_whose_step_was_called_off_is_neither_accepted_nor_recorded(
    app: Starlette, db: str
) -> None:
    dossier, lou, amina = await _setup()
    accepted = await _hearing(dossier, amina)
    await rules.answer(lou, dossier.reference, accepted.id, AppointmentStatus.ACCEPTED)
    waiting = await _hearing(dossier, amina, days=4)
    assert accepted.action_id is not None and waiting.action_id is not None
    await actions.cancel_action(amina, dossier.reference, accepted.action_id)
    await actions.cancel_action(amina, dossier.reference, waiting.action_id)
    later = accepted.starts_at + timedelta(hours=2)
    for took_place in (True, False):
        with pytest.raises(NotAllowed):
            await rules.record_outcome(amina, dossier.reference, accepted.id, took_place, now=later)
    assert (await Appointment.get(id=accepted.id)).status is AppointmentStatus.ACCEPTED
    with pytest.raises(NotAllowed):
        await rules.answer(lou, dossier.reference, waiting.id, AppointmentStatus.ACCEPTED)
    assert (await Appointment.get(id=waiting.id)).status is AppointmentStatus.PROPOSED
    assert (await Action.get(id=waiting.action_id)).status is ActionStatus.CANCELLED


async def _concertation(dossier: Dossier, amina: Person, minutes: str) -> None:
    """A concertation meeting held, its minutes approved (the rows its rules leave)."""
    cpas = await factories.partner("CPAS de Namur")
    step = await Action.create(
        dossier_id=dossier.id,
        kind=ActionKind.CONCERTATION,
        involves_third_party=True,
        status=ActionStatus.DONE,
        author_id=amina.id,
    )
    await ActionPartner.create(action_id=step.id, partner_id=cpas.id, attended=True)
    now = timezone.now()
    await Concertation.create(
        action_id=step.id,
        dossier_id=dossier.id,
        asked_by=AskedBy.FAMILY,
        asked_at=now - timedelta(days=3),
        held_at=now - timedelta(days=1),
        minutes=keys.box(dossier).seal(minutes, "concertation.minutes"),
        minutes_status=MinutesStatus.APPROVED,
        approved_at=now,
    )


async def test_her_copy_holds_her_meetings_and_the_minutes(app: Starlette, db: str) -> None:
    dossier, lou, amina = await _setup()
    proposal = rules.check_proposal(
        **_form(place_kind="school", place="Athénée Royal", with_whom="Madame Leroy")
    )
    school = await rules.propose(amina, dossier.reference, proposal)
    await rules.answer(
        lou, dossier.reference, school.id, AppointmentStatus.OTHER_TIME_ASKED, "Pas le mardi"
    )
    await _concertation(dossier, amina, "On cherche un logement avec Lou.")
    async with _as(app, "lou") as client:
        page = (await client.get(f"/espace/{dossier.reference}/export")).text
        data = (await client.get(f"/espace/{dossier.reference}/export.json")).json()
    for words in (
        "Athénée Royal",
        "avec Madame Leroy",
        "Pas le mardi",
        "Autre moment demandé",
        "Proposé par Amina",
        "CPAS de Namur",
        "On cherche un logement avec Lou.",
        "par la famille",
        "Je l’ai approuvé",
    ):
        assert words in page, words
    [meeting] = data["appointments"]
    assert meeting["where"] == "À l’école"
    assert meeting["place"] == "Athénée Royal" and meeting["with"] == "Madame Leroy"
    assert meeting["minutes"] == 60 and meeting["your_word"] == "Pas le mardi"
    assert meeting["status"] == "Autre moment demandé" and meeting["proposed_by"] == "Amina"
    assert meeting["when"] == school.starts_at.isoformat()
    [concertation] = data["concertation_meetings"]
    assert concertation["asked_by"] == "la famille"
    assert concertation["attendees"] == [{"partner": "CPAS de Namur", "was_there": True}]
    assert concertation["minutes"] == "On cherche un logement avec Lou."
    assert concertation["minutes_status"] == "Je l’ai approuvé"
    assert concertation["you_approved"] is not None


async def test_her_copy_does_not_read_once_per_meeting(app: Starlette, db: str) -> None:
    dossier, _lou, amina = await _setup()
    await _concertation(dossier, amina, "Compte rendu")
    await rules.propose(amina, dossier.reference, rules.check_proposal(**_form()))
    counts = []
    # The service's signing key exists already: the very first signature makes it.
    await signing.sign({}, proof.HEAD)
    async with _as(app, "lou") as client:
        for _ in range(2):
            for path in ("export", "export.json"):
                with count_queries() as counted:
                    answer = await client.get(f"/espace/{dossier.reference}/{path}")
                assert answer.status_code == 200
                counts.append(counted.count)
            for days in (4, 5, 6):
                proposal = rules.check_proposal(**_form(days, place_kind="hearing", with_whom="J"))
                await rules.propose(amina, dossier.reference, proposal)
    assert counts[:2] == counts[2:]
    assert (await Appointment.filter(dossier_id=dossier.id).count()) == 7
