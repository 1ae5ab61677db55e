"""The report's figures: made with matplotlib's Agg backend (no display needed) and embedded as PNG."""

from __future__ import annotations

import base64
import io


def setup() -> None:
    """Agg, no TeX (labels are names from files, where a '$' is text), and 20 colours before one repeats (a size
    plot of the references has 11 lines: with 10, two workloads' shared a colour)."""
    import matplotlib
    from cycler import cycler

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False
    matplotlib.rcParams["axes.prop_cycle"] = cycler(color=matplotlib.colormaps["tab20"].colors)


def log(ax, *which: str) -> None:
    """Log scale on `which` of "x" and "y", its ticks written as numbers (0.1, 10, 1e+04): matplotlib writes 10^x
    ticks in TeX, which without TeX printed as '$\\mathdefault{10^{-1}}$'."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    for name in which:
        getattr(ax, f"set_{name}scale")("log")
        axis = getattr(ax, f"{name}axis")
        axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.set_minor_formatter(NullFormatter())


def figure(width: float = 9, height: float = 4, columns: int = 1, rows: int = 1) -> tuple:
    import matplotlib.pyplot as plt

    return plt.subplots(rows, columns, figsize=(width, height), dpi=100, sharex=rows > 1)


def png(fig) -> str | None:
    """The figure as base64 PNG, closed (None: no figure)."""
    import matplotlib.pyplot as plt

    if fig is None:
        return None
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()
