"""The tables of the portal, by area: people and their ways in, services and partners,
dossiers, actions with their consents, the journal. Tortoise finds them all here."""

from __future__ import annotations

from portal.models.accounts import (
    STAFF_ROLES,
    SUBJECT_ROLES,
    ChallengePurpose,
    Channel,
    Credential,
    CredentialKind,
    FirstCodes,
    LinkKind,
    Notice,
    NoticeProgress,
    OneTimeLink,
    PasskeyChallenge,
    Person,
    RecoveryCode,
    Role,
    Session,
    SubmittedForm,
)
from portal.models.actions import (
    Action,
    ActionKind,
    ActionPartner,
    ActionStatus,
    Consent,
    Share,
)
from portal.models.appointments import Appointment, AppointmentStatus, PlaceKind
from portal.models.concertation import (
    AskedBy,
    Concertation,
    ConcertationMember,
    Membership,
    MinutesStatus,
)
from portal.models.documents import Document, SharedDocument
from portal.models.dossiers import (
    Asker,
    Assignment,
    ContactChannel,
    Dossier,
    DossierStatus,
    Message,
    Request,
    RequestDraft,
    Theme,
)
from portal.models.journal import (
    JournalEntry,
)
from portal.models.push import PushSubscription
from portal.models.services import (
    Category,
    ClosingPeriod,
    Partner,
    PartnerChange,
    Sector,
    Service,
)
from portal.models.signing import SigningKey

__all__ = [
    "STAFF_ROLES",
    "SUBJECT_ROLES",
    "Action",
    "ActionKind",
    "ActionPartner",
    "ActionStatus",
    "Appointment",
    "AppointmentStatus",
    "AskedBy",
    "Asker",
    "Assignment",
    "Category",
    "ChallengePurpose",
    "Channel",
    "ClosingPeriod",
    "Concertation",
    "ConcertationMember",
    "Consent",
    "ContactChannel",
    "Credential",
    "CredentialKind",
    "Document",
    "Dossier",
    "DossierStatus",
    "FirstCodes",
    "JournalEntry",
    "LinkKind",
    "Membership",
    "Message",
    "MinutesStatus",
    "Notice",
    "NoticeProgress",
    "OneTimeLink",
    "Partner",
    "PartnerChange",
    "PasskeyChallenge",
    "Person",
    "PlaceKind",
    "PushSubscription",
    "RecoveryCode",
    "Request",
    "RequestDraft",
    "Role",
    "Sector",
    "Service",
    "Session",
    "Share",
    "SharedDocument",
    "SigningKey",
    "SubmittedForm",
    "Theme",
]
