"""Names people read for the values the code stores: themes, steps, statuses."""

from __future__ import annotations

from portal.i18n import _


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
