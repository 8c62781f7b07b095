"""Liu et al. (2018) "Delayed Impact of Fair Machine Learning": outcome curves on the FICO aggregates.

A lender selects a share ``beta`` of a group for a loan, best scores first.  A
selected person repays with probability ``rho(x)`` (their score level's
non-delinquent share) and their score moves by ``+75`` if they repay and by
``-150`` if they default; people not selected do not move.  The *outcome
curve* of a group is the expected change in its mean score as a function of
``beta``:

    Delta mu(beta) = sum over the top-beta mass of pi(x) * Delta(x),
    Delta(x) = clip(x + rho(x) * 75 + (1 - rho(x)) * (-150), 300, 850) - x

with the boundary score level selected at random in the proportion that makes
the selection rate exactly ``beta`` (a randomised threshold, as in the paper).
The curve is piecewise linear in ``beta`` with a knot at every score level, so
it is evaluated exactly by interpolation between its knots.

The scores are the Federal Reserve's TransRisk levels 0-100 mapped to the
300-850 FICO scale by Liu et al.'s piecewise-linear conversion (their
``fico.py``); the expected move is clipped to 300-850, as in their code.
``scale="transrisk"`` keeps the 0-100 levels (bounds 0-100) instead.

The lender's policies (the paper's Section 5, with utility +1 for a repaid
loan and -4 for a default):

* **maximum profit**: lend at every score level whose expected utility is not
  negative (repayment probability at least 0.8) -- level by level, exactly as
  Liu et al.'s ``max_profit_loans``; where repayment is not monotone in the
  score this is not a threshold policy, and the result says so;
* **demographic parity**: one selection rate for every group (threshold
  policies), chosen to maximise total profit;
* **equal opportunity**: one true positive rate (share of would-be repayers
  selected) for every group, chosen to maximise total profit.

Total profit is piecewise linear in the common rate (or common true positive
rate) with knots at the groups' score levels, so its maximum is found exactly
by evaluating every knot -- where the paper's code uses a ternary search.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from audit._errors import AuditInputError

__all__ = ["DelayedImpact", "delayed_impact", "fico_to_fico_scale", "LIU_POLICY_GROUPS"]

#: The paper's figures compare these two groups; policies are solved over them by default.
LIU_POLICY_GROUPS = ("Black", "Non-Hispanic white")

#: Liu et al.'s conversion of TransRisk levels (percentiles) to the FICO 300-850 scale
#: (``convert_percentiles`` in lydiatliu/delayedimpact, fico.py): the share of the population
#: in each 50-point FICO band, from 300 up.
_FICO_BAND_PERCENT = (2.1, 4.2, 5.4, 6.5, 7.9, 9.6, 12.0, 13.8, 17.0, 15.8, 5.7)
_FICO_BAND_START = (300, 350, 400, 450, 500, 550, 600, 650, 700, 750, 800)

SOURCE = ("L. T. Liu, S. Dean, E. Rolf, M. Simchowitz, M. Hardt, \"Delayed Impact of Fair Machine "
          "Learning\", ICML 2018 (arXiv:1803.04383); score conversion, clipping and policy definitions as in "
          "the authors' code, github.com/lydiatliu/delayedimpact")

POLICIES = ("max_profit", "demographic_parity", "equal_opportunity")
POLICY_LABELS = {"max_profit": "maximum profit", "demographic_parity": "demographic parity",
                 "equal_opportunity": "equal opportunity"}


def fico_to_fico_scale(levels) -> np.ndarray:
    """TransRisk levels 0-100 -> FICO 300-850 by Liu et al.'s piecewise-linear conversion.

    Examples
    --------
    >>> from audit.dynamics import fico_to_fico_scale
    >>> fico_to_fico_scale([0, 2.1, 50, 100]).round(4).tolist()
    [300.0, 350.0, 658.3333, 850.0]
    """
    knots_pct = np.concatenate([[0.0], np.cumsum(_FICO_BAND_PERCENT)])
    knots_pct[-1] = 100.0   # the band shares add up to 100.0 up to float rounding
    knots_score = np.array(list(_FICO_BAND_START) + [850.0])
    return np.interp(np.asarray(levels, dtype=float), knots_pct, knots_score)


@dataclass(frozen=True)
class _Group:
    name: str
    total: int
    score: np.ndarray       # score on the chosen scale, ascending
    pmf: np.ndarray         # share of the group at each level
    repay: np.ndarray       # repayment probability at each level
    delta: np.ndarray       # expected score change of a selected person at each level
    utility: np.ndarray     # lender's expected utility of a loan at each level

    def _knots(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative selected mass and cumulative ``pmf * weights`` from the top score down."""
        top = slice(None, None, -1)
        mass = np.concatenate([[0.0], np.cumsum(self.pmf[top])])
        acc = np.concatenate([[0.0], np.cumsum((self.pmf * weights)[top])])
        mass[-1] = min(mass[-1], 1.0)
        return mass, acc

    def at_rate(self, beta, weights: np.ndarray) -> np.ndarray:
        """``sum pmf * weights`` over the top-``beta`` mass (randomised at the boundary level)."""
        mass, acc = self._knots(weights)
        return np.interp(np.clip(np.asarray(beta, dtype=float), 0.0, mass[-1]), mass, acc)

    def change(self, beta) -> np.ndarray:
        return self.at_rate(beta, self.delta)

    def profit(self, beta) -> np.ndarray:
        return self.at_rate(beta, self.utility)

    @property
    def mass_knots(self) -> np.ndarray:
        return self._knots(np.ones_like(self.pmf))[0]

    @property
    def repay_mass(self) -> float:
        return float(np.sum(self.pmf * self.repay))

    def tpr(self, beta) -> np.ndarray:
        return self.at_rate(beta, self.repay) / self.repay_mass

    def rate_for_tpr(self, t) -> np.ndarray:
        mass, acc = self._knots(self.repay)
        return np.interp(np.asarray(t, dtype=float) * self.repay_mass, acc, mass)

    def boundary(self, beta: float) -> tuple[float, float]:
        """The lowest score level selected at rate ``beta`` and the share of it that is selected."""
        mass = self.mass_knots
        if beta <= 0:
            return float("nan"), 0.0
        j = int(np.searchsorted(mass, beta, side="left"))      # levels fully or partly selected: j
        j = max(1, min(j, len(self.pmf)))
        level = len(self.pmf) - j
        part = self.pmf[level]
        frac = 1.0 if part <= 0 else float(np.clip((beta - mass[j - 1]) / part, 0.0, 1.0))
        return float(self.score[level]), frac


