"""The composite :class:`ContagionResult` and the pushed-out annotation."""

from __future__ import annotations

import copy
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from audit.contagion._amplification import Amplification
from audit.contagion._common import FOUR_FIFTHS, Section, fnum, jsonable, melt
from audit.contagion._graphstats import GraphStatistics
from audit.contagion._spillover import Shock, Spillover
from audit.contagion._unfriending import Unfriending

__all__ = ["ContagionResult", "SECTIONS"]

SECTIONS = ("graph_statistics", "spillover", "shock", "unfriending", "amplification")
MATERIAL = 0.02


def _num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@dataclass(frozen=True, eq=False)
class ContagionResult:
    """The network-contagion audit: graph statistics, spillover, shock, unfriending and amplification.

    Every section is also available alone (``result.spillover`` etc., each with
    ``to_dict``/``to_frame``); a section that could not run says why
    (``status == "not run"`` and a ``reason``) instead of disappearing.

    ``to_dict()`` is what ``report.json`` holds under ``contagion``: group
    aggregates only, under :mod:`audit.disclosure`'s cell rule (a count or its
    complement of 1 to ``disclosure_threshold - 1`` hides the cell and all
    derived from it, as None with ``suppressed: true``), no NaN or infinity.
    """

    status: str
    reason: str | None
    methods: dict
    settings: dict
    tiers: tuple[str, ...] = ()
    graph_statistics: GraphStatistics | None = None
    spillover: Spillover | None = None
    shock: Shock | None = None
    unfriending: Unfriending | None = None
    amplification: Amplification | None = None
    skipped: dict = field(default_factory=dict)        # section -> reason, for sections never built
    disclosure_threshold: int = 10
    min_group_size: int = 30

    # ------------------------------------------------------------------ constructors
    @classmethod
    def not_run(cls, reason: str, *, methods: dict | None = None, settings: dict | None = None,
                disclosure_threshold: int = 10, min_group_size: int = 30) -> ContagionResult:
        return cls("not run", reason, dict(methods or {}), dict(settings or {}),
                   skipped={s: reason for s in SECTIONS}, disclosure_threshold=disclosure_threshold,
                   min_group_size=min_group_size)

    # ------------------------------------------------------------------ access
    def section(self, name: str) -> Section | None:
        if name not in SECTIONS:
            raise KeyError(f"unknown contagion section {name!r} (choose from {', '.join(SECTIONS)})")
        return getattr(self, name)

    def section_status(self, name: str) -> dict:
        sec = self.section(name)
        if sec is None:
            return {"status": "not run", "reason": self.skipped.get(name, self.reason or "not requested")}
        return {"status": sec.status, "reason": sec.reason}

    @property
    def assortativity(self) -> dict[str, float]:
        """Grouping -> Newman's assortativity on the input graph (empty without a graph)."""
        return {} if self.graph_statistics is None else dict(self.graph_statistics.assortativity)

    # ------------------------------------------------------------------ pushed-out annotation
    def annotate_pushed_out(self, entries: Sequence[Mapping], *, threshold: float = FOUR_FIFTHS,
                            material: float = MATERIAL) -> list[dict]:
        """Say which pushed-out groups the network term pushes out (entries are never dropped).

        For each entry (``attributes``, ``group``, ``tier``, ``impact_ratio``,
        ..., ``mechanism``) of a (grouping, group, tier) the amplification
        section has: the keys ``impact_ratio_without_network`` and
        ``impact_ratio_rewired`` are added, and

        * if the ratio without the network term is at least ``threshold``
          (0.8), the network term causes the exclusion: ``mechanism`` becomes
          ``"network"``;
        * if it is below ``threshold`` either way but the network term lowers
          it by more than ``material`` (0.02), ``"+network"`` is appended
          (``"direct"`` is assumed when no mechanism was set:
          ``"direct+network"``).

        A ratio is added only when it can be published (the group's cell and
        the most favoured group's cell of that scenario, neither with a count
        or complement of 1 to ``disclosure_threshold - 1``), else None; the
        mechanism is changed only when the ratios it rests on are published.
        Without an amplification section (no graph, no network term) the
        entries come back unchanged (as copies).
        """
        out = [copy.deepcopy(dict(e)) for e in entries]
        amp = self.amplification
        if amp is None or amp.status != "ran":
            return out
        table = amp.lookup()
        by_text = {(a, tuple(map(str, v)), tn): val for (a, v, tn), val in table.items()}
        for e in out:
            group = e.get("group")
            if not isinstance(group, Mapping):
                continue
            attrs = tuple(e.get("attributes") or group.keys())
            vals = tuple(group.get(a) for a in attrs)
            tier = e.get("tier")
            if isinstance(tier, Mapping):
                tier = tier.get("name")
            hit = table.get((attrs, vals, tier)) or by_text.get((attrs, tuple(map(str, vals)), tier))
            if hit is None:
                continue
            r0, r1, r2, _n, _hits, (ok0, ok1, ok2) = hit
            # The two-cell rule: a ratio is given only when the group's cell and the most favoured group's
            # cell (in that scenario) can both be published.
            e["impact_ratio_without_network"] = fnum(r0, 4) if ok0 else None
            e["impact_ratio_rewired"] = fnum(r2, 4) if ok2 else None
            # The mechanism says where a ratio lies (above or below 0.8, lowered by the network term): it is
            # derived from the ratios, so it is only changed when the ratios it rests on are published.
            if not (ok0 and math.isfinite(r0)):
                continue
            mech = e.get("mechanism")
            if r0 >= threshold:
                e["mechanism"] = "network"
            elif ok1 and math.isfinite(r1) and r1 < threshold and r0 - r1 > material:
                if isinstance(mech, (list, tuple)):
                    if "network" not in mech:
                        e["mechanism"] = [*mech, "network"]
                elif not mech:
                    e["mechanism"] = "direct+network"
                elif "network" not in str(mech).split("+"):
                    e["mechanism"] = f"{mech}+network"
        return out

    def annotate_findings(self, findings):
        """The findings with the network term's part in them (see :meth:`annotate_pushed_out`)."""
        entries = [{"attributes": list(f.attributes), "group": dict(f.group), "tier": f.tier,
                    "mechanism": f.mechanism} for f in findings]
        done = self.annotate_pushed_out(entries)
        return findings.replace_items(
            f.annotate(mechanism=e.get("mechanism") or f.mechanism,
                       impact_ratio_without_network=e.get("impact_ratio_without_network"),
                       impact_ratio_rewired=e.get("impact_ratio_rewired"))
            for f, e in zip(findings, done, strict=True))

    # ------------------------------------------------------------------ output
    def to_dict(self) -> dict:
        """JSON-ready document (see the module docstring of :mod:`audit.contagion` for the layout)."""
        gs = self.graph_statistics
        gsd = gs.to_dict() if gs is not None else None
        sp = self.spillover.to_dict() if self.spillover is not None else None
        sh = self.shock.to_dict() if self.shock is not None else self.section_status("shock")
        uf = self.unfriending.to_dict() if self.unfriending is not None else \
            {**self.section_status("unfriending"), "settings": None, "rounds": [], "sensitivity": None}
        am = self.amplification.to_dict() if self.amplification is not None else None
        doc = {
            "status": self.status,
            "reason": self.reason,
            "methods": dict(self.methods),
            "settings": dict(self.settings),
            "sections": {s: self.section_status(s) for s in SECTIONS},
            "graph": gsd["graph"] if gsd else None,
            "assortativity": gsd["assortativity"] if gsd else {},
            "cross_group_ties": gsd["cross_group_ties"] if gsd else {},
            "graph_statistics": gsd["groups"] if gsd else [],
            "spillover": sp["groups"] if sp else [],
            "spillover_summary": ({"overall": sp.get("overall"), "solver": sp.get("solver")}
                                  if sp and sp["status"] == "ran" else None),
            "shock": sh,
            "unfriending": uf,
            "amplification": am["rows"] if am else [],
            "rewiring": am.get("rewiring") if am else None,
        }
        return jsonable(doc)

    def to_frame(self) -> pd.DataFrame:
        """Every section in one tidy table: section, round, hops, attributes, group, tier, statistic, value."""
        frames = []
        for name in SECTIONS:
            sec = self.section(name)
            if sec is None or sec.status != "ran":
                continue
            frames.append(melt(sec.to_frame(), name, self.tiers))
        if not frames:
            return pd.DataFrame(columns=["section", "round", "hops", "attributes", "group", "tier", "statistic",
                                         "value"])
        return pd.concat(frames, ignore_index=True)

    def _repr_html_(self) -> str:
        parts = [f"<div class='audit-contagion'><h3>Network contagion — {html.escape(self.status)}</h3>"]
        if self.reason:
            parts.append(f"<p>{html.escape(self.reason)}</p>")
        if self.assortativity:
            rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{'—' if v != v else f'{v:.3f}'}</td></tr>"
                           for k, v in self.assortativity.items())
            parts.append(f"<h4>Assortativity</h4><table><tr><th>attribute</th><th>r</th></tr>{rows}</table>")
        for name in SECTIONS:
            sec = self.section(name)
            if sec is None:
                st = self.section_status(name)
                parts.append(f"<h4>{html.escape(name.replace('_', ' ').capitalize())}</h4>"
                             f"<p><em>not run: {html.escape(str(st['reason']))}</em></p>")
            else:
                parts.append(sec._repr_html_())
        parts.append("</div>")
        return "".join(parts)

    def __repr__(self) -> str:
        ran = [s for s in SECTIONS if self.section(s) is not None and self.section(s).status == "ran"]
        return f"ContagionResult(status={self.status!r}, reason={self.reason!r}, sections_run={ran})"
