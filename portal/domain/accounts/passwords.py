"""Accounts: passwords, the authenticator app's codes, and recovery codes."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from datetime import datetime, timedelta

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from tortoise import timezone
from tortoise.transactions import in_transaction

from portal import keys
from portal.domain.accounts.names import (
    check_login,
    is_login_shape,
    login_taken,
    require_whole_account,
)
from portal.domain.errors import Invalid, NotAllowed
from portal.domain.forms import acting_once
from portal.i18n import lazy as _l
from portal.models import (
    Credential,
    CredentialKind,
    FirstCodes,
    Person,
    RecoveryCode,
)
from portal.security.password_policy import password_problem
from portal.security.passwords import hash_password, verify_password
from portal.security.tokens import token_hash

RECOVERY_CODES = 10


# The codes of a new account wait this long, sealed, for the one page that shows them.
FIRST_CODES_LIFETIME = timedelta(hours=1)


# Ten groups of four from an alphabet without look-alikes: about 60 bits each.
CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def check_new_password(password: str, *, sole_factor: bool, context: tuple[str, ...]) -> None:
    problem = password_problem(password, sole_factor=sole_factor, context=context)
    if problem:
        raise Invalid("password", problem)


async def check_password_sign_in(login: str, password: str) -> Person | None:
    """The person if the password is right. Unknown names cost the same time as wrong passwords."""
    person = None
    if is_login_shape(login):
        person = await Person.filter(login=login, is_active=True).first()
    credential = (
        await Credential.filter(person_id=person.id, kind=CredentialKind.PASSWORD).first()
        if person
        else None
    )
    ok, new_hash = verify_password(password[:1024], credential.secret if credential else None)
    if not ok or person is None or credential is None:
        return None
    now = timezone.now()
    if new_hash:
        # Made with older parameters: store the stronger hash now that we know the password.
        await Credential.filter(id=credential.id).update(secret=new_hash, last_used_at=now)
    else:
        await Credential.filter(id=credential.id).update(last_used_at=now)
    return person


async def needs_second_factor(person: Person) -> bool:
    return person.is_staff


async def check_totp(person: Person, code: str) -> bool:
    """A current TOTP code, never one already used (nor an earlier one)."""
    code = "".join(code.split())
    # ASCII digits only: isdigit accepts "١٢٣٤٥٦", and compare_digest raises on non-ASCII str.
    if not (code.isascii() and code.isdigit()) or len(code) != 6:
        return False
    async with in_transaction():
        credential = (
            await Credential.filter(person_id=person.id, kind=CredentialKind.TOTP)
            .select_for_update()
            .first()
        )
        if credential is None:
            return False
        totp = pyotp.TOTP(credential.secret)
        now = timezone.now()
        step = int(now.timestamp()) // totp.interval
        for candidate in (step, step - 1):  # the current window, and the one just before
            if secrets.compare_digest(totp.generate_otp(candidate), code):
                if credential.totp_last_step is not None and candidate <= credential.totp_last_step:
                    return False
                updated = await Credential.filter(id=credential.id).update(
                    totp_last_step=candidate, last_used_at=now
                )
                return updated == 1
    return False


def totp_uri(person: Person, secret: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(
        name=person.login or person.display_name, issuer_name=issuer
    )


async def change_password(
    person: Person, current: str, new: str, *, form_key: str | None = None
) -> None:
    require_whole_account(person)
    # The current password is checked with the change: sent twice, the form finds it changed.
    async with acting_once(form_key):
        credential = await Credential.filter(
            person_id=person.id, kind=CredentialKind.PASSWORD
        ).first()
        if credential is not None:
            ok, _ = verify_password(current[:1024], credential.secret)
            if not ok:
                raise Invalid("current", _l("This is not your current password."))
        check_new_password(
            new, sole_factor=person.is_subject, context=(person.login or "", person.display_name)
        )
        if credential is None:
            if person.login is None:
                raise NotAllowed("a password needs a sign-in name")
            await Credential.create(
                person=person, kind=CredentialKind.PASSWORD, secret=hash_password(new)
            )
        else:
            await Credential.filter(id=credential.id).update(secret=hash_password(new))


async def set_login_and_password(
    person: Person, login: str, password: str, *, form_key: str | None = None
) -> None:
    """Add a password way in for someone who has only passkeys (a subject)."""
    require_whole_account(person)
    login = check_login(login)
    check_new_password(
        password, sole_factor=person.is_subject, context=(login, person.display_name)
    )
    async with acting_once(form_key):
        if person.login:
            raise NotAllowed("already has a sign-in name")
        if await login_taken(login):
            raise Invalid("login", _l("This sign-in name is already taken. Try another one."))
        await Person.filter(id=person.id).update(login=login)
        person.login = login
        await Credential.create(
            person=person, kind=CredentialKind.PASSWORD, secret=hash_password(password)
        )


def _new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalise_code(code: str) -> str:
    raw = "".join(ch for ch in code.lower() if ch.isalnum())
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}" if len(raw) == 12 else ""


async def _replace_recovery_codes(person: Person) -> list[str]:
    await RecoveryCode.filter(person_id=person.id).delete()
    codes = [_new_code() for _ in range(RECOVERY_CODES)]
    await RecoveryCode.bulk_create(
        [RecoveryCode(person_id=person.id, code_hash=token_hash(code)) for code in codes]
    )
    return codes


async def regenerate_recovery_codes(person: Person) -> list[str]:
    if not person.is_subject:
        raise NotAllowed("recovery codes are for subjects")
    require_whole_account(person)
    async with in_transaction():
        # One renewal at a time per person: two at once would each keep their own ten codes.
        await Person.select_for_update().filter(id=person.id).first()
        return await _replace_recovery_codes(person)


async def use_recovery_code(code: str) -> Person | None:
    """Sign in with a recovery code; each works once. A wrong code finds nobody."""
    normalised = normalise_code(code)
    if not normalised:
        return None
    async with in_transaction():
        found = await RecoveryCode.filter(
            code_hash=token_hash(normalised), used_at__isnull=True
        ).first()
        if found is None:
            return None
        # Conditional update: two uses at once, only one of them succeeds.
        used = await RecoveryCode.filter(id=found.id, used_at__isnull=True).update(
            used_at=timezone.now()
        )
        if used != 1:
            return None
        return await Person.filter(id=found.person_id, is_active=True).first()


async def unused_recovery_codes(person: Person) -> int:
    return await RecoveryCode.filter(person_id=person.id, used_at__isnull=True).count()


def _codes_aead() -> AESGCM:
    return AESGCM(hashlib.sha256(b"portal-first-recovery-codes:" + keys.master_key()).digest())


def _seal_codes(person_id: int, codes: list[str]) -> str:
    nonce = os.urandom(12)
    sealed = _codes_aead().encrypt(nonce, " ".join(codes).encode(), f"{person_id}".encode())
    return base64.b64encode(nonce + sealed).decode("ascii")


def _open_codes(person_id: int, value: str) -> list[str]:
    try:
        raw = base64.b64decode(value)
        plain = _codes_aead().decrypt(raw[:12], raw[12:], f"{person_id}".encode())
    except (ValueError, InvalidTag):
        return []
    return plain.decode().split()


async def keep_first_codes(person: Person) -> None:
    """Inside the transaction that makes the account: its codes, kept for one showing."""
    codes = await _replace_recovery_codes(person)
    await FirstCodes.filter(person_id=person.id).delete()
    await FirstCodes.create(person_id=person.id, sealed=_seal_codes(person.id, codes))


async def take_first_codes(person: Person) -> list[str]:
    """The codes made with this account, once: the record goes as it is read.

    Nothing after an hour, nothing a second time, nothing in a session opened by a recovery
    link, and nothing once any of them was used or replaced (they would not all work).
    """
    if not person.is_subject or person.scope_dossier_id is not None:
        return []
    async with in_transaction():
        found = await FirstCodes.filter(person_id=person.id).select_for_update().first()
        if found is None:
            return []
        # Deleted by exactly one reader: two views at once, only one of them shows the codes.
        if await FirstCodes.filter(id=found.id).delete() != 1:
            return []
    made: datetime = found.created_at
    if timezone.now() - made > FIRST_CODES_LIFETIME:
        return []
    codes = _open_codes(person.id, found.sealed)
    hashes = [token_hash(code) for code in codes]
    still = await RecoveryCode.filter(
        person_id=person.id, code_hash__in=hashes, used_at__isnull=True
    ).count()
    if not codes or still != len(codes):
        return []
    return codes
