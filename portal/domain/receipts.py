"""The consent receipt: what she agreed to, named as the standards name it, signed by the service.

A receipt is the Kantara Initiative Consent Receipt Specification v1.1 (``KI-CR-v1.1.0``)
with the fields of ISO/IEC TS 27560:2023 for what Kantara lacks (the receipt's and record's
identifiers, the recipient, how to withdraw, the state and its history), under the names the
DPVCG's guide to 27560 (https://w3id.org/dpv/guides/consent-27560) gives them. It leaves the
portal as a compact JWS (``proof.RECEIPT``): the receipt's fields plus ``iss``, ``iat``,
``aud`` ("partner:<id>", the partner it was given for) and ``jti``. ``proof.receipt_summary``
reads it back, with nothing but the receipt. docs/receipts.md says the same with examples.

| standard | its name | ours, the value we write |
|---|---|---|
| Kantara 1.1 | version | ``version``: "KI-CR-v1.1.0" |
| 27560 | schema_version | ``schema_version``: "ISO/IEC TS 27560:2023" |
| Kantara 1.1 | jurisdiction | ``jurisdiction``: "BE (Fédération Wallonie-Bruxelles)" |
| Kantara 1.1 | consentTimestamp | ``consentTimestamp``: when she agreed, epoch seconds (int) |
| Kantara 1.1 | collectionMethod | ``collectionMethod``: she chose and confirmed on the portal |
| Kantara 1.1 | consentReceiptID | ``consentReceiptID``: a new UUID-4 per receipt (= ``jti``) |
| 27560 | receipt_id | ``receipt_id``: the same UUID |
| 27560 | record_id | ``record_id``: a pseudonym of the consent (keyed hash), one per consent |
| Kantara 1.1 | publicKey | ``publicKey``: the signing key's public JWK, as a JSON string |
| Kantara 1.1 | language | left out (optional): it would tell the partner one more thing of her |
| Kantara 1.1 | piiPrincipalId | ``piiPrincipalId``: her pseudonym for this partner, no name |
| Kantara 1.1 | piiControllers[] | ``piiControllers``: the AMO (one) |
|   | .piiController | its name |
|   | .onBehalf | false: the AMO decides, nobody's processor |
|   | .contact | its name (a team, not a person) |
|   | .address / .email / .phone | as the operator keeps them for the service |
|   | .piiControllerUrl | the portal's origin |
| Kantara 1.1 | policyUrl | ``policyUrl``: origin + "/donnees" ("Your data") |
| Kantara 1.1 | services[].service | ``services[0].service``: the help of the AMO |
| Kantara 1.1 | .purposes[].purpose | her own words: what it is for |
|   | .purposeCategory | ["Support by a partner service she chose"] |
|   | .consentType | "EXPLICIT" |
|   | .piiCategory | the kinds of information she allowed (identity, request…) |
|   | .primaryPurpose | false: she is helped whether or not she agrees |
|   | .termination | the end date (ISO 8601) if any, else how it ends, in words |
|   | .thirdPartyDisclosure | true |
|   | .thirdPartyName | the partner's name, as copied when she agreed |
| Kantara 1.1 | sensitive | ``sensitive``: true (youth aid, a minor's data) |
| Kantara 1.1 | spiCat | ``spiCat``: per kind of information, see ``SENSITIVE`` |
| 27560 | recipient_third_parties | the partner: ``party_name``, ``codes_of_conduct``, and |
|   |   | ``promised`` (ours: its promises as copied, with ``copied_at``) |
| 27560 | withdrawal_method | where she takes it back (her space on the portal) |
| 27560 | events[] | the history, oldest first; the newest is the state |
|   | .event_time | ISO 8601, UTC |
|   | .validity_duration | ISO 8601 duration when given for a while ("P1M"), else null |
|   | .entity_id | who: her ``piiPrincipalId``, or the AMO's name |
|   | .event_type | "dpv:ExplicitlyExpressedConsent" |
|   | .event_state | "dpv:ConsentGiven", "dpv:ConsentWithdrawn", "dpv:ConsentExpired" |
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise import timezone
from tortoise.transactions import in_transaction

from portal import keys, proof
from portal.domain import consent as consent_rules
from portal.domain import journal, signing
from portal.domain.errors import NotFound
from portal.domain.journal import Event
from portal.domain.partners import PROMISED, promises_changed
from portal.models import Consent, Dossier, JournalEntry, Partner, Person, Role, Service, Share

VERSION = "KI-CR-v1.1.0"
SCHEMA_VERSION = "ISO/IEC TS 27560:2023"
# The country as ISO 3166-1 writes it, then the authority in words: youth aid is a matter of
# the French-speaking Community, which has no ISO 3166-2 code (BE-WAL, BE-BRU are regions).
JURISDICTION = "BE (Fédération Wallonie-Bruxelles)"
COLLECTION_METHOD = (
    "Web portal: the young person (or parent) chose the partner, the kinds of information, "
    "the purpose and the duration herself, saw them again and confirmed"
)
SERVICE = "Aide en milieu ouvert (AMO): youth aid she asked for"
PURPOSE_CATEGORY = "Support by a partner service she chose"
CONSENT_TYPE = "EXPLICIT"
EVENT_TYPE = "dpv:ExplicitlyExpressedConsent"
POLICY_PATH = "/donnees"
YOUTH_CODE = "Code de déontologie de l'aide à la jeunesse"

# Why every receipt is sensitive (Kantara ``spiCat``), by kind of information: that someone is
# helped in youth aid, and is a minor, shows in anything shared; what she writes, her messages,
# the steps and the documents are free text and files, which can tell of health or of an
# offence (GDPR art. 9 and 10) whatever she meant to tell.
YOUTH_AID = "Youth aid: that the person is helped by an AMO"
MINOR = "A child's data (GDPR recital 38)"
SPECIAL = "Special categories, as free text or files may reveal them (GDPR art. 9)"
OFFENCES = "Offences, as free text or files may reveal them (GDPR art. 10)"
SENSITIVE: dict[str, tuple[str, ...]] = {
    "identity": (YOUTH_AID, MINOR),
    "request": (YOUTH_AID, MINOR, SPECIAL, OFFENCES),
    "actions": (YOUTH_AID, MINOR, SPECIAL, OFFENCES),
    "messages": (YOUTH_AID, MINOR, SPECIAL, OFFENCES),
    "items": (YOUTH_AID, MINOR, SPECIAL, OFFENCES),
    "documents": (YOUTH_AID, MINOR, SPECIAL, OFFENCES),
}
HISTORY = (Event.CONSENT_GRANTED, Event.CONSENT_REVOKED, Event.CONSENT_EXPIRED)


@dataclass(frozen=True)
class Promised:
    """What the partner promised when she agreed, read like a directory entry by the pages."""

    name: str
    sector: str
    bound_by_secrecy: bool
    secrecy_note: str
    secrecy_note_nl: str
    secrecy_note_en: str
    ethics_code: str
    ethics_code_nl: str
    ethics_code_en: str
    adheres_youth_code: bool
    copied_at: datetime | None
    # Copied when the portal started keeping it (migration 0023), not on the day she agreed.
    copied_after_agreement: bool
    # The promises the directory states otherwise today.
    changed_since: list[str]


def promised_of(consent: Consent, partner: Partner) -> Promised:
    """The copy kept with the consent; the directory's today for what it lacks."""
    kept: dict[str, Any] = dict(consent.promised or {})
    values = {field: kept.get(field, getattr(partner, field)) for field in PROMISED}
    values["sector"] = str(getattr(values["sector"], "value", values["sector"]))
    copied = kept.get("copied_at")
    return Promised(
        **values,
        copied_at=datetime.fromisoformat(copied) if isinstance(copied, str) else None,
        copied_after_agreement=bool(kept.get("copied_after_agreement")) or not kept,
        changed_since=promises_changed(kept, partner),
    )


