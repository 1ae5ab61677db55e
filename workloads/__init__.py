"""The workload catalogue, found by convention.

Every module in this package that defines ``WORKLOADS`` (a tuple of
:class:`~workloads.base.Workload`) contributes to the catalogue. Extra modules,
such as the deliberately faulty ones the tests use, can be added by listing
their import paths in ``SIZEUP_EXTRA_WORKLOADS`` (comma separated); spawned
workers inherit the variable, so they see the same catalogue.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from functools import cache

from workloads.base import FAMILIES, Workload

EXTRA_ENV = "SIZEUP_EXTRA_WORKLOADS"


@cache
def catalogue() -> dict[str, Workload]:
    modules = [f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__) if m.name != "base"]
    modules += [m.strip() for m in os.environ.get(EXTRA_ENV, "").split(",") if m.strip()]
    found: dict[str, Workload] = {}
    for module_name in modules:
        for workload in getattr(importlib.import_module(module_name), "WORKLOADS", ()):
            if workload.name in found:
                raise ValueError(f"two workloads are named {workload.name!r}")
            found[workload.name] = workload
    return dict(sorted(found.items(), key=lambda item: FAMILIES.index(item[1].family)))
