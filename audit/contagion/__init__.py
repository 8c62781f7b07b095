"""Network contagion: how a score's friends term spreads disadvantage through a homophilous graph.

A Sesame-Credit-style rule pulls each person's score toward their friends'
(``final = (1 - w) own + w mean(friends' final)``).  In a graph where people
befriend their own group, that term can push a whole group below a benefit
tier even when its members' own behaviour would clear it.  This family
measures that, on the synthetic generator's graph or on real attributed
networks, with sparse linear algebra only (no Python loop over people or ties).

Public functions, each usable alone:

* :func:`graph_statistics` -- degree distribution, cross-group ties,
  assortativity (as networkx computes it), Coleman's homophily index,
  components and each group's share of the giant component;
* :func:`spillover` -- final minus own score per group, and *guilt by
  association*: the share of a group whose own score clears a tier but whose
  final score does not;
* :func:`shock` -- deduct points from a seed set (an expression, a mask or a
  random draw) and count who else falls below each tier, by group and by hop
  distance from the seeds;
* :func:`unfriending` -- rounds of compliance with the advice to drop
  low-scoring friends and friends without a real-name account;
* :func:`amplification` -- impact ratios without the network term, with it,
  and on a degree-preserving rewiring: how much of each ratio the network term
  and the homophily account for;
* :func:`network_contagion` -- all of the above as a :class:`ContagionResult`;
* :func:`audit_family` -- the hook :func:`audit.run` calls.

Helpers: :func:`hop_distances`, :func:`rewire`, :func:`fixed_point`,
:func:`closed_form`.

Layout of ``ContagionResult.to_dict()`` (``report.json`` -> ``contagion``)
-------------------------------------------------------------------------
``status`` ("ran" | "not run"), ``reason``, ``methods`` (text per statistic,
including the amplification decomposition), ``settings``, ``sections``
(``{name: {status, reason}}`` for every section, so a section with no input
says so), ``graph`` (nodes, edges, components, giant component, isolates),
``assortativity`` (grouping -> r on the input graph), ``cross_group_ties``,
``graph_statistics`` (per group: n, mean_degree, degree_quantiles,
degree_histogram, isolates, giant_component_share, same/cross_group_tie_share,
coleman_index), ``spillover`` (per group: attributes, group, n,
mean_own_score, mean_final_score, mean_shift, shift_quantiles,
share_pulled_down/up, guilt_by_association {tier: share},
guilt_by_association_count, lifted_by_association, own/final_attainment),
``spillover_summary`` (overall and solver), ``shock`` (seeds, deduction,
solver, ``by_distance`` and per-group ``groups`` rows with hops, n, fell
{tier: count}, fell_share, mean_score_change), ``unfriending`` (``settings``
with the ``scenario`` in words, rounds, compliance, margin and margin_basis;
``rounds``: per round edges, ties_removed, components, giant share,
isolates, assortativity and cross-group tie share per grouping, solver, and
per group n, mean_degree, ties_lost, isolates, giant_component_share,
cross_group_tie_share, coleman_index, tier_attainment, impact_ratio;
``sensitivity``: the final round under other compliance x margin settings --
``scenarios`` with scenario, this_run, compliance, margin, ties_kept_share,
isolate_share and per single-attribute group n, ties_kept_share,
isolate_share), ``amplification`` (per grouping, group and tier:
impact_ratio_without_network, impact_ratio, impact_ratio_rewired,
network_effect, homophily_effect, degree_effect) and ``rewiring`` (attempted
and achieved swaps, assortativity after rewiring).  ``settings["unfriending"]``
and the start of ``methods["unfriending"]`` state the unfriending scenario.

Disclosure control is :mod:`audit.disclosure`'s rule: only group aggregates; a
cell of ``k`` of ``n`` is published only when neither ``k`` nor ``n - k`` is
1 to ``disclosure_threshold - 1``, and every share, ratio or effect derived
from an unpublishable cell is null with ``suppressed: true``; a ratio needs
both its cells (the group's and the most favoured group's).  Means and
quantiles are given for groups of at least ``min_group_size`` people.
"""

from audit.contagion._amplification import Amplification, amplification
from audit.contagion._core import FixedPoint, closed_form, fixed_point, hop_distances, rewire
from audit.contagion._family import METHODS, audit_family, network_contagion
from audit.contagion._graphstats import GraphStatistics, graph_statistics
from audit.contagion._result import SECTIONS, ContagionResult
from audit.contagion._spillover import Shock, Spillover, shock, spillover
from audit.contagion._unfriending import Unfriending, unfriending

__all__ = [
    "Amplification", "ContagionResult", "FixedPoint", "GraphStatistics", "METHODS", "SECTIONS", "Shock",
    "Spillover", "Unfriending", "amplification", "audit_family", "closed_form", "fixed_point",
    "graph_statistics", "hop_distances", "network_contagion", "rewire", "shock", "spillover", "unfriending",
]
