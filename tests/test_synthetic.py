"""The synthetic social-credit population ("sesame") and its friendship graph.

The rate tests recompute each behaviour's model-implied mean per group straight
from the configuration (inverse link of intercept + effects, averaged over the
realised covariates) and require the empirical rate to lie within four standard
errors of it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from audit._errors import AuditInputError
from audit.datasets._synthetic import (
    BEHAVIOURS,
    CATEGORIES,
    PEOPLE_COLUMNS,
    generate_sesame,
    load_config,
    write_sesame,
)

N = 30_000
SE_TOLERANCE = 4.0


@pytest.fixture(scope="module")
def sample():
    people, edges = generate_sesame(N, seed=7)
    return people, edges, load_config()


def _eta(people: pd.DataFrame, intercept: float, effects: dict) -> np.ndarray:
    eta = np.full(len(people), float(intercept))
    for attribute, table in (effects or {}).items():
        eta += people[attribute].map(lambda v, t=table: t.get(v, 0.0)).to_numpy(dtype=float)
    return eta


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_frames():
    a = generate_sesame(5_000, seed=3)
    b = generate_sesame(5_000, seed=3)
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])


def test_different_seed_gives_different_frames():
    a_people, a_edges = generate_sesame(5_000, seed=3)
    b_people, b_edges = generate_sesame(5_000, seed=4)
    assert not a_people.equals(b_people)
    assert not a_edges.equals(b_edges)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_same_seed_gives_byte_identical_files(tmp_path, fmt):
    first = write_sesame(tmp_path / "a", 4_000, seed=11, fmt=fmt)
    second = write_sesame(tmp_path / "b", 4_000, seed=11, fmt=fmt)
    other = write_sesame(tmp_path / "c", 4_000, seed=12, fmt=fmt)
    assert set(first) == {"people", "edges"}
    for key in first:
        assert first[key].name == f"{key}.{fmt}"
        assert _sha256(first[key]) == _sha256(second[key])
        assert _sha256(first[key]) != _sha256(other[key])
    # Atomic writes leave no temporary files behind.
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [f"edges.{fmt}", f"people.{fmt}"]


def test_written_files_round_trip(tmp_path):
    people, edges = generate_sesame(3_000, seed=5)
    parquet = write_sesame(tmp_path / "pq", 3_000, seed=5)
    csv = write_sesame(tmp_path / "csv", 3_000, seed=5, fmt="csv")
    for paths, read in ((parquet, pd.read_parquet), (csv, pd.read_csv)):
        back_people = read(paths["people"])
        back_edges = read(paths["edges"])
        assert list(back_people.columns) == list(PEOPLE_COLUMNS)
        for column in people.columns:
            assert back_people[column].tolist() == people[column].tolist(), column
        assert back_edges.equals(edges)


def test_people_do_not_depend_on_graph_parameters():
    # Each column has its own random stream, so retuning the graph keeps the people.
    a, _ = generate_sesame(3_000, seed=2, homophily=0.1, mean_degree=4)
    b, _ = generate_sesame(3_000, seed=2, homophily=0.9, mean_degree=30)
    pd.testing.assert_frame_equal(a, b)


# --------------------------------------------------------------------------- schema


def test_people_schema(sample):
    people, _, cfg = sample
    assert list(people.columns) == list(PEOPLE_COLUMNS)
    assert len(people) == N
    assert people["id"].dtype == np.int64
    assert (people["id"].to_numpy() == np.arange(N)).all()
    for attribute, levels in CATEGORIES.items():
        column = people[attribute]
        assert pd.api.types.is_string_dtype(column.dtype), attribute
        assert not isinstance(column.dtype, pd.CategoricalDtype), attribute
        assert set(column.unique()) == set(levels), attribute
        assert all(type(v) is str for v in column.head(50)), attribute
    for flag in ("buys_diapers", "real_name"):
        assert people[flag].dtype == np.bool_, flag
    hours = people["video_game_hours"]
    assert hours.dtype == np.float64
    assert hours.min() >= 0 and hours.max() <= cfg["behaviours"]["video_game_hours"]["max"]
    assert (np.round(hours, 2) == hours).all()
    for count in ("political_posts", "unofficial_news_shares", "taxi_no_shows", "late_payments"):
        assert people[count].dtype == np.int64, count
        assert people[count].min() >= 0, count


def test_edges_schema(sample):
    _, edges, _ = sample
    assert list(edges.columns) == ["source", "target"]
    assert edges["source"].dtype == np.int64 and edges["target"].dtype == np.int64


def test_bad_arguments_raise_input_errors(tmp_path):
    with pytest.raises(AuditInputError, match="^n must be a positive integer"):
        generate_sesame(0)
    with pytest.raises(AuditInputError, match="^seed must be a non-negative integer"):
        generate_sesame(100, seed=-1)
    with pytest.raises(AuditInputError, match="^homophily must be"):
        generate_sesame(100, homophily=1.5)
    with pytest.raises(AuditInputError, match="^mean_degree must be"):
        generate_sesame(100, mean_degree=-1)
    with pytest.raises(AuditInputError, match="fmt must be 'parquet' or 'csv'"):
        write_sesame(tmp_path, 100, fmt="xlsx")


def test_tiny_populations():
    people, edges = generate_sesame(1)
    assert len(people) == 1 and len(edges) == 0
    _, edges = generate_sesame(5, mean_degree=100)  # capped at the complete graph
    assert len(edges) == 10


# --------------------------------------------------------------------------- group rates


def _check_group_means(people, observed, expected, variance, label, skip=()):
    for attribute in CATEGORIES:
        if attribute in skip:
            continue
        for level, index in people.groupby(attribute).indices.items():
            k = len(index)
            se = np.sqrt(variance[index].sum()) / k
            diff = observed[index].mean() - expected[index].mean()
            assert abs(diff) <= SE_TOLERANCE * se, (
                f"{label} {attribute}={level}: observed {observed[index].mean():.4f} "
                f"expected {expected[index].mean():.4f} (se {se:.4f})"
            )


@pytest.mark.parametrize("name", [b for b, f in BEHAVIOURS.items() if f == "logistic"])
def test_logistic_rates_match_the_model(sample, name):
    people, _, cfg = sample
    spec = cfg["behaviours"][name]
    p = 1.0 / (1.0 + np.exp(-_eta(people, spec["intercept"], spec["effects"])))
    _check_group_means(people, people[name].to_numpy(dtype=float), p, p * (1 - p), name)


@pytest.mark.parametrize("name", [b for b, f in BEHAVIOURS.items() if f == "poisson"])
def test_poisson_means_match_the_model(sample, name):
    people, _, cfg = sample
    spec = cfg["behaviours"][name]
    mu = np.exp(_eta(people, spec["intercept"], spec["effects"]))
    _check_group_means(people, people[name].to_numpy(dtype=float), mu, mu, name)


def test_video_game_hours_match_the_model(sample):
    people, _, cfg = sample
    spec = cfg["behaviours"]["video_game_hours"]
    mu = np.exp(_eta(people, spec["intercept"], spec["effects"]))
    k, cap = spec["shape"], spec["max"]
    scale = mu / k
    # Mean of min(X, cap) for X ~ Gamma(k, scale): E[X; X < cap] + cap * P(X >= cap).
    capped = mu * stats.gamma.cdf(cap, k + 1, scale=scale) + cap * stats.gamma.sf(cap, k, scale=scale)
    variance = mu**2 / k  # the uncapped variance bounds the capped one
    _check_group_means(people, people["video_game_hours"].to_numpy(), capped, variance, "video_game_hours")


def test_protected_shares_match_the_config(sample):
    people, _, cfg = sample
    population = cfg["population"]
    for attribute in ("gender", "age_band", "registration", "region"):
        observed = people[attribute].value_counts(normalize=True)
        for level, share in population[attribute].items():
            se = np.sqrt(share * (1 - share) / N)
            assert abs(observed.get(level, 0.0) - share) <= SE_TOLERANCE * se, (attribute, level)
    for region, index in people.groupby("region").indices.items():
        observed = people["ethnicity"].iloc[index].value_counts(normalize=True)
        for level, share in population["ethnicity_by_region"][region].items():
            se = np.sqrt(share * (1 - share) / len(index))
            assert abs(observed.get(level, 0.0) - share) <= SE_TOLERANCE * se, (region, level)


def test_income_matches_the_ordered_logit(sample):
    people, _, cfg = sample
    income = cfg["income"]
    eta = _eta(people, 0.0, income["effects"])
    cuts = income["cutpoints"]
    below_low = 1 / (1 + np.exp(-(cuts["low_middle"] - eta)))
    below_middle = 1 / (1 + np.exp(-(cuts["middle_high"] - eta)))
    implied = {"low": below_low, "middle": below_middle - below_low, "high": 1 - below_middle}
    for level, p in implied.items():
        observed = (people["income_band"] == level).to_numpy(dtype=float)
        _check_group_means(people, observed, p, p * (1 - p), f"income_band={level}", skip=("income_band",))


def test_illustrative_mechanisms_are_visible(sample):
    people, _, _ = sample

    def rate(column, **where):
        mask = np.logical_and.reduce([people[k] == v for k, v in where.items()])
        return people.loc[mask, column].mean()

    assert rate("buys_diapers", gender="female") > rate("buys_diapers", gender="male")
    assert rate("buys_diapers", age_band="30-44") > rate("buys_diapers", age_band="60+")
    young_men = rate("video_game_hours", gender="male", age_band="18-29")
    assert young_men > 2 * people["video_game_hours"].mean()
    for minority in ("minority A", "minority B"):
        assert rate("political_posts", ethnicity=minority) > rate("political_posts", ethnicity="majority")
        assert rate("unofficial_news_shares", ethnicity=minority) > rate(
            "unofficial_news_shares", ethnicity="majority"
        )
        assert rate("real_name", ethnicity=minority) < rate("real_name", ethnicity="majority")
    assert rate("late_payments", registration="rural") > rate("late_payments", registration="urban")
    assert rate("late_payments", income_band="low") > rate("late_payments", income_band="high")
    assert (people.loc[people["ethnicity"] != "majority", "region"] == "west").mean() > 0.35


# --------------------------------------------------------------------------- graph


def _within_block_share(people, edges):
    block = (people["ethnicity"] + "|" + people["region"]).to_numpy()
    return float((block[edges["source"].to_numpy()] == block[edges["target"].to_numpy()]).mean())


def _expected_within_block_share(people, homophily):
    # A stub lands in its own block with probability h (if the block has anyone
    # else) plus (1 - h) times the chance a uniform other person is in it;
    # emitters are uniform over people.
    n = len(people)
    sizes = people.groupby(["ethnicity", "region"]).size().to_numpy()
    own = homophily * (sizes > 1) + (1 - homophily) * (sizes - 1) / (n - 1)
    return float(np.sum(sizes / n * own))


def test_edges_are_a_simple_undirected_graph(sample):
    _, edges, _ = sample
    source = edges["source"].to_numpy()
    target = edges["target"].to_numpy()
    assert (source < target).all()  # no self-loops, each tie once
    assert source.min() >= 0 and target.max() < N
    keys = source * N + target
    assert (np.diff(keys) > 0).all()  # sorted by (source, target) and no duplicates


@pytest.mark.parametrize("mean_degree", [20.0, 7.5])
def test_mean_degree_hits_the_target(mean_degree):
    people, edges = generate_sesame(20_000, seed=1, mean_degree=mean_degree)
    realised = 2 * len(edges) / len(people)
    assert abs(realised - mean_degree) <= 0.05 * mean_degree
    degree = np.bincount(edges.to_numpy().ravel(), minlength=len(people))
    assert degree.mean() == pytest.approx(realised)


def test_default_graph_parameters_come_from_the_config(sample):
    people, edges, cfg = sample
    assert 2 * len(edges) / len(people) == pytest.approx(cfg["graph"]["mean_degree"], rel=1e-4)
    expected = _expected_within_block_share(people, cfg["graph"]["homophily"])
    assert _within_block_share(people, edges) == pytest.approx(expected, abs=0.01)


def test_within_block_share_rises_with_homophily_as_expected():
    shares = []
    for h in (0.0, 0.3, 0.6, 0.9):
        people, edges = generate_sesame(20_000, seed=4, homophily=h)
        share = _within_block_share(people, edges)
        assert share == pytest.approx(_expected_within_block_share(people, h), abs=0.01), h
        shares.append(share)
    assert shares == sorted(shares) and shares[-1] - shares[0] > 0.5


def test_full_homophily_keeps_ties_inside_blocks():
    people, edges = generate_sesame(5_000, seed=2, homophily=1.0)
    assert _within_block_share(people, edges) == 1.0


# --------------------------------------------------------------------------- config


def test_default_config_is_the_packaged_yaml():
    packaged = Path(__file__).resolve().parents[1] / "audit" / "datasets" / "sesame.yaml"
    assert load_config() == yaml.safe_load(packaged.read_text(encoding="utf-8"))


def test_config_override_is_deep_merged_and_used():
    cfg = load_config({"behaviours": {"buys_diapers": {"intercept": 3.0}}})
    assert cfg["behaviours"]["buys_diapers"]["intercept"] == 3.0
    # Siblings of the overridden key keep their defaults.
    assert (
        cfg["behaviours"]["buys_diapers"]["effects"] == load_config()["behaviours"]["buys_diapers"]["effects"]
    )
    base, _ = generate_sesame(5_000, seed=1)
    more, _ = generate_sesame(5_000, seed=1, config={"behaviours": {"buys_diapers": {"intercept": 3.0}}})
    assert more["buys_diapers"].mean() > 0.9 > base["buys_diapers"].mean()
    # Other columns use their own streams and are untouched.
    pd.testing.assert_series_equal(base["late_payments"], more["late_payments"])


def test_config_can_add_an_effect_and_set_graph_defaults():
    extra = {"behaviours": {"taxi_no_shows": {"effects": {"region": {"west": 1.0}}}}}
    cfg = load_config(extra)
    assert cfg["behaviours"]["taxi_no_shows"]["effects"]["region"] == {"west": 1.0}
    people, edges = generate_sesame(2_000, seed=1, config={"graph": {"mean_degree": 6, "homophily": 1.0}})
    assert 2 * len(edges) / len(people) == pytest.approx(6.0)
    assert _within_block_share(people, edges) == 1.0


def test_config_from_a_yaml_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("graph:\n  homophily: 0.25\npopulation:\n  registration: {urban: 0.3, rural: 0.7}\n")
    cfg = load_config(path)
    assert cfg["graph"]["homophily"] == 0.25
    assert cfg["population"]["registration"] == {"urban": 0.3, "rural": 0.7}
    people, _ = generate_sesame(5_000, seed=0, config=str(path))
    assert (people["registration"] == "rural").mean() == pytest.approx(0.7, abs=0.03)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"grph": {}}, "grph"),
        ({"graph": {"homophilly": 0.5}}, "graph.homophilly"),
        ({"behaviours": {"buys_nappies": {"intercept": 0}}}, "behaviours.buys_nappies"),
        ({"behaviours": {"buys_diapers": {"slope": 1}}}, "behaviours.buys_diapers.slope"),
        (
            {"behaviours": {"buys_diapers": {"effects": {"star_sign": {}}}}},
            "behaviours.buys_diapers.effects.star_sign",
        ),
        (
            {"behaviours": {"real_name": {"effects": {"gender": {"nonbinary": 1}}}}},
            "behaviours.real_name.effects.gender.nonbinary",
        ),
        ({"population": {"gender": {"other": 0.1}}}, "population.gender.other"),
        ({"population": {"ethnicity_by_region": {"south": {}}}}, "population.ethnicity_by_region.south"),
        ({"income": {"effects": {"income_band": {"low": 1}}}}, "income.effects.income_band"),
    ],
)
def test_unknown_config_key_is_named_in_a_one_line_error(override, key):
    with pytest.raises(AuditInputError) as info:
        load_config(override)
    message = str(info.value)
    assert "\n" not in message
    assert f"'{key}'" in message


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"population": {"gender": {"female": 0.7}}}, "population.gender"),
        ({"behaviours": {"late_payments": {"intercept": "high"}}}, "behaviours.late_payments.intercept"),
        ({"behaviours": {"video_game_hours": {"shape": 0}}}, "behaviours.video_game_hours.shape"),
        ({"graph": {"homophily": 2}}, "graph.homophily"),
        ({"graph": {"blocks": ["star_sign"]}}, "graph.blocks"),
        ({"income": {"cutpoints": {"low_middle": 3.0}}}, "income.cutpoints.low_middle"),
    ],
)
def test_bad_config_value_is_named_in_a_one_line_error(override, key):
    with pytest.raises(AuditInputError) as info:
        load_config(override)
    message = str(info.value)
    assert "\n" not in message
    assert f"'{key}'" in message


def test_unreadable_config_file(tmp_path):
    with pytest.raises(AuditInputError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("graph: [unclosed\n")
    with pytest.raises(AuditInputError, match="not valid YAML") as info:
        load_config(bad)
    assert "\n" not in str(info.value)
