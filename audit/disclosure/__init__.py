"""Disclosure control: the one home of the rules that decide what a report may publish.

* :mod:`._rule` — the cell rule (a count of 1 to T - 1 people, or a cell whose
  complement is that small, is never published);
* :mod:`._pool` — rare categories pooled or withheld before any table is built,
  and identifying attributes refused;
* :mod:`._lines` — complementary suppression (minimal loss: the cheapest cell,
  never a large group's; rounding where nothing else will do);
* :mod:`._lp` — the linear-programming audit of every published count at once,
  the check statistical agencies run: no hidden cell may be pinned down.

Every audit family and the report use these functions, and no other code
decides what may be shown.
"""

from audit.disclosure._lines import (
    CAPACITY,
    ROUND_BASE,
    STAR,
    Protection,
    global_keys,
    protect_lines,
    round_count,
)
from audit.disclosure._lp import MIN_WIDTH, CountSystem, attainable
from audit.disclosure._pool import NOT_RECORDED, OTHER, Pooling, check_identifying, pool_rare
from audit.disclosure._rule import cell_publishable, count_text, is_small, published_count, small_mask

__all__ = [
    "CAPACITY",
    "MIN_WIDTH", "CountSystem", "NOT_RECORDED", "OTHER", "Pooling", "attainable", "Protection", "ROUND_BASE", "STAR", "cell_publishable", "check_identifying",
    "count_text", "global_keys", "is_small", "pool_rare", "protect_lines", "published_count", "round_count",
    "small_mask",
]
