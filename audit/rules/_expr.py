"""Safe, vectorised expressions for the terms of a points table.

Rule files are **untrusted text**: anyone can publish a YAML points table and
ask for it to be audited.  Their expressions are therefore never handed to
``eval``, ``exec``, ``compile()``, ``pandas.eval`` or ``numexpr``.  Instead the
text is parsed with ``ast.parse(text, mode="eval")`` -- which only builds a
syntax tree and runs nothing -- every node of the tree is checked against a
whitelist, and the tree is compiled once into small Python closures that call
numpy ufuncs on whole columns (no per-row Python).

Grammar
-------
==============  ===================================================================
Construct       What is allowed
==============  ===================================================================
column          a name such as ``video_game_hours`` (not starting with ``__``), matched
                exactly as written
number          ``10``, ``2.5``, ``1e3``, ``True``, ``False`` (integers up to 2**53)
text            ``"18-29"`` -- only as an operand of ``==``, ``!=``, ``in``, ``not in``
arithmetic      ``+ - * / // % **``, unary ``-`` and ``+``; the exponent of ``**``
                must be a number written in the rule, between -8 and 8
comparison      ``== != < <= > >=``, also chained: ``0 < x <= 5``
membership      ``x in [...]`` / ``x not in (...)`` with a list, tuple or set of
                constants (all numbers or all text)
logic           ``and``, ``or``, ``not`` -- element-wise, never short-circuit
functions       ``abs(x)``, ``ceil(x)``, ``clip(x, lo, hi)``, ``exp(x)``,
                ``floor(x)``, ``isnull(x)``, ``log(x)``, ``log1p(x)``,
                ``max(a, b, ...)``, ``min(a, b, ...)``, ``notnull(x)``,
                ``round(x[, digits])``, ``sqrt(x)``, ``where(cond, a, b)``
==============  ===================================================================

Everything else is refused with :class:`ExpressionError` before anything runs:
attribute access, indexing, ``lambda``, comprehensions, f-strings, ``:=``,
``a if c else b`` (use ``where``), keyword or starred arguments, ``is``,
bitwise operators, ``None`` and any function not in the list.  Limits: at most
2000 characters, 1000 syntax nodes and a nesting depth of 100.

Semantics
---------
* **Names** are matched exactly as written.  Python itself would read ``𝔤``
  or ``ｇ`` as ``g`` (it normalises identifiers to NFKC), so a rule could
  appear to read one column and read another; here ``𝔤`` reads only a column
  named ``𝔤``, and a function name must be written plainly (``ｍin`` is
  refused).
* **Numbers.**  Number columns of any dtype (ints, unsigned, floats, nullable
  ``Int64``/``Float64``, categoricals with numeric categories) are read as
  float64 for arithmetic and functions.  ``True`` counts as 1 in arithmetic.
  The result is a float64 array, or a bool array for conditions.
* **Number written in the rule, compared with a column** (``==``, ``!=``,
  ``<``, ``<=``, ``>``, ``>=``, ``in``, ``not in``) is first rounded to the
  column's precision, so on a float32 column (common in Parquet files), whose
  stored 0.1 is 0.100000001490116, ``rate == 0.1`` and ``rate in [0.1, 0.2]``
  both match it, and ``x in [a, b]`` is always ``x == a or x == b``.  (A
  number beyond float32's range is compared exactly: it equals nothing.)
* **Missing values** (NaN, None, ``pd.NA``).  Arithmetic and functions
  propagate NaN (``min``/``max`` too).  A comparison with a missing value is
  False (``==``, ``<``, ``<=``, ``>``, ``>=``, ``in``); ``!=`` and ``not in``
  are exactly the negation of ``==`` and ``in``, so they are True for a
  missing value -- as in numpy and pandas.  In ``and``/``or``/``not``, as
  the condition of ``where`` and as a whole condition (a rule's ``when:``,
  see :func:`as_condition`) a missing value counts as False (so ``not x`` is
  True where ``x`` is missing) and any other number counts as True when it is
  non-zero.  Use ``isnull(x)`` / ``notnull(x)`` to test for missing values.
* **Division by zero and domain errors** follow IEEE arithmetic, silently:
  ``1/0`` is ``inf``, ``0/0`` is NaN, ``log(0)`` is ``-inf``, ``sqrt(-1)`` and
  ``(-8) ** 0.5`` are NaN.  (Python itself would raise; numpy does not.)
* **Text columns** (object, pandas ``str``/``string``, categoricals with text
  categories) can be compared with ``==``, ``!=``, ``in``, ``not in`` against
  quoted text, with ``==``/``!=`` against another text column, and tested with
  ``isnull``/``notnull``.  Ordering, arithmetic or logic on text raises
  :class:`ExpressionError` naming the column.  Column types are only known
  when the expression is evaluated, so this check (and the check for unknown
  columns) happens in :meth:`Expression.evaluate`.
"""

from __future__ import annotations

import ast
import difflib
import math
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from audit._errors import AuditInputError
from audit._limits import EXPRESSION_CHARS, EXPRESSION_DEPTH, EXPRESSION_NODES

