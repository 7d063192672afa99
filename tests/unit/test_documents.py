"""Documents: photos re-encoded (upright, no metadata, bounded), PDFs checked, the rest refused."""

from __future__ import annotations

import io
import threading
import zlib

import pytest
from PIL import Image

from portal.domain import documents, ending
from portal.domain.actions import record_action
from portal.domain.errors import Invalid, NotFound
from portal.models import ActionKind, Document, Message, Role, Theme
from tests import factories, files

TEN_MB = 10 * 1024 * 1024
LIMITS = documents.Limits(max_bytes=TEN_MB, per_dossier=20)


def test_a_photo_is_turned_upright_and_loses_its_gps_and_comments() -> None:
    sent = files.jpeg_with_gps(300, 100, orientation=6)
    assert b"PhoneMaker" in sent and b"secret comment" in sent
    checked = documents.check_file(sent, "IMG_0001.JPG", TEN_MB)
    assert checked.media_type == "image/jpeg"
    assert checked.name == "IMG_0001.jpg"
    image = Image.open(io.BytesIO(checked.data))
    # Orientation 6 means "turn 90° clockwise to show": 300 x 100 becomes 100 x 300.
    assert image.size == (100, 300) == (checked.width, checked.height)
    # The white band that was on the left is now at the top.
    assert image.getpixel((50, 5))[0] > 240 and image.getpixel((50, 290))[1] < 80
    assert not image.getexif()
    assert "exif" not in image.info and "icc_profile" not in image.info
    assert "comment" not in image.info
    assert b"PhoneMaker" not in checked.data and b"secret comment" not in checked.data


def test_a_large_photo_is_at_most_2000_pixels_long() -> None:
    checked = documents.check_file(files.jpeg_with_gps(4000, 1000, 1), "grand.jpg", TEN_MB)
    assert (checked.width, checked.height) == (2000, 500)


def test_a_transparent_image_stays_a_png() -> None:
    checked = documents.check_file(files.png(transparent=True), "logo.png", TEN_MB)
    assert checked.media_type == "image/png" and checked.name == "logo.png"


def test_a_pdf_is_kept_as_sent() -> None:
    sent = files.pdf()
    checked = documents.check_file(sent, "Lettre école.pdf", TEN_MB)
    assert checked.data == sent
    assert (checked.media_type, checked.name, checked.pages) == (
        "application/pdf",
        "Lettre école.pdf",
        1,
    )


@pytest.mark.parametrize(("what", "name", "data"), files.HOSTILE, ids=[h[0] for h in files.HOSTILE])
def test_every_hostile_file_is_refused_with_words(what: str, name: str, data: bytes) -> None:
    with pytest.raises(Invalid) as refusal:
        documents.check_file(data, name, TEN_MB)
    assert refusal.value.field == "file"
    assert str(refusal.value.message)


def test_a_pdf_with_a_harmless_object_stream_is_taken() -> None:
    sent = files.pdf_with_object_stream(b"<< /Type /Font /Subtype /Type1 >>")
    assert documents.check_file(sent, "ok.pdf", TEN_MB).data == sent


def test_a_file_over_the_limit_is_refused() -> None:
    with pytest.raises(Invalid, match="too big"):
        documents.check_file(files.pdf() + b"%" * 2000, "gros.pdf", 1000)


async def _setup():  # type: ignore[no-untyped-def]
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service, "mots", Theme.SCHOOL)
    return dossier, lou, amina


async def test_a_document_is_sealed_and_erasure_leaves_no_row(db: str) -> None:
    dossier, lou, amina = await _setup()
    sent = files.pdf()
    document = await documents.add_document(
        lou, dossier.reference, sent, "lettre.pdf", LIMITS, body="Voici la lettre"
    )
    row = await Document.get(id=document.id)
    assert sent not in bytes(row.content) and b"lettre" not in row.name.encode()
    assert row.message_id is not None
    opened = await documents.read_document(amina, dossier.reference, document.id)
    assert opened.data == sent and opened.name == "lettre.pdf"
    await ending.end_help(lou, dossier.reference)
    await ending.erase(lou, dossier.reference)
    assert not await Document.filter(dossier_id=dossier.id).exists()
    with pytest.raises(NotFound):
        await documents.read_document(lou, dossier.reference, document.id)


