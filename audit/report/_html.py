"""report.html: one self-contained file (styles and images inline, no external requests)."""

from __future__ import annotations

from functools import lru_cache

import jinja2


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    # Autoescape everything: rule labels, column names and group values are untrusted text.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("audit.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(doc: dict) -> str:
    return _env().get_template("report.html.j2").render(doc=doc, fragment=False)


def render_fragment(doc: dict) -> str:
    return _env().get_template("report.html.j2").render(doc=doc, fragment=True)
