"""The journal in plain words, for the person reading it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from babel.lists import format_list

from portal.domain.journal import LOOKS, Event, runs_of_looks
from portal.i18n import _, current_language, format_when, lazy, ngettext
from portal.labels import kind_name
from portal.models import JournalEntry, Person


@dataclass
class Line:
    text: str
    when: str
    iso: str  # the moment for the ``datetime`` attribute, written here rather than in the template
    is_new: bool
    is_look: bool
    # How many entries the line stands for: several reads in a row by one person are one line.
    count: int = 1
    # The newest of them: the line's id on a page that updates alone.
    seq: int = 0


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


# For each event: what the reader reads when they did it ("You …"), and when someone else did.
# Whole sentences, so that each language conjugates them its own way.
SENTENCES: dict[str, tuple[str, str]] = {
    Event.REQUEST_MADE: (lazy("You asked for help."), lazy("%(who)s asked for help.")),
    Event.DOSSIER_ASSIGNED: (
        lazy("You asked a colleague to follow this dossier too."),
        lazy("%(who)s asked a colleague to follow this dossier too."),
    ),
    Event.MESSAGE_SENT: (lazy("You wrote a message."), lazy("%(who)s wrote a message.")),
    Event.ACTION_RECORDED: (
        lazy("You wrote down a step: %(kind)s."),
        lazy("%(who)s wrote down a step: %(kind)s."),
    ),
    Event.ACTION_PROPOSED: (
        lazy("You proposed a step with someone else. It waits for an answer."),
        lazy("%(who)s proposed a step with someone else. It waits for an answer."),
    ),
    Event.ACTION_AGREED: (
        lazy("You agreed to a proposed step."),
        lazy("%(who)s agreed to a proposed step."),
    ),
    Event.ACTION_DECLINED: (
        lazy("You said no to a proposed step."),
        lazy("%(who)s said no to a proposed step."),
    ),
    Event.ACTION_WITHDRAWN: (
        lazy("You took back your agreement to a step. It will not be done."),
        lazy("%(who)s took back their agreement to a step. It will not be done."),
    ),
    Event.ACTION_DONE: (
        lazy("You carried out an agreed step."),
        lazy("%(who)s carried out an agreed step."),
    ),
    Event.ACTION_CANCELLED: (
        lazy("You cancelled a step. It will not be done."),
        lazy("%(who)s cancelled a step. It will not be done."),
    ),
    Event.CONSENT_GRANTED: (
        lazy("You allowed %(partner)s to receive information."),
        lazy("%(who)s allowed %(partner)s to receive information."),
    ),
    Event.CONSENT_REVOKED: (
        lazy("You took back the agreement given to %(partner)s."),
        lazy("%(who)s took back the agreement given to %(partner)s."),
    ),
    Event.SHARE_MADE: (
        lazy("You passed information on to %(partner)s."),
        lazy("%(who)s passed information on to %(partner)s."),
    ),
    Event.DOCUMENT_ADDED: (lazy("You added a document."), lazy("%(who)s added a document.")),
    Event.DOCUMENT_READ: (lazy("You opened a document."), lazy("%(who)s opened a document.")),
    Event.DOCUMENT_SHARED: (
        lazy("You passed a document on to %(partner)s."),
        lazy("%(who)s passed a document on to %(partner)s."),
    ),
    Event.CONCERTATION_ASKED: (
        lazy("You wrote down a request for a meeting with partners."),
        lazy("%(who)s wrote down a request for a meeting with partners."),
    ),
    Event.CONCERTATION_INFORMED: (
        lazy("You noted that the young person was told about the meeting with partners."),
        lazy("%(who)s noted that you were told about the meeting with partners."),
    ),
    Event.CONCERTATION_PLANNED: (
        lazy("You set the date of the meeting with partners."),
        lazy("%(who)s set the date of the meeting with partners."),
    ),
    Event.CONCERTATION_MINUTES_WRITTEN: (
        lazy("You wrote the minutes of the meeting with partners."),
        lazy("%(who)s wrote the minutes of the meeting with partners. Read them."),
    ),
    Event.CONCERTATION_MINUTES_CHANGE_ASKED: (
        lazy("You asked for a change in the minutes of the meeting."),
        lazy("%(who)s asked for a change in the minutes of the meeting."),
    ),
    Event.CONCERTATION_MINUTES_APPROVED: (
        lazy("You approved the minutes of the meeting."),
        lazy("%(who)s approved the minutes of the meeting."),
    ),
    Event.CONCERTATION_MINUTES_SHARED: (
        lazy("The minutes you approved were passed on to %(partner)s."),
        lazy("The minutes approved by %(who)s were passed on to %(partner)s."),
    ),
    Event.DOSSIER_ENDED: (lazy("You ended the help."), lazy("%(who)s ended the help.")),
    Event.DOSSIER_CLOSED: (
        lazy("You closed the dossier after a long time without news."),
        lazy("%(who)s closed the dossier after a long time without news."),
    ),
    Event.DOSSIER_REOPENED: (
        lazy("You came back with a new request."),
        lazy("%(who)s came back with a new request."),
    ),
    Event.CONTACT_CHANGED: (
        lazy("You changed how to reach you."),
        lazy("%(who)s changed how to reach them."),
    ),
    Event.DOSSIER_EXPORTED: (
        lazy("You downloaded your dossier."),
        lazy("%(who)s downloaded the dossier."),
    ),
}


class _Values(dict[str, str]):
    """What a sentence may name, each worked out only if the sentence names it."""

    def __init__(self, entry: JournalEntry, viewer: Person, partners: dict[int, str] | None):
        super().__init__()
        self.entry, self.viewer, self.partners = entry, viewer, partners or {}

    def __missing__(self, key: str) -> str:
        details = self.entry.details
        if key == "who":
            value = _who(self.entry, self.viewer)
        elif key == "kind":
            value = kind_name(str(details.get("kind", "")))
        elif key == "partner":
            partner_id = details.get("partner")
            named = self.partners.get(partner_id if isinstance(partner_id, int) else 0, "")
            value = named or _("a partner")
        else:
            raise KeyError(key)
        self[key] = value
        return value


def describe(
    entry: JournalEntry, viewer: Person, subject_view: bool, partners: dict[int, str] | None = None
) -> str:
    """One entry as a sentence: the subject reads "your dossier", a worker "this dossier"."""
    me = entry.actor_id == viewer.id
    values = _Values(entry, viewer, partners)
    event = entry.event
    if event in SENTENCES:
        yours, theirs = SENTENCES[event]
        return _(yours if me else theirs) % values
    if event in APPOINTMENT_SENTENCES:
        return _appointment_sentence(entry, viewer, subject_view, values)
    if event == Event.DOSSIER_TAKEN:
        if me:
            return _("You took this dossier.")
        if subject_view:
            return _("%(who)s now follows your dossier.") % values
        return _("%(who)s took this dossier.") % values
    if event == Event.DOSSIER_READ:
        if me:
            return _("You read this dossier.")
        if subject_view:
            return _("%(who)s read your dossier.") % values
        return _("%(who)s read this dossier.") % values
    if event == Event.DOSSIER_READ_REFUSED:
        if subject_view:
            return _(
                "Someone who does not follow you tried to open your dossier. They saw nothing."
            )
        return _("Someone without access tried to open this dossier and saw nothing.")
    if event == Event.CONSENT_EXPIRED:
        return _("The agreement given to %(partner)s has ended.") % values
    if event == Event.SHARE_READ:
        return _("%(partner)s opened what was passed on to it.") % values
    if event == Event.DOSSIER_ERASED:
        if entry.details.get("because") == "retention":
            return _(
                "The portal erased the dossier, because the help ended long ago: "
                "its content can no longer be read."
            )
        return _("The dossier was erased: its content can no longer be read.")
    if event == Event.RETENTION_NOTICE:
        values["date"] = _erase_date(entry)
        if subject_view:
            return (
                _(
                    "The portal will erase this dossier on %(date)s, because the help ended "
                    "long ago. Come back before then to keep it."
                )
                % values
            )
        return (
            _("The portal will erase this dossier on %(date)s, because the help ended long ago.")
            % values
        )
    if event == Event.PARTNER_CHANGED:
        values["promises"] = _promises(entry)
        if subject_view:
            return (
                _(
                    "What %(partner)s promises has changed: %(promises)s. "
                    "You can take back your agreement at any time."
                )
                % values
            )
        return _("What %(partner)s promises has changed: %(promises)s.") % values
    if event == Event.DOSSIER_HANDED_OVER:
        return _handed_over(entry, subject_view)
    if event == Event.DOSSIER_RETURNED:
        return _returned(entry, viewer, subject_view)
    if event in (Event.RECOVERY_LINK_ISSUED, Event.RECOVERY_LINK_USED):
        return _recovery_link_sentence(entry, viewer, subject_view, values)
    return _("Something happened in the dossier.")


# A meeting: what the reader reads when they did it, what the young person reads when a worker
# did it (or the portal, for a reminder), and what a worker reads when someone else did it.
APPOINTMENT_SENTENCES: dict[str, tuple[str, str, str]] = {
    Event.APPOINTMENT_PROPOSED: (
        lazy("You proposed a meeting on %(when)s."),
        lazy("%(name)s proposes you a meeting on %(when)s."),
        lazy("%(who)s proposed a meeting on %(when)s."),
    ),
    Event.APPOINTMENT_CHANGED: (
        lazy("You proposed a new time for the meeting: %(when)s."),
        lazy("%(name)s proposes you another time: %(when)s."),
        lazy("%(who)s proposed a new time for the meeting: %(when)s."),
    ),
    Event.APPOINTMENT_CANCELLED: (
        lazy("You cancelled the meeting of %(when)s."),
        lazy("%(name)s cancelled the meeting of %(when)s."),
        lazy("%(who)s cancelled the meeting of %(when)s."),
    ),
    Event.APPOINTMENT_DONE: (
        lazy("You noted that the meeting of %(when)s took place."),
        lazy("The meeting of %(when)s took place."),
        lazy("%(who)s noted that the meeting of %(when)s took place."),
    ),
    Event.APPOINTMENT_MISSED: (
        lazy("You noted that the meeting of %(when)s could not take place."),
        lazy("You could not come to the meeting of %(when)s."),
        lazy("%(who)s noted that the meeting of %(when)s could not take place."),
    ),
    Event.APPOINTMENT_ACCEPTED: (
        lazy("You said you will come to the meeting on %(when)s."),
        lazy("%(name)s will come to the meeting on %(when)s."),
        lazy("%(who)s will come to the meeting on %(when)s."),
    ),
    Event.APPOINTMENT_DECLINED: (
        lazy("You said you will not come to the meeting on %(when)s."),
        lazy("%(name)s will not come to the meeting on %(when)s."),
        lazy("%(who)s will not come to the meeting on %(when)s."),
    ),
    Event.APPOINTMENT_OTHER_TIME_ASKED: (
        lazy("You asked for another time."),
        lazy("%(name)s asked for another time than %(when)s."),
        lazy("%(who)s asked for another time than %(when)s."),
    ),
    Event.APPOINTMENT_REMINDER: (
        lazy("Reminder: a meeting on %(when)s."),
        lazy("Reminder: you have a meeting on %(when)s."),
        lazy("Reminder: a meeting on %(when)s."),
    ),
}


def _appointment_sentence(
    entry: JournalEntry, viewer: Person, subject_view: bool, values: _Values
) -> str:
    """A meeting in plain words, with its day and hour in the reader's language."""
    mine, to_her, to_worker = APPOINTMENT_SENTENCES[entry.event]
    at = entry.details.get("at")
    try:
        moment = datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        moment = None
    moment = moment or entry.at
    values["when"] = _("%(day)s at %(time)s") % {
        "day": format_when(moment, "EEEE d MMMM"),
        "time": format_when(moment, "HH:mm"),
    }
    values["name"] = entry.actor.display_name if entry.actor else _("The portal")
    if entry.actor_id is not None and entry.actor_id == viewer.id:
        return _(mine) % values
    return _(to_her if subject_view else to_worker) % values


