"""The consent receipt: every field its standards require, named as they name them, signed; and
checked with public things only (the published keys, ``portal.proof``), never the database."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise import timezone

from portal import proof
from portal.domain import consent as rules
from portal.domain import receipts, signing
from portal.models import Consent, Dossier, Partner, Person
from tests import factories
from tests.conftest import TEST_JOURNAL_KEY, TEST_MASTER_KEY

ORIGIN = "https://portail.example"

# Kantara Consent Receipt v1.1 (required fields and their JSON types), then ISO/IEC TS 27560.
KANTARA: dict[str, type | tuple[type, ...]] = {
    "version": str,
    "jurisdiction": str,
    "consentTimestamp": int,
    "collectionMethod": str,
    "consentReceiptID": str,
    "publicKey": str,
    "piiPrincipalId": str,
    "piiControllers": list,
    "policyUrl": str,
    "services": list,
    "sensitive": bool,
    "spiCat": list,
}
CONTROLLER = {
    "piiController": str,
    "onBehalf": bool,
    "contact": str,
    "address": str,
    "email": str,
    "phone": str,
    "piiControllerUrl": str,
}
PURPOSE = {
    "purpose": str,
    "purposeCategory": list,
    "consentType": str,
    "piiCategory": list,
    "primaryPurpose": bool,
    "termination": str,
    "thirdPartyDisclosure": bool,
    "thirdPartyName": str,
}
ISO_27560 = {
    "schema_version": str,
    "receipt_id": str,
    "record_id": str,
    "recipient_third_parties": list,
    "withdrawal_method": str,
    "events": list,
}
EVENT = {
    "event_time": str,
    "validity_duration": (str, type(None)),
    "entity_id": str,
    "event_type": str,
    "event_state": str,
}


async def _world(duration: str = "1_month") -> tuple[Person, Dossier, Partner, Partner]:
    service = await factories.service("AMO Le Passage")
    service.address, service.phone, service.email = "Rue Haute 1, Namur", "081 00 00 00", "a@b.be"
    await service.save()
    amina = await factories.staff("amina", service_=service)
    lou = await factories.youth("lou", "Lou Martin")
    dossier = await factories.followed_dossier(amina, lou, service, "Mon secret")
    cpas = await factories.partner("CPAS de Namur")
    other = await factories.partner("Athénée", secrecy=False)
    await rules.grant(
        lou, dossier.reference, cpas.id, ["identity", "request"], duration, "Logement"
    )
    return lou, dossier, cpas, other


async def _receipt(lou: Person, dossier: Dossier) -> receipts.Receipt:
    consent = await Consent.filter(dossier_id=dossier.id).first()
    assert consent is not None
    return await receipts.for_subject(lou, dossier.reference, consent.id, ORIGIN)


async def _public_keys() -> dict[str, Any]:
    """The published keys, as anyone reads them: plain JSON, nothing else kept."""
    published: dict[str, Any] = json.loads(json.dumps(await signing.jwks()))
    assert all("d" not in key for key in published["keys"])
    return published


def _types(where: str, data: dict[str, Any], wanted: dict[str, Any]) -> None:
    for name, kind in wanted.items():
        assert name in data, f"{where}: {name} missing"
        assert isinstance(data[name], kind), f"{where}: {name} is {type(data[name])}"


async def test_every_required_field_is_there_named_as_the_standards_name_it(db: str) -> None:
    lou, dossier, cpas, _other = await _world()
    made = await _receipt(lou, dossier)
    claims = made.claims
    _types("receipt", claims, {**KANTARA, **ISO_27560})
    assert claims["version"] == "KI-CR-v1.1.0"
    assert claims["jurisdiction"] == "BE (Fédération Wallonie-Bruxelles)"
    assert claims["policyUrl"] == f"{ORIGIN}/donnees"
    # Nothing more of her than the partner needs: not even her language.
    assert "language" not in claims
    assert claims["consentReceiptID"] == claims["receipt_id"] == claims["jti"]
    assert claims["aud"] == f"partner:{cpas.id}" and claims["iss"] == ORIGIN
    assert isinstance(claims["iat"], int)
    # Neither her name (a partner may not have been allowed it) nor her dossier's reference (the
    # same for every partner): a pseudonym for this partner, another for another partner.
    assert claims["piiPrincipalId"] == receipts.pseudonym("principal", dossier.id, cpas.id)
    assert receipts.pseudonym("principal", dossier.id, _other.id) != claims["piiPrincipalId"]
    assert "Lou" not in json.dumps(claims)
    assert dossier.reference not in json.dumps(claims)
    (controller,) = claims["piiControllers"]
    _types("piiControllers[0]", controller, CONTROLLER)
    assert controller["piiController"] == "AMO Le Passage"
    assert (controller["address"], controller["phone"], controller["email"]) == (
        "Rue Haute 1, Namur",
        "081 00 00 00",
        "a@b.be",
    )
    (service,) = claims["services"]
    assert isinstance(service["service"], str)
    (purpose,) = service["purposes"]
    _types("purposes[0]", purpose, PURPOSE)
    assert purpose["purpose"] == "Logement"
    assert purpose["piiCategory"] == ["identity", "request"]
    assert purpose["thirdPartyName"] == "CPAS de Namur"
    assert purpose["consentType"] == "EXPLICIT" and purpose["thirdPartyDisclosure"] is True
    assert claims["sensitive"] is True and all(isinstance(c, str) for c in claims["spiCat"])
    assert receipts.MINOR in claims["spiCat"] and receipts.SPECIAL in claims["spiCat"]
    (given,) = claims["events"]
    _types("events[0]", given, EVENT)
    assert given["event_state"] == proof.GIVEN and given["validity_duration"] == "P1M"
    assert given["entity_id"] == claims["piiPrincipalId"]
    # The end, as a date the check reads.
    assert datetime.fromisoformat(purpose["termination"]) > timezone.now()
    (party,) = claims["recipient_third_parties"]
    assert party["party_name"] == "CPAS de Namur"
    assert party["promised"]["bound_by_secrecy"] is True
    assert isinstance(party["promised"]["copied_at"], str)
    # The public key it names is one anyone finds published.
    assert json.loads(claims["publicKey"]) in (await _public_keys())["keys"]


async def test_what_a_receipt_says_is_read_back_from_the_signed_token_alone(db: str) -> None:
    lou, dossier, _cpas, _other = await _world()
    token = await (await _receipt(lou, dossier)).signed()
    published = await _public_keys()
    checked = proof.check_receipt(token, published)
    assert checked.active
    summary = proof.receipt_summary(checked.claims)
    assert summary.controller == "AMO Le Passage"
    assert summary.controller_contact == "Rue Haute 1, Namur · 081 00 00 00 · a@b.be"
    assert summary.partner == "CPAS de Namur"
    assert summary.purposes == ["Logement"] and summary.categories == ["identity", "request"]
    assert summary.state == "given" and summary.granted_at is not None
    assert summary.ends_at is not None and summary.ends_at > summary.granted_at
    assert summary.promised["name"] == "CPAS de Namur"
    # Past its end, the same receipt says it no longer holds.
    assert not proof.check_receipt(token, published, when=summary.ends_at).active


def _changed(token: str, position: int) -> str:
    replacement = "A" if token[position] != "A" else "B"
    if token[position] == ".":
        replacement = "A"
    return token[:position] + replacement + token[position + 1 :]


async def test_a_receipt_changed_by_one_byte_anywhere_is_refused(db: str) -> None:
    lou, dossier, _cpas, _other = await _world()
    token = await (await _receipt(lou, dossier)).signed()
    published = await _public_keys()
    proof.check_receipt(token, published)
    for position in range(len(token)):
        with pytest.raises(proof.Refused):
            proof.check_receipt(_changed(token, position), published)
    # A byte changed in what it says, the signature kept: refused for its signature.
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["services"][0]["purposes"][0]["piiCategory"] = ["identity", "request", "messages"]
    forged = base64.urlsafe_b64encode(proof.canonical(claims)).rstrip(b"=").decode()
    with pytest.raises(proof.Refused) as refused:
        proof.check_receipt(f"{header}.{forged}.{signature}", published)
    assert refused.value.reason == "signature"


async def test_a_receipt_signed_by_another_key_is_refused(db: str) -> None:
    lou, dossier, _cpas, _other = await _world()
    made = await _receipt(lou, dossier)
    await made.signed()
    published = await _public_keys()
    stranger = proof.new_private_jwk()
    with pytest.raises(proof.Refused) as refused:
        proof.check_receipt(proof.sign(made.claims, proof.RECEIPT, stranger), published)
    assert refused.value.reason == "unknown_key"
    # Another key that names the service's own key: its signature does not hold.
    posing = {**stranger, "kid": published["keys"][0]["kid"]}
    with pytest.raises(proof.Refused) as refused:
        proof.check_receipt(proof.sign(made.claims, proof.RECEIPT, posing), published)
    assert refused.value.reason == "signature"


async def test_a_receipt_replayed_for_another_partner_is_refused(db: str) -> None:
    lou, dossier, cpas, other = await _world()
    token = await (await _receipt(lou, dossier)).signed()
    published = await _public_keys()
    assert proof.check_receipt(token, published, audience=f"partner:{cpas.id}").claims
    with pytest.raises(proof.Refused) as refused:
        proof.check_receipt(token, published, audience=f"partner:{other.id}")
    assert refused.value.reason == "audience"


async def test_a_revoked_consent_gets_a_receipt_that_says_so_with_its_history(db: str) -> None:
    lou, dossier, _cpas, _other = await _world(duration="until_stop")
    before = await (await _receipt(lou, dossier)).signed()
    consent = await Consent.filter(dossier_id=dossier.id).first()
    assert consent is not None
    await rules.revoke(lou, dossier.reference, consent.id)
    after = await (await _receipt(lou, dossier)).signed()
    published = await _public_keys()
    # The receipt kept from before still says what held then; the new one, what holds now.
    assert proof.check_receipt(before, published).active
    checked = proof.check_receipt(after, published)
    assert not checked.active
    states = [(e["event_state"], e["entity_id"]) for e in checked.claims["events"]]
    her = checked.claims["piiPrincipalId"]
    assert states == [(proof.GIVEN, her), (proof.WITHDRAWN, her)]
    summary = proof.receipt_summary(checked.claims)
    assert summary.state == "revoked"
    revoked = await Consent.get(id=consent.id)
    assert revoked.revoked_at is not None and summary.ends_at is not None
    assert abs(summary.ends_at - revoked.revoked_at) < timedelta(seconds=1)
    assert checked.claims["services"][0]["purposes"][0]["termination"] == "When she takes it back"


async def test_an_expired_consent_reads_as_expired_at_its_end(db: str) -> None:
    lou, dossier, _cpas, _other = await _world()
    consent = await Consent.filter(dossier_id=dossier.id).first()
    assert consent is not None
    ended = timezone.now() - timedelta(minutes=5)
    await (
        type(consent)
        .filter(id=consent.id)
        .update(granted_at=ended - timedelta(days=2), expires_at=ended)
    )
    summary = (await _receipt(lou, dossier)).summary
    assert summary.state == "expired"
    assert summary.ends_at is not None and abs(summary.ends_at - ended) < timedelta(seconds=1)
    made = await _receipt(lou, dossier)
    assert [e["event_state"] for e in made.claims["events"]] == [proof.GIVEN, proof.EXPIRED]
    assert made.claims["events"][1]["entity_id"] == "AMO Le Passage"


# --- Reading what a receipt says, whatever it holds ----------------------------------------------

OLDER_FORMAT = {
    "version": "KI-CR-v1.1.0 / ISO/IEC TS 27560:2023 (fields)",
    "receipt_id": "ABC-1",
    "consent_timestamp": "2026-01-01T00:00:00+00:00",
    "pii_controllers": [{"name": "AMO"}],
    "recipient": {"name": "CPAS"},
    "purposes": [{"purpose": "x", "pii_categories": ["request"]}],
    "state": "active",
}
HOSTILE_VALUES: list[Any] = [None, 0, -1, 10**30, 1.5, True, "", "x" * 5000, [], {}, [None], [1]]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*path, index))
    return found


def _replaced(claims: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    changed = copy.deepcopy(claims)
    holder = changed
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    return changed


def _read(claims: Any) -> proof.ReceiptSummary | None:
    try:
        summary = proof.receipt_summary(claims)
    except proof.Refused as refused:
        assert refused.reason == "malformed"
        return None
    assert isinstance(summary.state, str)
    proof.receipt_active(claims)
    return summary


async def test_any_shape_reads_as_a_summary_or_is_refused_as_malformed(db: str) -> None:
    lou, dossier, _cpas, _other = await _world()
    claims = (await _receipt(lou, dossier)).claims
    shapes: list[Any] = [OLDER_FORMAT, [], "text", 7, None, {"events": [{"event_state": 3}]}]
    for shape in shapes:
        _read(shape)
    old = _read(OLDER_FORMAT)
    assert old is not None and old.state == "unknown" and not proof.receipt_active(OLDER_FORMAT)
    for path in _paths(claims):
        for value in HOSTILE_VALUES:
            _read(_replaced(claims, path, value))
        if path and isinstance(path[-1], str):
            parent = copy.deepcopy(claims)
            holder = parent
            for step in path[:-1]:
                holder = holder[step]
            del holder[path[-1]]
            _read(parent)
    assert proof.receipt_summary(claims).state == "given"
    # A date far past what a datetime holds, or not a date at all: no end, not an error.
    assert _read(_replaced(claims, ("events", 0, "event_time"), "99999-01-01")) is not None
    assert not proof.receipt_active({**claims, "events": []}, datetime.now(UTC))


# --- Consents given before the copy was kept ------------------------------------------------------

# In a process of its own (initialising the ORM for another database would rebind the models):
# a consent given, the column taken away again (as before migration 0023), the directory
# changed, then 0023 applied: the consent gets the directory as it is then, marked so.
BACKFILL = textwrap.dedent(
    """
    import asyncio, json, sys
    from tortoise import Tortoise, connections
    from tortoise.migrations.api import migrate
    from portal import keys, seeding
    from portal.db import tortoise_config
    from portal.domain import consent as rules
    from portal.models import Role, Theme

    async def main(url: str, journal_key: str, master_key: str) -> None:
        keys.configure(journal_key, master_key)
        try:
            await migrate(config=tortoise_config(url))
            await Tortoise.close_connections()
            await Tortoise.init(config=tortoise_config(url))
            service = await seeding.service("AMO")
            amina = await seeding.staff(
                "amina", Role.WORKER, password="worker-pass-1",
                totp_secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ", service=service,
            )
            lou = await seeding.subject("lou", "Lou", password="trois pommes vertes sur la table")
            dossier = await seeding.followed_dossier(amina, lou, service, "Bonjour", Theme.SCHOOL)
            cpas = await seeding.partner("CPAS", ethics_code="Code A")
            await rules.grant(lou, dossier.reference, cpas.id, ["request"], "until_stop", "x")
            await Tortoise.close_connections()
            await migrate(config=tortoise_config(url), target="models.0022_signing_keys")
            await Tortoise.close_connections()
            await Tortoise.init(config=tortoise_config(url))
            db = connections.get("default")
            columns = [r["name"] for r in await db.execute_query_dict("PRAGMA table_info(consent)")]
            await db.execute_query("UPDATE partner SET ethics_code = 'Code B'")
            await Tortoise.close_connections()
            await migrate(config=tortoise_config(url))
            await Tortoise.init(config=tortoise_config(url))
            db = connections.get("default")
            rows = await db.execute_query_dict("SELECT promised FROM consent")
            print(json.dumps({"columns": columns, "promised": [r["promised"] for r in rows]}))
        finally:
            await Tortoise.close_connections()

    asyncio.run(main(*sys.argv[1:]))
    """
)


async def test_consents_given_before_are_backfilled_from_the_directory_as_it_is(
    tmp_path: Path,
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        BACKFILL,
        f"sqlite://{tmp_path / 'backfill.sqlite3'}",
        TEST_JOURNAL_KEY,
        TEST_MASTER_KEY,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode == 0, err.decode()
    found = json.loads(out.decode().strip().splitlines()[-1])
    assert "promised" not in found["columns"]
    (promised,) = [json.loads(value) for value in found["promised"]]
    assert promised["ethics_code"] == "Code B" and promised["name"] == "CPAS"
    assert promised["copied_after_agreement"] is True
    assert datetime.fromisoformat(promised["copied_at"]) <= datetime.now(UTC)
