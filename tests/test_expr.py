"""Tests for the safe expression evaluator (audit.rules._expr).

Reference values
----------------
Several tests compare the vectorised evaluator with Python's own evaluation of
the *same text* on scalar values.  For that independent check this test file
calls Python's ``eval`` -- only ever on strings written by the tests themselves
(literals below, or strings assembled by hypothesis from a fixed vocabulary),
never on anything read from a rule file.  The module under test never calls
``eval`` (see ``test_module_never_calls_eval_exec_or_compile``).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import doctest
import os
import pickle
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit._errors import AuditInputError
from audit.rules import _expr
from audit.rules._expr import (
    ALLOWED_FUNCTIONS,
    Expression,
    ExpressionError,
    compile_expression,
    evaluate_columns,
)

NAN = float("nan")
# Namespace for the reference evaluation of test-authored strings: no builtins
# besides the three whose scalar meaning matches the element-wise functions.
REFERENCE_BUILTINS = {"__builtins__": {}, "min": min, "max": max, "abs": abs}


def python_reference(text: str, **scalars: float):
    """Python's own value of a TRUSTED, test-authored expression (the independent check)."""
    return eval(text, dict(REFERENCE_BUILTINS), scalars)  # noqa: S307 - test-authored text only


def ev(text: str, frame) -> np.ndarray:
    return compile_expression(text).evaluate(frame)


@pytest.fixture
def people() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": [1.0, 2.0, NAN, 4.0, -3.0],
            "y": [0, 1, 2, 3, 4],
            "flag": [True, False, True, False, True],
            "name": pd.Series(["minority A", "majority", None, "minority B", "majority"], dtype=object),
            "cat": pd.Categorical(["minority A", "majority", None, "minority B", "majority"]),
            "s": pd.Series(["minority A", "majority", None, "minority B", "majority"], dtype="str"),
            "na_string": pd.Series(["minority A", "majority", None, "minority B", "majority"], dtype="string"),
            "nullable": pd.array([1, None, 3, 4, 5], dtype="Int64"),
            "age_band": ["18-29", "30-49", "18-29", "50+", "30-49"],
        }
    )


# ------------------------------------------------------------------------------------------
# Operators and precedence, against Python's evaluation of the same text
# ------------------------------------------------------------------------------------------

SCALAR_CASES = [
    "1 + 2 * 3",
    "(1 + 2) * 3",
    "-2 ** 2",
    "(-2) ** 2",
    "2 ** -1",
    "-(-2) ** 3",
    "+3 - -2",
    "1 - 2 - 3",
    "10 / 4",
    "7 // 2",
    "-7 // 2",
    "7.5 // -2",
    "-7 % 3",
    "7 % -3",
    "2 * 3 % 4",
    "2 ** 0.5 * 2",
    "True + True",
    "1 < 2",
    "2 <= 2",
    "3 > 4",
    "3 >= 4",
    "1 == 1.0",
    "1 != 1",
    "0 < 1 <= 1",
    "1 < 2 > 3",
    "1 == 1.0 != 2",
    "not 1 < 2 and 3 > 2",
    "not True or True",
    "True or False and False",
    "not (True or False) and False",
    "abs(-3) + 1",
    "min(3, 1, 2) * max(1, 5)",
    "max(-1, -2)",
    "2 in [1, 2, 3]",
    "2 not in (1, 2, 3)",
    "-1 in {-1}",
    "'a' == 'a'",
    "'a' != 'b'",
    "'b' in ['a', 'b']",
]


@pytest.mark.parametrize("text", SCALAR_CASES)
def test_constant_expressions_match_python(text):
    expected = python_reference(text)
    result = ev(text, pd.DataFrame(index=range(3)))
    assert result.shape == (3,)
    assert result.dtype == (bool if isinstance(expected, bool) else np.float64)
    np.testing.assert_allclose(result, np.full(3, float(expected)), rtol=1e-12)


