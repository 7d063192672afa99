"""Every sealed field stores the longest text its form accepts, in four-byte characters.

A field is checked in characters, then sealed (encrypted, then base64): 200 emoji become
more than 1,000 characters. A column sized for the typed text refused the sealed one with a
crash (a 500) instead of storing it.
"""

from __future__ import annotations

import pytest

from portal.domain import actions, ending, messages, requests
from portal.domain import consent as consent_rules
from portal.domain.actions import answer_action, propose_action, record_action
from portal.domain.consent import MAX_PURPOSE
from portal.domain.dossiers import open_dossier, take
from portal.domain.requests import RequestForm, make_request
from portal.models import ActionKind, Asker, ContactChannel, Theme
from tests import factories

pytestmark = pytest.mark.asyncio(loop_scope="session")

# One character, four bytes in UTF-8: the longest a character gets.
WIDE = "🫶"


def wide(length: int) -> str:
    return WIDE * length


async def test_the_longest_texts_are_stored_sealed_and_read_back(db: str) -> None:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    cpas = await factories.partner("CPAS")
    lou = await factories.youth("lou", "Lou")
    form = RequestForm(
        asker=Asker.YOUTH,
        themes=[Theme.OTHER],
        words=wide(requests.MAX_WORDS),
        contact_channel=ContactChannel.EMAIL,
        contact_details="lou@example.be",
        contact_hours=wide(requests.MAX_HOURS),
    )
    dossier = await make_request(lou, service, form)
    await take(amina, dossier.id)
    ref = dossier.reference
    await messages.send_message(lou, ref, wide(messages.MAX_MESSAGE))
    await record_action(amina, ref, ActionKind.LISTENING, wide(actions.MAX_DESCRIPTION))
    step = await propose_action(
        amina, ref, ActionKind.PARTNER_CONTACT, wide(actions.MAX_DESCRIPTION), wide(200), []
    )
    await answer_action(lou, ref, step.id, False, wide(actions.MAX_REASON))
    await consent_rules.grant(lou, ref, cpas.id, ["request"], "until_stop", wide(MAX_PURPOSE))
    await consent_rules.share(amina, ref, cpas.id, ["request"])
    await ending.end_help(lou, ref, wide(ending.MAX_REASON))

    view = await open_dossier(lou, ref)
    assert view.request.contact_hours == wide(requests.MAX_HOURS)
    assert view.request.words == wide(requests.MAX_WORDS)
    proposed = next(a for a in view.actions if a.id == step.id)
    assert proposed.third_party == wide(200)
    assert proposed.answer_reason == wide(actions.MAX_REASON)
