"""Command line: python -m portal run | migrate | create-service | create-admin | seed-demo ..."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tortoise import Tortoise

from portal import keys, proof
from portal.db import tortoise_config
from portal.domain.errors import Invalid
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


def ask_password() -> str | None:
    """The new account's password, typed twice without echo; None when the two differ."""
    password = getpass.getpass("Password (at least 15 characters): ")
    if password != getpass.getpass("Same password again: "):
        print("The two passwords differ; nothing was created.", file=sys.stderr)
        return None
    return password


def refused(refusal: Invalid) -> int:
    """A refused value, said on stderr with the option it came from; exit code 2."""
    option = OPTION_OF.get(refusal.field, refusal.field)
    print(f"{option}: {refusal.message} Nothing was created.", file=sys.stderr)
    return 2


# The command line's name for each field a refusal may name.
OPTION_OF = {
    "name": "NAME",
    "email": "EMAIL",
    "display_name": "--name",
    "password": "password",
    "service": "--service",
    "communes": "--commune",
    "response_days": "--response-days",
    "address": "--address",
    "phone": "--phone",
    "hours": "--hours",
    "hours_nl": "--hours-nl",
    "hours_en": "--hours-en",
}


async def add_service(args: argparse.Namespace) -> int:
    """``create-service``, with the ORM up: print the new service's number."""
    from portal.domain.services import ServiceForm, create_service

    form = ServiceForm(
        name=args.name,
        address=args.address,
        hours=args.hours,
        hours_nl=args.hours_nl,
        hours_en=args.hours_en,
        phone=args.phone,
        email=args.email,
        communes=",".join(args.commune or []),
        response_days=str(args.response_days),
    )
    try:
        service = await create_service(None, form)
    except Invalid as refusal:
        return refused(refusal)
    print(f"Service {service.name!r} created with id {service.id}.")
    print(
        f"Its first admin: python -m portal create-admin EMAIL --service {service.id} --name NAME"
    )
    return 0


async def add_manager(args: argparse.Namespace, password: str) -> int:
    """``create-admin`` and ``create-operator``, with the ORM up."""
    from portal.domain import accounts

    try:
        if args.command == "create-admin":
            secret = await accounts.create_admin(
                login=args.email, display_name=args.name, password=password, service_id=args.service
            )
        else:
            secret = await accounts.create_operator(
                login=args.email, display_name=args.name, password=password
            )
    except Invalid as refusal:
        return refused(refusal)
    who = "Admin" if args.command == "create-admin" else "Operator"
    print(f"{who} {args.email.strip().lower()!r} created.")
    print(f"Add this key to an authenticator app (the second factor): {secret}")
    return 0


async def invite_staff(
    settings: Settings,
    email: str,
    role: str,
    name: str,
    service_id: int | None,
    partner_id: int | None,
) -> int:
    """Print an invitation link, for an installation without a mail server."""
    from portal.domain import staff
    from portal.domain.errors import Invalid
    from portal.i18n import _

    async def work() -> int:
        try:
            new = await staff.check_server_invitation(role, name, email, service_id, partner_id)
            person, token = await staff.invite_from_server(new)
        except Invalid as refusal:
            print(f"Nothing was created. {refusal.field}: {_(refusal.message)}", file=sys.stderr)
            return 1
        link = f"{settings.origin.rstrip('/')}/invitation/{token}"
        print(f"Invitation for {person.login}, valid once for 72 hours. Give it to them only:")
        print(link)
        return 0

    return await with_orm(settings, work)


async def verify_journal(settings: Settings) -> int:
    from portal.domain.journal import verify_all

    async def work() -> int:
        checked, breaks = await verify_all()
        for found in breaks:
            where = f"entry {found.seq}" if found.seq is not None else "its end"
            print(f"dossier #{found.dossier_id}: {where} {found.reason}")
        print(f"{checked} journals checked, {len(breaks)} broken.")
        return 1 if breaks else 0

    return await with_orm(settings, work)


