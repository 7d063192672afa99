"""Web Push end to end: a browser's subscription through the real route, a step in her dossier,
the sender, and a push service on 127.0.0.1 that gets a VAPID-signed, encrypted request whose
body the browser's keys turn back into one neutral sentence, and nothing else."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from starlette.applications import Starlette
from tortoise import timezone

from portal.__main__ import main as command_line
from portal.app import create_app
from portal.domain import account_deletion, notices, push, staff
from portal.domain.errors import Invalid
from portal.domain.messages import send_message
from portal.models import Channel, Dossier, Notice, Person, PushSubscription, Role, Theme
from portal.settings import (
    PUSH_SERVICES,
    Settings,
    SettingsError,
    application_server_key,
    load_settings,
    new_vapid_key,
    vapid_private_key,
)
from tests import factories
from tests.conftest import TEST_JOURNAL_KEY, TEST_MASTER_KEY, TEST_SECRET
from tests.helpers import count_queries, csrf_token
from tests.push_service import Browser, PushService, serve, unb64url

VAPID = new_vapid_key()
SUBJECT = "mailto:portail@aide.example.be"
SECRETS = ("AMO", "Secrète", "Amina", "Lou", "crie", "personnel")


@pytest_asyncio.fixture(loop_scope="session")
async def push_service() -> AsyncIterator[PushService]:
    """The push service the portal is allowed to post to in these tests."""
    async with serve() as service:
        yield service


@pytest_asyncio.fixture(loop_scope="session")
async def stranger_service() -> AsyncIterator[PushService]:
    """Another server on this machine, that no setting allows: it must never be contacted."""
    async with serve() as service:
        yield service


@pytest.fixture
def settings(tmp_path: Path, database: str, push_service: PushService) -> Settings:
    """The test settings with a VAPID key, allowing the suite's push service over http."""
    return Settings(
        env="test",
        var_dir=tmp_path,
        database_url=database,
        secret_key=TEST_SECRET,
        journal_key=TEST_JOURNAL_KEY,
        master_key=TEST_MASTER_KEY,
        vapid_private_key=VAPID,
        vapid_subject=SUBJECT,
        push_allowed_hosts=(*PUSH_SERVICES, push_service.origin),
    )


def _pusher(settings: Settings) -> push.Pusher:
    pusher = push.Pusher.of(settings)
    assert pusher is not None
    return pusher


def _past_settling(minutes: int = 0) -> datetime:
    return timezone.now() + notices.SETTLE + timedelta(seconds=1, minutes=minutes)


async def _dossier() -> tuple[Dossier, Person, Person]:
    service = await factories.service("AMO Secrète du Centre")
    amina = await factories.staff("amina", service_=service, name="Amina")
    lou = await factories.youth()
    dossier = await factories.followed_dossier(
        amina, lou, service, "Chez moi ça crie", Theme.FAMILY
    )
    return dossier, lou, amina


async def _subscribe(
    client: httpx.AsyncClient, browser: Browser, endpoint: str, token: str | None = None
) -> httpx.Response:
    """What push.js does: the subscription as JSON, the CSRF token in the header."""
    token = token or await csrf_token(client, "/compte")
    return await client.post(
        "/compte/appareils",
        json=browser.subscription(endpoint),
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )


def _check_vapid(authorization: str, audience: str) -> None:
    """``vapid t=<JWT>,k=<key>``: the key is the portal's, and the JWT verifies against it."""
    scheme, _, rest = authorization.partition(" ")
    assert scheme == "vapid"
    parts = dict(part.split("=", 1) for part in rest.split(","))
    assert parts["k"] == application_server_key(VAPID)
    header, payload, signature = parts["t"].split(".")
    raw = unb64url(signature)
    assert len(raw) == 64
    public = vapid_private_key(VAPID).public_key()
    public.verify(
        encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
        f"{header}.{payload}".encode(),
        ec.ECDSA(hashes.SHA256()),
    )
    assert json.loads(unb64url(header))["alg"] == "ES256"
    claims = json.loads(unb64url(payload))
    assert claims["aud"] == audience and claims["sub"] == SUBJECT
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600


