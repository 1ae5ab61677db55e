"""Models on Spark DataFrames (the `spark` backend's split: a row id, a feature vector, a label).

XGBoost's own Spark estimators train the same trees as the single-node XGBoost cases (hist, same
depth, rate and rounds), one XGBoost worker per Spark core; MLlib's gradient-boosted trees and
... MLlib's gradient-boosted trees are Spark's native baseline. Predictions come back to NumPy in row order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workloads.base import ModelContext

ROW, FEATURES, LABEL = "sizeup_row", "features", "label"  # as harness.run.backends.spark writes them
# Fewer trees than XGBoost's 200: MLlib takes about a second per tree at 20,000 rows on 2 cores, so
# 200 would make every case minutes long. The quality column shows what that costs.
GBT_ITERATIONS = 20


class SparkModel:
    """Fit on a Spark DataFrame; `predict` collects, per row, P(class 1), every class's probability
    (`classes`), or the value."""

    def __init__(self, estimator: Any, probability: bool, classes: bool = False) -> None:
        self.estimator = estimator
        self.probability = probability
        self.classes = classes

    def fit(self, frame: Any, _labels: Any = None) -> SparkModel:
        self.model = self.estimator.fit(frame)
        return self

    def predict(self, frame: Any) -> np.ndarray:
        from pyspark.ml.functions import vector_to_array

        scored = self.model.transform(frame)
        if self.classes:
            value = vector_to_array("probability")
        else:
            value = vector_to_array("probability")[1] if self.probability else scored["prediction"]
        out = scored.select(ROW, value.alias("value")).toPandas().sort_values(ROW)
        if self.classes:
            return np.stack(out["value"].to_numpy()).astype(np.float64)
        return out["value"].to_numpy(dtype=np.float64)


def xgboost(ctx: ModelContext, objective: str) -> SparkModel:
    """`objective` "binary:logistic" predicts P(class 1); "classes" every class's probability, two classes or
    more (XGBoost counts them from the labels); any other is a regression objective."""
    from xgboost.spark import SparkXGBClassifier, SparkXGBRegressor

    classify = objective in ("binary:logistic", "classes")
    estimator = (SparkXGBClassifier if classify else SparkXGBRegressor)(
        features_col=FEATURES, label_col=LABEL, num_workers=ctx.threads, tree_method="hist",
        n_estimators=int(ctx.params["trees"]), max_depth=6, learning_rate=0.1, random_state=ctx.seed,
        verbosity=0, **({} if classify else {"objective": objective}))
    return SparkModel(estimator, probability=classify, classes=objective == "classes")


def gbt(ctx: ModelContext, classify: bool) -> SparkModel:
    """MLlib's gradient-boosted trees, Spark's own: GBT_ITERATIONS trees, each a round of Spark jobs."""
    from pyspark.ml.classification import GBTClassifier
    from pyspark.ml.regression import GBTRegressor

    estimator = (GBTClassifier if classify else GBTRegressor)(
        featuresCol=FEATURES, labelCol=LABEL, maxIter=GBT_ITERATIONS, maxDepth=6,
        stepSize=0.1, seed=ctx.seed)
    return SparkModel(estimator, probability=classify)
