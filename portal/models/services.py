"""Services (the AMOs) and the partner organisations they work with."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

if TYPE_CHECKING:
    from portal.models.accounts import Person


class Sector(StrEnum):
    SAJ = "saj"
    SPJ = "spj"
    YOUTH_COURT = "youth_court"
    CPAS = "cpas"
    SCHOOL = "school"
    HEALTH = "health"
    YOUTH_ORGANISATION = "youth_organisation"
    MUNICIPAL = "municipal"
    OTHER_AMO = "other_amo"
    OTHER = "other"


class Category(StrEnum):
    """Kinds of information a subject may allow a partner to receive."""

    IDENTITY = "identity"
    REQUEST = "request"
    ACTIONS = "actions"
    MESSAGES = "messages"
    ITEMS = "items"
    DOCUMENTS = "documents"


class Service(Model):
    """An AMO. Every dossier and every worker belongs to exactly one."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    address = fields.CharField(max_length=300, default="")
    # French first; the Dutch and English versions when the operator wrote them.
    hours = fields.CharField(max_length=300, default="")
    hours_nl = fields.CharField(max_length=300, default="", db_default="")
    hours_en = fields.CharField(max_length=300, default="", db_default="")
    phone = fields.CharField(max_length=40, default="")
    email = fields.CharField(max_length=254, default="", db_default="")
    communes: fields.Field[list[str]] = fields.JSONField(default=list)
    response_days = fields.SmallIntField(default=3)
    created_at = fields.DatetimeField(auto_now_add=True)
    # The concertation's charter its members adhere to (shared professional secrecy), kept by
    # the service's admin: French first, Dutch and English when written.
    charter = fields.TextField(default="", db_default="")
    charter_nl = fields.TextField(default="", db_default="")
    charter_en = fields.TextField(default="", db_default="")

    class Meta:
        table = "service"


class Partner(Model):
    """An organisation of the directory that may receive what a young person allows."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    sector = fields.CharEnumField(Sector, max_length=30)
    communes: fields.Field[list[str]] = fields.JSONField(default=list)
    bound_by_secrecy = fields.BooleanField()
    # Each text a young person reads before consenting exists in French (the reference) and,
    # when the operator wrote them, in Dutch and English (see ``portal.i18n.in_language``).
    secrecy_note = fields.CharField(max_length=500, default="", db_default="")
    secrecy_note_nl = fields.CharField(max_length=500, default="", db_default="")
    secrecy_note_en = fields.CharField(max_length=500, default="", db_default="")
    ethics_code = fields.CharField(max_length=300, default="")
    ethics_code_nl = fields.CharField(max_length=300, default="", db_default="")
    ethics_code_en = fields.CharField(max_length=300, default="", db_default="")
    adheres_youth_code = fields.BooleanField(default=False)
    description = fields.TextField(default="")
    description_nl = fields.TextField(default="", db_default="")
    description_en = fields.TextField(default="", db_default="")
    contact = fields.CharField(max_length=300, default="")
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "partner"


class PartnerChange(Model):
    """A change of a partner's entry in the directory: who, when, and each field before and after.

    What a partner promises (secrecy, code of ethics, being active) is what a young person
    consents on; its history is kept for good.
    """

    id = fields.IntField(primary_key=True)
    partner: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "models.Partner", related_name="changes", on_delete=fields.CASCADE
    )
    partner_id: int
    changed_by: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="partner_changes", null=True, on_delete=fields.SET_NULL
    )
    changed_by_id: int | None
    at = fields.DatetimeField()
    # {field: [before, after]} for every field that changed.
    changes: fields.Field[dict[str, list[object]]] = fields.JSONField(default=dict)

    class Meta:
        table = "partner_change"
        indexes = (Index(fields=("partner_id", "at")),)


class ClosingPeriod(Model):
    """Days a service is closed (a summer week, a team day): not counted as working days.

    A removed period is kept with who removed it and when, so the admin's changes stay
    traceable; the working days ignore it.
    """

    id = fields.IntField(primary_key=True)
    service: fields.ForeignKeyRelation[Service] = fields.ForeignKeyField(
        "models.Service", related_name="closing_periods", on_delete=fields.CASCADE
    )
    service_id: int
    first_day = fields.DateField()
    last_day = fields.DateField()
    # One short label as the admin wrote it ("Fermeture d'été"): shown as written.
    label = fields.CharField(max_length=80, default="")
    created_by: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="closings_added", null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    created_at = fields.DatetimeField()
    removed_by: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="closings_removed", null=True, on_delete=fields.SET_NULL
    )
    removed_by_id: int | None
    removed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "closing_period"
        indexes = (Index(fields=("service_id", "last_day")),)
