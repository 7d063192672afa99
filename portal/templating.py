"""The Jinja environment: autoescape, gettext that follows the request, our helpers."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any, cast

import jinja2
from jinja2 import nodes
from jinja2.nodes import EvalContext
from jinja2.visitor import NodeTransformer
from jinja2_fragments.starlette import Jinja2Blocks
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from portal import i18n, labels
from portal.security.tokens import new_form_key
from portal.settings import LANGUAGES
from portal.static_files import StaticFiles

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def path_finder(routes: list[BaseRoute]) -> Any:
    """``url_for`` for templates: the route by its name at once, and a path, not a full URL.

    Starlette's own walks every route for every link (about a tenth of a page's time here),
    and an absolute URL needs the request's host, which a path does not.
    """
    by_name = {route.name: route for route in routes if isinstance(route, Route)}

    def url_for(name: str, /, **path_params: Any) -> str:
        route = by_name[name]
        convertors = route.param_convertors
        if path_params.keys() != convertors.keys():
            return str(route.url_path_for(name, **path_params))  # Starlette says what is wrong
        # What Starlette's own does, without building a URL object: a page has a dozen links.
        path = route.path_format
        for key, value in path_params.items():
            path = path.replace("{" + key + "}", convertors[key].to_string(value))
        return path

    return url_for


@jinja2.pass_eval_context
def _gettext(eval_context: EvalContext, message: str, /, **variables: Any) -> str:
    """Jinja's newstyle gettext: the translation is a format string, escaped when autoescaping.

    As in Jinja, ``%%`` stands for ``%``: only a translation with neither variables nor a
    ``%`` skips the formatting, which would change nothing.
    """
    text: str = i18n.gettext(message)
    if eval_context.autoescape:
        text = Markup(text)  # noqa: S704 - our own catalogues, as Jinja marks them too
    return text % variables if variables or "%" in text else text


# Helpers whose answer depends only on their arguments for the life of the process: the
# path of a named route, the address of a static file (named after its content at start).
FIXED_HELPERS = frozenset({"url_for", "static"})


class _Precompute(NodeTransformer):
    """Put in place of a call what it would give at every render, when that never changes.

    ``_("Inbox")`` and a ``{% trans %}`` without variables become the translated text, marked
    safe as ``_gettext`` marks it; ``url_for("home")`` and ``static("css/site.css")`` become
    their path. Jinja then writes them into the compiled template as plain text. A message
    with variables, a plural or a context, and a helper given a variable, stay calls.
    """

    def __init__(self, environment: jinja2.Environment, catalogue: Any) -> None:
        self.environment = environment
        self.catalogue = catalogue

    def visit_Call(self, node: nodes.Call) -> nodes.Node:
        name = node.node.name if isinstance(node.node, nodes.Name) else None
        constant = (
            all(isinstance(arg, nodes.Const) for arg in node.args)
            and all(isinstance(keyword.value, nodes.Const) for keyword in node.kwargs)
            and node.dyn_args is None
            and node.dyn_kwargs is None
        )
        if name in {"_", "gettext"} and constant and len(node.args) == 1 and not node.kwargs:
            return self._translated(node)
        if name in FIXED_HELPERS and constant and name in self.environment.globals:
            args = [cast("nodes.Const", arg).value for arg in node.args]
            kwargs = {k.key: cast("nodes.Const", k.value).value for k in node.kwargs}
            try:
                helper = cast("Callable[..., object]", self.environment.globals[name])
                found = str(helper(*args, **kwargs))
            except Exception:  # left to fail at render, as it would have
                return self.generic_visit(node)
            return nodes.Const(found, lineno=node.lineno)
        return self.generic_visit(node)

    def _translated(self, node: nodes.Call) -> nodes.Node:
        message = cast("nodes.Const", node.args[0]).value
        if not isinstance(message, str):
            return self.generic_visit(node)
        text: str = self.catalogue.gettext(message)
        if "%" in text:
            try:
                text = text % {}  # "%%" stands for "%", as in _gettext
            except (KeyError, ValueError, TypeError):
                return self.generic_visit(node)  # a mistake in a catalogue shows at render
        return nodes.MarkSafeIfAutoescape(nodes.Const(text), lineno=node.lineno)


class _Template(jinja2.Template):
    def _get_default_module(self, ctx: jinja2.runtime.Context | None = None) -> Any:
        # Jinja checks at every ``{% from … import … %}`` whether the page brought globals the
        # imported template lacks, by a set difference with a mapping's keys, done key by key
        # in Python. Ours never do: every global is the environment's (see make_globals). A
        # page that did would still get its own module from Jinja.
        if ctx is not None and not ctx.globals_keys.issubset(self.globals):
            return super()._get_default_module(ctx)
        return super()._get_default_module()


class TranslatedEnvironment(jinja2.Environment):
    """The environment of one language: its templates are compiled with their texts in it."""

    template_class = _Template

    def __init__(self, language: str, **options: Any) -> None:
        super().__init__(**options)
        self.language = language

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        """A template's globals as a plain dict, not Jinja's chain of the template's own and
        the environment's: every render copies them, and a chain is copied key by key in
        Python. Every global is set before a template is loaded, as Jinja asks."""
        return {**self.globals, **(d or {})}

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        catalogue = i18n.translations(self.language)
        precomputed: nodes.Template = _Precompute(self, catalogue).visit(tree)
        return precomputed


class Templates:
    """A set of templates per language; a page is rendered from its request's language's.

    A message is then translated once, when its template is compiled, instead of at every
    render: a page holds dozens. Messages with variables are still translated at render
    time, through the request's language, which is the set's own.
    """

    def __init__(self, by_language: dict[str, Jinja2Blocks], default: str) -> None:
        self.by_language = by_language
        self.default = default

    def of(self, language: str) -> Jinja2Blocks:
        return self.by_language.get(language) or self.by_language[self.default]

    def for_request(self, request: Request) -> Jinja2Blocks:
        return self.of(request.scope.get("state", {}).get("language", self.default))

    @property
    def env(self) -> jinja2.Environment:
        """The default language's environment, for what is the same in all (its globals)."""
        return self.of(self.default).env


