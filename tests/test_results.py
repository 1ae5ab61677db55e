from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import records
from harness.errors import SizeupError
from harness.records import BackendFacts, Case, CaseRecord, Journal, RunResult
from tests import builders


def make_run(n_cases: int = 2) -> RunResult:
    plan = [Case("w", "m", "b", i, 1) for i in range(1, n_cases + 1)]
    return RunResult(run_id="r1", started="2026-01-01T00:00:00+00:00", suite="t", settings={"repeats": 2},
                     plan=plan, machine={"id": "m-1"}, sizeup_version="0")


def record(case: Case, status: str = "ok") -> CaseRecord:
    return builders.record(case, [2.0, 3.0], status=status)


def test_journal_then_final_file_round_trip(tmp_path: Path) -> None:
    run = make_run()
    journal = Journal.create(records.journal_path(tmp_path, run), run)
    for case in run.plan:
        rec = record(case)
        journal.append(rec)
        run.cases.append(rec)
    assert records.load(records.journal_path(tmp_path, run)).cases == run.cases
    path = records.finish(journal, run, "2026-01-01T00:01:00+00:00")
    journal.close()
    loaded = records.load(path)
    assert loaded.complete and loaded.cases == run.cases and loaded.finished
    assert not records.journal_path(tmp_path, run).exists()
    assert json.loads(path.read_text())["version"] == records.SCHEMA_VERSION


def test_a_journal_cut_mid_line_loads_what_finished_and_resumes_cleanly(tmp_path: Path) -> None:
    run = make_run(3)
    path = records.journal_path(tmp_path, run)
    journal = Journal.create(path, run)
    journal.append(record(run.plan[0]))
    journal.close()
    with open(path, "a") as f:
        f.write('{"kind": "case", "record": {"case"')  # killed while writing case 2
    partial = records.load(path)
    assert len(partial.cases) == 1 and len(partial.pending()) == 2
    journal = Journal.reopen(path)
    assert journal.read().cases == partial.cases
    journal.append(record(run.plan[1]))
    journal.close()
    assert [c.id for c in records.load(path).cases] == [run.plan[0].id, run.plan[1].id]


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text("old")

    class Boom:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    with pytest.raises(TypeError):
        records.write_atomic(path, Boom())  # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]


def test_newer_schema_versions_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({**make_run().to_dict(), "version": 99}))
    with pytest.raises(SizeupError, match="schema version 99; this sizeup reads versions 1 to"):
        records.load(path)


def test_result_files_get_ordinary_permissions(tmp_path: Path) -> None:
    import os

    path = tmp_path / "r.json"
    records.write_atomic(path, "{}")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def run_entry(repeat: int, fit: float, disturbed: bool = False, complete: bool = True) -> records.Repeat:
    return builders.repeat(repeat, fit, disturbed=disturbed, other_cores=1.2 if disturbed else 0.01, complete=complete)


CASE = Case("w", "m", "b", 10, 1)


def test_statistics_leave_disturbed_repeats_out_while_enough_clean_ones_remain() -> None:
    cold = run_entry(0, 9.0)
    runs = [cold, run_entry(1, 1.0), run_entry(2, 3.0, disturbed=True), run_entry(3, 1.1)]
    assert [r.repeat for r in records.select_warm(runs)] == [1, 3]
    c = CaseRecord(CASE, "ok", runs=runs).contention()
    assert (c.disturbed, c.repeats, c.counted, c.max_other_cores) == (1, 3, False, 1.2)
    # One clean repeat is too few: all are used, and the record says so.
    runs = [cold, run_entry(1, 1.0), run_entry(2, 3.0, disturbed=True), run_entry(3, 3.1, disturbed=True)]
    assert len(records.select_warm(runs)) == 3 and CaseRecord(CASE, "ok", runs=runs).contention().counted
    assert records.select_warm([cold]) == [cold]  # zero repeats: the cold run is all there is
    assert records.select_warm([cold, run_entry(1, 1.0, complete=False)]) == [cold]
    assert CaseRecord(CASE, "ok", runs=[cold, run_entry(1, 1.0)]).contention() is None


