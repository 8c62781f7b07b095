"""The :class:`Report` object and its three formats."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit._io import write_bundle
from audit._text import BIDI_JSON_ESCAPES
from audit.report._document import build_document

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("json", "md", "html")


def _json_text(doc: dict) -> str:
    # allow_nan=False: a NaN reaching the report is a bug, not something to print.
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    # Bidirectional controls from the data or a rule file (U+202E reverses the text after it) stay in
    # the values but are written as \u escapes, so no editor or terminal showing the file reorders it.
    return text.translate(BIDI_JSON_ESCAPES)


@dataclass(frozen=True, eq=False)
class Report:
    """An audit report.

    ``to_dict()`` is exactly what ``report.json`` holds; ``save(dir)`` writes
    ``report.json``, ``report.md`` and ``report.html`` as one unit (with a
    ``manifest.json`` naming the run; see :func:`audit._io.write_bundle`).  The live
    result objects of each family are in ``results`` for further analysis in
    Python; they never leave the process.
    """

    document: dict
    results: dict = field(default_factory=dict, repr=False)
    # Rendered formats, made once: the document never changes after the report is built.
    _rendered: dict = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict:
        return copy.deepcopy(self.document)

    def to_json(self) -> str:
        """report.json: the document as indented UTF-8 JSON (byte-identical for identical input and seed)."""
        if "json" not in self._rendered:
            self._rendered["json"] = _json_text(self.document)
        return self._rendered["json"]

    def to_markdown(self) -> str:
        """report.md: the lead, tables and figure captions as Markdown (user strings escaped)."""
        if "md" not in self._rendered:
            from audit.report._markdown import render_markdown

            self._rendered["md"] = render_markdown(self.document)
        return self._rendered["md"]

    def to_html(self) -> str:
        """report.html: one self-contained page (inline styles and SVG figures, no script, no request)."""
        if "html" not in self._rendered:
            from audit.report._html import render_html

            self._rendered["html"] = render_html(self.document)
        return self._rendered["html"]

    def to_frame(self, verdict: str | None = None) -> pd.DataFrame:
        """The findings as the report publishes them: one row per group and tier (tidy).

        Groups, comparators and parents are written as text (``"ethnicity=minority A"``); the
        attribution's parts and the sensitivity variants are left to :meth:`to_dict` (they are lists).
        Figures withheld under the disclosure rule are missing (``None``), exactly as in report.json.
        ``verdict`` keeps one verdict ("pushed out" or "below parity").

        Examples
        --------
        >>> import audit
        >>> people, edges = audit.generate_sesame(3000, seed=2)
        >>> report = audit.run("sesame", people, protected=["ethnicity"], families=["impact"],
        ...                    progress="none")
        >>> frame = report.to_frame()
        >>> list(frame.columns[:4])
        ['verdict', 'group', 'tier', 'n']
        """
        import pandas as pd

        def text(group) -> str | None:
            return None if not group else " & ".join(f"{a}={v}" for a, v in group.items())

        rows = []
        for d in self.document.get("findings", []):
            if verdict is not None and d["verdict"] != verdict:
                continue
            row = {k: v for k, v in d.items() if not isinstance(v, (list, dict))}
            row["group"] = text(d["group"])
            row["attributes"] = " & ".join(d["attributes"])
            row["reference_group"] = text(d.get("reference_group"))
            row["parent"] = text((d.get("parent") or {}).get("group"))
            row["aliases"] = ", ".join(d.get("aliases") or []) or None
            rows.append(row)
        first = ["verdict", "group", "tier", "n", "selection_rate", "reference_group", "reference_rate",
                 "impact_ratio", "ci_low", "ci_high", "ratio_upper_bound", "q_value", "mechanism"]
        frame = pd.DataFrame(rows)
        if frame.empty:
            return pd.DataFrame(columns=first)
        return frame[[c for c in first if c in frame] + [c for c in frame if c not in first]]

    @property
    def pushed_out(self) -> list[dict]:
        """The pushed-out findings as report.json holds them (dicts), most excluded first.

        ``to_frame("pushed out")`` gives the same as a DataFrame.
        """
        return copy.deepcopy(self.document["pushed_out"])

    @property
    def summary(self) -> dict:
        """The lead: ``headline``, ``findings`` (each with its numbers) and ``caveats``."""
        return copy.deepcopy(self.document["summary"])

    def save(self, out_dir: str | Path, formats: tuple[str, ...] = FORMATS) -> dict[str, Path]:
        """Write the report files into ``out_dir`` (created if needed) as one unit.

        A reader of ``out_dir`` sees the previous report or this one, never a mix of
        the two and never a half-written file; ``manifest.json``, written last, lists
        every file with its SHA-256 (see :func:`audit._io.write_bundle`).
        """
        # Render everything first, so that a failure in one format leaves no partial set of
        # files (and no empty output folder).
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
        paths = write_bundle(out_dir, {f"report.{fmt}": text for fmt, text in texts.items()})
        return {fmt: paths[f"report.{fmt}"] for fmt in texts}

    def _repr_html_(self) -> str:
        """Notebook display: the lead, the pushed-out table and the disparate-impact figures."""
        if "fragment" not in self._rendered:
            from audit.report._html import render_fragment

            self._rendered["fragment"] = render_fragment(self.document)
        return self._rendered["fragment"]

    def __repr__(self) -> str:
        d = self.document
        return (f"Report(rule={d['rule']['name']!r}, rows={d['population']['rows']}, "
                f"pushed_out={len(d['pushed_out'])})")


def build_report(ctx, results: dict[str, Any], findings=None) -> Report:
    return Report(build_document(ctx, results, findings), dict(results))


def render_rule_card_html(card: dict) -> str:
    """The rule card as an HTML fragment (every term, its points, its source or "illustrative"; the tiers).

    Used by ``Rule._repr_html_``; every string from the rule file is escaped.
    """
    from audit.report._html import render_rule_card

    return render_rule_card(card)
