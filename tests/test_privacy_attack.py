"""Disclosure attacks on whole reports: can a reader rebuild a small count?

The shared rule (``audit.disclosure``) hides a cell when ``0 < k < threshold`` or
``0 < n - k < threshold``.  Hiding cells one by one is not enough: a hidden cell
can be rebuilt by subtracting the published cells of its *line* from the
line's published total (a group minus its other sub-groups, the population
minus the other groups), by reading a rate next to a published ``n``, or by
matching a published quantile with one person's exact score.  These tests run
the attacks a reviewer ran on ``report.json`` against freshly built reports
and fail when any of them yields a count in ``1..threshold-1`` (or a cell whose
complement is that small).

Every attack works only from ``report.to_dict()``; the true counts computed
from the data are used to confirm that what was "recovered" is really the
count (a rebuilt number that disagrees with the data is an arithmetic
artefact, not a disclosure).
"""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
from conftest import shared_file

import audit
from audit.disclosure import CountSystem, attainable, pool_rare

THRESHOLD = 10
DEMO_PROTECTED = ["gender", "age_band", "ethnicity", "registration"]
COMPAS_PROTECTED = ["race", "sex", "age_cat"]


def _small(k) -> bool:
    return k is not None and 0 < k < THRESHOLD


# --------------------------------------------------------------------------- fixtures

class Case:
    """One report plus the data it was built from and the true counts."""

    def __init__(self, name, report, people, protected, scores, attainment, tiers, labels=None):
        self.name = name
        self.report = report
        self.d = report.to_dict()
        # The groups as the report tabulates them: rare values pooled into "(other)", missing values
        # "(not recorded)", and the people of an unpublishable pooled group withheld (no group at all).
        pooled, _ = pool_rare(people.reset_index(drop=True), protected, min_group_size=30,
                              disclosure_threshold=THRESHOLD)
        self.people = pooled
        self.protected = protected
        self.final = np.asarray(scores.final, dtype=float)
        self.own = np.asarray(scores.own, dtype=float)
        self.attainment = np.asarray(attainment, dtype=bool)
        self.tiers = list(tiers)
        self.labels = labels
        self._masks: dict = {}

    def mask(self, key):
        """Rows of the group ``key`` (a sorted tuple of (attribute, value) pairs; () = everyone)."""
        if key not in self._masks:
            m = np.ones(len(self.people), dtype=bool)
            for a, v in key:
                m &= (self.people[a].astype(object) == v).to_numpy()
            self._masks[key] = m
        return self._masks[key]

    def true_n(self, key):
        return int(self.mask(key).sum())

    def true_attained(self, key, tier, which="final"):
        if which == "final":
            att = self.attainment
        else:
            att = np.asarray(self.report_rule.attainment(self.own), dtype=bool)
        return int(att[self.mask(key), self.tiers.index(tier)].sum())


def _demo_case():
    people, edges = audit.generate_sesame(6000, seed=3)
    report = audit.run("sesame", people, protected=DEMO_PROTECTED, graph=edges, seed=3,
                       disclosure_threshold=THRESHOLD)
    rule = audit.load_rule("sesame")
    graph = audit.load_graph(edges, people["id"])
    scores = rule.scores(people, graph)
    case = Case("demo", report, people, DEMO_PROTECTED, scores, rule.attainment(scores.final),
                [t.name for t in rule.tiers])
    case.report_rule = rule
    return case


def _compas_case():
    path = shared_file("compas/compas-scores-two-years.csv")
    people = audit.datasets.load_compas(path.parent, filtered=True)
    # as audit._examples.run_compas builds reports/compas
    report = audit.run("compas", people, protected=COMPAS_PROTECTED, label="two_year_recid",
                       reference={"race": "Caucasian"}, seed=0, disclosure_threshold=THRESHOLD)
    rule = audit.load_rule("compas")
    scores = rule.scores(people, None)
    case = Case("compas", report, people, COMPAS_PROTECTED, scores, rule.attainment(scores.final),
                [t.name for t in rule.tiers], labels=people["two_year_recid"].to_numpy())
    case.report_rule = rule
    return case


