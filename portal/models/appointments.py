"""Meetings a worker proposes to the young person: when, where, and what became of them."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

if TYPE_CHECKING:
    from portal.models.accounts import Person
    from portal.models.actions import Action
    from portal.models.dossiers import Dossier


class PlaceKind(StrEnum):
    AMO = "amo"
    SCHOOL = "school"
    # A court or SAJ hearing the worker accompanies her to: a step with a third party.
    HEARING = "hearing"
    PHONE = "phone"
    ELSEWHERE = "elsewhere"


class AppointmentStatus(StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    OTHER_TIME_ASKED = "other_time_asked"
    CANCELLED = "cancelled"
    DONE = "done"
    MISSED = "missed"


class Appointment(Model):
    """A meeting proposed by a worker: the subject accepts, declines or asks for another time."""

    id = fields.IntField(primary_key=True)
    dossier: fields.ForeignKeyRelation[Dossier] = fields.ForeignKeyField(
        "models.Dossier", related_name="appointments", on_delete=fields.CASCADE
    )
    dossier_id: int
    proposed_by: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="appointments_proposed", on_delete=fields.RESTRICT
    )
    proposed_by_id: int
    starts_at = fields.DatetimeField()
    minutes = fields.SmallIntField()
    place_kind = fields.CharEnumField(PlaceKind, max_length=12)
    # Sealed with the dossier's key, as every text someone writes: no length on the column.
    place = fields.TextField(default="")
    with_whom = fields.TextField(default="")
    status = fields.CharEnumField(AppointmentStatus, max_length=16)
    # Her word when she asks for another time (sealed).
    answer_word = fields.TextField(default="")
    # A meeting with a third party is a step she agrees to (rule 4): that step.
    action: fields.ForeignKeyNullableRelation[Action] = fields.ForeignKeyField(
        "models.Action", related_name="appointments", null=True, on_delete=fields.SET_NULL
    )
    action_id: int | None
    reminded_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    answered_at = fields.DatetimeField(null=True)
    outcome_at = fields.DatetimeField(null=True)

    class Meta:
        table = "appointment"
        indexes = (
            Index(fields=("dossier_id", "starts_at")),
            # The reminder sweep: accepted meetings by time.
            Index(fields=("status", "starts_at")),
        )
