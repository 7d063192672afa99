"""The named fields of a multipart body already read whole, parsed in memory.

Two readers need it: the CSRF layer (only the token, before any page reads the body) and the
public check page (what was pasted and the files, never spooled to disk: a file on disk would
be a copy of what she gave). Parts not asked for are skipped as they stream by.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header

# Longer is not a boundary a browser makes.
MAX_BOUNDARY = 200


@dataclass
class Part:
    data: bytes = b""
    # None for a field typed in the form; the file's name as sent for a file (maybe "").
    filename: str | None = None


def parts(
    body: bytes, content_type: str, wanted: Collection[str], limit: int | None = None
) -> dict[str, Part]:
    """The first part of each name in ``wanted``; at most ``limit`` bytes kept of each (the
    rest streams by). A broken body or boundary reads as no field at all."""
    _kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary", b"")
    if not boundary or len(boundary) > MAX_BOUNDARY:
        return {}
    found: dict[str, Part] = {}
    header = {"name": b"", "value": b""}
    current: list[Part | None] = [None]

    def header_field(data: bytes, start: int, end: int) -> None:
        header["name"] += data[start:end]

    def header_value(data: bytes, start: int, end: int) -> None:
        header["value"] += data[start:end]

    def header_end() -> None:
        if header["name"].lower() == b"content-disposition":
            _disposition, params = parse_options_header(header["value"])
            name = params.get(b"name", b"").decode("latin-1")
            if name in wanted and name not in found:
                filename = params.get(b"filename")
                found[name] = Part(
                    filename=None if filename is None else filename.decode("utf-8", "replace")
                )
                current[0] = found[name]
        header["name"] = header["value"] = b""

    def part_begin() -> None:
        current[0] = None

    def part_data(data: bytes, start: int, end: int) -> None:
        part = current[0]
        if part is not None and (limit is None or len(part.data) < limit):
            part.data += data[start:end]

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": part_begin,
            "on_header_field": header_field,
            "on_header_value": header_value,
            "on_header_end": header_end,
            "on_part_data": part_data,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except Exception:
        # python-multipart raises its own errors and ValueError on a broken body.
        return {}
    return found
