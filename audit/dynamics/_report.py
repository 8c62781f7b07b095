"""The simulate report: report.json (the document), its view (paragraphs, tables, figures), and the files.

Everything here reads the JSON document only -- the same data a reader of
report.json has -- so the Markdown and HTML can never show a figure the
document withheld.  :func:`dynamics_section` returns the dynamics section as a
plain dict of blocks, ready to be placed into another report.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from audit._errors import AuditInputError
from audit._io import ensure_dir, write_atomic
from audit.dynamics._figures import grouped_bars, line_panels, render_svg, stacked_bars
from audit.dynamics._render import render_html, render_markdown
from audit.dynamics._result import CAUSE_LABELS, CAUSES

__all__ = ["build_document", "dynamics_section", "dynamics_view", "save_report", "write_folder", "SCHEMA_VERSION"]

SCHEMA_VERSION = "dynamics-1"
VARIANT_LABELS = {"scenario": "scenario", "without_real_name_clause": "without the real-name clause",
                  "without_score_margin": "without the score margin", "without_feedback": "without feedback"}


def build_document(result, command: str | None = None) -> dict:
    """report.json of ``audit simulate``: the ``dynamics`` block with tool, title and reproducibility."""
    from audit._version import __version__

    dyn = result.to_dict()
    if command is not None:
        dyn["settings"]["command"] = command
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "dynamics",
        "tool": {"name": "scoring-rule-audit", "version": __version__},
        "title": f"Long-run dynamics: {dyn['rule']['title']}",
        "reproducibility": {"rule_hash": dyn["rule"]["content_hash"], "data_hash": dyn["data"]["data_hash"],
                            "graph_hash": dyn["data"]["graph_hash"], "seed": dyn["settings"]["seed"],
                            "command": dyn["settings"].get("command")},
        "dynamics": dyn,
    }


# ---------------------------------------------------------------------- formatting
def _pct(f: dict | None, digits: int = 1) -> str:
    if not f:
        return "withheld"
    return f"{100 * f['value']:.{digits}f}% ({100 * f['band_low']:.{digits}f}–{100 * f['band_high']:.{digits}f})"


def _num(f: dict | None, digits: int = 1) -> str:
    if not f:
        return "withheld"
    return f"{f['value']:.{digits}f} ({f['band_low']:.{digits}f}–{f['band_high']:.{digits}f})"


def _series(rows: list[dict], group: str, pick) -> tuple[list, list, list, list]:
    xs, v, lo, hi = [], [], [], []
    for r in rows:
        if r["group"] != group:
            continue
        f = pick(r)
        xs.append(r["period"])
        v.append(None if not f else f["value"])
        lo.append(None if not f else f["band_low"])
        hi.append(None if not f else f["band_high"])
    return xs, v, lo, hi


def _panels(dyn: dict, pick) -> list:
    rows = dyn["periods"]
    shown = [g for g in dyn["groups"] if g["shown"] and " & " not in g["grouping"]]
    panels: dict[str, list] = {}
    for g in shown:
        x, v, lo, hi = _series(rows, g["group"], pick)
        label = ", ".join(str(val) for val in g["labels"].values())
        panels.setdefault(g["grouping"], []).append((label, x, v, lo, hi))
    return list(panels.items())


def _figure(fid: str, draw, caption: str, alt: str, figures: bool) -> dict:
    return {"type": "figure", "id": fid, "svg": render_svg(fid, draw) if figures else "", "caption": caption,
            "alt": alt}


def _blocks(dyn: dict, figures: bool) -> dict[str, list]:
    s = dyn["settings"]
    last = s["periods"]
    band = f"{s['band']:.0%}"
    rows = dyn["periods"]
    final = [r for r in rows if r["period"] == last]
    first = {r["group"]: r for r in rows if r["period"] == 0}
    tier0 = dyn["tiers"][0]
    out: dict[str, list] = {}
    summ = dyn["summary"]
    out["summary"] = [{"type": "p", "cls": "lead", "text": summ["headline"]},
                      {"type": "list", "items": [f["text"] for f in summ["findings"]]}] + \
                     [{"type": "p", "cls": "note", "text": c} for c in summ["caveats"]]
    cap = (f"Lines: mean over {s['runs']} runs; shaded: the central {band} of runs. Groups below "
           f"{s['min_group_size']} people are not shown; gaps are withheld figures (disclosure rule).")
    over = [
        _figure("dyn-isolated", lambda: line_panels(_panels(dyn, lambda r: r["isolated_share"]),
                                                     "share without friends (%)"),
                f"Share of each group without any friend, period 0 to {last}. {cap}",
                "Share without friends by group over periods", figures),
        _figure("dyn-score", lambda: line_panels(_panels(dyn, lambda r: r["mean_score"]), "mean final score",
                                                  percent=False),
                f"Mean final score of each group, period 0 to {last}. {cap}", "Mean score by group over periods",
                figures),
        _figure("dyn-tier", lambda: line_panels(_panels(dyn, lambda r: r["tier_rates"][tier0]),
                                                 f"attaining '{tier0}' (%)"),
                f"Share of each group attaining '{tier0}', period 0 to {last}. {cap}",
                "Tier attainment by group over periods", figures),
    ]
    step = max(1, last // 10)
    pop_rows = []
    for r in dyn["population"]:
        if r["period"] % step and r["period"] != last:
            continue
        removed = [r.get(f"ties_removed[{c}]") for c in CAUSES]
        assort = [r.get(k) for k in r if k.startswith("assortativity[")]
        pop_rows.append([str(r["period"]), _num(r["edges"], 0), *[_num(x, 0) for x in removed],
                         _num(r["ties_formed"], 0), _num(r["score_assortativity"], 3),
                         *[_num(a, 3) for a in assort]])
    akeys = [k[len("assortativity["):-1] for k in dyn["population"][0] if k.startswith("assortativity[")]
    over.append({"type": "table", "caption": f"The whole graph, every {step} periods (mean over runs; band: central "
                 f"{band} of runs)", "columns": ["period", "ties", *[f"removed: {CAUSE_LABELS[c]}" for c in CAUSES],
                                                 "formed", "score assortativity",
                                                 *[f"assortativity: {k}" for k in akeys]],
                 "numeric": [True] * (7 + len(akeys)), "rows": pop_rows,
                 "note": "Ties removed and formed are counts in that period; assortativity is withheld in a period "
                         "where one of the attribute's cross-group shares is."})
    out["over_time"] = over
    table = []
    for r in final:
        start = first.get(r["group"], {}).get("mean_score")
        table.append([r["group"], "withheld" if r["n"] is None else f"{r['n']:,}", _pct(r["isolated_share"]), _pct(r["outside_giant_share"]),
                      _num(r["mean_degree"], 2), _num(start, 1), _num(r["mean_score"], 1),
                      _pct(r["tier_rates"][tier0]), _pct(r.get("cross_group_tie_share"))])
    out["final"] = [{"type": "table", "caption": f"Each group at period {last} (mean over runs, in brackets the "
                     f"central {band} of runs)",
                     "columns": ["group", "people", "without friends", "outside the giant component",
                                 "mean friends", "mean score at period 0", f"mean score at period {last}",
                                 f"attaining '{tier0}'", "ties to other groups"],
                     "numeric": [False] + [True] * 8, "rows": table}]
    lost_rows, labels, parts = [], [], {c: [] for c in CAUSES}
    for r in final:
        per = [r["ties_lost_per_person"][c] for c in CAUSES]
        lost_rows.append([r["group"], *[_num(x, 2) for x in per], *[_pct(r["lost_tie_share"][c]) for c in CAUSES],
                          _num(r["ties_formed_per_person"], 2)])
        if r["group"] != "all":
            labels.append(r["group"])
            for c, x in zip(CAUSES, per, strict=True):
                parts[c].append(None if not x else x["value"])
    mech = [{"type": "table", "caption": f"Friendships lost by period {last}, by the clause of the advice that "
             "removed them (tie-ends per person, cumulative; and shares of the group's lost tie-ends)",
             "columns": ["group", *[f"per person: {CAUSE_LABELS[c]}" for c in CAUSES],
                         *[f"share: {CAUSE_LABELS[c]}" for c in CAUSES], "ties formed per person"],
             "numeric": [False] + [True] * 7, "rows": lost_rows,
             "note": "'both clauses': either clause alone would have removed the tie. A tie-end is lost by a "
                     "member of the group whether they dropped the friend or were dropped."}]
    if labels:
        mech.insert(0, _figure("dyn-lost", lambda: stacked_bars(labels, [(CAUSE_LABELS[c], parts[c])
                                                                         for c in CAUSES],
                                                                "friendships lost per person (tie-ends, cumulative)"),
                               f"Friendships lost per person by period {last}, split by the clause of the advice "
                               f"that removed them (means over runs; withheld figures drawn as 0).",
                               "Lost friendships by clause and group", figures))
    deco = dyn.get("decomposition")
    if deco:
        variants = deco["variants"]
        drows, dlabels = [], []
        series = {v: ([], [], []) for v in variants}
        for g in deco["groups"]:
            drows.append([g["group"], *[_pct(g["variants"][v]["isolated_share"]) for v in variants],
                          *[_num(g["variants"][v]["mean_score"], 1) for v in variants]])
            if g["group"] != "all":
                dlabels.append(g["group"])
                for v in variants:
                    f = g["variants"][v]["isolated_share"]
                    for lst, key in zip(series[v], ("value", "band_low", "band_high"), strict=True):
                        lst.append(None if not f else f[key])
        mech.append(_figure("dyn-decomposition", lambda: grouped_bars(
            dlabels, [(VARIANT_LABELS.get(v, v), *series[v]) for v in variants], "share without friends (%)"),
            f"Share without friends at period {last} under the scenario and with one mechanism switched off (same "
            f"random draws; error bars: central {band} of runs).", "Isolation by mechanism", figures))
        mech.append({"type": "table", "caption": f"Mechanisms at period {last}: the scenario re-run with one "
                     f"mechanism switched off", "columns": ["group",
                     *[f"without friends: {VARIANT_LABELS.get(v, v)}" for v in variants],
                     *[f"mean score: {VARIANT_LABELS.get(v, v)}" for v in variants]],
                     "numeric": [False] + [True] * (2 * len(variants)), "rows": drows})
    settle = dyn.get("settling") or {}
    mech.append({"type": "p", "cls": "note", "text": (
        f"Settling: every published share stays within {settle.get('tolerance', 0):g} of its final value from "
        f"period {settle['period']} on." if settle.get("settled") else
        f"Settling: some published share still moves by more than {settle.get('tolerance', 0):g} within the last "
        f"{settle.get('window', 0)} periods; the scenario has not settled by period {last}.")})
    out["mechanisms"] = mech
    out["scenario"] = _scenario_blocks(dyn["scenario"])
    out["methods"] = [{"type": "kv", "items": [(k.replace("_", " "), v, False) for k, v in dyn["methods"].items()]}]
    return out


def _scenario_blocks(sc: dict) -> list:
    def cited(b: dict) -> str:
        src = b.get("source") or ""
        return (src + (" (illustrative)" if b.get("illustrative") else "")).strip() or "—"

    rows = [["horizon", f"{sc['horizon']['periods']} periods", cited(sc["horizon"])]]
    if sc.get("renewal"):
        r = sc["renewal"]
        rows.append(["renewal", f"share {r['share']:g} per period of {', '.join(r['columns'])}", cited(r)])
    for f in sc.get("feedback") or []:
        change = next(f"{k} {f[k]}" for k in ("add", "add_poisson", "multiply", "set") if f.get(k) is not None)
        rows.append([f"feedback {f['id']}", f"{'attained' if f['attained'] else 'refused'} '{f['tier']}' -> "
                     f"{f['column']}: {change}, probability {f['probability']:g}", cited(f)])
    if sc.get("unfriending"):
        u = sc["unfriending"]
        margin = (f"margin {u['margin']:g} points" if u.get("margin") is not None else
                  f"margin {u.get('margin_share') if u.get('margin_share') is not None else 0.1:g} of the range")
        rows.append(["unfriending", f"compliance {u['compliance']:g}; {margin}"
                     + ("" if u.get("score_margin", True) else " (switched off)")
                     + ("; real-name clause on " + u["real_name_column"] if u.get("drop_no_real_name") else ""),
                     cited(u)])
    if sc.get("formation"):
        f = sc["formation"]
        rows.append(["formation", f"rate {f['rate']:g}; triadic {f['triadic']:g}; by score {f['score_homophily']:g} "
                     f"within {f['window']:g} of the population; advice applies: {f['advice_applies']}", cited(f)])
    blocks = [{"type": "p", "text": f"{sc['title']} — status: {sc['status']}. {sc.get('description') or ''}".strip()},
              {"type": "table", "caption": "Every number of the scenario and where it comes from",
               "columns": ["block", "numbers", "source"], "numeric": [False, False, False], "rows": rows}]
    if sc.get("sources"):
        blocks.append({"type": "list", "items": [f"[{s['id']}] {s['citation']}" + (f" {s['url']}" if s.get("url")
                                                                                     else "")
                                                 for s in sc["sources"]]})
    return blocks


def dynamics_section(doc: dict, figures: bool = True) -> dict:
    """The dynamics section as plain data: ``{"id", "title", "blocks"}`` (blocks as in the main report's view).

    ``doc`` is the ``dynamics`` block of report.json (or a whole simulate report.json).
    """
    dyn = doc.get("dynamics", doc)
    parts = _blocks(dyn, figures)
    blocks = list(parts["summary"])
    for key, title in (("over_time", "Over time"), ("final", "At the horizon"),
                       ("mechanisms", "Which mechanism"), ("scenario", "The scenario"), ("methods", "Methods")):
        blocks.append({"type": "h3", "text": title})
        blocks += parts[key]
    return {"id": "dynamics", "title": "Long-run dynamics", "blocks": blocks}


def dynamics_view(doc: dict, figures: bool = True) -> dict:
    """The standalone simulate report: title, subtitle and sections (for :mod:`._render`)."""
    dyn = doc["dynamics"]
    parts = _blocks(dyn, figures)
    s = dyn["settings"]
    rep = doc["reproducibility"]
    repro = [{"type": "kv", "items": [("rule", f"{dyn['rule']['name']} ({dyn['rule']['status']})", False),
                                      ("rule hash", rep["rule_hash"], True), ("data hash", rep["data_hash"], True),
                                      ("graph hash", rep["graph_hash"], True),
                                      ("people, ties", f"{dyn['data']['n']:,}, {dyn['data']['edges']:,}", False),
                                      ("periods, runs, seed", f"{s['periods']}, {s['runs']}, {s['seed']}", False),
                                      ("command", s.get("command") or "(Python API)", True)]}]
    if dyn["data"].get("synthetic"):
        repro.insert(0, {"type": "p", "cls": "warn", "text": "The data are synthetic: the report shows mechanisms, "
                         "not facts about real groups or people."})
    sections = [("summary", "Summary", parts["summary"]), ("over-time", "Over time", parts["over_time"]),
                ("final", "At the horizon", parts["final"]), ("mechanisms", "Which mechanism", parts["mechanisms"]),
                ("scenario", "The scenario", parts["scenario"]), ("methods", "Methods and disclosure", parts["methods"]),
                ("reproducibility", "Reproducibility", repro)]
    return {"title": doc["title"], "subtitle": (f"{dyn['scenario']['title']} · {s['periods']} periods · {s['runs']} "
                                                f"runs · {dyn['data']['n']:,} people"),
            "footer": f"Generated by {doc['tool']['name']} {doc['tool']['version']} · {doc['schema_version']} · "
                      f"rule {rep['rule_hash']} · data {rep['data_hash']}.",
            "sections": [{"id": i, "title": t, "blocks": b} for i, t, b in sections]}


def render_texts(doc: dict) -> dict[str, str]:
    """report.json, report.md and report.html of a document (rendered in memory, before anything is written)."""
    return {"report.json": json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n",
            "report.md": render_markdown(dynamics_view(doc, figures=False)),
            "report.html": render_html(dynamics_view(doc, figures=True))}


def write_folder(out_dir: str | Path, texts: dict[str, str]) -> dict[str, Path]:
    """Write files into ``out_dir`` atomically.

    A new folder is filled under a temporary name next to it and renamed into place, so it appears
    complete or not at all; into an existing folder each file is written to a temporary file and renamed.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise AuditInputError(f"{out}: output path exists and is not a folder")
    paths = {name: out / name for name in texts}
    if not out.exists():
        parent = ensure_dir(out.parent if str(out.parent) else Path("."))
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
        except OSError as exc:
            raise AuditInputError(f"{parent}: cannot write there: {exc.strerror or exc}") from None
        try:
            for name, text in texts.items():
                write_atomic(tmp / name, text)
            os.chmod(tmp, 0o755)
            os.rename(tmp, out)
            return paths
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not out.is_dir():
                raise AuditInputError(f"{out}: cannot create the output folder") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    for name, text in texts.items():          # the folder exists (or appeared meanwhile): file by file
        write_atomic(out / name, text)
    return paths


def save_report(result, out_dir: str | Path, command: str | None = None) -> dict[str, Path]:
    """Render the simulate report and write report.json, report.md and report.html (see :func:`write_folder`)."""
    doc = build_document(result, command=command)
    return write_folder(out_dir, render_texts(doc))
