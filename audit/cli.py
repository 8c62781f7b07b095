"""The ``audit`` command line: a thin layer over the Python API.

Bad input (a missing column, a broken rule file, an unknown id) prints one line
on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import warnings
from pathlib import Path

from audit._errors import AuditInputError, DataQualityWarning
from audit._text import visible_controls

DEMO_N = 20_000


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default, except where there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        default = action.default
        if default is None or default is False or default == [] or default is argparse.SUPPRESS or action.required:
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        # No abbreviated options: "--d" never silently means "--data" (and the recorded command
        # line can find every path option by its full name).
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # one line, status 2 (argparse prints usage + message)
        raise AuditInputError(f"{self.prog}: {message} (see '{self.prog} --help')")


#: Options whose value is a file or folder: checked before anything runs, and recorded by name only.
_PATH_OPTIONS = ("--data", "--graph", "--out", "--config", "--dest")


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="audit", description="Audit scoring rules for disparate impact, proxy "
                "discrimination and network contagion.")
    from audit._version import __version__

    p.add_argument("--version", action="version", version=f"audit {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("run", help="audit a rule on a population (and its social graph)")
    r.add_argument("rule", help="built-in rule name (see 'audit rules list') or path to a YAML points table")
    r.add_argument("--data", required=True, help="population: CSV or Parquet, one row per person")
    r.add_argument("--graph", help="friendship edge list: CSV or Parquet with two id columns")
    r.add_argument("--protected", required=True, help="protected attribute columns, comma-separated")
    r.add_argument("--label", help="0/1 outcome column for error-rate parity (e.g. reoffending)")
    r.add_argument("--id-col", default="id", help="person id column")
    r.add_argument("--reference", action="append", default=[], metavar="ATTR=VALUE",
                   help="reference group for an attribute (default: its largest group); repeatable")
    r.add_argument("--intersections", type=int, default=2, help="largest intersection of protected attributes to audit (1: none)")
    r.add_argument("--min-group-size", type=int, default=30,
                   help="smaller groups are shown but never named in a finding, and rare categories are pooled")
    r.add_argument("--disclosure-threshold", type=int, default=10,
                   help="no published count is below this (smaller cells are withheld or pooled)")
    r.add_argument("--alpha", type=float, default=0.05,
                   help="false discovery rate of every verdict; intervals are 1 - ALPHA")
    r.add_argument("--families", default=None,
                   help="comma-separated audit families to run: impact, proxy, contagion (default: all that can run; asking for contagion without --graph is an error)")
    r.add_argument("--threshold", type=float, default=None,
                   help="screening line for 'pushed out': a group below THRESHOLD times the best group's rate "
                        "(default 0.8, the four-fifths rule of thumb)")
    r.add_argument("--bins", action="append", default=[], metavar="ATTR=CUTS",
                   help="cut points for a numeric protected attribute, e.g. age=25,45,65, or a number of "
                        "quantile bins, e.g. age=5 (default: quartiles); repeatable")
    r.add_argument("--seed", type=int, default=0, help="seeds every random step: the same input gives the same report")
    r.add_argument("--out", required=True, help="output folder for report.json, report.md, report.html")
    r.add_argument("--progress", choices=["auto", "bar", "lines", "none"], default="auto",
                   help="progress display: a bar on a terminal, a line per step when piped (auto), or none")

    d = sub.add_parser("demo", help="generate the synthetic social-credit population and audit the sesame rule")
    d.add_argument("--out", default="reports/demo", help="output folder for the report files")
    d.add_argument("--n", type=int, default=DEMO_N, help="population size")
    d.add_argument("--seed", type=int, default=0, help="seeds the population and every random step")
    d.add_argument("--progress", choices=["auto", "bar", "lines", "none"], default="auto",
                   help="progress display: a bar on a terminal, a line per step when piped (auto), or none")

    ru = sub.add_parser("rules", help="list, show or validate rules")
    rsub = ru.add_subparsers(dest="rules_command", required=True, parser_class=_Parser)
    rsub.add_parser("list", help="list the built-in rules with their status")
    sh = rsub.add_parser("show", help="show a rule's terms, tiers and sources")
    sh.add_argument("name", help="built-in rule name or path to a rule file")
    sh.add_argument("--json", action="store_true", help="print the rule card as JSON")
    va = rsub.add_parser("validate", help="check a rule file; errors name the file, term and reason")
    va.add_argument("path", help="rule file (YAML)")

    ds = sub.add_parser("datasets", help="list, generate or fetch data sets")
    dsub = ds.add_subparsers(dest="datasets_command", required=True, parser_class=_Parser)
    dsub.add_parser("list", help="list the data sets the toolkit knows")
    ge = dsub.add_parser("generate", help="generate a synthetic data set")
    ge.add_argument("name", choices=["sesame"], help="generator")
    ge.add_argument("--n", type=int, default=DEMO_N, help="population size")
    ge.add_argument("--seed", type=int, default=0, help="random seed")
    ge.add_argument("--mean-degree", type=float, default=20.0, help="mean number of friends")
    ge.add_argument("--homophily", type=float, default=None,
                    help="share of friendships formed within one's own group (default: the generator's)")
    ge.add_argument("--config", help="YAML file overriding the generator's parameters")
    ge.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="file format")
    ge.add_argument("--out", required=True, help="output folder")
    fe = dsub.add_parser("fetch", help="download a public data set from its publisher and verify its sha256")
    fe.add_argument("name", help="data set name (see 'audit datasets list')")
    fe.add_argument("--dest", help="folder (default: the user cache)")
    fe.add_argument("--force", action="store_true", help="download again even if a verified copy exists")
    _add_simulate(sub)
    return p


def _parse_bins(items: list[str]) -> dict | None:
    out: dict = {}
    for item in items:
        attr, sep, cuts = item.partition("=")
        if not sep or not attr.strip() or not cuts.strip():
            raise AuditInputError(f"--bins {item!r}: expected ATTR=CUT,CUT,... or ATTR=NUMBER_OF_BINS")
        parts = [c.strip() for c in cuts.split(",") if c.strip()]
        try:
            out[attr.strip()] = int(parts[0]) if len(parts) == 1 and parts[0].isdigit() else [float(c) for c in parts]
        except ValueError:
            raise AuditInputError(f"--bins {item!r}: cut points must be numbers") from None
    return out or None
def _add_simulate(sub) -> None:
    """``audit simulate``: the long-run dynamics of a rule (audit.dynamics)."""
    s = sub.add_parser("simulate", help="simulate a rule over many periods: feedback, unfriending, isolation")
    s.add_argument("rule", help="built-in rule name or path to a YAML points table")
    s.add_argument("--data", required=True, help="population: CSV or Parquet, one row per person")
    s.add_argument("--graph", required=True, help="friendship edge list: CSV or Parquet with two id columns")
    s.add_argument("--protected", required=True, help="protected attribute columns, comma-separated")
    s.add_argument("--scenario", help="scenario YAML file (default: the rule's built-in long-run scenario)")
    s.add_argument("--periods", type=int, help="horizon in periods (default: the scenario's)")
    s.add_argument("--runs", type=int, default=10, help="Monte-Carlo runs")
    s.add_argument("--seed", type=int, default=0, help="seeds every random step")
    s.add_argument("--id-col", default="id", help="person id column")
    s.add_argument("--min-group-size", type=int, default=30, help="smaller groups are shown but never named")
    s.add_argument("--disclosure-threshold", type=int, default=10, help="no published count is below this")
    s.add_argument("--no-decompose", action="store_true",
                   help="skip the re-runs with one mechanism switched off (faster)")
    s.add_argument("--out", required=True, help="output folder for report.json, report.md, report.html")


def _simulate(args: argparse.Namespace, argv: list[str]) -> int:
    from audit.dynamics import save_report, simulate

    result = simulate(args.rule, args.data, args.graph, args.protected, scenario=args.scenario,
                      periods=args.periods, runs=args.runs, seed=args.seed, id_col=args.id_col,
                      min_group_size=args.min_group_size, disclosure_threshold=args.disclosure_threshold,
                      decompose=not args.no_decompose, command=recorded_command(argv, args.rule if _is_path_rule(args.rule) else None))
    paths = save_report(result, args.out, command=recorded_command(argv, args.rule if _is_path_rule(args.rule) else None))
    print(result.to_dict()["summary"]["headline"])
    for p in paths.values():
        print(f"wrote {p}")
    return 0


def _parse_reference(items: list[str]) -> dict | None:
    out = {}
    for item in items:
        if "=" not in item:
            raise AuditInputError(f"--reference {item!r}: expected ATTR=VALUE")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out or None


def _console():
    from rich.console import Console

    # Piped output (files, grep, CI logs) gets wide lines instead of tables wrapped at 80 columns.
    return Console() if sys.stdout.isatty() else Console(width=200, no_color=True)


def _print_rule(name: str, as_json: bool) -> None:
    from audit.rules import load_rule

    card = load_rule(name).to_card()
    if as_json:
        from audit._text import BIDI_JSON_ESCAPES

        print(json.dumps(card, indent=2, ensure_ascii=False).translate(BIDI_JSON_ESCAPES))
        return
    from rich.markup import escape as _markup_escape
    from rich.table import Table

    def escape(text: str) -> str:  # rich markup escaped, bidirectional controls made visible
        return _markup_escape(visible_controls(str(text)))

    con = _console()
    con.print(f"[bold]{escape(card['title'])}[/bold]  ({escape(card['name'])}; {escape(card['status'])}; "
              f"{escape(card['kind'])})")
    if card["description"]:
        con.print(escape(card["description"]))
    if card["terms"]:
        t = Table("term", "expression", "points", "source")
        if card["base"] is not None:
            t.add_row("base", "", f"{card['base']:g}", "")
        for term in card["terms"]:
            src = (term["source"] or "") + (" (illustrative)" if term["illustrative"] else "")
            pts = f"{term['points']:g}" + (" per unit" if term["kind"] == "value" else "")
            t.add_row(escape(term["label"]), escape(term["expression"]), pts, escape(src))
        con.print(t)
    def cited(block) -> str:
        if not block:
            return ""
        src = f" source: {block['source']}" if block.get("source") else ""
        return escape(f" ({'illustrative' if block.get('illustrative') else 'cited'};{src})")

    if card.get("base") is not None:
        con.print(f"base: {card['base']:g}" + cited(card.get("base_citation")))
    if card.get("range"):
        con.print(f"range: {card['range'][0]:g}–{card['range'][1]:g}" + cited(card.get("range_citation")))
    if card.get("lookup"):
        lk = card["lookup"]
        table = ", ".join(f"{row['raw']:g}→{row['scaled']:g}" for row in lk["table"])
        con.print(f"lookup ({escape(lk['label'])}): raw total {escape(table)}" + cited(lk))
    if card["network"]:
        con.print(f"network: weight {card['network']['weight']:g}; {escape(card['network']['formula'])}")
    tt = Table("tier", "rule", "benefit", "source")
    for tier in card["tiers"]:
        src = (tier["source"] or "") + (" (illustrative)" if tier["illustrative"] else "")
        tt.add_row(escape(tier["name"]), escape(tier["rule"]), escape(tier["benefit"]), escape(src))
    con.print(tt)
    if card["columns"]:
        con.print("needs columns: " + ", ".join(f"{escape(k)} ({v.get('type')})" for k, v in card["columns"].items()))
    for s in card["sources"]:
        con.print(escape(f"[{s['id']}] {s['citation']}" + (f" {s['url']}" if s.get("url") else "")))


def _is_path_rule(rule: str) -> bool:
    return rule.endswith((".yaml", ".yml")) or "/" in rule or "\\" in rule


def _check_arguments(args: argparse.Namespace) -> None:
    """Everything that can be checked before a (possibly long) run starts; one line each."""
    from audit._io import check_path

    for option in _PATH_OPTIONS:
        value = getattr(args, option[2:], None)
        if value is not None:
            check_path(value, what=option)
    if args.command == "run" and _is_path_rule(args.rule):
        check_path(args.rule, what="rule file")
    if args.command == "rules" and args.rules_command == "validate":
        check_path(args.path, what="rule file")
    out = getattr(args, "out", None)
    if out is not None:
        try:
            if Path(out).exists() and not Path(out).is_dir():
                # Checked before the audit runs, so a long run does not end in this error.
                raise AuditInputError(f"{out}: output path exists and is not a folder")
        except OSError as exc:
            raise AuditInputError(f"--out: {out}: {exc.strerror or exc}") from None
    if args.command == "run":
        if not 0 < args.alpha < 1:  # also refuses nan
            raise AuditInputError(f"--alpha must be between 0 and 1, got {args.alpha:g}")
        for option in ("intersections", "min_group_size", "disclosure_threshold"):
            if getattr(args, option) < 1:
                raise AuditInputError(f"--{option.replace('_', '-')} must be at least 1, got {getattr(args, option)}")
    if args.command in ("demo", "datasets") and getattr(args, "n", None) is not None and args.n < 1:
        raise AuditInputError(f"--n must be at least 1, got {args.n}")
    for option in ("mean_degree", "homophily"):
        value = getattr(args, option, None)
        if value is not None and not math.isfinite(value):
            raise AuditInputError(f"--{option.replace('_', '-')} must be a finite number, got {value}")


def _families(text: str) -> list[str]:
    families = [f.strip() for f in text.split(",") if f.strip()]
    if not families:
        raise AuditInputError(f"--families {text!r}: name at least one of impact, proxy, contagion")
    return families


def recorded_command(argv: list[str], rule_path: str | None = None) -> str:
    """The command line as a report records it: files and folders by their name only.

    An absolute path says who ran the audit where ("/home/alice/cases/..."); a report
    is shared, so it names ``people.csv``, as the population card does.  ``rule_path``
    is the rule argument when it is a file.

    Examples
    --------
    >>> recorded_command(["run", "--data=/home/a/people.csv", "/home/a/rules/mine.yaml", "--out", "/tmp/o"],
    ...                  rule_path="/home/a/rules/mine.yaml")
    'audit run --data=people.csv mine.yaml --out o'
    """
    out: list[str] = []
    after_path_option = False
    for token in argv:
        if after_path_option:
            out.append(_name_only(token))
            after_path_option = False
            continue
        option, eq, value = token.partition("=")
        if token in _PATH_OPTIONS:
            after_path_option = True
            out.append(token)
        elif eq and option in _PATH_OPTIONS:
            out.append(f"{option}={_name_only(value)}")
        elif rule_path is not None and token == rule_path:
            out.append(_name_only(token))
        else:
            out.append(token)
    return "audit " + shlex.join(out)


def _name_only(path: str) -> str:
    return Path(path).name or path


def _cmd(args: argparse.Namespace, argv: list[str]) -> int:
    import audit

    _check_arguments(args)
    if args.command in ("run", "demo"):
        from audit._io import check_out_dir

        check_out_dir(args.out, ("report.json", "report.md", "report.html"))
    if args.command == "run":
        report = audit.run(
            args.rule, args.data, protected=args.protected, graph=args.graph, label=args.label,
            seed=args.seed, id_col=args.id_col, reference=_parse_reference(args.reference),
            intersections=args.intersections, min_group_size=args.min_group_size,
            disclosure_threshold=args.disclosure_threshold, alpha=args.alpha,
            families=None if args.families is None else _families(args.families),
            threshold=args.threshold, bins=_parse_bins(args.bins),
            command=recorded_command(argv, args.rule if _is_path_rule(args.rule) else None),
            progress=_progress_mode(args.progress),
        )
        paths = _save(report, args.out, args.progress)
        _summary(report, paths)
        return 0
    if args.command == "simulate":
        return _simulate(args, argv)
    if args.command == "demo":
        from audit._examples import run_demo

        report, paths = run_demo(args.out, n=args.n, seed=args.seed, command=recorded_command(argv),
                                 progress=_progress_mode(args.progress))
        _summary(report, paths)
        return 0
    if args.command == "rules":
        if args.rules_command == "list":
            from rich.table import Table

            t = Table("name", "status", "kind", "terms", "tiers", "title")
            for r in audit.list_rules():
                t.add_row(r["name"], r["status"], r["kind"], str(r["terms"]), str(r["tiers"]), r["title"])
            _console().print(t)
        elif args.rules_command == "show":
            _print_rule(args.name, args.json)
        else:
            rule = audit.rules.validate_rule_file(args.path)
            print(visible_controls(f"{args.path}: ok — rule {rule.name!r}: {len(rule.terms)} terms, "
                                   f"{len(rule.tiers)} tiers, reads {', '.join(rule.features)}"))
        return 0
    if args.command == "datasets":
        from audit import datasets

        if args.datasets_command == "list":
            from rich.table import Table

            t = Table("name", "kind", "title", "protected", "available")
            for d in datasets.list_datasets():
                t.add_row(d["name"], d.get("kind", ""), d.get("title", ""), ", ".join(d.get("protected", [])),
                          "yes" if d.get("found") else "no")
            _console().print(t)
        elif args.datasets_command == "generate":
            paths = datasets.write_sesame(args.out, n=args.n, seed=args.seed, fmt=args.format,
                                          mean_degree=args.mean_degree, homophily=args.homophily,
                                          config=args.config)
            for p in paths.values():
                print(p)
        else:
            print(datasets.fetch(args.name, dest=args.dest, force=args.force))
        return 0
    raise AssertionError(args.command)


def _progress_mode(mode: str) -> str:
    from audit._progress import resolve_mode

    return resolve_mode(mode, command_line=True)


def _save(report, out: str, mode: str) -> dict:
    from audit._progress import session, step

    with session(1, mode=_progress_mode(mode), title="report"), step("rendering and writing the report files"):
        return report.save(out)


def _summary(report, paths) -> None:
    """Print the report's lead (the same sentences as report.md/html) and the files written."""
    doc = report.document
    summary = doc.get("summary") or {}
    # Group names come from the data: no control character reaches the terminal raw.
    print(visible_controls(f"{len(doc['pushed_out'])} pushed-out finding(s). {summary.get('headline', '')}"))
    for finding in summary.get("findings", [])[:6]:
        print(visible_controls(f"  - {finding['text']}"))
    for p in paths.values():
        print(visible_controls(f"wrote {p}"))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Warnings are held back until the command ends: a bad input gets its one line and nothing
    # else (a numpy overflow warning on the way to the error says nothing the error does not).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            args = _build_parser().parse_args(argv)
            code = _cmd(args, argv)
        except AuditInputError as exc:
            print(f"audit: error: {visible_controls(str(exc))}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("audit: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            return 0
    seen = set()
    for w in caught:
        if issubclass(w.category, DataQualityWarning):
            # A finding about the data, not about the code: one plain line, each once.
            if str(w.message) not in seen:
                seen.add(str(w.message))
                print(f"audit: warning: {visible_controls(str(w.message))}", file=sys.stderr)
            continue
        warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return code


if __name__ == "__main__":
    sys.exit(main())
