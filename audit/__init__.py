"""Audit scoring rules for disparate impact, proxy discrimination and network contagion.

The public API::

    import audit
    rule = audit.load_rule("sesame")
    people, edges = audit.generate_sesame(20_000, seed=0)
    report = audit.run(rule, people, protected=["gender", "ethnicity"], graph=edges)
    report.save("out/")
"""

from audit._errors import AuditInputError
from audit._run import AuditContext, prepare_audit, run
from audit._version import __version__
from audit.data import Population, load_population
from audit.datasets import generate_sesame
from audit.dynamics import simulate
from audit.findings import Finding, Findings, Verdict
from audit.graph import Graph, load_graph, solve_network
from audit.groups import Grouping, build_groupings
from audit.report import Report
from audit.rules import Rule, Tier, list_rules, load_rule
from audit.settings import Settings

__all__ = [
    "AuditContext", "AuditInputError", "Finding", "Findings", "Graph", "Grouping", "Population", "Report", "Rule",
    "Settings", "Tier", "Verdict", "__version__", "build_groupings", "generate_sesame", "list_rules", "load_graph",
    "load_population", "load_rule", "prepare_audit", "run", "simulate", "solve_network",
]
