"""Contention: the rule on its own, and a real competing load during a real case."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness import cli
from harness.records import Case, Repeat
from harness.run import contention
from harness.run.runner import Limits, run_case
from tests.conftest import needs_quiet

pytestmark = pytest.mark.quiet  # what each test checks is how other processes' CPU is seen

SPIN = 6_000_000  # iterations of the spin model's loop: 0.15-0.3 s of one core here


def test_the_rule_allows_for_clock_ticks() -> None:
    assert contention.is_disturbed(0.3, seconds=1.0, cpus=2)
    assert not contention.is_disturbed(0.05, seconds=1.0, cpus=2)
    # Two ticks per CPU over a 40 ms window are 1 core of noise: 0.8 cores seen there prove nothing.
    assert not contention.is_disturbed(0.8, seconds=0.04, cpus=2)
    assert contention.allowance(1.0, cpus=64) == pytest.approx(0.1 + 2 * 64 / os.sysconf("SC_CLK_TCK"))
    assert contention.other_cores([(1.0, 0.5), (3.0, 0.1)]) == pytest.approx(0.15)
    assert contention.other_cores([]) is None


@contextmanager
def competing_load(processes: int) -> Iterator[list[subprocess.Popen]]:
    """Busy loops outside the case's process tree, as another benchmark on the machine would be."""
    procs = start_load(processes)
    try:
        yield procs
    finally:
        stop(procs)


def start_load(processes: int) -> list[subprocess.Popen]:
    # Each in its own session, like programs started from separate terminals: the kernel's autogroup
    # scheduling would otherwise share one CPU slice among them all.
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
            for _ in range(processes)]


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def spin_case(marker: Path) -> Case:
    return Case("faulty", "spin", "numpy", 100, 1, {"iterations": SPIN, "marker": str(marker), "tag": "fit"})


def fit_times(runs: list[Repeat]) -> list[float]:
    return [r.phases["fit"] for r in runs]


@pytest.mark.e2e
def test_repeats_run_under_a_competing_load_are_marked_and_replaced(tmp_path: Path) -> None:
    needs_quiet()  # the repeats outside the load this test makes must be clean
    cpus = len(os.sched_getaffinity(0))
    # The load runs from the start of repeat 2's fit to the start of repeat 4's: each fit writes a
    # line to the marker file as it starts (the cold run's is line 1).
    marker = tmp_path / "busy"
    load: list[subprocess.Popen] = []

    def compete() -> None:
        while _lines(marker) < 3:
            time.sleep(0.002)
        load.extend(start_load(cpus + 1))
        while _lines(marker) < 5:
            time.sleep(0.002)
        stop(load)

    competitor = threading.Thread(target=compete)
    competitor.start()
    try:
        record = run_case(spin_case(marker), Limits(8, 120, 4 * 2**30, 10, rerun_disturbed=2))
    finally:
        competitor.join(timeout=60)
        stop(load)
    assert record.status == "ok", record.reason
    warm = {r.repeat: r for r in record.runs if not r.cold}
    outside = [n for n, r in warm.items() if r.disturbed and n not in (2, 3)]
    if outside and not all(r.disturbed for r in warm.values()):  # a busy machine; every repeat flagged is a fault
        pytest.skip(f"other processes disturbed repeat(s) {outside}, outside the load this test made")
    assert warm[2].disturbed and warm[3].disturbed
    assert warm[3].other_cores > 0.5 * cpus  # cpus + 1 busy loops leave the case about a share of one
    # Two extra repeats replaced the disturbed ones, after the load was gone.
    assert [r.repeat for r in warm.values() if r.extra] == [9, 10]
    c = record.contention()
    assert c is not None and c.disturbed >= 2 and not c.counted
    used = record.warm_runs()
    assert used == [r for r in warm.values() if not r.disturbed] and len(used) >= 5
    # The load really slowed the repeat it covered, and the statistics do not carry that. (How close the
    # clean median comes to a quiet run's is measured by `make bench-self`: this VM drifts too much
    # between runs for a test to hold it to 10%.)
    assert warm[3].phases["fit"] > 1.25 * statistics.median(fit_times(used))


@pytest.mark.e2e
def test_a_busy_machine_is_reported_before_a_run(tmp_path: Path, capsys) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text('name = "t"\nrepeats = 0\n[[benchmark]]\nworkload = "faulty"\nmodels = ["ok"]\n')
    with competing_load(len(os.sched_getaffinity(0))):
        time.sleep(0.3)
        busy = contention.check_machine()
        assert busy.busy and busy.other_cores > 0.5 * busy.cpus
        assert cli.main(["run", "--suite", str(suite), "--results-dir", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "Warning: the machine is busy: other processes used" in out


def _lines(path: Path) -> int:
    return len(path.read_text().split()) if path.exists() else 0
