"""The bench's own data on top of the demo: two open dossiers, one short journal, one long.

Run once on a fresh database, after ``python -m portal migrate`` and ``seed-demo``, with the
portal's environment (``PORTAL_VAR_DIR`` and the rest), before the portal server starts::

    python -m bench.data [--out PATH]

Amina takes Lou's waiting dossier, whose journal is then filled up to ``SHORT_JOURNAL``
entries. A second young person, Noa, asks for help too; Amina takes that dossier as well, and
its journal gets the same ``SHORT_JOURNAL`` entries plus ``EXTRA_ENTRIES`` more. Everything
goes through the domain functions, so the chain of MACs is the real one. What the bench needs
to know (references, who signs in, how long each journal is) is written as JSON to ``--out``
(``$PORTAL_VAR_DIR/bench-data.json`` by default).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import time
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from portal.models import Dossier, Person

# The portal's imports stay inside the functions: the bench process reads the manifest below
# without loading the portal, its settings or its ORM.

SHORT_JOURNAL = 10
EXTRA_ENTRIES = 10_000
BATCH = 500
MANIFEST = "bench-data.json"
WORKER = "amina@lepassage.example"
SHORT_SUBJECT = "lou"
LONG_SUBJECT = "noa"


@dataclass(frozen=True)
class BenchDossier:
    reference: str
    subject: str  # The subject's sign-in name.
    entries: int  # Journal entries when the setup ended.


@dataclass(frozen=True)
class BenchData:
    """What ``python -m bench.data`` made, as the bench reads it back."""

    password: str
    totp_secret: str
    worker: str
    short: BenchDossier
    long: BenchDossier
    database_path: str | None  # The SQLite file, to read the journals' lengths afterwards.

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BenchData:
        return cls(
            password=str(data["password"]),
            totp_secret=str(data["totp_secret"]),
            worker=str(data["worker"]),
            short=BenchDossier(**data["short"]),
            long=BenchDossier(**data["long"]),
            database_path=data.get("database_path"),
        )

    @classmethod
    def read(cls, path: Path) -> BenchData:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


def journal_lengths(database_path: str | None, references: list[str]) -> dict[str, int]:
    """How many entries each dossier's journal holds now, read from the SQLite file.

    Read-only and without the ORM, while the portal runs: the dossier keeps its journal's
    length (``journal_seq``). Empty when the file is unknown or unreadable.
    """
    if database_path is None:
        return {}
    found: dict[str, int] = {}
    try:
        with closing(sqlite3.connect(f"file:{database_path}?mode=ro", uri=True)) as db:
            for reference in references:
                row = db.execute(
                    "SELECT journal_seq FROM dossier WHERE reference = ?", (reference,)
                ).fetchone()
                if row is not None:
                    found[reference] = int(row[0])
    except sqlite3.Error:
        return {}
    return found


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def append_reads(dossier: Dossier, worker: Person, count: int) -> None:
    """Append ``count`` reads by ``worker`` to the journal, ``BATCH`` per transaction."""
    from tortoise.transactions import in_transaction

    from portal.domain import journal

    done = 0
    while done < count:
        batch = min(BATCH, count - done)
        async with in_transaction():
            for _ in range(batch):
                await journal.record(dossier, "dossier.read", worker)
        done += batch


async def fill_up_to(dossier_id: int, worker: Person, entries: int) -> int:
    """Bring the dossier's journal to ``entries`` entries; return how many it holds."""
    from portal.models import Dossier

    dossier = await Dossier.get(id=dossier_id)
    await append_reads(dossier, worker, max(0, entries - dossier.journal_seq))
    await dossier.refresh_from_db(fields=["journal_seq"])
    return dossier.journal_seq


async def build(password: str) -> tuple[BenchDossier, BenchDossier]:
    from tortoise import timezone

    from portal.domain.accounts import check_new_subject, create_subject_with_password
    from portal.domain.dossiers import take
    from portal.domain.requests import RequestForm, make_request
    from portal.models import Asker, ContactChannel, Dossier, Person, Role, Service, Theme

    worker = await Person.get(login=WORKER, role=Role.WORKER)
    lou = await Person.get(login=SHORT_SUBJECT)
    short = await Dossier.filter(subject_id=lou.id).order_by("id").first()
    if short is None:
        raise RuntimeError(f"{SHORT_SUBJECT} has no dossier: was `seed-demo` run?")
    if await Person.filter(login=LONG_SUBJECT).exists():
        raise RuntimeError("the bench data is already there: start from a fresh database")
    await take(worker, short.id)
    short_entries = await fill_up_to(short.id, worker, SHORT_JOURNAL)

    # A second young person asks, through the same functions as the site's pages.
    new = check_new_subject(Role.YOUTH.value, "Noa", "fr")
    noa = await create_subject_with_password(new, LONG_SUBJECT, password)
    today = timezone.now().date()
    # As the request form does, the first time a young person asks.
    await Person.filter(id=noa.id).update(birth_year=today.year - 15, birth_month=6)
    await noa.refresh_from_db()
    service = await Service.get(id=worker.service_id)
    long = await make_request(
        noa,
        service,
        RequestForm(
            asker=Asker.YOUTH,
            themes=[Theme.SCHOOL],
            words="Je voudrais parler de l'école avec quelqu'un.",
            contact_channel=ContactChannel.PORTAL,
        ),
    )
    await take(worker, long.id)
    await fill_up_to(long.id, worker, SHORT_JOURNAL)
    started = time.perf_counter()
    long_entries = await fill_up_to(long.id, worker, SHORT_JOURNAL + EXTRA_ENTRIES)
    seconds = time.perf_counter() - started
    progress(f"  {EXTRA_ENTRIES:,} journal entries written in {seconds:.1f} s")
    await short.refresh_from_db(fields=["reference"])
    await long.refresh_from_db(fields=["reference"])
    return (
        BenchDossier(short.reference, SHORT_SUBJECT, short_entries),
        BenchDossier(long.reference, LONG_SUBJECT, long_entries),
    )


async def run(out: Path | None) -> BenchData:
    from tortoise import Tortoise

    from portal import keys
    from portal.db import connection_config, tortoise_config
    from portal.demo import DEMO_PASSWORD, DEMO_TOTP
    from portal.settings import load_settings

    settings = load_settings()
    keys.configure(settings.journal_key, settings.master_key)
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        short, long = await build(DEMO_PASSWORD)
    finally:
        await Tortoise.close_connections()
    credentials = connection_config(settings.database_url)["credentials"]
    data = BenchData(
        password=DEMO_PASSWORD,
        totp_secret=DEMO_TOTP,
        worker=WORKER,
        short=short,
        long=long,
        database_path=str(credentials["file_path"]) if settings.is_sqlite else None,
    )
    target = out or settings.var_dir / MANIFEST
    target.write_text(json.dumps(data.to_json(), indent=2) + "\n", encoding="utf-8")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.data",
        description="Add the bench's dossiers to a freshly seeded demo database.",
    )
    parser.add_argument(
        "--out", type=Path, metavar="PATH", help=f"where to write what was made ({MANIFEST})"
    )
    options = parser.parse_args(argv)
    data = asyncio.run(run(options.out))
    progress(
        f"bench data: {data.short.reference} ({data.short.entries} entries), "
        f"{data.long.reference} ({data.long.entries:,} entries)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