COLUMN_CASES = [
    "a + b * c",
    "a - b - c",
    "-a ** 2",
    "a ** 2 + b ** 3",
    "a / b",
    "a // b",
    "a % b",
    "a * -b",
    "abs(a - 2) ** 2",
    "min(a, b) + max(b, c, 1)",
    "a < b",
    "a <= b",
    "a > b",
    "a >= b",
    "a == b",
    "a != b",
    "a < b <= c",
    "a < b > c",
    "a > 0 and b > 0",
    "a > 0 or b > 0",
    "not a > 0",
    "not a > 0 and b > 0",
    "a > 0 and b > 0 or c > 0",
    "a > 0 or b > 0 and c > 0",
    "a in [1, 2.5, -3]",
    "a not in [1, 2.5, -3]",
    "(a > 0) + (b > 0)",
]
ROWS = {
    "a": [1.0, -3.0, 2.5, 0.5, 4.0, -1.0],
    "b": [2.0, 2.0, 2.5, -0.5, 1.5, 3.0],
    "c": [3.0, 0.5, -2.0, 7.0, 1.5, 0.0],
}


@pytest.mark.parametrize("text", COLUMN_CASES)
def test_column_expressions_match_python_row_by_row(text):
    frame = pd.DataFrame(ROWS)
    result = ev(text, frame)
    expected = [python_reference(text, **row) for row in frame.to_dict("records")]
    assert result.dtype == (bool if isinstance(expected[0], bool) else np.float64)
    np.testing.assert_allclose(result.astype(float), np.array(expected, dtype=float), rtol=1e-12)


def test_logic_is_element_wise_not_short_circuit():
    frame = pd.DataFrame({"a": [True, True, False, False], "b": [True, False, True, False]})
    assert ev("a and b", frame).tolist() == [True, False, False, False]
    assert ev("a or b", frame).tolist() == [True, True, True, False]
    assert ev("not a", frame).tolist() == [False, False, True, True]
    assert ev("not a and b", frame).tolist() == [False, False, True, False]
    assert ev("not (a and b)", frame).tolist() == [False, True, True, True]
    assert ev("a and b or not a", frame).tolist() == [True, False, True, True]
    assert ev("a and b and a and b", frame).tolist() == [True, False, False, False]
    assert ev("a or b or False", frame).tolist() == [True, True, True, False]


def test_numbers_in_logic_are_true_when_non_zero_and_present():
    frame = pd.DataFrame({"n": [0.0, 2.0, NAN, -1.0], "i": [0, 1, 2, 0]})
    assert ev("n and True", frame).tolist() == [False, True, False, True]
    assert ev("not n", frame).tolist() == [True, False, True, False]
    assert ev("i or False", frame).tolist() == [False, True, True, False]


def test_functions(people):
    frame = pd.DataFrame({"v": [-1.5, 0.0, 2.5, 4.0], "w": [1.0, 2.0, 3.0, 0.5]})
    np.testing.assert_array_equal(ev("abs(v)", frame), [1.5, 0.0, 2.5, 4.0])
    np.testing.assert_array_equal(ev("clip(v, 0, 3)", frame), [0.0, 0.0, 2.5, 3.0])
    np.testing.assert_array_equal(ev("clip(v, w, 3)", frame), [1.0, 2.0, 3.0, 3.0])
    np.testing.assert_array_equal(ev("where(v > 0, v, w)", frame), [1.0, 2.0, 2.5, 4.0])
    np.testing.assert_array_equal(ev("floor(v)", frame), [-2.0, 0.0, 2.0, 4.0])
    np.testing.assert_array_equal(ev("ceil(v)", frame), [-1.0, 0.0, 3.0, 4.0])
    np.testing.assert_array_equal(ev("round(v)", frame), [-2.0, 0.0, 2.0, 4.0])  # half to even, as Python
    np.testing.assert_allclose(ev("round(w / 3, 2)", frame), [0.33, 0.67, 1.0, 0.17])
    np.testing.assert_allclose(ev("sqrt(w)", frame), np.sqrt([1.0, 2.0, 3.0, 0.5]))
    np.testing.assert_allclose(ev("exp(w)", frame), np.exp([1.0, 2.0, 3.0, 0.5]))
    np.testing.assert_allclose(ev("log(w)", frame), np.log([1.0, 2.0, 3.0, 0.5]))
    np.testing.assert_allclose(ev("log1p(w)", frame), np.log1p([1.0, 2.0, 3.0, 0.5]))
    np.testing.assert_array_equal(ev("min(v, w, 2)", frame), [-1.5, 0.0, 2.0, 0.5])
    np.testing.assert_array_equal(ev("max(v, w)", frame), [1.0, 2.0, 3.0, 4.0])
    where_bool = ev("where(v > 0, w > 1, False)", frame)
    assert where_bool.dtype == bool and where_bool.tolist() == [False, False, True, False]
    assert ev("isnull(x)", people).tolist() == [False, False, True, False, False]
    assert ev("notnull(x)", people).tolist() == [True, True, False, True, True]
    assert ev("isnull(name)", people).tolist() == [False, False, True, False, False]
    assert ev("isnull(cat) or isnull(s)", people).tolist() == [False, False, True, False, False]
    assert ev("notnull(na_string)", people).tolist() == [True, True, False, True, True]
    assert ev("isnull(y)", people).tolist() == [False] * 5
    assert ALLOWED_FUNCTIONS == tuple(sorted(ALLOWED_FUNCTIONS))
    assert {"min", "max", "abs", "clip", "where", "log", "log1p", "sqrt", "exp", "floor", "ceil",
            "round", "isnull", "notnull"} == set(ALLOWED_FUNCTIONS)


