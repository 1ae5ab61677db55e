"""`sizeup report`: a self-contained HTML file whose plots render in a real browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from harness import cli, records
from harness.analysis import frame, scaling
from harness.analysis.compute import analyse
from harness.present import report
from harness.records import Case
from harness.sizing import catalog, findings
from harness.sizing import recommend as sizing
from tests.builders import record, times, write

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


def results_with_a_sweep(tmp_path: Path) -> str:
    records = []
    for i, n in enumerate((10000, 20000, 40000, 80000)):
        r = record(Case("classification", "xgboost", "xgboost", n, 2), times(0.2 + 1e-5 * n, 4, 0.02, i)[1:],
                   peak=2**28 + 300 * n)
        t = list(np.arange(1, 40) * 0.1)
        r.telemetry["series"] = {"start": 0.0, "t": t, "cpu_percent": [150.0 + 40 * np.sin(x) for x in t],
                                 "memory_bytes": [2**28 + 2**20 * x for x in t],
                                 "sources": {"nvml": {"t": t, "values": {"gpu0.util_percent": [50.0] * len(t)}}}}
        records.append(r)
    for i, n in enumerate((40000, 80000)):  # a GPU twin, 3x faster
        records.append(record(Case("classification", "xgboost", "xgboost-cuda", n, 2),
                              times((0.2 + 1e-5 * n) / 3, 4, 0.02, 10 + i)[1:], peak=2**28 + 300 * n))
    return write(tmp_path / "sweep.json", records)


def test_the_report_is_one_offline_html_file_with_its_plots_inside(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = results_with_a_sweep(tmp_path)
    assert cli.main(["report", path, "-o", str(tmp_path / "out" / "r")]) == 0
    text = (tmp_path / "out" / "r.html").read_text()
    # times, CPU against GPU, scaling, utilization
    assert len(re.findall(r'<img alt="[^"]+" src="data:image/png;base64,', text)) == 4
    assert "<script" not in text and "http" not in text.replace("http-equiv", "")  # nothing fetched, nothing run
    summary = (tmp_path / "out" / "r.md").read_text()
    assert "## Time and memory against size" in summary and "classification/xgboost@xgboost/n=*/t=2" in summary
    recommendations = summary.split("## Recommendations")[1].split("## ")[0]
    assert "| classification | 160,000 rows | D2s_v5 | `classification/xgboost@xgboost/n=*/t=2` |" in recommendations
    (pick,) = sizing.summary(analyse(frame.load([path])), catalog.load())
    (few,) = [r for r in pick.found.rules if r.code == findings.TOO_FEW_SIZES]
    assert few.config == "classification/xgboost@xgboost-cuda/n=*/t=2" and f"rule: {few.message}" in recommendations
    frontier = recommendations.split("Quality against cost")[1].split("Evidence and rules")[0]
    assert "- classification at 160,000 rows: $" in frontier and "<- best value" in frontier
    devices = summary.split("## CPU against GPU")[1].split("## ")[0]
    assert "`classification/xgboost@xgboost-cuda/n=80000/t=2` | `classification/xgboost@xgboost/n=80000/t=2`" in devices
    # -o naming a folder: the report goes in it, named by the run, not beside it as out.html
    assert cli.main(["report", path, "-o", str(tmp_path / "out")]) == 0
    run_id = records.load(path).run_id
    assert (tmp_path / "out" / f"{run_id}.html").is_file() and not (tmp_path / "out.html").exists()
    assert cli.main(["report", path, "-o", f"{tmp_path / 'new'}/"]) == 0  # one to make, named so by its '/'
    assert (tmp_path / "new" / f"{run_id}.html").is_file() and not (tmp_path / "new.html").exists()
    out = capsys.readouterr().out
    assert "What to train on, per workload" in out and out.index("Report: ") > out.index("What to train on")


def test_names_from_files_are_text_in_plots_tables_and_headings(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    # a data file's name: matplotlib parsed '$...$' as math and raised; '|' split table cells; '<b>' was HTML
    workload = r"m$\undefinedfoo{$x|<b>" + "\x1b]0;title\x07"
    runs = [record(Case(workload, "hgb", "sklearn", n, 2), times(0.1 + 1e-5 * n, 3, 0.02, i)[1:], peak=2**28 + n)
            for i, n in enumerate((1000, 2000, 4000))]
    t = [0.1, 0.2, 0.3]
    runs[0].telemetry["series"] = {"start": 0.0, "t": t, "cpu_percent": [100.0] * 3, "memory_bytes": [2.0**28] * 3}
    path = write(tmp_path / "tex.json", runs)
    case = runs[0].id
    assert cli.main(["report", path, "-o", str(tmp_path / "r"), "--case", case]) == 0, capsys.readouterr().err
    summary = (tmp_path / "r.md").read_text()
    rows = [line for line in summary.splitlines() if line.startswith(f"| `{workload.replace('|', chr(92) + '|')}/")]
    assert len(rows) == 3 and all(len(report.CELL.split(r)) == 6 for r in rows)  # 4 cells, none split
    assert "<b>" not in summary.split("## Utilization over time")[1].splitlines()[0]
    page = (tmp_path / "r.html").read_text()
    assert "<b>" not in page and page.count(f"<td>{workload.replace('<', '&lt;').replace('>', '&gt;')}/") >= 3
    assert "\x1b" not in capsys.readouterr().out  # names print written out (\\x1b), never as escapes


def test_a_summary_with_no_option_has_no_empty_sections_and_its_times_no_exponent(tmp_path: Path) -> None:
    """A forecast of two sizes had 'Quality against cost:' and 'Evidence and rules:' with nothing under them, and a
    naive model's fit of 7.32e-07 s (fourth trial)."""
    runs = [record(Case("forecasting", "naive", "sklearn", n, 2), [7.32e-7] * 3) for n in (150, 300)]
    assert cli.main(["report", write(tmp_path / "f.json", runs), "-o", str(tmp_path / "r")]) == 0
    summary = (tmp_path / "r.md").read_text()
    assert "too few sizes" in summary and "Quality against cost" not in summary and "Evidence and rules" not in summary
    assert "| 0.0000007320 |" in summary