@dataclass(frozen=True)
class Step:
    """One event of a consent's history: given, withdrawn, expired; when, and by whom."""

    state: str
    at: datetime
    by_subject: bool


@dataclass(frozen=True)
class Receipt:
    """A consent's receipt: the consent, as its pages show it, and the claims that are signed."""

    dossier: Dossier
    consent: Consent
    promised: Promised
    steps: list[Step]
    claims: dict[str, Any]
    summary: proof.ReceiptSummary

    async def signed(self) -> str:
        """The compact JWS a person downloads."""
        return await signing.sign(self.claims, proof.RECEIPT)


async def for_subject(subject: Person, reference: str, consent_id: int, origin: str) -> Receipt:
    """Her own consent's receipt: the subject of its dossier only, anyone else NotFound."""
    dossier, consent = await consent_rules.consent_of(subject, reference, consent_id)
    return await _receipt(dossier, consent, consent.dossier.service, origin)


async def for_partner(partner_user: Person, share_id: int, origin: str) -> Receipt:
    """The receipt of the consent a share was made under, for a user of the partner it was
    made for, under the rule of reading the share: its consent active (else ``Withdrawn``),
    and the look written in the young person's journal."""
    if partner_user.role is not Role.PARTNER or partner_user.partner_id is None:
        raise NotFound("partner users only")
    async with in_transaction():
        found = (
            await Share.filter(id=share_id, partner_id=partner_user.partner_id)
            .select_related("dossier__service", "consent")
            .first()
        )
        if found is None:
            raise NotFound("no such share")
        now = timezone.now()
        if not consent_rules.is_active(found.consent, now):
            raise consent_rules.withdrawn(found.consent)
        locked = await Dossier.select_for_update().get(id=found.dossier_id)
        # Checked again under the dossier's row: a revoke that just committed wins.
        consent = await Consent.filter(id=found.consent_id).select_related("partner").get()
        if not consent_rules.is_active(consent, now):
            raise consent_rules.withdrawn(consent)
        await journal.record(
            locked,
            Event.SHARE_READ,
            partner_user,
            {"share": found.id, "partner": found.partner_id, "receipt": consent.id},
        )
    keys.open_fields(keys.box(locked), [consent], "consent", ("purpose",))
    return await _receipt(locked, consent, found.dossier.service, origin)


