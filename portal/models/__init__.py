"""The tables of the portal, by area: people and their ways in, services and partners,
dossiers, actions with their consents, the journal. Tortoise finds them all here."""

from __future__ import annotations

from portal.models.accounts import (
    STAFF_ROLES,
    SUBJECT_ROLES,
    ChallengePurpose,
    Credential,
    CredentialKind,
    FirstCodes,
    LinkKind,
    Notice,
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
from portal.models.dossiers import (
    Asker,
    Assignment,
    ContactChannel,
    Dossier,
    DossierStatus,
    Message,
    Request,
    Theme,
)
from portal.models.journal import (
    JournalEntry,
)
from portal.models.services import (
    Category,
    Partner,
    PartnerChange,
    Sector,
    Service,
)

__all__ = [
    "STAFF_ROLES",
    "SUBJECT_ROLES",
    "Action",
    "ActionKind",
    "ActionPartner",
    "ActionStatus",
    "Asker",
    "Assignment",
    "Category",
    "ChallengePurpose",
    "Consent",
    "ContactChannel",
    "Credential",
    "CredentialKind",
    "Dossier",
    "DossierStatus",
    "FirstCodes",
    "JournalEntry",
    "LinkKind",
    "Message",
    "Notice",
    "OneTimeLink",
    "Partner",
    "PartnerChange",
    "PasskeyChallenge",
    "Person",
    "RecoveryCode",
    "Request",
    "Role",
    "Sector",
    "Service",
    "Session",
    "Share",
    "SubmittedForm",
    "Theme",
]
