"""The tests' data, on portal.seeding with the tests' passwords; signing in as a browser does."""

from __future__ import annotations

import re
from datetime import date
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

import httpx
import pyotp

from portal import seeding
from portal.models import (
    ConcertationMember,
    Dossier,
    Membership,
    Partner,
    Person,
    Role,
    Service,
    Theme,
)
from tests.helpers import csrf_token

YOUTH_PASSWORD = "trois pommes vertes sur la table"
STAFF_PASSWORD = "worker-pass-1"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ"


async def service(name: str = "AMO Test") -> Service:
    return await seeding.service(name)


async def partner(name: str = "CPAS Test", secrecy: bool = True) -> Partner:
    return await seeding.partner(name, bound_by_secrecy=secrecy)


async def youth(login: str = "lou", name: str = "Lou", role: Role = Role.YOUTH) -> Person:
    return await seeding.subject(login, name, password=YOUTH_PASSWORD, role=role)


async def staff(
    login: str,
    role: Role = Role.WORKER,
    *,
    service_: Service | None = None,
    partner_: Partner | None = None,
    name: str | None = None,
) -> Person:
    """A staff member with a password and a TOTP secret (the invitation's end state)."""
    return await seeding.staff(
        login,
        role,
        password=STAFF_PASSWORD,
        totp_secret=TOTP_SECRET,
        name=name,
        service=service_,
        partner=partner_,
    )


async def operator(login: str = "operateur") -> Person:
    """The installation's operator: services and the partner directory, no dossier."""
    return await staff(login, Role.OPERATOR, name="Opérateur")


async def followed_dossier(
    worker: Person,
    subject: Person,
    service_: Service,
    words: str = "Bonjour",
    theme: Theme = Theme.SCHOOL,
) -> Dossier:
    """A young person's request, taken by ``worker``: where most tests of a dossier start."""
    return await seeding.followed_dossier(worker, subject, service_, words, theme)


def totp_now() -> str:
    return pyotp.TOTP(TOTP_SECRET).now()


async def sign_in(
    client: httpx.AsyncClient, login: str, password: str = YOUTH_PASSWORD, *, code: bool = False
) -> httpx.Response:
    token = await csrf_token(client, "/connexion")
    response = await client.post(
        "/connexion", data={"csrf_token": token, "login": login, "password": password}
    )
    if code and response.status_code == 303:
        token = await csrf_token(client, "/connexion/code")
        response = await client.post(
            "/connexion/code", data={"csrf_token": token, "code": totp_now()}
        )
    return response


async def sign_in_staff(client: httpx.AsyncClient, login: str) -> httpx.Response:
    return await sign_in(client, login, STAFF_PASSWORD, code=True)


def codes_in(html: str) -> list[str]:
    return re.findall(r"<code>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})</code>", html)


def invitation_links(var_dir: Path) -> list[str]:
    """The invitation links sent so far (development writes each e-mail to var/outbox/)."""
    links = []
    for path in sorted((var_dir / "outbox").glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=email_policy.default)
        body = message.get_body(("plain",))
        assert body is not None
        links += re.findall(r"https://testserver/invitation/([\w-]{43})", body.get_content())
    return links


async def member(
    service_id: int, partner_id: int, membership: str = "permanent", adhered_on: str = "2026-01-05"
) -> ConcertationMember:
    """A partner member of a service's concertation, adhered to its charter."""
    return await ConcertationMember.create(
        service_id=service_id,
        partner_id=partner_id,
        membership=Membership(membership),
        adhered_on=date.fromisoformat(adhered_on),
    )