# ------------------------------------------------------------------------------------------
# Text, categories, membership
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["name", "cat", "s", "na_string"])
def test_text_columns_of_every_dtype(people, column):
    assert ev(f"{column} == 'majority'", people).tolist() == [False, True, False, False, True]
    # != is the negation of ==, so it is True for the missing value
    assert ev(f"{column} != 'majority'", people).tolist() == [True, False, True, True, False]
    assert ev(f'{column} in ["minority A", "minority B"]', people).tolist() == [True, False, False, True, False]
    assert ev(f'{column} not in ("minority A", "minority B")', people).tolist() == [
        False, True, True, False, True]
    assert ev(f"{column} in {{'nobody'}}", people).tolist() == [False] * 5
    assert ev(f"{column} in []", people).tolist() == [False] * 5
    assert ev(f"'majority' == {column}", people).tolist() == [False, True, False, False, True]
    assert ev(f"{column} == 'absent category'", people).tolist() == [False] * 5


def test_text_compared_with_text_column(people):
    for other in ("cat", "s", "na_string"):
        assert ev(f"name == {other}", people).tolist() == [True, True, False, True, True]
        assert ev(f"name != {other}", people).tolist() == [False, False, True, False, False]
    frame = pd.DataFrame({"a": ["x", "y", None], "b": ["x", "z", None]})
    assert ev("a == b", frame).tolist() == [True, False, False]


def test_age_band_and_text_combined_with_numbers(people):
    result = ev('age_band == "18-29" and x > 0 or name in ["majority"]', people)
    assert result.tolist() == [True, True, False, False, True]


def test_numeric_membership_and_categories():
    frame = pd.DataFrame({
        "i": [1, 2, 3, 4],
        "f": [1.0, 2.5, NAN, -3.0],
        "b": [True, False, True, False],
        "numcat": pd.Categorical([1, 2, None, 2]),
        "u": np.array([1, 2, 3, 4], dtype=np.uint8),
    })
    assert ev("i in [2, 4]", frame).tolist() == [False, True, False, True]
    assert ev("f in [2.5, -3]", frame).tolist() == [False, True, False, True]
    assert ev("f not in [2.5, -3]", frame).tolist() == [True, False, True, False]
    assert ev("b in [True]", frame).tolist() == [True, False, True, False]
    assert ev("numcat in [2]", frame).tolist() == [False, True, False, True]
    np.testing.assert_array_equal(ev("numcat * 2", frame), [2.0, 4.0, NAN, 4.0])
    assert ev("u > -1", frame).tolist() == [True] * 4
    assert ev("u < 300", frame).tolist() == [True] * 4
    np.testing.assert_array_equal(ev("u - 5", frame), [-4.0, -3.0, -2.0, -1.0])


def test_large_categorical_membership_uses_lookup():
    values = [f"v{k}" for k in range(20)]
    frame = pd.DataFrame({"c": pd.Categorical([*values, None])})
    wanted = values[::2]
    result = ev(f"c in {wanted!r}", frame)
    assert result.tolist() == [k % 2 == 0 for k in range(20)] + [False]


# ------------------------------------------------------------------------------------------
# Missing values, division by zero, dtypes, broadcast
# ------------------------------------------------------------------------------------------