def test_the_utilization_plot_draws_the_case_asked_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = results_with_a_sweep(tmp_path)
    case = "classification/xgboost@xgboost/n=10000/t=2"
    assert cli.main(["report", path, "-o", str(tmp_path / "r"), "--case", case]) == 0, capsys.readouterr().err
    assert f"## Utilization over time: {case}" in (tmp_path / "r.md").read_text()
    assert cli.main(["report", path, "-o", str(tmp_path / "r2"), "--case", "nope"]) == cli.EXIT_USAGE
    assert "--case nope: no finished case" in capsys.readouterr().err and not (tmp_path / "r2.html").exists()


def test_a_profiles_own_phases_get_a_band_colour_each() -> None:
    """load, train and eval had all been grey: the legend could not tell them apart."""
    from dataclasses import replace

    from matplotlib.colors import to_hex

    from harness.present import report
    from harness.records import PROFILE, Case
    from tests import builders

    spans = {"load": [0.0, 1.0], "train": [1.0, 3.0], "eval": [3.0, 4.0], "run": [0.0, 4.0]}
    run = replace(builders.repeat(0, 4.0), spans=spans)
    record = replace(builders.record(Case(PROFILE, "job.py", "process", 1, 2), [4.0]), runs=[run],
                     telemetry={"series": {"t": [0.0, 2.0, 4.0], "cpu_percent": [90.0] * 3, "memory_bytes": [1e8] * 3}})
    fig = report._utilization(record)
    legend = fig.axes[0].get_legend()
    colours = {t.get_text(): to_hex(h.get_facecolor()[:3]) for t, h in zip(legend.get_texts(), legend.legend_handles)
               if hasattr(h, "get_facecolor")}  # the bands, not the CPU line
    bands = [colours[p] for p in ("load", "train", "eval")]
    assert len(set(bands)) == 3 and "run" not in colours  # the whole run's band would hide the rest
    assert fig.axes[0].get_xlabel().endswith("bands: the phases it marked")
    # the job's clock starts with it (its 'run'), not at the first sample: a phase marked before that started < 0
    early = replace(record, runs=[replace(run, spans=spans | {"load": [10.0, 11.0], "run": [10.0, 14.0]})],
                    telemetry={"series": {"t": [10.5, 12.0, 14.0], "cpu_percent": [90.0] * 3,
                                          "memory_bytes": [1e8] * 3}})
    lines = report._utilization(early).axes[0].get_lines()
    assert lines[0].get_xdata()[0] == 0.5  # the first sample, 0.5 s after the job started
    unmarked = replace(record, runs=[replace(run, spans={"run": [0.0, 4.0]})])
    assert report._utilization(unmarked).axes[0].get_xlabel() == "seconds since the job started"  # no band to name


