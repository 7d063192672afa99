"""Concertation meetings: members who adhered to the charter, the 3-day time frame, and minutes
that reach the partners who were there only once the young person approved them.

Every rule is tried by the wrong role, staff included, and with forged ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette
from tortoise import timezone

from portal.domain import consent as consent_rules
from portal.domain.actions import answer_action, propose_action, record_meeting
from portal.domain.notices import news_count
from portal.i18n import BRUSSELS
from portal.models import (
    Action,
    ActionKind,
    Concertation,
    ConcertationMember,
    Dossier,
    JournalEntry,
    MinutesStatus,
    Partner,
    Person,
    Role,
    Service,
    Share,
    SubmittedForm,
)
from tests import factories
from tests.helpers import count_queries, csrf_token

pytestmark = pytest.mark.asyncio(loop_scope="session")

MINUTES = "Le CPAS aide pour le loyer de mars."
REVISED = "Le CPAS aide pour le loyer de mars et d’avril."
WORD = "Ce n’était pas mars, c’était avril."
CHARTER = "Chaque membre garde le secret partagé."


@dataclass
class World:
    app: Starlette
    service: Service
    dossier: Dossier
    lou: Person
    amina: Person
    cpas: Partner
    school: Partner
    outsider: Partner
    clients: list[httpx.AsyncClient]
    # One signed-in client per person: a second sign-in would reuse a one-time code.
    signed: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return self.dossier.reference

    async def as_(self, login: str, staff: bool = True) -> httpx.AsyncClient:
        if login in self.signed:
            return self.signed[login]
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="https://testserver"
        )
        self.clients.append(client)
        signed = await (factories.sign_in_staff if staff else factories.sign_in)(client, login)
        assert signed.status_code == 303
        self.signed[login] = client
        return client

    async def post(
        self, client: httpx.AsyncClient, path: str, **data: str | list[str]
    ) -> httpx.Response:
        return await client.post(path, data={"csrf_token": await csrf_token(client), **data})


@pytest.fixture
async def w(app: Starlette, db: str) -> World:  # type: ignore[misc]
    service = await factories.service("AMO Le Passage")
    await Service.filter(id=service.id).update(charter=CHARTER, charter_nl="Gedeeld geheim.")
    amina = await factories.staff("amina", service_=service, name="Amina")
    await factories.staff("tom", service_=service, name="Tom")
    await factories.staff("admin", Role.ADMIN, service_=service)
    far = await factories.service("AMO du Nord")
    await factories.staff("ines", Role.ADMIN, service_=far)
    await factories.staff("yann", service_=far)
    await factories.operator()
    cpas = await factories.partner("CPAS de Namur")
    school = await factories.partner("École Saint-Jean", secrecy=False)
    outsider = await factories.partner("Club de foot")
    await factories.staff("julie", Role.PARTNER, partner_=cpas, name="Julie")
    await factories.staff("prof", Role.PARTNER, partner_=school, name="Prof")
    await factories.member(service.id, cpas.id, "permanent", "2026-01-05")
    await factories.member(service.id, school.id, "associated", "2026-02-10")
    lou = await factories.youth("lou", "Lou")
    await factories.youth("noa", "Noa")
    dossier = await factories.followed_dossier(amina, lou, service, "Lou")
    world = World(app, service, dossier, lou, amina, cpas, school, outsider, [])
    yield world
    for client in world.clients:
        await client.aclose()


def _local(moment: timezone.datetime) -> str:
    return moment.astimezone(BRUSSELS).strftime("%Y-%m-%dT%H:%M")


async def _asked(w: World, ago: timedelta = timedelta(hours=1)) -> Action:
    """Lou's meeting with the CPAS and the school, asked ``ago``."""
    return await propose_action(
        w.amina,
        w.ref,
        ActionKind.CONCERTATION,
        "Réunion sur le logement",
        "",
        [w.cpas.id, w.school.id],
        asked_by="family",
        asked_at=_local(timezone.now() - ago),
    )


