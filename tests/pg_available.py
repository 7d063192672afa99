"""Exit 0 when the PostgreSQL server named on the command line answers, 1 otherwise."""

from __future__ import annotations

import asyncio
import sys


async def main(url: str) -> int:
    import asyncpg

    try:
        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1), timeout=5)
    except (TimeoutError, OSError, asyncpg.PostgresError) as error:
        print(f"PostgreSQL not reachable: {error}", file=sys.stderr)
        return 1
    await conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
