"""Accounts: who may exist, their ways in, recovery, and staff invitations."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from tortoise import timezone
from tortoise.transactions import in_transaction

from portal import keys
from portal.domain import journal
from portal.domain.errors import Invalid, NotAllowed, NotFound
from portal.i18n import lazy as _l
from portal.models import (
    SUBJECT_ROLES,
    Assignment,
    Credential,
    CredentialKind,
    Dossier,
    FirstCodes,
    LinkKind,
    OneTimeLink,
    Person,
    RecoveryCode,
    Role,
    Service,
)
from portal.security.password_policy import password_problem
from portal.security.passwords import hash_password, verify_password
from portal.security.tokens import new_token, token_hash
from portal.settings import LANGUAGES

INVITATION_LIFETIME = timedelta(hours=72)
RECOVERY_LINK_LIFETIME = timedelta(minutes=30)
RECOVERY_CODES = 10
# The codes of a new account wait this long, sealed, for the one page that shows them.
FIRST_CODES_LIFETIME = timedelta(hours=1)
# Ten groups of four from an alphabet without look-alikes: about 60 bits each.
CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,39}$")
# Staff sign in with their work e-mail address. A young person's sign-in name never holds an
# "@", so choosing one on the sign-up form can never tell whether a staff member exists.
WORK_EMAIL_RE = re.compile(r"^[a-z0-9._%+-]{1,64}@[a-z0-9-]+(\.[a-z0-9-]+)+$")
MAX_EMAIL = 254
MAX_NAME = 40
# Line breaks, and the zero-width joiner that emoji sequences are made of.
KEPT = frozenset({"\n", "\u200d"})


def clean_text(value: str) -> str:
    """NFC, no control characters, single spaces, trimmed."""
    value = unicodedata.normalize("NFC", value)
    value = "".join(ch for ch in value if ch in KEPT or unicodedata.category(ch)[0] != "C")
    return " ".join(value.split())


def clean_multiline(value: str) -> str:
    """NFC, line breaks kept (at most two in a row), other control characters dropped."""
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    value = "".join(ch for ch in value if ch in KEPT or unicodedata.category(ch)[0] != "C")
    value = re.sub(r"\n{3,}", "\n\n", value)
    return "\n".join(line.rstrip() for line in value.strip().split("\n"))


def check_display_name(value: str) -> str:
    name = clean_text(value)
    if not name:
        raise Invalid("display_name", _l("Tell us a first name or a nickname."))
    if len(name) > MAX_NAME:
        raise Invalid("display_name", _l("40 characters at most."))
    return name


def check_login(value: str) -> str:
    login = clean_text(value).lower()
    if not LOGIN_RE.match(login):
        raise Invalid(
            "login",
            _l("3 to 40 characters: letters without accents, digits, dot, dash or underscore."),
        )
    return login


def check_work_email(value: str) -> str:
    """A staff member's work address, which is also their sign-in name (lower case)."""
    email = clean_text(value).lower()
    if len(email) > MAX_EMAIL or not WORK_EMAIL_RE.match(email):
        raise Invalid("email", _l("Write a work e-mail address, like name@service.be."))
    return email


def is_login_shape(value: str) -> bool:
    """A young person's sign-in name, or a staff member's work address."""
    return bool(LOGIN_RE.match(value)) or (
        len(value) <= MAX_EMAIL and bool(WORK_EMAIL_RE.match(value))
    )


def check_language(value: str) -> str:
    if value not in LANGUAGES:
        raise Invalid("language", _l("Choose French, Dutch or English."))
    return value


def check_new_password(password: str, *, sole_factor: bool, context: tuple[str, ...]) -> None:
    problem = password_problem(password, sole_factor=sole_factor, context=context)
    if problem:
        raise Invalid("password", problem)


def new_user_handle() -> str:
    return secrets.token_hex(32)


async def login_taken(login: str) -> bool:
    return await Person.filter(login=login).exists()


class LimitedSession(NotAllowed):
    """The session reaches one dossier only (a worker's recovery link): no account-wide change."""


def require_whole_account(person: Person) -> None:
    """Refuse what changes the whole account in a session opened by a recovery link.

    Whoever holds the link (the worker who made it included) must not be able to keep the
    account: new codes, a password, a sign-in name, removing a passkey, an e-mail address
    for notices, a new request. The owner gets all of it back with one of her codes.
    """
    if person.scope_dossier_id is not None:
        raise LimitedSession("this session reaches one dossier only")


