"""The tables of the portal: services, people, dossiers and everything a dossier holds."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


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


class DossierStatus(StrEnum):
    WAITING = "waiting"
    OPEN = "open"
    ENDED = "ended"


class Asker(StrEnum):
    YOUTH = "youth"
    RELATIVE = "relative"


class Theme(StrEnum):
    SCHOOL = "school"
    FAMILY = "family"
    ADMINISTRATIVE = "administrative"
    LEGAL = "legal"
    HOUSING = "housing"
    HEALTH = "health"
    MONEY = "money"
    PROJECT = "project"
    OTHER = "other"


class ContactChannel(StrEnum):
    PORTAL = "portal"
    PHONE = "phone"
    SMS = "sms"
    EMAIL = "email"


class ActionKind(StrEnum):
    LISTENING = "listening"
    INFORMATION = "information"
    ORIENTATION = "orientation"
    ACCOMPANIMENT = "accompaniment"
    CONCILIATION = "conciliation"
    FAMILY_SUPPORT = "family_support"
    SOCIO_EDUCATIONAL = "socio_educational"
    PARTNER_CONTACT = "partner_contact"
    INFORMATION_SHARED = "information_shared"
    CONCERTATION = "concertation"
    RELAY = "relay"


class ActionStatus(StrEnum):
    PROPOSED = "proposed"
    AGREED = "agreed"
    DECLINED = "declined"
    DONE = "done"
    CANCELLED = "cancelled"


class Sector(StrEnum):
    SAJ = "saj"
    SPJ = "spj"
    YOUTH_COURT = "youth_court"
    CPAS = "cpas"
    SCHOOL = "school"
    HEALTH = "health"
    YOUTH_ORGANISATION = "youth_organisation"
    MUNICIPAL = "municipal"
    OTHER_AMO = "other_amo"
    OTHER = "other"


class Category(StrEnum):
    """Kinds of information a subject may allow a partner to receive."""

    IDENTITY = "identity"
    REQUEST = "request"
    ACTIONS = "actions"
    MESSAGES = "messages"
    ITEMS = "items"


class CredentialKind(StrEnum):
    PASSKEY = "passkey"
    PASSWORD = "password"  # noqa: S105 - the name of a kind, not a secret
    TOTP = "totp"


class Service(Model):
    """An AMO. Every dossier and every worker belongs to exactly one."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    address = fields.CharField(max_length=300, default="")
    hours = fields.CharField(max_length=300, default="")
    phone = fields.CharField(max_length=40, default="")
    email = fields.CharField(max_length=254, default="", db_default="")
    communes: fields.Field[list[str]] = fields.JSONField(default=list)
    response_days = fields.SmallIntField(default=3)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "service"


