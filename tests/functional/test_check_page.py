"""The public check page: a receipt or a journal checked against the published keys only.

Whatever is sent, the answer is a page that says what was found (4xx for a refusal, never a
500), nothing is written to the database, no session is made, and nothing sent is kept.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from tortoise import connections, timezone

from portal import proof
from portal.domain import signing
from portal.models import Role
from portal.pages.proof import EXPORT_MAX_BYTES
from tests import factories
from tests.conftest import TABLES
from tests.helpers import csrf_token

PATH = "/verifier"
DOSSIER = "D-2026-TEST"


def receipt_claims(partner_id: int, state: str = proof.GIVEN, **changes: Any) -> dict[str, Any]:
    """A receipt as the portal signs it (Kantara v1.1 / ISO/IEC TS 27560, see
    docs/receipts.md), cut to what the page shows."""
    now = timezone.now()
    end = now + timedelta(days=30)
    claims: dict[str, Any] = {
        "iss": "https://portail.test",
        "iat": int(now.timestamp()),
        "aud": f"partner:{partner_id}",
        "jti": "R-1",
        "version": "KI-CR-v1.1.0",
        "consentTimestamp": int(now.timestamp()),
        "piiPrincipalId": DOSSIER,
        "piiControllers": [{"piiController": "AMO Le Passage", "phone": "081 00 00 00"}],
        "services": [
            {
                "service": "AMO",
                "purposes": [
                    {
                        "purpose": "Aide au logement",
                        "piiCategory": ["request", "documents"],
                        "termination": end.isoformat(),
                        "thirdPartyName": "CPAS de Namur",
                    }
                ],
            }
        ],
        "recipient_third_parties": [
            {
                "party_name": "CPAS de Namur",
                "promised": {
                    "bound_by_secrecy": True,
                    "ethics_code": "Code de déontologie des CPAS",
                    "adheres_youth_code": False,
                },
            }
        ],
        "events": [{"event_time": now.isoformat(), "event_state": proof.GIVEN}],
    }
    if state != proof.GIVEN:
        claims["events"].append({"event_time": now.isoformat(), "event_state": state})
    claims.update(changes)
    return claims


def entries(count: int, dossier: str = DOSSIER) -> list[dict[str, Any]]:
    """A journal of ``count`` entries in the export's form, chained."""
    made: list[dict[str, Any]] = []
    previous = proof.GENESIS
    for seq in range(1, count + 1):
        entry: dict[str, Any] = {
            "dossier": dossier,
            "seq": seq,
            "at": f"2026-11-{seq:02d}T10:00:00.000000+00:00",
            "event": "dossier.read",
            "actor": 7,
            "details": {"n": seq},
        }
        previous = entry["chain"] = proof.chain_hash(previous, entry)
        made.append(entry)
    return made


async def export_of(journal: list[dict[str, Any]], dossier: str = DOSSIER) -> dict[str, Any]:
    """An export as the portal gives it: the entries and their head, signed now."""
    last = journal[-1]["chain"] if journal else proof.GENESIS
    head = await signing.sign(
        {
            "iss": "https://portail.test",
            "iat": int(timezone.now().timestamp()),
            "dossier": dossier,
            "seq": len(journal),
            "chain": last,
            "controller": "AMO Le Passage",
        },
        proof.HEAD,
    )
    return {"reference": dossier, "journal_proof": {"entries": journal, "head": head}}


async def rows() -> dict[str, int]:
    conn = connections.get("default")
    counted = {}
    for table in [*TABLES, "signing_key"]:
        result = await conn.execute_query_dict(f'SELECT COUNT(*) AS n FROM "{table}"')  # noqa: S608
        counted[table] = result[0]["n"]
    return counted


async def post(
    client: httpx.AsyncClient,
    fields: dict[str, str],
    files: dict[str, tuple[str, bytes, str]] | None = None,
) -> httpx.Response:
    token = await csrf_token(client, PATH)
    # Always multipart, as the page's forms are, even without a file.
    return await client.post(
        PATH, data={"csrf_token": token, **fields}, files=files or {"none": ("", b"", "x")}
    )


