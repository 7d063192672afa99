"""Documents: a photo or a PDF added to a message or a step, sealed with the dossier's key.

A photo is re-encoded (turned upright, every metadata dropped, at most 2,000 px): what is
kept is pixels, never what the phone wrote beside them (GPS, device, time). A PDF is kept as
sent, once it is a PDF and holds nothing that runs. Anything else is refused before a byte is
stored.
"""

from __future__ import annotations

import functools
import io
import re
import unicodedata
import warnings
import zlib
from collections import deque
from dataclasses import dataclass
from datetime import datetime

import anyio
from PIL import Image, ImageOps, UnidentifiedImageError

from portal import keys
from portal.domain import journal
from portal.domain.access import readable_dossier
from portal.domain.errors import Invalid, NotAllowed, NotFound
from portal.domain.forms import acting_once
from portal.domain.journal import Event
from portal.i18n import lazy as _l
from portal.models import (
    Action,
    Category,
    Document,
    Dossier,
    DossierStatus,
    Message,
    Person,
    Share,
    SharedDocument,
)
from portal.text import clean_multiline

LONGEST_SIDE = 2000
# A phone's camera makes 12 to 50 megapixels; a file claiming far more is a bomb, refused
# from its header before any pixel is decoded. A JPEG is decoded at a reduced scale (a
# fraction of its pixels); a PNG or a WebP is decoded whole (4 bytes a pixel), so its cap is
# lower: 25 megapixels, some 100 MB while it is turned into a photo of 2,000 px.
MAX_PIXELS = 60_000_000
MAX_PIXELS_DECODED_WHOLE = 25_000_000
# Checking a file is work for the processor: done beside the event loop, never on it, and
# never more than two at once, so that one upload does not stall everybody's pages.
CHECKS_AT_ONCE = 2
LONGEST_NAME = 200
MAX_MESSAGE = 4000
PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
# What a PDF may not hold: scripts, programs to start, files inside it, players, forms that
# send what was typed, and links into other files (all rare in a letter). Links to web pages
# (/URI) and the view it opens on (/OpenAction) stay allowed: ordinary letters have both, and
# what an /OpenAction would run (/JavaScript, /Launch...) is refused by its own name.
FORBIDDEN_PDF_NAMES = frozenset(
    {
        "JavaScript",
        "JS",
        "Launch",
        "EmbeddedFile",
        "EmbeddedFiles",
        "RichMedia",
        "XFA",
        "SubmitForm",
        "ImportData",
        "GoToE",
        "GoToR",
    }
)
PDF_NAME = re.compile(rb"/([^\s/<>\[\]()%{}]+)")
# The names worth a closer look: a forbidden one as written, or any that hides letters as #xx.
SUSPECT_NAME = re.compile(
    rb"/((?:"
    + b"|".join(re.escape(name.encode()) for name in sorted(FORBIDDEN_PDF_NAMES))
    + rb")(?![^\s/<>\[\]()%{}])|[^\s/<>\[\]()%{}]*#[^\s/<>\[\]()%{}]*)"
)
# A PDF that a browser would also read as a web page (a polyglot) is no document of ours.
MARKUP = re.compile(rb"<\s*(?:!doctype|html|head|body|script|iframe|svg|object|embed)\b", re.I)
STREAM_START = re.compile(rb"(?<!end)stream\r?\n")
OBJECT_START = re.compile(rb"\d+\s+\d+\s+obj\b")
FILTER = re.compile(rb"/Filter\s*(/[^\s/<>\[\]()%{}]+|\[[^\]]*\])")
LENGTH = re.compile(rb"/Length\s+(\d{1,9})(?!\s+\d+\s+R)")
NAME_CODE = re.compile(rb"#([0-9a-fA-F]{2})")
OBJECT_STREAMS_BUDGET = 20 * 1024 * 1024
# A letter of a hundred pages holds a few dozen object streams; thousands are an attack.
MAX_OBJECT_STREAMS = 1000
PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
NAME_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f/\\]")


@dataclass(frozen=True)
class Checked:
    """A file that passed: the bytes to store and what to show of them."""

    data: bytes
    media_type: str
    name: str
    pages: int = 0
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    per_dossier: int


@dataclass(frozen=True)
class Listed:
    """A document as a page lists it: no bytes, its name opened."""

    id: int
    message_id: int | None
    action_id: int | None
    media_type: str
    size: int
    name: str
    pages: int
    created_at: datetime

    @property
    def is_pdf(self) -> bool:
        return self.media_type == PDF


def _refuse(message: object) -> Invalid:
    return Invalid("file", str(message))