async def _held(w: World) -> Action:
    """Asked, agreed, both partners allowed and there: the meeting is held."""
    meeting = await _asked(w)
    await answer_action(w.lou, w.ref, meeting.id, True)
    for partner in (w.cpas, w.school):
        await consent_rules.grant(
            w.lou, w.ref, partner.id, ["actions"], "until_stop", "Pour la réunion"
        )
    await record_meeting(w.amina, w.ref, meeting.id, [w.cpas.id, w.school.id], ["actions"])
    return meeting


async def _events(w: World) -> list[str]:
    return list(await JournalEntry.filter(dossier_id=w.dossier.id).values_list("event", flat=True))


# --- Members and charter ----------------------------------------------------------------------


async def test_the_admin_keeps_the_members_and_the_charter(w: World) -> None:
    admin = await w.as_("admin")
    page = await admin.get("/admin/concertation")
    assert page.status_code == 200
    assert "CPAS de Namur" in page.text and "membre permanent" in page.text
    saved = await w.post(
        admin,
        "/admin/concertation/charte",
        charter="Charte en français",
        charter_nl="Charter in het Nederlands",
        charter_en="Charter in English",
    )
    assert saved.status_code == 303
    service = await Service.get(id=w.service.id)
    assert (service.charter, service.charter_nl, service.charter_en) == (
        "Charte en français",
        "Charter in het Nederlands",
        "Charter in English",
    )
    added = await w.post(
        admin,
        "/admin/concertation/membres",
        partner=str(w.outsider.id),
        membership="associated",
        adhered_on="2026-03-01",
    )
    assert added.status_code == 303
    assert await ConcertationMember.filter(partner_id=w.outsider.id).count() == 1
    # A date in the future, a membership that does not exist, no French charter: 422, kept.
    tomorrow = (timezone.now() + timedelta(days=2)).date().isoformat()
    future = await w.post(
        admin,
        "/admin/concertation/membres",
        partner=str(w.cpas.id),
        membership="permanent",
        adhered_on=tomorrow,
    )
    assert future.status_code == 422
    assert "ne peut pas être dans le futur" in future.text
    assert tomorrow in future.text
    wrong = await w.post(
        admin,
        "/admin/concertation/membres",
        partner=str(w.cpas.id),
        membership="chef",
        adhered_on="2026-01-01",
    )
    assert wrong.status_code == 422
    empty = await w.post(admin, "/admin/concertation/charte", charter="", charter_nl="Alleen NL")
    assert empty.status_code == 422
    assert "Alleen NL" in empty.text
    assert (await Service.get(id=w.service.id)).charter == "Charte en français"


@pytest.mark.parametrize(
    ("login", "staff"),
    [("amina", True), ("julie", True), ("ines", True), ("operateur", True), ("lou", False)],
)
async def test_nobody_but_the_admin_of_the_service_touches_its_members(
    w: World, login: str, staff: bool
) -> None:
    client = await w.as_(login, staff)
    if login == "ines":
        # Another service's admin sees her own service's page, never this one's members.
        page = await client.get("/admin/concertation")
        assert page.status_code == 200
        assert "Pas encore de membre." in page.text
        assert "membre permanent," not in page.text
    else:
        assert (await client.get("/admin/concertation")).status_code == 404
    before = await ConcertationMember.filter(service_id=w.service.id).count()
    await w.post(
        client,
        "/admin/concertation/membres",
        partner=str(w.outsider.id),
        membership="permanent",
        adhered_on="2026-01-01",
    )
    forms = await SubmittedForm.all().count()
    await w.post(
        client, f"/admin/concertation/membres/{w.cpas.id}/retirer", form_key=f"k{login}" * 8
    )
    # Refused, the form's single-use key is not kept either: nothing at all changed.
    assert await SubmittedForm.all().count() == forms
    await w.post(client, "/admin/concertation/charte", charter="Autre charte")
    assert await ConcertationMember.filter(service_id=w.service.id).count() == before
    assert await ConcertationMember.filter(partner_id=w.cpas.id).count() == 1
    assert (await Service.get(id=w.service.id)).charter == CHARTER


