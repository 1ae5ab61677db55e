"""What a workload is: a seeded data generator, models per backend, a quality metric.

Workloads are pure. They never time anything and never import the harness; the
worker times the phases around these calls (generate -> features -> fit ->
predict -> score). Heavy libraries (xgboost, torch) are imported inside the
functions that need them, so listing workloads stays cheap and a missing
optional library only affects the cases that use it. The harness imports them
up front in a timed start-up phase: a model's by building it once, a
workload's from ``Workload.imports``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, ModuleType
from typing import Any, Protocol

FAMILIES = ("classification", "regression", "forecasting", "vision", "nlp")


class Estimator(Protocol):
    def fit(self, X: Any, y: Any) -> Any: ...

    def predict(self, X: Any) -> Any: ...


@dataclass(frozen=True)
class Split:
    """Train and held-out data; the types are whatever the workload's models take."""

    X_train: Any
    y_train: Any
    X_test: Any
    y_test: Any


@dataclass(frozen=True)
class ModelContext:
    """Everything a model builder may depend on; the harness fills it per case."""

    threads: int  # CPU threads the case may use (all physical cores by default)
    seed: int
    device: str  # "cpu" or "cuda"
    params: Mapping[str, Any]  # the workload's params, defaults merged with the suite's


@dataclass(frozen=True)
class Model:
    name: str
    backends: tuple[str, ...]  # names from harness.run.backends this model can run on
    build: Callable[[ModelContext], Estimator]
    description: str = ""


@dataclass(frozen=True)
class Target:
    """A quality bar, stated next to the timing (MLPerf style)."""

    metric: str
    threshold: float
    higher_is_better: bool = True

    def met(self, value: float) -> bool:
        return value >= self.threshold if self.higher_is_better else value <= self.threshold

    @property
    def bound(self) -> str:
        """'>= 0.75': the bar without its metric."""
        return f"{'>=' if self.higher_is_better else '<='} {self.threshold:g}"

    def __str__(self) -> str:
        return f"{self.metric} {self.bound}"


def _frozen(mapping: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Workload:
    name: str
    family: str  # one of FAMILIES
    description: str
    # (size, seed, params) -> Split. Same seed and params give the same bytes.
    generate: Callable[[int, int, Mapping[str, Any]], Split]
    models: tuple[Model, ...]
    # (y_true, y_pred) -> {metric: value}; must contain `metric`.
    score: Callable[[Any, Any], dict[str, float]]
    metric: str
    higher_is_better: bool = True
    params: Mapping[str, Any] = field(default_factory=_frozen)  # defaults
    size_unit: str = "rows"
    sizes: tuple[int, ...] = ()  # typical sizes, smallest first (shown by `sizeup list`)
    max_size: int | None = None  # real datasets have a fixed number of rows
    # Optional feature engineering, timed as its own phase: (raw split, params, array module) -> split.
    # The array module is NumPy, or CuPy on a GPU backend (see workloads.arrays).
    features: Callable[[Split, Mapping[str, Any], ModuleType], Split] | None = None
    target: Target | None = None
    # Optional throughput: (split, model name, params) -> (unit, items processed by one fit).
    work: Callable[[Split, str, Mapping[str, Any]], tuple[str, float]] | None = None
    # Params that say only how the work runs (batch size, precision), not what work it is: a GPU case and its CPU
    # twin may differ in these (the twin's quality check keeps the comparison fair), and in no other.
    how: tuple[str, ...] = ()
    # Modules that generate, features and score import lazily. The harness imports them in
    # the cold run's timed start-up, so that import time is not charged to a phase.
    imports: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"workload {self.name!r}: family must be one of {FAMILIES}")
        if unknown := set(self.how) - set(self.params):
            raise ValueError(f"workload {self.name!r}: how-params {sorted(unknown)} are not among its params")
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"workload {self.name!r}: duplicate model names {names}")
        object.__setattr__(self, "params", _frozen(self.params))

    def model(self, name: str) -> Model:
        for m in self.models:
            if m.name == name:
                return m
        raise KeyError(name)

    @property
    def backends(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(b for m in self.models for b in m.backends))
