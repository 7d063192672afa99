"""Throttling through the app: strangers are slowed, the owner is not, sign-up tells no name."""

from __future__ import annotations

import os
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pyotp
import pytest
from starlette.applications import Starlette

from portal.domain import accounts
from portal.models import Person, Role
from portal.security import passkeys
from portal.security.csrf import CSRF_COOKIE
from portal.security.known_browsers import KNOWN_BROWSER_COOKIE
from portal.security.ratelimit import SignInThrottle
from portal.security.sessions import SESSION_COOKIE
from tests import factories
from tests.conftest import TEST_JOURNAL_KEY, TEST_MASTER_KEY, TEST_SECRET
from tests.helpers import CSRF_RE, csrf_token, portal_process
from tests.soft_authenticator import SoftAuthenticator

pytestmark = pytest.mark.asyncio(loop_scope="session")

STRANGER = "198.51.100.7"
SCHOOL = "192.0.2.10"
# The address ASGITransport gives every request unless told otherwise.
HERE = "127.0.0.1"
WAIT_RE = re.compile(r"Trop d’essais\. Attends (\d+) (secondes?|minutes?|heures?)")
FORMAT_MESSAGE = "Mets 3 à 40 lettres ou chiffres"
TAKEN_MESSAGE = "déjà pris"
ERROR_RE = re.compile(r'<p class="error"[^>]*>([^<]+)</p>')
# A Redis database of this file's own; emptied before and after.
REDIS_URL = os.environ.get("TEST_THROTTLE_REDIS_URL", "redis://127.0.0.1:6379/13")


def request_form(token: str, login: str) -> dict[str, object]:
    """The request form's last step, making an account with this sign-in name."""
    return {
        "csrf_token": token,
        "step": "account",
        "asker": "youth",
        "birth_month": "4",
        "birth_year": "2010",
        "themes": ["school"],
        "words": "Je voudrais parler à quelqu’un.",
        "contact_channel": "portal",
        "display_name": "Zoé",
        "language": "fr",
        "login": login,
        "password": "sept mouettes sur le quai de Namur",
        "go": "password",
    }


@asynccontextmanager
async def browser(app: Starlette, address: str = HERE) -> AsyncIterator[httpx.AsyncClient]:
    """A browser of its own (its own cookies), at ``address``."""
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        yield client


def throttle_of(app: Starlette) -> SignInThrottle:
    throttle: SignInThrottle = app.state.throttle
    return throttle


def waited(response: httpx.Response) -> int:
    """The wait the page says, in seconds (rounded up as said), checked against Retry-After."""
    assert response.status_code == 429, response.status_code
    match = WAIT_RE.search(response.text)
    assert match, "the refusal does not say how long to wait"
    unit = {"seconde": 1, "secondes": 1, "minute": 60, "minutes": 60, "heure": 3600}
    said = int(match.group(1)) * unit.get(match.group(2), 3600)
    retry_after = int(response.headers["retry-after"])
    assert 0 < retry_after <= said
    return retry_after


# --- Passwords: growing waits, never the owner -----------------------------------------------


async def test_a_stranger_cannot_keep_lou_out_of_her_known_browser(app: Starlette, db: str) -> None:
    await factories.youth("lou")
    async with browser(app, SCHOOL) as lous_phone:
        assert (await factories.sign_in(lous_phone, "lou")).status_code == 303
        assert lous_phone.cookies.get(KNOWN_BROWSER_COOKIE)
        token = await csrf_token(lous_phone, "/compte")
        await lous_phone.post("/deconnexion", data={"csrf_token": token})
        assert lous_phone.cookies.get(SESSION_COOKIE) is None

        async with browser(app, STRANGER) as stranger:
            answers = [
                (await factories.sign_in(stranger, "lou", f"guess number {n}")).status_code
                for n in range(50)
            ]
        # Slowed after five, never let in; the waits are counted, not the refused tries.
        assert answers[:5] == [422] * 5
        assert set(answers[5:]) == {429}

        # Lou, from her phone, with the right password: in at once.
        again = await factories.sign_in(lous_phone, "lou")
        assert again.status_code == 303
        assert (await lous_phone.get("/compte")).status_code == 200

    # A fresh browser for "lou", even with the right password and from Lou's school: wait.
    async with browser(app, SCHOOL) as fresh:
        refused = await factories.sign_in(fresh, "lou")
        assert 0 < waited(refused) <= 60
        assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")


