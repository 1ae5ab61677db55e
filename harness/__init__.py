"""sizeup: measure ML training on this machine, then size the machine to train on."""

__version__ = "0.4.0"

from harness.phases import phase  # noqa: E402 - `from harness import phase`, for jobs under `sizeup profile`

__all__ = ["__version__", "phase"]
