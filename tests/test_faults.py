"""Fault injection with real processes: however a case or the harness ends, every finished
record is kept and nothing the run started is left running."""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest

from harness import records
from harness.run import lifeline
from tests.started import default_stop_signals

SIZEUP = [sys.executable, "-m", "harness"]


def suite(path: Path, cases: list[tuple[str, dict]], settings: str = "") -> Path:
    """A suite of faulty cases, each (model, params); `settings` lines override repeats = 0, timeout_s = 60."""
    body = "".join(f'[[benchmark]]\nworkload = "faulty"\nmodels = ["{model}"]\nparams = {json.dumps(params)}\n'
                   .replace('": ', '" = ') for model, params in cases)
    path.write_text(f'name = "faults"\n{settings or "repeats = 0"}\n'
                    f'{"" if "timeout_s" in settings else "timeout_s = 60"}\n{body}')
    return path


def leftovers(marker: str, tmp: Path | None = None) -> list[str]:
    """Live processes with `marker` in their command line, or of a case started with TMPDIR under `tmp`
    (the case token and that TMPDIR in their environment)."""
    found = []
    for p in psutil.process_iter(["cmdline", "environ", "status"]):
        if p.info["status"] == psutil.STATUS_ZOMBIE or p.pid == os.getpid():
            continue
        command, env = " ".join(p.info["cmdline"] or []), p.info["environ"] or {}
        if marker in command or (lifeline.TOKEN_VAR in env and tmp is not None and under(env.get("TMPDIR"), tmp)):
            found.append(f"{p.pid}: {command}")
    return found


def under(folder: str | None, tmp: Path) -> bool:
    """A worker's TMPDIR is its case's own folder, inside the TMPDIR the harness was given."""
    return folder is not None and Path(folder).is_relative_to(tmp)


def eventually_none(marker: str, tmp: Path, seconds: float = 10.0) -> list[str]:
    deadline = time.monotonic() + seconds
    while (found := leftovers(marker, tmp)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def start(args: list[str], tmp_path: Path, preexec_fn=None, **kwargs) -> subprocess.Popen[str]:
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}  # where the harness makes its case folders
    (tmp_path / "tmp").mkdir(exist_ok=True)

    def prepare() -> None:
        default_stop_signals()
        if preexec_fn is not None:
            preexec_fn()

    return subprocess.Popen([*SIZEUP, *args], env=env, **{"stdout": subprocess.PIPE, "stderr": subprocess.PIPE,
                                                          **kwargs}, text=True, preexec_fn=prepare)


def finished_ids(stdout: str) -> set[str]:
    """Cases the progress display reported: each is printed only after its record is in the journal."""
    return {line.split()[1] for line in stdout.splitlines()
            if line.split()[:1] and line.split()[0] in records.STATUSES and len(line.split()) > 1}


def wait_for(condition, seconds: float = 60.0, step: float = 0.01) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(step)


def worker_started(tmp: Path) -> bool:
    return any(lifeline.TOKEN_VAR in (env := p.info["environ"] or {}) and under(env.get("TMPDIR"), tmp)
               for p in psutil.process_iter(["environ"]) if p.pid != os.getpid())


MOMENTS = {
    "at start": lambda marker, tag, tmp: time.sleep(0.05),  # the harness is still importing
    "as a worker spawns": lambda marker, tag, tmp: wait_for(lambda: worker_started(tmp), step=0.002),
    "mid-case, orphans out": lambda marker, tag, tmp: wait_for(lambda: marker.exists() and tag in marker.read_text()),
}


@pytest.mark.parametrize("moment", list(MOMENTS))
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL],
                         ids=lambda s: signal.Signals(s).name)
