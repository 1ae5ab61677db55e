"""`torch.compile` of a training network, as the `compile` param of the torch workloads: off by default and
recorded in the case's params when on. The small CNN and transformer here are launch-bound on a GPU (hundreds of
kernel launches per millisecond-long step); "reduce-overhead" captures CUDA graphs, which removes most of them.
A "how" param: a compiled case and its uncompiled CPU twin still do the same work."""

from __future__ import annotations

from typing import Any

MODES = ("off", "default", "reduce-overhead", "max-autotune")


def mode_of(params: Any) -> str:
    mode = str(params.get("compile", "off"))
    if mode not in MODES:
        raise ValueError(f"compile must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def compiled(net: Any, mode: str) -> Any:
    """`net` compiled in `mode`, or `net` itself when off. A ModuleDict (no forward of its own) has each of its
    parts compiled, so that it is still indexed by name."""
    if mode == "off":
        return net
    import torch

    if isinstance(net, torch.nn.ModuleDict):
        for name in list(net.keys()):
            net[name] = torch.compile(net[name], mode=mode)
        return net
    return torch.compile(net, mode=mode)