__all__ = [
    "ALLOWED_FUNCTIONS",
    "Expression",
    "ExpressionError",
    "as_condition",
    "compile_expression",
    "evaluate_columns",
]

MAX_LENGTH = EXPRESSION_CHARS.value
MAX_NODES = EXPRESSION_NODES.value
MAX_DEPTH = EXPRESSION_DEPTH.value
MAX_EXPONENT = 8
MAX_INT = 2**53  # larger integers are not exactly representable as float64
MAX_ROUND_DIGITS = 15


class ExpressionError(AuditInputError):
    """A rule expression that is malformed, forbidden or cannot be evaluated.

    The message is one line, starts with the ``where`` given to
    :func:`compile_expression` (e.g. ``rules/my.yaml: term 'Video games'``) and
    names the offending token or column.
    """


class _Problem(Exception):
    """Raised inside the compiler and the closures; turned into ExpressionError with a prefix."""


# --------------------------------------------------------------------------------------------
# Values seen while evaluating
# --------------------------------------------------------------------------------------------


class _Text:
    """A text column: kept as a pandas Series so that str/category dtypes stay fast."""

    __slots__ = ("name", "series")

    def __init__(self, name: str, series: pd.Series) -> None:
        self.name = name
        self.series = series


def _text_only(name: str) -> str:
    return f"column {name!r} is text; it can only be compared with == / != / in"


def _to_bool_array(result: pd.Series) -> np.ndarray:
    """A fresh pandas boolean result as a writeable numpy bool array, missing -> False."""
    if result.dtype == bool:
        # ``to_numpy()`` would be a read-only view (copy-on-write); the result is ours alone.
        return np.asarray(result.array)
    return result.to_numpy(dtype=bool, na_value=False)


def _text_isin(text: _Text, values: list[str]) -> np.ndarray:
    """Element-wise ``text in values``; missing -> False.  Categoricals compare their codes."""
    series = text.series
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.array.codes  # a view, no copy
        table = np.asarray(series.cat.categories.isin(values), dtype=bool)
        hits = [int(k) for k in np.flatnonzero(table)]  # Python ints: no upcast of int8 codes
        if not hits:
            return np.zeros(len(codes), dtype=bool)
        if len(hits) > 8:
            return np.append(table, False)[codes]  # code -1 (missing) picks the final False
        out = codes == hits[0]
        for k in hits[1:]:
            out |= codes == k
        return out
    return _to_bool_array(series.isin(values))


def _classify(name: str, values: Any) -> np.ndarray | _Text:
    """Read one column: a numpy number/bool array (nullable -> float64 with NaN) or a _Text."""
    if not isinstance(values, (pd.Series, pd.Index)):
        array = np.asarray(values)
        if array.ndim != 1:
            raise _Problem(f"column {name!r} must be one-dimensional")
        values = pd.Series(array, copy=False)
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        categories = dtype.categories
        if categories.dtype.kind in "iufb":
            as_float = categories.dtype if categories.dtype.kind == "f" else np.float64
            table = np.append(categories.to_numpy(dtype=as_float), np.array(np.nan, dtype=as_float))
            return table[values.array.codes]  # code -1 (missing) -> NaN
        return _Text(name, values)
    if isinstance(dtype, pd.StringDtype):
        return _Text(name, values)
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        inferred = pd.api.types.infer_dtype(values, skipna=True)
        if inferred == "boolean":
            if values.isna().any():
                return values.to_numpy(dtype=np.float64, na_value=np.nan)
            return values.to_numpy(dtype=bool)
        if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
            return values.to_numpy(dtype=np.float64, na_value=np.nan)
        if inferred == "empty":
            return np.full(len(values), np.nan)
        return _Text(name, values)
    if pd.api.types.is_bool_dtype(dtype):
        if not isinstance(dtype, np.dtype) and values.hasnans:
            return values.to_numpy(dtype=np.float64, na_value=np.nan)
        return values.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        if isinstance(dtype, np.dtype):
            return values.to_numpy()
        # Nullable Float32 / float32[pyarrow] keep their precision, so literals match as on numpy float32.
        stored = dtype.numpy_dtype if hasattr(dtype, "numpy_dtype") else None
        as_float = stored if stored is not None and stored.kind == "f" else np.float64
        return values.to_numpy(dtype=as_float, na_value=np.nan)
    if pd.api.types.is_string_dtype(dtype):
        return _Text(name, values)
    raise _Problem(f"column {name!r} has type {dtype}; expressions can only use numbers, true/false and text")


class _Env:
    """One evaluation: the data, its length and a per-call cache of the columns read."""

    __slots__ = ("data", "n", "raw_cache")

    def __init__(self, data: Any, n: int) -> None:
        self.data = data
        self.n = n
        self.raw_cache: dict[str, Any] = {}

    def raw(self, name: str) -> Any:
        """The column as stored (ints stay ints: arithmetic casts them to float64 on the fly)."""
        try:
            return self.raw_cache[name]
        except KeyError:
            pass
        column = self.data[name]
        if isinstance(column, pd.DataFrame):
            raise _Problem(f"column {name!r} appears more than once")
        value = _classify(name, column)
        if len(value.series if isinstance(value, _Text) else value) != self.n:
            raise _Problem(f"column {name!r} has {len(column)} values, expected {self.n}")
        self.raw_cache[name] = value
        return value

    def is_column(self, array: np.ndarray) -> bool:
        """True when ``array`` is one of the columns read (so must be copied before returning)."""
        return any(array is v for v in self.raw_cache.values())


