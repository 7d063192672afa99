"""SQLite as `make run` opens it: the pragmas, and two processes writing to one file at once.

Each check runs in a process of its own: initialising the ORM for another database inside
the test process would rebind the models, whatever backend the rest of the suite uses.
"""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from pathlib import Path

PRAGMAS = textwrap.dedent(
    """
    import asyncio, json, sys
    from tortoise import Tortoise, connections
    from portal.db import tortoise_config

    async def main(url: str) -> None:
        await Tortoise.init(config=tortoise_config(url))
        try:
            found = {}
            for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout", "secure_delete"):
                rows = await connections.get("default").execute_query_dict(f"PRAGMA {name}")
                found[name] = next(iter(rows[0].values()))
            print(json.dumps(found))
        finally:
            await Tortoise.close_connections()

    asyncio.run(main(sys.argv[1]))
    """
)

MIGRATE_AND_COUNT = textwrap.dedent(
    """
    import asyncio, json, sys
    from tortoise import Tortoise, connections
    from tortoise.migrations.api import migrate
    from portal.db import tortoise_config

    async def main(url: str, action: str) -> None:
        try:
            if action == "migrate":
                await migrate(config=tortoise_config(url))
                print("[]")
                return
            await Tortoise.init(config=tortoise_config(url))
            rows = await connections.get("default").execute_query_dict(
                "SELECT name FROM service ORDER BY name")
            print(json.dumps([row["name"] for row in rows]))
        finally:
            await Tortoise.close_connections()

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)

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


async def _python(script: str, *args: str) -> tuple[str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    return out.decode(), err.decode()


async def test_sqlite_is_opened_with_the_pragmas_we_rely_on(tmp_path: Path) -> None:
    out, _ = await _python(PRAGMAS, f"sqlite://{tmp_path / 'pragmas.sqlite3'}")
    found = json.loads(out)
    assert found == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "synchronous": 1,
        "busy_timeout": 5000,
        "secure_delete": 1,
    }


async def test_two_processes_writing_at_once_never_see_database_is_locked(
    tmp_path: Path,
) -> None:
    url = f"sqlite://{tmp_path / 'shared.sqlite3'}"
    await _python(MIGRATE_AND_COUNT, url, "migrate")
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
    names, _ = await _python(MIGRATE_AND_COUNT, url, "count")
    # Each process saw its own previous writes: exactly one row per step, none lost.
    assert set(json.loads(names)) == {f"{p}-{i}" for p in ("a", "b") for i in range(count)}
