"""The baseline: a bare Starlette app rendering one Jinja page, no database, no middleware."""

from __future__ import annotations

import sys
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

# Three cards, like the demo's services on the home page, so the loop costs what it costs there.
SERVICES = [
    {
        "name": f"Service {number}",
        "phone": f"081 00 00 0{number}",
        "hours": "Du lundi au vendredi, de 9 h à 17 h",
        "address": f"Rue de l'Exemple {number}, 5000 Namur",
        "communes": ["Namur", "Jambes", "Andenne"],
    }
    for number in range(1, 4)
]
PROMISES = [
    ("Gratuit.", "Tu ne paies jamais rien."),
    ("Confidentiel.", "Ton ou ta travailleur·euse social·e est tenu·e au secret professionnel."),
    (
        "Volontaire.",
        "Personne ne peut demander de l’aide à ta place. Tu viens parce que tu le veux.",
    ),
    ("Tu décides.", "Rien ne se fait sans ton accord."),
    ("Tu peux arrêter.", "Quand tu veux, sans donner de raison. Et tu peux revenir."),
]
LANGUAGES = {"fr": "Français", "nl": "Nederlands", "en": "English"}
CONTEXT = {
    "lang": "fr",
    "title": "Bienvenue",
    "days": 3,
    "languages": LANGUAGES,
    "promises": PROMISES,
    "services": SERVICES,
}

templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
)


async def page(request: Request) -> Response:
    response: Response = templates.TemplateResponse(request, "baseline.html", CONTEXT)
    return response


app = Starlette(routes=[Route("/", page, name="home")])


def main(argv: list[str]) -> int:
    import uvicorn

    # The same server options as `python -m portal run`, so only the application differs.
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(argv[0]),
        log_level="warning",
        proxy_headers=True,
        server_header=False,
        date_header=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