# --- Subjects ------------------------------------------------------------------------------


@dataclass
class NewSubject:
    """What a young person or a relative gives to make an account: no e-mail, no phone."""

    role: Role
    display_name: str
    language: str


def check_new_subject(role: str, display_name: str, language: str) -> NewSubject:
    if role not in {r.value for r in SUBJECT_ROLES}:
        raise Invalid(
            "role", _l("Tell us whether you are a young person, or a parent or relative.")
        )
    return NewSubject(
        role=Role(role),
        display_name=check_display_name(display_name),
        language=check_language(language),
    )


async def create_subject_with_password(new: NewSubject, login: str, password: str) -> Person:
    """A subject whose only way in is a password (at least 15 characters).

    The ten recovery codes are made with the account, in the same transaction; the welcome
    page shows them once (``take_first_codes``).
    """
    login = check_login(login)
    check_new_password(password, sole_factor=True, context=(login, new.display_name))
    async with in_transaction():
        if await login_taken(login):
            raise Invalid("login", _l("This sign-in name is already taken. Try another one."))
        person = await Person.create(
            role=new.role,
            display_name=new.display_name,
            language=new.language,
            login=login,
            user_handle=new_user_handle(),
        )
        await Credential.create(
            person=person, kind=CredentialKind.PASSWORD, secret=hash_password(password)
        )
        await _first_codes(person)
    return person


async def create_subject_with_passkey(
    new: NewSubject, user_handle: str, passkey: PasskeyData
) -> Person:
    async with in_transaction():
        person = await Person.create(
            role=new.role,
            display_name=new.display_name,
            language=new.language,
            user_handle=user_handle,
        )
        await _store_passkey(person, passkey)
        await _first_codes(person)
    return person


# --- Passwords and TOTP --------------------------------------------------------------------


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


async def change_password(person: Person, current: str, new: str) -> None:
    require_whole_account(person)
    credential = await Credential.filter(person_id=person.id, kind=CredentialKind.PASSWORD).first()
    if credential is not None:
        ok, _ = verify_password(current[:1024], credential.secret)
        if not ok:
            raise Invalid("current", _l("This is not your current password."))
    sole_factor = person.is_subject
    check_new_password(
        new, sole_factor=sole_factor, context=(person.login or "", person.display_name)
    )
    async with in_transaction():
        if credential is None:
            if person.login is None:
                raise NotAllowed("a password needs a sign-in name")
            await Credential.create(
                person=person, kind=CredentialKind.PASSWORD, secret=hash_password(new)
            )
        else:
            await Credential.filter(id=credential.id).update(secret=hash_password(new))


async def set_login_and_password(person: Person, login: str, password: str) -> None:
    """Add a password way in for someone who has only passkeys (a subject)."""
    require_whole_account(person)
    if person.login:
        raise NotAllowed("already has a sign-in name")
    login = check_login(login)
    check_new_password(
        password, sole_factor=person.is_subject, context=(login, person.display_name)
    )
    async with in_transaction():
        if await login_taken(login):
            raise Invalid("login", _l("This sign-in name is already taken. Try another one."))
        await Person.filter(id=person.id).update(login=login)
        person.login = login
        await Credential.create(
            person=person, kind=CredentialKind.PASSWORD, secret=hash_password(password)
        )


async def update_profile(person: Person, display_name: str, language: str) -> None:
    require_whole_account(person)
    name = check_display_name(display_name)
    lang = check_language(language)
    await Person.filter(id=person.id).update(display_name=name, language=lang)
    person.display_name, person.language = name, lang


# --- Recovery codes --------------------------------------------------------------------------


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


# The ten codes of a new account are made with it, and wait for the page that shows them:
# sealed with a key derived from the server's master key, bound to the person, kept at most an
# hour, and deleted by the page that shows them.


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


async def _first_codes(person: Person) -> None:
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


# --- Passkeys ---------------------------------------------------------------------------------


@dataclass
class PasskeyData:
    credential_id: bytes
    public_key: bytes
    sign_count: int
    transports: list[str]
    label: str = ""


