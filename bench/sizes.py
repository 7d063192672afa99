"""What a phone downloads: each page gzipped per language, and the CSS and JS of a first visit."""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx

from bench.targets import Prepared, Target

# zlib's default, and what most servers and proxies use when they compress on the fly.
GZIP_LEVEL = 6
# Ten TCP segments of 1,460 bytes: what a server may send before the phone's first ACK.
HTML_GOAL_BYTES = 14_600
JS_GOAL_BYTES = 20 * 1024
LANGUAGES = ("fr", "nl", "en")

# Link relations that make the browser fetch or contact the address.
LOADING_RELS = frozenset(
    {
        "stylesheet",
        "icon",
        "apple-touch-icon",
        "mask-icon",
        "manifest",
        "preload",
        "modulepreload",
        "prefetch",
        "preconnect",
        "dns-prefetch",
    }
)
# Elements and the attribute that makes the browser fetch something.
SOURCE_ATTRIBUTES = {
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "iframe": ("src",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "input": ("src",),
}
CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""", re.IGNORECASE)
CSS_IMPORT = re.compile(r"""@import\s+(?:url\(\s*)?['"]?([^'")\s;]+)""", re.IGNORECASE)


def gzipped_size(body: bytes) -> int:
    # mtime=0 so the same page always weighs the same.
    return len(gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0))


class PageParser(HTMLParser):
    """Collect the page's language, visible text and every address it makes the browser load."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang: str | None = None
        self.text: list[str] = []
        self.resources: list[tuple[str, str]] = []  # (kind: css | js | other, address)
        self.inline_css: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "html":
            self.lang = values.get("lang")
        elif tag == "link" and values.get("href"):
            rels = set(values.get("rel", "").lower().split())
            if rels & LOADING_RELS:
                as_ = values.get("as", "").lower()
                if "stylesheet" in rels or ("preload" in rels and as_ == "style"):
                    kind = "css"
                elif "modulepreload" in rels or ("preload" in rels and as_ == "script"):
                    kind = "js"
                else:
                    kind = "other"
                self.resources.append((kind, values["href"]))
        elif tag == "script":
            if values.get("src"):
                self.resources.append(("js", values["src"]))
            self._in = tag
        elif tag == "style":
            self._in = tag
        for attribute in SOURCE_ATTRIBUTES.get(tag, ()):
            value = values.get(attribute)
            if not value:
                continue
            addresses = (
                [part.split()[0] for part in value.split(",") if part.strip()]
                if attribute == "srcset"
                else [value]
            )
            self.resources.extend(("other", address) for address in addresses)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.inline_css.append(data)
        elif self._in is None and data.strip():
            self.text.append(data.strip())


@dataclass(frozen=True)
class PageSize:
    target: str
    path: str
    language: str
    status: int
    served_language: str | None
    raw_bytes: int
    gzip_bytes: int
    text: str

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.gzip_bytes <= HTML_GOAL_BYTES


@dataclass(frozen=True)
class Asset:
    kind: str
    url: str
    same_origin: bool
    status: int | None = None
    raw_bytes: int | None = None
    gzip_bytes: int | None = None


@dataclass(frozen=True)
class FirstVisit:
    page: str
    assets: list[Asset]

    def total(self, kind: str) -> int:
        return sum(asset.gzip_bytes or 0 for asset in self.assets if asset.kind == kind)

    @property
    def third_party(self) -> list[Asset]:
        return [asset for asset in self.assets if not asset.same_origin]

    @property
    def failed(self) -> list[Asset]:
        return [a for a in self.assets if a.same_origin and a.kind != "other" and a.status != 200]

    @property
    def js_ok(self) -> bool:
        return self.total("js") <= JS_GOAL_BYTES


async def page_sizes(
    client: httpx.AsyncClient, targets: list[tuple[Target, Prepared]]
) -> list[PageSize]:
    sizes = []
    for target, prepared in targets:
        for language in LANGUAGES:
            headers = prepared.with_cookies(lang=language).request_headers()
            response = await client.get(target.path, headers=headers)
            parser = PageParser()
            parser.feed(response.text)
            sizes.append(
                PageSize(
                    target=target.name,
                    path=target.path,
                    language=language,
                    status=response.status_code,
                    served_language=parser.lang,
                    raw_bytes=len(response.content),
                    gzip_bytes=gzipped_size(response.content),
                    text=" ".join(parser.text),
                )
            )
    return sizes


def untranslated(sizes: list[PageSize]) -> list[str]:
    """Pages whose words are the same in two languages: a catalogue is missing or not compiled."""
    found = []
    by_page: dict[str, dict[str, str]] = {}
    for size in sizes:
        by_page.setdefault(size.target, {})[size.language] = size.text
    for page, texts in by_page.items():
        same = [lang for lang in LANGUAGES[1:] if texts.get(lang) == texts.get(LANGUAGES[0])]
        if same:
            found.append(f"{page}: {', '.join(same)} reads the same as {LANGUAGES[0]}")
    return found


def _same_origin(url: str, origin: str) -> bool:
    parts, home = urlsplit(url), urlsplit(origin)
    if parts.scheme == "data":
        return True  # Inline, nothing is fetched.
    return (parts.scheme, parts.hostname, parts.port) == (home.scheme, home.hostname, home.port)


async def first_visit(client: httpx.AsyncClient, origin: str, path: str = "/") -> FirstVisit:
    """Load ``path`` as a new visitor would, then every stylesheet and script it names."""
    page_url = urljoin(origin, path)
    # A fresh client: a first visit carries no cookie.
    response = await client.get(page_url)
    response.raise_for_status()
    parser = PageParser()
    parser.feed(response.text)
    pending = [(kind, urljoin(page_url, ref)) for kind, ref in parser.resources]
    pending += _css_references("\n".join(parser.inline_css), page_url)
    assets: list[Asset] = []
    seen: set[str] = set()
    while pending:
        kind, url = pending.pop(0)
        if url in seen:
            continue
        seen.add(url)
        same_origin = _same_origin(url, origin)
        # Only our own CSS and JS are fetched; another site's address is reported, never called.
        if not same_origin or kind == "other" or url.startswith("data:"):
            assets.append(Asset(kind=kind, url=url, same_origin=same_origin))
            continue
        fetched = await client.get(url)
        assets.append(
            Asset(
                kind=kind,
                url=url,
                same_origin=True,
                status=fetched.status_code,
                raw_bytes=len(fetched.content),
                gzip_bytes=gzipped_size(fetched.content),
            )
        )
        if kind == "css" and fetched.status_code == 200:
            pending += _css_references(fetched.text, url)
    return FirstVisit(page=path, assets=assets)


def _css_references(css: str, base: str) -> list[tuple[str, str]]:
    imports = {urljoin(base, ref) for ref in CSS_IMPORT.findall(css)}
    others = {urljoin(base, match[1]) for match in CSS_URL.findall(css)} - imports
    return [("css", url) for url in sorted(imports)] + [("other", url) for url in sorted(others)]
