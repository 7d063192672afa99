"""What a first visit of each public page costs a phone: the page and all it fetches, gzipped.

A new visitor has nothing cached. Everything the page makes the browser fetch (stylesheets,
scripts, the icon, what a stylesheet imports) is fetched through the portal and counted as it
travels: static files as the portal sends them (gzipped once at start, ``portal.static_files``),
HTML gzipped as the reverse proxy in front of the portal compresses it on the fly. The total
must fit the first round trip of a slow connection.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from bench.sizes import CSS_IMPORT, CSS_URL, GZIP_LEVEL, HTML_GOAL, Addresses

# The first round trip (ten TCP segments, as for each page's HTML), here for all a first visit
# fetches.
BUDGET = HTML_GOAL
# The public pages, as a new visitor arrives on them: each is weighed with all it fetches.
# The request form's first step is its page without a form sent.
FIRST_VISITS = (
    "/",
    "/droits",
    "/urgence",
    "/donnees",
    "/connexion",
    "/demande",
    "/telephone",  # Using the portal on a shared phone.
)
KINDS = ("html", "css", "js", "other")


@dataclass(frozen=True)
class Fetched:
    url: str
    kind: str  # one of KINDS
    status: int
    wire_bytes: int  # what travels: gzipped where the portal or its proxy gzips it


@dataclass(frozen=True)
class FirstVisit:
    path: str
    fetched: tuple[Fetched, ...]
    third_party: tuple[str, ...]  # another site's addresses: reported, never fetched

    def bytes_of(self, kind: str) -> int:
        return sum(f.wire_bytes for f in self.fetched if f.kind == kind)

    @property
    def total(self) -> int:
        return sum(f.wire_bytes for f in self.fetched)

    @property
    def share(self) -> float:
        """The total over the budget: at most 1 fits the first round trip."""
        return self.total / BUDGET

    @property
    def failed(self) -> list[str]:
        wrong = [f for f in self.fetched if f.status != 200]
        return [f"{urlsplit(f.url).path} answered {f.status}" for f in wrong]

    @property
    def scripts(self) -> list[str]:
        """The scripts' names without their content hash: ``js/forms.js``."""
        return [plain_name(f.url) for f in self.fetched if f.kind == "js"]

    @property
    def ok(self) -> bool:
        return self.total <= BUDGET and not self.failed and not self.third_party


def plain_name(url: str) -> str:
    """``/static/js/forms.3f2a9c1b0d.js`` → ``js/forms.js``."""
    path = urlsplit(url).path.removeprefix("/static/")
    stem, _, suffix = path.rpartition(".")
    name, _, _digest = stem.rpartition(".")
    return f"{name}.{suffix}" if name else path


def wire_bytes(response: httpx.Response, raw: bytes) -> int:
    if response.headers.get("content-encoding") == "gzip":
        return len(raw)  # Sent gzipped by the portal: counted as it travels.
    if response.headers.get("content-type", "").startswith("text/html"):
        # The portal leaves its pages to the proxy, which gzips HTML on the fly.
        return len(gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0))
    return len(raw)  # Not worth compressing (the portal tried): sent as it is.


async def fetch(client: httpx.AsyncClient, url: str, kind: str) -> tuple[Fetched, bytes]:
    """GET ``url`` as a browser does on a first visit; the bytes on the wire and the content."""
    headers = {"Accept-Encoding": "gzip, deflate, br"}
    async with client.stream("GET", url, headers=headers) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    content = gzip.decompress(raw) if response.headers.get("content-encoding") == "gzip" else raw
    return Fetched(url, kind, response.status_code, wire_bytes(response, raw)), content


async def first_visit(client: httpx.AsyncClient, origin: str, path: str) -> FirstVisit:
    """``path`` as a new visitor loads it: the page, then every address it makes the browser
    fetch, and what its stylesheets import or point to."""
    client.cookies.clear()
    page, html = await fetch(client, urljoin(origin, path), "html")
    parser = Addresses()
    parser.feed(html.decode("utf-8", errors="replace"))
    pending = [(kind, urljoin(origin, address)) for kind, address in parser.found]
    fetched, third_party, seen = [page], [], set()
    while pending:
        kind, url = pending.pop(0)
        if url in seen or url.startswith("data:"):
            continue
        seen.add(url)
        if urlsplit(url).netloc != urlsplit(origin).netloc:
            third_party.append(url)
            continue
        resource, content = await fetch(client, url, kind)
        fetched.append(resource)
        if kind == "css":
            text = content.decode("utf-8", errors="replace")
            pending += [("css", urljoin(url, ref)) for ref in CSS_IMPORT.findall(text)]
            pending += [("other", urljoin(url, ref)) for ref in CSS_URL.findall(text)]
    return FirstVisit(path, tuple(fetched), tuple(third_party))


async def first_visits(
    client: httpx.AsyncClient, origin: str, paths: tuple[str, ...] = FIRST_VISITS
) -> list[FirstVisit]:
    return [await first_visit(client, origin, path) for path in paths]


def report(visits: list[FirstVisit]) -> tuple[list[str], list[str]]:
    """The table for people, and what missed the budget."""
    lines = [
        f"{'first visit, gzipped B':<24}"
        + "".join(f"{kind.upper():>7}" for kind in KINDS)
        + f"{'total':>8}{'/budget':>8}  scripts"
    ]
    missed = []
    for visit in visits:
        verdict = "OK" if visit.ok else "MISSED"
        if not visit.ok:
            problems = [*visit.failed, *visit.third_party] or [f"{visit.total:,} B"]
            missed.append(f"first visit of {visit.path}: {', '.join(problems)}")
        lines.append(
            f"{visit.path:<24}"
            + "".join(f"{visit.bytes_of(kind):>7,}" for kind in KINDS)
            + f"{visit.total:>8,}{visit.share:>8.2f}  {verdict} "
            + (" ".join(visit.scripts) or "none")
        )
        for problem in [*visit.failed, *(f"another site: {url}" for url in visit.third_party)]:
            lines.append(f"    {problem}")
    lines.append(
        f"budget: {BUDGET:,} B per first visit with all it fetches (/budget at most 1.00), all "
        "from the portal's own origin; HTML gzipped at level 6, as the proxy does on the fly"
    )
    return lines, missed