async def _store_passkey(person: Person, passkey: PasskeyData) -> Credential:
    if await Credential.filter(credential_id=passkey.credential_id).exists():
        raise Invalid("passkey", _l("This passkey is already registered."))
    return await Credential.create(
        person=person,
        kind=CredentialKind.PASSKEY,
        label=passkey.label[:80],
        credential_id=passkey.credential_id,
        public_key=passkey.public_key,
        sign_count=passkey.sign_count,
        transports=passkey.transports,
        # Made in a session opened by a recovery link: it opens that one dossier, no more.
        scope_dossier_id=person.scope_dossier_id,
    )


async def add_passkey(person: Person, passkey: PasskeyData) -> Credential:
    """Add a passkey; in a session limited to one dossier, the passkey is limited the same."""
    async with in_transaction():
        return await _store_passkey(person, passkey)


async def ways_in(person: Person) -> list[Credential]:
    return await Credential.filter(person_id=person.id).order_by("created_at")


async def remove_passkey(person: Person, credential_id: int) -> None:
    """Remove one of one's passkeys, never the last way into the whole account."""
    require_whole_account(person)
    async with in_transaction():
        await Person.select_for_update().get(id=person.id)
        credential = await Credential.filter(
            id=credential_id, person_id=person.id, kind=CredentialKind.PASSKEY
        ).first()
        if credential is None:
            raise NotFound("no such passkey")
        # A passkey limited to one dossier is no way into the whole account.
        others = (
            await Credential.filter(person_id=person.id, scope_dossier_id__isnull=True)
            .exclude(id=credential.id)
            .exclude(kind=CredentialKind.TOTP)
            .count()
        )
        if others == 0:
            raise Invalid("passkey", _l("This is your only way in. Add another one first."))
        if person.is_staff and not await _staff_keeps_two_factors(person, credential.id):
            raise Invalid("passkey", _l("This is your only way in. Add another one first."))
        await credential.delete()


async def _staff_keeps_two_factors(person: Person, removing: int) -> bool:
    remaining = await Credential.filter(person_id=person.id).exclude(id=removing)
    kinds = {c.kind for c in remaining}
    return (
        CredentialKind.PASSKEY in kinds or {CredentialKind.PASSWORD, CredentialKind.TOTP} <= kinds
    )


# --- Staff: admins, invitations ----------------------------------------------------------------


async def create_admin(*, login: str, display_name: str, password: str, service_id: int) -> str:
    """Create a service's admin with a password and a TOTP secret; return the secret to enrol.

    An admin always belongs to a service that exists: one without would see no figures, could
    invite nobody, and nothing would say which staff are hers.
    """
    return await _create_manager(Role.ADMIN, login, display_name, password, service_id)


async def create_operator(*, login: str, display_name: str, password: str) -> str:
    """Create the installation's operator (services, the partner directory); return the TOTP
    secret to enrol."""
    return await _create_manager(Role.OPERATOR, login, display_name, password, None)


async def _create_manager(
    role: Role, login: str, display_name: str, password: str, service_id: int | None
) -> str:
    login = check_work_email(login)
    name = check_display_name(display_name)
    check_new_password(password, sole_factor=False, context=(login, name))
    secret = pyotp.random_base32()
    async with in_transaction():
        service = None
        if role is Role.ADMIN:
            service = await Service.filter(id=service_id).first() if service_id else None
            if service is None:
                raise Invalid("service", _l("No service has this number."))
        if await login_taken(login):
            raise Invalid("email", _l("This address already has an account."))
        person = await Person.create(
            login=login,
            role=role,
            display_name=name,
            service=service,
            user_handle=new_user_handle(),
        )
        await Credential.create(
            person=person, kind=CredentialKind.PASSWORD, secret=hash_password(password)
        )
        await Credential.create(person=person, kind=CredentialKind.TOTP, secret=secret)
    return secret


async def renew_link(issuer: Person, person_id: int, kind: LinkKind) -> str:
    """The one-time link just made for this person, with a new token; the old one stops working.

    A link is shown once and only its hash is kept. When the form that made it is sent twice
    (a double tap), the browser shows the second answer: that answer gets the same link (the
    same person, the same expiry, one journal entry) under a token it can show.
    """
    async with in_transaction():
        link = (
            await OneTimeLink.filter(
                person_id=person_id,
                kind=kind,
                issued_by_id=issuer.id,
                used_at__isnull=True,
                expires_at__gt=timezone.now(),
            )
            .order_by("-id")
            .select_for_update()
            .first()
        )
        if link is None:
            raise NotFound("no such link")
        token = new_token()
        await OneTimeLink.filter(id=link.id).update(token_hash=token_hash(token))
    return token