def test_a_harness_stopped_by_a_signal_keeps_every_record_and_leaves_no_process(
        signum: int, moment: str, tmp_path: Path) -> None:
    marker, tag = tmp_path / "marker", f"sizeup-fault-{os.getpid()}-{time.monotonic_ns()}"
    # Case a outlives the 3 s the check below allows, so a worker that survived the harness would be seen;
    # mid-case, the signal comes after case a has finished, so it need not be long.
    a_seconds = 0.5 if moment == "mid-case, orphans out" else 6.0
    cases = [("sleep", {"tag": "a", "marker": str(marker), "seconds": a_seconds}),
             ("leave_daemons", {"tag": tag, "marker": str(marker), "seconds": 30.0}),
             ("ok", {"tag": "c", "marker": str(marker)})]
    plan = suite(tmp_path / "s.toml", cases)
    root = tmp_path / "results"
    harness = start(["run", "--suite", str(plan), "--results-dir", str(root)], tmp_path)
    MOMENTS[moment](marker, tag, tmp_path / "tmp")
    harness.send_signal(signum)
    out, err = harness.communicate(timeout=60)

    if moment == "at start":
        # Before sizeup's own code runs, a signal ends Python the default way; for Ctrl-C while the
        # interpreter is still importing sizeup, that is Python's own KeyboardInterrupt report, and
        # while it is still importing `site`, its "Fatal Python error" and exit status 1.
        early = signum == signal.SIGINT and "init_import_site" in err and harness.returncode == 1
        assert early or harness.returncode in (-signum, 128 + signum), err
        assert "Traceback" not in err or err.rstrip().endswith("KeyboardInterrupt"), err
    else:
        assert harness.returncode == (-signum if signum == signal.SIGKILL else 128 + signum), err
        assert "Traceback" not in err
    assert eventually_none(tag, tmp_path / "tmp", seconds=3) == []  # neither workers nor their orphans
    wait_for(lambda: not any((tmp_path / "tmp").iterdir()), seconds=10)  # no case folder left behind
    journals = list(root.glob(f"*/*{records.JOURNAL_SUFFIX}"))
    if journals:
        run = records.load(journals[0])
        assert finished_ids(out) <= {c.id for c in run.cases}  # zero finished records lost
    if signum != signal.SIGKILL and moment != "at start":
        # On one line, whatever the width: the command is pasted.
        assert any(line.endswith(f"continue with: sizeup run --resume {journals[0]}") for line in out.splitlines())


def test_a_case_that_leaves_orphans_behind_has_them_killed_and_named(tmp_path: Path) -> None:
    from harness.records import Case
    from harness.run.runner import Limits, run_case

    tag = f"sizeup-orphans-{time.monotonic_ns()}"
    record = run_case(Case("faulty", "leave_daemons", "numpy", 100, 1, {"tag": tag}),
                      Limits(0, 60, 4 * 2**30, 10))
    assert record.status == "ok", record.reason
    assert leftovers(tag) == []  # gone before the next case starts, not eventually
    assert len(record.telemetry["leftover_processes"]) == 2  # one kept the case's token, one cleared it


