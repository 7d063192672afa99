"""The concertation's time frame with a fake clock: 24 to 72 hours to prepare and inform, the
meeting within 3 days of the request, calendar days and hours as the charter says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portal.domain import concertation as rules
from portal.domain.actions import answer_action, propose_action, record_meeting
from portal.domain.consent import grant
from portal.domain.errors import Invalid, NotAllowed, NotFound
from portal.models import (
    Action,
    ActionKind,
    ActionStatus,
    AskedBy,
    Concertation,
    MinutesStatus,
    Role,
)
from tests import factories

# A Friday evening before Easter Monday: the charter counts calendar days, holidays included.
ASKED = datetime(2027, 3, 26, 18, 0, tzinfo=UTC)


def _meeting(
    status: ActionStatus = ActionStatus.PROPOSED, **fields: object
) -> tuple[Concertation, Action]:
    action = Action(id=1, kind=ActionKind.CONCERTATION, status=status, answered_at=None)
    concertation = Concertation(action_id=1, asked_by=AskedBy.FAMILY, asked_at=ASKED, **fields)
    return concertation, action


def test_the_time_frame_is_counted_in_calendar_hours_from_the_request() -> None:
    concertation, action = _meeting()
    frame = rules.time_frame(concertation, action, ASKED + timedelta(hours=1))
    assert frame.prepare_from == datetime(2027, 3, 27, 18, 0, tzinfo=UTC)
    assert frame.prepare_by == datetime(2027, 3, 29, 18, 0, tzinfo=UTC)  # Easter Monday
    assert frame.meet_by == frame.prepare_by
    assert frame.late == []
    assert (frame.next_deadline, frame.next_what) == (frame.prepare_by, "prepare")


def test_preparation_is_late_past_72_hours_without_informing() -> None:
    concertation, action = _meeting()
    just_before = rules.time_frame(concertation, action, ASKED + timedelta(hours=71, minutes=59))
    assert just_before.late == []
    after = rules.time_frame(concertation, action, ASKED + timedelta(hours=72, minutes=1))
    assert after.late == ["prepare", "meeting"]


def test_her_agreement_counts_as_informed() -> None:
    concertation, action = _meeting(ActionStatus.AGREED)
    action.answered_at = ASKED + timedelta(hours=30)
    frame = rules.time_frame(concertation, action, ASKED + timedelta(hours=80))
    assert frame.informed == action.answered_at
    assert frame.late == ["meeting"]
    assert frame.next_what == "meeting"


def test_informed_otherwise_counts_too() -> None:
    concertation, action = _meeting(informed_at=ASKED + timedelta(hours=26))
    frame = rules.time_frame(concertation, action, ASKED + timedelta(hours=50))
    assert frame.informed == ASKED + timedelta(hours=26)
    assert frame.late == []
    assert (frame.next_deadline, frame.next_what) == (ASKED + timedelta(days=3), "meeting")


def test_minutes_are_waiting_once_held_until_she_approves() -> None:
    held = ASKED + timedelta(days=2)
    concertation, action = _meeting(ActionStatus.DONE, informed_at=ASKED, held_at=held)
    assert rules.time_frame(concertation, action, held).late == ["minutes"]
    concertation.minutes_status = MinutesStatus.WAITING
    assert rules.time_frame(concertation, action, held).late == []
    concertation.minutes_status = MinutesStatus.CHANGE_ASKED
    assert rules.time_frame(concertation, action, held).late == ["minutes"]


def test_a_meeting_that_will_not_take_place_is_never_late() -> None:
    for status in (ActionStatus.DECLINED, ActionStatus.CANCELLED, ActionStatus.WITHDRAWN):
        concertation, action = _meeting(status)
        assert rules.time_frame(concertation, action, ASKED + timedelta(days=9)).late == []


def test_the_meeting_date_is_refused_past_three_days() -> None:
    concertation, _action = _meeting()
    # 26 March 18:00 UTC is 19:00 in Brussels (winter time); 3 days later it is summer time.
    assert rules.check_meeting_at(concertation, "2027-03-29T20:00") == ASKED + timedelta(days=3)
    with pytest.raises(Invalid) as refused:
        rules.check_meeting_at(concertation, "2027-03-29T20:01")
    assert refused.value.field == "meeting_at"
    with pytest.raises(Invalid):
        rules.check_meeting_at(concertation, "2027-03-26T18:59")
    with pytest.raises(Invalid):
        rules.check_meeting_at(concertation, "not a date")


async def test_the_inbox_lists_the_late_first_with_a_fake_clock(db: str) -> None:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    cpas = await factories.partner("CPAS")
    await factories.member(service.id, cpas.id)
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service, "Lou")
    first = await propose_action(
        amina, dossier.reference, ActionKind.CONCERTATION, "Un", "", [cpas.id]
    )
    second = await propose_action(
        amina, dossier.reference, ActionKind.CONCERTATION, "Deux", "", [cpas.id]
    )
    asked = (await Concertation.get(action_id=first.id)).asked_at
    await Concertation.filter(action_id=second.id).update(asked_at=asked + timedelta(hours=50))
    later = asked + timedelta(hours=73)
    items = await rules.worker_deadlines(amina, now=later)
    assert [i.concertation.action_id for i in items] == [first.id, second.id]
    assert items[0].frame.late == ["prepare", "meeting"]
    assert items[1].frame.late == []
    await answer_action(lou, dossier.reference, first.id, True)
    await grant(lou, dossier.reference, cpas.id, ["actions"], "until_stop", "Réunion")
    await record_meeting(amina, dossier.reference, first.id, [cpas.id], ["actions"])
    items = await rules.worker_deadlines(amina, now=later)
    assert [i.frame.late for i in items] == [["minutes"], []]
    # Nobody but a worker has an inbox of meetings.
    for role in (Role.ADMIN, Role.PARTNER, Role.OPERATOR):
        someone = await factories.staff(f"x{role.value}", role, service_=service)
        with pytest.raises(NotFound):
            await rules.worker_deadlines(someone, now=later)


async def test_minutes_cannot_be_approved_before_they_are_written(db: str) -> None:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    cpas = await factories.partner("CPAS")
    await factories.member(service.id, cpas.id)
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service, "Lou")
    meeting = await propose_action(
        amina, dossier.reference, ActionKind.CONCERTATION, "Un", "", [cpas.id]
    )
    with pytest.raises(NotAllowed):
        await rules.approve_minutes(lou, dossier.reference, meeting.id)
    with pytest.raises(NotAllowed):
        await rules.write_minutes(amina, dossier.reference, meeting.id, "Trop tôt")
    assert (await Concertation.get(action_id=meeting.id)).minutes_status is MinutesStatus.NONE
