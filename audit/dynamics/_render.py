"""Render a report *view* -- title, subtitle, sections of blocks -- as self-contained HTML or as Markdown.

A view is plain data: ``{"title", "subtitle", "footer", "sections": [{"id", "title", "blocks"}]}`` where a
block is a paragraph (``p``), sub-heading (``h3``), list, key-value list (``kv``), table or figure, the
same block shapes the main audit report uses.  Every string is escaped (autoescaping Jinja2 for HTML,
:func:`md_escape` for Markdown): group names and rule labels are untrusted text.
"""

from __future__ import annotations

import re
from functools import lru_cache

import jinja2
from markupsafe import Markup

__all__ = ["render_html", "render_html_fragment", "render_markdown", "md_escape", "CSS"]

#: The main report's body styles (audit/report), scoped to ``.audit-report``.
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


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("audit.dynamics", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def _tool() -> str:
    from audit._version import __version__

    return f"scoring-rule-audit {__version__}"


def render_html(view: dict) -> str:
    """One self-contained page: inline styles and SVG figures, no script, no request."""
    view = {"footer": "", **view}
    return _env().get_template("report.html.j2").render(view=view, css=Markup(CSS), fragment=False, tool=_tool())


def render_html_fragment(view: dict) -> str:
    """The same content without the page chrome, for Jupyter."""
    view = {"footer": "", **view}
    return _env().get_template("report.html.j2").render(view=view, css=Markup(CSS), fragment=True, tool=_tool())


_MD_SPECIAL = re.compile(r"([`*_\[\]#~!{}])")


def md_escape(text: object) -> str:
    """Escape a string for Markdown: no table breaks, no raw HTML, no links, no emphasis.

    Examples
    --------
    >>> md_escape("<b>a|b</b>")
    '&lt;b&gt;a\\\\|b&lt;/b&gt;'
    """
    s = str(text)
    s = s.replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = s.replace("|", "\\|").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return _MD_SPECIAL.sub(r"\\\1", s)


def _block(b: dict) -> list[str]:
    t = b["type"]
    if t == "p":
        text = md_escape(b["text"])
        return [f"> {text}", ""] if b.get("cls") == "lead" else [f"**{text}**", ""] if b.get("cls") == "warn" \
            else [text, ""]
    if t == "h3":
        return [f"### {md_escape(b['text'])}", ""]
    if t == "list":
        return [f"- {md_escape(i)}" for i in b["items"]] + [""]
    if t == "kv":
        return [f"- {md_escape(k)}: {md_escape(v)}" for k, v, _ in b["items"]] + [""]
    if t == "table":
        out = [f"*{md_escape(b['caption'])}*", ""] if b.get("caption") else []
        out.append("| " + " | ".join(md_escape(c) for c in b["columns"]) + " |")
        out.append("|" + "|".join("---:" if n else "---" for n in b["numeric"]) + "|")
        out += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in b["rows"]]
        out.append("")
        return out + ([md_escape(b["note"]), ""] if b.get("note") else [])
    if t == "figure":
        return [f"*{md_escape(b['caption'])}* (figure in report.html)", ""]
    raise AssertionError(t)


def render_markdown(view: dict) -> str:
    """The same text and tables as the HTML, figures cited by caption."""
    lines = [f"# {md_escape(view['title'])}", "", md_escape(view["subtitle"]), ""]
    if len(view["sections"]) > 1:
        lines += ["Contents: " + " · ".join(md_escape(s["title"]) for s in view["sections"]), ""]
    for s in view["sections"]:
        lines += [f"## {md_escape(s['title'])}", ""]
        for b in s["blocks"]:
            lines += _block(b)
    if view.get("footer"):
        lines += ["---", "", md_escape(view["footer"]), ""]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
