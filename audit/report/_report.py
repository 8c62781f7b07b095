"""The :class:`Report` object and its three formats."""

from __future__ import annotations

import copy
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit._io import ensure_dir, write_atomic
from audit.report._document import build_document

FORMATS = ("json", "md", "html")


def _json_text(doc: dict) -> str:
    # allow_nan=False: a NaN reaching the report is a bug, not something to print.
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


@dataclass(frozen=True, eq=False)
class Report:
    """An audit report.

    ``to_dict()`` is exactly what ``report.json`` holds; ``save(dir)`` writes
    ``report.json``, ``report.md`` and ``report.html`` atomically.  The live
    result objects of each family are in ``results`` for further analysis in
    Python; they never leave the process.
    """

    document: dict
    results: dict = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        return copy.deepcopy(self.document)

    def to_json(self) -> str:
        return _json_text(self.document)

    def to_markdown(self) -> str:
        from audit.report._markdown import render_markdown

        return render_markdown(self.document)

    def to_html(self) -> str:
        from audit.report._html import render_html

        return render_html(self.document)

    @property
    def pushed_out(self) -> list[dict]:
        return copy.deepcopy(self.document["pushed_out"])

    def save(self, out_dir: str | Path, formats: tuple[str, ...] = FORMATS) -> dict[str, Path]:
        """Write the report files into ``out_dir`` (created if needed); each file appears whole or not at all."""
        out = ensure_dir(out_dir)
        # Render everything first so that a failure in one format leaves no partial set of files.
        texts = {}
        for fmt in formats:
            if fmt == "json":
                texts[fmt] = self.to_json()
            elif fmt == "md":
                texts[fmt] = self.to_markdown()
            elif fmt == "html":
                texts[fmt] = self.to_html()
            else:
                from audit._errors import AuditInputError

                raise AuditInputError(f"unknown report format {fmt!r} (choose from json, md, html)")
        return {fmt: write_atomic(out / f"report.{fmt}", text) for fmt, text in texts.items()}

    def _repr_html_(self) -> str:
        from audit.report._html import render_fragment

        return render_fragment(self.document)

    def __repr__(self) -> str:
        d = self.document
        return (f"Report(rule={d['rule']['name']!r}, rows={d['population']['rows']}, "
                f"pushed_out={len(d['pushed_out'])})")


def build_report(ctx, results: dict[str, Any]) -> Report:
    return Report(build_document(ctx, results), dict(results))


def render_rule_card_html(card: dict) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(t['label'])}</td><td><code>{e(t['expression'])}</code></td><td>{t['points']:g}</td>"
        f"<td>{'illustrative' if t['illustrative'] else ''} {e(t['source'] or '')}</td></tr>"
        for t in card["terms"])
    tiers = "".join(f"<li>{e(t['name'])}: {e(t['rule'])} — {e(t['benefit'])}</li>" for t in card["tiers"])
    return (f"<div><h4>{e(card['title'])}</h4><p>{e(card['status'])}, {e(card['kind'])}</p>"
            f"<table><tr><th>term</th><th>expression</th><th>points</th><th>source</th></tr>{rows}</table>"
            f"<ul>{tiers}</ul></div>")
