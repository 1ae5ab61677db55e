"""`sizeup recommend` on hand-made results: every rule by its code, with the values it decided on."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from harness import cli
from harness.analysis import frame, predict, scaling
from harness.analysis.compute import Analysis, analyse
from harness.present.recommend import frontier_lines
from harness.records import Case, CaseRecord
from harness.records.figures import seconds
from harness.sizing import catalog
from harness.sizing import findings as f
from harness.sizing import recommend as sizing
from harness.sizing import options
from harness.sizing.options import gpu_options
from harness.sizing.recommend import recommend, summary
from tests import builders

SIZES = (100000, 200000, 400000, 800000)
GiB = 2**30


def sweep(model: str, backend: str, seconds: Callable[[int], float], bytes_per_row: float,
          quality: float = 0.95, gpu: bool = False, threads: int = 2, cpu_share: float = 0.9,
          gpu_util: float = 85.0, gpu_bytes_per_row: float = 50, workload: str = "classification",
          task: str = "classification", metric: str = "roc_auc", higher_is_better: bool = True) -> list[CaseRecord]:
    out = []
    for i, n in enumerate(SIZES):
        telemetry = builders.gpu_telemetry(gpu_util, 2**29 + gpu_bytes_per_row * n) if gpu else None
        out.append(builders.record(Case(workload, model, backend, n, threads),
                                   builders.times(seconds(n), 4, 0.01, i + 7 * len(model))[1:], quality=quality,
                                   metric=metric, higher_is_better=higher_is_better,
                                   peak=200 * 2**20 + bytes_per_row * n,
                                   cpu_share=cpu_share, telemetry=telemetry, task=task, params={"trees": 200}))
    return out


def analysis_of(tmp_path: Path, cases: list[CaseRecord], gpu: str | None = None) -> Analysis:
    return analyse(frame.load([builders.write(tmp_path / "r.json", cases, gpu=gpu)]))


def codes(found: sizing.Recommendation) -> list[str]:
    return [r.code for r in found.rules]


def evidence(option) -> list[str]:
    return [e.code for e in option.evidence]


def test_a_memory_bound_target_picks_a_memory_optimized_family(tmp_path: Path) -> None:
    analysis = analysis_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 125e3))
    # 1.6e6 rows x 125 kB x 1.5 = 280 GiB: Dsv5 would need 96 vCPUs; Esv5 holds it with 48. At 2x the size
    # measured, the headroom covers the top of the peak's interval.
    found = recommend(analysis, "classification", 1.6e6, catalog.load())
    best = found.options[0]
    assert best.vm in ("E48s_v5", "E64s_v5", "E96s_v5", "M32ms", "M64s"), best
    assert best.memory_needed_gib == pytest.approx((200 * 2**20 + 125e3 * 1.6e6) * 1.5 / GiB, rel=0.02)
    assert f.NO_THREAD_FIT in evidence(best)
    assert codes(found)[0] == f.HEADROOM


def test_far_past_the_sizes_measured_a_vm_must_hold_the_top_of_the_peaks_interval(tmp_path: Path) -> None:
    analysis = analysis_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250))
    fitted = analysis.machines[0]
    peak = predict.estimate(fitted, fitted.sizes[0], 1e8).memory  # 125x past the largest size
    assert peak.hi > 1.5 * peak.value  # the calibrated interval outgrows the headroom
    found = recommend(analysis, "classification", 1e8, catalog.load())
    vms = {vm.name: vm for vm in catalog.load()}
    for o in found.options:
        assert o.memory_needed_gib * GiB == pytest.approx(peak.hi)
        assert o.memory_needed_gib <= vms[o.vm].memory_gib
    assert found.options and f.MEMORY_FIT in evidence(found.options[0])
    # An option whose VM holds 1.5x the predicted peak but not the top of its interval is not offered.
    between = [vm for vm in catalog.load() if 1.5 * peak.value <= vm.memory_gib * GiB < peak.hi and not vm.gpu_count]
    assert between and not {vm.name for vm in between} & {o.vm for o in found.options}


def test_a_target_past_the_largest_vm_picks_out_of_core_or_spark(tmp_path: Path) -> None:
    analysis = analysis_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250)
                           + sweep("xgboost_external", "xgboost", lambda n: 1.2e-5 * n, 250))
    found = recommend(analysis, "classification", 1e10, catalog.load())  # 3.5 TiB in memory
    configs = [o.config for o in found.options]
    assert "classification/xgboost_external@xgboost/n=*/t=2" in configs and "spark (not measured)" in configs
    assert "classification/xgboost@xgboost/n=*/t=2" not in configs
    assert f.OUTGROWS_CATALOG in codes(found) and f.NO_VM_HOLDS_DATA in codes(found)
    # The largest VM that could hold it is a CPU VM (CPU training runs on none of the GPU VMs, 1,900 GiB the largest).
    largest = max((vm for vm in catalog.load() if not vm.gpu_count), key=lambda vm: vm.memory_gib)
    (said,) = [r for r in found.rules if r.code == f.NO_VM_HOLDS_DATA]
    assert f"(the largest CPU VM, {largest.name}, has {largest.memory_gib:,g} GiB)" in said.message
    # Measured on two machines: each configuration's exclusion names its machine.
    other = builders.write(tmp_path / "other.json", sweep("xgboost", "xgboost", lambda n: 2e-5 * n, 250), cpu="EPYC")
    both = analyse(frame.load([builders.write(tmp_path / "r.json", sweep("xgboost", "xgboost", lambda n: 1e-5 * n,
                                                                          250)), other]))
    outgrown = [r.message for r in recommend(both, "classification", 1e10, catalog.load()).rules
                if r.code == f.OUTGROWS_CATALOG]
    assert sorted(m.split(":")[0] for m in outgrown) == [f"classification/xgboost@xgboost/n=*/t=2 on m-{cpu}"
                                                          for cpu in ("EPYC", "Xeon")]
    spark = next(o for o in found.options if o.case is None)
    assert evidence(spark) == [f.SPARK_NOT_MEASURED] and spark.seconds is None
    assert spark.meets_budget  # none was given: it misses none (with one, no time meets it)
    budgeted = recommend(analysis, "classification", 1e10, catalog.load(), budget_s=60)
    assert not next(o for o in budgeted.options if o.case is None).meets_budget
    # Out of core only the fit's fixed part is counted: what the VM must hold is at least that.
    from harness.present.recommend import memory_text

    external = next(o for o in found.options if o.external)
    assert memory_text(external) == f"≥{external.memory_needed_gib:,.1f} GiB"


def test_a_gpu_slower_at_the_target_is_not_recommended_and_a_faster_cheaper_one_is(tmp_path: Path) -> None:
    cpu = sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250)
    slow_gpu = sweep("xgboost", "xgboost-cuda", lambda n: 30.0 + 1e-5 * n, 250, gpu=True)
    found = recommend(analysis_of(tmp_path, cpu + slow_gpu, gpu="NVIDIA H100 80GB HBM3"), "classification", 1e6,
                      catalog.load())
    assert not any(o.on_gpu for o in found.options)
    assert f.GPU_SLOWER in codes(found)
    fast_gpu = sweep("xgboost", "xgboost-cuda", lambda n: 0.5 + 1e-8 * n, 250, gpu=True)
    found = recommend(analysis_of(tmp_path, cpu + fast_gpu, gpu="NVIDIA H100 80GB HBM3"), "classification", 1e8,
                      catalog.load())
    top = found.options[0]
    assert top.on_gpu and top.case.backend == "xgboost-cuda" and top.vm in ("NC40ads_H100_v5", "ND96isr_H100_v5")
    assert top.gpu_util == 85.0


def test_a_gpu_whose_quality_departs_from_its_twin_is_left_out(tmp_path: Path) -> None:
    cpu = sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250, quality=0.95)
    gpu = sweep("xgboost", "xgboost-cuda", lambda n: 0.5 + 1e-8 * n, 250, quality=0.80, gpu=True)
    found = recommend(analysis_of(tmp_path, cpu + gpu, gpu="NVIDIA H100"), "classification", 1e8, catalog.load())
    assert not any(o.on_gpu for o in found.options)
    (left,) = [r for r in found.rules if r.code == f.GPU_WORSE_QUALITY]
    assert left.config == "classification/xgboost@xgboost-cuda/n=*/t=2" and "-0.15" in left.message


def test_a_time_not_worth_acting_on_meets_a_budget_only_with_its_whole_interval(tmp_path: Path) -> None:
    """A trial's `--budget 0.5`: hgb on a 32-vCPU VM, its time 'none' (an interval past 10x), was ranked first on
    the point its table withholds."""
    analysis = analysis_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250))
    top = recommend(analysis, "classification", 1e8, catalog.load()).options[0]
    assert top.seconds is not None and not top.timed
    for budget, met in ((top.seconds * 1.01, False), (top.hi * 1.01, True)):  # past its point; past its interval
        again = recommend(analysis, "classification", 1e8, catalog.load(), budget_s=budget).options
        assert next(o for o in again if (o.vm, o.config) == (top.vm, top.config)).meets_budget is met
    # Where every option misses it, the surest to come nearest first: by the top of the time's interval
    two = analysis_of(tmp_path / "two", sweep("xgboost", "xgboost", lambda n: 3e-5 * n, 25)  # slow, on a cheap VM
                      + sweep("hgb", "sklearn", lambda n: 1e-6 * n, 20000))  # fast, on a dear one (200 GB)
    missed = [o for o in recommend(two, "classification", 1e7, catalog.load(), budget_s=1e-3).options if o.hi]
    assert len(missed) > 1 and [o.hi for o in missed] == sorted(o.hi for o in missed)
    assert [o.cost for o in missed] != sorted(o.cost for o in missed)  # not by cost, as they had been


def test_a_missed_budget_names_spark_and_thread_fits_carry_cores(tmp_path: Path) -> None:
    cases = [r for p in (1, 2) for r in sweep("xgboost", "xgboost", lambda n, p=p: 1e-5 * n * (0.1 + 0.9 / p), 250,
                                                threads=p)]
    analysis = analysis_of(tmp_path, cases)
    found = recommend(analysis, "classification", 1e7, catalog.load(), budget_s=1.0)
    assert found.options[-1].vm == "Spark cluster" and f.BUDGET_MISSED in codes(found)
    # 16 vCPUs are carried from the 2-thread fit by the size-and-threads fit, 8x past the threads measured.
    wide = recommend(analysis, "classification", 1e7, [vm for vm in catalog.load() if vm.name == "D16s_v5"])
    assert {f.THREAD_FIT, f.VCPUS_FAR} <= set(evidence(wide.options[0])) and wide.options[0].confidence == "low"
    assert wide.options[0].config.endswith("t=2")


def test_recommend_command_prints_ranked_options_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = builders.write(tmp_path / "r.json", sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250))
    assert cli.main(["recommend", path, "--workload", "classification", "--rows", "100000000"]) == 0
    assert "classification at 100,000,000 rows" in capsys.readouterr().out
    assert cli.main(["recommend", path, "--workload", "classification", "--rows", "1e8", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["options"][0]["vm"].startswith(("E", "D"))
    # Its VM has many more vCPUs than the 2 threads measured and no thread fit carries them: assumed no faster,
    # it may be up to vCPUs/2 times faster, so the interval spans more than 10x and says no time.
    top = doc["options"][0]
    assert [e["code"] for e in top["evidence"]] == [f.TIME_FIT, f.MEMORY_FIT, f.KIND_SHORT, f.NO_THREAD_FIT, f.TOO_WIDE]
    assert top["hi"] / top["lo"] > 10 and top["confidence"] == "low"
    too_wide = top["evidence"][-1]["message"]  # its interval written as every table writes a time
    assert top["hi"] > 1000 and f"interval {seconds(top['lo'])}-{seconds(top['hi'])} s" in too_wide
    value, lo, hi = top["memory_peak"]  # the peak predicted, and its interval: what the memory needed comes from
    assert lo < value < hi and top["memory_needed_gib"] * GiB == pytest.approx(max(1.5 * value, hi))
    # Nothing to act on: a rule, said above the table, not left to each row's 'none'.
    assert f.NO_TIME_WORTH_ACTING in [x["code"] for x in doc["rules"]]
    assert cli.main(["recommend", path, "--workload", "classification", "--rows", "100000000"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("No option has a time worth acting on here") and "best value" not in out
    assert doc["rules"][0]["code"] == f.HEADROOM
    assert doc["size"] == 1e8 and doc["platform"] == sizing.PLATFORMS["classification"]
    assert cli.main(["recommend", path, "--workload", "vision", "--rows", "10"]) == cli.EXIT_USAGE
    assert "'vision'" in (err := capsys.readouterr().err) and err.rstrip().endswith("they have classification")
    for command in (["recommend", path, "--workload", "classification", "--rows"], ["fit", path, "--target"]):
        with pytest.raises(SystemExit) as exc:  # a data size is a whole number of items
            cli.main([*command, "1.5"])
        assert exc.value.code == cli.EXIT_USAGE and "expected a whole number of items" in capsys.readouterr().err


def test_too_few_sizes_say_so_instead_of_sending_the_data_to_spark(tmp_path: Path) -> None:
    found = recommend(analysis_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250)[:2]),
                      "classification", 1e7, catalog.load())
    assert found.options == [] and codes(found) == [f.HEADROOM, f.TOO_FEW_SIZES, f.NOTHING_PRICED]
    assert "--suite sizing" in found.rules[1].message
    # a table of your own is no suite to run: the times measured are what there is (a trial's 40-row table)
    own = [dataclasses.replace(r, case=dataclasses.replace(r.case, workload="user_classification",
                                                           params={"path": "/d/t.csv", "file_sha256": "ab" * 32}))
           for r in sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250)[:2]]
    found = recommend(analysis_of(tmp_path / "own", own), "user_classification", 40, catalog.load())
    assert codes(found)[1] == f.TOO_FEW_SIZES and "--suite sizing" not in found.rules[1].message


def test_low_utilization_says_what_bounds_the_work(tmp_path: Path) -> None:
    cpu = sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250, cpu_share=0.3)
    gpu = sweep("xgboost", "xgboost-cuda", lambda n: 0.5 + 1e-8 * n, 250, gpu=True, gpu_util=20.0)
    found = recommend(analysis_of(tmp_path, cpu + gpu, gpu="NVIDIA H100 80GB HBM3"), "classification", 1e8,
                      catalog.load())
    by_backend = {o.case.backend: o for o in found.options}
    assert f.NOT_CORE_BOUND in evidence(by_backend["xgboost"]) and by_backend["xgboost"].cpu_util == pytest.approx(0.3)
    assert f.GPU_STARVED in evidence(by_backend["xgboost-cuda"]) and by_backend["xgboost-cuda"].gpu_util == 20.0


def test_a_gpu_is_kept_where_only_it_meets_the_budget_and_left_where_its_data_outgrows_it(tmp_path: Path) -> None:
    # 2.5 B per row: far past the sizes measured, the top of the memory's interval still fits a small VM.
    gpu = sweep("xgboost", "xgboost-cuda", lambda n: 0.2 + 1e-8 * n, 2.5, gpu=True)  # faster, yet dearer per run
    analysis = analysis_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-6 * n, 2.5) + gpu,
                           gpu="NVIDIA H100 80GB HBM3")
    found = recommend(analysis, "classification", 3.2e6, catalog.load())  # 4x past: times worth acting on
    assert not any(o.on_gpu for o in found.options) and f.GPU_DEARER in codes(found)
    found = recommend(analysis, "classification", 3.2e6, catalog.load(), budget_s=1.0)  # the CPU needs about 3 s
    assert found.options[0].on_gpu and found.options[0].meets_budget and found.options[0].timed
    cpu = sweep("xgboost", "xgboost", lambda n: 1e-7 * n, 2.5)
    # 1.6e6 rows x 42 kB on the device: 63 GiB predicted, and the top of its interval at 2x past the sizes
    # measured over 80 GiB: of the GPU VMs, only the 94 GiB H100 NVL holds it (not an 80 GiB H100 or A100).
    big = sweep("xgboost", "xgboost-cuda", lambda n: 1e-9 * n, 2.5, gpu=True, gpu_bytes_per_row=42e3)
    analysis = analysis_of(tmp_path, cpu + big, gpu="NVIDIA H100 80GB HBM3")
    fitted = analysis.machines[0]
    model = next(m for m in fitted.sizes if m.case.backend == "xgboost-cuda")
    on_gpu = fitted.rows[fitted.rows["config"] == model.config]
    offered = gpu_options(model, on_gpu, 1.6e6, catalog.load(), fitted, [])
    assert {o.vm for o in offered} == {"NC40ads_H100_v5"}
    peaks = on_gpu.groupby("size")["gpu_memory_bytes"].max()
    device = fitted.calibration.interval("memory", scaling.fit_memory(list(peaks.index), list(peaks)).predict(1.6e6),
                                         True)[0]
    assert device.value < 80 * GiB < device.hi < 94 * GiB
    # A newer install whose CUDA context takes 1.5 GiB more, at the two smallest sizes: each size's largest peak
    # had made the growth 38.7 kB per row, 60 GiB at 1.6e6 rows, and offered the 80 GiB GPUs; now 42 kB, as measured.
    newer = [dataclasses.replace(r, telemetry={**r.telemetry,
                                               **builders.gpu_telemetry(85.0, 2**31 + 42e3 * r.case.size)})
             for r in big[:2]]
    paths = [builders.write(tmp_path / "old.json", cpu + big, gpu="NVIDIA H100 80GB HBM3"),
             builders.write(tmp_path / "new.json", newer, gpu="NVIDIA H100 80GB HBM3", started="2026-11-30T00:00:00Z")]
    fitted = analyse(frame.load(paths)).machines[0]
    on_gpu = fitted.rows[fitted.rows["config"] == model.config]
    assert {o.vm for o in gpu_options(model, on_gpu, 1.6e6, catalog.load(), fitted, [])} == {"NC40ads_H100_v5"}


def test_gpu_time_is_carried_to_another_model_only_by_stated_datasheet_ratios(tmp_path: Path) -> None:
    cpu = sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250)
    gpu = sweep("xgboost", "xgboost-cuda", lambda n: 0.1 + 5e-8 * n, 250, gpu=True)
    found = recommend(analysis_of(tmp_path, cpu + gpu, gpu="NVIDIA H200"), "classification", 1e7,
                      catalog.load())  # no H200 VM in the catalog
    on_gpu = [o for o in found.options if o.on_gpu]
    assert on_gpu, found.rules
    top = on_gpu[0]
    h200, target = catalog.gpu_spec("H200"), catalog.gpu_spec(next(vm.gpu_model for vm in catalog.load()
                                                                    if vm.name == top.vm))
    factor = max(h200.memory_bandwidth_gbs / target.memory_bandwidth_gbs, h200.fp32_tflops / target.fp32_tflops)
    assert factor > 1 and top.seconds == pytest.approx(factor * (0.1 + 5e-8 * 1e7), rel=0.05)
    assert top.confidence == "low" and f.GPU_CARRIED in evidence(top)
    unknown = recommend(analysis_of(tmp_path, cpu + gpu, gpu="NVIDIA GeForce RTX 4090"), "classification", 1e7,
                        catalog.load())
    assert not any(o.on_gpu for o in unknown.options) and f.GPU_NO_DATASHEET in codes(unknown)


def test_fewer_vcpus_than_measured_without_a_thread_fit_cost_time_in_proportion(tmp_path: Path) -> None:
    analysis = analysis_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250, threads=4))
    found = recommend(analysis, "classification", 1e6, [vm for vm in catalog.load() if vm.name == "D2s_v5"])
    assert found.options[0].seconds == pytest.approx(2 * 10.0, rel=0.05)
    assert f.NO_THREAD_FIT in evidence(found.options[0])


def test_each_task_family_gets_its_platform(tmp_path: Path) -> None:
    cases = sweep("cnn", "torch", lambda n: 1e-4 * n, 2000, workload="vision", task="vision")
    found = recommend(analysis_of(tmp_path, cases), "vision", 1e6, catalog.load())
    assert found.platform == sizing.PLATFORMS["vision"]


def test_fits_never_mix_machines(tmp_path: Path) -> None:
    fast, slow = (builders.write(tmp_path / f"{name}.json", sweep("xgboost", "xgboost", lambda n, k=k: k * n, 250),
                                 cpu=cpu) for name, k, cpu in (("fast", 1e-5, "Xeon"), ("slow", 4e-5, "EPYC")))
    found = recommend(analyse(frame.load([fast, slow])), "classification", 1e6,
                      [vm for vm in catalog.load() if vm.name == "D2s_v5"])
    measured = {o.machine: o.seconds for o in found.options}
    assert measured.keys() == {"m-Xeon", "m-EPYC"} and all(o.config.endswith(f" on {o.machine}") for o in found.options)
    assert measured["m-Xeon"] == pytest.approx(10, rel=0.05) and measured["m-EPYC"] == pytest.approx(40, rel=0.05)


def test_the_summary_picks_the_cheapest_configuration_near_the_best_quality(tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    cases = (sweep("linear", "sklearn", lambda n: 1e-7 * n, 100, quality=0.78)
             + sweep("hgb", "sklearn", lambda n: 2e-5 * n, 250, quality=0.975)
             + sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250, quality=0.98))
    path = builders.write(tmp_path / "r.json", cases)
    (pick,) = summary(analyse(frame.load([path])), catalog.load())
    assert pick.found.size == sizing.SCALE * max(SIZES)
    assert pick.pick.case.model == "xgboost"  # hgb within 0.01 but dearer
    assert cli.main(["recommend", path]) == 0
    *lines, command = capsys.readouterr().out.splitlines()
    assert "xgboost@xgboost, 2 thr." in "\n".join(lines) and max(map(len, lines)) <= 100
    assert command.endswith(f"recommend {path} --workload W --size N")  # whole, to be pasted, however long
    assert cli.main(["recommend", path, "--size", "640000"]) == cli.EXIT_USAGE  # a size in no workload's unit


def test_listing_fewer_options_never_changes_the_pick(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = (sweep("linear", "sklearn", lambda n: 1e-7 * n, 100, quality=0.78)  # the cheapest, and worse
             + sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250, quality=0.98))
    path = builders.write(tmp_path / "r.json", cases)
    assert cli.main(["recommend", path, "--workload", "classification", "--rows", "1e6", "--json"]) == 0
    every = json.loads(capsys.readouterr().out)
    assert every["pick"]["config"] == "classification/xgboost@xgboost/n=*/t=2" and every["more_options"] == 0
    assert every["options"][0]["config"] == "classification/linear@sklearn/n=*/t=2"
    assert cli.main(["recommend", path, "--workload", "classification", "--rows", "1e6", "--json", "--top", "1"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["pick"] == every["pick"] and first["more_options"] == 1 and first["options"] == every["options"][:1]
    assert cli.main(["recommend", path, "--workload", "classification", "--rows", "1e6", "--top", "1"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # as read, lines unwrapped
    assert out.count("<- best value") == 1 and "1 more option(s): --top 2 lists them all" in out
    assert "xgboost@xgboost" in out.split("<- best value")[0].rsplit("- $", 1)[-1]  # its frontier line
    assert "by cost per run; best value: #2, not listed (--top 2)" in out  # the pick is not listed: how to see it
    assert cli.main(["recommend", path, "--workload", "classification", "--rows", "1e6"]) == 0
    assert "each configuration's cheapest VM, by cost per run; best value: #2" in " ".join(
        capsys.readouterr().out.split())  # the first listed is the cheapest, not the answer


def test_the_summary_gives_no_answer_where_a_clearly_better_model_has_too_few_sizes_to_predict(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    linear = sweep("linear", "sklearn", lambda n: 1e-7 * n, 100, quality=0.78)
    trees = sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250, quality=0.98)
    path = builders.write(tmp_path / "a.json", linear + trees[:2])
    (pick,) = summary(analyse(frame.load([path])), catalog.load())
    assert pick.pick is None and pick.found.rules[-1].code == f.BETTER_UNFITTED
    assert pick.found.rules[-1].config == "classification/xgboost@xgboost/n=*/t=2"
    assert pick.better.model == "xgboost" and pick.better_quality.startswith("roc_auc 0.98 at ")
    assert cli.main(["recommend", path]) == 0  # the summary says, above its table, how to get a time
    out = capsys.readouterr().out.lstrip().splitlines()
    assert out[0].startswith("classification:") and "--budget" in out[0]
    # the better model's row, its quality below
    (row,) = [i for i, line in enumerate(out) if line.rstrip().endswith("too few sizes")]
    assert "xgboost@xgboost, 2 thr." in out[row] and "roc_auc 0.98 at " in out[row + 1]
    close = sweep("hgb", "sklearn", lambda n: 2e-5 * n, 250, quality=0.785)[:2]  # within 0.01: linear stands
    (pick,) = summary(analyse(frame.load([builders.write(tmp_path / "b.json", linear + close)])), catalog.load())
    assert pick.pick is not None and pick.pick.case.model == "linear"
    assert f.BETTER_UNFITTED not in {x.code for x in pick.found.rules}


def test_the_summary_names_a_task_family_it_has_no_time_for_and_why(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A run whose budget ended every classification sweep at two sizes: the summary says so, with the sizes,
    rather than leave the family out; a workload measured at one size by design (a real dataset) stays out."""
    trees = sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250, quality=0.98)[:2]
    fitted = sweep("hgb", "sklearn", lambda n: 2e-5 * n, 250, quality=0.9, workload="regression", task="regression",
                   metric="r2")
    one = [builders.record(Case("diabetes", "hgb", "sklearn", 442, 2), [0.1, 0.1], quality=0.6, metric="r2")]
    path = builders.write(tmp_path / "r.json", trees + fitted + one)
    picks = {p.workload: p for p in summary(analyse(frame.load([path])), catalog.load())}
    assert picks.keys() == {"classification", "regression"}
    short = picks["classification"]
    assert short.pick is None and short.code == f.TOO_FEW_SIZES and short.found.size == SIZES[1]
    assert "100,000 and 200,000 rows" in short.note
    assert cli.main(["recommend", path]) == 0
    out = capsys.readouterr().out.lstrip().splitlines()
    assert out[0].startswith("classification:") and "--budget" in out[0]
    assert any(line.startswith("classification") and line.rstrip().endswith("too few sizes") for line in out)
    # your own table's: no suite or budget measures it further (a review's 40-row table)
    own = [dataclasses.replace(r, case=dataclasses.replace(r.case, workload="user_classification",
                                                           params={"path": "/d/t.csv", "file_sha256": "ab" * 32}))
           for r in trees]
    (pick,) = summary(analyse(frame.load([builders.write(tmp_path / "own.json", own)])), catalog.load())
    assert pick.code == f.TOO_FEW_SIZES and pick.own_data
    assert cli.main(["recommend", str(tmp_path / "own.json")]) == 0
    said = capsys.readouterr().out.lstrip().splitlines()[0]
    assert said.startswith("user_classification:") and "--budget" not in said and "--suite" not in said


