"""The audit report: one document, written as JSON, Markdown and self-contained HTML."""

from audit.report._report import Report, build_report, render_rule_card_html

__all__ = ["Report", "build_report", "render_rule_card_html"]
