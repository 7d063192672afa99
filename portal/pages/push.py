"""Being told on a device (Web Push): subscribe this browser, stop, remove a device; and the
service worker, which only a person who opts in ever registers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from portal.domain import push
from portal.domain.errors import Invalid
from portal.i18n import _
from portal.pages.common import form_key, once, path_id, person_of, require
from portal.security.sessions import device_label
from portal.settings import Settings

# Only the people the notices tell; anyone else gets 404, as for a page that does not exist.
TOLD = sorted(push.TOLD)
# What PushSubscription.toJSON() gives is well under this; anything bigger is not one.
MAX_SUBSCRIPTION_JSON = 4096
WORKER_SCRIPT = (Path(__file__).resolve().parent.parent / "static" / "js" / "sw.js").read_bytes()


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _json_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_SUBSCRIPTION_JSON:
        raise HTTPException(413)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise HTTPException(400) from error
    if not isinstance(data, dict):
        raise HTTPException(400)
    return data


def _text(data: Any, name: str) -> str:
    value = data.get(name) if isinstance(data, dict) else None
    return value if isinstance(value, str) else ""


def _refused(refusal: Invalid) -> JSONResponse:
    return JSONResponse({"error": _(refusal.message)}, status_code=422)


@require(*TOLD)
async def subscribe(request: Request) -> Response:
    """The browser's subscription, as ``PushSubscription.toJSON()`` gives it."""
    person = person_of(request)
    data = await _json_body(request)
    keys = data.get("keys")
    try:
        await push.subscribe(
            _settings(request),
            person,
            _text(data, "endpoint"),
            _text(keys, "p256dh"),
            _text(keys, "auth"),
            device_label(request.headers.get("user-agent", "")),
        )
    except Invalid as refusal:
        return _refused(refusal)
    return JSONResponse({"redirect": "/compte"})


@require(*TOLD)
async def unsubscribe(request: Request) -> Response:
    """This browser has dropped its subscription: forget it here too."""
    data = await _json_body(request)
    await push.unsubscribe(person_of(request), _text(data, "endpoint"))
    return JSONResponse({"redirect": "/compte"})


@require(*TOLD)
@once()
async def remove(request: Request) -> Response:
    """Remove one device from the list (a plain form: works without JavaScript)."""
    device_id = path_id(request, "device_id")
    await push.remove_device(person_of(request), device_id, form_key=form_key(request))
    return RedirectResponse("/compte", status_code=303)


async def service_worker(request: Request) -> Response:
    """At the site's root, so that its scope is the whole site; the same file for everyone,
    never cached for long, so a fix reaches every device."""
    return Response(
        WORKER_SCRIPT,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache"},
    )


routes = [
    Route("/sw.js", service_worker, name="push.worker"),
    Route("/compte/appareils", subscribe, methods=["POST"], name="account.push_subscribe"),
    Route(
        "/compte/appareils/oubli", unsubscribe, methods=["POST"], name="account.push_unsubscribe"
    ),
    Route(
        "/compte/appareils/{device_id}/supprimer",
        remove,
        methods=["POST"],
        name="account.push_remove",
    ),
]
