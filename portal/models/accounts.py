"""People and their ways in: roles, credentials, sessions, codes, links, notices."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

if TYPE_CHECKING:
    from portal.models.dossiers import Dossier
    from portal.models.services import Partner, Service


class Role(StrEnum):
    YOUTH = "youth"
    RELATIVE = "relative"
    WORKER = "worker"
    PARTNER = "partner"
    ADMIN = "admin"
    # The installation's operator: services, their first admin, the partner directory.
    OPERATOR = "operator"


SUBJECT_ROLES = frozenset({Role.YOUTH, Role.RELATIVE})


STAFF_ROLES = frozenset({Role.WORKER, Role.PARTNER, Role.ADMIN, Role.OPERATOR})


class CredentialKind(StrEnum):
    PASSKEY = "passkey"
    PASSWORD = "password"  # noqa: S105 - the name of a kind, not a secret
    TOTP = "totp"


class Person(Model):
    """An account. Subjects give a pseudonym and a birth month, staff belong to an organisation."""

    id = fields.IntField(primary_key=True)
    role = fields.CharEnumField(Role, max_length=10)
    # The name typed to sign in with a password (staff: their work e-mail address);
    # passkey-only subjects need none.
    login = fields.CharField(max_length=254, unique=True, null=True)
    display_name = fields.CharField(max_length=80)
    language = fields.CharField(max_length=2, default="fr")
    birth_year = fields.SmallIntField(null=True)
    birth_month = fields.SmallIntField(null=True)
    service: fields.ForeignKeyNullableRelation[Service] = fields.ForeignKeyField(
        "models.Service", related_name="staff", null=True, on_delete=fields.RESTRICT
    )
    service_id: int | None
    partner: fields.ForeignKeyNullableRelation[Partner] = fields.ForeignKeyField(
        "models.Partner", related_name="users", null=True, on_delete=fields.RESTRICT
    )
    partner_id: int | None
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    # The random WebAuthn user handle: never the database id, which would say how many exist.
    user_handle = fields.CharField(max_length=64, unique=True, null=True)
    # Optional: an address for neutral notices, only if the person gave one and chose them.
    email = fields.CharField(max_length=254, default="", db_default="")
    notify_by_email = fields.BooleanField(default=False, db_default=False)
    # Until when the person has seen what is new (the count on every signed-in page).
    news_seen_at = fields.DatetimeField(null=True)
    # Staff who left: the account stays (the journal names it), but nobody can sign in as it.
    deactivated_at = fields.DatetimeField(null=True)
    deactivated_by: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="deactivated", null=True, on_delete=fields.SET_NULL
    )
    deactivated_by_id: int | None

    # Not a column: set from the session when it was opened by a recovery link (or a passkey
    # made in one), which reaches only the one dossier the link was given for.
    scope_dossier_id: int | None = None

    class Meta:
        table = "person"

    @property
    def is_subject(self) -> bool:
        return self.role in SUBJECT_ROLES

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


class Credential(Model):
    """A way in: a passkey, a password hash or a TOTP secret."""

    id = fields.IntField(primary_key=True)
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="credentials", on_delete=fields.CASCADE
    )
    person_id: int
    kind = fields.CharEnumField(CredentialKind, max_length=10)
    label = fields.CharField(max_length=80, default="")
    # Passkeys: the credential id, its public key and the last sign count.
    credential_id = fields.BinaryField(null=True)
    public_key = fields.BinaryField(null=True)
    sign_count = fields.BigIntField(default=0)
    transports: fields.Field[list[str]] = fields.JSONField(default=list)
    # Passwords: the argon2id hash. TOTP: the shared secret.
    secret = fields.CharField(max_length=300, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    # TOTP: the last time step accepted, so a code cannot be used twice.
    totp_last_step = fields.BigIntField(null=True)
    # A passkey added through a worker's recovery link opens only that link's dossier.
    scope_dossier: fields.ForeignKeyNullableRelation[Dossier] = fields.ForeignKeyField(
        "models.Dossier", related_name="scoped_credentials", null=True, on_delete=fields.CASCADE
    )
    scope_dossier_id: int | None

    class Meta:
        table = "credential"


class LinkKind(StrEnum):
    INVITATION = "invitation"
    RECOVERY = "recovery"


class ChallengePurpose(StrEnum):
    REGISTER = "register"
    AUTHENTICATE = "authenticate"


class Session(Model):
    """A signed-in browser. Only the hash of the random cookie value is stored."""

    id = fields.BigIntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="sessions", on_delete=fields.CASCADE
    )
    person_id: int
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    # Staff who gave their password but not yet their second factor.
    second_factor_pending = fields.BooleanField(default=False)
    device = fields.CharField(max_length=120, default="")
    ended_at = fields.DatetimeField(null=True)
    # A session opened by a recovery link, or a passkey made in one: that dossier only.
    scope_dossier: fields.ForeignKeyNullableRelation[Dossier] = fields.ForeignKeyField(
        "models.Dossier", related_name="scoped_sessions", null=True, on_delete=fields.CASCADE
    )
    scope_dossier_id: int | None

    class Meta:
        table = "session"
        indexes = (Index(fields=("person_id", "ended_at")),)


class RecoveryCode(Model):
    """A single-use code to get back in, stored as a hash, shown once."""

    id = fields.IntField(primary_key=True)
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="recovery_codes", on_delete=fields.CASCADE
    )
    person_id: int
    code_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "recovery_code"


class OneTimeLink(Model):
    """An invitation for staff, or a recovery link given to a young person in person."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(LinkKind, max_length=12)
    token_hash = fields.CharField(max_length=64, unique=True)
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="links", on_delete=fields.CASCADE
    )
    person_id: int
    issued_by: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="links_issued", null=True, on_delete=fields.RESTRICT
    )
    issued_by_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    # Invitations: the work address the link was sent to (the inviter never sees the link).
    email = fields.CharField(max_length=254, default="", db_default="")
    # Recovery links: the dossier the worker gave it for, the only one it opens.
    dossier: fields.ForeignKeyNullableRelation[Dossier] = fields.ForeignKeyField(
        "models.Dossier", related_name="recovery_links", null=True, on_delete=fields.CASCADE
    )
    dossier_id: int | None
    # When the account's owner was shown that this link was made (first thing after sign-in).
    shown_at = fields.DatetimeField(null=True)

    class Meta:
        table = "one_time_link"


