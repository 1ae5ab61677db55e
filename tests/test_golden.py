"""Golden outputs: what the analysis commands print for the committed reference results.

A restructuring must leave every one of these byte for byte as it was (timestamps and paths
aside); a commit that changes one on purpose says why and regenerates them with

    SIZEUP_GOLDEN=write .venv/bin/python -m pytest tests/test_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness import cli
from harness.analysis import compute, frame

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).with_name("golden")
REF = "results/reference/x86-64-2c-24g-a9b1bd19"

# (file name, command line); the report's Markdown is compared as well as what it prints.
COMMANDS = [
    *[(f"recommend-{w}-{n}.json", ["recommend", "results/reference", "--workload", w, "--rows", str(n), "--json"])
      for w, sizes in {"classification": (640_000, 3_000_000_000), "regression": (640_000, 3_000_000_000),
                       "forecasting": (1_600, 2_000_000), "vision": (8_000, 1_000_000),
                       "nlp": (16_000, 5_000_000)}.items() for n in sizes],
    ("recommend-regression-budget.json", ["recommend", "results/reference", "--workload", "regression", "--rows",
                                          "50000000", "--budget", "60", "--json"]),
    ("recommend-summary.json", ["recommend", "results/reference", "--json"]),
    ("recommend-classification.txt", ["recommend", "results/reference", "--workload", "classification", "--rows",
                                      "640000"]),
    ("fit-sizing-check.txt", ["fit", f"{REF}-sizing.json", "--check", f"{REF}-sizing-at4x.json"]),
    ("fit-spark.txt", ["fit", f"{REF}-spark.json", "--workload", "classification", "--target", "160000", "--cores",
                       "8"]),
    ("fit-memory.txt", ["fit", f"{REF}-memory.json", "--workload", "classification", "--target", "6400000"]),
    ("show-spark.txt", ["show", f"{REF}-spark.json"]),
    ("show-sizing.txt", ["show", f"{REF}-sizing.json"]),
    ("show-memory.txt", ["show", f"{REF}-memory.json"]),
    ("show-spark-wide.txt", ["show", "--wide", f"{REF}-spark.json"]),
    ("show-sizing-wide.txt", ["show", "--wide", f"{REF}-sizing.json"]),
    ("compare-sizing-spark.txt", ["compare", f"{REF}-sizing.json", f"{REF}-spark.json"]),
]


def output(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.main(args) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("SIZEUP_GOLDEN") == "write":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden file {path}: write it with SIZEUP_GOLDEN=write"
    assert text == path.read_text(), f"{name} differs from its golden file"


@pytest.fixture(autouse=True)
def at_the_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # paths in the outputs are then relative, the same on every machine


@pytest.fixture(autouse=True, scope="module")
def analysed_once():
    """The references are loaded and analysed once for all these commands (as one command would), not once each:
    the same objects, so what one command printed another prints alike, in a third of the time."""
    loaded, analysed = {}, {}
    load, analyse = frame.load, compute.analyse

    def load_once(patterns, passed=None):  # the references hold no unreadable file to pass over
        key = tuple(patterns)
        return loaded[key] if key in loaded else loaded.setdefault(key, load(patterns, passed))

    def analyse_once(items, workload=None, rows=None):  # `rows`, where given, are those of `items`
        key = (tuple(str(item.path) for item in items), workload)
        return analysed[key] if key in analysed else analysed.setdefault(key, analyse(items, workload, rows))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(frame, "load", load_once)
        patch.setattr(compute, "analyse", analyse_once)
        yield


@pytest.mark.parametrize("name, args", COMMANDS, ids=[name for name, _ in COMMANDS])
def test_an_analysis_command_prints_what_it_printed_before(name: str, args: list[str],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    check(name, output(args, capsys))


def test_the_report_says_what_it_said_before(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    printed = output(["report", "results/reference", "-o", str(tmp_path / "report")], capsys)
    check("report-printed.txt", printed.replace(str(tmp_path), "TMP"))
    check("report.md", (tmp_path / "report.md").read_text())
