"""The charts of ``broadsheet report --html``: matplotlib, drawn as inline SVG.

matplotlib is used here and nowhere else. Figures are made without pyplot
(no global figure state: two reports can be drawn in one process), text
stays text in the SVG (``svg.fonttype = none``: smaller, selectable, read by
screen readers, drawn in the page's own fonts), ids are seeded so the same
figures give the same bytes, and nothing is fetched. Each SVG carries a
``<title>`` and ``role="img"`` with an ``aria-label``; the page puts a
caption and a table of the same figures beside it.

matplotlib is an optional dependency (``pip install 'broadsheet[report]'``):
:func:`available` says whether it is installed.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

from broadsheet.errors import BroadsheetError

__all__ = ["available", "bars", "growth", "lines"]

WIDTH = 8.0
"""Inches at 72 points each: the SVG is scaled to the page's width anyway."""

_PALETTE = (
    # Okabe and Ito's colours, told apart with each kind of colour blindness.
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
)

_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "broadsheet-report",
    "font.family": ["sans-serif"],
    "font.size": 10.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "text.parse_math": False,  # a "$" in a label is a dollar, not mathematics
}


_DASHES = ("-", "--", ":", "-.")


def _week_ticks(axes: Any, weeks: Sequence[date]) -> None:
    """One tick per week (every few weeks when there are many), labelled with its Monday."""
    days = list(weeks)
    step = max(1, -(-len(days) // 12))
    shown = days[::step]
    axes.set_xticks(shown, [day.isoformat() for day in shown])


def available() -> bool:
    """Whether matplotlib is installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _matplotlib() -> Any:
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise BroadsheetError(
            "report --html draws its charts with matplotlib, which is not installed: "
            "pip install 'broadsheet[report]'"
        ) from None
    return matplotlib, Figure


def _svg(figure: Any, title: str) -> str:
    """``figure`` as an inline ``<svg>`` element with a title, scaled to its container."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    label = html.escape(title, quote=True)
    # Scales with the page: the viewBox stays, the fixed size goes.
    text = re.sub(
        r'<svg([^>]*?) width="[^"]*" height="[^"]*"',
        rf'<svg\1 role="img" aria-label="{label}"',
        text,
        count=1,
    )
    opening = text.index(">") + 1
    return f"{text[:opening]}\n <title>{html.escape(title)}</title>{text[opening:]}"


@contextmanager
def _drawing(height: float) -> Iterator[Any]:
    """A new figure ``height`` inches high, with the report's style while it is drawn."""
    matplotlib, figure_class = _matplotlib()
    from cycler import cycler

    with matplotlib.rc_context({**_RC, "axes.prop_cycle": cycler(color=_PALETTE)}):
        yield figure_class(figsize=(WIDTH, height), layout="constrained")


def lines(
    weeks: Sequence[date], series: Mapping[str, Sequence[int]], *, title: str, ylabel: str
) -> str:
    """One line per series over ``weeks`` (e.g. active subscriptions by newsletter)."""
    with _drawing(3.6) as figure:
        axes = figure.add_subplot()
        for number, (name, values) in enumerate(series.items()):
            # Lines that coincide stay told apart by their dashes.
            axes.plot(
                list(weeks),
                list(values),
                marker="o",
                markersize=3,
                linestyle=_DASHES[number % len(_DASHES)],
                label=name,
            )
        _week_ticks(axes, weeks)
        axes.set_title(title, loc="left")
        axes.set_ylabel(ylabel)
        axes.set_ylim(bottom=0)
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.grid(axis="y", alpha=0.3)
        if series:
            axes.legend(frameon=False, fontsize=9, ncols=min(len(series), 4))
        figure.autofmt_xdate()
        return _svg(figure, title)


def growth(
    weeks: Sequence[date],
    began: Sequence[int],
    ended: Sequence[int],
    churn: Sequence[float],
    *,
    title: str,
    labels: Mapping[str, str],
) -> str:
    """Subscriptions begun (up) and ended (down) per week, and churn as a line.

    Args:
        labels: ``began``, ``ended`` and ``churn``, in the report's language.
    """
    with _drawing(3.6) as figure:
        axes = figure.add_subplot()
        days = list(weeks)
        axes.bar(days, list(began), width=5, color=_PALETTE[2], label=labels["began"])
        axes.bar(
            days, [-value for value in ended], width=5, color=_PALETTE[3], label=labels["ended"]
        )
        axes.axhline(0, color="#444444", linewidth=0.8)
        axes.set_title(title, loc="left")
        axes.yaxis.get_major_locator().set_params(integer=True)
        share = axes.twinx()
        share.plot(
            days,
            [100 * value for value in churn],
            color=_PALETTE[0],
            marker="o",
            markersize=3,
            label=f"{labels['churn']} (%)",
        )
        share.set_ylabel(f"{labels['churn']} (%)")
        share.set_ylim(bottom=0)
        share.spines["right"].set_visible(True)
        _week_ticks(axes, weeks)
        handles = axes.get_legend_handles_labels()
        more = share.get_legend_handles_labels()
        axes.legend(
            handles[0] + more[0],
            handles[1] + more[1],
            frameon=False,
            fontsize=9,
            ncols=3,
            loc="upper left",
        )
        figure.autofmt_xdate()
        return _svg(figure, title)


def bars(names: Sequence[str], values: Sequence[int], *, title: str, xlabel: str) -> str:
    """Horizontal bars, first name on top (e.g. clicks by block)."""
    with _drawing(0.9 + 0.38 * max(len(names), 1)) as figure:
        axes = figure.add_subplot()
        positions = list(range(len(names)))
        drawn = axes.barh(positions, list(values), color=_PALETTE[0])
        axes.set_yticks(positions, list(names))
        axes.invert_yaxis()
        axes.bar_label(drawn, padding=3, fontsize=9)
        axes.set_title(title, loc="left")
        axes.set_xlabel(xlabel)
        axes.xaxis.get_major_locator().set_params(integer=True)
        axes.spines["left"].set_visible(False)
        return _svg(figure, title)