def test_report_without_results_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["report", "--results-dir", str(tmp_path)]) == cli.EXIT_USAGE
    assert "run `sizeup run` first" in capsys.readouterr().err


@pytest.mark.skipif(BROWSER is None, reason="no Chromium on this machine (.ci/run installs it)")
def test_the_report_renders_in_a_headless_browser_without_console_errors(tmp_path: Path) -> None:
    from matplotlib.image import imread

    assert cli.main(["report", results_with_a_sweep(tmp_path), "-o", str(tmp_path / "r")]) == 0
    shot = tmp_path / "shot.png"
    done = subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--window-size=1200,2600", f"--screenshot={shot}", "--enable-logging=stderr", "--v=0",
                           (tmp_path / "r.html").as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE(" in line or "Failed to load resource" in line]
    assert console == []
    pixels = imread(shot)[..., :3]
    # matplotlib's default blue (the bars and the CPU line) shows up only if the embedded PNGs decoded.
    blue = np.all(np.abs(pixels - np.array([31, 119, 180]) / 255) < 0.06, axis=-1)
    assert blue.sum() > 2000


def test_the_report_sets_spark_against_single_node_training_at_each_size(tmp_path: Path) -> None:
    records = [record(Case("classification", model, backend, n, p), times(t(n, p), 4, 0.02, i)[1:],
                      peak=2**30 + 300 * n)
               for i, (model, backend, t) in enumerate([("xgboost_spark", "spark", lambda n, p: 12 + 2e-4 * n / p),
                                                        ("xgboost", "xgboost", lambda n, p: 0.1 + 1e-5 * n / p)])
               for n in (5000, 20000, 80000) for p in (1, 2)]
    assert cli.main(["report", write(tmp_path / "spark.json", records), "-o", str(tmp_path / "r")]) == 0
    summary = (tmp_path / "r.md").read_text()
    section = summary.split("## Spark against a single node")[1].split("## ")[0]
    assert "| workload | size | xgboost@spark, 2 threads | xgboost@xgboost, 2 threads |" not in section
    assert "| workload | size | xgboost@xgboost, 2 threads | xgboost_spark@spark, 2 threads |" in section
    assert "| classification | 80,000 | 0.503 | 20 |" in section
    assert "`classification/xgboost_spark@spark/n=*/t=*`: fixed cost 12" in section


def test_a_report_fits_each_configuration_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The analysis is computed once and read by every section: one size fit per configuration."""
    cases = [record(Case("regression", model, "sklearn", n, 2), times(k * n, 4, 0.02, n)[1:], peak=2**28 + 300 * n)
             for model, k in (("hgb", 2e-5), ("linear", 1e-6)) for n in (10000, 20000, 40000, 80000)]
    path = write(tmp_path / "r.json", cases)
    fitted = []
    fit_time = scaling.fit_time
    monkeypatch.setattr(scaling, "fit_time", lambda *args: fitted.append(args) or fit_time(*args))
    assert cli.main(["report", path, "-o", str(tmp_path / "r")]) == 0
    # hgb and linear, each once over its four sizes, though the recommendations and the scaling plot read both
    # (the backtests refit fewer sizes)
    assert len([args for args in fitted if len(args[0]) == 4]) == 2


def test_a_report_of_profiles_alone_gives_each_jobs_findings_and_phases_and_no_benchmark_sections(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    job = tmp_path / "job.py"
    job.write_text("import time\nfrom harness import phase\nwith phase('train'):\n    time.sleep(1.2)\n")
    assert cli.main(["profile", "--results-dir", str(tmp_path / "r"), "--", sys.executable, str(job)]) == 0
    (path,) = tmp_path.glob("r/*/*.json")
    capsys.readouterr()
    assert cli.main(["report", str(path), "-o", str(tmp_path / "report")]) == 0
    assert "No workload was measured" not in capsys.readouterr().out  # nothing was benchmarked: no summary
    md = (tmp_path / "report.md").read_text()
    titles = re.findall(r"^## (.*)$", md, re.MULTILINE)
    assert len(titles) == 1 and re.fullmatch(r"Profile: profile/job\.py@process/n=1/t=\d+", titles[0])  # nothing else
    assert "`cpu-underused`" in md and re.search(r"^\| train \| 1\.2\d* \| \d+ \|", md, re.MULTILINE)
    # What it should run on: the VM `show` names.
    assert cli.main(["show", "--json", str(path)]) == 0
    vm = json.loads(capsys.readouterr().out)["profile"]["cpu_vm"]["name"]
    assert f"What it should run on:\n\n- Right-size (low confidence): {vm} (" in md
    # Beside a benchmark's result, the job stays out of the time per configuration: it has no fit phase (it was
    # a row of nan there).
    assert cli.main(["report", results_with_a_sweep(tmp_path), str(path), "-o", str(tmp_path / "both")]) == 0
    times = (tmp_path / "both.md").read_text().split("## Time per configuration")[1].split("## ")[0]
    assert "classification/xgboost@xgboost/n=80000/t=2" in times and "profile/" not in times and "nan" not in times


def test_a_case_measured_on_two_machines_is_reported_on_each_never_pooled(tmp_path: Path) -> None:
    case = Case("classification", "xgboost", "xgboost", 20000, 2)
    paths = [write(tmp_path / f"{cpu}.json", [record(case, [t] * 3)], cpu=cpu)
             for cpu, t in (("Xeon", 1.0), ("EPYC", 3.0))]
    report.build(analyse(frame.load(paths)), [], tmp_path / "report")
    md = (tmp_path / "report.md").read_text()
    assert f"| `{case.id} on m-EPYC` | 3 |" in md and f"| `{case.id} on m-Xeon` | 1 |" in md
    assert f"| `{case.id}` |" not in md  # not their pooled median, 2 s, that neither machine measured


def test_spark_against_one_node_keeps_each_machines_configurations_at_their_own_most_threads(tmp_path: Path) -> None:
    from harness.analysis.compute import spark_rows

    rows = frame.rows(frame.load(["results/reference"]))
    spark = rows[rows["workload"].isin(rows.loc[rows["distributed"], "workload"])]
    # One machine measured xgboost at 1 thread only: its rows stay, though another measured 2.
    one = spark[~((spark["machine"] == "x86-64-2c-24g-a9b1bd19") & (spark["model"] == "xgboost")
                  & (spark["threads"] == 2))]
    labels = set(spark_rows(one)["label"])
    assert "xgboost@xgboost, 1 threads on x86-64-2c-24g-a9b1bd19" in labels
    assert "xgboost@xgboost, 2 threads on x86-64-2c-24g-4e6360dc" in labels


def test_the_phase_table_writes_seconds_as_every_figure_does_never_an_exponent() -> None:
    sampled = {"phases": {"fit": {"samples": 12, "cpu_percent": {"mean": 180.0, "p95": 199.0}}}}
    long = record(Case("classification", "xgboost", "xgboost", 20000, 2), [1490.2, 1490.2], telemetry=sampled)
    (row,) = [line for line in report._phases(long, Path("r.json")).splitlines() if line.startswith("| fit |")]
    assert row.startswith("| fit | 1,490 | 12 | 180 | 199 | 512 |")


def test_a_log_axis_writes_its_ticks_as_numbers_without_tex() -> None:
    """Labels are names from files, so TeX is off: matplotlib's own 10^x ticks had printed as raw TeX."""
    from harness.present import plots

    plots.setup()
    fig, ax = plots.figure()
    ax.plot([0.1, 1000], [1, 2])
    plots.log(ax, "x")
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert "1000" in labels and "0.1" in labels and not any("$" in label for label in labels), labels
    plots.png(fig)
    # Eight decades write at most six ticks: in a plot narrowed by long case ids, eight had run into one another
    fig, ax = plots.figure()
    ax.plot([1e-6, 10], [1, 2])
    plots.log(ax, "x")
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert 3 <= len(labels) <= 6 and "1e-06" in labels, labels
    plots.png(fig)


def test_the_size_plots_legend_lies_below_its_plots() -> None:
    """Inside the plot, the references' 40 configurations covered its points."""
    from harness.analysis import frame
    from harness.analysis.compute import analyse
    from harness.present import plots, report

    plots.setup()
    analysis = analyse(frame.load(["results/reference/x86-64-2c-24g-a9b1bd19-sizing-20261202.json"]))
    fig = report._scaling([(m.config, m) for fitted in analysis.machines for m in fitted.sizes])
    times = fig.axes[0]
    assert times.get_legend() is None and len(fig.legends) == 1
    assert len(fig.legends[0].get_texts()) == len(analysis.machines[0].sizes)
    plots.png(fig)


def test_the_time_chart_compares_each_configuration_once_at_its_workloads_common_size(tmp_path: Path) -> None:
    from harness.analysis.compute import case_medians, configuration_times

    cases = [record(Case("classification", "xgboost", "xgboost", n, 2), [1e-5 * n] * 3) for n in (1000, 2000, 4000)]
    cases += [record(Case("classification", "hgb", "sklearn", n, 2), [3e-5 * n] * 3) for n in (1000, 2000)]
    cases += [record(Case("vision", "cnn", "torch", n, 2), [1e-3 * n] * 3) for n in (100, 200)]
    table = configuration_times(frame.rows(frame.load([write(tmp_path / "r.json", cases)])))
    assert table[["label", "size"]].values.tolist() == [  # 2,000 rows: the largest both measured
        ["classification: xgboost@xgboost, 2 thr.", 2000], ["classification: hgb@sklearn, 2 thr.", 2000],
        ["vision: cnn@torch, 2 thr.", 200]]
    assert table["fit_s"].tolist() == pytest.approx([0.02, 0.06, 0.2])
    assert "GPU" not in report._fit_times(frame.rows(frame.load([str(tmp_path / "r.json")]))).axes[0].get_xlabel()
    # the repeats counted, as the time table's (the clean ones where enough are); marked where all were disturbed
    noisy = [record(Case("regression", "hgb", "sklearn", 400, 2), [0.1, 41.9, 0.1], disturbed=[False, True, False]),
             record(Case("regression", "xgboost", "xgboost", 400, 2), [0.18, 0.2], disturbed=[True, True])]
    rows = frame.rows(frame.load([write(tmp_path / "n.json", noisy)]))
    table = configuration_times(rows)
    assert table[["fit_s", "contended"]].values.tolist() == [[pytest.approx(0.1), False], [pytest.approx(0.19), True]]
    assert table[["fit_s", "contended"]].values.tolist() == case_medians(rows)[["fit_s", "contended"]].values.tolist()
    chart = report._fit_times(frame.rows(frame.load([str(tmp_path / "n.json")]))).axes[0]
    assert [t.get_text().endswith("(!)") for t in chart.get_yticklabels()] == [False, True]
    # a configuration that shares no size with the rest (a memory cap's sweep): at its own largest, and told apart
    capped = [record(Case("classification", "xgboost", "xgboost", n, 2, memory_cap="512MiB"), [2e-5 * n] * 3)
              for n in (8000, 16000)]
    table = configuration_times(frame.rows(frame.load([write(tmp_path / "c.json", cases + capped)])))
    assert table.loc[table["workload"] == "classification", ["label", "size"]].values.tolist() == [
        ["classification: xgboost@xgboost, 2 thr.", 2000], ["classification: hgb@sklearn, 2 thr.", 2000],
        ["classification: xgboost@xgboost, 2 thr. (cap=512MiB)", 16000]]


def test_the_utilization_plot_draws_the_longest_case_none_of_whose_repeats_was_disturbed(tmp_path: Path) -> None:
    series = {"series": {"t": [0.0, 1.0], "cpu_percent": [100.0, 100.0]}}
    slow = record(Case("regression", "hgb", "sklearn", 400, 2), [0.1, 41.9, 0.1], disturbed=[False, True, False],
                  wall=43.7, telemetry=series)
    clean = record(Case("regression", "xgboost", "xgboost", 400, 2), [0.2, 0.2], wall=2.0, telemetry=series)
    chosen, _ = report._chosen_case(frame.load([write(tmp_path / "r.json", [slow, clean])]), None)
    assert chosen.case == clean.case


def test_the_memory_panel_draws_the_peaks_measured_from_zero(tmp_path: Path) -> None:
    analysis = analyse(frame.load([results_with_a_sweep(tmp_path)]))
    model = next(m for m in analysis.sizes() if m.memory)
    memory = report._scaling([("sweep", model)]).axes[1]
    points = [line for line in memory.get_lines() if line.get_marker() == "o"]
    assert len(points) == 1 and list(points[0].get_xdata()) == list(model.memory.sizes)  # the evidence, not the fit
    assert list(points[0].get_ydata()) == pytest.approx([p / 2**30 for p in model.memory.peaks])
    assert memory.get_ylim()[0] == 0