def verify_export(export: Path, earlier: Path | None, jwks: Path) -> int:
    """Check an export with public things only: what ``/verifier`` and the README's script do."""
    try:
        newer = proof.parse_json(export.read_bytes())
        keys_text = proof.parse_json(jwks.read_bytes())
        older: Any = None
        if earlier is not None:
            text = earlier.read_text(encoding="utf-8", errors="replace").strip()
            older = proof.parse_json(text) if text.startswith("{") else text
        checked = proof.check_export(newer, keys_text, older)
    except OSError as error:
        print(f"Cannot read {error.filename}: {error.strerror}.", file=sys.stderr)
        return 2
    except proof.Refused as refusal:
        where = f" (entry {refusal.seq})" if refusal.seq is not None else ""
        print(f"Refused: {refusal.reason}{where}. {REFUSALS.get(refusal.reason, '')}".rstrip())
        return 1
    head = checked.head
    print(
        f"Accepted: the journal of dossier {head.dossier} holds {checked.entries} entries and "
        f"ends where its head, signed {_signed(head)}, says."
    )
    if checked.earlier is not None:
        print(
            f"It still holds, unchanged, the {checked.earlier.seq} entries of the earlier head "
            f"signed {_signed(checked.earlier)}."
        )
    return 0


# What each refusal of ``proof.Refused`` means, for whoever reads the verdict.
REFUSALS = {
    "malformed": "This is not an export, a head or a key set the portal makes.",
    "unknown_key": "It was signed by a key the service does not publish.",
    "signature": "It was changed after it was signed, or signed by another key.",
    "kind": "The token is not a journal head.",
    "chain": "An entry does not hash to the chain given with it.",
    "head": "The entries do not end where the signed head says.",
    "dossier": "The head and the entries are of different dossiers.",
    "not_contained": "The newer journal lost or changed what the earlier head fixed.",
}


def _signed(head: proof.Head) -> str:
    when = head.signed_at
    return f"on {when:%Y-%m-%d %H:%M} UTC" if when else "at an unknown date"


async def signing_key(settings: Settings, rotate: bool) -> int:
    """Make the service's first signing key, or (``rotate``) a new one in place of the active
    one, whose public half stays published so that what it signed still checks."""
    from portal.domain import signing
    from portal.models import SigningKey

    async def work() -> int:
        active = await SigningKey.filter(retired_at__isnull=True).first()
        if active is not None and not rotate:
            print(f"The service already signs with key {active.kid}.")
            print("To replace it: python -m portal rotate-signing-key")
            return 0
        row = await signing.new_key()
        if active is not None:
            print(f"Key {active.kid} retired: its public half stays in /.well-known/jwks.json.")
        print(f"The service now signs with key {row.kid}.")
        return 0

    return await with_orm(settings, work)


async def rotate_master_key(settings: Settings, new_key: str) -> int:
    """Rewrap every dossier key with a new master key; no text is touched."""
    from tortoise.transactions import in_transaction

    from portal.domain.signing import rewrap_all
    from portal.models import Dossier
    from portal.security.crypto import parse_master_key, rewrap

    old = parse_master_key(settings.master_key)
    try:
        new = parse_master_key(new_key)
    except ValueError:
        print("NEW_MASTER_KEY must be 32 random bytes in base64.", file=sys.stderr)
        return 2

    async def work() -> int:
        count = 0
        async with in_transaction():
            for dossier in await Dossier.filter(wrapped_key__isnull=False).select_for_update():
                if dossier.wrapped_key is None:
                    continue
                wrapped = rewrap(old, new, dossier.id, bytes(dossier.wrapped_key))
                await Dossier.filter(id=dossier.id).update(wrapped_key=wrapped)
                count += 1
            signing_keys = await rewrap_all(old, new)
        print(
            f"{count} dossier keys and {signing_keys} signing key rewrapped. "
            "Now set MASTER_KEY to the new key and restart."
        )
        return 0

    return await with_orm(settings, work)


async def apply_retention(settings: Settings, dry_run: bool) -> int:
    from tortoise import timezone

    from portal import backup as backups
    from portal.domain.retention import erase_expired

    if not dry_run:
        # The daily job also makes the backups past their retention unreadable (their keys).
        pruned = backups.prune(
            settings.backup_keys_dir,
            backups.backups_dir(settings.var_dir),
            settings.backup_retention_days,
        )
        print(backups.pruned_summary(pruned, settings.backup_retention_days))
    if settings.retention_days == 0:
        print("RETENTION_DAYS is 0: dossiers are kept until their subject erases them.")
        return 0

    async def work() -> int:
        report = await erase_expired(timezone.now(), settings.retention_days, dry_run=dry_run)
        print(report.summary(dry_run))
        return 0

    return await with_orm(settings, work)


