"""`--mlflow`: a profile and a run logged to a real local MLflow store (SQLite, created by the test) and read back
through MLflow's own `search_runs`; a store that cannot take them is said before any work, in one line."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from harness import cli, records

pytestmark = pytest.mark.e2e


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite store; its artifacts land under the working directory, here the test's own."""
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # what `--mlflow` alone and `mlflow.search_runs` both read
    return uri


def result_file(tmp_path: Path, kind: str) -> Path:
    (path,) = tmp_path.glob(f"results/*/*-{kind}-*.json")
    return path


def artifact(run_id: str, name: str, tmp_path: Path) -> dict:
    return json.loads(Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=name,
                                                                dst_path=str(tmp_path / "down"))).read_text())


def test_a_profile_is_logged_with_its_params_figures_series_and_result(tmp_path: Path, store: str, capsys) -> None:
    job = tmp_path / "train.py"
    job.write_text("import time\nfrom harness import phase\nblock = bytearray(80 * 2**20)\nwith phase('train (x)'):\n"
                   "    end = time.time() + 1.6\n    while time.time() < end: pass\n")
    code = cli.main(["profile", "--results-dir", str(tmp_path / "results"), "--mlflow", "--", sys.executable, str(job)])
    assert code == 0, capsys.readouterr()
    path = result_file(tmp_path, "profile")
    (record,) = records.load(path).cases
    runs = mlflow.search_runs(experiment_names=["sizeup"])
    assert len(runs) == 1
    got = runs.iloc[0]
    assert got["status"] == "FINISHED" and got["tags.mlflow.runName"] == "train.py"
    assert got["params.workload"] == "profile" and got["params.command"].endswith("train.py")
    assert got["params.machine"] == records.load(path).machine["id"] and got["tags.sizeup.exit_code"] == "0"
    assert got["metrics.run_seconds"] == pytest.approx(record.runs[0].phases["run"])
    assert got["metrics.peak_memory_megabytes"] == pytest.approx(record.telemetry["peak_memory_bytes"] / 1e6)
    assert got["metrics.peak_memory_megabytes"] > 80 * 2**20 / 1e6
    # A phase named as MLflow would refuse ('(' and ')') is logged under a name it takes, not lost with the rest.
    assert got["metrics.train _x__seconds"] == pytest.approx(record.runs[0].phases["train (x)"])
    client = MlflowClient()
    series = record.telemetry["series"]
    cpu = client.get_metric_history(got["run_id"], "process/cpu_percent")
    assert [m.step for m in cpu] == list(range(len(series["t"])))
    assert [m.value for m in cpu] == pytest.approx(series["cpu_percent"])
    machine = client.get_metric_history(got["run_id"], "system/cpu_utilization_percentage")
    assert [m.value for m in machine] == pytest.approx([np.mean(c) for c in series["percore"]]) and machine
    assert artifact(got["run_id"], path.name, tmp_path) == json.loads(path.read_text())
    assert f"Logged to MLflow at {store}" in capsys.readouterr().err  # profile's own lines: on stderr


def test_a_run_logs_a_parent_run_and_one_child_per_case(tmp_path: Path, store: str) -> None:
    code = cli.main(["run", "--workloads", "diabetes", "--models", "linear", "--backends", "sklearn", "--sizes",
                     "100,200", "--repeats", "2", "--results-dir", str(tmp_path / "results"), "--mlflow", store])
    assert code == 0
    path = result_file(tmp_path, "quick")
    result = records.load(path)
    runs = mlflow.search_runs(experiment_names=["sizeup"]).set_index("tags.mlflow.runName")
    assert set(runs.index) == {result.run_id, *(c.id for c in result.cases)}
    parent = runs.loc[result.run_id]
    assert parent["params.suite"] == "quick" and parent["params.cases"] == "2" and parent["status"] == "FINISHED"
    for record in result.cases:
        child = runs.loc[record.id]
        assert child["tags.mlflow.parentRunId"] == parent["run_id"] and child["status"] == "FINISHED"
        assert (child["params.model"], child["params.size"]) == ("linear", str(record.case.size))
        assert child["metrics.fit_seconds"] == pytest.approx(np.median(record.phase_samples("fit")))
        assert child["metrics.quality_r2"] == pytest.approx(record.warm_runs()[-1].quality["r2"])
    assert artifact(parent["run_id"], path.name, tmp_path) == json.loads(path.read_text())


