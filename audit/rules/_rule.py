"""The :class:`Rule`: one interface over points tables, models, callables and observed scores."""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit._errors import AuditInputError
from audit._limits import RULE_COLUMNS, enforce
from audit.rules._spec import RuleSpec, read_spec, slug
from audit.rules._tiers import Tier, attainment

__all__ = ["Rule", "Term", "NetworkTerm", "Lookup", "ScoreSet", "load_rule", "list_rules", "validate_rule_file"]

BUILTIN = "audit.rules.builtin"


@dataclass(frozen=True)
class Term:
    """One line of a points table.

    A ``condition`` term adds ``points`` to everyone for whom ``expression`` is
    true; a ``value`` term adds ``points * value`` (``points`` is then a weight
    per unit of the expression).
    """

    id: str
    label: str
    kind: str
    expression: str
    points: float
    source: str | None = None
    illustrative: bool = False
    note: str = ""
    context: str | None = None


@dataclass(frozen=True)
class NetworkTerm:
    """Pull toward friends: ``final = (1 - weight) * own + weight * mean(friends' final)``.

    Solved to its fixed point; ``tolerance`` bounds the remaining error of every
    score (sup norm), ``max_iterations`` stops a run that cannot reach it.
    """

    weight: float
    tolerance: float = 1e-9
    max_iterations: int = 10_000
    source: str | None = None
    illustrative: bool = False
    context: str | None = None


@dataclass(frozen=True)
class Lookup:
    """A published raw-to-scale conversion applied to a points total (e.g. the PSA's 1-6 scales).

    ``raw`` and ``scaled`` are parallel, ``raw`` sorted ascending.  A total listed
    in ``raw`` maps to its ``scaled`` value.  A total between two listed totals
    can only come from a counterfactual (a yes/no factor set to its population
    share, say): it is interpolated linearly between its neighbours, which is the
    expected scaled score when the total is rounded up with probability equal to
    its fractional part.  A total outside ``raw[0]..raw[-1]`` is an error.
    """

    raw: tuple[float, ...]
    scaled: tuple[float, ...]
    label: str = "scaled score"
    source: str | None = None
    illustrative: bool = False
    note: str = ""

    def apply(self, totals: np.ndarray, *, rule: str = "rule") -> np.ndarray:
        """Map raw totals to the scale (see the class docstring for totals between table entries)."""
        totals = np.asarray(totals, dtype=float)
        keys = np.asarray(self.raw, dtype=float)
        outside = (totals < keys[0] - 1e-9) | (totals > keys[-1] + 1e-9)
        if outside.any():
            raise AuditInputError(
                f"rule {rule!r}: raw points total {totals[outside][0]:g} is outside the lookup table "
                f"({int(outside.sum())} rows; table covers {keys[0]:g}..{keys[-1]:g})")
        out = np.interp(totals, keys, np.asarray(self.scaled, dtype=float))
        # Exact table hits (up to float rounding of the summed points) take the listed value.
        idx = np.clip(np.searchsorted(keys, totals), 0, len(keys) - 1)
        lo = np.clip(idx - 1, 0, len(keys) - 1)
        nearer = np.where(np.abs(keys[lo] - totals) < np.abs(keys[idx] - totals), lo, idx)
        hit = np.abs(keys[nearer] - totals) <= 1e-9
        out[hit] = np.asarray(self.scaled, dtype=float)[nearer[hit]]
        return out


@dataclass(frozen=True)
class ScoreSet:
    """Scores of one population under a rule: own behaviour, and final after the network term."""

    own: np.ndarray
    final: np.ndarray
    iterations: int = 0
    network_applied: bool = False


