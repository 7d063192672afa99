"""The public check page: anyone checks a consent receipt or a journal; nothing is kept.

The checks are ``portal.proof``'s, against the keys the service publishes: the page only reads
what was sent, says the answer in plain words, and forgets. What was sent never reaches a log,
a URL or the database; files are read in memory (never spooled to disk), and the answer is a
page (no redirect that would carry anything).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from anyio import CapacityLimiter, to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal import proof
from portal.domain import signing
from portal.models import Role
from portal.pages.common import client_address, signed_in
from portal.pages.signin import throttle_of
from portal.security import multipart
from portal.security.multipart import Part
from portal.security.ratelimit import wait_message
from portal.templating import render

PATH = "/verifier"
# Checks running at once, in threads: the rest wait their turn.
CHECKING = CapacityLimiter(2)
# An export is the whole dossier as JSON; its journal holds an entry for every step and every
# look (some 400 bytes each): years of a busy dossier stay under 5 MB.
EXPORT_MAX_BYTES = 5 * 1024 * 1024
# A form carries at most an export and an earlier one, or a receipt and its file, plus a head.
MAX_BODY_BYTES = 2 * EXPORT_MAX_BYTES + 2 * proof.MAX_TOKEN + 64 * 1024
# Fields this page reads; any other part is skipped as it streams by.
FIELDS = frozenset(
    {
        "csrf_token",
        "form_key",
        "what",
        "receipt",
        "receipt_file",
        "export",
        "earlier",
        "earlier_file",
    }
)
TEXT_FIELDS = ("receipt", "earlier")


class TooBig(Exception):
    """A file over what this page reads."""


class EarlierRefused(proof.Refused):
    """The refusal came from checking against the earlier journal, not from the newer one."""


def parts_of(body: bytes, content_type: str) -> dict[str, Part]:
    """The fields of a multipart form, in memory: the body was already read whole and capped
    (``MAX_BODY_BYTES``), and a file spooled to disk would be a copy of what she gave."""
    return multipart.parts(body, content_type, FIELDS)


async def read_form(request: Request) -> dict[str, Part]:
    """The form, multipart (the page's own) or urlencoded (a form without its files)."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip() == "multipart/form-data":
        return parts_of(await request.body(), content_type)
    form = await request.form()
    return {
        name: Part(value.encode())
        for name, value in form.multi_items()
        if name in FIELDS and isinstance(value, str)
    }


def text_of(form: dict[str, Part], name: str, limit: int) -> str:
    """A field as text, "" when absent or empty; over ``limit`` bytes, TooBig; not UTF-8,
    ``Refused("malformed")``."""
    part = form.get(name)
    if part is None or not part.data.strip():
        return ""
    if len(part.data) > limit:
        raise TooBig(name)
    try:
        return part.data.decode("utf-8")
    except UnicodeDecodeError:
        raise proof.Refused("malformed") from None


# --- What a receipt says ---------------------------------------------------------------------


@dataclass(frozen=True)
class Promised:
    """What the partner promised, as the page names it: ``secrecy`` or ``no_secrecy``, its
    code of ethics, ``youth_code``; ``later``: copied from the directory after she agreed
    (consents older than the copy), on ``on``: what the directory said that day, not
    necessarily what she was told."""

    items: list[str] = field(default_factory=list)
    later: bool = False
    on: datetime | None = None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def promised_of(summary: proof.ReceiptSummary) -> Promised:
    """The promises a receipt carries, as the page says them."""
    copied = summary.promised
    items = []
    if copied.get("bound_by_secrecy") is True:
        items.append("secrecy")
    elif copied.get("bound_by_secrecy") is False:
        # Said as plainly as its opposite: a partner without secrecy is what to know first.
        items.append("no_secrecy")
    if _text(copied.get("ethics_code")):
        items.append(_text(copied.get("ethics_code")))
    if copied.get("adheres_youth_code") is True:
        items.append("youth_code")
    return Promised(
        items,
        later=copied.get("copied_after_agreement") is True,
        on=proof.instant(copied.get("copied_at"))
        if isinstance(copied.get("copied_at"), str)
        else None,
    )


# --- The page ---------------------------------------------------------------------------------


@dataclass
class Answer:
    """The outcome of one check, for the template: what was checked and what was found."""

    what: str
    receipt: proof.ReceiptCheck | None = None
    summary: proof.ReceiptSummary | None = None
    promised: Promised | None = None
    journal: proof.JournalCheck | None = None
    refused: str | None = None
    seq: int | None = None
    # The refusal concerns the earlier journal (its own signature, its own entries).
    about_earlier: bool = False
    too_big: bool = False
    missing: bool = False
    # Too many checks from this address: how long to wait, in words.
    wait: str = ""


async def audience_of(request: Request) -> str | None:
    """A signed-in partner user checks a receipt for her own organisation."""
    person = await signed_in(request)
    if person is None or person.role != Role.PARTNER or person.partner_id is None:
        return None
    return f"partner:{person.partner_id}"


def check_receipt_form(
    form: dict[str, Part], jwks: dict[str, Any], audience: str | None, answer: Answer
) -> None:
    """Fill ``answer`` with the receipt's check; raises what the check refuses."""
    token = text_of(form, "receipt", proof.MAX_TOKEN) or text_of(
        form, "receipt_file", proof.MAX_TOKEN
    )
    if not token:
        answer.missing = True
        return
    checked = proof.check_receipt(token, jwks, audience=audience)
    # A field of the wrong shape is refused as ``malformed`` by ``proof.receipt_summary``.
    answer.receipt, answer.summary = checked, proof.receipt_summary(checked.claims)
    answer.promised = promised_of(answer.summary)


def earlier_of(form: dict[str, Part]) -> str | dict[str, Any] | None:
    """The earlier journal, if given: a whole export (JSON) or a signed head (a token)."""
    given = text_of(form, "earlier_file", EXPORT_MAX_BYTES) or text_of(
        form, "earlier", EXPORT_MAX_BYTES
    )
    if not given:
        return None
    if given.lstrip().startswith("{"):
        earlier = proof.parse_json(given)
        if not isinstance(earlier, dict):
            raise proof.Refused("malformed")
        return earlier
    if len(given) > proof.MAX_TOKEN:
        raise proof.Refused("malformed")
    return given


def check_journal_form(form: dict[str, Part], jwks: dict[str, Any], answer: Answer) -> None:
    """Fill ``answer`` with the export's check, then against the earlier journal if given;
    what the newer journal passed stays in ``answer`` when the earlier one is refused."""
    text = text_of(form, "export", EXPORT_MAX_BYTES)
    if not text:
        answer.missing = True
        return
    export = proof.parse_json(text)
    if not isinstance(export, dict):
        raise proof.Refused("malformed")
    answer.journal = proof.check_export(export, jwks)
    try:
        earlier = earlier_of(form)
        if earlier is not None:
            answer.journal = proof.check_export(export, jwks, earlier)
    except proof.Refused as refused:
        raise EarlierRefused(refused.reason, refused.seq) from None


async def check(request: Request) -> Response:
    """GET: the two forms. POST: one check, its answer on the same page, nothing kept."""
    if request.method == "GET":
        return page(request, Answer(""), {})
    form = await read_form(request)
    what = "journal" if form.get("what", Part()).data == b"journal" else "receipt"
    answer = Answer(what)
    wait = await throttle_of(request).check_wait(client_address(request))
    if wait:
        answer.wait = wait_message(wait)
        response = page(
            request, answer, {name: text_of_kept(form, name) for name in TEXT_FIELDS}, 429
        )
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        jwks = await signing.jwks()
        # A check reads up to megabytes of JSON: in a thread, two at a time, so that the pages
        # of everyone else keep their answers meanwhile.
        if what == "receipt":
            audience = await audience_of(request)
            await to_thread.run_sync(
                check_receipt_form, form, jwks, audience, answer, limiter=CHECKING
            )
        else:
            await to_thread.run_sync(check_journal_form, form, jwks, answer, limiter=CHECKING)
    except TooBig:
        answer.too_big = True
    except proof.Refused as refused:
        answer.refused, answer.seq = refused.reason, refused.seq
        # Whether the earlier journal is itself broken (its signature, its entries), rather
        # than another dossier's or no longer contained in the newer one.
        answer.about_earlier = isinstance(refused, EarlierRefused) and refused.reason not in {
            "dossier",
            "not_contained",
        }
    except RecursionError:
        # JSON nested deeper than the check can walk: not an export this portal made.
        answer.refused = "malformed"
    kept = {name: text_of_kept(form, name) for name in TEXT_FIELDS}
    status = 413 if answer.too_big else 422 if (answer.refused or answer.missing) else 200
    return page(request, answer, kept, status)


def text_of_kept(form: dict[str, Part], name: str) -> str:
    """What she pasted, given back after a refusal (files cannot be: browsers forbid it)."""
    part = form.get(name)
    if part is None or part.filename is not None or len(part.data) > proof.MAX_TOKEN:
        return ""
    return part.data.decode("utf-8", "replace")


def page(request: Request, answer: Answer, kept: dict[str, str], status: int = 200) -> Response:
    response = render(
        request,
        "proof/check.html",
        {
            "answer": answer,
            "kept": kept,
            "export_max_mb": EXPORT_MAX_BYTES // (1024 * 1024),
            "token_max_kb": proof.MAX_TOKEN // 1024,
        },
        status_code=status,
    )
    # What she checks may be hers alone: never kept by a browser or a proxy.
    response.headers["Cache-Control"] = "no-store"
    return response


routes = [Route(PATH, check, methods=["GET", "POST"], name="proof.check")]