async def test_a_step_takes_a_document_and_a_forged_step_is_refused(db: str) -> None:
    dossier, lou, amina = await _setup()
    step = await record_action(amina, dossier.reference, ActionKind.LISTENING, "On a parlé")
    document = await documents.add_document(
        amina, dossier.reference, files.png(), "p.png", LIMITS, action_id=step.id
    )
    assert (await Document.get(id=document.id)).action_id == step.id
    other_youth = await factories.youth("noa", "Noa")
    other = await factories.followed_dossier(amina, other_youth, dossier.service, "x", Theme.FAMILY)
    foreign = await record_action(amina, other.reference, ActionKind.LISTENING, "Autre")
    with pytest.raises(Invalid):
        await documents.add_document(
            lou, dossier.reference, files.png(), "p.png", LIMITS, action_id=foreign.id
        )
    assert await Document.filter(dossier_id=dossier.id).count() == 1


async def test_a_refused_file_stores_nothing_not_even_its_message(db: str) -> None:
    dossier, lou, _amina = await _setup()
    messages = await Message.filter(dossier_id=dossier.id).count()
    for _what, name, data in files.HOSTILE:
        with pytest.raises(Invalid):
            await documents.add_document(lou, dossier.reference, data, name, LIMITS, body="x")
    assert await Document.all().count() == 0
    assert await Message.filter(dossier_id=dossier.id).count() == messages


async def test_a_dossier_holds_at_most_its_limit(db: str) -> None:
    dossier, lou, _amina = await _setup()
    limits = documents.Limits(max_bytes=TEN_MB, per_dossier=3)
    for number in range(3):
        await documents.add_document(lou, dossier.reference, files.png(), f"{number}.png", limits)
    with pytest.raises(Invalid, match="already holds"):
        await documents.add_document(lou, dossier.reference, files.png(), "4.png", limits)
    assert await Document.filter(dossier_id=dossier.id).count() == 3


async def test_nobody_else_reads_a_document(db: str) -> None:
    dossier, lou, amina = await _setup()
    document = await documents.add_document(lou, dossier.reference, files.png(), "p.png", LIMITS)
    colleague = await factories.staff("marc", service_=dossier.service)
    admin = await factories.staff("adm", Role.ADMIN, service_=dossier.service)
    for person in (colleague, admin, await factories.operator(), await factories.youth("noa")):
        with pytest.raises(NotFound):
            await documents.read_document(person, dossier.reference, document.id)
    del amina


def test_a_webp_photo_is_taken_and_stored_as_a_jpeg() -> None:
    out = io.BytesIO()
    Image.new("RGB", (50, 40), (1, 2, 3)).save(out, "WEBP")
    checked = documents.check_file(out.getvalue(), "chat.webp", TEN_MB)
    assert (checked.media_type, checked.name) == ("image/jpeg", "chat.jpg")
    assert Image.open(io.BytesIO(checked.data)).format == "JPEG"


def test_the_pixel_bomb_is_told_as_such() -> None:
    with pytest.raises(Invalid) as refusal:
        documents.check_file(files.pixel_bomb(), "bombe.png", TEN_MB)
    assert "pixels" in str(refusal.value.message)


JS = b"<< /S /JavaScript /JS (app.alert(1)) >>"
CANNOT_CHECK = "cannot be checked"


def test_javascript_in_an_object_stream_whose_name_sits_far_from_its_stream_is_refused() -> None:
    packed = zlib.compress(b"4 0 " + JS)
    padded = b"/Type /ObjStm /Padding (" + b"x" * 2000 + b") /N 1 /First 4 /Filter /FlateDecode"
    sent = files.pdf_with_stream_dictionary(padded, packed)
    with pytest.raises(Invalid, match="script"):
        documents.check_file(sent, "lettre.pdf", TEN_MB)


