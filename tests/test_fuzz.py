"""The bad-input contract, fuzzed: generated rule files, expressions, people tables and edge lists.

Every input must end in one of two ways (README, "Bad input"):

* exit status 0 with a complete report (report.json, .md, .html and a manifest that
  matches them), or
* exit status 2 with exactly one line on stderr, ``audit: error: ...``, naming the file,
  column, term or option at fault;

never a traceback (an exception other than AuditInputError escaping ``audit.cli.main``),
never a warning printed before the error, and never any code from the input run: the
generated inputs carry payloads (``__import__('os').system(...)``, ``open(...)``,
``!!python/object/apply``) that mention a marker, and a Python audit hook fails the run
if the marker reaches a shell, a subprocess, ``exec`` or ``open``.

The default suite runs a small budget (a few seconds).  The long run multiplies it:

    python3 dev.py fuzz                 # about 10,000 inputs (AUDIT_FUZZ_SCALE=60)
    AUDIT_FUZZ_SCALE=200 python3 dev.py fuzz

and writes the number of inputs of each kind to test-artifacts/fuzz-counts-*.json.
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import os
import re
import string
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit._errors import AuditInputError, printable
from audit._io import bundle_problems
from audit._text import visible_controls
from audit.cli import main
from audit.rules._expr import Expression, compile_expression

ROOT = Path(__file__).resolve().parents[1]
SCALE = float(os.environ.get("AUDIT_FUZZ_SCALE", "1"))
MARK = "fuzzmark7f3a"
COUNTS: collections.Counter = collections.Counter()


def budget(n: int) -> settings:
    return settings(max_examples=max(1, int(n * SCALE)), deadline=None, derandomize=SCALE <= 1,
                    suppress_health_check=list(HealthCheck))


# ------------------------------------------------------------------------------------------ no code runs
_VIOLATIONS: list[tuple[str, str]] = []
_WATCHING = [False]
# Programs the libraries start themselves: joblib/loky counts physical cores with lscpu.
_KNOWN_PROGRAMS = {"lscpu", "nproc", "sysctl", "wmic", "fc-list"}
_RUN_EVENTS = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen", "os.fork", "pty.spawn")


def _hook(event: str, args: tuple) -> None:
    if not _WATCHING[0]:
        return
    if event in _RUN_EVENTS:
        program = os.path.basename(str(args[0])) if args else ""
        if program not in _KNOWN_PROGRAMS or MARK in repr(args):
            _VIOLATIONS.append((event, repr(args)[:200]))
    elif event == "exec":
        code = args[0] if args else None
        text = repr(getattr(code, "co_consts", ())) + repr(getattr(code, "co_names", ()))
        if MARK in text:
            _VIOLATIONS.append((event, text[:200]))
    elif event in ("open", "os.remove", "os.rename", "shutil.rmtree") and MARK in repr(args):
        _VIOLATIONS.append((event, repr(args)[:200]))


if not getattr(sys, "_audit_fuzz_hook", False):
    sys.addaudithook(_hook)
    sys._audit_fuzz_hook = True  # an audit hook cannot be removed: add it once per process


@contextlib.contextmanager
def watching():
    _VIOLATIONS.clear()
    _WATCHING[0] = True
    try:
        yield
    finally:
        _WATCHING[0] = False
    assert not _VIOLATIONS, f"input ran code: {_VIOLATIONS[:3]}"


@pytest.fixture(scope="module", autouse=True)
def _write_counts():
    yield
    folder = ROOT / "test-artifacts"
    folder.mkdir(exist_ok=True)
    (folder / f"fuzz-counts-{os.getpid()}.json").write_text(json.dumps(dict(COUNTS), indent=1))


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with watching(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])  # any exception but AuditInputError escapes: a traceback
    return code, out.getvalue(), err.getvalue()


_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_contract(code: int, err: str, out_dir: Path | None, names: list[str], kind: str = "") -> None:
    assert code in (0, 2), (code, err)
    if kind:
        COUNTS[f"{kind}, exit {code}"] += 1
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("audit: error: "), err
        # One line that names what is wrong: a file, an option, or a quoted column/term/value.
        assert not _CONTROLS.search(err[:-1]), err  # no raw control character reaches the terminal
        shown = [" ".join(visible_controls(printable(n)).split()) for n in names if n]
        assert any(n and n in err for n in shown) or "'" in err or "--" in err, err
        return
    assert "Traceback" not in err
    if out_dir is not None:
        assert bundle_problems(out_dir) == [], out_dir
        doc = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
        assert doc["schema_version"] and doc["rule"]["name"]


# ------------------------------------------------------------------------------------------ strategies
PAYLOADS = [
    f"__import__('os').system('touch {MARK}')", f"open('{MARK}', 'w')", f"exec('{MARK}')", f"eval('{MARK}')",
    f"{MARK}.__class__", f"(lambda: {MARK})()", f"[{MARK} for {MARK} in x]", f"getattr(x, '{MARK}')",
    f"compile('{MARK}', 'f', 'exec')", f"x[{MARK}]", f"f'{{{MARK}}}'", f"{MARK} := 1", f"globals()['{MARK}']",
    f"breakpoint({MARK})", f"__builtins__.{MARK}", f"x if {MARK} else y",
]
COLUMNS = ["x", "f32", "i", "u8", "b", "nb", "s", "cat", "F32", "I64", "𝔤", "missing_col"]
ATOMS = st.one_of(
    st.sampled_from(COLUMNS),
    st.integers(-10**17, 10**17).map(str),
    st.floats(allow_nan=False, width=64).map(repr),
    st.sampled_from(["0.1", "0.2", "1e308", "1e-320", "True", "False", "None", "'a'", '"b"', "''", "2**53",
                     "9" * 30, "-0.0", "inf", "nan"]),
    st.text(string.ascii_letters + "_" + "ｇ𝔤é\u202e", min_size=1, max_size=6),
    st.sampled_from(PAYLOADS),
)
BINARY = ["+", "-", "*", "/", "//", "%", "**", "==", "!=", "<", "<=", ">", ">=", "and", "or", "in", "not in",
          "&", "|", "^", "<<", "@", "is"]
FUNCTIONS = ["abs", "ceil", "clip", "exp", "floor", "isnull", "log", "log1p", "max", "min", "notnull", "round",
             "sqrt", "where", "open", "len", "sum", "ｍin"]


def _grow(children):
    lists = st.lists(st.one_of(st.floats(-3, 3, allow_nan=False).map(repr), st.sampled_from(["'a'", "'b'", "1", "True"])),
                     max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]")
    return st.one_of(
        st.tuples(children, st.sampled_from(BINARY), st.one_of(children, lists)).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(st.sampled_from(["-", "+", "not ", "~"]), children).map("".join),
        children.map(lambda c: f"({c})"),
        st.tuples(st.sampled_from(FUNCTIONS), st.lists(children, max_size=4)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"),
    )


EXPRESSIONS = st.recursive(ATOMS, _grow, max_leaves=10)


def _people_frame(n: int, seed: int) -> pd.DataFrame:
    """A table with every kind of column an expression can meet, missing values included."""
    rng = np.random.default_rng(seed)
    nb = pd.array(rng.random(n) < 0.5, dtype="boolean")
    nb[rng.random(n) < 0.2] = pd.NA
    i64 = pd.array(rng.integers(-5, 5, n), dtype="Int64")
    i64[rng.random(n) < 0.2] = pd.NA
    x = rng.choice([0.1, 0.2, 0.5, 1.0, np.nan, 3.0], n)
    return pd.DataFrame({
        "x": x, "f32": x.astype(np.float32), "i": rng.integers(-3, 3, n), "u8": rng.integers(0, 255, n).astype(np.uint8),
        "b": rng.random(n) < 0.5, "nb": nb, "s": rng.choice(["a", "b", None], n).astype(object),
        "cat": pd.Categorical(rng.choice(["a", "b"], n)), "F32": pd.array(x, dtype="Float32"), "I64": i64,
        "𝔤": rng.normal(size=n),
    })


FRAME = _people_frame(50, 0)


@budget(50)
@given(text=EXPRESSIONS)
def test_fuzz_expressions(text):
    COUNTS["expressions"] += 1
    with watching():
        try:
            expr = compile_expression(text, where="fuzz.yaml: term 'T'")
        except AuditInputError as exc:
            assert "\n" not in str(exc) and str(exc).startswith("fuzz.yaml: term 'T'")
            COUNTS["expressions, refused when compiled"] += 1
            return
        assert isinstance(expr, Expression) and MARK not in expr.columns
        try:
            with np.errstate(all="raise"):  # the evaluator must not depend on the caller's numpy settings
                value = expr.evaluate(FRAME)
        except AuditInputError as exc:
            assert "\n" not in str(exc) and str(exc).startswith("fuzz.yaml: term 'T'")
            COUNTS["expressions, refused when evaluated"] += 1
            return
    assert value.shape == (len(FRAME),) and value.dtype in (np.float64, np.bool_)
    COUNTS["expressions, evaluated"] += 1


@budget(30)
@given(column=st.sampled_from(["x", "f32", "F32", "i", "u8", "b", "nb", "I64"]),
       values=st.lists(st.one_of(st.sampled_from([0.1, 0.2, 0.5, 1.0, 3.0, -0.0, 1e39, 2**53]),
                                 st.floats(-10, 10, allow_nan=False), st.integers(-3, 300)), min_size=1, max_size=5))
def test_fuzz_membership_is_a_chain_of_equalities(column, values):
    """``x in [a, b]`` is ``x == a or x == b`` on every column type (the float32 case of issue 19)."""
    COUNTS["membership"] += 1
    items = ", ".join(repr(float(v)) if isinstance(v, float) else str(v) for v in values)
    member = compile_expression(f"{column} in [{items}]").evaluate(FRAME)
    chain = compile_expression(" or ".join(f"{column} == {v!r}" for v in values)).evaluate(FRAME)
    assert np.array_equal(member, chain)
    assert np.array_equal(compile_expression(f"{column} not in [{items}]").evaluate(FRAME), ~member)


# ------------------------------------------------------------------------------------------ rule files
HOSTILE_VALUES = ["yes", "no", "on", "off", "8:20", "017", "0x1F", "1_000", "2024-01-01", ".nan", ".inf", "-.inf",
                  "~", "null", "''", "'650'", "1e999", "9" * 25, "!!float 8:20", "!!python/object/apply:os.system "
                  f"['touch {MARK}']", "!!binary aGk=", "&a 1", "*a", "[" * 40 + "]" * 40, "{a: 1, a: 2}",
                  "<<: {a: 1}", "\u202eabc", "\"\\x00\"", "- 1", "|\n  multi\n  line", "{", "]"]
KEYS = ["name", "title", "status", "kind", "description", "sources", "columns", "higher_is_better", "base", "range",
        "lookup", "score_column", "terms", "network", "tiers", "treshold", "label", "when", "value", "points",
        "weight", "source", "illustrative", "threshold", "at_most", "top_k", "top_fraction", "tolerance",
        "max_iterations", "table", "benefit", "id", "note"]


def _valid_rule(expr: str, extra: str = "") -> str:
    return f"""name: fuzz
