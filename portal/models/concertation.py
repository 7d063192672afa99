"""Concertation meetings with partners: the service's members and charter, each meeting's
time frame and its minutes."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

if TYPE_CHECKING:
    from portal.models.actions import Action
    from portal.models.dossiers import Dossier
    from portal.models.services import Partner, Service


class Membership(StrEnum):
    # At every meeting of the service.
    PERMANENT = "permanent"
    # Asked when a situation concerns them.
    ASSOCIATED = "associated"


class AskedBy(StrEnum):
    YOUNG = "young"
    FAMILY = "family"
    PARTNER = "partner"
    TEAM = "team"


class MinutesStatus(StrEnum):
    NONE = "none"
    # Written, waiting for the young person to read them.
    WAITING = "waiting"
    CHANGE_ASKED = "change_asked"
    APPROVED = "approved"


class ConcertationMember(Model):
    """A partner of the directory in a service's concertation, since it adhered to its charter."""

    id = fields.IntField(primary_key=True)
    service: fields.ForeignKeyRelation[Service] = fields.ForeignKeyField(
        "models.Service", related_name="concertation_members", on_delete=fields.CASCADE
    )
    service_id: int
    partner: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "models.Partner", related_name="concertation_memberships", on_delete=fields.RESTRICT
    )
    partner_id: int
    membership = fields.CharEnumField(Membership, max_length=10)
    adhered_on = fields.DateField()

    class Meta:
        table = "concertation_member"
        unique_together = (("service", "partner"),)


class Concertation(Model):
    """The time frame and the minutes of one concertation meeting (a step of the dossier)."""

    id = fields.IntField(primary_key=True)
    action: fields.OneToOneRelation[Action] = fields.OneToOneField(
        "models.Action", related_name="concertation", on_delete=fields.CASCADE
    )
    action_id: int
    dossier: fields.ForeignKeyRelation[Dossier] = fields.ForeignKeyField(
        "models.Dossier", related_name="concertations", on_delete=fields.CASCADE
    )
    dossier_id: int
    asked_by = fields.CharEnumField(AskedBy, max_length=10)
    asked_at = fields.DatetimeField()
    # Told otherwise than by agreeing to the step (her agreement counts as informed too).
    informed_at = fields.DatetimeField(null=True)
    meeting_at = fields.DatetimeField(null=True)
    held_at = fields.DatetimeField(null=True)
    # The kinds of information the minutes go out as, chosen when the meeting is recorded.
    categories: fields.Field[list[str]] = fields.JSONField(default=list)
    # Sealed with the dossier's key.
    minutes = fields.TextField(default="")
    minutes_status = fields.CharEnumField(MinutesStatus, max_length=15, default=MinutesStatus.NONE)
    minutes_written_at = fields.DatetimeField(null=True)
    # Her word when she asks for a change, sealed.
    change_word = fields.TextField(default="")
    approved_at = fields.DatetimeField(null=True)
    shared_at = fields.DatetimeField(null=True)

    class Meta:
        table = "concertation"
        indexes = (Index(fields=("dossier_id", "asked_at")),)
