"""The report's calibration section: how far its predictions can be trusted, from backtests of its own
fits (harness.analysis.backtest), as Markdown."""

from __future__ import annotations

from collections.abc import Sequence

from harness.analysis import backtest


def markdown(held: Sequence[backtest.Held]) -> str:
    if not held:
        return ("No backtest: a configuration needs four or more sizes (`--suite sizing`). The levels then come from "
                "the shipped references' backtests alone (`sizeup fit --backtest results/reference`).")
    bands, levels = backtest.summarize(held)
    lines = ["Every fit here, fitted on its smallest sizes, predicted its larger measured sizes (and, without each "
             "inner size, that size). Each backtest gets the level and the 95% interval a prediction of its kind "
             "gets, calibrated on every other configuration's backtests and the shipped references'.", "",
             "| level | promise | backtests | promise held |", "|---|---|---|---|"]
    for lv in levels:
        promise = f"within {lv.promise:.0%} in 9 of 10" if lv.promise is not None else "none"
        held_text = f"{lv.kept}/{lv.count} ({lv.kept / lv.count:.0%})" if lv.promise is not None and lv.count else ""
        lines.append(f"| {lv.level} | {promise} | {lv.count} | {held_text} |")
    lines += ["", "| quantity | past the largest fitted size | backtests | median error | worst | in the 95% interval |",
              "|---|---|---|---|---|---|"]
    for b in bands:
        covered = f"{b.covered}/{b.calibrated} ({b.covered / b.calibrated:.0%})" if b.calibrated else "too few"
        lines.append(f"| {b.quantity} | {b.band} | {b.count} | {b.median:.1%} | {b.worst:.0%} | {covered} |")
    return "\n".join(lines)