# What a partner promises, named as a young person reads it (see domain.partners.PROMISES).
PROMISES = {
    "name": lazy("its name"),
    "sector": lazy("the kind of service it is"),
    "bound_by_secrecy": lazy("professional secrecy"),
    "ethics_code": lazy("the code of ethics it follows"),
    "adheres_youth_code": lazy("the youth-aid code of ethics"),
    "is_active": lazy("its place in the directory"),
}


def _promises(entry: JournalEntry) -> str:
    fields = entry.details.get("fields")
    listed = fields if isinstance(fields, list) else []
    named = [_(PROMISES[f]) for f in listed if isinstance(f, str) and f in PROMISES]
    return ", ".join(named) or _("its guarantees")


def _handed_over(entry: JournalEntry, subject_view: bool) -> str:
    """A worker who left, and who follows now: the names as they were on that day."""
    names = {
        "before": str(entry.details.get("from_name") or _("A worker")),
        "after": str(entry.details.get("to_name") or ""),
    }
    if subject_view:
        left = _("%(before)s no longer follows you.") % names
        now = _("%(after)s follows you now.") % names if names["after"] else ""
    else:
        left = _("%(before)s no longer follows this dossier.") % names
        now = _("%(after)s follows it now.") % names if names["after"] else ""
    return f"{left} {now}".strip()