def test_missing_value_semantics():
    frame = pd.DataFrame({"x": [NAN, 1.0]})
    for text in ("x > 0", "x >= 1", "x < 5", "x <= 1", "x == 1", "x == x", "x in [1]", "0 < x < 5"):
        assert ev(text, frame).tolist()[0] is False, text
    assert ev("x != 1", frame).tolist() == [True, False]
    assert ev("x not in [1]", frame).tolist() == [True, False]
    assert ev("not x", frame).tolist() == [True, False]
    for text in ("x + 1", "x * 0", "min(x, 0)", "max(x, 0)", "abs(x)", "clip(x, 0, 1)", "x ** 2"):
        assert np.isnan(ev(text, frame)[0]), text
    np.testing.assert_array_equal(ev("where(isnull(x), 0, x)", frame), [0.0, 1.0])


def test_nullable_dtypes_become_float_with_nan():
    frame = pd.DataFrame({
        "i": pd.array([1, None, 3], dtype="Int64"),
        "f": pd.array([1.5, None, 3.0], dtype="Float64"),
        "b": pd.array([True, None, False], dtype="boolean"),
        "o": pd.Series([1, None, 3], dtype=object),
        "ob": pd.Series([True, None, False], dtype=object),
    })
    np.testing.assert_array_equal(ev("i + 1", frame), [2.0, NAN, 4.0])
    np.testing.assert_array_equal(ev("f * 2", frame), [3.0, NAN, 6.0])
    np.testing.assert_array_equal(ev("o * 2", frame), [2.0, NAN, 6.0])
    assert ev("i > 1", frame).tolist() == [False, False, True]
    assert ev("b and True", frame).tolist() == [True, False, False]
    assert ev("isnull(b) or isnull(ob)", frame).tolist() == [False, True, False]
    assert ev("ob or False", frame).tolist() == [True, False, False]


def test_division_by_zero_is_ieee_and_silent():
    frame = pd.DataFrame({"a": [1.0, 0.0, -1.0], "z": [0, 0, 0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = ev("a / z", frame)
        assert result[0] == np.inf and np.isnan(result[1]) and result[2] == -np.inf
        assert ev("log(z)", frame)[0] == -np.inf
        assert np.isnan(ev("sqrt(a - 2)", frame)).all()
        assert np.isnan(ev("a % z", frame)).all()
        assert ev("1 / 0", frame).tolist() == [np.inf] * 3


def test_constants_broadcast_and_result_dtypes(people):
    n = len(people)
    for text, dtype, value in [("3", np.float64, 3.0), ("-2.5", np.float64, -2.5), ("True", bool, True),
                               ("False", bool, False), ("1 < 2", bool, True), ("2 ** 8", np.float64, 256.0)]:
        result = ev(text, people)
        assert result.shape == (n,) and result.dtype == dtype and (result == value).all(), text
    assert ev("y", people).dtype == np.float64  # int column -> float64
    assert ev("flag", people).dtype == bool
    assert ev("flag * 2", people).tolist() == [2.0, 0.0, 2.0, 0.0, 2.0]
    assert ev("x > 0", pd.DataFrame({"x": []}, dtype=float)).shape == (0,)
    assert ev("3", pd.DataFrame(index=range(0))).shape == (0,)


def test_results_are_writeable_and_never_alias_the_frame(people):
    for text in ("x", "flag", "+x", "y", "cat == 'majority'", "s in ['majority']", "isnull(s)"):
        result = ev(text, people)
        assert result.flags.writeable, text
        before = people.copy()
        result[:] = 0
        pd.testing.assert_frame_equal(people, before)


def test_columns_and_is_boolean():
    e = compile_expression("min(a, b) + c * 2 > d and not flag")
    assert e.columns == frozenset({"a", "b", "c", "d", "flag"})
    assert e.is_boolean
    assert compile_expression("clip(income / 1000, 0, 5)").columns == frozenset({"income"})
    assert compile_expression("1 + 2").columns == frozenset()
    assert compile_expression('ethnicity in ["minority A", "minority B"]').is_boolean
    assert compile_expression("isnull(x)").is_boolean
    assert compile_expression("not x").is_boolean
    assert compile_expression("True").is_boolean
    assert compile_expression("where(c, True, False)").is_boolean
    assert not compile_expression("x").is_boolean
    assert not compile_expression("x + 1").is_boolean
    assert not compile_expression("where(c, x, 0)").is_boolean
    e = compile_expression("x > 1", where="w")
    assert isinstance(e, Expression) and e.text == "x > 1"


def test_mapping_input_and_evaluate_columns():
    data = {"a": np.array([1, 2, 3]), "t": np.array(["p", "q", "p"])}
    np.testing.assert_array_equal(compile_expression("a * 2").evaluate(data), [2.0, 4.0, 6.0])
    assert compile_expression("t == 'p'").evaluate(data).tolist() == [True, False, True]
    assert compile_expression("7").evaluate(data, n=2).tolist() == [7.0, 7.0]
    with pytest.raises(TypeError, match="n \\(the number of rows\\)"):
        compile_expression("7").evaluate(data)
    exprs = [compile_expression("a > 1"), compile_expression("a + 1"), compile_expression("1")]
    results = evaluate_columns(exprs, pd.DataFrame(data))
    assert [r.tolist() for r in results] == [[False, True, True], [2.0, 3.0, 4.0], [1.0, 1.0, 1.0]]
    with pytest.raises(ExpressionError, match="unknown column 'b'"):
        evaluate_columns([compile_expression("a"), compile_expression("b", where="T2")], data)


def test_expressions_pickle_and_compare_equal():
    e = compile_expression("x > 1 and y < 2", where="rules/a.yaml: term 'A'")
    clone = pickle.loads(pickle.dumps(e))
    assert clone == e and clone.where == e.where
    assert clone.evaluate(pd.DataFrame({"x": [2], "y": [1]})).tolist() == [True]


# ------------------------------------------------------------------------------------------
# Property: vectorised == per-row Python
# ------------------------------------------------------------------------------------------

_LEAVES = st.sampled_from(["x", "y", "1", "2.5", "0.5", "3", "-2"])


def _grow(children):
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "//", "%"]), children)
    return st.one_of(
        binary.map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        binary.map(lambda t: f"{t[0]} {t[1]} {t[2]}"),  # unparenthesised: precedence as parsed
        children.map(lambda c: f"-{c}"),
        st.tuples(children, st.integers(0, 3)).map(lambda t: f"({t[0]} ** {t[1]})"),
        st.tuples(children, children).map(lambda t: f"min({t[0]}, {t[1]})"),
        st.tuples(children, children).map(lambda t: f"max({t[0]}, {t[1]})"),
        children.map(lambda c: f"abs({c})"),
    )