title: Fuzz
status: user
base: 10
range: [0, 100]
terms:
  - {{label: T, value: {json.dumps(expr)}, weight: 1, illustrative: true}}
  - {{label: C, when: "x > 0.3", points: 5, illustrative: true}}
network: {{weight: 0.3, illustrative: true}}
tiers:
  - {{name: a, threshold: 12, illustrative: true}}
  - {{name: b, top_fraction: 0.2, illustrative: true}}
{extra}"""


def _mutate(text: str, ops: list[tuple[int, int, str]]) -> str:
    lines = text.splitlines()
    for kind, pos, token in ops:
        if not lines:
            lines = [token]
            continue
        i = pos % len(lines)
        if kind == 0:      # replace a value
            head = lines[i].split(":", 1)[0]
            lines[i] = f"{head}: {token}"
        elif kind == 1:    # repeat a line (duplicate keys)
            lines.insert(i, lines[i])
        elif kind == 2:    # drop a line
            del lines[i]
        elif kind == 3:    # a new key
            lines.insert(i, f"{token}: 1")
        else:              # break the indentation
            lines[i] = " " * (pos % 5) + lines[i].lstrip()
    return "\n".join(lines) + "\n"


RULE_TEXTS = st.one_of(
    st.tuples(EXPRESSIONS, st.lists(st.tuples(st.integers(0, 4), st.integers(0, 200),
                                              st.sampled_from(HOSTILE_VALUES + KEYS)), max_size=4)).map(
        lambda t: _mutate(_valid_rule(t[0]), t[1])),
    st.dictionaries(st.sampled_from(KEYS), st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8), EXPRESSIONS),
        lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.sampled_from(KEYS), c, max_size=3)),
        max_leaves=8), max_size=8).map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
    st.text(max_size=300),
)


@budget(40)
@given(text=RULE_TEXTS)
def test_fuzz_rule_files(text):
    COUNTS["rule files"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz rule.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        code, out, err = cli("rules", "validate", path)
        check_contract(code, err, None, [path.name], "rule files")
        if code == 0:
            assert "ok" in out
            code, out, err = cli("rules", "show", path, "--json")
            assert code == 0, err
            json.loads(out)
        assert not (Path(tmp) / MARK).exists() and not Path(MARK).exists()


# ------------------------------------------------------------------------------------------ people tables
NAMES = ["id", "x", "g", "h", "𝔤", "", " ", "x.1", "\u202eg", "名前", MARK, "a" * 300]
DTYPES = ["float64", "float32", "Float32", "int64", "Int64", "bool", "boolean", "str", "category", "mixed", "date"]


def _column(kind: str, n: int, rng: np.random.Generator):
    base = rng.choice([0.1, 0.2, 1.0, 5.0, np.nan], n)
    if kind in ("float64", "float32", "Float32"):
        return pd.array(base, dtype=kind)
    if kind in ("int64", "Int64"):
        return pd.array(rng.integers(-2, 3, n), dtype=kind)
    if kind in ("bool", "boolean"):
        col = pd.array(rng.random(n) < 0.5, dtype=kind)
        if kind == "boolean":
            col[rng.random(n) < 0.2] = pd.NA
        return col
    if kind == "str":
        return rng.choice(["a", "b", "_minority", "\u202emaj", "c,d", '"q"', ""], n).astype(object)
    if kind == "category":
        return pd.Categorical(rng.choice(["a", "b", "c"], n))
    if kind == "date":
        return pd.date_range("2020-01-01", periods=n)
    return np.array([rng.choice([1, "a", None, 2.5, True]) for _ in range(n)], dtype=object)


@st.composite
def people_tables(draw):
    """Half plausible tables (unique ids, the rule's columns, a protected column; odd types and
    values in them), half hostile ones (repeated or look-alike names, no rows, missing ids)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    fmt = draw(st.sampled_from(["csv", "parquet", "tsv"]))
    if draw(st.booleans()):
        n = draw(st.integers(2, 45))
        columns = [("id", np.arange(n) * draw(st.sampled_from([1, -1, 7]))),
                   ("x", _column(draw(st.sampled_from(["float64", "float32", "Float32", "int64", "Int64", "bool"])),
                                 n, rng)),
                   ("g", _column(draw(st.sampled_from(["str", "category", "boolean", "Int64", "float64"])), n, rng))]
        extra = draw(st.lists(st.sampled_from(["h", "𝔥", "名前", "notes", "_x"]), max_size=3, unique=True))
        for name in extra:
            columns.append((name, _column(draw(st.sampled_from(DTYPES)), n, rng)))
        protected = draw(st.sampled_from(["g", "g", "x", *[f"g,{c}" for c in extra], *extra]))
        return columns, fmt, protected
    n = draw(st.integers(0, 45))
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=6))
    if draw(st.booleans()):
        names = ["id", "x", "g", *names]
    columns = [(name, _column(draw(st.sampled_from(DTYPES)), n, rng)) for name in names]
    protected = draw(st.sampled_from(["g", "h", "x", "𝔤", "nope", "g,h", ",", "g,g"]))
    return columns, fmt, protected


