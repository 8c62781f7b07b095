"""The proxy analysis result: ranked proxy table, decomposition, neutralisation, redundant encoding."""

from __future__ import annotations

import copy
import html
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["ProxyResult", "MOST_OF_GAP", "TOP_PROXIES", "OBSERVED"]

#: A proxy "carries most of a group's gap" when its share of the gap is at least this.
MOST_OF_GAP = 0.5
#: Number of proxies named on each pushed-out entry.
TOP_PROXIES = 3

TABLES = ("ranking", "influence", "decomposition", "neutralisation", "notable_changes", "redundant_encoding")


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _num(x: Any, digits: int = 3) -> str:
    if x is None:
        return "&mdash;"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return _e(x)


#: The impact family's provisional mechanism, replaced by this family's diagnosis.
_PROVISIONAL = ("direct", "direct term")


#: Mechanism of an observed score (only its outputs are known): how it produces a gap cannot be told.
OBSERVED = "observed"


def _mechanism(mech: Any, *, reads: bool, proxy: bool, observed: bool = False):
    """The mechanism after the proxy diagnosis (see :meth:`ProxyResult.annotate_pushed_out`)."""
    as_list = isinstance(mech, (list, tuple))
    parts = [str(m) for m in mech if m] if as_list else (
        [m.strip() for m in str(mech).split("+") if m.strip()] if mech else [])
    if observed:
        if not parts or parts[0] in _PROVISIONAL:
            parts = [OBSERVED] + [m for m in parts[1:] if m not in _PROVISIONAL and m != OBSERVED]
        return list(parts) if as_list else "+".join(parts)
    if not parts or parts[0] in _PROVISIONAL:
        head = ["protected", "proxy"] if reads and proxy else \
            ["protected"] if reads else ["proxy"] if proxy else ["indirect"]
        rest = [m for m in parts[1:] if m not in _PROVISIONAL and m not in head]
        parts = head + rest
    elif proxy and "proxy" not in parts:
        parts = [*parts, "proxy"]
    return list(parts) if as_list else "+".join(parts)


