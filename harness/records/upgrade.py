"""Older result files read as today's: each schema version upgraded to the next, one at a time
(pyperf-style), then checked against the schema."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from harness.errors import SizeupError
from harness.records.types import SCHEMA_VERSION

SCHEMA_FILE = Path(__file__).with_name("schema.json")


def schema_error(doc: Any) -> Any:
    """Where `doc` breaks the schema (jsonschema's best match), or None. A compiled validator decides first:
    jsonschema walks a file of 10,000 cases in 35 s, it in 1.5 s; only a document it refuses is walked again,
    by jsonschema, which has the final word and names the place."""
    import fastjsonschema
    from jsonschema.exceptions import best_match

    try:
        _compiled()(doc)
        return None
    except fastjsonschema.JsonSchemaException:
        return best_match(validator().iter_errors(doc))


@cache
def _compiled() -> Any:
    import fastjsonschema

    return fastjsonschema.compile(json.loads(SCHEMA_FILE.read_text()))


@cache
def validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA_FILE.read_text())
    return jsonschema.Draft202012Validator(schema)


def upgrade(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    """Bring an older document up to SCHEMA_VERSION, one version at a time (pyperf-style)."""
    version = doc.get("version")
    if not isinstance(version, int) or not 1 <= version <= SCHEMA_VERSION:
        raise SizeupError(f"{path} has result schema version {version}; this sizeup reads versions 1 to "
                          f"{SCHEMA_VERSION}")
    try:
        while version < SCHEMA_VERSION:
            doc = _UPGRADES[version](doc)
            version = doc["version"]
    except (TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise SizeupError(f"{path} does not match result schema version {doc.get('version')}: {exc!r}") from None
    return doc


def _v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 2 added per-phase CPU and contention to runs, and named tree memory honestly."""
    cases = []
    for case in doc.get("cases", []):
        runs = [{"extra": False, "spans": {}, "cpu_s": {}, "other_cpu_s": {}, "other_cores": None,
                 "disturbed": None, **r} for r in case.get("runs", [])]
        t = dict(case.get("telemetry", {}))
        if "peak_memory_bytes" not in t:
            sampled = t.pop("peak_rss_bytes", None)
            t |= {"peak_memory_bytes": max(sampled or 0, t.get("worker_maxrss_bytes") or 0) or None,
                  "sampled_peak_bytes": sampled, "tree_memory": "rss"}
        if "series" in t and "rss_bytes" in t["series"]:
            series = dict(t["series"])
            series["memory_bytes"] = series.pop("rss_bytes", [])
            times = series.get("t", [])
            series["start"] = 2 * times[0] - times[1] if len(times) > 1 else (times[0] if times else 0.0)
            t["series"] = series
        if "phases" in t:
            t["phases"] = _rename_rss(t["phases"])
        cases.append({**case, "runs": runs, "telemetry": t})
    return {**doc, "version": 2, "cases": cases}


def _rename_rss(summaries: dict[str, Any]) -> dict[str, Any]:
    return {name: _rename_rss(v) if name == "cold" else
            {("memory_bytes" if k == "rss_bytes" else k): x for k, x in v.items()}
            for name, v in summaries.items()}


# The backends and the NVML figures as sizeup 0.3 knew them: a version-2 file means what it meant then,
# whatever the backends are now.
V2_BACKENDS = {
    "sklearn": {"device": "cpu"}, "numpy": {"device": "cpu"}, "xgboost": {"device": "cpu"},
    "torch": {"device": "cpu"}, "spark": {"device": "cpu", "distributed": True},
    "xgboost-cuda": {"device": "cuda", "twin": "xgboost"}, "cupy": {"device": "cuda", "twin": "numpy"},
    "torch-cuda": {"device": "cuda", "twin": "torch"}, "sklearn-rapids": {"device": "cuda", "twin": "sklearn"},
}
V2_NVML_FIGURES = [
    {"key": "gpu_util", "label": "fit GPU %", "value": "util_percent", "phase": "fit", "stat": "mean",
     "across": "max", "unit": "%", "plot": True},
    {"key": "gpu_memory", "label": "peak GPU memory", "value": "case_memory_bytes", "phase": "*", "stat": "max",
     "across": "max", "unit": "bytes", "plot": False},
    {"key": "gpu_energy", "label": "energy per fit", "value": "energy_j", "phase": "fit", "stat": "per_window",
     "across": "sum", "unit": "J", "plot": False},
]


def _v2_to_v3(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 3 keeps each backend's facts with its records, and the figures each telemetry source declares."""
    cases = []
    for case in doc.get("cases", []):
        case = {"backend_facts": V2_BACKENDS.get(case["case"]["backend"]), **case}
        phases = (case.get("telemetry") or {}).get("phases") or {}
        if any("nvml" in (p.get("sources") or {}) for p in phases.values()):
            case["telemetry"] = {"figures": {"nvml": V2_NVML_FIGURES}, **case["telemetry"]}
        cases.append(case)
    return {**doc, "version": 3, "cases": cases}


_UPGRADES = {1: _v1_to_v2, 2: _v2_to_v3}