def test_a_version_1_result_is_upgraded_on_load(tmp_path: Path) -> None:
    """Version 1 had no per-phase CPU or contention, and called the sampled tree peak peak_rss_bytes."""
    case = make_run().plan[0].to_dict()
    v1_run = {"repeat": 1, "cold": False, "phases": {"fit": 1.0}, "quality": {"acc": 0.9}, "throughput": None,
              "complete": True}
    telemetry = {"sample_hz": 10, "peak_rss_bytes": 100, "worker_maxrss_bytes": 120,
                 "phases": {"fit": {"samples": 2, "rss_bytes": {"max": 90}}, "cold": {"fit": {"rss_bytes": {}}}},
                 "series": {"t": [1.0, 1.1], "cpu_percent": [50, 60], "rss_bytes": [80, 90], "percore": [[1], [2]]}}
    doc = {**make_run().to_dict(), "version": 1,
           "cases": [{"case": case, "status": "ok", "runs": [v1_run], "telemetry": telemetry}]}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(doc))
    (record,) = records.load(path).cases
    assert record.runs[0].disturbed is None and record.runs[0].cpu_s == {}
    assert record.warm_runs() == record.runs and record.contention() is None
    t = record.telemetry
    assert (t["peak_memory_bytes"], t["sampled_peak_bytes"], t["tree_memory"]) == (120, 100, "rss")
    assert t["series"]["memory_bytes"] == [80, 90] and t["series"]["start"] == pytest.approx(0.9)
    assert t["phases"]["fit"]["memory_bytes"] == {"max": 90} and "memory_bytes" in t["phases"]["cold"]["fit"]


def test_a_version_2_result_keeps_its_backends_facts_and_its_gpu_figures(tmp_path: Path) -> None:
    """Version 3 stores each backend's facts and each source's figures; a version-2 file gets them as sizeup
    0.3 knew them, whatever the backends are now."""
    nvml = {"gpu0.util_percent": {"mean": 87.0, "p95": 99.0, "max": 100.0}}
    cases = [{"case": Case("w", "m", backend, 10, 1).to_dict(), "status": "ok",
              "telemetry": {"phases": {"fit": {"sources": {"nvml": nvml}}} if backend == "torch-cuda" else {}}}
             for backend in ("torch-cuda", "spark", "gone")]
    path = tmp_path / "v2.json"
    path.write_text(json.dumps({**make_run().to_dict(), "version": 2, "cases": cases}))
    cuda, spark, gone = records.load(path).cases
    assert cuda.backend_facts == BackendFacts("cuda", "torch")
    assert spark.backend_facts == BackendFacts("cpu", None, True)
    assert gone.backend_facts is None
    assert records.figures.read(cuda.telemetry, "nvml", "gpu_util") == 87.0
    assert "figures" not in spark.telemetry


def test_a_record_reads_back_as_it_was_written(tmp_path: Path) -> None:
    made = builders.record(Case("classification", "xgboost", "xgboost-cuda", 100, 2, {"trees": 5}), [1.0, 1.2],
                           processes=[0, 1], telemetry=builders.gpu_telemetry(80.0, 2**30, 9.0))
    path = builders.write(tmp_path / "r.json", [made])
    (read,) = records.load(path).cases
    assert read == made and read.backend_facts.on_gpu and read.runs[2].process == 1
    assert records.load(path).to_dict() == records.RunResult.from_dict(builders.document(path)).to_dict()


def test_a_result_holding_a_case_twice_is_refused(tmp_path: Path) -> None:
    one = builders.record(Case("classification", "hgb", "sklearn", 1000, 2), [0.1, 0.1])
    path = builders.write(tmp_path / "r.json", [one, one])
    with pytest.raises(SizeupError, match="more than once"):
        records.load(path)
    records.load(builders.write(tmp_path / "ok.json", [one]))