@pytest.fixture(scope="module")
def demo_case():
    return _demo_case()


@pytest.fixture(scope="module")
def compas_case():
    return _compas_case()


CASES = ["demo", pytest.param("compas", marks=pytest.mark.shared_data)]


@pytest.fixture(params=CASES)
def case(request):
    return request.getfixturevalue(f"{request.param}_case")


# --------------------------------------------------------------------------- reading published numbers

def _key(attributes, group):
    return tuple(sorted((a, group[a]) for a in attributes))


def _gkey(row):
    group = row.get("group") or {}
    attributes = row.get("attributes") or list(group)
    return _key(attributes, group)


def _decimals(x: float) -> int:
    s = repr(float(x))
    if "e" in s or "E" in s:
        mant, exp = s.lower().split("e")
        frac = mant.split(".")[1] if "." in mant else ""
        return max(0, len(frac.rstrip("0")) - int(exp))
    frac = s.split(".")[1] if "." in s else ""
    frac = frac.rstrip("0")
    return len(frac)


def _count_from_rate(rate, n):
    """The integer ``rate * n`` pins down, or None when the rate's precision does not pin one."""
    if rate is None or not n or isinstance(rate, bool):
        return None
    x = float(rate) * n
    k = round(x)
    tol = n * 0.5 * 10.0 ** (-_decimals(rate)) + 1e-9
    if tol < 0.5 and abs(x - k) <= max(tol, 1e-6):
        return int(k)
    return None


class Facts:
    """Published counts, by table and group key, and the lines that add them up."""

    def __init__(self):
        self.values: dict = {}      # (table, key) -> int
        self.source: dict = {}
        self.conflicts: list = []
        self.constraints: list = []  # (total_cell, [part_cells])

    def put(self, table, key, value, source):
        if value is None or isinstance(value, bool):
            return
        value = int(round(value))
        cell = (table, key)
        if cell in self.values and self.values[cell] != value:
            self.conflicts.append((cell, self.values[cell], value, source, self.source[cell]))
            return
        self.values.setdefault(cell, value)
        self.source.setdefault(cell, source)

    def solve(self):
        """Fill in every cell that is the only unknown of a line; return the derived cells."""
        known = dict(self.values)
        derived = {}
        changed = True
        while changed:
            changed = False
            for total, parts in self.constraints:
                unknown = [c for c in [total] + parts if c not in known]
                if len(unknown) != 1:
                    continue
                u = unknown[0]
                if u == total:
                    v = sum(known[p] for p in parts)
                else:
                    v = known[total] - sum(known[p] for p in parts if p != u)
                known[u] = v
                derived[u] = v
                changed = True
        return known, derived


def _domains(d):
    groups = d["population"]["groups"]
    return {a: [g["group"][a] for g in groups[a]] for a in d["population"]["protected"]}


def _line_constraints(tables, domains):
    """Population = sum of an attribute's groups; a group = sum of its intersections with another attribute."""
    attrs = list(domains)
    cons = []
    for table in tables:
        for a in attrs:
            cons.append(((table, ()), [(table, ((a, v),)) for v in domains[a]]))
        for a, b in itertools.permutations(attrs, 2):
            for va in domains[a]:
                cons.append(((table, ((a, va),)),
                             [(table, tuple(sorted(((a, va), (b, vb))))) for vb in domains[b]]))
    return cons