_EXPRESSIONS = st.recursive(_LEAVES, _grow, max_leaves=8)
_QUARTERS = st.integers(-20, 20).map(lambda k: k / 4)  # exact binary fractions, never tiny divisors


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_EXPRESSIONS, xs=st.lists(_QUARTERS, min_size=1, max_size=6), data=st.data())
def test_property_vectorised_equals_per_row_python(text, xs, data):
    ys = data.draw(st.lists(_QUARTERS, min_size=len(xs), max_size=len(xs)))
    result = compile_expression(text).evaluate(pd.DataFrame({"x": xs, "y": ys}))
    assert result.shape == (len(xs),) and result.dtype == np.float64
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        try:
            expected = float(python_reference(text, x=x, y=y))
        except (ZeroDivisionError, OverflowError):
            continue  # numpy gives inf/nan here instead of raising (documented)
        np.testing.assert_allclose(result[i], expected, rtol=1e-9, atol=1e-12, err_msg=text)


# ------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------

COMPILE_ERRORS = [
    ("", "the expression is empty"),
    ("   ", "the expression is empty"),
    ("x >", "cannot parse the expression"),
    ("x = 1", "cannot parse the expression"),
    ("open('f')", "function 'open' is not allowed (allowed: abs, ceil, clip,"),
    ("mean(x)", "function 'mean' is not allowed"),
    ("x.y", "attribute access '.y' is not allowed"),
    ("x.__class__", "attribute access '.__class__' is not allowed"),
    ("x.sum()", "attribute access '.sum' is not allowed"),
    ("x[0]", "indexing with [...] is not allowed"),
    ("lambda: 1", "lambda is not allowed"),
    ("[c for c in x]", "comprehensions are not allowed"),
    ("sum(c for c in x)", "function 'sum' is not allowed"),
    ("abs(c for c in x)", "comprehensions are not allowed"),
    ('f"{x}"', "f-strings are not allowed"),
    ("(y := 1)", "assignment with ':=' is not allowed"),
    ("x if y > 0 else z", "use where(condition, a, b)"),
    ("{'a': 1}", "dictionaries are not allowed"),
    ("[1, 2]", "only allowed after 'in'"),
    ("(1, 2)", "only allowed after 'in'"),
    ("x ** 9", "exponent 9 of '**' is too large"),
    ("x ** -9", "exponent -9 of '**' is too large"),
    ("2 ** 10**10", "the exponent of '**' must be a number written in the rule"),
    ("9 ** 9 ** 9", "the exponent of '**' must be a number written in the rule"),
    ("x ** y", "the exponent of '**' must be a number written in the rule, between -8 and 8 (got column 'y')"),
    ("x ** True", "the exponent of '**' must be a number"),
    ("__import__", "name '__import__' is not allowed"),
    ("__x + 1", "name '__x' is not allowed"),
    ("1" + "0" * 40, "is too large (at most 2**53)"),
    ("1e999", "too large"),
    ("x in [1" + "0" * 400 + "]", "is too large (at most 2**53)"),
    ("x ** 1" + "0" * 400, "is too large (at most 2**53)"),
    ("-1" + "0" * 400, "is too large (at most 2**53)"),
    ("x in [1e999]", "too large"),
    ("1j", "complex number"),
    ("b'x'", "bytes constants are not allowed"),
    ("x == None", "use isnull(x) or notnull(x)"),
    ("x is None", "'is' is not allowed"),
    ("x & y", "operator '&' is not allowed (use 'and')"),
    ("x | y", "operator '|' is not allowed (use 'or')"),
    ("x << 1", "operator '<<' is not allowed"),
    ("~x", "operator '~' is not allowed (use 'not')"),
    ("'abc'", "text 'abc' can only be compared with == / != / in"),
    ("'a' + x", "text 'a' can only be compared"),
    ("min('a', x)", "text 'a' can only be compared"),
    ("x < 'a'", "text 'a' can only be compared with == / != / in, not <"),
    ("x + 1 == 'a'", "cannot compare a number with the text 'a'"),
    ("(x > 1) in ['a']", "cannot compare a number with the text list"),
    ("x in y", "'in' must be followed by a list of constants"),
    ("x in [y]", "the list after 'in' may only hold numbers or quoted text"),
    ("x in ['a', 1]", "mixes text and numbers"),
    ("x in [1] == y", "only allowed after 'in' or 'not in'"),
    ("min(x)", "min() takes 2 or more arguments, got 1"),
    ("abs(x, y)", "abs() takes 1 argument, got 2"),
    ("clip(x, 1)", "clip() takes 3 arguments, got 2"),
    ("round(x, y)", "the digits of round(x, digits) must be a whole number"),
    ("round(x, 1.5)", "the digits of round(x, digits) must be a whole number"),
    ("round(x, ndigits=2)", "keyword arguments are not allowed"),
    ("min(*x)", "starred arguments (*) are not allowed"),
    ("(lambda: 1)()", "only the named functions"),
    ("x + " * 600 + "x", "the expression is too long (2401 characters; at most 2000)"),
    ("-" * 150 + "x", "nested too deeply"),
    ("x\0", "cannot parse the expression"),
]


