"""Setting up an installation: services, the operator and each service's first admin."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal import __main__ as cli
from portal.domain import accounts, services
from portal.domain.errors import Invalid, NotFound
from portal.models import Credential, CredentialKind, Person, Role, Service
from tests import factories
from tests.conftest import TEST_JOURNAL_KEY, TEST_MASTER_KEY

pytestmark = pytest.mark.asyncio(loop_scope="session")

PASSWORD = "a long passphrase for the admin 2026"


def _form(**changes: str) -> services.ServiceForm:
    values = {
        "name": "AMO La Boussole",
        "communes": "Liège, Seraing, Herstal",
        "response_days": "5",
        "email": "contact@laboussole.be",
        "phone": "04 000 00 00",
    }
    values.update(changes)
    return services.ServiceForm(**values)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "A" * 201}, "name"),
        ({"response_days": "0"}, "response_days"),
        ({"response_days": "31"}, "response_days"),
        ({"response_days": "trois"}, "response_days"),
        ({"response_days": "٣"}, "response_days"),
        ({"response_days": "-1"}, "response_days"),
        ({"email": "pas une adresse"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"phone": "<script>"}, "phone"),
        ({"communes": "Liège, " + "x" * 61}, "communes"),
        ({"hours": "h" * 301}, "hours"),
    ],
)
async def test_a_service_with_bad_details_is_refused_and_nothing_stored(
    db: str, changes: dict[str, str], field: str
) -> None:
    operator = await factories.operator()
    with pytest.raises(Invalid) as refusal:
        await services.create_service(operator, _form(**changes))
    assert refusal.value.field == field
    assert await Service.all().count() == 0


async def test_the_operator_creates_and_changes_a_service(db: str) -> None:
    operator = await factories.operator()
    service = await services.create_service(operator, _form(communes="Liège, Seraing, Liège"))
    assert service.communes == ["Liège", "Seraing"]
    assert service.response_days == 5 and service.email == "contact@laboussole.be"
    changed = await services.update_service(
        operator, service.id, _form(hours="Lundi 10h–18h", response_days="3")
    )
    assert changed.hours == "Lundi 10h–18h" and changed.response_days == 3
    rows = await services.all_services(operator)
    assert [(row.service.id, row.staff) for row in rows] == [(service.id, 0)]


async def test_only_the_operator_keeps_services(db: str) -> None:
    service = await factories.service()
    admin = await factories.staff("admin", Role.ADMIN, service_=service)
    worker = await factories.staff("amina", service_=service)
    lou = await factories.youth()
    for person in (admin, worker, lou):
        with pytest.raises(NotFound):
            await services.create_service(person, _form())
        with pytest.raises(NotFound):
            await services.update_service(person, service.id, _form(name="Pris"))
        with pytest.raises(NotFound):
            await services.all_services(person)
    assert await Service.all().values_list("name", flat=True) == ["AMO Test"]


async def test_an_admin_always_belongs_to_a_service_that_exists(db: str) -> None:
    with pytest.raises(Invalid) as refusal:
        await accounts.create_admin(
            login="ines@laboussole.be", display_name="Inès", password=PASSWORD, service_id=999
        )
    assert refusal.value.field == "service"
    assert await Person.all().count() == 0
    service = await factories.service()
    secret = await accounts.create_admin(
        login="Ines@LaBoussole.be", display_name="Inès", password=PASSWORD, service_id=service.id
    )
    admin = await Person.get(login="ines@laboussole.be")
    assert admin.role is Role.ADMIN and admin.service_id == service.id
    totp = await Credential.get(person=admin, kind=CredentialKind.TOTP)
    assert totp.secret == secret
    # The same address twice: refused, nothing more stored.
    with pytest.raises(Invalid):
        await accounts.create_admin(
            login="ines@laboussole.be", display_name="X", password=PASSWORD, service_id=service.id
        )
    assert await Person.all().count() == 1


async def test_staff_sign_in_names_are_work_addresses(db: str) -> None:
    for login in ("admin", "ines", "<b>@x.be", "a" * 250 + "@x.be"):
        with pytest.raises(Invalid) as refusal:
            await accounts.create_operator(login=login, display_name="Op", password=PASSWORD)
        assert refusal.value.field == "email"
    assert await Person.all().count() == 0


# --- The commands -----------------------------------------------------------------------------


async def test_create_service_command_prints_the_number(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["create-service", "AMO La Boussole", "--commune", "Liège", "--commune", "Seraing"]
    argv += ["--email", "contact@laboussole.be", "--response-days", "5", "--hours", "9h–17h"]
    args = cli.build_parser().parse_args(argv)
    assert await cli.add_service(args) == 0
    service = await Service.get(name="AMO La Boussole")
    assert service.communes == ["Liège", "Seraing"] and service.response_days == 5
    assert f"id {service.id}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["create-service", ""], "NAME: Write the service's name."),
        (["create-service", "A" * 201], "NAME: At most 200 characters."),
        (["create-service", "AMO", "--response-days", "0"], "--response-days"),
        (["create-service", "AMO", "--response-days", "31"], "--response-days"),
        (["create-service", "AMO", "--email", "nope"], "e-mail address"),
    ],
)
async def test_create_service_command_refuses_bad_input(
    db: str, capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    assert await cli.add_service(cli.build_parser().parse_args(argv)) == 2
    err = capsys.readouterr().err
    assert said in err and "Nothing was created." in err
    assert await Service.all().count() == 0


async def test_create_admin_command_needs_an_existing_service(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as ended:
        cli.build_parser().parse_args(["create-admin", "ines@laboussole.be", "--name", "Inès"])
    assert ended.value.code == 2
    args = cli.build_parser().parse_args(
        ["create-admin", "ines@laboussole.be", "--service", "42", "--name", "Inès"]
    )
    assert await cli.add_manager(args, PASSWORD) == 2
    assert "--service: No service has this number." in capsys.readouterr().err
    assert await Person.all().count() == 0
    service = await factories.service()
    args.service = service.id
    assert await cli.add_manager(args, PASSWORD) == 0
    assert "authenticator app" in capsys.readouterr().out
    admin = await Person.get(login="ines@laboussole.be")
    assert admin.role is Role.ADMIN and admin.service_id == service.id


async def test_create_operator_command(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = cli.build_parser().parse_args(
        ["create-operator", "operateur@portail.be", "--name", "Opérateur"]
    )
    assert await cli.add_manager(args, "short") == 2
    assert await Person.all().count() == 0
    assert await cli.add_manager(args, PASSWORD) == 0
    operator = await Person.get(login="operateur@portail.be")
    assert operator.role is Role.OPERATOR and operator.service_id is None
    assert "authenticator app" in capsys.readouterr().out


async def test_two_different_passwords_create_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    typed = iter(["first long passphrase 2026", "second long passphrase 2026"])
    monkeypatch.setattr(cli.getpass, "getpass", lambda _prompt="": next(typed))
    assert cli.ask_password() is None


async def test_the_real_command_line_refuses_with_exit_code_2(
    db: str, database: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "JOURNAL_KEY": TEST_JOURNAL_KEY,
        "MASTER_KEY": TEST_MASTER_KEY,
        "PORTAL_VAR_DIR": str(tmp_path),
        "SECRET_KEY": "s" * 40,
    }
    command = [sys.executable, "-m", "portal", "create-service", "AMO", "--response-days", "99"]
    done = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "--response-days: A number of working days, from 1 to 30." in done.stderr
    assert "Traceback" not in done.stderr
    assert await Service.all().count() == 0