def _collect(case: Case) -> tuple[Facts, dict]:
    """Every published count or count-pinning rate, as cells of tables.

    Returns the facts and, per table, how to get the size of the group a cell
    is a part of (for the complement ``n - k``), or None when a complement is
    meaningless for that table.
    """
    d = case.d
    f = Facts()
    domains = _domains(d)

    # group sizes
    f.put("n", (), d["population"]["rows"], "population.rows")
    for a, rows in d["population"]["groups"].items():
        for g in rows:
            f.put("n", ((a, g["group"][a]),), g.get("n"), "population.groups")

    def att(table, key, n, rate, count=None, src=""):
        if count is not None:
            f.put(table, key, count, src)
        else:
            f.put(table, key, _count_from_rate(rate, n), src + " (rate*n)")

    imp = d.get("impact") or {}
    for g in imp.get("groupings", []):
        attrs = g["attributes"]
        for x in g.get("groups", []):
            if not x.get("rounded"):
                f.put("n", _key(attrs, x["group"]), x.get("n"), "impact.groups")
        for r in g.get("rates", []):
            k = _key(attrs, r["group"])
            if r.get("rounded"):
                continue  # published rounded to the nearest ten: an interval (the LP attack uses it), not a count
            f.put("n", k, r.get("n"), "impact.rates")
            att(("final", r["tier"]), k, r.get("n"), r.get("selection_rate"), r.get("attained"), "impact.rates")
        for r in g.get("error_rates") or []:
            k = _key(attrs, r["group"])
            t = r["tier"]
            for fld in ("labelled", "positives", "negatives", "tp", "fp", "fn", "tn"):
                f.put(("err", t, fld), k, r.get(fld), "impact.error_rates")
            for rate_name, num, den in (("fpr", "fp", "negatives"), ("fnr", "fn", "positives")):
                rate = (r.get(rate_name) or {}).get("rate")
                f.put(("err", t, num), k, _count_from_rate(rate, r.get(den)), f"impact.error_rates.{rate_name}")
    for p in imp.get("pushed_out", []) + d.get("pushed_out", []):
        if p.get("rounded"):
            continue
        k = _gkey(p)
        f.put("n", k, p.get("n"), "pushed_out")
        if p.get("reference_group"):
            f.put("n", _gkey({"group": p["reference_group"]}), p.get("reference_n"), "pushed_out.reference")

    sc = d.get("scores") or {}
    for x in sc.get("by_group") or []:
        k = _gkey(x)
        f.put("n", k, x.get("n"), "scores.by_group")
        for t, v in (x.get("tier_attainment") or {}).items():
            att(("final", t), k, x.get("n"), v, None, "scores.by_group")

    c = d.get("contagion") or {}
    for x in c.get("graph_statistics") or []:
        k = _gkey(x)
        f.put("n", k, x.get("n"), "graph_statistics")
        f.put("isolates0", k, x.get("isolates"), "graph_statistics.isolates")
        for b, v in (x.get("degree_histogram") or {}).items():
            f.put(("degree", b), k, v, "graph_statistics.degree_histogram")
    for x in c.get("spillover") or []:
        k = _gkey(x)
        n = x.get("n")
        f.put("n", k, n, "spillover")
        for t, v in (x.get("guilt_by_association_count") or {}).items():
            f.put(("guilt", t), k, v, "spillover.guilt_count")
        for t, v in (x.get("guilt_by_association") or {}).items():
            att(("guilt", t), k, n, v, None, "spillover.guilt")
        for t, v in (x.get("lifted_by_association") or {}).items():
            att(("lifted", t), k, n, v, None, "spillover.lifted")
        for t, v in (x.get("own_attainment") or {}).items():
            att(("own", t), k, n, v, None, "spillover.own")
        for t, v in (x.get("final_attainment") or {}).items():
            att(("final", t), k, n, v, None, "spillover.final")
        for fld in ("share_pulled_down", "share_pulled_up"):
            att((fld,), k, n, x.get(fld), None, f"spillover.{fld}")
    ov = (c.get("spillover_summary") or {}).get("overall") or {}
    for t, v in (ov.get("guilt_by_association_count") or {}).items():
        f.put(("guilt", t), (), v, "spillover_summary")
    for t, v in (ov.get("lifted_by_association") or {}).items():
        att(("lifted", t), (), ov.get("n"), v, None, "spillover_summary.lifted")
    unf = c.get("unfriending") or {}
    for r in unf.get("rounds") or []:
        rd = r.get("round")
        f.put(("isolates", rd), (), r.get("isolates"), "unfriending.rounds")
        for x in r.get("groups") or []:
            k = _gkey(x)
            f.put("n", k, x.get("n"), "unfriending.groups")
            f.put(("isolates", rd), k, x.get("isolates"), "unfriending.groups")
            f.put(("ties_lost", rd), k, x.get("ties_lost"), "unfriending.groups")
            att(("isolates", rd), k, x.get("n"), x.get("isolate_share"), None, "unfriending.isolate_share")
            for t, v in (x.get("tier_attainment") or {}).items():
                att(("unf", rd, t), k, x.get("n"), v, None, "unfriending.tier_attainment")
                if rd == 0:
                    att(("final", t), k, x.get("n"), v, None, "unfriending.round0")
    shock = c.get("shock") or {}
    hops_seen = set()
    for x in shock.get("by_distance") or []:
        h = x.get("hops")
        hops_seen.add(h)
        f.put(("shock_n", h), (), x.get("n"), "shock.by_distance")
        for t, v in (x.get("fell") or {}).items():
            f.put(("fell", h, t), (), v, "shock.by_distance")
        for t, v in (x.get("fell_share") or {}).items():
            att(("fell", h, t), (), x.get("n"), v, None, "shock.by_distance.share")
    for x in shock.get("groups") or []:
        h = x.get("hops")
        hops_seen.add(h)
        k = _gkey(x)
        f.put(("shock_n", h), k, x.get("n"), "shock.groups")
        for t, v in (x.get("fell") or {}).items():
            f.put(("fell", h, t), k, v, "shock.groups")
        for t, v in (x.get("fell_share") or {}).items():
            att(("fell", h, t), k, x.get("n"), v, None, "shock.groups.share")
    if shock.get("seeds"):
        f.put(("shock_n", "seeds"), (), shock["seeds"].get("n_seeds"), "shock.seeds")

    # ---- lines
    tables = {t for (t, _) in f.values}
    f.constraints += _line_constraints(tables, domains)
    keys = {()} | {((a, v),) for a in domains for v in domains[a]}
    keys |= {tuple(sorted(((a, va), (b, vb)))) for a, b in itertools.combinations(domains, 2)
             for va in domains[a] for vb in domains[b]}
    # error-rate identities within one group and tier, and the label counts shared by every tier
    for t in {tb[1] for tb in tables if isinstance(tb, tuple) and tb[0] == "err"}:
        for k in keys:
            e = lambda fld, t=t, k=k: (("err", t, fld), k)  # noqa: E731
            f.constraints += [(e("labelled"), [e("positives"), e("negatives")]),
                              (e("positives"), [e("tp"), e("fn")]),
                              (e("negatives"), [e("fp"), e("tn")])]
            for t2 in {tb[1] for tb in tables if isinstance(tb, tuple) and tb[0] == "err"} - {t}:
                for fld in ("labelled", "positives", "negatives"):
                    f.constraints.append((e(fld), [(("err", t2, fld), k)]))
    # shock: everyone = seeds + each distance band; "all others" = 1 + 2 + 3+
    bands = [h for h in ("1", "2", "3+") if h in hops_seen]
    if "all others" in hops_seen and bands:
        shock_tiers = {tb[2] for tb in tables if isinstance(tb, tuple) and tb[0] == "fell"}
        for k in keys:
            f.constraints.append(((("shock_n", "all others"), k), [(("shock_n", h), k) for h in bands]))
            for t in shock_tiers:
                f.constraints.append(((("fell", "all others", t), k), [(("fell", h, t), k) for h in bands]))
    if hops_seen:
        parts = [h for h in ("seeds", "1", "2", "3+", "unreached") if h in hops_seen]
        if parts and "all others" not in parts:
            for k in keys:
                f.constraints.append((("n", k), [(("shock_n", h), k) for h in parts]))

    # ---- complement base per table: the size of the set a cell is drawn from
    def base(table, key, known):
        if table == "n" or (isinstance(table, tuple) and table[0] in ("ties_lost", "degree", "err")):
            return None
        if isinstance(table, tuple) and table[0] == "fell":
            return known.get((("shock_n", table[1]), key))
        if isinstance(table, tuple) and table[0] == "shock_n":
            return None
        return case.true_n(key)

    return f, base


