"""Shared helpers: favourable outcomes, rates by group, disclosure control, JSON values, sections.

Disclosure control follows :mod:`audit.disclosure` (the one rule every output
uses): a count ``k`` is small when ``0 < k < threshold``; a cell of ``k`` out
of ``n`` is published only when neither ``k`` nor ``n - k`` is small, and every
share, rate or ratio computed from a cell that cannot be published is
suppressed with it.  On top of that, no hidden count may follow by
differencing: a group total minus its published sub-groups, across a
grouping's table and the tables of its sub- and super-groups
(:func:`protect_groupings`, :func:`protect_table`, :func:`sizes_published`,
built on :func:`audit.disclosure.protect_lines`).  Distribution statistics
(means and quantiles) are given only for groups of at least
``min_group_size`` people, as in the impact family; score means, quantiles
and shifts are rounded to one decimal place (no individual's exact score).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from audit._errors import AuditInputError
from audit.disclosure import cell_publishable, is_small, protect_lines, published_count
from audit.graph import Graph
from audit.groups import Grouping, json_float
from audit.rates import group_rates as impact_group_rates
from audit.rates import most_favoured, ratios_to

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
QUANTILE_KEYS = ("p10", "p25", "p50", "p75", "p90")
FOUR_FIFTHS = 0.8
DEFAULT_DISCLOSURE = 10
DEFAULT_MIN_GROUP = 30

#: Independent random streams per section, so that (say) the random seed set of
#: the shock and the compliance draws of unfriending never share numbers.
STREAMS = {"shock": 1, "unfriending": 2, "rewiring": 3}


def rng_for(seed: int, section: str) -> np.random.Generator:
    """The generator of one section: ``default_rng([seed, stream])`` (reproducible, independent)."""
    return np.random.default_rng([int(seed), STREAMS[section]])


# ---------------------------------------------------------------------- inputs
def as_groupings(groupings: Grouping | Sequence[Grouping]) -> list[Grouping]:
    if isinstance(groupings, Grouping):
        return [groupings]
    out = list(groupings)
    if not all(isinstance(g, Grouping) for g in out):
        raise AuditInputError("groupings must be a Grouping or a list of them (see audit.build_groupings)")
    return out


def check_graph(graph: Graph, n: int, groupings: Sequence[Grouping] = ()) -> None:
    if not isinstance(graph, Graph):
        raise AuditInputError("graph must be an audit.Graph (see audit.load_graph)")
    if graph.n_nodes != n:
        raise AuditInputError(f"graph has {graph.n_nodes} nodes but the population has {n} rows")
    for g in groupings:
        if len(g.codes) != n:
            raise AuditInputError(
                f"grouping {g.key!r} has {len(g.codes)} rows but the population has {n}")


def network_bounds(rule) -> tuple[float | None, float | None]:
    return rule.range if rule.range is not None else (None, None)


# ---------------------------------------------------------------------- outcomes and rates
def favourable_flags(rule) -> np.ndarray:
    """Per tier: is attaining it good news?  (The impact family's definition.)"""
    dirs = rule.tier_directions
    if any(d is None for d in dirs):
        raise ValueError("compare favourable outcomes on rule.directed(): a tier has no favourable side")
    return np.array(dirs, dtype=bool)


def favourable_attainment(rule, scores: np.ndarray, flags: np.ndarray | None = None) -> np.ndarray:
    """Bool (n, tiers): who gets the favourable outcome of each tier (attains it, or avoids an adverse one)."""
    att = rule.attainment(np.asarray(scores, dtype=float))
    flags = favourable_flags(rule) if flags is None else flags
    if not flags.all():
        att[:, ~flags] = ~att[:, ~flags]
    return att


def group_rates(att: np.ndarray, grouping: Grouping) -> tuple[np.ndarray, np.ndarray]:
    """(counts (G,), hits (G, T)), as the impact family counts them."""
    return impact_group_rates(att, grouping)


def impact_ratios(counts: np.ndarray, hits: np.ndarray, min_group_size: int) -> np.ndarray:
    """Each group's rate over the most favoured group's, per tier; NaN where undefined.

    The same definition as the impact family: the most favoured group has the
    highest rate among groups at least ``min_group_size`` strong.
    """
    return impact_ratios_and_refs(counts, hits, min_group_size)[0]


def impact_ratios_and_refs(counts: np.ndarray, hits: np.ndarray, min_group_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(ratios (G, T), index of the most favoured group per tier (T,), -1 if none)."""
    counts = np.asarray(counts, dtype=np.int64)
    hits = np.asarray(hits, dtype=np.int64)
    ref = most_favoured(counts, hits, min_group_size)
    return ratios_to(counts, hits, ref), ref


def cells_publishable(counts: np.ndarray, hits: np.ndarray, t: int) -> np.ndarray:
    """(G, T) bool: may the cell "hits of counts" of each group and tier be published (:mod:`audit.disclosure`)."""
    counts = np.asarray(counts, dtype=np.int64)
    hits = np.asarray(hits, dtype=np.int64).reshape(len(counts), -1)
    return np.asarray(cell_publishable(hits, counts[:, None], t), dtype=bool).reshape(hits.shape)


def ratios_publishable(counts: np.ndarray, hits: np.ndarray, ref: np.ndarray, t: int) -> np.ndarray:
    """(G, T) bool: the two-cell rule for a ratio of rates.

    A group's impact ratio is published only when both its own cell and the
    comparison (most favoured) group's cell of the same tier can be published:
    either rate and the ratio give the other cell back.
    """
    ok = cells_publishable(counts, hits, t)
    ref = np.asarray(ref, dtype=np.int64)
    valid = ref >= 0
    ref_ok = np.where(valid, ok[np.where(valid, ref, 0), np.arange(len(ref))], False)
    return ok & ref_ok[None, :]


def value_order(values: np.ndarray) -> np.ndarray:
    """``argsort(values)`` (stable), computed once and shared by every grouping's quantiles."""
    return np.argsort(values, kind="stable")


def group_quantiles(codes: np.ndarray, values: np.ndarray, n_groups: int, eligible: np.ndarray,
                    order: np.ndarray | None = None) -> np.ndarray:
    """Quantiles :data:`QUANTILES` of ``values`` per group (linear interpolation, as ``np.quantile``).

    One sort of the values (``order``, shareable across groupings), then a
    stable radix sort of the small group codes; loops run over groups only.
    NaN rows for groups that are not ``eligible``.
    """
    out = np.full((n_groups, len(QUANTILES)), np.nan)
    if order is None:
        order = value_order(values)
    small_codes = codes[order]
    small_codes = small_codes.astype(np.int16) if n_groups < 2**15 - 1 else small_codes
    by_group = order[np.argsort(small_codes, kind="stable")]
    sorted_codes = codes[by_group]
    bounds = np.searchsorted(sorted_codes, np.arange(n_groups + 1))
    sorted_vals = values[by_group]
    for k in np.flatnonzero(eligible):
        seg = sorted_vals[bounds[k]:bounds[k + 1]]
        if len(seg):
            out[k] = np.quantile(seg, QUANTILES)
    return out


# ---------------------------------------------------------------------- JSON values with disclosure control
def fnum(x: Any, digits: int = 6) -> float | None:
    """A finite float rounded to ``digits``, else None."""
    return json_float(x, digits)


def cnt(c: Any, t: int) -> int | None:
    """A count of people (or ties) that is not part of a cell, None when it is small (1 to ``t - 1``)."""
    return published_count(c, t)


def small(c: Any, t: int) -> bool:
    return is_small(int(c), t)


def cell_ok(k: Any, n: Any, t: int) -> bool:
    """May the cell ``k`` of ``n`` be published?  (:func:`audit.disclosure.cell_publishable`.)"""
    return cell_publishable(int(k), int(n), t)


def cell_cnt(k: Any, n: Any, t: int) -> int | None:
    """The count ``k`` of a cell ``k`` of ``n``, None when the cell cannot be published."""
    return int(k) if cell_ok(k, n, t) else None


def share(k: Any, n: Any, t: int, digits: int = 6) -> float | None:
    """``k / n``, None unless the cell ``k`` of ``n`` can be published (neither ``k`` nor ``n - k`` small).

    >>> [share(k, 40, 10) for k in (0, 3, 20, 37, 40)]
    [0.0, None, 0.5, None, 1.0]
    """
    n = int(n)
    if n <= 0 or not cell_ok(k, n, t):
        return None
    return fnum(int(k) / n, digits)


def dist_ok(n: Any, t: int, min_group_size: int) -> bool:
    """Distribution statistics (means, quantiles) of a group: only for at least ``min_group_size`` people."""
    return int(n) >= max(int(min_group_size), int(t))


def protect_partition(parts, hidden, t: int, fixed=None) -> np.ndarray:
    """Secondary suppression for the parts of a published total (bands of a group, bins of a histogram).

    ``hidden`` marks the parts the cell rule already suppresses.  When the
    total is published, the hidden parts add up to the total minus the
    published parts; while that sum is small (1 to ``t - 1``), the smallest
    published non-zero part is hidden too, so no small count can be rebuilt by
    subtraction, and never is a single non-zero part left hidden alone.
    Parts marked ``fixed`` (published in another table too) are hidden only
    when no other part can be.  Returns the new mask (a copy).

    >>> protect_partition([3, 50, 40, 0], [True, False, False, False], 10).tolist()
    [True, False, True, False]
    """
    parts = np.asarray(parts, dtype=np.int64)
    hidden = np.array(hidden, dtype=bool, copy=True)
    fixed = np.zeros(len(parts), dtype=bool) if fixed is None else np.asarray(fixed, dtype=bool)
    # A single hidden non-zero part would equal the difference exactly, whatever its size.
    while is_small(int(parts[hidden].sum()), t) or int((hidden & (parts > 0)).sum()) == 1:
        cand = np.flatnonzero(~hidden & (parts > 0) & ~fixed)
        if not len(cand):
            cand = np.flatnonzero(~hidden & (parts > 0))
        if not len(cand):
            break
        hidden[cand[np.argmin(parts[cand])]] = True
    return hidden


_ANY = "\x00*"  # the "all values" coordinate of a marginal cell (never an attribute value)


def protect_groupings(groupings: Sequence[Grouping], counts: Sequence, ok: Sequence,
                      total: Any = None, total_ok: bool = False) -> list[np.ndarray]:
    """Secondary suppression across every grouping's table of one count (:func:`audit.disclosure.protect_lines`).

    ``counts[i]`` and ``ok[i]`` are the (G,) or (G, T) counts of grouping ``i``
    and whether each is published.  All tables are laid out on the union of
    the attributes, a marginal cell having a wildcard where its grouping lacks
    an attribute, and the overall ``total`` (published when ``total_ok``) is
    the all-wildcard cell (left out when ``total`` is None).  A line then holds a marginal cell and its
    sub-groups, so no line may keep exactly one hidden count: no hidden count
    follows from a group total minus its published sub-groups, and no hidden
    total from the sum of its published sub-groups.  Returns the new ``ok``
    masks (copies), column by column for (G, T) arrays.
    """
    attrs: list[str] = []
    for g in groupings:
        for a in g.attributes:
            if a not in attrs:
                attrs.append(a)
    keys: list[tuple] = []
    for g in groupings:
        pos = {a: j for j, a in enumerate(g.attributes)}
        for v in g.values:
            keys.append(tuple(v[pos[a]] if a in pos else _ANY for a in attrs))
    with_total = total is not None and bool(np.all(total_ok))
    if with_total:
        keys.append(tuple(_ANY for _ in attrs))
    c2 = [np.asarray(c).reshape(len(np.asarray(c)), -1) for c in counts]
    o2 = [np.asarray(o, dtype=bool).reshape(len(np.asarray(o)), -1) for o in ok]
    width = c2[0].shape[1] if c2 else 1
    tot = np.zeros(width) if total is None else np.asarray(total, dtype=float).reshape(-1)
    tot = np.broadcast_to(tot, (width,))
    tot_ok = np.broadcast_to(np.asarray(total_ok, dtype=bool).reshape(-1), (width,))
    out = [o.copy() for o in o2]
    for j in range(width):
        cc = np.concatenate([c[:, j] for c in c2] + ([[tot[j]]] if with_total else [])).astype(np.int64)
        hid = np.concatenate([~o[:, j] for o in o2] + ([[not tot_ok[j]]] if with_total else []))
        hid = protect_lines(keys, cc, hid)
        i0 = 0
        for o in out:
            o[:, j] = ~hid[i0:i0 + len(o)]
            i0 += len(o)
    return [o.reshape(np.asarray(ok[i]).shape) for i, o in enumerate(out)]


def _get(row: Mapping, field: Any) -> Any:
    if isinstance(field, tuple):
        return (row.get(field[0]) or {}).get(field[1])
    return row.get(field)


def _clear(row: dict, field: Any) -> None:
    if isinstance(field, tuple):
        if isinstance(row.get(field[0]), dict) and field[1] in row[field[0]]:
            row[field[0]][field[1]] = None
    elif field in row:
        row[field] = None


def sizes_published(groupings: Sequence[Grouping], t: int) -> list[np.ndarray]:
    """Per grouping, (G,) bool: may the group's size be published?

    At least ``t`` people, and no size follows from a total minus its
    published sub-groups (:func:`protect_groupings`, the population being
    published).  A group whose size is hidden has its whole row suppressed.
    """
    if not groupings:
        return []
    counts = [np.asarray(g.counts, dtype=np.int64) for g in groupings]
    return protect_groupings(groupings, counts, [c >= t for c in counts], total=int(counts[0].sum()),
                             total_ok=True)


def protect_table(groupings: Sequence[Grouping], parts: Sequence, ok: Sequence, sizes: Sequence,
                  total_parts: Any = None, total_size: Any = None) -> list[np.ndarray]:
    """:func:`protect_groupings` for a partition of each group (bins of a histogram, bands): (G, B) parts.

    The part is one more coordinate of the table, whose wildcard is the
    group's size (``sizes[i]``, taken as published: the conservative choice).
    ``total_parts`` (B,) are the overall parts (published), ``total_size``
    the population.  Returns the new (G, B) ``ok`` masks.
    """
    attrs: list[str] = []
    for g in groupings:
        attrs.extend(a for a in g.attributes if a not in attrs)
    gkeys, blocks = [], []
    for i, g in enumerate(groupings):
        pos = {a: j for j, a in enumerate(g.attributes)}
        gkeys.append([tuple(v[pos[a]] if a in pos else _ANY for a in attrs) for v in g.values])
        blocks.append((np.asarray(parts[i], dtype=np.int64), ~np.asarray(ok[i], dtype=bool),
                       np.asarray(sizes[i], dtype=np.int64)))
    if total_parts is not None:
        gkeys.append([tuple(_ANY for _ in attrs)])
        tp = np.asarray(total_parts, dtype=np.int64)[None, :]
        blocks.append((tp, np.zeros(tp.shape, dtype=bool), np.array([int(total_size or tp.sum())])))
    keys, cn, hid, where = [], [], [], []
    for i, (ks, (p, h, sz)) in enumerate(zip(gkeys, blocks, strict=True)):
        for k, gk in enumerate(ks):
            for b in range(p.shape[1]):
                keys.append((b,) + gk)
                cn.append(int(p[k, b]))
                hid.append(bool(h[k, b]))
                where.append((i, k, b))
            keys.append((_ANY,) + gk)
            cn.append(int(sz[k]))
            hid.append(False)
            where.append((i, k, -1))
    hid = protect_lines(keys, np.array(cn), np.array(hid))
    out = [np.array(ok[i], dtype=bool, copy=True) for i in range(len(groupings))]
    for (i, k, b), h in zip(where, hid, strict=True):
        if b >= 0 and i < len(out):
            out[i][k, b] = not h
    return out


def protect_rows(groupings: Sequence[Grouping], rows: Sequence[dict], counts: Sequence, fields: Sequence,
                 total: Any = None) -> None:
    """Apply :func:`protect_groupings` to one count already laid out in rows (one row per group, in place).

    ``rows`` hold ``n_groups`` rows per grouping in order; ``counts[i]`` is
    the (G,) count of grouping ``i``; ``fields`` name where the count and
    everything derived from it is published (a key, or ``(key, tier)``).  A
    count is hidden when its row has no ``n`` or its first field is None;
    newly hidden counts have every field cleared and the row marked suppressed.
    """
    by_group = split_rows(rows, groupings)
    ok = [np.array([r.get("n") is not None and _get(r, fields[0]) is not None for r in rs], dtype=bool)
          for rs in by_group]
    new = protect_groupings(groupings, [np.asarray(c, dtype=np.int64) for c in counts], ok,
                            total=total, total_ok=total is not None)
    for rs, before, after in zip(by_group, ok, new, strict=True):
        for r, b, a in zip(rs, before, after, strict=True):
            if b and not a:
                for f in fields:
                    _clear(r, f)
                r["suppressed"] = True


def total_reveals(parts, hidden, t: int) -> bool:
    """Would publishing the total of ``parts`` give back a hidden part?

    The groups of a grouping split the population, so an overall count minus
    the published group counts is the sum of the hidden ones: a problem when
    that sum is small, or when a single non-zero part is hidden.  The overall
    figure is then suppressed instead (the group cells stay as they are).

    >>> total_reveals([40, 3, 50], [False, True, False], 10), total_reveals([40, 3, 50], [False, True, True], 10)
    (True, False)
    """
    parts = np.asarray(parts, dtype=np.int64)
    h = parts[np.asarray(hidden, dtype=bool)]
    return is_small(int(h.sum()), t) or int((h > 0).sum()) == 1


def split_rows(rows: Sequence[dict], groupings: Sequence[Grouping]) -> list[list[dict]]:
    """Rows emitted grouping by grouping (``n_groups`` each) -> one list per grouping."""
    out, i = [], 0
    for g in groupings:
        out.append(list(rows[i:i + g.n_groups]))
        i += g.n_groups
    return out


def group_id(grouping: Grouping, code: int) -> dict:
    return {"attributes": list(grouping.attributes), "group": grouping.label(code)}


def quantile_map(row: np.ndarray, digits: int = 4) -> dict | None:
    """Quantiles by key; score quantiles use ``digits=1`` (no individual's exact score is published)."""
    if row is None or not np.isfinite(row).all():
        return None
    return {k: fnum(v, digits) for k, v in zip(QUANTILE_KEYS, row, strict=True)}


def jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays to plain Python recursively; non-finite floats to None."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return fnum(obj, 10)
    return obj


# ---------------------------------------------------------------------- tidy tables
_ID_KEYS = ("round", "hops", "attributes", "group", "tier")


def _group_text(group: Any) -> str:
    if isinstance(group, Mapping):
        return " & ".join(f"{k}={v}" for k, v in group.items())
    return "" if group is None else str(group)


def flatten_record(rec: Mapping, prefix: str = "") -> dict:
    """One JSON record as one flat row: nested dicts become ``key[sub]`` columns."""
    out: dict[str, Any] = {}
    for k, v in rec.items():
        name = f"{prefix}{k}"
        if k == "attributes" and not prefix:
            out[k] = " & ".join(v) if v else ""
        elif k == "group" and not prefix:
            out[k] = _group_text(v)
        elif isinstance(v, Mapping):
            for sub, val in v.items():
                if isinstance(val, Mapping):
                    out.update(flatten_record(val, prefix=f"{name}[{sub}]."))
                else:
                    out[f"{name}[{sub}]"] = val
        elif isinstance(v, list):
            continue  # nested tables are flattened by their owner
        else:
            out[name] = v
    return out


def melt(frame: pd.DataFrame, section: str, tiers: Sequence[str]) -> pd.DataFrame:
    """Wide section table -> long (section, round, hops, attributes, group, tier, statistic, value)."""
    cols = ["section", "round", "hops", "attributes", "group", "tier", "statistic", "value"]
    if frame.empty:
        return pd.DataFrame(columns=cols)
    ids = [c for c in _ID_KEYS if c in frame.columns]
    value_cols = [c for c in frame.columns if c not in ids and c != "suppressed"]
    long = frame.melt(id_vars=ids, value_vars=value_cols, var_name="statistic", value_name="value")
    stat = long["statistic"].astype(str)
    tier = pd.Series([None] * len(long), index=long.index, dtype=object)
    tierset = set(tiers)
    base = stat.str.extract(r"^([^\[]+)\[([^\]]*)\]$")
    is_tier = base[1].isin(tierset) & base[0].notna()
    if "tier" in long.columns:
        tier = long["tier"].astype(object)
    tier = tier.where(~is_tier, base[1])
    long["statistic"] = stat.where(~is_tier, base[0])
    long["tier"] = tier
    long["section"] = section
    for c in cols:
        if c not in long.columns:
            long[c] = None
    long["value"] = long["value"].astype(object)
    return long[cols].reset_index(drop=True)


class Section:
    """A part of the contagion audit: ``to_dict()`` (JSON-ready, disclosure-controlled), ``to_frame()``, HTML."""

    name = "section"
    status: str = "ran"
    reason: str | None = None

    def to_dict(self) -> dict:  # pragma: no cover - overridden
        raise NotImplementedError

    def _rows(self) -> list[dict]:
        """Flat rows for :meth:`to_frame` (default: the list-valued entries of :meth:`to_dict`)."""
        d = self.to_dict()
        for key in ("groups", "rows"):
            if isinstance(d.get(key), list):
                return [flatten_record(r) for r in d[key]]
        return []

    def to_frame(self) -> pd.DataFrame:
        """The section's table (one row per group, round or hop band); suppressed cells are None."""
        return pd.DataFrame(self._rows())

    def _repr_html_(self) -> str:
        head = f"<h4>{html.escape(self.title())}</h4>"
        if self.status != "ran":
            return head + f"<p><em>not run: {html.escape(str(self.reason or ''))}</em></p>"
        frame = self.to_frame()
        return head + frame.to_html(index=False, escape=True, max_rows=40, na_rep="—")

    def title(self) -> str:
        return self.name.replace("_", " ").capitalize()


def not_run(reason: str) -> dict:
    return {"status": "not run", "reason": reason}
