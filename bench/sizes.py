"""What a phone downloads: each page's HTML gzipped, in each language (see also bench.weight)."""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from html.parser import HTMLParser

import httpx

from bench.targets import cookie_header

# zlib's default, and what most servers and proxies use when they compress on the fly.
GZIP_LEVEL = 6
# Ten TCP segments of 1,460 bytes: what a server may send before the phone's first ACK.
HTML_GOAL = 14_600
LANGUAGES = ("fr", "nl", "en")
PUBLIC_PAGES = ("/", "/droits", "/donnees", "/urgence")
CSS_IMPORT = re.compile(r"""@import\s+(?:url\(\s*)?['"]?([^'")\s;]+)""", re.IGNORECASE)
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)""", re.IGNORECASE)


def gzipped(body: bytes) -> int:
    return len(gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0))


class Addresses(HTMLParser):
    """The page's language, and every address it makes the browser fetch, by kind."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.found: list[tuple[str, str]] = []  # (css | js | other, address)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "html":
            self.lang = values.get("lang")
        elif tag == "link" and values.get("href"):
            kind = "css" if "stylesheet" in values.get("rel", "").split() else "other"
            self.found.append((kind, values["href"]))
        elif tag == "script" and values.get("src"):
            self.found.append(("js", values["src"]))
        elif values.get("src"):
            self.found.append(("other", values["src"]))


@dataclass(frozen=True)
class PageSize:
    path: str
    language: str
    status: int
    served_language: str | None
    gzip_bytes: int

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.gzip_bytes <= HTML_GOAL


async def weigh(client: httpx.AsyncClient, path: str, cookies: dict[str, str]) -> list[PageSize]:
    """The page in each language, as a browser that chose it sends its ``lang`` cookie."""
    sizes = []
    for language in LANGUAGES:
        client.cookies.clear()
        page = await client.get(path, headers=cookie_header({**cookies, "lang": language}))
        parser = Addresses()
        parser.feed(page.text)
        sizes.append(PageSize(path, language, page.status_code, parser.lang, gzipped(page.content)))
    return sizes
