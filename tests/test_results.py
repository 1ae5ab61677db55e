from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import results
from harness.errors import SizeupError
from harness.export import to_frame
from harness.results import CaseRecord, Journal, RunResult


def make_run(n_cases: int = 2) -> RunResult:
    plan = [{"id": f"w/m@b/n={i}/t=1", "workload": "w", "model": "m", "backend": "b", "size": i, "threads": 1,
             "params": {}, "seed": 0} for i in range(1, n_cases + 1)]
    return RunResult(run_id="r1", started="2026-01-01T00:00:00+00:00", suite="t", settings={"repeats": 2},
                     plan=plan, machine={"id": "m-1"}, sizeup_version="0")


def record(case: dict, status: str = "ok", repeats: int = 2) -> CaseRecord:
    runs = [{"repeat": r, "cold": r == 0, "phases": {"fit": 1.0 + r, "predict": 0.1}, "quality": {"acc": 0.9},
             "throughput": None, "complete": True} for r in range(repeats + 1)]
    return CaseRecord(case, status, runs=runs if status == "ok" else [], telemetry={"peak_rss_bytes": 10})


def test_journal_then_final_file_round_trip(tmp_path: Path) -> None:
    run = make_run()
    journal = Journal(results.journal_path(tmp_path, run), run, new=True)
    for case in run.plan:
        rec = record(case)
        journal.append(rec)
        run.cases.append(rec)
    journal.close()
    assert results.load(results.journal_path(tmp_path, run)).cases == run.cases
    path = results.finish(tmp_path, run, "2026-01-01T00:01:00+00:00")
    loaded = results.load(path)
    assert loaded.complete and loaded.cases == run.cases and loaded.finished
    assert not results.journal_path(tmp_path, run).exists()
    assert json.loads(path.read_text())["version"] == results.SCHEMA_VERSION


def test_a_journal_cut_mid_line_loads_what_finished_and_resumes_cleanly(tmp_path: Path) -> None:
    run = make_run(3)
    path = results.journal_path(tmp_path, run)
    journal = Journal(path, run, new=True)
    journal.append(record(run.plan[0]))
    journal.close()
    with open(path, "a") as f:
        f.write('{"kind": "case", "record": {"case"')  # killed while writing case 2
    partial = results.load(path)
    assert len(partial.cases) == 1 and len(partial.pending()) == 2
    Journal(path, partial, new=False).append(record(run.plan[1]))
    assert [c.id for c in results.load(path).cases] == [run.plan[0]["id"], run.plan[1]["id"]]


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text("old")

    class Boom:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    with pytest.raises(TypeError):
        results.write_atomic(path, Boom())  # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]


def test_newer_schema_versions_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({**make_run().to_dict(), "version": 99}))
    with pytest.raises(SizeupError, match="schema version 99"):
        results.load(path)


def test_frame_has_one_row_per_case_and_repeat() -> None:
    run = make_run(3)
    run.cases.extend([record(run.plan[0]), record(run.plan[1]), record(run.plan[2], status="skipped")])
    frame = to_frame(run)
    assert len(frame) == 3 + 3 + 1
    ok = frame[frame.status == "ok"]
    assert list(ok.columns[:6]) == ["id", "workload", "model", "backend", "size", "threads"]
    assert ok.time_fit.tolist() == [1.0, 2.0, 3.0] * 2
    assert ok.quality_acc.eq(0.9).all() and ok.cold.sum() == 2
    assert frame[frame.status == "skipped"].repeat.isna().all()


def test_result_files_get_ordinary_permissions(tmp_path: Path) -> None:
    import os

    path = tmp_path / "r.json"
    results.write_atomic(path, "{}")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
