"""The service signs what it gives away as proof: consent receipts and journal heads.

One key signs at a time; a rotation retires it, destroys its private half and keeps its
public half published (``/.well-known/jwks.json``), so that every receipt and head signed
before still checks. The private half is kept sealed with the master key, bound to its row;
a database copy alone signs nothing.
"""

from __future__ import annotations

import base64
from typing import Any

from tortoise import timezone
from tortoise.transactions import in_transaction

from portal import keys, proof
from portal.models import SigningKey
from portal.security.crypto import unwrap, wrap

PURPOSE = "signing-key"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def _active() -> SigningKey | None:
    return await SigningKey.filter(retired_at__isnull=True).order_by("-id").first()


async def new_key() -> SigningKey:
    """Make a key and make it the one that signs; the one before, if any, is retired."""
    private = proof.new_private_jwk()
    async with in_transaction():
        await SigningKey.filter(retired_at__isnull=True).update(
            retired_at=timezone.now(), sealed_private=None
        )
        row = await SigningKey.create(kid=private["kid"], public=private["x"])
        row.sealed_private = wrap(keys.master_key(), row.id, _unb64(private["d"]), PURPOSE)
        await row.save(update_fields=["sealed_private"])
    return row


async def sign(claims: dict[str, Any], kind: str) -> str:
    """``claims`` as a JWS of ``kind`` (``proof.RECEIPT``, ``proof.HEAD``), signed by the
    active key; the very first signature makes the first key."""
    row = await _active()
    if row is None or row.sealed_private is None:
        row = await new_key()
    secret = unwrap(keys.master_key(), row.id, bytes(row.sealed_private or b""), PURPOSE)
    private = {"kty": "OKP", "crv": "Ed25519", "x": row.public, "d": _b64(secret), "kid": row.kid}
    return proof.sign(claims, kind, private)


async def jwks() -> dict[str, Any]:
    """Every key's public half, the active one first: what anyone checks a signature with."""
    rows = await SigningKey.all().order_by("-id").values_list("kid", "public")
    return {"keys": [proof.public_jwk({"kid": kid, "x": public}) for kid, public in rows]}


async def rewrap_all(old_master: bytes, new_master: bytes) -> int:
    """Master-key rotation: the active key's private half, sealed anew. The caller holds the
    transaction."""
    count = 0
    for row in await SigningKey.filter(sealed_private__isnull=False).select_for_update():
        secret = unwrap(old_master, row.id, bytes(row.sealed_private or b""), PURPOSE)
        sealed = wrap(new_master, row.id, secret, PURPOSE)
        await SigningKey.filter(id=row.id).update(sealed_private=sealed)
        count += 1
    return count