def _number(value: Any) -> Any:
    """An operand of arithmetic: a number/bool array or a float; text is refused.

    Arrays are not converted here: ufuncs are called with ``dtype=float64`` so
    that int and bool columns are cast chunk by chunk, without a full copy.
    """
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, _Text):
        raise _Problem(_text_only(value.name))
    return float(value)


def _float(value: Any) -> Any:
    value = _number(value)
    if isinstance(value, np.ndarray) and value.dtype != np.float64:
        return value.astype(np.float64)
    return value


def _truth(value: Any) -> Any:
    """An operand of and/or/not/where: bool array or bool; missing and 0 -> False."""
    if isinstance(value, np.ndarray):
        if value.dtype == bool:
            return value
        if value.dtype.kind == "f":
            return np.logical_and(value != 0, ~np.isnan(value))
        return value != 0
    if isinstance(value, _Text):
        raise _Problem(_text_only(value.name))
    return bool(value == value and value != 0)


def _low_precision(value: Any) -> bool:
    """A float array stored with less precision than float64 (float32, float16)."""
    return isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.dtype.itemsize < 8


def _literal(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _at_precision(dtype: np.dtype, value: float) -> Any:
    """A number written in the rule, rounded to the precision of the float column it is compared with.

    One rule for ``==``, ordering and ``in`` (numpy alone would round for ``==`` but not
    for ``np.isin``).  A number beyond the column's range stays float64: it equals nothing.
    """
    with np.errstate(over="ignore"):
        rounded = dtype.type(value)
    return rounded if np.isfinite(rounded) else np.float64(value)


def _same_precision(a: Any, b: Any) -> tuple[Any, Any]:
    if _low_precision(a) and _literal(b):
        return a, _at_precision(a.dtype, b)
    if _low_precision(b) and _literal(a):
        return _at_precision(b.dtype, a), b
    return a, b


def _is_boolish(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.dtype == bool
    return isinstance(value, (bool, np.bool_))


# --------------------------------------------------------------------------------------------
# The compiler
# --------------------------------------------------------------------------------------------

_Fn = Callable[[_Env], Any]
_NO_CONST = object()


@dataclass(frozen=True)
class _Node:
    fn: _Fn
    kind: str  # "num" | "bool" | "text" | "any" (a column or something only known at run time)
    column: str | None = None  # set when the node is a bare column reference
    const: Any = _NO_CONST  # set when the node is a constant


def _const_node(value: Any) -> _Node:
    kind = "bool" if isinstance(value, bool) else "text" if isinstance(value, str) else "num"
    return _Node(lambda env: value, kind, const=value)


_ARITHMETIC = {
    ast.Add: ("+", np.add),
    ast.Sub: ("-", np.subtract),
    ast.Mult: ("*", np.multiply),
    ast.Div: ("/", np.true_divide),
    ast.FloorDiv: ("//", np.floor_divide),
    ast.Mod: ("%", np.remainder),
}
_BITWISE = {
    ast.BitAnd: "'&' is not allowed (use 'and')",
    ast.BitOr: "'|' is not allowed (use 'or')",
    ast.BitXor: "'^' is not allowed",
    ast.LShift: "'<<' is not allowed",
    ast.RShift: "'>>' is not allowed",
    ast.MatMult: "'@' is not allowed",
}
_ORDERING = {ast.Lt: ("<", np.less), ast.LtE: ("<=", np.less_equal), ast.Gt: (">", np.greater),
             ast.GtE: (">=", np.greater_equal)}
_UNARY_FUNCTIONS = {
    "abs": np.abs, "ceil": np.ceil, "exp": np.exp, "floor": np.floor,
    "log": np.log, "log1p": np.log1p, "sqrt": np.sqrt,
}
#: Every function an expression may call.
ALLOWED_FUNCTIONS: tuple[str, ...] = tuple(
    sorted([*_UNARY_FUNCTIONS, "clip", "isnull", "max", "min", "notnull", "round", "where"])
)
_FORBIDDEN: dict[type, str] = {
    ast.Subscript: "indexing with [...] is not allowed",
    ast.Slice: "indexing with [...] is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.NamedExpr: "assignment with ':=' is not allowed",
    ast.IfExp: "'a if condition else b' is not allowed; use where(condition, a, b)",
    ast.Dict: "dictionaries are not allowed",
    ast.List: "a list of values is only allowed after 'in' or 'not in'",
    ast.Tuple: "a list of values is only allowed after 'in' or 'not in'",
    ast.Set: "a list of values is only allowed after 'in' or 'not in'",
    ast.Starred: "starred arguments (*) are not allowed",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
}
# AST nodes that carry no content of their own; not counted against MAX_NODES.
_MARKERS = (ast.expr_context, ast.operator, ast.boolop, ast.unaryop, ast.cmpop)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _signed_number(node: ast.AST) -> float | None:
    """The value of ``5``, ``-2.5`` or ``+1`` written as a constant (bools excluded), else None."""
    sign = 1
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        if isinstance(node.op, ast.USub):
            sign = -sign
        node = node.operand
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        value = node.value
        if isinstance(value, int) and abs(value) > MAX_INT:
            raise _Problem(f"number {_short(str(value), 30)} is too large (at most 2**53)")
        if isinstance(value, float) and not math.isfinite(value):
            raise _Problem("a number in the expression is too large to be represented")
        return sign * value
    return None


class _Compiler:
    def __init__(self, source: str) -> None:
        self.columns: set[str] = set()
        self.source = source

    def _written(self, node: ast.Name) -> str:
        """A name exactly as written in the rule (the AST holds its NFKC form: 'ｇ' and '𝔤' become 'g')."""
        return ast.get_source_segment(self.source, node) or node.id

    # Contexts: "value" (arithmetic; columns read as float64), "raw" (logic, isnull; columns read as
    # stored) and "compare" (operands of ==, <, in ...; as "raw" and text constants are allowed).
    def build(self, node: ast.AST, ctx: str) -> _Node:
        if isinstance(node, ast.Constant):
            return self._constant(node, ctx)
        if isinstance(node, ast.Name):
            return self._name(node, ctx)
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.UnaryOp):
            return self._unaryop(node)
        if isinstance(node, ast.BoolOp):
            return self._boolop(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Attribute):
            raise _Problem(f"attribute access '.{node.attr}' is not allowed")
        raise _Problem(_FORBIDDEN.get(type(node), f"{type(node).__name__} is not allowed"))

    # -- leaves ------------------------------------------------------------------------------
    def _constant(self, node: ast.Constant, ctx: str) -> _Node:
        value = node.value
        if isinstance(value, bool):
            return _const_node(value)
        if isinstance(value, int):
            if abs(value) > MAX_INT:
                raise _Problem(f"number {_short(str(value), 30)} is too large (at most 2**53)")
            return _const_node(value)  # kept an int: int columns compare without a cast
        if isinstance(value, float):
            if not math.isfinite(value):
                raise _Problem("a number in the expression is too large to be represented")
            return _const_node(value)
        if isinstance(value, str):
            if ctx != "compare":
                raise _Problem(f"text {_short(value, 40)!r} can only be compared with == / != / in")
            return _const_node(value)
        if value is None:
            raise _Problem("None is not allowed; use isnull(x) or notnull(x) to test for missing values")
        if isinstance(value, complex):
            raise _Problem(f"complex number {value!r} is not allowed")
        if isinstance(value, bytes):
            raise _Problem("bytes constants are not allowed")
        raise _Problem(f"constant {_short(repr(value), 30)} is not allowed")

    def _name(self, node: ast.Name, ctx: str) -> _Node:
        name = self._written(node)
        if name.startswith("__") or node.id.startswith("__"):
            raise _Problem(f"name {name!r} is not allowed (names starting with '__' are reserved)")
        self.columns.add(name)
        return _Node(lambda env: env.raw(name), "any", column=name)

    # -- arithmetic --------------------------------------------------------------------------
    def _binop(self, node: ast.BinOp) -> _Node:
        op = type(node.op)
        if op in _BITWISE:
            raise _Problem(f"operator {_BITWISE[op]}")
        if op is ast.Pow:
            return self._power(node)
        symbol, ufunc = _ARITHMETIC[op]
        left = self.build(node.left, "value").fn
        right = self.build(node.right, "value").fn

        def run(env: _Env) -> Any:
            return ufunc(_number(left(env)), _number(right(env)), dtype=np.float64)

        return _Node(run, "num")

    def _power(self, node: ast.BinOp) -> _Node:
        exponent = _signed_number(node.right)
        if exponent is None:
            raise _Problem(f"the exponent of '**' must be a number written in the rule, between "
                           f"-{MAX_EXPONENT} and {MAX_EXPONENT} (got {_describe(node.right)})")
        if not abs(exponent) <= MAX_EXPONENT:
            raise _Problem(f"exponent {exponent:g} of '**' is too large (at most {MAX_EXPONENT} in absolute value)")
        base = self.build(node.left, "value").fn
        if exponent == 2:
            def run(env: _Env) -> Any:
                return np.square(_number(base(env)), dtype=np.float64)
        else:
            e = float(exponent)

            def run(env: _Env) -> Any:
                return np.power(_number(base(env)), e, dtype=np.float64)

        return _Node(run, "num")

    def _unaryop(self, node: ast.UnaryOp) -> _Node:
        if isinstance(node.op, ast.Invert):
            raise _Problem("operator '~' is not allowed (use 'not')")
        if isinstance(node.op, ast.Not):
            operand = self.build(node.operand, "raw").fn
            return _Node(lambda env: np.logical_not(_truth(operand(env))), "bool")
        folded = _signed_number(node)
        if folded is not None:
            return self._constant(ast.Constant(folded), "value")
        operand = self.build(node.operand, "value").fn
        if isinstance(node.op, ast.USub):
            return _Node(lambda env: np.negative(_number(operand(env)), dtype=np.float64), "num")
        return _Node(lambda env: _float(operand(env)), "num")

    # -- logic -------------------------------------------------------------------------------
    def _boolop(self, node: ast.BoolOp) -> _Node:
        ufunc = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        fns = [self.build(v, "raw").fn for v in node.values]
        return _Node(_chain(ufunc, [lambda env, f=f: _truth(f(env)) for f in fns]), "bool")

    def _compare(self, node: ast.Compare) -> _Node:
        compiled: list[_Node | None] = [self.build(node.left, "compare")]
        pairs: list[Callable[[Any, Any], Any]] = []
        for i, (op, right) in enumerate(zip(node.ops, node.comparators, strict=True)):
            left = compiled[i]
            assert left is not None  # a list literal is never on the left (checked below)
            if isinstance(op, (ast.Is, ast.IsNot)):
                raise _Problem("'is' is not allowed; use == or isnull(x)")
            if isinstance(op, (ast.In, ast.NotIn)):
                if not isinstance(right, (ast.List, ast.Tuple, ast.Set)):
                    raise _Problem(f"'in' must be followed by a list of constants such as [\"a\", \"b\"] "
                                   f"(got {_describe(right)})")
                if i != len(node.ops) - 1:
                    raise _Problem("a list of values is only allowed after 'in' or 'not in'")
                pairs.append(_membership(left, right, negate=isinstance(op, ast.NotIn)))
                compiled.append(None)
                continue
            right_node = self.build(right, "compare")
            compiled.append(right_node)
            if isinstance(op, (ast.Eq, ast.NotEq)):
                pairs.append(_equality(left, right_node, negate=isinstance(op, ast.NotEq)))
            else:
                symbol, ufunc = _ORDERING[type(op)]
                for side in (left, right_node):
                    if side.kind == "text":
                        raise _Problem(f"text {_short(side.const, 40)!r} can only be compared with "
                                       f"== / != / in, not {symbol}")
                pairs.append(_ordering(ufunc))
        fns = [c.fn if c is not None else (lambda env: None) for c in compiled]

        if len(pairs) == 1:
            pair, fl, fr = pairs[0], fns[0], fns[1]
            return _Node(lambda env: pair(fl(env), fr(env)), "bool")

        def run(env: _Env) -> Any:
            values = [f(env) for f in fns]  # each operand evaluated once, as in Python
            out = pairs[0](values[0], values[1])
            for k in range(1, len(pairs)):
                out = _and_into(out, pairs[k](values[k], values[k + 1]))
            return out

        return _Node(run, "bool")

    # -- calls -------------------------------------------------------------------------------
    def _call(self, node: ast.Call) -> _Node:
        func = node.func
        if isinstance(func, ast.Attribute):
            raise _Problem(f"attribute access '.{func.attr}' is not allowed")
        if not isinstance(func, ast.Name):
            raise _Problem(f"only the named functions {', '.join(ALLOWED_FUNCTIONS)} can be called")
        name = self._written(func)
        if name not in ALLOWED_FUNCTIONS:
            raise _Problem(f"function {name!r} is not allowed (allowed: {', '.join(ALLOWED_FUNCTIONS)})")
        if node.keywords:
            raise _Problem(f"keyword arguments are not allowed (in {name}(...))")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise _Problem(f"starred arguments (*) are not allowed (in {name}(...))")
        args = node.args
        arity = {"min": (2, None), "max": (2, None), "clip": (3, 3), "where": (3, 3), "round": (1, 2)}
        lo, hi = arity.get(name, (1, 1))
        if len(args) < lo or (hi is not None and len(args) > hi):
            expected = f"{lo}" if lo == hi else f"{lo} or more" if hi is None else f"{lo} or {hi}"
            raise _Problem(f"{name}() takes {expected} argument{'s' if hi != 1 else ''}, got {len(args)}")

        if name in _UNARY_FUNCTIONS:
            ufunc = _UNARY_FUNCTIONS[name]
            arg = self.build(args[0], "value").fn
            return _Node(lambda env: ufunc(_number(arg(env)), dtype=np.float64), "num")
        if name in ("min", "max"):
            ufunc = np.minimum if name == "min" else np.maximum
            fns = [self.build(a, "value").fn for a in args]
            return _Node(_chain(ufunc, [lambda env, f=f: _number(f(env)) for f in fns], np.float64), "num")
        if name == "clip":
            x, lo_fn, hi_fn = (self.build(a, "value").fn for a in args)
            return _Node(lambda env: np.clip(_number(x(env)), _number(lo_fn(env)), _number(hi_fn(env)),
                                             dtype=np.float64), "num")
        if name == "round":
            digits = 0
            if len(args) == 2:
                value = _signed_number(args[1])
                if value is None or value != int(value) or abs(value) > MAX_ROUND_DIGITS:
                    raise _Problem(f"the digits of round(x, digits) must be a whole number between "
                                   f"-{MAX_ROUND_DIGITS} and {MAX_ROUND_DIGITS} written in the rule")
                digits = int(value)
            x = self.build(args[0], "value").fn
            return _Node(lambda env: np.round(_float(x(env)), digits), "num")
        if name in ("isnull", "notnull"):
            x = self.build(args[0], "raw").fn
            if name == "isnull":
                return _Node(lambda env: _isnull(x(env), env.n), "bool")
            return _Node(lambda env: np.logical_not(_isnull(x(env), env.n)), "bool")
        # where(cond, a, b)
        cond_node = self.build(args[0], "raw")
        a_node, b_node = self.build(args[1], "value"), self.build(args[2], "value")
        cond, a_fn, b_fn = cond_node.fn, a_node.fn, b_node.fn
        kinds = {a_node.kind, b_node.kind}
        kind = "bool" if kinds == {"bool"} else "num" if "num" in kinds else "any"

        def run(env: _Env) -> Any:
            c, a, b = _truth(cond(env)), a_fn(env), b_fn(env)
            if _is_boolish(a) and _is_boolish(b):
                return np.where(c, a, b)
            return np.where(c, _float(a), _float(b))

        return _Node(run, kind)


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return f"column {node.id!r}"
    return repr(_short(ast.unparse(node), 40))


def _and_into(out: Any, value: Any) -> Any:
    if isinstance(out, np.ndarray) and out.ndim == 1:
        return np.logical_and(out, value, out=out)
    return np.logical_and(out, value)


def _chain(ufunc: np.ufunc, fns: Sequence[_Fn], dtype: Any = None) -> _Fn:
    """Fold ``fns`` with a binary ufunc, reusing the first result array as the output buffer."""
    first, second, rest = fns[0], fns[1], fns[2:]
    if not rest:
        return lambda env: ufunc(first(env), second(env), dtype=dtype)

    def run(env: _Env) -> Any:
        out = ufunc(first(env), second(env), dtype=dtype)  # a fresh array (or scalar) we own
        for f in rest:
            value = f(env)
            if isinstance(out, np.ndarray) and out.ndim == 1:
                ufunc(out, value, out=out, dtype=dtype)
            else:
                out = ufunc(out, value, dtype=dtype)
        return out

    return run


def _isnull(value: Any, n: int) -> Any:
    if isinstance(value, _Text):
        return _to_bool_array(value.series.isna())
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            return np.isnan(value)
        return np.zeros(value.shape, dtype=bool)
    return bool(value != value)


def _equality(left: _Node, right: _Node, *, negate: bool) -> Callable[[Any, Any], Any]:
    """``==`` / ``!=``: numbers with numbers, text with text; ``!=`` is the negation of ``==``."""
    kinds = {left.kind, right.kind}
    if "text" in kinds and kinds & {"num", "bool"}:
        text = left.const if left.kind == "text" else right.const
        raise _Problem(f"cannot compare a number with the text {_short(text, 40)!r}")
    names = (left.column, right.column)

    def run(a: Any, b: Any) -> Any:
        a_text, b_text = isinstance(a, (_Text, str)), isinstance(b, (_Text, str))
        if a_text or b_text:
            if not (a_text and b_text):
                raise _Problem(_mixed_message(a, b, names))
            eq = _text_equal(a, b)
        elif negate:
            return np.not_equal(*_same_precision(a, b))
        else:
            return np.equal(*_same_precision(a, b))
        return np.logical_not(eq) if negate else eq

    return run


def _mixed_message(a: Any, b: Any, names: tuple[str | None, str | None]) -> str:
    text, number, number_name = (a, b, names[1]) if isinstance(a, (_Text, str)) else (b, a, names[0])
    if isinstance(text, _Text):
        example = f"{number:g}" if isinstance(number, (int, float)) else "..."
        return (f"column {text.name!r} is text; compare it with quoted text "
                f"(e.g. {text.name} == \"{example}\")")
    if number_name is not None:
        return f"column {number_name!r} holds numbers; it cannot be compared with the text {_short(text, 40)!r}"
    return f"cannot compare a number with the text {_short(text, 40)!r}"


def _text_equal(a: _Text | str, b: _Text | str) -> Any:
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, str):
        a, b = b, a
    assert isinstance(a, _Text)
    if isinstance(b, str):
        if isinstance(a.series.dtype, pd.CategoricalDtype):
            return _text_isin(a, [b])
        return _to_bool_array(a.series == b)
    missing = a.series.isna().to_numpy() | b.series.isna().to_numpy()
    x = a.series.to_numpy(dtype=object, na_value=None)
    y = b.series.to_numpy(dtype=object, na_value=None)
    eq = np.asarray(x == y, dtype=bool)
    eq &= ~missing
    return eq


