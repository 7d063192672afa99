"""Telling people, safely: a count of what is new, and optional neutral e-mails and pushes.

An e-mail or a push says only that there is something new: never the service, never the
content, so that a phone or a mailbox read by someone else gives nothing away. It goes only to
people who asked for it (an address and the wish, or a device subscribed on the account page),
is sent by a background task (never in a request), and is retried with growing pauses until it
goes or the portal gives up.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from enum import Enum
from typing import Any

from tortoise import timezone
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from portal.db import sql_rows
from portal.domain import appointments, journal, push
from portal.domain.errors import Invalid
from portal.domain.journal import Event
from portal.i18n import _, lazy, use_language
from portal.models import (
    Assignment,
    Channel,
    DossierStatus,
    JournalEntry,
    Notice,
    NoticeProgress,
    Person,
    PushSubscription,
    Role,
)
from portal.settings import Settings
from portal.text import clean_text

log = logging.getLogger("portal.notices")

# Looks at a dossier are not news, and neither is one's own download of it.
NOT_NEWS = journal.LOOKS | {Event.DOSSIER_EXPORTED}
# Events a subject does that their workers should hear about.
SUBJECT_NEWS = frozenset(
    {
        Event.MESSAGE_SENT,
        Event.ACTION_AGREED,
        Event.ACTION_DECLINED,
        Event.ACTION_WITHDRAWN,
        Event.CONCERTATION_MINUTES_APPROVED,
        Event.CONCERTATION_MINUTES_CHANGE_ASKED,
        Event.DOSSIER_ENDED,
        Event.CONSENT_REVOKED,
        Event.DOSSIER_REOPENED,
        Event.APPOINTMENT_ACCEPTED,
        Event.APPOINTMENT_DECLINED,
        Event.APPOINTMENT_OTHER_TIME_ASKED,
    }
)
RETRY_AFTER = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=12),
)
MAX_EMAIL = 254


def check_email(value: str) -> str:
    email = clean_text(value)
    if not email:
        return ""
    local, at, domain = email.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain
        or len(email) > MAX_EMAIL
        or any(c in email for c in " <>,;:\"'()[]\\")
    ):
        raise Invalid("email", lazy("Write an e-mail address, like name@example.be."))
    return email


async def set_email_notices(person: Person, email: str, wanted: bool) -> None:
    address = check_email(email)
    if wanted and not address:
        raise Invalid("email", lazy("To get e-mails, give an address."))
    await Person.filter(id=person.id).update(email=address, notify_by_email=wanted)
    person.email, person.notify_by_email = address, wanted


# --- The count of what is new ----------------------------------------------------------------


# What is new: a step (not a look, see NOT_NEWS) by someone else, since the person last looked.
# Plain SQL: the events left out are written into the statements literally, as the condition of
# the journal's partial index "journal_entry_news" (migration 0009), which SQLite and PostgreSQL
# use only for a query that carries its condition word for word (a queryset would send them as
# parameters). Without it, a count would read every look since, and every worker's look at a
# dossier is an entry. The names are this module's own constants, never values from a request
# (hence the noqa below). $1 is the person, $2 the moment they last looked.
_NOT_NEWS = "e.event NOT IN ({})".format(", ".join(f"'{event}'" for event in sorted(NOT_NEWS)))
_NEWS_SINCE = f"e.at > $2 AND {_NOT_NEWS} AND (e.actor_id IS NULL OR e.actor_id <> $1)"
# The subject's count goes through their dossiers, then that index; an erased dossier, gone
# from their space, has nothing new to show.
_SUBJECT_NEWS = (
    "SELECT COUNT(*) AS news FROM journal_entry e"  # noqa: S608
    f" JOIN dossier d ON d.id = e.dossier_id WHERE d.subject_id = $1 AND d.erased_at IS NULL"
    f" AND {_NEWS_SINCE}"
)
# A session limited to one dossier ($3, given by a recovery link): that dossier only.
_SCOPED_NEWS = (
    "SELECT COUNT(*) AS news FROM journal_entry e"  # noqa: S608
    f" WHERE e.dossier_id = $3 AND {_NEWS_SINCE}"
)
# A worker's: the dossiers they follow, and the new requests waiting in their service ($3, with
# the status $4). Two counts added rather than one OR, which would read the whole journal; the
# second leaves out the dossiers of the first, so that no entry counts twice.
_FOLLOWED = "SELECT a.dossier_id FROM assignment a WHERE a.worker_id = $1 AND a.ended_at IS NULL"
_WORKER_NEWS = (
    "SELECT (SELECT COUNT(*) FROM journal_entry e"  # noqa: S608
    f" WHERE e.dossier_id IN ({_FOLLOWED}) AND {_NEWS_SINCE})"
    " + (SELECT COUNT(*) FROM journal_entry e JOIN dossier d ON d.id = e.dossier_id"
    " WHERE d.service_id = $3 AND d.status = $4 AND e.event = 'request.made'"
    f" AND e.dossier_id NOT IN ({_FOLLOWED}) AND {_NEWS_SINCE}) AS news"
)


async def news_count(person: Person) -> int:
    """How many steps by others happened in this person's dossiers since they last looked.

    Asked on every signed-in page: one statement, whatever the person follows.
    """
    new = [person.id, person.news_seen_at or person.created_at]
    if person.is_subject and person.scope_dossier_id is not None:
        found = await sql_rows(_SCOPED_NEWS, [*new, person.scope_dossier_id])
    elif person.is_subject:
        found = await sql_rows(_SUBJECT_NEWS, new)
    elif person.role is Role.WORKER:
        found = await sql_rows(_WORKER_NEWS, [*new, person.service_id, DossierStatus.WAITING.value])
    else:
        return 0
    return int(found[0]["news"])


async def mark_news_seen(person: Person) -> None:
    if person.scope_dossier_id is not None:
        # A session limited to one dossier has not seen what is new in the others.
        return
    now = timezone.now()
    await Person.filter(id=person.id).update(news_seen_at=now)
    person.news_seen_at = now


# --- Queueing, from the journal -----------------------------------------------------------------

# An entry is read once it is this old: the transaction that wrote it has long committed, so an
# entry numbered before another is never found after it (PostgreSQL numbers entries when they
# are written, not when they commit).
SETTLE = timedelta(seconds=10)


async def read_journal(now: datetime | None = None, batch: int = 500) -> int:
    """Turn the journal's new steps into notices for whoever asked for e-mails; return how many
    entries were read. Safe to run from several processes at once: they take turns."""
    cutoff = (now or timezone.now()) - SETTLE
    read = 0
    while True:
        async with in_transaction():
            progress = await NoticeProgress.select_for_update().get_or_none(id=1)
            if progress is None:  # its migration made it; a database emptied by hand has none
                progress = await NoticeProgress.create(id=1, last_entry_id=0)
            entries = (
                await JournalEntry.filter(id__gt=progress.last_entry_id, at__lte=cutoff)
                .order_by("id")
                .limit(batch)
                .values(
                    "id",
                    "event",
                    "actor_id",
                    "dossier_id",
                    "dossier__subject_id",
                    "dossier__service_id",
                )
            )
            for entry in entries:
                if entry["event"] not in NOT_NEWS:
                    await _enqueue(entry)
            if entries:
                await NoticeProgress.filter(id=1).update(last_entry_id=entries[-1]["id"])
        read += len(entries)
        if len(entries) < batch:
            return read


async def _enqueue(entry: dict[str, Any]) -> None:
    """Queue a notice for whoever should hear of this step and asked for e-mails."""
    event, actor_id, subject_id = entry["event"], entry["actor_id"], entry["dossier__subject_id"]
    recipients: list[Any] = []
    if actor_id != subject_id:
        recipients.append(subject_id)
    if event == Event.REQUEST_MADE or event == Event.DOSSIER_REOPENED:
        recipients += await Person.filter(
            service_id=entry["dossier__service_id"], role=Role.WORKER, is_active=True
        ).values_list("id", flat=True)
    elif (event in SUBJECT_NEWS and actor_id == subject_id) or event == Event.APPOINTMENT_REMINDER:
        recipients += await Assignment.filter(
            dossier_id=entry["dossier_id"], ended_at__isnull=True
        ).values_list("worker_id", flat=True)
    others = [r for r in recipients if r != actor_id]
    if not others:
        return
    by_email = (
        await Person.filter(id__in=others, notify_by_email=True, is_active=True)
        .exclude(email="")
        .values_list("id", flat=True)
    )
    by_push = await PushSubscription.filter(
        person_id__in=others, person__is_active=True
    ).values_list("person_id", flat=True)
    wanted = {(p, Channel.EMAIL) for p in by_email} | {(p, Channel.PUSH) for p in by_push}
    if not wanted:
        return
    # One notice waiting per person and channel is enough: it only says there is something new.
    waiting = set(
        await Notice.filter(
            person_id__in=[p for p, _channel in wanted],
            sent_at__isnull=True,
            given_up_at__isnull=True,
        ).values_list("person_id", "channel")
    )
    now = timezone.now()
    for person_id, channel in sorted(wanted):
        if (person_id, channel) not in waiting:
            await Notice.create(person_id=person_id, channel=channel, next_try_at=now)


# --- Sending, in the background ----------------------------------------------------------------


@dataclass(frozen=True)
class Mailer:
    """The portal's mail server, as the settings name it: for notices and staff invitations."""

    host: str
    port: int
    sender: str
    site_url: str
    username: str = ""
    password: str = ""
    starttls: bool = False

    @classmethod
    def of(cls, settings: Settings) -> Mailer:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from or f"portail@{settings.host}",
            site_url=settings.origin,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )

    async def deliver(self, message: EmailMessage, seconds: float) -> None:
        """Hand the message to the server; its errors (server away, refused) go to the caller."""
        import aiosmtplib

        await aiosmtplib.send(
            message,
            hostname=self.host,
            port=self.port,
            username=self.username or None,
            password=self.password or None,
            start_tls=self.starttls,
            timeout=seconds,
        )