def _truth(case: Case, table, key):
    """The true value of a cell, where the data give it directly; else None."""
    if table == "n":
        return case.true_n(key)
    if isinstance(table, tuple) and table[0] == "final" and table[1] in case.tiers:
        return case.true_attained(key, table[1], "final")
    if isinstance(table, tuple) and table[0] == "unf" and table[1] == 0 and table[2] in case.tiers:
        return case.true_attained(key, table[2], "final")  # round 0 is the unchanged graph
    if isinstance(table, tuple) and table[0] == "own" and table[1] in case.tiers:
        return case.true_attained(key, table[1], "own")
    if isinstance(table, tuple) and table[0] == "err" and case.labels is not None and table[1] in case.tiers:
        m = case.mask(key)
        y = case.labels
        ok = m & ~np.isnan(y.astype(float))
        pred = case.attainment[:, case.tiers.index(table[1])]
        pos = ok & (y == 1)
        neg = ok & (y == 0)
        return {"labelled": ok.sum(), "positives": pos.sum(), "negatives": neg.sum(),
                "tp": (pos & pred).sum(), "fn": (pos & ~pred).sum(),
                "fp": (neg & pred).sum(), "tn": (neg & ~pred).sum()}.get(table[2])
    return None


def _recovered_small(case: Case, only=None):
    facts, base = _collect(case)
    known, derived = facts.solve()
    leaks = []
    for (table, key), v in derived.items():
        if only is not None and not only(table):
            continue
        truth = _truth(case, table, key)
        if truth is not None and int(truth) != v:
            continue  # an arithmetic artefact of rounded inputs, not the count
        if key and len(key) > 2:
            continue
        n = base(table, key, known)
        if _small(v) or (n is not None and _small(n - v)):
            leaks.append((table, key, v, n))
    return leaks, facts


