"""Synthetic social-credit population and friendship graph ("sesame").

The population is *synthetic*: it exists to make the mechanisms of the critique
of Sesame-Credit-style scores visible (behaviours that a rule rewards or
punishes are unevenly spread across protected groups, and friendships cluster
by group so that a network term spreads the disadvantage).  Every rate is an
illustrative assumption set in the packaged ``sesame.yaml``; nothing here is a
claim about real people or real groups.  The card is ``datasets/sesame.md``.

Model
-----
* Protected attributes are drawn independently with configured shares, except
  ethnicity, which is drawn from a per-region table.
* ``income_band`` follows an ordered logit in registration, ethnicity and age.
* Each behaviour has a linear predictor ``eta = intercept + sum of effects`` and
  is logistic (flags), Poisson (counts, mean ``exp(eta)``) or gamma (video game
  hours, mean ``exp(eta)``).
* Friendships: a stochastic-block-style graph over (ethnicity, region) blocks
  with tunable homophily, fully vectorised.

Every column and the graph draw from their own child stream of
``np.random.default_rng(seed)``, so changing, say, ``homophily`` leaves the
people unchanged, and changing one behaviour's effects leaves the others
unchanged.
"""

from __future__ import annotations

import copy
import math
import os
import secrets
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from audit._errors import AuditInputError

__all__ = [
    "BEHAVIOURS",
    "CATEGORIES",
    "EDGE_COLUMNS",
    "PEOPLE_COLUMNS",
    "generate_sesame",
    "load_config",
    "write_sesame",
]

#: Value sets of the categorical columns, in code order.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "gender": ("female", "male"),
    "age_band": ("18-29", "30-44", "45-59", "60+"),
    "ethnicity": ("majority", "minority A", "minority B", "minority C"),
    "registration": ("urban", "rural"),
    "region": ("east", "central", "west", "northeast"),
    "income_band": ("low", "middle", "high"),
}

#: Behaviour columns and the model family that generates each.
BEHAVIOURS: dict[str, str] = {
    "buys_diapers": "logistic",
    "video_game_hours": "gamma",
    "political_posts": "poisson",
    "unofficial_news_shares": "poisson",
    "taxi_no_shows": "poisson",
    "late_payments": "poisson",
    "real_name": "logistic",
}

PEOPLE_COLUMNS: tuple[str, ...] = ("id", *CATEGORIES, *BEHAVIOURS)
EDGE_COLUMNS: tuple[str, ...] = ("source", "target")

# Attributes drawn directly from a share table (ethnicity comes from a
# per-region table, income from the ordered logit).
_INDEPENDENT = ("gender", "age_band", "registration", "region")
# One child stream per drawn quantity; the order is part of the determinism
# contract, so only ever append to it.
_STREAMS = (*_INDEPENDENT, "ethnicity", "income_band", *BEHAVIOURS, "graph")
_SHARE_TOLERANCE = 1e-6


# --------------------------------------------------------------------------- config


