"""Staff rules without HTTP: who invites and lets go whom, how invitations go, hand-over words."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from portal.domain import accounts
from portal.domain import staff as staff_rules
from portal.domain.errors import Invalid, NotAllowed, NotFound
from portal.domain.notices import Mailer
from portal.i18n import use_language
from portal.models import JournalEntry, LinkKind, OneTimeLink, Person, Role
from portal.pages.timeline import describe
from portal.settings import Settings
from tests import factories

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_only_admins_and_the_operator_invite_and_each_only_their_own(db: str) -> None:
    one = await factories.service("AMO Un")
    two = await factories.service("AMO Deux")
    cpas = await factories.partner("CPAS")
    admin = await factories.staff("admin1", Role.ADMIN, service_=one)
    operator = await factories.operator()
    worker = await factories.staff("amina", service_=one)
    partner = await factories.staff("julie", Role.PARTNER, partner_=cpas)
    youth = await factories.youth()
    for nobody in (worker, partner, youth):
        with pytest.raises(NotAllowed):
            await staff_rules.check_invitation(nobody, "worker", "Zoé", "zoe@amo.be")
        with pytest.raises(NotAllowed):
            staff_rules.managed_by(nobody)
    new = await staff_rules.check_invitation(admin, "admin", "Zoé", "zoe@amo.be")
    assert new.service is not None and new.service.id == one.id and new.partner is None
    for role, where in (("partner", {"partner": str(cpas.id)}), ("operator", {})):
        with pytest.raises(Invalid):
            await staff_rules.check_invitation(admin, role, "Zoé", "zoe@amo.be", **where)
    with pytest.raises(Invalid):
        await staff_rules.check_invitation(
            admin, "worker", "Zoé", "zoe@amo.be", service=str(two.id)
        )
    new = await staff_rules.check_invitation(
        operator, "admin", "Zoé", "zoe@amo.be", service=str(two.id)
    )
    assert new.service is not None and new.service.id == two.id
    new = await staff_rules.check_invitation(
        operator, "partner", "Zoé", "zoe@amo.be", partner=str(cpas.id)
    )
    assert new.partner is not None and new.partner.id == cpas.id and new.service is None
    for role in ("worker", "operator", "youth"):
        with pytest.raises(Invalid):
            await staff_rules.check_invitation(
                operator, role, "Zoé", "zoe@amo.be", service=str(one.id)
            )
    # What each manages: the admin her service's workers and admins; the operator the others.
    assert {p.id for p in await staff_rules.managed_by(admin)} == {admin.id, worker.id}
    assert {p.id for p in await staff_rules.managed_by(operator)} == {admin.id, partner.id}


async def test_an_invitation_travels_by_smtp_or_in_development_by_a_file(tmp_path: Path) -> None:
    base = Settings(env="test", var_dir=tmp_path)
    assert staff_rules.Post.of(base).outbox == tmp_path / "outbox"
    assert staff_rules.Post.of(base).ready
    production = Settings(env="production", var_dir=tmp_path)
    assert not staff_rules.Post.of(production).ready
    with_smtp = Settings(env="production", var_dir=tmp_path, smtp_host="mail.example.be")
    post = staff_rules.Post.of(with_smtp)
    assert post.ready and post.outbox is None and post.sender == "portail@localhost"


async def test_a_mail_server_away_leaves_a_waiting_invitation_to_send_again(
    db: str, tmp_path: Path
) -> None:
    one = await factories.service()
    admin = await factories.staff("admin1", Role.ADMIN, service_=one)
    away = staff_rules.Post(
        Mailer(host="127.0.0.1", port=_closed_port(), sender="portail@localhost", site_url="")
    )
    new = await staff_rules.check_invitation(admin, "worker", "Zoé", "zoe@amo.be")
    invited = await staff_rules.invite(admin, new, away, lambda token: f"https://x/{token}")
    assert not invited.sent and staff_rules.is_pending(invited.person)
    first = await OneTimeLink.get(person=invited.person)
    assert first.email == "zoe@amo.be" and first.issued_by_id == admin.id
    outbox = staff_rules.Post(
        Mailer(host="", port=25, sender="portail@localhost", site_url=""),
        outbox=tmp_path / "outbox",
    )
    again = await staff_rules.send_again(
        admin, invited.person.id, outbox, lambda token: f"https://x/{token}"
    )
    assert again.sent and len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    # The first link was replaced: one waiting invitation, the new one.
    waiting = await OneTimeLink.filter(person=invited.person, kind=LinkKind.INVITATION)
    assert [link.id for link in waiting] != [first.id] and len(waiting) == 1
    # Nothing to send again to someone who arrived, or to another service's staff.
    worker = await factories.staff("amina", service_=one)
    with pytest.raises(NotFound):
        await staff_rules.send_again(admin, worker.id, outbox, str)
    far = await factories.staff("far", Role.ADMIN, service_=await factories.service("Loin"))
    with pytest.raises(NotFound):
        await staff_rules.send_again(far, invited.person.id, outbox, str)


async def test_nobody_signed_in_completes_an_invitation(db: str) -> None:
    one = await factories.service()
    admin = await factories.staff("admin1", Role.ADMIN, service_=one)
    new = await staff_rules.check_invitation(admin, "worker", "Zoé", "zoe@amo.be")
    zoe, token = await staff_rules.invite_from_server(new)
    for signed_in in (admin, zoe):
        with pytest.raises(accounts.SignedInElsewhere):
            await accounts.open_invitation(token, signed_in)
        with pytest.raises(accounts.SignedInElsewhere):
            await accounts.accept_invitation_with_password(token, "un phare vert", signed_in)
        with pytest.raises(accounts.SignedInElsewhere):
            await accounts.confirm_invitation_totp(token, "123456", signed_in)
    assert (await accounts.open_invitation(token, None)).id == zoe.id
    # Cancelled by a deactivation: the link opens nothing any more.
    await staff_rules.deactivate(admin, zoe.id)
    with pytest.raises(NotFound):
        await accounts.open_invitation(token, None)
    assert (await Person.get(id=zoe.id)).deactivated_at is not None


async def test_the_hand_over_is_said_in_plain_words_in_each_language(db: str) -> None:
    one = await factories.service()
    admin = await factories.staff("admin1", Role.ADMIN, service_=one)
    amina = await factories.staff("amina", service_=one, name="Amina")
    tom = await factories.staff("tom", service_=one, name="Tom")
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, one)
    await staff_rules.deactivate(admin, amina.id, {dossier.id: tom.id})
    entry = await JournalEntry.get(dossier=dossier, event="dossier.handed_over")
    said = {}
    for language in ("fr", "nl", "en"):
        with use_language(language):
            said[language] = (describe(entry, lou, True), describe(entry, tom, False))
    assert said["fr"] == (
        "Amina ne te suit plus. Tom te suit maintenant.",
        "Amina ne suit plus ce dossier. Tom le suit maintenant.",
    )
    assert said["nl"][0] == "Amina volgt je niet meer. Tom volgt je nu."
    assert said["en"][0] == "Amina no longer follows you. Tom follows you now."