def check_name(name: str) -> str:
    """The name as sent, without its extension (ours is put back). Refused when it tries to
    be a path, hides control characters, or is longer than any real file's."""
    name = unicodedata.normalize("NFC", name or "")
    if len(name) > LONGEST_NAME or NAME_CONTROLS.search(name) or ".." in name:
        raise Invalid("file", _l("This file's name cannot be used. Rename it and try again."))
    stem = name.rsplit(".", 1)[0].strip() if "." in name else name.strip()
    return stem or "document"


def check_file(data: bytes, name: str, max_bytes: int) -> Checked:
    """A photo re-encoded, or a PDF checked; anything else refused with a reason in words."""
    stem = check_name(name)
    if not data:
        raise Invalid("file", _l("This file is empty."))
    if len(data) > max_bytes:
        raise Invalid(
            "file", _l("This file is too big. At most %(size)s MB.") % {"size": max_bytes >> 20}
        )
    if data.startswith(b"%PDF-"):
        return _check_pdf(data, stem)
    return _reencode(data, stem)


def _check_pdf(data: bytes, stem: str) -> Checked:
    if b"%%EOF" not in data[-1024:]:
        raise Invalid("file", _l("This PDF is damaged or incomplete."))
    if MARKUP.search(data):
        raise Invalid("file", _l("This file is not a plain PDF. It cannot be added."))
    for part in (data, *_object_streams(data)):
        for match in SUSPECT_NAME.finditer(part):
            if _unhidden(match[1]).decode("latin-1") in FORBIDDEN_PDF_NAMES:
                raise Invalid(
                    "file",
                    _l("This PDF holds a script, a program or other files. It cannot be added."),
                )
    return Checked(data, PDF, stem + ".pdf", pages=max(1, len(PDF_PAGE.findall(data))))


def _unhidden(name: bytes) -> bytes:
    """A name may hide its letters as #xx codes: /J#61vaScript is /JavaScript."""
    if b"#" not in name:
        return name
    return NAME_CODE.sub(lambda m: bytes([int(m.group(1), 16)]), name)


def _cannot_check() -> Invalid:
    return Invalid("file", _l("This PDF cannot be checked: save it again as a plain PDF."))


def _object_streams(data: bytes) -> list[bytes]:
    """The compressed object streams of a PDF, opened: objects (and their /JS) can hide there.

    Each stream's dictionary is read whole, from its object's ``obj`` to ``stream``, and only
    the stream's own bytes (up to its /Length or ``endstream``) are inflated: the work grows
    with the file, never with its square. An object stream we cannot open (a chain of filters,
    a predictor) is refused rather than let through unread, as are more than
    ``MAX_OBJECT_STREAMS`` of them. Opened within a budget, so that a small PDF cannot make us
    inflate gigabytes.
    """
    view = memoryview(data)
    found: list[bytes] = []
    budget = OBJECT_STREAMS_BUDGET
    position = 0
    for start in STREAM_START.finditer(data):
        if start.start() < position:
            continue  # inside the bytes of the stream before
        # The last "N 0 obj" before this stream opens its dictionary.
        last = deque(OBJECT_START.finditer(data, position, start.start()), maxlen=1)
        opening = last[0] if last else None
        header = _unhidden(data[opening.start() if opening else position : start.start()])
        # The stream ends at its "endstream": what lies beyond is read as the rest of the file.
        position = data.find(b"endstream", start.end())
        if position < 0:
            position = len(data)
        if b"/ObjStm" not in header:
            continue
        if len(found) >= MAX_OBJECT_STREAMS:
            raise _cannot_check()
        filters = FILTER.search(header)
        if filters is None:
            continue  # not compressed: its objects are read with the rest of the file
        if PDF_NAME.findall(filters[1]) != [b"FlateDecode"] or b"/DecodeParms" in header:
            raise _cannot_check()
        # Up to its /Length when that says more (the compressed bytes may hold "endstream"),
        # fed in pieces: inflating stops where the compressed data does.
        length = LENGTH.search(header)
        end = max(position, start.end() + int(length[1]) if length else 0)
        opened = _inflated(view[start.end() : min(end, len(data))], budget)
        budget -= len(opened)
        found.append(opened)
        if budget <= 0:
            raise Invalid("file", _l("This PDF is damaged or incomplete."))
    return found


INFLATE_PIECE = 64 * 1024


def _inflated(compressed: memoryview, budget: int) -> bytes:
    """The bytes of one deflate stream, at most ``budget`` of them; unreadable is refused."""
    inflater = zlib.decompressobj()
    out: list[bytes] = []
    size = 0
    try:
        for offset in range(0, len(compressed), INFLATE_PIECE):
            piece = inflater.decompress(compressed[offset : offset + INFLATE_PIECE], budget - size)
            out.append(piece)
            size += len(piece)
            if inflater.eof or size >= budget:
                break
    except zlib.error:
        raise _cannot_check() from None
    return b"".join(out)


