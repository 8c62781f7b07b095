"""The long-run scenario file: YAML, validated with pydantic, every number sourced or marked illustrative.

A scenario says what happens between two scorings: how behaviour records
renew, how a tier granted or refused feeds back into next period's inputs, how
people follow the advice to drop friends, and how they make new ones.  It is
untrusted text: read with a safe YAML loader (no aliases), validated field by
field (an unknown key is an error), never evaluated.  Every block that holds a
number cites a source from ``sources`` or says ``illustrative: true``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from audit._errors import AuditInputError

__all__ = ["Scenario", "load_scenario", "parse_scenario", "builtin_scenarios", "scenario_for_rule"]

BUILTIN = "audit.dynamics.builtin"
MAX_SCENARIO_BYTES = 200_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SourceSpec(_Strict):
    id: str = Field(min_length=1, max_length=80)
    citation: str = Field(min_length=1, max_length=1000)
    url: str | None = None


class _Cited(_Strict):
    source: str | None = None
    illustrative: bool = False
    note: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _cited(self):
        if self.source is None and not self.illustrative:
            raise ValueError("give a 'source' (an id from 'sources') or mark it 'illustrative: true'")
        return self


class HorizonSpec(_Cited):
    """How many periods to run by default, and what one period stands for."""

    periods: int = Field(ge=1, le=10_000)
    period: str = Field(default="period", min_length=1, max_length=80)


class RenewalSpec(_Cited):
    """Behaviour records renew: each period a share of people draw a new profile from their stratum."""

    share: float = Field(ge=0, le=1)
    columns: list[str] = Field(min_length=1, max_length=200)
    strata: list[str] | None = Field(default=None, max_length=50)


class FeedbackSpec(_Cited):
    """A tier granted (or refused) in one period changes a column in the next."""

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
    label: str = Field(default="", max_length=300)
    tier: str = Field(min_length=1, max_length=200)
    attained: bool
    column: str = Field(min_length=1, max_length=200)
    add: float | None = None
    add_poisson: float | None = Field(default=None, gt=0, le=1000)
    multiply: float | None = Field(default=None, ge=0, le=1000)
    set: float | bool | None = None
    probability: float = Field(default=1.0, gt=0, le=1)
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_change(self):
        given = [k for k in ("add", "add_poisson", "multiply", "set") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'add', 'add_poisson', 'multiply' or 'set'")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("'min' is above 'max'")
        return self

    @property
    def change(self) -> tuple[str, float | bool]:
        for k in ("add", "add_poisson", "multiply", "set"):
            v = getattr(self, k)
            if v is not None:
                return k, v
        raise AssertionError


class UnfriendingSpec(_Cited):
    """The advice to drop friends: compliance per person and period, a score margin, a real-name clause."""

    compliance: float = Field(ge=0, le=1)
    margin: float | None = Field(default=None, ge=0)
    margin_share: float | None = Field(default=None, ge=0, le=1)
    score_margin: bool = True
    drop_no_real_name: bool = False
    real_name_column: str = Field(default="real_name", min_length=1, max_length=200)

    @model_validator(mode="after")
    def _margin(self):
        if self.margin is not None and self.margin_share is not None:
            raise ValueError("give 'margin' (points) or 'margin_share' (of the score range), not both")
        return self


class FormationSpec(_Cited):
    """New ties replace lost ones, chosen by triadic closure, by score or at random.

    ``rate`` is the mean number of attempts per period of a person below their period-0
    number of friends (Poisson, at most the number missing).
    """

    rate: float = Field(ge=0, le=100)
    triadic: float = Field(default=0.0, ge=0, le=1)
    score_homophily: float = Field(default=0.0, ge=0, le=1)
    window: float = Field(default=0.05, gt=0, le=0.5)
    advice_applies: bool = True

    @model_validator(mode="after")
    def _shares(self):
        if self.triadic + self.score_homophily > 1 + 1e-12:
            raise ValueError("'triadic' + 'score_homophily' must be at most 1 (the rest choose at random)")
        return self


class Scenario(_Strict):
    """A long-run scenario (see the module docstring and the README's long-run section)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_\-]{0,63}$")
    title: str = Field(min_length=1, max_length=300)
    status: Literal["illustrative", "user"]
    description: str = Field(default="", max_length=5000)
    rule: str | None = Field(default=None, max_length=200)
    sources: list[SourceSpec] = Field(default_factory=list, max_length=100)
    horizon: HorizonSpec
    renewal: RenewalSpec | None = None
    feedback: list[FeedbackSpec] = Field(default_factory=list, max_length=100)
    unfriending: UnfriendingSpec | None = None
    formation: FormationSpec | None = None

    @model_validator(mode="after")
    def _consistent(self):
        known = {s.id for s in self.sources}
        if len(known) != len(self.sources):
            raise ValueError("source ids must be unique")
        cited = [("horizon", self.horizon)]
        cited += [(k, getattr(self, k)) for k in ("renewal", "unfriending", "formation") if getattr(self, k)]
        cited += [(f"feedback {f.id!r}", f) for f in self.feedback]
        for what, block in cited:
            if block.source is not None and block.source not in known:
                raise ValueError(f"{what} cites unknown source {block.source!r}")
        ids = [f.id for f in self.feedback]
        if len(set(ids)) != len(ids):
            raise ValueError("feedback ids must be unique")
        return self

    def with_changes(self, **changes) -> Scenario:
        """A copy with top-level blocks replaced (used for the mechanism decomposition)."""
        return self.model_copy(update=changes)

    def to_card(self) -> dict:
        """JSON-ready: every block with its numbers and its source or 'illustrative'."""
        return self.model_dump(mode="json")


def _where(loc: tuple, raw: dict) -> str:
    parts: list[str] = []
    i = 0
    while i < len(loc):
        key = loc[i]
        if key == "feedback" and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            items = raw.get("feedback") or []
            item = items[loc[i + 1]] if loc[i + 1] < len(items) else {}
            ident = item.get("id") if isinstance(item, dict) else None
            parts.append(f"feedback {ident!r}" if ident else f"feedback #{loc[i + 1] + 1}")
            i += 2
            continue
        if key == "sources" and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            parts.append(f"source #{loc[i + 1] + 1}")
            i += 2
            continue
        if isinstance(key, str) and not key.startswith(("function-", "tuple[", "literal[", "float", "bool")):
            parts.append(f"field {key!r}")
        i += 1
    return ": ".join(parts)


class _NoAliasLoader(yaml.SafeLoader):
    """A safe loader without anchors/aliases (nested aliases can expand a small file to gigabytes)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in scenario files",
                                              event.start_mark)
        return super().compose_node(parent, index)


def parse_scenario(text: str | dict, *, source: str) -> Scenario:
    """Parse and validate scenario text (or an already-parsed mapping); errors are one line naming file and field.

    Examples
    --------
    >>> from audit.dynamics import parse_scenario
    >>> parse_scenario("name: x\\ntitle: X\\nstatus: user\\nhorizon: {periods: 3}", source="s.yaml")
    Traceback (most recent call last):
    ...
    audit._errors.AuditInputError: s.yaml: field 'horizon': give a 'source' (an id from 'sources') or mark it 'illustrative: true'
    """
    if isinstance(text, dict):
        raw = text
    else:
        if len(text) > MAX_SCENARIO_BYTES:
            raise AuditInputError(f"{source}: scenario file is larger than {MAX_SCENARIO_BYTES:,} characters")
        try:
            raw = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise AuditInputError(f"{source}: not valid YAML{where}: {problem}") from None
    if not isinstance(raw, dict):
        raise AuditInputError(f"{source}: a scenario file must be a YAML mapping with name, title, status and horizon")
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = _where(tuple(err.get("loc", ())), raw)
        msg = err.get("msg", "invalid").removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown key (check the spelling; see the scenario format in the README)"
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        raise AuditInputError(f"{source}: {where + ': ' if where else ''}{msg}{more}") from None


def builtin_scenarios() -> list[str]:
    """Names of the scenarios shipped with the package (``audit/dynamics/builtin/*.yaml``)."""
    files = resources.files(BUILTIN)
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".yaml"))


def load_scenario(name_or_path: str | Path | dict | Scenario) -> tuple[Scenario, str]:
    """A scenario and where it came from: a :class:`Scenario`, a mapping, a built-in name or a YAML file.

    Examples
    --------
    >>> from audit.dynamics import load_scenario
    >>> sc, origin = load_scenario("sesame")
    >>> origin, sc.horizon.periods
    ('builtin:sesame', 60)
    """
    if isinstance(name_or_path, Scenario):
        return name_or_path, f"<scenario {name_or_path.name}>"
    if isinstance(name_or_path, dict):
        return parse_scenario(name_or_path, source="<scenario mapping>"), "<scenario mapping>"
    text = str(name_or_path)
    if not text.endswith((".yaml", ".yml")) and "/" not in text and "\\" not in text and not Path(text).exists():
        if text in builtin_scenarios():
            body = resources.files(BUILTIN).joinpath(text + ".yaml").read_text(encoding="utf-8")
            return parse_scenario(body, source=f"builtin:{text}"), f"builtin:{text}"
        raise AuditInputError(f"unknown scenario {text!r}: not a built-in scenario "
                              f"({', '.join(builtin_scenarios())}) nor a file")
    path = Path(text)
    try:
        body = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AuditInputError(f"{path}: scenario file not found") from None
    except IsADirectoryError:
        raise AuditInputError(f"{path}: is a folder; give the scenario file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditInputError(f"{path}: cannot read scenario file: {exc}") from None
    return parse_scenario(body, source=str(path)), str(path)


def scenario_for_rule(rule_name: str) -> tuple[Scenario, str]:
    """The built-in scenario written for ``rule_name``, else the generic ``default`` scenario."""
    name = rule_name if rule_name in builtin_scenarios() and rule_name != "default" else "default"
    return load_scenario(name)
