"""report.html: one self-contained file (styles and figures inline, no external requests, no scripts)."""

from __future__ import annotations

from functools import lru_cache

import jinja2
from markupsafe import Markup

from audit._text import visible_controls
from audit.report._view import build_view

#: Styles of the report body, scoped to ``.audit-report`` so that the notebook fragment can carry them too.
CSS = """
.audit-report h1{font-size:1.7rem;line-height:1.2;margin:.2rem 0}
.audit-report h2{font-size:1.3rem;border-bottom:2px solid var(--ink,#1a1a1a);padding-bottom:.15rem;margin-top:2.4rem}
.audit-report h3{font-size:1.02rem;margin:1.4rem 0 .4rem}
.audit-report .subtitle{color:var(--muted,#555);margin:.2rem 0 0}
.audit-report .lead{font-size:1.08rem;border-left:4px solid var(--accent,#0b5394);padding:.3rem 0 .3rem .8rem;
  background:var(--band,#f6f6f4)}
.audit-report .note{color:var(--muted,#555);font-size:.88rem}
.audit-report .warn{color:var(--warn,#8a3b00);font-weight:600}
.audit-report ul{padding-left:1.3rem}.audit-report li{margin:.25rem 0}
.audit-report .table-wrap{overflow-x:auto;margin:.6rem 0 1rem}
.audit-report table{border-collapse:collapse;font-size:.84rem;min-width:50%}
.audit-report caption{caption-side:top;text-align:left;color:var(--muted,#555);font-size:.82rem;padding:.2rem 0}
.audit-report th,.audit-report td{border-bottom:1px solid var(--rule,#d0d0d0);padding:.22rem .55rem;
  text-align:left;vertical-align:top}
.audit-report thead th{border-bottom:2px solid #888;background:var(--band,#f6f6f4);font-weight:600}
.audit-report tbody tr:nth-child(even){background:#fbfbfa}
.audit-report .num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.audit-report code{font-size:.82em;word-break:break-all}
.audit-report dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.5rem 0 1rem;
  font-size:.9rem}
.audit-report dl.kv dt{color:var(--muted,#555)}.audit-report dl.kv dd{margin:0}
.audit-report figure{margin:1rem 0 1.4rem}
.audit-report .fig{max-width:100%}
.audit-report svg.figure-svg{width:100%;height:auto;max-width:46rem;display:block}
.audit-report figcaption{font-size:.84rem;color:var(--muted,#555);margin-top:.3rem;max-width:46rem}
"""


def _finalize(value: object) -> object:
    """Every ``{{ value }}`` before escaping: bidirectional controls become visible ``[U+XXXX]``.

    Markup (the stylesheet, figures already made safe by :mod:`audit.report._figures`) passes through.
    """
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible_controls(value)
    return value


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    # Autoescape everything: rule labels, column names and group values are untrusted text.
    return jinja2.Environment(
        finalize=_finalize,
        loader=jinja2.PackageLoader("audit.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(doc: dict) -> str:
    view = build_view(doc, figures=True)
    return _env().get_template("report.html.j2").render(doc=doc, view=view, css=Markup(CSS), fragment=False)


def render_fragment(doc: dict) -> str:
    """The notebook display: lead, the pushed-out table and the disparate-impact figures."""
    view = build_view(doc, figures=True, compact=True)
    return _env().get_template("report.html.j2").render(doc=doc, view=view, css=Markup(CSS), fragment=True)


def render_rule_card(card: dict) -> str:
    from audit.report._view import rule_blocks

    view = {"title": card.get("title") or card.get("name") or "rule",
            "subtitle": f"{card.get('name')} — {card.get('status')}, {card.get('kind')} rule",
            "sections": [{"id": "rule-card", "title": "The rule", "blocks": rule_blocks(card)}]}
    return _env().get_template("report.html.j2").render(doc={}, view=view, css=Markup(CSS), fragment=True)