@dataclass(frozen=True, eq=False)
class DelayedImpact:
    """Outcome curves and lending policies on the FICO aggregates (see :func:`delayed_impact`).

    ``curves`` is the exact outcome curve of every group on ``rates``;
    ``policies[policy][group]`` holds the selection rate, the expected change
    in the group's mean score, the true positive rate, the boundary score and
    the comparison with maximum profit (Liu et al.'s improvement / relative
    harm / active harm).
    """

    groups: tuple[str, ...]
    totals: dict
    policy_groups: tuple[str, ...]
    rates: np.ndarray
    curves: dict
    policies: dict
    turning_points: dict
    settings: dict
    _groups: dict = field(default_factory=dict, repr=False)

    def change(self, group: str, beta) -> np.ndarray:
        """Expected change in ``group``'s mean score at selection rate(s) ``beta`` (exact)."""
        if group not in self._groups:
            raise AuditInputError(f"delayed impact: unknown group {group!r} (groups: {', '.join(self.groups)})")
        return self._groups[group].change(beta)

    def to_frame(self) -> pd.DataFrame:
        """Tidy: one row per group and selection rate (``group``, ``selection_rate``, ``expected_score_change``)."""
        rows = [pd.DataFrame({"group": g, "selection_rate": self.rates, "expected_score_change": self.curves[g]})
                for g in self.groups]
        return pd.concat(rows, ignore_index=True)

    def policy_frame(self) -> pd.DataFrame:
        rows = []
        for p in POLICIES:
            for g, rec in self.policies[p].items():
                rows.append({"policy": p, "group": g, **{k: v for k, v in rec.items() if not isinstance(v, dict)}})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        from audit.groups import json_float

        return {
            "settings": dict(self.settings),
            "groups": [{"group": g, "total": int(self.totals[g]),
                        "turning_points": {k: json_float(v, 6) for k, v in self.turning_points[g].items()}}
                       for g in self.groups],
            "policy_groups": list(self.policy_groups),
            "policies": {p: {g: {k: (json_float(v, 10) if isinstance(v, float) else v) for k, v in rec.items()}
                             for g, rec in self.policies[p].items()} for p in POLICIES},
            "curves": [{"selection_rate": json_float(b, 6),
                        **{g: json_float(self.curves[g][i], 6) for g in self.groups}}
                       for i, b in enumerate(self.rates)],
        }

    def _repr_html_(self) -> str:
        from audit.dynamics._fico_report import delayed_impact_view
        from audit.dynamics._render import render_html_fragment

        return render_html_fragment(delayed_impact_view(self.to_dict(), figures=True))