def _ordering(ufunc: np.ufunc) -> Callable[[Any, Any], Any]:
    def run(a: Any, b: Any) -> Any:
        for side in (a, b):
            if isinstance(side, _Text):
                raise _Problem(_text_only(side.name))
        return ufunc(*_same_precision(a, b))

    return run


def _membership(left: _Node, node: ast.List | ast.Tuple | ast.Set, *, negate: bool) -> Callable[[Any, Any], Any]:
    """``x in [...]``: vectorised with pandas ``isin`` (text) or ``np.isin`` (numbers)."""
    items: list[Any] = []
    for element in node.elts:
        number = _signed_number(element)
        if number is not None:
            items.append(float(number))
        elif isinstance(element, ast.Constant) and isinstance(element.value, (str, bool)):
            items.append(element.value)
        else:
            raise _Problem(f"the list after 'in' may only hold numbers or quoted text (got {_describe(element)})")
    texts = [v for v in items if isinstance(v, str)]
    if texts and len(texts) != len(items):
        raise _Problem("the list after 'in' mixes text and numbers")
    text_list = bool(texts)
    if text_list and left.kind in ("num", "bool"):
        raise _Problem(f"cannot compare a number with the text list {_short(repr(texts), 40)}")
    if left.kind == "text" and items and not text_list:
        raise _Problem(f"cannot compare the text {_short(left.const, 40)!r} with a list of numbers")
    numbers = np.asarray([float(v) for v in items], dtype=np.float64) if not text_list else None
    values = tuple(items)
    name = left.column

    def run(a: Any, _unused: Any) -> Any:
        if isinstance(a, _Text):
            if values and not text_list:
                raise _Problem(f"column {a.name!r} is text; the list after 'in' must hold quoted text")
            result = _text_isin(a, list(values))
        elif isinstance(a, np.ndarray):
            if text_list:
                who = f"column {name!r} holds numbers" if name else "a number"
                raise _Problem(f"{who}; it cannot be compared with the text list {_short(repr(texts), 40)}")
            if _low_precision(a):
                rounded = [_at_precision(a.dtype, v) for v in numbers.tolist()]
                result = np.isin(a, np.asarray([v for v in rounded if v.dtype == a.dtype], dtype=a.dtype))
            else:
                result = np.isin(a, numbers)
        else:
            result = bool(a == a) and a in values
        return np.logical_not(result) if negate else result

    return run


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _prefix(where: str, text: str) -> str:
    return where if where else f"expression {_short(text)!r}"