def job_and_flags(tmp_path: Path, command: str) -> list[str]:
    """A command whose only trace is a file: it must never be created when the store is refused first."""
    if command == "profile":
        return ["profile", "--results-dir", str(tmp_path / "results"), "--mlflow", "{uri}", "--", "touch",
                str(tmp_path / "ran")]
    return ["run", "--workloads", "diabetes", "--models", "linear", "--backends", "sklearn", "--sizes", "100",
            "--repeats", "0", "--results-dir", str(tmp_path / "results"), "--mlflow", "{uri}"]


def free_port() -> int:
    with socket.socket() as s:  # bound, then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("command", ["profile", "run"])
@pytest.mark.parametrize("fault", ["no-extra", "unreachable", "unwritable", "read-only", "deleted"])
def test_a_store_that_cannot_take_the_result_is_said_before_any_work(tmp_path: Path, monkeypatch, capsys,
                                                                     command: str, fault: str) -> None:
    monkeypatch.chdir(tmp_path)
    uri = {"no-extra": f"sqlite:///{tmp_path / 'm.db'}", "unreachable": f"http://127.0.0.1:{free_port()}",
           "unwritable": f"sqlite:///{tmp_path / 'a-file' / 'm.db'}",
           "read-only": f"sqlite:///file:{tmp_path / 'ro.db'}?mode=ro&uri=true",  # read-only even to root
           "deleted": f"sqlite:///{tmp_path / 'm.db'}"}[fault]
    (tmp_path / "a-file").write_text("")
    if fault == "read-only":
        MlflowClient(f"sqlite:///{tmp_path / 'ro.db'}").create_experiment("sizeup")  # a store with its experiment
    if fault == "deleted":  # the user deleted sizeup's experiment in the MLflow UI
        client = MlflowClient(uri)
        client.delete_experiment(client.create_experiment("sizeup"))
    if fault == "no-extra":
        monkeypatch.setitem(sys.modules, "mlflow", None)  # as where the extra is not installed: import fails
    capsys.readouterr()  # what setting up the store printed
    code = cli.main([uri if a == "{uri}" else a for a in job_and_flags(tmp_path, command)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert ("pip install -e '.[mlflow]'" in err) == (fault == "no-extra")
    assert fault != "read-only" or "attempt to write a readonly database" in err  # the cause, not MLflow's wrapping
    assert fault != "deleted" or "was deleted; restore it" in err
    assert not (tmp_path / "ran").exists() and not list(tmp_path.glob("results/*/*.json*"))


def test_a_store_that_fails_after_the_job_keeps_the_profile_and_exits_2(tmp_path: Path, store: str, capsys) -> None:
    """The job itself puts a file where the store keeps its artifacts: the metrics go in, the result file cannot."""
    job = tmp_path / "break.py"
    job.write_text("import pathlib, shutil\nshutil.rmtree('mlruns', ignore_errors=True)\n"
                   "pathlib.Path('mlruns').write_text('not a folder')\n")
    code = cli.main(["profile", "--results-dir", str(tmp_path / "results"), "--mlflow", store, "--",
                     sys.executable, str(job)])
    err = capsys.readouterr().err
    assert code == 2 and "could not log to MLflow" in err and "Traceback" not in err
    assert records.load(result_file(tmp_path, "profile")).cases[0].exit["returncode"] == 0
    (got,) = mlflow.search_runs(experiment_names=["sizeup"]).itertuples()
    assert got.status == "FAILED"  # not left "running"


def test_input_refused_after_the_store_opened_leaves_no_run_behind(tmp_path: Path, store: str, capsys) -> None:
    code = cli.main(["profile", "--results-dir", str(tmp_path / "results"), "--sample-hz", "1000", "--mlflow", store,
                     "--", "true"])
    assert code == 2 and "--sample-hz must be from" in capsys.readouterr().err
    assert mlflow.search_runs(experiment_names=["sizeup"]).empty  # deleted, not left "running" or "failed"


def test_a_command_taken_for_the_tracking_uri_is_said(tmp_path: Path, capsys) -> None:
    code = cli.main(["profile", "--results-dir", str(tmp_path / "results"), "--mlflow", "python3", "job.py"])
    assert code == 2 and "put -- between" in capsys.readouterr().err
