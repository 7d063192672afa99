"""Messages between the subject and the workers who follow them."""

from __future__ import annotations

from portal import keys
from portal.domain import journal
from portal.domain.access import readable_dossier
from portal.domain.errors import Invalid, NotAllowed
from portal.domain.forms import acting_once
from portal.domain.journal import Event
from portal.i18n import lazy as _l
from portal.models import Dossier, DossierStatus, Message, Person
from portal.text import clean_multiline

MAX_MESSAGE = 4000


async def send_message(
    author: Person, reference: str, body: str, *, form_key: str | None = None
) -> Message:
    """Write in the dossier's thread: only its subject and its assigned workers can."""
    dossier = await readable_dossier(author, reference)
    text = clean_multiline(body)
    if not text:
        raise Invalid("body", _l("Write something first."))
    if len(text) > MAX_MESSAGE:
        raise Invalid("body", _l("At most 4,000 characters."))
    if dossier.status is DossierStatus.ENDED:
        raise NotAllowed("the help has ended")
    async with acting_once(form_key):
        locked = await Dossier.select_for_update().get(id=dossier.id)
        sealed = keys.box(locked).seal(text, "message.body")
        message = await Message.create(dossier_id=locked.id, author_id=author.id, body=sealed)
        await journal.record(locked, Event.MESSAGE_SENT, author, {"message": message.id})
    return message
