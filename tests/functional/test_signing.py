"""The service's signing keys: published, rotated without breaking what they signed, sealed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from tortoise import connections

from portal import keys, proof
from portal.domain import signing
from portal.models import SigningKey
from portal.security.crypto import parse_master_key
from portal.settings import new_master_key
from tests.conftest import TEST_JOURNAL_KEY, TEST_MASTER_KEY, on_postgres

CLAIMS = {"dossier": "AB12-CD34", "seq": 3, "chain": "a" * 64}


async def _published(client: httpx.AsyncClient) -> dict[str, object]:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jwk-set+json")
    document = response.json()
    assert isinstance(document, dict)
    return document


async def test_the_first_signature_makes_the_key_and_anyone_checks_it_with_the_jwks(
    client: httpx.AsyncClient,
) -> None:
    assert (await _published(client)) == {"keys": []}
    token = await signing.sign(CLAIMS, proof.HEAD)
    published = await _published(client)
    assert proof.verify(token, published, proof.HEAD) == CLAIMS
    (key,) = published["keys"]  # type: ignore[misc]
    # Only the public half, as JOSE names it.
    assert set(key) == {"kty", "crv", "x", "kid", "use", "alg"}
    assert (key["kty"], key["crv"], key["alg"]) == ("OKP", "Ed25519", "EdDSA")
    row = await SigningKey.get()
    # The private half is stored sealed: the raw 32 bytes are nowhere in the row.
    assert row.sealed_private is not None and len(bytes(row.sealed_private)) > 32


async def test_after_a_rotation_old_signatures_still_check_and_the_old_key_signs_no_more(
    client: httpx.AsyncClient,
) -> None:
    old_token = await signing.sign(CLAIMS, proof.HEAD)
    old = await SigningKey.get()
    await signing.new_key()
    new_token = await signing.sign(CLAIMS, proof.HEAD)
    published = await _published(client)
    kids = [key["kid"] for key in published["keys"]]  # type: ignore[attr-defined]
    assert len(kids) == 2 and kids[1] == old.kid
    assert proof.verify(old_token, published, proof.HEAD) == CLAIMS
    assert proof.verify(new_token, published, proof.HEAD) == CLAIMS
    retired = await SigningKey.get(id=old.id)
    assert retired.retired_at is not None
    assert retired.sealed_private is None
    assert proof.extract_kid(new_token) != old.kid


async def test_a_token_changed_anywhere_or_signed_by_another_key_is_refused(db: str) -> None:
    token = await signing.sign(CLAIMS, proof.RECEIPT)
    published = await signing.jwks()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for place, char in enumerate(token):
        if char == ".":
            continue
        other = alphabet[(alphabet.index(char) + 1) % 64]
        changed = token[:place] + other + token[place + 1 :]
        with pytest.raises(proof.Refused):
            proof.verify(changed, published, proof.RECEIPT)
    stranger = proof.new_private_jwk()
    with pytest.raises(proof.Refused) as refused:
        proof.verify(proof.sign(CLAIMS, proof.RECEIPT, stranger), published, proof.RECEIPT)
    assert refused.value.reason == "unknown_key"
    # Another key under the published key's name: the signature does not hold.
    kid = published["keys"][0]["kid"]
    with pytest.raises(proof.Refused) as refused:
        forged = proof.sign(CLAIMS, proof.RECEIPT, {**stranger, "kid": kid})
        proof.verify(forged, published, proof.RECEIPT)
    assert refused.value.reason == "signature"
    # A head given as a receipt.
    with pytest.raises(proof.Refused) as refused:
        proof.verify(token, published, proof.HEAD)
    assert refused.value.reason == "kind"


async def test_a_new_master_key_rewraps_the_signing_key(db: str) -> None:
    await signing.sign(CLAIMS, proof.HEAD)
    old = keys.master_key()
    written = new_master_key()
    assert await signing.rewrap_all(old, parse_master_key(written)) == 1
    keys.configure(TEST_JOURNAL_KEY, written)
    try:
        token = await signing.sign(CLAIMS, proof.HEAD)
        assert proof.verify(token, await signing.jwks(), proof.HEAD) == CLAIMS
    finally:
        keys.configure(TEST_JOURNAL_KEY, TEST_MASTER_KEY)


async def test_the_commands_make_then_rotate_the_key(
    db: str, database: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "JOURNAL_KEY": TEST_JOURNAL_KEY,
        "MASTER_KEY": TEST_MASTER_KEY,
        "PORTAL_VAR_DIR": str(tmp_path),
        "SECRET_KEY": "s" * 40,
    }

    def run(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "portal", command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    first = await asyncio.to_thread(run, "new-signing-key")
    assert first.returncode == 0, first.stderr
    (made,) = await SigningKey.all()
    assert made.kid in first.stdout
    again = await asyncio.to_thread(run, "new-signing-key")
    assert again.returncode == 0 and "already" in again.stdout
    assert await SigningKey.all().count() == 1
    rotated = await asyncio.to_thread(run, "rotate-signing-key")
    assert rotated.returncode == 0, rotated.stderr
    if not on_postgres():
        # This process's SQLite connection may read from a snapshot older than the command's
        # write (seen after a test that erased and checkpointed): read with a fresh one.
        await connections.get("default").close()
    assert await SigningKey.filter(retired_at__isnull=True).count() == 1
    assert (await SigningKey.get(id=made.id)).sealed_private is None
    assert "Traceback" not in rotated.stderr
