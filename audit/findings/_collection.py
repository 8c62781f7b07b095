"""All findings of one audit: verdict order, parents, counts of distinct groups, tables."""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pandas as pd

from audit.findings._finding import Finding, Verdict

__all__ = ["Findings", "attach_parents"]

_RANK = {Verdict.PUSHED_OUT: 2, Verdict.BELOW_PARITY: 1}


def attach_parents(findings: Iterable[Finding]) -> list[Finding]:
    """List each intersection finding under the broader group's finding for the same tier, where there is one.

    The parent of a finding about ``(A, v)`` is a finding for the same tier
    about a proper subset of its attributes with the same values there, whose
    verdict is at least as strong (a pushed-out intersection is not listed
    under a group that is only below parity).  Among several, the closest
    (most attributes) and then the most excluded is chosen.  A finding without
    a parent is *top-level*: a single attribute's group, or a genuinely
    intersectional gap that no broader group shows.

    Examples
    --------
    >>> from audit.findings import Finding
    >>> def f(group, verdict="pushed out", ratio=0.5):
    ...     return Finding(tuple(group), tuple(group.items()), "t", verdict, "attains 't'", 100, 20, (), 100, 40,
    ...                    ratio, 0.3, 0.7, 0.7, 3, 0.001, 0.01, 0.001, 0.01)
    >>> out = attach_parents([f({"sex": "f"}), f({"sex": "f", "race": "b"}, ratio=0.4), f({"sex": "m", "race": "b"})])
    >>> [(x.name(), x.parent) for x in out]
    [('sex=f', None), ('sex=f & race=b', (('sex',), (('sex', 'f'),))), ('sex=m & race=b', None)]
    """
    findings = list(findings)
    index: dict[tuple, list[Finding]] = {}
    for f in findings:
        index.setdefault((f.tier, f.attributes), []).append(f)
    out = []
    for f in findings:
        if len(f.attributes) < 2:
            out.append(f)
            continue
        values = dict(f.group)
        best: Finding | None = None
        for (tier, attrs), pool in index.items():
            if tier != f.tier or len(attrs) >= len(f.attributes) or not set(attrs) < set(f.attributes):
                continue
            for p in pool:
                if any(values[a] != v for a, v in p.group) or _RANK[p.verdict] < _RANK[f.verdict]:
                    continue
                if best is None or (len(p.attributes), -p.impact_ratio) > (len(best.attributes), -best.impact_ratio):
                    best = p
        out.append(f if best is None else f.annotate(parent=(best.attributes, best.group)))
    return out


def _order(f: Finding) -> tuple:
    # Publishable findings first, pushed out before below parity, most excluded first; findings whose
    # figures cannot be published follow in name order, so their position reveals nothing.
    if f.published:
        return (0, -_RANK[f.verdict], f.impact_ratio, -f.n, f.attributes, str(f.group), f.tier)
    return (1, -_RANK[f.verdict], 0.0, 0, f.attributes, str(f.group), f.tier)


@dataclass(frozen=True)
class Findings:
    """The findings of one audit, in report order.

    Examples
    --------
    >>> Findings(()).to_frame().shape
    (0, 0)
    """

    items: tuple[Finding, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(sorted(self.items, key=_order)))

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def of(self, verdict: Verdict | str) -> tuple[Finding, ...]:
        v = Verdict(verdict)
        return tuple(f for f in self.items if f.verdict is v)

    @property
    def pushed_out(self) -> tuple[Finding, ...]:
        return self.of(Verdict.PUSHED_OUT)

    @property
    def top_level(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.items if f.parent is None)

    def groups(self, verdict: Verdict | str | None = None, *, top_level: bool = True) -> list[tuple]:
        """Distinct groups ``(attributes, group)`` with a finding (top-level ones by default)."""
        pool = self.items if verdict is None else self.of(verdict)
        seen: dict[tuple, None] = {}
        for f in pool:
            if not top_level or f.parent is None:
                seen.setdefault((f.attributes, f.group), None)
        return list(seen)

    def replace_items(self, items: Iterable[Finding]) -> Findings:
        return Findings(tuple(items))

    def to_dict(self) -> list[dict]:
        return [f.to_dict() for f in self.items]

    def to_frame(self) -> pd.DataFrame:
        """One row per finding (tidy): group as text, verdict, figures (None where suppressed)."""
        rows = []
        for f in self.items:
            d = f.to_dict()
            d["group"] = f.name()
            d["reference_group"] = " & ".join(f"{a}={v}" for a, v in f.comparator)
            d["parent"] = None if f.parent is None else " & ".join(f"{a}={v}" for a, v in f.parent[1])
            d["top_proxies"] = ", ".join(str(t.get("feature")) for t in f.top_proxies) or None
            d["aliases"] = ", ".join(f.aliases) or None
            rows.append(d)
        return pd.DataFrame(rows)

    def _repr_html_(self) -> str:
        head = ["verdict", "group", "tier", "n", "rate", "best group's rate", "ratio", "upper bound", "q"]
        body = []
        for f in self.items:
            d = f.to_dict()
            cells = [d["verdict"], f.name(), f.tier, d["n"], d["selection_rate"], d["reference_rate"],
                     d["impact_ratio"], d["ratio_upper_bound"], d["q_value"]]
            body.append("<tr>" + "".join(
                f"<td>{'&ndash;' if c is None else html.escape(f'{c:.3g}' if isinstance(c, float) else str(c))}</td>"
                for c in cells) + "</tr>")
        return ("<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"
                + "".join(body) + "</tbody></table>")