def _reencode(data: bytes, stem: str) -> Checked:
    not_a_photo = _l("This file is not a photo (JPEG, PNG or WebP) or a PDF.")
    try:
        with warnings.catch_warnings():
            # A bomb of pixels is a refusal, never a warning in a log.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            sent = Image.open(io.BytesIO(data), formats=["JPEG", "PNG", "WEBP"])
            width, height = sent.size
            cap = MAX_PIXELS if sent.format == "JPEG" else MAX_PIXELS_DECODED_WHOLE
            if width * height > cap or width < 1 or height < 1:
                raise _refuse(_l("This photo is far too large in pixels. It cannot be added."))
            if sent.format == "JPEG":
                # Decoded at a reduced scale when it is large: far less memory for the same result.
                sent.draft("RGB", (LONGEST_SIDE, LONGEST_SIDE))
            sent.load()
            image = ImageOps.exif_transpose(sent) or sent
            image.thumbnail((LONGEST_SIDE, LONGEST_SIDE), Image.Resampling.LANCZOS)
            transparent = image.has_transparency_data
            mode = "RGBA" if transparent else "RGB"
            image = image.convert(mode)
            # A new image holds the pixels only: no EXIF, GPS, XMP, ICC profile or comment.
            clean = Image.frombytes(mode, image.size, image.tobytes())
            out = io.BytesIO()
            if transparent:
                clean.save(out, "PNG", optimize=True)
            else:
                clean.save(out, "JPEG", quality=85, optimize=True)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _refuse(_l("This photo is far too large in pixels. It cannot be added.")) from error
    except UnidentifiedImageError as error:
        raise _refuse(not_a_photo) from error
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        # Truncated, corrupt, or a decoder that gave up: the same answer for all.
        raise _refuse(_l("This photo is damaged or incomplete.")) from error
    media_type = PNG if transparent else JPEG
    extension = ".png" if transparent else ".jpg"
    return Checked(
        out.getvalue(), media_type, stem + extension, width=clean.width, height=clean.height
    )


_checks = anyio.CapacityLimiter(CHECKS_AT_ONCE)


async def checked_apart(data: bytes, name: str, max_bytes: int) -> Checked:
    """``check_file`` in a worker thread, at most ``CHECKS_AT_ONCE`` at a time."""
    check = functools.partial(check_file, data, name, max_bytes)
    return await anyio.to_thread.run_sync(check, limiter=_checks)


async def add_document(
    author: Person,
    reference: str,
    data: bytes,
    name: str,
    limits: Limits,
    *,
    body: str = "",
    action_id: int | None = None,
    form_key: str | None = None,
) -> Document:
    """Add a file to a step of the dossier, or to a new message (with ``body`` as its words).

    Only the dossier's subject and its assigned workers can; nothing is stored on a refusal.
    """
    dossier = await readable_dossier(author, reference)
    text = clean_multiline(body)
    if len(text) > MAX_MESSAGE:
        raise Invalid("body", _l("At most 4,000 characters."))
    if dossier.status is DossierStatus.ENDED:
        raise NotAllowed("the help has ended")
    if (
        action_id is not None
        and not await Action.filter(id=action_id, dossier_id=dossier.id).exists()
    ):
        raise Invalid("action", _l("Choose one of the steps of this dossier."))
    checked = await checked_apart(data, name, limits.max_bytes)
    async with acting_once(form_key):
        locked = await Dossier.select_for_update().get(id=dossier.id)
        if await Document.filter(dossier_id=locked.id).count() >= limits.per_dossier:
            raise Invalid(
                "file",
                _l("This dossier already holds %(count)s files, the most it can.")
                % {"count": limits.per_dossier},
            )
        box = keys.box(locked)
        message_id = None
        if action_id is None:
            message = await Message.create(
                dossier_id=locked.id, author_id=author.id, body=box.seal(text, "message.body")
            )
            message_id = message.id
            await journal.record(locked, Event.MESSAGE_SENT, author, {"message": message.id})
        document = await Document.create(
            dossier_id=locked.id,
            message_id=message_id,
            action_id=action_id,
            author_id=author.id,
            media_type=checked.media_type,
            size=len(checked.data),
            pages=checked.pages,
            width=checked.width,
            height=checked.height,
            content=box.seal_bytes(checked.data, "document.content"),
            name=box.seal(checked.name, "document.name"),
        )
        details: dict[str, int] = {"document": document.id}
        if action_id is not None:
            details["action"] = action_id
        await journal.record(locked, Event.DOCUMENT_ADDED, author, details)
    return document


