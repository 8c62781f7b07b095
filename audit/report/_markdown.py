"""report.md: the report as Markdown for briefs."""

from __future__ import annotations

import re


def md_escape(text: object) -> str:
    """Escape a user-supplied string for Markdown: no table breaks, no raw HTML, no links."""
    s = str(text)
    s = s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")
    s = s.replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([`*_\[\]#])", r"\\\1", s)


def _group(entry: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in entry["group"].items())


def _num(x, fmt="{:.3f}") -> str:
    return "suppressed" if x is None else fmt.format(x)


def render_markdown(doc: dict) -> str:
    rule, pop = doc["rule"], doc["population"]
    lines = [f"# Audit of {md_escape(rule['title'])}", ""]
    lines += [f"Rule `{md_escape(rule['name'])}` ({md_escape(rule['status'])}), population "
              f"{md_escape(pop['source'])} with {pop['rows']:,} rows.", ""]
    lines += ["## Who gets pushed out", ""]
    if doc["pushed_out"]:
        lines += ["| group | tier | n | rate | reference rate | impact ratio (95% CI) | q | mechanism |",
                  "|---|---|---|---|---|---|---|---|"]
        for e in doc["pushed_out"]:
            lines.append(
                f"| {md_escape(_group(e))} | {md_escape(e['tier'])} | {e['n']} | {_num(e['selection_rate'])} | "
                f"{_num(e['reference_rate'])} | {_num(e['impact_ratio'])} ({_num(e['ci_low'])}–{_num(e['ci_high'])}) | "
                f"{_num(e['q_value'], '{:.2g}')} | {md_escape(e['mechanism'])} |")
    else:
        lines.append("No group meets the pushed-out criterion (impact ratio below 0.8 with q < 0.05).")
    lines += ["", "## Scores by group", "",
              "| attribute | group | n | mean own score | mean final score |", "|---|---|---|---|---|"]
    for row in doc["scores"]["by_group"]:
        lines.append(f"| {md_escape(', '.join(row['attributes']))} | {md_escape(_group(row))} | "
                     f"{row['n'] if row['n'] is not None else 'suppressed'} | "
                     f"{_num(row['mean_own_score'], '{:.1f}')} | {_num(row['mean_final_score'], '{:.1f}')} |")
    rep = doc["reproducibility"]
    lines += ["", "## Reproducibility", "", f"- rule hash: `{rep['rule_hash']}`", f"- data hash: `{rep['data_hash']}`",
              f"- seed: {rep['seed']}", ""]
    return "\n".join(lines)