def neutral_message(person: Person, mailer: Mailer) -> EmailMessage:
    with use_language(person.language):
        message = EmailMessage()
        message["From"] = mailer.sender
        message["To"] = person.email
        message["Subject"] = _("Something new")
        if person.is_subject:
            text = _("You have something new in your space.")
        else:
            text = _("There is something new for you on the portal.")
        message.set_content(f"{text}\n\n{mailer.site_url}\n")
    return message


class Outcome(Enum):
    SENT = "sent"
    UNWANTED = "unwanted"  # the person no longer asks for it on this channel: give up
    RETRY = "retry"


async def send_due(
    mailer: Mailer | None,
    now: datetime | None = None,
    batch: int = 20,
    pusher: push.Pusher | None = None,
) -> int:
    """Send what is due on the channels the portal can send on (a mail server, a VAPID key);
    return how many notices went. Safe to run from several processes at once."""
    now = now or timezone.now()
    await appointments.send_reminders(now)
    await read_journal(now)
    channels = [c for c, sender in ((Channel.EMAIL, mailer), (Channel.PUSH, pusher)) if sender]
    sent = 0
    due = (
        await Notice.filter(
            sent_at__isnull=True,
            given_up_at__isnull=True,
            next_try_at__lte=now,
            channel__in=channels,
        )
        .select_related("person")
        .order_by("next_try_at")
        .limit(batch)
    )
    for notice in due:
        # Claim it: another process may be looking at the same notice.
        claimed = await Notice.filter(
            id=notice.id, sent_at__isnull=True, attempts=notice.attempts
        ).update(attempts=notice.attempts + 1, next_try_at=now + _pause(notice.attempts))
        if claimed != 1:
            continue
        outcome = Outcome.RETRY
        if notice.channel == Channel.PUSH and pusher is not None:
            outcome = await _push_notice(pusher, notice)
        elif notice.channel == Channel.EMAIL and mailer is not None:
            outcome = await _email_notice(mailer, notice)
        if outcome is Outcome.SENT:
            await Notice.filter(id=notice.id).update(sent_at=timezone.now())
            sent += 1
        elif outcome is Outcome.UNWANTED or notice.attempts + 1 >= len(RETRY_AFTER) + 1:
            await Notice.filter(id=notice.id).update(given_up_at=now)
    return sent


