"""Every statistical setting of an audit: its default, its meaning and its constraint, declared once.

Entry points (``audit.run``, the three families, the CLI) accept these settings
as keyword arguments and validate them here, in one place, in the manner of
scikit-learn's parameter constraints: a bad value is an
:class:`audit.AuditInputError` that names the setting, never a ``TypeError`` or
a silently clipped number.

Examples
--------
>>> from audit.settings import Settings
>>> Settings().threshold
0.8
>>> Settings.make(alpha=0.01).alpha
0.01
>>> Settings.make(min_group_size=0)
Traceback (most recent call last):
...
audit._errors.AuditInputError: setting 'min_group_size': must be at least 1 (got 0)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from audit._errors import AuditInputError

__all__ = ["DEFAULTS", "FAMILIES", "Settings", "resolve_settings"]

#: The audit families, in the order they run.
FAMILIES = ("impact", "proxy", "contagion")


class Settings(BaseModel):
    """The settings one audit runs with (immutable).

    Attributes
    ----------
    min_group_size : int, default 30
        Groups smaller than this are shown but never named in a finding, and
        cannot be a comparison group.
    disclosure_threshold : int, default 10
        A count of 1 to ``disclosure_threshold - 1`` people is never published.
    alpha : float, default 0.05
        False discovery rate of each verdict family and 1 - confidence of intervals.
    threshold : float, default 0.8
        The screening line for "pushed out": a group's rate of the favourable
        outcome below ``threshold`` times the best group's.  0.8 is the EEOC's
        four-fifths rule of thumb, a screening rule, not a legal finding.
    power : float, default 0.8
        Power at which detection limits are stated.
    intersections : int, default 2
        Largest intersection of protected attributes audited (1 = none).
    reference : mapping attribute -> value
        Reference group per attribute (default: each attribute's largest group).
    bins : mapping attribute -> cut points or a number of quantile bins
        How a numeric protected attribute is grouped (default: quartiles).
    seed : int, default 0
        Seeds every random step.
    families : tuple of str
        Which audit families run.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_group_size: int = Field(30, ge=1, le=10**9)
    disclosure_threshold: int = Field(10, ge=0, le=10**6)
    alpha: float = Field(0.05, gt=0.0, le=0.5)
    threshold: float = Field(0.8, gt=0.0, lt=1.0)
    power: float = Field(0.8, gt=0.0, lt=1.0)
    intersections: int = Field(2, ge=1, le=4)
    reference: dict[str, str | int | float | bool] = Field(default_factory=dict)
    bins: dict[str, tuple[float, ...] | int] = Field(default_factory=dict)
    seed: int = Field(0, ge=0, lt=2**32)
    families: tuple[str, ...] = FAMILIES

    @field_validator("families")
    @classmethod
    def _families(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        v = tuple(dict.fromkeys(str(f).strip() for f in v))
        if not v or any(not f for f in v):
            raise ValueError(f"give at least one of {', '.join(FAMILIES)}")
        unknown = [f for f in v if f not in FAMILIES]
        if unknown:
            raise ValueError(f"unknown audit family {unknown[0]!r} (choose from {', '.join(FAMILIES)})")
        return tuple(f for f in FAMILIES if f in v)  # always run in data-flow order

    @field_validator("bins")
    @classmethod
    def _bins(cls, v: dict) -> dict:
        for attr, spec in v.items():
            if isinstance(spec, int):
                if not 2 <= spec <= 20:
                    raise ValueError(f"{attr}: the number of quantile bins must be between 2 and 20")
            else:
                cuts = [float(x) for x in spec]
                if not cuts or any(b <= a for a, b in zip(cuts, cuts[1:], strict=False)):
                    raise ValueError(f"{attr}: cut points must be given in increasing order")
        return v

    @model_validator(mode="after")
    def _consistent(self):
        if self.disclosure_threshold > self.min_group_size:
            raise ValueError("disclosure_threshold: must not exceed min_group_size "
                             f"({self.disclosure_threshold} > {self.min_group_size})")
        return self

    @classmethod
    def make(cls, **values: Any) -> Settings:
        """Build validated settings; a bad value raises :class:`AuditInputError` naming the setting."""
        try:
            return cls(**values)
        except ValidationError as exc:
            raise AuditInputError(_message(exc)) from None

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed (validated)."""
        return Settings.make(**{**self.model_dump(), **changes})

    @property
    def confidence(self) -> float:
        return 1.0 - self.alpha

    @property
    def ci_label(self) -> str:
        """``"95%"`` for alpha 0.05."""
        return f"{100 * (1 - self.alpha):g}%"


def _message(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err.get("loc", ()) if not isinstance(x, int))
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if kind == "extra_forbidden":
        return f"unknown setting {loc!r}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        word = {"greater_than_equal": "at least", "greater_than": "above",
                "less_than_equal": "at most", "less_than": "below"}[kind]
        bound = next(iter(ctx.values()), "?")
        return f"setting {loc!r}: must be {word} {bound} (got {_show(got)})"
    text = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    if not loc:
        return f"settings: {text}"
    if isinstance(got, Mapping | list | tuple):
        return f"setting {loc!r}: {text}"
    return f"setting {loc!r}: {text} (got {_show(got)})"


def _show(value: Any) -> str:
    return repr(value.item() if hasattr(value, "item") else value)


DEFAULTS = Settings()


def resolve_settings(settings: Settings | None = None, /, **given: Any) -> Settings:
    """One validated :class:`Settings` from an optional base and keyword overrides.

    Keywords whose value is None are ignored, so an entry point can pass its
    own keyword arguments straight through.
    """
    base = settings if settings is not None else DEFAULTS
    if not isinstance(base, Settings):
        raise AuditInputError(f"settings must be an audit.Settings, got {type(base).__name__}")
    changes = {k: v for k, v in given.items() if v is not None}
    unknown = sorted(set(changes) - set(Settings.model_fields))
    if unknown:
        raise AuditInputError(f"unknown setting {unknown[0]!r}")
    return base.replace(**changes) if changes else base
