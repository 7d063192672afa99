"""A form acts once: its single-use key is recorded in the transaction of what it does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from tortoise import timezone
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from portal.models import SubmittedForm

# A form older than this is past any session's life: its key is forgotten.
KEEP_FORM_KEYS = timedelta(days=7)
# How long a repeat waits for the first sending's answer to be written: the first may still
# be sending an e-mail (staff.SEND_TIMEOUT) after its changes were committed.
WAIT_FOR_ANSWER = 15.0
LOOK_AGAIN_EVERY = 0.02


class Repeat(Exception):
    """The form acted already: ``answer`` is what its first sending was answered ("" if that
    answer was never written)."""

    def __init__(self, answer: str) -> None:
        super().__init__("this form was sent before")
        self.answer = answer


@asynccontextmanager
async def acting_once(form_key: str | None) -> AsyncIterator[None]:
    """The transaction of a change that a form asks for, made once per form.

    ``form_key`` is the digest of the form's single-use key (None: a plain transaction). It is
    recorded first, under a unique constraint, and kept only if the change commits: a refusal
    rolls it back with the rest, so the corrected form can be sent. A repeat, sent later or at
    the same moment (it waits until the first commits), raises ``Repeat`` and changes nothing.
    """
    if form_key is None:
        async with in_transaction():
            yield
        return
    recorded = False
    try:
        async with in_transaction():
            await SubmittedForm.create(key_hash=form_key)
            recorded = True
            await SubmittedForm.filter(created_at__lt=timezone.now() - KEEP_FORM_KEYS).delete()
            yield
    except IntegrityError as error:
        if recorded:
            raise
        raise Repeat(await _first_answer(form_key)) from error


async def _first_answer(form_key: str) -> str:
    """The answer the first sending's page wrote after its change committed (``remember``)."""
    loop = asyncio.get_running_loop()
    until = loop.time() + WAIT_FOR_ANSWER
    while True:
        found = await SubmittedForm.filter(key_hash=form_key).values_list("outcome", flat=True)
        if (found and found[0]) or loop.time() >= until:
            return str(found[0]) if found else ""
        await asyncio.sleep(LOOK_AGAIN_EVERY)


async def remember(form_key: str, answer: str) -> None:
    """What a repeat of this form is to be answered (the form acted: its key is recorded)."""
    await SubmittedForm.filter(key_hash=form_key).update(outcome=answer[:500])


async def answer_if_repeat(form_key: str | None) -> None:
    """Raise ``Repeat`` if this form has acted already, for a change whose target is gone
    since (a dossier erased by the first sending is not found by the second)."""
    if form_key is not None and await SubmittedForm.filter(key_hash=form_key).exists():
        raise Repeat(await _first_answer(form_key))
