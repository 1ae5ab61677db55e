"""Are sizeup's numbers right? Checked against independent meters on the same worker (`make bench-self`).

- Wall time and peak memory against `/usr/bin/time -v` wrapped around the worker; CPU seconds
  per phase against a poller that reads the worker's per-thread run time from /proc
  (/proc/<pid>/task/*/schedstat, nanoseconds) at 100 Hz, interpolated at the phase stamps.
- Contention: a real case run quiet and under a competing load, interleaved (quiet, loaded,
  quiet, ...); the load's own start and stop times say which repeats it overlapped.

Each test prints its figures and asserts the bounds the measurement promises.
"""

from __future__ import annotations

import bisect
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from harness.records import Case
from harness.run import runner
from harness.run.runner import Limits, run_case

CASES = [
    Case("classification", "xgboost", "xgboost", 20_000, 2),
    Case("vision", "cnn", "torch", 4_000, 2),
    Case("nlp", "embedding_bag", "torch", 10_000, 2),
]
LIMITS = Limits(repeats=3, timeout_s=600, memory_cap_bytes=16 * 2**30, sample_hz=10)


class ProcPoller(threading.Thread):
    """Reads the worker's CPU (sum of its threads' schedstat run time) at `hz`, independently of sizeup."""

    def __init__(self, parent: int, hz: float = 100) -> None:
        super().__init__(daemon=True)
        self.parent, self.interval = parent, 1 / hz
        self.t: list[float] = []
        self.cpu: list[float] = []

    def run(self) -> None:
        pid = None
        while pid is None:  # the worker is the child of /usr/bin/time, itself the child of this process
            for child in psutil.Process(self.parent).children(recursive=True):
                command = _cmdline(child)
                if "harness.run.worker" in command and command[0] != "/usr/bin/time":
                    pid = child.pid
            time.sleep(0.001)
        while True:
            try:
                total = sum(int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
                            for tid in os.listdir(f"/proc/{pid}/task"))
            except (OSError, ValueError):
                return  # the worker has exited
            self.t.append(time.monotonic())
            self.cpu.append(total / 1e9)
            time.sleep(self.interval)

    def at(self, t: float) -> float:
        i = bisect.bisect_left(self.t, t)
        if i == 0 or i == len(self.t):
            raise ValueError("outside the polled span")
        t0, t1, c0, c1 = self.t[i - 1], self.t[i], self.cpu[i - 1], self.cpu[i]
        return c0 + (c1 - c0) * (t - t0) / (t1 - t0)


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def time_v(path: Path) -> dict[str, float]:
    text = path.read_text()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", text)
    hours, minutes, seconds = (float(g) if g else 0.0 for g in wall.groups())
    return {
        "wall_s": hours * 3600 + minutes * 60 + seconds,
        "cpu_s": float(re.search(r"User time \(seconds\): ([\d.]+)", text).group(1))
        + float(re.search(r"System time \(seconds\): ([\d.]+)", text).group(1)),
        "maxrss_bytes": int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) * 1024,
    }