@pytest.mark.parametrize(("text", "message"), COMPILE_ERRORS)
def test_compile_errors(text, message):
    with pytest.raises(ExpressionError) as info:
        compile_expression(text, where="rules/my.yaml: term 'T'")
    text_of_error = str(info.value)
    assert message in text_of_error
    assert text_of_error.startswith("rules/my.yaml: term 'T': ")
    assert "\n" not in text_of_error
    assert isinstance(info.value, AuditInputError)


def test_error_message_format_and_default_prefix():
    with pytest.raises(ExpressionError) as info:
        compile_expression("open('f')", where="rules/my.yaml: term 'Video games'")
    assert str(info.value) == (
        "rules/my.yaml: term 'Video games': function 'open' is not allowed (allowed: abs, ceil, clip, "
        "exp, floor, isnull, log, log1p, max, min, notnull, round, sqrt, where)"
    )
    with pytest.raises(ExpressionError, match=r"^expression 'x\.y': attribute access '\.y' is not allowed$"):
        compile_expression("x.y")
    with pytest.raises(ExpressionError, match="must be text"):
        compile_expression(42)  # type: ignore[arg-type]


def test_node_limit(monkeypatch):
    monkeypatch.setattr(_expr, "MAX_NODES", 10)
    compile_expression("x in [1, 2, 3]")
    with pytest.raises(ExpressionError, match="too complex"):
        compile_expression("x in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]")


