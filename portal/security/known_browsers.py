"""Known browsers: a signed cookie that says "this browser has signed in as this name before"."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from starlette.responses import Response

KNOWN_BROWSER_COOKIE = "__Host-known"
# Long-lived: the owner's own phone should stay known between two rare visits.
KNOWN_BROWSER_SECONDS = 400 * 24 * 3600
# A family tablet may be the way in of a few people; more names than this is no one's device.
MAX_NAMES = 4
_ENTRY = re.compile(r"([0-9a-f]{32})\.([0-9a-f]{64})")


def _mac(secret_key: str, browser: str, login: str) -> str:
    # A key of its own, so that no other HMAC of the portal can be replayed as this one.
    key = hmac.new(secret_key.encode(), b"known-browser", hashlib.sha256).digest()
    return hmac.new(key, f"{browser}\n{login}".encode(), hashlib.sha256).hexdigest()


def _entries(value: str | None) -> list[tuple[str, str]]:
    """The (browser id, mac) pairs of a cookie; anything malformed is ignored, never an error."""
    if not value or len(value) > MAX_NAMES * 100:
        return []
    found = (_ENTRY.fullmatch(part) for part in value.split("~")[:MAX_NAMES])
    return [(match.group(1), match.group(2)) for match in found if match]


def known_browser(secret_key: str, value: str | None, login: str) -> str | None:
    """The id this browser was given when it signed in as ``login``, if its cookie proves it.

    The cookie holds no name: only a random id per name and an HMAC binding it to the name,
    so a shared device's cookies tell no one who signed in there.
    """
    if not login:
        return None
    for browser, mac in _entries(value):
        if hmac.compare_digest(mac.encode(), _mac(secret_key, browser, login).encode()):
            return browser
    return None


def remembered(secret_key: str, value: str | None, login: str) -> str:
    """The cookie's new value once ``login`` signed in here: that name first, the others kept."""
    entries = _entries(value)
    browser = known_browser(secret_key, value, login)
    if browser is None:
        browser = secrets.token_hex(16)
        entry = (browser, _mac(secret_key, browser, login))
    else:
        entry = next(e for e in entries if e[0] == browser)
    others = [e for e in entries if e[0] != browser]
    return "~".join(f"{b}.{m}" for b, m in [entry, *others][:MAX_NAMES])


def remember_browser(response: Response, secret_key: str, value: str | None, login: str) -> None:
    """Mark this browser as one ``login`` signs in from (nothing happens without a name)."""
    if not login:
        return
    response.set_cookie(
        KNOWN_BROWSER_COOKIE,
        remembered(secret_key, value, login),
        max_age=KNOWN_BROWSER_SECONDS,
        path="/",
        secure=True,
        httponly=True,
        samesite="lax",
    )