async def test_a_partner_that_has_not_adhered_cannot_be_named(w: World) -> None:
    amina = await w.as_("amina")
    refused = await w.post(
        amina,
        f"/travail/dossiers/{w.ref}/demarches",
        mode="propose",
        kind="concertation",
        description="Réunion avec le club",
        partners=[str(w.cpas.id), str(w.outsider.id)],
        asked_by="young",
    )
    assert refused.status_code == 422
    assert "adhéré à la charte de concertation" in refused.text
    assert "Réunion avec le club" in refused.text
    assert await Action.filter(dossier_id=w.dossier.id).count() == 0
    assert await Concertation.all().count() == 0


# --- The time frame ---------------------------------------------------------------------------


async def test_asking_starts_the_time_frame_and_is_journaled(w: World) -> None:
    amina = await w.as_("amina")
    asked = timezone.now() - timedelta(hours=5)
    made = await w.post(
        amina,
        f"/travail/dossiers/{w.ref}/demarches",
        mode="propose",
        kind="concertation",
        description="Réunion logement",
        partners=[str(w.cpas.id), str(w.school.id)],
        asked_by="partner",
        asked_at=_local(asked),
    )
    assert made.status_code == 303
    concertation = await Concertation.get(dossier_id=w.dossier.id)
    assert concertation.asked_by.value == "partner"
    assert abs(concertation.asked_at - asked) < timedelta(minutes=1)
    assert "concertation.asked" in await _events(w)
    # Asked in the future, or a month and more ago: refused, nothing made.
    for when in (timezone.now() + timedelta(days=1), timezone.now() - timedelta(days=40)):
        refused = await w.post(
            amina,
            f"/travail/dossiers/{w.ref}/demarches",
            mode="propose",
            kind="concertation",
            description="Autre réunion",
            partners=[str(w.cpas.id)],
            asked_by="team",
            asked_at=_local(when),
        )
        assert refused.status_code == 422
    assert await Concertation.all().count() == 1


async def test_the_meeting_must_be_held_within_three_days(w: World) -> None:
    meeting = await _asked(w, timedelta(hours=2))
    concertation = await Concertation.get(action_id=meeting.id)
    amina = await w.as_("amina")
    path = f"/travail/dossiers/{w.ref}/reunions/{meeting.id}/date"
    late = _local(concertation.asked_at + timedelta(days=3, hours=1))
    refused = await w.post(amina, path, when=late)
    assert refused.status_code == 422
    assert "dans les 3 jours" in refused.text
    assert late in refused.text
    assert (await Concertation.get(id=concertation.id)).meeting_at is None
    before = _local(concertation.asked_at - timedelta(hours=1))
    assert (await w.post(amina, path, when=before)).status_code == 422
    assert (await w.post(amina, path, when="demain")).status_code == 422
    good = concertation.asked_at + timedelta(days=2, hours=23)
    assert (await w.post(amina, path, when=_local(good))).status_code == 303
    stored = (await Concertation.get(id=concertation.id)).meeting_at
    assert stored is not None and abs(stored - good) < timedelta(minutes=1)


