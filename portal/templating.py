"""The Jinja environment: autoescape, gettext that follows the request, our helpers."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2_fragments.starlette import Jinja2Blocks
from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from portal import i18n, labels
from portal.security.tokens import new_form_key
from portal.static_files import StaticFiles

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


@jinja2.pass_context
def csrf_fields(context: jinja2.runtime.Context) -> Markup:
    """Every form's hidden fields: the CSRF token, and a single-use key (a form sent twice
    acts once). A function rather than a macro: imported macros then need no context."""
    token, key = escape(context["csrf_token"]), escape(new_form_key())
    return Markup(  # noqa: S704 - both values escaped just above
        f'<input type="hidden" name="csrf_token" value="{token}">'
        f'<input type="hidden" name="form_key" value="{key}">'
    )


def translated(record: object, field: str) -> Markup:
    """A directory text in the reader's language; French, said to be French, when missing."""
    shown = i18n.in_language(record, field)
    if not shown.fallback:
        return escape(shown.text)
    notice = escape(i18n.gettext("(in French)"))
    return Markup(  # noqa: S704 - both texts escaped
        f'<span lang="fr">{escape(shown.text)}</span> <span class="fallback">{notice}</span>'
    )


def build_templates(app: Starlette, static: StaticFiles, globals_: dict[str, Any]) -> Jinja2Blocks:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # The templates ship with the code: no file is looked at again at each render.
        auto_reload=False,
    )
    env.policies["ext.i18n.trimmed"] = True
    # Installed once; each call reads the request's language from a context variable.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext,
        i18n.ngettext,
        newstyle=True,
        pgettext=i18n.pgettext,
        npgettext=i18n.npgettext,
    )
    env.globals.update(globals_)

    # Starlette tries its routes one by one for a name; a page links to the same few again and
    # again, and the path depends only on the name and the parameters.
    @lru_cache(maxsize=4096)
    def path_of(name: str, params: tuple[tuple[str, Any], ...]) -> str:
        return str(app.url_path_for(name, **dict(params)))

    def url_for(name: str, /, **path_params: Any) -> str:
        # A path rather than Starlette's absolute URL: links stay on whatever host was asked.
        return path_of(name, tuple(sorted(path_params.items())))

    env.globals["url_for"] = url_for
    env.globals["static"] = static.url
    env.globals["form_key"] = new_form_key
    env.globals["csrf"] = csrf_fields
    env.globals["language_names"] = i18n.LANGUAGE_NAMES
    env.filters["when"] = i18n.format_when
    env.filters["day"] = i18n.format_day
    env.filters["themes"] = labels.theme_names
    env.globals["theme_name"] = labels.theme_name
    env.globals["kind_name"] = labels.kind_name
    env.globals["category_name"] = labels.category_name
    env.globals["sector_name"] = labels.sector_name
    env.globals["place_name"] = labels.place_name
    env.globals["appointment_status_name"] = labels.appointment_status_name
    env.globals["minutes_status_name"] = labels.minutes_status_name
    env.globals["translated"] = translated
    return Jinja2Blocks(env=env, context_processors=[page_context])


def page_context(request: Request) -> dict[str, Any]:
    """What every page needs from the request: language, CSP nonce, CSRF token, its own path."""
    state = request.scope.get("state", {})
    return {
        "lang": state.get("language", "fr"),
        "nonce": state.get("csp_nonce", ""),
        "csrf_token": state.get("csrf_token", ""),
        "current_path": request.url.path,
        "me": _person(state.get("session")),
        "news": state.get("news", 0),
    }


def _person(session: Any) -> Any:
    # Only a complete session (second factor given) shows a signed-in page frame.
    if session is None or session.second_factor_pending:
        return None
    return session.person


def wants_fragment(request: Request) -> bool:
    """htmx asked for part of a page (not a boosted link, not a history restore)."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    block: str | None = None,
) -> Response:
    """Render a page, or only ``block`` of it when htmx asked for a fragment."""
    templates: Jinja2Blocks = request.app.state.templates
    block_name = block if block and wants_fragment(request) else None
    response: Response = templates.TemplateResponse(
        request, name, context or {}, status_code=status_code, block_name=block_name
    )
    response.headers["Vary"] = "HX-Request, HX-Boosted, HX-History-Restore-Request, Cookie"
    return response
