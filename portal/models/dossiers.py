"""Dossiers: the request that opens one, who follows it, its messages."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

if TYPE_CHECKING:
    from portal.models.accounts import Person
    from portal.models.services import Service


class DossierStatus(StrEnum):
    WAITING = "waiting"
    OPEN = "open"
    ENDED = "ended"


class Asker(StrEnum):
    YOUTH = "youth"
    RELATIVE = "relative"


class Theme(StrEnum):
    SCHOOL = "school"
    FAMILY = "family"
    ADMINISTRATIVE = "administrative"
    LEGAL = "legal"
    HOUSING = "housing"
    HEALTH = "health"
    MONEY = "money"
    PROJECT = "project"
    OTHER = "other"


class ContactChannel(StrEnum):
    PORTAL = "portal"
    PHONE = "phone"
    SMS = "sms"
    EMAIL = "email"


class Dossier(Model):
    """What exists because its subject asked. Only the subject and assigned workers read it."""

    id = fields.IntField(primary_key=True)
    reference = fields.CharField(max_length=12, unique=True)
    service: fields.ForeignKeyRelation[Service] = fields.ForeignKeyField(
        "models.Service", related_name="dossiers", on_delete=fields.RESTRICT
    )
    service_id: int
    subject: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="dossiers", on_delete=fields.RESTRICT
    )
    subject_id: int
    status = fields.CharEnumField(DossierStatus, max_length=10, default=DossierStatus.WAITING)
    created_at = fields.DatetimeField(auto_now_add=True)
    opened_at = fields.DatetimeField(null=True)
    ended_at = fields.DatetimeField(null=True)
    # The per-dossier data key, wrapped by the server's master key; gone once erased.
    wrapped_key = fields.BinaryField(null=True)
    erased_at = fields.DatetimeField(null=True)
    # The last step (not a mere look) taken in the dossier, for the team's list.
    last_activity_at = fields.DatetimeField(null=True)
    # How far in its journal the subject has read, for the badge of what is new.
    subject_seen_seq = fields.IntField(default=0, db_default=0)
    # Why the subject ended the help, if they said (sealed with the dossier's key).
    end_reason = fields.TextField(default="", db_default="")
    # The journal's last entry and a MAC over it: deleting the newest entries shows.
    journal_seq = fields.IntField(default=0, db_default=0)
    journal_head = fields.CharField(max_length=64, default="", db_default="")

    class Meta:
        table = "dossier"
        indexes = (
            Index(fields=("service_id", "status", "created_at")),
            Index(fields=("subject_id",)),
        )


class Assignment(Model):
    """A worker following a dossier, from one time to another."""

    id = fields.IntField(primary_key=True)
    dossier: fields.ForeignKeyRelation[Dossier] = fields.ForeignKeyField(
        "models.Dossier", related_name="assignments", on_delete=fields.CASCADE
    )
    dossier_id: int
    worker: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="assignments", on_delete=fields.RESTRICT
    )
    worker_id: int
    assigned_at = fields.DatetimeField(auto_now_add=True)
    ended_at = fields.DatetimeField(null=True)

    class Meta:
        table = "assignment"
        indexes = (
            Index(fields=("dossier_id", "worker_id")),
            Index(fields=("worker_id", "ended_at")),
        )


class Request(Model):
    """What the subject asked, and how to reach them safely."""

    id = fields.IntField(primary_key=True)
    dossier: fields.ForeignKeyRelation[Dossier] = fields.ForeignKeyField(
        "models.Dossier", related_name="requests", on_delete=fields.CASCADE
    )
    dossier_id: int
    asker = fields.CharEnumField(Asker, max_length=10)
    # For a relative: when the young person concerned was born (month and year only).
    concerned_birth_year = fields.SmallIntField(null=True)
    concerned_birth_month = fields.SmallIntField(null=True)
    themes: fields.Field[list[str]] = fields.JSONField(default=list)
    words = fields.TextField(default="")
    contact_channel = fields.CharEnumField(ContactChannel, max_length=10)
    contact_details = fields.TextField(default="")
    # Sealed, like the words: longer than the 200 characters typed, hence no length here.
    contact_hours = fields.TextField(default="")
    no_voicemail = fields.BooleanField(default=False)
    others_read_messages = fields.BooleanField(default=False)
    # "It is urgent", ticked by the person asking: the inbox shows these first.
    urgent = fields.BooleanField(default=False, db_default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "request"


class RequestDraft(Model):
    """What someone typed in the request form before sending it, so a reload loses nothing.

    Sealed with a key only the browser's draft cookie holds: the server alone cannot read it.
    Dropped when the request is sent or found not eligible, and purged once expired.
    The other forms' drafts (a message, the words of coming back, a step) live here too, one
    row per browser, person and form (``portal.domain.drafts``).
    """

    id = fields.BigIntField(primary_key=True)
    key_hash = fields.CharField(max_length=64, unique=True)
    # The same for every draft of one browser (a hash of its cookie): sign-out and quick exit
    # drop them all at once.
    browser_hash = fields.CharField(max_length=64, default="")
    sealed = fields.TextField()
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "request_draft"
        indexes = (Index(fields=("browser_hash",)),)


class Message(Model):
    """A message between the subject and their workers."""

    id = fields.IntField(primary_key=True)
    dossier: fields.ForeignKeyRelation[Dossier] = fields.ForeignKeyField(
        "models.Dossier", related_name="messages", on_delete=fields.CASCADE
    )
    dossier_id: int
    author: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="messages", on_delete=fields.RESTRICT
    )
    author_id: int
    body = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "message"
        indexes = (Index(fields=("dossier_id", "created_at")),)