@dataclass(frozen=True)
class Expression:
    """A compiled, safe expression.  Build it with :func:`compile_expression`.

    Attributes
    ----------
    text : str
        The expression as written.
    columns : frozenset of str
        Every column the expression reads.
    is_boolean : bool
        Best static guess that the result is a condition (a comparison,
        ``and``/``or``/``not``, ``in``, ``isnull``/``notnull``, ``True``/``False``).
    where : str
        The location prefixed to error messages.
    """

    text: str
    columns: frozenset[str]
    is_boolean: bool
    where: str = ""
    _run: _Fn = field(default=lambda env: None, repr=False, compare=False)

    def __reduce__(self) -> tuple[Any, ...]:
        # Closures do not pickle; recompiling the text is cheap and equally safe.
        return (_recompile, (self.text, self.where))

    def _error(self, message: str) -> ExpressionError:
        return ExpressionError(f"{_prefix(self.where, self.text)}: {message}")

    def check_columns(self, available: Iterable[Any]) -> None:
        """Raise :class:`ExpressionError` for the first column not in ``available`` (with a did-you-mean)."""
        names = list(available)
        present = set(names)
        for column in sorted(self.columns):
            if column not in present:
                raise self._error(_unknown_column(column, names))

    def evaluate(self, frame: pd.DataFrame | Mapping[str, Any], n: int | None = None) -> np.ndarray:
        """Evaluate on every row at once.

        Parameters
        ----------
        frame : pandas.DataFrame or mapping of str to array
            The data.  A mapping of column name to 1-d array (or Series) is
            accepted too; then ``n`` gives the number of rows when the
            expression reads no column.
        n : int, optional
            Number of rows; defaults to ``len(frame)`` or the length of the
            columns read.

        Returns
        -------
        numpy.ndarray
            Length ``n``; dtype bool for conditions, float64 otherwise.
        """
        return evaluate_columns([self], frame, n)[0]


