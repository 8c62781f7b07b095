"""Scoring rules: points tables, estimators, callables and observed scores."""

from audit.rules._tiers import Tier, attainment

__all__ = ["Tier", "attainment"]