def test_an_object_stream_under_a_chain_of_filters_cannot_be_checked() -> None:
    packed = zlib.compress(b"4 0 " + JS).hex().encode() + b">"
    chained = b"/Type /ObjStm /N 1 /First 4 /Filter [/ASCIIHexDecode /FlateDecode]"
    with pytest.raises(Invalid, match=CANNOT_CHECK):
        documents.check_file(files.pdf_with_stream_dictionary(chained, packed), "l.pdf", TEN_MB)
    # Even a harmless one: what cannot be opened cannot be vouched for.
    harmless = zlib.compress(b"4 0 << /Type /Font >>").hex().encode() + b">"
    with pytest.raises(Invalid, match=CANNOT_CHECK):
        documents.check_file(files.pdf_with_stream_dictionary(chained, harmless), "l.pdf", TEN_MB)


def test_an_object_stream_named_in_hidden_letters_is_opened_too() -> None:
    packed = zlib.compress(b"4 0 " + JS)
    hidden = b"/Type /Obj#53tm /N 1 /First 4 /Filter /Fl#61teDecode"
    with pytest.raises(Invalid, match="script"):
        documents.check_file(files.pdf_with_stream_dictionary(hidden, packed), "l.pdf", TEN_MB)


@pytest.mark.parametrize("action", ["SubmitForm", "ImportData", "GoToE", "GoToR"])
def test_actions_that_send_or_open_other_files_are_refused(action: str) -> None:
    sent = files.pdf(b"/AA << /O << /S /" + action.encode() + b" /F (x) >> >> ")
    with pytest.raises(Invalid, match="script"):
        documents.check_file(sent, "lettre.pdf", TEN_MB)


def test_links_and_an_open_view_are_ordinary_in_a_letter() -> None:
    sent = files.pdf(
        b"/OpenAction [3 0 R /Fit] /Annots [<< /A << /S /URI /URI (https://example.org) >> >>] "
    )
    assert documents.check_file(sent, "lettre.pdf", TEN_MB).data == sent


def test_each_object_stream_inflates_only_its_own_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = files.pdf_with_many_object_streams(300)
    given: list[int] = []
    real = zlib.decompressobj

    class Counting:
        def __init__(self) -> None:
            self.inflater = real()

        def decompress(self, data: bytes, max_length: int = 0) -> bytes:
            given.append(len(data))
            return self.inflater.decompress(data, max_length)

        @property
        def eof(self) -> bool:
            return self.inflater.eof

    monkeypatch.setattr(documents.zlib, "decompressobj", Counting)
    documents.check_file(sent, "lettre.pdf", TEN_MB)
    assert len(given) == 300
    # Each stream is given its own bytes only, never the rest of the file behind it.
    assert sum(given) < len(sent)


def test_more_object_streams_than_any_letter_holds_cannot_be_checked() -> None:
    assert documents.check_file(files.pdf_with_many_object_streams(1000), "ok.pdf", TEN_MB)
    with pytest.raises(Invalid, match=CANNOT_CHECK):
        documents.check_file(files.pdf_with_many_object_streams(1001), "l.pdf", TEN_MB)


def test_a_png_of_36_megapixels_is_refused_from_its_header() -> None:
    with pytest.raises(Invalid, match="far too large in pixels"):
        documents.check_file(files.pixel_bomb(6000), "bombe.png", TEN_MB)


async def test_the_file_is_checked_beside_the_event_loop_two_at_most(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    real = documents.check_file

    def watched(data: bytes, name: str, max_bytes: int) -> documents.Checked:
        seen.append(threading.get_ident())
        return real(data, name, max_bytes)

    monkeypatch.setattr(documents, "check_file", watched)
    dossier, lou, _amina = await _setup()
    await documents.add_document(lou, dossier.reference, files.png(), "p.png", LIMITS)
    assert seen and seen[0] != threading.get_ident()
    assert documents._checks.total_tokens == 2
