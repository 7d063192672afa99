"""Passkeys: real WebAuthn ceremonies with a software authenticator, and attempts to break them."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import cbor2
import pytest
from tortoise import timezone
from webauthn.helpers import base64url_to_bytes

from portal.domain import accounts
from portal.domain.errors import Invalid, NotFound
from portal.models import Credential, CredentialKind, PasskeyChallenge, Person, Role
from portal.security import passkeys
from portal.security.passkeys import PasskeyError, RelyingParty
from tests import factories
from tests.soft_authenticator import SoftAuthenticator, b64, new_key

RP = RelyingParty(id="localhost", name="Portail AMO", origin="http://localhost:8000")
WRONG_ORIGINS = [
    "http://evil.localhost:8000",
    "https://localhost",
    "http://localhost:8001",
    "http://localhost",
    "https://localhost:8000",
]

Mutation = Callable[[dict[str, Any]], None]


@pytest.fixture
def browser() -> str:
    return secrets.token_urlsafe(32)


# --- The ceremonies, as the pages drive them ------------------------------------------------


async def new_account_options(browser: str, name: str = "Lou") -> str:
    handle = accounts.new_user_handle()
    return await passkeys.registration_options(
        RP,
        browser,
        user_handle=handle,
        user_name=name,
        pending={"role": "youth", "display_name": name, "language": "fr", "user_handle": handle},
    )


async def sign_up(auth: SoftAuthenticator, browser: str, name: str = "Lou") -> Person:
    """A new subject whose only way in is this passkey."""
    options = await new_account_options(browser, name)
    challenge, passkey = await passkeys.verify_registration(RP, browser, auth.register(options))
    pending = challenge.pending
    new = accounts.check_new_subject(pending["role"], pending["display_name"], pending["language"])
    return await accounts.create_subject_with_passkey(new, pending["user_handle"], passkey)


async def add_passkey_options(person: Person, browser: str) -> str:
    assert person.user_handle is not None
    return await passkeys.registration_options(
        RP, browser, user_handle=person.user_handle, user_name=person.display_name, person=person
    )


async def add_passkey(person: Person, auth: SoftAuthenticator, browser: str) -> Credential:
    options = await add_passkey_options(person, browser)
    challenge, passkey = await passkeys.verify_registration(RP, browser, auth.register(options))
    assert challenge.person_id == person.id
    return await accounts.add_passkey(person, passkey)


async def sign_in(auth: SoftAuthenticator, browser: str, **answer: Any) -> Person:
    options = await passkeys.authentication_options(RP, browser)
    return await passkeys.verify_authentication(RP, browser, auth.sign_in(options, **answer))


async def challenge_of(options: str) -> PasskeyChallenge:
    return await PasskeyChallenge.get(challenge=json.loads(options)["challenge"])


async def passkey_of(auth: SoftAuthenticator) -> Credential:
    return await Credential.get(credential_id=auth.credential_id, kind=CredentialKind.PASSKEY)


def mutated(credential_json: str, mutation: Mutation) -> str:
    data: dict[str, Any] = json.loads(credential_json)
    mutation(data)
    return json.dumps(data)


# --- 1. The happy path ----------------------------------------------------------------------


async def test_a_passkey_registers_then_signs_in_and_its_sign_count_grows(
    db: str, browser: str
) -> None:
    auth = SoftAuthenticator(sign_count=1)
    options = await new_account_options(browser)
    parsed = json.loads(options)
    assert parsed["rp"] == {"id": "localhost", "name": "Portail AMO"}
    assert parsed["authenticatorSelection"]["userVerification"] == "required"
    assert parsed["authenticatorSelection"]["residentKey"] == "required"
    challenge, passkey = await passkeys.verify_registration(RP, browser, auth.register(options))
    assert challenge.pending["display_name"] == "Lou"
    assert (await challenge_of(options)).used_at is not None
    assert passkey.credential_id == auth.credential_id
    assert passkey.sign_count == 1 and passkey.transports == ["internal", "hybrid"]
    new = accounts.check_new_subject("youth", "Lou", "fr")
    person = await accounts.create_subject_with_passkey(
        new, challenge.pending["user_handle"], passkey
    )
    assert auth.user_handle is not None and person.user_handle == auth.user_handle.hex()
    assert person.login is None
    stored = await passkey_of(auth)
    assert stored.person_id == person.id and stored.sign_count == 1
    assert stored.last_used_at is None

    options = await passkeys.authentication_options(RP, browser)
    assert json.loads(options)["rpId"] == "localhost"
    assert json.loads(options)["userVerification"] == "required"
    signed_in = await passkeys.verify_authentication(RP, browser, auth.sign_in(options))
    assert signed_in.id == person.id
    assert (await challenge_of(options)).used_at is not None
    stored = await passkey_of(auth)
    assert stored.sign_count == 2 and stored.last_used_at is not None

    assert (await sign_in(auth, browser)).id == person.id
    assert (await passkey_of(auth)).sign_count == 3


async def test_a_second_passkey_added_to_an_account_signs_in_as_that_account(
    db: str, browser: str
) -> None:
    person = await factories.youth()
    laptop = SoftAuthenticator()
    await add_passkey(person, laptop, browser)
    assert (await sign_in(laptop, browser)).id == person.id
    kinds = sorted(c.kind for c in await accounts.ways_in(person))
    assert kinds == [CredentialKind.PASSKEY, CredentialKind.PASSWORD]


# --- 2. A challenge is used once -----------------------------------------------------------


@pytest.mark.parametrize("counts", [True, False], ids=["counting", "synced, always 0"])
async def test_a_signed_sign_in_replayed_is_refused(db: str, browser: str, counts: bool) -> None:
    # A synced passkey's count stays 0: then only the single-use challenge stops the replay.
    auth = SoftAuthenticator(counts=counts)
    await sign_up(auth, browser)
    options = await passkeys.authentication_options(RP, browser)
    answer = auth.sign_in(options)
    await passkeys.verify_authentication(RP, browser, answer)
    after_first = await passkey_of(auth)
    with pytest.raises(PasskeyError):
        await passkeys.verify_authentication(RP, browser, answer)
    again = await passkey_of(auth)
    assert (again.sign_count, again.last_used_at) == (
        after_first.sign_count,
        after_first.last_used_at,
    )


async def test_a_registration_replayed_is_refused(db: str, browser: str) -> None:
    auth = SoftAuthenticator()
    options = await new_account_options(browser)
    answer = auth.register(options)
    await passkeys.verify_registration(RP, browser, answer)
    with pytest.raises(PasskeyError):
        await passkeys.verify_registration(RP, browser, answer)


# --- 3. A challenge belongs to the browser that asked for it --------------------------------


async def test_a_registration_challenge_from_another_browser_is_refused(
    db: str, browser: str
) -> None:
    auth = SoftAuthenticator()
    options = await new_account_options(browser)
    answer = auth.register(options)
    with pytest.raises(PasskeyError):
        await passkeys.verify_registration(RP, secrets.token_urlsafe(32), answer)
    # The other browser did not burn it: the browser that asked can still finish.
    assert (await challenge_of(options)).used_at is None
    _, passkey = await passkeys.verify_registration(RP, browser, answer)
    assert passkey.credential_id == auth.credential_id


async def test_a_sign_in_challenge_from_another_browser_is_refused(db: str, browser: str) -> None:
    auth = SoftAuthenticator()
    person = await sign_up(auth, browser)
    options = await passkeys.authentication_options(RP, browser)
    answer = auth.sign_in(options)
    with pytest.raises(PasskeyError):
        await passkeys.verify_authentication(RP, secrets.token_urlsafe(32), answer)
    stored = await passkey_of(auth)
    assert stored.sign_count == 1 and stored.last_used_at is None
    assert (await passkeys.verify_authentication(RP, browser, answer)).id == person.id


# --- 4. A challenge lasts five minutes -------------------------------------------------------


async def expire(options: str) -> None:
    await PasskeyChallenge.filter(challenge=json.loads(options)["challenge"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


async def test_an_expired_registration_challenge_is_refused(db: str, browser: str) -> None:
    options = await new_account_options(browser)
    assert (await challenge_of(options)).expires_at > timezone.now() + timedelta(minutes=4)
    await expire(options)
    with pytest.raises(PasskeyError):
        await passkeys.verify_registration(RP, browser, SoftAuthenticator().register(options))


async def test_an_expired_sign_in_challenge_is_refused(db: str, browser: str) -> None:
    auth = SoftAuthenticator()
    await sign_up(auth, browser)
    options = await passkeys.authentication_options(RP, browser)
    await expire(options)
    with pytest.raises(PasskeyError):
        await passkeys.verify_authentication(RP, browser, auth.sign_in(options))
    stored = await passkey_of(auth)
    assert stored.sign_count == 1 and stored.last_used_at is None


# --- 5, 6, 7. Origin, relying party and user verification ------------------------------------


@pytest.mark.parametrize("origin", WRONG_ORIGINS)
async def test_a_registration_from_another_origin_is_refused(
    db: str, browser: str, origin: str
) -> None:
    auth = SoftAuthenticator()
    options = await new_account_options(browser)
    with pytest.raises(PasskeyError):
        await passkeys.verify_registration(RP, browser, auth.register(options, origin=origin))
    # The challenge is burnt: the same challenge cannot be tried again.
    assert (await challenge_of(options)).used_at is not None
    with pytest.raises(PasskeyError):
        await passkeys.verify_registration(RP, browser, auth.register(options))


@pytest.mark.parametrize("origin", WRONG_ORIGINS)
async def test_a_sign_in_from_another_origin_is_refused(db: str, browser: str, origin: str) -> None:
    auth = SoftAuthenticator()
    await sign_up(auth, browser)
    options = await passkeys.authentication_options(RP, browser)
    with pytest.raises(PasskeyError):
        await passkeys.verify_authentication(RP, browser, auth.sign_in(options, origin=origin))
    assert (await challenge_of(options)).used_at is not None
    stored = await passkey_of(auth)
    assert stored.sign_count == 1 and stored.last_used_at is None


async def test_a_registration_for_another_relying_party_is_refused(db: str, browser: str) -> None:
    options = await new_account_options(browser)
    answer = SoftAuthenticator().register(options, rp_id="example.org")
    with pytest.raises(PasskeyError):
        await passkeys.verify_registration(RP, browser, answer)
    assert (await challenge_of(options)).used_at is not None


async def test_a_sign_in_for_another_relying_party_is_refused(db: str, browser: str) -> None:
    auth = SoftAuthenticator()
    await sign_up(auth, browser)
    with pytest.raises(PasskeyError):
        await sign_in(auth, browser, rp_id="example.org")
    stored = await passkey_of(auth)
    assert stored.sign_count == 1 and stored.last_used_at is None


async def test_a_registration_without_user_verification_is_refused(db: str, browser: str) -> None:
    options = await new_account_options(browser)
    with pytest.raises(PasskeyError):
        await passkeys.verify_registration(
            RP, browser, SoftAuthenticator().register(options, uv=False)
        )


async def test_a_sign_in_without_user_verification_is_refused(db: str, browser: str) -> None:
    auth = SoftAuthenticator()
    await sign_up(auth, browser)
    with pytest.raises(PasskeyError):
        await sign_in(auth, browser, uv=False)
    stored = await passkey_of(auth)
    assert stored.sign_count == 1 and stored.last_used_at is None
    # The same passkey with the user verified is welcome: only the flag was missing.
    await sign_in(auth, browser)


async def test_the_ceremony_types_cannot_be_swapped(db: str, browser: str) -> None:
    auth = SoftAuthenticator()
    options = await new_account_options(browser)
    with pytest.raises(PasskeyError):
        await passkeys.verify_registration(
            RP, browser, auth.register(options, ceremony="webauthn.get")
        )
    await sign_up(auth, browser)
    with pytest.raises(PasskeyError):
        await sign_in(auth, browser, ceremony="webauthn.create")
    assert (await passkey_of(auth)).last_used_at is None


# --- 8. The passkey's owner ----------------------------------------------------------------


@pytest.mark.parametrize("whose", ["someone else's", "missing", "empty"])
async def test_a_sign_in_with_a_user_handle_not_the_owners_is_refused(
    db: str, browser: str, whose: str
) -> None:
    lou, sam = SoftAuthenticator(), SoftAuthenticator()
    await sign_up(lou, browser, "Lou")
    sam_person = await sign_up(sam, browser, "Sam")
    assert sam_person.user_handle is not None
    handle = {
        "someone else's": bytes.fromhex(sam_person.user_handle),
        "missing": None,
        "empty": b"",
    }[whose]
    with pytest.raises(PasskeyError):
        await sign_in(lou, browser, user_handle=handle)
    stored = await passkey_of(lou)
    assert stored.sign_count == 1 and stored.last_used_at is None
    assert (await passkey_of(sam)).last_used_at is None


# --- 9. Sign counts --------------------------------------------------------------------------


@pytest.mark.parametrize("count", [5, 10])
async def test_a_sign_count_that_does_not_go_up_is_refused(
    db: str, browser: str, count: int
) -> None:
    auth = SoftAuthenticator(sign_count=10)
    await sign_up(auth, browser)
    assert (await passkey_of(auth)).sign_count == 10
    with pytest.raises(PasskeyError):
        await sign_in(auth, browser, sign_count=count)
    stored = await passkey_of(auth)
    assert stored.sign_count == 10 and stored.last_used_at is None
    await sign_in(auth, browser, sign_count=11)
    assert (await passkey_of(auth)).sign_count == 11


async def test_a_synced_passkey_that_always_says_zero_signs_in_again_and_again(
    db: str, browser: str
) -> None:
    auth = SoftAuthenticator(counts=False)
    person = await sign_up(auth, browser)
    assert (await passkey_of(auth)).sign_count == 0
    assert (await sign_in(auth, browser)).id == person.id
    assert (await sign_in(auth, browser)).id == person.id
    stored = await passkey_of(auth)
    assert stored.sign_count == 0 and stored.last_used_at is not None


async def test_a_passkey_that_counted_cannot_go_back_to_zero(db: str, browser: str) -> None:
    auth = SoftAuthenticator(sign_count=3)
    await sign_up(auth, browser)
    with pytest.raises(PasskeyError):
        await sign_in(auth, browser, sign_count=0)
    assert (await passkey_of(auth)).sign_count == 3


# --- 10. The signature -----------------------------------------------------------------------


async def test_a_sign_in_signed_by_another_key_is_refused(db: str, browser: str) -> None:
    auth = SoftAuthenticator()
    await sign_up(auth, browser)
    with pytest.raises(PasskeyError):
        await sign_in(auth, browser, signing_key=new_key())
    stored = await passkey_of(auth)
    assert stored.sign_count == 1 and stored.last_used_at is None


async def test_a_sign_in_whose_signed_data_was_changed_afterwards_is_refused(
    db: str, browser: str
) -> None:
    auth = SoftAuthenticator()
    await sign_up(auth, browser)
    options = await passkeys.authentication_options(RP, browser)
    answer = json.loads(auth.sign_in(options, uv=False))
    # Someone sets the UV bit after the authenticator signed: the signature no longer matches.
    data = bytearray(base64url_to_bytes(answer["response"]["authenticatorData"]))
    data[32] |= 0x04
    answer["response"]["authenticatorData"] = b64(bytes(data))
    with pytest.raises(PasskeyError):
        await passkeys.verify_authentication(RP, browser, json.dumps(answer))
    assert (await passkey_of(auth)).last_used_at is None


async def test_an_unknown_passkey_is_refused(db: str, browser: str) -> None:
    auth = SoftAuthenticator()
    await sign_up(auth, browser)
    stranger = SoftAuthenticator(user_handle=auth.user_handle)
    with pytest.raises(PasskeyError):
        await sign_in(stranger, browser)


# --- 11. Whatever arrives, the answer is PasskeyError ------------------------------------------


def _client_data(payload: bytes) -> str:
    return json.dumps({"id": "x", "rawId": "x", "response": {"clientDataJSON": b64(payload)}})


MALFORMED = {
    "empty": "",
    "not json": "this is not json",
    "null": "null",
    "list": "[]",
    "string": '"credential"',
    "number": "5",
    "no response": "{}",
    "response null": '{"response": null}',
    "response list": '{"response": []}',
    "no clientDataJSON": '{"response": {}}',
    "clientDataJSON number": '{"response": {"clientDataJSON": 5}}',
    "clientDataJSON not base64": '{"response": {"clientDataJSON": "***not base64!***"}}',
    "clientDataJSON not json": _client_data(b"not json"),
    "clientDataJSON not utf-8": _client_data(b'{"challenge": "\xff\xfe"}'),
    "clientDataJSON a list": _client_data(b"[]"),
    "no challenge": _client_data(b'{"type": "webauthn.get"}'),
    "challenge a number": _client_data(b'{"challenge": 5}'),
    "challenge not base64": _client_data('{"challenge": "défi"}'.encode()),
    # Under the 16 KB limit, so they reach the JSON parser.
    "deeply nested json": "[" * 10_000,
    "deeply nested clientDataJSON": _client_data(b"[" * 5_000),
    "oversized": json.dumps({"pad": "a" * (17 * 1024)}),
}


@pytest.mark.parametrize("payload", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_registration_raises_only_passkey_error(
    db: str, browser: str, payload: str
) -> None:
    await new_account_options(browser)
    with pytest.raises(PasskeyError):
        await passkeys.verify_registration(RP, browser, payload)
    assert await PasskeyChallenge.filter(used_at__isnull=False).count() == 0


@pytest.mark.parametrize("payload", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_sign_in_raises_only_passkey_error(
    db: str, browser: str, payload: str
) -> None:
    await passkeys.authentication_options(RP, browser)
    with pytest.raises(PasskeyError):
        await passkeys.verify_authentication(RP, browser, payload)
    assert await PasskeyChallenge.filter(used_at__isnull=False).count() == 0


def _drop(*path: str) -> Mutation:
    def mutation(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutation


def _set(value: Any, *path: str) -> Mutation:
    def mutation(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutation


def _pad(data: dict[str, Any]) -> None:
    data["pad"] = "a" * (17 * 1024)


COMMON_BREAKS: dict[str, Mutation] = {
    "no id": _drop("id"),
    "no rawId": _drop("rawId"),
    "id not rawId": _set(b64(b"another credential id"), "id"),
    "rawId not base64": _set("***", "rawId"),
    "type not public-key": _set("password", "type"),
    "no type": _drop("type"),
    "response a string": _set("response", "response"),
    "attachment unknown": _set("wormhole", "authenticatorAttachment"),
}
REGISTRATION_BREAKS: dict[str, Mutation] = {
    **COMMON_BREAKS,
    "no attestationObject": _drop("response", "attestationObject"),
    "attestationObject not base64": _set("***", "response", "attestationObject"),
    "attestationObject not cbor": _set(b64(b"\xff\xff\xff"), "response", "attestationObject"),
    "attestationObject a list": _set(b64(cbor2.dumps([1, 2])), "response", "attestationObject"),
    "attestationObject packed without statement": _set(
        b64(cbor2.dumps({"fmt": "packed", "attStmt": {}, "authData": b"\x00" * 37})),
        "response",
        "attestationObject",
    ),
}
SIGN_IN_BREAKS: dict[str, Mutation] = {
    **COMMON_BREAKS,
    "no authenticatorData": _drop("response", "authenticatorData"),
    "authenticatorData short": _set(b64(b"\x00" * 10), "response", "authenticatorData"),
    "authenticatorData not base64": _set("***", "response", "authenticatorData"),
    "no signature": _drop("response", "signature"),
    "signature garbage": _set(b64(b"\x30\x02\x00\x00"), "response", "signature"),
    "signature not base64": _set("***", "response", "signature"),
    "userHandle a number": _set(5, "response", "userHandle"),
    "userHandle not base64": _set("***", "response", "userHandle"),
}


@pytest.mark.parametrize("transports", [None, 5, {"usb": True}, "usb"])
async def test_odd_transports_do_not_break_a_registration(
    db: str, browser: str, transports: Any
) -> None:
    options = await new_account_options(browser)
    answer = mutated(
        SoftAuthenticator().register(options), _set(transports, "response", "transports")
    )
    try:
        _, passkey = await passkeys.verify_registration(RP, browser, answer)
    except PasskeyError:
        return
    assert all(
        t in {"usb", "nfc", "ble", "internal", "hybrid", "smart-card"} for t in passkey.transports
    )


@pytest.mark.parametrize(
    "cose_key",
    [cbor2.dumps([]), cbor2.dumps(""), cbor2.dumps({1: 2}), cbor2.dumps({1: 2, 3: -7})],
    ids=["list", "text", "no alg", "no curve"],
)
async def test_a_registration_with_a_broken_public_key_raises_only_passkey_error(
    db: str, browser: str, cose_key: bytes
) -> None:
    options = await new_account_options(browser)
    answer = SoftAuthenticator(broken_cose_key=cose_key).register(options)
    with pytest.raises(PasskeyError):
        await passkeys.verify_registration(RP, browser, answer)


ZERO = bytes(32)
UNUSABLE_KEYS = {
    "point not on the curve": cbor2.dumps({1: 2, 3: -7, -1: 1, -2: ZERO, -3: ZERO}),
    "coordinates as numbers": cbor2.dumps({1: 2, 3: -7, -1: 1, -2: 1, -3: 2}),
    "unknown curve": cbor2.dumps({1: 2, 3: -7, -1: 99, -2: b"\x01" * 32, -3: b"\x02" * 32}),
    "RSA algorithm on an EC key": cbor2.dumps(
        {1: 2, 3: -257, -1: 1, -2: b"\x01" * 32, -3: b"\x02" * 32}
    ),
    "bare 0x04": cbor2.dumps(4),
}


@pytest.mark.parametrize("cose_key", UNUSABLE_KEYS.values(), ids=UNUSABLE_KEYS.keys())
async def test_a_passkey_with_an_unusable_key_never_signs_in(
    db: str, browser: str, cose_key: bytes
) -> None:
    """Refused at registration, or stored and then refused, but always as PasskeyError."""
    auth = SoftAuthenticator(broken_cose_key=cose_key)
    try:
        await sign_up(auth, browser)
    except PasskeyError:
        assert await Credential.all().count() == 0
        return
    with pytest.raises(PasskeyError):
        await sign_in(auth, browser)
    assert (await passkey_of(auth)).last_used_at is None


@pytest.mark.parametrize("mutation", REGISTRATION_BREAKS.values(), ids=REGISTRATION_BREAKS.keys())
async def test_a_registration_with_a_broken_field_is_refused(
    db: str, browser: str, mutation: Mutation
) -> None:
    options = await new_account_options(browser)
    with pytest.raises(PasskeyError):
        await passkeys.verify_registration(
            RP, browser, mutated(SoftAuthenticator().register(options), mutation)
        )


@pytest.mark.parametrize("mutation", SIGN_IN_BREAKS.values(), ids=SIGN_IN_BREAKS.keys())
async def test_a_sign_in_with_a_broken_field_is_refused(
    db: str, browser: str, mutation: Mutation
) -> None:
    auth = SoftAuthenticator()
    await sign_up(auth, browser)
    options = await passkeys.authentication_options(RP, browser)
    with pytest.raises(PasskeyError):
        await passkeys.verify_authentication(RP, browser, mutated(auth.sign_in(options), mutation))
    stored = await passkey_of(auth)
    assert stored.sign_count == 1 and stored.last_used_at is None


async def test_an_oversized_answer_is_refused_before_its_challenge_is_touched(
    db: str, browser: str
) -> None:
    auth = SoftAuthenticator()
    options = await new_account_options(browser)
    with pytest.raises(PasskeyError):
        await passkeys.verify_registration(RP, browser, mutated(auth.register(options), _pad))
    assert (await challenge_of(options)).used_at is None
    await sign_up(auth, browser)
    options = await passkeys.authentication_options(RP, browser)
    with pytest.raises(PasskeyError):
        await passkeys.verify_authentication(RP, browser, mutated(auth.sign_in(options), _pad))
    assert (await challenge_of(options)).used_at is None
    assert (await passkey_of(auth)).last_used_at is None


# --- 12. A challenge serves the purpose it was made for ----------------------------------------


async def test_a_registration_challenge_cannot_sign_in(db: str, browser: str) -> None:
    auth = SoftAuthenticator()
    person = await sign_up(auth, browser)
    options = await add_passkey_options(person, browser)
    with pytest.raises(PasskeyError):
        await passkeys.verify_authentication(RP, browser, auth.sign_in(options))
    stored = await passkey_of(auth)
    assert stored.sign_count == 1 and stored.last_used_at is None


async def test_a_sign_in_challenge_cannot_register(db: str, browser: str) -> None:
    options = json.loads(await passkeys.authentication_options(RP, browser))
    # What a registration answer to it would look like, had the page offered to create one.
    options["rp"] = {"id": options["rpId"], "name": "Portail AMO"}
    options["user"] = {"id": b64(secrets.token_bytes(32)), "name": "x", "displayName": "x"}
    with pytest.raises(PasskeyError):
        await passkeys.verify_registration(
            RP, browser, SoftAuthenticator().register(json.dumps(options))
        )


# --- 13. One credential, one account ---------------------------------------------------------


async def test_the_same_credential_cannot_be_registered_twice(db: str, browser: str) -> None:
    auth = SoftAuthenticator()
    person = await sign_up(auth, browser)
    options = await add_passkey_options(person, browser)
    excluded = [c["id"] for c in json.loads(options)["excludeCredentials"]]
    assert excluded == [auth.id]
    # A browser would refuse; an authenticator that answers anyway is refused by us.
    _, passkey = await passkeys.verify_registration(RP, browser, auth.register(options))
    with pytest.raises(Invalid):
        await accounts.add_passkey(person, passkey)
    assert await Credential.filter(kind=CredentialKind.PASSKEY).count() == 1


async def test_a_registered_credential_cannot_open_a_second_account(db: str, browser: str) -> None:
    auth = SoftAuthenticator()
    await sign_up(auth, browser, "Lou")
    with pytest.raises(Invalid):
        await sign_up(auth, browser, "Sam")
    assert await Person.all().count() == 1
    assert await Credential.all().count() == 1


# --- 14. Inactive people ---------------------------------------------------------------------


async def test_the_passkey_of_an_inactive_person_is_refused(db: str, browser: str) -> None:
    auth = SoftAuthenticator()
    person = await sign_up(auth, browser)
    await Person.filter(id=person.id).update(is_active=False)
    with pytest.raises(PasskeyError):
        await sign_in(auth, browser)
    stored = await passkey_of(auth)
    assert stored.sign_count == 1 and stored.last_used_at is None


# --- 15. Removing a passkey --------------------------------------------------------------------


async def test_the_only_passkey_of_a_subject_cannot_be_removed(db: str, browser: str) -> None:
    auth = SoftAuthenticator()
    person = await sign_up(auth, browser)
    with pytest.raises(Invalid):
        await accounts.remove_passkey(person, (await passkey_of(auth)).id)
    assert await Credential.filter(person_id=person.id).count() == 1
    await sign_in(auth, browser)


async def test_a_subject_removes_one_of_two_passkeys_but_not_the_last(
    db: str, browser: str
) -> None:
    phone, laptop = SoftAuthenticator(), SoftAuthenticator()
    person = await sign_up(phone, browser)
    await add_passkey(person, laptop, browser)
    await accounts.remove_passkey(person, (await passkey_of(phone)).id)
    with pytest.raises(PasskeyError):
        await sign_in(phone, browser)
    with pytest.raises(Invalid):
        await accounts.remove_passkey(person, (await passkey_of(laptop)).id)
    assert (await sign_in(laptop, browser)).id == person.id


async def test_a_subject_with_a_password_may_remove_their_passkey(db: str, browser: str) -> None:
    person = await factories.youth()
    auth = SoftAuthenticator()
    credential = await add_passkey(person, auth, browser)
    await accounts.remove_passkey(person, credential.id)
    assert [c.kind for c in await accounts.ways_in(person)] == [CredentialKind.PASSWORD]
    assert await accounts.check_password_sign_in("lou", factories.YOUTH_PASSWORD) is not None


async def test_nobody_removes_someone_elses_passkey(db: str, browser: str) -> None:
    lou_auth = SoftAuthenticator()
    await sign_up(lou_auth, browser, "Lou")
    sam = await factories.youth("sam", "Sam")
    with pytest.raises(NotFound):
        await accounts.remove_passkey(sam, (await passkey_of(lou_auth)).id)
    assert await Credential.filter(kind=CredentialKind.PASSKEY).count() == 1


async def test_a_staff_member_with_password_and_totp_may_remove_a_passkey(
    db: str, browser: str
) -> None:
    worker = await factories.staff("wendy", Role.WORKER)
    credential = await add_passkey(worker, SoftAuthenticator(), browser)
    await accounts.remove_passkey(worker, credential.id)
    kinds = sorted(c.kind for c in await accounts.ways_in(worker))
    assert kinds == [CredentialKind.PASSWORD, CredentialKind.TOTP]


@pytest.mark.parametrize("remaining", [CredentialKind.PASSWORD, CredentialKind.TOTP])
async def test_a_staff_member_keeps_two_factors(
    db: str, browser: str, remaining: CredentialKind
) -> None:
    worker = await factories.staff("wendy", Role.WORKER)
    credential = await add_passkey(worker, SoftAuthenticator(), browser)
    await (
        Credential.filter(person_id=worker.id)
        .exclude(kind=remaining)
        .exclude(id=credential.id)
        .delete()
    )
    with pytest.raises(Invalid):
        await accounts.remove_passkey(worker, credential.id)
    assert await Credential.filter(id=credential.id).exists()


async def test_a_staff_member_with_two_passkeys_may_remove_one(db: str, browser: str) -> None:
    worker = await factories.staff("wendy", Role.WORKER)
    await Credential.filter(person_id=worker.id).delete()
    first = await add_passkey(worker, SoftAuthenticator(), browser)
    second_auth = SoftAuthenticator()
    await add_passkey(worker, second_auth, browser)
    await accounts.remove_passkey(worker, first.id)
    assert (await sign_in(second_auth, browser)).id == worker.id
    with pytest.raises(Invalid):
        await accounts.remove_passkey(worker, (await passkey_of(second_auth)).id)