def _canonical_hash(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True, eq=False)
class Rule:
    """A scoring rule: what it reads, how it scores, and which benefits the score unlocks.

    Build one with :func:`load_rule` (a built-in name or a YAML points table),
    :meth:`from_callable`, :meth:`from_estimator` or :meth:`from_observed`.

    Examples
    --------
    >>> import pandas as pd
    >>> import audit
    >>> rule = audit.Rule.from_callable(
    ...     lambda df: 500 + 10 * df["x"], tiers={"gold": 520}, name="toy", features=["x"])
    >>> rule.score(pd.DataFrame({"x": [1, 3]})).tolist()
    [510.0, 530.0]
    >>> rule.attainment(rule.score(pd.DataFrame({"x": [1, 3]}))).ravel().tolist()
    [False, True]
    """

    name: str
    title: str
    kind: str
    status: str
    tiers: tuple[Tier, ...]
    features: tuple[str, ...]
    description: str = ""
    sources: tuple[dict, ...] = ()
    terms: tuple[Term, ...] = ()
    base: float | None = None
    range: tuple[float, float] | None = None
    network: NetworkTerm | None = None
    higher_is_better: bool = True
    columns: Mapping[str, dict] = field(default_factory=dict)
    content_hash: str = ""
    score_column: str | None = None
    lookup: Lookup | None = None
    citations: Mapping[str, dict] = field(default_factory=dict)  # {"base": {...}, "range": {...}}
    _raw_scorer: Callable[[pd.DataFrame], np.ndarray] | None = field(default=None, repr=False)
    _compiled: tuple = field(default=(), repr=False)
    _origin: str = field(default="", repr=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_spec(cls, spec: RuleSpec, *, origin: str = "<rule>") -> Rule:
        """Build a rule from a validated YAML spec, compiling every expression once."""
        from audit.rules._expr import compile_expression

        terms, compiled, features = [], [], set()
        for t in spec.terms:
            tid = t.id or slug(t.label)
            where = f"{origin}: term {t.label!r}"
            text = t.when if t.when is not None else t.value
            expr = compile_expression(text, where=where)
            kind = "condition" if t.when is not None else "value"
            points = t.points if kind == "condition" else t.weight
            terms.append(Term(tid, t.label, kind, text, float(points), t.source, t.illustrative, t.note, t.context))
            if spec.columns:
                undeclared = sorted(set(expr.columns) - set(spec.columns))
                if undeclared:
                    # The columns block is what analysts map their data onto: it must be complete.
                    raise AuditInputError(
                        f"{where}: reads column {undeclared[0]!r}, which is not declared under 'columns:'")
            compiled.append(expr)
            features |= set(expr.columns)
        if spec.kind == "observed":
            features.add(spec.score_column)
        enforce(RULE_COLUMNS, len(features), where=f"{origin}: the rule reads")
        tiers = tuple(
            Tier(t.name, t.benefit, t.threshold, t.at_most, t.top_k, t.top_fraction, t.source, t.illustrative,
                 t.favourable, t.context)
            for t in spec.tiers
        )
        net = None
        if spec.network is not None:
            n = spec.network
            net = NetworkTerm(n.weight, n.tolerance, n.max_iterations, n.source, n.illustrative, n.context)
        lookup = None
        if spec.lookup is not None:
            pairs = sorted(spec.lookup.table.items())
            lookup = Lookup(tuple(float(k) for k, _ in pairs), tuple(float(v) for _, v in pairs),
                            spec.lookup.label, spec.lookup.source, spec.lookup.illustrative, spec.lookup.note)
        citations = {k: c.model_dump(exclude_none=True) for k, c in
                     (("base", spec.base_citation), ("range", spec.range_citation)) if c is not None}
        dumped = spec.model_dump(mode="json")
        for key in ("base_citation", "range_citation", "lookup"):  # absent keys keep older rules' hashes
            if dumped.get(key) is None:
                dumped.pop(key, None)
        return cls(
            name=spec.name,
            title=spec.title,
            kind=spec.kind,
            status=spec.status,
            tiers=tiers,
            features=tuple(sorted(features)),
            description=spec.description,
            sources=tuple(s.model_dump(exclude_none=True) for s in spec.sources),
            terms=tuple(terms),
            base=spec.base if spec.kind == "points" else None,
            range=tuple(spec.range) if spec.range else None,
            network=net,
            higher_is_better=spec.higher_is_better,
            columns={k: v.model_dump(exclude_none=True) for k, v in spec.columns.items()},
            content_hash=_canonical_hash(dumped),
            score_column=spec.score_column,
            lookup=lookup,
            citations=citations,
            _compiled=tuple(compiled),
            _origin=origin,
        )

    @classmethod
    def from_callable(
        cls,
        fn: Callable[[pd.DataFrame], Any],
        *,
        tiers: Mapping[str, float] | Sequence[Tier],
        name: str,
        features: Sequence[str] | None = None,
        network: Mapping[str, float] | NetworkTerm | None = None,
        range: tuple[float, float] | None = None,
        higher_is_better: bool = True,
        title: str | None = None,
    ) -> Rule:
        """Wrap a Python function ``fn(people) -> score per row`` as a rule.

        ``features`` names the columns ``fn`` reads; when omitted the audit uses
        every column except the protected attributes, the label and the id.
        """
        if not callable(fn):
            raise AuditInputError(f"rule {name!r}: fn must be callable")
        try:
            src = inspect.getsource(fn)
        except (OSError, TypeError):
            src = getattr(fn, "__qualname__", repr(type(fn)))
        tiers_t = _tiers_from(tiers, name)
        return cls(
            name=name,
            title=title or name,
            kind="callable",
            status="user",
            tiers=tiers_t,
            features=tuple(features) if features is not None else (),
            range=tuple(range) if range else None,
            network=_network_from(network),
            higher_is_better=higher_is_better,
            content_hash=_canonical_hash({"callable": src, "tiers": [t.__dict__ for t in tiers_t],
                                          "network": repr(network), "range": range}),
            _raw_scorer=_checked_callable(fn, name),
            _origin=name,
        )

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        *,
        features: Sequence[str],
        tiers: Mapping[str, float] | Sequence[Tier],
        name: str,
        range: tuple[float, float] = (0.0, 1.0),
        positive_class: Any = None,
        network: Mapping[str, float] | NetworkTerm | None = None,
        title: str | None = None,
    ) -> Rule:
        """Wrap a fitted scikit-learn estimator as a rule.

        The score is ``low + (high - low) * p`` where ``p`` is the estimator's
        probability of ``positive_class`` (default: its last class) from
        ``predict_proba``, or the logistic transform of ``decision_function``.
        The estimator receives ``people[features]`` as a DataFrame, so pipelines
        that select columns by name work.
        """
        has_proba = hasattr(estimator, "predict_proba")
        if not has_proba and not hasattr(estimator, "decision_function"):
            raise AuditInputError(f"rule {name!r}: the estimator has neither predict_proba nor decision_function")
        feats = list(features)
        lo, hi = float(range[0]), float(range[1])

        def scorer(people: pd.DataFrame) -> np.ndarray:
            X = people[feats]
            if has_proba:
                proba = np.asarray(estimator.predict_proba(X), dtype=float)
                classes = list(getattr(estimator, "classes_", range_(proba.shape[1])))
                col = classes.index(positive_class) if positive_class is not None else proba.shape[1] - 1
                p = proba[:, col]
            else:
                d = np.asarray(estimator.decision_function(X), dtype=float)
                p = 1.0 / (1.0 + np.exp(-d))
            return lo + (hi - lo) * p

        try:
            import joblib

            est_hash = joblib.hash(estimator)
        except Exception:  # an unpicklable estimator still gets audited, just not content-addressed
            est_hash = repr(estimator)
        tiers_t = _tiers_from(tiers, name)
        return cls(
            name=name,
            title=title or f"{name} ({type(estimator).__name__})",
            kind="estimator",
            status="user",
            tiers=tiers_t,
            features=tuple(sorted(feats)),
            range=(lo, hi),
            network=_network_from(network),
            content_hash=_canonical_hash({"estimator": est_hash, "features": feats,
                                          "tiers": [t.__dict__ for t in tiers_t], "range": [lo, hi]}),
            _raw_scorer=scorer,
            _origin=name,
        )

    @classmethod
    def from_observed(
        cls,
        score_column: str,
        *,
        tiers: Mapping[str, float] | Sequence[Tier],
        name: str,
        higher_is_better: bool = True,
        title: str | None = None,
    ) -> Rule:
        """Audit a deployed score from its released outputs (e.g. COMPAS deciles).

        The formula is unknown; the rule reads ``score_column`` and applies the
        tiers to it.  Proxy analysis can still measure association, but cannot
        decompose the score into terms.
        """
        tiers_t = _tiers_from(tiers, name)
        return cls(
            name=name,
            title=title or name,
            kind="observed",
            status="user",
            tiers=tiers_t,
            features=(score_column,),
            higher_is_better=higher_is_better,
            score_column=score_column,
            content_hash=_canonical_hash({"observed": score_column, "tiers": [t.__dict__ for t in tiers_t],
                                          "higher_is_better": higher_is_better}),
            _origin=name,
        )

    # ------------------------------------------------------------------ properties
    @property
    def origin(self) -> str:
        """Where the rule came from, as error messages name it: a file path, ``builtin:NAME`` or the name."""
        return self._origin or self.name

    @property
    def network_where(self) -> str:
        """How error messages about this rule's network term start, e.g. ``rules/my.yaml: network term``."""
        return f"{self.origin}: network term"

    @property
    def is_additive(self) -> bool:
        """True for points tables: the score is base + a sum of per-term points.

        False for a points table with a ``lookup`` (a raw-to-scale conversion such
        as the PSA's): its *raw total* is additive (see :meth:`raw_totals` and
        :meth:`without_lookup`), its final score is not.
        """
        return self.kind == "points" and self.lookup is None

    @property
    def term_columns(self) -> tuple[frozenset[str], ...]:
        """Per term (points tables), the columns its expression reads."""
        return tuple(frozenset(e.columns) for e in self._compiled)

    # ------------------------------------------------------------------ scoring
    def check_columns(self, people: pd.DataFrame, *, source: str = "data") -> None:
        """Raise a one-line error naming the first column this rule needs that ``people`` lacks."""
        for col in self.features:
            if col not in people.columns:
                used_by = [t.label for t, e in zip(self.terms, self._compiled, strict=True) if col in e.columns]
                who = f"term {used_by[0]!r} of rule {self.name!r}" if used_by else f"rule {self.name!r}"
                raise AuditInputError(f"{source}: column {col!r} (read by {who}) is missing")

    def term_contributions(self, people: pd.DataFrame) -> pd.DataFrame:
        """Points each term gives each person (points tables only): one float column per term id.

        ``base + contributions.sum(axis=1)``, clamped to the range, is the own score.
        For a rule with a ``lookup`` it is the raw total (:meth:`raw_totals`) that the
        contributions add up to; the lookup then converts that total to the scale.
        """
        if self.kind != "points":
            raise AuditInputError(f"rule {self.name!r} is a {self.kind} rule, not an additive points table")
        self.check_columns(people)
        cols = {}
        for term, expr in zip(self.terms, self._compiled, strict=True):
            cols[term.id] = self._points(term, expr, expr.evaluate(people))
        return pd.DataFrame(cols, index=people.index)

    def _points(self, term: Term, expr, values: np.ndarray) -> np.ndarray:
        """The points one term gives each person: the one place where a term's result becomes points.

        A condition that is missing counts as false (:func:`audit.rules._expr.as_condition`),
        whichever audit family asks; a value that is missing or not finite, or points that
        overflow, are an error naming the term.
        """
        from audit.rules._expr import as_condition

        if term.kind == "condition":
            return np.where(as_condition(values), term.points, 0.0)
        vf = np.asarray(values, dtype=float)
        bad = ~np.isfinite(vf)
        if bad.any():
            raise AuditInputError(
                f"{self._origin}: term {term.label!r}: value is missing or not finite for "
                f"{int(bad.sum())} rows (columns: {', '.join(sorted(expr.columns)) or 'none'})")
        with np.errstate(over="ignore", invalid="ignore"):
            points = term.points * vf
        if not np.isfinite(points).all():
            raise AuditInputError(
                f"{self._origin}: term {term.label!r}: weight {term.points:g} times the value overflows "
                f"for {int((~np.isfinite(points)).sum())} rows")
        return points

    def raw_totals(self, people: pd.DataFrame) -> np.ndarray:
        """Points tables: ``base`` + the sum of the terms' points, before any lookup and clamping."""
        if self.kind != "points":
            raise AuditInputError(f"rule {self.name!r} is a {self.kind} rule, not a points table")
        return self.without_lookup().raw_scores(people) if self.lookup is not None else self.raw_scores(people)

    def raw_scores(self, people: pd.DataFrame) -> np.ndarray:
        """The score from own behaviour before clamping to the range (after the lookup, if any)."""
        self.check_columns(people)
        if self.kind == "points":
            total = np.full(len(people), float(self.base or 0.0))
            # Summing term by term avoids materialising the (n, terms) frame on the hot path.  Conditions
            # follow the same missing-value rule as term_contributions (as_condition).
            from audit.rules._expr import as_condition

            with np.errstate(over="ignore", invalid="ignore"):
                for term, expr in zip(self.terms, self._compiled, strict=True):
                    v = expr.evaluate(people)
                    total += term.points * (as_condition(v) if term.kind == "condition" else v)
            if not np.isfinite(total).all():
                # Only on failure: find and name the term that produced missing or infinite points.
                self.term_contributions(people)
                raise AuditInputError(
                    f"{self._origin}: the points add up to more than a float can hold for "
                    f"{int((~np.isfinite(total)).sum())} rows (check the terms' points and weights)")
            scores = total
            if self.lookup is not None:
                scores = self.lookup.apply(scores, rule=self.name)
        elif self.kind == "observed":
            col = people[self.score_column]
            try:
                scores = col.to_numpy(dtype=float)
            except (TypeError, ValueError):
                raise AuditInputError(f"column {self.score_column!r}: observed scores must be numeric") from None
        else:
            scores = self._raw_scorer(people)
        scores = np.asarray(scores, dtype=float)
        bad = ~np.isfinite(scores)
        if bad.any():
            raise AuditInputError(
                f"rule {self.name!r}: score is missing or not finite for {int(bad.sum())} of {len(scores)} rows"
                + (f" (check column {self.score_column!r})" if self.score_column else "")
            )
        return scores

    def own_scores(self, people: pd.DataFrame) -> np.ndarray:
        """The score from own behaviour alone, clamped to the rule's range."""
        s = self.raw_scores(people)
        if self.range is not None:
            s = np.clip(s, self.range[0], self.range[1])
        return s

    def scores(self, people: pd.DataFrame, graph=None) -> ScoreSet:
        """Own and final scores; the network term is applied when the rule has one and a graph is given."""
        own = self.own_scores(people)
        if self.network is None or graph is None:
            return ScoreSet(own, own, 0, False)
        from audit.graph import solve_network

        if graph.n_nodes != len(own):
            raise AuditInputError(
                f"graph has {graph.n_nodes} nodes but the population has {len(own)} rows")
        lo, hi = self.range if self.range is not None else (None, None)
        sol = solve_network(own, graph, self.network.weight, lo=lo, hi=hi,
                            tolerance=self.network.tolerance, max_iterations=self.network.max_iterations,
                            where=self.network_where)
        return ScoreSet(own, sol.scores, sol.iterations, True)

    def score(self, people: pd.DataFrame, graph=None) -> np.ndarray:
        """Final scores: own behaviour, pulled toward friends' scores when the rule has a network term."""
        return self.scores(people, graph).final

    def attainment(self, scores: np.ndarray) -> np.ndarray:
        """Boolean matrix (n, n_tiers): who attains each tier."""
        return attainment(self.tiers, scores)

    # ------------------------------------------------------------------ variants
    def without_network(self) -> Rule:
        """The same rule with the friends term switched off."""
        return replace(self, network=None, content_hash=_canonical_hash([self.content_hash, "without-network"]))

    def with_network(self, weight: float) -> Rule:
        """The same rule with the friends term at another weight (for sensitivity analyses)."""
        net = replace(self.network, weight=weight) if self.network else NetworkTerm(weight)
        return replace(self, network=net, content_hash=_canonical_hash([self.content_hash, "network", weight]))

    def without_terms(self, ids: Sequence[str]) -> Rule:
        """The same points table with the given terms removed (counterfactual: the term never existed).

        A ``lookup`` is kept and applied to the reduced total.
        """
        if self.kind != "points":
            raise AuditInputError(f"rule {self.name!r}: only points tables have terms to remove")
        ids = set(ids)
        unknown = ids - {t.id for t in self.terms}
        if unknown:
            raise AuditInputError(f"rule {self.name!r}: no term with id {sorted(unknown)[0]!r}")
        keep = [(t, e) for t, e in zip(self.terms, self._compiled, strict=True) if t.id not in ids]
        feats = set().union(*(e.columns for _, e in keep)) if keep else set()
        return replace(
            self,
            terms=tuple(t for t, _ in keep),
            _compiled=tuple(e for _, e in keep),
            features=tuple(sorted(feats)),
            content_hash=_canonical_hash([self.content_hash, "without", sorted(ids)]),
        )

    def with_terms(self, terms: Sequence[Term]) -> Rule:
        """The same points table with other points on its terms (same ids and expressions, in the same order)."""
        if self.kind != "points" or [t.id for t in terms] != [t.id for t in self.terms]:
            raise AuditInputError(f"rule {self.name!r}: with_terms needs the same terms, in order, with new points")
        return replace(self, terms=tuple(terms),
                       content_hash=_canonical_hash([self.content_hash, "points", [t.points for t in terms]]))

    def without_lookup(self) -> Rule:
        """The additive part of a points table with a ``lookup``: the raw points total itself.

        Tiers and range belong to the scaled score, so the returned rule has neither
        (one catch-all tier, as a rule needs one); use it for decompositions.
        """
        if self.lookup is None:
            return self
        return replace(self, lookup=None, range=None, tiers=(Tier("raw total", threshold=float(self.lookup.raw[0])),),
                       title=f"{self.title} (raw points total)",
                       content_hash=_canonical_hash([self.content_hash, "without-lookup"]))

    def with_tiers(self, tiers: Sequence[Tier]) -> Rule:
        """The same rule with other tiers (e.g. only the tiers an audit family compares)."""
        return replace(self, tiers=tuple(tiers))

    def directed(self) -> Rule:
        """The rule with only the tiers that have a favourable side, each side stated explicitly.

        The proxy and network families compare favourable outcomes, so they
        run on this view; a band with no favourable side is not compared.
        """
        return self.with_tiers(tuple(replace(t, favourable="in" if d else "out")
                                     for t, d in zip(self.tiers, self.tier_directions, strict=True) if d is not None))

    def with_features(self, features: Sequence[str]) -> Rule:
        """Declare the input columns of a callable rule (used when they were not given)."""
        return replace(self, features=tuple(sorted(features)))

    # ------------------------------------------------------------------ description
    def to_card(self) -> dict:
        """A JSON-ready description: every term, its points, its source or 'illustrative', and the tiers."""
        card: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "kind": self.kind,
            "status": self.status,
            "description": self.description,
            "content_hash": self.content_hash,
            "features": list(self.features),
            "higher_is_better": self.higher_is_better,
            "base": self.base,
            "range": list(self.range) if self.range else None,
            "terms": [
                {"id": t.id, "label": t.label, "kind": t.kind, "expression": t.expression,
                 "points": t.points, "source": t.source, "illustrative": t.illustrative, "note": t.note,
                 **({"context": t.context} if t.context else {})}
                for t in self.terms
            ],
            "network": None if self.network is None else {
                "weight": self.network.weight, "tolerance": self.network.tolerance,
                "max_iterations": self.network.max_iterations, "source": self.network.source,
                "illustrative": self.network.illustrative,
                **({"context": self.network.context} if self.network.context else {}),
                "formula": "final = (1 - weight) * own + weight * mean(friends' final scores); "
                           "people without friends keep their own score",
            },
            "tiers": [
                {"name": t.name, "benefit": t.benefit, "rule": t.describe(), "threshold": t.threshold,
                 "at_most": t.at_most, "top_k": t.top_k, "top_fraction": t.top_fraction,
                 "source": t.source, "illustrative": t.illustrative,
                 "favourable": {True: "in", False: "out", None: None}[d],
                 "favourable_stated": t.favourable is not None,
                 **({"context": t.context} if t.context else {})}
                for t, d in zip(self.tiers, self.tier_directions, strict=True)
            ],
            "sources": [dict(s) for s in self.sources],
            "columns": {k: dict(v) for k, v in sorted(self.columns.items())},
        }
        if self.score_column:
            card["score_column"] = self.score_column
        if self.lookup is not None:
            lk = self.lookup
            card["lookup"] = {
                "label": lk.label, "source": lk.source, "illustrative": lk.illustrative, "note": lk.note,
                "table": [{"raw": r, "scaled": v} for r, v in zip(lk.raw, lk.scaled, strict=True)],
                "formula": f"{lk.label} = table[base + sum of term points]; the raw total is additive, "
                           "the scaled score is not",
            }
        for key, cite in self.citations.items():
            card[f"{key}_citation"] = dict(cite)
        return card

    @property
    def tier_directions(self) -> tuple[bool | None, ...]:
        """Per tier: attaining it is favourable (True), avoiding it is (False), or neither (None).

        See :meth:`audit.rules.Tier.direction`; the rule supplies its scale
        (``higher_is_better``, ``range``).
        """
        return tuple(t.direction(self.higher_is_better, self.range) for t in self.tiers)

    def __repr__(self) -> str:
        return (f"Rule(name={self.name!r}, kind={self.kind!r}, status={self.status!r}, "
                f"terms={len(self.terms)}, tiers={[t.name for t in self.tiers]}, "
                f"network={None if self.network is None else self.network.weight})")

    def _repr_html_(self) -> str:
        from audit.report import render_rule_card_html

        return render_rule_card_html(self.to_card())


