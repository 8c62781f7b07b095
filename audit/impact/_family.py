"""The impact family's hook for ``audit.run``."""

from __future__ import annotations

from typing import Any

from audit.impact._audit import disparate_impact
from audit.impact._result import ImpactResult

__all__ = ["audit_family"]


def audit_family(ctx: Any, *, curve: bool = True) -> ImpactResult:
    """Run :func:`audit.impact.disparate_impact` on an audit context (used by ``audit.run``)."""
    return disparate_impact(
        ctx.scores.final, ctx.groupings, ctx.rule.tiers, outcomes=ctx.outcomes, labels=ctx.labels,
        higher_is_better=ctx.rule.higher_is_better, settings=ctx.settings, curve=curve,
        design_effect=ctx.design_effect,
    )
