"""Apache Spark: an embedded local Spark (`local[threads]`, started by the worker) by default, or a
cluster by URL (`sizeup run --spark-master spark://host:7077`, or SIZEUP_SPARK_MASTER / MASTER in the
environment). A Spark Connect URL (`sc://...`, or SPARK_REMOTE) is passed through as such.

Lifecycle, as for a GPU: start-up creates the session (the cold run's `startup`); `transfer` is the
data load: the split is written to Parquet once per worker (the same seeded data, so the same
hash as the single-node cases) and every repeat has Spark read it, assemble the feature vector and
cache it; models collect their predictions to NumPy in row order, so scoring is the host's.

In local mode the JVM and Spark's Python workers are children of the case's worker, so the
harness samples their CPU and memory with the rest; on a cluster the executors run elsewhere and
only the driver is sampled (the record says which master ran the case). A cluster must be able to
read the staging folder (SIZEUP_SPARK_STAGING, default a local temporary folder): true for a
cluster on this machine, not for a remote one without a shared path.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import warnings
from typing import Any

from harness.run.backends import Availability, Backend
from workloads.base import Split

MASTER_VARIABLES = ("SIZEUP_SPARK_MASTER", "MASTER")  # first set wins; SPARK_REMOTE is Spark Connect's own
DRIVER_MEMORY = os.environ.get("SIZEUP_SPARK_DRIVER_MEMORY", "4g")  # local mode: the whole Spark heap
ROW = "sizeup_row"  # row order, so predictions line up with the host's labels
LABEL = "label"
FEATURES = "features"

_state: dict[str, Any] = {}  # this worker's session and staged Parquet files


def master(threads: int) -> str:
    """Where cases run: a URL from the environment, else an embedded Spark with one core per thread."""
    for name in MASTER_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    return os.environ.get("SPARK_REMOTE") or f"local[{threads}]"


def check_master(url: str, timeout_s: float = 5.0) -> None:
    """Refuse, once and before any case, a master that every Spark case would fail on: a malformed URL, an
    embedded `local[N]` (the cases' --threads decide that, so each record's threads are what ran), or a
    cluster that does not answer (each case waited about 70 s to find out)."""
    import socket
    from urllib.parse import urlsplit

    from harness.errors import SizeupError

    if url.startswith("local"):
        raise SizeupError(f"--spark-master {url}: an embedded Spark is the default, with one core per case thread; "
                          "choose them with --threads")
    parts = urlsplit(url)
    if parts.scheme not in ("spark", "sc") or not parts.hostname:
        raise SizeupError(f"--spark-master {url!r}: give a cluster as spark://HOST:PORT, or Spark Connect as "
                          "sc://HOST[:PORT]")
    try:
        port = parts.port or (15002 if parts.scheme == "sc" else 7077)
    except ValueError:
        raise SizeupError(f"--spark-master {url!r}: the port is not a number") from None
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout_s).close()
    except OSError as exc:
        raise SizeupError(f"--spark-master {url}: no Spark answers at {parts.hostname}:{port} "
                          f"({exc.strerror or exc})") from None


def session() -> Any:
    return _state["session"]


class Spark(Backend):
    def probe_device(self) -> Availability:
        home = os.environ.get("JAVA_HOME")
        java = shutil.which("java", path=os.path.join(home, "bin")) if home else shutil.which("java")
        if java is None and not os.environ.get("SPARK_REMOTE", "").startswith("sc://"):
            return Availability(False, "no Java: Spark needs a JVM (no java on PATH or under JAVA_HOME)")
        return Availability(True)

    def prepare(self, threads: int) -> None:
        # Spark starts its Python workers with `python3` from PATH unless told: they must be this
        # interpreter, which has sizeup's libraries.
        os.environ["PYSPARK_PYTHON"] = os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
        # pyspark 4.3 warns that pandas 3 is not fully supported; what sizeup uses of it (Arrow
        # conversion to pandas, xgboost.spark's mapInPandas) is exercised by the tests.
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        from pyspark.sql import SparkSession

        url = master(threads)
        builder = SparkSession.builder.appName("sizeup")
        if url.startswith("sc://"):
            spark = builder.remote(url).getOrCreate()
        else:
            spark = (builder.master(url)
                     .config("spark.driver.memory", DRIVER_MEMORY)
                     # The JVM's temp files and Spark's block stores in the case's TMPDIR, removed with the case
                     .config("spark.local.dir", tempfile.gettempdir())
                     .config("spark.driver.extraJavaOptions", f"-Djava.io.tmpdir={tempfile.gettempdir()}")
                     .config("spark.ui.showConsoleProgress", "false")
                     .config("spark.sql.shuffle.partitions", str(max(2, 2 * threads)))
                     .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                     .config("spark.executor.cores", str(threads))
                     .config("spark.cores.max", str(threads))
                     .getOrCreate())
            spark.sparkContext.setLogLevel("ERROR")
        spark.range(1).count()  # the first job starts the executors: start-up, not the first load
        _state.update(session=spark, master=url, threads=threads)

    def start_up(self, threads: int) -> Availability:
        found = super().start_up(threads)
        return Availability(True, f"{found.reason}, {describe()}") if found.ok else found

    def to_device(self, split: Split) -> Split:
        """The data load: Parquet (written by the first repeat only) read by Spark and cached."""
        if "staged" not in _state:
            _state["staged"] = _stage(split)
        train_path, test_path, columns = _state["staged"]
        return Split(_load(train_path, columns), None, _load(test_path, columns), split.y_test)


def describe() -> str:
    """The cluster as Spark sees it, for the record: master, executors, parallelism."""
    try:
        context = session().sparkContext
    except Exception:  # Spark Connect has no SparkContext
        return f"master {_state['master']} (Spark Connect)"
    blocks = context._jsc.sc().getExecutorMemoryStatus().size()  # the driver's, and each executor's
    executors = blocks - 1 if blocks > 1 else 1  # local mode: the driver is the executor
    return f"master {_state['master']}, {executors} executor(s), default parallelism {context.defaultParallelism}"


def _stage(split: Split) -> tuple[str, str, list[str]]:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tempfile.mkdtemp(prefix="sizeup-spark-", dir=os.environ.get("SIZEUP_SPARK_STAGING"))
    atexit.register(shutil.rmtree, folder, True)
    paths = []
    columns: list[str] = []
    for name, X, y in (("train", split.X_train, split.y_train), ("test", split.X_test, split.y_test)):
        frame = X.copy() if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
        frame.columns = columns = [f"f{i}" for i in range(frame.shape[1])]  # Spark-safe names, in order
        frame[LABEL] = np.asarray(y, dtype=np.float64)
        frame[ROW] = np.arange(len(frame), dtype=np.int64)
        paths.append(os.path.join(folder, f"{name}.parquet"))
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), paths[-1])
    return paths[0], paths[1], columns


def _load(path: str, columns: list[str]) -> Any:
    from pyspark.ml.feature import VectorAssembler

    frame = session().read.parquet(path)
    assembled = VectorAssembler(inputCols=columns, outputCol=FEATURES, handleInvalid="keep").transform(frame)
    assembled = assembled.select(ROW, FEATURES, LABEL).cache()
    assembled.count()  # materialize: reading and caching belong to the load, not to the fit
    return assembled


BACKENDS = (
    Spark("spark", "cpu", ("pyspark", "pyarrow"), "Apache Spark: embedded local[threads], or a cluster by URL",
          lazy_modules=("pyspark.ml", "pyspark.ml.feature", "pyspark.ml.functions", "xgboost.spark"),
          moves_data=True, distributed=True),
)
