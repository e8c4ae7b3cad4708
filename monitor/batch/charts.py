"""The report's pictures: matplotlib figures rendered to PNG bytes by the Agg canvas.

Figures are made with ``matplotlib.figure.Figure`` and drawn on ``FigureCanvasAgg`` directly,
never through pyplot, so no global backend or figure registry is touched (the report can run
inside a server or a notebook). Each chart draws numbers already counted in ``figures``; it
computes nothing of its own. Chinese agent names need a CJK font: WenQuanYi Micro Hei (Debian
fonts-wqy-microhei, installed by scripts/setup.sh) is the fallback after DejaVu Sans.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from monitor.batch.figures import Histogram

FONTS = ["DejaVu Sans", "WenQuanYi Micro Hei"]
WIDTH_IN, HEIGHT_IN, DPI = 7.0, 3.6, 100
BAR_COLOUR, LIMIT_COLOUR, TARGET_COLOUR, BAND_COLOUR = "#4c72b0", "#c44e52", "#2a7d2e", "#55a868"


@dataclass(frozen=True)
class Chart:
    """A rendered chart: ``name`` is its file stem and the id of the table with its numbers."""

    name: str
    title: str
    png: bytes


@dataclass(frozen=True)
class Mark:
    """A vertical line at ``x``, named in the legend: a limit (dashed) or a target (solid)."""

    x: float
    label: str
    target: bool = False


def _figure(height_in: float = HEIGHT_IN) -> Figure:
    figure = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def bar_chart(name: str, title: str, labels: Sequence[str], values: Sequence[float],
              xlabel: str) -> Chart:
    """Horizontal bars, one per label, top to bottom in the order given."""
    with matplotlib.rc_context({"font.family": FONTS}):
        figure = _figure(max(HEIGHT_IN, 0.3 * len(labels) + 1.0))
        axes = figure.add_subplot()
        axes.barh(list(labels)[::-1], list(values)[::-1], color=BAR_COLOUR)
        axes.set_xlabel(xlabel)
        axes.set_title(title)
        return Chart(name, title, _png(figure))


def histogram_chart(name: str, title: str, hist: Histogram, xlabel: str,
                    marks: Sequence[Mark] = (), ylabel: str = "calls",
                    band: tuple[float, float, str] | None = None) -> Chart:
    """Bars over the histogram's bins, the marks as vertical lines and ``band`` (low, high,
    label) shaded behind them."""
    with matplotlib.rc_context({"font.family": FONTS}):
        figure = _figure()
        axes = figure.add_subplot()
        if band is not None:
            axes.axvspan(band[0], band[1], color=BAND_COLOUR, alpha=0.15, label=band[2])
        lefts, widths = hist.edges[:-1], np.diff(hist.edges)
        axes.bar(lefts, hist.counts, width=widths, align="edge", color=BAR_COLOUR,
                 edgecolor="white")
        for mark in marks:
            axes.axvline(mark.x, color=TARGET_COLOUR if mark.target else LIMIT_COLOUR,
                         linestyle="-" if mark.target else "--", label=mark.label)
        if marks or band:
            axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_title(title)
        return Chart(name, title, _png(figure))


def panels_chart(name: str, title: str, labels: Sequence[str],
                 panels: Sequence[tuple[str, Sequence[float]]]) -> Chart:
    """One horizontal bar panel per measure (each has its own unit), labels shared."""
    with matplotlib.rc_context({"font.family": FONTS}):
        figure = _figure(max(HEIGHT_IN, 0.3 * len(labels) + 1.2))
        axes = figure.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        for ax, (measure, values) in zip(axes, panels, strict=True):
            ax.barh(list(labels)[::-1], list(values)[::-1], color=BAR_COLOUR)
            ax.set_xlabel(measure)
        figure.suptitle(title)
        return Chart(name, title, _png(figure))