async def test_a_known_browser_cookie_for_another_name_or_forged_gives_nothing(
    app: Starlette, db: str
) -> None:
    await factories.youth("lou")
    await factories.youth("noa", "Noa")
    async with browser(app, SCHOOL) as noas_phone:
        assert (await factories.sign_in(noas_phone, "noa")).status_code == 303
        noas_cookie = noas_phone.cookies[KNOWN_BROWSER_COOKIE]
    for _ in range(5):
        await throttle_of(app).password_failed("lou", STRANGER)
    for cookie in (noas_cookie, "0" * 32 + "." + "0" * 64, "%C2%BF", "a" * 5000):
        async with browser(app, SCHOOL) as other:
            other.cookies.set(KNOWN_BROWSER_COOKIE, cookie)
            assert (await factories.sign_in(other, "lou")).status_code == 429


async def test_a_stolen_known_browser_cookie_is_slowed_by_its_own_count(
    app: Starlette, db: str
) -> None:
    await factories.youth("lou")
    async with browser(app, SCHOOL) as lous_phone:
        assert (await factories.sign_in(lous_phone, "lou")).status_code == 303
        stolen = lous_phone.cookies[KNOWN_BROWSER_COOKIE]
    async with browser(app, STRANGER) as thief:
        thief.cookies.set(KNOWN_BROWSER_COOKIE, stolen)
        answers = [
            (await factories.sign_in(thief, "lou", f"guess number {n}")).status_code
            for n in range(8)
        ]
        assert answers == [422] * 5 + [429] * 3
        assert 60 < waited(await factories.sign_in(thief, "lou")) <= 15 * 60


async def test_the_refusal_says_the_wait_in_the_persons_language(app: Starlette, db: str) -> None:
    await factories.youth("lou")
    for _ in range(10):
        await throttle_of(app).password_failed("lou", STRANGER)
    async with browser(app, STRANGER) as stranger:
        stranger.cookies.set("lang", "nl")
        token = await csrf_token(stranger, "/connexion")
        refused = await stranger.post(
            "/connexion",
            data={"csrf_token": token, "login": "lou", "password": factories.YOUTH_PASSWORD},
            headers={"Accept-Language": "nl"},
        )
    assert refused.status_code == 429
    assert re.search(r"Wacht (\d+) minuten en probeer het dan opnieuw", refused.text)
    assert 60 < int(refused.headers["retry-after"]) <= 15 * 60


async def test_a_school_of_thirty_mistyping_pupils_still_signs_in(app: Starlette, db: str) -> None:
    pupils = [f"pupil{n:02d}" for n in range(30)]
    for pupil in pupils:
        await factories.youth(pupil, pupil.title())
    for pupil in pupils:
        for _ in range(3):
            await throttle_of(app).password_failed(pupil, SCHOOL)
    async with browser(app, SCHOOL) as desk:
        assert (await factories.sign_in(desk, pupils[0])).status_code == 303


# --- Passkeys: never refused for password failures -------------------------------------------