# --- End to end -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"), [("fr", "Tu as du nouveau."), ("nl", "Je hebt iets nieuws.")]
)
async def test_a_step_in_her_dossier_reaches_her_phone_as_one_neutral_sentence(
    client: httpx.AsyncClient,
    settings: Settings,
    push_service: PushService,
    language: str,
    expected: str,
) -> None:
    dossier, lou, amina = await _dossier()
    await Person.filter(id=lou.id).update(language=language)
    phone = Browser()
    await factories.sign_in(client, "lou")
    answer = await _subscribe(client, phone, f"{push_service.origin}/push/lou-phone")
    assert answer.status_code == 200 and answer.json() == {"redirect": "/compte"}
    assert await PushSubscription.filter(person_id=lou.id).count() == 1

    await send_message(amina, dossier.reference, "Un message très personnel")
    await send_message(amina, dossier.reference, "Et un autre")
    # Nothing goes before the journal's entries have settled; then one push for both.
    assert await notices.send_due(None, pusher=_pusher(settings)) == 0
    assert push_service.received == []
    assert await notices.send_due(None, now=_past_settling(), pusher=_pusher(settings)) == 1

    assert len(push_service.received) == 1
    request = push_service.received[0]
    assert request.path == "/push/lou-phone"
    assert request.headers["content-encoding"] == "aes128gcm"
    assert request.headers["urgency"] == "normal"
    assert 3600 <= int(request.headers["ttl"]) <= 24 * 3600
    _check_vapid(request.headers["authorization"], push_service.origin)
    assert phone.read(request.body) == expected
    for secret in (*SECRETS, dossier.reference):
        assert secret.encode() not in request.body
    # The headers are base64 of random keys and signatures, where three or four letters ("Lou",
    # "AMO") turn up by chance now and then: the longer words are what they may never hold (the
    # token's claims are read in full above).
    for secret in (*[word for word in SECRETS if len(word) > 4], dossier.reference):
        assert all(secret not in value for value in request.headers.values())
    # Sent once: nothing more to send, and the device's mark says when.
    assert await notices.send_due(None, now=_past_settling(), pusher=_pusher(settings)) == 0
    assert len(push_service.received) == 1
    assert (await PushSubscription.get(person_id=lou.id)).last_sent_at is not None


async def test_a_worker_is_told_in_staff_words(
    client: httpx.AsyncClient, settings: Settings, push_service: PushService
) -> None:
    dossier, lou, _amina = await _dossier()
    desk = Browser()
    await factories.sign_in_staff(client, "amina")
    assert (await _subscribe(client, desk, f"{push_service.origin}/push/desk")).status_code == 200
    await send_message(lou, dossier.reference, "Merci")
    assert await notices.send_due(None, now=_past_settling(), pusher=_pusher(settings)) == 1
    assert desk.read(push_service.received[0].body) == "Il y a du nouveau pour toi."


async def test_nothing_new_sends_nothing(
    client: httpx.AsyncClient, settings: Settings, push_service: PushService
) -> None:
    dossier, lou, _amina = await _dossier()
    # What happened before she asked (her worker took her request) was read then.
    await notices.read_journal(_past_settling())
    await factories.sign_in(client, "lou")
    await _subscribe(client, Browser(), f"{push_service.origin}/push/lou")
    # Her own message and her worker's looks are no news to her.
    await send_message(lou, dossier.reference, "Coucou")
    await client.get(f"/espace/{dossier.reference}")
    assert await notices.send_due(None, now=_past_settling(), pusher=_pusher(settings)) == 0
    assert await Notice.filter(person_id=lou.id).count() == 0
    assert push_service.received == []


