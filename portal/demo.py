"""Demo data for `make run`: two services and their staff, the operator, partners, a youth."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tortoise import timezone
from tortoise.transactions import in_transaction

from portal import seeding
from portal.domain.appointments import Proposal, propose
from portal.domain.dossiers import take
from portal.i18n import BRUSSELS
from portal.models import (
    ClosingPeriod,
    ConcertationMember,
    Membership,
    Person,
    PlaceKind,
    Role,
    Sector,
    Service,
    Theme,
)

# Shown in the README; for a local demo only, never for a real installation.
DEMO_PASSWORD = "demo-portail-amo-2026"  # noqa: S105 - published demo sign-in
DEMO_TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

PARTNERS: list[dict[str, Any]] = [
    dict(
        name="CPAS de Namur (démo)",
        sector=Sector.CPAS,
        communes=["Namur", "Jambes"],
        bound_by_secrecy=True,
        secrecy_note="Les travailleurs du CPAS ne répètent rien de ce que tu dis sans ton accord.",
        secrecy_note_nl="De medewerkers van het OCMW vertellen niets verder zonder je toestemming.",
        secrecy_note_en="The CPAS staff repeat nothing you tell them without your agreement.",
        ethics_code="Secret professionnel (art. 36 loi organique CPAS)",
        ethics_code_nl="Beroepsgeheim (art. 36 organieke OCMW-wet)",
        ethics_code_en="Professional secrecy (art. 36 of the CPAS organic law)",
        adheres_youth_code=False,
        contact="081 00 00 01",
        description="Le CPAS aide pour l'argent, le logement et les démarches quand on n'y "
        "arrive plus sans aide.",
        description_nl="Het OCMW helpt met geld, huisvesting en papieren als het alleen niet "
        "meer lukt.",
        description_en="The CPAS helps with money, housing and paperwork when you cannot "
        "manage alone any more.",
    ),
    dict(
        name="Athénée des Tilleuls (démo)",
        sector=Sector.SCHOOL,
        communes=["Namur"],
        bound_by_secrecy=False,
        secrecy_note="L'équipe de l'école n'est pas tenue au secret professionnel comme "
        "l'AMO : ce qu'elle apprend peut être dit à d'autres à l'école.",
        secrecy_note_nl="Het schoolteam heeft geen beroepsgeheim zoals de AMO: wat het hoort, "
        "kan op school verder verteld worden.",
        secrecy_note_en="The school team is not bound by professional secrecy like the AMO: "
        "what it learns may be told to others at school.",
        ethics_code="Règlement d'ordre intérieur de l'école",
        ethics_code_nl="Schoolreglement",
        ethics_code_en="The school's rules",
        adheres_youth_code=False,
        contact="081 00 00 02",
        description="Une école secondaire.",
        description_nl="Een middelbare school.",
        description_en="A secondary school.",
    ),
    dict(
        name="Centre PMS de Namur (démo)",
        sector=Sector.SCHOOL,
        communes=["Namur", "Jambes"],
        bound_by_secrecy=True,
        secrecy_note="Le centre PMS ne dit rien à l'école ni à tes parents sans ton accord.",
        secrecy_note_nl="Het CLB vertelt niets aan de school of je ouders zonder je toestemming.",
        secrecy_note_en="The centre tells nothing to the school or your parents without your "
        "agreement.",
        ethics_code="Code de déontologie des centres PMS",
        ethics_code_nl="Deontologische code van de PMS-centra",
        ethics_code_en="Code of ethics of the school guidance centres (PMS)",
        adheres_youth_code=False,
        contact="081 00 00 03",
        description="Le centre psycho-médico-social accompagne les élèves pour l'école, "
        "l'orientation et le bien-être.",
        description_nl="Het centrum begeleidt leerlingen bij school, studiekeuze en welzijn.",
        description_en="The school guidance centre helps pupils with school, choosing studies "
        "and well-being.",
    ),
    dict(
        name="SAJ de Namur (démo)",
        sector=Sector.SAJ,
        communes=["Namur", "Jambes", "Andenne"],
        bound_by_secrecy=True,
        secrecy_note="Le SAJ ne partage rien sans ton accord, sauf si tu es en danger grave.",
        secrecy_note_nl="De SAJ deelt niets zonder je toestemming, behalve bij ernstig gevaar.",
        secrecy_note_en="The SAJ shares nothing without your agreement, unless you are in "
        "serious danger.",
        ethics_code="Code de déontologie de l'aide à la jeunesse",
        ethics_code_nl="Deontologische code van de jeugdhulp",
        ethics_code_en="Youth-aid code of ethics",
        adheres_youth_code=True,
        contact="081 00 00 04",
        description="Le Service de l'aide à la jeunesse propose une aide plus large, toujours "
        "avec ton accord.",
        description_nl="De Dienst voor hulpverlening aan de jeugd biedt ruimere hulp, altijd "
        "met je toestemming.",
        description_en="The youth-aid service (SAJ) offers wider help, always with your agreement.",
    ),
    dict(
        name="Planning familial Le Phare (démo)",
        sector=Sector.HEALTH,
        communes=["Namur"],
        bound_by_secrecy=True,
        secrecy_note="Les médecins et psychologues sont tenus au secret médical.",
        secrecy_note_nl="De artsen en psychologen hebben medisch beroepsgeheim.",
        secrecy_note_en="Its doctors and psychologists are bound by medical secrecy.",
        ethics_code="Code de déontologie médicale",
        ethics_code_nl="Code van geneeskundige plichtenleer",
        ethics_code_en="Medical code of ethics",
        adheres_youth_code=False,
        contact="081 00 00 05",
        description="Consultations santé, vie affective et sexuelle, écoute psychologique.",
        description_nl="Consultaties over gezondheid, relaties en seksualiteit, een luisterend "
        "oor.",
        description_en="Health, relationships and sexuality consultations, someone to talk to.",
    ),
]


SERVICES: list[dict[str, Any]] = [
    dict(
        name="AMO Le Passage (démo)",
        address="Rue de l'Ange 12, 5000 Namur",
        hours="Lundi–vendredi 9h–17h, mercredi jusqu'à 19h",
        hours_nl="Maandag–vrijdag 9–17 uur, woensdag tot 19 uur",
        hours_en="Monday–Friday 9:00–17:00, Wednesday until 19:00",
        phone="081 00 00 00",
        email="contact@lepassage.example",
        communes=["Namur", "Jambes", "Andenne"],
        response_days=3,
    ),
    dict(
        name="AMO La Boussole (démo)",
        address="Rue Saint-Gilles 40, 4000 Liège",
        hours="Lundi–vendredi 10h–18h",
        hours_nl="Maandag–vrijdag 10–18 uur",
        hours_en="Monday–Friday 10:00–18:00",
        phone="04 000 00 00",
        email="contact@laboussole.example",
        communes=["Liège", "Seraing", "Herstal"],
        response_days=5,
    ),
]


def summer_week(today: date) -> tuple[date, date]:
    """Monday to Friday of the week of 21 July, the coming summer: the demo's closing week."""
    year = today.year if today < date(today.year, 7, 1) else today.year + 1
    national_day = date(year, 7, 21)
    monday = national_day - timedelta(days=national_day.weekday())
    return monday, monday + timedelta(days=4)


