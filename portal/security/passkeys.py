"""Passkeys (WebAuthn) through py_webauthn, wrapped here so the rest sees only our own errors.

Challenges are kept in the database, bound to the browser that asked for them, used once,
and valid for five minutes. User verification is always required.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from tortoise import timezone
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.parse_authentication_credential_json import (
    parse_authentication_credential_json,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from portal.i18n import _
from portal.models import ChallengePurpose, Credential, CredentialKind, PasskeyChallenge, Person
from portal.security.tokens import token_hash


@dataclass
class PasskeyData:
    """A passkey as its registration gave it, before it is stored."""

    credential_id: bytes
    public_key: bytes
    sign_count: int
    transports: list[str]
    label: str = ""


CHALLENGE_LIFETIME = timedelta(minutes=5)
MAX_CREDENTIAL_JSON = 16 * 1024


class PasskeyError(Exception):
    """The passkey ceremony failed; the page says so kindly and nothing changes."""


@dataclass(frozen=True)
class RelyingParty:
    id: str
    name: str
    origin: str


async def _new_challenge(
    purpose: ChallengePurpose,
    challenge: bytes,
    browser_id: str,
    person: Person | None = None,
    pending: dict[str, str] | None = None,
) -> None:
    # Old challenges go: an abandoned new account's typing is not kept beyond an hour.
    await PasskeyChallenge.filter(expires_at__lt=timezone.now() - timedelta(hours=1)).delete()
    await PasskeyChallenge.create(
        challenge=bytes_to_base64url(challenge),
        purpose=purpose,
        browser_hash=token_hash(browser_id),
        person=person,
        pending=pending or {},
        expires_at=timezone.now() + CHALLENGE_LIFETIME,
    )


async def _take_challenge(
    purpose: ChallengePurpose, client_challenge: bytes, browser_id: str
) -> PasskeyChallenge:
    """Find and burn the challenge the browser answered: once, in time, from the same browser."""
    found = await PasskeyChallenge.filter(
        challenge=bytes_to_base64url(client_challenge),
        purpose=purpose,
        browser_hash=token_hash(browser_id),
        used_at__isnull=True,
    ).first()
    if found is None or timezone.now() >= found.expires_at:
        raise PasskeyError("unknown, used or expired challenge")
    # Burnt and emptied: what a new account had typed does not stay here.
    used = await PasskeyChallenge.filter(id=found.id, used_at__isnull=True).update(
        used_at=timezone.now(), pending={}
    )
    if used != 1:
        raise PasskeyError("challenge already used")
    return found


def _client_challenge(credential_json: str) -> bytes:
    """The challenge the browser signed, read from clientDataJSON before full verification."""
    try:
        data = json.loads(credential_json)
        client_data = json.loads(base64url_to_bytes(data["response"]["clientDataJSON"]))
        return base64url_to_bytes(client_data["challenge"])
    except (ValueError, KeyError, TypeError, RecursionError) as error:
        # RecursionError: JSON nested a few thousand deep, well under the size limit.
        raise PasskeyError("malformed credential") from error


def _check_size(credential_json: str) -> None:
    if len(credential_json) > MAX_CREDENTIAL_JSON:
        raise PasskeyError("credential too large")


def neutral_user_name() -> str:
    """The name a subject's passkey is kept under, in the language of the page that made it."""
    return _("My account")


async def registration_options(
    rp: RelyingParty,
    browser_id: str,
    *,
    user_handle: str,
    user_name: str | None = None,
    person: Person | None = None,
    pending: dict[str, str] | None = None,
) -> str:
    """Options for navigator.credentials.create, as JSON; the challenge is stored.

    Without ``user_name`` (a young person's or a parent's passkey), the phone keeps the passkey
    under a neutral name and the site's domain, which it shows anyway: its list of passkeys,
    open to whoever holds the phone, names neither the person nor the portal. Staff passkeys
    keep their work address, to tell accounts apart.
    """
    if user_name is None:
        user_name, rp_name = neutral_user_name(), rp.id
    else:
        rp_name = rp.name
    exclude: list[PublicKeyCredentialDescriptor] = []
    if person is not None:
        existing = await Credential.filter(person_id=person.id, kind=CredentialKind.PASSKEY)
        exclude = [
            PublicKeyCredentialDescriptor(id=c.credential_id) for c in existing if c.credential_id
        ]
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp_name,
        user_id=bytes.fromhex(user_handle),
        user_name=user_name,
        user_display_name=user_name,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=exclude,
        timeout=300_000,
    )
    await _new_challenge(ChallengePurpose.REGISTER, options.challenge, browser_id, person, pending)
    return str(options_to_json(options))


async def verify_registration(
    rp: RelyingParty, browser_id: str, credential_json: str
) -> tuple[PasskeyChallenge, PasskeyData]:
    _check_size(credential_json)
    challenge = await _take_challenge(
        ChallengePurpose.REGISTER, _client_challenge(credential_json), browser_id
    )
    try:
        verified = verify_registration_response(
            credential=credential_json,
            expected_challenge=base64url_to_bytes(challenge.challenge),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=True,
        )
    except Exception as error:
        # Untrusted bytes: py_webauthn can fail in other ways too (a CBOR list as the public
        # key raises IndexError). Whatever it raises, the answer is "refused".
        raise PasskeyError(str(error)) from error
    transports: list[str] = []
    try:
        raw = json.loads(credential_json).get("response", {}).get("transports", [])
        if isinstance(raw, list):
            transports = [str(t)[:20] for t in raw if isinstance(t, str)][:6]
    except (ValueError, AttributeError):
        transports = []
    return challenge, PasskeyData(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=transports,
    )


async def authentication_options(rp: RelyingParty, browser_id: str) -> str:
    """Options for navigator.credentials.get with no allow list: the passkey says who."""
    options = generate_authentication_options(
        rp_id=rp.id,
        user_verification=UserVerificationRequirement.REQUIRED,
        timeout=300_000,
    )
    await _new_challenge(ChallengePurpose.AUTHENTICATE, options.challenge, browser_id)
    return str(options_to_json(options))


async def verify_authentication(rp: RelyingParty, browser_id: str, credential_json: str) -> Person:
    _check_size(credential_json)
    challenge = await _take_challenge(
        ChallengePurpose.AUTHENTICATE, _client_challenge(credential_json), browser_id
    )
    try:
        parsed = parse_authentication_credential_json(credential_json)
    except (WebAuthnException, ValueError, KeyError, TypeError) as error:
        raise PasskeyError("malformed credential") from error
    credential = (
        await Credential.filter(credential_id=parsed.raw_id, kind=CredentialKind.PASSKEY)
        .select_related("person")
        .first()
    )
    if credential is None or credential.public_key is None or not credential.person.is_active:
        raise PasskeyError("unknown passkey")
    person = credential.person
    # The authenticator says whose passkey this is: it must be the owner we have on file.
    handle = parsed.response.user_handle
    if handle is None or person.user_handle is None or handle.hex() != person.user_handle:
        raise PasskeyError("user handle does not match the passkey's owner")
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=base64url_to_bytes(challenge.challenge),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=credential.public_key,
            credential_current_sign_count=credential.sign_count,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as error:
        # This also refuses a sign count going backwards (a cloned authenticator), unless both
        # are 0 as with synced passkeys.
        raise PasskeyError(str(error)) from error
    await Credential.filter(id=credential.id).update(
        sign_count=verified.new_sign_count, last_used_at=timezone.now()
    )
    # A passkey made through a recovery link opens the one dossier that link was given for.
    person.scope_dossier_id = credential.scope_dossier_id
    return person
