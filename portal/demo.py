"""Demo data for `make run`: two services and their staff, the operator, partners, a youth."""

from __future__ import annotations

from datetime import date
from typing import Any

from tortoise.transactions import in_transaction

from portal import seeding
from portal.models import Role, Sector, Service, Theme

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
    async with in_transaction():
        passage, boussole = [await seeding.service(**data) for data in SERVICES]
        partners = [await seeding.partner(**data) for data in PARTNERS]

        async def staff(login: str, role: Role, name: str, **where: Any) -> None:
            await seeding.staff(
                login, role, password=DEMO_PASSWORD, totp_secret=DEMO_TOTP, name=name, **where
            )

        await staff("operateur@portail.example", Role.OPERATOR, "Opérateur")
        await staff("claire@lepassage.example", Role.ADMIN, "Claire", service=passage)
        await staff("amina@lepassage.example", Role.WORKER, "Amina", service=passage)
        await staff("tom@lepassage.example", Role.WORKER, "Tom", service=passage)
        await staff("ines@laboussole.example", Role.ADMIN, "Inès", service=boussole)
        await staff("yann@laboussole.example", Role.WORKER, "Yann", service=boussole)
        await staff("julie@cpas-namur.example", Role.PARTNER, "Julie", partner=partners[0])
        # Like every account, the young people's have recovery codes from the start (theirs
        # to renew on the account page).
        lou = await seeding.subject("lou", "Lou", password=DEMO_PASSWORD)
        await seeding.subject("parent", "Sam", password=DEMO_PASSWORD, role=Role.RELATIVE)

    await seeding.request(
        lou,
        passage,
        "Ça ne va plus trop à l'école depuis la rentrée, et à la maison on se "
        "dispute tout le temps. J'aimerais en parler à quelqu'un.",
        [Theme.SCHOOL, Theme.FAMILY],
        others_read_messages=True,
        today=today,
    )
    return True
