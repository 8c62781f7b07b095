"""What the impact family may publish: one decision for all its tables, made before any statistic is computed.

Every count the family publishes — group sizes, the people reaching each tier,
the label cells (TP, FP, FN, TN) and calibration bins — is a cell of one key
space over all the audited attributes (:func:`audit.disclosure.global_keys`).
The decision, in order:

1. **Primary**: the cell rule (a count of 1 to T - 1, or its complement), and
   for nested tiers the band between them (reaching 650 but not 700: a count
   a reader gets by subtracting two published cells, so it obeys the cell
   rule too; the tier with fewer favourable outcomes is hidden for that group).
2. **Complementary**: per count, every line (cells adding up to a published
   total) with exactly one hidden cell gets another — the cell of the smallest
   group, never a cell of a group of at least :data:`LOCK_SIZE` people, which
   is published rounded to the nearest ten instead where nothing else will do.
3. **Audit**: the linear-programming attack over all sizes, tier and label
   counts at once (:func:`audit.disclosure.attainable`); while a hidden cell's
   attainable interval is narrower than plus or minus two, one more cell on
   its lines is hidden (or rounded).

Statistics are then computed from the *published* counts (rounded cells as
rounded), so no figure can give back more than the published counts do.
"""

from __future__ import annotations

import itertools

import numpy as np

from audit.disclosure import (
    CAPACITY,
    MIN_WIDTH,
    CountSystem,
    attainable,
    cell_publishable,
    global_keys,
    protect_lines,
    round_count,
    small_mask,
)

__all__ = ["LOCK_SIZE", "Masks", "protect_impact"]

#: Cells of groups at least this large are never hidden to protect another cell (rounded instead): a
#: report must not lose a large group's figures because of a handful of people elsewhere.
LOCK_SIZE = 1000
#: At most this many rounds of the linear-programming audit (each adds one complementary cell per
#: narrow cell); a population needing more is far outside the design, and the remaining cells are hidden.
MAX_AUDIT_ROUNDS = 25


class Masks(dict):
    """Per grouping: ``n`` / ``hits`` hidden, ``n_round`` / ``hits_round`` rounded, label and calibration masks."""


def _band_rule(fam, outcomes, thr: int) -> tuple[np.ndarray, np.ndarray]:
    """Where the band between two nested tiers holds 1 to T - 1 people of a group, hide the rarer tier's cell
    (a group below :data:`LOCK_SIZE`) or publish it rounded (a larger group, whose rates must stay)."""
    T = len(outcomes.tiers)
    hidden = np.zeros((fam.grouping.n_groups, T), dtype=bool)
    att = outcomes.attainment
    for i, j in itertools.combinations(range(T), 2):
        a_i, a_j = att[:, i], att[:, j]
        # Nested on this population: every person reaching one also reaches the other.
        if not (np.all(a_j <= a_i) or np.all(a_i <= a_j)):
            continue
        diff = np.abs(fam.hits[:, i] - fam.hits[:, j])
        # Only where both cells would be published: a hidden cell needs no band protection of its own.
        both = (np.asarray(cell_publishable(fam.hits[:, i], fam.counts, thr), dtype=bool)
                & np.asarray(cell_publishable(fam.hits[:, j], fam.counts, thr), dtype=bool))
        small = small_mask(diff, thr) & both
        # Hide the rarer tier's cell (fewer people reach it): its count is the one the band isolates.
        rarer = j if fam.hits[:, j].sum() <= fam.hits[:, i].sum() else i
        hidden[small, rarer] = True
    locked = (fam.counts >= LOCK_SIZE)[:, None]
    return hidden & ~locked, hidden & locked