def test_qualities_are_compared_at_a_size_both_measured(tmp_path: Path) -> None:
    """XGBoost measured one size further, where more data lifts its quality to 0.97: at the sizes both measured it
    is no better than the cheaper hgb, which the summary picks, and which the frontier keeps."""
    hgb = sweep("hgb", "sklearn", lambda n: 1e-5 * n, 250, quality=0.95)
    xgb = sweep("xgboost", "xgboost", lambda n: 2e-5 * n, 250, quality=0.95)
    further = builders.record(Case("classification", "xgboost", "xgboost", 2 * SIZES[-1], 2),
                              [4e-5 * SIZES[-1]] * 3, quality=0.97, metric="roc_auc", task="classification",
                              peak=200 * 2**20 + 500 * SIZES[-1], params={"trees": 200})
    analysis = analysis_of(tmp_path, hgb + xgb + [further])
    (pick,) = summary(analysis, catalog.load())
    assert pick.pick.case.model == "hgb" and pick.pick.quality_score == pytest.approx(0.95)
    found = recommend(analysis, "classification", 1e6, catalog.load())
    assert [o.case.model for o in sizing.quality_frontier(found.options)] == ["hgb"]
    by_model = {o.case.model: o.quality_by_size for o in found.options}
    assert options.lead(by_model["xgboost"], by_model["hgb"]) == pytest.approx(0.0)
    assert options.lead(by_model["xgboost"], by_model["xgboost"][:-1]) == pytest.approx(0.0)  # at 800,000 both
    assert options.lead(((1e6, 0.9),), ((2e6, 0.8), (3e6, 0.85))) is None  # nothing measured at or below 1e6