EVALUATE_ERRORS = [
    ("name + 1", "column 'name' is text; it can only be compared with == / != / in"),
    ("cat * 2", "column 'cat' is text; it can only be compared with == / != / in"),
    ("-s", "column 's' is text"),
    ("name < 1", "column 'name' is text; it can only be compared with == / != / in"),
    ("abs(na_string)", "column 'na_string' is text"),
    ("not name", "column 'name' is text"),
    ("where(name, 1, 0)", "column 'name' is text"),
    ("name", "column 'name' is text; the expression must give a number or true/false"),
    ("name == 1", "column 'name' is text; compare it with quoted text (e.g. name == \"1\")"),
    ("x == 'a'", "column 'x' holds numbers; it cannot be compared with the text 'a'"),
    ("name in [1, 2]", "column 'name' is text; the list after 'in' must hold quoted text"),
    ("y in ['a']", "column 'y' holds numbers; it cannot be compared with the text list"),
    ("name == x", "column 'name' is text"),
    ("video_games > 10", "unknown column 'video_games' (did you mean 'video_game_hours'?)"),
    ("Flag", "unknown column 'Flag' (did you mean 'flag'?)"),
    ("zzz_qqq", "unknown column 'zzz_qqq'"),
    ("when > 0", "column 'when' has type datetime64"),
]


@pytest.mark.parametrize(("text", "message"), EVALUATE_ERRORS)
def test_evaluate_errors(people, text, message):
    frame = people.assign(video_game_hours=1.0, when=pd.Timestamp("2020-01-01"))
    expression = compile_expression(text, where="rules/my.yaml: term 'X'")
    with pytest.raises(ExpressionError) as info:
        expression.evaluate(frame)
    assert message in str(info.value)
    assert str(info.value).startswith("rules/my.yaml: term 'X': ")
    assert "\n" not in str(info.value)


def test_check_columns_did_you_mean():
    e = compile_expression("video_games > 10 and age > 1", where="rules/my.yaml: term 'Video games'")
    e.check_columns(["video_games", "age"])
    with pytest.raises(ExpressionError) as info:
        e.check_columns(["video_game_hours", "age"])
    assert str(info.value) == (
        "rules/my.yaml: term 'Video games': unknown column 'video_games' (did you mean 'video_game_hours'?)"
    )


def test_duplicate_and_misaligned_columns():
    frame = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(ExpressionError, match="column 'a' appears more than once"):
        ev("a > 0", frame)
    with pytest.raises(ExpressionError, match="column 'b' has 2 values, expected 3"):
        compile_expression("a + b").evaluate({"a": np.zeros(3), "b": np.zeros(2)})


# ------------------------------------------------------------------------------------------
# Hostile input is refused and never executed
# ------------------------------------------------------------------------------------------

HOSTILE = [
    "__import__('os').system('id')",
    "__import__('pathlib').Path('CANARY').touch()",
    "().__class__",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__",
    "lambda: 1",
    "[c for c in x]",
    "open('f')",
    "open('CANARY', 'w')",
    "getattr(x, 'y')",
    "eval('1')",
    "exec('import os')",
    "compile('1', 'f', 'eval')",
    "globals()",
    "9 ** 9 ** 9",
    "10 ** 10 ** 10",
    "x[0]",
    'f"{x}"',
    "(y := 1)",
    "",
    "x +* 2",
    "__builtins__",
    "x.__dict__['y']",
    "[].append(1)",
    "{}.get('x')",
    "type(x)",
    "vars()",
    "breakpoint()",
]


DANGEROUS_MODULES = {"os", "subprocess", "pathlib", "shutil", "socket", "sys", "importlib", "ctypes", "builtins"}