def _system(families, keys, masks, outcomes, labels) -> tuple[CountSystem, dict]:
    """The attacker's view: finest cells x outcome patterns, constrained by every published impact count."""
    attrs: list[str] = []
    for fam in families:
        for a in fam.grouping.attributes:
            if a not in attrs:
                attrs.append(a)
    values = {a: [] for a in attrs}
    for fam in families:
        if len(fam.grouping.attributes) == 1:
            values[fam.grouping.attributes[0]] = [v[0] for v in fam.grouping.values]
    cells = list(itertools.product(*(values[a] for a in attrs)))
    att = outcomes.attainment
    pat = np.packbits(att, axis=1, bitorder="little") if att.shape[1] else np.zeros((len(att), 1), np.uint8)
    if labels is not None:
        lab = np.where(np.isnan(labels), 2, labels).astype(np.uint8)[:, None]
        pat = np.concatenate([pat, lab], axis=1)
    # Only the patterns that occur: the attacker is told more than a reader knows (conservative).
    uniq, inv = np.unique(pat, axis=0, return_inverse=True)
    patterns = [tuple(u) for u in uniq]
    inv = inv.ravel()
    system = CountSystem(tuple(attrs), cells, patterns)
    P = len(patterns)
    reach = [np.unique(inv[att[:, j]]) for j in range(att.shape[1])]
    everyone = np.arange(P)
    label_sets = {}
    if labels is not None:
        y = labels
        for name, cond in (("pos", y == 1), ("neg", y == 0)):
            label_sets[name] = np.unique(inv[cond])
        for j in range(att.shape[1]):
            label_sets[("tp", j)] = np.unique(inv[att[:, j] & (y == 1)])
            label_sets[("fp", j)] = np.unique(inv[att[:, j] & (y == 0)])
    targets = {}
    system.add({}, everyone, float(sum(int(f.counts.sum()) for f in families[:1])))
    for fi, fam in enumerate(families):
        gr = fam.grouping
        m = masks[fi]
        for g in range(gr.n_groups):
            group = dict(zip(gr.attributes, gr.values[g], strict=True))
            if m["n_round"][g]:
                r = int(round_count(fam.counts[g]))
                system.add(group, everyone, r - 5, r + 4, label=(fi, "n", g, -1))
            elif not m["n"][g]:
                system.add(group, everyone, fam.counts[g], label=(fi, "n", g, -1))
            elif small_mask(fam.counts[g], m["thr"]):
                targets[(fi, "n", g, -1)] = system.variables(group, everyone)
            for j in range(att.shape[1]):
                if m["hits_round"][g, j]:
                    r = int(round_count(fam.hits[g, j]))
                    system.add(group, reach[j], r - 5, r + 4, label=(fi, "hits", g, j))
                elif not m["hits"][g, j]:
                    system.add(group, reach[j], fam.hits[g, j], label=(fi, "hits", g, j))
                elif m["primary_hits"][g, j] and not m["n"][g]:
                    # A sensitive cell (its own count or complement is small, or a band isolates it): it must
                    # stay uncertain.  Cells hidden only as complements need not.
                    targets[(fi, "hits", g, j)] = system.variables(group, reach[j])
            if labels is not None and fam.errors is not None and not m["label_group"][g]:
                e = fam.errors
                system.add(group, label_sets["pos"], e["positives"][g])
                system.add(group, label_sets["neg"], e["negatives"][g])
                for j in range(att.shape[1]):
                    if not m["label_row"][g, j]:
                        system.add(group, label_sets[("tp", j)], e["tp"][g, j])
                        system.add(group, label_sets[("fp", j)], e["fp"][g, j])
    return system, targets