async def test_a_failing_service_is_retried_and_a_gone_subscription_forgotten(
    client: httpx.AsyncClient, settings: Settings, push_service: PushService
) -> None:
    dossier, lou, amina = await _dossier()
    phone, laptop = Browser(), Browser()
    await factories.sign_in(client, "lou")
    await _subscribe(client, phone, f"{push_service.origin}/push/phone")
    await _subscribe(client, laptop, f"{push_service.origin}/push/laptop")
    await notices.set_email_notices(lou, "", False)

    # The service fails for the phone: the laptop is told, the phone is tried again later.
    push_service.by_path["/push/phone"] = 500
    await send_message(amina, dossier.reference, "Bonjour")
    soon = _past_settling()
    assert await notices.send_due(None, now=soon, pusher=_pusher(settings)) == 0
    assert sorted(r.path for r in push_service.received) == ["/push/laptop", "/push/phone"]
    notice = await Notice.get(person_id=lou.id, channel=Channel.PUSH)
    assert notice.attempts == 1 and notice.sent_at is None and notice.next_try_at > soon
    assert await PushSubscription.filter(person_id=lou.id).count() == 2
    # Not before its time; then only the phone, which had not had it.
    assert await notices.send_due(None, now=soon, pusher=_pusher(settings)) == 0
    push_service.by_path.clear()
    push_service.received.clear()
    assert (
        await notices.send_due(None, now=soon + timedelta(minutes=2), pusher=_pusher(settings)) == 1
    )
    assert [r.path for r in push_service.received] == ["/push/phone"]
    assert phone.read(push_service.received[0].body) == "Tu as du nouveau."

    # The phone's subscription is gone at its push service (410): it is forgotten here.
    push_service.received.clear()
    push_service.by_path["/push/phone"] = 410
    await send_message(amina, dossier.reference, "Tu es là ?")
    assert await notices.send_due(None, now=_past_settling(5), pusher=_pusher(settings)) == 1
    assert sorted(r.path for r in push_service.received) == ["/push/laptop", "/push/phone"]
    left = await PushSubscription.filter(person_id=lou.id).values_list("endpoint", flat=True)
    assert left == [f"{push_service.origin}/push/laptop"]
    page = await client.get("/compte")
    assert "/push/phone" not in page.text and "/push/laptop" in page.text

    # A 404 too; with no device left, the notice is given up, not retried for ever.
    push_service.by_path["/push/laptop"] = 404
    await send_message(amina, dossier.reference, "Encore moi")
    assert await notices.send_due(None, now=_past_settling(10), pusher=_pusher(settings)) == 0
    assert await PushSubscription.filter(person_id=lou.id).count() == 0
    assert await Notice.filter(person_id=lou.id, given_up_at__isnull=False).count() == 1


async def test_email_and_push_each_get_their_notice(
    client: httpx.AsyncClient, settings: Settings, push_service: PushService
) -> None:
    """She asked for both: one notice waits on each channel; without a mail server, the e-mail
    one waits for it and the push goes."""
    dossier, lou, amina = await _dossier()
    await notices.set_email_notices(lou, "lou@example.be", True)
    await factories.sign_in(client, "lou")
    await _subscribe(client, Browser(), f"{push_service.origin}/push/lou")
    await send_message(amina, dossier.reference, "Bonjour")
    await send_message(amina, dossier.reference, "Re")
    assert await notices.send_due(None, now=_past_settling(), pusher=_pusher(settings)) == 1
    waiting = (
        await Notice.filter(person_id=lou.id).order_by("channel").values_list("channel", "sent_at")
    )
    assert [(c, s is not None) for c, s in waiting] == [
        (Channel.EMAIL, False),
        (Channel.PUSH, True),
    ]


# --- What a browser may send --------------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://evil.example/push",
        "https://fcm.googleapis.com.evil.example/fcm/send/x",
        "https://evilfcm.googleapis.com/fcm/send/x",
        "https://user@fcm.googleapis.com/fcm/send/x",
        "https://fcm.googleapis.com:8443/fcm/send/x",
        "http://fcm.googleapis.com/fcm/send/x",
        "https://push.apple.com.evil.example/x",
        "https://evilpush.apple.com/x",
        "https://fcm.googleapis.com@evil.example/x",
        "https://FCM.googleapis.com%2F@evil.example/x",
        "file:///etc/passwd",
        "https://[::1]/x",
        "https://fcm.googleapis.com/" + "x" * 1100,
        "https://fcm.googleapis.com/a\nb",
        "",
    ],
)
async def test_an_endpoint_not_of_a_push_service_is_refused(
    client: httpx.AsyncClient, endpoint: str
) -> None:
    await factories.youth()
    await factories.sign_in(client, "lou")
    answer = await _subscribe(client, Browser(), endpoint)
    assert answer.status_code == 422
    assert "service" in answer.json()["error"]
    assert await PushSubscription.all().count() == 0