def withdrawal_address(origin: str) -> str:
    """Where she takes it back: her space, once signed in ("Who sees what"). Not the consent's
    own address, which holds her dossier's reference: the partner's copy would carry it."""
    return f"{origin}/espace"


def pseudonym(kind: str, *parts: int) -> str:
    """A name for her (or her consent) that the AMO can recompute and nobody else can link:
    a keyed hash, so that two partners' receipts of one young person share nothing."""
    message = ":".join(["receipt", kind, *map(str, parts)]).encode()
    digest = hmac.new(keys.journal_key(), message, hashlib.sha256).digest()[:15]
    return base64.b32encode(digest).decode("ascii")


async def _receipt(dossier: Dossier, consent: Consent, service: Service, origin: str) -> Receipt:
    promised = promised_of(consent, consent.partner)
    steps = await history(dossier, consent)
    claims = build(
        dossier,
        consent,
        service,
        promised,
        steps,
        origin=origin,
        withdraw_url=withdrawal_address(origin),
        public_key=await _public_key(),
    )
    return Receipt(dossier, consent, promised, steps, claims, proof.receipt_summary(claims))


async def _public_key() -> str:
    """The public half of the key that signs now, as a JWK (the first signature makes it)."""
    published = (await signing.jwks())["keys"]
    if not published:
        await signing.new_key()
        published = (await signing.jwks())["keys"]
    return proof.canonical(published[0]).decode("ascii")


async def history(dossier: Dossier, consent: Consent) -> list[Step]:
    """From the consent itself (its times are the truth) and its journal entries (who)."""
    entries = await JournalEntry.filter(dossier_id=dossier.id, event__in=list(HISTORY)).order_by(
        "seq"
    )
    who = {
        entry.event: entry.actor_id
        for entry in entries
        if entry.details.get("consent") == consent.id
    }
    # Only she grants (her own dossier); a revoke is hers, or the AMO's when the help ends.
    steps = [Step(proof.GIVEN, consent.granted_at, True)]
    if consent.expires_at is not None and consent.expires_at <= timezone.now():
        steps.append(Step(proof.EXPIRED, consent.expires_at, False))
    if consent.revoked_at is not None:
        by = who.get(Event.CONSENT_REVOKED)
        steps.append(Step(proof.WITHDRAWN, consent.revoked_at, by == dossier.subject_id))
    return sorted(steps, key=lambda step: step.at)


