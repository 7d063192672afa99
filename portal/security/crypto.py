"""Per-dossier encryption: every free text of a dossier is sealed with the dossier's own key.

The dossier key is wrapped by the server's master key and stored beside the dossier.
Erasing a dossier destroys its wrapped key: its texts, and every backup of them, can no
longer be read by anyone (crypto-shredding). Rotating the master key rewraps the dossier
keys and touches no text.
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# The master key's written form is a setting's: read and made there.
from portal.settings import new_master_key, parse_master_key

PREFIX = "enc1:"
KEY_ID_BYTES = 8
NONCE_BYTES = 12


class Erased(Exception):
    """The dossier's key is gone: its content cannot be read any more."""


class CryptoError(Exception):
    """A sealed value or a wrapped key does not open with the keys we have."""


def key_id(master: bytes) -> bytes:
    return hashlib.sha256(b"portal-master-key-id:" + master).digest()[:KEY_ID_BYTES]


def _aad(dossier_id: int, purpose: str) -> bytes:
    return f"portal:{purpose}:{dossier_id}".encode()


def wrap(master: bytes, owner_id: int, data_key: bytes, purpose: str = "dossier-key") -> bytes:
    """Seal a key with the master key, bound to what it is for (a dossier's key, by default;
    the service's signing key) and to its owner's row."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(master).encrypt(nonce, data_key, _aad(owner_id, purpose))
    return key_id(master) + nonce + sealed


def unwrap(master: bytes, owner_id: int, wrapped: bytes, purpose: str = "dossier-key") -> bytes:
    if wrapped[:KEY_ID_BYTES] != key_id(master):
        raise CryptoError("the key was wrapped by another master key")
    nonce = wrapped[KEY_ID_BYTES : KEY_ID_BYTES + NONCE_BYTES]
    try:
        return AESGCM(master).decrypt(
            nonce, wrapped[KEY_ID_BYTES + NONCE_BYTES :], _aad(owner_id, purpose)
        )
    except InvalidTag as error:
        raise CryptoError("the key does not open") from error


def rewrap(
    old: bytes, new: bytes, owner_id: int, wrapped: bytes, purpose: str = "dossier-key"
) -> bytes:
    return wrap(new, owner_id, unwrap(old, owner_id, wrapped, purpose), purpose)


class Box:
    """Seals and opens the texts of one dossier. Each text is bound to its place (AAD)."""

    def __init__(self, dossier_id: int, data_key: bytes) -> None:
        self.dossier_id = dossier_id
        self._aead = AESGCM(data_key)

    def seal(self, text: str, place: str) -> str:
        if text == "":
            return ""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, text.encode("utf-8"), _aad(self.dossier_id, place))
        return PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, value: str, place: str) -> str:
        if value == "":
            return ""
        if not value.startswith(PREFIX):
            raise CryptoError("not a sealed value")
        raw = base64.b64decode(value[len(PREFIX) :])
        try:
            plain = self._aead.decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(self.dossier_id, place)
            )
        except InvalidTag as error:
            raise CryptoError("a sealed value does not open") from error
        return plain.decode("utf-8")

    def seal_bytes(self, data: bytes, place: str) -> bytes:
        """Seal a file's bytes: the nonce then the ciphertext, raw (no text form to store)."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data, _aad(self.dossier_id, place))

    def open_bytes(self, sealed: bytes, place: str) -> bytes:
        try:
            return self._aead.decrypt(
                sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _aad(self.dossier_id, place)
            )
        except InvalidTag as error:
            raise CryptoError("sealed bytes do not open") from error


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


__all__ = ["new_master_key", "parse_master_key"]
