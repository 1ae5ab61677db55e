"""A case's identity: what was measured (workload, model, backend, size, threads, the workload's
params) and how (seed, its own memory cap, the sweep it is a step of).

This is the one place that spells an id string. Everything else groups on the fields, or on
the keys below, never on an id parsed back:

- ``id``: ``classification/xgboost@xgboost/n=20000/t=2,trees=50``
- ``config``: the id without its size, ``.../n=*/t=2,...``: one configuration measured at several sizes
- ``key(size=..., threads=...)``: the id with the size, the threads or both left open
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# A case id names `run --data`'s file by its name and hash; what the file decides (its size, schema,
# columns, classes) is left out of the id, and kept in full in the case's params.
OWN_DATA = "file_sha256"
FROM_THE_FILE = {"rows", "schema", "features", "categorical", "classes", "resolution", "date", "series", "ordered"}
ANY = "*"


@dataclass(frozen=True)
class Case:
    workload: str
    model: str
    backend: str
    size: int
    threads: int
    params: Mapping[str, Any] = field(default_factory=dict)  # the workload's params: overrides only
    seed: int = 0
    memory_cap: str | None = None  # this case's own cap, below the run's (a memory suite's out-of-memory probe)
    sweep: Mapping[str, Any] | None = None  # the sweep rule (harness.run.sweep) when this size is one of its steps

    @property
    def id(self) -> str:
        return self.key()

    @property
    def config(self) -> str:
        """The id without its size: the steps of a sweep, or a grid's sizes, share it."""
        return self.key(size=False)

    def key(self, size: bool = True, threads: bool = True) -> str:
        """The id, with the size or the thread count written as '*' where they are left open."""
        tail = "".join(f",{p}" for p in self.said())
        n = self.size if size else ANY
        t = self.threads if threads else ANY
        return f"{self.workload}/{self.model}@{self.backend}/n={n}/t={t}{tail}"

    def said(self) -> list[str]:
        """What the id writes after the thread count: the params (params_said), then this case's memory cap."""
        return self.params_said() + ([f"cap={self.memory_cap}"] if self.memory_cap else [])

    def params_said(self) -> list[str]:
        """The params as the id writes them, 'trees=50'; for your own data, the file by name and hash
        ('data=wine.csv#cd80158fad3d') and the choices made of it ('target=target')."""
        params = dict(self.params)
        if OWN_DATA in params:
            name = str(params.pop("path", "")).rstrip("/").rsplit("/", 1)[-1]
            params = {k: v for k, v in params.items() if k not in FROM_THE_FILE}
            params["data"] = f"{name}#{str(params.pop(OWN_DATA))[:12]}"
        return [f"{k}={v}" for k, v in sorted(params.items())]

    def to_dict(self) -> dict[str, Any]:
        d = {"id": self.id, "workload": self.workload, "model": self.model, "backend": self.backend,
             "size": self.size, "threads": self.threads, "params": dict(self.params), "seed": self.seed}
        if self.memory_cap:
            d["memory_cap"] = self.memory_cap
        if self.sweep:
            d["sweep"] = dict(self.sweep)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Case:
        return cls(d["workload"], d["model"], d["backend"], int(d["size"]), int(d["threads"]),
                   dict(d.get("params", {})), int(d.get("seed", 0)), d.get("memory_cap"), d.get("sweep"))