def _fmt(leaks, limit=15):
    lines = [f"  {t} {dict(k) or 'everyone'}: k={v} n={n}" for t, k, v, n in leaks[:limit]]
    more = f"\n  ... and {len(leaks) - limit} more" if len(leaks) > limit else ""
    return "\n".join(lines) + more


# --------------------------------------------------------------------------- attack 1: differencing

def test_group_sizes_not_recoverable_by_differencing(case):
    leaks, _ = _recovered_small(case, only=lambda t: t == "n")
    assert not leaks, f"{case.name}: {len(leaks)} small group sizes rebuilt by differencing:\n{_fmt(leaks)}"


def test_tier_counts_not_recoverable_by_differencing(case):
    leaks, _ = _recovered_small(case, only=lambda t: isinstance(t, tuple) and t[0] in ("final", "own", "unf"))
    assert not leaks, f"{case.name}: {len(leaks)} small tier counts rebuilt by differencing:\n{_fmt(leaks)}"


def test_contagion_counts_not_recoverable_by_differencing(case):
    if not case.d.get("contagion"):
        pytest.skip("no contagion family in this report")
    leaks, _ = _recovered_small(
        case, only=lambda t: t in ("isolates0",) or (isinstance(t, tuple) and t[0] in (
            "guilt", "lifted", "share_pulled_down", "share_pulled_up", "isolates", "fell", "shock_n",
            "degree")))
    assert not leaks, f"{case.name}: {len(leaks)} small contagion counts rebuilt by differencing:\n{_fmt(leaks)}"