def test_qualities_beating_each_other_in_a_circle_leave_the_cheapest(tmp_path: Path) -> None:
    """A beats B at size 2, B beats C at 3, C beats A at 1, each by more than the tolerance: none is clearly
    better, so the summary's pick is the cheapest, not whichever came first."""
    (o,) = recommend(analysis_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250)), "classification",
                     1e6, [vm for vm in catalog.load() if vm.name == "D2s_v5"]).options
    a, b, c = (dataclasses.replace(o, cost=cost, quality_by_size=q) for cost, q in (
        (1.0, ((1, 0.5), (2, 0.9))), (2.0, ((2, 0.7), (3, 0.9))), (3.0, ((1, 0.8), (3, 0.7)))))
    assert [options.lead(x.quality_by_size, y.quality_by_size) for x, y in ((a, b), (b, c), (c, a))] == \
        pytest.approx([0.2, 0.2, 0.3])
    assert sizing.best_value([c, b, a]) is a
    assert sizing.quality_frontier([c, b, a]) == [a, c]  # b: beaten by a, which costs less


def test_the_summary_takes_a_surer_option_whose_cost_the_cheapest_is_not_told_apart_from(tmp_path: Path) -> None:
    (o,) = recommend(analysis_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250)), "classification",
                     1e6, [vm for vm in catalog.load() if vm.name == "D2s_v5"]).options
    cheap = dataclasses.replace(o, cost=1.0, seconds=10.0, lo=6.0, hi=16.0, confidence="low")  # $0.6-1.6
    surer = dataclasses.replace(o, cost=1.2, seconds=12.0, lo=10.0, hi=14.0, confidence="medium")  # $1.0-1.4
    assert sizing.best_value([cheap, surer]) is surer
    # As good and dearer, it is off the frontier, yet quality against cost lists it as the pick.
    assert sizing.quality_frontier([cheap, surer]) == [cheap]
    lines = frontier_lines([cheap, surer])
    assert len(lines) == 2 and "best value" in lines[1] and "best value" not in lines[0]
    apart = dataclasses.replace(surer, cost=2.0, seconds=20.0, lo=17.0, hi=23.0)  # $1.7-2.3: above the cheap one's
    assert sizing.best_value([cheap, apart]) is cheap
    better, worse = (dataclasses.replace(x, quality_by_size=((1e6, q),)) for x, q in ((cheap, 0.9), (surer, 0.8)))
    assert sizing.best_value([better, worse]) is better  # quality first: a surer option must be as good