async def listed(dossier: Dossier) -> list[Listed]:
    """The documents of a dossier, without their bytes, in one query."""
    if dossier.wrapped_key is None:
        return []
    box = keys.box(dossier)
    rows = (
        await Document.filter(dossier_id=dossier.id)
        .order_by("created_at", "id")
        .values(
            "id", "message_id", "action_id", "media_type", "size", "name", "pages", "created_at"
        )
    )
    return [
        Listed(
            id=row["id"],
            message_id=row["message_id"],
            action_id=row["action_id"],
            media_type=row["media_type"],
            size=row["size"],
            name=box.open(row["name"], "document.name"),
            pages=row["pages"],
            created_at=row["created_at"],
        )
        for row in rows
    ]


@dataclass(frozen=True)
class Opened:
    name: str
    media_type: str
    data: bytes


def opened(dossier: Dossier, document: Document) -> Opened:
    box = keys.box(dossier)
    return Opened(
        box.open(document.name, "document.name"),
        document.media_type,
        box.open_bytes(bytes(document.content), "document.content"),
    )


async def read_document(reader: Person, reference: str, document_id: int) -> Opened:
    """A document of a dossier this person may read. A worker's download is a look, journaled."""
    dossier = await readable_dossier(reader, reference)
    document = await Document.filter(id=document_id, dossier_id=dossier.id).first()
    if document is None or dossier.wrapped_key is None:
        raise NotFound("no such document")
    if reader.id != dossier.subject_id:
        await journal.record_look(dossier, Event.DOCUMENT_READ, reader, {"document": document.id})
    return opened(dossier, document)


@dataclass(frozen=True)
class Exported:
    listed: Listed
    data: bytes


async def exported(dossier: Dossier) -> list[Exported]:
    """Every document of the dossier with its bytes opened, for its subject's export."""
    box = keys.box(dossier)
    rows = await Document.filter(dossier_id=dossier.id).order_by("created_at", "id")
    return [
        Exported(
            Listed(
                id=row.id,
                message_id=row.message_id,
                action_id=row.action_id,
                media_type=row.media_type,
                size=row.size,
                name=box.open(row.name, "document.name"),
                pages=row.pages,
                created_at=row.created_at,
            ),
            box.open_bytes(bytes(row.content), "document.content"),
        )
        for row in rows
    ]


# --- Shared with a partner, under a consent that covers "documents" ------------------------------


async def chosen(dossier: Dossier, wanted: list[Category], ids: list[int]) -> list[Document]:
    """The documents a worker picked for a share: of this dossier only, at least one when the
    share is of documents, none when it is not (a forged id of another dossier is refused)."""
    if Category.DOCUMENTS not in wanted:
        return []
    found = await Document.filter(dossier_id=dossier.id, id__in=ids).order_by("id")
    if not found or len(found) != len(set(ids)):
        raise Invalid("documents", _l("Choose the documents to pass on."))
    return found


def named_in_share(dossier: Dossier, documents: list[Document]) -> str:
    """What the share's text says of its documents: their names (the files go beside it)."""
    box = keys.box(dossier)
    names = "\n".join(f"- {box.open(d.name, 'document.name')}" for d in documents)
    return f"[{_l('Documents')}]\n{names}"


async def share_documents(
    dossier: Dossier, share: Share, documents: list[Document], worker: Person
) -> None:
    """Link the documents to the share and journal it, in the share's own transaction."""
    if not documents:
        return
    await SharedDocument.bulk_create(
        [SharedDocument(share_id=share.id, document_id=d.id) for d in documents]
    )
    await journal.record(
        dossier,
        Event.DOCUMENT_SHARED,
        worker,
        {"share": share.id, "partner": share.partner_id, "documents": [d.id for d in documents]},
    )


async def of_share(share: Share, dossier: Dossier) -> list[Listed]:
    """The documents that went with a share, named, without their bytes (one query)."""
    ids = {link.document_id for link in await SharedDocument.filter(share_id=share.id)}
    return [d for d in await listed(dossier) if d.id in ids] if ids else []


async def in_share(share: Share, dossier: Dossier, document_id: int) -> Opened:
    """One document of a share, opened; anything not sent with that share is not found."""
    link = await SharedDocument.filter(share_id=share.id, document_id=document_id).first()
    document = await Document.filter(id=document_id, dossier_id=dossier.id).first()
    if link is None or document is None or dossier.wrapped_key is None:
        raise NotFound("not in this share")
    return opened(dossier, document)
