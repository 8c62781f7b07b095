"""Number and group formatting shared by the lead, the Markdown and the HTML.

Every number a reader sees goes through one of these functions, so the same
value prints the same way in report.md, report.html and the lead sentences
(and tests can recompute the printed form from report.json).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

SUPPRESSED = "suppressed"


def is_num(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def fmt_ratio(x: object) -> str:
    """An impact ratio or a bound of its interval: two decimals."""
    return f"{x:.2f}" if is_num(x) else "n/a"


def fmt_pct(x: object, digits: int = 1) -> str:
    """A rate in [0, 1] as a percentage."""
    return f"{100 * x:.{digits}f}%" if is_num(x) else "n/a"


def fmt_share_of(ratio: object) -> str:
    """An impact ratio in words: "41%" (of the reference group's rate)."""
    return f"{100 * ratio:.0f}%" if is_num(ratio) else "n/a"


def fmt_p(x: object) -> str:
    """A p- or q-value: "< 0.001" below one in a thousand, else three significant digits."""
    if not is_num(x):
        return "n/a"
    if x < 0.001:
        return "< 0.001"
    return f"{x:.3g}"


def fmt_q_clause(q: object, name: str = "q") -> str:
    """``q < 0.001`` or ``q = 0.0123``."""
    s = fmt_p(q)
    return f"{name} {s}" if s.startswith("<") else f"{name} = {s}"


def fmt_num(x: object, digits: int = 3) -> str:
    """A general statistic (association, influence, correlation): ``digits`` significant digits."""
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if is_num(x):
        if x == 0:
            return "0"
        if abs(x) >= 1000:
            return f"{x:,.0f}"
        return f"{x:.{digits}g}"
    return str(x)


def fmt_score(x: object) -> str:
    """A score on the rule's scale: one decimal."""
    return f"{x:.1f}" if is_num(x) else "n/a"


def fmt_count(n: object, threshold: int | None = None) -> str:
    """A count of people; ``None`` prints as "suppressed".

    A count is hidden when it is small, when its complement is small, or when it
    would let a reader subtract their way to a hidden count, so "(<t)" would
    often be wrong.
    """
    if n is None:
        return SUPPRESSED
    if isinstance(n, bool):
        return str(n)
    if isinstance(n, (int, float)):
        return f"{int(n):,}"
    return str(n)


def fmt_ci(lo: object, hi: object) -> str:
    return f"{fmt_ratio(lo)}–{fmt_ratio(hi)}"


def group_name(group: Mapping | None) -> str:
    """``gender=female & ethnicity=minority A`` (the same form as :meth:`Grouping.name`)."""
    if not group:
        return "everyone"
    return " & ".join(f"{k}={v}" for k, v in group.items())


def group_phrase(group: Mapping | None) -> str:
    """The group in a sentence: ``people with gender=female and ethnicity=minority A``."""
    if not group:
        return "everyone"
    return "people with " + " and ".join(f"{k}={v}" for k, v in group.items())


