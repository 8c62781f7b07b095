"""The YAML points-table format, validated with pydantic.

A rule file is untrusted text.  It is parsed by a restricted YAML loader
(:class:`_RuleLoader`, built on ``yaml.SafeLoader``: no object construction)
that reads plain YAML 1.2 values only -- ``yes``/``no``/``on``/``off`` are
text, ``8:20`` is text, ``017`` is seventeen, there are no dates -- and refuses
duplicate keys, aliases, merge keys, explicit tags and deep nesting.  The
result is validated against these models in strict mode (unknown keys are
errors, so a typo such as ``treshold`` cannot silently drop a tier; a number
must be written as a number and true/false as ``true``/``false``), and its
expressions are compiled by :mod:`audit.rules._expr`, never evaluated by Python.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from audit import _limits
from audit._errors import AuditInputError
from audit._limits import RULE_COLUMNS, RULE_FILE_BYTES, RULE_NESTING, RULE_SOURCES, RULE_TERMS, RULE_TIERS

STATUSES = ("official", "reported", "reported, unofficial", "surrogate", "illustrative", "user")


class _Strict(BaseModel):
    # allow_inf_nan=False: a threshold of .nan or a range up to .inf is a mistake, not a rule.
    # strict: no coercion -- "650" is not a number, "yes" or 1 is not true/false.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


class SourceSpec(_Strict):
    id: str = Field(min_length=1, max_length=80)
    citation: str = Field(min_length=1, max_length=1000)
    url: str | None = None
    accessed: str | None = None


class ColumnSpec(_Strict):
    type: Literal["bool", "number", "integer", "category"]
    description: str = ""
    values: list[Any] | None = Field(default=None, max_length=10_000)

    @field_validator("values")
    @classmethod
    def _flat(cls, v):
        if v is not None and any(isinstance(x, (list, dict)) for x in v):
            raise ValueError("'values' lists the values of the column: numbers, text or true/false")
        return v


#: A context tag: one lower-case word or hyphenated phrase ("speech", "public-services").
CONTEXT_PATTERN = r"^[a-z][a-z\-]{0,39}$"


class _Cited(_Strict):
    source: str | None = None
    illustrative: bool = False
    note: str = ""

    @model_validator(mode="after")
    def _cited(self):
        if self.source is None and not self.illustrative:
            raise ValueError("give a 'source' (an id from 'sources') or mark it 'illustrative: true'")
        return self


class TermSpec(_Cited):
    id: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
    label: str = Field(min_length=1, max_length=200)
    # The area of life the behaviour belongs to (consumption, speech, payments, association, ...).
    context: str | None = Field(default=None, pattern=CONTEXT_PATTERN)
    when: str | None = Field(default=None, max_length=2000)
    value: str | None = Field(default=None, max_length=2000)
    points: float | None = None
    weight: float | None = None

    @model_validator(mode="after")
    def _shape(self):
        if (self.when is None) == (self.value is None):
            raise ValueError("give exactly one of 'when' (a condition) or 'value' (a numeric expression)")
        if self.when is not None and (self.points is None or self.weight is not None):
            raise ValueError("a 'when' term needs 'points' (and no 'weight')")
        if self.value is not None and (self.weight is None or self.points is not None):
            raise ValueError("a 'value' term needs 'weight' (points per unit; and no 'points')")
        return self


class NetworkSpec(_Cited):
    weight: float = Field(gt=0, lt=1)
    # Friends' scores come from one's social ties ("association"), for the EU AI Act screen.
    context: str | None = Field(default=None, pattern=CONTEXT_PATTERN)
    tolerance: float = Field(default=1e-9, gt=0, le=1)
    max_iterations: int = Field(default=_limits.NETWORK_ITERATIONS.value, ge=1, le=_limits.NETWORK_ITERATIONS.value)


class CitationSpec(_Cited):
    """Where a single number of the rule (its ``base`` or its ``range``) comes from."""


class LookupSpec(_Cited):
    """A published raw-to-scale conversion: the points total is looked up in ``table``.

    ``table`` maps every possible raw total (an integer) to the scaled score the
    rule reports, e.g. the PSA's failure-to-appear points 0..7 -> scale 1..6.
    A total outside the table is an error; a fractional total inside it (only
    counterfactuals make one) is interpolated, see :class:`audit.rules._rule.Lookup`.
    """

    label: str = Field(default="scaled score", min_length=1, max_length=200)
    table: dict[int, float] = Field(min_length=1)


class TierSpec(_Cited):
    name: str = Field(min_length=1, max_length=200)
    benefit: str = Field(default="", max_length=1000)
    threshold: float | None = None
    at_most: float | None = None
    top_k: int | None = Field(default=None, ge=1)
    top_fraction: float | None = Field(default=None, gt=0, le=1)
    # Which side of the tier is good news ("in": attaining it; "out": avoiding it).  Derived when
    # absent wherever that is unambiguous (audit.rules.Tier.direction).
    favourable: Literal["in", "out"] | None = None
    # The area of life the benefit belongs to (travel, credit, housing, ...), for the EU AI Act screen.
    context: str | None = Field(default=None, pattern=CONTEXT_PATTERN)

    @model_validator(mode="after")
    def _one_cut(self):
        cut = self.threshold is not None or self.at_most is not None
        ranked = (self.top_k is not None) + (self.top_fraction is not None)
        if cut + ranked != 1:
            raise ValueError("give exactly one of threshold/at_most, top_k or top_fraction")
        if self.threshold is not None and self.at_most is not None and self.threshold > self.at_most:
            raise ValueError("threshold is above at_most: the band is empty")
        return self


class RuleSpec(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_\-]{0,63}$")
    title: str = Field(min_length=1, max_length=300)
    status: Literal[STATUSES]  # type: ignore[valid-type]
    kind: Literal["points", "observed"] = "points"
    description: str = ""
    sources: list[SourceSpec] = Field(default=[], max_length=RULE_SOURCES.value)
    columns: dict[str, ColumnSpec] = Field(default={}, max_length=RULE_COLUMNS.value)
    higher_is_better: bool = True
    base: float = 0.0
    base_citation: CitationSpec | None = None
    # A list, not a tuple: strict mode would refuse the YAML list [350, 950] for a tuple.
    range: list[float] | None = Field(default=None, min_length=2, max_length=2)
    range_citation: CitationSpec | None = None
    lookup: LookupSpec | None = None
    score_column: str | None = None
    terms: list[TermSpec] = Field(default=[], max_length=RULE_TERMS.value)
    network: NetworkSpec | None = None
    tiers: list[TierSpec] = Field(min_length=1, max_length=RULE_TIERS.value)

    @field_validator("range")
    @classmethod
    def _range(cls, v):
        if v is not None and not v[0] < v[1]:
            raise ValueError("range must be [low, high] with low < high")
        return v

    @model_validator(mode="after")
    def _consistent(self):
        known = {s.id for s in self.sources}
        if len(known) != len(self.sources):
            raise ValueError("source ids must be unique")
        cited = [("term", t.label, t.source) for t in self.terms] + [("tier", t.name, t.source) for t in self.tiers]
        if self.network is not None:
            cited.append(("network", "network", self.network.source))
        for what, block in (("base", self.base_citation), ("range", self.range_citation),
                            ("lookup", self.lookup)):
            if block is not None:
                cited.append((what, what, block.source))
        for what, label, src in cited:
            if src is not None and src not in known:
                raise ValueError(f"{what} {label!r} cites unknown source {src!r}")
        if self.kind == "points" and not self.terms:
            raise ValueError("a points table needs at least one term")
        if self.lookup is not None:
            if self.kind != "points":
                raise ValueError("a 'lookup' converts a points total; it needs kind: points")
            if self.network is not None:
                raise ValueError("a rule with a 'lookup' cannot also have a network term")
        if self.network is not None and self.range is not None:
            # The first update moves no score by more than weight x the range; the contraction bound
            # then says how many iterations the stated tolerance needs, whatever the data.
            net, (lo, hi) = self.network, self.range
            needed = _limits.iterations_needed(net.weight, net.tolerance, net.weight * (hi - lo))
            if needed > net.max_iterations:
                raise ValueError(
                    f"network weight {net.weight:g} with tolerance {net.tolerance:g} needs up to {needed:,} "
                    f"iterations on the range {lo:g} to {hi:g} (max_iterations is {net.max_iterations:,}; "
                    f"at most {_limits.NETWORK_ITERATIONS.value:,}): lower the weight or raise the tolerance")
        if self.range_citation is not None and self.range is None:
            raise ValueError("'range_citation' cites a 'range' that the rule does not give")
        if self.kind == "observed":
            if not self.score_column:
                raise ValueError("an observed-score rule needs 'score_column'")
            if self.terms or self.network:
                raise ValueError("an observed-score rule has no terms or network term")
        ids = [t.id or slug(t.label) for t in self.terms]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"term ids must be unique; repeated: {sorted(dup)} (set 'id' on the terms)")
        names = [t.name for t in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError("tier names must be unique")
        return self


def slug(label: str) -> str:
    """A term id from its label: ``"Buys diapers"`` -> ``"buys_diapers"``."""
    s = re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_").lower()
    return (s or "term")[:64] if s[:1].isalpha() else ("t_" + s)[:64]


def _where(loc: tuple, raw: dict) -> str:
    """Turn a pydantic error location into words: ``term 'Video games': field 'points'``."""
    parts: list[str] = []
    i = 0
    while i < len(loc):
        key = loc[i]
        if key in ("terms", "tiers") and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            items = raw.get(key) or []
            item = items[loc[i + 1]] if loc[i + 1] < len(items) else {}
            label = item.get("label") or item.get("name") if isinstance(item, dict) else None
            parts.append(f"{key[:-1]} {label!r}" if label else f"{key[:-1]} #{loc[i + 1] + 1}")
            i += 2
            continue
        if isinstance(key, str) and not key.startswith(("function-", "tuple[", "literal[")):
            parts.append(f"field {key!r}")
        i += 1
    return ": ".join(parts)


MAX_RULE_BYTES = RULE_FILE_BYTES.value


def _yaml_error(problem: str, node_or_event) -> yaml.MarkedYAMLError:
    return yaml.constructor.ConstructorError(None, None, problem, node_or_event.start_mark)


class _RuleLoader(yaml.SafeLoader):
    """A YAML loader for untrusted rule files.

    Built on ``yaml.SafeLoader`` (which never constructs Python objects) and stricter still:

    * plain values follow YAML 1.2's core schema, not PyYAML's YAML 1.1 rules: only
      ``true``/``false`` are booleans (``yes``, ``no``, ``on``, ``off``, ``y`` are text),
      ``8:20`` is text (YAML 1.1 reads 500), ``017`` is 17 (not octal 15), ``1_000`` is
      text, ``1e-9`` is a number, and there are no dates;
    * a key given twice is an error (YAML would silently keep the last one, so a second
      ``tiers:`` block would drop the first);
    * aliases (``*name``: a few hundred bytes of nested aliases expand to gigabytes),
      merge keys (``<<``) and explicit tags (``!!float``, ``!!binary``, ``!anything``) are errors;
    * nesting is bounded (the composer is recursive: a few hundred ``[`` exhaust the stack).
    """

    yaml_implicit_resolvers: dict = {}  # filled below with YAML 1.2 core rules only

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in rule files", event.start_mark)
        if getattr(event, "tag", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, f"explicit YAML tags ({event.tag}) are not allowed in rule files", event.start_mark)
        self._depth += 1
        try:
            if self._depth > RULE_NESTING.value:
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {RULE_NESTING.value} levels deep "
                    f"({RULE_NESTING.advice})", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        if not isinstance(node, yaml.MappingNode):
            raise _yaml_error(f"expected a mapping, found a {node.id}", node)
        mapping: dict = {}
        first_line: dict = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                seen = key in mapping
            except TypeError:
                raise _yaml_error("a key must be a plain value (not a list or mapping)", key_node) from None
            if seen:
                raise _yaml_error(f"duplicate key {key!r} (first given on line {first_line[key]}); "
                                  f"YAML would silently keep only the last one", key_node)
            first_line[key] = key_node.start_mark.line + 1
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_yaml_int(self, node):
        text = self.construct_scalar(node)
        digits = text.lstrip("+-")
        if len(digits) > _limits.RULE_INTEGER_DIGITS.value:
            raise _yaml_error(f"integer with {len(digits)} digits is too long "
                              f"(at most {_limits.RULE_INTEGER_DIGITS.value})", node)
        sign = -1 if text.startswith("-") else 1
        if digits.startswith("0x"):
            return sign * int(digits[2:], 16)
        if digits.startswith("0o"):
            return sign * int(digits[2:], 8)
        return sign * int(digits, 10)

    def construct_yaml_float(self, node):
        text = self.construct_scalar(node).lower()
        if text.endswith(".nan"):
            return float("nan")
        if text.endswith(".inf"):
            return float("-inf") if text.startswith("-") else float("inf")
        return float(text)


for _tag, _pattern, _first in (
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("int", r"^(?:[-+]?[0-9]+|[-+]?0o[0-7]+|[-+]?0x[0-9a-fA-F]+)$", list("-+0123456789")),
    ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
     list("-+.0123456789")),
):
    _RuleLoader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), _first)
_RuleLoader.add_constructor("tag:yaml.org,2002:int", _RuleLoader.construct_yaml_int)
_RuleLoader.add_constructor("tag:yaml.org,2002:float", _RuleLoader.construct_yaml_float)


def load_yaml(text: str, *, source: str) -> Any:
    """Read untrusted YAML text with :class:`_RuleLoader`; errors are one line naming ``source``."""
    try:
        return yaml.load(text, Loader=_RuleLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise AuditInputError(f"{source}: not valid YAML{where}: {problem}") from None
    except RecursionError:  # defence in depth: the nesting bound above should make this unreachable
        raise AuditInputError(f"{source}: nested too deeply") from None


def parse_spec(text: str, *, source: str) -> RuleSpec:
    """Parse and validate rule-file text; errors name the file, the term and the reason on one line."""
    if len(text) > MAX_RULE_BYTES:
        raise AuditInputError(f"{source}: rule file is larger than {MAX_RULE_BYTES:,} characters")
    raw = load_yaml(text, source=source)
    if not isinstance(raw, dict):
        raise AuditInputError(f"{source}: a rule file must be a YAML mapping with name, title, terms and tiers")
    try:
        return RuleSpec.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = _where(tuple(err.get("loc", ())), raw)
        msg = err.get("msg", "invalid").removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown key (check the spelling; see the rule format in the README)"
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        raise AuditInputError(f"{source}: {where + ': ' if where else ''}{msg}{more}") from None


def read_spec(path: str | Path) -> tuple[RuleSpec, str]:
    """Read and validate a rule file; returns the spec and the file's text."""
    from audit._io import read_limited

    text = read_limited(path, what="rule file", limit=RULE_FILE_BYTES)
    return parse_spec(text, source=str(path)), text