def _frame(fico) -> pd.DataFrame:
    from audit.datasets import load_fico

    if fico is None or isinstance(fico, (str, Path)):
        return load_fico(fico)
    if not isinstance(fico, pd.DataFrame):
        raise AuditInputError("delayed impact: pass the frame of audit.datasets.load_fico() or its folder")
    need = {"group", "score", "percent_at_score", "non_delinquent_percent", "group_total"}
    missing = sorted(need - set(fico.columns))
    if missing:
        raise AuditInputError(f"delayed impact: the FICO frame lacks column {missing[0]!r} (use load_fico)")
    return fico


def delayed_impact(
    fico: pd.DataFrame | str | Path | None = None,
    *,
    repaid: float = 75.0,
    default: float = -150.0,
    utility_repaid: float = 1.0,
    utility_default: float = -4.0,
    policy_groups: Sequence[str] = LIU_POLICY_GROUPS,
    scale: str = "fico",
    clip: bool = True,
    rates: int = 201,
) -> DelayedImpact:
    """Outcome curves and the selection rates of three lending policies (Liu et al. 2018).

    Parameters
    ----------
    fico : DataFrame, folder or None
        :func:`audit.datasets.load_fico`'s frame, or the folder to load it from.
    repaid, default : float
        Score change of a selected person who repays / defaults (the paper: +75 and -150).
    utility_repaid, utility_default : float
        Lender's utility of a repaid loan / a default (the paper's main setting: +1 and -4).
    policy_groups : sequence of str
        Groups the policies are solved over (default: Black and non-Hispanic white, as in the
        paper's figures), weighted by their sizes in ``totals.csv``.
    scale : {"fico", "transrisk"}
        Score scale: FICO 300-850 by the paper's conversion, or the TransRisk levels 0-100.
    clip : bool
        Clip ``x + expected move`` to the scale's bounds (as the paper's code does).
    rates : int
        Number of evenly spaced selection rates 0..1 at which ``curves`` are tabulated
        (the curves are exact at every rate; see :meth:`DelayedImpact.change`).

    Examples
    --------
    >>> from audit.dynamics import delayed_impact
    >>> res = delayed_impact()  # doctest: +SKIP
    >>> round(res.policies["max_profit"]["Black"]["selection_rate"], 4)  # doctest: +SKIP
    """
    if scale not in ("fico", "transrisk"):
        raise AuditInputError(f"delayed impact: scale must be 'fico' or 'transrisk', got {scale!r}")
    if not utility_repaid > 0 > utility_default:
        raise AuditInputError("delayed impact: utility_repaid must be positive and utility_default negative")
    if int(rates) < 2:
        raise AuditInputError("delayed impact: rates must be at least 2")
    frame = _frame(fico)
    lo, hi = (300.0, 850.0) if scale == "fico" else (0.0, 100.0)
    groups: dict[str, _Group] = {}
    for name, part in frame.groupby("group", sort=False):
        part = part.sort_values("score")
        levels = part["score"].to_numpy(dtype=float)
        x = fico_to_fico_scale(levels) if scale == "fico" else levels
        pmf = part["percent_at_score"].to_numpy(dtype=float) / 100.0
        rho = part["non_delinquent_percent"].to_numpy(dtype=float) / 100.0
        move = rho * float(repaid) + (1.0 - rho) * float(default)
        delta = (np.clip(x + move, lo, hi) - x) if clip else move
        util = rho * float(utility_repaid) + (1.0 - rho) * float(utility_default)
        groups[str(name)] = _Group(str(name), int(part["group_total"].iloc[0]), x, pmf, rho, delta, util)
    policy_groups = tuple(policy_groups)
    for g in policy_groups:
        if g not in groups:
            raise AuditInputError(f"delayed impact: unknown policy group {g!r} (groups: {', '.join(groups)})")
    if len(policy_groups) < 2:
        raise AuditInputError("delayed impact: give at least two policy groups")
    grid = np.linspace(0.0, 1.0, int(rates))
    curves = {g: gr.change(grid) for g, gr in groups.items()}
    policies = _policies(groups, policy_groups)
    turning = {g: _turning_points(gr) for g, gr in groups.items()}
    settings = {"repaid": float(repaid), "default": float(default), "utility_repaid": float(utility_repaid),
                "utility_default": float(utility_default),
                "break_even_repayment": float(-utility_default / (utility_repaid - utility_default)),
                "scale": scale, "bounds": [lo, hi], "clip": bool(clip), "policy_groups": list(policy_groups),
                "source": SOURCE}
    return DelayedImpact(tuple(groups), {g: gr.total for g, gr in groups.items()}, policy_groups, grid, curves,
                         policies, turning, settings, groups)


