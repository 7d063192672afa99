"""A journal she can check with public things only: a dishonest operator holding every key of
the server changes or removes an old entry, and makes the server's own check pass; the export
she downloaded before still finds it, with the public key alone."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from portal import proof
from portal.domain import journal
from portal.domain.messages import send_message
from portal.models import Dossier, JournalEntry, Person, SigningKey, Theme
from tests import factories
from tests.conftest import TEST_JOURNAL_KEY, TEST_MASTER_KEY
from tests.helpers import count_queries
from tests.journal_checks import all_three


async def _dossier() -> Dossier:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    lou = await factories.youth()
    dossier = await factories.followed_dossier(
        amina, lou, service, "Je dors chez une amie.", Theme.HOUSING
    )
    await send_message(amina, dossier.reference, "On se voit jeudi ?")
    return dossier


async def _export(client: httpx.AsyncClient, reference: str) -> dict[str, Any]:
    response = await client.get(f"/espace/{reference}/export.json")
    assert response.status_code == 200
    data: dict[str, Any] = json.loads(response.text)
    return data


async def _jwks(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys: dict[str, Any] = response.json()
    return keys


async def _as_a_dishonest_operator(
    dossier: Dossier, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
) -> None:
    """What someone holding every key of the server can do to a journal: rewrite its rows,
    then recompute every MAC, every plain chain hash and the dossier's head, so that the
    server's own check passes."""
    rows = await JournalEntry.filter(dossier_id=dossier.id).order_by("seq")
    kept = change(
        [
            {"id": r.id, "actor": r.actor_id, "event": r.event, "at": r.at, "details": r.details}
            for r in rows
        ]
    )
    gone = {r.id for r in rows} - {entry["id"] for entry in kept}
    await JournalEntry.filter(id__in=list(gone)).delete()
    prev_hash = chain = journal.GENESIS
    for seq, entry in enumerate(kept, start=1):
        prev = prev_hash
        prev_hash = journal.entry_mac(
            dossier.id, seq, entry["actor"], entry["event"], entry["at"], entry["details"], prev
        )
        chain = proof.chain_hash(
            chain,
            journal.public_form(
                dossier.reference,
                seq,
                entry["at"],
                entry["event"],
                entry["actor"],
                entry["details"],
            ),
        )
        await JournalEntry.filter(id=entry["id"]).update(
            seq=seq,
            event=entry["event"],
            details=entry["details"],
            prev_hash=prev,
            hash=prev_hash,
            chain=chain,
        )
    await Dossier.filter(id=dossier.id).update(
        journal_seq=len(kept), journal_head=journal.head_mac(dossier.id, len(kept), prev_hash)
    )
    # The server's own check, with its journal key, finds nothing.
    assert await journal.verify_dossier(await Dossier.get(id=dossier.id)) is None


