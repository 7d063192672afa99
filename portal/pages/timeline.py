"""The journal in plain words, for the person reading it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from portal.i18n import _, format_when
from portal.labels import kind_name
from portal.models import JournalEntry, Person


@dataclass
class Line:
    text: str
    when: str
    at: datetime
    is_new: bool
    is_look: bool


def _who(entry: JournalEntry, viewer: Person) -> str:
    actor = entry.actor
    if actor is None:
        return _("The portal")
    if actor.id == viewer.id:
        return _("You")
    if actor.is_subject:
        return actor.display_name
    # The comma closes the apposition: "Amina, from the AMO, read your dossier."
    return _("%(name)s, from the AMO,") % {"name": actor.display_name}


def describe(
    entry: JournalEntry, viewer: Person, subject_view: bool, partners: dict[int, str] | None = None
) -> str:
    """One entry as a sentence: the subject reads "your dossier", a worker "this dossier"."""
    me = entry.actor_id == viewer.id
    who = _who(entry, viewer)
    kind = kind_name(str(entry.details.get("kind", "")))
    event = entry.event
    if event == "request.made":
        return _("You asked for help.") if me else _("%(who)s asked for help.") % {"who": who}
    if event == "dossier.taken":
        if subject_view:
            return _("%(who)s now follows your dossier.") % {"who": who}
        return _("%(who)s took this dossier.") % {"who": who}
    if event == "dossier.assigned":
        return _("%(who)s asked a colleague to follow this dossier too.") % {"who": who}
    if event == "dossier.read":
        if subject_view:
            return _("%(who)s read your dossier.") % {"who": who}
        return _("%(who)s read this dossier.") % {"who": who}
    if event == "dossier.read_refused":
        if subject_view:
            return _(
                "Someone who does not follow you tried to open your dossier. They saw nothing."
            )
        return _("Someone without access tried to open this dossier and saw nothing.")
    if event == "message.sent":
        return _("You wrote a message.") if me else _("%(who)s wrote a message.") % {"who": who}
    if event == "action.recorded":
        return _("%(who)s wrote down a step: %(kind)s.") % {"who": who, "kind": kind}
    if event == "action.proposed":
        return _("%(who)s proposed a step with someone else. It waits for an answer.") % {
            "who": who
        }
    if event == "action.agreed":
        return (
            _("You agreed to a proposed step.")
            if me
            else _("%(who)s agreed to a proposed step.") % {"who": who}
        )
    if event == "action.declined":
        return (
            _("You said no to a proposed step.")
            if me
            else _("%(who)s said no to a proposed step.") % {"who": who}
        )
    if event == "action.done":
        return _("%(who)s carried out an agreed step.") % {"who": who}
    if event == "action.cancelled":
        return _("%(who)s cancelled a step. It will not be done.") % {"who": who}
    partner_id = entry.details.get("partner")
    partner = (partners or {}).get(partner_id if isinstance(partner_id, int) else 0, "")
    partner = partner or _("a partner")
    if event == "consent.granted":
        return _("%(who)s allowed %(partner)s to receive information.") % {
            "who": who,
            "partner": partner,
        }
    if event == "consent.revoked":
        return _("%(who)s took back the agreement given to %(partner)s.") % {
            "who": who,
            "partner": partner,
        }
    if event == "consent.expired":
        return _("The agreement given to %(partner)s has ended.") % {"partner": partner}
    if event == "share.made":
        return _("%(who)s passed information on to %(partner)s.") % {"who": who, "partner": partner}
    if event == "share.read":
        return _("%(partner)s opened what was passed on to it.") % {"partner": partner}
    if event == "recovery_link.issued":
        return _("%(who)s gave a link to get back into the account.") % {"who": who}
    if event == "recovery_link.used":
        return _("The link to get back into the account was used.")
    return _("Something happened in the dossier.")


def lines(
    entries: list[JournalEntry],
    viewer: Person,
    subject_view: bool,
    seen_seq: int,
    partners: dict[int, str] | None = None,
) -> list[Line]:
    return [
        Line(
            text=describe(entry, viewer, subject_view, partners),
            when=format_when(entry.at, "EEEE d MMMM, HH:mm"),
            at=entry.at,
            is_new=subject_view and entry.seq > seen_seq and entry.actor_id != viewer.id,
            is_look=entry.event in {"dossier.read", "dossier.read_refused", "share.read"},
        )
        for entry in entries
    ]