def _priced_rows(lines: list[str]) -> list[tuple[list[str], list[str]]]:
    """Each option's first row (its level last) with the row below it (the time's and the cost's intervals)."""
    return [(line.split(), below.split()) for line, below in zip(lines, lines[1:])
            if line.split() and line.split()[-1] in ("high", "medium", "low")]


def test_the_summary_answers_from_the_newest_runs_machine_at_twice_what_that_run_reached(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An older run of another machine, ten times faster and with a model it measured to fewer sizes, adds options to
    `recommend --workload`, but neither the summary's size nor its pick."""
    older = (sweep("xgboost", "xgboost", lambda n: 1e-6 * n, 250, quality=0.98)
             + sweep("hgb", "sklearn", lambda n: 2e-6 * n, 250, quality=0.98)[:3])  # to 400,000 rows
    builders.write(tmp_path / "20261201T000000Z-old.json", older, cpu="Epyc")
    builders.write(tmp_path / "20261202T000000Z-new.json", sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250,
                                                                 quality=0.98))  # to 800,000 rows, on Xeon
    analysis = analyse(frame.load([str(tmp_path)]))
    (pick,) = summary(analysis, catalog.load())
    assert pick.found.size == sizing.SCALE * max(SIZES)
    assert pick.pick.case.model == "xgboost" and " on " not in pick.pick.config
    assert pick.pick.seconds == pytest.approx(1e-5 * 2 * max(SIZES), rel=0.2)  # Xeon's time, not Epyc's
    every = sizing.recommend(analysis, "classification", 2 * max(SIZES), catalog.load())
    assert {o.config.rsplit(" on ", 1)[-1] for o in every.options} == {"m-Epyc", "m-Xeon"}
    # `recommend --workload` without a size answers at the summary's, and says so
    assert cli.main(["recommend", str(tmp_path), "--workload", "classification", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["size"] == pick.found.size and f"classification at {pick.found.size:,.0f} rows, the size" in err
    assert cli.main(["recommend", str(tmp_path), "--size", "5"]) == cli.EXIT_USAGE


def test_the_summarys_newest_run_is_one_meant_to_size_and_its_configurations_alone_answer(tmp_path: Path) -> None:
    def pick(*runs: tuple[str, list[CaseRecord], str]) -> sizing.Pick:
        folder = tmp_path / runs[0][0]
        for name, cases, cpu in runs:
            builders.write(folder / f"{name}.json", cases, cpu=cpu)
        (found,) = summary(analyse(frame.load([str(folder)])), catalog.load())
        return found

    xgboost = sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250, quality=0.98)
    # A later check at one size is no sizing run: the sweep before it sets the size.
    checked = pick(("20261201T000000Z-sweep", xgboost, "Xeon"), ("20261202T000000Z-check", xgboost[:1], "Xeon"))
    assert checked.found.size == sizing.SCALE * max(SIZES) and checked.pick.case.model == "xgboost"
    # An older run's configuration, cheaper and as good, is not the answer for the newest run's.
    hgb = sweep("hgb", "sklearn", lambda n: 1e-6 * n, 250, quality=0.98)
    older = pick(("20261201T000000Z-hgb", hgb, "Xeon"), ("20261202T000000Z-xgboost", xgboost, "Xeon"))
    assert older.pick.case.model == "xgboost" and older.machine == ""
    # A newer sweep cut short on another machine: too few sizes there, not the older machine's answer.
    cut = [dataclasses.replace(r, case=dataclasses.replace(r.case, sweep={"grow": 2.0})) for r in xgboost[:2]]
    short = pick(("20261201T000000Z-linear", sweep("linear", "sklearn", lambda n: 1e-7 * n, 100), "Epyc"),
                 ("20261202T000000Z-cut", cut, "Xeon"))
    assert (short.code, short.pick, short.machine) == (f.TOO_FEW_SIZES, None, "m-Xeon")


def test_the_summary_fits_100_columns_and_never_cuts_a_time_a_cost_or_a_level(capsys: pytest.CaptureFixture[str],
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    assert cli.main(["recommend", "results/reference"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = _priced_rows(lines)
    assert rows and max(map(len, lines)) <= 100 and not any("\u2026" in line for line in lines)
    # time, cost, level; below them the two intervals, whole
    assert all(row[-3] == "s" and [x.startswith("[") and x.endswith("]") for x in below[-2:]] == [True, True]
               for row, below in rows)
    # The references come from two machines: each answer is the newest run's machine's, and names it.
    machines = [line.split()[-1] for line in lines if line.strip().startswith("on x86-64-")]
    assert len(machines) == len(rows) and set(machines) == {"x86-64-2c-24g-a9b1bd19"}


def test_each_workload_of_a_task_gets_its_own_named_line_within_100_columns(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")  # a tiny cost's interval is 24 characters: the text columns wrap instead
    cases = (sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250, workload="regression", task="regression",
                   metric="r2")
             + sweep("linear", "sklearn", lambda n: 2e-9 * n, 250, workload="user_regression", task="regression",
                     metric="r2"))
    assert cli.main(["recommend", builders.write(tmp_path / "r.json", cases)]) == 0
    lines = capsys.readouterr().out.splitlines()[:-1]  # the command to paste is whole, however long
    rows = _priced_rows(lines)
    assert sorted(row[0] for row, _ in rows) == ["regression", "user_regression"]
    assert max(map(len, lines)) <= 100 and not any("\u2026" in line for line in lines)
    assert all(row[-3] == "s" and [x.startswith("[") and x.endswith("]") for x in below[-2:]] == [True, True]
               for row, below in rows)


def test_at_80_columns_a_configuration_breaks_after_its_at_and_keeps_its_backend(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # the time and cost columns stay whole: the configuration's is squeezed
    cases = (sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250)
             + sweep("linear", "sklearn", lambda n: 1e-7 * n, 100, quality=0.78))  # xgboost is the summary's pick
    path = builders.write(tmp_path / "r.json", cases)
    for command in (["recommend", path], ["recommend", path, "--workload", "classification", "--rows", "1000000"]):
        assert cli.main(command) == 0
        rows = [line for line in capsys.readouterr().out.splitlines() if "@" in line or "thr." in line]
        assert "\u2026" not in "".join(rows) and "".join(rows).count("xgboost") >= 2  # not 'xgboost@xgboo…'


def test_recommend_for_a_workload_fits_100_columns_and_never_cuts_a_time(capsys: pytest.CaptureFixture[str],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")  # two machines' options: the longest configuration lines
    assert cli.main(["recommend", "results/reference", "--workload", "classification", "--rows", "640000"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = _priced_rows(lines)
    assert len(rows) >= 4 and max(map(len, lines)) <= 100 and not any("\u2026" in line for line in lines)
    assert all(row[-4] == "s" and [x.startswith("[") and x.endswith("]") for x in below[-2:]] == [True, True]
               for row, below in rows)


def test_a_cost_carries_its_times_interval(tmp_path: Path) -> None:
    from harness.present.recommend import cost_cells, dollars, time_cells

    found = recommend(analysis_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250)), "classification",
                      1e6, catalog.load())
    for o in found.options:
        lo, hi = o.cost_interval
        assert lo < o.cost < hi and lo / o.cost == pytest.approx(o.lo / o.seconds) and hi / o.cost == pytest.approx(
            o.hi / o.seconds)
        assert cost_cells(o) == (dollars(o.cost), f"[{dollars(lo)}-{dollars(hi)}]")
        assert (o.to_dict()["cost_lo"], o.to_dict()["cost_hi"]) == (lo, hi)
    wide = dataclasses.replace(o, lo=o.seconds / 4, hi=o.seconds * 4)  # 16x: no cost worth acting on either
    assert cost_cells(wide)[0] == time_cells(wide)[0] == "none"
    tiny = dataclasses.replace(o, seconds=7.94e-7, lo=3.74e-7, hi=1.69e-6)  # in microseconds, so no exponent
    assert time_cells(tiny) == ("0.794 µs", "[0.374-1.69]")


def test_quality_against_cost_keeps_only_what_no_option_beats_on_both(tmp_path: Path) -> None:
    cases = (sweep("linear", "sklearn", lambda n: 1e-7 * n, 100, quality=0.78)
             + sweep("hgb", "sklearn", lambda n: 2e-5 * n, 250, quality=0.975)  # dearer and worse than xgboost
             + sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250, quality=0.98))
    found = recommend(analysis_of(tmp_path, cases), "classification", 1e6, catalog.load())
    frontier = sizing.quality_frontier(found.options)
    assert [o.case.model for o in frontier] == ["linear", "xgboost"]
    assert frontier[0].cost < frontier[1].cost and frontier[0].quality_score < frontier[1].quality_score
    assert sizing.best_value(found.options) is frontier[1] and len(frontier_lines(found.options)) == 2


def test_an_error_metric_is_compared_by_its_ratio_not_by_0_01(tmp_path: Path) -> None:
    def forecasts(model: str, seconds: Callable[[int], float], wape: float) -> list[CaseRecord]:
        return sweep(model, "xgboost", seconds, 100, quality=wape, workload="forecasting", task="forecasting",
                     metric="wape", higher_is_better=False)

    # A WAPE of 0.003 against 0.007 is less than 0.01 apart, but less than half the error.
    xgboost = forecasts("xgboost", lambda n: 1e-5 * n, 0.003)
    found = recommend(analysis_of(tmp_path, forecasts("naive", lambda n: 1e-8 * n, 0.007) + xgboost),
                      "forecasting", 1e6, catalog.load())
    assert sizing.best_value(found.options).case.model == "xgboost"
    found = recommend(analysis_of(tmp_path, forecasts("naive", lambda n: 1e-8 * n, 0.00301) + xgboost),
                      "forecasting", 1e6, catalog.load())
    assert sizing.best_value(found.options).case.model == "naive"  # within 1%, and cheaper


def test_sizes_still_in_fixed_costs_give_low_confidence_past_them(tmp_path: Path) -> None:
    d2 = [vm for vm in catalog.load() if vm.name == "D2s_v5"]
    flat = analysis_of(tmp_path, sweep("hgb", "sklearn", lambda n: 0.6 + 1e-9 * n, 250))  # early stopping, imports
    found = recommend(flat, "classification", 2 * max(SIZES), d2)
    assert found.options[0].confidence == "low" and f.FIXED_COSTS_DOMINATE in evidence(found.options[0])
    # Four clean sizes past them: too few backtests of its own, so the references' backtests at 2x set the level.
    steep = analysis_of(tmp_path, sweep("hgb", "sklearn", lambda n: 1e-5 * n, 250))
    option = recommend(steep, "classification", 2 * max(SIZES), d2).options[0]
    assert f.FIXED_COSTS_DOMINATE not in evidence(option)
    fitted = steep.machines[0]
    mine = [b for b in fitted.backtests if b.quantity == "time"]
    assert len(mine) == 3 and option.confidence == fitted.calibration.level("time", 2.0, True, mine)
    # Twelve clean sizes: ten of its own backtests within the range (each inner size left out), every one within
    # 5%: the references' level stands (a few fits of one sweep do not raise it).
    sizes = [25000 * 2**i for i in range(12)]
    long = [builders.record(Case("classification", "hgb", "sklearn", n, 2), builders.times(1e-5 * n, 3, 0.01, n),
                            peak=2**28 + 250 * n) for n in sizes]
    fitted = analysis_of(tmp_path, long).machines[0]
    inner = [b for b in fitted.backtests if b.quantity == "time" and b.beyond < 1]
    assert len(inner) == 10 and max(abs(b.relative) for b in inner) < 0.05
    option = recommend(analysis_of(tmp_path, long), "classification", 3 * sizes[5], d2).options[0]
    pooled = fitted.calibration.level("time", 0.5, True)
    assert option.confidence == pooled == "medium"


def test_out_of_core_is_offered_where_the_data_fits_only_if_it_is_cheaper(tmp_path: Path) -> None:
    in_memory = sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250)
    dear = sweep("xgboost_external", "xgboost", lambda n: 1e-3 * n, 250)  # 100x slower: dearer even on a small VM
    found = recommend(analysis_of(tmp_path, in_memory + dear), "classification", 1e8, catalog.load())
    assert not any(o.external for o in found.options) and f.OUT_OF_CORE_DEARER in codes(found)
    cheap = sweep("xgboost_external", "xgboost", lambda n: 1.2e-5 * n, 250)  # needs no 35 GiB VM
    found = recommend(analysis_of(tmp_path, in_memory + cheap), "classification", 1e8, catalog.load())
    external = next(o for o in found.options if o.external)
    assert external.vm == "D2s_v5" and external.confidence == "low"
    assert external.cost < next(o.cost for o in found.options if o.case.model == "xgboost")


def spark_sweep() -> list[CaseRecord]:
    """xgboost_spark on 1 and 2 local cores: 12 s of fixed cost, then parallel work."""
    return [r for p in (1, 2) for r in sweep("xgboost_spark", "spark", lambda n, p=p: 12.0 + 2e-5 * n / p,
                                             300, threads=p)]


def test_spark_is_never_offered_for_data_that_fits_one_machine(tmp_path: Path) -> None:
    analysis = analysis_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250) + spark_sweep())
    found = recommend(analysis, "classification", 1e7, catalog.load())
    assert not any(o.case is None or o.case.backend == "spark" for o in found.options)
    assert f.SPARK_FITS_ONE_NODE in codes(found)
    # Spark on this one machine, against the fastest single node at the same size: 12 s + 8 s against 8 s.
    local = {r.config: r for r in found.rules if r.code == f.SPARK_MEASURED_LOCALLY}
    assert "fit 20 s at 800,000 rows" in local["classification/xgboost_spark@spark/n=*/t=2"].message
    assert "against 7.99 s" in local["classification/xgboost_spark@spark/n=*/t=2"].message
    one = recommend(analysis_of(tmp_path, spark_sweep()[4:]), "classification", 1e7, catalog.load())  # 2 cores only
    (said,) = [r for r in one.rules if r.code == f.SPARK_MEASURED_LOCALLY]
    assert "--threads 1,2" in said.message


def test_a_cluster_past_the_largest_vm_is_sized_from_the_measured_spark_fit(tmp_path: Path) -> None:
    analysis = analysis_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250) + spark_sweep())
    found = recommend(analysis, "classification", 1e10, catalog.load())  # 3.5 TiB in memory on one node
    spark = next(o for o in found.options if o.vm != "Spark cluster" and o.nodes > 1)
    vm = next(vm for vm in catalog.load() if vm.name == spark.vm)
    workers = spark.nodes - 1
    assert workers >= 2 and spark.memory_needed_gib * GiB <= vm.memory_gib * GiB
    (fit,) = analysis.machines[0].spark
    assert spark.seconds == pytest.approx(fit.time(1e10, workers * vm.vcpus))
    # Two core counts cannot pin the coordination terms: a hair of noise in them grows with the cores (2.04x the
    # truth at 100 workers of 20 vCPUs, the nodes the shipped memory calibration asks for since 2026-12-02).
    assert 1 <= spark.seconds / (12.0 + 2e-5 * 1e10 / (workers * vm.vcpus)) < 2.5
    assert spark.cost == pytest.approx(spark.seconds / 3600 * spark.nodes * vm.price_per_hour, rel=1e-6)
    # Each node holds its share at the top of the memory's 95% interval, as one VM must (far past: above x 1.5).
    top = math.exp(analysis.machines[0].calibration.half_width("memory", 1e10 / fit.sizes[1], True))
    assert top > 1.5 and spark.memory_needed_gib * GiB == pytest.approx(
        (fit.memory.fixed + fit.memory.per_item * 1e10 / workers) * top)
    assert spark.confidence == "low" and fit.time.points == 8
    assert evidence(spark) == [f.CLUSTER_WHY, f.CLUSTER_TIME_FIT, f.CLUSTER_NODES, f.CLUSTER_MEMORY,
                               f.CLUSTER_EXTRAPOLATED]
    # Past what 256 workers hold, no cluster is sized (there had been one of 3,919,895 workers).
    huge = recommend(analysis, "classification", 1e15, catalog.load())
    assert all(o.nodes <= 257 for o in huge.options) and f.SPARK_NO_VM in codes(huge)
    unmeasured = recommend(analysis_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250)),
                           "classification", 1e10, catalog.load())
    assert any(o.config == "spark (not measured)" for o in unmeasured.options)


