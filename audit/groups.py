"""Groupings of a population by protected attributes and their intersections.

A :class:`Grouping` is the one abstraction every audit family composes with,
in the way fairlearn's ``MetricFrame`` is for its metrics: it maps each person
to an integer group code once, so that every per-group statistic afterwards is
a vectorised ``bincount`` instead of a pandas ``groupby`` per metric.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from audit._errors import AuditInputError

__all__ = ["Grouping", "bin_protected", "build_groupings", "json_float", "json_value"]

#: A numeric protected attribute with more distinct values than this is binned, never one group per value.
MAX_NUMERIC_LEVELS = 8
#: Default number of quantile bins for a numeric protected attribute.
DEFAULT_BINS = 4


def json_value(value: object) -> object:
    """Convert a numpy/pandas scalar to a plain JSON-ready Python value."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def json_float(x: object, digits: int | None = None) -> float | None:
    """A finite float for JSON (rounded to ``digits`` decimals when given); None for None, NA, NaN or infinity."""
    if x is None or x is pd.NA:
        return None
    x = float(x)
    if not np.isfinite(x):
        return None
    return x if digits is None else round(x, digits)


@dataclass(frozen=True, eq=False)
class Grouping:
    """People grouped by one protected attribute or an intersection of several.

    Attributes
    ----------
    attributes : tuple of str
        The protected columns, e.g. ``("gender",)`` or ``("gender", "ethnicity")``.
    codes : ndarray of int64, shape (n,)
        Group code of each person; ``-1`` where any of the attributes is missing.
    values : tuple of tuples
        ``values[code]`` is the tuple of attribute values of that group.
    counts : ndarray of int64, shape (n_groups,)
        Number of people in each group.

    Examples
    --------
    >>> import pandas as pd
    >>> from audit.groups import build_groupings
    >>> people = pd.DataFrame({"g": ["a", "b", "a"], "e": ["x", "x", "y"]})
    >>> [g.attributes for g in build_groupings(people, ["g", "e"])]
    [('g',), ('e',), ('g', 'e')]
    >>> build_groupings(people, ["g"])[0].counts.tolist()
    [2, 1]
    """

    attributes: tuple[str, ...]
    codes: np.ndarray
    values: tuple[tuple, ...]
    counts: np.ndarray

    @property
    def n_groups(self) -> int:
        return len(self.values)

    @property
    def key(self) -> str:
        """A stable name for the grouping itself, e.g. ``"gender & ethnicity"``."""
        return " & ".join(self.attributes)

    def label(self, code: int) -> dict:
        """The group as a JSON-ready mapping attribute -> value."""
        return {a: json_value(v) for a, v in zip(self.attributes, self.values[code], strict=True)}

    def name(self, code: int) -> str:
        """A human-readable name, e.g. ``"gender=female & ethnicity=minority A"``."""
        return " & ".join(f"{a}={v}" for a, v in zip(self.attributes, self.values[code], strict=True))

    def sums(self, x: np.ndarray) -> np.ndarray:
        """Per-group sums of ``x`` (shape (n,) or (n, k)); people with code -1 are left out."""
        x = np.asarray(x, dtype=float)
        valid = self.codes >= 0
        if x.ndim == 1:
            return np.bincount(self.codes[valid], weights=x[valid], minlength=self.n_groups)
        # All k columns in one sparse product with the (groups x people) indicator matrix.
        rows = np.flatnonzero(valid)
        indicator = sp.csr_array((np.ones(len(rows)), (self.codes[rows], rows)),
                                 shape=(self.n_groups, len(self.codes)))
        return np.asarray(indicator @ x).reshape(self.n_groups, x.shape[1])

    def means(self, x: np.ndarray) -> np.ndarray:
        """Per-group means of ``x``; NaN for empty groups."""
        s = self.sums(x)
        c = self.counts.astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return s / (c[:, None] if s.ndim == 2 else c)


def _codes_for(frame: pd.DataFrame, attributes: Sequence[str]) -> tuple[np.ndarray, tuple[tuple, ...]]:
    cols = [frame[a] for a in attributes]
    missing = np.zeros(len(frame), dtype=bool)
    for c in cols:
        missing |= c.isna().to_numpy()
    keyframe = pd.DataFrame({a: c for a, c in zip(attributes, cols, strict=True)})
    # Sort groups by their values so that codes (and every table) are stable
    # whatever the row order of the input: reports must be reproducible.
    codes, uniques = pd.MultiIndex.from_frame(keyframe).factorize(sort=True)
    codes = codes.astype(np.int64)
    codes[missing] = -1
    present = np.unique(codes[codes >= 0])
    remap = np.full(len(uniques) + 1, -1, dtype=np.int64)
    remap[present] = np.arange(len(present))
    codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
    values = tuple(tuple(json_value(v) for v in uniques[i]) for i in present)
    return codes, values


def _fmt(x: float, integer: bool) -> str:
    return f"{int(x)}" if integer else f"{x:g}"


