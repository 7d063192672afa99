"""Small factories that build test data through the domain functions."""

from __future__ import annotations

import re
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

import httpx
import pyotp

from portal.domain import accounts
from portal.domain.dossiers import take
from portal.domain.requests import RequestForm, make_request
from portal.models import (
    Asker,
    Credential,
    CredentialKind,
    Dossier,
    Partner,
    Person,
    Role,
    Sector,
    Service,
    Theme,
)
from portal.security.passwords import hash_password
from tests.helpers import csrf_token

YOUTH_PASSWORD = "trois pommes vertes sur la table"
STAFF_PASSWORD = "worker-pass-1"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ"


async def service(name: str = "AMO Test") -> Service:
    return await Service.create(name=name, communes=["Namur"], response_days=3)


async def partner(name: str = "CPAS Test", secrecy: bool = True) -> Partner:
    return await Partner.create(name=name, sector=Sector.CPAS, bound_by_secrecy=secrecy)


async def youth(login: str = "lou", name: str = "Lou", role: Role = Role.YOUTH) -> Person:
    new = accounts.check_new_subject(role.value, name, "fr")
    person = await accounts.create_subject_with_password(new, login, YOUTH_PASSWORD)
    if role is Role.YOUTH:
        await Person.filter(id=person.id).update(birth_year=2010, birth_month=3)
        person.birth_year, person.birth_month = 2010, 3
    return person


async def staff(
    login: str,
    role: Role = Role.WORKER,
    *,
    service_: Service | None = None,
    partner_: Partner | None = None,
    name: str | None = None,
) -> Person:
    """A staff member with a password and a TOTP secret (the invitation's end state)."""
    person = await Person.create(
        login=login,
        role=role,
        display_name=name or login.title(),
        service=service_,
        partner=partner_,
        user_handle=accounts.new_user_handle(),
    )
    await Credential.create(
        person=person, kind=CredentialKind.PASSWORD, secret=hash_password(STAFF_PASSWORD)
    )
    await Credential.create(person=person, kind=CredentialKind.TOTP, secret=TOTP_SECRET)
    return person


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
    dossier = await make_request(
        subject, service_, RequestForm(asker=Asker.YOUTH, themes=[theme], words=words)
    )
    await take(worker, dossier.id)
    return dossier


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
