"""``DynamicsResult``: group aggregates per run and period, published under the cell rule.

The result holds, for every run, period and group, the counts and sums of
:mod:`audit.dynamics._measure` (never a person).  What it *publishes* --
``to_frame``, ``to_dict``, the report -- passes the disclosure rule first:

* a group is shown only with at least ``min_group_size`` people;
* a share is a cell of counts (``k`` isolated of ``n``, ``k`` tie-ends lost of
  the tie-ends the group held): it is published only when the cell is
  publishable (:func:`audit.disclosure.cell_publishable`) in **every** run, so a
  mean over runs never averages a suppressed count;
* a hidden cell hides further cells of its line (:func:`audit.disclosure.protect_lines`)
  so it cannot be recovered from a published total, and a grouping's
  assortativity is withheld in a period where any of its cross-group shares is;
* the value is the mean over runs, the band the central ``band`` share of runs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audit.disclosure import cell_publishable, protect_lines
from audit.dynamics._measure import ASSORT0, TIER0, C, P
from audit.groups import json_float

__all__ = ["DynamicsResult", "CAUSES", "CAUSE_LABELS"]

CAUSES = ("real_name_only", "margin_only", "both")
CAUSE_LABELS = {"real_name_only": "real-name clause only", "margin_only": "score margin only",
                "both": "both clauses"}
ALL = "all"


def _digits(metric: str) -> int:
    # Scores to 0.1 point (no individual's exact score); shares and counts per person to 6 digits, so that a
    # table's rounding of a published figure agrees with the sentence made from the same mean.
    return 1 if metric in ("mean_score", "mean_own_score") else 6


@dataclass(frozen=True, eq=False)
class DynamicsResult:
    """The long-run simulation of a rule (see :func:`audit.dynamics.simulate`).

    ``tables[variant]`` has shape ``(runs, periods + 1, groups, columns)``: the group
    aggregates of :data:`audit.dynamics._measure.COLUMNS` plus one count per tier;
    ``population[variant]`` has shape ``(runs, periods + 1, figures)``.  Variants are
    ``"scenario"`` and, with the decomposition, the scenario without one mechanism.
    """

    rule: dict
    scenario: dict
    data: dict
    settings: dict
    groups: tuple[dict, ...]
    tiers: tuple[str, ...]
    assortativity_keys: tuple[str, ...]
    tables: dict
    population: dict
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(cls, *, rule, scenario, data, settings, index, tables, population) -> DynamicsResult:
        groups = []
        for gi, g in enumerate(index.groupings):
            for k in range(g.n_groups):
                groups.append({"grouping": g.key, "attributes": list(g.attributes), "labels": g.label(k),
                               "name": g.name(k), "n": int(g.counts[k]), "protected": index.protected[gi],
                               "block": gi})
        card = {"name": rule.name, "title": rule.title, "status": rule.status, "kind": rule.kind,
                "content_hash": rule.content_hash, "higher_is_better": rule.higher_is_better,
                "range": list(rule.range) if rule.range else None,
                "network_weight": rule.network.weight if rule.network else None,
                "tiers": [{"name": t.name, "rule": t.describe()} for t in rule.tiers]}
        keys = tuple(g.key for g, p in zip(index.groupings, index.protected, strict=True) if p)
        return cls(card, scenario.to_card(), dict(data), dict(settings), tuple(groups),
                   tuple(t.name for t in rule.tiers), keys, tables, population)

    # ------------------------------------------------------------------ basic facts
    @property
    def periods(self) -> int:
        return int(self.settings["periods"])

    @property
    def runs(self) -> int:
        return int(self.settings["runs"])

    @property
    def variants(self) -> tuple[str, ...]:
        return tuple(self.tables)

    @property
    def t(self) -> int:
        return int(self.settings["disclosure_threshold"])

    @property
    def min_group_size(self) -> int:
        return int(self.settings["min_group_size"])

    def _shown(self, n) -> np.ndarray:
        return np.asarray(n) >= max(self.min_group_size, self.t)

    def sizes(self) -> list[int | None]:
        """Each group's size as published: None when it is 1 to ``t - 1`` or would give such a size back."""
        if "sizes" not in self._cache:
            out: list[int | None] = [g["n"] for g in self.groups]
            for b in {g["block"] for g in self.groups}:
                idx = [i for i, g in enumerate(self.groups) if g["block"] == b]
                n = np.array([self.groups[i]["n"] for i in idx])
                hidden = (n > 0) & (n < self.t)
                if hidden.any():
                    hidden = protect_lines([tuple(self.groups[i]["labels"].values()) for i in idx], n, hidden)
                    for i, h in zip(idx, hidden, strict=True):
                        out[i] = None if h else out[i]
            self._cache["sizes"] = out
        return list(self._cache["sizes"])

    # ------------------------------------------------------------------ per-run values with disclosure
    def metrics(self) -> list[str]:
        out = ["mean_score", "mean_own_score", "mean_degree", "isolated_share", "outside_giant_share",
               "cross_group_tie_share"]
        out += [f"tier_rate[{t}]" for t in self.tiers]
        out += [f"ties_lost_per_person[{c}]" for c in CAUSES] + [f"lost_tie_share[{c}]" for c in CAUSES]
        out += ["ties_formed_per_person", "ties_refused_per_person"]
        return out

    def _ratio(self, tab: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-run value, numerator and publishability of a metric: arrays (runs, periods + 1, K)."""
        n = tab[..., C["n"]]
        shown = self._shown(n)
        t = self.t
        if metric in ("mean_score", "mean_own_score", "mean_degree"):
            col = {"mean_score": "score_sum", "mean_own_score": "own_score_sum", "mean_degree": "degree_sum"}[metric]
            return tab[..., C[col]] / np.maximum(n, 1), tab[..., C[col]], shown
        if metric.startswith("tier_rate["):
            k = tab[..., TIER0 + self.tiers.index(metric[10:-1])]
            return k / np.maximum(n, 1), k, shown & cell_publishable(k, n, t)
        if metric in ("isolated_share", "outside_giant_share"):
            k = tab[..., C["isolated" if metric == "isolated_share" else "outside_giant"]]
            return k / np.maximum(n, 1), k, shown & cell_publishable(k, n, t)
        if metric == "cross_group_tie_share":
            k, m = tab[..., C["cross_ends"]], tab[..., C["known_ends"]]
            # Only a protected grouping's groups have cross-group ties (not the score fifths, not everyone).
            prot = np.array([g["protected"] for g in self.groups] + [False] * (tab.shape[2] - len(self.groups)))
            return k / np.maximum(m, 1), k, shown & prot & (m > 0) & cell_publishable(k, m, t)
        held = tab[:, :1, :, C["degree_sum"]] + tab[..., C["formed"]]     # tie-ends held at some point
        if metric.startswith("ties_lost_per_person["):
            k = tab[..., C["lost_" + metric[21:-1]]]
            return k / np.maximum(n, 1), k, shown & cell_publishable(k, held, t)
        if metric.startswith("lost_tie_share["):
            k = tab[..., C["lost_" + metric[15:-1]]]
            lost = tab[..., C["lost_real_name_only"]] + tab[..., C["lost_margin_only"]] + tab[..., C["lost_both"]]
            return k / np.maximum(lost, 1), k, shown & (lost > 0) & cell_publishable(k, lost, t)
        if metric == "ties_formed_per_person":
            k = tab[..., C["formed"]]
            return k / np.maximum(n, 1), k, shown & cell_publishable(k, held, t)
        if metric == "ties_refused_per_person":
            k = tab[..., C["refused"]]
            return k / np.maximum(n, 1), k, shown & ~((k > 0) & (k < t))
        raise KeyError(metric)

    def _totals(self, tab: np.ndarray) -> np.ndarray:
        """The whole population's aggregates, from the initial-score fifths (a grouping that covers everyone)."""
        last = max(g["block"] for g in self.groups)
        idx = [i for i, g in enumerate(self.groups) if g["block"] == last]
        return tab[:, :, idx, :].sum(axis=2, keepdims=True)

    def published(self, variant: str = "scenario") -> dict:
        """Metric -> (value, band_low, band_high) arrays of shape (periods + 1, groups + 1); NaN where withheld.

        Column ``groups`` (the last) is the whole population.
        """
        key = ("published", variant)
        if key in self._cache:
            return self._cache[key]
        tab = self.tables[variant]
        full = np.concatenate([tab, self._totals(tab)], axis=2)
        lo_q, hi_q = (1 - self.settings["band"]) / 2, (1 + self.settings["band"]) / 2
        blocks = sorted({g["block"] for g in self.groups})
        members = {b: [i for i, g in enumerate(self.groups) if g["block"] == b] for b in blocks}
        keys = [tuple(g["labels"].values()) for g in self.groups]
        out = {}
        for metric in self.metrics():
            val, num, ok = self._ratio(full, metric)
            pub = ok.all(axis=0)                                        # every run publishable
            mean_num = num.mean(axis=0)
            for b in blocks:
                idx = members[b]
                for p in range(pub.shape[0]):
                    hidden = ~pub[p, idx]
                    if hidden.any():
                        pub[p, idx] = ~protect_lines([keys[i] for i in idx], mean_num[p, idx], hidden)
            v = np.where(pub, val.mean(axis=0), np.nan)
            lo = np.where(pub, np.quantile(val, lo_q, axis=0), np.nan)
            hi = np.where(pub, np.quantile(val, hi_q, axis=0), np.nan)
            out[metric] = (v, lo, hi)
        self._cache[key] = out
        return out

    def population_published(self, variant: str = "scenario") -> dict:
        """Population figures per period: name -> (value, low, high) arrays of shape (periods + 1,)."""
        key = ("population", variant)
        if key in self._cache:
            return self._cache[key]
        pop = self.population[variant]
        pubs = self.published(variant)
        lo_q, hi_q = (1 - self.settings["band"]) / 2, (1 + self.settings["band"]) / 2
        out = {}

        def put(name, x, ok):
            out[name] = tuple(np.where(ok, f, np.nan) for f in (x.mean(axis=0), np.quantile(x, lo_q, axis=0),
                                                                np.quantile(x, hi_q, axis=0)))

        every = np.ones(pop.shape[1], dtype=bool)
        t = self.t

        def counted(x):     # a count of ties is withheld in a period where any run's count is small
            return ~((x > 0) & (x < t)).any(axis=0)

        put("edges", pop[..., P["edges"]], every)
        for c in CAUSES:
            x = pop[..., P[f"removed_{c}"]]
            put(f"ties_removed[{c}]", x, counted(x))
        put("ties_formed", pop[..., P["formed"]], counted(pop[..., P["formed"]]))
        sa = pop[..., P["score_assortativity"]]
        put("score_assortativity", sa, np.isfinite(sa).all(axis=0))
        put("solver_error_bound", pop[..., P["solver_error_bound"]], every)
        for j, gkey in enumerate(self.assortativity_keys):
            x = pop[..., ASSORT0 + j]
            members = [i for i, g in enumerate(self.groups) if g["grouping"] == gkey]
            # Withheld in a period where any group's cross-group share is (or a group is too small to be
            # shown): r and the published shares would give the withheld share back.
            cross_ok = ~np.isnan(pubs["cross_group_tie_share"][0][:, members])
            put(f"assortativity[{gkey}]", x, np.isfinite(x).all(axis=0) & cross_ok.all(axis=1))
        self._cache[key] = out
        return out

    # ------------------------------------------------------------------ tidy outputs
    def group_names(self) -> list[str]:
        return [g["name"] for g in self.groups] + [ALL]

    def to_frame(self, variant: str = "scenario") -> pd.DataFrame:
        """Tidy long table: ``period, group, metric, value, band_low, band_high`` (withheld figures are NaN).

        Groups below the minimum size are left out; ``group == "all"`` is the whole population
        (its population-level figures -- edges, assortativity -- have ``metric`` names of their own).
        """
        pubs = self.published(variant)
        names = self.group_names()
        shown = list(np.flatnonzero(self._shown([g["n"] for g in self.groups]))) + [len(self.groups)]
        frames = []
        periods = np.arange(self.periods + 1)
        for metric, (v, lo, hi) in pubs.items():
            for k in shown:
                if metric == "cross_group_tie_share" and (k == len(self.groups) or not self.groups[k]["protected"]):
                    continue
                frames.append(pd.DataFrame({"period": periods, "group": names[k], "metric": metric,
                                            "value": v[:, k], "band_low": lo[:, k], "band_high": hi[:, k]}))
        for name, (v, lo, hi) in self.population_published(variant).items():
            frames.append(pd.DataFrame({"period": periods, "group": ALL, "metric": name, "value": v,
                                        "band_low": lo, "band_high": hi}))
        out = pd.concat(frames, ignore_index=True)
        return out.sort_values(["period", "group", "metric"], kind="stable").reset_index(drop=True)

    def _fig(self, metric: str, v, lo, hi, p: int, k: int) -> dict | None:
        d = _digits(metric)
        if np.isnan(v[p, k]):
            return None
        return {"value": json_float(v[p, k], d), "band_low": json_float(lo[p, k], d),
                "band_high": json_float(hi[p, k], d)}

    def _row(self, pubs: dict, p: int, k: int) -> dict:
        g = self.groups[k] if k < len(self.groups) else None
        row = {"period": p, "group": ALL if g is None else g["name"],
               "grouping": None if g is None else g["grouping"],
               "labels": {} if g is None else dict(g["labels"]),
               "n": self.data["n"] if g is None else self.sizes()[k]}
        row["tier_rates"] = {t: self._fig(f"tier_rate[{t}]", *pubs[f"tier_rate[{t}]"], p, k) for t in self.tiers}
        for m in ("mean_score", "mean_own_score", "mean_degree", "isolated_share", "outside_giant_share"):
            row[m] = self._fig(m, *pubs[m], p, k)
        if g is not None and g["protected"]:
            row["cross_group_tie_share"] = self._fig("cross_group_tie_share", *pubs["cross_group_tie_share"], p, k)
        row["ties_lost_per_person"] = {c: self._fig("x", *pubs[f"ties_lost_per_person[{c}]"], p, k) for c in CAUSES}
        row["lost_tie_share"] = {c: self._fig("x", *pubs[f"lost_tie_share[{c}]"], p, k) for c in CAUSES}
        row["ties_formed_per_person"] = self._fig("x", *pubs["ties_formed_per_person"], p, k)
        row["ties_refused_per_person"] = self._fig("x", *pubs["ties_refused_per_person"], p, k)
        figs = [row[m] for m in ("mean_score", "mean_degree", "isolated_share", "outside_giant_share")]
        figs += list(row["tier_rates"].values())
        row["suppressed"] = any(f is None for f in figs)
        return row

    def period_rows(self, variant: str = "scenario", periods=None) -> list[dict]:
        """``dynamics.periods``: one entry per period and shown group (and the whole population)."""
        pubs = self.published(variant)
        shown = list(np.flatnonzero(self._shown([g["n"] for g in self.groups]))) + [len(self.groups)]
        ps = range(self.periods + 1) if periods is None else periods
        return [self._row(pubs, p, int(k)) for p in ps for k in shown]

    def population_rows(self, variant: str = "scenario") -> list[dict]:
        pp = self.population_published(variant)
        out = []
        for p in range(self.periods + 1):
            row = {"period": p}
            for name, (v, lo, hi) in pp.items():
                d = 10 if name == "solver_error_bound" else 4
                row[name] = None if np.isnan(v[p]) else {"value": json_float(v[p], d),
                                                         "band_low": json_float(lo[p], d),
                                                         "band_high": json_float(hi[p], d)}
            out.append(row)
        return out

    def decomposition(self) -> dict | None:
        """Each shown group at the last period, under the scenario and with each mechanism switched off."""
        if len(self.variants) < 2:
            return None
        last = self.periods
        rows = []
        shown = list(np.flatnonzero(self._shown([g["n"] for g in self.groups]))) + [len(self.groups)]
        metrics = ("isolated_share", "mean_degree", "mean_score", f"tier_rate[{self.tiers[0]}]")
        for k in shown:
            row = {"group": self.group_names()[k], "variants": {}}
            for var in self.variants:
                pubs = self.published(var)
                row["variants"][var] = {m: self._fig(m, *pubs[m], last, int(k)) for m in metrics}
            rows.append(row)
        return {"period": last, "variants": list(self.variants), "metrics": list(metrics), "groups": rows}

    def settling(self, tolerance: float = 0.005, window: int = 5) -> dict:
        """The first period from which every published group share stays within ``tolerance`` of its final value."""
        pubs = self.published()
        stack = [pubs[m][0] for m in ["isolated_share", "outside_giant_share"] + [f"tier_rate[{t}]" for t in self.tiers]]
        x = np.stack(stack, axis=-1)                                   # (periods+1, K+1, metrics)
        final = x[-1]
        close = np.where(np.isnan(x) | np.isnan(final)[None], True, np.abs(x - final[None]) <= tolerance)
        ok = close.reshape(close.shape[0], -1).all(axis=1)
        p = len(ok)
        while p > 0 and ok[p - 1]:
            p -= 1
        settled = p <= self.periods - window
        return {"tolerance": tolerance, "window": window, "settled": bool(settled), "period": int(p) if settled else None}

    def to_dict(self) -> dict:
        """The ``dynamics`` block of report.json (group aggregates only, disclosure-controlled, no NaN)."""
        if "dict" not in self._cache:
            from audit.dynamics._summary import methods, summary

            self._cache["dict"] = {
                "status": "ran",
                "rule": copy.deepcopy(self.rule),
                "scenario": copy.deepcopy(self.scenario),
                "data": {k: v for k, v in self.data.items()},
                "settings": copy.deepcopy(self.settings),
                "tiers": list(self.tiers),
                "groups": [{"group": g["name"], "grouping": g["grouping"], "labels": dict(g["labels"]),
                            "n": n, "shown": bool(self._shown(g["n"]))}
                           for g, n in zip(self.groups, self.sizes(), strict=True)],
                "summary": summary(self),
                "methods": methods(self),
                "periods": self.period_rows(),
                "population": self.population_rows(),
                "decomposition": self.decomposition(),
                "settling": self.settling(),
            }
        return copy.deepcopy(self._cache["dict"])

    def _repr_html_(self) -> str:
        from audit.dynamics._render import render_html_fragment
        from audit.dynamics._report import dynamics_section

        doc = self.to_dict()
        view = {"title": f"Long-run dynamics: {doc['rule']['title']}",
                "subtitle": doc["summary"]["headline"], "sections": [dynamics_section(doc, figures=True)]}
        return render_html_fragment(view)

    def __repr__(self) -> str:
        return (f"DynamicsResult(rule={self.rule['name']!r}, scenario={self.scenario['name']!r}, "
                f"periods={self.periods}, runs={self.runs}, groups={len(self.groups)}, variants={list(self.variants)})")