def _bin_labels(cuts: Sequence[float], integer: bool) -> list[str]:
    """Names of the bins (-inf, c1], (c1, c2], ..., (ck, inf): "25 and under", "26 to 45", "66 and over"."""
    labels = [f"{_fmt(cuts[0], integer)} and under"]
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        labels.append(f"{_fmt(a + 1, integer)} to {_fmt(b, integer)}" if integer
                      else f"over {_fmt(a, False)} to {_fmt(b, False)}")
    labels.append(f"{_fmt(cuts[-1] + 1, integer)} and over" if integer else f"over {_fmt(cuts[-1], False)}")
    return labels


def bin_protected(frame: pd.DataFrame, protected: Sequence[str],
                  bins: Mapping[str, Sequence[float] | int] | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """Bin numeric protected attributes, so that none becomes one group per value.

    A protected column is binned when ``bins`` names it, or when it is numeric
    (not boolean) with more than :data:`MAX_NUMERIC_LEVELS` distinct values; by
    default into quartiles of the data (cut points rounded to integers for an
    integer column).  Bins are right-closed: cut points ``25, 45`` give
    "25 and under", "26 to 45" and "46 and over".  Missing values stay missing.

    Returns
    -------
    frame : DataFrame
        A copy with the binned columns replaced by ordered categoricals (the input is not changed).
    notes : dict
        Per binned attribute, a sentence naming its bins.

    Examples
    --------
    >>> import pandas as pd
    >>> people = pd.DataFrame({"age": [19, 22, 25, 31, 40, 47, 52, 66, 70, 23]})
    >>> out, notes = bin_protected(people, ["age"], {"age": [25, 45]})
    >>> out["age"].tolist()[:5]
    ['25 and under', '25 and under', '25 and under', '26 to 45', '26 to 45']
    >>> notes["age"]
    "'age' is numeric: grouped into 3 bins at the given cut points: 25 and under, 26 to 45, 46 and over."
    """
    bins = dict(bins or {})
    for attr in bins:
        if attr not in protected:
            raise AuditInputError(f"bins are given for {attr!r}, which is not a protected attribute")
    notes: dict[str, str] = {}
    out = frame
    for attr in protected:
        if attr not in frame.columns:
            continue
        col = frame[attr]
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        if attr in bins and not numeric:
            raise AuditInputError(f"column {attr!r} is not numeric, so it cannot be binned (--bins {attr}=...)")
        if not numeric or (attr not in bins and col.nunique(dropna=True) <= MAX_NUMERIC_LEVELS):
            continue
        values = col.to_numpy(dtype=float, na_value=np.nan)
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            continue
        integer = bool(np.all(finite == np.round(finite)))
        spec = bins.get(attr, DEFAULT_BINS)
        if isinstance(spec, int):
            qs = np.quantile(finite, np.arange(1, spec) / spec)
            cuts = np.unique(np.round(qs) if integer else qs)
            cuts = cuts[cuts < finite.max()]  # the top bin must hold somebody
            how = f"quantile bins of the data ({spec} requested)"
        else:
            cuts = np.asarray([float(c) for c in spec])
            how = "bins at the given cut points"
        if cuts.size == 0:
            continue
        labels = _bin_labels(cuts.tolist(), integer and bool(np.all(cuts == np.round(cuts))))
        idx = np.searchsorted(cuts, values, side="left")  # right-closed bins: x <= c falls in c's bin
        cat = pd.Categorical.from_codes(np.where(np.isfinite(values), idx, -1), categories=labels, ordered=True)
        if out is frame:
            out = frame.copy()
        out[attr] = pd.Series(cat, index=frame.index, name=attr)
        notes[attr] = f"{attr!r} is numeric: grouped into {len(labels)} {how}: {', '.join(labels)}."
    return out, notes


def build_groupings(
    frame: pd.DataFrame, protected: Sequence[str], max_order: int = 2
) -> list[Grouping]:
    """Group ``frame`` by each protected column and by their intersections.

    Parameters
    ----------
    frame : DataFrame
        The population; must contain every column in ``protected``.
    protected : sequence of str
        Protected attributes, e.g. ``["gender", "ethnicity"]``.
    max_order : int, default 2
        Largest intersection size: 1 gives single attributes only, 2 adds every
        pair, and so on.

    Returns
    -------
    list of Grouping
        Single attributes first (in the given order), then pairs, then larger
        intersections.
    """
    protected = list(dict.fromkeys(protected))
    if not protected:
        raise AuditInputError("no protected attribute given: pass at least one column with --protected")
    for col in protected:
        if col not in frame.columns:
            raise AuditInputError(f"protected column {col!r} is not in the data")
    if max_order < 1:
        raise AuditInputError(f"intersection order must be at least 1, got {max_order}")
    out: list[Grouping] = []
    for order in range(1, min(max_order, len(protected)) + 1):
        for attrs in itertools.combinations(protected, order):
            codes, values = _codes_for(frame, attrs)
            counts = np.bincount(codes[codes >= 0], minlength=len(values)).astype(np.int64)
            out.append(Grouping(tuple(attrs), codes, values, counts))
    return out