async def test_the_inbox_shows_the_next_deadline_and_what_is_late(w: World) -> None:
    fresh = await _asked(w, timedelta(hours=1))
    old = await _asked(w, timedelta(days=4))
    amina = await w.as_("amina")
    inbox = (await amina.get("/travail")).text
    assert "Réunions avec des partenaires" in inbox
    assert "À préparer pour le" in inbox
    assert "pas informé dans les 72 heures" in inbox
    assert "pas tenue dans les 3 jours" in inbox
    # Her agreement counts as informed: the old one is late for the meeting only.
    await answer_action(w.lou, w.ref, old.id, True)
    await answer_action(w.lou, w.ref, fresh.id, True)
    inbox = (await amina.get("/travail")).text
    assert "pas informé dans les 72 heures" not in inbox
    assert "pas tenue dans les 3 jours" in inbox
    # Another worker of the service, who does not follow the dossier, sees none of it.
    tom = await w.as_("tom")
    assert "Réunions avec des partenaires" not in (await tom.get("/travail")).text


async def test_the_inbox_does_not_query_per_meeting(w: World) -> None:
    amina = await w.as_("amina")
    await _asked(w)
    await amina.get("/travail")
    with count_queries() as one:
        assert (await amina.get("/travail")).status_code == 200
    for _n in range(4):
        await _asked(w)
    with count_queries() as five:
        assert (await amina.get("/travail")).status_code == 200
    assert five.count == one.count


async def test_informed_otherwise_is_recorded_once_by_her_worker_only(w: World) -> None:
    meeting = await _asked(w, timedelta(hours=30))
    path = f"/travail/dossiers/{w.ref}/reunions/{meeting.id}/informee"
    for login, staff in (("tom", True), ("yann", True), ("julie", True), ("admin", True)):
        client = await w.as_(login, staff)
        assert (await w.post(client, path)).status_code in {403, 404}
    lou = await w.as_("lou", staff=False)
    assert (await w.post(lou, path)).status_code in {403, 404}
    assert (await Concertation.get(action_id=meeting.id)).informed_at is None
    amina = await w.as_("amina")
    assert (await w.post(amina, path)).status_code == 303
    assert (await Concertation.get(action_id=meeting.id)).informed_at is not None
    assert (await _events(w)).count("concertation.informed") == 1
    # A forged id: another step of the dossier, or one that does not exist.
    other = await propose_action(
        w.amina, w.ref, ActionKind.PARTNER_CONTACT, "Appeler", "", [w.cpas.id]
    )
    for forged in (other.id, 999_999):
        answer = await w.post(amina, f"/travail/dossiers/{w.ref}/reunions/{forged}/informee")
        assert answer.status_code == 404
    assert (
        await w.post(amina, f"/travail/dossiers/{w.ref}/reunions/{meeting.id}/x")
    ).status_code == 404


# --- Minutes ----------------------------------------------------------------------------------


async def _nothing_reaches_anyone_but_her(w: World, text: str) -> None:
    """Every partner user, the other workers, the admins and the operator: nothing of it."""
    for login in ("julie", "prof", "tom", "yann", "admin", "ines", "operateur"):
        client = await w.as_(login)
        for page in (
            "/partenaire",
            "/travail",
            "/admin/concertation",
            "/operateur",
            f"/travail/dossiers/{w.ref}",
            f"/espace/{w.ref}",
        ):
            answer = await client.get(page)
            assert text not in answer.text, (login, page)
        for share_id in range(1, 6):
            answer = await client.get(f"/partenaire/partages/{share_id}")
            assert answer.status_code in {404, 410}, (login, share_id)
            assert text not in answer.text


