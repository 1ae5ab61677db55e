"""Backends on the host CPU (PyTorch's are in pytorch.py)."""

from __future__ import annotations

from harness.run.backends import Backend

BACKENDS = (
    Backend("sklearn", "cpu", ("sklearn",), "scikit-learn and NumPy on the CPU"),
    Backend("numpy", "cpu", ("numpy",), "NumPy array code on the CPU (the CPU twin of cupy)"),
    Backend("xgboost", "cpu", ("xgboost",), "XGBoost on the CPU"),
)