def as_condition(values: np.ndarray) -> np.ndarray:
    """An evaluated condition as true/false per person: the one missing-value rule for conditions.

    A missing value (NaN, from a nullable true/false or a number column) counts as
    false, as it does inside ``and``/``or``/``not`` and ``where``; any other number
    counts as true when it is non-zero.  A rule's ``when:`` terms are scored with this
    rule by every audit family.

    Examples
    --------
    >>> import numpy as np
    >>> as_condition(np.array([1.0, 0.0, np.nan, -2.0])).tolist()
    [True, False, False, True]
    """
    values = np.asarray(values)
    if values.dtype == bool:
        return values
    return np.asarray(_truth(values.astype(np.float64, copy=False)), dtype=bool)


def _recompile(text: str, where: str) -> Expression:
    return compile_expression(text, where=where)


def _unknown_column(column: str, names: Sequence[Any]) -> str:
    candidates = [str(c) for c in names]
    alike = [c for c in candidates if unicodedata.normalize("NFKC", c) == unicodedata.normalize("NFKC", column)]
    if alike:
        return (f"unknown column {column!r} (column {alike[0]!r} only looks alike: names are matched "
                f"exactly as written)")
    lowered = {c.lower(): c for c in candidates}
    match = lowered.get(column.lower())
    if match is None:
        close = difflib.get_close_matches(column, candidates, n=1, cutoff=0.6)
        match = close[0] if close else None
    hint = f" (did you mean {match!r}?)" if match is not None else ""
    return f"unknown column {column!r}{hint}"


