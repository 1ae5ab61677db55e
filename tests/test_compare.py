"""`sizeup compare` and `sizeup fit` on hand-made results: verdicts on constructed samples, the
checks before pooling, the CPU/GPU view, and the exit code a CI gate reads."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from harness import cli
from harness.analysis import comparison, fits, frame, predict
from harness.analysis.compute import analyse
from harness.analysis.significance import difference, instability, parse_fail
from harness.records import PROFILE, Case, CaseRecord, RunResult
from tests import builders
from tests.builders import record, times, write

CASE = Case("classification", "xgboost", "xgboost", 20000, 2)


def test_equal_samples_give_no_verdict_and_a_real_slowdown_gives_one() -> None:
    same = difference(times(1.0, 10, 0.03, 1), times(1.0, 10, 0.03, 2))
    assert same.verdict == "same" and same.lo < 1 < same.hi
    slower = difference(times(1.0, 10, 0.02, 1), times(1.2, 10, 0.02, 2))
    assert slower.verdict == "slower" and slower.ratio == pytest.approx(1.2, rel=0.05) and slower.p < 0.002
    faster = difference(times(1.2, 10, 0.02, 1), times(1.0, 10, 0.02, 2))
    assert faster.verdict == "faster"


def test_noise_or_too_few_repeats_give_no_verdict_and_say_why() -> None:
    noisy = difference(times(1.0, 5, 0.3, 1), times(1.2, 5, 0.3, 2))
    assert noisy.verdict == "undecided" and noisy.lo < 1 < noisy.hi  # includes 1, and far more: nothing shown
    wide = difference([1.0, 1.05, 0.95], [0.7, 1.02, 1.1])  # [0.58-1.80]: it includes 1, and 42% faster too
    assert wide.lo < 1 / 1.1 and wide.hi > 1 and wide.verdict == "undecided"
    few = difference([1.0, 1.01, 0.99], [1.2, 1.21, 1.19])  # obvious, but 3 against 3 cannot reach p < 0.002
    assert few.verdict == "undecided" and "cannot reach p < 0.002" in few.why and few.p >= 0.1


def test_one_or_two_samples_on_a_side_give_no_interval() -> None:
    for a, b in (([1.0], [1.004]), ([1.0, 1.01, 0.99], [1.5])):  # a bootstrap would give [1.004-1.004], or b's spread
        one = difference(a, b)
        assert one.lo is None and one.hi is None and one.verdict == "undecided" and one.describe().endswith("[none]")
        assert one.ratio == pytest.approx(b[0] / np.median(a)) and one.p is None  # no test was made
    # Two against two: the bootstrap's "95%" held the true ratio in 71% of simulated pairs (MIN_INTERVAL).
    two = difference([1.0, 1.02], [1.01, 0.99])
    assert two.lo is None and "too few for an interval" in two.why
    assert difference([1.0, 1.02, 0.99], [1.01, 0.99, 1.0]).lo is not None


def test_the_95_percent_interval_holds_the_true_ratio_in_95_percent_of_small_samples() -> None:
    """3 and 4 samples a side, equal timings (5% log-normal noise): the bootstrap of medians held the true ratio in
    90% and 92% of these pairs."""
    rng = np.random.default_rng(1)
    for na, nb in ((3, 3), (4, 4), (5, 5), (3, 20)):
        pairs = [difference(np.exp(rng.normal(0, 0.05, na)), np.exp(rng.normal(0, 0.05, nb)), seed=k)
                 for k in range(400)]
        assert np.mean([d.lo <= 1 <= d.hi for d in pairs]) >= 0.935, (na, nb)


def test_instability_follows_pyperf() -> None:
    assert instability([1.0, 1.01, 0.99]) == []
    assert any(f.startswith("CV") for f in instability([1.0, 1.3, 0.7]))
    assert any("from the mean" in f for f in instability([1.0, 1.0, 1.0, 3.0]))
    assert any("under 1 ms" in f for f in instability([0.0004, 0.0004]))
    assert parse_fail("median:10%") == ("median", 0.10)
    with pytest.raises(ValueError):
        parse_fail("mean:ten")


def test_compare_gates_ci_on_a_real_slowdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write(tmp_path / "a.json", [record(CASE, times(1.0, 9, 0.02, 1))])
    b = write(tmp_path / "b.json", [record(CASE, times(1.25, 9, 0.02, 2))])
    same = write(tmp_path / "c.json", [record(CASE, times(1.0, 9, 0.02, 3))])
    assert cli.main(["compare", a, b, "--fail", "median:10%"]) == cli.EXIT_SLOWER
    out = capsys.readouterr().out
    assert "slower" in out and "1 case(s) slower than the baseline by more than 10%" in out
    assert cli.main(["compare", a, b, "--fail", "median:30%"]) == 0  # 25% is within a 30% threshold
    assert cli.main(["compare", a, same, "--fail", "median:10%"]) == 0
    out = capsys.readouterr().out
    assert "same" in out and "same result file" not in out
    assert cli.main(["compare", a, f"{tmp_path}/./a.json"]) == 0  # one file, named twice
    assert "are the same result file(s)" in " ".join(capsys.readouterr().out.split())


def test_compare_refuses_to_judge_different_data_and_warns_about_other_machines(tmp_path: Path,
                                                                                capsys: pytest.CaptureFixture[str]) -> None:
    a = write(tmp_path / "a.json", [record(CASE, times(1.0, 9, 0.02, 1))])
    other_data = write(tmp_path / "b.json", [record(CASE, times(2.0, 9, 0.02, 2), sha="d1")])
    other_machine = write(tmp_path / "c.json", [record(CASE, times(1.0, 9, 0.02, 3))], cpu="EPYC",
                          libraries={"xgboost": "3.3.0"})
    assert cli.main(["compare", a, other_data, "--fail", "median:10%"]) == 0  # not comparable is not a slowdown
    (found,) = comparison.compare_sets(frame.rows(frame.load([a])), frame.rows(frame.load([other_data])))
    assert found.verdict == "not comparable" and found.difference is None and found.notes
    assert cli.main(["compare", a, other_machine]) == 0
    differ = comparison.machine_notes(frame.load([a]), frame.load([other_machine]))
    assert differ == ["cpu_model: Xeon vs EPYC", "xgboost 3.2.0 vs 3.3.0"]
    out = " ".join(capsys.readouterr().out.split())
    assert all(d in out for d in differ)
    # Memory that the kernel's share moved by 0.5 MB is the same machine's; twice as much is not.
    run = builders.run_result([])
    for other, said in ((16 * 2**30 - 520192, []), (32 * 2**30, ["memory: 16.00 vs 32.00 GiB"])):
        moved = builders.run_result([])
        moved.machine["identity"]["memory_bytes"] = other
        assert frame.machine_differences(run, moved) == said


def test_several_processes_give_intervals_over_per_process_medians(tmp_path: Path) -> None:
    # Two processes whose repeats agree within each but not across: the process is the unit of noise.
    fits = [1.0, 1.0, 1.0, 1.3, 1.3, 1.3]
    rec = record(CASE, fits, processes=[0, 0, 0, 1, 1, 1])
    assert rec.phase_samples("fit") == [1.0, 1.3]
    rows = frame.rows([frame.Loaded(tmp_path, RunResult("r", "", "t", {}, [], {"id": "m"}, "0", cases=[rec]))])
    from harness.analysis.significance import samples

    assert samples(rows) == [1.0, 1.3]
    # Two result files pooled as one side: each file is one sample too.
    pooled = frame.rows(frame.load([write(tmp_path / "r1.json", [record(CASE, [1.0, 1.0, 1.0])]),
                                    write(tmp_path / "r2.json", [record(CASE, [1.4, 1.4, 1.4])])]))
    assert sorted(samples(pooled)) == [1.0, 1.4]


def test_the_cpu_gpu_view_gives_the_speedup_and_the_quality_of_both(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    gpu = Case("classification", "xgboost", "xgboost-cuda", 20000, 2)
    path = write(tmp_path / "r.json", [record(CASE, times(4.0, 5, 0.02, 1), quality=0.91),
                                       record(gpu, times(0.5, 5, 0.02, 2), quality=0.905)])
    pairs = comparison.device_pairs(frame.rows(frame.load([path])))
    assert len(pairs) == 1 and pairs[0].speedup.ratio == pytest.approx(8.0, rel=0.05)
    assert pairs[0].quality_cpu == pytest.approx(0.91) and pairs[0].measure == "time"
    assert cli.main(["compare", path]) == 0
    assert gpu.id in capsys.readouterr().out


def test_every_gpu_case_of_the_shipped_gpu_suite_pairs_with_its_cpu_twin_whatever_its_batch_size_or_precision(
        tmp_path: Path) -> None:
    """Records as the worker writes them (the workload's defaults under the suite's params): a GPU case and its
    twin differ in batch size and precision, which say how the work runs, and still pair; a different amount of
    work (epochs) does not."""
    from dataclasses import replace

    from harness.run import plan
    from workloads import catalogue

    cases = plan.build(plan.Choices(suite="gpu"), 16).cases
    workloads = catalogue()

    def as_recorded(case: Case, **params) -> CaseRecord:
        w = workloads[case.workload]
        made = record(case, times(0.5 if case.backend.endswith("cuda") else 4.0, 3, 0.02, case.size),
                      params={**w.params, **case.params, **params})
        return replace(made, workload_info={**made.workload_info, "how": list(w.how)})

    gpu = [c for c in cases if c.backend.endswith("cuda") or c.backend == "cupy"]
    assert {c.workload for c in gpu} == {"classification", "regression", "forecasting", "vision", "nlp"}
    assert any(c.params.get("batch_size") for c in gpu) and any(c.params.get("precision") for c in gpu)
    pairs = comparison.device_pairs(frame.rows(frame.load([write(tmp_path / "r.json",
                                                                 [as_recorded(c) for c in cases])])))
    assert sorted(p.gpu for p in pairs) == sorted(c.id for c in gpu)
    more_work = [as_recorded(c, epochs=99) if c.backend == "torch" else as_recorded(c) for c in cases]
    pairs = comparison.device_pairs(frame.rows(frame.load([write(tmp_path / "e.json", more_work)])))
    assert {p.workload for p in pairs} == {"classification", "regression", "forecasting"}


def sweep_records(case: Case, truth, sizes: Sequence[int], seed: int = 0) -> list[CaseRecord]:
    return [record(Case(case.workload, case.model, case.backend, n, case.threads), times(truth(n), 5, 0.02, seed + i),
                   peak=200 * 2**20 + 100 * n) for i, n in enumerate(sizes)]


def test_fit_predicts_and_checks_against_larger_measured_sizes(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    def truth(n):
        return 0.3 + 2e-5 * n

    sizes = [5000, 10000, 20000, 40000, 80000]
    fitted = write(tmp_path / "sweep.json", sweep_records(CASE, truth, sizes))
    later = write(tmp_path / "later.json", sweep_records(CASE, truth, [320000], seed=50))
    assert cli.main(["fit", fitted, "--target", "320000", "--check", later]) == 0
    out = capsys.readouterr().out
    (check,) = predict.checks(analyse(frame.load([fitted])).machines[0], frame.rows(frame.load([later])))
    assert CASE.config in out and f"{check.error:+.1%}" in out
    assert check.size == 320000 and check.beyond == 4 and abs(check.error) < 0.05
    assert check.predicted.lo < check.measured < check.predicted.hi and abs(check.memory_error) < 0.01


def test_fit_takes_a_target_in_one_unit_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """640,000 rows is a size; 640,000 images is another question: --target over several units needs --workload."""
    sizes = [5000, 10000, 20000, 40000]
    images = [record(Case("vision", "cnn", "torch", n, 2), times(0.1 + 1e-3 * n, 5, 0.02, 20 + n), unit="images")
              for n in (250, 500, 1000, 2000)]
    path = write(tmp_path / "both.json", sweep_records(CASE, lambda n: 0.3 + 2e-5 * n, sizes) + images)
    assert cli.main(["fit", path, "--target", "80000"]) == cli.EXIT_USAGE
    assert "--workload" in capsys.readouterr().err
    assert cli.main(["fit", path, "--target", "80000", "--workload", "nope"]) == cli.EXIT_USAGE
    assert cli.main(["fit", path, "--target", "80000", "--workload", CASE.workload]) == 0
    out = capsys.readouterr().out
    assert CASE.config in out and "vision" not in out and "80,000" in out
    assert cli.main(["fit", path]) == 0  # no target: every workload, each in its unit


def test_fit_finds_the_crossover_of_hand_made_cpu_and_gpu_results(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    sizes = [10000, 20000, 40000, 80000, 160000]
    gpu = Case("classification", "xgboost", "xgboost-cuda", 1, 2)
    path = write(tmp_path / "both.json", sweep_records(CASE, lambda n: 1e-5 * n, sizes)
                 + sweep_records(gpu, lambda n: 0.4 + 1e-6 * n, sizes, seed=20))
    assert cli.main(["fit", path]) == 0
    out = capsys.readouterr().out
    (machine,) = analyse(frame.load([path])).machines
    (crossing,) = machine.crossings
    assert f"{crossing.found.size:,.0f} rows" in out
    assert crossing.cpu == CASE.config and crossing.gpu == gpu.config and crossing.unit == "rows"
    assert crossing.found.verdict == "crosses" and crossing.found.size == pytest.approx(0.4 / 9e-6, rel=0.1)


def test_bad_input_to_the_analysis_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compare", str(tmp_path / "missing.json")]) == cli.EXIT_USAGE
    assert cli.main(["fit", str(tmp_path / "*.json")]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "does not exist" in err and "no result files match" in err
    one = write(tmp_path / "one.json", [record(CASE, [1.0, 1.1])])
    assert cli.main(["compare", one, "--fail", "median:10%"]) == cli.EXIT_USAGE
    assert "--fail compares against a baseline" in capsys.readouterr().err
    for bad in (["compare", "a", "b", "--fail", "mean:10"], ["fit", one, "--target", "-5"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(bad)
        assert exc.value.code == cli.EXIT_USAGE


def test_fit_gives_amdahls_serial_fraction_and_names_a_sweep_past_the_physical_cores(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def truth(p):
        return 8.0 * (0.25 + 0.75 / p)

    cases = [record(Case("classification", "xgboost", "xgboost", 20000, p), times(truth(p), 5, 0.01, p))
             for p in (1, 2, 4)]
    path = write(tmp_path / "threads.json", cases)  # the machine has 2 physical cores
    (found,) = fits.thread_models(frame.rows(frame.load([path])))
    assert found.key == "classification/xgboost@xgboost/n=20000/t=*" and found.physical_cores == 2
    assert found.size == 20000 and found.fit.serial_lo < 0.25 < found.fit.serial_hi
    assert cli.main(["fit", path, "--cores", "8"]) == 0
    assert max(found.fit.threads) > found.physical_cores and f"{found.fit(8):.4g} s" in capsys.readouterr().out


def test_fit_warns_when_the_serial_fraction_moves_with_the_data_size(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    def amdahl(serial, t1):
        return {p: t1 * (serial + (1 - serial) / p) for p in (1, 2)}

    cases = [record(Case("classification", "xgboost", "xgboost", n, p), times(t, 5, 0.01, p + n))
             for n, serial, t1 in ((20000, 0.05, 2.0), (80000, 0.4, 3.3)) for p, t in amdahl(serial, t1).items()]
    path = write(tmp_path / "t.json", cases)
    assert cli.main(["fit", path]) == 0
    rows = frame.rows(frame.load([path]))
    drifting = fits.size_dependent(fits.thread_models(rows))
    assert list(drifting) == ["classification/xgboost@xgboost/n=*/t=*"]
    assert [t.fit.serial for t in drifting["classification/xgboost@xgboost/n=*/t=*"]] == pytest.approx([0.05, 0.4],
                                                                                                   abs=0.03)
    assert "0.40 at 80,000" in capsys.readouterr().out.replace("\n", "")
    (grid,) = fits.grid_models(rows)
    assert grid.key == "classification/xgboost@xgboost/n=*/t=*" and grid.sizes == (20000, 80000)
    assert grid.fit.points == 4


def test_fit_puts_out_of_core_training_next_to_in_memory_training(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    sizes = [100000, 200000, 400000]

    def steps(model: str, seconds_per_row: float, bytes_per_row: float) -> list[CaseRecord]:
        return [record(Case("regression", model, "xgboost", n, 2), times(seconds_per_row * n, 3, 0.01, n),
                       fit_peak=2**28 + bytes_per_row * n) for n in sizes]

    path = write(tmp_path / "m.json", steps("xgboost", 1e-5, 150) + steps("xgboost_external", 1.2e-5, 110))
    (found,) = fits.out_of_core(frame.rows(frame.load([path])))
    assert found.in_memory == "regression/xgboost@xgboost/n=*/t=2" and found.sizes == tuple(sizes)
    assert np.median(found.ratios) == pytest.approx(1.2, rel=0.05)
    assert found.memory[0] == pytest.approx(110e6 / 2**30, rel=0.01) and found.memory[1] == pytest.approx(150e6 / 2**30,
                                                                                                          rel=0.01)
    assert cli.main(["fit", path]) == 0
    assert f"{np.median(found.ratios):.2f}x the in-memory time" in capsys.readouterr().out


def test_a_thread_count_measured_only_under_contention_is_kept_not_dropped(tmp_path: Path) -> None:
    cases = [record(Case("classification", "xgboost", "xgboost", 20000, p), times(8.0 / p, 4, 0.01, p),
                    disturbed=[p == 2] * 4) for p in (1, 2)]  # every repeat of the two-thread case disturbed
    (found,) = fits.thread_models(frame.rows(frame.load([write(tmp_path / "t.json", cases)])))
    assert found.fit.threads == (1, 2)


def test_fit_keeps_each_machines_predictions_apart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sizes = [10000, 20000, 40000, 80000]
    fast = write(tmp_path / "fast.json", sweep_records(CASE, lambda n: 1e-5 * n, sizes), cpu="Xeon")
    slow = write(tmp_path / "slow.json", sweep_records(CASE, lambda n: 3e-5 * n, sizes), cpu="EPYC")
    assert cli.main(["fit", fast, slow, "--target", "160000", "--check", fast]) == 0
    out = capsys.readouterr().out
    at = {m.machine: m.sizes[0].time.predict(160000).value for m in analyse(frame.load([fast, slow])).machines}
    assert at["m-Xeon"] == pytest.approx(1.6, rel=0.05) and at["m-EPYC"] == pytest.approx(4.8, rel=0.05)
    assert all(f"{value:.4g} s" in out for value in at.values()) and "on m-EPYC" in out


def test_a_machine_that_did_not_record_its_cores_still_gets_thread_fits(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import json

    cases = [record(Case("classification", "xgboost", "xgboost", 20000, p), times(8.0 / p, 4, 0.01, p)) for p in (1, 2)]
    path = Path(write(tmp_path / "t.json", cases))
    doc = json.loads(path.read_text())
    doc["machine"]["identity"]["physical_cores"] = None
    path.write_text(json.dumps(doc))
    (found,) = fits.thread_models(frame.rows(frame.load([str(path)])))
    assert found.physical_cores == 0 and found.fit.threads == (1, 2)
    for command in (["compare", str(path)], ["fit", str(path)], ["recommend", str(path), "--json"]):
        assert cli.main(command) == 0, capsys.readouterr().err


def test_compare_fits_100_columns_and_never_cuts_a_number(capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")  # notes of ~100 characters each, which once took the table's width
    ref = "results/reference/x86-64-2c-24g-a9b1bd19"
    assert cli.main(["compare", f"{ref}-sizing.json", f"{ref}-spark.json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines if line[:1].isdigit() and line.split()[0].isdigit()]
    assert len(rows) == 8 and max(map(len, lines)) <= 100 and not any("\u2026" in line for line in lines)
    assert all(row[-1] in ("undecided", "same") and row[-2].endswith("]") for row in rows)  # no test: no p


def test_cases_in_common_without_the_phase_asked_name_one_they_have(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    def run_only(seed: int) -> CaseRecord:  # a profile's record: its one phase is the whole run
        r = record(CASE, times(1.0, 3, 0.02, seed))
        return replace(r, runs=[replace(x, phases={"run": x.phases["fit"]}) for x in r.runs])

    a, b = write(tmp_path / "a.json", [run_only(1)]), write(tmp_path / "b.json", [run_only(2)])
    assert cli.main(["compare", a, b]) == cli.EXIT_USAGE
    assert "their cases in common have no fit time; compare another phase (--phase run)" in capsys.readouterr().err
    assert cli.main(["compare", a, b, "--phase", "run"]) == 0
    # Profiles (a job timed whole) are compared on their run without being told.
    job = replace(CASE, workload=PROFILE)
    a, b = (write(tmp_path / f"{n}.json", [replace(run_only(seed), case=job)]) for n, seed in (("pa", 1), ("pb", 2)))
    capsys.readouterr()
    assert cli.main(["compare", a, b]) == 0 and "run time, B against A" in capsys.readouterr().out


def test_profiles_are_compared_on_a_phase_the_job_marked_itself(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    job = replace(CASE, workload=PROFILE)

    def profiled(seed: int, train: float) -> CaseRecord:  # its run, and a phase it marked ("train")
        r = record(job, times(train, 3, 0.02, seed))
        return replace(r, runs=[replace(x, phases={"run": x.phases["fit"] + 1, "train": x.phases["fit"]})
                                for x in r.runs])

    a, b = write(tmp_path / "a.json", [profiled(1, 1.0)]), write(tmp_path / "b.json", [profiled(2, 2.0)])
    assert cli.main(["compare", a, b, "--phase", "train"]) == 0
    out = capsys.readouterr().out
    (row,) = [line.split() for line in out.splitlines() if line.startswith("1 profile/")]
    assert "train time, B against A" in out and 1.9 < float(row[6].removesuffix("x")) < 2.05  # B's train took 2 s
    assert cli.main(["compare", a, b, "--phase", "epoch"]) == cli.EXIT_USAGE
    assert "no epoch time; compare another phase (--phase run or --phase train)" in capsys.readouterr().err
    bench = write(tmp_path / "bench.json", [record(CASE, times(1.0, 3, 0.02, 3))])
    assert cli.main(["compare", bench, bench, "--phase", "train"]) == cli.EXIT_USAGE  # a benchmark marks none
    assert "no train time; compare another phase (--phase fit)" in capsys.readouterr().err


def test_your_own_datas_cases_are_compared_with_the_data_said_once(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    own = {"path": "/somewhere/wine.csv", "file_sha256": "cd80158fad3d" + "0" * 52, "target": "target", "rows": 178}
    cases = [Case("user_classification", "hgb", "sklearn", n, 2, own) for n in (45, 90, 178)]
    a = write(tmp_path / "a.json", [record(c, times(1.0, 5, 0.02, i)) for i, c in enumerate(cases)])
    b = write(tmp_path / "b.json", [record(c, times(1.0, 5, 0.02, 9 + i)) for i, c in enumerate(cases)])
    assert cli.main(["compare", a, b]) == 0
    out = capsys.readouterr().out
    assert out.count("wine.csv") == 1 and "Your data: data=wine.csv#cd80158fad3d, target=target" in out
    rows = [line.split() for line in out.splitlines() if line[:1].isdigit()]
    assert [row[1] for row in rows] == [f"user_classification/hgb@sklearn/n={n}/t=2" for n in (45, 90, 178)]
    other = [replace(c, params={**own, "file_sha256": "ab" * 32}) for c in cases]  # a second data set, in both
    a = write(tmp_path / "a2.json", [record(c, times(1.0, 5, 0.02, i)) for i, c in enumerate(cases + other)])
    b = write(tmp_path / "b2.json", [record(c, times(1.0, 5, 0.02, 9 + i)) for i, c in enumerate(cases + other)])
    assert cli.main(["compare", a, b]) == 0
    out = capsys.readouterr().out  # two data sets: each row says its own, or rows of the two would read alike
    assert "Your data" not in out
    assert out.count("wine.csv#cd80158fad3d") == 3 and out.count("wine.csv#abababababab") == 3


@pytest.mark.parametrize("width", [40, 100])
def test_an_id_wider_than_its_column_breaks_after_a_separator_and_no_number_is_cut(width: int) -> None:
    from rich.console import Console

    from harness.present.table import Ident, compact

    config = "classification/xgboost_external@xgboost/n=*/t=2,trees=50"
    table = compact("t", ("configuration", "time"), folds=("configuration",))
    table.add_row(Ident(config), "12,345.6 s")
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(table)
    rows = [line.rstrip() for line in console.export_text().splitlines()[3:]]
    cells = [row.removesuffix("12,345.6 s").rstrip() for row in rows]
    assert "12,345.6 s" in rows[0] and "".join(cells) == config
    assert all(cell.endswith(("/", ",")) for cell in cells[:-1]) and (width < 60 or len(cells) == 1)


def test_fit_of_spark_and_threads_at_a_target_fits_100_columns_and_says_which_time_is_the_model_alone(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    assert cli.main(["fit", "results/reference/x86-64-2c-24g-a9b1bd19-spark.json", "--workload", "classification",
                     "--target", "160000"]) == 0
    out = capsys.readouterr().out
    assert max(map(len, out.splitlines())) <= 100 and "\u2026" not in out  # no cell cut (the Ernest table's were)
    assert "model alone at" in out and "160,000, 2 cores" in out and "160,000, 1 thread" in out
    said = " ".join(out.split())
    assert "'model alone': the fit's own time, with no interval or level" in said
    assert "recommend prices a Spark cluster from it, at low confidence" in said


def test_a_note_of_several_rows_is_said_once_with_their_numbers() -> None:
    """Two runs of 2 repeats: the same note under each of 12 rows."""
    from harness.present.compare import _numbers

    assert [_numbers(r) for r in ([1, 2, 3], [4], [1, 2, 3, 7, 9, 10])] == ["1-3", "4", "1-3, 7, 9-10"]
    a, b = [1.0, 1.1], [1.2, 1.3]
    assert difference(a, b).verdict == "undecided" and "3 result files or more" in difference(a, b).why
