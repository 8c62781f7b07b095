"""Figures for report.html, drawn with matplotlib (Agg) from the report document only.

Every figure is returned as an inline SVG string:

* text stays text (``svg.fonttype: none``) and matplotlib XML-escapes it, so a
  group called ``<script>`` is drawn as those characters, never parsed as a tag;
  mathtext is off (``text.parse_math: False``), so a ``$`` in a label is a dollar;
* ids are hashed with a per-figure salt (``svg.hashsalt``), so two figures in
  one page never share an id and the same document always gives the same bytes;
* no date or creator metadata is written;
* bidirectional control characters from the data show as ``[U+XXXX]`` (see :mod:`audit._text`);
* every legend label goes through :func:`_legend_label`, because matplotlib silently
  leaves out of a legend any label that starts with ``_`` (a group called ``_minority``).
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Callable, Sequence

import matplotlib

matplotlib.use("Agg", force=False)

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from audit._text import visible_controls  # noqa: E402

#: Okabe-Ito, colour-blind safe, in a fixed order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
LINE_COLOUR = "#B00020"

_STYLE = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "text.usetex": False,
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.titlesize": 9,
    "axes.labelsize": 8.5,
    "legend.fontsize": 7.5,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e3e3e3",
    "grid.linewidth": 0.6,
    "figure.dpi": 100,
    "path.simplify": True,
}

_XML_DECL = re.compile(r"<\?xml[^>]*\?>\s*")
_DOCTYPE = re.compile(r"<!DOCTYPE[^>]*>\s*", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_ROOT_SIZE = re.compile(r'(<svg\b[^>]*?)\s(width|height)="[^"]*"')


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def render_svg(fig_id: str, draw: Callable[[], Figure]) -> str:
    """Run ``draw`` under the report style and return its figure as an inline SVG element."""
    style = dict(_STYLE, **{"svg.hashsalt": f"audit-report-{fig_id}"})
    with plt.rc_context(style), warnings.catch_warnings():
        # Text is written as SVG text (svg.fonttype none) and drawn by the browser with its own fonts, so
        # a group name in a script DejaVu Sans lacks (Chinese, say) still shows; matplotlib's warning that
        # it cannot measure those glyphs exactly says nothing to the user.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
        fig = draw()
        buf = io.StringIO()
        try:
            fig.savefig(buf, format="svg", bbox_inches="tight", pad_inches=0.05,
                        metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
        finally:
            plt.close(fig)
    svg = visible_controls(buf.getvalue())  # any text drawn without _short, too
    svg = _XML_DECL.sub("", svg, count=1)
    svg = _DOCTYPE.sub("", svg, count=1)
    svg = _METADATA.sub("", svg, count=1)
    # Scale with the page: keep the viewBox, drop the fixed width/height of the root element.
    for _ in range(2):
        svg = _ROOT_SIZE.sub(r"\1", svg, count=1)
    svg = svg.replace("<svg ", '<svg class="figure-svg" preserveAspectRatio="xMidYMid meet" ', 1)
    return svg.strip()


def _short(text: str, width: int = 28) -> str:
    text = visible_controls(str(text))
    return text if len(text) <= width else text[: width - 1] + "…"


#: Put before a label that starts with "_": matplotlib treats such labels as "leave out of the legend".
#: A zero-width space is invisible, keeps the label's text as written and is in every DejaVu font.
_LEGEND_GUARD = "\u200b"


def _legend_label(text: object, width: int = 28) -> str:
    """A label that matplotlib will show in a legend, shortened to ``width`` characters.

    Examples
    --------
    >>> _legend_label("_minority") == "\u200b_minority"
    True
    >>> _legend_label("majority")
    'majority'
    """
    label = _short(str(text), width)
    return _LEGEND_GUARD + label if label.startswith("_") else label


class NothingToPlot(Exception):
    """Raised by a figure whose data are all suppressed or absent (e.g. every group is tiny)."""


def _new(width: float, height: float, nrows: int = 1, ncols: int = 1, **kw):
    if nrows < 1 or ncols < 1:
        raise NothingToPlot
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False, **kw)
    return fig, axes


def _mark_cuts(ax, cuts: Sequence[dict], label: bool = True) -> None:
    """Dotted vertical lines at the tier cut-offs, labelled T1, T2, ... (staggered when close)."""
    lo, hi = ax.get_xlim()
    span = (hi - lo) or 1.0
    last = None
    row = 0
    for i, c in enumerate(cuts):
        x = c.get("cut")
        if x is None or not lo <= x <= hi:
            continue
        ax.axvline(x, color="#777777", linestyle=":", linewidth=0.9, zorder=1)
        if label:
            row = (row + 1) % 2 if last is not None and abs(x - last) < 0.05 * span else 0
            last = x
            ax.annotate(f"T{i + 1}", xy=(x, 1.0), xycoords=("data", "axes fraction"), ha="center", va="bottom",
                        fontsize=6.5, color="#444444", xytext=(0, 1 + 8 * row), textcoords="offset points",
                        annotation_clip=False)


def _panel_legend(ax, title: str, pad_for_tiers: bool = False) -> None:
    """The panel's title and its group legend in one row above the plot (never over the data)."""
    handles, labels = ax.get_legend_handles_labels()
    ncols = min(4, max(len(labels), 1)) if sum(len(x) + 4 for x in labels) <= 40 else 2
    leg = ax.legend(handles, labels, title=_short(title, 40), loc="lower left", ncols=ncols,
                    bbox_to_anchor=(0.0, 1.0 + (0.1 if pad_for_tiers else 0.0)), frameon=False, borderaxespad=0.2,
                    handlelength=1.4, columnspacing=1.0, alignment="left", title_fontsize=8)
    leg.get_title().set_fontweight("bold")