def _change_entry(seq: int) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    def change(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # The request she made said another service: as if she had asked elsewhere.
        entries[seq - 1]["details"] = {**entries[seq - 1]["details"], "service": 999}
        return entries

    return change


def _remove_entry(seq: int) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    def change(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return entries[: seq - 1] + entries[seq:]

    return change


async def test_her_earlier_export_finds_an_old_entry_changed_by_whoever_holds_every_key(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    dossier = await _dossier()
    await factories.sign_in(client, "lou")
    first = await _export(client, dossier.reference)
    jwks = await _jwks(client)
    assert all_three(tmp_path / "first", first, jwks) == (None, None)
    entries = first["journal_proof"]["entries"]
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0]["event"] == "request.made" and entries[-1]["event"] == "dossier.exported"
    old = entries[0]["seq"]

    await _as_a_dishonest_operator(dossier, _change_entry(old))
    second = await _export(client, dossier.reference)
    # Its own head is signed by the service's key, over entries that chain: alone, it checks.
    assert all_three(tmp_path / "second", second, jwks) == (None, None)
    # Against her first export, the change shows, and which entry it was.
    assert all_three(tmp_path / "both", second, jwks, first) == ("not_contained", old)
    # Against the first head alone (all she kept), the change shows too.
    head = first["journal_proof"]["head"]
    assert all_three(tmp_path / "head", second, jwks, head) == ("not_contained", None)


async def test_an_old_entry_removed_and_the_rest_renumbered_is_found(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    dossier = await _dossier()
    await factories.sign_in(client, "lou")
    first = await _export(client, dossier.reference)
    jwks = await _jwks(client)
    # The message her worker sent, long before.
    events = [e["event"] for e in first["journal_proof"]["entries"]]
    removed = events.index("message.sent") + 1

    await _as_a_dishonest_operator(dossier, _remove_entry(removed))
    second = await _export(client, dossier.reference)
    assert len(second["journal_proof"]["entries"]) == len(first["journal_proof"]["entries"])
    assert all_three(tmp_path / "second", second, jwks) == (None, None)
    assert all_three(tmp_path / "both", second, jwks, first) == ("not_contained", removed)


async def test_a_head_signed_by_another_key_is_refused(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    dossier = await _dossier()
    await factories.sign_in(client, "lou")
    export = await _export(client, dossier.reference)
    jwks = await _jwks(client)
    claims = proof.check_head(export["journal_proof"]["head"], jwks).claims
    other = proof.new_private_jwk()
    # Signed by a key the service never published.
    unknown = {**export, "journal_proof": {**export["journal_proof"]}}
    unknown["journal_proof"]["head"] = proof.sign(claims, proof.HEAD, other)
    assert all_three(tmp_path / "unknown", unknown, jwks) == ("unknown_key", None)
    # Signed by another key that names the service's.
    named = {**other, "kid": jwks["keys"][0]["kid"]}
    forged = {**export, "journal_proof": {**export["journal_proof"]}}
    forged["journal_proof"]["head"] = proof.sign(claims, proof.HEAD, named)
    assert all_three(tmp_path / "forged", forged, jwks) == ("signature", None)
    # As the earlier head, too.
    later = await _export(client, dossier.reference)
    forged_head = forged["journal_proof"]["head"]
    assert all_three(tmp_path / "earlier", later, jwks, forged_head) == ("signature", None)


async def test_a_new_entry_after_her_export_keeps_the_older_journal_whole(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    dossier = await _dossier()
    await factories.sign_in(client, "lou")
    first = await _export(client, dossier.reference)
    jwks = await _jwks(client)
    amina = await Person.get(login="amina")
    await send_message(amina, dossier.reference, "Tu as pu dormir ?")
    second = await _export(client, dossier.reference)
    assert len(second["journal_proof"]["entries"]) == len(first["journal_proof"]["entries"]) + 2
    assert all_three(tmp_path / "both", second, jwks, first) == (None, None)
    head = first["journal_proof"]["head"]
    assert all_three(tmp_path / "head", second, jwks, head) == (None, None)
    checked = proof.check_export(second, jwks, head)
    assert checked.earlier is not None and checked.earlier.seq == len(
        first["journal_proof"]["entries"]
    )
    # The older export against the newer: not the other way round.
    assert proof.check_export(first, jwks).entries == checked.earlier.seq
    refused = all_three(tmp_path / "reverse", first, jwks, second)
    assert refused == ("not_contained", len(first["journal_proof"]["entries"]) + 1)


async def test_the_keys_she_kept_with_her_export_check_it_when_the_service_stops_publishing(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """An operator who deletes the key that signed her head makes today's published keys say
    nothing of it; the keys her export carried check it still, offline and by the script."""
    dossier = await _dossier()
    await factories.sign_in(client, "lou")
    first = await _export(client, dossier.reference)
    kept = first["journal_proof"]["keys"]
    assert kept == await _jwks(client)
    assert all("d" not in key for key in kept["keys"])
    amina = await Person.get(login="amina")
    await send_message(amina, dossier.reference, "Tu as pu dormir ?")
    await SigningKey.all().delete()
    second = await _export(client, dossier.reference)
    today = await _jwks(client)
    assert today["keys"] and today["keys"][0]["kid"] != kept["keys"][0]["kid"]
    assert proof.check_export(second, today).entries == len(second["journal_proof"]["entries"])
    assert all_three(tmp_path / "today", second, today, first) == ("unknown_key", None)
    both = {"keys": [*today["keys"], *kept["keys"]]}
    assert all_three(tmp_path / "kept", second, both, first) == (None, None)


async def test_the_head_says_who_signed_what_and_the_export_holds_no_secret(
    client: httpx.AsyncClient,
) -> None:
    dossier = await _dossier()
    await factories.sign_in(client, "lou")
    response = await client.get(f"/espace/{dossier.reference}/export.json")
    export = json.loads(response.text)
    head = proof.check_head(export["journal_proof"]["head"], await _jwks(client))
    entries = export["journal_proof"]["entries"]
    assert head.dossier == dossier.reference and head.seq == len(entries)
    assert head.chain == entries[-1]["chain"]
    assert head.claims["iss"] == "http://localhost:8000"
    assert head.claims["controller"] == "AMO Test"
    assert isinstance(head.claims["iat"], int)
    assert set(entries[0]) == {*proof.ENTRY_FIELDS, "chain"}
    # Every entry of her journal, as stored.
    assert len(entries) == await JournalEntry.filter(dossier_id=dossier.id).count()
    # No key of the server in it: not the journal's, not the master key, no private half.
    for secret in (TEST_JOURNAL_KEY, TEST_MASTER_KEY, '"d":', '"d": '):
        assert secret not in response.text


async def test_the_export_page_shows_the_signed_head_and_where_to_check_it(
    client: httpx.AsyncClient,
) -> None:
    dossier = await _dossier()
    await factories.sign_in(client, "lou")
    page = (await client.get(f"/espace/{dossier.reference}/export")).text
    assert "Preuve de ce journal" in page
    count = await JournalEntry.filter(dossier_id=dossier.id).count()
    assert f"tel qu’il était alors : {count} entrées." in page
    assert "toi ou une personne de confiance pourrez prouver plus tard" in page
    assert 'href="/verifier"' in page
    token = page.split('id="journal-head"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0]
    checked = proof.check_head(token.strip(), await _jwks(client))
    assert checked.dossier == dossier.reference and checked.seq == count


async def test_the_exports_queries_do_not_grow_with_the_journal(
    client: httpx.AsyncClient,
) -> None:
    dossier = await _dossier()
    await factories.sign_in(client, "lou")
    amina = await Person.get(login="amina")
    # The first export makes the service's first signing key: counted from the second.
    await client.get(f"/espace/{dossier.reference}/export.json")
    counts = []
    for _round in range(2):
        for path in ("export.json", "export"):
            with count_queries() as counted:
                assert (await client.get(f"/espace/{dossier.reference}/{path}")).status_code == 200
            counts.append(counted.count)
        for number in range(6):
            await send_message(amina, dossier.reference, f"Message {number}")
    assert counts[:2] == counts[2:], counts
