"""Refusals with a reason: the application answers each kind with a kind page (see
``portal.app``); a page catches one only to show something kinder, such as its form again."""

from __future__ import annotations


class DomainError(Exception):
    """A rule said no."""


class NotFound(DomainError):
    """The thing does not exist for this person (someone else's dossier is not found)."""


class Withdrawn(NotFound):
    """What this person could read is no longer theirs: the consent that allowed it ended.

    Raised only to whom it was shared with, who already knew it existed; anyone else gets a
    plain ``NotFound``. A page that does not catch it answers 404, as for ``NotFound``.
    """

    def __init__(self, reason: str, *, revoked: bool) -> None:
        super().__init__(reason)
        # Taken back by the young person (or by ending the help), rather than run out of time.
        self.revoked = revoked


class NotAllowed(DomainError):
    """This person may not do this."""


class AlreadyDone(NotAllowed):
    """What was asked is done already (from another tab, or sent twice): the first stands."""


class Invalid(DomainError):
    """A value given is not acceptable; ``field`` names it, ``message`` says why, in words."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
