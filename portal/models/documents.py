"""Documents: a photo or a PDF added to a message or a step, sealed with the dossier's key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

if TYPE_CHECKING:
    from portal.models.accounts import Person
    from portal.models.actions import Action, Share
    from portal.models.dossiers import Dossier, Message


class Document(Model):
    """A file of a dossier. Its bytes and its name are sealed: erasing the key erases them,
    and erasing the dossier deletes the row itself."""

    id = fields.IntField(primary_key=True)
    dossier: fields.ForeignKeyRelation[Dossier] = fields.ForeignKeyField(
        "models.Dossier", related_name="documents", on_delete=fields.CASCADE
    )
    dossier_id: int
    message: fields.ForeignKeyNullableRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name="documents", null=True, on_delete=fields.CASCADE
    )
    message_id: int | None
    action: fields.ForeignKeyNullableRelation[Action] = fields.ForeignKeyField(
        "models.Action", related_name="documents", null=True, on_delete=fields.CASCADE
    )
    action_id: int | None
    author: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="documents", on_delete=fields.RESTRICT
    )
    author_id: int
    # image/jpeg, image/png or application/pdf: what we stored, not what was sent.
    media_type = fields.CharField(max_length=40)
    size = fields.IntField()
    # Pages of a PDF; for a photo, its width and height once re-encoded.
    pages = fields.IntField(default=0)
    width = fields.IntField(default=0)
    height = fields.IntField(default=0)
    content = fields.BinaryField()
    name = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "document"
        indexes = (Index(fields=("dossier_id", "created_at")),)


class SharedDocument(Model):
    """A document sent with a share: the partner opens it while that share's consent holds."""

    id = fields.IntField(primary_key=True)
    share: fields.ForeignKeyRelation[Share] = fields.ForeignKeyField(
        "models.Share", related_name="documents", on_delete=fields.CASCADE
    )
    share_id: int
    document: fields.ForeignKeyRelation[Document] = fields.ForeignKeyField(
        "models.Document", related_name="shared", on_delete=fields.CASCADE
    )
    document_id: int

    class Meta:
        table = "shared_document"
        indexes = (Index(fields=("share_id",)), Index(fields=("document_id",)))