@dataclass(frozen=True, eq=False)
class ProxyResult:
    """Result of :func:`audit.proxy.proxy_analysis`.

    Attributes
    ----------
    status : str
        ``"ok"``, or ``"partial"`` when a part could not be computed (see ``notes``).
    methods : dict
        Estimators, folds, sampling, thresholds and formulas, in words.
    ranking : list of dict
        One row per (input, protected attribute), strongest proxy first.
    influence, decomposition, neutralisation, notable_changes, redundant_encoding : list of dict
        The other tables (see :meth:`to_dict`).
    notes : list of str
    """

    status: str
    methods: dict
    ranking: list
    influence: list
    decomposition: list
    neutralisation: list
    notable_changes: list
    redundant_encoding: list
    notes: list = field(default_factory=list)
    _gap_shares: dict = field(default_factory=dict, repr=False)
    _overlaps: dict = field(default_factory=dict, repr=False)
    _reads: frozenset = field(default_factory=frozenset, repr=False)      # columns the rule reads
    _tier_effects: dict = field(default_factory=dict, repr=False)         # equalised impact, see _tier_share
    _groupings: dict = field(default_factory=dict, repr=False)            # attributes -> (key, values)
    _tiers: tuple = field(default=(), repr=False)
    _observed: bool = field(default=False, repr=False)                    # observed score: outputs only

    # ------------------------------------------------------------------ export
    def to_dict(self) -> dict:
        """JSON-ready: only str/int/float/bool/None/list/dict, finite floats, disclosure rule applied.

        Suppression (:mod:`audit.disclosure`): sizes ``0 < n < disclosure_threshold``
        are None; decomposition means, gaps and contributions only for groups
        (and references) of at least ``min_group_size`` people, and a two-valued
        (condition) term's line only where the count behind it is publishable
        (cell rule plus ``protect_lines``; the record's gap, mean and shares go
        with it); a neutralisation ``after`` not where 1..threshold-1 of the
        group's (or the most favoured group's) people change tier; a neutralisation
        ratio only when both its cells (the group's favourable count of its size
        and the most favoured group's) are publishable, before and after
        separately, ``change`` and ``notable_changes`` only when both are;
        ``rows_changed`` / ``mean_abs_score_change`` and the sampling's row counts
        only when they are publishable cells.

        Layout::

            {"status", "methods",
             "ranking": [{feature, kind, label, attribute, association, auc, nmi, eta, cramers_v,
                          influence, variance_share, mean_abs_change, proxy_strength, proxy, direct}],
             "influence": [{feature, kind, label, influence, variance_share, mean_abs_change, ...}],
             "decomposition": [{attributes, group, reference, n, n_reference, suppressed, method,
                                gap, mean_score, mean_score_reference,
                                lines_suppressed (only when true),
                                contributions: [{feature, kind, label, contribution, share, se, suppressed}]}],
                                # contributions, means, gaps rounded to 0.01 points; shares, se to 3 decimals
             "neutralisation": [{feature, kind, label, method, how, attribute, rows_changed,
                                 mean_abs_score_change, tiers: [tier names],
                                 groups: [{attributes, group, n, suppressed,
                                           before, after, change}]}],   # impact ratios (3 decimals), one per tier
                                                                        # (None where suppressed)
             "notable_changes": [{sentence, feature, kind, method, attributes, group, tier,
                                  before, after, change}],
             "redundant_encoding": [{attribute, n_classes, auc_score, association_score,
                                     auc_inputs, association_inputs, inputs, classes_left_out}],
             "notes": [...]}
        """
        return copy.deepcopy({
            "status": self.status,
            "methods": self.methods,
            "ranking": self.ranking,
            "influence": self.influence,
            "decomposition": self.decomposition,
            "neutralisation": self.neutralisation,
            "notable_changes": self.notable_changes,
            "redundant_encoding": self.redundant_encoding,
            "notes": self.notes,
        })

    def to_frame(self, table: str = "ranking") -> pd.DataFrame:
        """One table as a tidy DataFrame.

        ``table`` is one of ``"ranking"`` (default), ``"influence"``,
        ``"decomposition"`` (one row per group and input), ``"neutralisation"``
        (one row per input, counterfactual, group and tier), ``"notable_changes"``
        or ``"redundant_encoding"``.
        """
        if table not in TABLES:
            raise ValueError(f"table must be one of {', '.join(TABLES)}; got {table!r}")
        if table == "decomposition":
            rows = []
            for rec in self.decomposition:
                head = {"attributes": " & ".join(rec["attributes"]),
                        "group": " & ".join(f"{k}={v}" for k, v in rec["group"].items()),
                        "reference": " & ".join(f"{k}={v}" for k, v in rec["reference"].items()),
                        "n": rec["n"], "method": rec["method"], "gap": rec["gap"]}
                for line in rec["contributions"]:
                    rows.append({**head, **line})
            return pd.DataFrame(rows)
        if table == "neutralisation":
            rows = []
            for rec in self.neutralisation:
                head = {k: rec[k] for k in ("feature", "kind", "label", "method", "attribute")}
                for grp in rec["groups"]:
                    gname = " & ".join(f"{k}={v}" for k, v in grp["group"].items())
                    for j, tier in enumerate(rec["tiers"]):
                        rows.append({**head, "group": gname, "n": grp["n"], "tier": tier,
                                     "impact_ratio_before": grp["before"][j] if grp["before"] else None,
                                     "impact_ratio_after": grp["after"][j] if grp["after"] else None,
                                     "change": grp["change"][j] if grp["change"] else None})
            return pd.DataFrame(rows)
        rows = getattr(self, table)
        frame = pd.DataFrame(copy.deepcopy(rows))
        for col in ("group", "reference"):
            if col in frame.columns:
                frame[col] = frame[col].map(
                    lambda d: " & ".join(f"{k}={v}" for k, v in d.items()) if isinstance(d, dict) else d)
        return frame

    # ------------------------------------------------------------------ pushed-out groups
    def annotate_pushed_out(self, entries: list[dict]) -> list[dict]:
        """Name the top proxies of each pushed-out entry and say how the rule produces its gap.

        Entries are copied, never dropped.  For an entry about the attributes
        ``A`` (all of them, for an intersection), group ``g`` and tier ``t``:

        **Candidates** are the ranking rows whose attribute is in ``A`` and
        whose input does not read the attribute itself (per input, its
        strongest row).  Each gets two shares of the gap:

        * ``gap_share`` (tier-specific): ``(r1 - r0) / (1 - r0)``, where ``r0``
          is ``g``'s impact ratio for ``t`` (against the most favoured group, on
          final scores) and ``r1`` the same ratio when the input's distribution
          within every group of the entry's grouping (``A``; an intersection's
          groups for an intersection) is mapped onto its reference group's (the
          ``equalised`` neutralisation): the share of the gap to parity that
          equalising the input closes.  The shares of several inputs need not
          add up to 1 (a tier is a cut-off on the whole score).  None when the
          neutralisation was not run or either ratio is not published (two-cell
          rule, :mod:`audit.disclosure`).
        * ``mean_gap_share``: the input's share of the *mean own-score* gap
          between ``g`` and the entry's ``reference_group`` (the most favoured
          group; the decomposition's reference group when the entry names none),
          from the differences of the two groups' contributions against the
          common reference (exact for points tables).  None when either group's
          means are not published.

        Only inputs that push in the direction of the gap are named: a positive
        ``gap_share``, or where it is None a positive ``mean_gap_share`` (all
        candidates when neither is known).  ``top_proxies`` lists up to three, by
        ``proxy_strength``; a term and a column it reads measure (part of) the
        same thing, so once one of them is listed the other is skipped.

        **Mechanism** (vocabulary ``protected`` / ``proxy`` / ``indirect``,
        combined with the network family's ``network`` by ``"+"``): the impact
        family's provisional ``"direct"`` (or no mechanism) is replaced by

        * ``"protected"`` when the rule reads one of ``A`` itself (a column it
          reads, or a term reads) — ``"protected+proxy"`` when a flagged proxy
          also carries at least ``MOST_OF_GAP`` (half) of the gap;
        * else ``"proxy"`` when a named input flagged ``proxy`` carries at least
          half of the gap (its ``gap_share``, or its ``mean_gap_share`` where
          ``gap_share`` is None);
        * else ``"indirect"``: the rule's terms produce the gap through inputs
          correlated with the attribute, without a single dominant proxy.

        For an observed score (only its outputs are known, e.g. released
        deciles) there are no inputs to name: ``top_proxies`` is empty and the
        provisional mechanism becomes ``"observed"`` (the rule's inputs are
        unknown, so how it produces the gap cannot be told).

        ``gap_share`` and ``mean_gap_share`` are rounded to 3 decimals.

        Other parts (``"network"``) are kept; ``"proxy"`` is appended to a
        mechanism without ``"direct"`` when the proxy condition holds.  A list
        mechanism stays a list.  Annotating twice changes nothing.
        """
        overlaps = self._overlaps
        out = []
        for entry in entries or []:
            e = copy.deepcopy(dict(entry))
            group = e.get("group") if isinstance(e.get("group"), dict) else {}
            attrs = list(e.get("attributes") or list(group))
            shares = self._shares(attrs, group, e.get("reference_group"))
            tier = e.get("tier")
            tier = tier.get("name") if isinstance(tier, dict) else tier
            best: dict[tuple[str, str], dict] = {}
            for row in self.ranking:
                if row["attribute"] not in attrs or row["proxy_strength"] is None or row.get("direct"):
                    continue
                k = (row["kind"], row["feature"])
                if k not in best or row["proxy_strength"] > best[k]["proxy_strength"]:
                    best[k] = row
            cands = []
            for (kind, feat), row in best.items():
                mean_share = None if shares is None else shares.get((kind, feat))
                share = self._tier_share(kind, feat, attrs, group, tier)
                basis = share if share is not None else mean_share
                known = share is not None or shares is not None
                if known and (basis is None or basis <= 0):
                    continue
                cands.append({"feature": feat, "kind": kind, "label": row["label"],
                              "attribute": row["attribute"], "association": row["association"],
                              "influence": row["influence"], "proxy_strength": row["proxy_strength"],
                              "proxy": row["proxy"],
                              # 3 decimals, like the published shares and ratios they derive from
                              "gap_share": None if share is None else round(share, 3),
                              "mean_gap_share": None if mean_share is None else round(mean_share, 3)})
            cands.sort(key=lambda c: (-c["proxy_strength"], c["kind"], c["feature"]))
            chosen, seen = [], set()
            for c in cands:
                key_c = f"{c['kind']}:{c['feature']}"
                if key_c in seen:
                    continue
                chosen.append(c)
                seen.add(key_c)
                seen.update(overlaps.get(key_c, ()))
                if len(chosen) == TOP_PROXIES:
                    break
            e["top_proxies"] = chosen

            def carried(c: dict) -> float | None:
                return c["gap_share"] if c["gap_share"] is not None else c["mean_gap_share"]

            proxy = any(c["proxy"] and carried(c) is not None and carried(c) >= MOST_OF_GAP for c in chosen)
            reads = bool(self._reads & set(attrs))
            e["mechanism"] = _mechanism(e.get("mechanism"), reads=reads, proxy=proxy, observed=self._observed)
            out.append(e)
        return out

    def annotate_findings(self, findings):
        """The findings with their top proxies and mechanism (see :meth:`annotate_pushed_out`)."""
        entries = [{"attributes": list(f.attributes), "group": dict(f.group), "tier": f.tier,
                    "reference_group": dict(f.comparator), "mechanism": f.mechanism} for f in findings]
        done = self.annotate_pushed_out(entries)
        return findings.replace_items(
            f.annotate(top_proxies=tuple(e.get("top_proxies") or ()), mechanism=e.get("mechanism") or f.mechanism)
            for f, e in zip(findings, done, strict=True))

    def _tier_share(self, kind: str, feature: str, attrs: list, group: dict, tier: Any) -> float | None:
        """``(r1 - r0) / (1 - r0)`` for the equalised input (see :meth:`annotate_pushed_out`), or None."""
        where = self._groupings.get(tuple(attrs))
        if where is None or tier not in self._tiers:
            return None
        key, values = where
        pair = self._tier_effects.get((kind, feature, key))
        if pair is None:
            return None
        want = tuple(group.get(a) for a in attrs)
        code = next((i for i, v in enumerate(values) if v == want), None)
        if code is None:  # values may come back as text (e.g. from JSON)
            text = tuple(str(x) for x in want)
            code = next((i for i, v in enumerate(values) if tuple(str(x) for x in v) == text), None)
        if code is None:
            return None
        j = self._tiers.index(tier)
        before, after = pair
        if not (before.ok[code, j] and after.ok[code, j]):
            return None
        r0, r1 = float(before.ratio[code, j]), float(after.ratio[code, j])
        if not r0 < 1.0:
            return None
        return (r1 - r0) / (1.0 - r0)

    def _lookup(self, attrs: list, group: dict):
        key = (tuple(attrs), tuple(group.get(a) for a in attrs))
        hit = self._gap_shares.get(key)
        if hit is None:  # values may come back as text (e.g. from JSON)
            text = (key[0], tuple(str(v) for v in key[1]))
            hit = next((v for k, v in self._gap_shares.items()
                        if (k[0], tuple(str(x) for x in k[1])) == text), None)
        return hit

    def _shares(self, attrs: list, group: dict, versus: Any) -> dict | None:
        """Each input's share of the mean own-score gap between ``group`` and ``versus``.

        ``versus`` is the entry's comparison group (the most favoured group of a
        pushed-out entry); when absent, the decomposition's reference group.
        None when either group's means are not published.  Contributions
        against a common reference are differenced, which is exact for points
        tables.
        """
        mine = self._lookup(attrs, group)
        if mine is None:
            return None
        if isinstance(versus, dict) and versus:
            other = self._lookup(attrs, versus)
            if other is None:
                return None
        else:
            other = (0.0, {})
        gap0, base = other
        gap = mine[0] - gap0
        if not gap:
            return None
        return {k: (v - base.get(k, 0.0)) / gap for k, v in mine[1].items()}

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        top = self.ranking[0] if self.ranking else None
        head = (f"top: {top['feature']!r} ~ {top['attribute']!r} strength {top['proxy_strength']}"
                if top else "no inputs")
        return (f"ProxyResult(status={self.status!r}, rows={len(self.ranking)}, "
                f"proxies={sum(1 for r in self.ranking if r['proxy'])}, {head})")

    def _repr_html_(self) -> str:
        m = self.methods
        parts = [f"<div class='audit-proxy'><h3>Proxy analysis ({_e(self.status)})</h3>"]
        parts.append(f"<p>proxy strength = {_e(m.get('proxy_strength', {}).get('formula', ''))}; "
                     f"flagged when {_e(m.get('proxy_strength', {}).get('flag', ''))}</p>")
        cols = ["feature", "kind", "attribute", "association", "auc", "influence", "proxy_strength", "proxy"]
        parts.append("<table><thead><tr>" + "".join(f"<th>{_e(c)}</th>" for c in cols) + "</tr></thead><tbody>")
        for row in self.ranking[:15]:
            parts.append("<tr>" + "".join(
                f"<td>{_num(row.get(c)) if c not in ('feature', 'kind', 'attribute') else _e(row.get(c))}</td>"
                for c in cols) + "</tr>")
        parts.append("</tbody></table>")
        if len(self.ranking) > 15:
            parts.append(f"<p>{len(self.ranking) - 15} more rows in <code>to_frame()</code>.</p>")
        if self.notable_changes:
            parts.append("<h4>Largest counterfactual changes</h4><ul>")
            for n in self.notable_changes[:10]:
                parts.append(f"<li>{_e(n['sentence'])}</li>")
            parts.append("</ul>")
        if self.redundant_encoding:
            parts.append("<h4>Redundant encoding (cross-validated AUC)</h4><table><thead><tr>"
                         "<th>attribute</th><th>score alone</th><th>all inputs</th></tr></thead><tbody>")
            for r in self.redundant_encoding:
                parts.append(f"<tr><td>{_e(r['attribute'])}</td><td>{_num(r['auc_score'])}</td>"
                             f"<td>{_num(r['auc_inputs'])}</td></tr>")
            parts.append("</tbody></table>")
        for note in self.notes:
            parts.append(f"<p><em>{_e(note)}</em></p>")
        parts.append("</div>")
        return "".join(parts)