range_ = range  # the builtin, shadowed by the `range` parameter names above


def _tiers_from(tiers: Mapping[str, float] | Sequence[Tier], name: str) -> tuple[Tier, ...]:
    if isinstance(tiers, Mapping):
        out = tuple(Tier(str(k), threshold=float(v)) for k, v in tiers.items())
    else:
        out = tuple(tiers)
        if not all(isinstance(t, Tier) for t in out):
            raise AuditInputError(f"rule {name!r}: tiers must be a mapping name -> threshold or a list of Tier")
    if not out:
        raise AuditInputError(f"rule {name!r}: at least one tier is needed")
    if len({t.name for t in out}) != len(out):
        raise AuditInputError(f"rule {name!r}: tier names must be unique")
    return out


def _network_from(network: Mapping[str, float] | NetworkTerm | None) -> NetworkTerm | None:
    if network is None or isinstance(network, NetworkTerm):
        return network
    allowed = {"weight", "tolerance", "max_iterations"}
    extra = set(network) - allowed
    if extra:
        raise AuditInputError(f"network term: unknown key {sorted(extra)[0]!r} (allowed: {sorted(allowed)})")
    w = float(network.get("weight", 0))
    if not 0 < w < 1:
        raise AuditInputError(f"network term: weight must be in (0, 1), got {w}")
    return NetworkTerm(w, float(network.get("tolerance", 1e-9)), int(network.get("max_iterations", 10_000)))


