"""Property tests: random and hostile suites, result files and command lines. Each must be
accepted or refused with one line and exit code 2: never a traceback."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import cli, records
from harness.commands import run as run_command
from harness.errors import SizeupError
from harness.run import plan

# Same inputs on every run (CI must not fail on a new draw); HYPOTHESIS_PROFILE=explore searches afresh.
settings.register_profile("default", derandomize=True, deadline=None, max_examples=150,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", deadline=None, max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(__import__("os").environ.get("HYPOTHESIS_PROFILE", "default"))

HOSTILE_TEXT = ["", " ", "../../escaped", "x/../../y", "/", ".", "..", "[/x]", "[bold]x[/y]", "\x00", "nan", "inf",
                "-inf", "1e999", "-1", "0", "1.5", "80%", "0%", "1000%", "8GiB", "1TiB", "1b", "faulty", "ok", "sklearn",
                "quick", "é" * 200, "a" * 300, "\n", "\ud800", "\udcff"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-3, 3), st.floats(), st.sampled_from([math.nan, math.inf, 1e308]),
    st.text(max_size=20), st.sampled_from(HOSTILE_TEXT),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=12)

@contextlib.contextmanager
def captured() -> Any:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield out, err

def assert_one_line_refusal(code: int, err: str) -> None:
    assert code == 2, err
    assert err.startswith("sizeup") and err.count("\n") == 1 and "Traceback" not in err, err

# --- suite files -------------------------------------------------------------------------------------------------

def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v if x is not None) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items() if x is not None) + "}"
    return '""'  # TOML has no null

TOP_KEYS = ["name", "description", "repeats", "timeout_s", "memory_cap", "sample_hz", "rerun_disturbed"]
ENTRY_KEYS = ["workload", "sizes", "models", "backends", "threads", "params"]
suite_values = st.one_of(json_values, st.sampled_from(["faulty", "classification", ["ok"], ["sklearn"], [1], [100],
                                                      {"seconds": "x"}, {"seconds": 1}, {"trees": 1.5}]))

@st.composite
def suites(draw: Any) -> str:
    top = draw(st.dictionaries(st.sampled_from(TOP_KEYS) | st.text(max_size=6), suite_values, max_size=5))
    entries = draw(st.lists(st.dictionaries(st.sampled_from(ENTRY_KEYS) | st.text(max_size=6), suite_values,
                                            max_size=6), max_size=3))
    lines = [f"{json.dumps(k)} = {toml_value(v)}" for k, v in top.items() if v is not None]
    for entry in entries:
        lines += ["[[benchmark]]"] + [f"{json.dumps(k)} = {toml_value(v)}" for k, v in entry.items() if v is not None]
    return "\n".join(lines) + "\n"

@given(suites() | st.text(max_size=200))
def test_any_suite_file_is_a_plan_or_a_one_line_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "suite.toml")
        path.write_text(text, errors="surrogatepass")
        try:
            built = plan.build(plan.Choices(suite=str(path)), 1)
        except SizeupError as exc:
            assert "\n" not in str(exc) and str(exc)
            return
        assert built.cases and records.SAFE_NAME.fullmatch(built.suite)
        assert built.settings.repeats >= 0 and math.isfinite(built.settings.timeout_s) and built.settings.timeout_s > 0

# --- result files and journals -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_result() -> dict[str, Any]:
    """A result of real cases, one ok (two warm repeats, sampled) and one failed."""
    from harness.records import Case
    from harness.run import machine, runner
    from harness.run.plan import Plan, Settings

    cases = (Case("faulty", "ok", "numpy", 100, 1), Case("faulty", "raise", "numpy", 100, 1))
    run = runner.new_run(Plan("t", Settings(repeats=2), cases), machine.fingerprint())
    limits = runner.Limits(2, 60, 2**31, 20)
    with pytest.MonkeyPatch.context() as patch:  # module scope: the autouse fixture has not set it yet
        patch.setenv("SIZEUP_EXTRA_WORKLOADS", "tests.faulty")
        patch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
        run.cases.extend(runner.run_case(c, limits) for c in run.plan)
    assert [c.status for c in run.cases] == ["ok", "error"]
    return json.loads(records.dumps(run.to_dict()))

@st.composite
def mutations(draw: Any, doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` with one to three nested values replaced by hostile ones, or deleted."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        parent, key, node = None, None, doc
        for _ in range(draw(st.integers(0, 7))):
            if isinstance(node, dict) and node:
                k = draw(st.sampled_from(sorted(node)))
            elif isinstance(node, list) and node:
                k = draw(st.integers(0, len(node) - 1))
            else:
                break
            parent, key, node = node, k, node[k]
        if parent is None:
            continue
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[key]
        else:
            parent[key] = draw(json_values)
    return doc

def show_and_export(path: Path, out: Path) -> None:
    for argv in (["show", str(path)], ["export", "--format", "pytest-benchmark", str(path), "-o", str(out)]):
        with captured() as (_, err):
            code = cli.main(argv)
        if code != 0:
            assert_one_line_refusal(code, err.getvalue())
        else:
            assert "error" not in err.getvalue()

@given(data=st.data())
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_any_damaged_result_file_is_shown_or_refused_in_one_line(real_result: dict[str, Any], data: Any) -> None:
    doc = data.draw(mutations(real_result))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "r.json")
        path.write_text(json.dumps(doc))  # NaN and Infinity included, as older sizeup wrote them
        show_and_export(path, Path(tmp, "out.json"))

@given(data=st.data())
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_any_damaged_journal_is_shown_or_refused_in_one_line(real_result: dict[str, Any], data: Any) -> None:
    header = {"kind": "header", **{k: v for k, v in real_result.items() if k != "cases"}}
    lines = [header] + [{"kind": "case", "record": c} for c in real_result["cases"]]
    lines = data.draw(mutations({"lines": lines})).get("lines")
    lines = lines if isinstance(lines, list) else [lines]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, f"r{records.JOURNAL_SUFFIX}")
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        show_and_export(path, Path(tmp, "out.json"))

# --- command lines ---------------------------------------------------------------------------------------------------

RUN_FLAGS = ["--suite", "--workloads", "--models", "--backends", "--sizes", "--threads", "--repeats", "--timeout",
             "--memory-cap", "--sample-hz", "--rerun-disturbed", "--resume"]
tokens = st.one_of(st.sampled_from(RUN_FLAGS), st.sampled_from(HOSTILE_TEXT), st.text(max_size=12),
                   st.integers().map(str), st.floats().map(str), st.sampled_from(HOSTILE_TEXT).map(lambda t: f"x{t}.json"))

@given(command=st.sampled_from(["run", "show", "export", "list", "nope"]), args=st.lists(tokens, max_size=8))
def test_any_command_line_runs_or_is_refused_in_one_line(command: str, args: list[str]) -> None:
    started: list[int] = []

    def execute(run: Any, journal: Any, limits: Any, fingerprint: Any, console: Any, tracking: Any = None) -> int:
        started.append(len(run.plan))  # the arguments passed every check: running them is other tests' job
        return 0

    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        patch.setattr(run_command, "execute", execute)
        argv = [command, *args] + (["--results-dir", tmp] if command == "run" else [])
        with captured() as (_, err):
            try:
                code = cli.main(argv)
            except SystemExit as exc:  # argparse refuses before main's handler
                code = exc.code
        if code != 0:
            assert_one_line_refusal(code, err.getvalue())
        elif command == "run":
            assert started and started[0] > 0

# --- phase times the schema allows and no timer measures -------------------------------------------------------

REFERENCE = Path(__file__).resolve().parent.parent / "results" / "reference" / "x86-64-2c-24g-a9b1bd19-sizing.json"


@pytest.mark.parametrize(("poisoned", "seconds"), [("regression/hgb@sklearn", 0.0), ("regression", 5e-324),
                                                   ("regression", 1e308)])
def test_unmeasurable_phase_times_are_left_out_of_every_analysis(tmp_path: Path, poisoned: str, seconds: float) -> None:
    from harness.analysis import compute, frame

    doc = json.loads(REFERENCE.read_text())
    doc["cases"] = [c for c in doc["cases"] if c["case"]["workload"] == "regression" and c["case"]["model"] != "linear"]
    for c in doc["cases"]:
        if f"{c['case']['workload']}/{c['case']['model']}@{c['case']['backend']}".startswith(poisoned):
            for run in c.get("runs", []):
                run["phases"] = dict.fromkeys(run["phases"], seconds)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    analysis = compute.analyse(frame.load([str(path)]))
    assert analysis.times_left_out > 0
    fitted = {m.config.split("/n=")[0] for m in analysis.sizes()}
    assert not any(c.startswith(poisoned) for c in fitted)
    assert fitted or poisoned == "regression"
    for argv in (["fit", str(path), "--target", "1000000"], ["report", str(path), "-o", str(tmp_path / "rep")],
                 ["recommend", str(path), "--workload", "regression", "--rows", "1000000"], ["compare", str(path)]):
        with captured() as (_, err):
            code = cli.main(argv)
        if code != 0:
            assert_one_line_refusal(code, err.getvalue())


# --- no path from a file's contents --------------------------------------------------------------------------------

KEEP = {"schema", "status", "kind", "version", "started", "finished", "sizeup_version", "unit", "metric"}


def traversed(node: Any, key: str = "") -> Any:
    """Every string a reader could take a name from, made a path out of its folder."""
    if isinstance(node, dict):
        return {k: traversed(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [traversed(v, key) for v in node]
    return "../../escaped/x" if isinstance(node, str) and key not in KEEP else node


def test_no_reader_writes_where_a_files_contents_point(real_result: dict[str, Any], tmp_path: Path) -> None:
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    result = work / "r.json"
    result.write_text(json.dumps(traversed(real_result)))
    journal = work / f"j{records.JOURNAL_SUFFIX}"
    header = {"kind": "header", **{k: v for k, v in traversed(real_result).items() if k != "cases"}}
    journal.write_text(json.dumps(header) + "\n")
    results = work / "results"
    codes = []
    for argv in (["show", str(result)], ["fit", str(result)], ["compare", str(result)], ["recommend", str(result)],
                 ["report", str(result), "--results-dir", str(results)], ["show", str(journal)],
                 ["export", "--format", "pytest-benchmark", str(result), "-o", str(work / "out.json")],
                 ["run", "--resume", str(journal), "--results-dir", str(results)]):
        with captured() as (_, err):
            code = cli.main(argv)
        codes.append(code)
        if code == 2:
            assert_one_line_refusal(code, err.getvalue())
    assert 0 in codes  # the file was read, not only refused
    written = {p for p in tmp_path.rglob("*")} - {work.parent, work, result, journal}
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "a" / "escaped").exists()
    beside = {work / "out.json", work / "j.json"}  # the user's -o, and a resumed journal's result beside it
    assert all(p in beside or results in p.parents or p == results for p in written), written


@pytest.mark.e2e
def test_no_path_comes_from_a_catalog_or_a_users_table(real_result: dict[str, Any], tmp_path: Path) -> None:
    """A catalog whose names, and a `--data` table whose column names and values, are traversals: the run, its
    report and the recommendations write under the results folder only."""
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    evil = "../../escaped/x"
    vms = work / "vms.csv"
    vms.write_text("name,kind,vcpus,memory_gib,gpu_model,gpu_count,gpu_memory_gib,price_per_hour,region,source,date\n"
                   f"{evil},general,2,8,,0,0,0.1,{evil},{evil},2026-11-28\n"  # a date is refused unless one
                   f"/tmp/{evil},gpu,4,16,{evil},1,80,0.2,eastus,x,2026-11-28\n")
    rows = 60
    table = work / "t.csv"
    table.write_text(f"{evil},/etc/passwd,{evil}/target\n" + "".join(
        f"{i % 7},{evil if i % 2 else '/etc/passwd'},{i % 2}\n" for i in range(rows)))
    result = work / "r.json"
    result.write_text(json.dumps(real_result))
    results = work / "results"
    for argv in (["catalog", str(vms)], ["recommend", str(result), "--catalog", str(vms)],
                 ["run", "--data", str(table), "--target", f"{evil}/target", "--models", "linear", "--backends",
                  "sklearn", "--repeats", "0", "--results-dir", str(results)]):
        with captured() as (_, err):
            assert cli.main(argv) in (0, 3), err.getvalue()
    (run,) = results.rglob("*.json")
    with captured():
        assert cli.main(["report", str(run), "--results-dir", str(results)]) == 0
    written = set(tmp_path.rglob("*")) - {work.parent, work, vms, table, result}
    assert written and all(p == results or results in p.parents for p in written), written


# --- users' tables ------------------------------------------------------------------------------------------------

CELLS = ["", "nan", "NaN", "inf", "-inf", "1e308", "-1e308", "1e999", "5e-324", "0", "1", "-1", "2", "0.5", "3.25",
         "x", "a,b", 'say "hi"', "2024-01-01", "2024-01-02", "2024-13-45", "../../escaped", "\x00", "é", "True"]


def column(kind: str, rows: int, rng: np.random.Generator) -> list[str]:
    if kind == "number":
        return [repr(float(v)) for v in rng.normal(0, 10, rows)]
    if kind == "classes":
        return [str(v) for v in rng.integers(0, 3, rows)]
    if kind == "category":
        return list(rng.choice(["red", "green", "blue"], rows))
    if kind == "date":
        return [str(d) for d in np.datetime64("2024-01-01") + np.arange(rows)]
    return [" ".join(rng.choice(["alpha", "beta", "gamma", "delta"], 12)) for _ in range(rows)]  # text


@st.composite
def tables(draw: Any) -> tuple[list[str], list[list[str]]]:
    """Plausible tables (numbers, classes, categories, dates, text; a target `y`) with a few hostile cells and,
    sometimes, an odd or repeated column name."""
    rows = draw(st.integers(0, 40) | st.integers(30, 200))
    kinds = draw(st.lists(st.sampled_from(["number", "category", "date", "text", "classes"]), min_size=1, max_size=3))
    kinds.append(draw(st.sampled_from(["classes", "number"])))
    names = [f"c{i}" for i in range(len(kinds) - 1)] + ["y"]
    if draw(st.booleans()):
        names[0] = draw(st.sampled_from(["y", "", "../x", "é", "c0.1", "date"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    columns = [column(kind, rows, rng) for kind in kinds]
    for row, col, cell in draw(st.lists(st.tuples(st.integers(0, max(rows - 1, 0)), st.integers(0, len(kinds) - 1),
                                                  st.sampled_from(CELLS)), max_size=3)):
        if rows:
            columns[col][row] = cell
    return names, [list(row) for row in zip(*columns)]


@settings(max_examples=200)
@given(tables(), st.sampled_from([None, "y", "y", "c0", "date"]), st.sampled_from([None, "classification", "regression",
                                                                             "forecasting", "nlp"]),
       st.sampled_from(["\r\n", "\n", "\r"]))
def test_any_table_is_refused_in_one_line_or_every_planned_case_can_read_it(
        table: tuple[list[str], list[list[str]]], target: str | None, task: str | None, line_end: str) -> None:
    """Identification either refuses a table (SizeupError) or hands the workload data it can learn from, at every
    planned size: finite numbers (features may miss values: the models take NaN). Bad values fail at
    identification, never per case."""
    import csv

    from harness.run import userdata
    from workloads import catalogue
    from workloads.base import ModelContext

    names, rows = table
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "t.csv")
        with path.open("w", newline="") as f:
            csv.writer(f, lineterminator=line_end).writerows([names, *rows])
        try:
            found = userdata.identify(path, target, task)
            _, suite = userdata.plan(found)
        except SizeupError as exc:
            assert "\n" not in str(exc).strip()
            return
        (bench,) = suite["benchmark"]
        workload = catalogue()[bench["workload"]]
        params = {**workload.params, **bench["params"]}
        for size in {bench["sweep"]["start"], bench["sweep"]["max_size"]}:
            split = workload.generate(size, 0, params)
            for part, missing in ((split.X_train, True), (split.y_train, False), (split.X_test, True),
                                  (split.y_test, False)):
                values = np.asarray(part)
                if values.dtype.kind in "fiu":
                    values = np.abs(values.astype(np.float64))
                    assert (values[~np.isnan(values)] if missing else values).max(initial=0) < 1e300  # inf fails
            if linear := next((m for m in workload.models if m.name == "linear"), None):  # the one without NaN
                linear.build(ModelContext(threads=1, seed=0, device="cpu", params=params)).fit(split.X_train,
                                                                                               split.y_train)


@settings(max_examples=100)
@given(st.binary(max_size=2000) | st.lists(st.sampled_from([b"a", b",", b"1", b"\r", b"\n", b"\x00", b'"', b"\xff"]),
                                          max_size=400).map(b"".join))
def test_any_bytes_named_csv_are_identified_or_refused_in_one_line(content: bytes) -> None:
    from harness.run import userdata

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "t.csv")
        path.write_bytes(content)
        try:
            userdata.identify(path)
        except SizeupError as exc:
            assert "\n" not in str(exc).strip()
