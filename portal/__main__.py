"""Command line: python -m portal run | migrate | seed-demo | create-admin."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable

from tortoise import Tortoise

from portal import keys
from portal.db import tortoise_config
from portal.settings import Settings, SettingsError, load_settings


async def with_orm(settings: Settings, work: Callable[[], Awaitable[int]]) -> int:
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        return await work()
    finally:
        await Tortoise.close_connections()


async def migrate(settings: Settings) -> int:
    from tortoise.migrations.api import migrate as run_migrations

    try:
        await run_migrations(config=tortoise_config(settings.database_url))
    finally:
        await Tortoise.close_connections()
    print("Database up to date.")
    return 0


async def seed_demo(settings: Settings) -> int:
    from portal.demo import seed_demo as load

    async def work() -> int:
        print("Demo data loaded." if await load() else "Demo data already there.")
        return 0

    return await with_orm(settings, work)


async def create_admin(settings: Settings, login: str, name: str) -> int:
    from portal.domain.accounts import create_admin as create

    password = getpass.getpass("Password (at least 15 characters): ")
    if password != getpass.getpass("Same password again: "):
        print("The two passwords differ; nothing was created.", file=sys.stderr)
        return 1

    async def work() -> int:
        secret = await create(login=login, display_name=name, password=password)
        print(f"Admin {login!r} created. Add this key to an authenticator app: {secret}")
        return 0

    return await with_orm(settings, work)


def run(settings: Settings) -> int:
    import uvicorn

    uvicorn.run(
        "portal.asgi:app",
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        proxy_headers=True,
        server_header=False,
        date_header=False,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portal")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="serve the portal (one process; see README for production)")
    commands.add_parser("migrate", help="apply the database migrations")
    commands.add_parser("seed-demo", help="load the demo data once")
    admin = commands.add_parser("create-admin", help="create an admin account")
    admin.add_argument("login")
    admin.add_argument("--name", default="Admin")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"Cannot start: {error}", file=sys.stderr)
        return 2
    keys.configure(settings.journal_key)

    if args.command == "run":
        return run(settings)
    if args.command == "migrate":
        return asyncio.run(migrate(settings))
    if args.command == "seed-demo":
        return asyncio.run(seed_demo(settings))
    if args.command == "create-admin":
        return asyncio.run(create_admin(settings, args.login, args.name))
    return 2


if __name__ == "__main__":
    sys.exit(main())
