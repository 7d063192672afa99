"""Names people read for the values the code stores: themes, steps, statuses."""

from __future__ import annotations

from portal.i18n import _, lazy
from portal.models import ActionKind, Category, Sector

THEMES = {
    "school": lazy("School"),
    "family": lazy("Family"),
    "administrative": lazy("Papers and administration"),
    "legal": lazy("The law, the police, a judge"),
    "housing": lazy("A place to live"),
    "health": lazy("Health, well-being"),
    "money": lazy("Money"),
    "project": lazy("A project of mine"),
    "other": lazy("Something else"),
}


def _named(names: dict[str, str], value: str) -> str:
    """The name of ``value`` in the reader's language; an unknown value as it is."""
    return _(names[value]) if value in names else value


def theme_name(value: str) -> str:
    return _named(THEMES, value)


def theme_names(values: list[str]) -> str:
    return ", ".join(theme_name(v) for v in values)


KINDS = {
    "listening": lazy("listening"),
    "information": lazy("information"),
    "orientation": lazy("orientation"),
    "accompaniment": lazy("accompaniment"),
    "conciliation": lazy("conciliation"),
    "family_support": lazy("family support"),
    "socio_educational": lazy("socio-educational support"),
    "partner_contact": lazy("contact with someone else"),
    "information_shared": lazy("information shared"),
    "concertation": lazy("meeting with partners"),
    "relay": lazy("relay to another service"),
}


def kind_name(kind: ActionKind | str) -> str:
    return _named(KINDS, kind.value if isinstance(kind, ActionKind) else kind)


def category_name(value: str, subject_view: bool = True) -> str:
    """The kinds of information in the subject's own words, or as a worker says them."""
    if not subject_view:
        return {
            "identity": _("who they are and how to reach them"),
            "request": _("their request"),
            "actions": _("the steps taken"),
            "messages": _("the messages"),
            "items": _("a summary they read first"),
            "documents": _("documents you choose (photos, PDFs)"),
        }.get(value, value)
    names = {
        "identity": _("who I am and how to reach me"),
        "request": _("my request"),
        "actions": _("the steps taken"),
        "messages": _("the messages"),
        "items": _("a summary the social worker shows me first"),
        "documents": _("documents (photos, PDFs) the social worker chooses"),
    }
    return names.get(value, value)


PLACE_NAMES = {
    "amo": lazy("At the AMO"),
    "school": lazy("At school"),
    "hearing": lazy("A hearing (court or SAJ), we go together"),
    "phone": lazy("By phone"),
    "elsewhere": lazy("Somewhere else"),
}
APPOINTMENT_STATUSES = {
    "proposed": lazy("Waiting for an answer"),
    "accepted": lazy("Accepted"),
    "declined": lazy("Declined"),
    "other_time_asked": lazy("Another time asked"),
    "cancelled": lazy("Cancelled"),
    "done": lazy("Took place"),
    "missed": lazy("Could not take place"),
}


def place_name(value: str) -> str:
    """Where a meeting is, as people read it."""
    return _named(PLACE_NAMES, value)


def appointment_status_name(value: str) -> str:
    return _named(APPOINTMENT_STATUSES, value)


# Who asked for a concertation meeting, and where its minutes stand, as she reads them.
ASKED_BY_NAMES = {
    "young": lazy("the young person"),
    "family": lazy("the family"),
    "partner": lazy("a partner"),
    "team": lazy("the AMO team"),
}
MINUTES_STATUSES = {
    "none": lazy("Not written yet"),
    "waiting": lazy("Waiting for my answer"),
    "change_asked": lazy("I asked for a change"),
    "approved": lazy("I approved them"),
}


def asked_by_name(value: str) -> str:
    return _named(ASKED_BY_NAMES, value)


def minutes_status_name(value: str) -> str:
    return _named(MINUTES_STATUSES, value)


SECTOR_NAMES = {
    "saj": lazy("Youth-aid service (SAJ)"),
    "spj": lazy("Youth-protection service (SPJ)"),
    "youth_court": lazy("Youth court"),
    "cpas": lazy("Public social welfare centre (CPAS)"),
    "school": lazy("School or school guidance centre"),
    "health": lazy("Health"),
    "youth_organisation": lazy("Youth organisation"),
    "municipal": lazy("Municipal service"),
    "other_amo": lazy("Another AMO"),
    "other": lazy("Other"),
}


def sector_name(value: str) -> str:
    return _named(SECTOR_NAMES, value)


CATEGORIES = list(Category)
SECTORS = list(Sector)
