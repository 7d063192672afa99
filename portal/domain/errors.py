"""Refusals with a reason: the pages turn each kind into a kind answer."""

from __future__ import annotations


class DomainError(Exception):
    """A rule said no."""


class NotFound(DomainError):
    """The thing does not exist for this person (someone else's dossier is not found)."""


class NotAllowed(DomainError):
    """This person may not do this."""


class Invalid(DomainError):
    """A value given is not acceptable; ``field`` names it, ``message`` says why, in words."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
