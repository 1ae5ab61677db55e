"""`sizeup recommend` in the terminal: every option of a Recommendation with its evidence, and the
one-line-per-task summary that ends `make bench`. Formats what harness.sizing decided."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from harness.present.table import Ident
from harness.records import Case
from harness.records.figures import seconds
from harness.sizing.findings import BETTER_UNFITTED, NO_TIME_WORTH_ACTING, TOO_FEW_SIZES
from harness.sizing.options import Option
from harness.sizing.recommend import (
    QUALITY_TOLERANCE,
    SCALE,
    SHOW_TIMES,
    Pick,
    Recommendation,
    best_value,
    quality_frontier,
)


def short(o: Option, threads: str = "threads") -> str:
    """classification/xgboost@xgboost/n=*/t=2,... -> xgboost@xgboost, 2 threads"""
    return described(o.case, threads) if o.case else o.config


def described(case: Case, threads: str = "threads") -> str:
    return f"{case.model}@{case.backend}, {case.threads} {threads}"


def dollars(x: float) -> str:
    """Two significant digits, without an exponent down to a hundred-millionth of a dollar (a second of a small VM):
    0.000027, 0.15, 5.5, 1,234."""
    if x >= 10:
        return f"{x:,.0f}"
    if not x >= 1e-8:  # tiny, zero, or not a number (which has no digits to count): as Python writes it
        return f"{x:.2g}"
    return f"{x:.{max(0, 1 - math.floor(math.log10(x)))}f}"


def frontier_lines(options: Sequence[Option]) -> list[str]:
    """Quality against cost, one line per option on the frontier, for the terminal and the report: of all the
    options, listed or not. The best value (the summary's rule) is among them: where it is a surer option as good as a
    cheaper one (best_value), no other is both cheaper and better, though the frontier keeps only the cheaper of two
    as good."""
    best = best_value(options)
    shown = quality_frontier(options)
    if best is not None and best.timed and best.cost is not None and all(o is not best for o in shown):
        shown = sorted([*shown, best], key=lambda o: o.cost)
    return [f"${cost_text(o)} per run: {short(o)} on {o.vm}, {o.quality}"
            + (" <- best value" if o is best else "")
            for o in shown]


SUMMARY_WIDTH = 100  # the one-screen summary, and `recommend`'s table with its evidence below it


def render_summary(picks: Sequence[Pick]) -> RenderableType:
    """One line (two rows) per workload (each task family's, and your own data's), within SUMMARY_WIDTH columns."""
    if not picks:
        return Text("No workload was measured at three sizes, so there is nothing to size from: "
                    "`sizeup run --suite sizing`, or `sizeup recommend results/reference`.", style="yellow")
    contended = sum(p.contended for p in picks)
    table = Table(title=Text("What to train on, per workload"), header_style="bold", box=box.SIMPLE_HEAD,
                  caption_justify="left",
                  padding=0, pad_edge=False, show_edge=False,
                  caption=Text(f"For the configurations of each workload's newest sizing run, on its machine, at "
                               f"{SCALE:g}x the largest size that run reached with all of them (after run --data: the "
                               f"whole table), the cheapest whose quality is within {QUALITY_TOLERANCE} of the best "
                               f"(an error within {QUALITY_TOLERANCE:.0%} of the lowest) at the largest size both "
                               "measured, or a more confident one whose cost interval reaches its own. Time and cost "
                               "are of training (the fit phase) alone, not loading or feature steps. Every option "
                               "and its evidence, N in the workload's unit:"))
    # The time, the cost and the level are what a reader acts on: never cut (rich squeezes columns to fit the
    # caption's width, and the width; the others wrap where they must).
    chosen = [p.pick for p in picks if p.pick]
    widths = {"fit time [95%]": max((len(x) for o in chosen for x in time_cells(o)), default=0),
              "$/run": max((len(x) for o in chosen for x in cost_cells(o)), default=0), "conf.": len("medium")}
    for column in ("workload", "VM", "configuration", "fit time [95%]", "$/run", "conf."):
        table.add_column(column, no_wrap=column in widths, min_width=widths.get(column))
    for p in picks:  # each cell's second line: the size, the memory needed, the quality
        size = f"{p.found.size:,.0f} {p.found.unit}"
        if p.code == BETTER_UNFITTED:  # the better model, and why it has no time
            table.add_row(f"{p.workload}\n{size}", "", Text(f"{described(p.better, 'thr.')}\n{p.better_quality}"),
                          "too few sizes", "", "")
            continue
        if p.pick is None:
            table.add_row(f"{p.workload}\n{size}", "", Text(p.note), "too few sizes" if p.code == TOO_FEW_SIZES else "",
                          "", "")
            continue
        o = p.pick
        memory = memory_text(o)
        table.add_row(f"{p.workload}\n{size}", Text(f"{o.vm}\n{memory}"),
                      configuration(o, p.on),
                      "\n".join(time_cells(o)), "\n".join(cost_cells(o)), o.confidence)
    said = []
    if contended:
        said.append(f"{contended} measurement(s) were taken while other processes used the CPU; run again on a quiet "
                    "machine")
    for p in picks:
        more = SHOW_TIMES if p.own_data else "run again with a larger --budget (make bench ARGS='--budget 300'), or " \
            "--suite sizing"
        if p.code == BETTER_UNFITTED:
            said.append(f"{p.workload}: the best model reached too few sizes for a time; {more}")
        elif p.code == TOO_FEW_SIZES:
            said.append(f"{p.workload}: no model reached three sizes, so no time; {more}")
    return Group(*(Text(line, style="yellow") for line in said), table) if said else table


def print_summary(console: Console, picks: Sequence[Pick], recommend: str) -> None:
    """render_summary, then the command that gives every option on a line of its own, never folded (it is copied
    and pasted). `recommend`: the command with the results the summary read."""
    console.print(render_summary(picks))
    if picks:
        console.print(f"{recommend} --workload W --size N", soft_wrap=True, highlight=False, markup=False)


def configuration(o: Option, on: str = "") -> RenderableType:
    """An option's configuration cell: its name, broken after its '@' where the column is narrower (at 80 columns,
    'xgboost@xgboo…' had lost its backend), then its quality and the machine that measured it (`on`: the summary's,
    Pick.on, where several were analysed)."""
    rest = "\n".join(filter(None, (o.quality, on.strip() or measured_on(o))))
    return Group(Ident(short(o, "thr."), hang=1), Text(rest)) if rest else Ident(short(o, "thr."), hang=1)


def measured_on(o: Option) -> str:
    """'on MACHINE' where several machines measured (the option's config then names it), else ''."""
    return o.config.removeprefix(o.case.config).strip() if o.case else ""


def memory_text(o: Option) -> str:
    """The memory a VM must hold; out of core, '≥': only the fit's fixed part is counted, a lower bound."""
    return f"{'≥' if o.external else ''}{o.memory_needed_gib:,.1f} GiB" if o.memory_needed_gib else ""


def time_cells(o: Option) -> tuple[str, str]:
    """The predicted time and its 95% interval, in the time's unit (a time whose interval is too wide to act on: only
    its range). Under a millisecond, in microseconds: 7.94e-07 s with [3.74e-07-1.69e-06] read as minus signs."""
    if o.seconds is None:
        return "not measured", ""
    scale, unit = (1e6, "µs") if o.seconds < 1e-3 else (1.0, "s")
    interval = ("[no interval]" if o.lo is None or o.hi is None
                else f"[{seconds(o.lo * scale)}-{seconds(o.hi * scale)}]")
    return "none" if not o.timed else f"{seconds(o.seconds * scale)} {unit}", interval


def cost_cells(o: Option) -> tuple[str, str]:
    """The cost per run and its interval, the time's carried by the price (none where the time is none)."""
    if o.cost is None:
        return "", ""
    if (interval := o.cost_interval) is None:
        return dollars(o.cost), ""
    lo, hi = interval
    return "none" if not o.timed else dollars(o.cost), f"[{dollars(lo)}-{dollars(hi)}]"


def time_text(o: Option) -> str:
    return " ".join(filter(None, time_cells(o)))


def cost_text(o: Option) -> str:
    return " ".join(filter(None, cost_cells(o)))


def render(found: Recommendation) -> RenderableType:
    """Each option in a line of two rows within about 100 columns (the VM and the memory it needs, the configuration
    and its quality); the evidence for each, by its number, below."""
    budget = f", budget {found.budget_s:g} s per run" if found.budget_s else ""
    # The first is the cheapest, not always the answer: the best value is named (quality within the tolerance of the
    # best, then the cheapest: the summary's rule, over every machine's options here).
    # None where the pick has no time worth acting on (it prefers one that has): then no option is an answer
    rank = next((i for i, o in enumerate(found.options, start=1) if o is found.pick and o.timed), None)
    picked = f"; best value: #{rank}" if rank else ""
    if rank and rank > len(found.listed):
        picked += f", not listed (--top {rank})"
    table = Table(title=Text(f"{found.workload} at {found.size:,.0f} {found.unit}{budget}: each configuration's "
                             f"cheapest VM, by cost per run{picked}"), header_style="bold", box=box.SIMPLE_HEAD,
                  padding=0, pad_edge=False, show_edge=False)
    for column in ("#", "VM", "configuration", "fit time per run [95%]", "$/run", "CPU/GPU", "conf."):
        table.add_column(column, no_wrap=column not in ("VM", "configuration"),
                         justify="right" if column in ("#", "CPU/GPU") else "left")
    evidence = []
    for rank, o in enumerate(found.listed, start=1):
        use = " / ".join(f"{u:.0%}" if i == 0 else f"{u:.0f}%" for i, u in enumerate((o.cpu_util, o.gpu_util))
                         if u is not None)
        vm = o.vm + (f" x {o.nodes}" if o.nodes and o.nodes > 1 else "")
        memory = f"{memory_text(o)} ({o.memory_share:.0%})" if o.memory_needed_gib else ""
        table.add_row(str(rank), Text(f"{vm}\n{memory}"), configuration(o),
                      "\n".join(time_cells(o)), "\n".join(cost_cells(o)), use,
                      Text(o.confidence + ("" if o.meets_budget else "\nmisses budget")))
        evidence.append(Text(f"{rank}. {o.config}: " + "; ".join(e.message for e in o.evidence)))
    parts: list[RenderableType] = [table if found.options else Text("No option: see the rules below.")]
    if more := len(found.options) - len(found.listed):
        parts.append(Text(f"{more} more option(s): --top {len(found.options)} lists them all"))
    if said := [x for x in found.rules if x.code == NO_TIME_WORTH_ACTING]:  # above all: nothing here to act on
        parts.insert(0, Text(said[0].message[:1].upper() + said[0].message[1:] + ".", style="yellow"))
    if evidence:
        parts += [Text("Evidence, by option:"), *evidence]
    if frontier := frontier_lines(found.options):
        parts += [Text("Quality against cost (no other option is both cheaper and better):")]
        parts += [Text(f"- {line}") for line in frontier]
    parts += [Text("Rules and exclusions:")] + [Text(f"- {rule.message}") for rule in found.rules
                                                 if rule.code != NO_TIME_WORTH_ACTING]
    parts.append(Text(f"Platform: {found.platform}"))
    return Group(*parts)