async def _email_notice(mailer: Mailer, notice: Notice) -> Outcome:
    import aiosmtplib

    person = notice.person
    if not person.notify_by_email or not person.email:
        return Outcome.UNWANTED
    try:
        await mailer.deliver(neutral_message(person, mailer), seconds=20)
    except (aiosmtplib.SMTPException, OSError) as error:
        # The address is personal: the log says which notice, never to whom.
        log.warning(
            "notice %s not sent (attempt %s): %s",
            notice.id,
            notice.attempts + 1,
            type(error).__name__,
        )
        return Outcome.RETRY
    return Outcome.SENT


async def _push_notice(pusher: push.Pusher, notice: Notice) -> Outcome:
    """The neutral push to each of the person's devices not reached yet for this notice; a
    device its push service no longer knows is forgotten."""
    person = notice.person
    if not person.is_active:
        return Outcome.UNWANTED
    devices = await PushSubscription.filter(person_id=person.id).filter(
        Q(last_sent_at__isnull=True) | Q(last_sent_at__lt=notice.created_at)
    )
    text = push.neutral_text(person)
    reached = failed = False
    for device in devices:
        try:
            await pusher.deliver(device, text)
        except push.PushGone:
            await PushSubscription.filter(id=device.id).delete()
            continue
        except push.PushFailed as error:
            # The endpoint is personal: the log says which device and notice, never where.
            log.warning(
                "push of notice %s to device %s not sent (attempt %s): %s",
                notice.id,
                device.id,
                notice.attempts + 1,
                error,
            )
            failed = True
            continue
        await PushSubscription.filter(id=device.id).update(last_sent_at=timezone.now())
        reached = True
    if failed:
        return Outcome.RETRY
    if reached or await PushSubscription.filter(person_id=person.id).exists():
        return Outcome.SENT
    return Outcome.UNWANTED


def _pause(attempts: int) -> timedelta:
    return RETRY_AFTER[min(attempts, len(RETRY_AFTER) - 1)]


async def run_sender(
    mailer: Mailer | None, pusher: push.Pusher | None = None, interval: float = 30.0
) -> None:
    """The background task of each process: send what is due, then wait a while."""
    while True:
        try:
            await send_due(mailer, pusher=pusher)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the notice sender failed; it tries again later")
        await asyncio.sleep(interval)
