"""Refusals with a reason: the application answers each kind with a kind page (see
``portal.app``); a page catches one only to show something kinder, such as its form again."""

from __future__ import annotations


class DomainError(Exception):
    """A rule said no."""


class NotFound(DomainError):
    """The thing does not exist for this person (someone else's dossier is not found)."""


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