async def test_a_server_of_this_machine_is_never_contacted(
    client: httpx.AsyncClient,
    settings: Settings,
    push_service: PushService,
    stranger_service: PushService,
) -> None:
    dossier, _lou, amina = await _dossier()
    await factories.sign_in(client, "lou")
    for endpoint in (
        f"{stranger_service.origin}/internal",
        f"{stranger_service.origin.replace('http:', 'https:')}/internal",
        "http://localhost/admin",
        "http://169.254.169.254/latest/meta-data/",
    ):
        assert (await _subscribe(client, Browser(), endpoint)).status_code == 422
    await send_message(amina, dossier.reference, "Bonjour")
    await notices.send_due(None, now=_past_settling(), pusher=_pusher(settings))
    assert stranger_service.received == [] and push_service.received == []
    # An allowed service that redirects is not followed: the push is tried again later.
    push_service.redirect_to = f"{stranger_service.origin}/internal"
    await factories.sign_in(client, "lou")
    await _subscribe(client, Browser(), f"{push_service.origin}/push/lou")
    await send_message(amina, dossier.reference, "Tu es là ?")
    assert await notices.send_due(None, now=_past_settling(), pusher=_pusher(settings)) == 0
    assert len(push_service.received) == 1 and stranger_service.received == []
    assert (await Notice.get(person_id=dossier.subject_id)).attempts == 1
    # The http exception for the suite's own service holds under tests only.
    production = dataclasses.replace(settings, env="production")
    with pytest.raises(Invalid):
        push.check_endpoint(production, f"{push_service.origin}/push")


async def test_the_push_services_of_the_browsers_are_accepted(client: httpx.AsyncClient) -> None:
    await factories.youth()
    await factories.sign_in(client, "lou")
    token = await csrf_token(client, "/compte")
    for endpoint in (
        "https://fcm.googleapis.com/fcm/send/dGVzdA:APA91b",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAAA",
        "https://web.push.apple.com/QGx1b3U",
        "https://wns2-par02p.notify.windows.com/w/?token=BQYAAA",
    ):
        assert (await _subscribe(client, Browser(), endpoint, token)).status_code == 200
    assert await PushSubscription.all().count() == 4


def _with_keys(p256dh: object, auth: object) -> dict[str, object]:
    return {
        "endpoint": "https://fcm.googleapis.com/fcm/send/x",
        "keys": {"p256dh": p256dh, "auth": auth},
    }


GOOD = Browser()
NOT_ON_THE_CURVE = "BA" + "A" * 85  # 0x04 then zeros: 65 bytes, not a point of P-256


