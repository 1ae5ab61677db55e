"""Rules that leave a priced option out, each a small unit with a stable code.

A rule looks at one option against the pool of every option priced for the same question (the
CPU options' best time and cost, the budget) and returns why it leaves the option out, or None.
The first rule that speaks decides; what it said is kept as a Finding with its code. A new rule
is one `OptionRule` here, added to the list that applies it, plus its test.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from harness.analysis.fits import EXTERNAL
from harness.sizing import findings as f
from harness.sizing.findings import Finding
from harness.sizing.options import Option


@dataclass(frozen=True)
class Pool:
    """What the rules compare an option with."""

    options: Sequence[Option]
    budget_s: float | None

    @property
    def cpu(self) -> list[Option]:
        """In-memory CPU options: the baseline a GPU must beat."""
        return [o for o in self.options if not o.external and not o.on_gpu]

    def fastest_cpu(self) -> float | None:
        return min((o.seconds for o in self.cpu), default=None)

    def cheapest_cpu(self) -> float | None:
        return min((o.cost for o in self.cpu), default=None)


@dataclass(frozen=True)
class OptionRule:
    code: str
    judge: Callable[[Option, Pool], str | None]  # why the option is left out, or None to keep it


def _gpu_slower(o: Option, pool: Pool) -> str | None:
    fastest = pool.fastest_cpu()
    if o.on_gpu and fastest is not None and o.seconds >= fastest:
        return (f"{o.config} on {o.vm}: predicted {o.seconds:.3g} s, not faster than the fastest CPU option "
                f"({fastest:.3g} s): left out")
    return None


def _gpu_dearer(o: Option, pool: Pool) -> str | None:
    cheapest = pool.cheapest_cpu()
    cpu_meets = any(c.meets_budget for c in pool.cpu)
    if o.on_gpu and cheapest is not None and o.cost >= cheapest and (cpu_meets or not o.meets_budget):
        return (f"{o.config} on {o.vm}: faster, but ${o.cost:.3g} per run against ${cheapest:.3g} on the CPU, "
                "and not needed to meet a budget: left out")
    return None


def _out_of_core_dearer(o: Option, pool: Pool) -> str | None:
    """Out of core where the data fits in memory too: only where cheaper per run than the same model in memory."""
    if not o.external:
        return None
    twin = replace(o.case, model=o.case.model.removesuffix(EXTERNAL)).config
    in_memory = [x.cost for x in pool.options if x.case is not None and x.case.config == twin
                 and x.machine == o.machine and x.cost is not None]
    if in_memory and o.cost >= min(in_memory):
        return f"{o.config}: out of core ${o.cost:.3g} per run against ${min(in_memory):.3g} in memory: left out"
    if not in_memory:
        return ""  # left out without a word: no in-memory option to compare with
    return None


GPU_SLOWER = OptionRule(f.GPU_SLOWER, _gpu_slower)
GPU_DEARER = OptionRule(f.GPU_DEARER, _gpu_dearer)
OUT_OF_CORE_DEARER = OptionRule(f.OUT_OF_CORE_DEARER, _out_of_core_dearer)

DEVICE_RULES = (GPU_SLOWER, GPU_DEARER)  # every option, before the in-memory question is settled
IN_MEMORY_RULES = (OUT_OF_CORE_DEARER,)  # where some VM holds the data in memory


def apply(rules: Sequence[OptionRule], options: Sequence[Option], pool: Pool) -> tuple[list[Option], list[Finding]]:
    """The options no rule leaves out, and what the rules said of the others, in the options' order."""
    kept, said = [], []
    for o in options:
        for rule in rules:
            why = rule.judge(o, pool)
            if why is not None:
                if why:
                    said.append(Finding(rule.code, why, o.config))
                break
        else:
            kept.append(o)
    return kept, said