def test_every_way_a_case_can_fail_is_one_record_and_exit_code_3(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    cases = [("raise", {"tag": "[/x] a [bold]message[/y]"}), ("segfault", {}), ("realtime_signal", {}),
             ("hog", {}), ("sleep", {"seconds": 30.0, "tag": "[/x]"}), ("ok", {"marker": str(marker)})]
    # The hog must reach its cap before the timeout that ends the sleep: with 4 s, on CI beside another test,
    # it timed out first once.
    plan = suite(tmp_path / "s.toml", cases, settings='repeats = 0\ntimeout_s = 10\nmemory_cap = "600MiB"')
    harness = start(["run", "--suite", str(plan), "--results-dir", str(tmp_path / "r")], tmp_path)
    out, err = harness.communicate(timeout=120)
    assert harness.returncode == 3, err
    (path,) = (tmp_path / "r").glob("*/*.json")
    run = records.load(path)
    by_model = {c.case.model: c for c in run.cases}
    assert {m: c.status for m, c in by_model.items()} == {
        "raise": "error", "segfault": "crashed", "realtime_signal": "crashed", "hog": "oom", "sleep": "timeout",
        "ok": "ok"}
    assert by_model["raise"].reason == "ValueError: [/x] a [bold]message[/y]"
    assert "SIGRTMIN+2" in by_model["realtime_signal"].reason
    assert by_model["realtime_signal"].exit["signal"] == "SIGRTMIN+2"
    assert "[/x] a [bold]message[/y]" in out and "cases failed" in out  # printed as it is, not as markup
    show = subprocess.run([*SIZEUP, "show", str(path)], capture_output=True, text=True, timeout=60)
    assert show.returncode == 0, show.stderr
    assert "seconds=30.0,tag=[/x]" in show.stdout.replace("\n", "")
    assert leftovers("sizeup-no-marker", tmp_path / "tmp") == []


def test_output_floods_are_cut_to_a_bounded_tail(tmp_path: Path) -> None:
    """A case printing 512 MiB leaves the harness's memory (and the disk) as it was."""
    code = (
        "import resource, sys\n"
        "from harness.records import Case\n"
        "from harness.run.runner import Limits, run_case\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "rec = run_case(Case('faulty', 'flood', 'numpy', 100, 1, {'mib': 512}), Limits(0, 120, 2**32, 10))\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(rec.status, rec.telemetry['output_bytes'], (after - before) // 1024, len(rec.log_tail or ''))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "TMPDIR": str(tmp_path)})
    status, printed, grew_mib, _ = done.stdout.split()
    assert status == "ok" and int(printed) == 512 * 2**20 + len("the last line\n")
    assert int(grew_mib) < 32, f"the harness grew by {grew_mib} MiB reading a 512 MiB output"
    assert list(tmp_path.iterdir()) == []

    from harness.records import Case
    from harness.run.runner import Limits, run_case

    failing = run_case(Case("faulty", "flood", "numpy", 100, 1, {"mib": 8}), Limits(0, 60, 2**32, 0))
    assert failing.status == "ok" and failing.log_tail is None  # the tail is kept for failed cases only


def test_the_worker_never_imports_from_the_directory_sizeup_starts_in(tmp_path: Path) -> None:
    for shadow in ("threadpoolctl", "xgboost", "sklearn"):
        (tmp_path / f"{shadow}.py").write_text("raise SystemExit('imported a stray module')\n")
    # A real scikit-learn case: the faulty workloads run on the numpy backend, which imports none of these.
    harness = start(["run", "--workloads", "diabetes", "--models", "linear", "--backends", "sklearn", "--sizes", "50",
                     "--repeats", "0", "--results-dir", str(tmp_path / "r")], tmp_path, cwd=tmp_path)
    out, err = harness.communicate(timeout=60)
    assert harness.returncode == 0, out + err
    (path,) = (tmp_path / "r").glob("*/*.json")
    record = records.load(path).cases[0]
    assert record.status == "ok" and record.threads["threadpools"]


def test_two_runs_at_once_each_write_their_own_result(tmp_path: Path) -> None:
    # the first case outlasts the closing: its line is written to a closed pipe
    plan = suite(tmp_path / "s.toml", [("sleep", {"tag": "a", "marker": str(tmp_path / "marker"), "seconds": 2.0}),
                                       ("ok", {"tag": "b"})])
    root = tmp_path / "r"
    harnesses = [start(["run", "--suite", str(plan), "--results-dir", str(root)], tmp_path) for _ in range(2)]
    for h in harnesses:
        h.communicate(timeout=120)
        assert h.returncode == 0
    finals = sorted(root.glob("*/*.json"))
    assert len(finals) == 2 and all(records.load(p).complete and len(records.load(p).cases) == 2 for p in finals)


def test_two_resumes_of_one_journal_run_each_case_once(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    plan = suite(tmp_path / "s.toml", [("ok", {"tag": "a", "marker": str(marker)}),
                                       ("sleep", {"tag": "b", "marker": str(marker), "seconds": 3.0}),
                                       ("ok", {"tag": "c", "marker": str(marker)})])
    harness = start(["run", "--suite", str(plan), "--results-dir", str(tmp_path / "r")], tmp_path)
    wait_for(lambda: marker.exists() and "b" in marker.read_text().split())
    harness.kill()
    harness.communicate()
    (journal,) = (tmp_path / "r").glob(f"*/*{records.JOURNAL_SUFFIX}")
    marker.write_text("")

    resumes = [start(["run", "--resume", str(journal)], tmp_path) for _ in range(2)]
    outcomes = sorted((h.communicate(timeout=120)[1], h.returncode) for h in resumes)
    codes = sorted(code for _, code in outcomes)
    assert codes == [0, 2], outcomes
    refused = next(err for err, code in outcomes if code == 2)
    assert "still going in another process" in refused or "does not exist" in refused
    assert Counter(marker.read_text().split()) == {"b": 1, "c": 1}  # each pending case ran once
    final = records.load(records.final_path(journal))
    assert final.complete and [c.case.params["tag"] for c in final.cases] == ["a", "b", "c"]


def test_a_plain_resume_never_takes_over_a_live_run(tmp_path: Path) -> None:
    plan = suite(tmp_path / "s.toml", [("sleep", {"seconds": 4.0})])
    root = tmp_path / "r"
    live = start(["run", "--suite", str(plan), "--results-dir", str(root)], tmp_path)
    wait_for(lambda: any(root.glob(f"*/*{records.JOURNAL_SUFFIX}")))
    resume = subprocess.run([*SIZEUP, "run", "--resume", "--results-dir", str(root)], capture_output=True, text=True,
                            timeout=60)
    assert resume.returncode == 2 and "1 in use by runs still going" in resume.stderr
    live.communicate(timeout=60)
    assert live.returncode == 0


def test_a_renamed_journal_resumes_where_it_is_and_a_copy_leaves_the_original_alone(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    plan = suite(tmp_path / "s.toml", [("ok", {"tag": "a", "marker": str(marker)}),
                                       ("sleep", {"tag": "b", "marker": str(marker), "seconds": 30.0})])
    harness = start(["run", "--suite", str(plan), "--results-dir", str(tmp_path / "r")], tmp_path)
    wait_for(lambda: marker.exists() and "b" in marker.read_text().split())
    harness.kill()
    harness.communicate()
    (original,) = (tmp_path / "r").glob(f"*/*{records.JOURNAL_SUFFIX}")
    before = original.read_bytes()
    copy = tmp_path / "elsewhere" / f"renamed{records.JOURNAL_SUFFIX}"
    copy.parent.mkdir()
    copy.write_bytes(before)
    # The pending case sleeps 30 s: stop the resumed run once it has started it, then check where it wrote.
    resumed = start(["run", "--resume", str(copy)], tmp_path)
    wait_for(lambda: Counter(marker.read_text().split())["b"] == 2)
    resumed.send_signal(signal.SIGINT)
    out, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 130, err
    assert original.read_bytes() == before  # the original is untouched
    assert records.load(copy).run_id == records.load(original).run_id
    assert f"sizeup run --resume {copy}" in " ".join(out.split())


def test_a_full_disk_names_the_case_not_recorded_and_resume_runs_it(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12k", "sizeup-test", str(small)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        marker = tmp_path / "marker"
        plan = suite(tmp_path / "s.toml", [("ok", {"tag": t, "marker": str(marker)}) for t in "abcdefgh"],
                     settings="repeats = 0\nsample_hz = 0")
        harness = start(["run", "--suite", str(plan), "--results-dir", str(small)], tmp_path)
        out, err = harness.communicate(timeout=120)
        assert harness.returncode == 2, out + err
        assert err.startswith("sizeup: error: case faulty/ok@numpy") and err.count("\n") == 1
        assert "could not be recorded" in err and "No space left on device" in err
        (journal,) = small.glob(f"*/*{records.JOURNAL_SUFFIX}")
        kept = records.load(journal).cases
        lost_id = err.split("case ", 1)[1].split(" (ok)")[0]
        assert 0 < len(kept) < 8 and lost_id not in {c.id for c in kept}
        assert finished_ids(out) <= {c.id for c in kept}

        subprocess.run(["mount", "-o", "remount,size=4m", str(small)], check=True)
        resumed = start(["run", "--resume", str(journal)], tmp_path)
        out, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, err
        final = records.load(records.final_path(journal))
        assert final.complete and len(final.cases) == 8
        ran = Counter(marker.read_text().split())
        assert sum(ran.values()) == 8 + 1  # every case once, and the unrecorded one again
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


def test_writing_output_never_replaces_a_device_a_fifo_or_a_symlink(tmp_path: Path) -> None:
    from dataclasses import replace

    from tests import builders

    result = tmp_path / "r.json"
    records.save(result, replace(builders.run_result([]), complete=False))  # an unfinished run: a partial export
    export = [*SIZEUP, "export", "--format", "pytest-benchmark", str(result), "-o"]

    assert subprocess.run([*export, os.devnull], capture_output=True, timeout=60).returncode == 0
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    assert subprocess.run([*export, str(fifo)], capture_output=True, timeout=60).returncode == 0
    reader.join(10)
    assert stat.S_ISFIFO(fifo.stat().st_mode) and json.loads(received[0])["commit_info"]["partial"] is True

    target, link = tmp_path / "target.json", tmp_path / "link.json"
    target.write_text("old")
    link.symlink_to(target)
    assert subprocess.run([*export, str(link)], capture_output=True, timeout=60).returncode == 0
    assert link.is_symlink() and json.loads(target.read_text())["benchmarks"] == []

    done = subprocess.run([*export, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "is a directory" in done.stderr and done.stderr.count("\n") == 1


def test_results_never_hold_nan_and_a_nan_metric_is_shown_with_its_reason(tmp_path: Path) -> None:
    harness = start(["run", "--workloads", "diabetes", "--models", "linear,hgb", "--backends", "sklearn", "--sizes", "5",
                     "--repeats", "0", "--results-dir", str(tmp_path / "r")], tmp_path)
    out, err = harness.communicate(timeout=120)
    assert harness.returncode == 0, err
    (path,) = (tmp_path / "r").glob("*/*.json")

    def refuse(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")

    doc = json.loads(path.read_text(), parse_constant=refuse)  # strict: no NaN, no Infinity
    runs = [r for case in doc["cases"] for r in case["runs"]]
    assert runs and all(r["quality"]["r2"] is None and r["quality_missing"] == {"r2": "nan"} for r in runs)
    show = subprocess.run([*SIZEUP, "show", str(path)], capture_output=True, text=True, timeout=60)
    assert show.returncode == 0 and " n/a (nan)" in show.stdout  # the metric, r2, is said once above the cases
    assert any(line.split()[-1:] == ["r2"] for line in show.stdout.splitlines())


def test_an_rlimit_on_output_size_is_an_io_error_not_a_traceback(tmp_path: Path) -> None:
    """Without root to mount a full disk, a file-size limit makes writes fail the same way."""
    plan = suite(tmp_path / "s.toml", [("ok", {"tag": t}) for t in "abc"], settings="repeats = 0\nsample_hz = 0")

    def limit() -> None:  # Python ignores SIGXFSZ, so a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (6000, 6000))

    harness = start(["run", "--suite", str(plan), "--results-dir", str(tmp_path / "r")], tmp_path, preexec_fn=limit)
    out, err = harness.communicate(timeout=120)
    assert harness.returncode == 2 and "Traceback" not in err and err.count("\n") == 1, err
    assert "could not be recorded" in err or "cannot write" in err


@pytest.mark.quiet  # it times how soon the case ends
def test_a_case_keeps_its_limit_while_the_harness_is_stopped(tmp_path: Path) -> None:
    plan = suite(tmp_path / "s.toml", [("sleep", {"seconds": 60.0, "tag": "stopped"})], "repeats = 0\ntimeout_s = 2")
    harness = start(["run", "--suite", str(plan), "--results-dir", str(tmp_path / "r")], tmp_path)
    try:
        wait_for(lambda: worker_started(tmp_path / "tmp"), step=0.01)
        harness.send_signal(signal.SIGSTOP)  # Ctrl-Z, or a debugger: the harness cannot enforce the timeout
        started = time.monotonic()
        wait_for(lambda: not worker_started(tmp_path / "tmp"), seconds=30, step=0.1)
        assert time.monotonic() - started < 2 + 5 + 3  # its timeout, the grace, and the worker's start
    finally:
        harness.send_signal(signal.SIGCONT)
    out, err = harness.communicate(timeout=60)
    assert harness.returncode == 3, err
    (path,) = (tmp_path / "r").glob("*/*.json")
    (record,) = records.load(path).cases
    assert record.status == "timeout" and "deadline" in (record.reason or "")


def test_a_stop_signal_sent_from_inside_a_case_fails_that_case_and_the_run_goes_on(tmp_path: Path) -> None:
    """Ctrl-C or SIGTERM from the user stops the run (above); the same signal from a case's own tree does not."""
    marker = tmp_path / "marker"
    cases = [("signal_harness", {"signum": int(signal.SIGINT), "tag": "worker"}),
             ("signal_harness", {"signum": int(signal.SIGTERM), "child": True, "tag": "child"}),
             ("ok", {"tag": "after", "marker": str(marker)})]
    plan = suite(tmp_path / "s.toml", cases)
    started = time.monotonic()
    harness = start(["run", "--suite", str(plan), "--results-dir", str(tmp_path / "r")], tmp_path)
    out, err = harness.communicate(timeout=120)
    assert harness.returncode == 3 and "Traceback" not in err, err  # cases failed; not 130 or 143
    assert time.monotonic() - started < 25  # each case stopped at once, not after its 30 s sleep
    (path,) = (tmp_path / "r").glob("*/*.json")
    by_tag = {c.case.params["tag"]: c for c in records.load(path).cases}
    for tag, name in (("worker", "SIGINT"), ("child", "SIGTERM")):
        assert by_tag[tag].status == "error" and f"sent {name} to the harness" in (by_tag[tag].reason or "")
    assert by_tag["after"].status == "ok" and marker.read_text() == "after\n"
    assert eventually_none("SIGNAL_PARENT", tmp_path / "tmp") == []


def test_a_run_whose_output_is_closed_stops_as_for_a_signal_and_says_how_to_resume(tmp_path: Path) -> None:
    """`sizeup run ... | head -1`: rich's own handler had exited with 1, unsaid."""
    # the first case outlasts the closing: its line is written to a closed pipe
    plan = suite(tmp_path / "s.toml", [("sleep", {"tag": "a", "marker": str(tmp_path / "marker"), "seconds": 2.0}),
                                       ("ok", {"tag": "b"})])
    harness = start(["run", "--suite", str(plan), "--results-dir", str(tmp_path / "results")], tmp_path)
    assert harness.stdout.readline().startswith("Machine ")
    harness.stdout.close()  # the reader has what it wanted
    err = harness.stderr.read()
    assert harness.wait(timeout=60) == 128 + signal.SIGPIPE, err
    (journal,) = (tmp_path / "results").glob(f"*/*{records.JOURNAL_SUFFIX}")
    assert "Interrupted (SIGPIPE)" in err and f"run --resume {journal}" in err and "Traceback" not in err


def test_a_run_whose_output_and_errors_share_the_closed_pipe_still_exits_as_interrupted(tmp_path: Path) -> None:
    """`sizeup run ... 2>&1 | head -3` had exited 0, its journal unfinished: the notice to stderr hit the closed
    pipe too, and main took that for a reader done with a `show` (fourth trial)."""
    plan = suite(tmp_path / "s.toml", [("sleep", {"tag": "a", "marker": str(tmp_path / "marker"), "seconds": 2.0}),
                                       ("ok", {"tag": "b"})])
    harness = start(["run", "--suite", str(plan), "--results-dir", str(tmp_path / "results")], tmp_path,
                    stderr=subprocess.STDOUT)
    assert harness.stdout.readline().startswith("Machine ")
    harness.stdout.close()
    assert harness.wait(timeout=60) == 128 + signal.SIGPIPE
    assert list((tmp_path / "results").glob(f"*/*{records.JOURNAL_SUFFIX}"))