def _returned(entry: JournalEntry, viewer: Person, subject_view: bool) -> str:
    """She came back: who follows her again, named as they were on that day."""
    ids, names = entry.details.get("to"), entry.details.get("to_names")
    listed = [str(n) for n in names] if isinstance(names, list) and names else []
    if not subject_view and isinstance(ids, list) and viewer.id in ids:
        return _("The dossier came back after the help ended: you follow it again.")
    said = {"names": format_list(listed or [_("Someone from the AMO")], locale=current_language())}
    if subject_view:
        return (
            ngettext("%(names)s follows you again.", "%(names)s follow you again.", len(listed))
            % said
        )
    return (
        ngettext(
            "%(names)s follows this dossier again.",
            "%(names)s follow this dossier again.",
            len(listed),
        )
        % said
    )


def _recovery_link_sentence(
    entry: JournalEntry, viewer: Person, subject_view: bool, values: _Values
) -> str:
    """Who made a recovery link: told to the young person in every dossier of her account.

    A worker of another service reads that a link was made, not who made it: that the young
    person is followed elsewhere is not hers to learn.
    """
    details = entry.details
    issued = entry.event == Event.RECOVERY_LINK_ISSUED
    name = details.get("by_name")
    if not isinstance(name, str) or not name:
        # Entries written before links named their maker.
        if not issued:
            return _("The link to get back into the account was used.")
        if entry.actor_id == viewer.id:
            return _("You gave a link to get back into the account.")
        return _("%(who)s gave a link to get back into the account.") % values
    service = details.get("service_name")
    said = {"name": name, "service": service if isinstance(service, str) else ""}
    if details.get("by") == viewer.id:
        if issued:
            return _("You made a recovery link for this account.")
        return _("The recovery link you made was used.")
    # Read through a recovery link (maybe by the worker who made it): as a worker reads it.
    if subject_view and viewer.scope_dossier_id is None:
        if not issued:
            return _("The recovery link made by %(name)s was used.") % said
        if said["service"]:
            return _("%(name)s (%(service)s) made a recovery link for your account.") % said
        return _("%(name)s made a recovery link for your account.") % said
    if viewer.service_id is not None and details.get("service") == viewer.service_id:
        if issued:
            return _("%(name)s made a recovery link for this account.") % said
        return _("The recovery link made by %(name)s was used.") % said
    if issued:
        return _("A recovery link was made for this account.")
    return _("A recovery link for this account was used.")


