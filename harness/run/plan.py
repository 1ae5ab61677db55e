"""Suite file + command-line choices -> the list of cases to run.

A suite is a TOML file (see ``harness/run/suites/quick.toml``)::

    name = "quick"         # letters, digits, '.', '_', '-': it becomes part of the result's file name
    repeats = 3            # warm repeats after the cold run (a whole number)
    timeout_s = 300        # per case, cold run and repeats together (finite, > 0)
    memory_cap = "80%"     # per case: bytes, "8GiB", or a share of this machine's memory (at least 128 MiB)
    sample_hz = 10         # telemetry samples per second, 0.1 to 100; 0 turns sampling off
    rerun_disturbed = 0    # extra warm repeats per case to replace ones other processes disturbed
    budget_s = 180         # optional: the run's cases' wall time, all together; no sweep steps past it
    processes = 1          # fresh worker processes per case (each with its cold run and repeats)

    [[benchmark]]
    workload = "classification"
    sizes = [20000]
    models = ["xgboost"]   # optional: default every model of the workload
    backends = ["xgboost"] # optional: default every backend of each model
    threads = [2]          # optional: default all physical cores
    params = { trees = 200 }  # optional: overrides of the workload's defaults, of the same types
    memory_cap = "2GiB"    # optional: this benchmark's own cap (only ever below the run's)

    [[benchmark]]          # a sizing sweep instead of sizes (harness/run/sweep.py)
    workload = "regression"
    sweep = { start = 5000, factor = 2, budget_s = 60, memory = 0.6, settle = 0.1, past_fixed = 0, max_steps = 12 }

Validation happens here, at the boundary: every problem is a SizeupError
whose message names the field and the allowed values.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from harness.errors import SizeupError, did_you_mean
from harness.records import Case, check_name
from harness.run.backends import BACKENDS
from harness.run.sweep import KEYS as SWEEP_KEYS
from harness.run.sweep import Sweep
from workloads import catalogue

SUITES_DIR = Path(__file__).parent / "suites"
MIN_MEMORY_CAP = 128 * 2**20  # below this a worker cannot even import NumPy
SAMPLE_HZ = (0.1, 100.0)  # slower says little; faster costs more than it tells (0 turns sampling off)


@dataclass(frozen=True)
class Settings:
    repeats: int = 3
    timeout_s: float = 600.0
    memory_cap: str = "80%"
    sample_hz: float = 10.0
    rerun_disturbed: int = 0
    processes: int = 1  # worker processes per case: repeats in one process share its caches and allocator
    budget_s: float | None = None  # the run's cases' wall time, all together: sweeps take no step past it


@dataclass(frozen=True)
class Plan:
    suite: str
    settings: Settings
    cases: tuple[Case, ...]


@dataclass(frozen=True)
class Choices:
    """What the user asked for on the command line; None means "as the suite says"."""

    suite: str = "quick"
    workloads: Sequence[str] | None = None
    models: Sequence[str] | None = None
    backends: Sequence[str] | None = None
    sizes: Sequence[int] | None = None
    threads: Sequence[int] | None = None
    repeats: int | None = None
    timeout_s: float | None = None
    memory_cap: str | None = None
    sample_hz: float | None = None
    rerun_disturbed: int | None = None
    processes: int | None = None
    budget_s: float | None = None
    parsed: tuple[str, Mapping[str, Any]] | None = None  # a suite already built (sizeup run --data), not a file


def shipped_suites() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.toml"))


def load_suite(name_or_path: str) -> tuple[str, dict[str, Any]]:
    path = Path(name_or_path)
    try:
        if not path.suffix and not path.exists():
            path = SUITES_DIR / f"{name_or_path}.toml"
        found = path.is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        found = False
    if not found:
        raise SizeupError(f"suite {name_or_path!r} not found: give a TOML file or one of: "
                          f"{', '.join(shipped_suites())}")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SizeupError(f"suite file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise SizeupError(f"cannot read suite file {path}: {exc.strerror or exc}") from None
    name = data.get("name", path.stem)
    return check_name("suite name", name), data  # it becomes part of the result file's name


def build(choices: Choices, default_threads: int) -> Plan:
    name, suite = choices.parsed or load_suite(choices.suite)
    where = f"suite {name!r}"
    entries = suite.get("benchmark", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SizeupError(f"{where}: 'benchmark' must be an array of tables ([[benchmark]])")
    check_keys(where, suite, ("name", "description", "benchmark", *(f.name for f in fields(Settings))))

    if choices.workloads is not None:
        check_names("workload", choices.workloads, catalogue())
        listed = {e.get("workload") for e in entries}
        entries = [e for e in entries if e.get("workload") in choices.workloads]
        entries += [{"workload": w} for w in choices.workloads if w not in listed]
    if choices.backends is not None:
        check_names("backend", choices.backends, BACKENDS)

    cases = [c for i, entry in enumerate(entries) for c in expand(entry, f"{where}, benchmark #{i + 1}", default_threads)]
    if choices.models is not None:
        known = {m.name for w in catalogue().values() for m in w.models}
        check_names("model", choices.models, known)
        cases = [c for c in cases if c.model in choices.models]
    if choices.backends is not None:
        cases = [c for c in cases if c.backend in choices.backends]
    if choices.sizes is not None:
        for size in choices.sizes:
            positive_int("size", size)
        named = set(choices.workloads or ())
        # Fixed-size real datasets keep their size unless named: `--sizes` scales the synthetic ones.
        keep = [c for c in cases if catalogue()[c.workload].max_size and c.workload not in named]
        scaled = [replace(c, size=s, sweep=None) for c in unique_by_id(cases, ignore_size=True) if c not in keep
                  for s in choices.sizes]
        for case in scaled:
            check_size(case.workload, case.size, "--sizes")
        cases = keep + scaled
    if choices.threads is not None:
        for t in choices.threads:
            positive_int("threads", t)
        cases = [replace(c, threads=t) for c in unique_by_id(cases, ignore_threads=True) for t in choices.threads]
    if not cases:
        raise SizeupError(f"{where}: the choices leave no case to run")

    def pick(flag: str) -> Any:
        chosen = getattr(choices, flag)
        return chosen if chosen is not None else suite.get(flag, getattr(Settings, flag))

    def said(field: str) -> str:
        """A setting as its error names it: the flag that gave it, else the suite's key."""
        flag = {"timeout_s": "--timeout", "budget_s": "--budget"}.get(field, "--" + field.replace("_", "-"))
        return flag if getattr(choices, field) is not None else f"{where}: {field}"

    settings = Settings(
        repeats=_number(said("repeats"), pick("repeats"), whole=True),
        timeout_s=_number(said("timeout_s"), pick("timeout_s"), above=0),
        memory_cap=pick("memory_cap"),
        sample_hz=_number(said("sample_hz"), pick("sample_hz")),
        rerun_disturbed=_number(said("rerun_disturbed"), pick("rerun_disturbed"), whole=True),
        processes=_number(said("processes"), pick("processes"), whole=True, above=0),
        budget_s=None if pick("budget_s") is None else _number(said("budget_s"), pick("budget_s"), above=0),
    )
    if settings.sample_hz and not SAMPLE_HZ[0] <= settings.sample_hz <= SAMPLE_HZ[1]:
        raise SizeupError(f"{said('sample_hz')} must be 0 (off) or from {SAMPLE_HZ[0]:g} to {SAMPLE_HZ[1]:g}, "
                          f"got {settings.sample_hz!r}")
    if not isinstance(settings.memory_cap, (str, int)) or isinstance(settings.memory_cap, bool):
        raise SizeupError(f"{said('memory_cap')} must be a size like '8GiB' or '80%', got {settings.memory_cap!r}")
    settings = replace(settings, memory_cap=str(settings.memory_cap))
    parse_memory(settings.memory_cap, total=1)  # validate early; resolved later against the machine
    return Plan(name, settings, tuple(unique_by_id(cases)))