def _write_table(columns, fmt: str, path: Path) -> None:
    if fmt == "parquet":
        frame = pd.DataFrame({f"c{i}": c for i, (_, c) in enumerate(columns)})
        frame.columns = [name for name, _ in columns]  # duplicates allowed here: pyarrow refuses or keeps them
        try:
            frame.to_parquet(path)
        except Exception:  # mixed types: store those columns as text, as a spreadsheet export would
            try:
                mixed = [i for i, dtype in enumerate(frame.dtypes) if dtype.kind == "O"]
                frame.iloc[:, mixed] = frame.iloc[:, mixed].astype(str)
                frame.to_parquet(path)
            except Exception:  # repeated names: pandas refuses, pyarrow itself stores them
                import pyarrow as pa
                import pyarrow.parquet as pq

                try:
                    arrays = [pa.array(pd.Series(c).astype(str) if pd.Series(c).dtype == object else pd.Series(c))
                              for _, c in columns]
                    pq.write_table(pa.Table.from_arrays(arrays, names=[n for n, _ in columns]), path)
                except Exception:
                    path.write_text("broken,parquet\n")  # a corrupt file, then
        return
    sep = "\t" if fmt == "tsv" else ","
    frame = pd.DataFrame({f"c{i}": c for i, (_, c) in enumerate(columns)})
    body = frame.to_csv(index=False, header=False, sep=sep)
    header = sep.join(pd.Series([name for name, _ in columns]).map(lambda s: f'"{s}"' if sep in s else s))
    path.write_text(header + "\n" + body, encoding="utf-8")