async def find_link(token: str, kind: LinkKind) -> OneTimeLink:
    """A link that is still valid: not used, not expired. Anything else is simply not found."""
    if not token or len(token) > 100:
        raise NotFound("no such link")
    link = (
        await OneTimeLink.filter(token_hash=token_hash(token), kind=kind, used_at__isnull=True)
        .select_related("person")
        .first()
    )
    if link is None or timezone.now() >= link.expires_at:
        raise NotFound("no such link")
    return link


async def _consume(link: OneTimeLink) -> None:
    used = await OneTimeLink.filter(id=link.id, used_at__isnull=True).update(used_at=timezone.now())
    if used != 1:
        raise NotFound("link already used")


class SignedInElsewhere(NotAllowed):
    """An invitation opened in a browser where someone is signed in: they sign out first."""


def _nobody_signed_in(signed_in: Person | None) -> None:
    # Whoever is signed in here (the inviter above all) cannot become the person invited.
    if signed_in is not None:
        raise SignedInElsewhere("sign out first")


async def _invitation(token: str) -> OneTimeLink:
    link = await find_link(token, LinkKind.INVITATION)
    person = link.person
    if person.deactivated_at is not None or person.is_active or not person.login:
        raise NotFound("no such invitation")
    return link


async def open_invitation(token: str, signed_in: Person | None) -> Person:
    """The person an invitation is for; only in a browser where nobody is signed in."""
    link = await _invitation(token)
    _nobody_signed_in(signed_in)
    return link.person


async def accept_invitation_with_password(
    token: str, password: str, signed_in: Person | None
) -> tuple[Person, str]:
    """The invited person chooses a password; returns their TOTP secret.

    Their sign-in name is the work address the invitation was sent to. The account stays
    inactive until the first TOTP code is confirmed (``confirm_invitation_totp``).
    """
    link = await _invitation(token)
    _nobody_signed_in(signed_in)
    person = link.person
    login = person.login or ""
    check_new_password(password, sole_factor=False, context=(login, person.display_name))
    secret = pyotp.random_base32()
    async with in_transaction():
        await Credential.filter(person_id=person.id).delete()
        await Credential.create(
            person=person, kind=CredentialKind.PASSWORD, secret=hash_password(password)
        )
        await Credential.create(person=person, kind=CredentialKind.TOTP, secret=secret)
    return person, secret


async def confirm_invitation_totp(token: str, code: str, signed_in: Person | None) -> Person:
    """The first code from the authenticator app proves the enrolment; the account opens."""
    link = await _invitation(token)
    _nobody_signed_in(signed_in)
    person = link.person
    if not await check_totp(person, code):
        raise Invalid(
            "code", _l("This code is not right. Check the time on your phone and try again.")
        )
    async with in_transaction():
        await _consume(link)
        await Person.filter(id=person.id, deactivated_at__isnull=True).update(is_active=True)
        person.is_active = True
    return person


async def accept_invitation_with_passkey(
    token: str, passkey: PasskeyData, signed_in: Person | None
) -> Person:
    link = await _invitation(token)
    _nobody_signed_in(signed_in)
    person = link.person
    async with in_transaction():
        await _consume(link)
        await Credential.filter(person_id=person.id).delete()
        await _store_passkey(person, passkey)
        await Person.filter(id=person.id, deactivated_at__isnull=True).update(is_active=True)
        person.is_active = True
    return person


# --- Recovery link, given in person by a worker --------------------------------------------------


@dataclass
class RecoveryLinkSeen:
    """A recovery link made for one's account, as its owner is shown it at her next sign-in."""

    id: int
    by_name: str
    service_name: str
    made_at: datetime
    used_at: datetime | None


async def _write_in_every_dossier(
    subject_id: int,
    event: str,
    details: dict[str, object],
    actor: Person | None = None,
    actor_dossier_id: int | None = None,
) -> None:
    """The same entry in each dossier of the account, every service's: each row held.

    ``actor`` is named as the one who acted only in ``actor_dossier_id`` (the dossier she
    follows); the others carry her name in the details, which only the young person reads
    (see the timeline's sentences).
    """
    dossiers = await Dossier.filter(subject_id=subject_id, erased_at__isnull=True).only("id")
    ids = [d.id for d in dossiers]
    for dossier_id in sorted(ids):
        locked = await Dossier.select_for_update().get(id=dossier_id)
        who = actor if dossier_id == actor_dossier_id else None
        await journal.record(locked, event, who, details)


