"""One template environment for every language: each page in its reader's, texts escaped."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from markupsafe import escape
from starlette.applications import Starlette

from portal import i18n
from portal.domain.messages import send_message
from portal.settings import LANGUAGES
from tests import factories

QUICK_EXIT = {"fr": "Quitter vite", "nl": "Snel weg", "en": "Quick exit"}


async def test_200_concurrent_pages_each_get_their_own_language(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service, "Bonjour.")
    message = await send_message(amina, dossier.reference, "Comment ça va ?")
    await factories.sign_in(client, "lou")
    paths = ["/droits", "/espace", f"/espace/{dossier.reference}"]

    expected: dict[str, dict[str, str]] = {}
    for language in LANGUAGES:
        with i18n.use_language(language):
            date = i18n.format_when(dossier.created_at, "d MMMM y")
            expected[language] = {
                "/espace": i18n.gettext("My request of %(date)s") % {"date": date},
                paths[2]: i18n.format_when(message.created_at, "EEEE d MMMM, HH:mm"),
            }

    readers = {}
    for language in LANGUAGES:
        reader = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="https://testserver",
            cookies=httpx.Cookies(client.cookies),
        )
        reader.cookies.set("lang", language)
        readers[language] = reader

    async def page(n: int) -> tuple[str, str, httpx.Response]:
        language, path = LANGUAGES[n % 3], paths[(n // 3) % len(paths)]
        return language, path, await readers[language].get(path)

    try:
        pages = await asyncio.gather(*(page(n) for n in range(200)))
    finally:
        for reader in readers.values():
            await reader.aclose()
    for language, path, response in pages:
        assert response.status_code == 200, (language, path)
        html = response.text
        assert f'<html lang="{language}">' in html, (language, path)
        for other, words in QUICK_EXIT.items():
            assert (words in html) is (other == language), (language, path, other)
        if path in expected[language]:
            assert expected[language][path] in html, (language, path)


async def test_a_name_inside_a_translated_text_is_escaped_in_every_language(
    client: httpx.AsyncClient,
) -> None:
    service = await factories.service()
    await factories.staff("amina", service_=service)
    name = '<b onclick="x()">Lou</b> & 100 %'
    lou = await factories.youth(name=name)
    dossier = await factories.followed_dossier(
        await factories.staff("noor", service_=service), lou, service
    )
    await factories.sign_in_staff(client, "noor")
    for language in LANGUAGES:
        client.cookies.set("lang", language)
        page = await client.get(f"/travail/dossiers/{dossier.reference}")
        assert page.status_code == 200
        assert f"<h1>{escape(name)} · {dossier.reference}</h1>" in page.text, language
        assert "<b onclick" not in page.text


async def test_the_markup_of_a_translated_text_stays_markup(client: httpx.AsyncClient) -> None:
    words = {"fr": "Appelle le 112.", "nl": "Bel 112.", "en": "Call 112."}
    for language in LANGUAGES:
        client.cookies.set("lang", language)
        page = await client.get("/")
        start = page.text.index(words[language])
        assert '<a href="/urgence">' in page.text[start : start + 300], language


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # A literal % in a translated block, with or without variables.
        ("{% trans %}100 % sure{% endtrans %}", "100 % sure"),
        ("{% trans n=5 %}{{ n }} % done{% endtrans %}", "5 % done"),
        (
            "{% trans count=2 %}{{ count }} % left{% pluralize %}{{ count }} % gone{% endtrans %}",
            "2 % gone",
        ),
        # gettext written out takes Python's format: %% is a %.
        ('{{ _("100 %%") }}', "100 %"),
        ('{{ _("%(n)s %%", n=5) }}', "5 %"),
        ('{{ _("%(who)s & co", who="<i>x</i>") }}', "&lt;i&gt;x&lt;/i&gt; & co"),
    ],
)
def test_percent_signs_and_variables_in_templates(
    app: Starlette, source: str, expected: str
) -> None:
    template = app.state.templates.env.from_string(source)
    assert template.render() == expected


def test_one_template_speaks_each_readers_language(app: Starlette) -> None:
    template = app.state.templates.env.from_string(
        '{{ _("Quick exit") }}|{% trans name=name %}{{ name }} leaves{% endtrans %}'
    )
    texts = {}
    for language in ("fr", "nl", "en", "fr"):
        with i18n.use_language(language):
            texts[language] = template.render(name="<Lou>")
    assert texts == {
        "fr": "Quitter vite|&lt;Lou&gt; s’en va",
        "nl": "Snel weg|&lt;Lou&gt; vertrekt",
        "en": "Quick exit|&lt;Lou&gt; leaves",
    }