class Partner(Model):
    """An organisation of the directory that may receive what a young person allows."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    sector = fields.CharEnumField(Sector, max_length=30)
    communes: fields.Field[list[str]] = fields.JSONField(default=list)
    bound_by_secrecy = fields.BooleanField()
    ethics_code = fields.CharField(max_length=300, default="")
    adheres_youth_code = fields.BooleanField(default=False)
    description = fields.TextField(default="")
    contact = fields.CharField(max_length=300, default="")
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "partner"


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


class Dossier(Model):
    """What exists because its subject asked. Only the subject and assigned workers read it."""

    id = fields.IntField(primary_key=True)
    reference = fields.CharField(max_length=12, unique=True)
    service: fields.ForeignKeyRelation[Service] = fields.ForeignKeyField(
        "models.Service", related_name="dossiers", on_delete=fields.RESTRICT
    )
    service_id: int
    subject: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="dossiers", on_delete=fields.RESTRICT
    )
    subject_id: int
    status = fields.CharEnumField(DossierStatus, max_length=10, default=DossierStatus.WAITING)
    created_at = fields.DatetimeField(auto_now_add=True)
    opened_at = fields.DatetimeField(null=True)
    ended_at = fields.DatetimeField(null=True)
    # The per-dossier data key, wrapped by the server's master key; gone once erased.
    wrapped_key = fields.BinaryField(null=True)
    erased_at = fields.DatetimeField(null=True)
    # The last step (not a mere look) taken in the dossier, for the team's list.
    last_activity_at = fields.DatetimeField(null=True)
    # How far in its journal the subject has read, for the badge of what is new.
    subject_seen_seq = fields.IntField(default=0, db_default=0)
    # Why the subject ended the help, if they said (sealed with the dossier's key).
    end_reason = fields.TextField(default="", db_default="")
    # The journal's last entry and a MAC over it: deleting the newest entries shows.
    journal_seq = fields.IntField(default=0, db_default=0)
    journal_head = fields.CharField(max_length=64, default="", db_default="")

    class Meta:
        table = "dossier"
        indexes = (
            Index(fields=("service_id", "status", "created_at")),
            Index(fields=("subject_id",)),
        )


class Assignment(Model):
    """A worker following a dossier, from one time to another."""

    id = fields.IntField(primary_key=True)
    dossier: fields.ForeignKeyRelation[Dossier] = fields.ForeignKeyField(
        "models.Dossier", related_name="assignments", on_delete=fields.CASCADE
    )
    dossier_id: int
    worker: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="assignments", on_delete=fields.RESTRICT
    )
    worker_id: int
    assigned_at = fields.DatetimeField(auto_now_add=True)
    ended_at = fields.DatetimeField(null=True)

    class Meta:
        table = "assignment"
        indexes = (
            Index(fields=("dossier_id", "worker_id")),
            Index(fields=("worker_id", "ended_at")),
        )


class Request(Model):
    """What the subject asked, and how to reach them safely."""

    id = fields.IntField(primary_key=True)
    dossier: fields.ForeignKeyRelation[Dossier] = fields.ForeignKeyField(
        "models.Dossier", related_name="requests", on_delete=fields.CASCADE
    )
    dossier_id: int
    asker = fields.CharEnumField(Asker, max_length=10)
    # For a relative: when the young person concerned was born (month and year only).
    concerned_birth_year = fields.SmallIntField(null=True)
    concerned_birth_month = fields.SmallIntField(null=True)
    themes: fields.Field[list[str]] = fields.JSONField(default=list)
    words = fields.TextField(default="")
    contact_channel = fields.CharEnumField(ContactChannel, max_length=10)
    contact_details = fields.TextField(default="")
    # Sealed, like the words: longer than the 200 characters typed, hence no length here.
    contact_hours = fields.TextField(default="")
    no_voicemail = fields.BooleanField(default=False)
    others_read_messages = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "request"


class Action(Model):
    """A step taken with or for the subject. Third-party steps need the subject's agreement."""

    id = fields.IntField(primary_key=True)
    dossier: fields.ForeignKeyRelation[Dossier] = fields.ForeignKeyField(
        "models.Dossier", related_name="actions", on_delete=fields.CASCADE
    )
    dossier_id: int
    kind = fields.CharEnumField(ActionKind, max_length=30)
    involves_third_party = fields.BooleanField()
    partner: fields.ForeignKeyNullableRelation[Partner] = fields.ForeignKeyField(
        "models.Partner", related_name="actions", null=True, on_delete=fields.RESTRICT
    )
    partner_id: int | None
    description = fields.TextField(default="")
    # Who else is involved, in the worker's words (the school, an aunt, a service). Sealed:
    # 200 characters become up to 1,100 once encrypted, so the column has no length.
    third_party = fields.TextField(default="", db_default="")
    status = fields.CharEnumField(ActionStatus, max_length=10)
    author: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="authored_actions", on_delete=fields.RESTRICT
    )
    author_id: int
    answer_reason = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    answered_at = fields.DatetimeField(null=True)
    done_at = fields.DatetimeField(null=True)

    class Meta:
        table = "action"
        indexes = (Index(fields=("dossier_id", "created_at")),)


class Message(Model):
    """A message between the subject and their workers."""

    id = fields.IntField(primary_key=True)
    dossier: fields.ForeignKeyRelation[Dossier] = fields.ForeignKeyField(
        "models.Dossier", related_name="messages", on_delete=fields.CASCADE
    )
    dossier_id: int
    author: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="messages", on_delete=fields.RESTRICT
    )
    author_id: int
    body = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "message"
        indexes = (Index(fields=("dossier_id", "created_at")),)


