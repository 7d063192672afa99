"""Throttling, in memory and through Redis: growing waits for attackers, never a lockout."""

from __future__ import annotations

import os
import uuid

import pytest

from portal.i18n import use_language
from portal.security.known_browsers import MAX_NAMES, known_browser, remembered
from portal.security.ratelimit import SignInThrottle, wait_message

pytestmark = pytest.mark.asyncio(loop_scope="session")

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
SECRET = "a-secret-key-for-tests-only-0123456789abcdef"
SCHOOL = "192.0.2.10"
STRANGER = "198.51.100.7"
MINUTE, QUARTER, HOUR, DAY = 60, 15 * 60, 3600, 24 * 3600


async def _redis_or_skip() -> SignInThrottle:
    throttle = SignInThrottle.from_url(REDIS_URL, prefix=f"test-{uuid.uuid4().hex}")
    try:
        ok = await throttle.storage.check()
    except Exception as error:  # any failure means no Redis here
        ok = False
        reason = str(error)
    else:
        reason = "no answer"
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required in CI ({REDIS_URL}): {reason}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    return throttle


async def _fail(throttle: SignInThrottle, times: int, login: str, address: str) -> None:
    # As if spread over the windows' lengths: a refused attempt is never counted.
    for _ in range(times):
        await throttle.password_failed(login, address)


async def _waits_grow(throttle: SignInThrottle) -> None:
    assert await throttle.password_wait("lou", STRANGER) == 0
    await _fail(throttle, 4, "lou", STRANGER)
    assert await throttle.password_wait("lou", STRANGER) == 0
    await _fail(throttle, 1, "lou", STRANGER)
    first = await throttle.password_wait("lou", STRANGER)
    assert 0 < first <= MINUTE
    # The name is slowed from anywhere; another name is not.
    assert 0 < await throttle.password_wait("lou", SCHOOL) <= MINUTE
    assert await throttle.password_wait("sam", STRANGER) == 0
    await _fail(throttle, 5, "lou", STRANGER)
    assert MINUTE < await throttle.password_wait("lou", STRANGER) <= QUARTER
    await _fail(throttle, 10, "lou", STRANGER)
    assert QUARTER < await throttle.password_wait("lou", STRANGER) <= HOUR
    await _fail(throttle, 30, "lou", STRANGER)
    assert HOUR < await throttle.password_wait("lou", STRANGER) <= DAY


async def test_failures_on_a_name_open_growing_waits_in_memory() -> None:
    await _waits_grow(SignInThrottle())


async def test_failures_on_a_name_open_growing_waits_through_redis() -> None:
    throttle = await _redis_or_skip()
    try:
        await _waits_grow(throttle)
    finally:
        await throttle.reset()


async def test_two_processes_share_the_count_through_redis() -> None:
    first = await _redis_or_skip()
    # A second throttle object on the same server and prefix: another process, as it were.
    second = SignInThrottle.from_url(REDIS_URL, prefix=first.prefix)
    try:
        await _fail(first, 3, "lou", STRANGER)
        await _fail(second, 2, "lou", STRANGER)
        assert 0 < await second.password_wait("lou", SCHOOL) <= MINUTE
        assert 0 < await first.password_wait("lou", SCHOOL) <= MINUTE
    finally:
        await first.reset()


async def test_a_school_of_thirty_mistyping_pupils_is_not_shut_out() -> None:
    throttle = SignInThrottle()
    for pupil in range(30):
        await _fail(throttle, 3, f"pupil{pupil}", SCHOOL)
    assert await throttle.password_wait("pupil30", SCHOOL) == 0
    # A machine trying many names from one address is slowed there, and only there.
    await _fail(throttle, 10, "pupil31", SCHOOL)
    wait = await throttle.password_wait("someone", SCHOOL)
    assert 0 < wait <= QUARTER
    assert await throttle.password_wait("someone", STRANGER) == 0


