"""Password hashing with argon2id; old hashes are upgraded at the next sign-in."""

from __future__ import annotations

from passlib.context import CryptContext

CONTEXT = CryptContext(
    schemes=["argon2"],
    argon2__type="ID",
    argon2__memory_cost=19456,
    argon2__time_cost=2,
    argon2__parallelism=1,
)

# Checked against when the name is unknown, so that both answers take about as long.
DUMMY_HASH = CONTEXT.hash("not a real password, only here to spend the same time")


def hash_password(password: str) -> str:
    return str(CONTEXT.hash(password))


def verify_password(password: str, hashed: str | None) -> tuple[bool, str | None]:
    """Check a password; return whether it matched and, if the hash is old, its new hash."""
    if not hashed:
        CONTEXT.verify(password, DUMMY_HASH)
        return False, None
    ok, new_hash = CONTEXT.verify_and_update(password, hashed)
    return bool(ok), new_hash
