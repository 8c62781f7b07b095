"""Long-run dynamics: who is slowly shut out when a rule scores people again and again.

A snapshot audit shows who a rule disfavours today.  This package follows a
rule over many periods on a population and its friendship graph: each period
the scores are recomputed (friends term included), tiers are granted, a
declared feedback moves next period's inputs (a refused loan makes a late
payment likelier), and people drop and form ties (the advice to unfriend low
scorers and people without a real-name account; new ties through friends of
friends and among people with similar scores).  The run is repeated over
seeds; every figure is a mean over runs with a Monte-Carlo band.

It is a *stated scenario*, not a forecast: the scenario file says what happens
between two scorings, and every number in it cites a source or is marked
illustrative.

Public functions:

* :func:`simulate` -- the simulation (``audit.simulate``, ``audit simulate``),
  returning a :class:`DynamicsResult` (``to_frame``, ``to_dict``, Jupyter display);
* :func:`save_report`, :func:`build_document`, :func:`dynamics_section` -- the
  simulate report (report.json, .md, .html) and its section as plain data;
* :func:`load_scenario`, :func:`parse_scenario`, :class:`Scenario`,
  :func:`builtin_scenarios` -- scenario files;
* :func:`delayed_impact` -- Liu et al. (2018)'s outcome curves on the FICO
  aggregates, the validation of the feedback model on real data, and
  :func:`write_delayed_impact_report` for its example report.

Layout of ``report.json`` (``audit simulate``)
----------------------------------------------
``schema_version`` ("dynamics-1"), ``kind``, ``tool``, ``title``,
``reproducibility`` and ``dynamics``: ``rule``, ``scenario`` (the full card),
``data``, ``settings``, ``tiers``, ``groups`` (name, grouping, labels, n,
shown), ``summary`` (headline, findings, caveats), ``methods``, ``periods``
(one entry per period and shown group, and ``group: "all"``: ``period``,
``group``, ``grouping``, ``labels``, ``n``, ``tier_rates`` {tier: figure},
``mean_score``, ``mean_own_score``, ``mean_degree``, ``isolated_share``,
``outside_giant_share``, ``cross_group_tie_share``, ``ties_lost_per_person``
{cause: figure}, ``lost_tie_share`` {cause: figure}, ``ties_formed_per_person``,
``ties_refused_per_person``, ``suppressed``), ``population`` (per period: edges,
ties removed by cause, ties formed, score assortativity, attribute
assortativity per protected attribute, solver error bound), ``decomposition``
(each group at the horizon under every variant) and ``settling``.  A *figure*
is ``{"value", "band_low", "band_high"}`` (mean over runs and the central
``band`` share of runs) or ``null`` when withheld under the disclosure rule.
"""

from audit.dynamics._delayed_impact import DelayedImpact, delayed_impact, fico_to_fico_scale
from audit.dynamics._fico_report import write_delayed_impact_report
from audit.dynamics._report import build_document, dynamics_section, dynamics_view, save_report
from audit.dynamics._result import DynamicsResult
from audit.dynamics._simulate import simulate
from audit.dynamics._spec import Scenario, builtin_scenarios, load_scenario, parse_scenario

__all__ = [
    "DelayedImpact", "DynamicsResult", "Scenario", "build_document", "builtin_scenarios", "delayed_impact",
    "dynamics_section", "dynamics_view", "fico_to_fico_scale", "load_scenario", "parse_scenario", "save_report",
    "simulate", "write_delayed_impact_report",
]
