"""The `compile` param of the torch workloads: off by default, a bad mode refused before any phase runs, and
(on a GPU) a compiled model that trains to the same quality as the plain one."""

from __future__ import annotations

import numpy as np
import pytest

from workloads import nlp, vision
from workloads.base import ModelContext
from workloads.compile import MODES


@pytest.mark.parametrize("workload, model", [(vision.WORKLOADS[0], "cnn"), (nlp.WORKLOADS[0], "transformer"),
                                             (nlp.WORKLOADS[0], "embedding_bag")])
def test_compile_is_a_how_param_off_by_default_and_a_bad_mode_is_refused_at_build(workload, model) -> None:
    pytest.importorskip("torch")
    assert workload.params["compile"] == "off" and "compile" in workload.how and "off" in MODES
    build = workload.model(model).build
    with pytest.raises(ValueError, match="compile must be one of"):
        build(ModelContext(1, 0, "cpu", {**workload.params, "compile": "fast"}))


def test_an_uncompiled_network_is_the_module_itself() -> None:
    torch = pytest.importorskip("torch")
    split = vision.WORKLOADS[0].generate(200, 0, vision.WORKLOADS[0].params)
    est = vision.WORKLOADS[0].model("cnn").build(ModelContext(1, 0, "cpu", {**vision.WORKLOADS[0].params,
                                                                           "epochs": 1}))
    est.fit(split.X_train, split.y_train)
    assert type(est.net) is torch.nn.Sequential


@pytest.mark.gpu
def test_a_compiled_cnn_with_cuda_graphs_trains_like_the_plain_one() -> None:
    params = {**vision.WORKLOADS[0].params, "epochs": 2}
    split = vision.WORKLOADS[0].generate(2000, 0, params)
    scores = []
    for mode in ("off", "reduce-overhead"):
        est = vision.WORKLOADS[0].model("cnn").build(ModelContext(4, 0, "cuda", {**params, "compile": mode}))
        est.fit(split.X_train, split.y_train)
        scores.append(vision.WORKLOADS[0].score(split.y_test, np.asarray(est.predict(split.X_test)))["accuracy"])
    assert abs(scores[0] - scores[1]) < 0.05, scores
