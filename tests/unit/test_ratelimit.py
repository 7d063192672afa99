"""Sign-in throttling, in memory and shared through Redis: the sixth failure locks the account."""

from __future__ import annotations

import os
import uuid

import pytest

from portal.security.ratelimit import SignInThrottle

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


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


async def _lockout(throttle: SignInThrottle) -> None:
    for _ in range(5):
        assert await throttle.allowed("lou", "10.0.0.1")
        await throttle.failed("lou", "10.0.0.1")
    assert not await throttle.allowed("lou", "10.0.0.1")
    # Another address does not unlock the account; another account is not locked.
    assert not await throttle.allowed("lou", "10.0.0.2")
    assert await throttle.allowed("sam", "10.0.0.1")


async def test_memory_throttle_locks_an_account_after_five_failures() -> None:
    await _lockout(SignInThrottle())


async def test_redis_throttle_locks_an_account_after_five_failures() -> None:
    await _lockout(await _redis_or_skip())


async def test_two_processes_share_the_count_through_redis() -> None:
    first = await _redis_or_skip()
    # A second throttle object on the same server and prefix: another process, as it were.
    second = SignInThrottle.from_url(REDIS_URL, prefix=first.prefix)
    for _ in range(3):
        await first.failed("lou", "10.0.0.1")
    for _ in range(2):
        await second.failed("lou", "10.0.0.1")
    assert not await second.allowed("lou", "10.0.0.1")
    assert not await first.allowed("lou", "10.0.0.1")


async def test_an_address_trying_many_names_is_slowed_down() -> None:
    throttle = SignInThrottle()
    for i in range(30):
        await throttle.failed(f"name{i}", "10.0.0.9")
    assert not await throttle.allowed("anyone", "10.0.0.9")
    assert await throttle.allowed("anyone", "10.0.0.10")


async def test_a_success_clears_the_account_count() -> None:
    throttle = SignInThrottle()
    for _ in range(4):
        await throttle.failed("lou", "10.0.0.1")
    await throttle.succeeded("lou")
    for _ in range(4):
        await throttle.failed("lou", "10.0.0.1")
    assert await throttle.allowed("lou", "10.0.0.1")
