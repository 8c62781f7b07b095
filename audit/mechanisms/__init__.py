"""Mechanisms: which part of a rule carries each finding's gap — an input, a term, the protected attribute
itself, or the friends term (averaging, or whose friends you have) — by how much, and how sure.

:func:`attribute_findings` gives every finding an order-free Shapley attribution with bootstrap intervals,
and the mechanism label derived from it; :func:`design_effects` measures how much the friends term inflates
the variance of group rates.
"""

from audit.mechanisms._attribute import (
    KINDS,
    NAME_BAR,
    AttributionPart,
    attribute_grouping,
    kind_of,
    mechanism_kinds,
    mechanism_of,
)
from audit.mechanisms._basis import AVERAGING, FRIENDS, Basis, Part, build_basis
from audit.mechanisms._dependence import design_effects
from audit.mechanisms._findings import attribute_findings

__all__ = ["AVERAGING", "FRIENDS", "KINDS", "NAME_BAR", "AttributionPart", "Basis", "Part", "attribute_findings",
           "attribute_grouping", "build_basis", "design_effects", "kind_of", "mechanism_kinds", "mechanism_of"]
