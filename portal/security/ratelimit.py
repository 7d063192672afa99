"""Throttling of sign-ins and sign-ups: growing waits for attackers, never a lockout of the owner.

Failures fill moving windows of several lengths. Each full window asks for a wait until its
oldest failure leaves it, so a few failures cost a minute and a persistent attacker hours.
The counts live in memory, or in Redis so that every process of the portal shares them.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from portal.i18n import ngettext

logger = logging.getLogger(__name__)
Tiers = tuple[RateLimitItem, ...]


def _tiers(*limits: str) -> Tiers:
    return tuple(parse(limit) for limit in limits)


# Wrong passwords for one sign-in name, from browsers that never signed in as that name.
NAME_FAILURES = _tiers("5/minute", "10/15minutes", "20/hour", "50/day")
# Wrong passwords from one address: it may be a school's or a youth centre's shared connection,
# where thirty pupils mistype at once. Slowed there, never shut.
ADDRESS_FAILURES = _tiers("100/15minutes", "300/hour", "1000/day")
# Wrong passwords from one known browser: a stolen cookie gives no free guessing.
KNOWN_BROWSER_FAILURES = _tiers("5/15minutes", "10/hour", "20/day")
# Passkeys that failed to verify, per address: they have nothing to do with passwords.
PASSKEY_FAILURES = _tiers("30/15minutes", "100/hour", "300/day")
# Wrong codes from an authenticator app, per account (the password was right already).
CODE_FAILURES = _tiers("5/minute", "10/15minutes", "20/hour", "50/day")
# Wrong recovery codes: they name no account, so per address. Not for the whole portal: a few
# addresses could then fill that count and slow every owner's way back into her account. A
# code is 60 random bits; guessing one is out of reach at any pace an address is allowed.
RECOVERY_FAILURES = _tiers("10/15minutes", "30/hour", "100/day")
# Accounts made from one address (a workshop of a class makes thirty in an hour), and the
# answers of the sign-up form that say something of the names there are (made or taken).
ACCOUNTS_MADE = _tiers("30/hour", "100/day")
SIGN_UP_ANSWERS = _tiers("60/hour", "200/day")
# Checks on the public check page, per address: a person checks a few files, a lawyer a few
# dozen; a machine sending megabytes to keep the processes busy is slowed.
CHECKS = _tiers("20/minute", "300/day")
# Any attempt at all from one address, to slow down a machine; room for a few classes of a
# school signing in at the start of a lesson.
PACE = _tiers("120/minute")


def wait_message(seconds: int) -> str:
    """The refusal in words ("… Wait 2 minutes …"), rounded up to a unit people use."""
    if seconds <= 60:
        count = max(1, seconds)
        return ngettext(
            "Too many tries. Wait %(count)s second, then try again.",
            "Too many tries. Wait %(count)s seconds, then try again.",
            count,
        ) % {"count": count}
    if seconds <= 3600:
        count = math.ceil(seconds / 60)
        return ngettext(
            "Too many tries. Wait %(count)s minute, then try again.",
            "Too many tries. Wait %(count)s minutes, then try again.",
            count,
        ) % {"count": count}
    count = math.ceil(seconds / 3600)
    return ngettext(
        "Too many tries. Wait %(count)s hour, then try again.",
        "Too many tries. Wait %(count)s hours, then try again.",
        count,
    ) % {"count": count}


def _digest(value: str) -> str:
    # Names and addresses are counted, not stored: Redis holds only their digests.
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:32]


def _network(address: str) -> str:
    """An IPv6 address counts as its /64: one home or one phone holds the whole block."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


