"""`sizeup profile --mark REGEX`: phases from the lines a job prints, its output passed on byte for byte (a
gigabyte of it included), and a pattern that cannot mark refused in one line."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import subprocess
import sys
import time
import tty
from pathlib import Path

import pytest

from harness import cli, records
from harness.errors import SizeupError
from harness.phases import MAX_NAMES, MORE
from harness.run.printed import Tee, _write_all, name_of, pattern
from tests.conftest import needs_quiet

pytestmark = pytest.mark.quiet  # phases timed from the lines a job prints


def profile(tmp_path: Path, *args: str, **kwargs) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "harness", "profile", "--results-dir", str(tmp_path / "results"),
                             *args], **{"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kwargs})


def profile_path(tmp_path: Path) -> Path:
    (path,) = tmp_path.glob("results/*/*-profile-*.json")
    return path


def the_profile(tmp_path: Path) -> records.CaseRecord:
    (record,) = records.load(profile_path(tmp_path)).cases
    return record


def marked(tmp_path: Path, name: str, script: str) -> tuple[bytes, bytes]:
    """The job `script` profiled with --mark 'Epoch \\d+': what it printed on stdout and stderr, through sizeup."""
    job = tmp_path / name
    job.write_text(script)
    proc = profile(tmp_path, "--mark", r"Epoch \d+", "--", sys.executable, str(job))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return out, err


@pytest.mark.e2e
def test_lines_the_job_prints_start_phases_and_pass_through_unchanged(tmp_path: Path, capsys) -> None:
    needs_quiet()
    out, err = marked(tmp_path, "train.py", "import sys, time\nprint('loading')\ntime.sleep(0.5)\nfor e in (1, 2):\n"
                      "    print(f'Epoch {e}/2 \\u00e9')\n    end = time.time() + 0.6\n"
                      "    while time.time() < end: pass\n    print(f'loss {e}', file=sys.stderr)\n")
    assert out == "loading\nEpoch 1/2 \u00e9\nEpoch 2/2 \u00e9\n".encode()  # the job's alone
    assert err.startswith(b"loss 1\nloss 2\n\nsizeup profile: train.py ran")  # sizeup's lines after the job's own
    record = the_profile(tmp_path)
    run = record.runs[0]
    assert set(run.phases) == {"run", "Epoch 1", "Epoch 2", "unmarked"} and record.params["mark"] == r"Epoch \d+"
    assert 0.45 < run.phases["unmarked"] < 2.0  # start-up and the 0.5 s of loading, before the first epoch's line
    assert run.phases["Epoch 1"] == pytest.approx(0.6, abs=0.15) and run.phases["Epoch 2"] == pytest.approx(0.6, abs=0.15)
    assert run.spans["run"][0] + 0.4 < run.spans["Epoch 1"][0] < run.spans["Epoch 2"][0]
    path = profile_path(tmp_path)
    assert cli.main(["show", str(path)]) == 0  # `show` says what profile does under its table, --json has it all
    shown = capsys.readouterr().out
    assert "phase Epoch 1: 0." in shown and "Right-size (low confidence)" in shown
    assert cli.main(["show", "--json", str(path)]) == 0
    shown = json.loads(capsys.readouterr().out)["cases"][0]["phases"]
    assert list(shown) == ["run", "Epoch 1", "Epoch 2", "unmarked"]
    assert shown["Epoch 2"]["median"] == run.phases["Epoch 2"]


@pytest.mark.e2e
def test_a_gigabyte_of_output_passes_through_marked_and_byte_for_byte(tmp_path: Path) -> None:
    """Lines of 10 MB (past what one line is searched for), an epoch line between every ten of them."""
    block = b"x" * (10 << 20) + b"\n"
    job = tmp_path / "loud.py"
    job.write_text("import sys\nblock = b'x' * (10 << 20) + b'\\n'\nfor e in range(10):\n"
                   "    sys.stdout.buffer.write(f'Epoch {e}\\n'.encode())\n"
                   "    for _ in range(10): sys.stdout.buffer.write(block)\n")
    expected = hashlib.sha256()
    for e in range(10):
        expected.update(f"Epoch {e}\n".encode())
        for _ in range(10):
            expected.update(block)
    size = 10 * (len(b"Epoch 0\n") + 10 * len(block))
    proc = profile(tmp_path, "--mark", r"Epoch \d+", "--", sys.executable, str(job), stderr=subprocess.DEVNULL)
    got, read = hashlib.sha256(), 0
    while chunk := proc.stdout.read(min(1 << 20, size - read)) if read < size else b"":
        got.update(chunk)
        read += len(chunk)
    tail = proc.stdout.read()
    assert proc.wait(timeout=120) == 0 and read == size > 1e9
    assert got.hexdigest() == expected.hexdigest() and tail == b""  # sizeup's own lines went to stderr
    assert {f"Epoch {e}" for e in range(10)} < set(the_profile(tmp_path).runs[0].phases)


@pytest.mark.e2e
def test_a_progress_bar_redrawn_with_carriage_returns_marks_each_epoch_from_its_start(tmp_path: Path) -> None:
    needs_quiet()
    out, _ = marked(tmp_path, "bar.py", "import sys, time\nfor e in (1, 2, 3):\n    for i in range(5):\n"
                    "        sys.stdout.write(f'\\rEpoch {e}: {20 * i}%'); sys.stdout.flush()\n"
                    "        end = time.time() + 0.12\n        while time.time() < end: pass\n    print()\n")
    assert out.startswith(b"\rEpoch 1: 0%\rEpoch 1: 20%")
    phases = the_profile(tmp_path).runs[0].phases
    for e in (1, 2, 3):  # before: a phase began when its bar's line ended, and the last one had no time
        assert phases[f"Epoch {e}"] == pytest.approx(0.6, abs=0.15)


@pytest.mark.e2e
def test_where_sizeups_output_is_a_terminal_the_jobs_is_one_too_and_its_bytes_pass_unchanged(tmp_path: Path) -> None:
    job = tmp_path / "tty.py"
    # The job stays a moment after its mark: a line read only after the job's exit was seen starts no phase
    # (profile drops marks past the end), and under load that read can come late (a CI run lost 'Epoch' so).
    job.write_text("import sys, time\nprint('tty', sys.stdout.isatty())\nprint('Epoch 1', flush=True)\n"
                   "time.sleep(0.3)\n")
    outer, inner = pty.openpty()
    tty.setraw(inner)  # what sizeup writes arrives as written
    proc = subprocess.Popen([sys.executable, "-m", "harness", "profile", "--results-dir", str(tmp_path / "results"),
                             "--mark", "Epoch", "--", sys.executable, str(job)], stdout=inner, stderr=subprocess.PIPE)
    os.close(inner)
    out = b""
    while True:
        try:
            chunk = os.read(outer, 1 << 16)
        except OSError:  # every writer gone
            break
        if not chunk:
            break
        out += chunk
    os.close(outer)
    assert proc.wait(timeout=60) == 0
    assert out.startswith(b"tty True\nEpoch 1\n")  # a terminal to the job, and no newline made CR-LF
    assert "Epoch" in the_profile(tmp_path).runs[0].phases


def test_output_sizeup_cannot_write_is_dropped_not_raised() -> None:
    full = os.open("/dev/full", os.O_WRONLY)
    try:
        _write_all(full, b"x" * 100)  # ENOSPC: the job's output is drained, the job never dies of it
    finally:
        os.close(full)


def test_a_phase_runs_until_a_line_names_another_and_the_names_are_capped() -> None:
    tee = Tee(pattern("x"), [])
    tee.hits = [(1.0, "a"), (2.0, "a"), (3.0, "b"), (4.0, "a"), (9.5, "c")]
    assert tee.windows(end=9.0) == {"a": [(1.0, 3.0), (4.0, 9.0)], "b": [(3.0, 4.0)]}  # c: after the job ended
    tee.hits = [(float(i), f"n{i}") for i in range(2 * MAX_NAMES)]
    windows = tee.windows(end=1e3)
    assert len(windows) == MAX_NAMES and "n98" in windows and "n99" not in windows
    # Every name past the cap is one phase, which keeps their time marked: up to the job's end.
    assert windows[MORE] == [(float(i), float(i + 1)) for i in range(MAX_NAMES - 1, 2 * MAX_NAMES - 1)] + [
        (2 * MAX_NAMES - 1, 1e3)]


def test_the_name_is_the_phase_group_else_the_first_group_else_the_match() -> None:
    line = b"Epoch 3/10 - loss 0.1"
    assert name_of(pattern(r"(?P<n>\d+)/(?P<phase>\d+)").search(line)) == "10"
    assert name_of(pattern(r"Epoch (\d+)").search(line)) == "3"
    assert name_of(pattern(r"Epoch\s+\d+").search(line)) == "Epoch 3"
    assert pattern(os.fsdecode(b"\xff\xfe")).search(b"a\xff\xfe") is not None  # bytes the shell passed undecodable


@pytest.mark.parametrize("text, code", [("Epoch (", "not a regular expression"), ("x*", "matches an empty line"),
                                        ("^", "matches an empty line")])
def test_a_pattern_that_cannot_mark_is_refused(text: str, code: str) -> None:
    with pytest.raises(SizeupError, match=code):
        pattern(text)


def test_a_line_still_being_printed_starts_its_phase_when_its_mark_arrives() -> None:
    """'Epoch 1 ... ' then the epoch's work, then 'done': the phase starts with the mark, not with the line's end;
    a mark at the end of what has come may yet grow ('Epoch 2' of 'Epoch 20') and waits."""
    read, write = os.pipe()
    sink = os.open(os.devnull, os.O_WRONLY)
    tee = Tee(pattern(r"Epoch (\d+)"), [(read, sink)])
    started = time.monotonic()
    for chunk, pause in ((b"Epoch 1 ... ", 0.3), (b"done\nEpoch 2", 0.2), (b"0 ... ", 0.3), (b"done\n", 0.0)):
        os.write(write, chunk)
        time.sleep(pause)
    os.close(write)
    windows = tee.windows(end=time.monotonic())
    os.close(sink)
    assert list(windows) == ["1", "20"]
    ((a, b),) = windows["1"]
    assert a - started < 0.2 and b - a > 0.3  # before: phase 1 began at 'done', 0.3 s late


def test_each_mark_of_a_line_printed_in_pieces_is_read_once_in_order() -> None:
    read, write = os.pipe()
    sink = os.open(os.devnull, os.O_WRONLY)
    tee = Tee(pattern(r"(train|eval)"), [(read, sink)])
    for chunk in (b"step train 1 ", b"eval 2 ", b"end\n"):
        os.write(write, chunk)
        time.sleep(0.05)
    os.close(write)
    tee.windows(end=time.monotonic())
    os.close(sink)
    assert [name for _, name in tee.hits] == ["train", "eval"]  # not train, eval, then both again at the line's end