def _erase_date(entry: JournalEntry) -> str:
    """The day a retention notice announced, as people read it."""
    announced = entry.details.get("erase_after")
    try:
        moment = datetime.fromisoformat(announced) if isinstance(announced, str) else None
    except ValueError:
        moment = None
    return format_when(moment or entry.at, "EEEE d MMMM y")


def lines(
    entries: list[JournalEntry],
    viewer: Person,
    subject_view: bool,
    seen_seq: int,
    partners: dict[int, str] | None = None,
) -> list[Line]:
    """The page's entries as lines, newest first: reads in a row by one person are one line
    that says how many and between when (``journal.runs_of_looks``); the export lists each."""
    # A journal is mostly looks, the same sentence again and again ("Amina, from the AMO,
    # read your dossier."): a look without details says only what its event and its actor
    # say, so each such sentence is written once per page.
    said: dict[tuple[str, int | None], str] = {}
    result = []
    for run in runs_of_looks(entries, seen_seq if subject_view else 0):
        entry = run[0]
        is_look = entry.event in LOOKS
        when = format_when(entry.at, "EEEE d MMMM, HH:mm")
        if len(run) > 1:
            text, when = _reads(run, viewer, subject_view)
        elif is_look and not entry.details:
            key = (entry.event, entry.actor_id)
            if key not in said:
                said[key] = describe(entry, viewer, subject_view, partners)
            text = said[key]
        else:
            text = describe(entry, viewer, subject_view, partners)
        result.append(
            Line(
                text=text,
                when=when,
                iso=entry.at.isoformat(),
                is_new=subject_view and entry.seq > seen_seq and entry.actor_id != viewer.id,
                is_look=is_look,
                count=len(run),
                seq=max(item.seq for item in run),
            )
        )
    return result


