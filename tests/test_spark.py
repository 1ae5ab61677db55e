"""The `spark` backend on a real Spark: the models on one shared embedded (local) session, and a
case through the whole harness on a standalone master and worker that the test starts itself."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from harness import cli
from harness.records import Case
from harness.run.backends import BACKENDS
from harness.run.backends.spark import check_master
from harness.run.runner import Limits, run_case

pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed (make install-test installs it with Java)")
JAVA = shutil.which("java") or (os.environ.get("JAVA_HOME") and shutil.which("java", path=f"{os.environ['JAVA_HOME']}/bin"))
needs_java = pytest.mark.skipif(not JAVA, reason="no Java on this machine: Spark needs a JVM")
# The cold run only: it holds every phase, and Spark's reuse of its session and staged data across
# repeats is checked in-process below, for a fraction of a harness case's 10-15 s.
LIMITS = Limits(repeats=0, timeout_s=300, memory_cap_bytes=8 * 2**30, sample_hz=5)
# Fewer trees and rows than the suites: these tests check the wiring, and Spark's own start-up dominates.
SMALL = {"trees": 50}


def test_without_java_the_spark_cases_are_skipped_with_the_reason(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    available = BACKENDS["spark"].probe_device()
    assert not available.ok and available.reason.startswith("no Java: Spark needs a JVM")


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory):
    """One local session for the model tests: Spark's start-up is paid once. Its JVM's files go to a folder of
    its own, as a case's do, not where the cluster test looks for a driver's leftovers."""
    from harness.run.backends import spark

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile, "tempdir", str(tmp_path_factory.mktemp("spark")))
        BACKENDS["spark"].start_up(2)
        yield spark
        spark.session().stop()
        spark._state.clear()


@needs_java
@pytest.mark.parametrize("workload, model, metric, floor", [
    ("classification", "gbt_spark", "roc_auc", 0.9),
    ("regression", "xgboost_spark", "r2", 0.8),
])
def test_spark_models_learn_and_return_predictions_in_row_order(session, workload: str, model: str, metric: str,
                                                                floor: float) -> None:
    from workloads import catalogue
    from workloads.base import ModelContext

    assert "master local[2], 1 executor(s), default parallelism 2" in session.describe()
    w = catalogue()[workload]
    ctx = ModelContext(threads=2, seed=0, device="cpu", params=dict(w.params) | SMALL)
    split = w.generate(3000, 0, ctx.params)
    session._state.pop("staged", None)  # each test stages its own data
    data = BACKENDS["spark"].to_device(split)
    staged, started = session._state["staged"], session.session()
    again = BACKENDS["spark"].to_device(split)  # a warm repeat: the same session and Parquet, loaded anew
    assert session._state["staged"] is staged and session.session() is started
    assert again.X_train.count() == len(split.y_train)
    estimator = w.model(model).build(ctx).fit(data.X_train)
    predicted = estimator.predict(data.X_test)
    assert predicted.shape == (len(split.y_test),) and np.isfinite(predicted).all()
    assert w.score(split.y_test, predicted)[metric] > floor  # shuffled rows would score as chance


@needs_java
def test_a_users_table_of_three_classes_gets_every_class_probability_from_spark(session, tmp_path: Path) -> None:
    from sklearn.datasets import load_wine

    from harness.run import userdata
    from workloads import catalogue
    from workloads.base import ModelContext

    load_wine(as_frame=True).frame.to_csv(tmp_path / "wine.csv", index=False)
    params = userdata.suite(userdata.identify(tmp_path / "wine.csv", "target"))["params"]
    w = catalogue()["user_classification"]
    ctx = ModelContext(threads=2, seed=0, device="cpu", params=dict(w.params) | params | SMALL)
    split = w.generate(178, 0, ctx.params)
    session._state.pop("staged", None)
    data = BACKENDS["spark"].to_device(split)
    proba = w.model("xgboost_spark").build(ctx).fit(data.X_train).predict(data.X_test)
    assert proba.shape == (len(split.y_test), 3) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert w.score(split.y_test, proba)["accuracy"] > 0.85


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def standalone(tmp_path: Path):
    """A Spark standalone master and one worker (2 cores), started with the scripts Spark ships."""
    spark_class = Path(pyspark.__file__).parent / "bin" / "spark-class"
    port = _free_port()
    env = {**os.environ, "SPARK_LOG_DIR": str(tmp_path), "SPARK_WORKER_DIR": str(tmp_path / "work"),
           "PYSPARK_PYTHON": sys.executable}
    started = [subprocess.Popen([str(spark_class), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                                 "--port", str(port), "--webui-port", str(_free_port())], env=env,
                                stdout=open(tmp_path / "master.log", "w"), stderr=subprocess.STDOUT)]
    url = f"spark://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while "I have been elected leader" not in (tmp_path / "master.log").read_text():
        assert time.monotonic() < deadline and started[0].poll() is None, (tmp_path / "master.log").read_text()
        time.sleep(0.5)
    started.append(subprocess.Popen([str(spark_class), "org.apache.spark.deploy.worker.Worker", url, "--cores", "2",
                                     "--memory", "2g", "--webui-port", str(_free_port())], env=env,
                                    stdout=open(tmp_path / "worker.log", "w"), stderr=subprocess.STDOUT))
    while "Successfully registered with master" not in (tmp_path / "worker.log").read_text():
        assert time.monotonic() < deadline and started[1].poll() is None, (tmp_path / "worker.log").read_text()
        time.sleep(0.5)
    yield url
    for process in reversed(started):
        process.terminate()
        process.wait(30)


DRIVER_LEFTOVERS = ("blockmgr-", "artifacts-", "liblz4-java", "snappy-")  # (spark-*: the cluster's daemons too)


@needs_java
def test_a_case_runs_through_the_harness_on_a_cluster_reached_by_url(standalone: str, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """One harness case, on the cluster: the embedded local mode is the session the model tests above use."""
    monkeypatch.setenv("SIZEUP_SPARK_MASTER", standalone)
    check_master(standalone)  # it answers: the run goes on
    shared = Path(tempfile.gettempdir())  # where the driver's JVM left its files, whatever TMPDIR said
    before = {p.name for p in shared.iterdir() if p.name.startswith(DRIVER_LEFTOVERS)}
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    spark = run_case(Case("classification", "xgboost_spark", "spark", 3000, 2, SMALL), LIMITS)
    assert spark.status == "ok", (spark.reason, spark.log_tail)
    assert f"master {standalone}, 1 executor(s)" in spark.backend_info
    (cold,) = spark.runs
    assert {"startup", "generate", "transfer", "fit", "predict", "score"} <= set(cold.phases)
    single = run_case(Case("classification", "xgboost", "xgboost", 3000, 2, SMALL), LIMITS)
    assert spark.data_sha256 == single.data_sha256
    auc = [r.runs[-1].quality["roc_auc"] for r in (spark, single)]
    assert auc[0] == pytest.approx(auc[1], abs=0.02)  # the same trees, split over two XGBoost workers
    # The driver's JVM is the worker's child: its memory is in the case's peak (a lone Python worker holds ~0.3 GiB).
    assert spark.telemetry["peak_memory_bytes"] > 2 * single.telemetry["peak_memory_bytes"]
    assert list(tmp.iterdir()) == []  # every case's temp files went with its own folder
    assert {p.name for p in shared.iterdir() if p.name.startswith(DRIVER_LEFTOVERS)} <= before


def test_a_master_every_case_would_fail_on_is_refused_before_the_run(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    for url in ("local[999]", "garbage", "spark://host:notaport", f"spark://127.0.0.1:{closed}"):
        started = time.monotonic()
        argv = ["run", "--backends", "spark", "--spark-master", url, "--results-dir", str(tmp_path)]
        assert cli.main(argv) == cli.EXIT_USAGE, url
        assert time.monotonic() - started < 10 and not list(tmp_path.iterdir()), url
