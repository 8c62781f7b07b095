"""Loaders, catalogue, path resolution and fetch for the public data sets.

Tests that read ../shared/data go through ``shared_file`` (skip outside CI,
fail under CI=true when a file is missing).  Nothing here touches the network:
``fetch`` is exercised with ``file://`` URLs to temporary copies.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, shared_file

from audit._errors import AuditInputError
from audit.datasets import _registry
from audit.datasets._fetch import derive, fetch
from audit.datasets._loaders import (
    COMPAS_CASE_NUMBER_COLUMNS,
    COMPAS_PERSONAL_COLUMNS,
    load_adult,
    load_compas,
    load_ego_facebook,
    load_email_eu_core,
    load_facebook100,
    load_fico,
    load_german_credit,
    load_taiwan_credit,
)
from audit.datasets._registry import CATALOGUE, DataFile, Dataset, list_datasets, locate, sha256_file


def _folder(name: str) -> Path:
    """Shared-data folder of a catalogued data set (skips/fails like shared_file)."""
    entry = CATALOGUE[name]
    return shared_file(f"{entry.folder}/{entry.core[0]}").parent


@pytest.fixture
def no_data_dirs(tmp_path, monkeypatch):
    """An environment where neither AUDIT_DATA_DIR nor the cache holds anything."""
    monkeypatch.setenv("AUDIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


# --------------------------------------------------------------------------- catalogue


def test_catalogue_entries_are_complete():
    for entry in CATALOGUE.values():
        assert entry.card == f"datasets/{entry.name}.md" or entry.name == "south_german_credit"
        if entry.kind == "synthetic":
            assert not entry.files
            continue
        assert entry.loader and entry.licence and entry.core and entry.citation
        names = [f.name for f in entry.files]
        assert len(names) == len(set(names))
        assert set(entry.core) <= set(names)
        for item in entry.files:
            if item.sha256 is None:
                # An unpinned upstream may only feed a derivation whose output is pinned.
                assert not item.keep and entry.derive
            else:
                assert len(item.sha256) == 64 and int(item.sha256, 16) >= 0
            if item.origin == "download":
                assert item.urls and all(u.startswith("https://") for u in item.urls)
            else:
                assert not item.urls
        if any(f.origin == "derived" for f in entry.files):
            assert entry.derive


def test_cards_exist_for_every_dataset_but_sesame():
    for entry in CATALOGUE.values():
        if entry.kind != "synthetic":
            assert (ROOT / entry.card).is_file(), entry.card


def _shared_files():
    for entry in CATALOGUE.values():
        for item in entry.files:
            if item.sha256 and not item.name.startswith("facebook/"):
                yield pytest.param(entry, item, id=f"{entry.name}/{item.name}")


@pytest.mark.shared_data
@pytest.mark.parametrize(("entry", "item"), list(_shared_files()))
def test_shared_files_match_catalogue_sha256(entry, item):
    path = shared_file(f"{entry.folder}/{item.name}")
    assert path.stat().st_size == item.size
    assert sha256_file(path) == item.sha256


@pytest.mark.shared_data
def test_ego_feature_files_match_the_staged_tarball():
    tarball = shared_file("networks/ego_facebook/facebook_ego_features.tar.gz")
    expected = {f.name: f.sha256 for f in CATALOGUE["ego_facebook"].files if f.name.startswith("facebook/")}
    with tarfile.open(tarball) as archive:
        got = {
            f"facebook/{m.name}": hashlib.sha256(archive.extractfile(m).read()).hexdigest()
            for m in archive.getmembers()
        }
    assert got == expected


def test_list_datasets_includes_synthetic_sesame(no_data_dirs):
    listing = {d["name"]: d for d in list_datasets()}
    assert listing["sesame"]["kind"] == "synthetic" and listing["sesame"]["found"]
    assert not listing["compas"]["found"] and listing["compas"]["location"] is None
    assert listing["facebook100"]["redistributable"] is False
    assert listing["compas"]["protected"] == ["race", "sex", "age", "age_cat"]
    assert set(listing["adult"]) >= {"title", "rows", "licence", "protected", "card", "found"}


@pytest.mark.shared_data
def test_list_datasets_finds_shared_data_through_audit_data_dir(monkeypatch, tmp_path):
    root = _folder("compas").parent
    monkeypatch.setenv("AUDIT_DATA_DIR", str(root))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    listing = {d["name"]: d for d in list_datasets()}
    # Network folders nest under networks/ in the shared layout.
    assert all(listing[n]["found"] for n in listing)
    assert listing["facebook100"]["location"] == str(root / "networks" / "facebook100")


# ------------------------------------------------------------------------ resolution


def test_not_found_error_is_one_line_and_names_the_dataset(no_data_dirs):
    with pytest.raises(AuditInputError) as info:
        load_compas()
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        "dataset 'compas' not found: pass path=..., set AUDIT_DATA_DIR, "
        "or run 'audit datasets fetch compas'"
    )
    with pytest.raises(AuditInputError, match="dataset 'ego_facebook' not found"):
        load_ego_facebook()


def test_missing_path_and_incomplete_folder_errors(no_data_dirs):
    with pytest.raises(AuditInputError, match=r"dataset 'adult': path '.*nowhere' does not exist"):
        load_adult(no_data_dirs / "nowhere")
    with pytest.raises(AuditInputError, match=r"adult.data \+ adult.test not found in"):
        load_adult(no_data_dirs, split="both")


def test_cache_dir_respects_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _registry.cache_dir() == tmp_path / "scoring-rule-audit"
    assert _registry.search_dirs("compas")[-1] == tmp_path / "scoring-rule-audit" / "compas"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert _registry.cache_dir() == Path.home() / ".cache" / "scoring-rule-audit"


def test_bad_options_are_input_errors():
    with pytest.raises(AuditInputError, match="analysis='both'"):
        load_compas("/nonexistent", analysis="both")
    with pytest.raises(AuditInputError, match="split='validation'"):
        load_adult("/nonexistent", split="validation")
    with pytest.raises(AuditInputError, match="not a plain name"):
        load_facebook100("../etc")
    with pytest.raises(AuditInputError, match="unknown dataset 'nope'"):
        fetch("nope")
    with pytest.raises(AuditInputError, match="synthetic"):
        fetch("sesame")


@pytest.mark.shared_data
def test_path_may_be_file_folder_or_data_root(monkeypatch, no_data_dirs):
    two_year = shared_file("compas/compas-scores-two-years.csv")
    assert len(load_compas(two_year)) == 7214
    assert len(load_compas(two_year.parent, analysis="violent")) == 4743
    assert len(load_compas(two_year.parent.parent, analysis="all")) == 11757
    monkeypatch.setenv("AUDIT_DATA_DIR", str(two_year.parent.parent))
    assert len(load_compas()) == 7214
    # A file of a multi-file set points at its folder, not at another set.
    nodes, _edges = load_facebook100("Reed98", path=shared_file("networks/facebook100/Reed98_nodes.csv"))
    assert len(nodes) == 962
    assert len(load_adult(shared_file("adult/adult.test"), split="both")) == 48842
    assert len(load_adult(shared_file("adult/adult.test"), split="train")) == 32561
    renamed = no_data_dirs / "my-compas.csv"
    shutil.copy(two_year, renamed)
    assert len(load_compas(renamed)) == 7214
    # The cache is the last resort.
    cached = no_data_dirs / "cache" / "scoring-rule-audit" / "fico"
    shutil.copytree(_folder("fico"), cached)
    monkeypatch.setenv("AUDIT_DATA_DIR", str(no_data_dirs / "empty"))
    assert len(load_fico()) == 792


# --------------------------------------------------------------------------- tabular


@pytest.mark.shared_data
def test_compas_counts_filter_and_identifying_columns():
    folder = _folder("compas")
    frame = load_compas(folder)
    assert frame.shape[0] == 7214
    assert frame.columns[0] == "id" and frame["id"].is_unique
    for column in COMPAS_PERSONAL_COLUMNS + COMPAS_CASE_NUMBER_COLUMNS:
        assert column not in frame.columns
    assert not [c for c in frame.columns if c.endswith(".1")]
    assert frame["race"].value_counts()["African-American"] == 3696
    assert frame["two_year_recid"].sum() == 3251

    filtered = load_compas(folder, filtered=True)
    assert len(filtered) == 6172
    assert filtered["days_b_screening_arrest"].abs().max() <= 30
    assert set(filtered["c_charge_degree"]) <= {"F", "M"}

    violent = load_compas(folder, analysis="violent", filtered=True)
    assert len(violent) == 4020 and "two_year_recid" in violent.columns
    everyone = load_compas(folder, analysis="all", filtered=True)
    assert (everyone["is_recid"] != -1).all() and everyone["score_text"].notna().all()
    assert "O" not in set(everyone["c_charge_degree"])


@pytest.mark.shared_data
def test_compas_keeps_identifying_columns_only_on_request():
    frame = load_compas(_folder("compas"), drop_identifying=False)
    assert set(COMPAS_PERSONAL_COLUMNS) <= set(frame.columns)


@pytest.mark.shared_data
def test_german_credit_corrected_codes():
    frame = load_german_credit(_folder("south_german_credit"))
    assert len(frame) == 1000 and frame.columns[0] == "id"
    assert "sex" not in frame.columns
    assert frame["personal_status_sex"].value_counts().to_dict() == {
        "male : married/widowed": 548,
        "female : non-single or male : single": 310,
        "female : single": 92,
        "male : divorced/separated": 50,
    }
    assert frame["foreign_worker"].value_counts().to_dict() == {"no": 963, "yes": 37}
    assert frame["credit_risk"].value_counts().to_dict() == {1: 700, 0: 300}
    assert frame["age"].between(19, 75).all() and frame["age"].dtype == np.int64
    codes = load_german_credit(_folder("south_german_credit"), decode=False)
    assert (codes["foreign_worker"].value_counts().to_dict()) == {2: 963, 1: 37}


@pytest.mark.shared_data
def test_german_credit_uci_keeps_raw_codes():
    frame = load_german_credit(_folder("german_credit"), corrected=False)
    assert len(frame) == 1000 and "sex" not in frame.columns
    assert frame["personal_status_sex"].value_counts().to_dict() == {"A93": 548, "A92": 310, "A94": 92, "A91": 50}
    assert frame["foreign_worker"].value_counts().to_dict() == {"A201": 963, "A202": 37}
    assert frame["credit_risk"].value_counts().to_dict() == {1: 700, 0: 300}


@pytest.mark.shared_data
def test_adult_parsing_and_labels():
    folder = _folder("adult")
    train = load_adult(folder)
    test = load_adult(folder, split="test")
    assert len(train) == 32561 and len(test) == 16281
    assert train["income_over_50k"].sum() == 7841 and test["income_over_50k"].sum() == 3846
    assert set(test["income_over_50k"]) == {0, 1}
    assert train["workclass"].isna().sum() == 1836 and train["native_country"].isna().sum() == 583
    # skipinitialspace: no value keeps the space after the comma.
    assert not train["sex"].str.startswith(" ").any()
    assert train["sex"].value_counts().to_dict() == {"Male": 21790, "Female": 10771}
    assert "income" not in train.columns
    both = load_adult(folder, split="both")
    assert len(both) == 48842 and both["id"].is_unique
    assert test["id"].iloc[0] == 32561 and (both.loc[both["split"] == "test", "id"].to_numpy() == test["id"]).all()


@pytest.mark.shared_data
def test_taiwan_credit():
    frame = load_taiwan_credit(_folder("taiwan_credit"))
    assert len(frame) == 30000 and frame["id"].tolist() == list(range(1, 30001))
    assert frame["sex"].value_counts().to_dict() == {"female": 18112, "male": 11888}
    assert frame["education"].value_counts()["undocumented code 5"] == 280
    assert frame["marriage"].value_counts()["undocumented code 0"] == 54
    assert round(frame["default_payment_next_month"].mean(), 4) == 0.2212
    assert "PAY_1" not in frame.columns


@pytest.mark.shared_data
def test_fico_tidy_frame():
    frame = load_fico(_folder("fico"))
    assert len(frame) == 792
    totals = frame.groupby("group")["group_total"].first().to_dict()
    assert totals == {"Non-Hispanic white": 133165, "Black": 18274, "Hispanic": 14702, "Asian": 7906}
    assert np.allclose(frame.groupby("group")["percent_at_score"].sum(), 100.0)
    assert frame.groupby("group")["cdf_percent"].last().eq(100.0).all()
    assert frame["score"].min() == 0 and frame["score"].max() == 100


@pytest.mark.shared_data
def test_fico_performance_direction_pinned_against_raw_file(tmp_path):
    """The performance file holds the share who ARE seriously delinquent; the loader says so.

    Read the raw CSV with the csv module (independent of the loader) and pin the values the
    issue quotes: 98.54% of white applicants at score 0 and 0.90% at score 100 are delinquent.
    """
    import csv

    folder = _folder("fico")
    with open(folder / "transrisk_performance_by_race_ssa.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    white = header.index("Non- Hispanic white")
    raw = {float(r[0]): float(r[white]) for r in body}
    assert raw[0.0] == 98.54 and raw[100.0] == 0.90
    frame = load_fico(folder)
    mine = frame[frame["group"] == "Non-Hispanic white"].set_index("score")
    assert mine.loc[0.0, "delinquent_percent"] == 98.54
    assert mine.loc[100.0, "delinquent_percent"] == 0.90
    assert mine.loc[0.0, "non_delinquent_percent"] == pytest.approx(1.46, abs=1e-12)
    assert mine.loc[100.0, "non_delinquent_percent"] == pytest.approx(99.10, abs=1e-12)
    for score, value in raw.items():
        assert mine.loc[score, "delinquent_percent"] == value
        assert mine.loc[score, "non_delinquent_percent"] == pytest.approx(100.0 - value, abs=1e-12)
    # Every group: delinquency falls with the score (higher score = more creditworthy).
    for _group, part in frame.groupby("group"):
        d = part.sort_values("score")["delinquent_percent"].to_numpy()
        assert d[0] > 90 and d[-1] < 5
    # A performance file with the opposite meaning (the repaid share) is refused, not silently inverted.
    bad = tmp_path / "fico"
    shutil.copytree(folder, bad)
    perf = pd.read_csv(bad / "transrisk_performance_by_race_ssa.csv")
    for c in perf.columns[1:]:
        perf[c] = (100 - perf[c]).round(2)
    perf.to_csv(bad / "transrisk_performance_by_race_ssa.csv", index=False)
    with pytest.raises(AuditInputError, match="does not fall"):
        load_fico(bad)


# -------------------------------------------------------------------------- networks

_FB100 = {
    # school: nodes, edges, gender code 1, code 2, missing, missing dorm, missing year
    "Caltech36": (769, 16656, 228, 475, 66, 172, 114),
    "Reed98": (962, 18812, 504, 361, 97, 455, 145),
    "Haverford76": (1446, 59589, 732, 618, 96, 418, 105),
    "Amherst41": (2235, 90954, 1015, 1017, 203, 945, 214),
    "Rice31": (4087, 184828, 1814, 2010, 263, 523, 443),
}


@pytest.mark.shared_data
@pytest.mark.parametrize("school", list(_FB100))
def test_facebook100_counts_and_missing_codes(school):
    n_nodes, n_edges, g1, g2, g_missing, dorm_missing, year_missing = _FB100[school]
    nodes, edges = load_facebook100(school, path=_folder("facebook100"))
    assert len(nodes) == n_nodes and len(edges) == n_edges
    assert list(nodes.columns) == ["id", "student_fac", "gender", "major", "second_major", "dorm", "year",
                                   "high_school"]
    assert nodes["gender"].dtype == "Int64"
    assert nodes["gender"].value_counts().to_dict() == {1: g1, 2: g2}
    assert nodes["gender"].isna().sum() == g_missing
    assert nodes["dorm"].isna().sum() == dorm_missing and nodes["year"].isna().sum() == year_missing
    assert (edges["source"] < edges["target"]).all()


@pytest.mark.shared_data
def test_facebook100_reads_mat_when_csvs_are_absent(tmp_path):
    shutil.copy(shared_file("networks/facebook100/Caltech36.mat"), tmp_path)
    from_mat = load_facebook100("Caltech36", path=tmp_path)
    from_csv = load_facebook100("Caltech36", path=_folder("facebook100"))
    pd.testing.assert_frame_equal(from_mat.nodes, from_csv.nodes)
    pd.testing.assert_frame_equal(from_mat.edges, from_csv.edges)


@pytest.mark.shared_data
def test_email_eu_core():
    nodes, edges = load_email_eu_core(_folder("email_eu_core"))
    assert len(nodes) == 1005 and len(edges) == 25571
    assert nodes["department"].nunique() == 42
    assert (edges["source"] == edges["target"]).sum() == 642


@pytest.mark.shared_data
def test_ego_facebook():
    nodes, edges = load_ego_facebook(_folder("ego_facebook"))
    assert len(nodes) == 4039 and len(edges) == 88234
    assert nodes["gender_anon"].value_counts().to_dict() == {"feature_78": 2423, "feature_77": 1532}
    assert nodes["gender_anon"].isna().sum() == 84


# ---------------------------------------------------------------------- derivations


def _assert_derived_match(name: str, out: Path) -> None:
    for item in CATALOGUE[name].files:
        if item.origin == "derived":
            assert sha256_file(out / item.name) == item.sha256, item.name


@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["facebook100", "email_eu_core"])
def test_derivation_reproduces_shared_csvs(name, tmp_path):
    derive(name, _folder(name), tmp_path)
    _assert_derived_match(name, tmp_path)


@pytest.mark.shared_data
def test_ego_derivation_reproduces_shared_csvs(tmp_path):
    folder = _folder("ego_facebook")
    source = tmp_path / "src"
    (source / "facebook").mkdir(parents=True)
    shutil.copy(folder / "facebook_combined.txt", source)
    with tarfile.open(folder / "facebook_ego_features.tar.gz") as archive:
        archive.extractall(source / "facebook", filter="data")
    derive("ego_facebook", source, tmp_path / "out")
    _assert_derived_match("ego_facebook", tmp_path / "out")


@pytest.mark.shared_data
def test_taiwan_derivation_from_a_shuffled_two_header_export(tmp_path):
    frame = pd.read_csv(_folder("taiwan_credit") / "default_of_credit_card_clients.csv")
    shuffled = frame.sample(frac=1.0, random_state=7)
    first_header = "," + ",".join(f"X{i}" for i in range(1, 24)) + ",Y\r\n"
    export = first_header + shuffled.to_csv(index=False, lineterminator="\r\n")
    (tmp_path / "default of credit card clients.csv").write_bytes(export.encode())
    derive("taiwan_credit", tmp_path, tmp_path / "out")
    _assert_derived_match("taiwan_credit", tmp_path / "out")


# ----------------------------------------------------------------------------- fetch


def _toy_entry(monkeypatch, tmp_path, *, sha: str | None = None, mirrors=()) -> tuple[Path, bytes]:
    """Register a one-file data set served from a file:// URL; return the source and bytes."""
    payload = b"Score,Asian\n0,0.00\n100,100.00\n"
    source = tmp_path / "upstream" / "table.csv"
    source.parent.mkdir()
    source.write_bytes(payload)
    entry = Dataset(
        name="toy", title="toy", kind="aggregate", card="datasets/toy.md", licence="none",
        files=(DataFile("table.csv", sha or hashlib.sha256(payload).hexdigest(), len(payload),
                        url=source.as_uri(), mirrors=tuple(mirrors)),),
        core=("table.csv",),
    )
    monkeypatch.setitem(CATALOGUE, "toy", entry)
    return source, payload


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".fetch-" in str(p) or p.name.endswith(".part"))