def evaluate_columns(
    expressions: Sequence[Expression], frame: pd.DataFrame | Mapping[str, Any], n: int | None = None
) -> list[np.ndarray]:
    """Evaluate several expressions on the same data, reading each column only once.

    Every unknown column is reported before any expression runs.  Returns one
    array per expression (see :meth:`Expression.evaluate`).
    """
    if isinstance(frame, pd.DataFrame):
        available: Any = frame.columns
        if n is None:
            n = len(frame)
    elif isinstance(frame, Mapping):
        available = list(frame.keys())
    else:
        raise TypeError(f"expected a pandas DataFrame or a mapping of columns, got {type(frame).__name__}")
    for expression in expressions:
        expression.check_columns(available)
    if n is None:
        used = sorted(set().union(*(e.columns for e in expressions)))
        if not used:
            raise TypeError("n (the number of rows) is required when no column is read from a mapping")
        n = len(frame[used[0]])
    env = _Env(frame, int(n))
    results = []
    with np.errstate(all="ignore"):
        for expression in expressions:
            try:
                value = expression._run(env)
                results.append(_finish(value, env))
            except _Problem as problem:
                raise expression._error(str(problem)) from None
    return results


def _finish(value: Any, env: _Env) -> np.ndarray:
    n = env.n
    if isinstance(value, np.ndarray):
        if value.dtype != bool and value.dtype != np.float64:
            value = value.astype(np.float64)
        if value.shape != (n,):
            return np.full(n, value.reshape(()).item(), dtype=value.dtype)
        if env.is_column(value) or not value.flags.writeable:
            value = value.copy()
        return value
    if isinstance(value, _Text):
        raise _Problem(f"column {value.name!r} is text; the expression must give a number or true/false")
    if isinstance(value, (bool, np.bool_)):
        return np.full(n, bool(value))
    return np.full(n, float(value))