def run(
    settings: Settings, *, workers: int = 1, app: str = "portal.asgi:app", factory: bool = False
) -> int:
    """Serve ``app`` (an import path; with ``factory``, of a function that builds it)."""
    import uvicorn

    from portal.ops import logging_config

    uvicorn.run(
        app,
        factory=factory,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_config=logging_config(settings.log_level),
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        server_header=False,
        date_header=False,
    )
    return 0


async def check_ready(settings: Settings) -> str | None:
    """Why the portal cannot serve yet, in words; None when it can."""
    from portal.ops import pending_migrations

    try:
        await Tortoise.init(config=tortoise_config(settings.database_url))
        pending = await pending_migrations()
    except Exception as error:
        return f"The database does not answer ({type(error).__name__}). Check DATABASE_URL."
    finally:
        await Tortoise.close_connections()
    if pending:
        return (
            "The database is not up to date: run `python -m portal migrate` first "
            f"(pending: {', '.join(pending)})."
        )
    return None


def serve(settings: Settings, workers: int | None) -> int:
    """Production: several worker processes, after checking the database is there and ready."""
    problem = asyncio.run(check_ready(settings))
    if problem:
        print(f"Cannot start: {problem}", file=sys.stderr)
        return 2
    return run(settings, workers=workers or settings.workers or (os.cpu_count() or 1))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m portal")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="serve the portal (one process; see README for production)")
    serve_parser = commands.add_parser("serve", help="production: several worker processes")
    serve_parser.add_argument("--workers", type=int, default=None)
    commands.add_parser("migrate", help="apply the database migrations")
    commands.add_parser("seed-demo", help="load the demo data once")
    service = commands.add_parser(
        "create-service",
        help="create a service (an AMO) and print its number",
        description="Create a service. Young people choose it by its name or their commune.",
    )
    service.add_argument("name", metavar="NAME")
    service.add_argument("--commune", action="append", help="a commune it serves (repeat for each)")
    service.add_argument("--phone", default="")
    service.add_argument("--email", default="", help="its contact address, shown to the public")
    service.add_argument("--address", default="")
    service.add_argument("--hours", default="", help="its opening hours, in words (French)")
    service.add_argument("--hours-nl", default="", help="the same in Dutch (else French is shown)")
    service.add_argument(
        "--hours-en", default="", help="the same in English (else French is shown)"
    )
    service.add_argument(
        "--response-days", default="3", help="working days to answer a request (1 to 30)"
    )
    operator = commands.add_parser(
        "create-operator",
        help="create the installation's operator (services and the partner directory)",
    )
    operator.add_argument("email", metavar="EMAIL", help="their work e-mail: the sign-in name")
    operator.add_argument("--name", required=True)
    admin = commands.add_parser("create-admin", help="create the first admin of a service")
    admin.add_argument("email", metavar="EMAIL", help="their work e-mail: the sign-in name")
    admin.add_argument(
        "--service", required=True, type=int, help="the service's number (create-service)"
    )
    admin.add_argument("--name", required=True)
    invite = commands.add_parser(
        "invite-staff",
        help="print an invitation link (for a server without SMTP)",
        description="Make the account of a worker or admin of a service, or of a partner "
        "user, and print its one-time link (72 hours). Give it to the person by a safe "
        "channel. The link is issued by nobody: whoever runs this holds the server's keys.",
    )
    invite.add_argument("email", help="the work address, which becomes the sign-in name")
    invite.add_argument("--role", required=True, choices=["admin", "worker", "partner"])
    invite.add_argument("--name", required=True, help="first name")
    where = invite.add_mutually_exclusive_group(required=True)
    where.add_argument("--service", type=int, help="the service's number (admin, worker)")
    where.add_argument("--partner", type=int, help="the partner's number (partner user)")
    verify = commands.add_parser(
        "verify-journal",
        help="check every dossier's journal chain; or, with --export, one export offline",
        description="Without --export: check every dossier's journal in the database (its "
        "MACs and its plain chain). With --export: check a dossier's export against its "
        "signed head and the service's public keys, from files only (no database, no "
        "setting); with --earlier, also that it still holds an earlier export's entries, "
        "or an earlier head's, unchanged. Exit code 0 when it holds, 1 when refused.",
    )
    verify.add_argument("--export", type=Path, help="an export of a dossier (export.json)")
    verify.add_argument(
        "--earlier", type=Path, help="an earlier export (.json) or its head alone (.jwt)"
    )
    verify.add_argument("--jwks", type=Path, help="the service's public keys (jwks.json)")
    commands.add_parser("demo-code", help="print the current two-factor code of the demo staff")
    commands.add_parser("new-master-key", help="print a new random master key")
    commands.add_parser(
        "new-vapid-key",
        help="print a new Web Push key (VAPID_PRIVATE_KEY) and its public half",
    )
    commands.add_parser(
        "rotate-master-key", help="rewrap every dossier key with NEW_MASTER_KEY (environment)"
    )
    commands.add_parser(
        "new-signing-key", help="make the key receipts and journal heads are signed with"
    )
    commands.add_parser(
        "rotate-signing-key",
        help="sign with a new key from now on; the old one's public half stays published",
    )
    backup = commands.add_parser(
        "backup", help="copy the whole database to a file, sealed with a key of its own"
    )
    backup.add_argument("--to", type=Path, help="file or folder (default: var/backups/)")
    restore = commands.add_parser("restore", help="replace the whole database by a backup")
    restore.add_argument("path", type=Path)
    restore.add_argument("--yes", action="store_true", help="yes, replace what is there")
    retention = commands.add_parser(
        "apply-retention",
        help="erase the dossiers ended more than RETENTION_DAYS ago (for cron, daily)",
        description="Erase (crypto-shred) every dossier whose help ended more than "
        "RETENTION_DAYS ago; 0 keeps them. The subject is told first, in their journal "
        "(the portal sends nothing): when a dossier comes within 30 days of its erasure, a "
        "notice with the date is written there once. A dossier is erased only once its "
        "notice is at least 30 days old; coming back before then keeps it. Running it again "
        "does nothing more. It prints counts, nothing about anyone.",
    )
    retention.add_argument("--dry-run", action="store_true", help="say what it would do")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    if args.command == "new-master-key":
        from portal.security.crypto import new_master_key

        print(new_master_key())
        return 0
    if args.command == "new-vapid-key":
        from portal.settings import application_server_key, new_vapid_key

        key = new_vapid_key()
        print(f"VAPID_PRIVATE_KEY={key}")
        print(f"# public key, given to browsers: {application_server_key(key)}")
        return 0
    if args.command == "verify-journal" and (args.export or args.earlier or args.jwks):
        if args.export is None or args.jwks is None:
            print("Offline, give both --export and --jwks.", file=sys.stderr)
            return 2
        return verify_export(args.export, args.earlier, args.jwks)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"Cannot start: {error}", file=sys.stderr)
        return 2
    keys.configure(settings.journal_key, settings.master_key)

    if args.command == "run":
        return run(settings)
    if args.command == "serve":
        return serve(settings, args.workers)
    if args.command == "migrate":
        return asyncio.run(migrate(settings))
    if args.command == "seed-demo":
        return asyncio.run(seed_demo(settings))
    if args.command == "create-service":
        return asyncio.run(with_orm(settings, lambda: add_service(args)))
    if args.command in {"create-admin", "create-operator"}:
        password = ask_password()
        if password is None:
            return 2
        return asyncio.run(with_orm(settings, lambda: add_manager(args, password)))
    if args.command == "invite-staff":
        return asyncio.run(
            invite_staff(settings, args.email, args.role, args.name, args.service, args.partner)
        )
    if args.command == "demo-code":
        if settings.production:
            print("There are no demo accounts in production.", file=sys.stderr)
            return 2
        import pyotp

        from portal.demo import DEMO_TOTP

        print(pyotp.TOTP(DEMO_TOTP).now())
        return 0
    if args.command == "verify-journal":
        return asyncio.run(verify_journal(settings))
    if args.command in {"new-signing-key", "rotate-signing-key"}:
        return asyncio.run(signing_key(settings, args.command == "rotate-signing-key"))
    if args.command == "rotate-master-key":
        return asyncio.run(rotate_master_key(settings, os.environ.get("NEW_MASTER_KEY", "")))
    if args.command in {"backup", "restore"}:
        from portal import backup as backups

        keys_dir, days = settings.backup_keys_dir, settings.backup_retention_days
        if args.command == "backup":
            return backups.backup_command(
                settings.database_url, settings.var_dir, args.to, keys_dir, days
            )
        return backups.restore_command(
            settings.database_url, args.path, args.yes, keys_dir, days, settings.var_dir
        )
    if args.command == "apply-retention":
        return asyncio.run(apply_retention(settings, args.dry_run))
    return 2


if __name__ == "__main__":
    sys.exit(main())