def test_published_counts_agree_with_the_data(case):
    """Sanity of the attack itself: every directly published count is the true count."""
    facts, _ = _collect(case)
    wrong = []
    for (table, key), v in facts.values.items():
        truth = _truth(case, table, key)
        if truth is not None and int(truth) != v and "rate*n" not in facts.source[(table, key)]:
            wrong.append((table, key, v, int(truth), facts.source[(table, key)]))
    assert not wrong, f"{case.name}: published counts differ from the data: {wrong[:10]}"


# --------------------------------------------------------------------------- attack 2: error-rate rows

def test_error_rate_cells_not_recoverable(case):
    has = any(g.get("error_rates") for g in (case.d.get("impact") or {}).get("groupings", []))
    if not has:
        # A report without a label must not publish label cells at all; nothing to attack then.
        assert case.d["population"]["label"] is None
        return
    leaks, _ = _recovered_small(case, only=lambda t: isinstance(t, tuple) and t[0] == "err")
    assert not leaks, f"{case.name}: {len(leaks)} small error-rate cells rebuilt:\n{_fmt(leaks)}"


# --------------------------------------------------------------------------- attack 3: exact scores

_QUANTILE_KEY = re.compile(r"^(median|quantiles?|quantiles_own|quantiles_final|thresholds|p\d+|\d+|from|to|"
                           r"score_from|score_to|cut|ranges|min|max|min_score|max_score)$")
_MEAN_KEY = re.compile(r"(^|_)mean($|_)|score")


def _score_floats(o, path=(), key=""):
    if isinstance(o, dict):
        for k, v in o.items():
            yield from _score_floats(v, path + (str(k),), str(k))
    elif isinstance(o, list):
        for x in o:
            yield from _score_floats(x, path, key)
    elif isinstance(o, float) and math.isfinite(o):
        yield path, key, o


def test_no_published_statistic_is_an_individuals_exact_score(case):
    scores = np.concatenate([case.final, case.own])
    scores = np.unique(scores[np.isfinite(scores)])
    by_dec: dict[int, set] = {}
    hits = []
    for path, key, v in _score_floats(case.d):
        quantile_like = any(_QUANTILE_KEY.match(p) for p in path[-3:])
        mean_like = bool(_MEAN_KEY.search(key)) and not quantile_like
        if not (quantile_like or mean_like) or "shift" in "/".join(path) or "change" in key:
            continue
        dec = _decimals(round(v, 9))  # float noise (7.0000000000000036) is not a decimal
        if dec <= 1 or (mean_like and dec < 5):
            continue
        if dec not in by_dec:
            by_dec[dec] = set(np.round(scores, dec).tolist())
        if round(v, dec) in by_dec[dec]:
            hits.append(("/".join(path), v))
    assert not hits, (f"{case.name}: {len(hits)} published statistics equal one person's exact score "
                      f"(more than 1 decimal): {hits[:10]}")


# --------------------------------------------------------------------------- attack 4: plain scan

_COUNT_KEYS = {"n", "count", "hits", "attained", "favourable_count", "reference_n", "reference_favourable_count",
               "n_reference", "isolates", "seeds", "n_seeds", "labelled", "positives", "negatives", "tp", "fp",
               "fn", "tn", "events", "excluded", "missing_score", "scored", "rows_changed", "fell",
               "guilt_by_association_count", "degree_histogram", "giant_component_size", "missing",
               "groups_below_min_size", "people", "unreached", "favourable", "unfavourable"}


def _count_like(key: str) -> bool:
    return key in _COUNT_KEYS or key.endswith("_count") or key.endswith("_n")


def _ints(o, path=()):
    if isinstance(o, dict):
        for k, v in o.items():
            yield from _ints(v, path + (str(k),))
    elif isinstance(o, list):
        for x in o:
            yield from _ints(x, path)
    elif isinstance(o, int) and not isinstance(o, bool):
        yield path, o