def test_a_new_rule_is_one_unit_applied_by_code_and_said_once_per_configuration(tmp_path: Path) -> None:
    from harness.sizing import rules

    found = recommend(analysis_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 25)),
                      "classification", 1e7, catalog.load())
    small = rules.OptionRule("no-small-vms", lambda o, pool: o.vm.startswith("D"),
                             lambda out, pool: f"{len(out)} D-series VMs")
    kept, said = rules.apply([small], found.options, rules.Pool(found.options, None))
    assert all(not o.vm.startswith("D") for o in kept) and len(kept) < len(found.options)
    assert [(s.code, s.message) for s in said] == [("no-small-vms", f"{len(found.options) - len(kept)} D-series VMs")]
    assert [e["code"] for e in found.options[0].to_dict()["evidence"]] == evidence(found.options[0])


def test_an_exclusion_is_one_line_per_configuration_with_the_range_it_covers(tmp_path: Path) -> None:
    in_memory = sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250)
    dear = sweep("xgboost_external", "xgboost", lambda n: 1e-3 * n, 250)
    found = recommend(analysis_of(tmp_path, in_memory + dear), "classification", 1e6, catalog.load())
    (left,) = [r for r in found.rules if r.code == f.OUT_OF_CORE_DEARER]
    assert left.config == "classification/xgboost_external@xgboost/n=*/t=2"
    cpu_vms = sum(1 for vm in catalog.load() if not vm.gpu_count)  # it is small enough for every one of them
    assert f" on {cpu_vms} VMs: out of core $" in left.message  # each priced, said once with their range


