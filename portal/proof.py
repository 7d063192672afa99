"""Checking what the portal signed, with public things only: nothing here reads the database.

Two kinds of proof leave the portal, each a JWS (compact, Ed25519, ``alg: EdDSA``) signed with
the key whose public half ``/.well-known/jwks.json`` publishes:

- a consent receipt (``typ: consent-receipt+jwt``): its claims are the receipt, its ``aud`` the
  partner it was given for;
- a journal head (``typ: journal-head+jwt``): the dossier, the number of its newest entry, the
  plain chain hash of that entry, and when it was signed.

The chain is plain SHA-256, beside the keyed MACs the server checks: anyone holding the entries
of an export recomputes it, and a head signed earlier fixes what the journal held then. The
page that checks, ``verify-journal`` and the short script the README gives all do what this
module does; the script is written again there, with ``cryptography`` alone, for whoever
trusts neither the portal nor this code.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

RECEIPT = "consent-receipt+jwt"
HEAD = "journal-head+jwt"
ALGORITHM = "EdDSA"
# Before any entry, the chain starts from this.
GENESIS = "0" * 64
# What a check reads at most: a token (a receipt is a few kilobytes), an export's entries.
MAX_TOKEN = 64 * 1024
MAX_ENTRIES = 200_000
# What an entry holds, as the export gives it and the chain covers it.
ENTRY_FIELDS = ("dossier", "seq", "at", "event", "actor", "details")


class Refused(Exception):
    """What was given is not what the portal signed, or not for this; ``reason`` says which.

    Reasons: ``malformed`` (not a token, or not JSON where JSON is needed), ``unknown_key``
    (signed by a key the service never published), ``signature`` (changed, or signed by
    another key), ``kind`` (a head given as a receipt, or the reverse), ``audience`` (given
    for another partner), ``chain`` (an entry does not hash to what follows it), ``head`` (the
    entries do not end where the signed head says), ``dossier`` (another dossier's head),
    ``not_contained`` (the newer journal lost or changed what the older head fixed).
    """

    def __init__(self, reason: str, seq: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.seq = seq


def canonical(value: Any) -> bytes:
    """The one byte form of a JSON value that is hashed: sorted keys, no spaces, ASCII."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def chain_hash(previous: str, entry: Mapping[str, Any]) -> str:
    """The chain hash of an entry: SHA-256 over the previous one and the entry's fields."""
    fields = {name: entry[name] for name in ENTRY_FIELDS}
    return hashlib.sha256(previous.encode("ascii") + b"\n" + canonical(fields)).hexdigest()


def key_set(jwks: Mapping[str, Any]) -> dict[str, OKPKey]:
    """The Ed25519 public keys of a JWKS document, by ``kid``; anything else is left out."""
    found: dict[str, OKPKey] = {}
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        raise Refused("malformed")
    for item in keys:
        if not isinstance(item, dict) or item.get("kty") != "OKP" or item.get("crv") != "Ed25519":
            continue
        kid, x = item.get("kid"), item.get("x")
        if not isinstance(kid, str) or not isinstance(x, str) or "d" in item:
            continue
        try:
            key = OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": x})
        except (JoseError, ValueError, TypeError):
            continue
        # A key's name is its RFC 7638 thumbprint: no other key can be published under the
        # name of one that signed what she holds.
        if key.thumbprint() == kid:
            found[kid] = key
    return found


def verify(token: str, jwks: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The claims of a token of ``kind`` signed by one of the keys of ``jwks``; else Refused."""
    if not isinstance(token, str):
        raise Refused("malformed")
    token = token.strip()
    if not token or len(token) > MAX_TOKEN or not token.isascii() or token.count(".") != 2:
        raise Refused("malformed")
    keys = key_set(jwks)
    try:
        header = jws.extract_compact(token.encode()).protected
    except (JoseError, ValueError, TypeError, UnicodeDecodeError):
        raise Refused("malformed") from None
    if not isinstance(header, dict) or header.get("alg") != ALGORITHM:
        raise Refused("malformed")
    kid = header.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise Refused("unknown_key")
    try:
        with warnings.catch_warnings():
            # joserfc 1.8 warns that "EdDSA" is to be named "Ed25519" (RFC 9864); the name
            # every verifier reads today is still "EdDSA".
            warnings.filterwarnings("ignore", message="EdDSA is deprecated")
            verified = jws.deserialize_compact(token, key, algorithms=[ALGORITHM])
    except (JoseError, ValueError, TypeError):
        raise Refused("signature") from None
    if header.get("typ") != kind:
        raise Refused("kind")
    try:
        claims = json.loads(verified.payload)
    except (ValueError, UnicodeDecodeError):
        raise Refused("malformed") from None
    if not isinstance(claims, dict):
        raise Refused("malformed")
    return claims


def extract_kid(token: str) -> str | None:
    """The ``kid`` a token names, unchecked: to say which key signed it."""
    try:
        header = jws.extract_compact(token.strip().encode()).protected
    except (JoseError, ValueError, TypeError, UnicodeDecodeError):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


def sign(claims: Mapping[str, Any], kind: str, private_jwk: Mapping[str, Any]) -> str:
    """A compact JWS of ``claims``; the key is a private Ed25519 JWK with its ``kid``."""
    key = OKPKey.import_key(dict(private_jwk))
    header = {"alg": ALGORITHM, "typ": kind, "kid": private_jwk["kid"]}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="EdDSA is deprecated")
        return jws.serialize_compact(header, canonical(dict(claims)), key, algorithms=[ALGORITHM])


def new_private_jwk() -> dict[str, Any]:
    """A new Ed25519 key as a private JWK, its ``kid`` the RFC 7638 thumbprint."""
    key = OKPKey.generate_key("Ed25519", private=True)
    return {**key.as_dict(private=True), "kid": key.thumbprint()}


def public_jwk(private_jwk: Mapping[str, Any]) -> dict[str, Any]:
    """What ``/.well-known/jwks.json`` publishes of a key."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": private_jwk["x"],
        "kid": private_jwk["kid"],
        "use": "sig",
        "alg": ALGORITHM,
    }


# --- Receipts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptCheck:
    """A receipt that checked out, and what it says."""

    claims: dict[str, Any]
    issued_at: datetime | None
    # As far as the receipt says, at ``when`` (the check's moment): given, not taken back,
    # not past its end. A later receipt, or the service, may know better.
    active: bool


def check_receipt(
    token: str,
    jwks: Mapping[str, Any],
    audience: str | None = None,
    when: datetime | None = None,
) -> ReceiptCheck:
    """Check a consent receipt; ``audience``: the partner who checks it must be its ``aud``."""
    claims = verify(token, jwks, RECEIPT)
    if audience is not None and claims.get("aud") != audience:
        raise Refused("audience")
    return ReceiptCheck(claims, instant(claims.get("iat")), receipt_active(claims, when))


def receipt_active(claims: Mapping[str, Any], when: datetime | None = None) -> bool:
    """Whether the receipt says its consent holds at ``when``: its newest event's state is
    given, and its end (a purpose's ``termination`` as a date, if any) is still to come."""
    when = when or datetime.now(UTC)
    try:
        summary = receipt_summary(claims)
    except Refused:
        return False
    return summary.state == "given" and (summary.ends_at is None or summary.ends_at > when)


# The states of a consent, as an ISO/IEC TS 27560 ``event_state`` names them (the DPV concepts
# the DPVCG's guide to the standard uses), and the plain word a summary gives for each.
GIVEN = "dpv:ConsentGiven"
WITHDRAWN = "dpv:ConsentWithdrawn"
EXPIRED = "dpv:ConsentExpired"
STATES = {GIVEN: "given", WITHDRAWN: "revoked", EXPIRED: "expired"}


@dataclass(frozen=True)
class ReceiptSummary:
    """What a receipt says, in the few words a check page shows.

    ``state``: ``given``, ``revoked``, ``expired`` (its newest event), or ``unknown`` when it
    records none. ``ends_at``: when it was taken back or ran out, or the date it is due to end;
    None while it holds until she takes it back. ``promised``: what the partner promised, as
    copied when she agreed (empty when the receipt holds no such copy).
    """

    controller: str
    controller_contact: str
    partner: str
    purposes: list[str]
    categories: list[str]
    state: str
    granted_at: datetime | None
    ends_at: datetime | None
    promised: dict[str, Any]


def receipt_summary(claims: Any) -> ReceiptSummary:
    """Read a receipt's fields by the names the portal writes them with (see
    ``portal/domain/receipts.py``); a missing field reads as empty, a field of the wrong shape
    (an older format, a hostile one) is refused as ``malformed``, never anything else."""
    claims = _field(claims, None, Mapping)
    controllers = _field(claims, "piiControllers", list)
    controller = _field(controllers[0], None, Mapping) if controllers else {}
    contact = [_field(controller, name, str) for name in ("address", "phone", "email")]
    purposes: list[str] = []
    categories: list[str] = []
    partners: list[str] = []
    ends: list[datetime] = []
    for service in _field(claims, "services", list):
        for purpose in _field(_field(service, None, Mapping), "purposes", list):
            purpose = _field(purpose, None, Mapping)
            purposes.append(_field(purpose, "purpose", str))
            for category in _field(purpose, "piiCategory", list):
                category = _field(category, None, str)
                if category not in categories:
                    categories.append(category)
            partners.append(_field(purpose, "thirdPartyName", str))
            end = instant(_field(purpose, "termination", str))
            if end is not None:
                ends.append(end)
    third = _field(claims, "recipient_third_parties", list)
    party = _field(third[0], None, Mapping) if third else {}
    promised = _field(party, "promised", Mapping)
    events = [_field(event, None, Mapping) for event in _field(claims, "events", list)]
    state, granted_at = "unknown", None
    for event in events:
        named = _field(event, "event_state", str)
        at = instant(_field(event, "event_time", str))
        state = STATES.get(named, "unknown")
        if named == GIVEN and granted_at is None:
            granted_at = at
        if named in (WITHDRAWN, EXPIRED) and at is not None:
            ends.append(at)
    if granted_at is None:
        granted_at = instant(_field(claims, "consentTimestamp", int, 0) or None)
    return ReceiptSummary(
        controller=_field(controller, "piiController", str),
        controller_contact=" · ".join(part for part in contact if part),
        partner=_field(party, "party_name", str) or next((p for p in partners if p), ""),
        purposes=[p for p in purposes if p],
        categories=categories,
        state=state,
        granted_at=granted_at,
        ends_at=min(ends) if ends else None,
        promised=dict(promised),
    )


def _field(container: Any, name: str | None, kind: type, default: Any = None) -> Any:
    """``container[name]`` (or the container itself when ``name`` is None) when it is of
    ``kind``; absent or null, an empty one; anything else is ``malformed``."""
    if name is None:
        value = container
    elif not isinstance(container, Mapping):
        raise Refused("malformed")
    else:
        value = container.get(name)
    if value is None:
        if default is not None:
            return default
        return {} if kind is Mapping else kind()
    if isinstance(value, bool) and kind is not bool:
        raise Refused("malformed")
    if not isinstance(value, kind):
        raise Refused("malformed")
    return value


def instant(value: Any) -> datetime | None:
    """A moment as a receipt writes it (ISO 8601, or Unix seconds); None if it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        if isinstance(value, str):
            moment = datetime.fromisoformat(value)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):
        return None


# --- Journals -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    """A signed journal head: dossier, newest entry's number and chain hash, signed when."""

    dossier: str
    seq: int
    chain: str
    signed_at: datetime | None
    claims: dict[str, Any]


def check_head(token: str, jwks: Mapping[str, Any]) -> Head:
    claims = verify(token, jwks, HEAD)
    dossier, seq, chain = claims.get("dossier"), claims.get("seq"), claims.get("chain")
    if (
        not isinstance(dossier, str)
        or isinstance(seq, bool)
        or not isinstance(seq, int)
        or seq < 0
        or not isinstance(chain, str)
        or len(chain) != 64
    ):
        raise Refused("malformed")
    return Head(dossier, seq, chain, instant(claims.get("iat")), claims)


def chain_of(entries: Any) -> list[str]:
    """The chain hash after each entry, checking that they are numbered 1, 2, 3 … of one
    dossier and that each hash given beside an entry is the one computed."""
    if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
        raise Refused("malformed")
    hashes: list[str] = []
    previous = GENESIS
    dossier: Any = None
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or any(name not in entry for name in ENTRY_FIELDS):
            raise Refused("malformed", number)
        if type(entry["seq"]) is not int or entry["seq"] != number:
            raise Refused("chain", number)
        if dossier is None:
            dossier = entry["dossier"]
        elif entry["dossier"] != dossier:
            raise Refused("chain", number)
        try:
            previous = chain_hash(previous, entry)
        except (RecursionError, ValueError, TypeError):
            # Nested deeper than JSON is walked here, or not JSON at all: not made by a portal.
            raise Refused("malformed", number) from None
        given = entry.get("chain")
        if given is not None and given != previous:
            raise Refused("chain", number)
        hashes.append(previous)
    return hashes


@dataclass(frozen=True)
class JournalCheck:
    """An export whose entries end at its signed head; with an earlier head, contained in it."""

    head: Head
    entries: int
    earlier: Head | None = None


def check_export(
    export: Mapping[str, Any],
    jwks: Mapping[str, Any],
    earlier: str | Mapping[str, Any] | None = None,
) -> JournalCheck:
    """Check an export's journal against its own signed head; then, given an earlier head (its
    token) or a whole earlier export, that this journal still holds the earlier entries
    unchanged. With a whole earlier export, a refusal names the first entry that differs."""
    head, entries, hashes = _journal(export, jwks)
    older = None
    if earlier is not None:
        if isinstance(earlier, Mapping):
            older, old_entries, _ = _journal(earlier, jwks)
        else:
            older, old_entries = check_head(earlier, jwks), None
        if older.dossier != head.dossier:
            raise Refused("dossier")
        if older.seq > head.seq or (hashes[older.seq - 1] if older.seq else GENESIS) != older.chain:
            raise Refused("not_contained", _first_difference(old_entries, entries, older.seq))
    return JournalCheck(head, len(hashes), older)


def _journal(export: Any, jwks: Mapping[str, Any]) -> tuple[Head, list[Any], list[str]]:
    proof = export.get("journal_proof") if isinstance(export, Mapping) else None
    if not isinstance(proof, Mapping) or not isinstance(proof.get("head"), str):
        raise Refused("malformed")
    head = check_head(proof["head"], jwks)
    entries = proof.get("entries")
    if not isinstance(entries, list):
        raise Refused("malformed")
    hashes = chain_of(entries)
    if entries and entries[0]["dossier"] != head.dossier:
        raise Refused("dossier")
    if len(hashes) != head.seq or (hashes[-1] if hashes else GENESIS) != head.chain:
        raise Refused("head", head.seq)
    return head, entries, hashes


def _first_difference(old: list[Any] | None, new: list[Any], count: int) -> int | None:
    """The first of the ``count`` earlier entries the newer journal lost or holds changed."""
    if old is None:
        return None
    for number in range(1, count + 1):
        if number > len(new) or {k: old[number - 1][k] for k in ENTRY_FIELDS} != {
            k: new[number - 1][k] for k in ENTRY_FIELDS
        }:
            return number
    return None


def parse_json(text: str | bytes) -> Any:
    """JSON given to a check, refused as ``malformed`` when it is not."""
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Refused("malformed") from None
