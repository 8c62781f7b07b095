"""Figures of the dynamics and delayed-impact reports: inline SVG drawn with matplotlib from report documents.

The same conventions as the main report's figures: text stays text and is
XML-escaped by matplotlib, mathtext is off (a ``$`` in a group name is a
dollar), ids are salted per figure so two figures never share one, and no
date or creator metadata is written -- the same document gives the same bytes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg", force=False)

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

__all__ = ["render_svg", "colour", "line_panels", "stacked_bars", "grouped_bars", "outcome_curves"]

#: Okabe-Ito, colour-blind safe, the main report's order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")

_STYLE = {
    "svg.fonttype": "none", "text.parse_math": False, "text.usetex": False, "font.family": "DejaVu Sans",
    "font.size": 8.5, "axes.titlesize": 9, "axes.labelsize": 8.5, "legend.fontsize": 7.5, "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5, "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
    "grid.color": "#e3e3e3", "grid.linewidth": 0.6, "figure.dpi": 100, "path.simplify": True,
}
_XML_DECL = re.compile(r"<\?xml[^>]*\?>\s*")
_DOCTYPE = re.compile(r"<!DOCTYPE[^>]*>\s*", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_ROOT_SIZE = re.compile(r'(<svg\b[^>]*?)\s(width|height)="[^"]*"')


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def render_svg(fig_id: str, draw: Callable[[], Figure]) -> str:
    """Run ``draw`` under the report style; return its figure as an inline, page-scaled SVG element."""
    style = dict(_STYLE, **{"svg.hashsalt": f"audit-dynamics-{fig_id}"})
    with plt.rc_context(style):
        fig = draw()
        buf = io.StringIO()
        try:
            fig.savefig(buf, format="svg", bbox_inches="tight", pad_inches=0.05,
                        metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
        finally:
            plt.close(fig)
    svg = _METADATA.sub("", _DOCTYPE.sub("", _XML_DECL.sub("", buf.getvalue(), count=1), count=1), count=1)
    for _ in range(2):
        svg = _ROOT_SIZE.sub(r"\1", svg, count=1)
    return svg.replace("<svg ", '<svg class="figure-svg" preserveAspectRatio="xMidYMid meet" ', 1).strip()


def line_panels(panels: list[tuple[str, list[tuple[str, list, list, list, list]]]], ylabel: str,
                percent: bool = True) -> Figure:
    """One panel per attribute; per group a line (mean over runs) and a shaded band (central share of runs).

    ``panels``: ``[(title, [(label, periods, value, low, high), ...]), ...]``; None values leave gaps.
    """
    cols = min(2, max(1, len(panels)))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(7.2, 2.5 * rows), squeeze=False)
    for ax, (title, series) in zip(axes.ravel(), panels, strict=False):
        for i, (label, x, v, lo, hi) in enumerate(series):
            nan = float("nan")
            fv = [nan if y is None else (100 * y if percent else y) for y in v]
            fl = [nan if y is None else (100 * y if percent else y) for y in lo]
            fh = [nan if y is None else (100 * y if percent else y) for y in hi]
            ax.fill_between(x, fl, fh, color=colour(i), alpha=0.18, linewidth=0)
            ax.plot(x, fv, color=colour(i), linewidth=1.4, label=label)
        ax.set_title(title)
        ax.set_xlabel("period")
        ax.set_ylabel(ylabel)
        ax.legend(frameon=False, loc="best")
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def stacked_bars(labels: list[str], parts: list[tuple[str, list[float]]], xlabel: str) -> Figure:
    """Horizontal stacked bars: one bar per label, one segment per part (None as 0, marked in the caption)."""
    fig, ax = plt.subplots(figsize=(7.2, 0.35 * len(labels) + 1.0))
    left = [0.0] * len(labels)
    ypos = list(range(len(labels)))[::-1]
    for i, (name, vals) in enumerate(parts):
        v = [0.0 if x is None else x for x in vals]
        ax.barh(ypos, v, left=left, color=colour(i), label=name, height=0.6)
        left = [a + b for a, b in zip(left, v, strict=True)]
    ax.set_yticks(ypos, labels)
    ax.set_xlabel(xlabel)
    ax.legend(frameon=False, loc="lower right")
    ax.grid(axis="y", visible=False)
    fig.tight_layout()
    return fig


def grouped_bars(labels: list[str], series: list[tuple[str, list, list, list]], xlabel: str,
                 percent: bool = True) -> Figure:
    """Horizontal grouped bars with run bands as error bars: ``series = [(name, value, low, high), ...]``."""
    k = max(1, len(series))
    fig, ax = plt.subplots(figsize=(7.2, 0.22 * k * len(labels) + 1.2))
    height = 0.8 / k
    base = list(range(len(labels)))[::-1]
    scale = 100.0 if percent else 1.0
    for i, (name, v, lo, hi) in enumerate(series):
        ys = [b + (k / 2 - i - 0.5) * height for b in base]
        vals = [0.0 if x is None else scale * x for x in v]
        err = [[0.0 if (x is None or a is None) else scale * (x - a) for x, a in zip(v, lo, strict=True)],
               [0.0 if (x is None or b is None) else scale * (b - x) for x, b in zip(v, hi, strict=True)]]
        ax.barh(ys, vals, height=height * 0.95, color=colour(i), label=name, xerr=err,
                error_kw={"elinewidth": 0.8, "capsize": 1.5, "ecolor": "#333333"})
    ax.set_yticks(base, labels)
    ax.set_xlabel(xlabel)
    ax.legend(frameon=False, loc="lower right")
    ax.grid(axis="y", visible=False)
    fig.tight_layout()
    return fig


def outcome_curves(rates: list[float], curves: dict[str, list[float]],
                   markers: list[tuple[str, str, float, float]]) -> Figure:
    """Liu et al.'s outcome curves: expected change of each group's mean score vs its selection rate.

    ``markers``: ``(policy label, group, selection rate, expected change)`` drawn on the group's curve.
    """
    fig, ax = plt.subplots(figsize=(7.2, 3.6))
    shapes = {"maximum profit": "o", "demographic parity": "s", "equal opportunity": "^"}
    order = list(curves)
    for i, (g, ys) in enumerate(curves.items()):
        ax.plot([100 * r for r in rates], ys, color=colour(i), linewidth=1.4, label=g)
    for policy, g, r, y in markers:
        ax.plot([100 * r], [y], marker=shapes.get(policy, "o"), color=colour(order.index(g)), markersize=6,
                markeredgecolor="black", markeredgewidth=0.6, linestyle="none")
    for policy, shape in shapes.items():
        ax.plot([], [], marker=shape, color="white", markeredgecolor="black", linestyle="none", label=policy)
    ax.axhline(0, color="#888888", linewidth=0.8)
    ax.set_xlabel("selection rate within the group (%)")
    ax.set_ylabel("expected change in mean score (points)")
    ax.legend(frameon=False, loc="lower left", ncol=2)
    fig.tight_layout()
    return fig
