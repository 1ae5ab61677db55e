"""`sizeup recommend` on hand-made results: every rule, with the evidence it states."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import catalog, cli, frame
from harness.plan import Case
from harness.recommend import recommend
from harness.results import CaseRecord
from tests.test_compare import times, write

SIZES = (100000, 200000, 400000, 800000)
GiB = 2**30


def sweep(model: str, backend: str, seconds: Callable[[int], float], bytes_per_row: float,
          quality: float = 0.95, gpu: bool = False, threads: int = 2) -> list[CaseRecord]:
    out = []
    for i, n in enumerate(SIZES):
        case = Case("classification", model, backend, n, threads)
        runs = [{"repeat": r, "cold": r == 0, "complete": True, "disturbed": False, "phases": {"fit": t},
                 "cpu_s": {"fit": t * threads * 0.9}, "quality": {"roc_auc": quality}}
                for r, t in enumerate(times(seconds(n), 4, 0.01, i + 7 * len(model)))]
        telemetry = {"peak_memory_bytes": 200 * 2**20 + bytes_per_row * n}
        if gpu:
            telemetry["phases"] = {"fit": {"sources": {"nvml": {"gpu0.util_percent": {"mean": 85.0},
                                                                "gpu0.case_memory_bytes": {"max": 2**29 + 50 * n}}}}}
        out.append(CaseRecord(case.to_dict(), "ok", runs=runs, data_sha256="d", params={"trees": 200},
                              telemetry=telemetry, workload_info={"metric": "roc_auc", "higher_is_better": True,
                                                                  "size_unit": "rows", "family": "classification"}))
    return out


def rows_of(tmp_path: Path, records: list[CaseRecord], gpu: str | None = None):
    path = write(tmp_path / "r.json", records)
    if gpu:  # the machine that measured the GPU cases
        doc = json.loads(Path(path).read_text())
        doc["machine"]["identity"]["gpus"] = [{"name": gpu}]
        Path(path).write_text(json.dumps(doc))
    return frame.rows(frame.load([path]))


def test_a_memory_bound_target_picks_a_memory_optimized_family(tmp_path: Path) -> None:
    rows = rows_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250))
    # 1e9 rows x 250 B x 1.5 = 350 GiB: Dsv5 would need 96 vCPUs; Esv5 holds it with 48.
    found = recommend(rows, "classification", 1e9, catalog.load())
    best = found.options[0]
    assert best.vm in ("E48s_v5", "E64s_v5", "E96s_v5", "M32ms", "M64s"), best
    assert best.memory_needed_gib == pytest.approx((200 * 2**20 + 250 * 1e9) * 1.5 / GiB, rel=0.02)
    assert any("no thread fit" in e for e in best.evidence) and best.confidence == "low"
    assert "memory needed = predicted peak memory x 1.5 headroom" in found.rules


def test_a_target_past_the_largest_vm_picks_out_of_core_or_spark(tmp_path: Path) -> None:
    rows = rows_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250)
                   + sweep("xgboost_external", "xgboost", lambda n: 1.2e-5 * n, 250))
    found = recommend(rows, "classification", 1e10, catalog.load())  # 3.5 TiB in memory
    configs = [o.config for o in found.options]
    assert "classification/xgboost_external@xgboost/n=*/t=2" in configs and "spark (not measured)" in configs
    assert not any(c == "classification/xgboost@xgboost/n=*/t=2" for c in configs)
    assert any("no VM holds the data in memory" in r for r in found.rules)


def test_a_gpu_slower_at_the_target_is_not_recommended_and_a_faster_cheaper_one_is(tmp_path: Path) -> None:
    cpu = sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250)
    slow_gpu = sweep("xgboost", "xgboost-cuda", lambda n: 30.0 + 1e-5 * n, 250, gpu=True)
    found = recommend(rows_of(tmp_path, cpu + slow_gpu, gpu="NVIDIA H100 80GB HBM3"), "classification", 1e6,
                      catalog.load())
    assert all("cuda" not in o.config for o in found.options)
    assert any("not faster than the fastest CPU option" in r for r in found.rules)
    fast_gpu = sweep("xgboost", "xgboost-cuda", lambda n: 0.5 + 1e-8 * n, 250, gpu=True)
    found = recommend(rows_of(tmp_path, cpu + fast_gpu, gpu="NVIDIA H100 80GB HBM3"), "classification", 1e8,
                      catalog.load())
    top = found.options[0]
    assert "cuda" in top.config and top.vm in ("NC40ads_H100_v5", "ND96isr_H100_v5"), top
    assert top.gpu_util == 85.0


def test_a_gpu_whose_quality_departs_from_its_twin_is_left_out(tmp_path: Path) -> None:
    cpu = sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250)
    gpu = sweep("xgboost", "xgboost-cuda", lambda n: 0.5 + 1e-8 * n, 250, quality=0.80, gpu=True)
    for record in gpu:
        object.__setattr__(record, "checks", {"twin_quality": {"difference": -0.15, "beyond": True}})
    found = recommend(rows_of(tmp_path, cpu + gpu, gpu="NVIDIA H100"), "classification", 1e8, catalog.load())
    assert all("cuda" not in o.config for o in found.options)
    assert any("quality departs from its CPU twin by -0.15" in r for r in found.rules)


def test_a_missed_budget_names_spark_and_thread_fits_carry_cores(tmp_path: Path) -> None:
    records = [r for p in (1, 2) for r in sweep("xgboost", "xgboost", lambda n, p=p: 1e-5 * n * (0.1 + 0.9 / p), 250,
                                                  threads=p)]
    found = recommend(rows_of(tmp_path, records), "classification", 1e7, catalog.load(), budget_s=1.0)
    assert found.options[-1].vm == "Spark cluster"
    assert any("no single-node option meets the 1 s budget" in r for r in found.rules)
    assert any("size-and-threads fit" in e for o in found.options for e in o.evidence)


def test_recommend_command_prints_ranked_options_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "r.json", sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250))
    assert cli.main(["recommend", path, "--workload", "classification", "--rows", "100000000"]) == 0
    out = capsys.readouterr().out
    assert "classification at 100,000,000 rows" in out and "Platform: Azure Machine Learning" in out
    assert cli.main(["recommend", path, "--workload", "classification", "--rows", "1e8", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["options"][0]["vm"].startswith(("E", "D")) and doc["options"][0]["evidence"]
    assert cli.main(["recommend", path, "--workload", "vision", "--rows", "10"]) == cli.EXIT_USAGE
    assert "no finished case of workload 'vision'" in capsys.readouterr().err


def test_too_few_sizes_say_so_instead_of_sending_the_data_to_spark(tmp_path: Path) -> None:
    rows = rows_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250)[:2])
    found = recommend(rows, "classification", 1e7, catalog.load())
    assert found.options == [] and any("fewer than three sizes" in r for r in found.rules)
    assert "no configuration could be priced: see the reasons above" in found.rules