TABLE_RULE = """name: tablefuzz
title: Table fuzz
status: user
base: 10
terms:
  - {label: X, value: "where(isnull(x), 0, x)", weight: 2, illustrative: true}
  - {label: G, when: "x > 0.15", points: 3, illustrative: true}
tiers: [{name: a, threshold: 11, illustrative: true}]
"""


@budget(12)
@given(table=people_tables(), families=st.sampled_from(["impact", "impact", "impact", "impact,proxy,contagion"]),
       rule_text=st.one_of(st.just(TABLE_RULE), st.just(TABLE_RULE), st.just(TABLE_RULE),
                           EXPRESSIONS.map(_valid_rule)))
def test_fuzz_people_tables(table, families, rule_text):
    COUNTS["people tables"] += 1
    columns, fmt, protected = table
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / f"people.{fmt}"
        _write_table(columns, fmt, data)
        rule = tmp / "rule.yaml"
        rule.write_text(rule_text, encoding="utf-8")
        out = tmp / "out"
        code, _, err = cli("run", rule, "--data", data, "--protected", protected, "--families", families,
                           "--min-group-size", "2", "--disclosure-threshold", "2", "--out", out)
        check_contract(code, err, out, [data.name, rule.name, "--"], "people tables")
        assert not (tmp / MARK).exists()