def _checked_callable(fn: Callable, name: str) -> Callable[[pd.DataFrame], np.ndarray]:
    def scorer(people: pd.DataFrame) -> np.ndarray:
        out = fn(people)
        arr = np.asarray(out, dtype=float).reshape(-1) if np.ndim(out) else np.full(len(people), float(out))
        if arr.shape[0] != len(people):
            raise AuditInputError(f"rule {name!r}: the function returned {arr.shape[0]} scores for {len(people)} rows")
        return arr

    return scorer


# ---------------------------------------------------------------------- loading
def _builtin_names() -> list[str]:
    files = resources.files(BUILTIN)
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".yaml"))


def load_rule(name_or_path: str | Path | Rule) -> Rule:
    """Load a built-in rule by name (see :func:`list_rules`) or a YAML points table from a path.

    Examples
    --------
    >>> import audit
    >>> rule = audit.load_rule("sesame")
    >>> rule.range
    (350.0, 950.0)
    """
    if isinstance(name_or_path, Rule):
        return name_or_path
    text = str(name_or_path)
    if not text.endswith((".yaml", ".yml")) and "/" not in text and "\\" not in text:
        if text in _builtin_names():
            spec_text = resources.files(BUILTIN).joinpath(text + ".yaml").read_text(encoding="utf-8")
            from audit.rules._spec import parse_spec

            return Rule.from_spec(parse_spec(spec_text, source=f"builtin:{text}"), origin=f"builtin:{text}")
        try:
            exists = Path(text).exists()
        except (OSError, ValueError):  # a name too long for the file system, a NUL character
            exists = False
        if not exists:
            raise AuditInputError(
                f"unknown rule {text[:80]!r}: not a built-in rule ({', '.join(_builtin_names())}) nor a file")
    return validate_rule_file(text)


def validate_rule_file(path: str | Path) -> Rule:
    """Parse, validate and compile a rule file; raises a one-line :class:`AuditInputError` naming file and term."""
    spec, _ = read_spec(path)
    return Rule.from_spec(spec, origin=str(path))


def list_rules() -> list[dict]:
    """The built-in rules: name, title, status, kind, number of terms and tiers."""
    out = []
    for name in _builtin_names():
        r = load_rule(name)
        out.append({"name": r.name, "title": r.title, "status": r.status, "kind": r.kind,
                    "terms": len(r.terms), "tiers": len(r.tiers), "network": r.network is not None})
    return out
