"""The service's signing keys: receipts and journal heads are signed with the active one."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class SigningKey(Model):
    """An Ed25519 key. Its public half is published for as long as the portal runs, so that
    what it signed still checks after a rotation; its private half, sealed with the master
    key, is destroyed when it is retired."""

    id = fields.IntField(primary_key=True)
    # The RFC 7638 thumbprint of the public key: the ``kid`` of what it signs.
    kid = fields.CharField(max_length=64, unique=True)
    # The public key, base64url as a JWK's ``x``.
    public = fields.CharField(max_length=64)
    sealed_private = fields.BinaryField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    retired_at = fields.DatetimeField(null=True)

    class Meta:
        table = "signing_key"