# ------------------------------------------------------------------------------------------ edge lists
EDGE_IDS = st.one_of(st.integers(-2, 45), st.sampled_from([np.nan, "a", "3", 3.0, 3.5, 10**20, True]))


@st.composite
def edge_lists(draw):
    """Half plausible edge lists (ids of the population, self-loops and repeats allowed), half hostile."""
    if draw(st.booleans()):
        ids = st.integers(0, 39)
        rows = draw(st.lists(st.tuples(ids, ids), max_size=120))
        names = draw(st.sampled_from([["source", "target"], ["a", "b"], ["source", "target", "w"],
                                      ["target", "source"]]))
    else:
        rows = draw(st.lists(st.tuples(EDGE_IDS, EDGE_IDS), max_size=80))
        names = draw(st.sampled_from([["source", "target"], ["source", "source"], ["only"], ["𝔰ource", "target"],
                                      ["a", "b"]]))
    fmt = draw(st.sampled_from(["csv", "parquet"]))
    weight = draw(st.sampled_from(["0.3", "0.9", "0.99", "0.999999", "1e-9", "0.5"]))
    tolerance = draw(st.sampled_from(["1.0e-9", "1.0e-15", "1", "1.0e-300"]))
    return rows, names, fmt, weight, tolerance


PEOPLE = pd.DataFrame({"id": np.arange(40), "x": np.linspace(0, 10, 40), "g": ["a", "b"] * 20})