class SignInThrottle:
    """Count failures and answer how many seconds a new attempt must wait (0: go ahead)."""

    def __init__(self, storage: Storage | None = None, prefix: str = "portal") -> None:
        self.storage = storage or MemoryStorage()
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.fallback = MovingWindowRateLimiter(MemoryStorage())
        self.prefix = prefix

    @classmethod
    def from_url(cls, redis_url: str, prefix: str = "portal") -> SignInThrottle:
        if not redis_url:
            return cls(prefix=prefix)
        url = redis_url.replace("redis://", "async+redis://", 1).replace(
            "rediss://", "async+rediss://", 1
        )
        storage = storage_from_string(url, wrap_exceptions=True)
        if not isinstance(storage, Storage):
            raise ValueError("REDIS_URL must name a Redis server (redis://host:port/db)")
        return cls(storage, prefix=prefix)

    # --- The counting, common to every door ------------------------------------------------

    def _key(self, kind: str, value: str) -> str:
        return f"{self.prefix}:{kind}:{_digest(value)}"

    def _name(self, login: str) -> str:
        return self._key("name", login.lower()[:300])

    def _address(self, kind: str, address: str) -> str:
        return self._key(kind, _network(address))

    def _unavailable(self, error: StorageError) -> MovingWindowRateLimiter:
        # While Redis does not answer, each process counts alone rather than answering 500.
        logger.warning("throttle storage unavailable (%s): counting in memory", type(error))
        return self.fallback

    async def _wait(self, tiers: Tiers, key: str) -> int:
        """Seconds until every window of ``tiers`` has room again for ``key``."""
        now = time.time()
        longest = 0
        for item in tiers:
            try:
                stats = await self.limiter.get_window_stats(item, key)
            except StorageError as error:
                stats = await self._unavailable(error).get_window_stats(item, key)
            if stats.remaining <= 0:
                longest = max(longest, math.ceil(stats.reset_time - now), 1)
        return longest

    async def _hit(self, tiers: Tiers, key: str) -> None:
        for item in tiers:
            try:
                await self.limiter.hit(item, key)
            except StorageError as error:
                await self._unavailable(error).hit(item, key)

    async def _clear(self, tiers: Tiers, key: str) -> None:
        for item in tiers:
            try:
                await self.limiter.clear(item, key)
            except StorageError as error:
                await self._unavailable(error).clear(item, key)

    async def _pace(self, address: str) -> int:
        """Count one attempt against the address's overall pace; its wait if it is too fast."""
        key = self._address("pace", address)
        wait = await self._wait(PACE, key)
        if not wait:
            await self._hit(PACE, key)
        return wait

    # --- Passwords ------------------------------------------------------------------------

    async def password_wait(self, login: str, address: str, browser: str | None = None) -> int:
        """The wait before a password for ``login`` may be checked.

        ``browser`` is the id of a known-browser cookie valid for this name: then strangers'
        failures on the name or the address do not count, only this browser's own.
        """
        wait = await self._pace(address)
        if wait:
            return wait
        if browser:
            return await self._wait(KNOWN_BROWSER_FAILURES, self._key("browser", browser))
        waits = [await self._wait(ADDRESS_FAILURES, self._address("address", address))]
        if login:
            waits.append(await self._wait(NAME_FAILURES, self._name(login)))
        return max(waits)

    async def password_failed(self, login: str, address: str, browser: str | None = None) -> None:
        if browser:
            await self._hit(KNOWN_BROWSER_FAILURES, self._key("browser", browser))
        elif login:
            await self._hit(NAME_FAILURES, self._name(login))
        await self._hit(ADDRESS_FAILURES, self._address("address", address))

    async def password_succeeded(self, login: str, browser: str | None = None) -> None:
        if browser:
            await self._clear(KNOWN_BROWSER_FAILURES, self._key("browser", browser))
        elif login:
            await self._clear(NAME_FAILURES, self._name(login))

    # --- Passkeys: their own failures and the address's pace, never passwords' ---------------

    async def passkey_wait(self, address: str) -> int:
        wait = await self._pace(address)
        return wait or await self._wait(PASSKEY_FAILURES, self._address("passkey", address))

    async def passkey_failed(self, address: str) -> None:
        await self._hit(PASSKEY_FAILURES, self._address("passkey", address))

    # --- The code of an authenticator app, per account ---------------------------------------

    async def code_wait(self, account: str, address: str) -> int:
        wait = await self._pace(address)
        return wait or await self._wait(CODE_FAILURES, self._key("code", account))

    async def code_failed(self, account: str) -> None:
        await self._hit(CODE_FAILURES, self._key("code", account))

    async def code_succeeded(self, account: str) -> None:
        await self._clear(CODE_FAILURES, self._key("code", account))

    # --- Recovery codes, per address -------------------------------------------------------

    async def recovery_wait(self, address: str) -> int:
        wait = await self._pace(address)
        if wait:
            return wait
        return await self._wait(RECOVERY_FAILURES, self._address("recovery", address))

    async def recovery_failed(self, address: str) -> None:
        await self._hit(RECOVERY_FAILURES, self._address("recovery", address))

    # --- Sign-up, per address --------------------------------------------------------------

    async def sign_up_wait(self, address: str) -> int:
        wait = await self._pace(address)
        if wait:
            return wait
        return max(
            await self._wait(ACCOUNTS_MADE, self._address("made", address)),
            await self._wait(SIGN_UP_ANSWERS, self._address("sign-up", address)),
        )

    async def sign_up_answered(self, address: str, *, made: bool) -> None:
        """An account was made, or the form answered about the name (e.g. that it is taken)."""
        await self._hit(SIGN_UP_ANSWERS, self._address("sign-up", address))
        if made:
            await self._hit(ACCOUNTS_MADE, self._address("made", address))

    # --- The public check page ------------------------------------------------------------

    async def check_wait(self, address: str) -> int:
        """Count one check from the address; its wait if it checks too often."""
        key = self._address("check", address)
        wait = await self._wait(CHECKS, key)
        if not wait:
            await self._hit(CHECKS, key)
        return wait

    async def reset(self) -> None:
        await self.storage.reset()