@contextlib.contextmanager
def tripwires(calls: list[str], *, all_imports: bool = True):
    """Make every way of running code record the attempt and fail, for the duration of the block.

    With ``all_imports=False`` only imports of dangerous modules trip (pandas imports lazily).
    """

    def trip(name):
        def tripped(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} was called")

        return tripped

    real_compile = builtins.compile
    real_import = builtins.__import__

    def guarded_import(name, *args, **kwargs):
        if all_imports or name.split(".")[0] in DANGEROUS_MODULES:
            calls.append(f"import {name}")
            raise AssertionError(f"import {name}")
        return real_import(name, *args, **kwargs)

    def ast_only_compile(source, filename, mode, flags=0, *args, **kwargs):
        # ast.parse goes through compile() with PyCF_ONLY_AST: that builds a tree, no code object.
        if not flags & ast.PyCF_ONLY_AST:
            calls.append("compile")
            raise AssertionError("compile() to a code object")
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    # Patched by hand (pytest's monkeypatch itself imports modules, which would trip __import__).
    replacements = [(builtins, name, trip(name))
                    for name in ("eval", "exec", "open", "breakpoint", "globals", "vars")]
    replacements.append((builtins, "__import__", guarded_import))
    replacements += [(builtins, "compile", ast_only_compile), (os, "system", trip("os.system")),
                     (os, "popen", trip("os.popen")), (subprocess, "Popen", trip("subprocess.Popen"))]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in replacements]
    try:
        for owner, name, replacement in replacements:
            setattr(owner, name, replacement)
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_expressions_are_refused_and_not_executed(text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls: list[str] = []
    with pytest.raises(ExpressionError) as info:
        with tripwires(calls):
            expression = compile_expression(text, where="rules/evil.yaml: term 'E'")
            expression.evaluate(pd.DataFrame({"x": [1.0]}))  # only reached if compile let it through
    assert calls == []
    assert not (tmp_path / "CANARY").exists()
    assert str(info.value).startswith("rules/evil.yaml: term 'E': ")
    assert "\n" not in str(info.value)


def test_allowed_expressions_run_under_tripwires(people):
    calls: list[str] = []
    frame = people.assign(video_game_hours=[1.0, 12.0, 3.0, 40.0, 0.0], political_posts=[0, 5, 3, 1, 9],
                          real_name=[True, False, False, True, False], income=[500.0, 2500, 9000, 0, 1e4])
    texts = ["video_game_hours > 10", "min(y, 10)", 'name in ["minority A", "minority B"]',
             "not real_name and political_posts >= 3", "clip(income / 1000, 0, 5)", "abs(x - 2) ** 2",
             'age_band == "18-29"', "where(political_posts > 2, 1, 0)"]
    with tripwires(calls, all_imports=False):
        results = evaluate_columns([compile_expression(t) for t in texts], frame)
    assert calls == []
    assert results[0].tolist() == [False, True, False, True, False]
    assert results[3].tolist() == [False, True, True, False, True]
    np.testing.assert_array_equal(results[4], [0.5, 2.5, 5.0, 0.0, 5.0])


def test_module_never_calls_eval_exec_or_compile():
    source = Path(_expr.__file__).read_text()
    tree = ast.parse(source)
    forbidden = {"eval", "exec", "compile", "__import__", "getattr", "query"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            assert name not in forbidden, f"{name}() at line {node.lineno}"
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            assert not any("numexpr" in m for m in modules)


def test_doctests_pass():
    result = doctest.testmod(_expr, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


_TOKENS = st.sampled_from(["x", "t", "1", "0", "2.5", "'a'", "True", "None", "+", "-", "*", "/", "//", "%", "**",
                           "<", "==", "!=", "in", "not", "and", "or", "(", ")", "[", "]", ",", ".", "min",
                           "abs", "where", "isnull", "clip", "round", "__class__", "lambda", ":", "if", "else"])


@settings(max_examples=300, deadline=None)
@given(tokens=st.lists(_TOKENS, max_size=10))
def test_fuzz_only_expression_errors_escape(tokens):
    text = " ".join(tokens)
    try:
        expression = compile_expression(text)
    except ExpressionError:
        return
    frame = pd.DataFrame({"x": [0.0, 1.5, NAN], "t": ["a", None, "b"]})
    try:
        result = expression.evaluate(frame)
    except ExpressionError:
        return
    assert result.shape == (3,) and result.dtype in (np.float64, np.bool_)