def protect_impact(families, outcomes, thr: int, labels=None, *, audit_lp: bool = True) -> Masks:
    """The publication decision for every count of the impact family (see the module docstring)."""
    from audit.impact._secondary import label_and_calibration_masks

    keys = global_keys([f.grouping for f in families])
    T = len(outcomes.tiers)
    flat_keys = [k for ks in keys for k in ks]
    sizes = np.concatenate([f.counts for f in families]) if families else np.zeros(0, np.int64)
    locked = sizes >= LOCK_SIZE
    starts = np.cumsum([0] + [len(k) for k in keys])

    def split(a):
        return [a[starts[i]:starts[i + 1]] for i in range(len(families))]

    # 1. group sizes
    n_prot = protect_lines(flat_keys, sizes, small_mask(sizes, thr), cost=sizes, locked=locked, full=True)
    n_hidden, n_round = n_prot.hidden, n_prot.rounded
    # 2. tier cells: primary (cell rule, nested bands, hidden size), then complementary per tier
    primary, band_round = [], []
    for f, nh in zip(families, split(n_hidden), strict=True):
        cell = ~np.asarray(cell_publishable(f.hits, f.counts[:, None], thr), dtype=bool).reshape(f.hits.shape)
        hide, rnd = _band_rule(f, outcomes, thr)
        primary.append(cell | hide | nh[:, None])
        band_round.append(rnd & ~cell)
    prim_flat = np.concatenate(primary) if primary else np.zeros((0, T), bool)
    hits_flat = np.concatenate([f.hits for f in families]) if families else np.zeros((0, T), np.int64)
    hits_hidden = prim_flat.copy()
    hits_round = np.concatenate(band_round) if band_round else np.zeros_like(prim_flat)

    def complementary(j):
        p = protect_lines(flat_keys, hits_flat[:, j], hits_hidden[:, j], cost=sizes, locked=locked,
                          rounded=hits_round[:, j], full=True)
        hits_hidden[:, j], hits_round[:, j] = p.hidden, p.rounded

    for j in range(T):
        complementary(j)
    masks = Masks()
    masks.update({"n": n_hidden, "n_round": n_round})
    def label_masks() -> list[dict]:
        # Label cells: TP + FP is the tier count and FN + TN its complement, so a hidden or rounded tier cell
        # hides the group's label row for that tier (and the row is one unit, protected across groups).
        if labels is None:
            return [{"label_group": np.zeros(f.grouping.n_groups, bool),
                     "label_row": np.zeros((f.grouping.n_groups, T), bool)} for f in families]
        out = label_and_calibration_masks(families, keys, split(n_hidden), T, thr,
                                          extra_rows=split(hits_hidden | hits_round))
        return out

    rounds = 0
    wide: set = set()
    if audit_lp and families and T:
        while rounds < MAX_AUDIT_ROUNDS:
            lab = label_masks()
            per = [{"n": a, "n_round": b, "hits": c, "hits_round": d, "primary_hits": e, "thr": thr,
                    "label_group": lg, "label_row": lr}
                   for a, b, c, d, e, lg, lr in zip(split(n_hidden), split(n_round), split(hits_hidden),
                                                    split(hits_round), split(prim_flat),
                                                    [x["label_group"] for x in lab], [x["label_row"] for x in lab],
                                                    strict=True)]
            system, targets = _system(families, keys, per, outcomes, labels)
            # Hiding more only widens intervals: a target found wide once need not be checked again.
            targets = {k: v for k, v in targets.items() if k not in wide}
            narrow = []
            if targets:
                names = list(targets)
                lo, hi, bind = attainable(system, [targets[k] for k in names], binding=True)
                ok = hi - lo >= MIN_WIDTH - 1e-9
                wide.update(k for k, good in zip(names, ok, strict=True) if good)
                # Widen from above, and from below unless the bound below is zero (which hiding cannot move).
                narrow = [(k, b[1] | (b[0] if low > 0 else set()))
                          for k, b, low, good in zip(names, bind, lo, ok, strict=True) if not good]
            if not narrow:
                break
            rounds += 1
            for _, binding in narrow:
                # Widen the attacker's interval where it binds: of the published counts that bound it, hide the
                # cheapest one of a group below LOCK_SIZE that holds people enough to add uncertainty; else
                # publish the cheapest bound rounded.
                def room(c):
                    # A count that adds uncertainty when hidden: at least CAPACITY people on each side.
                    fi, what, g, j = c
                    i = starts[fi] + g
                    k = sizes[i] if what == "n" else hits_flat[i, j]
                    return k >= CAPACITY and (what == "n" or sizes[i] - k >= CAPACITY)

                cand = sorted(binding, key=lambda c: (not room(c), int(sizes[starts[c[0]] + c[2]]), c))
                pick = None
                for fi, what, g, j in cand:
                    i = starts[fi] + g
                    if not locked[i]:
                        pick = ("hide", fi, what, g, j)
                        break
                if pick is None:
                    for fi, what, g, j in cand:
                        i = starts[fi] + g
                        if not (n_round[i] if what == "n" else hits_round[i, j]):
                            pick = ("round", fi, what, g, j)
                            break
                if pick is None:
                    continue
                act, fi, what, g, j = pick
                i = starts[fi] + g
                if what == "n":
                    (n_hidden if act == "hide" else n_round)[i] = True
                else:
                    (hits_hidden if act == "hide" else hits_round)[i, j] = True
            p = protect_lines(flat_keys, sizes, n_hidden, cost=sizes, locked=locked, rounded=n_round, full=True)
            n_hidden, n_round = p.hidden, p.rounded
            for jj in range(T):
                hits_hidden[:, jj] |= n_hidden  # a hidden size hides the group's tier cells too
                complementary(jj)
        else:  # pragma: no cover - a population far outside the design: say so rather than publish
            masks["unconverged"] = True
    masks["audit_rounds"] = rounds
    out = []
    lab = label_masks() if labels is not None else None
    for i in range(len(families)):
        m = {"n": split(n_hidden)[i], "n_round": split(n_round)[i] & ~split(n_hidden)[i],
             "hits": split(hits_hidden)[i] | split(n_hidden)[i][:, None],
             "hits_round": split(hits_round)[i] & ~split(hits_hidden)[i],
             "complementary_hits": split(hits_hidden)[i] & ~split(prim_flat)[i]}
        if lab is not None:
            m.update(lab[i])
        out.append(m)
    masks["families"] = out
    return masks