def test_no_small_count_is_published(case):
    hits = []
    for path, v in _ints(case.d):
        if path and path[0] in ("rule", "settings", "reproducibility"):
            continue
        # the count's own key, or the key of the table it sits in (fell.{tier}, missing.{attribute})
        if any(_count_like(p) for p in path[-2:]) and "solver" not in path and _small(v):
            hits.append(("/".join(path), v))
    assert not hits, f"{case.name}: {len(hits)} small counts published: {hits[:15]}"


_RATE_KEYS = {"selection_rate", "favourable_rate", "isolate_share", "observed_rate", "share_pulled_down",
              "share_pulled_up", "tier_attainment", "own_attainment", "final_attainment", "guilt_by_association",
              "lifted_by_association", "fell_share", "attainment"}


def test_no_published_rate_pins_a_small_count(case):
    """A rate published next to its group's n with enough decimals is the count."""
    hits = []

    def walk(o, path):
        if isinstance(o, dict):
            n = o.get("n") if isinstance(o.get("n"), int) and not isinstance(o.get("n"), bool) else None
            if n:
                for k, v in o.items():
                    if k not in _RATE_KEYS:
                        continue
                    vals = v.items() if isinstance(v, dict) else [(None, v)]
                    for sub, r in vals:
                        if not isinstance(r, float) or not 0 < r < 1:
                            continue
                        kk = _count_from_rate(r, n)
                        if kk is not None and (_small(kk) or _small(n - kk)):
                            hits.append(("/".join(path + (k,) + ((sub,) if sub else ())), r, n, kk))
            for k, v in o.items():
                walk(v, path + (str(k),))
        elif isinstance(o, list):
            for x in o:
                walk(x, path)

    walk(case.d, ())
    assert not hits, f"{case.name}: {len(hits)} rates pin a small count: {hits[:15]}"


# --------------------------------------------------------------------------- the attack itself works

def test_differencing_attack_rebuilds_a_withheld_cell(case):
    """Withhold published cells one at a time: the solver must rebuild each from its line, exactly.

    Guards the attack above against passing vacuously (wrong keys, missing lines).
    """
    facts, _ = _collect(case)
    tables = [t for t in ("n",) + tuple({t for (t, _) in facts.values if isinstance(t, tuple) and t[0] == "final"})]
    checked = 0
    for (table, key), v in sorted(facts.values.items(), key=repr):
        if table not in tables or len(key) != 2:
            continue
        trial = Facts()
        trial.values = {c: x for c, x in facts.values.items() if c != (table, key)}
        trial.constraints = facts.constraints
        known, derived = trial.solve()
        if (table, key) in derived:
            assert derived[(table, key)] == v == _truth(case, table, key)
            checked += 1
        if checked >= 5:
            break
    assert checked >= 5, f"{case.name}: the differencing attack could not rebuild withheld published cells"


def test_families_suppress_at_source_not_via_the_report_safety_net():
    # The report document runs a last-resort pass that blanks any count of 1..t-1 it finds. It must
    # have nothing to do: a family that leaks a small count has to fail here, not be rescued there.
    import json

    from audit.report._document import suppress_small_counts

    people, edges = audit.generate_sesame(4000, seed=5)
    report = audit.run("sesame", people, ["gender", "age_band", "ethnicity", "registration"], graph=edges)
    for name, result in report.results.items():
        raw = json.loads(json.dumps(result.to_dict()))
        assert suppress_small_counts(raw, 10) == raw, f"{name} publishes a small count"


# --------------------------------------------------------------------------- attack 5: linear programming

