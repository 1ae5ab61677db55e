"""The command line, end to end: bad input, a real run, resume after a kill, show, export."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from harness import cli, records
from harness.records import Case
from tests import builders

SIZEUP = [sys.executable, "-m", "harness.cli"]


def write_suite(path: Path, body: str, repeats: int = 0) -> Path:
    path.write_text(f'name = "t"\nrepeats = {repeats}\ntimeout_s = 60\n{body}')
    return path


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "--workloads", "nope"], "unknown workload 'nope'; choose from:"),
        (["run", "--workloads", "regresion"], "unknown workload 'regresion' (did you mean 'regression'?); choose"),
        (["recommend", "results/reference", "--workload", "visoin", "--size", "9"], "(did you mean 'vision'?) in"),
        (["run", "--backends", "cuda-magic"], "unknown backend 'cuda-magic'"),
        (["run", "--models", "nope"], "unknown model 'nope'"),
        (["run", "--suite", "no-such-suite"], "suite 'no-such-suite' not found"),
        (["run", "--workloads", "breast_cancer", "--sizes", "10000"], "breast_cancer has 569 rows"),
        (["run", "--memory-cap", "lots"], "memory cap 'lots' is not a size"),
        (["run", "--timeout", "0"], "--timeout must be a finite number > 0, got 0.0"),
        (["show", "does-not-exist.json"], "result file does-not-exist.json does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path, capsys) -> None:
    assert cli.main([*args, "--results-dir", str(tmp_path / "r")] if args[0] == "run" else args) == 2
    err = capsys.readouterr().err
    assert err.startswith("sizeup: error: ") and message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "r").exists()  # nothing half-written


def test_version_says_which_sizeup(capsys) -> None:
    from harness import __version__

    with pytest.raises(SystemExit) as exit:
        cli.main(["--version"])
    assert exit.value.code == 0 and capsys.readouterr().out == f"sizeup {__version__}\n"


@pytest.mark.parametrize("sizes", ["abc", "0", "-5", "10,x"])
def test_a_size_that_is_not_a_positive_integer_is_refused(sizes: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit:
        cli.main(["run", "--sizes", sizes])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert "size must be a positive integer" in err and err.count("\n") == 1


def test_a_size_with_a_unit_suffix_is_refused_with_what_a_size_is(capsys) -> None:
    with pytest.raises(SystemExit) as exit:
        cli.main(["recommend", "--workload", "vision", "--size", "1M"])
    assert exit.value.code == 2 and "expected a count of items (rows, series, images or documents), such as 1000000 " \
                                   "or 1e6, got '1M'" in capsys.readouterr().err


@pytest.mark.parametrize("argv, said", [(["show", "--bogus"], "unrecognized arguments: --bogus"),
                                        (["fit", "--wid=3", "--target", "5"], "unrecognized arguments: --wid=3"),
                                        (["show"], "the following arguments are required: result"),
                                        (["fit", "--target", "-5"], "expected a number > 0, got '-5'"),
                                        (["fit", "--work", "vision"], "the following arguments are required"),
                                        (["recommend", "--work", "vision", "--size", "1M"], "got '1M'")])
def test_an_unknown_option_is_named_before_a_missing_argument(argv: list[str], said: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit:
        cli.main(argv)
    assert exit.value.code == 2 and said in capsys.readouterr().err


@pytest.mark.parametrize("alpha", ["0", "1", "2", "-1"])
def test_compare_takes_a_p_value_between_0_and_1(alpha: str, capsys) -> None:
    reference = "results/reference/x86-64-2c-24g-4e6360dc-sizing.json"
    with pytest.raises(SystemExit) as exit:  # --alpha 2 had made every undecided case slower, and exit 4
        cli.main(["compare", reference, reference, "--alpha", alpha, "--fail", "median:10%"])
    assert exit.value.code == 2 and "--alpha: expected a number between 0 and 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    "body, message",
    [
        ("[[benchmark]\nworkload = 1", "is not valid TOML"),
        ('[[benchmark]]\nworkload = "faulty"\nsizes = [0]', "size must be a positive integer, got 0"),
        ('[[benchmark]]\nworkload = "faulty"\nsizes = "big"', "'sizes' must be a non-empty array"),
        ('[[benchmark]]\nworkload = "faulty"\nparams = {colour = 1}', "unknown param of faulty 'colour'"),
        ('[[benchmark]]\nworkload = "faulty"\nspeed = 1', "unknown key(s) ['speed']"),
        ('[[benchmark]]\nworkload = "faulty"\nmodel = ["ok"]', "unknown key(s) ['model'] (did you mean 'models'?)"),
        ('repeat = 3\n[[benchmark]]\nworkload = "faulty"', "unknown key(s) ['repeat'] (did you mean 'repeats'?)"),
        ('[[benchmark]]\nworkload = "faulty"\nsweep = { start = 10, budget = 5 }', "(did you mean 'budget_s'?)"),
        ('[[benchmark]]\nsizes = [1]', "'workload' (a string) is required"),
    ],
)
def test_a_malformed_suite_is_refused(body: str, message: str, tmp_path: Path, capsys) -> None:
    suite = write_suite(tmp_path / "bad.toml", body)
    assert cli.main(["run", "--suite", str(suite), "--results-dir", str(tmp_path / "r")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("content", ['{"schema": "sizeup-result", "version": 1, "cases": [', "", "[1, 2]", "\x00\xff"])
def test_a_truncated_or_foreign_result_is_refused(content: str, tmp_path: Path, capsys) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, errors="surrogateescape") if "\x00" not in content else path.write_bytes(b"\x00\xff")
    out = tmp_path / "out.json"
    assert cli.main(["export", "--format", "pytest-benchmark", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sizeup: error: ") and str(path) in err
    assert not out.exists()


def test_run_show_and_export_a_real_suite(tmp_path: Path, capsys) -> None:
    suite = write_suite(tmp_path / "s.toml", '[[benchmark]]\nworkload = "breast_cancer"\nmodels = ["linear"]\n'
                        'backends = ["sklearn"]\n'
                        '[[benchmark]]\nworkload = "faulty"\nmodels = ["ok", "raise"]\n', repeats=3)
    assert cli.main(["run", "--suite", str(suite), "--results-dir", str(tmp_path), "--threads", "1"]) == 3  # one failed
    (path,) = tmp_path.glob("*/*.json")
    run = records.load(path)
    assert run.complete and [c.status for c in run.cases] == ["ok", "ok", "error"]
    assert run.cases[0].workload_info["target"]["threshold"] == 0.92
    capsys.readouterr()

    assert cli.main(["show", str(path)]) == 0
    table = capsys.readouterr().out
    assert "breast_cancer" in table and "linear@sklearn" in table and "✓" in table
    lines = table.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(" breast_cancer"))
    assert [lines[at].split(), lines[at + 1].split()] == [["breast_cancer", "accuracy"], [">=", "0.92"]]  # the
    # section's metric and target, said once for its cases
    assert "error faulty/raise@numpy/n=100/t=1: ValueError: this model always fails" in table
    assert max(map(len, table.splitlines())) <= 100
    assert cli.main(["show", "--json", str(path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [c["status"] for c in shown["cases"]] == ["ok", "ok", "error"]
    assert shown["cases"][0]["quality"]["met"] is True and shown["cases"][0]["phases"]["fit"]["median"] > 0

    exported = tmp_path / "pb.json"
    assert cli.main(["export", "--format", "pytest-benchmark", str(path), "-o", str(exported)]) == 0
    compare = subprocess.run([sys.executable, "-m", "pytest_benchmark", "compare", str(exported),
                              "--columns=median,rounds", "--group-by=group"],
                             capture_output=True, text=True, timeout=60)
    assert compare.returncode == 0, compare.stderr
    assert "breast_cancer/linear@sklearn/n=569/t=1" in compare.stdout and "fit" in compare.stdout


def test_a_run_killed_midway_resumes_keeping_finished_cases(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    entries = "".join(
        f'[[benchmark]]\nworkload = "faulty"\nmodels = ["{model}"]\n'
        f'params = {{tag = "{tag}", marker = "{marker}", seconds = {seconds}}}\n'
        for model, tag, seconds in [("ok", "a", 0), ("ok", "b", 0), ("sleep", "c", 2.5), ("ok", "d", 0)]
    )
    suite = write_suite(tmp_path / "s.toml", entries)
    root = tmp_path / "results"
    env = dict(os.environ)
    harness = subprocess.Popen([*SIZEUP, "run", "--suite", str(suite), "--results-dir", str(root)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while "c" not in _lines(marker):  # case c is running: kill the harness under it
        assert time.monotonic() < deadline and harness.poll() is None
        time.sleep(0.05)
    harness.send_signal(signal.SIGKILL)
    harness.wait()
    (journal,) = root.glob("*/*.journal.jsonl")
    before = records.load(journal)
    assert [c.case.params["tag"] for c in before.cases] == ["a", "b"]
    assert not before.complete and len(before.pending()) == 2

    resumed = subprocess.run([*SIZEUP, "run", "--resume", "--results-dir", str(root)], env=env,
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    (path,) = root.glob("*/*.json")
    after = records.load(path)
    assert after.complete and not journal.exists()
    assert [c.case.params["tag"] for c in after.cases] == ["a", "b", "c", "d"]
    assert all(c.status == "ok" for c in after.cases)
    assert after.cases[:2] == before.cases  # finished cases kept as they were, not re-run
    assert Counter(_lines(marker)) == {"a": 1, "b": 1, "c": 2, "d": 1}  # c: killed once, then run once


def test_resume_without_an_unfinished_run_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert cli.main(["run", "--resume", "--results-dir", str(tmp_path)]) == 2
    assert "no unfinished run" in capsys.readouterr().err


def test_list_shows_every_workload_and_backend(capsys) -> None:
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("classification", "regression", "breast_cancer", "diabetes", "sklearn", "xgboost", "torch"):
        assert name in out
    row = next(line for line in out.splitlines() if "user_classification" in line)
    assert "your data" in row  # its sizes: a subsample of the table given, not a list
    assert max(map(len, out.splitlines())) <= 100  # piped too: no model's backends cut to an ellipsis
    assert "tfidf_linear @ sklearn/sklearn-rapids" in out


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_resume_refuses_new_plan_choices(tmp_path: Path, capsys) -> None:
    assert cli.main(["run", "--resume", "--repeats", "5", "--results-dir", str(tmp_path)]) == 2
    assert "drop --repeats" in capsys.readouterr().err


def test_resume_refuses_a_run_started_with_other_software(tmp_path: Path, capsys) -> None:
    from harness.records import Case
    from harness.run import machine, runner
    from harness.run.plan import Plan, Settings

    fingerprint = machine.fingerprint()
    identity = fingerprint["identity"]
    old = {**identity, "python": "3.10.0", "libraries": {**identity["libraries"], "numpy": "1.0.0"}}
    plan = Plan("t", Settings(repeats=0), (Case("faulty", "ok", "numpy", 100, 1),))
    run = runner.new_run(plan, {**fingerprint, "identity": old})
    journal = records.journal_path(tmp_path, run)
    records.Journal.create(journal, run).close()

    assert cli.main(["run", "--resume", str(journal)]) == 2
    err = capsys.readouterr().err
    assert f"python 3.10.0 -> {identity['python']}" in err and f"numpy 1.0.0 -> {identity['libraries']['numpy']}" in err
    assert "Restore it, or start a new run" in err and err.count("\n") == 1
    assert records.load(journal).cases == []  # nothing was run or written


def disturbed_result(tmp_path: Path, disturbed: list[bool]) -> Path:
    return builders.contended(tmp_path / f"r{sum(disturbed)}.json", disturbed)


def test_show_says_which_figures_were_taken_under_contention(tmp_path: Path, capsys) -> None:
    assert cli.main(["show", "--wide", str(disturbed_result(tmp_path, [False, True, False]))]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "1 of 3 warm repeats disturbed (other processes took up to 1.40 cores); the statistics use the 2 clean" in out
    assert " 1 " in out and "!" not in out.split("Times:")[0]  # fit median of the clean repeats, unmarked
    assert " 50 " in out  # fit CPU %: 0.5 CPU seconds over a 1 s fit

    assert cli.main(["show", str(disturbed_result(tmp_path, [True, True, False]))]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "only 1 clean, so its figures were taken under contention" in out and "!" in out.split("Times:")[0]


def test_show_explains_the_quality_marks_only_where_a_workload_has_a_target(tmp_path: Path, capsys) -> None:
    from dataclasses import replace

    case = builders.record(Case("user_regression", "linear", "sklearn", 1000, 2), [0.1] * 3, metric="r2")
    target = {"metric": "r2", "threshold": 0.9, "higher_is_better": True}
    for info, said in ((case.workload_info, False), (case.workload_info | {"target": target}, True)):
        path = builders.write(tmp_path / "r.json", [replace(case, workload_info=info)])
        assert cli.main(["show", path]) == 0
        assert ("Quality: ✓/✗ against the workload's target" in " ".join(capsys.readouterr().out.split())) == said


def test_show_says_a_run_of_no_warm_repeat_times_its_cold_runs(tmp_path: Path, capsys) -> None:
    """A suite of repeats = 0 had been shown as 'medians of 0 warm repeats'."""
    from dataclasses import replace

    run = builders.run_result([builders.record(Case("classification", "hgb", "sklearn", 1000, 2), [])])
    path = tmp_path / "r.json"
    records.save(path, replace(run, settings={"repeats": 0}))
    assert cli.main(["show", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "the cold run's alone" in out and "0 warm repeats" not in out


def test_show_says_which_sweeps_ended_with_too_few_sizes_to_fit(tmp_path: Path, capsys) -> None:
    from harness.analysis.cases import short_sweeps

    def steps(model: str, sizes: tuple[int, ...], status: str = "ok") -> list[records.CaseRecord]:
        return [builders.record(records.Case("classification", model, "xgboost", n, 2), [1.0] * 3, status=status)
                for n in sizes]

    cases = steps("short", (5000, 10000)) + steps("long", (5000, 10000, 20000)) + steps("none", (5000,), "skipped")
    run = builders.run_result(cases)
    why = "the case at size 10,000 took 26 s (start, cold run and repeats), past the 25 s budget"
    run.sweeps.update({c.case.config: why for c in (cases[0], cases[2], cases[5])})
    assert short_sweeps(run) == [(cases[0].case.config, 2, why)]
    records.save(tmp_path / "r.json", run)
    assert cli.main(["show", str(tmp_path / "r.json")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"sweep {cases[0].case.config} ended after 2 sizes, fewer than a fit takes (3)" in out
    assert out.count("fewer than a fit takes") == 1


def test_show_writes_a_long_time_without_an_exponent(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    case = records.Case("classification", "xgboost", "xgboost", 5000, 2)
    path = builders.write(tmp_path / "r.json", [builders.record(case, [1490.4, 1490.4, 1490.4])])
    assert cli.main(["show", str(path)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "xgboost@xgboost" in line)
    assert "1,490" in row.split() and "e+" not in row


def test_show_of_a_folder_shows_its_newest_result_and_says_which(tmp_path: Path, capsys) -> None:
    case = records.Case("classification", "linear", "numpy", 100, 1)
    old, new = (Path(builders.write(tmp_path / name, [builders.record(case, [0.1])])) for name in
                ("a/old.json", "b/deeper/new.json"))
    os.utime(old, (2e9, 2e9))
    os.utime(new, (1e9, 1e9))  # named later, written earlier
    (tmp_path / "c.json").write_text('{"not": "sizeup"}')  # newest of all, and passed over
    assert cli.main(["show", "--json", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["run_id"] == "old"
    assert f"newest sizeup result of 3 JSON file(s), {old}" in err
    for named in (old, tmp_path):  # export alike
        assert cli.main(["export", "--format", "pytest-benchmark", str(named)]) == 0
    exported = capsys.readouterr().out.split("\n{")
    assert len(exported) == 2 and "{" + exported[1] == exported[0] + "\n"
    (tmp_path / "empty").mkdir()
    assert cli.main(["show", str(tmp_path / "empty")]) == cli.EXIT_USAGE
    assert "no result files" in capsys.readouterr().err


def test_export_writes_only_what_the_result_knows(tmp_path: Path) -> None:
    from importlib.metadata import version

    from harness.present.export import pytest_benchmark

    exported = pytest_benchmark(records.load(disturbed_result(tmp_path, [False])))
    assert exported["version"] == version("pytest-benchmark")
    assert "dirty" not in exported["commit_info"]
    assert "python_implementation" not in exported["machine_info"]  # this result's machine did not record it


@pytest.mark.parametrize("value", ["-1", "1.5"])
def test_rerun_disturbed_must_be_a_whole_number(value: str, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit:
        cli.main(["run", "--rerun-disturbed", value, "--results-dir", str(tmp_path / "r")])
    assert exit.value.code == 2
    assert "--rerun-disturbed: expected a whole number >= 0" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--timeout", "nan"], "--timeout: expected a finite number, got 'nan'"),
        (["--timeout", "inf"], "--timeout: expected a finite number, got 'inf'"),
        (["--sample-hz", "1e-9"], "--sample-hz must be 0 (off) or from 0.1 to 100, got 1e-09"),
        (["--sample-hz", "5000"], "--sample-hz must be 0 (off) or from 0.1 to 100, got 5000.0"),
        (["--memory-cap", "1TiB"], "is more than this machine's"),
        (["--memory-cap", "1MiB"], "is too small to start a worker: give at least 128 MiB"),
        (["--resume="], "--resume: expected a journal path"),
        (["--repeats", "1.5"], "--repeats: expected a whole number >= 0, got '1.5'"),
    ],
)
def test_settings_that_cannot_work_are_refused_before_anything_is_written(args: list[str], message: str,
                                                                           tmp_path: Path, capsys) -> None:
    try:
        code = cli.main(["run", "--workloads", "faulty", *args, "--results-dir", str(tmp_path / "r")])
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "body, message",
    [
        ('name = "x/../../../../escaped"\n[[benchmark]]\nworkload = "faulty"', "suite name 'x/../../../../escaped' cannot"),
        ('repeats = 1.5\n[[benchmark]]\nworkload = "faulty"', "repeats must be a whole number >= 0, got 1.5"),
        ('timeout_s = nan\n[[benchmark]]\nworkload = "faulty"', "timeout_s must be a finite number > 0, got nan"),
        ('[[benchmark]]\nworkload = "faulty"\nparams = {seconds = "long"}', "param 'seconds' must be a float like"),
        ('[[benchmark]]\nworkload = "faulty"\nparams = {iterations = 2.5}', "param 'iterations' must be a int like"),
    ],
)
def test_suite_values_are_validated_in_the_plan(body: str, message: str, tmp_path: Path, capsys) -> None:
    (tmp_path / "s.toml").write_text(body + "\n")
    assert cli.main(["run", "--suite", str(tmp_path / "s.toml"), "--results-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == [tmp_path / "s.toml"]  # nothing written, inside or outside


def test_a_json_file_of_another_tool_beside_the_results_is_passed_over_and_refused_when_named(tmp_path: Path,
                                                                                              capsys) -> None:
    result = disturbed_result(tmp_path, [False, False, False])
    export = tmp_path / "pb.json"  # written after the result: the newest file in the folder
    assert cli.main(["export", "--format", "pytest-benchmark", str(result), "-o", str(export)]) == 0
    capsys.readouterr()
    assert cli.main(["show", str(tmp_path)]) == 0
    assert capsys.readouterr().err.endswith(f"{result}\n")  # the newest result, not the newest file
    for command in (["show", "--json"], ["fit"], ["compare", str(result)]):
        assert cli.main([*command, str(tmp_path)]) == 0, command
    assert cli.main(["show", str(export)]) == cli.EXIT_USAGE
    assert "pb.json is not a sizeup result" in capsys.readouterr().err
    (tmp_path / "only").mkdir()
    export.rename(tmp_path / "only" / "pb.json")
    assert cli.main(["fit", str(tmp_path / "only")]) == cli.EXIT_USAGE
    assert "no sizeup result in" in capsys.readouterr().err


def test_a_corrupt_result_in_a_folder_is_passed_over_and_said_and_refused_when_named(tmp_path: Path, capsys) -> None:
    from harness.run import machine

    folder = tmp_path / machine.fingerprint()["id"]  # report's default: this machine's newest result
    folder.mkdir()
    result = disturbed_result(folder, [False, False, False])
    corrupt = folder / "20200101T000000Z-quick-old0.json"  # cut short: the newest file of the folder
    corrupt.write_text('{"schema": "sizeup-result", "version": 1, "cases": [')
    for command in (["show", str(folder)], ["show", "--json", str(folder)], ["fit", str(folder)],
                    ["recommend", str(folder)], ["compare", str(result), str(folder)],
                    ["report", "--results-dir", str(tmp_path), "-o", str(tmp_path / "report")]):
        assert cli.main(command) == 0, command
        assert f"sizeup: passed over {corrupt} is not valid JSON" in capsys.readouterr().err, command
    for command in (["show"], ["fit"], ["recommend"]):
        assert cli.main([*command, str(corrupt)]) == cli.EXIT_USAGE, command
        assert "is not valid JSON" in capsys.readouterr().err
    result.unlink()  # the folder holds no result now: report says where it looked, and what to run
    assert cli.main(["report", "--results-dir", str(tmp_path)]) == cli.EXIT_USAGE
    assert f"no result of machine {folder.name} under {tmp_path}: run `sizeup run` first" in capsys.readouterr().err


def test_io_problems_are_one_line_naming_the_path(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert cli.main(["run", "--workloads", "faulty", "--results-dir", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sizeup: error: cannot write results to {blocker}") and err.count("\n") == 1
    # the folder the machine's runs go in, which the journal is written to
    from harness.run import machine

    results = tmp_path / "results"
    results.mkdir()
    taken = results / machine.fingerprint()["id"]
    taken.write_text("")
    assert cli.main(["run", "--workloads", "faulty", "--results-dir", str(results)]) == 2
    assert f"{taken} is not a folder" in capsys.readouterr().err and list(results.iterdir()) == [taken]
    # before anything else: --data is not read (it can take minutes) where its results could not be written
    assert cli.main(["run", "--data", str(tmp_path / "missing.csv"), "--results-dir", str(blocker / "r")]) == 2
    assert f"{blocker} is not a folder" in capsys.readouterr().err
    # a resumed run writes beside its journal: the results folder is not its to check
    assert cli.main(["run", "--resume", str(tmp_path / "gone.journal.jsonl"), "--results-dir", str(blocker)]) == 2
    assert capsys.readouterr().err == f"sizeup: error: journal {tmp_path / 'gone.journal.jsonl'} does not exist\n"

    assert cli.main(["show", str(tmp_path)]) == 2  # a folder without a result file
    assert capsys.readouterr().err == f"sizeup: error: no result files match {str(tmp_path)!r}\n"
    stopped = tmp_path / "stopped" / "m" / "20261202T000000Z-quick-0000.journal.jsonl"  # a run stopped by Ctrl-C
    stopped.parent.mkdir(parents=True)
    stopped.write_text("")
    assert cli.main(["show", str(tmp_path / "stopped")]) == 2
    assert str(stopped) in capsys.readouterr().err  # named, where it had been left to be found
    (stopped.parent / "other.json").write_text("{}")  # beside another tool's JSON, too
    assert cli.main(["show", str(tmp_path / "stopped")]) == 2 and str(stopped) in capsys.readouterr().err

    path = disturbed_result(tmp_path, [False, False])
    doc = json.loads(path.read_text())
    doc["cases"][0]["runs"][1]["phases"] = {"fit": "fast"}
    path.write_text(json.dumps(doc))
    assert cli.main(["show", str(path)]) == 2
    err = capsys.readouterr().err
    assert "does not match the result schema at cases/0/runs/1/phases/fit: 'fast' is not of type 'number'" in err
    doc["cases"][0]["runs"][1]["phases"] = {"fit": 1.0}
    doc["sweeps"] = None  # why each sweep ended: a table of texts, or nothing (hypothesis found show failing on it)
    path.write_text(json.dumps(doc))
    assert cli.main(["show", str(path)]) == 2
    assert "does not match the result schema at sweeps: None is not of type 'object'" in capsys.readouterr().err


def test_threads_beyond_the_logical_cpus_are_run_with_a_warning(tmp_path: Path, capsys) -> None:
    suite = write_suite(tmp_path / "s.toml", '[[benchmark]]\nworkload = "faulty"\nmodels = ["ok"]\n')
    many = str(4 * (os.cpu_count() or 1))
    assert cli.main(["run", "--suite", str(suite), "--threads", many, "--results-dir", str(tmp_path / "r")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"Warning: threads {many} exceed this machine's {os.cpu_count()} logical CPUs" in out


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["catalog"], ["show", "results/reference/x86-64-2c-24g-a9b1bd19-memory.json"]])
def test_output_to_a_full_disk_is_one_line_and_a_closed_pipe_is_no_error(args: list[str]) -> None:
    root = Path(__file__).resolve().parent.parent
    with open("/dev/full", "w") as full:
        done = subprocess.run(SIZEUP + args, cwd=root, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == cli.EXIT_USAGE and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    piped = subprocess.run(" ".join(SIZEUP + args) + " | head -c 10", shell=True, cwd=root, capture_output=True,
                           text=True, timeout=120)
    assert piped.returncode == 0 and len(piped.stdout) == 10 and piped.stderr == ""


def test_the_commands_sizeup_suggests_run_the_sizeup_that_was_started(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.commands import sizeup

    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True)
    started = venv / "sizeup"
    started.write_text("#!/bin/sh\n")
    started.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "elsewhere"))
    monkeypatch.setattr(sys, "argv", [".venv/bin/sizeup", "run"])
    monkeypatch.chdir(tmp_path)
    assert sizeup() == ".venv/bin/sizeup"  # as `make bench` starts it: not on PATH
    monkeypatch.setenv("PATH", str(venv))
    assert sizeup() == "sizeup"  # the one on PATH is this one
    monkeypatch.setattr(sys, "argv", ["/usr/lib/python3/harness/__main__.py"])
    assert sizeup() == "sizeup"  # `python -m harness`


def test_show_keeps_every_column_header_whole_at_100_columns(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["show", "results/reference/x86-64-2c-24g-4e6360dc-sizing.json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.split()[:1] == ["case"])
    assert max(map(len, lines)) <= 100 and "\u2026" not in header and header.split()[-1] == "memory"


def test_show_at_80_columns_keeps_each_name_whole_or_broken_after_its_at(capsys: pytest.CaptureFixture[str],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # 'xgboost_external@xgboost' had folded to 'xgboost_externa', 'l@', 'xgboost'
    assert cli.main(["show", "results/reference/x86-64-2c-24g-4e6360dc-sizing.json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(map(len, lines)) <= 80
    rows = [(i, line.split()[0]) for i, line in enumerate(lines) if line.startswith("  ") and "@" in line]
    assert len(rows) == 110  # every case, and only cases
    for i, name in rows:
        model, backend = name.split("@")
        assert model in {"xgboost", "xgboost_external", "hgb", "linear", "ridge_solve", "cnn", "tfidf_linear",
                         "embedding_bag", "transformer"}
        assert backend in {"xgboost", "sklearn", "numpy", "torch"} or not backend and lines[i + 1].startswith(
            "    xgboost ")  # the rest of the name, indented past the names
    said = " ".join(" ".join(lines).split())
    assert "every case that ran used 2 threads" in said and " thr " not in lines[2] + lines[3]


def test_show_tells_cases_apart_by_the_params_they_do_not_share(tmp_path: Path, capsys) -> None:
    cases = [records.Case("classification", "xgboost", "xgboost", 2000, t, params={"trees": n, "depth": 6})
             for n in (20, 40) for t in (1, 2)]
    unscored = builders.record(records.Case("classification", "xgboost", "xgboost", 4000, 1,
                                            params={"trees": 20, "depth": 6}), [0.1], quality=None)  # no quality
    path = builders.write(tmp_path / "r.json", [builders.record(c, [0.1, 0.1, 0.1]) for c in cases] + [unscored])
    assert cli.main(["show", path]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines if "@" in line]
    assert [(r[0], r[2]) for r in rows[:4]] == [(f"xgboost@xgboost,trees={n}", str(t))
                                                for n in (20, 40) for t in (1, 2)]
    section = next(line.split() for line in lines if line.startswith(" classification"))
    assert section == ["classification", "accuracy"] and all(r[-3] == "0.900" for r in rows[:4])  # said once, above


def test_show_wide_gives_every_column_whole_however_narrow_the_terminal(capsys: pytest.CaptureFixture[str],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")  # at 100 columns, every column but the case had been squeezed to nothing
    assert cli.main(["show", "--wide", "results/reference/x86-64-2c-24g-4e6360dc-sizing.json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if "case" in line and "status" in line)
    assert all(f" {name} " in header for name in ("fit s", "fit interval", "throughput", "fit CPU %", "peak memory"))
    row = next(line for line in lines if "classification/hgb@sklearn" in line and " 5,000 " in line)
    assert "\u2026" not in row and "75%" in row and "MiB" in row