def test_fetch_file_url_success_and_idempotence(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    source, payload = _toy_entry(monkeypatch, tmp_path)
    folder = fetch("toy")
    assert folder == tmp_path / "cache" / "scoring-rule-audit" / "toy"
    assert (folder / "table.csv").read_bytes() == payload
    assert _leftovers(folder) == []
    assert locate("toy")["table.csv"] == folder / "table.csv"
    # Verified files are not downloaded again: the upstream may vanish.
    source.unlink()
    assert fetch("toy") == folder
    with pytest.raises(AuditInputError, match="could not download 'table.csv'"):
        fetch("toy", force=True)
    assert (folder / "table.csv").read_bytes() == payload  # a failed refresh keeps the good copy


def test_fetch_sha_mismatch_leaves_nothing_behind(monkeypatch, tmp_path):
    wrong = "0" * 64
    _source, payload = _toy_entry(monkeypatch, tmp_path, sha=wrong)
    dest = tmp_path / "dest"
    with pytest.raises(AuditInputError) as info:
        fetch("toy", dest=dest)
    message = str(info.value)
    assert "\n" not in message and "'table.csv'" in message
    assert wrong in message and hashlib.sha256(payload).hexdigest() in message
    assert not dest.exists()  # created by this call, so removed again
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "notes.txt").write_text("mine")
    with pytest.raises(AuditInputError, match="sha256 mismatch"):
        fetch("toy", dest=existing)
    assert sorted(p.name for p in existing.iterdir()) == ["notes.txt"]