def _lp_attack(case: Case, network: bool = False):
    """Every published count at once, as linear constraints over (finest cell x outcome pattern) counts.

    The attacker reads sizes and tier counts of every grouping (rounded ones as intervals of ten), label
    cells, and the network family's own-score attainment and guilt-by-association counts; it is also told
    which outcome patterns occur (more than a reader knows).  Returns, per hidden sensitive cell, its
    attainable interval and true value.
    """
    d = case.d
    people = case.people
    attrs = list(case.protected)
    domains = _domains(d)
    cells = list(itertools.product(*(domains[a] for a in attrs)))
    tab = people[attrs].notna().all(axis=1).to_numpy()
    bits = [case.attainment]
    spill = ((d.get("contagion") or {}).get("spillover") or []) if network else []
    if spill:
        bits.append(np.asarray(case.report_rule.attainment(case.own), dtype=bool))
    if case.labels is not None:
        y = np.asarray(case.labels, dtype=float)
        bits.append(np.column_stack([y == 1, y == 0]))
    pat = np.concatenate(bits, axis=1)[tab]
    uniq, inv = np.unique(np.packbits(pat, axis=1), axis=0, return_inverse=True)
    inv = inv.ravel()
    system = CountSystem(tuple(attrs), cells, list(range(len(uniq))))

    def pats(col):
        return np.unique(inv[pat[:, col]])

    def pats_where(mask):
        return np.unique(inv[mask])

    everyone = np.arange(len(uniq))
    pop = d["population"]
    if pop.get("tabulated") is not None:
        system.add({}, everyone, pop["tabulated"])
    targets = []
    for g in (d.get("impact") or {}).get("groupings", []):
        ga = g["attributes"]
        for x in g.get("groups", []):
            grp = dict(x["group"])
            if x.get("n") is not None:
                lo = x["n"] - 5 if x.get("rounded") else x["n"]
                system.add(grp, everyone, lo, x["n"] + 4 if x.get("rounded") else x["n"])
        for r in g.get("rates", []):
            grp = dict(r["group"])
            j = case.tiers.index(r["tier"])
            k_true = int(case.attainment[case.mask(_key(ga, grp)), j].sum())
            n_true = case.true_n(_key(ga, grp))
            if r.get("attained") is not None:
                k = r["attained"]
                system.add(grp, pats(j), k - 5 if r.get("rounded") else k, k + 4 if r.get("rounded") else k)
            elif _small(k_true) or _small(n_true - k_true):
                targets.append(((("final", r["tier"]), _key(ga, grp)), system.variables(grp, pats(j)), k_true))
        for e in g.get("error_rates") or []:
            grp = dict(e["group"])
            j = case.tiers.index(e["tier"])
            y = np.asarray(case.labels, dtype=float)[tab]
            for fld, mask in (("positives", y == 1), ("negatives", y == 0),
                              ("tp", (y == 1) & pat[:, j]), ("fp", (y == 0) & pat[:, j])):
                if e.get(fld) is not None:
                    system.add(grp, pats_where(mask), e[fld])
    if spill:
        own_att = np.asarray(case.report_rule.attainment(case.own), dtype=bool)[tab]
        tier_names = case.tiers
        for x in spill:
            grp = dict(x["group"])
            n = x.get("n")
            for t, v in (x.get("own_attainment") or {}).items():
                k = _count_from_rate(v, n)
                if k is not None:
                    system.add(grp, pats_where(own_att[:, tier_names.index(t)]), k)
            for t, v in (x.get("guilt_by_association_count") or {}).items():
                if v is not None:
                    j = tier_names.index(t)
                    system.add(grp, pats_where(own_att[:, j] & ~pat[:, j]), v)
    if not targets:
        return []
    lo, hi = attainable(system, [t[1] for t in targets])
    return [(name, a, b, truth) for (name, _, truth), a, b in zip(targets, lo, hi, strict=True)]


@pytest.mark.slow
def test_linear_programming_attack_on_the_impact_tables_pins_no_hidden_count(case):
    results = _lp_attack(case)
    assert results, f"{case.name}: the attack found no hidden sensitive cell to attack"
    for _, a, b, truth in results:
        assert a - 1e-6 <= truth <= b + 1e-6  # the attack is sound: the truth is always attainable
    narrow = [(name, a, b, truth) for name, a, b, truth in results if b - a < 5 - 1e-6]
    assert not narrow, (f"{case.name}: {len(narrow)} of {len(results)} hidden counts pinned to within +-2: "
                        f"{narrow[:8]}")
