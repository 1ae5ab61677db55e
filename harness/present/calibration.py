"""Backtests as tables (harness.analysis.backtest): errors and interval coverage by distance, then each
confidence level's promise and how often it held. Rows of text, for the terminal (`fit --backtest`) and
for the report's Markdown."""

from __future__ import annotations

from collections.abc import Sequence

from harness.analysis import backtest

BAND_HEADER = ("quantity", "past the largest fitted size", "backtests", "median error", "worst error",
               "under-predicted", "in the 95% interval")
LEVEL_HEADER = ("level (time)", "promise", "backtests", "promise held")
JUDGED = ("Each backtest is judged as a user would have seen its prediction: the interval and (for time; memory "
          "gets no level) the level come from the other configurations' backtests and its own earlier ones. "
          "'low' promises nothing.")
# A band by its bounds ('2x' read as exactly twice); 'within' and 'over 10x' say theirs.
SHOWN = {label: f"{lo:g}-{hi:g}x" for lo, hi, label in backtest.BANDS if 0 < lo and hi < float("inf")}


def scatter(value: float) -> str:
    """backtest.scatter, said."""
    return (f"The measured times themselves sit a median {value:.1%} from the curve fitted to all of their "
            "configuration's sizes, each point included: run-to-run speed and repeat noise, which no prediction can "
            "be expected to beat.")


def rows(held: Sequence[backtest.Held]) -> tuple[list[list[str]], list[list[str]]]:
    bands, levels = backtest.summarize(held)
    band_rows = [[b.quantity, SHOWN.get(b.band, b.band), str(b.count), f"{b.median:.1%}", f"{b.worst:.1%}",
                  f"{b.low}/{b.count}",
                  f"{b.covered}/{b.calibrated} ({b.covered / b.calibrated:.0%})" if b.calibrated else "too few"]
                 for b in bands]
    level_rows = [[lv.level, f"within {lv.promise:.0%} in 9 of 10" if lv.promise is not None else "none",
                   str(lv.count),
                   f"{lv.kept}/{lv.count} ({lv.kept / lv.count:.0%})" if lv.promise is not None and lv.count else ""]
                  for lv in levels]
    return band_rows, level_rows


def markdown(held: Sequence[backtest.Held], spread: float | None = None) -> str:
    if not held:
        return ("No backtest: a configuration needs four or more sizes (`--suite sizing`). The levels then come from "
                "the shipped references' backtests alone (`sizeup fit --backtest results/reference`).")
    band_rows, level_rows = rows(held)
    if not any(h.level for h in held):  # memory backtests only: no time was backtested, so no level was given
        level_rows = []

    def table(header: Sequence[str], body: list[list[str]]) -> list[str]:
        return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |"
                                                                                for r in body]

    levels = table(LEVEL_HEADER, level_rows) if level_rows else ["No time was backtested here (a time fit needs four "
                                                                  "or more sizes to backtest), so no level was judged."]
    return "\n".join(["Every fit here, fitted on its smallest sizes, predicted its larger measured sizes (and, "
                      "without each inner size, that size). " + JUDGED, "", *levels, "",
                      *table(BAND_HEADER, band_rows), *(["", scatter(spread)] if spread is not None else [])])
