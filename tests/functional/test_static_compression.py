"""Static text files go gzipped to browsers that accept it, and plain to those that do not."""

from __future__ import annotations

import gzip
import re

import httpx
import pytest

from portal.static_files import accepts_gzip
from tests import factories


async def _assets(client: httpx.AsyncClient) -> list[str]:
    """A signed-in page's stylesheet and scripts: htmx is among them (public pages go without)."""
    await factories.youth()
    assert (await factories.sign_in(client, "lou")).status_code == 303
    page = (await client.get("/espace")).text
    return re.findall(r'(?:href|src)="(/static/[^"]+\.(?:css|js))"', page)


async def test_css_and_js_are_sent_gzipped_and_unchanged(client: httpx.AsyncClient) -> None:
    assets = await _assets(client)
    assert any("htmx-2.0" in a for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        plain = await client.get(asset, headers={"Accept-Encoding": "identity"})
        packed = await client.get(asset, headers={"Accept-Encoding": "gzip, deflate, br"})
        assert "content-encoding" not in plain.headers
        assert packed.headers["content-encoding"] == "gzip"
        for response in (plain, packed):
            assert response.status_code == 200
            assert response.headers["vary"] == "Accept-Encoding"
            assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert packed.headers["content-type"] == plain.headers["content-type"]
        # httpx decodes the body: what the browser ends up with is the file itself.
        assert packed.content == plain.content
        assert int(packed.headers["content-length"]) < len(plain.content)


async def test_htmx_weighs_what_a_gzipped_htmx_weighs(client: httpx.AsyncClient) -> None:
    htmx = next(a for a in await _assets(client) if "htmx-2.0" in a)
    response = await client.get(htmx, headers={"Accept-Encoding": "gzip"})
    size = int(response.headers["content-length"])
    assert size < 18_000
    assert size == len(gzip.compress(response.content, compresslevel=9, mtime=0))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", True),
        ("gzip, deflate, br, zstd", True),
        ("br;q=1.0, gzip;q=0.8", True),
        ("*", True),
        ("", False),
        ("identity", False),
        ("br", False),
        ("gzip;q=0", False),
        ("gzip;q=0.0, br", False),
        ("GZIP", True),
        ("gzip;q=nonsense", False),
        ("*;q=0, gzip", True),
        ("gzip;q=0, *", False),
    ],
)
def test_accept_encoding_is_read_with_its_qualities(header: str, expected: bool) -> None:
    assert accepts_gzip(header) is expected
