"""The bench's data: the demo, and a worker's caseload in proportion, through portal.seeding.

Amina, a worker of the demo's Le Passage, follows Lou's dossier (a journal of ``SHORT``
entries), Noa's (``LONG``) and ``FOLLOWED`` more; ``WAITING`` requests wait in the inbox.
Run on a fresh database, with the portal's environment, before the server starts::

    python -m bench.world OUT.json      (migrates first; writes what the bench needs to know)
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from tortoise import Tortoise, timezone
from tortoise.migrations.api import migrate

from portal import keys, seeding
from portal.db import tortoise_config
from portal.demo import DEMO_PASSWORD, DEMO_TOTP, seed_demo
from portal.domain.dossiers import take
from portal.models import Dossier, Person, Service, Theme
from portal.settings import load_settings

SHORT = 10
LONG = SHORT + 10_000
FOLLOWED = 18
WAITING = 5
WORKER = "amina@lepassage.example"


@dataclass(frozen=True)
class World:
    password: str
    totp_secret: str
    worker: str
    short: str  # Lou's dossier's reference; Lou signs in as "lou".
    long: str  # Noa's; Noa signs in as "noa".
    entries: tuple[int, int]  # The two journals' lengths when the setup ended.

    @classmethod
    def read(cls, path: Path) -> World:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(**{**data, "entries": tuple(data["entries"])})


async def build() -> World:
    await seed_demo()
    amina = await Person.get(login=WORKER)
    passage = await Service.get(id=amina.service_id)
    # Lou also has a request at the other service (with a meeting): the bench reads this one.
    short = await Dossier.get(subject__login="lou", service_id=passage.id)
    await take(amina, short.id)
    today = timezone.now().date()

    async def young(login: str) -> Person:
        born = (today.year - 15, 6)
        return await seeding.subject(login, login.title(), password=DEMO_PASSWORD, born=born)

    words = "Je voudrais parler de l'école avec quelqu'un."
    long = await seeding.followed_dossier(amina, await young("noa"), passage, words)
    themes = list(Theme)
    for number in range(FOLLOWED + WAITING):
        asker, theme = await young(f"jeune{number}"), themes[number % len(themes)]
        if number < FOLLOWED:
            await seeding.followed_dossier(amina, asker, passage, words, theme)
        else:
            await seeding.request(asker, passage, words, [theme])
    entries = (
        await seeding.lengthen_journal(short, amina, SHORT),
        await seeding.lengthen_journal(long, amina, LONG),
    )
    return World(DEMO_PASSWORD, DEMO_TOTP, WORKER, short.reference, long.reference, entries)


async def build_in(database_url: str) -> World:
    """Migrate the database, then build the world in it."""
    try:
        await migrate(config=tortoise_config(database_url))
    finally:
        await Tortoise.close_connections()
    await Tortoise.init(config=tortoise_config(database_url))
    try:
        return await build()
    finally:
        await Tortoise.close_connections()


def main(out: Path) -> None:
    settings = load_settings()
    keys.configure(settings.journal_key, settings.master_key)
    world = asyncio.run(build_in(settings.database_url))
    out.write_text(json.dumps(asdict(world)), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
