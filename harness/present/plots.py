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
    ticks in TeX, which without TeX printed as '$\\mathdefault{10^{-1}}$'. At most six of them: a plot narrowed by
    long labels had run eight decades' ticks into one another ('1e-06 1e-050.00010.001')."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for name in which:
        getattr(ax, f"set_{name}scale")("log")
        axis = getattr(ax, f"{name}axis")
        axis.set_major_locator(LogLocator(numticks=6))
        axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.set_minor_formatter(NullFormatter())


def figure(width: float = 9, height: float = 4, columns: int = 1, rows: int = 1, legend_rows: int = 0) -> tuple:
    """`legend_rows`: lines of a legend below the plots (`legend_below`), for which the figure grows."""
    import matplotlib.pyplot as plt

    return plt.subplots(rows, columns, figsize=(width, height + 0.11 * legend_rows), dpi=100, sharex=rows > 1,
                        layout="constrained" if legend_rows else None)


def legend_below(fig, ax, columns: int = 2) -> None:
    """The legend of `ax`'s lines below the figure's plots (made with `legend_rows`): inside a plot, a legend of
    tens of configurations covered its points."""
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=columns, fontsize=6, frameon=False)


def png(fig) -> str | None:
    """The figure as base64 PNG, closed (None: no figure)."""
    import matplotlib.pyplot as plt

    if fig is None:
        return None
    buffer = io.BytesIO()
    if fig.get_layout_engine() is None:  # a constrained figure (legend_below) is laid out already
        fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()
