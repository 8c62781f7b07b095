"""Scoring rules: points tables, estimators, callables and observed scores.

The YAML points-table format is documented in the README ("Writing a rule").
"""

from audit.rules._expr import Expression, ExpressionError, compile_expression
from audit.rules._rule import NetworkTerm, Rule, ScoreSet, Term, list_rules, load_rule, validate_rule_file
from audit.rules._tiers import Tier, attainment

__all__ = ["Expression", "ExpressionError", "NetworkTerm", "compile_expression", "Rule", "ScoreSet", "Term", "Tier", "attainment", "list_rules", "load_rule",
           "validate_rule_file"]