def _turning_points(gr: _Group) -> dict:
    """The rate that maximises the expected change, and the rate beyond which it is negative (active harm)."""
    mass, acc = gr._knots(gr.delta)
    best = int(np.argmax(acc))
    # Beyond the last knot where the cumulative change is still >= 0 the mean score falls on average.
    neg = np.flatnonzero(acc[best:] < 0)
    if len(neg):
        k = best + int(neg[0])
        # Linear between knots k-1 (>= 0) and k (< 0): the exact zero crossing.
        a0, a1, m0, m1 = acc[k - 1], acc[k], mass[k - 1], mass[k]
        zero = float(m0 + (m1 - m0) * a0 / (a0 - a1))
    else:
        zero = float("nan")
    return {"rate_of_largest_improvement": float(mass[best]), "largest_improvement": float(acc[best]),
            "rate_beyond_which_mean_score_falls": zero}


def _argmax_knots(values: np.ndarray, knots: np.ndarray) -> float:
    """The smallest knot at which ``values`` is (within rounding) largest: a deterministic choice on flat tops."""
    top = np.max(values)
    tol = 1e-12 * max(1.0, abs(top))
    return float(knots[np.flatnonzero(values >= top - tol)[0]])


def _policies(groups: dict[str, _Group], pg: tuple[str, ...]) -> dict:
    weights = np.array([groups[g].total for g in pg], dtype=float)
    weights /= weights.sum()
    out: dict = {p: {} for p in POLICIES}
    # Maximum profit: level by level (a threshold policy only where repayment rises with the score).
    for g, gr in groups.items():
        lend = gr.utility >= 0
        beta = float(np.sum(gr.pmf[lend]))
        is_threshold = bool(np.all(lend[np.argmax(lend):])) if lend.any() else True
        rec = _record(gr, beta, lend.astype(float))
        rec["threshold_policy"] = is_threshold
        out["max_profit"][g] = rec
    # Demographic parity: one rate; total profit is piecewise linear with knots at every group's masses.
    knots = np.unique(np.concatenate([groups[g].mass_knots for g in pg] + [[0.0, 1.0]]))
    knots = knots[(knots >= 0) & (knots <= 1)]
    total = sum(w * groups[g].profit(knots) for w, g in zip(weights, pg, strict=True))
    beta_dp = _argmax_knots(total, knots)
    # Equal opportunity: one true positive rate; knots at every group's TPR values.
    tknots = np.unique(np.concatenate([groups[g].tpr(groups[g].mass_knots) for g in pg] + [[0.0, 1.0]]))
    tknots = tknots[(tknots >= 0) & (tknots <= 1)]
    total_eo = sum(w * groups[g].profit(groups[g].rate_for_tpr(tknots)) for w, g in zip(weights, pg, strict=True))
    t_eo = _argmax_knots(total_eo, tknots)
    for g in pg:
        gr = groups[g]
        out["demographic_parity"][g] = _record(gr, beta_dp)
        out["equal_opportunity"][g] = _record(gr, float(gr.rate_for_tpr(t_eo)))
    for p in ("demographic_parity", "equal_opportunity"):
        for g in pg:
            rec = out[p][g]
            base = out["max_profit"][g]["expected_score_change"]
            change = rec["expected_score_change"]
            rec["versus_max_profit"] = ("active harm" if change < 0 else
                                        "improvement" if change > base else
                                        "relative harm" if change < base else "same")
    return out


def _record(gr: _Group, beta: float, lend: np.ndarray | None = None) -> dict:
    if lend is None:
        change = float(gr.change(beta))
        profit = float(gr.profit(beta))
        tpr = float(gr.tpr(beta))
        score, frac = gr.boundary(beta)
    else:
        change = float(np.sum(gr.pmf * lend * gr.delta))
        profit = float(np.sum(gr.pmf * lend * gr.utility))
        tpr = float(np.sum(gr.pmf * lend * gr.repay) / gr.repay_mass)
        sel = np.flatnonzero(lend > 0)
        score, frac = (float(gr.score[sel[0]]), 1.0) if len(sel) else (float("nan"), 0.0)
    return {"selection_rate": float(beta), "expected_score_change": change, "true_positive_rate": tpr,
            "profit_per_applicant": profit, "lowest_score_selected": score, "share_of_lowest_level_selected": frac}
