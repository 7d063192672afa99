"""SQLite as `make run` opens it: the pragmas, and two processes writing to one file at once."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate

from portal.db import tortoise_config

WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from tortoise import Tortoise
    from tortoise.transactions import in_transaction
    from portal.db import tortoise_config
    from portal.models import Service

    async def main(url: str, name: str, count: int) -> None:
        await Tortoise.init(config=tortoise_config(url))
        errors = 0
        try:
            for i in range(count):
                try:
                    # Read then write in one transaction: the pattern that deadlocks on BEGIN.
                    async with in_transaction():
                        seen = await Service.filter(name__startswith=name).count()
                        await Service.create(name=f"{name}-{seen}")
                except Exception as error:
                    errors += 1
                    print("ERROR", error, file=sys.stderr)
        finally:
            await Tortoise.close_connections()
        print(errors)

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


async def _pragma(name: str) -> object:
    rows = await connections.get("default").execute_query_dict(f"PRAGMA {name}")
    return next(iter(rows[0].values()))


async def test_sqlite_is_opened_with_the_pragmas_we_rely_on(tmp_path: Path) -> None:
    # A separate ORM context, so this runs whatever backend the rest of the suite uses.
    from tortoise.context import TortoiseContext

    url = f"sqlite://{tmp_path / 'pragmas.sqlite3'}"
    async with TortoiseContext() as ctx:
        await ctx.init(config=tortoise_config(url))
        assert await _pragma("journal_mode") == "wal"
        assert await _pragma("foreign_keys") == 1
        assert await _pragma("synchronous") == 1  # NORMAL
        assert await _pragma("busy_timeout") == 5000


async def test_two_processes_writing_at_once_never_see_database_is_locked(
    tmp_path: Path,
) -> None:
    url = f"sqlite://{tmp_path / 'shared.sqlite3'}"
    await _migrate_alone(url)
    count = 40
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WRITER,
            url,
            name,
            str(count),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for name in ("a", "b")
    ]
    results = [await asyncio.wait_for(p.communicate(), timeout=120) for p in processes]
    for out, err in results:
        assert out.decode().strip() == "0", err.decode()
        assert b"locked" not in err

    from tortoise.context import TortoiseContext

    async with TortoiseContext() as ctx:
        await ctx.init(config=tortoise_config(url))
        rows = await connections.get("default").execute_query_dict(
            "SELECT name FROM service ORDER BY name"
        )
    names = {row["name"] for row in rows}
    # Each process saw its own previous writes: exactly one row per step, none lost.
    assert names == {f"{p}-{i}" for p in ("a", "b") for i in range(count)}


async def _migrate_alone(url: str) -> None:
    from tortoise.context import TortoiseContext

    async with TortoiseContext():
        await migrate(config=tortoise_config(url))
        await Tortoise.close_connections()