def tier_key(cuts: Sequence[dict]) -> str:
    """The caption's key to the T1, T2, ... labels."""
    parts = []
    for i, c in enumerate(cuts):
        where = f"score {c['cut']:g}" if c.get("cut") is not None else "cut not shown"
        parts.append(f"T{i + 1} = {c['tier']} ({where})")
    return "; ".join(parts)


def _xlim(ax, values: Sequence[float], cuts: Sequence[dict], score_range=None) -> None:
    vals = [v for v in values if v is not None and v == v]
    vals += [c["cut"] for c in cuts if c.get("cut") is not None]
    if not vals:
        return
    lo, hi = min(vals), max(vals)
    pad = 0.04 * ((hi - lo) or 1.0)
    lo, hi = lo - pad, hi + pad
    if score_range:
        lo, hi = max(lo, score_range[0]), min(hi, score_range[1])
    ax.set_xlim(lo, hi)


# --------------------------------------------------------------------------- scores / impact


def score_distributions(rows: Sequence[dict], quantiles: Sequence[float], cuts: Sequence[dict],
                        score_range=None) -> Figure:
    """Quantile boxes of the final score per group (10-90 whiskers, 25-75 box, median), own score as a tick."""
    rows = [r for r in rows if r.get("quantiles_final")]
    qi = {q: i for i, q in enumerate(quantiles)}
    i10, i25, i50, i75, i90 = (qi.get(q) for q in (0.1, 0.25, 0.5, 0.75, 0.9))
    attrs = list(dict.fromkeys(tuple(r["attributes"]) for r in rows))
    fig, axes = _new(7.2, 0.9 + 0.24 * (len(rows) + len(attrs)))
    ax = axes[0, 0]
    y = 0.0
    ticks, labels = [], []
    for a_i, attrs_key in enumerate(attrs):
        for r in [r for r in rows if tuple(r["attributes"]) == attrs_key]:
            q = r["quantiles_final"]
            c = colour(a_i)
            ax.plot([q[i10], q[i90]], [y, y], color=c, linewidth=1.0, zorder=2)
            ax.add_patch(matplotlib.patches.Rectangle((q[i25], y - 0.3), q[i75] - q[i25], 0.6, facecolor=c,
                                                      alpha=0.35, edgecolor=c, linewidth=0.8, zorder=3))
            ax.plot([q[i50], q[i50]], [y - 0.3, y + 0.3], color=c, linewidth=1.8, zorder=4)
            if r.get("quantiles_own"):
                qo = r["quantiles_own"]
                ax.plot([qo[i50]], [y], marker="|", markersize=9, color="#333333", zorder=5)
            ticks.append(y)
            labels.append(_short(" & ".join(f"{k}={v}" for k, v in r["group"].items()), 34))
            y += 1
        y += 0.6
    ax.set_yticks(ticks, labels)
    ax.invert_yaxis()
    ax.set_xlabel("final score (box: 25th-75th percentile; line: 10th-90th; thick bar: median; "
                  "black tick: median own score)")
    _xlim(ax, [v for r in rows for v in (r["quantiles_final"] + (r.get("quantiles_own") or []))], cuts,
          score_range)
    _mark_cuts(ax, cuts)
    ax.grid(axis="y", visible=False)
    return fig