def expand(entry: Mapping[str, Any], where: str, default_threads: int) -> list[Case]:
    check_keys(where, entry, ("workload", "sizes", "sweep", "models", "backends", "threads", "params", "memory_cap"))
    name = entry.get("workload")
    if not isinstance(name, str):
        raise SizeupError(f"{where}: 'workload' (a string) is required")
    check_names("workload", [name], catalogue())
    workload = catalogue()[name]
    given = entry.get("params")
    if "path" in workload.params and not (isinstance(given, dict) and given.get("path")):  # cases had failed on ''
        raise SizeupError(f"{where}: {name} trains on a table of your own, which a suite does not name: "
                          "`sizeup run --data PATH` benchmarks it, its task as the table decides")
    models = _list(entry, "models", [m.name for m in workload.models], where)
    check_names(f"model of {name}", models, [m.name for m in workload.models])
    rule = _sweep(entry, where)
    if rule is not None and "sizes" in entry:
        raise SizeupError(f"{where}: give 'sizes' or 'sweep', not both")
    sizes = [rule.start] if rule else _list(entry, "sizes", list(workload.sizes[:1]), where)
    cap = entry.get("memory_cap")
    if cap is not None:
        if not isinstance(cap, str):
            raise SizeupError(f"{where}: memory_cap must be a size like '2GiB', got {cap!r}")
        parse_memory(cap, total=1)
    for size in sizes:
        positive_int(f"{where}: size", size)
        check_size(name, size, where)
    threads = _list(entry, "threads", [default_threads], where)
    for t in threads:
        positive_int(f"{where}: threads", t)
    params = entry.get("params", {})
    if not isinstance(params, dict):
        raise SizeupError(f"{where}: 'params' must be a table")
    check_names(f"param of {name}", list(params), workload.params)
    for key, value in params.items():
        check_param(f"{where}: param {key!r}", value, workload.params[key])
    wanted_backends = entry.get("backends")
    if wanted_backends is not None:
        check_names("backend", _list(entry, "backends", [], where), BACKENDS)
    cases = []
    for model in (workload.model(m) for m in models):
        for backend in model.backends:
            if wanted_backends is None or backend in wanted_backends:
                cases += [Case(name, model.name, backend, s, t, dict(params), memory_cap=cap,
                               sweep=rule.to_dict() if rule else None) for s in sizes for t in threads]
    return cases


