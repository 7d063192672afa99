"""Files for the document tests: real photos and PDFs, and every hostile kind we refuse."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

GPS_LATITUDE = (50, 50, 12)


def jpeg_with_gps(width: int = 300, height: int = 100, orientation: int = 6) -> bytes:
    """A JPEG whose EXIF says "turn me" and where it was taken, as a phone's camera writes."""
    image = Image.new("RGB", (width, height), (200, 30, 30))
    # A white band on the left, to see where it went once turned.
    for x in range(width // 10):
        for y in range(height):
            image.putpixel((x, y), (255, 255, 255))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"
    gps = {1: "N", 2: GPS_LATITUDE, 3: "E", 4: (4, 21, 7)}
    exif[0x8825] = gps
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), comment=b"secret comment")
    return out.getvalue()


def png(width: int = 40, height: int = 30, transparent: bool = False) -> bytes:
    mode = "RGBA" if transparent else "RGB"
    image = Image.new(mode, (width, height), (10, 120, 200, 100) if transparent else (10, 120, 200))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def pdf(extra: bytes = b"") -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R " + extra + b">> endobj\n"
        b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )


def pdf_with_object_stream(hidden: bytes) -> bytes:
    """A PDF whose objects sit in a compressed object stream, as modern writers make them."""
    packed = zlib.compress(b"4 0 " + hidden)
    return pdf(
        b">> endobj\n5 0 obj << /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length "
        + str(len(packed)).encode()
        + b" >>\nstream\n"
        + packed
        + b"\nendstream\nendobj\n6 0 obj << "
    )


def pixel_bomb(side: int = 30_000) -> bytes:
    """A small PNG whose header claims side x side pixels: decoding it would take gigabytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (side * 3 + 1) * 8)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'

# Every hostile file: (what it is, its name, its bytes). Each must be refused, nothing stored.
HOSTILE: list[tuple[str, str, bytes]] = [
    ("exe renamed jpg", "photo.jpg", b"MZ\x90\x00\x03" + b"\x00" * 200),
    ("html", "page.jpg", b"<!doctype html><script>alert(1)</script>"),
    ("svg", "dessin.svg", SVG),
    ("empty", "vide.jpg", b""),
    ("corrupt image", "casse.png", png()[:20] + b"\x00garbage" * 20),
    ("truncated jpeg", "coupe.jpg", jpeg_with_gps()[:-400]),
    ("pixel bomb", "bombe.png", pixel_bomb()),
    ("gif", "anime.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
    ("pdf polyglot html", "lettre.pdf", pdf(b"/Title (<html><script>alert(1)</script>) ")),
    (
        "pdf with javascript",
        "lettre.pdf",
        pdf(b"/AA << /O << /S /JavaScript /JS (app.alert(1)) >> >> "),
    ),
    ("pdf with hidden js name", "lettre.pdf", pdf(b"/OpenAction << /S /J#61vaScript >> ")),
    ("pdf with launch", "lettre.pdf", pdf(b"/OpenAction << /S /Launch /F (cmd.exe) >> ")),
    ("pdf with embedded file", "lettre.pdf", pdf(b"/Names << /EmbeddedFiles 4 0 R >> ")),
    ("pdf without end", "lettre.pdf", pdf()[:-8]),
    (
        "pdf with javascript in a compressed object stream",
        "lettre.pdf",
        pdf_with_object_stream(b"<< /S /JavaScript /JS (app.alert(1)) >>"),
    ),
    ("name with ../", "../../etc/passwd.jpg", jpeg_with_gps()),
    ("name with control characters", "photo\x00\x1b[31m.jpg", jpeg_with_gps()),
    ("name of 500 characters", "a" * 500 + ".jpg", jpeg_with_gps()),
]


def pdf_with_stream_dictionary(dictionary: bytes, content: bytes) -> bytes:
    """A PDF with one object stream whose dictionary and (already encoded) bytes are given."""
    return pdf(
        b">> endobj\n5 0 obj << "
        + dictionary
        + b" /Length "
        + str(len(content)).encode()
        + b" >>\nstream\n"
        + content
        + b"\nendstream\nendobj\n6 0 obj << "
    )


def pdf_with_many_object_streams(count: int) -> bytes:
    """A PDF of ``count`` small harmless object streams, each in its own object."""
    packed = zlib.compress(b"4 0 << /Type /Font >>")
    streams = b"".join(
        b"%d 0 obj << /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length %d >>\nstream\n"
        % (10 + number, len(packed))
        + packed
        + b"\nendstream\nendobj\n"
        for number in range(count)
    )
    return pdf(b">> endobj\n" + streams + b"9 0 obj << ")
