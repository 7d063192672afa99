"""The journal: every action taken in a dossier and every look at it, chained by MACs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

if TYPE_CHECKING:
    from portal.models.accounts import Person
    from portal.models.dossiers import Dossier


class JournalEntry(Model):
    """One step or look in a dossier's journal: append-only, each entry chained to the last."""

    id = fields.BigIntField(primary_key=True)
    dossier: fields.ForeignKeyRelation[Dossier] = fields.ForeignKeyField(
        "models.Dossier", related_name="journal", on_delete=fields.RESTRICT
    )
    dossier_id: int
    seq = fields.IntField()
    actor: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="journal_entries", null=True, on_delete=fields.RESTRICT
    )
    actor_id: int | None
    event = fields.CharField(max_length=40)
    at = fields.DatetimeField()
    details: fields.Field[dict[str, object]] = fields.JSONField(default=dict)
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64)
    # The plain SHA-256 chain (``proof.chain_hash``) over the entry as her export gives it:
    # the MAC needs the server's key to check, this needs only the entries.
    chain = fields.CharField(max_length=64, default="", db_default="")

    class Meta:
        table = "journal_entry"
        unique_together = (("dossier", "seq"),)
        indexes = (Index(fields=("dossier_id", "at")),)