def _sweep(entry: Mapping[str, Any], where: str) -> Sweep | None:
    table = entry.get("sweep")
    if table is None:
        return None
    if not isinstance(table, dict) or "start" not in table:
        raise SizeupError(f"{where}: 'sweep' must be a table with a 'start' size, like {{ start = 1000 }}")
    check_keys(f"{where}, sweep", table, sorted(SWEEP_KEYS))
    rule = Sweep(start=positive_int(f"{where}: sweep start", table["start"]),
                 factor=_number("sweep factor", table.get("factor", 2.0), above=1),
                 budget_s=_number("sweep budget_s", table.get("budget_s", 60.0), above=0),
                 memory=_number("sweep memory", table.get("memory", 0.6), above=0),
                 settle=_number("sweep settle", table.get("settle", 0.1)),
                 past_fixed=_number("sweep past_fixed", table.get("past_fixed", 0.0)),
                 max_steps=_number("sweep max_steps", table.get("max_steps", 12), whole=True, above=1),
                 max_size=positive_int(f"{where}: sweep max_size", table["max_size"]) if "max_size" in table else None)
    if rule.memory > 1:
        raise SizeupError(f"{where}: sweep memory is a share of this machine's memory, at most 1, got {rule.memory!r}")
    return rule


def check_keys(where: str, table: Mapping[str, Any], known: Sequence[str]) -> None:
    """A suite's keys (or a benchmark's) are among `known`; the first that is not, with the one it is near."""
    if unknown := sorted(set(table) - set(known)):
        raise SizeupError(f"{where}: unknown key(s) {unknown}{did_you_mean(unknown[0], known)}")


def check_names(kind: str, names: Sequence[str], known: Mapping[str, Any] | Sequence[str]) -> None:
    for n in names:
        if n not in known:
            raise SizeupError(f"unknown {kind} {n!r}{did_you_mean(n, known)}; choose from: {', '.join(sorted(known))}")


def positive_int(what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise SizeupError(f"{what} must be a positive integer, got {value!r}")
    return value


def check_size(workload: str, size: int, where: str) -> None:
    limit = catalogue()[workload].max_size
    if limit is not None and size > limit:
        raise SizeupError(f"{where}: {workload} has {limit} rows; size {size} is larger")


def unique_by_id(cases: Sequence[Case], ignore_size: bool = False, ignore_threads: bool = False) -> list[Case]:
    seen: dict[str, Case] = {}
    for c in cases:
        key = replace(c, size=0 if ignore_size else c.size, threads=0 if ignore_threads else c.threads).id
        seen.setdefault(key, c)
    return list(seen.values())


_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 2**10, "m": 1e6, "mb": 1e6, "mib": 2**20,
          "g": 1e9, "gb": 1e9, "gib": 2**30, "t": 1e12, "tb": 1e12, "tib": 2**40}


def parse_memory(text: str, total: int) -> int:
    """'8GiB', '512MB', '1234' (bytes) or '80%' (of `total`) -> bytes."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(%|[a-zA-Z]*)\s*", str(text))
    unit = match.group(2).lower() if match else None
    if not match or (unit != "%" and unit not in _UNITS) or float(match.group(1)) <= 0:
        raise SizeupError(f"memory cap {text!r} is not a size like '8GiB', '512MB' or '80%'")
    value = float(match.group(1))
    return int(total * value / 100) if unit == "%" else int(value * _UNITS[unit])


def _list(entry: Mapping[str, Any], key: str, default: list[Any], where: str) -> list[Any]:
    value = entry.get(key, default)
    if not isinstance(value, list) or not value:
        raise SizeupError(f"{where}: '{key}' must be a non-empty array")
    return value


def _number(what: str, value: Any, whole: bool = False, above: float | None = None) -> Any:
    """`value` if it is a finite number >= 0 (> `above` where given; an integer where `whole`)."""
    kind = int if whole else (int, float)
    ok = isinstance(value, kind) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (above is not None and value <= above):
        bound = f"> {above:g}" if above is not None else ">= 0"
        raise SizeupError(f"{what} must be {'a whole number' if whole else 'a finite number'} {bound}, got {value!r}")
    return value


def check_param(what: str, value: Any, default: Any) -> None:
    """A workload parameter must have its default's type (an int where a float is expected is fine)."""
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        ok = type(value) is type(default)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok:
        raise SizeupError(f"{what} must be a {type(default).__name__} like its default {default!r}, got {value!r}")
