"""Findings: the typed verdicts of an audit (who is pushed out of which tier, or below parity) and their evidence.

Every family composes with one :class:`Finding` per (group, tier): the impact
family decides the verdict, the proxy and network families annotate the
mechanism, and the report only renders it.
"""

from audit.findings._collection import Findings, attach_parents
from audit.findings._finding import Finding, Verdict

__all__ = ["Finding", "Findings", "Verdict", "attach_parents"]