CHARTER = {
    "charter": "Les membres de la concertation partagent seulement ce qui est utile pour "
    "t'aider, et seulement avec ton accord. Chacun reste tenu par son secret professionnel. "
    "Rien n'est transmis à une personne qui n'a pas signé cette charte.",
    "charter_nl": "De leden van het overleg delen alleen wat nuttig is om je te helpen, en "
    "alleen met jouw toestemming. Ieder blijft gebonden door zijn beroepsgeheim. Niets gaat "
    "naar iemand die dit charter niet onderschreef.",
    "charter_en": "The members of the concertation share only what helps you, and only with "
    "your agreement. Each stays bound by its professional secrecy. Nothing goes to anyone who "
    "has not signed this charter.",
}


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
        # Le Passage's concertation: its charter, a permanent member and an associated one.
        await Service.filter(id=passage.id).update(**CHARTER)
        adhered = (today or date(2026, 12, 1)) - timedelta(days=60)
        await ConcertationMember.create(
            service_id=passage.id,
            partner_id=partners[0].id,
            membership=Membership.PERMANENT,
            adhered_on=adhered,
        )
        await ConcertationMember.create(
            service_id=passage.id,
            partner_id=partners[2].id,
            membership=Membership.ASSOCIATED,
            adhered_on=adhered + timedelta(days=14),
        )
        # Like every account, the young people's have recovery codes from the start (theirs
        # to renew on the account page).
        lou = await seeding.subject("lou", "Lou", password=DEMO_PASSWORD)
        await seeding.subject("parent", "Sam", password=DEMO_PASSWORD, role=Role.RELATIVE)
        # Le Passage closes a week next summer: its answer targets skip it.
        first, last = summer_week(today or timezone.now().date())
        await ClosingPeriod.create(
            service_id=passage.id,
            first_day=first,
            last_day=last,
            label="Fermeture d’été",
            created_at=timezone.now(),
        )

    # Lou asked La Boussole too, earlier: Yann follows it and has proposed a meeting at the AMO
    # for the day after tomorrow. Her request at Le Passage stays waiting, the newest.
    earlier = await seeding.request(
        lou,
        boussole,
        "Je voudrais comprendre comment trouver un job d'étudiant.",
        [Theme.PROJECT],
        today=today,
    )
    yann = await Person.get(login="yann@laboussole.example")
    await take(yann, earlier.id)
    day = (today or timezone.now().astimezone(BRUSSELS).date()) + timedelta(days=2)
    starts_at = datetime.combine(day, time(14, 0), tzinfo=BRUSSELS)
    meeting = Proposal(starts_at.astimezone(UTC), 45, PlaceKind.AMO, "Bureau du rez-de-chaussée")
    await propose(yann, earlier.reference, meeting)
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
