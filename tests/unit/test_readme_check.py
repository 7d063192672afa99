"""The README's standalone check says what ``proof.check_export`` says, on exports made here
with a key of the test's own (no database): down to a signature whose base64 differs only in
its spare bits."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

from portal import proof
from tests.journal_checks import by_proof, by_script

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _export(key: dict[str, Any], count: int) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    previous = proof.GENESIS
    for seq in range(1, count + 1):
        entry = {
            "dossier": "K7PX-Q2MR",
            "seq": seq,
            "at": f"2026-12-0{seq}T10:00:00.000000+00:00",
            "event": "message.sent",
            "actor": None if seq % 2 else 12,
            "details": {"message": seq, "mots": "déjà lu"},
        }
        previous = proof.chain_hash(previous, entry)
        entries.append({**entry, "chain": previous})
    claims = {
        "iss": "https://amo.example",
        "iat": 1_796_000_000 + count,
        "dossier": "K7PX-Q2MR",
        "seq": count,
        "chain": previous,
        "controller": "AMO Test",
    }
    return {"journal_proof": {"entries": entries, "head": proof.sign(claims, proof.HEAD, key)}}


def _same(folder: Path, export: Any, jwks: Any, earlier: Any = None) -> tuple[Any, Any]:
    verdict = by_proof(export, jwks, earlier)
    assert by_script(folder, export, jwks, earlier) == verdict
    return verdict


def _spare_bits_changed(segment: str) -> str:
    """The same bytes, written with other spare bits in the last character."""
    last = B64.index(segment[-1])
    for other in range(64):
        candidate = segment[:-1] + B64[other]
        if other != last and _decode(candidate) == _decode(segment):
            return candidate
    raise AssertionError("no spare bits")


def _decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def test_the_readme_script_agrees_with_the_portals_check(tmp_path: Path) -> None:
    key = proof.new_private_jwk()
    jwks = {"keys": [proof.public_jwk(key)]}
    older, newer = _export(key, 3), _export(key, 5)
    assert _same(tmp_path / "good", newer, jwks) == (None, None)
    assert _same(tmp_path / "earlier", newer, jwks, older) == (None, None)
    assert _same(tmp_path / "head", newer, jwks, older["journal_proof"]["head"]) == (None, None)

    changed = copy.deepcopy(newer)
    changed["journal_proof"]["entries"][1]["details"]["mots"] = "jamais lu"
    assert _same(tmp_path / "changed", changed, jwks) == ("chain", 2)

    token = newer["journal_proof"]["head"]
    header, claims, signature = token.split(".")
    respelled = copy.deepcopy(newer)
    respelled["journal_proof"]["head"] = ".".join([header, claims, _spare_bits_changed(signature)])
    assert _same(tmp_path / "spare", respelled, jwks) == ("signature", None)

    stranger = proof.new_private_jwk()
    assert _same(tmp_path / "stranger", _export(stranger, 5), jwks) == ("unknown_key", None)
    assert _same(tmp_path / "reverse", older, jwks, newer) == ("not_contained", 4)

    # A number written as 1.0 is not the entry numbered 1, for either check.
    floated = copy.deepcopy(newer)
    floated["journal_proof"]["entries"][0]["seq"] = 1.0
    assert _same(tmp_path / "float", floated, jwks) == ("chain", 1)

    # Another key published under the service's key's name is no key at all, for either.
    impostor = {**proof.public_jwk(stranger), "kid": key["kid"]}
    forged = _export({**stranger, "kid": key["kid"]}, 5)
    assert _same(tmp_path / "impostor", forged, {"keys": [impostor]}) == ("unknown_key", None)
    assert _same(tmp_path / "both", newer, {"keys": [impostor, *jwks["keys"]]}) == (None, None)
