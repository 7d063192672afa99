"""A software WebAuthn authenticator that answers as a browser's ``credential.toJSON()`` would."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_AT = 0x40
AAGUID = bytes(16)
ORIGIN = "http://localhost:8000"
# A sentinel for "the user handle this authenticator stored at registration".
OWN_HANDLE = b"own"


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def b64(data: bytes) -> str:
    return bytes_to_base64url(data)


@dataclass
class SoftAuthenticator:
    """One discoverable ES256 credential with user verification, like a phone's passkey.

    ``counts``: the sign count goes up by one at each use; off, it stays 0 (synced passkeys).
    """

    sign_count: int = 1
    counts: bool = True
    key: ec.EllipticCurvePrivateKey = field(default_factory=new_key)
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    user_handle: bytes | None = None
    transports: list[str] = field(default_factory=lambda: ["internal", "hybrid"])
    # What to put in place of the COSE key, to send a broken one.
    broken_cose_key: bytes | None = None

    @property
    def id(self) -> str:
        return b64(self.credential_id)

    def cose_key(self) -> bytes:
        if self.broken_cose_key is not None:
            return self.broken_cose_key
        numbers = self.key.public_key().public_numbers()
        # kty EC2, alg ES256, crv P-256, x, y
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def authenticator_data(
        self, rp_id: str, *, uv: bool, sign_count: int, attested: bool = False
    ) -> bytes:
        flags = FLAG_UP | (FLAG_UV if uv else 0) | (FLAG_AT if attested else 0)
        data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags])
        data += sign_count.to_bytes(4, "big")
        if attested:
            data += AAGUID + len(self.credential_id).to_bytes(2, "big") + self.credential_id
            data += self.cose_key()
        return data

    def _next_count(self, sign_count: int | None) -> int:
        if sign_count is not None:
            return sign_count
        count = self.sign_count
        if self.counts:
            self.sign_count += 1
        return count if self.counts else 0

    def register(
        self,
        options_json: str,
        *,
        origin: str = ORIGIN,
        rp_id: str | None = None,
        uv: bool = True,
        sign_count: int | None = None,
        ceremony: str = "webauthn.create",
    ) -> str:
        """Answer navigator.credentials.create() with a "none" attestation."""
        options: dict[str, Any] = json.loads(options_json)
        self.user_handle = base64url_to_bytes(options["user"]["id"])
        client_data = client_data_json(ceremony, options["challenge"], origin)
        auth_data = self.authenticator_data(
            rp_id or options["rp"]["id"],
            uv=uv,
            sign_count=self._next_count(sign_count),
            attested=True,
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps(
            {
                "id": self.id,
                "rawId": self.id,
                "type": "public-key",
                "authenticatorAttachment": "platform",
                "clientExtensionResults": {},
                "response": {
                    "clientDataJSON": b64(client_data),
                    "attestationObject": b64(attestation),
                    "transports": self.transports,
                },
            }
        )

    def sign_in(
        self,
        options_json: str,
        *,
        origin: str = ORIGIN,
        rp_id: str | None = None,
        uv: bool = True,
        sign_count: int | None = None,
        user_handle: bytes | None = OWN_HANDLE,
        signing_key: ec.EllipticCurvePrivateKey | None = None,
        ceremony: str = "webauthn.get",
    ) -> str:
        """Answer navigator.credentials.get(): sign authenticatorData + sha256(clientDataJSON)."""
        options: dict[str, Any] = json.loads(options_json)
        rp = rp_id or options.get("rpId") or options["rp"]["id"]
        client_data = client_data_json(ceremony, options["challenge"], origin)
        auth_data = self.authenticator_data(rp, uv=uv, sign_count=self._next_count(sign_count))
        signature = (signing_key or self.key).sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        handle = self.user_handle if user_handle is OWN_HANDLE else user_handle
        response: dict[str, Any] = {
            "clientDataJSON": b64(client_data),
            "authenticatorData": b64(auth_data),
            "signature": b64(signature),
        }
        if handle is not None:
            response["userHandle"] = b64(handle)
        return json.dumps(
            {
                "id": self.id,
                "rawId": self.id,
                "type": "public-key",
                "authenticatorAttachment": "platform",
                "clientExtensionResults": {},
                "response": response,
            }
        )


def client_data_json(ceremony: str, challenge: str, origin: str) -> bytes:
    """clientDataJSON as Chromium serialises it."""
    data = {"type": ceremony, "challenge": challenge, "origin": origin, "crossOrigin": False}
    return json.dumps(data, separators=(",", ":")).encode()