async def _link_details(issuer: Person | None) -> dict[str, object]:
    if issuer is None:
        return {}
    service = await Service.filter(id=issuer.service_id).first() if issuer.service_id else None
    return {
        "by": issuer.id,
        "by_name": issuer.display_name,
        "service": issuer.service_id,
        "service_name": service.name if service else "",
    }


async def issue_recovery_link(worker: Person, dossier_id: int) -> str:
    """A worker assigned to a subject's dossier gives them a 30-minute link to get back in.

    The link opens only this dossier (see ``use_recovery_link``). That it was made, and by
    whom, is written in every dossier of the account, of every service.
    """
    if worker.role is not Role.WORKER or not worker.is_active:
        raise NotFound("no such dossier")
    async with in_transaction():
        dossier = await Dossier.filter(id=dossier_id, service_id=worker.service_id).first()
        assigned = (
            dossier
            and await Assignment.filter(
                dossier_id=dossier.id, worker_id=worker.id, ended_at__isnull=True
            ).exists()
        )
        if dossier is None or not assigned or dossier.erased_at is not None:
            raise NotFound("no such dossier")
        token = new_token()
        await OneTimeLink.create(
            kind=LinkKind.RECOVERY,
            token_hash=token_hash(token),
            person_id=dossier.subject_id,
            issued_by=worker,
            dossier_id=dossier.id,
            expires_at=timezone.now() + RECOVERY_LINK_LIFETIME,
        )
        await _write_in_every_dossier(
            dossier.subject_id,
            "recovery_link.issued",
            await _link_details(worker),
            actor=worker,
            actor_dossier_id=dossier.id,
        )
    return token


async def use_recovery_link(token: str) -> Person:
    """Sign in through the link: the person, limited to the dossier the link was given for.

    The use is written in every dossier of the account, naming who made the link.
    """
    link = await find_link(token, LinkKind.RECOVERY)
    if link.dossier_id is None or not link.person.is_subject:
        # A link of before links were tied to one dossier opens nothing.
        raise NotFound("no such link")
    async with in_transaction():
        issuer = await Person.filter(id=link.issued_by_id).first() if link.issued_by_id else None
        # Whoever holds it gets no more than its maker can read: once she no longer follows
        # the dossier (it came back and waits, she left), the link opens nothing.
        following = (
            issuer is not None
            and issuer.is_active
            and await Assignment.filter(
                dossier_id=link.dossier_id, worker_id=issuer.id, ended_at__isnull=True
            ).exists()
        )
        if not following:
            raise NotFound("its maker no longer follows the dossier")
        await _consume(link)
        await _write_in_every_dossier(
            link.person_id, "recovery_link.used", await _link_details(issuer)
        )
    person = link.person
    person.scope_dossier_id = link.dossier_id
    return person


async def recovery_links_to_show(person: Person) -> list[RecoveryLinkSeen]:
    """The recovery links made for this account that its owner has not been shown yet."""
    if not person.is_subject:
        return []
    query = OneTimeLink.filter(person_id=person.id, kind=LinkKind.RECOVERY, shown_at__isnull=True)
    if person.scope_dossier_id is not None:
        # A session opened by a link: whoever holds it (the worker herself, maybe) learns
        # nothing of the account's other dossiers, such as who follows her in another service.
        # The others stay to be shown once she is back in her whole account.
        query = query.filter(dossier_id=person.scope_dossier_id)
    links = await query.select_related("issued_by", "issued_by__service").order_by("id")
    seen = []
    for link in links:
        issuer = link.issued_by
        seen.append(
            RecoveryLinkSeen(
                id=link.id,
                by_name=issuer.display_name if issuer else "",
                service_name=issuer.service.name if issuer and issuer.service else "",
                made_at=link.created_at,
                used_at=link.used_at,
            )
        )
    return seen


async def mark_recovery_links_shown(person: Person, up_to: int) -> int:
    """The owner saw the list: the links shown to her (up to that id) are not shown again.

    Only in a session that reaches the whole account: in one opened by a recovery link, the
    holder of the link could otherwise hide from the owner that it was made and used.
    """
    require_whole_account(person)
    if not 0 < up_to < 2**31:
        return 0
    return await OneTimeLink.filter(
        person_id=person.id, kind=LinkKind.RECOVERY, shown_at__isnull=True, id__lte=up_to
    ).update(shown_at=timezone.now())