def test_fetch_falls_back_to_a_mirror(monkeypatch, tmp_path):
    source, payload = _toy_entry(monkeypatch, tmp_path)
    entry = CATALOGUE["toy"]
    broken = DataFile("table.csv", entry.files[0].sha256, url=(tmp_path / "missing.csv").as_uri(),
                      mirrors=(source.as_uri(),))
    monkeypatch.setitem(CATALOGUE, "toy", dataclasses.replace(entry, files=(broken,)))
    folder = fetch("toy", dest=tmp_path / "dest")
    assert (folder / "table.csv").read_bytes() == payload


@pytest.mark.shared_data
def test_fetch_derives_and_verifies_network_csvs(monkeypatch, tmp_path):
    folder = _folder("email_eu_core")
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    entry = CATALOGUE["email_eu_core"]
    files = []
    for item in entry.files:
        if item.origin == "download":
            shutil.copy(folder / item.name, upstream)
            item = dataclasses.replace(item, url=(upstream / item.name).as_uri())
        files.append(item)
    monkeypatch.setitem(CATALOGUE, "email_eu_core", dataclasses.replace(entry, files=tuple(files)))
    dest = fetch("email_eu_core", dest=tmp_path / "dest")
    nodes, edges = load_email_eu_core(dest)
    assert len(nodes) == 1005 and len(edges) == 25571
    assert _leftovers(dest) == []

    # A derived file that does not reproduce is refused, and nothing is moved.
    bad = [dataclasses.replace(f, sha256="f" * 64) if f.name == "nodes.csv" else f for f in files]
    monkeypatch.setitem(CATALOGUE, "email_eu_core", dataclasses.replace(entry, files=tuple(bad)))
    with pytest.raises(AuditInputError, match="derived 'nodes.csv'"):
        fetch("email_eu_core", dest=tmp_path / "dest2")
    assert not (tmp_path / "dest2").exists()


def test_fetch_never_called_by_loaders(monkeypatch, no_data_dirs):
    import urllib.request

    def refuse(*args, **kwargs):  # pragma: no cover - only runs if a loader misbehaves
        raise AssertionError("a loader tried to use the network")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    for loader in (load_compas, load_adult, load_german_credit, load_taiwan_credit, load_fico,
                   load_facebook100, load_email_eu_core, load_ego_facebook):
        with pytest.raises(AuditInputError, match="not found"):
            loader()

