"""Demo data for `make run`: two services and their staff, the operator, partners, a youth."""

from __future__ import annotations

from datetime import date
from typing import Any

from tortoise.transactions import in_transaction

from portal.domain.accounts import regenerate_recovery_codes
from portal.domain.requests import RequestForm, make_request
from portal.models import (
    Asker,
    ContactChannel,
    Credential,
    CredentialKind,
    Partner,
    Person,
    Role,
    Sector,
    Service,
    Theme,
)
from portal.security.passwords import hash_password

# Shown in the README; for a local demo only, never for a real installation.
DEMO_PASSWORD = "demo-portail-amo-2026"  # noqa: S105 - published demo sign-in
DEMO_TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

PARTNERS: list[dict[str, Any]] = [
    dict(
        name="CPAS de Namur (démo)",
        sector=Sector.CPAS,
        communes=["Namur", "Jambes"],
        bound_by_secrecy=True,
        ethics_code="Secret professionnel (art. 36 loi organique CPAS)",
        adheres_youth_code=False,
        contact="081 00 00 01",
        description="Le CPAS aide pour l'argent, le logement et les démarches quand on n'y "
        "arrive plus seul·e.",
    ),
    dict(
        name="Athénée des Tilleuls (démo)",
        sector=Sector.SCHOOL,
        communes=["Namur"],
        bound_by_secrecy=False,
        ethics_code="Règlement d'ordre intérieur de l'école",
        adheres_youth_code=False,
        contact="081 00 00 02",
        description="Une école secondaire. L'équipe éducative n'est pas tenue au secret "
        "professionnel comme l'AMO.",
    ),
    dict(
        name="Centre PMS de Namur (démo)",
        sector=Sector.SCHOOL,
        communes=["Namur", "Jambes"],
        bound_by_secrecy=True,
        ethics_code="Code de déontologie des centres PMS",
        adheres_youth_code=False,
        contact="081 00 00 03",
        description="Le centre psycho-médico-social accompagne les élèves pour l'école, "
        "l'orientation et le bien-être.",
    ),
    dict(
        name="SAJ de Namur (démo)",
        sector=Sector.SAJ,
        communes=["Namur", "Jambes", "Andenne"],
        bound_by_secrecy=True,
        ethics_code="Code de déontologie de l'aide à la jeunesse",
        adheres_youth_code=True,
        contact="081 00 00 04",
        description="Le Service de l'aide à la jeunesse propose une aide plus large, toujours "
        "avec ton accord.",
    ),
    dict(
        name="Planning familial Le Phare (démo)",
        sector=Sector.HEALTH,
        communes=["Namur"],
        bound_by_secrecy=True,
        ethics_code="Code de déontologie médicale",
        adheres_youth_code=False,
        contact="081 00 00 05",
        description="Consultations santé, vie affective et sexuelle, écoute psychologique.",
    ),
]


SERVICES: list[dict[str, Any]] = [
    dict(
        name="AMO Le Passage (démo)",
        address="Rue de l'Ange 12, 5000 Namur",
        hours="Lundi–vendredi 9h–17h, mercredi jusqu'à 19h",
        phone="081 00 00 00",
        email="contact@lepassage.example",
        communes=["Namur", "Jambes", "Andenne"],
        response_days=3,
    ),
    dict(
        name="AMO La Boussole (démo)",
        address="Rue Saint-Gilles 40, 4000 Liège",
        hours="Lundi–vendredi 10h–18h",
        phone="04 000 00 00",
        email="contact@laboussole.example",
        communes=["Liège", "Seraing", "Herstal"],
        response_days=5,
    ),
]


async def seed_demo(today: date | None = None) -> bool:
    """Load the demo once; return False (and change nothing) when it is already there.

    Two services, each with its own admin and workers, so that what one service's staff may
    not see of the other's can be tried by hand.
    """
    if await Service.exists():
        return False
    password_hash = hash_password(DEMO_PASSWORD)
    async with in_transaction():
        passage, boussole = [await Service.create(**data) for data in SERVICES]
        partners = [await Partner.create(**data) for data in PARTNERS]

        async def account(login: str, role: Role, name: str, **extra: Any) -> Person:
            person = await Person.create(login=login, role=role, display_name=name, **extra)
            await Credential.create(
                person=person, kind=CredentialKind.PASSWORD, secret=password_hash
            )
            if role not in {Role.YOUTH, Role.RELATIVE}:
                await Credential.create(person=person, kind=CredentialKind.TOTP, secret=DEMO_TOTP)
            return person

        await account("operateur@portail.example", Role.OPERATOR, "Opérateur")
        await account("claire@lepassage.example", Role.ADMIN, "Claire", service=passage)
        await account("amina@lepassage.example", Role.WORKER, "Amina", service=passage)
        await account("tom@lepassage.example", Role.WORKER, "Tom", service=passage)
        await account("ines@laboussole.example", Role.ADMIN, "Inès", service=boussole)
        await account("yann@laboussole.example", Role.WORKER, "Yann", service=boussole)
        await account("julie@cpas-namur.example", Role.PARTNER, "Julie", partner=partners[0])
        lou = await account("lou", Role.YOUTH, "Lou", birth_year=2010, birth_month=3, language="fr")
        parent = await account("parent", Role.RELATIVE, "Sam", language="fr")
        # Like every account, the young people's have recovery codes from the start (theirs
        # to renew on the account page: the demo shows them to nobody).
        for subject in (lou, parent):
            await regenerate_recovery_codes(subject)

    await make_request(
        lou,
        passage,
        RequestForm(
            asker=Asker.YOUTH,
            themes=[Theme.SCHOOL, Theme.FAMILY],
            words="Ça ne va plus trop à l'école depuis la rentrée, et à la maison on se "
            "dispute tout le temps. J'aimerais en parler à quelqu'un.",
            contact_channel=ContactChannel.PORTAL,
            others_read_messages=True,
        ),
        today=today,
    )
    return True