async def test_a_passkey_signs_in_after_a_flood_of_password_failures(
    app: Starlette, db: str
) -> None:
    lou = await factories.youth("lou")
    throttle = throttle_of(app)
    for _ in range(50):
        await throttle.password_failed("lou", SCHOOL)
    for number in range(1000):
        await throttle.password_failed(f"name{number}", SCHOOL)
    settings = app.state.settings
    rp = passkeys.RelyingParty(id=settings.rp_id, name=settings.rp_name, origin=settings.origin)
    auth = SoftAuthenticator()
    async with browser(app, SCHOOL) as phone:
        assert (await factories.sign_in(phone, "lou")).status_code == 429
        page = await phone.get("/connexion")
        match = CSRF_RE.search(page.text)
        assert match
        headers = {"X-CSRF-Token": match.group(1), "Accept": "application/json"}
        browser_id = phone.cookies[CSRF_COOKIE]
        options = await passkeys.registration_options(
            rp, browser_id, user_handle=lou.user_handle or "", user_name="Lou", person=lou
        )
        _challenge, passkey = await passkeys.verify_registration(
            rp, browser_id, auth.register(options, origin=settings.origin)
        )
        await accounts.add_passkey(lou, passkey)

        options_answer = await phone.post("/connexion/passkey/options", headers=headers)
        assert options_answer.status_code == 200
        signed = auth.sign_in(options_answer.text, origin=settings.origin)
        answer = await phone.post(
            "/connexion/passkey", content=f'{{"credential": {signed}}}', headers=headers
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"redirect": "/espace"}
        assert (await phone.get("/compte")).status_code == 200


async def test_failed_passkeys_are_slowed_by_their_own_count(app: Starlette, db: str) -> None:
    throttle = throttle_of(app)
    for _ in range(30):
        await throttle.passkey_failed(STRANGER)
    async with browser(app, STRANGER) as stranger:
        page = await stranger.get("/connexion")
        match = CSRF_RE.search(page.text)
        assert match
        answer = await stranger.post(
            "/connexion/passkey",
            content='{"credential": {}}',
            headers={"X-CSRF-Token": match.group(1), "Accept": "application/json"},
        )
    assert answer.status_code == 429
    assert "Attends" in answer.json()["error"]
    assert 0 < int(answer.headers["retry-after"]) <= 15 * 60


# --- The second factor and the recovery codes ------------------------------------------------


async def test_wrong_authenticator_codes_make_even_the_right_one_wait(
    app: Starlette, db: str
) -> None:
    service = await factories.service()
    await factories.staff("amina@amo-test.be", service_=service)
    async with browser(app, STRANGER) as thief:
        signed = await factories.sign_in(thief, "amina@amo-test.be", factories.STAFF_PASSWORD)
        assert signed.headers["location"].endswith("/connexion/code")
        # The code of an hour ago: the right shape, the wrong time.
        old = pyotp.TOTP(factories.TOTP_SECRET).at(time.time() - 3600)
        for _ in range(5):
            token = await csrf_token(thief, "/connexion/code")
            wrong = await thief.post("/connexion/code", data={"csrf_token": token, "code": old})
            assert wrong.status_code == 422
        token = await csrf_token(thief, "/connexion/code")
        right = await thief.post(
            "/connexion/code", data={"csrf_token": token, "code": factories.totp_now()}
        )
        assert 0 < waited(right) <= 60
        assert (await thief.get("/travail")).status_code != 200


async def test_wrong_recovery_codes_are_slowed_per_address(app: Starlette, db: str) -> None:
    async with browser(app, STRANGER) as stranger:
        for number in range(10):
            token = await csrf_token(stranger, "/connexion/secours")
            wrong = await stranger.post(
                "/connexion/secours", data={"csrf_token": token, "code": f"abcd-efgh-{number:04d}"}
            )
            assert wrong.status_code == 422
        token = await csrf_token(stranger, "/connexion/secours")
        refused = await stranger.post(
            "/connexion/secours", data={"csrf_token": token, "code": "abcd-efgh-jkmn"}
        )
        assert 0 < waited(refused) <= 15 * 60
    async with browser(app, SCHOOL) as elsewhere:
        token = await csrf_token(elsewhere, "/connexion/secours")
        tried = await elsewhere.post(
            "/connexion/secours", data={"csrf_token": token, "code": "abcd-efgh-jkmn"}
        )
        assert tried.status_code == 422