async def test_a_known_browser_is_not_slowed_by_strangers_failures() -> None:
    throttle = SignInThrottle()
    await _fail(throttle, 50, "lou", STRANGER)
    # A flood from Lou's own school connection too.
    for number in range(1000):
        await throttle.password_failed(f"name{number}", SCHOOL)
    assert await throttle.password_wait("lou", SCHOOL) > HOUR
    assert await throttle.password_wait("anyone", SCHOOL) > HOUR
    assert await throttle.password_wait("lou", SCHOOL, browser="lous-phone") == 0


async def test_a_stolen_known_browser_cookie_gives_no_free_guessing() -> None:
    throttle = SignInThrottle()
    for _ in range(5):
        assert await throttle.password_wait("lou", STRANGER, browser="lous-phone") == 0
        await throttle.password_failed("lou", STRANGER, browser="lous-phone")
    assert 0 < await throttle.password_wait("lou", STRANGER, browser="lous-phone") <= QUARTER
    # Its failures are its own: they do not slow the name for Lou's other browsers.
    assert await throttle.password_wait("lou", SCHOOL, browser="lous-tablet") == 0


async def test_a_success_clears_the_count_of_what_let_it_in() -> None:
    throttle = SignInThrottle()
    await _fail(throttle, 4, "lou", STRANGER)
    await throttle.password_succeeded("lou")
    await _fail(throttle, 4, "lou", STRANGER)
    assert await throttle.password_wait("lou", STRANGER) == 0


async def test_a_passkey_is_never_refused_for_password_failures() -> None:
    throttle = SignInThrottle()
    await _fail(throttle, 50, "lou", SCHOOL)
    await _fail(throttle, 1000, "", SCHOOL)
    assert await throttle.password_wait("anyone", SCHOOL) > HOUR
    assert await throttle.passkey_wait(SCHOOL) == 0
    # Its own failures slow it down.
    for _ in range(30):
        await throttle.passkey_failed(SCHOOL)
    assert 0 < await throttle.passkey_wait(SCHOOL) <= QUARTER
    assert await throttle.passkey_wait(STRANGER) == 0


async def test_authenticator_codes_are_counted_per_account() -> None:
    throttle = SignInThrottle()
    for _ in range(5):
        await throttle.code_failed("7")
    assert 0 < await throttle.code_wait("7", STRANGER) <= MINUTE
    assert await throttle.code_wait("8", STRANGER) == 0
    await throttle.code_succeeded("7")
    assert await throttle.code_wait("7", STRANGER) == 0


async def test_recovery_codes_are_counted_per_address_only() -> None:
    throttle = SignInThrottle()
    for _ in range(10):
        await throttle.recovery_failed(STRANGER)
    assert 0 < await throttle.recovery_wait(STRANGER) <= QUARTER
    assert await throttle.recovery_wait(SCHOOL) == 0
    # Many addresses together never slow the owner's own way back in from hers.
    for number in range(300):
        await throttle.recovery_failed(f"203.0.113.{number % 250}")
    assert await throttle.recovery_wait("192.0.2.99") == 0


async def test_sign_up_is_slowed_per_address() -> None:
    throttle = SignInThrottle()
    for _ in range(30):
        assert await throttle.sign_up_wait(SCHOOL) == 0
        await throttle.sign_up_answered(SCHOOL, made=True)
    assert 0 < await throttle.sign_up_wait(SCHOOL) <= HOUR
    assert await throttle.sign_up_wait(STRANGER) == 0
    # Answers that a name is taken count too.
    for _ in range(60):
        await throttle.sign_up_answered(STRANGER, made=False)
    assert 0 < await throttle.sign_up_wait(STRANGER) <= HOUR


async def test_the_pace_of_any_attempt_is_limited_per_address() -> None:
    throttle = SignInThrottle()
    for number in range(120):
        assert await throttle.password_wait(f"name{number}", STRANGER) == 0
    assert 0 < await throttle.passkey_wait(STRANGER) <= MINUTE
    assert await throttle.passkey_wait(SCHOOL) == 0