def _default_config() -> dict:
    text = resources.files("audit.datasets").joinpath("sesame.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _merge(base: dict, override: Mapping, path: str) -> dict:
    """Deep-merge ``override`` into a copy of ``base``; unknown keys are errors."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in base and not _open_table(path):
            raise AuditInputError(
                f"sesame config: unknown key {where!r} (expected one of: {', '.join(map(str, base))})"
            )
        if isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            merged[key] = _merge(base[key], value, where)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _open_table(path: str) -> bool:
    # An ``effects`` table may gain attributes the defaults leave out (they are
    # then validated against CATEGORIES), as may an attribute's table within it.
    parts = path.split(".")
    return parts[-1] == "effects" or (len(parts) >= 2 and parts[-2] == "effects")


def _is_real(value: Any) -> bool:
    return (
        not isinstance(value, bool | np.bool_)
        and isinstance(value, int | float | np.integer | np.floating)
        and math.isfinite(value)
    )


def _number(value: Any, where: str) -> float:
    if not _is_real(value):
        raise AuditInputError(f"sesame config: {where!r} must be a finite number (got {value!r})")
    return float(value)


def _shares(table: Any, attribute: str, where: str) -> np.ndarray:
    levels = CATEGORIES[attribute]
    if not isinstance(table, Mapping):
        raise AuditInputError(f"sesame config: {where!r} must map {attribute} values to shares")
    for key in table:
        if key not in levels:
            raise AuditInputError(
                f"sesame config: unknown key {where + '.' + str(key)!r} (expected one of: {', '.join(levels)})"
            )
    shares = np.array([_number(table.get(level, 0.0), f"{where}.{level}") for level in levels])
    if (shares < 0).any() or abs(shares.sum() - 1.0) > _SHARE_TOLERANCE:
        raise AuditInputError(
            f"sesame config: {where!r} shares must be non-negative and sum to 1 (got {shares.sum():.6g})"
        )
    return shares


def _effects(table: Any, where: str, *, exclude: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Validate an effects table; return attribute -> effect per level (code order)."""
    if table is None:
        return {}
    if not isinstance(table, Mapping):
        raise AuditInputError(f"sesame config: {where!r} must map attributes to effect tables")
    out = {}
    allowed = [a for a in CATEGORIES if a not in exclude]
    for attribute, levels_table in table.items():
        here = f"{where}.{attribute}"
        if attribute not in allowed:
            raise AuditInputError(
                f"sesame config: unknown key {here!r} (expected one of: {', '.join(allowed)})"
            )
        if not isinstance(levels_table, Mapping):
            raise AuditInputError(f"sesame config: {here!r} must map {attribute} values to effects")
        levels = CATEGORIES[attribute]
        for key in levels_table:
            if key not in levels:
                raise AuditInputError(
                    f"sesame config: unknown key {here + '.' + str(key)!r} (expected one of: {', '.join(levels)})"
                )
        out[attribute] = np.array(
            [_number(levels_table.get(level, 0.0), f"{here}.{level}") for level in levels]
        )
    return out


def _validate(cfg: dict) -> None:
    population = cfg["population"]
    for attribute in _INDEPENDENT:
        _shares(population[attribute], attribute, f"population.{attribute}")
    by_region = population["ethnicity_by_region"]
    for key in by_region:
        if key not in CATEGORIES["region"]:
            raise AuditInputError(
                f"sesame config: unknown key {'population.ethnicity_by_region.' + str(key)!r} "
                f"(expected one of: {', '.join(CATEGORIES['region'])})"
            )
    for region in CATEGORIES["region"]:
        _shares(by_region[region], "ethnicity", f"population.ethnicity_by_region.{region}")

    income = cfg["income"]
    low = _number(income["cutpoints"]["low_middle"], "income.cutpoints.low_middle")
    high = _number(income["cutpoints"]["middle_high"], "income.cutpoints.middle_high")
    if not low < high:
        raise AuditInputError("sesame config: 'income.cutpoints.low_middle' must be below 'middle_high'")
    _effects(income.get("effects"), "income.effects", exclude=("income_band",))

    for name, spec in cfg["behaviours"].items():
        where = f"behaviours.{name}"
        _number(spec["intercept"], f"{where}.intercept")
        _effects(spec.get("effects"), f"{where}.effects")
        if BEHAVIOURS[name] == "gamma":
            for key in ("shape", "max"):
                if _number(spec[key], f"{where}.{key}") <= 0:
                    raise AuditInputError(f"sesame config: {where + '.' + key!r} must be positive")

    graph = cfg["graph"]
    if _number(graph["mean_degree"], "graph.mean_degree") < 0:
        raise AuditInputError("sesame config: 'graph.mean_degree' must be non-negative")
    if not 0.0 <= _number(graph["homophily"], "graph.homophily") <= 1.0:
        raise AuditInputError("sesame config: 'graph.homophily' must be between 0 and 1")
    blocks = graph["blocks"]
    if (
        not isinstance(blocks, list)
        or not blocks
        or any(b not in CATEGORIES for b in blocks)
        or len(set(blocks)) != len(blocks)
    ):
        raise AuditInputError(
            f"sesame config: 'graph.blocks' must be a non-empty list of distinct attributes from: "
            f"{', '.join(CATEGORIES)} (got {blocks!r})"
        )


def load_config(config: Mapping | str | Path | None = None) -> dict:
    """Generator configuration: the packaged defaults deep-merged with ``config``.

    Parameters
    ----------
    config : dict, str, Path or None
        Overrides: a (partial) mapping of the same shape as the packaged
        ``sesame.yaml``, or the path of a YAML file holding one.  ``None``
        returns the defaults.

    Returns
    -------
    dict
        The merged, validated configuration (a fresh copy; safe to mutate).

    Raises
    ------
    AuditInputError
        For an unreadable file, an unknown key (the message names it), a
        share table that does not sum to 1, or a non-numeric parameter.

    Examples
    --------
    >>> cfg = load_config({"graph": {"homophily": 0.9}})
    >>> cfg["graph"]["homophily"], cfg["population"]["registration"]["urban"]
    (0.9, 0.6)
    >>> load_config({"graph": {"homophilly": 0.9}})
    Traceback (most recent call last):
    ...
    audit._errors.AuditInputError: sesame config: unknown key 'graph.homophilly' (expected one of: mean_degree, homophily, blocks)
    """
    defaults = _default_config()
    if config is None:
        override: Mapping = {}
    elif isinstance(config, str | Path):
        path = Path(config)
        try:
            override = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise AuditInputError(f"sesame config {str(path)!r}: cannot read ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise AuditInputError(f"sesame config {str(path)!r}: not valid YAML ({exc})") from None
        if not isinstance(override, Mapping):
            raise AuditInputError(f"sesame config {str(path)!r}: the top level must be a mapping")
    elif isinstance(config, Mapping):
        override = config
    else:
        raise AuditInputError(f"sesame config must be a mapping or a YAML path, not {type(config).__name__}")
    merged = _merge(defaults, override, "")
    _validate(merged)
    return merged


# --------------------------------------------------------------------------- people


def _categorical(rng: np.random.Generator, shares: np.ndarray, n: int) -> np.ndarray:
    # Inverse-CDF on one uniform per person: cheaper than rng.choice and the
    # same code path serves the conditional (per-row) tables below.
    cdf = np.cumsum(shares)
    cdf[-1] = 1.0  # guard against round-off leaving a gap at the top
    return np.searchsorted(cdf, rng.random(n), side="right").astype(np.int8)


def _conditional(rng: np.random.Generator, table: np.ndarray, given: np.ndarray) -> np.ndarray:
    """Draw one category per row from ``table[given[i]]`` (rows are distributions)."""
    cdf = np.cumsum(table, axis=1)
    cdf[:, -1] = 1.0
    u = rng.random(len(given))
    return (u[:, None] >= cdf[given][:, :-1]).sum(axis=1).astype(np.int8)


def _eta(
    codes: Mapping[str, np.ndarray], intercept: float, effects: Mapping[str, np.ndarray], n: int
) -> np.ndarray:
    eta = np.full(n, float(intercept))
    for attribute, values in effects.items():
        eta += values[codes[attribute]]
    return eta


def _strings(attribute: str, codes: np.ndarray) -> pd.Series:
    labels = np.array(CATEGORIES[attribute], dtype=object)
    return pd.Series(labels[codes], dtype="str", name=attribute)


def _people(cfg: dict, n: int, streams: Mapping[str, np.random.Generator]) -> tuple[pd.DataFrame, dict]:
    population = cfg["population"]
    codes: dict[str, np.ndarray] = {}
    for attribute in _INDEPENDENT:
        shares = _shares(population[attribute], attribute, f"population.{attribute}")
        codes[attribute] = _categorical(streams[attribute], shares, n)

    by_region = np.vstack(
        [
            _shares(population["ethnicity_by_region"][r], "ethnicity", f"population.ethnicity_by_region.{r}")
            for r in CATEGORIES["region"]
        ]
    )
    codes["ethnicity"] = _conditional(streams["ethnicity"], by_region, codes["region"])

    income = cfg["income"]
    eta = _eta(codes, 0.0, _effects(income.get("effects"), "income.effects"), n)
    cuts = np.array([income["cutpoints"]["low_middle"], income["cutpoints"]["middle_high"]], dtype=float)
    below = 1.0 / (1.0 + np.exp(-(cuts[None, :] - eta[:, None])))  # P(income <= low), P(<= middle)
    u = streams["income_band"].random(n)
    codes["income_band"] = (u[:, None] >= below).sum(axis=1).astype(np.int8)

    columns: dict[str, Any] = {"id": np.arange(n, dtype=np.int64)}
    for attribute in CATEGORIES:
        columns[attribute] = _strings(attribute, codes[attribute])
    for name, family in BEHAVIOURS.items():
        spec = cfg["behaviours"][name]
        eta = _eta(codes, spec["intercept"], _effects(spec.get("effects"), f"behaviours.{name}.effects"), n)
        rng = streams[name]
        if family == "logistic":
            columns[name] = rng.random(n) < 1.0 / (1.0 + np.exp(-eta))
        elif family == "poisson":
            columns[name] = rng.poisson(np.exp(eta)).astype(np.int64)
        else:
            shape = float(spec["shape"])
            # Whole hundredths of an hour keep CSV output short and exact.
            hours = np.minimum(rng.gamma(shape, np.exp(eta) / shape), float(spec["max"]))
            columns[name] = np.round(hours, 2)
    return pd.DataFrame(columns), codes


# --------------------------------------------------------------------------- graph


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    # Sort + neighbour comparison: numpy >= 2.3 routes np.unique through a hash
    # table that is several times slower than this for 1e7 int64 keys.
    keys = np.sort(keys)
    if len(keys) == 0:
        return keys
    keep = np.empty(len(keys), dtype=bool)
    keep[0] = True
    np.not_equal(keys[1:], keys[:-1], out=keep[1:])
    return keys[keep]


def _friendships(
    block: np.ndarray, mean_degree: float, homophily: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised stochastic-block-style friendship ties; returns sorted (source, target)."""
    n = len(block)
    target_edges = min(round(n * mean_degree / 2), n * (n - 1) // 2)
    if target_edges == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty.copy()

    # People sorted by block: a block is then a contiguous slice of `order`,
    # so "uniform partner in my block" is offset + integer draw.
    order = np.argsort(block, kind="stable")
    sizes = np.bincount(block)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - offsets[block[order]]

    def draw(emitters: np.ndarray) -> np.ndarray:
        m = len(emitters)
        b = block[emitters]
        within = (rng.random(m) < homophily) & (sizes[b] > 1)
        partner = np.empty(m, dtype=np.int64)
        # Draw among the *other* members (size - 1 slots, skipping oneself) so
        # that no stub is wasted on a self-loop.
        e_in = emitters[within]
        r = rng.integers(0, sizes[b[within]] - 1)
        r += r >= rank[e_in]
        partner[within] = order[offsets[b[within]] + r]
        e_out = emitters[~within]
        r = rng.integers(0, n - 1, size=len(e_out))
        r += r >= e_out
        partner[~within] = r
        lo = np.minimum(emitters, partner)
        hi = np.maximum(emitters, partner)
        return _sorted_unique(lo * n + hi)

    half = mean_degree / 2.0
    whole = math.floor(half)
    stubs = whole + (rng.random(n) < half - whole)
    keys = draw(np.repeat(np.arange(n, dtype=np.int64), stubs))
    if len(keys) > target_edges:
        # The coin flips for the fractional stub can overshoot; drop a random few.
        keep = np.sort(rng.choice(len(keys), size=target_edges, replace=False))
        keys = keys[keep]
    # Duplicates (mostly inside small blocks) leave the graph short of its target;
    # redraw the deficit from uniformly chosen emitters.  Each round shrinks the
    # deficit by roughly the duplicate rate, so a few rounds suffice.
    for _ in range(100):
        deficit = target_edges - len(keys)
        if deficit <= 0:
            break
        new = draw(rng.integers(0, n, size=deficit, dtype=np.int64))
        pos = np.searchsorted(keys, new)
        seen = (pos < len(keys)) & (keys[np.minimum(pos, len(keys) - 1)] == new)
        keys = np.insert(keys, pos[~seen], new[~seen])
    return keys // n, keys % n


# --------------------------------------------------------------------------- public API


def generate_sesame(
    n: int = 20_000,
    *,
    seed: int = 0,
    mean_degree: float | None = None,
    homophily: float | None = None,
    config: Mapping | str | Path | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate the synthetic social-credit population and its friendship graph.

    Parameters
    ----------
    n : int, default 20_000
        Number of people.
    seed : int, default 0
        Seed of ``np.random.default_rng``; the same seed and configuration give
        identical frames (and byte-identical files from :func:`write_sesame`).
    mean_degree : float, optional
        Target mean number of friends (default ``graph.mean_degree`` = 20).  The
        graph has exactly ``round(n * mean_degree / 2)`` ties (capped at the
        complete graph).
    homophily : float, optional
        Probability in [0, 1] that a tie is drawn inside the person's
        (ethnicity, region) block rather than from the whole population
        (default ``graph.homophily`` = 0.6).
    config : dict, str or Path, optional
        Overrides of the packaged ``sesame.yaml`` (see :func:`load_config`).

    Returns
    -------
    people : pandas.DataFrame
        One row per person: ``id`` (int64, 0..n-1); ``gender``, ``age_band``,
        ``ethnicity``, ``registration``, ``region``, ``income_band`` (str);
        ``buys_diapers``, ``real_name`` (bool); ``video_game_hours`` (float,
        hours per week); ``political_posts``, ``unofficial_news_shares``,
        ``taxi_no_shows``, ``late_payments`` (int64 counts, last 12 months).
    edges : pandas.DataFrame
        Undirected friendship ties ``source < target`` (int64 ids), each once,
        sorted by (source, target).

    Raises
    ------
    AuditInputError
        For a non-positive ``n``, a negative ``seed`` or ``mean_degree``, a ``homophily``
        outside [0, 1] or a bad configuration.

    Examples
    --------
    >>> people, edges = generate_sesame(1_000, seed=1, mean_degree=10)
    >>> len(people), len(edges), 2 * len(edges) / len(people)
    (1000, 5000, 10.0)
    >>> people.loc[0, ["gender", "ethnicity", "registration"]].tolist()
    ['male', 'majority', 'urban']
    >>> bool((edges["source"] < edges["target"]).all())
    True
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise AuditInputError(f"n must be a positive integer (got {n!r})")
    n = int(n)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise AuditInputError(f"seed must be a non-negative integer (got {seed!r})")
    cfg = load_config(config)
    if mean_degree is not None:
        if not _is_real(mean_degree) or mean_degree < 0:
            raise AuditInputError(f"mean_degree must be a non-negative number (got {mean_degree!r})")
        cfg["graph"]["mean_degree"] = float(mean_degree)
    if homophily is not None:
        if not _is_real(homophily) or not 0.0 <= homophily <= 1.0:
            raise AuditInputError(f"homophily must be a number between 0 and 1 (got {homophily!r})")
        cfg["graph"]["homophily"] = float(homophily)

    streams = dict(zip(_STREAMS, np.random.default_rng(seed).spawn(len(_STREAMS)), strict=True))
    people, codes = _people(cfg, n, streams)

    graph = cfg["graph"]
    block = np.zeros(n, dtype=np.int64)
    for attribute in graph["blocks"]:
        block = block * len(CATEGORIES[attribute]) + codes[attribute]
    source, target = _friendships(
        block, float(graph["mean_degree"]), float(graph["homophily"]), streams["graph"]
    )
    edges = pd.DataFrame({"source": source, "target": target})
    # Travels with the frame (not through files) so a report made from it says the data are synthetic.
    people.attrs["synthetic"] = f"generated by audit.generate_sesame(n={n}, seed={seed})"
    return people, edges


def _atomic_write(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    # A unique sibling name (not mkstemp, whose 0600 mode would survive the
    # rename) so the final file gets the usual umask-derived permissions.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            # No pandas metadata: it records library versions, and the plain
            # schema (int64 / bool / double / string) round-trips on its own.
            table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
            pq.write_table(table, tmp, compression="zstd", write_statistics=True)
        else:
            frame.to_csv(tmp, index=False, lineterminator="\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_sesame(
    out_dir: str | Path,
    n: int = 20_000,
    *,
    seed: int = 0,
    fmt: str = "parquet",
    **kw: Any,
) -> dict[str, Path]:
    """Generate the population and write ``people.<fmt>`` and ``edges.<fmt>``.

    Each file is written to a temporary file in ``out_dir`` and moved into place
    with :func:`os.replace`, so a reader never sees a half-written file.  The
    output is byte-identical for the same arguments.

    Parameters
    ----------
    out_dir : str or Path
        Directory to write into (created if missing).
    n, seed
        As in :func:`generate_sesame`.
    fmt : {"parquet", "csv"}
        File format (parquet: zstd-compressed, no pandas metadata).
    **kw
        Passed to :func:`generate_sesame` (``mean_degree``, ``homophily``,
        ``config``).

    Returns
    -------
    dict
        ``{"people": path, "edges": path}``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = write_sesame(tmp, 500, seed=3, fmt="csv")
    ...     sorted(p.name for p in paths.values())
    ['edges.csv', 'people.csv']
    """
    if fmt not in ("parquet", "csv"):
        raise AuditInputError(f"fmt must be 'parquet' or 'csv' (got {fmt!r})")
    people, edges = generate_sesame(n, seed=seed, **kw)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AuditInputError(f"cannot create output directory {str(out)!r} ({exc.strerror})") from None
    paths = {"people": out / f"people.{fmt}", "edges": out / f"edges.{fmt}"}
    _atomic_write(people, paths["people"], fmt)
    _atomic_write(edges, paths["edges"], fmt)
    return paths
