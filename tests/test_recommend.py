"""`sizeup recommend` on hand-made results: every rule, with the evidence it states."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import cli
from harness.analysis import frame, predictions
from harness.sizing import catalog
from harness.sizing import recommend as recommend_module
from harness.run.plan import Case
from harness.sizing.recommend import recommend, summary
from harness.records import CaseRecord
from tests.test_compare import times, write

SIZES = (100000, 200000, 400000, 800000)
GiB = 2**30


def sweep(model: str, backend: str, seconds: Callable[[int], float], bytes_per_row: float,
          quality: float = 0.95, gpu: bool = False, threads: int = 2, cpu_share: float = 0.9,
          gpu_util: float = 85.0, gpu_bytes_per_row: float = 50, workload: str = "classification",
          task: str = "classification") -> list[CaseRecord]:
    out = []
    for i, n in enumerate(SIZES):
        case = Case(workload, model, backend, n, threads)
        runs = [{"repeat": r, "cold": r == 0, "complete": True, "disturbed": False, "phases": {"fit": t},
                 "cpu_s": {"fit": t * threads * cpu_share}, "quality": {"roc_auc": quality}}
                for r, t in enumerate(times(seconds(n), 4, 0.01, i + 7 * len(model)))]
        telemetry = {"peak_memory_bytes": 200 * 2**20 + bytes_per_row * n}
        if gpu:
            telemetry["phases"] = {"fit": {"sources": {"nvml": {
                "gpu0.util_percent": {"mean": gpu_util},
                "gpu0.case_memory_bytes": {"max": 2**29 + gpu_bytes_per_row * n}}}}}
        out.append(CaseRecord(case.to_dict(), "ok", runs=runs, data_sha256="d", params={"trees": 200},
                              telemetry=telemetry, workload_info={"metric": "roc_auc", "higher_is_better": True,
                                                                  "size_unit": "rows", "family": task}))
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


def test_low_utilization_says_what_bounds_the_work(tmp_path: Path) -> None:
    cpu = sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250, cpu_share=0.3)
    gpu = sweep("xgboost", "xgboost-cuda", lambda n: 0.5 + 1e-8 * n, 250, gpu=True, gpu_util=20.0)
    found = recommend(rows_of(tmp_path, cpu + gpu, gpu="NVIDIA H100 80GB HBM3"), "classification", 1e8,
                      catalog.load())
    by_config = {o.config.split("@")[1].split("/")[0]: o for o in found.options}
    assert any("used 30% of its 2 threads' CPU: not core-bound" in e for e in by_config["xgboost"].evidence)
    assert any("GPU utilization 20%: the input pipeline starves the GPU" in e
               for e in by_config["xgboost-cuda"].evidence)


def test_a_gpu_is_kept_where_only_it_meets_the_budget_and_left_where_its_data_outgrows_it(tmp_path: Path) -> None:
    cpu = sweep("xgboost", "xgboost", lambda n: 1e-7 * n, 250)
    gpu = sweep("xgboost", "xgboost-cuda", lambda n: 1.0 + 1e-9 * n, 250, gpu=True)  # faster, yet dearer per run
    rows = rows_of(tmp_path, cpu + gpu, gpu="NVIDIA H100 80GB HBM3")
    assert all("cuda" not in o.config for o in recommend(rows, "classification", 1e8, catalog.load()).options)
    found = recommend(rows, "classification", 1e8, catalog.load(), budget_s=5.0)  # the CPU needs about 10 s
    assert "cuda" in found.options[0].config and found.options[0].meets_budget
    # 2.3e8 rows x 400 B on the device: 86 GiB, only the 94 GiB H100 NVL holds it (not an 80 GiB H100 or A100).
    big = sweep("xgboost", "xgboost-cuda", lambda n: 1.0 + 1e-9 * n, 250, gpu=True, gpu_bytes_per_row=400)
    found = recommend(rows_of(tmp_path, cpu + big, gpu="NVIDIA H100 80GB HBM3"), "classification", 2.3e8,
                      catalog.load(), budget_s=5.0)
    assert {o.vm for o in found.options if "cuda" in o.config} == {"NC40ads_H100_v5"}


def test_gpu_time_is_carried_to_another_model_only_by_stated_datasheet_ratios(tmp_path: Path) -> None:
    cpu = sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250)
    gpu = sweep("xgboost", "xgboost-cuda", lambda n: 0.5 + 1e-8 * n, 250, gpu=True)
    rows = rows_of(tmp_path, cpu + gpu, gpu="NVIDIA H200")  # no H200 VM in the catalog
    found = recommend(rows, "classification", 1e7, catalog.load())
    on_gpu = [o for o in found.options if "cuda" in o.config]
    assert on_gpu, found.rules
    top = on_gpu[0]
    h200, target = catalog.gpu_spec("H200"), catalog.gpu_spec(next(vm.gpu_model for vm in catalog.load()
                                                                    if vm.name == top.vm))
    factor = max(h200.memory_bandwidth_gbs / target.memory_bandwidth_gbs, h200.fp32_tflops / target.fp32_tflops)
    assert factor > 1 and top.seconds == pytest.approx(factor * (0.5 + 1e-8 * 1e7), rel=0.05)
    assert top.confidence == "low"
    assert any(f"carried from H200 to {target.model}" in e and "from datasheets, not measured" in e
               for e in top.evidence)
    unknown = recommend(rows_of(tmp_path, cpu + gpu, gpu="NVIDIA GeForce RTX 4090"), "classification", 1e7,
                        catalog.load())
    assert all("cuda" not in o.config for o in unknown.options)
    assert any("no datasheet entry carries its time" in r for r in unknown.rules)


def test_fewer_vcpus_than_measured_without_a_thread_fit_cost_time_in_proportion(tmp_path: Path) -> None:
    rows = rows_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250, threads=4))
    found = recommend(rows, "classification", 1e6, [vm for vm in catalog.load() if vm.name == "D2s_v5"])
    assert found.options[0].seconds == pytest.approx(2 * 10.0, rel=0.05)
    assert any("as if no parallel loss (an upper bound)" in e for e in found.options[0].evidence)


def test_each_task_family_gets_its_platform(tmp_path: Path) -> None:
    records = sweep("cnn", "torch", lambda n: 1e-4 * n, 2000, workload="vision", task="vision")
    found = recommend(rows_of(tmp_path, records), "vision", 1e6, catalog.load())
    assert found.platform.startswith("Azure AI Services (prebuilt vision)")


def test_fits_never_mix_machines(tmp_path: Path) -> None:
    fast, slow = (write(tmp_path / f"{name}.json", sweep("xgboost", "xgboost", lambda n, k=k: k * n, 250))
                  for name, k in (("fast", 1e-5), ("slow", 4e-5)))
    doc = json.loads(Path(slow).read_text())
    doc["machine"]["id"] = "other-machine"
    Path(slow).write_text(json.dumps(doc))
    found = recommend(frame.rows(frame.load([fast, slow])), "classification", 1e6,
                      [vm for vm in catalog.load() if vm.name == "D2s_v5"])
    measured = {o.config.rsplit(" on ", 1)[1]: o.seconds for o in found.options}
    fast_id = json.loads(Path(fast).read_text())["machine"]["id"]
    assert measured.keys() == {fast_id, "other-machine"}
    assert measured[fast_id] == pytest.approx(10, rel=0.05) and measured["other-machine"] == pytest.approx(40, rel=0.05)


def test_the_summary_picks_the_cheapest_configuration_near_the_best_quality(tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    records = (sweep("linear", "sklearn", lambda n: 1e-7 * n, 100, quality=0.78)
               + sweep("hgb", "sklearn", lambda n: 2e-5 * n, 250, quality=0.975)
               + sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250, quality=0.98))
    path = write(tmp_path / "r.json", records)
    picks = summary(frame.rows(frame.load([path])), catalog.load())
    assert len(picks) == 1 and picks[0].found.size == recommend_module.SCALE * max(SIZES)
    assert picks[0].pick.config.startswith("classification/xgboost@xgboost")  # hgb within 0.01 but dearer
    assert cli.main(["recommend", path]) == 0
    out = capsys.readouterr().out
    assert "What to train on, per task family" in out and "xgboost@xgboost, 2 threads" in out
    assert cli.main(["recommend", path, "--workload", "classification"]) == cli.EXIT_USAGE
    assert "--workload and --size (--rows) go together" in capsys.readouterr().err


def test_quality_against_cost_keeps_only_what_no_option_beats_on_both(tmp_path: Path) -> None:
    records = (sweep("linear", "sklearn", lambda n: 1e-7 * n, 100, quality=0.78)
               + sweep("hgb", "sklearn", lambda n: 2e-5 * n, 250, quality=0.975)  # dearer and worse than xgboost
               + sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250, quality=0.98))
    found = recommend(rows_of(tmp_path, records), "classification", 1e6, catalog.load())
    frontier = recommend_module.quality_frontier(found.options)
    assert [o.config.split("/")[1] for o in frontier] == ["linear@sklearn", "xgboost@xgboost"]
    assert frontier[0].cost < frontier[1].cost and frontier[0].quality_score < frontier[1].quality_score
    lines = recommend_module.frontier_lines(found.options)
    assert lines[1].endswith("roc_auc 0.98 at 800,000 <- best quality per unit of cost") and len(lines) == 2


def test_an_error_metric_is_compared_by_its_ratio_not_by_0_01(tmp_path: Path) -> None:
    def forecasts(model: str, seconds: Callable[[int], float], wape: float) -> list[CaseRecord]:
        records = sweep(model, "xgboost", seconds, 100, workload="forecasting", task="forecasting")
        for r in records:
            r.workload_info.update(metric="wape", higher_is_better=False)
            for run in r.runs:
                run["quality"] = {"wape": wape}
        return records

    # A WAPE of 0.003 against 0.007 is less than 0.01 apart, but less than half the error.
    xgboost = forecasts("xgboost", lambda n: 1e-5 * n, 0.003)
    rows = rows_of(tmp_path, forecasts("naive", lambda n: 1e-8 * n, 0.007) + xgboost)
    found = recommend(rows, "forecasting", 1e6, catalog.load())
    assert recommend_module.best_value(found.options).config.startswith("forecasting/xgboost@")
    close = rows_of(tmp_path, forecasts("naive", lambda n: 1e-8 * n, 0.00301) + xgboost)
    found = recommend(close, "forecasting", 1e6, catalog.load())
    assert recommend_module.best_value(found.options).config.startswith("forecasting/naive@")  # within 1%, cheaper


def test_sizes_still_in_fixed_costs_give_low_confidence_past_them(tmp_path: Path) -> None:
    rows = rows_of(tmp_path, sweep("hgb", "sklearn", lambda n: 0.6 + 1e-9 * n, 250))  # flat: early stopping, imports
    found = recommend(rows, "classification", 2 * max(SIZES), [vm for vm in catalog.load() if vm.name == "D2s_v5"])
    assert found.options[0].confidence == "low"
    assert any("fixed costs still dominate" in e for e in found.options[0].evidence)
    steep = rows_of(tmp_path, sweep("hgb", "sklearn", lambda n: 1e-5 * n, 250))
    found = recommend(steep, "classification", 2 * max(SIZES), [vm for vm in catalog.load() if vm.name == "D2s_v5"])
    assert found.options[0].confidence == "high"


def test_out_of_core_is_offered_where_the_data_fits_only_if_it_is_cheaper(tmp_path: Path) -> None:
    in_memory = sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250)
    dear = sweep("xgboost_external", "xgboost", lambda n: 1e-3 * n, 250)  # 100x slower: dearer even on a small VM
    found = recommend(rows_of(tmp_path, in_memory + dear), "classification", 1e8, catalog.load())
    assert all("_external" not in o.config for o in found.options)
    assert any("out of core" in r and "left out" in r for r in found.rules)
    cheap = sweep("xgboost_external", "xgboost", lambda n: 1.2e-5 * n, 250)  # needs no 35 GiB VM
    found = recommend(rows_of(tmp_path, in_memory + cheap), "classification", 1e8, catalog.load())
    external = next(o for o in found.options if "_external" in o.config)
    assert external.vm == "D2s_v5" and external.confidence == "low"
    assert external.cost < next(o.cost for o in found.options if o.config.startswith("classification/xgboost@"))


def spark_sweep() -> list[CaseRecord]:
    """xgboost_spark on 1 and 2 local cores: 12 s of fixed cost, then parallel work."""
    return [r for p in (1, 2) for r in sweep("xgboost_spark", "spark", lambda n, p=p: 12.0 + 2e-5 * n / p,
                                             300, threads=p)]


def test_spark_is_never_offered_for_data_that_fits_one_machine(tmp_path: Path) -> None:
    rows = rows_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250) + spark_sweep())
    found = recommend(rows, "classification", 1e7, catalog.load())
    assert all("spark" not in o.config and o.vm != "Spark cluster" for o in found.options)
    assert any("Spark was measured, but the data fits one machine" in r for r in found.rules)
    # Spark on this one machine, against the fastest single node at the same size: 12 s + 8 s against 8 s.
    local = next(r for r in found.rules if r.startswith("classification/xgboost_spark@spark/n=*/t=2"))
    assert "fit 20 s at 800,000 rows in Spark on this machine, against 7.99 s for classification/xgboost@" in local
    one = recommend(rows_of(tmp_path, spark_sweep()[4:]), "classification", 1e7, catalog.load())  # 2 cores only
    assert any("a cluster is priced from a fit over two or more sizes and core counts" in r for r in one.rules)


def test_a_cluster_past_the_largest_vm_is_sized_from_the_measured_spark_fit(tmp_path: Path) -> None:
    rows = rows_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250) + spark_sweep())
    found = recommend(rows, "classification", 1e10, catalog.load())  # 3.5 TiB in memory on one node
    spark = next(o for o in found.options if "@spark/" in o.config)
    vm = next(vm for vm in catalog.load() if vm.name == spark.vm)
    workers = spark.nodes - 1
    assert workers >= 2 and spark.memory_needed_gib * GiB <= vm.memory_gib * GiB
    fit = predictions.spark_models(rows)[0].time
    assert spark.seconds == pytest.approx(fit(1e10, workers * vm.vcpus))
    # Two core counts cannot pin the coordination terms: a hair of noise in them grows with the cores.
    assert 1 <= spark.seconds / (12.0 + 2e-5 * 1e10 / (workers * vm.vcpus)) < 2
    assert spark.cost == pytest.approx(spark.seconds / 3600 * spark.nodes * vm.price_per_hour, rel=1e-6)
    assert spark.confidence == "low" and any(e.startswith("time: Ernest fit over 8 points") for e in spark.evidence)
    assert any("extrapolated, not measured" in e for e in spark.evidence)
    unmeasured = recommend(rows_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250)), "classification",
                           1e10, catalog.load())
    assert any(o.config == "spark (not measured)" for o in unmeasured.options)
