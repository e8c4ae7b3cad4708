"""A review-app page read as a test reads it: every element that carries ``data-testid``, with
its attributes and its text, and the values of the named form fields (stdlib parser, so the
tests need no HTML library).

    page = Page(client.get("/sessions/1").text)
    page.all("note")[0]["data-t"], page.texts("phrase-mark"), page.field("form_token")
"""

from __future__ import annotations

from html.parser import HTMLParser

# Elements without an end tag: never open, so never waiting for text.
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "source", "track", "wbr"})


class Page(HTMLParser):
    """The ``data-testid`` elements of a page in document order, and its form fields."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str], list[str]]] = []
        self.fields: dict[str, list[str]] = {}
        self._open: list[tuple[str, list[str]]] = []  # (tag, text parts) of open elements
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag in ("input", "textarea") and "name" in values:
            self.fields.setdefault(values["name"], []).append(values.get("value", ""))
        if "data-testid" in values:
            text: list[str] = []
            self.found.append((values["data-testid"], values, text))
            if tag not in _VOID:
                self._open.append((tag, text))
        elif tag not in _VOID and self._open:
            self._open.append((tag, []))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            open_tag, _ = self._open.pop()
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, text in self._open:
            text.append(data)

    def all(self, testid: str) -> list[dict[str, str]]:
        """The attributes of every element ``data-testid=testid``."""
        return [attrs for name, attrs, _ in self.found if name == testid]

    def texts(self, testid: str) -> list[str]:
        """The text inside every element ``data-testid=testid``, whitespace collapsed."""
        return [" ".join("".join(text).split()) for name, _, text in self.found
                if name == testid]

    def field(self, name: str) -> str:
        """The value of the first form field called ``name``."""
        return self.fields[name][0]