def test_sizes_measured_only_under_contention_never_enter_a_fit_silently(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    def contended(sizes: tuple[int, ...], bad: int) -> list[CaseRecord]:
        return [builders.record(Case("regression", "hgb", "sklearn", n, 2),
                                builders.times(1e-5 * n * (20 if n == bad else 1), 4, 0.01, n)[1:], quality=0.9,
                                metric="r2", peak=2**28 + 300 * n, disturbed=[n == bad] * 3, task="regression")
                for n in sizes]

    # Four sizes, the third measured only under contention (20x slower): three clean sizes remain, so it is left out.
    analysis = analysis_of(tmp_path, contended((10000, 20000, 40000, 80000), 40000))
    (model,) = analysis.sizes()
    assert model.left_out == (40000,) and model.contended == () and 40000 not in model.time.sizes
    found = recommend(analysis, "regression", 160000, catalog.load())
    assert f.CONTENDED_LEFT_OUT in evidence(found.options[0])
    assert found.options[0].seconds == pytest.approx(1.6, rel=0.1)  # the clean line, not the 20x point
    # Three sizes, one of them contended: it is kept, the prediction is low, and the summary says so at the top.
    path = builders.write(tmp_path / "few.json", contended((10000, 20000, 40000), 40000))
    (model,) = analyse(frame.load([path])).sizes()
    assert model.contended == (40000,) and model.left_out == ()
    (pick,) = summary(analyse(frame.load([path])), catalog.load())
    assert pick.contended == 1 and pick.pick.confidence == "low" and f.CONTENDED in evidence(pick.pick)
    assert cli.main(["recommend", path]) == 0
    assert capsys.readouterr().out.lstrip().startswith("1 measurement(s) were taken while other processes used")


def test_a_run_at_another_speed_is_left_out_of_the_newest_runs_fit(tmp_path: Path) -> None:
    def run(name: str, day: int, speed: float, sizes: tuple[int, ...]) -> str:
        cases = [builders.record(Case("regression", "hgb", "sklearn", n, 2), [speed * (0.2 + 1e-5 * n)] * 3,
                                 metric="r2", task="regression") for n in sizes]
        return builders.write(tmp_path / f"{name}.json", cases, started=f"2026-11-{day:02d}T00:00:00+00:00")

    # The same machine id, a week apart: the older run took 2.2x as long, at sizes off the newest's grid.
    old = run("old", 20, 2.2, (15000, 30000, 60000, 120000, 240000))
    new = run("new", 27, 1.0, (10000, 20000, 40000, 80000, 160000))
    (model,) = analyse(frame.load([old, new])).sizes()
    assert model.runs == ("new",) and [(r, round(x, 2)) for r, x in model.apart] == [("old", 2.2)]
    assert max(model.time.sizes) == 160000 and max(model.memory.sizes) == 240000  # memory is no speed: kept
    found = recommend(analyse(frame.load([new, old])), "regression", 640000, catalog.load())
    assert f.RUNS_APART in evidence(found.options[0])
    assert found.options[0].seconds == pytest.approx(0.2 + 6.4, rel=0.1)  # the newest's line, not a mix of two
    # Within 1.5x of one another: one machine's noise, pooled.
    near = run("near", 21, 1.3, (15000, 30000, 60000))
    (model,) = analyse(frame.load([near, new])).sizes()
    assert model.runs == ("near", "new") and model.apart == ()
    # A run that shares no range with the newest's cannot be judged: pooled. One of a single size within it is.
    far = run("far", 22, 2.2, (640000,))
    (model,) = analyse(frame.load([far, new])).sizes()
    assert model.runs == ("far", "new") and model.apart == ()
    one = run("one", 22, 2.2, (40000,))
    (model,) = analyse(frame.load([one, new])).sizes()
    assert model.runs == ("new",) and [r for r, _ in model.apart] == ["one"]


def test_runs_whose_installs_load_more_or_less_memory_keep_the_growth_per_item(tmp_path: Path) -> None:
    """A reference sweep (440 MiB + 16 kB per image, to 8,000) and a newer quick run of another venv (555 MiB fixed,
    to 2,000): each size's largest peak had given 0 bytes per image, and sized a VM of a tenth of the memory."""
    def run(name: str, day: int, fixed: float, sizes: tuple[int, ...]) -> str:
        cases = [builders.record(Case("vision", "cnn", "torch", n, 2), [0.1 + 1e-3 * n] * 3, unit="images",
                                 peak=fixed * 2**20 + 16000 * n) for n in sizes]
        return builders.write(tmp_path / f"{name}.json", cases, started=f"2026-11-{day:02d}T00:00:00+00:00")

    old = run("reference", 20, 440, (500, 1000, 2000, 4000, 8000))
    new = run("quick", 27, 555, (500, 1000, 2000))
    (model,) = analyse(frame.load([old, new])).sizes()
    assert model.memory.per_item == pytest.approx(16000, rel=0.01)
    assert model.memory.fixed == pytest.approx(555 * 2**20, rel=0.01)  # the newest install's
    assert model.memory.peaks[-1] == pytest.approx(440 * 2**20 + 16000 * 8000)  # what was measured, for backtests
    found = recommend(analyse(frame.load([old, new])), "vision", 400000, catalog.load())
    assert found.options[0].memory_needed_gib > (555 * 2**20 + 16000 * 400000) / 2**30
    # Runs of one size each say nothing of a fixed part of their own: their largest peaks are fitted as they are
    (one,) = analyse(frame.load([run(f"one-{n}", 21 + k, 440, (n,)) for k, n in enumerate((500, 2000, 8000))])).sizes()
    assert one.memory.per_item == pytest.approx(16000, rel=0.01)


def test_a_configuration_that_never_finished_a_size_is_said_not_silently_absent(tmp_path: Path) -> None:
    failed = builders.record(Case("classification", "linear", "sklearn", SIZES[0], 2), [], status="error")
    skipped = builders.record(Case("classification", "xgboost", "xgboost-cuda", SIZES[0], 2), [], status="skipped")
    analysis = analysis_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250) + [failed, skipped])
    found = recommend(analysis, "classification", 1e6, catalog.load())
    (said,) = [r for r in found.rules if r.code == f.NONE_FINISHED]
    assert said.config == failed.case.config and f"n={SIZES[0]:,} ended error" in said.message
    assert found.options and all(o.case.model == "xgboost" for o in found.options)
    (unmeasured,) = [r for r in found.rules if r.code == f.NOT_MEASURED]  # the GPU skipped here: said, once
    assert unmeasured.message.startswith("xgboost-cuda: ")


