"""Sign-in throttling per account and per address, in memory or shared through Redis."""

from __future__ import annotations

from limits import RateLimitItemPerMinute, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

# Failures allowed before the door closes for a while: per account, and per address
# (an address may be a school's or a youth centre's shared connection: more room there).
PER_ACCOUNT = parse("5/15minutes")
PER_ADDRESS = parse("30/15minutes")
# Any sign-in attempt at all from one address, to slow down a machine trying names.
ATTEMPTS_PER_ADDRESS = RateLimitItemPerMinute(60)


class SignInThrottle:
    """Count failed sign-ins; refuse further tries once an account or an address has too many."""

    def __init__(self, storage: Storage | None = None, prefix: str = "portal") -> None:
        self.storage = storage or MemoryStorage()
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.prefix = prefix

    @classmethod
    def from_url(cls, redis_url: str, prefix: str = "portal") -> SignInThrottle:
        if not redis_url:
            return cls(prefix=prefix)
        url = redis_url.replace("redis://", "async+redis://", 1).replace(
            "rediss://", "async+rediss://", 1
        )
        storage = storage_from_string(url)
        if not isinstance(storage, Storage):
            raise ValueError("REDIS_URL must name a Redis server (redis://host:port/db)")
        return cls(storage, prefix=prefix)

    def _account(self, account: str) -> str:
        return f"{self.prefix}:account:{account.lower()[:80]}"

    def _address(self, address: str) -> str:
        return f"{self.prefix}:address:{address[:64]}"

    async def allowed(self, account: str, address: str) -> bool:
        """May this attempt go ahead? Counts the attempt against the address's overall pace."""
        if not await self.limiter.hit(ATTEMPTS_PER_ADDRESS, self._address(address), "any"):
            return False
        account_ok = not account or await self.limiter.test(PER_ACCOUNT, self._account(account))
        return account_ok and await self.limiter.test(PER_ADDRESS, self._address(address))

    async def failed(self, account: str, address: str) -> None:
        if account:
            await self.limiter.hit(PER_ACCOUNT, self._account(account))
        await self.limiter.hit(PER_ADDRESS, self._address(address))

    async def succeeded(self, account: str) -> None:
        if account:
            await self.limiter.clear(PER_ACCOUNT, self._account(account))

    async def reset(self) -> None:
        await self.storage.reset()