def _reads(run: list[JournalEntry], viewer: Person, subject_view: bool) -> tuple[str, str]:
    """Several reads in a row by one person: one sentence with how many and between when, and
    the day to show beside it."""
    first = min(entry.at for entry in run)
    last = max(entry.at for entry in run)
    one_day = format_when(first, "yyyy-MM-dd") == format_when(last, "yyyy-MM-dd")
    moment = "HH:mm" if one_day else "EEEE d MMMM, HH:mm"
    values: dict[str, object] = {
        "num": len(run),
        "who": _who(run[0], viewer),
        "first": format_when(first, moment),
        "last": format_when(last, moment),
    }
    day = format_when(last, "EEEE d MMMM")
    if values["first"] == values["last"]:
        if run[0].actor_id == viewer.id:
            sentence = ngettext(
                "You read this dossier %(num)d time, at %(first)s.",
                "You read this dossier %(num)d times, at %(first)s.",
                len(run),
            )
        elif subject_view:
            sentence = ngettext(
                "%(who)s read your dossier %(num)d time, at %(first)s.",
                "%(who)s read your dossier %(num)d times, at %(first)s.",
                len(run),
            )
        else:
            sentence = ngettext(
                "%(who)s read this dossier %(num)d time, at %(first)s.",
                "%(who)s read this dossier %(num)d times, at %(first)s.",
                len(run),
            )
    elif run[0].actor_id == viewer.id:
        sentence = ngettext(
            "You read this dossier %(num)d time, between %(first)s and %(last)s.",
            "You read this dossier %(num)d times, between %(first)s and %(last)s.",
            len(run),
        )
    elif subject_view:
        sentence = ngettext(
            "%(who)s read your dossier %(num)d time, between %(first)s and %(last)s.",
            "%(who)s read your dossier %(num)d times, between %(first)s and %(last)s.",
            len(run),
        )
    else:
        sentence = ngettext(
            "%(who)s read this dossier %(num)d time, between %(first)s and %(last)s.",
            "%(who)s read this dossier %(num)d times, between %(first)s and %(last)s.",
            len(run),
        )
    return sentence % values, day
