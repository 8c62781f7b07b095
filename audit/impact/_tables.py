"""The impact family's published tables: every figure with its disclosure decision applied.

Each table is tidy (one row per grouping, group and tier, threshold or score
bin).  Suppression is decided for all groupings at once by
:func:`audit.impact._secondary.secondary_masks` (primary cell rule plus
secondary suppression against subtraction); a figure derived from a hidden
cell is hidden with it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit.disclosure import cell_publishable
from audit.impact._methods import CUT_DIGITS, STAT_DIGITS
from audit.impact._verdicts import PUSHED_OUT, Verdicts
from audit.rates import Outcomes, wilson_interval
from audit.settings import Settings

__all__ = ["Tables", "build_tables"]

VERDICT_NAMES = {PUSHED_OUT: "pushed out", 1: "below parity"}


def nullable_int(values: np.ndarray, keep: np.ndarray):
    out = pd.array(np.where(keep, values, 0).astype(np.int64), dtype="Int64")
    out[~np.asarray(keep, dtype=bool)] = pd.NA
    return out


def masked(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    return np.where(keep, values, np.nan).astype(float)


def round_stat(x):
    """Published score statistics (means, sd, quantiles) are rounded to ``STAT_DIGITS`` places."""
    return np.round(np.asarray(x, dtype=float), STAT_DIGITS)


def round_cut(x):
    return np.round(np.asarray(x, dtype=float), CUT_DIGITS)


def _merge_touching(pairs: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Join ranges that touch or overlap once rounded (presentation only: 695.4–695.4 and 695.4–696.3)."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(pairs):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _merge_touching_ranges(ranges: list[dict]) -> list[dict]:
    """As :func:`_merge_touching` for the grouping-level ranges; the groups below the line are united."""
    out: list[dict] = []
    for r in sorted(ranges, key=lambda r: (r["from"], r["to"])):
        if out and r["from"] <= out[-1]["to"]:
            last = out[-1]
            last["to"] = max(last["to"], r["to"])
            last["groups"] = sorted(set(last["groups"]) | set(r["groups"]))
        else:
            out.append({"from": r["from"], "to": r["to"], "groups": list(r["groups"])})
    return out


class Tables(dict):
    """The tables (``groups``, ``dist``, ``rates``, ``err``, ``cal``, ``curve``, ``ranges``, ``limits``), plus
    ``infos`` (per grouping: key, labels, reference, curve data) and the publication masks findings need."""


def build_tables(*, families, verdicts: Verdicts, outcomes: Outcomes, settings: Settings, quantiles,
                 higher_is_better: bool) -> Tables:
    thr = settings.disclosure_threshold
    alpha = settings.alpha
    tiers = outcomes.tiers
    T = len(tiers)
    audited = list(outcomes.audited)
    tier_names = [t.name for t in tiers]
    status = np.array([outcomes.status(j) for j in range(T)], dtype=object)
    direction = pd.array([outcomes.direction[j] for j in range(T)], dtype="boolean")
    frames: dict[str, list[pd.DataFrame]] = {k: [] for k in
                                             ("groups", "dist", "rates", "err", "cal", "curve", "ranges", "limits")}
    infos, publishable, size_ok = [], [], []
    for i, fam in enumerate(families):
        mask = fam.mask
        gr = fam.grouping
        G = gr.n_groups
        key = gr.key
        names = [gr.name(k) for k in range(G)]
        labels = [gr.label(k) for k in range(G)]
        counts = fam.pub_counts  # published counts: rounded where the disclosure decision says so
        n_ok = ~mask["n"]
        size_ok.append(n_ok)
        small = counts < settings.min_group_size
        total = counts.sum()
        info = {"key": key, "attributes": list(gr.attributes), "labels": labels,
                "reference": fam.ref, "rows": int(total)}
        infos.append(info)
        ref_name = names[fam.ref] if fam.ref >= 0 else None

        with np.errstate(invalid="ignore", divide="ignore"):
            share = counts / total if total else np.full(G, np.nan)
        frames["groups"].append(pd.DataFrame({
            "grouping": key, "group": names, "code": np.arange(G),
            "n": nullable_int(counts, n_ok), "share": masked(share, n_ok),
            "small_group": small, "is_reference": np.arange(G) == fam.ref, "suppressed": ~n_ok,
            "rounded": mask["n_round"] & n_ok,
        }))

        # ---- score distributions: groups of at least the minimum size only (and never min / max)
        d = fam.dist
        dist_ok = n_ok & (counts > 0) & ~small
        cmp_ok = dist_ok & bool(fam.ref >= 0 and dist_ok[fam.ref])
        dist = {"grouping": key, "group": names, "code": np.arange(G), "n": nullable_int(counts, n_ok),
                "mean": masked(round_stat(d["mean"]), dist_ok), "sd": masked(round_stat(d["sd"]), dist_ok)}
        for j, q in enumerate(quantiles):
            dist[f"q{round(100 * q):02d}"] = masked(round_stat(d["quantiles"][:, j]), dist_ok)
        dist["median"] = masked(round_stat(d["quantiles"][:, list(quantiles).index(0.5)]), dist_ok)
        dist["reference"] = ref_name
        for k in ("smd", "ks", "auc"):
            dist[k] = masked(d[k], cmp_ok)
        dist["suppressed"] = ~dist_ok
        frames["dist"].append(pd.DataFrame(dist))

        # ---- rates: one row per (group, tier), group-major; comparisons only for audited tiers
        hits = fam.pub_hits
        cell_ok = ~mask["hits"]
        with np.errstate(invalid="ignore", divide="ignore"):
            sel = hits / counts[:, None]
        deff = fam.deff if fam.deff is not None else np.ones(T)
        lo, hi = wilson_interval(hits / deff[None, :], (counts[:, None] + 0 * hits) / deff[None, :], alpha=alpha)

        def full(a_arr, fill=np.nan, dtype=float, G=G):
            # (G, A) -> (G, T): audited tiers in their columns, the others filled.
            out = np.full((G, T), fill, dtype=dtype)
            for a, j in enumerate(audited):
                out[:, j] = a_arr[:, a]
            return out

        fav_rate = full(fam.fav / np.maximum(counts, 1)[:, None]) if audited else np.full((G, T), np.nan)
        fav_rate[counts == 0] = np.nan
        rows = {
            "grouping": np.repeat(key, G * T), "group": np.repeat(names, T),
            "code": np.repeat(np.arange(G), T),
            "tier": np.tile(np.array(tier_names, dtype=object), G), "tier_index": np.tile(np.arange(T), G),
            "status": np.tile(status, G), "favourable": pd.array(np.tile(np.asarray(direction, dtype=object), G),
                                                                   dtype="boolean"),
            "n": nullable_int(np.repeat(counts, T), np.repeat(n_ok, T)),
            "attained": nullable_int(hits.ravel(), cell_ok.ravel()),
            "selection_rate": masked(sel, cell_ok).ravel(),
            "selection_ci_low": masked(lo, cell_ok).ravel(),
            "selection_ci_high": masked(hi, cell_ok).ravel(),
            "favourable_rate": masked(fav_rate, cell_ok).ravel(),
            "small_group": np.repeat(small, T),
            "rounded": (mask["hits_round"] | mask["n_round"][:, None]).ravel() & cell_ok.ravel(),
        }
        any_sup = ~cell_ok
        tj = np.broadcast_to(np.arange(T)[None, :], (G, T))
        c = fam.claims
        is_aud = np.zeros(T, dtype=bool)
        is_aud[audited] = True
        both_ok = {}
        for prefix, cmp_codes in (("", full(c.most_favoured[None, :].repeat(G, 0), -1, np.int64)),
                                  ("ref_", np.where(is_aud[None, :], fam.ref, -1).repeat(G, 0).reshape(G, T))):
            valid = cmp_codes >= 0
            cc = np.where(valid, cmp_codes, 0)
            # Everything that compares two cells needs both cells publishable: the ratio, its interval and
            # bounds, the tests and their p- and q-values (with the group sizes and one cell, a p-value
            # gives the other cell back).
            ok = cell_ok & cell_ok[cc, tj] & valid
            both_ok[prefix] = ok
            any_sup = any_sup | ~ok
            label = "most_favoured" if not prefix else "reference"
            rows[label] = np.array([names[k] if k >= 0 else None for k in cmp_codes.ravel()], dtype=object)
            rows[f"{label}_code"] = cmp_codes.ravel()
            rows[f"{label}_rate"] = masked(np.where(valid, fav_rate[cc, tj], np.nan), cell_ok[cc, tj] & valid).ravel()
            if not prefix:
                ratio, rlo, rhi = full(c.ratio), full(c.ci_low), full(c.ci_high)
                rows["impact_ratio"] = masked(ratio, ok).ravel()
                rows["impact_ratio_ci_low"] = masked(rlo, ok).ravel()
                rows["impact_ratio_ci_high"] = masked(rhi, ok).ravel()
                rows["ratio_upper_bound"] = masked(full(c.upper), ok).ravel()
                rows["candidates"] = nullable_int(np.repeat(c.candidates, T), (ok & (full(c.candidate, False, bool))).ravel())
                rows["p_value"] = masked(full(c.p_threshold), ok).ravel()
                rows["q_value"] = masked(full(verdicts.q_threshold[i]), ok).ravel()
                rows["parity_p_value"] = masked(full(c.p_parity), ok).ravel()
                rows["parity_q_value"] = masked(full(verdicts.q_parity[i]), ok).ravel()
            else:
                vr = fam.versus_ref
                ratio = full(vr["ratio"])
                rows["ref_impact_ratio"] = masked(ratio, ok).ravel()
                rows["ref_impact_ratio_ci_low"] = masked(full(vr["lo"]), ok).ravel()
                rows["ref_impact_ratio_ci_high"] = masked(full(vr["hi"]), ok).ravel()
                rows["ref_test"] = np.where(ok, full(vr["test"], "", object), "").ravel().astype(object)
                rows["ref_p_value"] = masked(full(vr["p"]), ok).ravel()
                rows["ref_q_value"] = masked(full(verdicts.q_reference[i]), ok).ravel()
            below = pd.array((ratio < settings.threshold).ravel(), dtype="boolean")
            below[~(ok & np.isfinite(ratio)).ravel()] = pd.NA
            rows[f"{prefix}below_threshold"] = below
        verdict = full(verdicts.verdict[i], 0, np.int8)
        rows["verdict"] = np.array([VERDICT_NAMES.get(int(v)) for v in verdict.ravel()], dtype=object)
        rows["pushed_out"] = (verdict == PUSHED_OUT).ravel()
        rows["suppressed"] = any_sup.ravel()
        frames["rates"].append(pd.DataFrame(rows))
        publishable.append(both_ok[""][:, audited] if audited else np.zeros((G, 0), dtype=bool))

        # ---- detection limits (single attributes): the comparator's cell and the group's size must be publishable
        det = verdicts.detectable[i]
        if np.isfinite(det).any():
            for g, a in zip(*np.nonzero(np.isfinite(det)), strict=True):
                j = audited[a]
                b = int(verdicts.detect_comparator[i][g, a])
                if not (n_ok[g] and cell_ok[b, j] and n_ok[b]):
                    continue
                frames["limits"].append(pd.DataFrame({
                    "grouping": [key], "group": [names[g]], "code": [g], "tier": [tier_names[j]],
                    "n": [int(counts[g])], "comparator": [names[b]], "comparator_code": [b],
                    "detectable_ratio": [float(np.round(det[g, a], 3))],
                    "verdict": [VERDICT_NAMES.get(int(verdicts.verdict[i][g, a]))],
                }))

        # ---- label metrics
        if fam.errors is not None:
            e = fam.errors
            tp, fp, fn, tn = e["tp"], e["fp"], e["fn"], e["tn"]
            pos = np.broadcast_to(e["positives"][:, None], tp.shape)
            neg = np.broadcast_to(e["negatives"][:, None], tp.shape)
            lab = pos + neg
            # All four label cells publishable: then FPR (fp of fp + tn), FNR (fn of fn + tp) and PPV (tp of
            # tp + fp) are publishable cells too.  A group's label row is one unit: any hidden count hides them all.
            all_ok = ~mask["label_row"]
            grp_ok = np.broadcast_to(~mask["label_group"][:, None], tp.shape)
            err = {"grouping": np.repeat(key, G * T), "group": np.repeat(names, T),
                   "code": np.repeat(np.arange(G), T),
                   "tier": np.tile(np.array(tier_names, dtype=object), G),
                   "tier_index": np.tile(np.arange(T), G),
                   "labelled": nullable_int(lab.ravel(), grp_ok.ravel()),
                   "positives": nullable_int(pos.ravel(), grp_ok.ravel()),
                   "negatives": nullable_int(neg.ravel(), grp_ok.ravel())}
            for name, arr in (("tp", tp), ("fp", fp), ("fn", fn), ("tn", tn)):
                err[name] = nullable_int(arr.ravel(), all_ok.ravel())
            for name, num, den in (("fpr", fp, fp + tn), ("fnr", fn, fn + tp), ("ppv", tp, tp + fp)):
                with np.errstate(invalid="ignore", divide="ignore"):
                    rate = num / den
                rlo, rhi = wilson_interval(num, den, alpha=alpha)
                err[name] = masked(rate, all_ok).ravel()
                err[f"{name}_ci_low"] = masked(rlo, all_ok).ravel()
                err[f"{name}_ci_high"] = masked(rhi, all_ok).ravel()
            err["suppressed"] = ~all_ok.ravel()
            frames["err"].append(pd.DataFrame(err))
        if fam.calibration is not None:
            cal = fam.calibration
            B = len(cal["from"])
            cn, ev = cal["n"], cal["events"]
            ok = ~mask["cal_events"]
            nk = ~mask["cal_n"]
            with np.errstate(invalid="ignore", divide="ignore"):
                rate = ev / cn
                mean_score = round_stat(cal["score_sum"] / cn)
            rlo, rhi = wilson_interval(ev, cn, alpha=alpha)
            # A bin bound is a cut of the score scale: shown (rounded) only with at least `thr` people of
            # the population on each side of it.
            below_, upto, tot = cal["below_from"], cal["upto"], cal["total"]
            lo_b = np.where((below_ >= thr) & (tot - below_ >= thr), round_cut(cal["from"]), np.nan)
            hi_b = np.where((upto >= thr) & (tot - upto >= thr), round_cut(cal["to"]), np.nan)
            frames["cal"].append(pd.DataFrame({
                "grouping": np.repeat(key, G * B), "group": np.repeat(names, B),
                "code": np.repeat(np.arange(G), B), "bin": np.tile(np.arange(B), G),
                "score_from": np.tile(lo_b, G), "score_to": np.tile(hi_b, G),
                "n": nullable_int(cn.ravel(), nk.ravel()), "events": nullable_int(ev.ravel(), ok.ravel()),
                "observed_rate": masked(rate, ok).ravel(), "ci_low": masked(rlo, ok).ravel(),
                "ci_high": masked(rhi, ok).ravel(), "mean_score": masked(mean_score, nk & (cn > 0)).ravel(),
                "suppressed": ~ok.ravel(),
            }))

        # ---- threshold curve
        cv = fam.curve
        if cv is not None:
            el = np.flatnonzero(cv.eligible)
            S = cv.grid_hits[el]  # (E, J)
            ng = counts[el][:, None]
            mh, mn = cv.grid_most_favoured_hits[None, :], cv.grid_most_favoured_n[None, :]
            fav_pop, unfav_pop = cv.grid_population()
            # A threshold is shown only with `thr` people of the population on each side of it; a point
            # also needs its group's and the most favoured group's cells publishable.  Thresholds are
            # rounded to 1 decimal place (equal rounded values keep their first point).
            t_ok = (fav_pop >= thr) & (unfav_pop >= thr)
            pt_ok = np.asarray(cell_publishable(S, ng, thr), dtype=bool).reshape(S.shape) & n_ok[el][:, None]
            env_ok = np.asarray(cell_publishable(mh, mn, thr), dtype=bool).reshape(mh.shape)
            shown = pt_ok & env_ok & t_ok[None, :]
            t_round = round_cut(cv.thresholds[cv.grid])
            first = np.ones(len(t_round), dtype=bool)
            first[1:] = t_round[1:] != t_round[:-1]
            t_round, S, shown = t_round[first], S[:, first], shown[:, first]
            mh, mn, t_ok = mh[:, first], mn[:, first], t_ok[first]
            J = len(t_round)
            with np.errstate(invalid="ignore", divide="ignore"):
                rate = S / ng
                ratio = np.where(mh > 0, (S * mn.astype(float)) / (mh * ng.astype(float)), np.nan)
            frames["curve"].append(pd.DataFrame({
                "grouping": np.repeat(key, len(el) * J), "group": np.repeat([names[k] for k in el], J),
                "code": np.repeat(el, J), "threshold": np.tile(t_round, len(el)),
                "favourable": nullable_int(S.ravel(), (pt_ok[:, first] & t_ok[None, :]).ravel()),
                "rate": masked(rate, pt_ok[:, first] & t_ok[None, :]).ravel(),
                "impact_ratio": masked(ratio, shown).ravel(),
                "suppressed": ~shown.ravel(),
            }))
            ranges, group_ranges = cv.published_ranges(thr)
            ranges = [{"from": float(round_cut(r["from"])), "to": float(round_cut(r["to"])),
                       "groups": r["groups"]} for r in ranges]
            group_ranges = {k: _merge_touching([(float(round_cut(a)), float(round_cut(b))) for a, b in v])
                            for k, v in group_ranges.items()}
            ranges = _merge_touching_ranges(ranges)
            frames["ranges"].append(pd.DataFrame({
                "grouping": [key] * len(ranges),
                "from": [r["from"] for r in ranges], "to": [r["to"] for r in ranges],
                "groups": [" | ".join(names[k] for k in r["groups"]) for r in ranges],
            }))
            plotted = shown.any(axis=0)
            info["curve"] = {"cut": "score >= t" if higher_is_better else "score <= t",
                             "ranges": ranges, "group_ranges": group_ranges,
                             "thresholds": t_round[plotted], "eligible": el,
                             "ratio": np.where(shown & np.isfinite(ratio), ratio, np.nan)[:, plotted]}

    out = Tables()
    for name, parts in frames.items():
        out[name] = pd.concat(parts, ignore_index=True) if parts else None
    out.infos = infos
    out.publishable = publishable
    out.size_ok = size_ok
    return out
