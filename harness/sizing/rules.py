"""Rules that leave a priced option out, each a small unit with a stable code.

A rule looks at one option against the pool of every option priced for the same question (the
CPU options' best time and cost, the budget) and says whether it leaves the option out; the first
rule that does decides. What it says is one Finding per configuration, with its code and the range
of the options it left out (a configuration is priced on many VMs). A new rule is one `OptionRule`
here, added to the list that applies it, plus its test.
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
    leaves_out: Callable[[Option, Pool], bool]
    # One line for all of a configuration's options the rule left out, with the range they cover ('': say nothing).
    says: Callable[[Sequence[Option], Pool], str]


def _span(values: Sequence[float], unit: str = "", money: bool = False) -> str:
    lo, hi = min(values), max(values)
    sign = "$" if money else ""
    return f"{sign}{lo:.3g}{unit}" if f"{lo:.3g}" == f"{hi:.3g}" else f"{sign}{lo:.3g}-{sign}{hi:.3g}{unit}"


def _where(options: Sequence[Option]) -> str:
    """'X on VM' for one option, 'X on N VMs' for several."""
    return f"{options[0].config} on {options[0].vm if len(options) == 1 else f'{len(options)} VMs'}"


def _gpu_slower(o: Option, pool: Pool) -> bool:
    fastest = pool.fastest_cpu()
    return o.on_gpu and fastest is not None and o.seconds >= fastest


def _say_gpu_slower(options: Sequence[Option], pool: Pool) -> str:
    return (f"{_where(options)}: predicted {_span([o.seconds for o in options], ' s')}, not faster than the fastest "
            f"CPU option ({pool.fastest_cpu():.3g} s): left out")


def _gpu_dearer(o: Option, pool: Pool) -> bool:
    cheapest = pool.cheapest_cpu()
    cpu_meets = any(c.meets_budget for c in pool.cpu)
    return o.on_gpu and cheapest is not None and o.cost >= cheapest and (cpu_meets or not o.meets_budget)


def _say_gpu_dearer(options: Sequence[Option], pool: Pool) -> str:
    return (f"{_where(options)}: faster, but {_span([o.cost for o in options], money=True)} per run against "
            f"${pool.cheapest_cpu():.3g} on the CPU, and not needed to meet a budget: left out")


def _in_memory_costs(o: Option, pool: Pool) -> list[float]:
    twin = replace(o.case, model=o.case.model.removesuffix(EXTERNAL)).config
    return [x.cost for x in pool.options if x.case is not None and x.case.config == twin and x.machine == o.machine
            and x.cost is not None]


def _out_of_core_dearer(o: Option, pool: Pool) -> bool:
    """Out of core where the data fits in memory too: only where cheaper per run than the same model in memory
    (and never where there is no in-memory option to compare with)."""
    if not o.external:
        return False
    in_memory = _in_memory_costs(o, pool)
    return not in_memory or o.cost >= min(in_memory)


def _say_out_of_core_dearer(options: Sequence[Option], pool: Pool) -> str:
    in_memory = _in_memory_costs(options[0], pool)
    if not in_memory:
        return ""  # nothing in memory to set it against
    where = options[0].config + ("" if len(options) == 1 else f" on {len(options)} VMs")
    return (f"{where}: out of core {_span([o.cost for o in options], money=True)} per run against "
            f"${min(in_memory):.3g} in memory: left out")


GPU_SLOWER = OptionRule(f.GPU_SLOWER, _gpu_slower, _say_gpu_slower)
GPU_DEARER = OptionRule(f.GPU_DEARER, _gpu_dearer, _say_gpu_dearer)
OUT_OF_CORE_DEARER = OptionRule(f.OUT_OF_CORE_DEARER, _out_of_core_dearer, _say_out_of_core_dearer)

DEVICE_RULES = (GPU_SLOWER, GPU_DEARER)  # every option, before the in-memory question is settled
IN_MEMORY_RULES = (OUT_OF_CORE_DEARER,)  # where some VM holds the data in memory


def apply(rules: Sequence[OptionRule], options: Sequence[Option], pool: Pool) -> tuple[list[Option], list[Finding]]:
    """The options no rule leaves out, and what the rules said of the others: one line per rule and
    configuration, in the order the configurations first came."""
    kept, left = [], {}
    for o in options:
        rule = next((r for r in rules if r.leaves_out(o, pool)), None)
        if rule is None:
            kept.append(o)
        else:
            left.setdefault((rule, o.config), []).append(o)
    said = [Finding(rule.code, message, config) for (rule, config), out in left.items()
            if (message := rule.says(out, pool))]
    return kept, said
