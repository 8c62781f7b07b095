"""The reference group of every grouping: one rule for every audit family.

A single attribute's reference is the value the user named (``--reference
race=Caucasian``) or else its largest group (ties: the first in sorted order).
An intersection's reference is the combination of its attributes' references
when that group exists in the data, else the intersection's largest group.
Impact, proxy and contagion all call :func:`reference_codes`, so a report can
never name two different reference groups for the same grouping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from audit._errors import AuditInputError
from audit.groups import Grouping

__all__ = ["reference_codes", "reference_values"]

_SHOW = 8  # protected values shown in one error message


def _match(value: object, wanted: object) -> bool:
    # Values typed on a command line arrive as text: "1" names the group 1.
    return value == wanted or str(value) == str(wanted)


def reference_values(groupings: Sequence[Grouping], reference: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The reference value of every attribute that has a single-attribute grouping.

    Raises :class:`AuditInputError` when a named reference value is not in the data.
    """
    reference = dict(reference or {})
    singles = {g.attributes[0]: g for g in groupings if len(g.attributes) == 1}
    known = {a for g in groupings for a in g.attributes}
    for key in reference:
        if key not in known:
            raise AuditInputError(f"reference names column {key!r}, which is not a protected attribute")
    out: dict[str, Any] = {}
    for a, g in singles.items():
        if g.n_groups == 0:
            out[a] = None
            continue
        if a in reference:
            hits = [c for c in range(g.n_groups) if _match(g.values[c][0], reference[a]) and g.counts[c] > 0]
            if not hits:
                shown = ", ".join(str(v[0]) for v in g.values[:_SHOW])
                raise AuditInputError(
                    f"reference group {a}={reference[a]!r} is not in the data (column {a!r}; values: {shown})")
            out[a] = g.values[hits[0]][0]
        else:
            out[a] = g.values[int(np.argmax(g.counts))][0]
    return out


def reference_codes(groupings: Sequence[Grouping], reference: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Reference group code of every grouping (keyed by :attr:`Grouping.key`); -1 for an empty grouping.

    Examples
    --------
    >>> import pandas as pd
    >>> from audit.groups import build_groupings
    >>> people = pd.DataFrame({"sex": ["f", "m", "m", "f", "m"], "race": ["a", "a", "b", "b", "a"]})
    >>> gs = build_groupings(people, ["sex", "race"])
    >>> codes = reference_codes(gs)
    >>> [gs[i].values[codes[gs[i].key]] for i in range(3)]
    [('m',), ('a',), ('m', 'a')]
    """
    values = reference_values(groupings, reference)
    out: dict[str, int] = {}
    for g in groupings:
        if g.n_groups == 0 or g.counts.sum() == 0:
            out[g.key] = -1
            continue
        largest = int(np.argmax(g.counts))
        if all(a in values for a in g.attributes):
            want = tuple(values[a] for a in g.attributes)
            code = next((c for c in range(g.n_groups) if g.values[c] == want and g.counts[c] > 0), None)
            out[g.key] = largest if code is None else int(code)
        else:
            out[g.key] = largest
    return out