async def test_minutes_reach_the_partners_only_after_she_approved(w: World) -> None:
    meeting = await _held(w)
    amina = await w.as_("amina")
    base = f"/travail/dossiers/{w.ref}/reunions/{meeting.id}"
    assert (await w.post(amina, f"{base}/pv", minutes="")).status_code == 422
    assert (await w.post(amina, f"{base}/pv", minutes=MINUTES)).status_code == 303
    concertation = await Concertation.get(action_id=meeting.id)
    assert MINUTES not in concertation.minutes  # sealed
    assert concertation.minutes_status is MinutesStatus.WAITING
    assert await Share.all().count() == 0
    await _nothing_reaches_anyone_but_her(w, MINUTES)

    lou = await w.as_("lou", staff=False)
    page = (await lou.get(f"/espace/{w.ref}")).text
    assert MINUTES in page
    assert "CPAS de Namur" in page and "membre permanent" in page and "membre associé" in page
    assert "a adhéré à la charte le lundi 5 janvier" in page
    assert CHARTER in page

    # She asks for a change, with a word (none: 422, nothing changed).
    answer = f"/espace/{w.ref}/reunions/{meeting.id}"
    assert (await w.post(lou, f"{answer}/changer", word="")).status_code == 422
    assert (await Concertation.get(id=concertation.id)).minutes_status is MinutesStatus.WAITING
    assert (await w.post(lou, f"{answer}/changer", word=WORD)).status_code == 303
    changed = await Concertation.get(id=concertation.id)
    assert changed.minutes_status is MinutesStatus.CHANGE_ASKED
    assert WORD not in changed.change_word  # sealed
    assert WORD in (await amina.get(f"/travail/dossiers/{w.ref}")).text
    # Nothing to approve while the worker revises.
    assert (await w.post(lou, f"{answer}/approuver")).status_code == 303
    assert await Share.all().count() == 0
    await _nothing_reaches_anyone_but_her(w, MINUTES)

    assert (await w.post(amina, f"{base}/pv", minutes=REVISED)).status_code == 303
    # The school's agreement ends before she approves: it will receive nothing.
    school_consent = await consent_rules.active_consents(w.dossier)
    for consent in school_consent:
        if consent.partner_id == w.school.id:
            await consent_rules.revoke(w.lou, w.ref, consent.id)
    seen = await news_count(w.amina)
    assert (await w.post(lou, f"{answer}/approuver")).status_code == 303
    assert await news_count(w.amina) > seen
    shares = await Share.all()
    assert [s.partner_id for s in shares] == [w.cpas.id]
    assert shares[0].action_id == meeting.id
    events = await _events(w)
    for event in ("asked", "minutes_written", "minutes_change_asked", "minutes_approved"):
        assert f"concertation.{event}" in events
    assert events.count("concertation.minutes_shared") == 1
    page = (await lou.get(f"/espace/{w.ref}")).text
    assert "Tu as approuvé le compte rendu de la réunion." in page
    assert "transmis à CPAS de Namur" in page

    # Passed on by the worker who proposed the meeting: her name is not among what the CPAS
    # may receive (the consent covers the steps, not who she is).
    assert shares[0].shared_by_id == w.amina.id
    julie = await w.as_("julie")
    shared = (await julie.get(f"/partenaire/partages/{shares[0].id}")).text
    assert REVISED in shared
    assert "Amina" in shared and w.lou.display_name not in shared
    prof = await w.as_("prof")
    assert REVISED not in (await prof.get("/partenaire")).text
    assert (await prof.get(f"/partenaire/partages/{shares[0].id}")).status_code == 404
    # Approved: the worker can no longer change them.
    assert (await w.post(amina, f"{base}/pv", minutes="Autre chose")).status_code == 303
    assert (await Concertation.get(id=concertation.id)).minutes_status is MinutesStatus.APPROVED

    # She takes back her agreement with the CPAS: the minutes are withdrawn like any share.
    for consent in await consent_rules.active_consents(w.dossier):
        await consent_rules.revoke(w.lou, w.ref, consent.id)
    assert (await julie.get(f"/partenaire/partages/{shares[0].id}")).status_code == 410
    assert REVISED not in (await julie.get("/partenaire")).text


