"""Templates compiled per language: the same pages as translating at each render, only sooner."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import jinja2
import pytest
from jinja2 import nodes
from starlette.applications import Starlette

from portal import i18n
from portal.app import create_app
from portal.domain.messages import send_message
from portal.models import Dossier, Person
from portal.settings import LANGUAGES, Settings
from portal.templating import TEMPLATES_DIR, TranslatedEnvironment
from tests import factories

# What differs between two renders of one page anyway: nonces, tokens and single-use keys.
VARYING = [
    (re.compile(r'nonce="[^"]*"'), 'nonce=""'),
    (re.compile(r"[0-9a-f]{64}"), "TOKEN"),
    (re.compile(r'name="form_key" value="[^"]*"'), 'name="form_key" value=""'),
]


def _steady(html: str) -> str:
    for pattern, replacement in VARYING:
        html = pattern.sub(replacement, html)
    return html


@asynccontextmanager
async def _client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        yield client


async def _signed_in(app: Starlette) -> dict[str, httpx.Cookies]:
    """The cookies of the subject and of the worker, signed in once (a code works once)."""
    jars = {}
    for login in ("lou", "amina"):
        async with _client(app) as client:
            if login == "lou":
                await factories.sign_in(client, login)
            else:
                await factories.sign_in_staff(client, login)
            jars[login] = client.cookies
    return jars


async def _pages(
    app: Starlette, jars: dict[str, httpx.Cookies], paths: list[str], worker_paths: list[str]
) -> dict[str, str]:
    """Every path in every language, as the subject (and the worker's paths as the worker)."""
    seen: dict[str, str] = {}
    for login, wanted in (("lou", paths), ("amina", worker_paths)):
        async with _client(app) as client:
            client.cookies = httpx.Cookies(jars[login])
            for language in LANGUAGES:
                client.cookies.set("lang", language)
                for path in wanted:
                    # What is new depends on what was seen before: the same for each visit.
                    await Person.filter(login__in=["lou", "amina"]).update(news_seen_at=None)
                    await Dossier.all().update(subject_seen_seq=0)
                    page = await client.get(path)
                    seen[f"{login} {language} {path} {page.status_code}"] = _steady(page.text)
    return seen


async def test_pages_read_as_when_translated_at_each_render(
    settings: Settings, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service, "Bonjour.")
    await send_message(amina, dossier.reference, "Comment ça va ? 100 %")
    paths = ["/", "/droits", "/donnees", "/urgence", "/compte", "/espace", "/nulle-part"]
    paths += [f"/espace/{dossier.reference}", f"/espace/{dossier.reference}/partenaires"]
    worker_paths = ["/travail", "/travail/equipe", "/partenaires"]

    app = create_app(settings, manage_database=False)
    jars = await _signed_in(app)
    precomputed = await _pages(app, jars, paths, worker_paths)
    # The same app, its templates compiled as Jinja compiles them: every text at render time.
    monkeypatch.setattr(TranslatedEnvironment, "_parse", jinja2.Environment._parse)
    plain = await _pages(create_app(settings, manage_database=False), jars, paths, worker_paths)
    assert precomputed.keys() == plain.keys()
    assert len(precomputed) == 3 * (len(paths) + len(worker_paths))
    for key, page in precomputed.items():
        assert page == plain[key], key


def _constant_messages(tree: nodes.Template) -> list[str]:
    return [
        call.args[0].value
        for call in tree.find_all(nodes.Call)
        if isinstance(call.node, nodes.Name)
        and call.node.name in {"_", "gettext"}
        and [type(arg) for arg in call.args] == [nodes.Const]
        and not call.kwargs
    ]


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_template_translates_a_constant_message_at_render(
    settings: Settings, language: str
) -> None:
    env = create_app(settings, manage_database=False).state.templates.of(language).env
    names = [p.relative_to(TEMPLATES_DIR).as_posix() for p in TEMPLATES_DIR.rglob("*.html")]
    assert len(names) > 40
    translated = 0
    for name in names:
        source = env.loader.get_source(env, name)[0]
        raw = jinja2.Environment._parse(env, source, name, None)
        before = _constant_messages(raw)
        assert _constant_messages(env.parse(source, name)) == [], name
        translated += len(before)
    assert translated > 300


async def test_concurrent_pages_each_get_their_own_language(client: httpx.AsyncClient) -> None:
    async def page(language: str) -> tuple[str, str]:
        answer = await client.get("/droits", headers={"Cookie": f"lang={language}"})
        return language, answer.text

    pages = await asyncio.gather(*(page(LANGUAGES[n % 3]) for n in range(30)))
    for language, html in pages:
        assert f'<html lang="{language}">' in html
        assert i18n.translations(language).gettext("Quick exit") in html