class PasskeyChallenge(Model):
    """A WebAuthn challenge: kept here, bound to one browser, single use, five minutes."""

    id = fields.BigIntField(primary_key=True)
    challenge = fields.CharField(max_length=128, unique=True)
    purpose = fields.CharEnumField(ChallengePurpose, max_length=12)
    browser_hash = fields.CharField(max_length=64)
    person: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="passkey_challenges", null=True, on_delete=fields.CASCADE
    )
    person_id: int | None
    # A new account waiting for its first passkey: what the person typed, nothing more.
    pending: fields.Field[dict[str, str]] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "passkey_challenge"


class Channel(StrEnum):
    """How a notice goes: a neutral e-mail, or a neutral push to each of the person's devices."""

    EMAIL = "email"
    PUSH = "push"


class Notice(Model):
    """An e-mail to send: neutral words only, retried until it goes, never in a request.

    Or a push to each of the person's devices (``channel``), with the same neutral words.
    """

    id = fields.BigIntField(primary_key=True)
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="notices", on_delete=fields.CASCADE
    )
    person_id: int
    created_at = fields.DatetimeField(auto_now_add=True)
    next_try_at = fields.DatetimeField()
    attempts = fields.SmallIntField(default=0)
    sent_at = fields.DatetimeField(null=True)
    given_up_at = fields.DatetimeField(null=True)
    # One notice waits per person and channel.
    channel = fields.CharEnumField(Channel, max_length=8, default=Channel.EMAIL)

    class Meta:
        table = "notice"
        indexes = (Index(fields=("sent_at", "given_up_at", "next_try_at")),)


class NoticeProgress(Model):
    """How far the notices have read the journal: one row, the last entry they turned into
    notices (the migration that made it started it at the journal's end)."""

    id = fields.IntField(primary_key=True)
    last_entry_id = fields.BigIntField(default=0)

    class Meta:
        table = "notice_progress"


class SubmittedForm(Model):
    """A form already acted on: the hash of its single-use key and what its first answer was.

    A repeat of the same form (a double tap, a resend after a lost answer) finds its key here
    and gets that answer again instead of a second effect.
    """

    id = fields.BigIntField(primary_key=True)
    key_hash = fields.CharField(max_length=64, unique=True)
    # Where the first answer sent the person, or what a page needs to answer the same again.
    outcome = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "submitted_form"
        indexes = (Index(fields=("created_at",)),)


class FirstCodes(Model):
    """A new account's recovery codes, sealed, waiting for their one showing.

    Made in the transaction that makes the account, deleted as the welcome page reads them,
    and worth nothing after an hour: only the codes' hashes stay (``RecoveryCode``).
    """

    id = fields.IntField(primary_key=True)
    person: fields.OneToOneRelation[Person] = fields.OneToOneField(
        "models.Person", related_name="first_codes", on_delete=fields.CASCADE
    )
    person_id: int
    sealed = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "first_codes"
