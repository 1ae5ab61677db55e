"""Array code written once for NumPy and CuPy: the array module comes from the data.

The harness's backend puts the arrays where they belong (``numpy`` keeps them on the
host, ``cupy`` moves them to the GPU); code here asks an array which module it belongs
to and uses that, so the same lines run, and are tested, on NumPy.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np


def module_of(a: Any) -> ModuleType:
    """`cupy` for a CuPy array (imported only when given one), the module an array names as its namespace (the
    array API's `__array_namespace__`: the tests' strict stand-in), else `numpy`."""
    if type(a).__module__.partition(".")[0] == "cupy":
        import cupy

        return cupy
    if not isinstance(a, np.ndarray) and hasattr(a, "__array_namespace__"):
        return a.__array_namespace__()
    return np


class NormalEquationRidge:
    """Ridge regression solved from its normal equations on standardized features.

    (Z'Z + alpha I) w = Z'(y - mean y): one matrix product and one small solve, the kind of
    dense linear algebra a GPU array library is made for.
    """

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def fit(self, X: Any, y: Any) -> NormalEquationRidge:
        xp = module_of(X)
        X, y = xp.asarray(X, dtype=xp.float64), xp.asarray(y, dtype=xp.float64)
        self.mean_, self.scale_ = X.mean(axis=0), X.std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0  # a constant column contributes nothing, and must not divide by 0
        Z = (X - self.mean_) / self.scale_
        self.intercept_ = y.mean()
        gram = Z.T @ Z + self.alpha * xp.eye(Z.shape[1])
        self.coef_ = xp.linalg.solve(gram, Z.T @ (y - self.intercept_))
        return self

    def predict(self, X: Any) -> Any:
        xp = module_of(X)
        return ((xp.asarray(X, dtype=xp.float64) - self.mean_) / self.scale_) @ self.coef_ + self.intercept_