def compile_expression(text: str, *, where: str = "") -> Expression:
    """Check and compile one rule expression.  Never executes the text.

    Parameters
    ----------
    text : str
        The expression, e.g. ``"video_game_hours > 10"``.  See the module
        docstring for the grammar.
    where : str, optional
        Prefix for error messages, e.g. ``"rules/my.yaml: term 'Video games'"``.

    Returns
    -------
    Expression

    Raises
    ------
    ExpressionError
        For a syntax error, a forbidden construct, an unknown function, a
        non-constant or too large exponent, a too long or too deep expression.

    Examples
    --------
    >>> import pandas as pd
    >>> people = pd.DataFrame({"hours": [2, 12, 30], "ethnicity": ["A", "B", None]})
    >>> games = compile_expression("hours > 10")
    >>> games.columns, games.is_boolean
    (frozenset({'hours'}), True)
    >>> games.evaluate(people).tolist()
    [False, True, True]
    >>> compile_expression("min(hours, 20) / 10").evaluate(people).tolist()
    [0.2, 1.2, 2.0]
    >>> compile_expression('ethnicity in ["B", "C"]').evaluate(people).tolist()
    [False, True, False]
    >>> compile_expression("__import__('os').system('id')", where="rules/my.yaml: term 'X'")
    Traceback (most recent call last):
    ...
    audit.rules._expr.ExpressionError: rules/my.yaml: term 'X': attribute access '.system' is not allowed
    >>> compile_expression("open('f')", where="rules/my.yaml: term 'X'")
    Traceback (most recent call last):
    ...
    audit.rules._expr.ExpressionError: rules/my.yaml: term 'X': function 'open' is not allowed (allowed: abs, ceil, clip, exp, floor, isnull, log, log1p, max, min, notnull, round, sqrt, where)
    """
    if not isinstance(text, str):
        raise ExpressionError(f"{where or 'expression'}: an expression must be text, got {type(text).__name__}")
    prefix = _prefix(where, text)
    if not text.strip():
        raise ExpressionError(f"{where or 'expression'}: the expression is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"{prefix}: the expression is too long ({len(text)} characters; "
                              f"at most {MAX_LENGTH})")
    source = text.strip()
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        where_in = f" at column {error.offset}" if error.offset else ""
        raise ExpressionError(f"{prefix}: cannot parse the expression: {error.msg}{where_in}") from None
    except (ValueError, RecursionError, MemoryError, OverflowError) as error:
        raise ExpressionError(f"{prefix}: cannot parse the expression: {error}") from None
    try:
        _check_size(tree)
        compiler = _Compiler(source)
        node = compiler.build(tree.body, "value")
    except _Problem as problem:
        raise ExpressionError(f"{prefix}: {problem}") from None
    return Expression(text=text, columns=frozenset(compiler.columns), is_boolean=node.kind == "bool",
                      where=where, _run=node.fn)


def _check_size(tree: ast.AST) -> None:
    """Count nodes and depth iteratively, before the (recursive) compiler runs."""
    stack = [(tree, 0)]
    count = 0
    while stack:
        node, depth = stack.pop()
        if isinstance(node, _MARKERS):
            continue
        count += 1
        if count > MAX_NODES:
            raise _Problem(f"the expression is too complex (more than {MAX_NODES} parts)")
        if depth > MAX_DEPTH:
            raise _Problem(f"the expression is nested too deeply (more than {MAX_DEPTH} levels)")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
