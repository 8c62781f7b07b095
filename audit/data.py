"""Populations: load, validate and fingerprint the people a rule is applied to."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from audit._errors import AuditInputError, show_value
from audit.graph import read_table

__all__ = ["Population", "load_population", "frame_hash"]


def frame_hash(frame: pd.DataFrame) -> str:
    """A content hash of a DataFrame: column names, dtypes and every value, in order.

    Used in the reproducibility block, so a reader can check that a report was
    made from the data they hold.
    """
    h = hashlib.sha256()
    for col in frame.columns:
        s = frame[col]
        h.update(repr((str(col), str(s.dtype))).encode())
        h.update(pd.util.hash_pandas_object(s, index=False).to_numpy().tobytes())
    return "sha256:" + h.hexdigest()


@dataclass(frozen=True, eq=False)
class Population:
    """A population: its table, its id column and a fingerprint.

    Attributes
    ----------
    frame : DataFrame
        One row per person, with a default RangeIndex (row ``i`` is graph node ``i``).
    id_col : str or None
        Column holding person ids; None when the data has none (then row
        positions serve as ids and no graph can be attached).
    source : str
        File name (never an absolute path) or ``"<DataFrame>"``.
    data_hash : str
    synthetic : str or None
        How the data were generated, when they are synthetic (from ``frame.attrs["synthetic"]``).
    """

    frame: pd.DataFrame
    id_col: str | None
    source: str
    data_hash: str
    synthetic: str | None = None

    @property
    def n(self) -> int:
        return len(self.frame)

    @property
    def ids(self) -> np.ndarray:
        if self.id_col is None:
            return np.arange(len(self.frame))
        return self.frame[self.id_col].to_numpy()


def load_population(
    data: pd.DataFrame | str | Path,
    *,
    id_col: str | None = "id",
    require: Sequence[str] = (),
) -> Population:
    """Load a population from a DataFrame, a CSV or a Parquet file.

    Parameters
    ----------
    data : DataFrame or path
    id_col : str or None, default "id"
        Column with unique person ids.  If the data has no such column the row
        position is used (a graph then cannot be aligned and is refused).
    require : sequence of str
        Columns that must be present; the first missing one is named in the error.

    Examples
    --------
    >>> import pandas as pd
    >>> from audit.data import load_population
    >>> pop = load_population(pd.DataFrame({"id": [3, 1], "x": [0.5, 1.5]}))
    >>> pop.n, pop.ids.tolist()
    (2, [3, 1])
    """
    frame, name = read_table(data, what="population")
    source = name if name.startswith("<") else Path(name).name
    if len(frame) == 0:
        raise AuditInputError(f"{name}: the population has no rows")
    if frame.columns.has_duplicates:
        dup = frame.columns[frame.columns.duplicated()][0]
        raise AuditInputError(f"{name}: column {dup!r} appears more than once")
    for col in require:
        if col not in frame.columns:
            raise AuditInputError(f"{name}: column {col!r} is missing")
    if id_col is not None and id_col in frame.columns:
        ids = frame[id_col]
        if ids.isna().any():
            raise AuditInputError(f"{name}: column {id_col!r} has {int(ids.isna().sum())} missing ids")
        if ids.duplicated().any():
            raise AuditInputError(
                f"{name}: column {id_col!r}: id {show_value(ids[ids.duplicated()].iloc[0])} appears more than once")
    else:
        id_col = None
    synthetic = frame.attrs.get("synthetic")
    frame = frame.reset_index(drop=True)
    return Population(frame, id_col, source, frame_hash(frame), str(synthetic) if synthetic else None)