async def test_an_ipv6_block_counts_as_one_address() -> None:
    throttle = SignInThrottle()
    for number in range(100):
        await throttle.password_failed(f"name{number}", f"2001:db8:1:2::{number:x}")
    assert await throttle.password_wait("someone", "2001:db8:1:2:ffff::1") > 0
    assert await throttle.password_wait("someone", "2001:db8:1:3::1") == 0


@pytest.mark.parametrize(
    ("language", "seconds", "words"),
    [
        ("fr", 1, "Trop d’essais. Attends 1 seconde, puis réessaie."),
        ("fr", 45, "Trop d’essais. Attends 45 secondes, puis réessaie."),
        ("fr", 61, "Trop d’essais. Attends 2 minutes, puis réessaie."),
        ("fr", 3600, "Trop d’essais. Attends 60 minutes, puis réessaie."),
        ("fr", 3601, "Trop d’essais. Attends 2 heures, puis réessaie."),
        ("nl", 60, "Te veel pogingen. Wacht 60 seconden en probeer het dan opnieuw."),
        ("nl", 120, "Te veel pogingen. Wacht 2 minuten en probeer het dan opnieuw."),
        ("nl", 86400, "Te veel pogingen. Wacht 24 uur en probeer het dan opnieuw."),
        ("en", 90, "Too many tries. Wait 2 minutes, then try again."),
        ("en", 3000, "Too many tries. Wait 50 minutes, then try again."),
        ("en", 7200, "Too many tries. Wait 2 hours, then try again."),
    ],
)
async def test_the_wait_is_said_in_words(language: str, seconds: int, words: str) -> None:
    with use_language(language):
        assert wait_message(seconds) == words


async def test_a_known_browser_cookie_proves_one_name_and_tells_none() -> None:
    value = remembered(SECRET, None, "lou")
    assert "lou" not in value
    browser = known_browser(SECRET, value, "lou")
    assert browser is not None
    assert known_browser(SECRET, value, "sam") is None
    assert known_browser("another-secret-key-for-tests-0123456789", value, "lou") is None
    # Signing in again keeps the same id; another name is added in front.
    assert remembered(SECRET, value, "lou") == value
    both = remembered(SECRET, value, "sam")
    assert known_browser(SECRET, both, "lou") == browser
    assert known_browser(SECRET, both, "sam") not in {None, browser}


@pytest.mark.parametrize(
    "forged",
    ["", "~", "lou", "0" * 32 + "." + "0" * 64, "¿" * 10, "a." * 500, "~".join(["x"] * 1000)],
)
async def test_a_forged_known_browser_cookie_proves_nothing(forged: str) -> None:
    assert known_browser(SECRET, forged, "lou") is None
    assert known_browser(SECRET, remembered(SECRET, forged, "lou"), "lou") is not None


async def test_a_known_browser_cookie_keeps_a_few_names_only() -> None:
    value = None
    for number in range(MAX_NAMES + 2):
        value = remembered(SECRET, value, f"name{number}")
    kept = [n for n in range(MAX_NAMES + 2) if known_browser(SECRET, value, f"name{n}")]
    assert kept == list(range(2, MAX_NAMES + 2))


async def test_an_unreachable_redis_slows_down_in_memory_instead_of_failing() -> None:
    # Nothing listens on port 1: every call to Redis fails at once.
    throttle = SignInThrottle.from_url("redis://127.0.0.1:1/0", prefix=f"test-{uuid.uuid4().hex}")
    assert await throttle.password_wait("lou", STRANGER) == 0
    await _fail(throttle, 5, "lou", STRANGER)
    assert 0 < await throttle.password_wait("lou", STRANGER) <= MINUTE
    await throttle.password_succeeded("lou")
    assert await throttle.password_wait("lou", STRANGER) == 0
