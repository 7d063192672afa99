"""Recovery without a master key: codes from the first moment, links limited to one dossier."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import pytest
from tortoise import timezone

from portal.domain import accounts
from portal.domain.access import readable_dossier
from portal.domain.dossiers import subject_dossiers
from portal.domain.ending import end_help, erase
from portal.domain.errors import Invalid, NotFound
from portal.domain.notices import news_count
from portal.models import (
    Credential,
    CredentialKind,
    Dossier,
    FirstCodes,
    JournalEntry,
    LinkKind,
    OneTimeLink,
    Person,
    RecoveryCode,
    Role,
)
from portal.security.tokens import token_hash
from tests import factories
from tests.soft_authenticator import SoftAuthenticator
from tests.unit.test_passkeys import add_passkey, passkey_of, sign_in, sign_up

pytestmark = pytest.mark.asyncio(loop_scope="session")


@dataclass
class Lou:
    amina: Person
    bea: Person
    chloe: Person
    lou: Person
    d1: Dossier
    d2: Dossier
    d3: Dossier


async def _lou() -> Lou:
    passage = await factories.service("AMO Le Passage")
    source = await factories.service("AMO La Source")
    amina = await factories.staff("amina@passage.be", service_=passage, name="Amina")
    bea = await factories.staff("bea@passage.be", service_=passage, name="Bea")
    chloe = await factories.staff("chloe@source.be", service_=source, name="Chloé")
    lou = await factories.youth("lou", "Lou")
    d1 = await factories.followed_dossier(amina, lou, passage, "un")
    d2 = await factories.followed_dossier(bea, lou, passage, "deux")
    d3 = await factories.followed_dossier(chloe, lou, source, "trois")
    return Lou(amina, bea, chloe, lou, d1, d2, d3)


async def _through_link(w: Lou) -> Person:
    token = await accounts.issue_recovery_link(w.amina, w.d1.id)
    return await accounts.use_recovery_link(token)


# --- Codes the moment the account is made ----------------------------------------------------


async def test_an_account_made_with_a_passkey_has_ten_codes_at_once(db: str) -> None:
    person = await sign_up(SoftAuthenticator(), secrets.token_urlsafe(16))
    assert await accounts.unused_recovery_codes(person) == accounts.RECOVERY_CODES
    codes = await accounts.take_first_codes(person)
    assert len(codes) == accounts.RECOVERY_CODES
    assert await accounts.take_first_codes(person) == []
    # The codes shown are the ones that work.
    assert await accounts.use_recovery_code(codes[3]) is not None


async def test_an_account_made_with_a_password_has_ten_codes_at_once(db: str) -> None:
    lou = await factories.youth("lou")
    assert await accounts.unused_recovery_codes(lou) == accounts.RECOVERY_CODES
    record = await FirstCodes.get(person_id=lou.id)
    # Sealed: no code can be read from the database.
    codes = await accounts.take_first_codes(lou)
    assert codes and all(code not in record.sealed for code in codes)
    assert not await FirstCodes.filter(id=record.id).exists()


async def test_the_first_codes_are_not_shown_late_nor_once_one_was_used(db: str) -> None:
    lou = await factories.youth("lou")
    await FirstCodes.filter(person_id=lou.id).update(
        created_at=timezone.now() - accounts.FIRST_CODES_LIFETIME - timedelta(minutes=1)
    )
    assert await accounts.take_first_codes(lou) == []

    noa = await factories.youth("noa", "Noa")
    one = await RecoveryCode.filter(person_id=noa.id).first()
    assert one is not None
    await RecoveryCode.filter(id=one.id).update(used_at=timezone.now())
    assert await accounts.take_first_codes(noa) == []


async def test_a_session_opened_by_a_link_never_sees_the_first_codes(db: str) -> None:
    w = await _lou()
    held = await _through_link(w)
    assert await accounts.take_first_codes(held) == []
    # Still there for the owner herself.
    owner = await Person.get(id=w.lou.id)
    assert len(await accounts.take_first_codes(owner)) == accounts.RECOVERY_CODES


# --- A link opens one dossier, and nothing of the account -------------------------------------


async def test_a_link_reaches_only_its_dossier(db: str) -> None:
    w = await _lou()
    held = await _through_link(w)
    assert held.scope_dossier_id == w.d1.id
    assert (await readable_dossier(held, w.d1.reference)).id == w.d1.id
    for other in (w.d2, w.d3):
        with pytest.raises(NotFound):
            await readable_dossier(held, other.reference)
    assert [d.id for d in await subject_dossiers(held)] == [w.d1.id]
    owner = await Person.get(id=w.lou.id)
    assert len(await subject_dossiers(owner)) == 3


async def test_a_link_changes_nothing_account_wide(db: str) -> None:
    w = await _lou()
    held = await _through_link(w)
    passkey = await Credential.create(
        person=w.lou, kind=CredentialKind.PASSKEY, credential_id=b"k", public_key=b"k"
    )
    attempts = [
        accounts.regenerate_recovery_codes(held),
        accounts.change_password(held, factories.YOUTH_PASSWORD, "x" * 40),
        accounts.update_profile(held, "Autre", "nl"),
        accounts.remove_passkey(held, passkey.id),
        accounts.mark_recovery_links_shown(held, 10**6),
    ]
    for attempt in attempts:
        with pytest.raises(accounts.LimitedSession):
            await attempt
    await Person.filter(id=w.lou.id).update(login=None)
    held.login = None
    with pytest.raises(accounts.LimitedSession):
        await accounts.set_login_and_password(held, "amina.lou", "y" * 40)
    assert await Credential.filter(id=passkey.id).exists()
    assert await OneTimeLink.filter(shown_at__isnull=False).count() == 0


async def test_a_link_cannot_erase_the_dossier_it_opens(db: str) -> None:
    w = await _lou()
    await end_help(w.lou, w.d1.reference)
    held = await _through_link(w)
    with pytest.raises(accounts.LimitedSession):
        await erase(held, w.d1.reference)
    assert (await Dossier.get(id=w.d1.id)).erased_at is None


async def test_only_the_worker_who_follows_the_dossier_makes_a_link(db: str) -> None:
    w = await _lou()
    admin = await factories.staff("admin@passage.be", Role.ADMIN, service_=w.amina.service)
    for stranger in (w.bea, w.chloe, admin, w.lou):
        with pytest.raises(NotFound):
            await accounts.issue_recovery_link(stranger, w.d1.id)
    await Person.filter(id=w.amina.id).update(is_active=False)
    w.amina.is_active = False
    with pytest.raises(NotFound):
        await accounts.issue_recovery_link(w.amina, w.d1.id)
    assert await OneTimeLink.all().count() == 0


async def test_a_link_without_a_dossier_opens_nothing(db: str) -> None:
    w = await _lou()
    token = await accounts.issue_recovery_link(w.amina, w.d1.id)
    await OneTimeLink.filter(token_hash=token_hash(token)).update(dossier_id=None)
    with pytest.raises(NotFound):
        await accounts.use_recovery_link(token)


async def test_issue_and_use_are_written_in_every_dossier_naming_the_worker(db: str) -> None:
    w = await _lou()
    await _through_link(w)
    for dossier in (w.d1, w.d2, w.d3):
        entries = await JournalEntry.filter(
            dossier_id=dossier.id, event__startswith="recovery_link."
        ).order_by("seq")
        assert [e.event for e in entries] == ["recovery_link.issued", "recovery_link.used"]
        assert all(e.details["by"] == w.amina.id for e in entries)
        assert all(e.details["service"] == w.amina.service_id for e in entries)
    issued = await JournalEntry.get(dossier_id=w.d1.id, event="recovery_link.issued")
    assert issued.actor_id == w.amina.id
    elsewhere = await JournalEntry.get(dossier_id=w.d3.id, event="recovery_link.issued")
    assert elsewhere.actor_id is None


async def test_a_session_limited_to_one_dossier_counts_its_news_only(db: str) -> None:
    w = await _lou()
    held = await _through_link(w)
    owner = await Person.get(id=w.lou.id)
    assert 0 < await news_count(held) < await news_count(owner)


# --- Passkeys made through a link -----------------------------------------------------------


async def test_a_passkey_made_through_a_link_is_limited_and_no_way_into_the_account(
    db: str,
) -> None:
    browser = secrets.token_urlsafe(16)
    phone = SoftAuthenticator()
    owner = await sign_up(phone, browser)
    passage = await factories.service("AMO Le Passage")
    amina = await factories.staff("amina@passage.be", service_=passage, name="Amina")
    await Person.filter(id=owner.id).update(birth_year=2010, birth_month=3)
    owner.birth_year, owner.birth_month = 2010, 3
    d1 = await factories.followed_dossier(amina, owner, passage)
    held = await accounts.use_recovery_link(await accounts.issue_recovery_link(amina, d1.id))
    spare = SoftAuthenticator()
    made = await add_passkey(held, spare, browser)
    assert made.scope_dossier_id == d1.id
    signed = await sign_in(spare, browser)
    assert signed.scope_dossier_id == d1.id
    again = await sign_in(phone, browser)
    assert again.scope_dossier_id is None
    # The owner's own passkey is her only way into the whole account: it stays.
    full = await passkey_of(phone)
    with pytest.raises(Invalid):
        await accounts.remove_passkey(again, full.id)
    assert await Credential.filter(id=full.id).exists()


async def test_the_notice_lists_the_links_not_yet_shown(db: str) -> None:
    w = await _lou()
    await _through_link(w)
    owner = await Person.get(id=w.lou.id)
    shown = await accounts.recovery_links_to_show(owner)
    assert [(s.by_name, s.service_name) for s in shown] == [("Amina", "AMO Le Passage")]
    assert shown[0].used_at is not None
    assert await accounts.mark_recovery_links_shown(owner, shown[0].id) == 1
    assert await accounts.recovery_links_to_show(owner) == []
    assert await OneTimeLink.filter(kind=LinkKind.RECOVERY, shown_at__isnull=True).count() == 0
