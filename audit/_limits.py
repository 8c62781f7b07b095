"""The largest inputs the toolkit accepts, in one place.

Every input a user controls has a stated bound, so that a hostile or mistaken
file costs seconds, not hours, and fails with one line naming the file, column
or term instead of exhausting memory or the stack.  The README's "Limits"
section lists the same numbers; :func:`enforce` is the one check that raises
when an input exceeds one, and the modules that read each input call it
(or, for the rule format, state the bound in the pydantic model).

Examples
--------
>>> from audit._limits import CATEGORIES, enforce
>>> enforce(CATEGORIES, 12, where="people.csv: protected column 'region'")
>>> enforce(CATEGORIES, 3000, where="people.csv: protected column 'zip'")
Traceback (most recent call last):
...
audit._errors.AuditInputError: people.csv: protected column 'zip' has 3,000 categories; the limit is 100 (bin the values or pool rare ones into a category such as 'other' before auditing)
"""

from __future__ import annotations

from dataclasses import dataclass

from audit._errors import AuditInputError

__all__ = ["LIMITS", "Limit", "check_groupings", "enforce", "iterations_needed"]


@dataclass(frozen=True)
class Limit:
    """One bound: ``what`` reads as "has {value} {what}", ``advice`` says what to do instead."""

    name: str
    value: int
    what: str
    advice: str = ""


# ---------------------------------------------------------------------------------------- rule files
RULE_FILE_BYTES = Limit("rule_file_bytes", 1_000_000, "bytes", "a rule file is a short points table")
#: Nesting of YAML mappings and lists; a rule file needs about 4 levels.
RULE_NESTING = Limit("rule_nesting", 20, "levels of nesting", "a rule file needs about 4 levels")
RULE_TERMS = Limit("rule_terms", 200, "terms")
RULE_TIERS = Limit("rule_tiers", 20, "tiers")
RULE_SOURCES = Limit("rule_sources", 200, "sources")
#: Distinct columns a rule file declares or reads (each is analysed as a possible proxy).
RULE_COLUMNS = Limit("rule_columns", 200, "columns")
#: Digits of an integer written in a rule file (int64 needs 19).
RULE_INTEGER_DIGITS = Limit("rule_integer_digits", 20, "digits")

# ---------------------------------------------------------------------------------------- expressions
EXPRESSION_CHARS = Limit("expression_chars", 2000, "characters")
EXPRESSION_NODES = Limit("expression_nodes", 1000, "parts")
EXPRESSION_DEPTH = Limit("expression_depth", 100, "levels of nesting")

# ---------------------------------------------------------------------------------------- data
#: Distinct values of one protected attribute.  Reports grow with the number of groups; a numeric
#: or free-text attribute should be binned or pooled first.
CATEGORIES = Limit("categories", 100, "categories",
                   "bin the values or pool rare ones into a category such as 'other' before auditing")
#: Groups over every grouping of one audit (the attributes and their intersections).
GROUPS = Limit("groups", 500, "groups",
               "audit fewer attributes, pool rare categories or pass --intersections 1")
#: Ties of a friendship graph (each tie once).
GRAPH_TIES = Limit("graph_ties", 50_000_000, "ties")

# ---------------------------------------------------------------------------------------- network term
#: Iterations of the friends term's fixed point (a rule's max_iterations cannot exceed it).
NETWORK_ITERATIONS = Limit("network_iterations", 10_000, "iterations",
                           "lower the network weight or raise its tolerance")
#: Iterations x ties (each iteration visits every tie twice): about a minute on one core.
NETWORK_WORK = Limit("network_work", 20_000_000_000, "tie visits",
                     "lower the network weight or raise its tolerance")

# ---------------------------------------------------------------------------------------- paths
#: Bytes of one path component (a folder or file name) on common file systems.
PATH_COMPONENT_BYTES = Limit("path_component_bytes", 255, "bytes")
PATH_BYTES = Limit("path_bytes", 4096, "bytes")

LIMITS: tuple[Limit, ...] = (
    RULE_FILE_BYTES, RULE_NESTING, RULE_TERMS, RULE_TIERS, RULE_SOURCES, RULE_COLUMNS, RULE_INTEGER_DIGITS,
    EXPRESSION_CHARS, EXPRESSION_NODES, EXPRESSION_DEPTH, CATEGORIES, GROUPS, GRAPH_TIES,
    NETWORK_ITERATIONS, NETWORK_WORK, PATH_COMPONENT_BYTES, PATH_BYTES,
)


def enforce(limit: Limit, value: int, *, where: str, advice: str | None = None) -> None:
    """Raise a one-line :class:`AuditInputError` when ``value`` exceeds ``limit``.

    ``where`` names the input (file, column, term); ``advice`` overrides the limit's own.
    """
    if value <= limit.value:
        return
    tip = limit.advice if advice is None else advice
    raise AuditInputError(f"{where} has {value:,} {limit.what}; the limit is {limit.value:,}"
                          + (f" ({tip})" if tip else ""))


def iterations_needed(weight: float, tolerance: float, first_change: float) -> int:
    """Iterations after which the friends term's fixed point is proven within ``tolerance``.

    The update is a contraction with factor ``w``: after a first change of at most
    ``first_change`` (sup norm), the k-th change is at most ``w**(k-1) * first_change``
    and the stopping rule ``w / (1 - w) * change <= tolerance`` holds once
    ``k >= 1 + log(tolerance / (w / (1 - w) * first_change)) / log(w)``.

    Examples
    --------
    >>> iterations_needed(0.3, 1e-9, 0.3 * 600)   # the sesame rule: weight 0.3 on a 600-point range
    22
    >>> iterations_needed(0.5, 1.0, 0.1)          # already within tolerance after the first step
    1
    """
    import math

    factor = weight / (1.0 - weight)
    if first_change <= 0 or factor * first_change <= tolerance:
        return 1
    return 1 + math.ceil(math.log(tolerance / (factor * first_change)) / math.log(weight))


def check_groupings(groupings, *, source: str) -> None:
    """Refuse protected attributes with too many categories, and too many groups in all.

    ``groupings`` are :class:`audit.groups.Grouping` objects (single attributes and
    intersections), so the count is of the groups the audit would report, after any
    binning of numeric attributes.
    """
    for g in groupings:
        if len(g.attributes) == 1:
            enforce(CATEGORIES, g.n_groups, where=f"{source}: protected column {g.attributes[0]!r}")
    total = sum(g.n_groups for g in groupings)
    singles = [g.attributes[0] for g in groupings if len(g.attributes) == 1]
    enforce(GROUPS, total, where=f"{source}: the audit of protected columns {', '.join(map(repr, singles))}"
            + (" with their intersections" if len(groupings) > len(singles) else ""))
