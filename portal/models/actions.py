"""What is done for the young person: actions, and the consents and shares they need."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

if TYPE_CHECKING:
    from portal.models.accounts import Person
    from portal.models.dossiers import Dossier
    from portal.models.services import Partner


class ActionKind(StrEnum):
    LISTENING = "listening"
    INFORMATION = "information"
    ORIENTATION = "orientation"
    ACCOMPANIMENT = "accompaniment"
    CONCILIATION = "conciliation"
    FAMILY_SUPPORT = "family_support"
    SOCIO_EDUCATIONAL = "socio_educational"
    PARTNER_CONTACT = "partner_contact"
    INFORMATION_SHARED = "information_shared"
    CONCERTATION = "concertation"
    RELAY = "relay"


class ActionStatus(StrEnum):
    PROPOSED = "proposed"
    AGREED = "agreed"
    DECLINED = "declined"
    DONE = "done"
    CANCELLED = "cancelled"
    # Agreed, then the subject took the agreement back before it was done.
    WITHDRAWN = "withdrawn"


class Action(Model):
    """A step taken with or for the subject. Third-party steps need the subject's agreement."""

    id = fields.IntField(primary_key=True)
    dossier: fields.ForeignKeyRelation[Dossier] = fields.ForeignKeyField(
        "models.Dossier", related_name="actions", on_delete=fields.CASCADE
    )
    dossier_id: int
    kind = fields.CharEnumField(ActionKind, max_length=30)
    involves_third_party = fields.BooleanField()
    partner: fields.ForeignKeyNullableRelation[Partner] = fields.ForeignKeyField(
        "models.Partner", related_name="actions", null=True, on_delete=fields.RESTRICT
    )
    partner_id: int | None
    description = fields.TextField(default="")
    # Who else is involved, in the worker's words (the school, an aunt, a service). Sealed:
    # 200 characters become up to 1,100 once encrypted, so the column has no length.
    third_party = fields.TextField(default="", db_default="")
    status = fields.CharEnumField(ActionStatus, max_length=10)
    author: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="authored_actions", on_delete=fields.RESTRICT
    )
    author_id: int
    answer_reason = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    answered_at = fields.DatetimeField(null=True)
    done_at = fields.DatetimeField(null=True)

    class Meta:
        table = "action"
        indexes = (Index(fields=("dossier_id", "created_at")),)


class Consent(Model):
    """The subject's consent for one partner and some kinds of information. Never edited."""

    id = fields.IntField(primary_key=True)
    dossier: fields.ForeignKeyRelation[Dossier] = fields.ForeignKeyField(
        "models.Dossier", related_name="consents", on_delete=fields.CASCADE
    )
    dossier_id: int
    partner: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "models.Partner", related_name="consents", on_delete=fields.RESTRICT
    )
    partner_id: int
    categories: fields.Field[list[str]] = fields.JSONField(default=list)
    purpose = fields.TextField(default="")
    granted_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(null=True)
    until_end_of_help = fields.BooleanField(default=False)
    revoked_at = fields.DatetimeField(null=True)
    # Expiry needs no background job (a consent past its time is simply not active); the
    # journal entry for it is written the first time anyone looks after that moment.
    expiry_recorded = fields.BooleanField(default=False, db_default=False)
    # What the partner promised when she agreed (name, sector, secrecy, codes of ethics), copied
    # from the directory then with the moment of the copy: a later change of the directory
    # never changes what she agreed to. Empty only before it is written, in the same
    # transaction as the consent.
    promised: fields.Field[dict[str, object]] = fields.JSONField(default=dict, db_default="{}")

    class Meta:
        table = "consent"
        indexes = (Index(fields=("dossier_id", "partner_id")),)


class Share(Model):
    """What exactly was shared with which partner, under which consent."""

    id = fields.IntField(primary_key=True)
    dossier: fields.ForeignKeyRelation[Dossier] = fields.ForeignKeyField(
        "models.Dossier", related_name="shares", on_delete=fields.CASCADE
    )
    dossier_id: int
    partner: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "models.Partner", related_name="shares", on_delete=fields.RESTRICT
    )
    partner_id: int
    consent: fields.ForeignKeyRelation[Consent] = fields.ForeignKeyField(
        "models.Consent", related_name="shares", on_delete=fields.RESTRICT
    )
    consent_id: int
    categories: fields.Field[list[str]] = fields.JSONField(default=list)
    content = fields.TextField(default="")
    # For a concertation meeting or a relay: the step this share belongs to.
    action: fields.ForeignKeyNullableRelation[Action] = fields.ForeignKeyField(
        "models.Action", related_name="shares", null=True, on_delete=fields.RESTRICT
    )
    action_id: int | None
    shared_by: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="shares_made", on_delete=fields.RESTRICT
    )
    shared_by_id: int
    shared_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "share"


class ActionPartner(Model):
    """A partner taking part in a step: the several partners of a concertation meeting."""

    id = fields.IntField(primary_key=True)
    action: fields.ForeignKeyRelation[Action] = fields.ForeignKeyField(
        "models.Action", related_name="partners", on_delete=fields.CASCADE
    )
    action_id: int
    partner: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "models.Partner", related_name="action_links", on_delete=fields.RESTRICT
    )
    partner_id: int
    # Recorded afterwards: was this partner there.
    attended = fields.BooleanField(null=True)

    class Meta:
        table = "action_partner"
        unique_together = (("action", "partner"),)