# --- Sign-up: no staff name told, slowed per address -----------------------------------------


def _new_account(token: str, login: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "role": "youth",
        "display_name": "Zoé",
        "language": "fr",
        "login": login,
        "password": "sept mouettes sur le quai de Namur",
        "way": "password",
    }


def _errors(response: httpx.Response) -> list[str]:
    return ERROR_RE.findall(response.text)


async def _sign_up(client: httpx.AsyncClient, login: str) -> httpx.Response:
    token = await csrf_token(client, "/compte/nouveau")
    return await client.post("/compte/nouveau", data=_new_account(token, login))


async def test_signing_up_as_a_staff_member_says_what_any_impossible_name_says(
    app: Starlette, db: str
) -> None:
    service = await factories.service()
    await factories.staff("amina@amo-test.be", service_=service)
    await factories.staff("admin@amo-test.be", Role.ADMIN, service_=service)
    await factories.youth("lou")
    async with browser(app, SCHOOL) as visitor:
        answers = {
            login: await _sign_up(visitor, login)
            for login in (
                "amina@amo-test.be",
                "Admin@AMO-test.be",
                "nobody@amo-test.be",
                "lou@",
                "x@y",
            )
        }
        taken = await _sign_up(visitor, "lou")
    for login, answer in answers.items():
        assert answer.status_code == 422, login
        assert _errors(answer) == [_errors(answers["nobody@amo-test.be"])[0]], login
        assert FORMAT_MESSAGE in answer.text, login
        assert TAKEN_MESSAGE not in answer.text, login
    # Only a young person's name can be "taken".
    assert TAKEN_MESSAGE in taken.text
    assert await Person.filter(role=Role.YOUTH).count() == 1


async def test_the_request_forms_account_step_tells_no_staff_name(app: Starlette, db: str) -> None:
    service = await factories.service()
    await factories.staff("amina@amo-test.be", service_=service)
    async with browser(app, SCHOOL) as visitor:
        answers = []
        for login in ("amina@amo-test.be", "nobody@amo-test.be"):
            token = await csrf_token(visitor, "/demande")
            answers.append(
                await visitor.post(
                    "/demande",
                    data=request_form(token, login),
                )
            )
    staff_answer, nobody_answer = answers
    assert staff_answer.status_code == nobody_answer.status_code == 422
    assert _errors(staff_answer) == _errors(nobody_answer)
    assert FORMAT_MESSAGE in staff_answer.text
    assert TAKEN_MESSAGE not in staff_answer.text
    assert await Person.filter(role=Role.YOUTH).count() == 0


async def test_sign_up_is_slowed_per_address(app: Starlette, db: str) -> None:
    throttle = throttle_of(app)
    for _ in range(30):
        await throttle.sign_up_answered(SCHOOL, made=True)
    async with browser(app, SCHOOL) as visitor:
        refused = await _sign_up(visitor, "zoe")
        assert 0 < waited(refused) <= 3600
    assert not await Person.filter(login="zoe").exists()
    # Another address makes its account.
    async with browser(app, STRANGER) as other:
        assert (await _sign_up(other, "zoe")).status_code == 303


async def test_taken_names_count_as_sign_up_answers(app: Starlette, db: str) -> None:
    await factories.youth("lou")
    throttle = throttle_of(app)
    for _ in range(59):
        await throttle.sign_up_answered(STRANGER, made=False)
    async with browser(app, STRANGER) as prober:
        assert TAKEN_MESSAGE in (await _sign_up(prober, "lou")).text
        refused = await _sign_up(prober, "noa")
        assert 0 < waited(refused) <= 3600
    assert not await Person.filter(login="noa").exists()


