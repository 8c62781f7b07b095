"""Data quality: where a rule silently scores messy data wrongly.

A rule written for ``"full-time"`` never matches `` full-time `` or ``Full-time``; a missing age counts as
"not young"; a value outside the categories the rule file declares is scored as if it were any other
non-matching value.  None of these is an error — the data may be right and the rule wrong, or the other
way round — but each changes scores silently, so the report shows them, per term:

* ``missing``: rows where a column the term reads is missing (a condition on it is false for them);
* ``undeclared``: rows whose value is not among the ``values`` the rule's ``columns:`` block declares;
* ``near_misses``: text literals of the term that the data hold only up to case or surrounding spaces
  (``"full-time"`` vs ``" Full-time "``), with how many rows hold the variant;
* ``matches``: for a condition term, how many rows it is true for — a term that matches nobody although
  its columns have values is flagged.

Counts are of people, so they follow the disclosure rule (a count of 1 to T - 1 is shown as "fewer than
T"); the literals are the rule's own text, and the variants are values of the data's columns, shown only
when at least T rows hold them.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from audit.disclosure import count_text, is_small

__all__ = ["DataQuality", "TermQuality", "data_quality"]


@dataclass(frozen=True)
class TermQuality:
    """The data-quality figures of one term (counts exact; published through :meth:`DataQuality.to_dict`)."""

    term: str
    columns: tuple[str, ...]
    missing: int
    undeclared: int
    near_misses: tuple[tuple[str, str, str, int], ...]   # (column, literal, variant in the data, rows)
    matches: int | None
    matches_nobody: bool

    @property
    def has_problem(self) -> bool:
        return bool(self.missing or self.undeclared or self.near_misses or self.matches_nobody)


@dataclass(frozen=True)
class DataQuality:
    """Per term of a rule: missing inputs, undeclared values, near-miss literals, terms that match nobody."""

    terms: tuple[TermQuality, ...]
    rows: int
    threshold: int = 10
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        t = self.threshold

        def c(k):
            return None if is_small(k, t) else int(k)

        out = []
        for q in self.terms:
            out.append({
                "term": q.term, "columns": list(q.columns),
                "missing": c(q.missing), "missing_text": count_text(q.missing, t),
                "undeclared": c(q.undeclared), "undeclared_text": count_text(q.undeclared, t),
                "near_misses": [{"column": col, "literal": lit, "variant": var, "rows": c(k)}
                                for col, lit, var, k in q.near_misses if not is_small(k, t)],
                "near_misses_hidden": sum(1 for *_, k in q.near_misses if is_small(k, t)),
                "matches": None if q.matches is None else c(q.matches),
                "matches_nobody": q.matches_nobody,
                "problem": q.has_problem,
            })
        return {"rows_checked": c(self.rows), "terms": out, "warnings": list(self.warnings)}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{k: v for k, v in d.items() if k != "near_misses"} | {
            "near_misses": "; ".join(f"{m['column']}: {m['literal']!r} vs {m['variant']!r} ({m['rows']})"
                                     for m in d["near_misses"])} for d in self.to_dict()["terms"]])

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False, escape=True)


def _norm(x: object) -> str:
    return " ".join(str(x).split()).casefold()


def _text_literals(expression: str) -> list[tuple[str, str]]:
    """(column, text literal) pairs compared in an expression (parsed with ``ast``, never evaluated)."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return []
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        names = [s.id for s in sides if isinstance(s, ast.Name)]
        lits = []
        for s in sides:
            if isinstance(s, ast.Constant) and isinstance(s.value, str):
                lits.append(s.value)
            elif isinstance(s, ast.List | ast.Tuple | ast.Set):
                lits += [e.value for e in s.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        out += [(n, lit) for n in names for lit in lits]
    return out


def data_quality(rule, frame: pd.DataFrame, *, threshold: int = 10) -> DataQuality:
    """The data-quality figures of every term of a points table on ``frame`` (an empty result for other rules).

    Examples
    --------
    >>> import pandas as pd
    >>> from audit.rules import Rule
    >>> from audit.rules._spec import parse_spec
    >>> spec = parse_spec('''
    ... name: jobs
    ... title: Jobs
    ... status: user
    ... sources: [{id: s, citation: c}]
    ... columns: {contract: {type: category, values: [full-time, part-time]}}
    ... terms: [{label: Full time, when: contract == "full-time", points: 50, source: s}]
    ... tiers: [{name: ok, threshold: 25, source: s}]
    ... ''', source="jobs.yaml")
    >>> rule = Rule.from_spec(spec)
    >>> people = pd.DataFrame({"contract": ["full-time"] * 20 + [" Full-time"] * 12 + [None] * 11})
    >>> q = data_quality(rule, people).to_dict()["terms"][0]
    >>> q["missing"], q["undeclared"], q["near_misses"][0]["variant"], q["matches"]
    (11, 12, ' Full-time', 20)
    """
    if rule.kind != "points" or not rule.terms:
        return DataQuality((), len(frame), threshold)
    declared: Mapping = rule.columns or {}
    terms = []
    warnings = []
    contributions = None
    try:
        contributions = rule.term_contributions(frame)
    except Exception:  # noqa: BLE001 - quality is diagnostic: a term that cannot be scored is reported elsewhere
        contributions = None
    for k, (term, cols) in enumerate(zip(rule.terms, rule.term_columns, strict=True)):
        cols = tuple(sorted(c for c in cols if c in frame.columns))
        missing = int(frame[list(cols)].isna().any(axis=1).sum()) if cols else 0
        undeclared = 0
        for c in cols:
            vals = (declared.get(c) or {}).get("values")
            if vals:
                s = frame[c]
                undeclared += int((s.notna() & ~s.isin(vals)).sum())
        near = []
        for col, lit in _text_literals(term.expression):
            if col not in frame.columns:
                continue
            counts = frame[col].dropna().astype(str).value_counts()
            for variant, n in counts.items():
                if variant != lit and _norm(variant) == _norm(lit):
                    near.append((col, lit, str(variant), int(n)))
        matches = None
        nobody = False
        if term.kind == "condition" and contributions is not None:
            matches = int((contributions.iloc[:, k].to_numpy() != 0).sum())
            nobody = matches == 0 and bool(cols) and frame[list(cols)].notna().any(axis=None)
        q = TermQuality(term.label, cols, missing, undeclared, tuple(near), matches, bool(nobody))
        if nobody:
            warnings.append(f"term {term.label!r} matches nobody in the data although its columns have values")
        for col, lit, var, n in near:
            if not is_small(n, threshold):
                warnings.append(f"term {term.label!r}: {n:,} rows of column {col!r} hold {var!r}, which differs "
                                f"from the rule's {lit!r} only by case or spaces and does not match it")
        terms.append(q)
    return DataQuality(tuple(terms), len(frame), threshold, tuple(warnings))


