"""A static HTML page read as a test reads it: every ``<table id=...>`` as rows of cell
texts, every ``<img>``'s attributes and every ``<p class="note">``'s text (stdlib parser, so
the tests need no HTML library)."""

from __future__ import annotations

from html.parser import HTMLParser


class Tables(HTMLParser):
    """Every <table id=...> of a page as rows of cell texts, every <img> and note."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[dict[str, str]] = []
        self.notes: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._note = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table":
            self._table = a["id"]
            self.tables[a["id"]] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
        elif tag == "img":
            self.images.append(a)
        elif tag == "p" and a.get("class") == "note":
            self._note = True
            self.notes.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._table and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "p":
            self._note = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._note:
            self.notes[-1] += data

    def rows(self, key: str) -> dict[str, list[str]]:
        """A table's body rows by their first cell."""
        return {r[0]: r[1:] for r in self.tables[key][1:]}
