"""A request's cookies are read once, and a garbled pair spoils nothing else."""

from __future__ import annotations

from starlette.types import Scope

from portal.security.cookies import cookies_of


def _scope(*headers: bytes) -> Scope:
    return {"type": "http", "headers": [(b"cookie", value) for value in headers]}


def test_cookies_are_parsed_once_and_kept_in_the_state() -> None:
    scope = _scope(b"lang=nl; __Host-csrf=abc")
    assert cookies_of(scope) == {"lang": "nl", "__Host-csrf": "abc"}
    scope["headers"] = []
    assert cookies_of(scope)["lang"] == "nl"


def test_no_cookie_header_means_no_cookies() -> None:
    assert cookies_of(_scope()) == {}


def test_a_garbled_pair_is_skipped_not_the_others() -> None:
    found = cookies_of(_scope(b'lang=en; "broken; =x; \xff\xfe=\x00; __Host-session=t0k'))
    assert found["lang"] == "en"
    assert found["__Host-session"] == "t0k"


def test_cookies_split_over_several_headers_are_all_read() -> None:
    assert cookies_of(_scope(b"lang=fr", b"__Host-session=s")) == {
        "lang": "fr",
        "__Host-session": "s",
    }
