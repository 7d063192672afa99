"""Accounts through the app: making one, signing in and out, sessions, two factors, throttling."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from tortoise import timezone

from portal.models import Credential, CredentialKind, Person, RecoveryCode, Role, Session
from portal.security import passwords
from portal.security.sessions import SESSION_COOKIE
from tests import factories
from tests.helpers import csrf_token


async def _new_account(client: httpx.AsyncClient, **overrides: str) -> httpx.Response:
    token = await csrf_token(client, "/compte/nouveau")
    data = {
        "csrf_token": token,
        "role": "youth",
        "display_name": "Lou",
        "language": "fr",
        "login": "lou",
        "password": factories.YOUTH_PASSWORD,
        "way": "password",
    }
    data.update(overrides)
    return await client.post("/compte/nouveau", data=data)


async def test_a_young_person_makes_an_account_without_email_or_phone(
    client: httpx.AsyncClient,
) -> None:
    response = await _new_account(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/compte/bienvenue"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
    )
    for attribute in ("Path=/", "Secure", "HttpOnly", "SameSite=lax"):
        assert attribute.lower() in cookie.lower()
    assert "domain" not in cookie.lower()
    person = await Person.get(login="lou")
    assert person.role is Role.YOUTH and person.display_name == "Lou"
    # Only the hash of the cookie is stored.
    raw = cookie.split(";")[0].split("=", 1)[1]
    assert not await Session.filter(token_hash=raw).exists()
    assert await Session.filter(person=person).count() == 1

    welcome = await client.get("/compte/bienvenue")
    assert "Bienvenue, Lou" in welcome.text
    token = await csrf_token(client, "/compte/bienvenue")
    shown = await client.post("/compte/codes", data={"csrf_token": token})
    codes = factories.codes_in(shown.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = await RecoveryCode.filter(person=person).values_list("code_hash", flat=True)
    assert not set(codes) & set(stored)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("password", "quatorze lettr"),  # 14 characters: too short as the only factor
        ("password", "motdepasse123456"),
        ("password", "lou lou lou lou lou"),
        ("login", "a"),
        ("login", "<script>"),
        ("display_name", ""),
        ("display_name", "x" * 41),
        ("role", "worker"),
        ("role", "admin"),
        ("language", "de"),
    ],
)
async def test_a_refused_account_keeps_what_was_typed_and_stores_nothing(
    client: httpx.AsyncClient, field: str, value: str
) -> None:
    response = await _new_account(client, **{"display_name": "Noa", field: value})
    assert response.status_code == 422
    assert 'class="error' in response.text
    if field != "display_name":
        assert 'value="Noa"' in response.text
    assert await Person.all().count() == 0
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


async def test_a_sign_in_name_is_taken_once(client: httpx.AsyncClient) -> None:
    await factories.youth("lou")
    response = await _new_account(client)
    assert response.status_code == 422
    assert await Person.all().count() == 1


async def test_suggest_a_passphrase_fills_the_field_and_keeps_the_rest(
    client: httpx.AsyncClient,
) -> None:
    response = await _new_account(client, way="suggest", display_name="Noa", login="noa")
    assert response.status_code == 200
    assert 'value="Noa"' in response.text and 'value="noa"' in response.text
    assert 'class="passphrase"' in response.text
    assert await Person.all().count() == 0


async def test_without_javascript_a_passkey_account_asks_for_a_password_instead(
    client: httpx.AsyncClient,
) -> None:
    response = await _new_account(client, way="passkey")
    assert response.status_code == 422
    assert await Person.all().count() == 0


async def test_sign_in_rotates_the_session_no_fixation(client: httpx.AsyncClient) -> None:
    await factories.youth("lou")
    first = await factories.sign_in(client, "lou")
    before = client.cookies.get(SESSION_COOKIE)
    assert first.status_code == 303 and before
    second = await factories.sign_in(client, "lou")
    after = client.cookies.get(SESSION_COOKIE)
    assert second.status_code == 303 and after and after != before
    # The session the browser had before is over.
    assert await Session.filter(ended_at__isnull=True).count() == 1


async def test_a_planted_cookie_is_not_kept_at_sign_in(client: httpx.AsyncClient) -> None:
    await factories.youth("lou")
    client.cookies.set(SESSION_COOKIE, "planted-by-someone-else", domain="testserver.local")
    response = await factories.sign_in(client, "lou")
    assert response.status_code == 303
    assert client.cookies.get(SESSION_COOKIE) != "planted-by-someone-else"


async def test_wrong_password_and_unknown_name_get_the_same_answer_by_the_same_path(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await factories.youth("lou")
    verified: list[str] = []
    real_verify = passwords.CONTEXT.verify_and_update

    def spy_verify(secret: str, hashed: str) -> tuple[bool, str | None]:
        verified.append(hashed)
        return real_verify(secret, hashed)  # type: ignore[no-any-return]

    real_dummy = passwords.CONTEXT.verify

    def spy_dummy(secret: str, hashed: str) -> bool:
        verified.append("dummy")
        return real_dummy(secret, hashed)  # type: ignore[no-any-return]

    monkeypatch.setattr(passwords.CONTEXT, "verify_and_update", spy_verify)
    monkeypatch.setattr(passwords.CONTEXT, "verify", spy_dummy)
    wrong = await factories.sign_in(client, "lou", "not the right password at all")
    unknown = await factories.sign_in(client, "nobody", "not the right password at all")
    assert wrong.status_code == unknown.status_code == 422
    message = "Ce nom de connexion et ce mot de passe ne correspondent pas"
    assert message in wrong.text and message in unknown.text
    # One argon2 verification each: against the real hash, and against the dummy hash.
    assert len(verified) == 2 and verified[1] == "dummy"


async def test_an_old_hash_is_upgraded_at_sign_in(client: httpx.AsyncClient) -> None:
    person = await factories.youth("lou")
    older = passwords.CONTEXT.handler("argon2").using(memory_cost=8192, time_cost=1)
    weak = older.hash(factories.YOUTH_PASSWORD)
    await Credential.filter(person=person, kind=CredentialKind.PASSWORD).update(secret=weak)
    response = await factories.sign_in(client, "lou")
    assert response.status_code == 303
    stored = await Credential.get(person=person, kind=CredentialKind.PASSWORD)
    assert stored.secret != weak and "m=19456,t=2" in stored.secret


async def test_five_failures_make_a_new_browser_wait_even_with_the_right_password(
    client: httpx.AsyncClient,
) -> None:
    await factories.youth("lou")
    for _ in range(5):
        assert (await factories.sign_in(client, "lou", "wrong password, wrong")).status_code == 422
    locked = await factories.sign_in(client, "lou")
    assert locked.status_code == 429
    assert "Trop d’essais. Attends" in locked.text
    assert 0 < int(locked.headers["retry-after"]) <= 60
    assert SESSION_COOKIE not in locked.headers.get("set-cookie", "")


async def test_sign_out_ends_the_session_on_the_server(client: httpx.AsyncClient) -> None:
    await factories.youth("lou")
    await factories.sign_in(client, "lou")
    old = client.cookies.get(SESSION_COOKIE)
    assert (await client.get("/compte")).status_code == 200
    token = await csrf_token(client, "/compte")
    response = await client.post("/deconnexion", data={"csrf_token": token})
    assert response.status_code == 303
    assert "cache" in response.headers["clear-site-data"]
    assert any(
        c.startswith(f'{SESSION_COOKIE}=""') or "Max-Age=0" in c
        for c in response.headers.get_list("set-cookie")
    )
    # The old cookie, replayed (a page kept in a browser's cache), opens nothing.
    client.cookies.set(SESSION_COOKIE, old or "")
    again = await client.get("/compte")
    assert again.status_code == 303 and again.headers["location"].endswith("/connexion")


async def test_quick_exit_ends_the_session_and_leaves(client: httpx.AsyncClient) -> None:
    await factories.youth("lou")
    await factories.sign_in(client, "lou")
    page = await client.get("/compte")
    assert '/sortie"' in page.text
    old = client.cookies.get(SESSION_COOKIE)
    token = await csrf_token(client, "/compte")
    response = await client.post("/sortie", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "https://www.meteo.be/fr/belgique"
    assert await Session.filter(ended_at__isnull=True).count() == 0
    client.cookies.set(SESSION_COOKIE, old or "")
    assert (await client.get("/compte")).status_code == 303


async def test_quick_exit_as_a_beacon_ends_the_session_without_a_redirect(
    client: httpx.AsyncClient,
) -> None:
    """The script leaves at once and sends the form as a beacon: nothing to follow there."""
    await factories.youth("lou")
    await factories.sign_in(client, "lou")
    token = await csrf_token(client, "/compte")
    beacon = {"Sec-Fetch-Dest": "empty", "Sec-Fetch-Mode": "no-cors"}
    response = await client.post("/sortie", data={"csrf_token": token}, headers=beacon)
    assert response.status_code == 204 and "location" not in response.headers
    assert response.headers["clear-site-data"] == '"cache", "storage"'
    assert SESSION_COOKIE in response.headers["set-cookie"]
    assert await Session.filter(ended_at__isnull=True).count() == 0
    assert (await client.get("/compte")).status_code == 303


@pytest.mark.parametrize(
    ("field", "delta"), [("last_seen_at", timedelta(minutes=31)), ("expires_at", timedelta(0))]
)
async def test_sessions_end_when_idle_or_too_old(
    client: httpx.AsyncClient, field: str, delta: timedelta
) -> None:
    await factories.youth("lou")
    await factories.sign_in(client, "lou")
    assert (await client.get("/compte")).status_code == 200
    await Session.all().update(**{field: timezone.now() - delta})
    response = await client.get("/compte")
    assert response.status_code == 303
    assert await Session.filter(ended_at__isnull=True).count() == 0


async def test_subject_sessions_last_twelve_hours_staff_ten(client: httpx.AsyncClient) -> None:
    service = await factories.service()
    await factories.youth("lou")
    await factories.staff("amina", service_=service)
    await factories.sign_in(client, "lou")
    await factories.sign_in_staff(client, "amina")
    lou = await Session.get(person__login="lou")
    amina = await Session.get(person__login="amina", second_factor_pending=False)
    assert round((lou.expires_at - lou.created_at).total_seconds() / 3600) == 12
    assert round((amina.expires_at - amina.created_at).total_seconds() / 3600) == 10


async def test_staff_need_a_second_factor(client: httpx.AsyncClient) -> None:
    service = await factories.service()
    await factories.staff("amina", service_=service)
    response = await factories.sign_in(client, "amina", factories.STAFF_PASSWORD)
    assert response.headers["location"].endswith("/connexion/code")
    # Password alone opens nothing.
    assert (await client.get("/compte")).headers["location"].endswith("/connexion/code")
    token = await csrf_token(client, "/connexion/code")
    wrong = await client.post("/connexion/code", data={"csrf_token": token, "code": "000000"})
    assert wrong.status_code == 422
    good = await client.post(
        "/connexion/code", data={"csrf_token": token, "code": factories.totp_now()}
    )
    assert good.status_code == 303
    assert (await client.get("/compte")).status_code == 200


async def test_a_totp_code_works_once(client: httpx.AsyncClient, app: object) -> None:
    service = await factories.service()
    await factories.staff("amina", service_=service)
    code = factories.totp_now()
    await factories.sign_in(client, "amina", factories.STAFF_PASSWORD)
    token = await csrf_token(client, "/connexion/code")
    assert (
        await client.post("/connexion/code", data={"csrf_token": token, "code": code})
    ).status_code == 303
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as other:
        await factories.sign_in(other, "amina", factories.STAFF_PASSWORD)
        token = await csrf_token(other, "/connexion/code")
        replay = await other.post("/connexion/code", data={"csrf_token": token, "code": code})
        assert replay.status_code == 422


async def test_recovery_codes_work_once(client: httpx.AsyncClient) -> None:
    await factories.youth("lou")
    await factories.sign_in(client, "lou")
    token = await csrf_token(client, "/compte")
    codes = factories.codes_in(
        (await client.post("/compte/codes", data={"csrf_token": token})).text
    )
    client.cookies.clear()
    token = await csrf_token(client, "/connexion/secours")
    used = await client.post(
        "/connexion/secours", data={"csrf_token": token, "code": codes[0].upper()}
    )
    assert used.status_code == 303
    client.cookies.clear()
    token = await csrf_token(client, "/connexion/secours")
    again = await client.post("/connexion/secours", data={"csrf_token": token, "code": codes[0]})
    assert again.status_code == 422
    assert await RecoveryCode.filter(used_at__isnull=False).count() == 1


async def test_a_post_without_csrf_changes_nothing(client: httpx.AsyncClient) -> None:
    person = await factories.youth("lou")
    await factories.sign_in(client, "lou")
    response = await client.post("/compte/profil", data={"display_name": "Autre", "language": "nl"})
    assert response.status_code == 403
    assert (await Person.get(id=person.id)).display_name == "Lou"
    sessions = await Session.filter(ended_at__isnull=True).count()
    assert (await client.post("/compte/sessions/fin")).status_code == 403
    assert await Session.filter(ended_at__isnull=True).count() == sessions


async def test_profile_change_keeps_input_on_refusal(client: httpx.AsyncClient) -> None:
    await factories.youth("lou")
    await factories.sign_in(client, "lou")
    token = await csrf_token(client, "/compte")
    refused = await client.post(
        "/compte/profil", data={"csrf_token": token, "display_name": "y" * 41, "language": "nl"}
    )
    assert refused.status_code == 422
    ok = await client.post(
        "/compte/profil", data={"csrf_token": token, "display_name": "Lou-Anne", "language": "nl"}
    )
    assert ok.status_code == 303
    page = await client.get("/compte")
    assert '<html lang="nl">' in page.text and "Lou-Anne" in page.text


async def test_sign_out_everywhere(client: httpx.AsyncClient, app: object) -> None:
    await factories.youth("lou")
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as phone:
        await factories.sign_in(phone, "lou")
        await factories.sign_in(client, "lou")
        page = await client.get("/compte")
        assert page.text.count('class="row"') >= 2
        token = await csrf_token(client, "/compte")
        await client.post("/compte/sessions/fin", data={"csrf_token": token})
        assert (await phone.get("/compte")).status_code == 303
    assert await Session.filter(ended_at__isnull=True).count() == 0


async def test_changing_the_password_needs_the_current_one(client: httpx.AsyncClient) -> None:
    await factories.youth("lou")
    await factories.sign_in(client, "lou")
    token = await csrf_token(client, "/compte")
    new = "quatre chats gris dans le jardin"
    refused = await client.post(
        "/compte/mot-de-passe", data={"csrf_token": token, "current": "wrong", "new_password": new}
    )
    assert refused.status_code == 422
    ok = await client.post(
        "/compte/mot-de-passe",
        data={"csrf_token": token, "current": factories.YOUTH_PASSWORD, "new_password": new},
    )
    assert ok.status_code == 303
    client.cookies.clear()
    assert (await factories.sign_in(client, "lou", new)).status_code == 303


async def test_pages_of_other_roles_do_not_exist_for_you(client: httpx.AsyncClient) -> None:
    await factories.youth("lou")
    assert (await client.get("/admin/personnes")).status_code == 303
    await factories.sign_in(client, "lou")
    assert (await client.get("/admin/personnes")).status_code == 404
