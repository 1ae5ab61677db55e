"""Workloads that misbehave on purpose, to test the runner with real processes.

Loaded through SIZEUP_EXTRA_WORKLOADS=tests.faulty, so spawned workers find it too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from workloads.base import Model, ModelContext, Split, Workload


def generate(size: int, seed: int, params: Mapping[str, Any]) -> Split:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((size, 3))
    y = (X[:, 0] > 0).astype(int)
    return Split(X, y, X, y)


def score(y_true: Any, y_pred: Any) -> dict[str, float]:
    return {"accuracy": float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))}


class Behaviour:
    def __init__(self, ctx: ModelContext, action: Any) -> None:
        self.ctx, self.action = ctx, action

    def fit(self, X: Any, y: Any) -> Behaviour:
        marker = self.ctx.params.get("marker")
        if marker:  # lets a test count how often each case really ran
            with open(marker, "a") as f:
                f.write(f"{self.ctx.params.get('tag', '')}\n")
        self.action(self.ctx)
        return self

    def predict(self, X: Any) -> Any:
        return (np.asarray(X)[:, 0] > 0).astype(int)


def _sleep(ctx: ModelContext) -> None:
    time.sleep(float(ctx.params["seconds"]))


def _sleep_with_child(ctx: ModelContext) -> None:
    child = subprocess.Popen(["sleep", "300"])
    Path(ctx.params["pidfile"]).write_text(str(child.pid))
    time.sleep(300)


def _hog(ctx: ModelContext) -> None:
    blocks = []
    while True:  # touch every page so RSS really grows
        blocks.append(np.ones(16 * 2**20 // 8))
        time.sleep(0.01)


def _spin(ctx: ModelContext) -> None:
    """A fixed amount of CPU work on one thread: it takes longer when other processes compete."""
    for _ in range(int(ctx.params["iterations"])):
        pass


def burn(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


BURN_CHILD = "import time\nend = time.thread_time() + {s}\nwhile time.thread_time() < end: pass\n"


class KnownPhases:
    """fit burns `seconds` of CPU itself and as much again in a child it waits for; predict sleeps `seconds`."""

    def __init__(self, ctx: ModelContext) -> None:
        self.seconds = float(ctx.params["seconds"])

    def fit(self, X: Any, y: Any) -> KnownPhases:
        burn(self.seconds)
        subprocess.run([sys.executable, "-c", BURN_CHILD.format(s=self.seconds)], check=True)
        return self

    def predict(self, X: Any) -> Any:
        time.sleep(self.seconds)
        return (np.asarray(X)[:, 0] > 0).astype(int)


def _fork_share(ctx: ModelContext) -> None:
    """Three forked children share a `mib` MiB array copy-on-write for `seconds`: the machine holds it once."""
    shared = np.ones(int(ctx.params["mib"]) * 2**20 // 8)  # touched: resident in the parent
    children = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            time.sleep(float(ctx.params["seconds"]))
            os._exit(0 if shared[-1] == 1.0 else 1)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)


def _raise(ctx: ModelContext) -> None:
    raise ValueError(ctx.params["tag"] or "this model always fails")


DAEMON = """
import os, sys, time
if os.fork():  # the parent exits at once: the grandchild is an orphan, in a session of its own
    os._exit(0)
os.setsid()
time.sleep(300)
"""


def _leave_daemons(ctx: ModelContext) -> None:
    """Leave two orphans in sessions of their own, `tag` in their command lines: one keeps the
    environment, one starts with an empty one. Then sleep `seconds`."""
    for env in (None, {}):
        subprocess.run([sys.executable, "-c", DAEMON, ctx.params["tag"]], env=env, check=True)
    time.sleep(float(ctx.params["seconds"]))


def _flood(ctx: ModelContext) -> None:
    """Print `mib` MiB of lines."""
    block = (b"x" * 1023 + b"\n") * 1024
    for _ in range(int(ctx.params["mib"])):
        sys.stdout.buffer.write(block)
    sys.stdout.buffer.write(b"the last line\n")
    sys.stdout.flush()


def _device_oom(ctx: ModelContext) -> None:
    import torch

    # The exception PyTorch raises when CUDA memory runs out (it exists in CPU builds too).
    raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.1 GiB total)")


def _realtime_signal(ctx: ModelContext) -> None:
    os.kill(os.getpid(), signal.SIGRTMIN + 2)  # a signal Python has no name for
    time.sleep(10)


SIGNAL_PARENT = "import os, sys, time\nos.kill(int(sys.argv[1]), int(sys.argv[2]))\ntime.sleep(30)\n"


def _signal_harness(ctx: ModelContext) -> None:
    """Send the harness (the worker's parent) signal `signum`, from the worker itself or, with `child`, from
    a process the worker started; then wait to be stopped."""
    harness, signum = os.getppid(), int(ctx.params["signum"])
    if ctx.params["child"]:
        subprocess.run([sys.executable, "-c", SIGNAL_PARENT, str(harness), str(signum)])
    else:
        os.kill(harness, signum)
    time.sleep(30)


class ChangesItsData:
    """Scales its training data in place: every repeat after the first trains on other data."""

    def __init__(self, ctx: ModelContext) -> None:
        pass

    def fit(self, X: Any, y: Any) -> ChangesItsData:
        X *= 2.0
        return self

    def predict(self, X: Any) -> Any:
        return (np.asarray(X)[:, 0] > 0).astype(int)


def _segfault(ctx: ModelContext) -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def _remove_own_folder(ctx: ModelContext) -> None:
    import shutil

    shutil.rmtree(Path(sys.argv[1]).parent, ignore_errors=True)  # the worker's temp folder, events file included


def _missing(ctx: ModelContext) -> None:
    import a_module_that_is_not_installed  # noqa: F401


# The numpy backend imports nothing the worker has not: on scikit-learn's, each faulty case's start-up imported it
# (1 s), in some 80 workers, for models that never use it.
BACKEND = "numpy"


def model(name: str, action: Any) -> Model:
    return Model(name, (BACKEND,), lambda ctx: Behaviour(ctx, action))


WORKLOADS = (
    Workload(
        name="faulty",
        family="classification",
        description="test workload: each model fails in its own way",
        generate=generate,
        models=(
            model("ok", lambda ctx: None),
            model("sleep", _sleep),
            model("sleep_with_child", _sleep_with_child),
            model("hog", _hog),
            model("raise", _raise),
            model("segfault", _segfault),
            Model("changes_its_data", (BACKEND,), ChangesItsData),
            model("signal_harness", _signal_harness),
            model("missing", _missing),
            model("spin", _spin),
            Model("known_phases", (BACKEND,), KnownPhases),
            model("fork_share", _fork_share),
            model("leave_daemons", _leave_daemons),
            model("flood", _flood),
            model("realtime_signal", _realtime_signal),
            model("device_oom", _device_oom),
            model("remove_own_folder", _remove_own_folder),
        ),
        score=score,
        metric="accuracy",
        params={"seconds": 0.0, "marker": "", "tag": "", "pidfile": "", "iterations": 0, "mib": 0, "signum": 0,
                "child": False},
        sizes=(100,),
    ),
)