@budget(10)
@given(edges=edge_lists(), families=st.sampled_from(["impact", "impact", "contagion", "impact,proxy,contagion"]))
def test_fuzz_edge_lists(edges, families):
    COUNTS["edge lists"] += 1
    rows, names, fmt, weight, tolerance = edges
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        PEOPLE.to_csv(tmp / "people.csv", index=False)
        width = len(names)
        frame = pd.DataFrame([(list(r) + [1] * width)[:width] for r in rows], columns=range(width))
        frame.columns = names
        path = tmp / f"edges.{fmt}"
        if fmt == "parquet":
            try:
                frame.to_parquet(path)
            except Exception:  # mixed types: store them as text, as a spreadsheet export would
                try:
                    frame.astype(str).to_parquet(path)
                except Exception:  # duplicate names: pyarrow refuses
                    path.write_text("not parquet")
        else:
            frame.to_csv(path, index=False)
        rule = tmp / "net.yaml"
        rule.write_text(TABLE_RULE.replace("name: tablefuzz", "name: netfuzz")
                        + f"network: {{weight: {weight}, tolerance: {tolerance}, illustrative: true}}\n")
        out = tmp / "out"
        code, _, err = cli("run", rule, "--data", tmp / "people.csv", "--graph", path, "--protected", "g",
                           "--families", families, "--min-group-size", "2", "--disclosure-threshold", "2",
                           "--out", out)
        check_contract(code, err, out, [path.name, rule.name, "people.csv"], "edge lists")


# ------------------------------------------------------------------------------------------ options
# Never "/" or another absolute folder: the suite may run as root, and "--out /" would then write there.
OPTION_VALUES = st.one_of(
    st.sampled_from(["", ",", "nan", "-1", "0", "1e400", "x" * 300, "a\u202eb", "impact,,", "--out", "=", "g=",
                     "g=zz", "../../..", "/dev/null", ".", "1.5", "proxy", "inf", "x", "id", "2**64", "g,x,id"]),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="/\0"), max_size=12),
)


@budget(30)
@given(option=st.sampled_from(["--out", "--data", "--graph", "--protected", "--families", "--alpha", "--seed",
                               "--min-group-size", "--intersections", "--reference", "--label", "--id-col",
                               "--disclosure-threshold"]), value=OPTION_VALUES)
def test_fuzz_run_options(option, value):
    COUNTS["option values"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        work = tmp / "a" / "b" / "c"  # relative values ("." and "../../..") stay inside tmp
        work.mkdir(parents=True)
        PEOPLE.assign(y=[0, 1] * 20).to_csv(tmp / "people.csv", index=False)
        (tmp / "rule.yaml").write_text(TABLE_RULE, encoding="utf-8")
        args = {"--data": str(tmp / "people.csv"), "--protected": "g", "--families": "impact",
                "--out": str(tmp / "out"), "--min-group-size": "2", "--disclosure-threshold": "2"}
        args[option] = value
        argv = ["run", str(tmp / "rule.yaml")]
        for k, v in args.items():
            argv += [k, v]
        before = os.getcwd()
        os.chdir(work)
        try:
            code, _, err = cli(*argv)
        finally:
            os.chdir(before)
        out = work / args["--out"]
        check_contract(code, err, out if code == 0 else None, [option, value, "people.csv"], "option values")