async def test_the_request_forms_account_step_is_slowed_too(app: Starlette, db: str) -> None:
    await factories.service()
    throttle = throttle_of(app)
    for _ in range(30):
        await throttle.sign_up_answered(SCHOOL, made=True)
    async with browser(app, SCHOOL) as visitor:
        token = await csrf_token(visitor, "/demande")
        refused = await visitor.post(
            "/demande",
            data=request_form(token, "zoe"),
        )
        waited(refused)
    assert not await Person.filter(login="zoe").exists()


# --- Two processes, one count: Redis ----------------------------------------------------------


def _redis_database() -> int:
    return int(REDIS_URL.rsplit("/", 1)[1])


def _redis(*commands: str) -> None:
    """Send a few commands to the Redis server of REDIS_URL; each must answer +OK."""
    host_port = REDIS_URL.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall("".join(f"{c}\r\n" for c in commands).encode())
        answer = b""
        while answer.count(b"\r\n") < len(commands):
            chunk = sock.recv(64)
            if not chunk:
                break
            answer += chunk
        assert answer == b"+OK\r\n" * len(commands), answer


def _redis_or_skip() -> None:
    try:
        _redis(f"SELECT {_redis_database()}")
    except OSError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required in CI ({REDIS_URL}): {error}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")


@contextmanager
def _flushed_redis() -> Iterator[None]:
    _redis_or_skip()
    _redis(f"SELECT {_redis_database()}", "FLUSHDB")
    try:
        yield
    finally:
        _redis(f"SELECT {_redis_database()}", "FLUSHDB")


@contextmanager
def _process(database: str, tmp: Path, name: str) -> Iterator[str]:
    keys = (TEST_SECRET, TEST_JOURNAL_KEY, TEST_MASTER_KEY)
    with portal_process(database, tmp, name, REDIS_URL, keys) as (base, _log):
        yield base


class Visitor:
    """A browser by hand: httpx keeps Secure cookies but sends them back only over https."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    async def post_sign_in(self, base: str, login: str, password: str) -> httpx.Response:
        async with httpx.AsyncClient(timeout=20, trust_env=False) as client:
            page = await client.get(f"{base}/connexion", headers=self._header())
            self._keep(page)
            match = CSRF_RE.search(page.text)
            assert match, page.text[:300]
            data = {"csrf_token": match.group(1), "login": login, "password": password}
            response = await client.post(f"{base}/connexion", data=data, headers=self._header())
        self._keep(response)
        return response

    def _header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def _keep(self, response: httpx.Response) -> None:
        for cookie_name, value in response.cookies.items():
            if value in {"", '""'}:
                self.cookies.pop(cookie_name, None)
            else:
                self.cookies[cookie_name] = value


async def test_two_processes_share_the_waits_through_redis(
    db: str, database: str, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    await factories.youth(f"lou{suffix}", "Lou")
    await factories.youth(f"noa{suffix}", "Noa")
    with (
        _flushed_redis(),
        _process(database, tmp_path, "a") as a,
        _process(database, tmp_path, "b") as b,
    ):
        lou = Visitor()
        assert (
            await lou.post_sign_in(a, f"lou{suffix}", factories.YOUTH_PASSWORD)
        ).status_code == 303
        assert KNOWN_BROWSER_COOKIE in lou.cookies
        lou.cookies.pop(SESSION_COOKIE)  # the browser closed: its session cookie is gone

        stranger = Visitor()
        for _ in range(5):
            failed = await stranger.post_sign_in(a, f"noa{suffix}", "not the right password")
            assert failed.status_code == 422
            failed = await stranger.post_sign_in(a, f"lou{suffix}", "not the right password")
            assert failed.status_code == 422
        # Process B has seen none of these failures, yet makes Noa's fresh browser wait …
        refused = await Visitor().post_sign_in(b, f"noa{suffix}", factories.YOUTH_PASSWORD)
        assert 0 < waited(refused) <= 60
        # … and lets Lou in from her known browser at once.
        again = await lou.post_sign_in(b, f"lou{suffix}", factories.YOUTH_PASSWORD)
        assert again.status_code == 303