def _duration(consent: Consent) -> str | None:
    """The time it was given for, as ISO 8601 says a duration: "P1M", "P3M", or in days."""
    if consent.expires_at is None:
        return None
    for months in (1, 3):
        if consent_rules.add_months(consent.granted_at, months) == consent.expires_at:
            return f"P{months}M"
    days = max(1, round((consent.expires_at - consent.granted_at) / timedelta(days=1)))
    return f"P{days}D"


def _termination(consent: Consent) -> str:
    if consent.expires_at is not None:
        return consent.expires_at.isoformat(timespec="seconds")
    if consent.until_end_of_help:
        return "When the help of the AMO ends, or sooner when she takes it back"
    return "When she takes it back"


def build(
    dossier: Dossier,
    consent: Consent,
    service: Service,
    promised: Promised,
    steps: list[Step],
    *,
    origin: str,
    withdraw_url: str,
    public_key: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The receipt's claims, every field named as its standard names it (see the table)."""
    now = now or timezone.now()
    receipt_id = str(uuid.uuid4())
    # Neither her name (identity is a kind of information she may withhold) nor her dossier's
    # reference (one number across every partner): a pseudonym the AMO can recompute, the same
    # for one partner's receipts of her, another for another partner.
    principal = pseudonym("principal", dossier.id, consent.partner_id)
    categories = list(consent.categories)
    sensitive = list(dict.fromkeys(c for k in categories for c in SENSITIVE.get(k, ())))
    codes = [promised.ethics_code] if promised.ethics_code else []
    if promised.adheres_youth_code:
        codes.append(YOUTH_CODE)
    return {
        "version": VERSION,
        "schema_version": SCHEMA_VERSION,
        "jurisdiction": JURISDICTION,
        "consentTimestamp": int(consent.granted_at.timestamp()),
        "collectionMethod": COLLECTION_METHOD,
        "consentReceiptID": receipt_id,
        "receipt_id": receipt_id,
        "record_id": pseudonym("record", consent.id),
        "publicKey": public_key,
        "piiPrincipalId": principal,
        "piiControllers": [
            {
                "piiController": service.name,
                "onBehalf": False,
                "contact": service.name,
                "address": service.address,
                "email": service.email,
                "phone": service.phone,
                "piiControllerUrl": origin,
            }
        ],
        "policyUrl": origin + POLICY_PATH,
        "services": [
            {
                "service": SERVICE,
                "purposes": [
                    {
                        "purpose": consent.purpose,
                        "purposeCategory": [PURPOSE_CATEGORY],
                        "consentType": CONSENT_TYPE,
                        "piiCategory": categories,
                        "primaryPurpose": False,
                        "termination": _termination(consent),
                        "thirdPartyDisclosure": True,
                        "thirdPartyName": promised.name,
                    }
                ],
            }
        ],
        "sensitive": True,
        "spiCat": sensitive,
        "recipient_third_parties": [
            {
                "party_name": promised.name,
                "codes_of_conduct": codes,
                "promised": {
                    **{field: getattr(promised, field) for field in PROMISED},
                    "copied_at": promised.copied_at.isoformat() if promised.copied_at else None,
                    "copied_after_agreement": promised.copied_after_agreement,
                },
            }
        ],
        "withdrawal_method": withdraw_url,
        "events": [
            {
                "event_time": step.at.isoformat(timespec="seconds"),
                "validity_duration": _duration(consent) if step.state == proof.GIVEN else None,
                "entity_id": principal if step.by_subject else service.name,
                "event_type": EVENT_TYPE,
                "event_state": step.state,
            }
            for step in steps
        ],
        "iss": origin,
        "iat": int(now.timestamp()),
        "aud": f"partner:{consent.partner_id}",
        "jti": receipt_id,
    }