async def test_only_she_approves_or_asks_a_change(w: World) -> None:
    meeting = await _held(w)
    amina = await w.as_("amina")
    base = f"/travail/dossiers/{w.ref}/reunions/{meeting.id}"
    assert (await w.post(amina, f"{base}/pv", minutes=MINUTES)).status_code == 303
    answer = f"/espace/{w.ref}/reunions/{meeting.id}"
    for login, staff in (
        ("amina", True),
        ("julie", True),
        ("admin", True),
        ("operateur", True),
        ("noa", False),
    ):
        client = await w.as_(login, staff)
        for choice in ("approuver", "changer"):
            status = (await w.post(client, f"{answer}/{choice}", word="Non")).status_code
            assert status in {403, 404}, (login, choice, status)
    concertation = await Concertation.get(action_id=meeting.id)
    assert concertation.minutes_status is MinutesStatus.WAITING
    assert await Share.all().count() == 0
    # Her own forged ids: a step that is not a meeting, a meeting of nobody.
    lou = await w.as_("lou", staff=False)
    other = await propose_action(
        w.amina, w.ref, ActionKind.PARTNER_CONTACT, "Appeler", "", [w.cpas.id]
    )
    for forged in (other.id, 999_999):
        assert (
            await w.post(lou, f"/espace/{w.ref}/reunions/{forged}/approuver")
        ).status_code == 404
    assert (await w.post(lou, f"{answer}/peutetre")).status_code == 404
    assert await Share.all().count() == 0


async def test_minutes_wait_for_the_meeting_and_its_worker(w: World) -> None:
    meeting = await _asked(w)
    amina = await w.as_("amina")
    base = f"/travail/dossiers/{w.ref}/reunions/{meeting.id}"
    assert (await w.post(amina, f"{base}/pv", minutes=MINUTES)).status_code == 409
    await answer_action(w.lou, w.ref, meeting.id, True)
    for partner in (w.cpas, w.school):
        await consent_rules.grant(w.lou, w.ref, partner.id, ["actions"], "until_stop", "Réunion")
    await record_meeting(w.amina, w.ref, meeting.id, [w.cpas.id], ["actions"])
    for login in ("tom", "yann", "julie", "admin", "operateur"):
        client = await w.as_(login)
        assert (await w.post(client, f"{base}/pv", minutes=MINUTES)).status_code in {403, 404}
    assert (await Concertation.get(action_id=meeting.id)).minutes_status is MinutesStatus.NONE
    inbox = (await amina.get("/travail")).text
    assert "compte rendu en attente" in inbox
    too_long = "x" * 20_001
    assert (await w.post(amina, f"{base}/pv", minutes=too_long)).status_code == 422
    assert (await w.post(amina, f"{base}/pv", minutes=MINUTES)).status_code == 303


async def test_her_page_and_the_workers_do_not_query_per_meeting(w: World) -> None:
    lou = await w.as_("lou", staff=False)
    amina = await w.as_("amina")
    await _held(w)
    pages = ((lou, f"/espace/{w.ref}"), (amina, f"/travail/dossiers/{w.ref}"))
    counts = []
    for client, path in pages:
        await client.get(path)
        with count_queries() as one:
            assert (await client.get(path)).status_code == 200
        counts.append(one.count)
    for _n in range(3):
        await _asked(w)
    for (client, path), before in zip(pages, counts, strict=True):
        await client.get(path)
        with count_queries() as four:
            page = await client.get(path)
        assert page.text.count("Réunion avec des partenaires") >= 4
        assert four.count == before, path


async def test_a_refused_form_that_shows_the_minutes_is_a_journaled_read(w: World) -> None:
    """The worker's form comes back with the minutes and her words: that read is in her journal."""
    meeting = await _held(w)
    amina = await w.as_("amina")
    path = f"/travail/dossiers/{w.ref}/reunions/{meeting.id}"
    assert (await w.post(amina, f"{path}/pv", minutes="Le CPAS aide.")).status_code == 303
    looks = await JournalEntry.filter(dossier_id=w.dossier.id, event="dossier.read").count()
    refused = await w.post(amina, f"{path}/pv", minutes="x" * 20_001)
    assert refused.status_code == 422
    after = await JournalEntry.filter(dossier_id=w.dossier.id, event="dossier.read").count()
    assert after == looks + 1
