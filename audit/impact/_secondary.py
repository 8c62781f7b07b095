"""Label and calibration cells: primary and complementary suppression across every grouping.

Each group of each grouping is placed in one key space over all the audit's
attributes: a group of ``race`` is ``(race value, *, ...)``, a group of
``race & sex`` is ``(race value, sex value, *)``.  Cells sharing every
coordinate but one then form a line that adds up to a published total (a
single attribute's groups add up to the population, an intersection's groups
with one attribute varying add up to a group of the smaller grouping), and
:func:`protect_lines` hides further cells until no line has exactly one
hidden cell.
"""

from __future__ import annotations

import numpy as np

from audit.disclosure import cell_publishable, protect_lines, small_mask

_small = small_mask


def _protect(keys, counts, hidden):
    """One protect_lines over all families: ``keys``/``counts``/``hidden`` are lists per family (1-D)."""
    flat_keys = [k for ks in keys for k in ks]
    if not flat_keys:
        return [np.asarray(h, dtype=bool) for h in hidden]
    c = np.concatenate([np.asarray(x, dtype=np.int64).ravel() for x in counts])
    h = np.concatenate([np.asarray(x, dtype=bool).ravel() for x in hidden])
    out = protect_lines(flat_keys, c, h)
    parts, i = [], 0
    for x in hidden:
        m = np.asarray(x).size
        parts.append(out[i:i + m].reshape(np.shape(x)))
        i += m
    return parts


def _fixpoint(keys, columns, hidden):
    """Protect several count columns that share one hidden mask (a unit) until stable."""
    while True:
        before = [h.copy() for h in hidden]
        for col in columns:
            hidden = _protect(keys, col, hidden)
        if all((a == b).all() for a, b in zip(before, hidden, strict=True)):
            return hidden


def label_and_calibration_masks(families, keys, n_hidden, n_tiers: int, thr: int, extra_rows=None) -> list[dict]:
    """Per family, the label and calibration cells to hide (primary and secondary).

    Returns, per family, ``label_group`` (G,: labelled / positives / negatives),
    ``label_row`` (G, T: the confusion counts and their rates), ``cal_n`` and
    ``cal_events`` (G, B).  A hidden group size (``n_hidden``) hides everything; ``extra_rows``
    (per family, (G, T)) marks label rows hidden because their tier cell is (TP + FP is the tier count).
    """
    out = [{} for _ in families]
    n_h = n_hidden
    err = [i for i, f in enumerate(families) if f.errors is not None]
    if err:
        ek = [keys[i] for i in err]
        es = [families[i].errors for i in err]
        pos = [e["positives"] for e in es]
        neg = [e["negatives"] for e in es]
        lab = [p + n for p, n in zip(pos, neg, strict=True)]
        grp = [n_h[i] | _small(a, thr) | _small(p, thr) | _small(n, thr)
               for i, a, p, n in zip(err, lab, pos, neg, strict=True)]
        grp = _fixpoint(ek, [lab, pos, neg], grp)
        cells = ("tp", "fp", "fn", "tn")
        row = [g[:, None] | np.any([_small(e[c], thr) for c in cells], axis=0) for g, e in zip(grp, es, strict=True)]
        if extra_rows is not None:
            row = [r | np.asarray(extra_rows[i], dtype=bool) for r, i in zip(row, err, strict=True)]
        for j in range(n_tiers):
            rj = _fixpoint(ek, [[e[c][:, j] for e in es] for c in cells], [r[:, j].copy() for r in row])
            for r, x in zip(row, rj, strict=True):
                r[:, j] = x
        for i, g, r in zip(err, grp, row, strict=True):
            out[i]["label_group"], out[i]["label_row"] = g, r | g[:, None]

    cal = [i for i, f in enumerate(families) if f.calibration is not None]
    if cal:
        cs = [families[i].calibration for i in cal]
        # Bins are one more coordinate: a group's bins add up to its labelled count.
        ck = [[k + (b,) for k in keys[i] for b in range(c["n"].shape[1])] for i, c in zip(cal, cs, strict=True)]
        cn_h = _protect(ck, [c["n"] for c in cs], [_small(c["n"], thr) | n_h[i][:, None] for i, c in zip(cal, cs, strict=True)])
        ev_h = _protect(ck, [c["events"] for c in cs],
                        [~np.asarray(cell_publishable(c["events"], c["n"], thr), dtype=bool).reshape(c["n"].shape) | h
                         for c, h in zip(cs, cn_h, strict=True)])
        for i, a, b in zip(cal, cn_h, ev_h, strict=True):
            out[i]["cal_n"], out[i]["cal_events"] = a, a | b
    return out
