"""Forms as a browser sends them: read from a page, filled in, ready to post."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class FormReader(HTMLParser):
    """The forms of a page: each one's action and the fields a browser would send."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, dict[str, list[str]]]] = []
        self._textarea: str | None = None
        self._select: str | None = None
        self._first_option: str | None = None
        self._selected = False

    def _fields(self) -> dict[str, list[str]] | None:
        return self.forms[-1][1] if self.forms else None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        fields = self._fields()
        if tag == "form":
            self.forms.append((a.get("action", ""), {}))
        elif tag == "option" and self._select and fields is not None:
            value = a.get("value", "")
            if self._first_option is None:
                self._first_option = value
            if "selected" in a:
                fields[self._select] = [value]
                self._selected = True
        elif fields is None or "name" not in a:
            return
        elif tag == "input":
            kind = a.get("type", "text")
            if kind in {"submit", "button", "image", "file"}:
                return
            if kind in {"checkbox", "radio"} and "checked" not in a:
                return
            fields.setdefault(a["name"], []).append(a.get("value", "on"))
        elif tag == "textarea":
            self._textarea = a["name"]
            fields.setdefault(a["name"], []).append("")
        elif tag == "select":
            self._select, self._first_option, self._selected = a["name"], None, False

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        fields = self._fields()
        if tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select and fields is not None:
            if not self._selected and self._first_option is not None:
                fields[self._select] = [self._first_option]
            self._select = None

    def handle_data(self, data: str) -> None:
        fields = self._fields()
        if self._textarea and fields is not None:
            fields[self._textarea][-1] += data


def form_on(html: str, action: str) -> dict[str, list[str]]:
    """The fields of the page's form that posts to ``action``, as a browser would send them."""
    reader = FormReader()
    reader.feed(html)
    found = [fields for target, fields in reader.forms if target == action]
    assert found, f"no form posting to {action}"
    return found[0]


def said(html: str) -> list[str]:
    """The error messages a page shows, for a failing test's report."""
    return re.findall(r'class="error"[^>]*>([^<]*)<', html)


def filled(fields: dict[str, list[str]], **changes: str | list[str]) -> dict[str, list[str]]:
    """The form as the person fills it in (a field set to "" is left out, like an unticked box)."""
    result = dict(fields)
    for name, value in changes.items():
        values = [value] if isinstance(value, str) else value
        result[name] = [v for v in values if v]
    assert result.get("form_key"), "the form carries no single-use key"
    return result