@pytest.mark.parametrize(
    "body",
    [
        _with_keys(GOOD.p256dh, "c2hvcnQ"),  # 5 bytes
        _with_keys(GOOD.p256dh, "A" * 24),  # 18 bytes
        _with_keys(GOOD.p256dh[:-4], "AAAAAAAAAAAAAAAAAAAAAA"),
        _with_keys(NOT_ON_THE_CURVE, "AAAAAAAAAAAAAAAAAAAAAA"),
        _with_keys(GOOD.p256dh.replace("A", "+", 1) + "$", "AAAAAAAAAAAAAAAAAAAAAA"),
        _with_keys("é" * 87, "AAAAAAAAAAAAAAAAAAAAAA"),
        _with_keys(12345, ["AAAA"]),
        _with_keys(None, None),
        {"endpoint": "https://fcm.googleapis.com/fcm/send/x"},
        {"endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": "p256dh"},
        {"endpoint": ["https://fcm.googleapis.com/fcm/send/x"], "keys": {}},
    ],
)
async def test_keys_that_are_not_a_browsers_are_refused(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    await factories.youth()
    await factories.sign_in(client, "lou")
    token = await csrf_token(client, "/compte")
    answer = await client.post("/compte/appareils", json=body, headers={"X-CSRF-Token": token})
    assert answer.status_code == 422
    assert await PushSubscription.all().count() == 0


async def test_a_body_that_is_not_a_subscription_is_refused(client: httpx.AsyncClient) -> None:
    await factories.youth()
    await factories.sign_in(client, "lou")
    token = await csrf_token(client, "/compte")
    headers = {"X-CSRF-Token": token, "Content-Type": "application/json"}
    for body, status in (
        (b"not json", 400),
        (b"[1, 2]", 400),
        (b"[" * 5000, 413),
        (json.dumps({"endpoint": "x" * 5000}).encode(), 413),
    ):
        answer = await client.post("/compte/appareils", content=body, headers=headers)
        assert answer.status_code == status
    # Without the CSRF token, nothing is even read.
    bare = await client.post(
        "/compte/appareils", json=Browser().subscription("https://fcm.googleapis.com/x")
    )
    assert bare.status_code == 403
    assert await PushSubscription.all().count() == 0


async def test_ten_devices_at_most_and_the_same_device_counts_once(
    client: httpx.AsyncClient,
) -> None:
    await factories.youth()
    await factories.sign_in(client, "lou")
    token = await csrf_token(client, "/compte")
    for n in range(push.MAX_DEVICES):
        endpoint = f"https://fcm.googleapis.com/fcm/send/{n}"
        assert (await _subscribe(client, Browser(), endpoint, token)).status_code == 200
    # Subscribing again (a new key for the same browser) is the same device.
    again = await _subscribe(client, Browser(), "https://fcm.googleapis.com/fcm/send/0", token)
    assert again.status_code == 200
    more = await _subscribe(client, Browser(), "https://fcm.googleapis.com/fcm/send/x", token)
    assert more.status_code == 422 and "10" in more.json()["error"]
    assert await PushSubscription.all().count() == push.MAX_DEVICES


# --- Whose devices --------------------------------------------------------------------------------


async def test_only_she_removes_her_devices(client: httpx.AsyncClient, app: Starlette) -> None:
    await factories.youth()
    await factories.youth("noa", "Noa")
    await factories.sign_in(client, "lou")
    phone = Browser()
    endpoint = "https://fcm.googleapis.com/fcm/send/lou"
    await _subscribe(client, phone, endpoint)
    device = await PushSubscription.get(endpoint=endpoint)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as noa:
        await factories.sign_in(noa, "noa")
        token = await csrf_token(noa, "/compte")
        stolen = await noa.post(
            f"/compte/appareils/{device.id}/supprimer", data={"csrf_token": token}
        )
        assert stolen.status_code == 404
        # Nor by its address: that removes only her own, and she has none.
        await noa.post(
            "/compte/appareils/oubli", json={"endpoint": endpoint}, headers={"X-CSRF-Token": token}
        )
        assert "/fcm/send/lou" not in (await noa.get("/compte")).text
    assert await PushSubscription.filter(id=device.id).exists()

    token = await csrf_token(client, "/compte")
    removed = await client.post(
        f"/compte/appareils/{device.id}/supprimer", data={"csrf_token": token}
    )
    assert removed.status_code == 303 and removed.headers["location"] == "/compte"
    assert not await PushSubscription.filter(id=device.id).exists()
    # The button "stop on this device": the browser unsubscribes, then tells the server.
    await _subscribe(client, phone, endpoint, token)
    stop = await client.post(
        "/compte/appareils/oubli", json={"endpoint": endpoint}, headers={"X-CSRF-Token": token}
    )
    assert stop.status_code == 200 and stop.json() == {"redirect": "/compte"}
    assert await PushSubscription.all().count() == 0


@pytest.mark.parametrize("role", [Role.PARTNER, Role.ADMIN, Role.OPERATOR])
async def test_people_the_notices_never_tell_cannot_subscribe(
    client: httpx.AsyncClient, role: Role
) -> None:
    service = await factories.service()
    partner = await factories.partner() if role is Role.PARTNER else None
    await factories.staff(
        "someone",
        role,
        service_=service if role is Role.ADMIN else None,
        partner_=partner,
    )
    await factories.sign_in_staff(client, "someone")
    page = await client.get("/compte")
    assert page.status_code == 200 and "data-push" not in page.text
    answer = await _subscribe(client, Browser(), "https://fcm.googleapis.com/fcm/send/x")
    assert answer.status_code == 404
    assert await PushSubscription.all().count() == 0


async def test_deleting_an_account_or_deactivating_a_worker_forgets_their_devices(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    service = await factories.service()
    admin = await factories.staff("admin", Role.ADMIN, service_=service)
    worker = await factories.staff("sam", service_=service)
    lou = await factories.youth()
    for person in (lou, worker):
        await push.subscribe(
            settings,
            person,
            f"https://fcm.googleapis.com/fcm/send/{person.id}",
            Browser().p256dh,
            "AAAAAAAAAAAAAAAAAAAAAA",
            "Firefox",
        )
    await account_deletion.delete_account(lou)
    assert not await PushSubscription.filter(person_id=lou.id).exists()
    await staff.deactivate(admin, worker.id)
    assert not await PushSubscription.filter(person_id=worker.id).exists()


async def test_signing_out_keeps_the_device(client: httpx.AsyncClient) -> None:
    """A device is told until she says stop, like an e-mail address: signing out is not that."""
    await factories.youth()
    await factories.sign_in(client, "lou")
    await _subscribe(client, Browser(), "https://fcm.googleapis.com/fcm/send/lou")
    token = await csrf_token(client, "/compte")
    await client.post("/deconnexion", data={"csrf_token": token})
    assert await PushSubscription.all().count() == 1


async def test_signing_out_everywhere_forgets_every_device(client: httpx.AsyncClient) -> None:
    """A lost phone, a doubt: after "everywhere", no device of hers is told anything."""
    await factories.youth()
    await factories.youth("noa", "Noa")
    await factories.sign_in(client, "noa")
    await _subscribe(client, Browser(), "https://fcm.googleapis.com/fcm/send/noa")
    await client.post("/deconnexion", data={"csrf_token": await csrf_token(client, "/compte")})
    await factories.sign_in(client, "lou")
    await _subscribe(client, Browser(), "https://fcm.googleapis.com/fcm/send/lou")
    await _subscribe(client, Browser(), "https://updates.push.services.mozilla.com/wpush/v2/l")
    token = await csrf_token(client, "/compte")
    answer = await client.post("/compte/sessions/fin", data={"csrf_token": token})
    assert answer.status_code == 303
    # Hers are gone; another person's device stays.
    assert await PushSubscription.all().values_list("endpoint", flat=True) == [
        "https://fcm.googleapis.com/fcm/send/noa"
    ]


# --- The page and the service worker ------------------------------------------------------------


async def test_the_account_page_offers_it_and_only_it_loads_the_script(
    client: httpx.AsyncClient,
) -> None:
    dossier, _lou, _amina = await _dossier()
    await factories.sign_in(client, "lou")
    page = await client.get("/compte")
    assert "Me prévenir sur cet appareil" in page.text
    assert "Ne plus me prévenir sur cet appareil" in page.text
    assert "Il faut JavaScript" in page.text
    assert f'data-key="{application_server_key(VAPID)}"' in page.text
    assert 'data-worker="/sw.js?home=/espace"' in page.text
    assert "/static/js/push." in page.text
    # The header's link to the account page is a full load, so that its script runs.
    assert 'href="/compte" hx-boost="false"' in page.text
    for other in ("/espace", f"/espace/{dossier.reference}", "/"):
        assert "js/push." not in (await client.get(other)).text, other
    assert "sw.js" not in (await client.get("/espace")).text


async def test_the_device_list_costs_the_same_whatever_its_length(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    lou = await factories.youth()
    await factories.sign_in(client, "lou")
    await client.get("/compte")

    async def queries() -> int:
        with count_queries() as counter:
            assert (await client.get("/compte")).status_code == 200
        return counter.count

    await push.subscribe(
        settings,
        lou,
        "https://fcm.googleapis.com/fcm/send/a",
        Browser().p256dh,
        "AAAAAAAAAAAAAAAAAAAAAA",
        "Firefox sur Android",
    )
    one = await queries()
    for n in range(5):
        await push.subscribe(
            settings,
            lou,
            f"https://fcm.googleapis.com/fcm/send/{n}",
            Browser().p256dh,
            "AAAAAAAAAAAAAAAAAAAAAA",
            "Chrome",
        )
    page = await client.get("/compte")
    assert page.text.count('/supprimer"') >= 6
    assert "Firefox sur Android" in page.text
    assert await queries() == one


async def test_without_a_key_there_is_no_push(settings: Settings, db: str) -> None:
    app = create_app(dataclasses.replace(settings, vapid_private_key=""), manage_database=False)
    await factories.youth()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        await factories.sign_in(client, "lou")
        page = await client.get("/compte")
        assert "data-push" not in page.text and "js/push." not in page.text
        answer = await _subscribe(client, Browser(), "https://fcm.googleapis.com/fcm/send/x")
        assert answer.status_code == 404
    assert push.Pusher.of(dataclasses.replace(settings, vapid_private_key="")) is None


async def test_the_service_worker_is_served_from_the_root_under_the_policy(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/sw.js")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert answer.headers["cache-control"] == "no-cache"
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    script = answer.text
    assert "showNotification" in script and "notificationclick" in script
    for banned in ("eval(", "new Function", "importScripts", "fetch("):
        assert banned not in script
    # It opens one of two fixed pages, never a path it is given.
    assert '["/espace", "/travail"]' in script


# --- Keys -----------------------------------------------------------------------------------------


def test_development_makes_its_vapid_key_once(tmp_path: Path) -> None:
    first = load_settings({"PORTAL_VAR_DIR": str(tmp_path)})
    again = load_settings({"PORTAL_VAR_DIR": str(tmp_path)})
    assert first.vapid_private_key == again.vapid_private_key != ""
    assert (tmp_path / "vapid_private_key").stat().st_mode & 0o077 == 0
    assert len(unb64url(application_server_key(first.vapid_private_key))) == 65
    assert first.vapid_subject == "mailto:portail@localhost"
    assert first.push_allowed_hosts == PUSH_SERVICES


def test_production_takes_its_vapid_key_from_the_environment(tmp_path: Path) -> None:
    env = {
        "PORTAL_ENV": "production",
        "PORTAL_VAR_DIR": str(tmp_path),
        "SECRET_KEY": "x" * 40,
        "JOURNAL_KEY": "x" * 40,
        "MASTER_KEY": TEST_MASTER_KEY,
        "DATABASE_URL": "postgres://portal@db/portal",
    }
    # Without one, push is off (nothing is made on disk).
    assert load_settings(env).vapid_private_key == ""
    assert not (tmp_path / "vapid_private_key").exists()
    key = new_vapid_key()
    on = load_settings({**env, "VAPID_PRIVATE_KEY": key, "VAPID_SUBJECT": SUBJECT})
    assert on.vapid_private_key == key and on.vapid_subject == SUBJECT
    for name, value in (
        ("VAPID_PRIVATE_KEY", "not-a-key"),
        ("VAPID_PRIVATE_KEY", "A" * 43),  # zero is not a private key
        ("VAPID_SUBJECT", "https://aide.example.be"),
    ):
        with pytest.raises(SettingsError, match=name):
            load_settings({**env, "VAPID_PRIVATE_KEY": key, name: value})
    hosts = load_settings({**env, "PUSH_ALLOWED_HOSTS": " fcm.googleapis.com, *.push.apple.com "})
    assert hosts.push_allowed_hosts == ("fcm.googleapis.com", "*.push.apple.com")


def test_the_command_prints_a_new_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert command_line(["new-vapid-key"]) == 0
    printed = capsys.readouterr().out
    key = printed.split("VAPID_PRIVATE_KEY=")[1].split()[0]
    assert application_server_key(key) in printed