@pytest.mark.skipif(not Path("/usr/bin/time").exists(), reason="needs GNU time (/usr/bin/time)")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_figures_agree_with_independent_meters(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report = tmp_path / "time-v.txt"
    monkeypatch.setattr(runner, "WORKER_COMMAND", ("/usr/bin/time", "-v", "-o", str(report), *runner.WORKER_COMMAND))
    poller = ProcPoller(os.getpid())
    poller.start()
    record = run_case(case, LIMITS)
    poller.join(timeout=10)
    assert record.status == "ok", record.reason
    gnu = time_v(report)

    wall_error = record.wall_s / gnu["wall_s"] - 1
    peak_error = record.telemetry["peak_memory_bytes"] / gnu["maxrss_bytes"] - 1
    rows = []
    for run in record.runs:
        for phase, (start, end) in run.spans.items():
            if run.phases[phase] >= 0.2:
                polled = poller.at(end) - poller.at(start)
                rows.append((run.repeat, phase, run.phases[phase], run.cpu_s[phase], polled))
    print(f"\n{case.id}: wall {record.wall_s:.3f} s vs time -v {gnu['wall_s']:.2f} s ({wall_error:+.2%}); "
          f"peak {record.telemetry['peak_memory_bytes'] / 2**20:.1f} MiB vs time -v "
          f"{gnu['maxrss_bytes'] / 2**20:.1f} MiB ({peak_error:+.2%}; sampled at 10 Hz "
          f"{record.telemetry['sampled_peak_bytes'] / 2**20:.1f} MiB); "
          f"worker CPU {record.telemetry['worker_cpu_s']:.2f} s vs time -v {gnu['cpu_s']:.2f} s")
    for repeat, phase, seconds, cpu, polled in rows:
        print(f"  repeat {repeat} {phase:>8}: {seconds:.3f} s, CPU {cpu:.3f} s vs /proc {polled:.3f} s "
              f"({cpu / polled - 1:+.2%})")
    assert abs(wall_error) < 0.01 + 0.01 / gnu["wall_s"]  # time -v prints hundredths of a second
    assert abs(peak_error) < 0.02
    assert rows and all(abs(cpu / polled - 1) < 0.02 for *_, cpu, polled in rows)


CONTENDED = Case("classification", "xgboost", "xgboost", 20_000, 2)
ROUNDS = 4  # loaded runs, each between two quiet ones: Q L Q L ... Q


def test_disturbed_repeats_are_marked_and_the_clean_median_holds() -> None:
    """A competing load (cpus + 1 busy loops) runs over warm repeats 3-5 of each loaded case, timed
    from the quiet run before it. The clean repeats' median is compared with the quiet runs around
    it; quiet against quiet is the control: how well this machine repeats itself with no load."""
    cpus = len(os.sched_getaffinity(0))
    limits = Limits(repeats=8, timeout_s=600, memory_cap_bytes=16 * 2**30, sample_hz=10)
    quiet, loaded = [], []
    for _ in range(ROUNDS):
        quiet.append(run_case(CONTENDED, limits))
        after_s, until_s = (_offset(quiet[-1], repeat) for repeat in (3, 6))
        window: list[float] = []
        timer = threading.Thread(target=_load, args=(cpus + 1, after_s, until_s - after_s, window))
        timer.start()
        loaded.append((run_case(CONTENDED, limits), window))
        timer.join()
    quiet.append(run_case(CONTENDED, limits))

    missed, marked, ratios, controls = 0, 0, [], []
    for (record, (start, stop)), before, after in zip(loaded, quiet, quiet[1:]):
        baseline = statistics.median(_fits(before.warm_runs()) + _fits(after.warm_runs()))
        everything = [r for r in record.runs if not r.cold]
        clean = statistics.median(_fits(record.warm_runs()))
        ratios.append(clean / baseline)
        controls.append(statistics.median(_fits(after.warm_runs())) / statistics.median(_fits(before.warm_runs())))
        print(f"\nquiet runs before and after: fit median {baseline:.3f} s (after/before {controls[-1] - 1:+.1%}); "
              f"loaded run: clean repeats {clean:.3f} s ({ratios[-1] - 1:+.1%}), all repeats "
              f"{statistics.median(_fits(everything)):.3f} s")
        for run in everything:
            overlap = _overlap(run, start, stop)
            missed += overlap > 0.2 and not run.disturbed
            marked += bool(run.disturbed)
            print(f"  repeat {run['repeat']}: fit {run['phases']['fit']:.3f} s, {overlap:.0%} under the load, "
                  f"other {run['other_cores']:.2f} cores, {'disturbed' if run['disturbed'] else 'clean'}")
    print(f"\nclean/quiet over {ROUNDS} rounds: {', '.join(f'{r - 1:+.1%}' for r in ratios)}; control, quiet/quiet: "
          f"{', '.join(f'{c - 1:+.1%}' for c in controls)}; disturbed repeats marked {marked}, missed {missed}")
    assert missed == 0 and marked >= ROUNDS
    assert abs(statistics.median(ratios) - 1) < 0.10


def _load(processes: int, after_s: float, for_s: float, window: list[float]) -> None:
    time.sleep(after_s)
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
             for _ in range(processes)]
    window.append(time.monotonic())
    time.sleep(for_s)
    for p in procs:
        p.kill()
        p.wait()
    window.append(time.monotonic())


def _offset(record: runner.CaseRecord, repeat: int) -> float:
    """Seconds from the worker's spawn to the start of `repeat`."""
    spawned = record.runs[0].spans["startup"][0] - record.telemetry["spawn_s"]
    return min(s for s, _ in record.runs[repeat].spans.values()) - spawned


def _overlap(run: dict, start: float, stop: float) -> float:
    """Share of a repeat's timed phases that ran while the load was on."""
    spans = run.spans.values()
    inside = sum(max(0.0, min(e, stop) - max(s, start)) for s, e in spans)
    return inside / sum(e - s for s, e in spans)


def _fits(runs: list[dict]) -> list[float]:
    return [r.phases["fit"] for r in runs]
