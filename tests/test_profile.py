"""`sizeup profile -- CMD`: the user's own job run and sampled as a case, its exit code passed through, nothing
left running, a stop keeping what was measured; the diagnosis rules and the right-sizing on figures."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from harness import cli, records
from harness.analysis.diagnosis import THRESHOLDS, Figures, diagnose
from harness.run.profile import job_name
from harness.sizing import catalog
from harness.sizing.rightsize import rightsize
from tests.conftest import needs_quiet
from tests.started import default_stop_signals

pytestmark = pytest.mark.quiet  # a job's utilization, and what holds it back

GiB = 2**30
LARGEST = catalog.largest_node_bytes(catalog.load())  # the catalog's largest CPU VM's memory


def script(tmp_path: Path, body: str, name: str = "job.py") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


def profiled(tmp_path: Path) -> records.RunResult:
    (path,) = tmp_path.glob("results/*/*-profile-*.json")
    return records.load(path)


@pytest.mark.parametrize("command, name", [
    (["python3", "-c", "import time; time.sleep(1)"], "python3-c"),  # had been 'import time_ time.sleep_1_'
    (["python", "-W", "ignore", "train.py", "--epochs", "3"], "train.py"),  # not the -W option's value
    (["python", "-X", "dev", "train", "--epochs", "3"], "train"),  # a script without a suffix: not -X's value
    (["torchrun", "--nproc_per_node", "2", "src/train.py"], "train.py"),
    (["python3.12", "-m", "pkg.train", "--lr", "0.1"], "pkg.train"),
    (["python", "-m", "pkg.train", "--config", "cfg.py"], "pkg.train"),  # its arguments are the module's
    (["bash", "-c", "make all"], "bash-c"),
    (["/usr/bin/my job"], "my_job"),
])
def test_a_profiled_job_is_named_for_what_it_runs(command: list[str], name: str) -> None:
    assert job_name(command) == name


def test_a_single_threaded_job_is_profiled_diagnosed_and_its_exit_code_passed_through(tmp_path: Path, capsys) -> None:
    needs_quiet()
    job = script(tmp_path, "import time\nend = time.time() + 2.5\nwhile time.time() < end: pass\nraise SystemExit(3)\n")
    code = cli.main(["profile", "--results-dir", str(tmp_path / "results"), "--", sys.executable, str(job)])
    out = capsys.readouterr().err  # sizeup's own lines: the job's stdout stays the job's
    assert code == 3
    run = profiled(tmp_path)
    (record,) = run.cases
    assert run.suite == "profile" and run.complete and record.case.model == "job.py"
    assert record.status == "error" and record.exit["returncode"] == 3
    assert 2.4 < record.runs[0].phases["run"] <= record.wall_s < 4.0
    assert record.params["command"].endswith("job.py") and len(record.telemetry["series"]["t"]) >= 20
    figures = Figures.of(record)
    codes = [f.code for f in diagnose(figures)]
    if record.case.threads >= 2:  # one core busy, the rest idle
        assert codes[0] == "cpu-single-thread" and figures.one_core_share > 0.8
        assert ("cpu-underused" in codes) == (1 / record.case.threads < THRESHOLDS["cpu-underused"])
        assert "cpu-single-thread:" in out
    assert "Right-size (low confidence)" not in out  # a job that failed gets no VM: what it should run on is unknown
    assert "exit code 3\n" in out  # not '(the job exited with code 3)' again
    assert "did not end well" in out  # its findings are of a run that may not have done its work
    assert cli.main(["show", str(next(tmp_path.glob("results/*/*.json")))]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "job.py@process" in line)
    assert row.split()[1:3] == [f"{record.runs[0].phases['run']:.3g}", "error"]  # what ran until it failed, kept
    assert row.split()[-1] in ("MiB", "GiB")
    assert cli.main(["show", "--json", str(next(tmp_path.glob("results/*/*.json")))]) == 0
    said = json.loads(capsys.readouterr().out)["profile"]  # what `profile` said, as codes and numbers
    assert [f["code"] for f in said["findings"]] == codes and said["cpu_vm"] is None  # failed: no VM
    assert [p["name"] for p in said["phases"]] == [] and said["whole_run"] and said["leftover_processes"] == []


def test_a_job_too_short_to_judge_gets_no_finding_and_no_vm(tmp_path: Path, capsys, monkeypatch) -> None:
    script = tmp_path / "a_job_named_by_a_script_longer_than_a_100_column_table_leaves_for_its_case.py"
    script.write_text("pass\n")
    assert cli.main(["profile", "--results-dir", str(tmp_path / "results"), "--", sys.executable, str(script)]) == 0
    assert "Right-size" not in capsys.readouterr().out
    (record,) = profiled(tmp_path).cases
    assert record.wall_s < 1.0
    assert cli.main(["show", "--json", str(next(tmp_path.glob("results/*/*.json")))]) == 0
    said = json.loads(capsys.readouterr().out)["profile"]
    assert said["findings"] is None and said["cpu_vm"] is None and said["gpu_vms"] == []
    monkeypatch.setenv("COLUMNS", "100")  # the name folds; its time stays whole, and no size or threads are made up
    assert cli.main(["show", str(next(tmp_path.glob("results/*/*.json")))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(record.case.model) > 60 and max(map(len, lines)) <= 100 and not any("\u2026" in x for x in lines)
    assert next(x for x in lines if x.split()[:1] == ["case"]).split() == ["case", "run", "s", "memory"]  # none
    # sizeup set (size, threads) or a job's one run measures (an interval, a quality): no empty columns
    assert any(f"{record.runs[0].phases['run']:.3g}" in x.split() for x in lines)


def test_a_daemon_the_job_forks_is_stopped_and_named(tmp_path: Path) -> None:
    daemon = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
              "        open(os.environ['PIDFILE'], 'w').write(str(os.getpid()))\n        time.sleep(120)\n"
              "    os._exit(0)\ntime.sleep(0.5)\n")
    job = script(tmp_path, daemon)
    pidfile = tmp_path / "daemon.pid"
    done = subprocess.run([sys.executable, "-m", "harness", "profile", "--results-dir", str(tmp_path / "results"), "--",
                           sys.executable, str(job)], env=os.environ | {"PIDFILE": str(pidfile)}, capture_output=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    (record,) = profiled(tmp_path).cases
    assert record.status == "ok" and any(str(pid) in p for p in record.telemetry["leftover_processes"])
    assert f"({pid})" in done.stderr.decode().split("killed:", 1)[1].splitlines()[0]  # named where the user reads


def test_ctrl_c_stops_the_job_and_keeps_what_was_measured(tmp_path: Path) -> None:
    job = script(tmp_path, "import time\nprint('started', flush=True)\ntime.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-m", "harness", "profile", "--results-dir", str(tmp_path / "results"),
                             "--", sys.executable, str(job)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=default_stop_signals)
    assert proc.stdout.readline() == b"started\n"  # the job's own output, untouched
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    (record,) = profiled(tmp_path).cases
    assert record.status == "error" and "stopped by the user" in record.reason and 0.5 < record.wall_s < 20


def test_a_second_ctrl_c_stops_a_job_that_ignores_the_first_and_the_profile_is_kept(tmp_path: Path) -> None:
    job = script(tmp_path, "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                           "print('started', flush=True)\ntime.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-m", "harness", "profile", "--results-dir", str(tmp_path / "results"),
                             "--", sys.executable, str(job)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=default_stop_signals)
    assert proc.stdout.readline() == b"started\n"
    proc.send_signal(signal.SIGINT)
    time.sleep(1.0)
    assert proc.poll() is None  # the job ignores SIGINT: sizeup waits out its grace period
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert b"a second Ctrl-C stops it now" in err  # said at the first, while sizeup waits
    (record,) = profiled(tmp_path).cases
    assert record.status == "error" and "stopped by the user" in record.reason and record.wall_s < 8


def test_a_program_that_cannot_be_executed_is_the_shells_126_in_one_line(tmp_path: Path) -> None:
    job = script(tmp_path, "print('no shebang')\n", name="noshebang")
    job.chmod(0o755)
    done = subprocess.run([sys.executable, "-m", "harness", "profile", "--results-dir", str(tmp_path / "results"),
                           "--", str(job)], capture_output=True, timeout=60)
    assert done.returncode == 126
    assert done.stderr.decode().splitlines()[0].startswith(f"sizeup profile: cannot run {job}: Exec format error")
    assert "Traceback" not in done.stderr.decode()


def test_a_write_heavy_job_is_io_bound_though_the_kernel_kept_a_core_busy_for_it(tmp_path: Path, capsys) -> None:
    needs_quiet()
    # 64 MiB rewritten and synced until 1.5 s pass: the kernel's copies and syncs, not the job's code, take the core
    job = script(tmp_path, "import os, time\nbuf = os.urandom(1 << 20)\nend = time.time() + 1.5\n"
                           f"with open({str(tmp_path / 'big.bin')!r}, 'wb') as f:\n"
                           "    while time.time() < end:\n        f.seek(0)\n"
                           "        for _ in range(64): f.write(buf)\n        f.flush(); os.fsync(f.fileno())\n")
    assert cli.main(["profile", "--results-dir", str(tmp_path / "results"), "--", sys.executable, str(job)]) == 0
    (record,) = profiled(tmp_path).cases
    figures = Figures.of(record)
    assert figures.kernel_share is not None and figures.kernel_share >= 0.5
    codes = [f.code for f in diagnose(figures)]
    assert "cpu-single-thread" not in codes  # its busy core served the writes: no thread count to raise
    if figures.io_bytes_per_s < THRESHOLDS["io-bound"]:
        pytest.skip(f"writes to {tmp_path} counted {figures.io_bytes_per_s / 1e6:.1f} MB/s of disk I/O (tmpfs?)")
    assert "io-bound" in codes and "io-bound:" in capsys.readouterr().err


def test_a_run_of_too_few_samples_is_not_judged_however_long_it_ran(tmp_path: Path, capsys) -> None:
    assert diagnose(figures(cores_mean=0.1, samples=4)) == [] and diagnose(figures(cores_mean=0.1, samples=5))
    from harness.records import PROFILE, Case
    from tests import builders

    unsampled = builders.record(Case(PROFILE, "job.py", "process", 1, 2), [4.0])  # no series at all: not 'too few'
    assert Figures.of(unsampled).samples is None
    # at 0.5 Hz a 1.6 s busy loop gets no CPU sample: it had looked idle, 'nothing held it back', 0.0 cores busy
    job = script(tmp_path, "import time\nend = time.time() + 1.6\nwhile time.time() < end: pass\n")
    assert cli.main(["profile", "--sample-hz", "0.5", "--results-dir", str(tmp_path / "results"), "--",
                     sys.executable, str(job)]) == 0
    out = capsys.readouterr().err
    assert "CPU sample(s) in its" in out and "Right-size" not in out and "Nothing held it back" not in out
    from harness.sizing.profiled import judged

    j = judged(profiled(tmp_path))
    assert j.findings is None and j.sized is None and j.short.endswith("(raise --sample-hz)")


def test_the_kernels_share_of_a_jobs_cpu_is_not_counted_as_its_own_work() -> None:
    writes = figures(vcpus=2, cores_mean=0.9, one_core_share=0.8, io_bytes_per_s=300e6)
    assert {f.code for f in diagnose(writes)} == {"cpu-single-thread"}  # the split unknown: all of it the job's
    found = {f.code: f for f in diagnose(replace(writes, kernel_share=0.9))}
    assert set(found) == {"io-bound"} and found["io-bound"].figures["own_cores"] == pytest.approx(0.09)
    assert {f.code for f in diagnose(replace(writes, kernel_share=0.2))} == {"cpu-single-thread"}  # its own code
    # in the kernel for something else than disk I/O (pipes, page faults): still one thread, and said
    assert {f.code for f in diagnose(replace(writes, kernel_share=0.9, io_bytes_per_s=0.0))} == {"cpu-single-thread"}


def test_a_job_killed_by_a_signal_is_recorded_and_its_status_passed_on(tmp_path: Path, capsys) -> None:
    job = script(tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    assert cli.main(["profile", "--results-dir", str(tmp_path / "results"), "--", sys.executable, str(job)]) == 137
    (record,) = profiled(tmp_path).cases
    assert record.status in ("crashed", "oom") and record.exit["signal"] == "SIGKILL"
    assert "exit code 137 (the job was killed by SIGKILL" in capsys.readouterr().err  # as a shell says it, not -9


def test_the_jobs_output_passes_through_whole(tmp_path: Path) -> None:
    job = script(tmp_path, "import sys\nfor _ in range(20): sys.stdout.write('x' * (1 << 20))\n")
    done = subprocess.run([sys.executable, "-m", "harness", "profile", "--results-dir", str(tmp_path / "results"), "--",
                           sys.executable, str(job)], capture_output=True, timeout=120)
    assert done.returncode == 0 and done.stdout == b"x" * (20 << 20)  # the job's alone: a log sent to a file
    assert done.stderr.startswith(b"\nsizeup profile: job.py ran")  # sizeup's own lines, as time(1)'s


def memory_cgroup(name: str, limit: int) -> Path | None:
    """A child of this process's memory cgroup holding at most `limit` bytes (v1 or v2), or None where this user
    cannot make one (no cgroup access, no root, the memory controller not delegated)."""
    own = Path("/proc/self/cgroup").read_text().splitlines()
    v1 = next((line.split(":", 2)[2] for line in own if line.split(":")[1] == "memory"), None)
    if v1 is not None:
        base, limits = Path("/sys/fs/cgroup/memory" + v1), ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes")
    else:
        base, limits = Path("/sys/fs/cgroup" + own[0].split(":", 2)[2]), ("memory.max", "memory.swap.max")
    child = base / name
    try:
        child.mkdir()
        (child / limits[0]).write_text(str(limit))
        if (child / limits[1]).exists():
            (child / limits[1]).write_text(str(limit) if v1 is not None else "0")
    except OSError:
        with contextlib.suppress(OSError):
            child.rmdir()
        return None
    return child


def test_a_job_the_kernels_oom_killer_kills_is_recorded_as_oom(tmp_path: Path, capsys) -> None:
    """A real out-of-memory kill: the job moves itself into a cgroup of 64 MiB, then asks for 400 MiB."""
    from harness.run import procfs

    cgroup = memory_cgroup(f"sizeup-oom-{os.getpid()}", 64 * 2**20)
    if cgroup is None:
        pytest.skip("cannot make a memory cgroup here (needs root and cgroup access) to have the OOM killer act")
    job = script(tmp_path, f"import os\nopen({str(cgroup / 'cgroup.procs')!r}, 'w').write(str(os.getpid()))\n"
                           "block = bytearray(400 * 2**20)\n")
    try:
        code = cli.main(["profile", "--results-dir", str(tmp_path / "results"), "--", sys.executable, str(job)])
    finally:
        for _ in range(50):  # the killed job leaves the cgroup as it is reaped
            with contextlib.suppress(OSError):
                cgroup.rmdir()
                break
            time.sleep(0.1)
    (record,) = profiled(tmp_path).cases
    assert code == 137 and record.status == "oom" and record.exit["signal"] == "SIGKILL"
    assert "out-of-memory killer" in record.reason
    assert ("whole machine" in record.reason) == (procfs.oom_kills()[1] == "machine")  # said where it is not exact


@pytest.mark.parametrize("args, message", [
    ([], "needs the command to run"), (["--"], "needs the command to run"), (["--", ""], "needs the command to run"),
    (["--", "no-such-command-sizeup"], "command not found: no-such-command-sizeup"),
    (["--", "{tmp}/data.txt"], "is not executable"), (["--", "{tmp}"], "is a folder"),
    (["--sample-hz", "0", "--", "true"], "--sample-hz must be from"),
    (["--sample-hz", "nan", "--", "true"], "expected a finite number"),
    (["--mark", "Epoch (", "--", "true"], "is not a regular expression"),
    (["--mark", ".*", "--", "true"], "matches an empty line"),
    (["--pid", "1", "--duration", "nan"], "expected a finite number"),
])
def test_bad_input_is_one_line_and_exit_2_and_runs_nothing(args: list[str], message: str, tmp_path: Path,
                                                          capsys) -> None:
    (tmp_path / "data.txt").write_text("1,2\n")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    with pytest.raises(SystemExit) if "finite" in message else _nothing():
        code = cli.main(["profile", "--results-dir", str(tmp_path / "results"), *args])
        assert code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "results").exists()  # not even an empty folder


class _nothing:
    def __enter__(self) -> None: ...

    def __exit__(self, *exc: object) -> bool:
        return False


def test_a_results_dir_that_cannot_be_written_is_refused_before_the_job_runs(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "results"
    blocker.write_text("a file")
    marker = tmp_path / "ran"
    job = script(tmp_path, f"open({str(marker)!r}, 'w').write('x')\n")
    assert cli.main(["profile", "--results-dir", str(blocker), "--", sys.executable, str(job)]) == 2
    assert "cannot write results to" in capsys.readouterr().err and not marker.exists()


def figures(**kw: float | None) -> Figures:
    base = dict(wall_s=60.0, vcpus=8, cores_mean=6.0, cores_p95=7.5, one_core_share=0.0, peak_memory=4 * GiB,
                memory_total=32 * GiB, io_bytes_per_s=0.0, gpu_util_mean=None, gpu_memory_peak=None,
                gpu_memory_total=None)
    return Figures(**(base | kw))


@pytest.mark.parametrize("changed, code", [
    ({"one_core_share": 0.7, "cores_mean": 1.0}, "cpu-single-thread"),
    ({"cores_mean": 3.0}, "cpu-underused"),
    ({"cores_mean": 7.5}, "cpu-saturated"),
    ({"peak_memory": 28 * GiB}, "memory-bound"),
    ({"gpu_util_mean": 2.0}, "gpu-idle"),
    ({"gpu_util_mean": 30.0, "one_core_share": 0.9, "cores_mean": 1.0}, "gpu-starved"),
    ({"gpu_memory_peak": 10 * GiB, "gpu_memory_total": 80 * GiB, "gpu_util_mean": 90.0}, "gpu-memory-headroom"),
    ({"io_bytes_per_s": 50e6, "cores_mean": 0.3}, "io-bound"),
    ({"peak_memory": LARGEST / 1.5 * 1.01}, "spark-worth-it"),
])
def test_each_rule_fires_past_its_threshold_and_states_its_figures(changed: dict, code: str) -> None:
    assert diagnose(figures(), LARGEST) == []  # a busy, healthy job: nothing
    found = {f.code: f for f in diagnose(figures(**changed), LARGEST)}
    assert code in found and found[code].figures and code in THRESHOLDS
    assert diagnose(figures(**(changed | {"wall_s": 0.5})), LARGEST) == []  # too short to say, wherever it is asked


def test_spark_is_worth_it_only_where_no_vm_there_is_to_buy_holds_the_measured_peak() -> None:
    def codes(peak: float, largest: float | None = LARGEST) -> set[str]:
        return {f.code for f in diagnose(figures(peak_memory=peak), largest)}

    assert "spark-worth-it" in codes(LARGEST / 1.5 * 1.01) and "spark-worth-it" not in codes(LARGEST / 1.5 * 0.99)
    assert "spark-worth-it" not in codes(LARGEST, largest=None)  # no catalog to judge by: nothing said


def test_right_sizing_takes_the_cheapest_vm_that_holds_the_peak_and_the_cores_used() -> None:
    vms = catalog.load()
    f = figures(cores_p95=2.6, peak_memory=10 * GiB)
    sized = rightsize(f, vms, 32.0)
    fits = [v for v in vms if v.gpu_count == 0 and v.vcpus >= 3 and v.memory_gib >= 15]
    assert sized.cores == 3 and sized.memory_gib == 15.0  # 2.6 busy cores: 3 vCPUs
    assert rightsize(figures(peak_memory=211 * 2**20), vms, 32.0).memory_gib == 0.31  # 211 MiB x 1.5, not 0.4
    assert sized.vm.price_per_hour == min(v.price_per_hour for v in fits)
    assert sized.cost == pytest.approx(sized.vm.price_per_hour * 60 / 3600)
    assert sized.like_here is None or sized.like_here.vcpus == 8
    saturated = rightsize(figures(vcpus=2, cores_p95=2.1), vms, 8.0)  # 10 Hz jitter past the 2 vCPUs it had
    assert saturated.cores == 2 and saturated.saturated and not sized.saturated
    rounded_up = rightsize(figures(vcpus=2, cores_p95=1.3), vms, 8.0)  # 2 vCPUs asked for, yet not all were busy
    assert rounded_up.cores == 2 and not rounded_up.saturated


def test_a_job_that_kept_a_gpu_busy_gets_gpu_vms_carried_by_the_datasheets() -> None:
    from harness.sizing.options import gpu_factor
    from harness.sizing.rightsize import gpu_options, used_gpu

    vms = catalog.load()
    f = figures(wall_s=100.0, cores_p95=3.5, peak_memory=10 * GiB, gpu_util_mean=80.0, gpu_memory_peak=20 * GiB)
    options, assumed = gpu_options(f, vms, "NVIDIA A100 80GB PCIe")
    holding = {v.name for v in vms if v.gpu_count and v.gpu_memory_gib >= 30 and v.memory_gib >= 15 and v.vcpus >= 4}
    assert used_gpu(f) and {o.vm.name for o in options} == holding and holding  # 16 GiB T4s cannot hold 30 GiB
    a100 = catalog.gpu_spec("A100")
    for o in options:
        assert o.factor == (1.0 if o.vm.gpu_model == "A100" else gpu_factor(a100, catalog.gpu_spec(o.vm.gpu_model)))
        assert o.seconds == pytest.approx(100.0 * o.factor) and o.cost == pytest.approx(o.vm.price_per_hour * o.seconds / 3600)
    assert [o.cost for o in options] == sorted(o.cost for o in options)
    assert "30 GiB of GPU memory" in assumed
    unknown, said = gpu_options(f, vms, "a GPU no datasheet names")
    assert unknown == [] and "no datasheet carries its time" in said
    assert not used_gpu(figures(gpu_util_mean=2.0)) and not used_gpu(figures())
    assert not used_gpu(figures(gpu_util_mean=80.0, gpu_own_memory=0.0))  # a shared GPU kept busy by another job


def test_the_jobs_own_gpu_memory_counts_only_readings_that_listed_its_processes() -> None:
    from harness.analysis.diagnosis import _gpu

    values = {"gpu0.util_percent": [90.0, 95.0], "gpu0.memory_used_bytes": [5e9, 6e9],
              "gpu0.case_memory_bytes": [2e9, 3e9], "gpu0.case_memory_per_process": [1.0, 0.0]}
    assert _gpu({"nvml": {"values": values}}) == (92.5, 6e9, 2e9)  # 3e9 was the device's change, not the job's
    values["gpu0.case_memory_per_process"] = [0.0, 0.0]
    assert _gpu({"nvml": {"values": values}})[2] is None


def test_attaching_to_a_running_job_samples_it_until_it_exits_and_touches_nothing(tmp_path: Path, capsys) -> None:
    job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        code = cli.main(["profile", "--pid", str(job.pid), "--duration", "1.5", "--results-dir", str(tmp_path / "results")])
        assert code == 0 and job.poll() is None  # the duration passed; the job runs on, untouched
        (record,) = profiled(tmp_path).cases
        assert record.status == "ok" and record.params["pid"] == job.pid and 1.4 < record.wall_s < 3
        assert record.telemetry["attached"]["ended"] == "the 1.5 s asked for passed"
        assert record.exit["returncode"] is None and len(record.telemetry["series"]["t"]) >= 10
        out = capsys.readouterr().err
        assert f"sizeup profile: pid {job.pid}" in out
        assert "per hour" in out and "per run" not in out  # 1.5 s of a longer run would price no run
        assert cli.main(["show", "--json", str(next(tmp_path.glob("results/*/*.json")))]) == 0
        said = json.loads(capsys.readouterr().out)["profile"]
        assert not said["whole_run"] and said["cpu_vm"]["cost_per_run"] is None and said["cpu_vm"]["price_per_hour"]
        assert "as long as here" not in said["cpu_vm"]["assumption"]  # its time was not seen whole
    finally:
        job.kill()
        job.wait()


def test_attaching_ends_when_the_job_exits(tmp_path: Path) -> None:
    job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.0)"])
    assert cli.main(["profile", "--pid", str(job.pid), "--results-dir", str(tmp_path / "results")]) == 0
    job.wait()
    (record,) = profiled(tmp_path).cases
    assert record.telemetry["attached"]["ended"] == "it exited" and record.wall_s < 2


def unused_pid() -> int:
    pid = 4_000_000
    while psutil.pid_exists(pid):
        pid += 1
    return pid


@pytest.mark.parametrize("args, message", [
    (["--pid", "UNUSED"], "no such process"),
    (["--pid", "ZOMBIE"], "exited before it could be sampled"),
    (["--pid", "PARENT"], "is sizeup itself or runs it"),
    (["--pid", "PARENT", "--duration", "0"], "--duration must be a number of seconds above 0"),
    (["--pid", "PARENT", "--duration", "-3"], "--duration must be a number of seconds above 0"),
    (["--duration", "5", "--", "true"], "--duration goes with --pid"),
    (["--pid", "PARENT", "--", "true"], "give --pid or a command after --, not both"),
    (["--pid", "PARENT", "--mark", "Epoch"], "--mark reads what the job prints"),
])
def test_bad_attachments_are_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path, capsys) -> None:
    zombie = subprocess.Popen(["true"])
    while psutil.Process(zombie.pid).status() != psutil.STATUS_ZOMBIE:
        time.sleep(0.01)
    values = {"UNUSED": str(unused_pid()), "ZOMBIE": str(zombie.pid), "PARENT": str(os.getpid())}
    try:
        code = cli.main(["profile", "--results-dir", str(tmp_path / "results"), *(values.get(a, a) for a in args)])
    finally:
        zombie.wait()
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "results").exists()  # not even an empty folder


def test_the_phase_marker_costs_under_a_microsecond_when_off_and_imports_nothing_heavy() -> None:
    import timeit

    from harness import phase

    needs_quiet()
    n = 200_000
    best = min(timeit.repeat(lambda: phase("x").__enter__().__exit__(None, None, None), number=n, repeat=5)) / n
    with_statement = min(timeit.repeat('with phase("x"): pass', globals={"phase": phase}, number=n, repeat=5)) / n
    assert with_statement < 1e-6 and best < 1e-6
    heavy = subprocess.run([sys.executable, "-c", "import sys; from harness import phase; print(sorted({m.split('.')[0] "
                            "for m in sys.modules} & {'numpy', 'pandas', 'psutil', 'rich', 'scipy', 'torch'}))"],
                           capture_output=True, text=True, check=True)
    assert heavy.stdout.strip() == "[]"


def test_phases_the_job_marks_get_their_time_and_utilization(tmp_path: Path, capsys) -> None:
    needs_quiet()
    job = script(tmp_path, "import time\nfrom harness import phase\nwith phase('load'):\n    time.sleep(0.8)\n"
                           "for _ in range(2):\n    with phase('train'):\n        end = time.time() + 0.6\n"
                           "        while time.time() < end: pass\n")
    assert cli.main(["profile", "--results-dir", str(tmp_path / "results"), "--", sys.executable, str(job)]) == 0
    (record,) = profiled(tmp_path).cases
    run = record.runs[0]
    assert run.phases["load"] == pytest.approx(0.8, abs=0.15) and run.phases["train"] == pytest.approx(1.2, abs=0.2)
    assert run.spans["load"][1] <= run.spans["train"][0] and set(run.phases) == {"run", "load", "train", "unmarked"}
    # the time in no phase (start-up, imports) is its own: with the marked ones, the whole run
    marked = run.phases["load"] + run.phases["train"] + run.phases["unmarked"]
    assert marked == pytest.approx(run.phases["run"], abs=0.01)
    busy = {name: record.telemetry["phases"][name]["cpu_percent"]["mean"] for name in ("load", "train")}
    assert busy["load"] < 30 < 70 < busy["train"]  # idle while it sleeps, one core while it spins
    assert "phase train: 1.2" in capsys.readouterr().err


def test_a_phase_run_inside_another_is_shown_beneath_it(tmp_path: Path, capsys) -> None:
    job = script(tmp_path, "import time\nfrom harness import phase\nwith phase('load'):\n    time.sleep(0.2)\n"
                           "with phase('train'):\n    for _ in range(2):\n        with phase('epoch'):\n"
                           "            time.sleep(0.15)\nwith phase('blink'):\n    time.sleep(0.01)\n")
    assert cli.main(["profile", "--results-dir", str(tmp_path / "results"), "--", sys.executable, str(job)]) == 0
    said_lines = [line for line in capsys.readouterr().err.splitlines() if line.lstrip().startswith("phase ")]
    (record,) = profiled(tmp_path).cases
    assert record.telemetry["phases_within"] == {"epoch": "train"}
    names = [line.split(":")[0] for line in said_lines]
    assert names.index("    phase epoch (in train)") == names.index("  phase train") + 1
    path = next(tmp_path.glob("results/*/*.json"))
    assert cli.main(["show", "--json", str(path)]) == 0
    said = {p["name"]: p for p in json.loads(capsys.readouterr().out)["profile"]["phases"]}
    assert {name: p["within"] for name, p in said.items()} == {"unmarked": None, "load": None, "train": None,
                                                               "epoch": "train", "blink": None}
    assert said["epoch"]["times"] == 2 and said["train"]["times"] == 1  # each epoch counted, not only their sum
    assert said["unmarked"]["times"] is None  # the time between phases: no phase that ran
    # 10 ms at 10 Hz: its figures, where it has any, rest on a sample at most, and it is said
    assert said["blink"]["samples"] <= 1 and said["load"]["samples"] >= 1
    assert "sample" in next(line for line in said_lines if "phase blink" in line)
    assert "(2 times," in next(line for line in said_lines if "phase epoch" in line)
    doc = json.loads(path.read_text())  # a file whose nesting runs in a circle: no nesting, every phase listed
    doc["cases"][0]["telemetry"]["phases_within"] = {"train": "epoch", "epoch": "train", "load": "run"}
    path.write_text(json.dumps(doc))
    assert cli.main(["show", "--json", str(path)]) == 0
    assert {p["name"]: p["within"] for p in json.loads(capsys.readouterr().out)["profile"]["phases"]} == {
        "unmarked": None, "load": None, "train": None, "epoch": None, "blink": None}


def test_nesting_read_from_a_file_keeps_only_phases_timed_and_chains_that_end() -> None:
    from dataclasses import replace

    from harness.records import Case, Repeat
    from tests import builders

    record = builders.record(Case("profile", "job", "process", 1, 1), [1.0])
    runs = [Repeat(1, False, True, phases={"run": 3.0, "a": 1.0, "b": 0.5, "c": 0.2, "d": 0.1, "e": 0.1})]
    within = {"b": "a", "c": "b", "d": "e", "e": "d", "a": "run", "x": "a"}  # d and e in a circle; run is sizeup's
    assert replace(record, runs=runs, telemetry={"phases_within": within}).phase_parents() == {"b": "a", "c": "b"}


def test_a_phase_is_within_the_innermost_phase_that_holds_every_window_of_it() -> None:
    from harness.run.marks import UNMARKED, within

    marks = {"train": [(0.0, 10.0)], "epoch": [(1.0, 2.0), (3.0, 4.0)], "batch": [(1.2, 1.5)], "load": [(10.0, 12.0)],
             "step": [(5.0, 6.0), (11.0, 11.5)], UNMARKED: [(12.0, 13.0)]}  # step ran in train and in load
    assert within(marks) == {"epoch": "train", "batch": "epoch"}
    assert within({"a": [(0.0, 1.0)], "b": [(0.0, 1.0)]}) == {}  # the same windows: neither holds the other
    # A phase marked per batch: 20,000 windows each, held by bisection (pairing every window took minutes).
    n = 20_000
    batches = {"epoch": [(10.0 * i, 10.0 * i + 9) for i in range(n)], "batch": [(10.0 * i + 1, 10.0 * i + 2)
                                                                           for i in range(n)]}
    assert within({"train": [(0.0, 10.0 * n)], **batches}) == {"epoch": "train", "batch": "epoch"}


def test_the_time_in_no_marked_phase_is_the_run_less_every_phase_window() -> None:
    from harness.run.marks import outside

    marks = {"a": [(1.0, 2.0)], "b": [(1.5, 3.0), (5.0, 6.0)], "c": [(6.0, 6.0005)]}
    assert outside(marks, 0.0, 8.0) == [(0.0, 1.0), (3.0, 5.0), (6.0005, 8.0)]
    assert outside({"a": [(0.0, 8.0)]}, 0.0, 8.0) == []


def test_marks_the_job_wrote_badly_are_read_as_far_as_they_make_sense(tmp_path: Path) -> None:
    from harness.phases import MAX_NAMES as MAX_MARKED
    from harness.phases import MORE
    from harness.run.marks import read as read_marks

    lines = ["begin\t1.0\tload", "garbage", "end\tnot-a-time\tload", "end\t2.0\tload", "end\t2.5\tnever-begun",
             "begin\t3.0\trun", "end\t4.0\trun", "begin\t5.0\tstill-open"]
    lines += [f"begin\t6.0\tname{i}\nend\t6.5\tname{i}" for i in range(2 * MAX_MARKED)]
    lines += ["begin\t7.0\tlate", "end\t7.2\tnever-begun-either", "end\t7.5\tlate"]  # past the cap too
    path = tmp_path / "marks"
    path.write_text("\n".join(lines) + "\n")
    marks = read_marks(path, end=9.0)
    assert marks["load"] == [(1.0, 2.0)] and "never-begun" not in marks
    assert marks["run (marked)"] == [(3.0, 4.0)] and marks["still-open"] == [(5.0, 9.0)]
    assert len(marks) == MAX_MARKED and read_marks(tmp_path / "missing", 1.0) == {}
    assert marks[MORE] == [(6.0, 6.5), (7.0, 7.5)]  # the names past the cap, nested in one window: counted once


def test_show_of_a_profile_promises_phases_only_where_the_job_marked_some() -> None:
    from dataclasses import replace

    from harness.present import table
    from harness.records import PROFILE, WHOLE_RUN, Case
    from tests import builders

    def caption(phases: dict[str, float]) -> str:
        record = builders.record(Case(PROFILE, "job.py", "process", 1, 2), [4.0])
        record = replace(record, runs=[replace(r, phases=phases) for r in record.runs[:1]])
        return str(table.render(builders.run_result([record])).renderables[0].caption)

    assert "its phases" not in caption({WHOLE_RUN: 4.0})  # 'its phases ... follow', then none had followed
    assert "its phases and what sizeup can say of it follow" in caption({WHOLE_RUN: 4.0, "train": 3.0})
    # nor is a finding or a VM promised: a job that failed, or ran too short, gets neither
    assert "what held it back" not in caption({WHOLE_RUN: 4.0})
