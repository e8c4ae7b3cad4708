"""The report's HTML: one page that needs nothing beside it (styles inline, charts as data
URIs, no scripts, no requests), so it can be mailed or opened from a file share.

Each chart is an ``<img>`` whose alt text names the table holding its numbers; each table has
the id of its chart's file stem, so a reader (or a test) finds a chart's numbers by name.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from html import escape

from monitor.batch.charts import Chart
from monitor.batch.figures import Cell, Table

STYLE = """
body { font-family: "DejaVu Sans", "WenQuanYi Micro Hei", sans-serif; margin: 2em auto;
       max-width: 60em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
caption { text-align: left; font-weight: bold; padding: 0.3em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; }
img { max-width: 100%; height: auto; }
p.note { color: #555; }
"""


@dataclass
class Section:
    """One part of the page: notes (what is missing, how to read it), charts, tables."""

    key: str
    title: str
    notes: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)


def cell_text(value: Cell) -> str:
    """A table cell: counts as they are, other numbers to three decimals at most, a dash for
    a number that cannot be given (a rate with no talk)."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)


def _table(table: Table) -> Iterator[str]:
    yield f'<table id="{escape(table.key)}"><caption>{escape(table.caption)}</caption>'
    yield "<thead><tr>" + "".join(f'<th scope="col">{escape(c)}</th>'
                                  for c in table.columns) + "</tr></thead><tbody>"
    for row in table.rows:
        yield "<tr>" + "".join(
            f'<td class="number">{cell_text(v)}</td>' if isinstance(v, int | float)
            else f"<td>{escape(cell_text(v))}</td>" for v in row) + "</tr>"
    yield "</tbody></table>"


def _chart(chart: Chart) -> str:
    data = base64.b64encode(chart.png).decode("ascii")
    return (f'<figure><img id="chart-{escape(chart.name)}" src="data:image/png;base64,{data}" '
            f'alt="{escape(chart.title)}: the numbers are in the table {escape(chart.name)}">'
            f"<figcaption>{escape(chart.title)} ({escape(chart.name)}.png)</figcaption>"
            "</figure>")


def _section(section: Section) -> Iterator[str]:
    yield f'<section id="section-{escape(section.key)}"><h2>{escape(section.title)}</h2>'
    yield from (f'<p class="note">{escape(note)}</p>' for note in section.notes)
    yield from (_chart(chart) for chart in section.charts)
    for table in section.tables:
        yield from _table(table)
    yield "</section>"


def render(title: str, sections: Sequence[Section]) -> str:
    """The whole page."""
    head = ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="data:,"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>")
    nav = "<nav><ul>" + "".join(f'<li><a href="#section-{escape(s.key)}">{escape(s.title)}</a>'
                                "</li>" for s in sections) + "</ul></nav>"
    body = "\n".join(line for s in sections for line in _section(s))
    return f"{head}\n{nav}\n{body}\n</body></html>\n"
