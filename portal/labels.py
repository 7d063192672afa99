"""Names people read for the values the code stores: themes, steps, statuses."""

from __future__ import annotations

from portal.i18n import _
from portal.models import ActionKind, Category, Sector


def theme_name(value: str) -> str:
    names = {
        "school": _("School"),
        "family": _("Family"),
        "administrative": _("Papers and administration"),
        "legal": _("The law, the police, a judge"),
        "housing": _("A place to live"),
        "health": _("Health, well-being"),
        "money": _("Money"),
        "project": _("A project of mine"),
        "other": _("Something else"),
    }
    return names.get(value, value)


def theme_names(values: list[str]) -> str:
    return ", ".join(theme_name(v) for v in values)


def kind_name(kind: ActionKind | str) -> str:
    names = {
        "listening": _("listening"),
        "information": _("information"),
        "orientation": _("orientation"),
        "accompaniment": _("accompaniment"),
        "conciliation": _("conciliation"),
        "family_support": _("family support"),
        "socio_educational": _("socio-educational support"),
        "partner_contact": _("contact with someone else"),
        "information_shared": _("information shared"),
        "concertation": _("meeting with partners"),
        "relay": _("relay to another service"),
    }
    value = kind.value if isinstance(kind, ActionKind) else kind
    return names.get(value, value)


def category_name(value: str, subject_view: bool = True) -> str:
    """The kinds of information in the subject's own words, or as a worker says them."""
    if not subject_view:
        return {
            "identity": _("who they are and how to reach them"),
            "request": _("their request"),
            "actions": _("the steps taken"),
            "messages": _("the messages"),
            "items": _("a summary they read first"),
        }.get(value, value)
    names = {
        "identity": _("who I am and how to reach me"),
        "request": _("my request"),
        "actions": _("the steps taken"),
        "messages": _("the messages"),
        "items": _("a summary the social worker shows me first"),
    }
    return names.get(value, value)


def sector_name(value: str) -> str:
    names = {
        "saj": _("Youth-aid service (SAJ)"),
        "spj": _("Youth-protection service (SPJ)"),
        "youth_court": _("Youth court"),
        "cpas": _("Public social welfare centre (CPAS)"),
        "school": _("School or school guidance centre"),
        "health": _("Health"),
        "youth_organisation": _("Youth organisation"),
        "municipal": _("Municipal service"),
        "other_amo": _("Another AMO"),
        "other": _("Other"),
    }
    return names.get(value, value)


CATEGORIES = list(Category)
SECTORS = list(Sector)