@jinja2.pass_context
def csrf_fields(context: jinja2.runtime.Context) -> Markup:
    """Every form's hidden fields: the CSRF token, and a single-use key (a form sent twice
    acts once). A function rather than a macro: imported macros then need no context."""
    token, key = escape(context["csrf_token"]), escape(new_form_key())
    return Markup(  # noqa: S704 - both values escaped just above
        f'<input type="hidden" name="csrf_token" value="{token}">'
        f'<input type="hidden" name="form_key" value="{key}">'
    )


def build_templates(
    static: StaticFiles, globals_: dict[str, Any], routes: list[BaseRoute] | None = None
) -> Templates:
    return Templates(
        {
            language: _language_templates(language, static, globals_, routes)
            for language in LANGUAGES
        },
        default=LANGUAGES[0],
    )


def _language_templates(
    language: str, static: StaticFiles, globals_: dict[str, Any], routes: list[BaseRoute] | None
) -> Jinja2Blocks:
    env = TranslatedEnvironment(
        language,
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
    # Called directly rather than through Jinja's alias and wrapper: a page holds dozens.
    env.globals["gettext"] = env.globals["_"] = _gettext
    env.globals.update(globals_)
    if routes is not None:
        env.globals["url_for"] = path_finder(routes)
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
        # Any session, even one waiting for its second factor, is ended by the quick exit.
        "has_session": state.get("session") is not None,
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
    templates = request.app.state.templates.for_request(request)
    block_name = block if block and wants_fragment(request) else None
    response: Response = templates.TemplateResponse(
        request, name, context or {}, status_code=status_code, block_name=block_name
    )
    response.headers["Vary"] = "HX-Request, HX-Boosted, HX-History-Restore-Request, Cookie"
    return response