def test_dollars_and_seconds_are_written_without_an_exponent() -> None:
    from harness.present.recommend import dollars
    from harness.records.figures import seconds

    assert [dollars(x) for x in (2.67e-05, 0.000146, 0.05, 5.55, 12.3, 1234.5, 9.7e-07, 6.79e-11, 0.0,
                                 float("nan"))] == [
        "0.000027", "0.00015", "0.050", "5.5", "12", "1,234", "0.00000097", "6.8e-11", "0", "nan"]
    assert [seconds(x) for x in (0.0365, 1.8, 228.4, 1490.4, 12345.0)] == ["0.0365", "1.8", "228", "1,490", "12,345"]
    # To four digits (fit's tables) thousands are separated too, and a time that rounds up to 1,000 has no exponent.
    assert [seconds(x, 4) for x in (2140.2, 26650.3, 0.6059)] == ["2,140", "26,650", "0.6059"]
    assert [seconds(x) for x in (7.94e-4, 3e-5, 0.0)] == ["0.000794", "0.0000300", "0"]  # under a millisecond too
    assert seconds(999.7) == "1,000"


def test_an_option_without_a_time_worth_acting_on_ranks_last_and_is_never_the_best_value(tmp_path: Path) -> None:
    cases = (sweep("linear", "sklearn", lambda n: 1e-7 * n, 100, quality=0.975)
             + sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250, quality=0.98))
    found = recommend(analysis_of(tmp_path, cases), "classification", 1e6, catalog.load())
    cheapest = found.options[0]
    assert cheapest.case.model == "linear" and sizing.best_value(found.options) is cheapest
    wide = dataclasses.replace(cheapest, lo=cheapest.seconds / 4, hi=cheapest.seconds * 4)  # 16x apart
    options = sorted([wide, *found.options[1:]], key=sizing.rank)
    assert not wide.timed and options[-1] is wide and wide not in sizing.quality_frontier(options)
    assert sizing.best_value(options).case.model == "xgboost"
    assert sizing.best_value([wide]) is wide  # alone, it is still the answer, printed as no time


