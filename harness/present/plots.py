"""The report's figures: made with matplotlib's Agg backend (no display needed) and embedded as PNG."""

from __future__ import annotations

import base64
import io


def setup() -> None:
    """Agg, and no TeX: labels are names from files, where a '$' is text."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False


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