async def check_receipt(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await post(client, {"what": "receipt", "receipt": token})


async def check_journal(
    client: httpx.AsyncClient, export: Any, earlier: Any = None, earlier_head: str = ""
) -> httpx.Response:
    body = export if isinstance(export, bytes) else json.dumps(export).encode()
    files = {"export": ("dossier.json", body, "application/json")}
    if earlier is not None:
        files["earlier_file"] = ("avant.json", json.dumps(earlier).encode(), "application/json")
    return await post(client, {"what": "journal", "earlier": earlier_head}, files)


def browser(app: Starlette) -> httpx.AsyncClient:
    """Another browser, with no cookie yet."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


@pytest.fixture
def english(client: httpx.AsyncClient) -> httpx.AsyncClient:
    client.cookies.set("lang", "en")
    return client


# --- The page ----------------------------------------------------------------------------------


async def test_the_page_is_public_and_never_kept(client: httpx.AsyncClient, db: str) -> None:
    response = await client.get(PATH)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.text.count('enctype="multipart/form-data"') == 2
    assert 'name="receipt"' in response.text and 'name="export"' in response.text


async def test_a_good_receipt_is_valid_and_says_what_for(english: httpx.AsyncClient) -> None:
    cpas = await factories.partner("CPAS de Namur")
    token = await signing.sign(receipt_claims(cpas.id), proof.RECEIPT)
    before = await rows()
    response = await check_receipt(english, token)
    assert response.status_code == 200, response.text
    text = response.text
    assert "This receipt is valid." in text
    assert "It was signed by AMO Le Passage" in text
    for shown in ("CPAS de Namur", "Aide au logement", "bound by professional secrecy"):
        assert shown in text
    assert "Yes, as far as this receipt says, until" in text
    assert "A later receipt may say otherwise" in text
    assert response.headers["cache-control"] == "no-store"
    assert "set-cookie" not in response.headers
    assert await rows() == before


async def test_promises_copied_after_she_agreed_are_not_said_to_be_hers(
    english: httpx.AsyncClient,
) -> None:
    """A consent older than the copy of promises got the directory's words of the day the copy
    was made: the page says so, not "what the partner promised then"."""
    cpas = await factories.partner("CPAS de Namur")
    claims = receipt_claims(cpas.id)
    party = claims["recipient_third_parties"][0]
    party["promised"] |= {"copied_after_agreement": True, "copied_at": "2026-12-08T09:00:00+00:00"}
    response = await check_receipt(english, await signing.sign(claims, proof.RECEIPT))
    assert response.status_code == 200
    assert "What the directory said of the partner on 8 December 2026" in response.text
    assert "What the partner promised then" not in response.text
    good = await check_receipt(english, await signing.sign(receipt_claims(cpas.id), proof.RECEIPT))
    assert "What the partner promised then" in good.text
    assert "not bound by professional secrecy" not in good.text
    # A partner without secrecy is said so, as plainly as one with it.
    claims = receipt_claims(cpas.id)
    claims["recipient_third_parties"][0]["promised"]["bound_by_secrecy"] = False
    without = await check_receipt(english, await signing.sign(claims, proof.RECEIPT))
    assert "not bound by professional secrecy" in without.text


async def test_a_receipt_as_a_file_checks_the_same(english: httpx.AsyncClient) -> None:
    cpas = await factories.partner()
    token = await signing.sign(receipt_claims(cpas.id), proof.RECEIPT)
    response = await post(
        english,
        {"what": "receipt"},
        {"receipt_file": ("consent-receipt-R-1.jwt", token.encode(), "application/jwt")},
    )
    assert response.status_code == 200
    assert "This receipt is valid." in response.text


async def test_a_taken_back_receipt_says_so(english: httpx.AsyncClient) -> None:
    cpas = await factories.partner()
    token = await signing.sign(receipt_claims(cpas.id, state=proof.WITHDRAWN), proof.RECEIPT)
    response = await check_receipt(english, token)
    assert response.status_code == 200
    assert "No: as this receipt says, it was taken back or has ended." in response.text


def one_byte_changed(token: str, part: int) -> str:
    pieces = token.split(".")
    text = pieces[part]
    middle = len(text) // 2
    pieces[part] = text[:middle] + ("A" if text[middle] != "A" else "B") + text[middle + 1 :]
    return ".".join(pieces)


@pytest.mark.parametrize("part", [1, 2])
async def test_a_receipt_changed_by_one_byte_is_refused(
    english: httpx.AsyncClient, part: int
) -> None:
    cpas = await factories.partner()
    token = await signing.sign(receipt_claims(cpas.id), proof.RECEIPT)
    changed = one_byte_changed(token, part)
    before = await rows()
    response = await check_receipt(english, changed)
    assert response.status_code == 422
    assert "This receipt cannot be trusted." in response.text
    assert "it was changed after it was signed, even by one character" in response.text
    # What she pasted is given back, to look at or correct; it was never put in a URL.
    assert changed in response.text
    assert "location" not in response.headers
    assert await rows() == before


async def test_a_receipt_signed_by_another_key_is_refused(english: httpx.AsyncClient) -> None:
    cpas = await factories.partner()
    await signing.sign(receipt_claims(cpas.id), proof.RECEIPT)
    forger = proof.new_private_jwk()
    unknown = proof.sign(receipt_claims(cpas.id), proof.RECEIPT, forger)
    response = await check_receipt(english, unknown)
    assert response.status_code == 422
    assert "not signed with a key this service publishes" in response.text
    # The forger names the service's own key: the signature itself gives it away.
    kid = (await signing.jwks())["keys"][0]["kid"]
    posing = proof.sign(receipt_claims(cpas.id), proof.RECEIPT, {**forger, "kid": kid})
    response = await check_receipt(english, posing)
    assert response.status_code == 422
    assert "Its signature does not match" in response.text


async def test_a_partner_user_checks_for_her_organisation_only(
    app: Starlette, client: httpx.AsyncClient, db: str
) -> None:
    cpas = await factories.partner("CPAS de Namur")
    school = await factories.partner("École", secrecy=False)
    await factories.staff("prof", Role.PARTNER, partner_=school)
    await factories.staff("cpas", Role.PARTNER, partner_=cpas)
    for_cpas = await signing.sign(receipt_claims(cpas.id), proof.RECEIPT)
    assert (await factories.sign_in_staff(client, "prof")).status_code == 303
    client.cookies.set("lang", "en")
    response = await check_receipt(client, for_cpas)
    assert response.status_code == 422
    assert "This receipt was given for another organisation, not yours." in response.text
    async with browser(app) as other:
        assert (await factories.sign_in_staff(other, "cpas")).status_code == 303
        other.cookies.set("lang", "en")
        response = await check_receipt(other, for_cpas)
        assert response.status_code == 200
        assert "This receipt is valid." in response.text


async def test_a_journal_head_is_not_a_receipt(english: httpx.AsyncClient) -> None:
    export = await export_of(entries(2))
    response = await check_receipt(english, export["journal_proof"]["head"])
    assert response.status_code == 422
    assert "This is the signature of a journal, not a consent receipt." in response.text


async def test_the_answer_is_in_french_by_default(client: httpx.AsyncClient, db: str) -> None:
    cpas = await factories.partner()
    token = await signing.sign(receipt_claims(cpas.id), proof.RECEIPT)
    assert "Ce reçu est valide." in (await check_receipt(client, token)).text
    assert "ne correspond pas" in (await check_receipt(client, one_byte_changed(token, 2))).text


# --- Journals ---------------------------------------------------------------------------------


async def test_a_good_export_is_intact(english: httpx.AsyncClient) -> None:
    export = await export_of(entries(5))
    before = await rows()
    response = await check_journal(english, export)
    assert response.status_code == 200, response.text
    assert "This journal of 5 entries was signed by AMO Le Passage on" in response.text
    assert "nothing in it was changed since it was signed" in response.text
    assert await rows() == before


async def test_an_export_with_a_changed_entry_names_it(english: httpx.AsyncClient) -> None:
    export = await export_of(entries(5))
    export["journal_proof"]["entries"][2]["details"] = {"n": 333}
    response = await check_journal(english, export)
    assert response.status_code == 422
    assert "This journal cannot be trusted." in response.text
    assert "Entry 3 of this journal was changed" in response.text


async def test_an_export_whose_chain_was_rewritten_fails_its_signed_head(
    english: httpx.AsyncClient,
) -> None:
    export = await export_of(entries(4))
    rewritten = entries(4)
    rewritten.pop()
    export["journal_proof"]["entries"] = rewritten
    response = await check_journal(english, export)
    assert response.status_code == 422
    assert "do not end where its signature says" in response.text


async def test_a_newer_journal_holds_the_earlier_one(english: httpx.AsyncClient) -> None:
    earlier = await export_of(entries(3))
    newer = await export_of(entries(6))
    response = await check_journal(english, newer, earlier=earlier)
    assert response.status_code == 200, response.text
    assert "It still holds, unchanged, the 3 entries of the journal signed on" in response.text
    head = earlier["journal_proof"]["head"]
    response = await check_journal(english, newer, earlier_head=head)
    assert response.status_code == 200
    assert "It still holds, unchanged, the 3 entries" in response.text


async def test_an_entry_changed_afterwards_is_found_with_the_earlier_export(
    english: httpx.AsyncClient,
) -> None:
    earlier = await export_of(entries(3))
    # A dishonest operator changes entry 2, then chains and signs again what follows.
    changed = entries(6)
    changed[1]["details"] = {"n": "effacé"}
    previous = proof.GENESIS
    for entry in changed:
        previous = entry["chain"] = proof.chain_hash(previous, entry)
    newer = await export_of(changed)
    response = await check_journal(english, newer, earlier=earlier)
    assert response.status_code == 422
    assert "Entry 2 of the earlier journal was changed or removed afterwards." in response.text
    # The newer journal is whole in itself: the page says so, and what it no longer holds.
    assert "This journal of 6 entries was signed" in response.text
    response = await check_journal(english, newer, earlier_head=earlier["journal_proof"]["head"])
    assert response.status_code == 422
    assert "no longer holds the earlier one unchanged" in response.text


async def test_an_earlier_head_of_another_dossier_is_refused(english: httpx.AsyncClient) -> None:
    other = await export_of(entries(2, "D-2026-AUTRE"), "D-2026-AUTRE")
    newer = await export_of(entries(4))
    response = await check_journal(english, newer, earlier_head=other["journal_proof"]["head"])
    assert response.status_code == 422
    assert "the journal of another dossier" in response.text


async def test_an_earlier_journal_signed_by_another_key_is_named(
    english: httpx.AsyncClient,
) -> None:
    newer = await export_of(entries(4))
    forged = proof.sign(
        {"dossier": DOSSIER, "seq": 2, "chain": entries(2)[-1]["chain"], "iat": 1},
        proof.HEAD,
        proof.new_private_jwk(),
    )
    response = await check_journal(english, newer, earlier_head=forged)
    assert response.status_code == 422
    assert "The earlier journal cannot be trusted." in response.text
    assert forged in response.text


# --- Whatever is sent: a clear answer, never a 500 ---------------------------------------------


def deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


BAD_EXPORTS = [
    pytest.param(b"", id="empty"),
    pytest.param(b"garbage \x00 garbage", id="garbage"),
    pytest.param(b"\xff\xfe{\x00}", id="not-utf8"),
    pytest.param(b"[1, 2, 3]", id="a-list"),
    pytest.param(b'{"journal_proof": []}', id="proof-a-list"),
    pytest.param(b'{"journal_proof": {"entries": {}, "head": 3}}', id="wrong-types"),
    pytest.param(b'{"journal_proof": {"entries": [1, "a"], "head": "a.b.c"}}', id="bad-entries"),
    pytest.param(deep(100_000), id="deep-nesting"),
    pytest.param(b'{"a": ' * 50_000 + b"1" + b"}" * 50_000, id="deep-objects"),
    pytest.param(b"1e999999", id="huge-number"),
]


@pytest.mark.parametrize("body", BAD_EXPORTS)
async def test_a_bad_export_gets_a_clear_refusal(english: httpx.AsyncClient, body: bytes) -> None:
    before = await rows()
    response = await check_journal(english, body)
    assert response.status_code in {413, 422}
    assert "Choose the file of an export" in response.text or "cannot be trusted" in response.text
    assert await rows() == before


async def test_a_deeply_nested_entry_inside_a_signed_export_is_refused(
    english: httpx.AsyncClient,
) -> None:
    nested: Any = 1
    for _ in range(900):
        nested = [nested]
    body = json.dumps(await export_of(entries(2))).replace('{"n": 2}', json.dumps({"x": nested}))
    response = await check_journal(english, body.encode())
    assert response.status_code == 422


BAD_RECEIPTS = [
    pytest.param("not a token", id="words"),
    pytest.param("a.b.c", id="three-words"),
    pytest.param("é.é.é", id="not-ascii"),
    pytest.param("eyJhbGciOiJub25lIn0.e30.", id="alg-none"),
    pytest.param("." * 10, id="dots"),
]


@pytest.mark.parametrize("token", BAD_RECEIPTS)
async def test_a_bad_receipt_gets_a_clear_refusal(english: httpx.AsyncClient, token: str) -> None:
    response = await check_receipt(english, token)
    assert response.status_code == 422
    assert "This receipt cannot be trusted." in response.text


async def test_a_receipt_file_not_in_utf8_is_refused(english: httpx.AsyncClient) -> None:
    response = await post(
        english, {"what": "receipt"}, {"receipt_file": ("r.jwt", b"\xff\xfe\x00a.b.c", "x/y")}
    )
    assert response.status_code == 422
    assert "This receipt cannot be trusted." in response.text


async def test_nothing_given_asks_for_something(english: httpx.AsyncClient) -> None:
    assert "Paste a receipt" in (await post(english, {"what": "receipt"})).text
    response = await post(english, {"what": "journal"})
    assert response.status_code == 422
    assert "Choose the file of an export" in response.text


async def test_too_big_is_said_never_a_500(english: httpx.AsyncClient) -> None:
    response = await check_receipt(english, "a" * (proof.MAX_TOKEN + 1))
    assert response.status_code == 413
    assert "This is too long to be a receipt." in response.text
    response = await check_journal(english, b"{" + b" " * EXPORT_MAX_BYTES)
    assert response.status_code == 413
    assert "This file is too big." in response.text
    # Past what the page reads at all: refused before it is read, with its own words.
    token = await csrf_token(english, PATH)
    huge = b"x" * (3 * EXPORT_MAX_BYTES)
    response = await english.post(
        PATH,
        data={"csrf_token": token, "what": "journal"},
        files={"export": ("a.json", huge, "application/json")},
    )
    assert response.status_code == 413
    assert "This is too big to check" in response.text


async def test_a_check_without_its_csrf_token_is_refused(english: httpx.AsyncClient) -> None:
    await english.get(PATH)
    response = await english.post(PATH, files={"export": ("a.json", b"{}", "application/json")})
    assert response.status_code == 403


async def test_a_check_makes_no_session_and_logs_nothing_it_was_given(
    app: Starlette, client: httpx.AsyncClient, db: str, caplog: pytest.LogCaptureFixture
) -> None:
    home = await client.get("/")
    public_cookies = {c.split("=", 1)[0] for c in home.headers.get_list("set-cookie")}
    cpas = await factories.partner()
    token = await signing.sign(receipt_claims(cpas.id), proof.RECEIPT)
    async with browser(app) as fresh:
        page = await fresh.get(PATH)
        set_by_page = {c.split("=", 1)[0] for c in page.headers.get_list("set-cookie")}
        assert set_by_page <= public_cookies
        with caplog.at_level(logging.DEBUG):
            for sent in (token, one_byte_changed(token, 2)):
                response = await check_receipt(fresh, sent)
                assert "set-cookie" not in response.headers
        assert token not in caplog.text
        assert token.split(".")[1] not in caplog.text


async def test_an_address_that_checks_too_often_is_slowed_and_keeps_what_it_pasted(
    english: httpx.AsyncClient, app: Starlette
) -> None:
    """A person checks a few files; a machine sending megabytes again and again waits."""
    token = "not.a.receipt"
    for _ in range(20):
        assert (await check_receipt(english, token)).status_code == 422
    before = await rows()
    slowed = await check_receipt(english, token)
    assert slowed.status_code == 429
    assert int(slowed.headers["Retry-After"]) >= 1
    assert "Many checks were sent from here." in slowed.text
    assert "Too many tries. Wait" in slowed.text
    assert token in slowed.text
    assert await rows() == before
    # Another address is not slowed by this one.
    elsewhere = httpx.ASGITransport(app=app, client=("192.0.2.7", 50000))
    async with httpx.AsyncClient(transport=elsewhere, base_url="https://testserver") as other:
        other.cookies.set("lang", "en")
        assert (await check_receipt(other, token)).status_code == 422