def test_cpu_use_is_not_read_off_a_phase_shorter_than_its_clock_readings(tmp_path: Path) -> None:
    from harness.analysis.cases import summarize

    # 3 ms linear fits on 2 threads "used" 106% of them: the readings' own CPU, outside the timed window
    short = builders.record(Case("forecasting", "naive", "sklearn", 100, 2), [0.003, 0.003], cpu_share=1.06)
    long = builders.record(Case("forecasting", "xgboost", "xgboost", 100, 2), [0.5, 0.5], cpu_share=0.9)
    rows = frame.rows(frame.load([builders.write(tmp_path / "r.json", [short, long])]))
    by_model = rows.groupby("model")["fit_cpu_pct"].median()
    assert pd.isna(by_model["naive"]) and by_model["xgboost"] == pytest.approx(180)
    assert summarize(short, [short]).fit_cpu_percent is None  # show's column too
    assert summarize(long, [long]).fit_cpu_percent == pytest.approx(180)


def test_an_option_whose_quality_misses_the_workloads_target_is_marked_as_show_marks_it(tmp_path: Path) -> None:
    def targeted(records: list[CaseRecord]) -> list[CaseRecord]:
        target = {"metric": "roc_auc", "threshold": 0.9, "higher_is_better": True}
        return [dataclasses.replace(r, workload_info={**r.workload_info, "target": target}) for r in records]

    cases = targeted(sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250, quality=0.95)
                     + sweep("linear", "sklearn", lambda n: 1e-6 * n, 250, quality=0.85))
    found = recommend(analysis_of(tmp_path, cases), "classification", 1.6e6, catalog.load())
    quality = {o.case.model: o.quality for o in found.options}
    assert quality["linear"].endswith("✗ (target >= 0.9)") and "✗" not in quality["xgboost"]
    met = {o.case.model: o.to_dict()["meets_quality_target"] for o in found.options}  # the JSON says it too
    assert met == {"linear": False, "xgboost": True}
    untargeted = recommend(analysis_of(tmp_path, sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250)),
                           "classification", 1.6e6, catalog.load())
    assert {o.meets_quality_target for o in untargeted.options} == {None}


def test_plain_recommend_answers_from_your_runs_not_pooled_with_the_references(
        tmp_path: Path, monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results" / "reference").mkdir(parents=True)
    builders.write(tmp_path / "results" / "reference" / "ref.json",
                   sweep("xgboost", "xgboost", lambda n: 1e-5 * n, 250))
    ask = ["recommend", "--workload", "classification", "--rows", "1e6", "--json"]

    def answer() -> tuple[float, str]:
        assert cli.main(ask) == 0
        out = capsys.readouterr()
        return json.loads(out.out)["options"][0]["seconds"], out.err

    (tmp_path / "results" / "export.json").write_text('{"not": "a result"}')  # passed over, as in any folder
    (tmp_path / "results" / "m-Xeon").mkdir()  # a profile of the user's measures no size: it is no run to answer from
    profile = builders.record(Case("profile", "job.py", "process", 1, 2), [4.0])
    builders.write(tmp_path / "results" / "m-Xeon" / "job.json", [profile])
    seconds, said = answer()  # no run of the user's yet: the references answer, and it is said
    assert seconds == pytest.approx(10, rel=0.05) and "answering from the committed references" in said
    builders.write(tmp_path / "results" / "m-Xeon" / "mine.json",
                   sweep("xgboost", "xgboost", lambda n: 1.3e-5 * n, 250), started="2026-12-01T00:00:00+00:00")
    seconds, said = answer()
    assert seconds == pytest.approx(13, rel=0.05) and "not the committed references" in said
    assert cli.main([*ask[:1], "results", *ask[1:]]) == 0  # named, they pool: a fit of both runs, and it is said
    out = capsys.readouterr()
    assert 10.5 < json.loads(out.out)["options"][0]["seconds"] < 12.5
    assert "pooled with the committed references (results/reference) of the same machine id (m-Xeon)" in out.err
    assert cli.main(["recommend", str(tmp_path / "results"), *ask[1:]]) == 0  # named by its absolute path too
    assert "pooled with the committed references" in capsys.readouterr().err
    assert cli.main(["recommend"]) == 0  # the command it prints repeats what was typed: no folder that would pool
    assert capsys.readouterr().out.splitlines()[-1].endswith("sizeup recommend --workload W --size N")
    assert cli.main(["recommend", "results/m-Xeon", "--workload", "profile"]) == cli.EXIT_USAGE  # one size: no fit
    assert "a profiled job is measured at one size" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path / "results")  # no results/ folder here
    assert cli.main(["recommend"]) == cli.EXIT_USAGE
    assert "no results/ folder here" in capsys.readouterr().err