class Consent(Model):
    """The subject's consent for one partner and some kinds of information. Never edited."""

    id = fields.IntField(primary_key=True)
    dossier: fields.ForeignKeyRelation[Dossier] = fields.ForeignKeyField(
        "models.Dossier", related_name="consents", on_delete=fields.CASCADE
    )
    dossier_id: int
    partner: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "models.Partner", related_name="consents", on_delete=fields.RESTRICT
    )
    partner_id: int
    categories: fields.Field[list[str]] = fields.JSONField(default=list)
    purpose = fields.TextField(default="")
    granted_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(null=True)
    until_end_of_help = fields.BooleanField(default=False)
    revoked_at = fields.DatetimeField(null=True)
    # Expiry needs no background job (a consent past its time is simply not active); the
    # journal entry for it is written the first time anyone looks after that moment.
    expiry_recorded = fields.BooleanField(default=False, db_default=False)

    class Meta:
        table = "consent"
        indexes = (Index(fields=("dossier_id", "partner_id")),)


class Share(Model):
    """What exactly was shared with which partner, under which consent."""

    id = fields.IntField(primary_key=True)
    dossier: fields.ForeignKeyRelation[Dossier] = fields.ForeignKeyField(
        "models.Dossier", related_name="shares", on_delete=fields.CASCADE
    )
    dossier_id: int
    partner: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "models.Partner", related_name="shares", on_delete=fields.RESTRICT
    )
    partner_id: int
    consent: fields.ForeignKeyRelation[Consent] = fields.ForeignKeyField(
        "models.Consent", related_name="shares", on_delete=fields.RESTRICT
    )
    consent_id: int
    categories: fields.Field[list[str]] = fields.JSONField(default=list)
    content = fields.TextField(default="")
    # For a concertation meeting or a relay: the step this share belongs to.
    action: fields.ForeignKeyNullableRelation[Action] = fields.ForeignKeyField(
        "models.Action", related_name="shares", null=True, on_delete=fields.RESTRICT
    )
    action_id: int | None
    shared_by: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="shares_made", on_delete=fields.RESTRICT
    )
    shared_by_id: int
    shared_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "share"


class JournalEntry(Model):
    """One step or look in a dossier's journal: append-only, each entry chained to the last."""

    id = fields.BigIntField(primary_key=True)
    dossier: fields.ForeignKeyRelation[Dossier] = fields.ForeignKeyField(
        "models.Dossier", related_name="journal", on_delete=fields.RESTRICT
    )
    dossier_id: int
    seq = fields.IntField()
    actor: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="journal_entries", null=True, on_delete=fields.RESTRICT
    )
    actor_id: int | None
    event = fields.CharField(max_length=40)
    at = fields.DatetimeField()
    details: fields.Field[dict[str, object]] = fields.JSONField(default=dict)
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64)

    class Meta:
        table = "journal_entry"
        unique_together = (("dossier", "seq"),)
        indexes = (Index(fields=("dossier_id", "at")),)


class PartnerChange(Model):
    """A change of a partner's entry in the directory: who, when, and each field before and after.

    What a partner promises (secrecy, code of ethics, being active) is what a young person
    consents on; its history is kept for good.
    """

    id = fields.IntField(primary_key=True)
    partner: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "models.Partner", related_name="changes", on_delete=fields.CASCADE
    )
    partner_id: int
    changed_by: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="partner_changes", null=True, on_delete=fields.SET_NULL
    )
    changed_by_id: int | None
    at = fields.DatetimeField()
    # {field: [before, after]} for every field that changed.
    changes: fields.Field[dict[str, list[object]]] = fields.JSONField(default=dict)

    class Meta:
        table = "partner_change"
        indexes = (Index(fields=("partner_id", "at")),)


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


class ActionPartner(Model):
    """A partner taking part in a step: the several partners of a concertation meeting."""

    id = fields.IntField(primary_key=True)
    action: fields.ForeignKeyRelation[Action] = fields.ForeignKeyField(
        "models.Action", related_name="partners", on_delete=fields.CASCADE
    )
    action_id: int
    partner: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "models.Partner", related_name="action_links", on_delete=fields.RESTRICT
    )
    partner_id: int
    # Recorded afterwards: was this partner there.
    attended = fields.BooleanField(null=True)

    class Meta:
        table = "action_partner"
        unique_together = (("action", "partner"),)


class Notice(Model):
    """An e-mail to send: neutral words only, retried until it goes, never in a request."""

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

    class Meta:
        table = "notice"
        indexes = (Index(fields=("sent_at", "given_up_at", "next_try_at")),)


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
