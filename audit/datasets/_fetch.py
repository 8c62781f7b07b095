"""Download a catalogued data set into the user cache, verifying every byte.

``fetch`` is the only code in :mod:`audit.datasets` that touches the network.
Each file comes from the URL recorded in the catalogue: the original
publisher where it is known to serve the catalogued bytes, otherwise the
exact repository commit named in the data set's PROVENANCE.  Files that the
shared data folder holds in a *derived* form (the network CSVs, the ID-ordered
Taiwan CSV) are rebuilt locally from the downloaded upstream files by the
same steps the PROVENANCE describes, and checked against the catalogued
sha256 as well.

Nothing unverified is ever left where a loader could read it: downloads go
to a staging folder inside the destination, and each file is moved into
place with :func:`os.replace` only after every file of the data set has
matched its sha256.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from audit._errors import AuditInputError
from audit._progress import track
from audit._version import __version__
from audit.datasets._registry import (
    EGO_IDS,
    FACEBOOK100_SCHOOLS,
    DataFile,
    Dataset,
    cache_dir,
    get,
    sha256_file,
)

_CHUNK = 1 << 16
_TIMEOUT_SECONDS = 60

Source = Callable[[str], Path]


# ----------------------------------------------------------------------- derivations


def _derive_taiwan_credit(src: Source, out: Path) -> None:
    # The upstream export keeps both .xls header rows and shuffled, CRLF rows;
    # PROVENANCE: second row as header, sort by ID, one header, LF, no index.
    upstream = src("default of credit card clients.csv")
    try:
        frame = pd.read_csv(upstream, header=1, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise AuditInputError(f"could not read '{upstream.name}': {exc}") from exc
    if "ID" not in frame.columns:
        raise AuditInputError(f"'{upstream.name}' has no ID column in its second header row")
    frame = frame.sort_values("ID", kind="stable")
    frame.to_csv(out / "default_of_credit_card_clients.csv", index=False, lineterminator="\n")


def _derive_facebook100(src: Source, out: Path) -> None:
    from audit.datasets._loaders import facebook100_frames_from_mat

    for school in FACEBOOK100_SCHOOLS:
        nodes, edges = facebook100_frames_from_mat(src(f"{school}.mat"))
        edges.to_csv(out / f"{school}_edges.csv", index=False, lineterminator="\n")
        nodes.to_csv(out / f"{school}_nodes.csv", index=False, lineterminator="\n")


def _space_to_csv(raw: bytes, header: bytes) -> bytes:
    return header + raw.replace(b"\r\n", b"\n").replace(b" ", b",")


def _derive_email_eu_core(src: Source, out: Path) -> None:
    (out / "edges.csv").write_bytes(
        _space_to_csv(src("email-Eu-core.txt").read_bytes(), b"source,target\n")
    )
    (out / "nodes.csv").write_bytes(
        _space_to_csv(src("email-Eu-core-department-labels.txt").read_bytes(), b"node_id,department\n")
    )


def _derive_ego_facebook(src: Source, out: Path) -> None:
    (out / "edges.csv").write_bytes(
        _space_to_csv(src("facebook_combined.txt").read_bytes(), b"source,target\n")
    )
    # gender_anon: SNAP's anonymised "gender;anonymized feature 77/78", whichever
    # is set for the node in any ego network's .feat/.egofeat (featnames differ
    # per ego, so the index is looked up per ego).  n_ego_networks counts the
    # ego networks a node appears in, its own included.
    gender: dict[int, str] = {}
    count: dict[int, int] = {}
    for ego in EGO_IDS:
        indices = {}
        for line in src(f"facebook/{ego}.featnames").read_text(encoding="utf-8").splitlines():
            index, _, label = line.partition(" ")
            if label.startswith("gender;anonymized feature "):
                indices[int(index)] = "feature_" + label.rsplit(" ", 1)[1]
        rows = [(ego, src(f"facebook/{ego}.egofeat").read_text(encoding="utf-8").split())]
        for line in src(f"facebook/{ego}.feat").read_text(encoding="utf-8").splitlines():
            node, *values = line.split()
            rows.append((int(node), values))
        for node, values in rows:
            count[node] = count.get(node, 0) + 1
            for index, label in indices.items():
                if values[index] == "1":
                    if gender.setdefault(node, label) != label:
                        raise AuditInputError(f"ego-Facebook node {node} has conflicting gender features")
    # Node ids are 0..n-1; every node has an edge, so the edge list bounds them.
    n_nodes = 1 + max(max(int(v) for v in src("facebook_combined.txt").read_text(encoding="ascii").split()),
                      max(count))
    lines = ["node_id,gender_anon,n_ego_networks\n"]
    lines += [f"{i},{gender.get(i, '')},{count.get(i, 0)}\n" for i in range(n_nodes)]
    (out / "nodes.csv").write_text("".join(lines), encoding="ascii")


_DERIVATIONS: dict[str, Callable[[Source, Path], None]] = {
    "taiwan_credit": _derive_taiwan_credit,
    "facebook100": _derive_facebook100,
    "email_eu_core": _derive_email_eu_core,
    "ego_facebook": _derive_ego_facebook,
}


def derive(name: str, source_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Rebuild a data set's derived files from its upstream files, offline.

    This is the step :func:`fetch` runs after downloading; it is public so that
    the derivation can be checked against the shared copies without a network.

    Parameters
    ----------
    name : str
        Catalogue name with derived files (``taiwan_credit``, ``facebook100``,
        ``email_eu_core``, ``ego_facebook``).
    source_dir : path-like
        Folder holding the upstream files under their catalogue names.
    out_dir : path-like
        Where the derived files are written (overwritten).

    Returns
    -------
    list of Path
        The derived files, in catalogue order.  Their sha256 is *not* checked here.

    Examples
    --------
    >>> derive("email_eu_core", "shared/data/networks/email_eu_core", "/tmp/out")  # doctest: +SKIP
    [PosixPath('/tmp/out/edges.csv'), PosixPath('/tmp/out/nodes.csv')]
    """
    entry = get(name)
    if entry.derive is None:
        raise AuditInputError(f"dataset {name!r} has no derived files")
    source, out = Path(source_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _DERIVATIONS[entry.derive](lambda file: source / file, out)
    return [out / f.name for f in entry.files if f.origin == "derived"]


# --------------------------------------------------------------------------- download


def _download(url: str, target: Path) -> str:
    """Stream ``url`` into ``target``; return the sha256 of what was written."""
    digest = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": f"scoring-rule-audit/{__version__}"})
    with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response, open(target, "wb") as handle:
        for chunk in iter(lambda: response.read(_CHUNK), b""):
            digest.update(chunk)
            handle.write(chunk)
    return digest.hexdigest()


def _fetch_file(entry: Dataset, item: DataFile, staging: Path) -> None:
    """Download one file into ``staging`` under its catalogue name, verified."""
    final = staging / item.name
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(final.name + ".part")
    problem = ""
    for url in item.urls:
        try:
            got = _download(url, partial)
        except (OSError, ValueError, http.client.HTTPException) as exc:  # URLError, timeouts, bad URLs
            partial.unlink(missing_ok=True)
            problem = f"could not download {item.name!r} for dataset {entry.name!r} from {url}: {exc}"
            continue
        if item.sha256 is None or got == item.sha256:
            os.replace(partial, final)
            return
        partial.unlink(missing_ok=True)
        problem = (
            f"sha256 mismatch for {item.name!r} (dataset {entry.name!r}) from {url}: "
            f"expected {item.sha256}, got {got}"
        )
    raise AuditInputError(problem or f"no download URL for {item.name!r} of dataset {entry.name!r}")


def _verified(path: Path, sha256: str | None) -> bool:
    return path.is_file() and sha256 is not None and sha256_file(path) == sha256


def fetch(name: str, *, dest: str | os.PathLike[str] | None = None, force: bool = False) -> Path:
    """Download data set ``name`` from its publisher (or pinned upstream) into the cache.

    Every file is checked against the catalogue's sha256 before it is moved
    into place, so a loader never sees a partial or altered file.  Files
    already present with the right checksum are not downloaded again unless
    ``force``.  Loaders never download anything themselves.

    Sources (see ``datasets/<name>.md``): COMPAS from ProPublica's
    ``propublica/compas-analysis`` repository; Adult from UCI (with a pinned
    GitHub copy as fallback); German credit, South German credit, FICO,
    email-Eu-core, ego-Facebook, Facebook100 and the Taiwan export from the
    exact repository commits their PROVENANCE names.  Derived files (the
    ID-ordered Taiwan CSV, the network CSVs) are rebuilt locally and verified.

    .. note::
       Facebook100 has **no licence**; its authors' own download was reportedly
       withdrawn at Facebook's request.  ``fetch("facebook100")`` retrieves
       the ``.mat`` files from a public research mirror
       (``sisaman/pyg-datasets``); you are responsible for the terms under
       which you obtain and use them.  Research use only; cite Traud, Mucha &
       Porter; never redistribute.  SNAP data sets are published for research
       use with a request to cite the papers.

    Parameters
    ----------
    name : str
        Catalogue name (see :func:`list_datasets`).
    dest : path-like, optional
        Target folder; default ``${XDG_CACHE_HOME:-~/.cache}/scoring-rule-audit/<name>``.
    force : bool
        Download again even when verified files are present.

    Returns
    -------
    pathlib.Path
        The folder holding the data set (what loaders accept as ``path``).

    Raises
    ------
    AuditInputError
        Unknown or synthetic data set, a download failure, or a sha256
        mismatch (the message names the file and both hashes).

    Examples
    --------
    >>> folder = fetch("compas")  # doctest: +SKIP
    >>> load_compas(folder).shape  # doctest: +SKIP
    (7214, 44)
    """
    entry = get(name)
    if entry.kind == "synthetic":
        raise AuditInputError(f"dataset {name!r} is synthetic: it is generated, not fetched")
    target = Path(dest).expanduser() if dest is not None else cache_dir() / name
    wanted = [f for f in entry.files if f.origin in ("download", "derived") and f.keep]
    if not force and all(_verified(target / f.name, f.sha256) for f in wanted):
        return target

    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=target))
    try:
        def present(item: DataFile) -> bool:
            return not force and item.keep and _verified(target / item.name, item.sha256)

        downloads = [f for f in entry.files if f.origin == "download" and not present(f)]
        for item in track(downloads, total=len(downloads), description=f"fetch {name}"):
            _fetch_file(entry, item, staging)
        if entry.derive is not None:
            def source(file: str) -> Path:
                staged = staging / file
                return staged if staged.exists() else target / file

            _DERIVATIONS[entry.derive](source, staging)
            for item in entry.files:
                if item.origin == "derived":
                    got = sha256_file(staging / item.name)
                    if got != item.sha256:
                        raise AuditInputError(
                            f"sha256 mismatch for derived {item.name!r} (dataset {name!r}): "
                            f"expected {item.sha256}, got {got}"
                        )
        for item in wanted:
            staged = staging / item.name
            if staged.exists():
                (target / item.name).parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, target / item.name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            _remove_empty_tree(target)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return target


def _remove_empty_tree(folder: Path) -> None:
    # Only folders this call created and left empty; never a user's files.
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
        try:
            sub.rmdir()
        except OSError:
            pass
    try:
        folder.rmdir()
    except OSError:
        pass
