"""Documents of a dossier: added from a phone's camera or files, opened only through the dossier."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portal.domain import consent as consent_rules
from portal.domain import documents
from portal.domain.access import readable_dossier
from portal.domain.errors import Invalid, Withdrawn
from portal.i18n import _
from portal.models import Action, Role
from portal.pages.common import (
    as_id,
    form_key,
    once,
    path_id,
    person_of,
    reference_of,
    require,
    text,
)
from portal.templating import render

SUBJECTS = (Role.YOUTH, Role.RELATIVE)
# The routes that take a file: the only ones whose body may be as large as a document.
UPLOAD_PATHS = r"/(?:espace|travail/dossiers)/[^/]{1,12}/documents"
# What a browser must do with a document: show it, run nothing, keep nothing.
FILE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def limits_of(request: Request) -> documents.Limits:
    settings = request.app.state.settings
    return documents.Limits(settings.document_max_bytes, settings.documents_per_dossier)


def file_response(opened: documents.Opened) -> Response:
    """The document's bytes, as a download (a PDF) or shown (a photo we re-encoded ourselves)."""
    disposition = "attachment" if opened.media_type == documents.PDF else "inline"
    fallback = "".join(
        c if (c.isascii() and c.isalnum()) or c in "._-" else "_" for c in opened.name
    )
    headers = {
        **FILE_HEADERS,
        "Content-Disposition": (
            f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(opened.name)}"
        ),
    }
    return Response(opened.data, media_type=opened.media_type, headers=headers)


async def _add(request: Request, home: str) -> Response:
    person = person_of(request)
    reference = reference_of(request)
    limits = limits_of(request)
    form = await request.form()
    body = text(form, "body", 10_000)
    attach = text(form, "action", 40)
    upload = form.get("file")
    try:
        action_id = None
        if attach:
            action_id = as_id(attach)
            if action_id is None:
                raise Invalid("action", _("Choose one of the steps of this dossier."))
        if not isinstance(upload, UploadFile) or (not upload.filename and not upload.size):
            raise Invalid("file", _("Choose a photo or a PDF."))
        data = await upload.read(limits.max_bytes + 1)
        await documents.add_document(
            person,
            reference,
            data,
            upload.filename or "",
            limits,
            body=body,
            action_id=action_id,
            form_key=form_key(request),
        )
    except Invalid as refusal:
        dossier = await readable_dossier(person, reference)
        context: dict[str, Any] = {
            "dossier": dossier,
            "errors": {refusal.field: _(refusal.message)},
            "values": {"body": body, "action": attach},
            "steps": await Action.filter(dossier_id=dossier.id).order_by("-created_at"),
            "upload_url": request.url.path,
            "back_url": home,
        }
        return render(request, "documents/add.html", context, status_code=422)
    return RedirectResponse(home + "#documents", status_code=303)


@require(*SUBJECTS)
@once()
async def subject_add(request: Request) -> Response:
    return await _add(request, f"/espace/{reference_of(request)}")


@require(Role.WORKER)
@once()
async def worker_add(request: Request) -> Response:
    return await _add(request, f"/travail/dossiers/{reference_of(request)}")


@require(*SUBJECTS, Role.WORKER)
async def document(request: Request) -> Response:
    """A document, for its dossier's subject or an assigned worker (whose look is journaled)."""
    person = person_of(request)
    is_subject_route = request.url.path.startswith("/espace/")
    if is_subject_route != person.is_subject:
        raise HTTPException(404)
    opened = await documents.read_document(
        person, reference_of(request), path_id(request, "document_id")
    )
    return file_response(opened)


@require(Role.PARTNER)
async def partner_document(request: Request) -> Response:
    """A document sent with a share, while its consent holds; after a revoke, 410 as the share."""
    try:
        opened = await consent_rules.partner_document(
            person_of(request), path_id(request, "share_id"), path_id(request, "document_id")
        )
    except Withdrawn as ended:
        return render(
            request, "partners/withdrawn.html", {"revoked": ended.revoked}, status_code=410
        )
    return file_response(opened)


routes = [
    Route(
        "/espace/{reference}/documents", subject_add, methods=["POST"], name="documents.subject_add"
    ),
    Route("/espace/{reference}/documents/{document_id}", document, name="documents.subject_open"),
    Route(
        "/travail/dossiers/{reference}/documents",
        worker_add,
        methods=["POST"],
        name="documents.worker_add",
    ),
    Route(
        "/travail/dossiers/{reference}/documents/{document_id}",
        document,
        name="documents.worker_open",
    ),
    Route(
        "/partenaire/partages/{share_id}/documents/{document_id}",
        partner_document,
        name="documents.partner_open",
    ),
]