def impact_curves(curve: dict, cuts: Sequence[dict], score_range=None) -> Figure:
    """Impact ratio against the best-off group at every score cut, one panel per attribute."""
    series = curve.get("series", [])
    attrs = list(dict.fromkeys(tuple(s["attributes"]) for s in series))
    ncols = 2 if len(attrs) > 1 else 1
    nrows = (len(attrs) + ncols - 1) // ncols
    fig, axes = _new(7.2, 2.3 * nrows + 0.3, nrows, ncols, sharey=True)
    for i, attrs_key in enumerate(attrs):
        ax = axes[i // ncols, i % ncols]
        for j, s in enumerate([s for s in series if tuple(s["attributes"]) == attrs_key]):
            yv = [float("nan") if v is None else v for v in s["impact_ratio"]]
            ax.plot(s["x"], yv, color=colour(j), linewidth=1.3, drawstyle="steps-post",
                    label=_legend_label(", ".join(str(v) for v in s["group"].values()), 20))
        ax.axhline(0.8, color=LINE_COLOUR, linestyle="--", linewidth=1.0, zorder=1)
        ax.annotate("0.8", xy=(1.0, 0.8), xycoords=("axes fraction", "data"), va="center", ha="left",
                    fontsize=6.5, color=LINE_COLOUR, xytext=(2, 0), textcoords="offset points")
        ax.set_ylim(0, 1.05)
        xs = [x for s_ in series if tuple(s_["attributes"]) == attrs_key
              for x, y in zip(s_["x"], s_["impact_ratio"], strict=False) if y is not None]
        _xlim(ax, xs, cuts, score_range)
        _mark_cuts(ax, cuts)
        _panel_legend(ax, " & ".join(attrs_key), pad_for_tiers=True)
        ax.set_xlabel("score cut t")
        if i % ncols == 0:
            ax.set_ylabel("impact ratio")
    for k in range(len(attrs), nrows * ncols):
        axes[k // ncols, k % ncols].set_visible(False)
    fig.subplots_adjust(hspace=0.95, wspace=0.1)
    return fig


def tier_attainment(rows: Sequence[dict], tiers: Sequence[str]) -> Figure:
    """Share of each group attaining each tier, grouped bars, one panel per attribute."""
    rows = [r for r in rows if not r.get("suppressed")]
    attrs = list(dict.fromkeys(tuple(r["attributes"]) for r in rows))
    ncols = 2 if len(attrs) > 1 else 1
    nrows = (len(attrs) + ncols - 1) // ncols
    fig, axes = _new(7.2, 2.4 * nrows + 0.4, nrows, ncols, sharey=True)
    for i, attrs_key in enumerate(attrs):
        ax = axes[i // ncols, i % ncols]
        grp = [r for r in rows if tuple(r["attributes"]) == attrs_key]
        width = 0.8 / max(len(grp), 1)
        for j, r in enumerate(grp):
            xs = [t + (j - (len(grp) - 1) / 2) * width for t in range(len(tiers))]
            vals = [r["tier_attainment"].get(t) for t in tiers]
            ys = [100 * v if v is not None else 0.0 for v in vals]
            ax.bar(xs, ys, width=width * 0.95, color=colour(j),
                   label=_legend_label(", ".join(str(v) for v in r["group"].values()), 20))
            for x, v in zip(xs, vals, strict=True):
                if v is None:  # suppressed: mark it, never draw it as zero
                    ax.annotate("s", xy=(x, 0), xytext=(0, 2), textcoords="offset points", ha="center",
                                va="bottom", fontsize=6.5, color=colour(j), fontweight="bold")
        ax.set_xticks(range(len(tiers)), [f"T{k + 1}" for k in range(len(tiers))])
        if i % ncols == 0:
            ax.set_ylabel("% of group attaining")
        ax.grid(axis="x", visible=False)
        _panel_legend(ax, " & ".join(attrs_key))
    for k in range(len(attrs), nrows * ncols):
        axes[k // ncols, k % ncols].set_visible(False)
    fig.subplots_adjust(hspace=0.85, wspace=0.1)
    return fig


# --------------------------------------------------------------------------- proxies


def association_influence(points: Sequence[dict], label_top: int = 8, epsilon: float | None = None,
                          delta: float | None = None) -> Figure:
    """Scatter: association with a protected attribute (x) against influence on the score (y)."""
    fig, axes = _new(7.2, 3.6)
    ax = axes[0, 0]
    if epsilon is not None:
        ax.axvline(epsilon, color="#888888", linestyle="--", linewidth=0.8, zorder=1)
    if delta is not None:
        ax.axhline(delta, color="#888888", linestyle="--", linewidth=0.8, zorder=1)
    attrs = list(dict.fromkeys(str(p["attribute"]) for p in points))
    for i, a in enumerate(attrs):
        pts = [p for p in points if str(p["attribute"]) == a]
        ax.scatter([p["association"] for p in pts], [p["influence"] for p in pts], s=22, color=colour(i),
                   label=_legend_label(a, 24), alpha=0.85, edgecolor="white", linewidth=0.4, zorder=3)
    # Label each of the strongest inputs once, at its strongest point; stagger labels that would collide.
    best: dict[str, dict] = {}
    for p in sorted(points, key=lambda p: (-(p.get("proxy_strength") or 0.0), str(p["feature"]))):
        best.setdefault(str(p["feature"]), p)
    placed: list[tuple[float, float]] = []
    xr = (max(p["association"] for p in points) - min(p["association"] for p in points)) or 1.0
    yr = (max(p["influence"] for p in points) - min(p["influence"] for p in points)) or 1.0
    for p in list(best.values())[:label_top]:
        x, y = p["association"], p["influence"]
        near = sum(1 for (a, b) in placed if abs(a - x) < 0.12 * xr and abs(b - y) < 0.06 * yr)
        placed.append((x, y))
        ax.annotate(_short(p["feature"], 24), xy=(x, y), fontsize=6.5, xytext=(4, 4 - 9 * near),
                    textcoords="offset points", color="#333333")
    ax.set_xlabel("association with the protected attribute")
    ax.set_ylabel("influence on the score")
    ax.legend(frameon=False, title="protected attribute", title_fontsize=7)
    return fig


def waterfall(steps: Sequence[tuple[str, float]], total_label: str, xlabel: str) -> Figure:
    """Horizontal waterfall: each step's contribution to a gap, then the total."""
    fig, axes = _new(7.2, 0.8 + 0.26 * (len(steps) + 1))
    ax = axes[0, 0]
    run = 0.0
    labels = []
    for i, (name, v) in enumerate(steps):
        ax.barh(i, v, left=run, color=PALETTE[5] if v < 0 else PALETTE[0], height=0.6)
        ax.annotate(f"{v:+.1f}", xy=(run + v, i), xytext=(3 if v >= 0 else -3, 0), textcoords="offset points",
                    ha="left" if v >= 0 else "right", va="center", fontsize=6.5)
        run += v
        labels.append(_short(name, 34))
    ax.barh(len(steps), run, color="#555555", height=0.6)
    ax.annotate(f"{run:+.1f}", xy=(run, len(steps)), xytext=(3 if run >= 0 else -3, 0),
                textcoords="offset points", ha="left" if run >= 0 else "right", va="center", fontsize=6.5)
    labels.append(_short(total_label, 34))
    ax.axvline(0, color="#333333", linewidth=0.8)
    ax.margins(x=0.1)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
    return fig


# --------------------------------------------------------------------------- network


def quantile_boxes(rows: Sequence[tuple], xlabel: str, zero_line: bool = True) -> Figure:
    """Boxes from five quantiles (10, 25, 50, 75, 90) per row ``(label, quantiles[, colour index])``."""
    fig, axes = _new(7.2, 0.8 + 0.26 * len(rows))
    ax = axes[0, 0]
    for i, row in enumerate(rows):
        q = row[1]
        if not q or any(v is None for v in q):
            continue
        c = colour(row[2] if len(row) > 2 else i)
        ax.plot([q[0], q[4]], [i, i], color=c, linewidth=1.0)
        ax.add_patch(matplotlib.patches.Rectangle((q[1], i - 0.3), q[3] - q[1], 0.6, facecolor=c, alpha=0.35,
                                                  edgecolor=c, linewidth=0.8))
        ax.plot([q[2], q[2]], [i - 0.3, i + 0.3], color=c, linewidth=1.8)
    if zero_line:
        ax.axvline(0, color="#333333", linewidth=0.8)
    ax.set_yticks(range(len(rows)), [_short(r[0], 34) for r in rows])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
    return fig


def shock_reach(hops: Sequence[str], change: Sequence[float | None], tiers: Sequence[str],
                fell: Sequence[Sequence[float | None]]) -> Figure:
    """Left: mean score change by hop distance from the shocked seeds; right: share falling below each tier."""
    fig, axes = _new(7.2, 2.8, 1, 2, gridspec_kw={"width_ratios": [1, 1.6]})
    ax = axes[0, 0]
    xs = range(len(hops))
    ax.bar(xs, [0.0 if v is None else v for v in change], color=PALETTE[5], width=0.6)
    for x, v in zip(xs, change, strict=True):
        if v is None:
            ax.annotate("s", xy=(x, 0), xytext=(0, 2), textcoords="offset points", ha="center", fontsize=6.5)
    ax.set_xticks(list(xs), [str(h) for h in hops])
    ax.axhline(0, color="#333333", linewidth=0.8)
    ax.set_xlabel("hops from the nearest seed")
    ax.set_ylabel("mean score change (points)")
    ax.grid(axis="x", visible=False)
    ax = axes[0, 1]
    width = 0.8 / max(len(tiers), 1)
    for j, ys in enumerate(fell):
        pos = [i + (j - (len(tiers) - 1) / 2) * width for i in range(len(hops))]
        ax.bar(pos, [0.0 if v is None else 100 * v for v in ys], width=width * 0.95, color=colour(j),
               label=f"T{j + 1}")
        for x, v in zip(pos, ys, strict=True):
            if v is None:
                ax.annotate("s", xy=(x, 0), xytext=(0, 2), textcoords="offset points", ha="center",
                            fontsize=6.0, color=colour(j), fontweight="bold")
    ax.set_xticks(list(xs), [str(h) for h in hops])
    ax.set_xlabel("hops from the nearest seed")
    ax.set_ylabel("% losing the tier")
    ax.grid(axis="x", visible=False)
    ax.legend(frameon=False, ncols=3)
    fig.subplots_adjust(wspace=0.3)
    return fig


def rounds_by_group(panels: Sequence[tuple[str, Sequence[tuple[str, Sequence[float | None]]]]],
                    rounds: Sequence[int], ylabel: str, hline: float | None = 0.8) -> Figure:
    """One panel per attribute: a line per group across unfriending rounds."""
    ncols = 2 if len(panels) > 1 else 1
    nrows = (len(panels) + ncols - 1) // ncols
    fig, axes = _new(7.2, 2.2 * nrows + 0.3, nrows, ncols, sharey=True)
    for i, (title, series) in enumerate(panels):
        ax = axes[i // ncols, i % ncols]
        for j, (name, ys) in enumerate(series):
            ax.plot(list(rounds)[: len(ys)], [float("nan") if v is None else v for v in ys], marker="o",
                    markersize=3, color=colour(j), linewidth=1.3, label=_legend_label(name, 20))
        if hline is not None:
            ax.axhline(hline, color=LINE_COLOUR, linestyle="--", linewidth=1.0)
        _panel_legend(ax, title)
        ax.set_xticks(list(rounds))
        ax.set_xlabel("round (0 = before unfriending)")
        if i % ncols == 0:
            ax.set_ylabel(ylabel)
    for k in range(len(panels), nrows * ncols):
        axes[k // ncols, k % ncols].set_visible(False)
    fig.subplots_adjust(hspace=0.95, wspace=0.1)
    return fig
